//! The command line as a new user meets it: help, usage errors, the
//! message outside a project, and paths shown from the current folder.

use std::path::Path;
use std::process::Output;

use crate::{NOW, fixture, stderr, stdout, temp_project};

/// Runs `crieur ARGS...` in `dir`, with no `--root` added.
fn crieur_in(dir: &Path, args: &[&str]) -> Output {
    crate::command_in(dir)
        .args(args)
        .env("CRIEUR_NOW", NOW)
        .output()
        .expect("the crieur binary runs")
}

/// Words of clap's English that must never reach a user.
const ENGLISH: [&str; 14] = [
    "Usage",
    "Commands:",
    "Arguments:",
    "Print help",
    "Print version",
    "Print this message",
    "[default",
    "possible values",
    "error:",
    "unrecognized",
    "invalid value",
    "tip:",
    "For more information",
    "unexpected argument",
];

fn assert_french(text: &str) {
    for word in ENGLISH {
        assert!(!text.contains(word), "`{word}` in:\n{text}");
    }
}

#[test]
fn help_is_in_french() {
    let dir = tempfile::tempdir().unwrap();
    let output = crieur_in(dir.path(), &["--help"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let help = stdout(&output);
    assert_french(&help);
    insta::assert_snapshot!(help);
}

#[test]
fn the_help_of_a_command_is_in_french() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["publish", "--help"][..],
        &["help", "publish"],
        &["publish", "-h"],
    ] {
        let output = crieur_in(dir.path(), args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        let help = stdout(&output);
        assert_french(&help);
        assert!(help.contains("Utilisation : crieur publish"), "{help}");
        assert!(help.contains("Affiche cette aide"), "{help}");
    }
    let render = stdout(&crieur_in(dir.path(), &["render", "--help"]));
    assert_french(&render);
    insta::assert_snapshot!(render);
}

#[test]
fn the_version_is_in_french() {
    let dir = tempfile::tempdir().unwrap();
    let output = crieur_in(dir.path(), &["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        format!("crieur {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = stdout(&crieur_in(dir.path(), &["--help"]));
    assert!(help.contains("Affiche la version"), "{help}");
}

#[test]
fn usage_errors_are_in_french() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (
            &["foo"],
            "erreur : commande inconnue `foo`\n\nPour en savoir plus : crieur --help\n",
        ),
        (
            &["chek"],
            "erreur : commande inconnue `chek`\n  aide : vouliez-vous dire `check` ?\n\nPour en savoir plus : crieur --help\n",
        ),
        (
            &["plan", "--weeks", "x"],
            "erreur : valeur invalide `x` pour `--weeks <N>` : un nombre entier positif est attendu\n\nPour en savoir plus : crieur plan --help\n",
        ),
        (
            &["render", "--format", "carée"],
            "erreur : valeur invalide `carée` pour `--format <FORMAT>`\n  aide : vouliez-vous dire `carre` ?\n  aide : valeurs possibles : `carre`, `portrait`, `paysage`, `all`\n\nPour en savoir plus : crieur render --help\n",
        ),
        (
            &["check", "--jsn"],
            "erreur : option inconnue `--jsn`\n  aide : vouliez-vous dire `--json` ?\n\nPour en savoir plus : crieur check --help\n",
        ),
        (
            &["check", "en-trop"],
            "erreur : argument inattendu `en-trop`\n\nPour en savoir plus : crieur check --help\n",
        ),
        (
            &["plan", "--until", "2027-01-01", "--weeks", "2"],
            "erreur : `--until <DATE>` ne va pas avec `--weeks <N>` : choisissez l'un ou l'autre\n\nPour en savoir plus : crieur plan --help\n",
        ),
        (
            &["--root", "check", "preview", "--port", "99999"],
            "erreur : valeur invalide `99999` pour `--port <PORT>` : un numéro de port de 0 à 65535 est attendu\n\nPour en savoir plus : crieur preview --help\n",
        ),
    ];
    for (args, expected) in cases {
        let output = crieur_in(dir.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&output), expected, "{args:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

#[test]
fn without_a_command_the_help_is_shown_in_french() {
    let dir = tempfile::tempdir().unwrap();
    let output = crieur_in(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let help = stderr(&output);
    assert_french(&help);
    assert!(help.contains("Utilisation : crieur"), "{help}");
}

#[test]
fn every_error_line_has_the_same_prefix() {
    let dir = tempfile::tempdir().unwrap();
    // A usage error, an internal error and a diagnostic.
    let usage = stderr(&crieur_in(dir.path(), &["foo"]));
    let internal = stderr(&crieur_in(dir.path(), &["check"]));
    let project = fixture("invalid");
    let diagnostics = stderr(&crieur_in(project.path(), &["check"]));
    assert!(usage.starts_with("erreur : "), "{usage}");
    assert!(internal.starts_with("erreur : "), "{internal}");
    assert!(diagnostics.contains("\nerreur : "), "{diagnostics}");
    assert!(diagnostics.starts_with("avertissement : "), "{diagnostics}");
    for text in [&usage, &internal, &diagnostics] {
        assert!(!text.contains("erreur:"), "{text}");
    }
    assert!(diagnostics.contains("= aide : "), "{diagnostics}");
    assert!(!diagnostics.contains("avertissement:"), "{diagnostics}");
    assert!(!diagnostics.contains("aide:"), "{diagnostics}");
}

#[test]
fn outside_a_project_the_error_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = crieur_in(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "erreur : ni ce dossier ni ceux au-dessus ne sont un projet crieur : config/crieur.toml introuvable\n\
         \x20 - si le projet est ailleurs, lancez crieur dans son dossier, ou indiquez-le avec `--root DOSSIER`\n\
         \x20 - pour créer un projet, lancez `crieur init` (ou `crieur init DOSSIER`), ou copiez les dossiers config/, assets/ et posts/ du projet d'exemple (le dépôt de crieur)\n"
    );
    let elsewhere = crieur_in(dir.path(), &["--root", "ailleurs", "plan"]);
    assert!(
        stderr(&elsewhere).starts_with(
            "erreur : ailleurs n'est pas un projet crieur : ailleurs/config/crieur.toml introuvable\n"
        ),
        "{}",
        stderr(&elsewhere)
    );
}

#[test]
fn with_root_paths_are_shown_from_the_current_folder() {
    let parent = tempfile::tempdir().unwrap();
    let project = temp_project("invalid");
    let inside = parent.path().join("mon-projet");
    crate::copy_dir(project.path(), &inside);
    let output = crieur_in(parent.path(), &["--root", "mon-projet", "check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains(" --> mon-projet/posts/typo-key.md:2:1\n"),
        "{errors}"
    );
    assert!(
        errors.contains(" --> mon-projet/posts/empty.md\n"),
        "{errors}"
    );
    assert!(!errors.contains(" --> posts/"), "{errors}");
    // Machines read paths from the project's root.
    let json = crieur_in(parent.path(), &["--root", "mon-projet", "check", "--json"]);
    let diagnostics: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert!(
        diagnostics
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "posts/typo-key.md"),
        "{diagnostics}"
    );
    // An absolute root inside the current folder is shown from it, too;
    // `./` adds nothing.
    let absolute = inside.to_str().unwrap();
    for root in [absolute, "./mon-projet/"] {
        let output = crieur_in(parent.path(), &["--root", root, "check"]);
        assert!(
            stderr(&output).contains(" --> mon-projet/posts/typo-key.md:2:1\n"),
            "{root}: {}",
            stderr(&output)
        );
    }
    // From inside the project, paths are the project's.
    let output = crieur_in(&inside, &["check"]);
    assert!(
        stderr(&output).contains(" --> posts/typo-key.md:2:1\n"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn with_root_publish_names_files_from_the_current_folder() {
    let parent = tempfile::tempdir().unwrap();
    let project = temp_project("valid");
    let inside = parent.path().join("mon-projet");
    crate::copy_dir(project.path(), &inside);
    // A series that cannot be read, and a post missing its fields.
    let config = inside.join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("0 19 * * tue", "0 19 * * mardi")).unwrap();
    std::fs::write(
        inside.join("posts/casse.md"),
        "+++\npublish_at = 2026-11-24T10:00:00\ntemplate = \"chiffre\"\nchannels = [\"facebook\"]\n+++\nUn post sans ses champs.\n",
    )
    .unwrap();
    let output = crieur_in(
        parent.path(),
        &["--root", "mon-projet", "publish", "--dry-run"],
    );
    let errors = stderr(&output);
    assert!(
        errors.contains("erreur : mon-projet/config/crieur.toml:8:18 : "),
        "{errors}"
    );
    assert!(
        errors.contains("laissé de côté : mon-projet/posts/casse.md"),
        "{errors}"
    );
}

//! `crieur init` and `crieur new`, and the accessibility gate of `check`.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::{command_in, copy_dir, crieur, stderr, stdout};

/// `crieur init DIR ARGS...`, run from the folder above DIR.
fn init(dir: &Path, args: &[&str]) -> Output {
    command_in(dir.parent().unwrap())
        .arg("init")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A filled one-off post of a template, to check every template.
fn fill(root: &Path, file: &str, text: &str) {
    let path = root.join("posts").join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const OUTIL: &str = r#"+++
template = "outil"
publish_at = 2026-12-17T12:30:00
channels = ["facebook", "linkedin"]
alt = "Visuel : la messagerie sécurisée de santé, pour échanger entre professionnels."
[visual]
tool = "La messagerie sécurisée de santé"
category = "cabinet"
summary = "Échanger des données de santé entre professionnels, en toute sécurité."
marks = ["securise"]
+++
La messagerie sécurisée de santé permet d'échanger entre professionnels.
"#;

pub(crate) const EVENEMENT: &str = r#"+++
template = "evenement"
publish_at = 2026-12-18T10:00:00
channels = ["facebook", "linkedin"]
alt = "Visuel : soirée d'information sur Mon Espace Santé, le 12 janvier 2027 à la maison de santé."
[visual]
title = "Soirée d'information sur Mon Espace Santé"
date = "Mardi 12 janvier 2027"
time = "De 19 h à 21 h"
place = "Maison de santé"
cta = "Inscription gratuite"
+++
Venez découvrir Mon Espace Santé.
"#;

#[test]
fn init_makes_a_project_that_checks_plans_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cpts-nancy");
    let output = init(&root, &["--name", "CPTS du Grand Nancy"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for file in [
        "config/crieur.toml",
        ".gitignore",
        "assets/logos/logo.png",
        "assets/fonts/LICENSE-Lato.txt",
        "assets/templates/evenement.toml",
        "posts/chiffre/01-mon-espace-sante.md",
        "posts/chiffre/02-teleconsultations.md",
    ] {
        assert!(root.join(file).is_file(), "{file}");
    }
    let check = crieur(&root, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(stdout(&check).contains("Posts : 2 prêts"));
    let plan = crieur(&root, &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    assert!(stdout(&plan).contains("chiffre/01-mon-espace-sante"));
    let render = crieur(&root, &["render", "--out", "out"]);
    assert_eq!(render.status.code(), Some(0), "{}", stderr(&render));
    assert!(
        root.join("out/chiffre/01-mon-espace-sante.carre.png")
            .is_file()
    );
    // The preview sees the project as it is: every card readable.
    let project = crieur::loader::load(&root).unwrap();
    let snapshot =
        crieur::preview::snapshot::Snapshot::of(&project, &root, 1, crieur::clock::now());
    assert!(
        snapshot
            .posts
            .iter()
            .all(|p| p.contrast.iter().all(|c| c.passes))
    );
}

#[test]
fn washed_out_colours_are_kept_and_every_template_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pale");
    let output = init(
        &root,
        &[
            "--name",
            "CPTS Pastel",
            "--primary",
            "#FFE066",
            "--accent",
            "#7FD1AE",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The brand's colours are kept as given; what goes on them reads.
    let said = stdout(&output);
    assert!(
        said.contains("les chiffres s'écrivent en gris foncé"),
        "{said}"
    );
    let config = std::fs::read_to_string(root.join("config/crieur.toml")).unwrap();
    assert!(
        config.contains("primary = \"#FFE066\"") && config.contains("accent = \"#7FD1AE\""),
        "{config}"
    );
    fill(&root, "outil/messagerie.md", OUTIL);
    fill(&root, "annonces/soiree.md", EVENEMENT);
    let check = crieur(&root, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn init_over_a_project_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    assert_eq!(init(&root, &[]).status.code(), Some(0));
    let config = std::fs::read(root.join("config/crieur.toml")).unwrap();
    std::fs::remove_file(root.join("posts/chiffre/02-teleconsultations.md")).unwrap();
    let again = init(&root, &["--name", "Autre"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("contient déjà un projet"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read(root.join("config/crieur.toml")).unwrap(),
        config
    );
    assert!(!root.join("posts/chiffre/02-teleconsultations.md").exists());
    // A bad colour writes nothing either.
    let other = dir.path().join("q");
    let bad = init(&other, &["--primary", "bleu"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!other.exists());
}

#[test]
fn a_zone_crieur_does_not_know_is_refused_with_those_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    let refused = init(&root, &["--timezone", "America/New_York"]);
    assert_eq!(refused.status.code(), Some(2));
    let errors = stderr(&refused);
    assert!(
        errors.starts_with("erreur : fuseau horaire inconnu `America/New_York` : crieur connaît"),
        "{errors}"
    );
    assert!(errors.contains("`Indian/Reunion`"), "{errors}");
    assert!(!root.exists());
    // A slip gets the zone meant.
    let slip = init(&root, &["--timezone", "Europe/Pari"]);
    assert!(
        stderr(&slip).contains("vouliez-vous dire `Europe/Paris` ?"),
        "{}",
        stderr(&slip)
    );
    // A zone of France overseas is built in.
    let made = init(&root, &["--timezone", "Indian/Reunion"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let config = std::fs::read_to_string(root.join("config/crieur.toml")).unwrap();
    assert!(config.contains("timezone = \"Indian/Reunion\""), "{config}");
}

#[test]
fn new_takes_the_next_free_slot_and_prefills_the_template_fields() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    assert_eq!(init(&root, &[]).status.code(), Some(0));
    let output = crieur(
        &root,
        &["new", "chiffre-de-la-semaine", "--title", "La vaccination"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.contains("Post créé : posts/chiffre/03-la-vaccination.md"),
        "{printed}"
    );
    // NOW is Sunday 22 November 2026: the example posts take the 24th
    // and 1 December, the new one the next Tuesday.
    assert!(
        printed.contains("Il partira le mar. 08/12/2026 19:00"),
        "{printed}"
    );
    let text = std::fs::read_to_string(root.join("posts/chiffre/03-la-vaccination.md")).unwrap();
    assert!(text.contains("series = \"chiffre-de-la-semaine\""));
    assert!(text.contains("number = \"\""));
    assert!(text.contains("# Le chiffre ; obligatoire"), "{text}");
    assert!(text.contains("alt = \"\""));
    let plan = crieur(&root, &["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let slot = plan["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["post"] == "chiffre/03-la-vaccination")
        .unwrap();
    assert_eq!(slot["at"], "2026-12-08T19:00:00+01:00");
    // A one-off post at a given instant.
    let output = crieur(
        &root,
        &[
            "new",
            "--template",
            "evenement",
            "--at",
            "2026-12-20T10:00",
            "--title",
            "Soirée DMP",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("dim. 20/12/2026 10:00"),
        "{}",
        stdout(&output)
    );
    let text =
        std::fs::read_to_string(root.join("posts/evenement/2026-12-20-soiree-dmp.md")).unwrap();
    assert!(text.contains("title = \"Soirée DMP\""), "{text}");
    let unknown = crieur(&root, &["new", "chifre-de-la-semaine"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("chiffre-de-la-semaine"),
        "{}",
        stderr(&unknown)
    );
}

fn example() -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for folder in ["assets", "config", "posts"] {
        copy_dir(&repo.join(folder), &dir.path().join(folder));
    }
    dir
}

#[test]
fn a_pale_brand_colour_fails_check_with_its_ratio_and_a_fix() {
    let dir = example();
    let config = dir.path().join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("primary = \"#1F4E79\"", "primary = \"#9DB7D1\""),
    )
    .unwrap();
    let check = crieur(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(1));
    let errors = stderr(&check);
    assert!(
        errors.contains("contraste insuffisant : texte #FFFFFF sur #9DB7D1, 2,0:1 pour"),
        "{errors}"
    );
    assert!(
        errors.contains("modèle `chiffre`, format carre"),
        "{errors}"
    );
    assert!(
        errors.contains("les couleurs les plus proches, de même teinte"),
        "{errors}"
    );
}

#[test]
fn alt_texts_and_hashtags_are_checked_for_screen_readers() {
    let dir = example();
    let post = dir.path().join("posts/chiffre/01-dmp-alpes-maritimes.md");
    let text = std::fs::read_to_string(&post).unwrap();
    let text = text
        .replace(": 240 008 Dossiers", ": des Dossiers")
        .replace("Depuis 2022", "#monespacesanté Depuis 2022");
    std::fs::write(&post, text).unwrap();
    let check = crieur(dir.path(), &["check"]);
    let errors = stderr(&check);
    assert!(
        errors.contains(
            "le texte alternatif ne reprend pas le texte principal de l'image (« 240 008 »)"
        ),
        "{errors}"
    );
    assert!(
        errors.contains("hashtag de plusieurs mots tout en minuscules : `#monespacesanté`"),
        "{errors}"
    );
    let post = dir.path().join("posts/chiffre/05-e-cps.md");
    let text = std::fs::read_to_string(&post).unwrap();
    let alt_line = text
        .lines()
        .find(|l| l.starts_with("alt = "))
        .unwrap()
        .to_owned();
    std::fs::write(
        &post,
        text.replace(&alt_line, &format!("alt = \"{}\"", "x".repeat(1600))),
    )
    .unwrap();
    let check = crieur(dir.path(), &["check"]);
    assert!(
        stderr(&check).contains("texte alternatif trop long : 1600 caractères, 1500 au plus"),
        "{}",
        stderr(&check)
    );
}

/// Every file under a folder, from it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                folders.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    found.sort();
    found
}

#[test]
fn a_name_with_a_line_break_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "CPTS Nord\n[publisher]\nkind = \"buffer\"",
        "CPTS Nord\"\n[daemon]\ngrace = \"366d",
        "CPTS\rNord",
        "CPTS\u{1b}[2J",
    ] {
        let root = dir.path().join("p");
        let output = init(&root, &["--name", name]);
        assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
        let errors = stderr(&output);
        assert!(errors.starts_with("erreur : le nom « CPTS"), "{errors}");
        assert!(
            errors.contains("contient un retour à la ligne ou un caractère de contrôle : U+"),
            "{errors}"
        );
        assert!(
            !errors.chars().any(|c| c.is_control() && c != '\n'),
            "{errors:?}"
        );
        assert!(!root.exists(), "{name:?}");
    }
}

#[test]
fn a_name_with_quotes_and_brackets_is_kept_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nord");
    let name = "CPTS \"Nord\" [test] # ''' \\ fin";
    let output = init(&root, &["--name", name]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let check = crieur(&root, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let text = std::fs::read_to_string(root.join("config/crieur.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    assert_eq!(config["brand"]["name"].as_str(), Some(name), "{text}");
    assert_eq!(config["publisher"]["kind"].as_str(), Some("outbox"));
    // The project as crieur reads it.
    let project = crieur::loader::load(&root).unwrap();
    assert_eq!(project.config.unwrap().brand.name, name);
}

#[cfg(unix)]
#[test]
fn init_never_writes_through_a_symbolic_link() {
    for entry in ["posts", "assets", "config", "assets/logos", "posts/chiffre"] {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let root = dir.path().join("p");
        let link = root.join(entry);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let before = files_under(&root);
        let output = init(&root, &["--name", "CPTS Nord"]);
        assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
        let errors = stderr(&output);
        assert!(
            errors.contains(&format!(
                "erreur : {} est un lien symbolique : crieur init n'écrit pas à travers un lien ; supprimez-le ou choisissez un autre dossier",
                link.display()
            )),
            "{errors}"
        );
        assert!(files_under(&outside).is_empty(), "{entry}");
        assert_eq!(files_under(&root), before, "{entry}");
    }
    // A link to a file where init writes one is refused too.
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("ailleurs.toml");
    let root = dir.path().join("p");
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("config/crieur.toml")).unwrap();
    let output = init(&root, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("config/crieur.toml est un lien symbolique"));
    assert!(!outside.exists());
    assert!(!root.join("posts").exists());
}

//! What a new project's first weeks fall into: a post left as `new` wrote
//! it, an example copied, a brand name too long for the cards, a brand
//! colour that does not read, an empty `alt` or field.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::{command_in, copy_dir, crieur, stderr, stdout};

/// `crieur init DIR ARGS...` in a new temporary folder: the folder and the
/// project's root.
fn init(args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cpts");
    let output: Output = command_in(dir.path())
        .arg("init")
        .arg(&root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (dir, root)
}

/// The line (from 1) of the first line of `text` that starts with `start`.
fn line_of(text: &str, start: &str) -> usize {
    text.lines()
        .position(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in {text}"))
        + 1
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} in {text}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Gives `key` the value `value` (TOML) on its line.
fn set(path: &Path, key: &str, value: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let start = format!("{key} = ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("{key} in {text}"));
    let line = line.to_owned();
    edit(path, &line, &format!("{start}{value}"));
}

/// `crieur new chiffre-de-la-semaine`: the post written, from the project.
fn new_post(root: &Path) -> String {
    let output = crieur(root, &["new", "chiffre-de-la-semaine"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    printed
        .lines()
        .find_map(|line| line.strip_prefix("Post créé : "))
        .unwrap_or_else(|| panic!("{printed}"))
        .to_owned()
}

/// Whether `errors` says `message`, its place (`--> file:line:column`) on
/// the next line.
fn said_at(errors: &str, message: &str, place: &str) {
    let found = errors
        .find(&format!("{message}\n"))
        .unwrap_or_else(|| panic!("{message} in {errors}"));
    let next = errors[found + message.len() + 1..].lines().next().unwrap();
    assert_eq!(next.trim(), place, "after {message} in {errors}");
}

#[test]
fn a_new_post_filled_but_with_its_caption_as_written_is_blocked_at_the_caption() {
    let (_dir, root) = init(&[]);
    let file = new_post(&root);
    let post = root.join(&file);
    set(&post, "number", "\"12 %\"");
    set(
        &post,
        "caption",
        "\"C'est la part des assurés vaccinés cet hiver.\"",
    );
    set(
        &post,
        "alt",
        "\"Visuel : 12 % des assurés vaccinés cet hiver.\"",
    );
    let text = std::fs::read_to_string(&post).unwrap();
    let line = line_of(&text, "Écrivez ici la légende du post.");
    let check = crieur(&root, &["check"]);
    let errors = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{errors}");
    said_at(
        &errors,
        "erreur : légende d'exemple laissée telle quelle : « Écrivez ici la légende du post. »",
        &format!("--> {file}:{line}:1"),
    );
    assert!(
        errors.contains("= aide : remplacez ce texte d'exemple par la légende du post"),
        "{errors}"
    );
    assert_eq!(errors.matches("erreur : ").count(), 1, "{errors}");
    assert!(
        stdout(&check).contains("Posts : 2 prêts, 1 bloqué"),
        "{}",
        stdout(&check)
    );
    // Written below the example, the caption is still refused.
    edit(
        &post,
        "Écrivez ici la légende du post.",
        "Écrivez ici la légende du post.\n\nCet hiver, 12 % des assurés se sont fait vacciner.",
    );
    let check = crieur(&root, &["check"]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    // Replaced, it goes out.
    edit(&post, "Écrivez ici la légende du post.\n\n", "");
    let check = crieur(&root, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(
        stdout(&check).contains("Posts : 3 prêts"),
        "{}",
        stdout(&check)
    );
}

#[test]
fn a_new_post_left_as_written_names_each_line_to_fill() {
    let (_dir, root) = init(&[]);
    let file = new_post(&root);
    let text = std::fs::read_to_string(root.join(&file)).unwrap();
    let check = crieur(&root, &["check"]);
    let errors = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{errors}");
    let at = |start: &str, column: usize| format!("--> {file}:{}:{column}", line_of(&text, start));
    for (message, place) in [
        (
            "erreur : champ `number` (Le chiffre) vide : le modèle `chiffre` l'exige",
            at("number = ", 10),
        ),
        (
            "erreur : champ `caption` (La phrase qui l'explique) vide : le modèle `chiffre` l'exige",
            at("caption = ", 11),
        ),
        (
            "erreur : texte alternatif vide : l'image ne peut pas être décrite aux personnes qui ne la voient pas",
            at("alt = ", 7),
        ),
        (
            "erreur : légende d'exemple laissée telle quelle : « Écrivez ici la légende du post. »",
            at("Écrivez ici", 1),
        ),
    ] {
        said_at(&errors, message, &place);
    }
    assert!(!errors.contains("manquant"), "{errors}");
    assert!(!errors.contains(":1:1\n"), "{errors}");
}

#[test]
fn the_caption_of_an_example_copied_to_a_new_post_is_refused() {
    let (_dir, root) = init(&[]);
    let example = root.join("posts/chiffre/01-mon-espace-sante.md");
    let copy = root.join("posts/chiffre/03-vaccination.md");
    std::fs::copy(&example, &copy).unwrap();
    edit(&copy, "65,4 millions", "12 %");
    let text = std::fs::read_to_string(&copy).unwrap();
    let line = line_of(&text, "Aujourd'hui, près de 65,4 millions");
    let check = crieur(&root, &["check"]);
    let errors = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{errors}");
    said_at(
        &errors,
        "erreur : légende reprise du post d'exemple posts/chiffre/01-mon-espace-sante.md",
        &format!("--> posts/chiffre/03-vaccination.md:{line}:1"),
    );
    // The example itself stays as `init` wrote it, ready.
    assert!(!errors.contains("01-mon-espace-sante.md:"), "{errors}");
}

#[test]
fn a_brand_name_too_long_for_the_cards_is_said_once_at_its_line_of_the_configuration() {
    let name = "Communauté Professionnelle Territoriale de Santé des Vallées de la Haute-Bruche, du Piémont des Vosges et du Pays de Sainte-Odile";
    let (_dir, root) = init(&["--name", name]);
    let config = std::fs::read_to_string(root.join("config/crieur.toml")).unwrap();
    let line = line_of(&config, "name = \"Communauté");
    let check = crieur(&root, &["check"]);
    let errors = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{errors}");
    let place = format!("--> config/crieur.toml:{line}:8");
    assert_eq!(errors.matches(&format!("{place}\n")).count(), 1, "{errors}");
    let message = errors
        .find("erreur : images du modèle `chiffre` (formats ")
        .unwrap_or_else(|| panic!("{errors}"));
    let said = &errors[message..];
    assert!(
        said.lines()
            .next()
            .unwrap()
            .contains(") : le nom de la marque ne tient pas dans son cadre : "),
        "{errors}"
    );
    assert_eq!(said.lines().nth(1).unwrap().trim(), place, "{errors}");
    assert!(
        said.contains(
            "= aide : raccourcissez `name` : il est écrit sur chaque image, où tiennent environ "
        ),
        "{errors}"
    );
    // The posts are not to blame, and none goes out with a card that
    // cannot be drawn.
    assert!(!errors.contains("--> posts/"), "{errors}");
    assert!(!errors.contains("le texte ne tient pas"), "{errors}");
    assert!(
        stdout(&check).contains("Posts : 0 prêt, 2 bloqués"),
        "{}",
        stdout(&check)
    );
    // A shorter name, and all is well.
    edit(&root.join("config/crieur.toml"), name, "CPTS Haute-Bruche");
    let check = crieur(&root, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn a_brand_colour_that_does_not_read_is_said_at_its_line_of_the_configuration() {
    let (_dir, root) = init(&[]);
    let path = root.join("config/crieur.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let line = line_of(&config, "primary = ");
    let old = config.lines().nth(line - 1).unwrap().to_owned();
    edit(&path, &old, "primary = \"#9DB7D1\"");
    let check = crieur(&root, &["check"]);
    let errors = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{errors}");
    let place = format!("--> config/crieur.toml:{line}:11");
    assert_eq!(errors.matches(&format!("{place}\n")).count(), 1, "{errors}");
    let message = errors
        .find("erreur : contraste insuffisant avec la couleur `primary` de la marque : texte ")
        .unwrap_or_else(|| panic!("{errors}"));
    let said = &errors[message..];
    assert_eq!(said.lines().nth(1).unwrap().trim(), place, "{errors}");
    assert!(
        said.contains(
            "= aide : la couleur la plus proche, de même teinte, qui se lit là : `primary = \"#"
        ),
        "{errors}"
    );
    assert!(!errors.contains("--> posts/"), "{errors}");
}

#[test]
fn an_empty_alt_or_field_is_said_at_its_own_line() {
    let (_dir, root) = init(&[]);
    let post = root.join("posts/chiffre/01-mon-espace-sante.md");
    set(&post, "alt", "\"\"");
    set(&post, "number", "\"\"");
    let text = std::fs::read_to_string(&post).unwrap();
    let check = crieur(&root, &["check"]);
    let errors = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{errors}");
    let file = "posts/chiffre/01-mon-espace-sante.md";
    said_at(
        &errors,
        "erreur : texte alternatif vide : l'image ne peut pas être décrite aux personnes qui ne la voient pas",
        &format!("--> {file}:{}:7", line_of(&text, "alt = ")),
    );
    said_at(
        &errors,
        "erreur : champ `number` (Le chiffre) vide : le modèle `chiffre` l'exige",
        &format!("--> {file}:{}:10", line_of(&text, "number = ")),
    );
    assert!(
        errors.contains("= aide : écrivez sa valeur entre les guillemets"),
        "{errors}"
    );
}

#[test]
fn the_example_project_of_the_repository_holds_no_example_text() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for folder in ["assets", "config", "posts"] {
        copy_dir(&repo.join(folder), &dir.path().join(folder));
    }
    let check = crieur(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn a_missing_logo_is_said_at_its_line_and_keeps_the_posts_from_going_out() {
    let (_dir, root) = init(&[]);
    std::fs::remove_file(root.join("assets/logos/logo.png")).unwrap();
    let config = std::fs::read_to_string(root.join("config/crieur.toml")).unwrap();
    let line = line_of(&config, "logo = ");
    let check = crieur(&root, &["check"]);
    let errors = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{errors}");
    said_at(
        &errors,
        "erreur : logo introuvable : assets/logos/logo.png",
        &format!("--> config/crieur.toml:{line}:8"),
    );
    assert!(
        errors.contains("erreur : logo de la marque introuvable : assets/logos/logo.png\n"),
        "{errors}"
    );
    assert!(!errors.contains("--> posts/"), "{errors}");
    assert!(
        stdout(&check).contains("Posts : 0 prêt, 2 bloqués"),
        "{}",
        stdout(&check)
    );
}

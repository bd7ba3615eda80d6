//! An officer's first month: `crieur init`, then several `crieur new` in a
//! row, each with its own number and its own slot, as `plan` lays them
//! out.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::{command_in, crieur, stderr, stdout};

/// A new project in a temporary folder, made by `crieur init`.
fn project() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cpts");
    let output = command_in(dir.path())
        .arg("init")
        .arg(&root)
        .args(["--name", "CPTS du Grand Nancy"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (dir, root)
}

/// `crieur new chiffre-de-la-semaine --title TITLE`, which must succeed.
fn new(root: &Path, title: &str) -> String {
    let output = crieur(root, &["new", "chiffre-de-la-semaine", "--title", title]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

/// The instant `plan --json` gives a post, over the coming eight weeks.
fn planned(root: &Path, post: &str) -> Vec<String> {
    let output: Output = crieur(root, &["plan", "--json", "--weeks", "8"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    plan["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|slot| slot["post"] == post)
        .map(|slot| slot["at"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_new_posts_in_a_row_take_two_numbers_and_two_slots() {
    let (_dir, root) = project();
    let first = new(&root, "70 % des généralistes");
    assert!(
        first.contains("Post créé : posts/chiffre/03-70-des-generalistes.md"),
        "{first}"
    );
    // NOW is Sunday 22 November 2026: the two example posts take the 24th
    // and 1 December.
    assert!(
        first.contains("Il partira le mar. 08/12/2026 19:00 (Europe/Paris)"),
        "{first}"
    );
    let second = new(&root, "32 000 e-CPS");
    assert!(
        second.contains("Post créé : posts/chiffre/04-32-000-e-cps.md"),
        "{second}"
    );
    assert!(
        second.contains("Il partira le mar. 15/12/2026 19:00 (Europe/Paris)"),
        "{second}"
    );
    // The plan puts them where `new` said, and no other post moved.
    assert_eq!(
        planned(&root, "chiffre/03-70-des-generalistes"),
        ["2026-12-08T19:00:00+01:00"]
    );
    assert_eq!(
        planned(&root, "chiffre/04-32-000-e-cps"),
        ["2026-12-15T19:00:00+01:00"]
    );
    assert_eq!(
        planned(&root, "chiffre/02-teleconsultations"),
        ["2026-12-01T19:00:00+01:00"]
    );
    // Neither is pinned: they stay in the series' queue.
    for file in ["03-70-des-generalistes.md", "04-32-000-e-cps.md"] {
        let text = std::fs::read_to_string(root.join("posts/chiffre").join(file)).unwrap();
        assert!(!text.contains("publish_at"), "{text}");
    }
}

#[test]
fn the_title_fills_the_first_text_field_as_the_help_says() {
    let (_dir, root) = project();
    new(&root, "70 % des généralistes");
    let text =
        std::fs::read_to_string(root.join("posts/chiffre/03-70-des-generalistes.md")).unwrap();
    // The chiffre template has no title field: its first text field is the
    // kicker.
    assert!(
        text.contains("\nkicker = \"70 % des généralistes\"\n"),
        "{text}"
    );
    assert!(text.contains("\nnumber = \"\"\n"), "{text}");
    let help = stdout(&crieur(&root, &["new", "--help"]));
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("remplit le champ titre du modèle (à défaut, son premier champ de texte)"),
        "{help}"
    );
}

#[test]
fn a_long_title_with_a_number_is_never_cut_inside_it() {
    let (_dir, root) = project();
    let printed = new(
        &root,
        "Les médecins généralistes de la CPTS ont soigné près de 4 000 patients",
    );
    let file = "03-les-medecins-generalistes-de-la-cpts-ont-soigne-pres-de.md";
    assert!(
        printed.contains(&format!("Post créé : posts/chiffre/{file}")),
        "{printed}"
    );
    assert!(root.join("posts/chiffre").join(file).is_file());
    let printed = new(&root, "Près de 4 000 000 patients suivis");
    assert!(
        printed.contains("posts/chiffre/04-pres-de-4-000-000-patients-suivis.md"),
        "{printed}"
    );
}

#[test]
fn a_post_that_cannot_come_last_is_pinned_and_moves_no_other() {
    let (_dir, root) = project();
    // A post of the series in a folder whose name comes after `chiffre`:
    // the series' posts fill its slots in the order of their paths.
    let other = root.join("posts/zz-archives/07-ancien.md");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let example =
        std::fs::read_to_string(root.join("posts/chiffre/01-mon-espace-sante.md")).unwrap();
    std::fs::write(&other, example).unwrap();
    assert_eq!(
        planned(&root, "zz-archives/07-ancien"),
        ["2026-12-08T19:00:00+01:00"]
    );
    let printed = new(&root, "La vaccination");
    // Numbered after every post of the series, wherever it is.
    assert!(
        printed.contains("Post créé : posts/chiffre/08-la-vaccination.md"),
        "{printed}"
    );
    assert!(
        printed.contains("Il partira le mar. 15/12/2026 19:00"),
        "{printed}"
    );
    assert!(
        printed.contains("sa date est fixée (`publish_at`)"),
        "{printed}"
    );
    let text = std::fs::read_to_string(root.join("posts/chiffre/08-la-vaccination.md")).unwrap();
    assert!(
        text.contains("\npublish_at = 2026-12-15T19:00:00\n"),
        "{text}"
    );
    assert_eq!(
        planned(&root, "chiffre/08-la-vaccination"),
        ["2026-12-15T19:00:00+01:00"]
    );
    assert_eq!(
        planned(&root, "zz-archives/07-ancien"),
        ["2026-12-08T19:00:00+01:00"]
    );
    // So is the next one, at the next free slot.
    let printed = new(&root, "Le DMP");
    assert!(
        printed.contains("Post créé : posts/chiffre/09-le-dmp.md"),
        "{printed}"
    );
    assert!(
        printed.contains("Il partira le mar. 22/12/2026 19:00"),
        "{printed}"
    );
    assert_eq!(
        planned(&root, "chiffre/09-le-dmp"),
        ["2026-12-22T19:00:00+01:00"]
    );
    assert_eq!(
        planned(&root, "zz-archives/07-ancien"),
        ["2026-12-08T19:00:00+01:00"]
    );
}

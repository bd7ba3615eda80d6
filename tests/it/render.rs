//! Golden images: each shipped template in each of its formats, drawn from
//! a fixed post, compared with the reviewed PNG in `tests/golden/` with a
//! small tolerance. After an intended change, run the tests with
//! `CRIEUR_BLESS=1`, look at the new PNGs, and commit them.

use std::path::{Path, PathBuf};

use crate::{copy_dir, crieur, stderr, stdout};

const TEMPLATES: [&str; 3] = ["chiffre", "outil", "evenement"];
const FORMATS: [&str; 3] = ["carre", "portrait", "paysage"];

/// The repository's real configuration and assets, with the golden posts.
fn golden_project() -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("assets"), &dir.path().join("assets"));
    copy_dir(
        &repo.join("tests/fixtures/golden/posts"),
        &dir.path().join("posts"),
    );
    dir
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// How many pixels differ by more than a rounding step, out of all.
fn differing_pixels(expected: &image::RgbaImage, actual: &image::RgbaImage) -> usize {
    expected
        .pixels()
        .zip(actual.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 2))
        .count()
}

#[test]
fn every_template_and_format_matches_its_golden_image() {
    let project = golden_project();
    let out = project.path().join("out");
    let output = crieur(project.path(), &["render", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let bless = std::env::var_os("CRIEUR_BLESS").is_some();
    let mut failures = Vec::new();
    for template in TEMPLATES {
        for format in FORMATS {
            let name = format!("{template}.{format}.png");
            let actual_path = out.join(&name);
            let bytes = std::fs::read(&actual_path).unwrap_or_else(|_| panic!("{name} rendered"));
            assert!(bytes.len() < 950_000, "{name} weighs {} bytes", bytes.len());
            let golden = golden_path(&name);
            if bless {
                std::fs::write(&golden, &bytes).unwrap();
                continue;
            }
            let expected = image::open(&golden)
                .unwrap_or_else(|_| {
                    panic!("{} exists (CRIEUR_BLESS=1 writes it)", golden.display())
                })
                .into_rgba8();
            let actual = image::load_from_memory(&bytes).unwrap().into_rgba8();
            assert_eq!(expected.dimensions(), actual.dimensions(), "{name}");
            let differing = differing_pixels(&expected, &actual);
            let total = (actual.width() * actual.height()) as usize;
            // A thousandth of the pixels may move by more than a rounding
            // step; anything larger is a visible change.
            if differing * 1000 > total {
                let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&name);
                std::fs::write(&keep, &bytes).unwrap();
                failures.push(format!(
                    "{name}: {differing} pixels differ (kept as {})",
                    keep.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn writes_the_alt_text_beside_the_images_and_prints_the_paths() {
    let project = golden_project();
    let out = project.path().join("sortie");
    let output = crieur(
        project.path(),
        &["render", "chiffre", "--format", "carre", "--out", "sortie"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(printed.contains("chiffre.carre.png"), "{printed}");
    assert!(!printed.contains("portrait"), "{printed}");
    let alt = std::fs::read_to_string(out.join("chiffre.alt.txt")).unwrap();
    assert_eq!(
        alt.trim(),
        "Visuel « Le chiffre de la semaine » : 65,4 millions, le nombre d'assurés disposant d'un profil sur Mon Espace Santé."
    );
    let outil = crieur(
        project.path(),
        &["render", "posts/outil.md", "--out", "sortie"],
    );
    assert_eq!(outil.status.code(), Some(0), "{}", stderr(&outil));
    let alt = std::fs::read_to_string(out.join("outil.alt.txt")).unwrap();
    assert!(
        alt.starts_with("Fiche « Messagerie sécurisée »") || alt.contains("Messagerie sécurisée"),
        "{alt}"
    );
}

#[test]
fn generates_alt_text_from_the_fields_when_the_post_has_none() {
    let project = golden_project();
    let post = project.path().join("posts/chiffre.md");
    let text = std::fs::read_to_string(&post).unwrap();
    let without_alt: String = text
        .lines()
        .filter(|line| !line.starts_with("alt ="))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&post, without_alt).unwrap();
    let output = crieur(project.path(), &["render", "chiffre", "--format", "carre"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let alt = std::fs::read_to_string(project.path().join("out/chiffre.alt.txt")).unwrap();
    assert_eq!(
        alt.trim(),
        "Le chiffre de la semaine : 65,4 millions. C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé."
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let project = golden_project();
    let first = crieur(project.path(), &["render", "outil", "--out", "a"]);
    let second = crieur(project.path(), &["render", "outil", "--out", "b"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0));
    for format in FORMATS {
        let name = format!("outil.{format}.png");
        let a = std::fs::read(project.path().join("a").join(&name)).unwrap();
        let b = std::fs::read(project.path().join("b").join(&name)).unwrap();
        assert!(a == b, "{name} differs between two renders");
    }
}

#[test]
fn a_post_with_errors_is_not_drawn_and_says_why() {
    let project = golden_project();
    let post = project.path().join("posts/outil.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(
        &post,
        text.replace(
            "category = \"communication\"",
            "category = \"comunication\"",
        ),
    )
    .unwrap();
    let output = crieur(project.path(), &["render", "--out", "out"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains("valeur `comunication` impossible pour `category`"),
        "{errors}"
    );
    assert!(errors.contains("1 post non dessiné"), "{errors}");
    assert!(!project.path().join("out/outil.carre.png").exists());
    assert!(project.path().join("out/chiffre.carre.png").exists());
}

#[test]
fn an_unknown_post_is_a_usage_error() {
    let project = golden_project();
    let output = crieur(project.path(), &["render", "chiffre/absent"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("post introuvable"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_post_whose_only_error_is_in_its_caption_is_drawn_and_counted() {
    let project = golden_project();
    let post = project.path().join("posts/outil.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(&post, format!("{text}\n{}\n", "Trop long. ".repeat(400))).unwrap();
    let output = crieur(project.path(), &["render", "--out", "out"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains("0 post non dessiné ; 1 post avec des erreurs"),
        "{errors}"
    );
    assert!(project.path().join("out/outil.carre.png").exists());
}

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

/// The repository's own project: its configuration, assets and example
/// posts (16 posts, 48 images).
fn example_project() -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for folder in ["config", "assets", "posts"] {
        copy_dir(&repo.join(folder), &dir.path().join(folder));
    }
    dir
}

/// The images `crieur render --layout-json ARGS…` describes.
fn layout_json(root: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["render", "--layout-json"];
    all.extend(args);
    let output = crieur(root, &all);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    json["images"].as_array().unwrap().clone()
}

/// The texts of one image, by post and format.
fn texts<'a>(images: &'a [serde_json::Value], post: &str, format: &str) -> &'a [serde_json::Value] {
    images
        .iter()
        .find(|image| image["post"] == post && image["format"] == format)
        .unwrap_or_else(|| panic!("{post} ({format}) is described"))["texts"]
        .as_array()
        .unwrap()
}

/// The lines of the text showing `field`.
fn lines_of(texts: &[serde_json::Value], field: &str) -> Vec<String> {
    let text = texts
        .iter()
        .find(|text| text["field"] == field)
        .unwrap_or_else(|| panic!("a text shows `{field}`: {texts:?}"));
    text["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap().to_owned())
        .collect()
}

/// Replaces a line of a golden post's front matter.
fn set_field(project: &Path, post: &str, field: &str, value: &str) {
    let path = project.join("posts").join(format!("{post}.md"));
    let text = std::fs::read_to_string(&path).unwrap();
    let prefix = format!("{field} = ");
    let changed: String = text
        .lines()
        .map(|line| {
            if line.starts_with(&prefix) {
                format!("{prefix}{value:?}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_ne!(changed, text, "{post} has `{field}`");
    std::fs::write(path, changed).unwrap();
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// What a French typographer would refuse in one image's texts.
fn faults(image: &serde_json::Value) -> Vec<String> {
    let width = image["width"].as_f64().unwrap();
    let height = image["height"].as_f64().unwrap();
    let name = format!("{} ({})", image["post"], image["format"]);
    let mut faults = Vec::new();
    for text in image["texts"].as_array().unwrap() {
        let field = text["field"].as_str().unwrap();
        let size = text["size"].as_f64().unwrap();
        if size < (width / 36.0).ceil() {
            faults.push(format!("{name}: `{field}` at {size} px"));
        }
        let [x, y, w, h] = [0, 1, 2, 3].map(|i| text["box"][i].as_f64().unwrap());
        if x < 0.0 || y < 0.0 || x + w > width + 0.5 || y + h > height + 0.5 {
            faults.push(format!(
                "{name}: `{field}` leaves the image: {}",
                text["box"]
            ));
        }
        let lines: Vec<&str> = text["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| line.as_str().unwrap())
            .collect();
        let words = |line: &str| line.split(' ').filter(|w| !w.is_empty()).count();
        let total: usize = lines.iter().map(|line| words(line)).sum();
        if lines.len() > 1 && total >= 5 && words(lines[lines.len() - 1]) == 1 {
            faults.push(format!("{name}: `{field}` ends on a lone word: {lines:?}"));
        }
        for pair in lines.windows(2) {
            let last = pair[0].rsplit(char::is_whitespace).next().unwrap();
            let next = pair[1].split(char::is_whitespace).next().unwrap();
            let letters = last.chars().filter(|c| c.is_alphabetic()).count();
            let day = last.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
            let month = MONTHS.contains(&next.to_lowercase().trim_end_matches([',', '.']));
            if (letters == 1 && last.chars().count() == 1)
                || (last.starts_with('(') && letters <= 3)
                || last.ends_with('-')
                || (day && month)
                || ["Dr", "M.", "Mme"].contains(&last)
            {
                faults.push(format!(
                    "{name}: `{field}` breaks after « {last} »: {lines:?}"
                ));
            }
        }
        for line in &lines {
            // Runs of four digits or more are grouped, years aside.
            let mut run = String::new();
            for c in line.chars().chain([' ']) {
                if c.is_ascii_digit() {
                    run.push(c);
                    continue;
                }
                let year = run.len() == 4 && (1900..=2099).contains(&run.parse::<u32>().unwrap());
                if run.len() >= 4 && !year {
                    faults.push(format!("{name}: `{field}` leaves {run} ungrouped"));
                }
                run.clear();
            }
        }
    }
    faults
}

#[test]
fn layout_json_describes_every_text_and_writes_no_image() {
    let project = golden_project();
    let images = layout_json(project.path(), &[]);
    assert_eq!(images.len(), 9);
    assert!(!project.path().join("out").exists());
    let texts = texts(&images, "chiffre", "carre");
    let kicker = &texts[0];
    assert_eq!(kicker["field"], "kicker");
    assert_eq!(kicker["lines"][0], "LE CHIFFRE DE LA SEMAINE");
    assert_eq!(kicker["bold"], true);
    assert!(kicker["size"].as_f64().unwrap() >= 36.0);
    assert_eq!(kicker["box"].as_array().unwrap().len(), 4);
    let caption = texts.iter().find(|t| t["field"] == "caption").unwrap();
    assert_eq!(caption["bold"], false);
    assert!(texts.iter().any(|t| t["field"] == "source"));
    assert!(texts.iter().any(|t| t["field"] == "brand"));
    // One format, one post.
    let images = layout_json(project.path(), &["outil", "--format", "paysage"]);
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["format"], "paysage");
    assert_eq!(
        (images[0]["width"].as_u64(), images[0]["height"].as_u64()),
        (Some(1200), Some(630))
    );
    let marks = lines_of(images[0]["texts"].as_array().unwrap(), "marks");
    assert_eq!(marks, ["Sécurisé"]);
}

#[test]
fn every_example_card_keeps_the_rules_of_french_typesetting() {
    let project = example_project();
    let images = layout_json(project.path(), &[]);
    assert_eq!(images.len(), 48);
    let mut all = Vec::new();
    for image in &images {
        all.extend(faults(image));
        let texts = image["texts"].as_array().unwrap();
        if !texts.iter().any(|t| t["field"] == "brand") {
            all.push(format!(
                "{} ({}): no brand name",
                image["post"], image["format"]
            ));
        }
        if image["format"] == "paysage" && texts.iter().any(|t| t["field"] == "source") {
            let source = lines_of(texts, "source");
            if source.len() != 1 {
                all.push(format!("{}: the source on {source:?}", image["post"]));
            }
        }
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

#[test]
fn a_four_digit_number_is_grouped_and_a_year_is_not() {
    let project = golden_project();
    set_field(project.path(), "chiffre", "number", "Plus de 1700");
    set_field(
        project.path(),
        "chiffre",
        "caption",
        "Assurés ont téléchargé l'appli depuis 2026, et 2500 l'ont notée.",
    );
    let images = layout_json(project.path(), &["chiffre"]);
    for format in FORMATS {
        let texts = texts(&images, "chiffre", format);
        let number = lines_of(texts, "number").join(" ");
        assert!(number.ends_with("1\u{202F}700"), "{format}: {number:?}");
        let caption = lines_of(texts, "caption").join(" ");
        assert!(caption.contains("depuis 2026,"), "{format}: {caption:?}");
        assert!(caption.contains("2\u{202F}500"), "{format}: {caption:?}");
    }
}

#[test]
fn a_paragraph_that_would_end_on_a_lone_word_is_rebalanced() {
    let project = golden_project();
    set_field(
        project.path(),
        "chiffre",
        "caption",
        "Téléconsultations réalisées en 2020 dans les Alpes-Maritimes (et non à Mulhouse).",
    );
    let images = layout_json(project.path(), &["chiffre"]);
    for format in FORMATS {
        let caption = lines_of(texts(&images, "chiffre", format), "caption");
        assert!(caption.len() > 1, "{format}: {caption:?}");
        assert!(
            caption.last().unwrap().contains(' '),
            "{format}: {caption:?}"
        );
    }
}

#[test]
fn no_line_ends_on_a_one_letter_word() {
    let project = golden_project();
    let images = layout_json(project.path(), &["outil"]);
    for format in FORMATS {
        let summary = lines_of(texts(&images, "outil", format), "summary");
        for line in &summary[..summary.len() - 1] {
            assert!(
                !line.ends_with(" y") && !line.ends_with(" à"),
                "{format}: {summary:?}"
            );
        }
    }
}

#[test]
fn a_day_stays_with_its_month() {
    let project = golden_project();
    let images = layout_json(project.path(), &["evenement"]);
    for format in FORMATS {
        let date = lines_of(texts(&images, "evenement", format), "date");
        assert!(
            date.iter().any(|line| line.contains("19 janvier")),
            "{format}: {date:?}"
        );
    }
}

#[test]
fn no_text_is_smaller_than_a_36th_of_the_width() {
    let project = golden_project();
    for image in layout_json(project.path(), &[]) {
        let least = (image["width"].as_f64().unwrap() / 36.0).ceil();
        for text in image["texts"].as_array().unwrap() {
            assert!(
                text["size"].as_f64().unwrap() >= least,
                "{} ({}): {text}",
                image["post"],
                image["format"]
            );
        }
    }
    // A template that asks for less is told so by `check`.
    let template = project.path().join("assets/templates/chiffre.toml");
    let text = std::fs::read_to_string(&template).unwrap();
    let smaller = text.replacen("\nsize = 34\n", "\nmin_size = 20\nmax_size = 34\n", 1);
    assert_ne!(smaller, text);
    std::fs::write(&template, smaller).unwrap();
    let output = crieur(project.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains("`min_size` vaut 20 : un texte de moins de 34 px (1/36 de la largeur de l'image paysage, 1200 px) ne se lit pas sur un téléphone"),
        "{errors}"
    );
    assert!(errors.contains("assets/templates/chiffre.toml"), "{errors}");
}

/// Every image of a folder, by its path under it.
fn images_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut images = std::collections::BTreeMap::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "png") {
                let bytes = std::fs::read(&path).unwrap();
                images.insert(path.strip_prefix(dir).unwrap().to_owned(), bytes);
            }
        }
    }
    images
}

#[test]
fn a_card_drawn_in_a_batch_has_the_bytes_of_the_card_drawn_alone() {
    // In a batch, a card is drawn over the strips it shares with the card
    // before it of the same size and background; alone, from nothing.
    let project = example_project();
    let root = project.path();
    for threads in ["1", "2"] {
        let output = crate::command(root)
            .args(["render", "--out", &format!("batch-{threads}")])
            .env("CRIEUR_NOW", crate::NOW)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let batch = images_under(&root.join("batch-1"));
    assert_eq!(batch.len(), 48);
    assert!(
        batch == images_under(&root.join("batch-2")),
        "the threads change the images"
    );
    for post in batch
        .keys()
        .filter_map(|path| path.to_str()?.strip_suffix(".carre.png"))
    {
        let output = crieur(root, &["render", post, "--out", "alone"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let alone = images_under(&root.join("alone"));
    assert_eq!(alone.len(), 48);
    for (path, bytes) in &batch {
        assert!(
            alone[path] == *bytes,
            "{} differs from its card drawn alone",
            path.display()
        );
    }
}

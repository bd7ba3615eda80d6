//! The calendar where the team is: `plan --ics`, `plan --csv`, and
//! `crieur import` of a spreadsheet.

use std::path::Path;

use icalendar::{Component, EventLike};

use crate::{crieur, fixture, stderr, stdout};

fn ics(root: &Path, args: &[&str]) -> (String, icalendar::Calendar) {
    let mut all = vec!["plan", "--ics"];
    all.extend_from_slice(args);
    let output = crieur(root, &all);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let parsed: icalendar::Calendar = text.parse().expect("a valid iCalendar document");
    (text, parsed)
}

#[test]
fn the_feed_is_valid_icalendar_with_one_event_per_post_and_stable_uids() {
    let project = fixture("valid");
    let (text, calendar) = ics(project.path(), &[]);
    // RFC 5545: CRLF line ends, lines folded at 75 octets.
    assert!(text.contains("\r\n"));
    assert!(text.split("\r\n").all(|line| line.len() <= 75), "{text}");
    assert!(text.contains("PRODID:-//crieur//crieur "));
    let events: Vec<_> = calendar.events().collect();
    let plan = crieur(project.path(), &["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    assert_eq!(events.len(), plan["slots"].as_array().unwrap().len());
    let first = events[0];
    assert_eq!(first.get_summary(), Some("chiffre-de-la-semaine : 240 008"));
    assert!(
        first
            .get_description()
            .unwrap()
            .contains("Fichier : posts/")
    );
    let uids = |calendar: &icalendar::Calendar| -> Vec<String> {
        calendar
            .events()
            .map(|e| e.get_uid().unwrap().to_owned())
            .collect()
    };
    // The same UIDs on the next run, and after an edit of a post's text.
    let before = uids(&calendar);
    let post = project.path().join("posts/chiffre/01-dmp.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(&post, format!("{text}\nUne phrase de plus.\n")).unwrap();
    let (_, again) = ics(project.path(), &[]);
    assert_eq!(uids(&again), before);
}

#[test]
fn a_daylight_saving_week_shows_the_right_local_times() {
    let project = fixture("valid");
    // Tuesdays at 19:00, Paris: 23 March 2027 in winter time, 30 March in
    // summer time (the clocks change on the 28th).
    let (text, _) = ics(
        project.path(),
        &["--from", "2027-03-20", "--until", "2027-04-02"],
    );
    assert!(text.contains("DTSTART:20270323T180000Z"), "{text}");
    assert!(text.contains("DTSTART:20270330T170000Z"), "{text}");
}

#[test]
fn the_csv_plan_opens_in_a_spreadsheet() {
    let project = fixture("valid");
    let output = crieur(project.path(), &["plan", "--csv", "--weeks", "8"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.starts_with("\u{feff}date;heure;série;fichier;réseaux;titre;état\n"),
        "{text}"
    );
    assert!(
        text.contains("24/11/2026;19:00;chiffre-de-la-semaine;posts/chiffre/"),
        "{text}"
    );
    assert!(text.contains(";créneau vide"), "{text}");
}

/// The content lines of a document, unfolded as a calendar reads them.
fn unfolded(text: &str) -> Vec<String> {
    text.replace("\r\n ", "")
        .split("\r\n")
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_carriage_return_in_a_caption_or_a_name_injects_no_property() {
    let project = fixture("valid");
    let root = project.path();
    let config = root.join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .replace(
            "name = \"CPTS Mulhouse Agglomération\"",
            "name = \"CPTS\\rURL:http://evil\"",
        )
        .replace(
            "[series.chiffre-de-la-semaine]\n",
            "[series.chiffre-de-la-semaine]\nname = \"Chiffre\\rATTACH:http://evil\\r\\nBEGIN:VALARM\"\n",
        );
    std::fs::write(&config, text).unwrap();
    // A caption with lone CRs (an old Mac's line ends, or a paste), and a
    // card field with one.
    std::fs::write(
        root.join("posts/chiffre/02-teleconsultation.md"),
        "+++\nseries = \"chiffre-de-la-semaine\"\n[visual]\nnumber = \"416 649\\rATTACH:http://evil\"\ncaption = \"téléconsultations.\"\n+++\nEn 2020.\rBEGIN:VALARM\rACTION:DISPLAY\rTRIGGER:-PT5M\rEND:VALARM\rATTACH:http://evil\n",
    )
    .unwrap();
    let (text, calendar) = ics(root, &[]);
    assert!(text.ends_with("\r\n"));
    for line in text.split("\r\n") {
        assert!(!line.contains(['\r', '\n']), "{line:?}");
    }
    let lines = unfolded(&text);
    for injected in ["ATTACH", "URL", "ACTION", "TRIGGER", "BEGIN:VALARM"] {
        assert!(
            !lines.iter().any(|line| line.starts_with(injected)),
            "{injected} in {text}"
        );
    }
    let events: Vec<_> = calendar.events().collect();
    assert!(!events.is_empty());
    for event in &events {
        assert!(!event.properties().contains_key("ATTACH"), "{text}");
        assert!(!event.properties().contains_key("URL"), "{text}");
        assert!(event.components().is_empty(), "{text}");
        if event.get_categories().is_none() {
            continue; // the one-off post
        }
        assert!(
            event
                .get_summary()
                .unwrap()
                .starts_with("Chiffre ATTACH:http://evil BEGIN:VALARM : "),
            "{:?}",
            event.get_summary()
        );
    }
    let second = events
        .iter()
        .find(|e| e.get_description().unwrap().contains("02-teleconsultation"))
        .expect("the second post's event");
    assert!(
        second
            .get_summary()
            .unwrap()
            .ends_with(" : 416 649 ATTACH:http://evil"),
        "{:?}",
        second.get_summary()
    );
    assert!(
        second
            .get_description()
            .unwrap()
            .starts_with("En 2020.\nBEGIN:VALARM\nACTION:DISPLAY\n"),
        "{:?}",
        second.get_description()
    );
    assert_eq!(
        calendar.get_name(),
        Some("CPTS URL:http://evil : publications")
    );
}

#[test]
fn a_csv_cell_that_starts_like_a_formula_is_kept_as_text() {
    let project = fixture("valid");
    let root = project.path();
    let formulas = [
        "=cmd|' /C calc'!A0",
        "@SUM(1)",
        "=HYPERLINK(\"x.fr\")",
        "+1",
        "-1",
        "\t=1+1",
    ];
    for (index, formula) in formulas.iter().enumerate() {
        let number = toml_string(formula);
        std::fs::write(
            root.join(format!("posts/chiffre/1{index}-formule.md")),
            format!(
                "+++\nseries = \"chiffre-de-la-semaine\"\n[visual]\nnumber = {number}\ncaption = \"Une phrase.\"\n+++\nUne légende.\n"
            ),
        )
        .unwrap();
    }
    let output = crieur(root, &["plan", "--csv", "--weeks", "12"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    // As a spreadsheet opens it: the byte-order mark dropped, `;` between
    // cells.
    let body = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(body.as_bytes());
    let mut titles = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        for cell in &record {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a formula in {cell:?}: {text}"
            );
        }
        titles.push(record[5].to_owned());
    }
    for formula in formulas {
        assert!(
            titles.contains(&format!("'{formula}")),
            "{formula:?} not in {titles:?}"
        );
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let output = crate::command_in(dir.path())
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    dir
}

const SHEET: &str = "\u{feff}number;caption;source;alt;légende
240 008;Dossiers Médicaux Partagés ouverts dans les Alpes-Maritimes fin 2020.;CPAM des Alpes-Maritimes, rapport 2020;Le chiffre de la semaine : 240 008 DMP ouverts fin 2020.;Fin 2020, 240 008 DMP avaient été ouverts dans les Alpes-Maritimes.
\"416 649\";Téléconsultations réalisées en 2020 dans les Alpes-Maritimes.;CPAM des Alpes-Maritimes, rapport 2020;Le chiffre de la semaine : 416 649 téléconsultations en 2020.;\"En 2020, 416 649 téléconsultations ; un record.\"
";

#[test]
fn an_imported_sheet_makes_posts_that_check_clean_in_the_next_free_slots() {
    let dir = project();
    let sheet = dir.path().join("chiffres.csv");
    std::fs::write(&sheet, SHEET).unwrap();
    let sheet = sheet.to_str().unwrap();
    let dry = crieur(
        dir.path(),
        &[
            "import",
            sheet,
            "--series",
            "chiffre-de-la-semaine",
            "--dry-run",
        ],
    );
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("serait créé : posts/chiffre/03-"),
        "{}",
        stdout(&dry)
    );
    assert!(
        !dir.path()
            .join("posts/chiffre")
            .read_dir()
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("03-"))
    );
    let output = crieur(
        dir.path(),
        &["import", sheet, "--series", "chiffre-de-la-semaine"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    // NOW is 22 November: the two examples take 24 November and 1
    // December, the rows the next Tuesdays, in order.
    assert!(
        printed.contains("créé : posts/chiffre/03-dossiers-medicaux-partages"),
        "{printed}"
    );
    assert!(printed.contains("(le mar. 08/12/2026 19:00)"), "{printed}");
    assert!(printed.contains("(le mar. 15/12/2026 19:00)"), "{printed}");
    let check = crieur(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(
        stdout(&check).contains("Posts : 4 prêts"),
        "{}",
        stdout(&check)
    );
}

#[test]
fn a_bad_row_writes_nothing_and_names_its_row_and_column() {
    let dir = project();
    let sheet = dir.path().join("chiffres.csv");
    std::fs::write(
        &sheet,
        "number;caption;sourc;légende\n12;Une phrase.;x;Texte\n;Il manque le chiffre.;y;Texte\n",
    )
    .unwrap();
    let output = import_sheet(dir.path(), &sheet);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(errors.contains("colonne inconnue `sourc`"), "{errors}");
    assert!(errors.contains("chiffres.csv:1:16"), "{errors}");
    assert!(errors.contains("vouliez-vous dire `source`"), "{errors}");
    assert!(
        errors.contains("champ `number` (Le chiffre) manquant"),
        "{errors}"
    );
    assert!(errors.contains("chiffres.csv:3:1"), "{errors}");
    assert!(errors.contains("Rien n'est écrit"), "{errors}");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("posts/chiffre"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // A one-off post whose date cannot be read, and a text too long for
    // its box, are named at their cell.
    std::fs::write(
        &sheet,
        "title;date;place;publish_at\nSoirée DMP;Mardi 12 janvier;Maison de santé;le 12\n",
    )
    .unwrap();
    let output = crieur(
        dir.path(),
        &["import", sheet.to_str().unwrap(), "--template", "evenement"],
    );
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(errors.contains("chiffres.csv:2:"), "{errors}");
    assert!(errors.contains("publish_at"), "{errors}");
    assert!(!dir.path().join("posts/evenement").exists());
}

#[test]
fn a_control_character_in_a_cell_writes_nothing_and_is_shown_at_its_cell() {
    let dir = project();
    let before = crate::post_files(dir.path());
    let sheet = dir.path().join("chiffres.csv");
    let import = |bytes: &[u8]| {
        std::fs::write(&sheet, bytes).unwrap();
        let output = import_sheet(dir.path(), &sheet);
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        assert_eq!(crate::post_files(dir.path()), before);
        let errors = stderr(&output);
        // Nothing of the file reaches the terminal as a control.
        assert!(
            !errors
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{errors:?}"
        );
        assert!(errors.contains("Rien n'est écrit"), "{errors}");
        errors
    };
    // A NUL, which `check` would refuse as a binary file.
    let errors = import(
        "number;caption;source;alt;légende\n12;Une phrase\0 cachée.;CPAM;Le chiffre de la semaine : 12.;Douze.\n"
            .as_bytes(),
    );
    assert!(
        errors.contains("caractère de contrôle U+0000 (octet nul)"),
        "{errors}"
    );
    assert!(errors.contains("chiffres.csv:2:14"), "{errors}");
    // The source line and a caret under the character.
    assert!(
        errors.contains("2 | 12;Une phrase  cachée.;CPAM"),
        "{errors}"
    );
    assert!(errors.contains("|              ^"), "{errors}");
    // An escape sequence in the caption, a lone CR in a quoted cell.
    let errors = import(
        "number;caption;source;alt;légende\n12;Une phrase.;CPAM;Le chiffre de la semaine : 12.;Douze\u{1b}[2J.\n13;Une autre.;\"CPAM\rURL:x\";Le chiffre de la semaine : 13.;Treize.\n"
            .as_bytes(),
    );
    assert!(errors.contains("U+001B"), "{errors}");
    assert!(errors.contains("chiffres.csv:2:57"), "{errors}");
    assert!(errors.contains("retour chariot seul"), "{errors}");
    assert!(errors.contains("chiffres.csv:3:20"), "{errors}");
    // Bytes that are not UTF-8 (a sheet saved in Windows-1252).
    let errors =
        import(b"number;caption;source;alt;l\xe9gende\n12;Caf\xe9;CPAM;Le chiffre : 12.;Douze.\n");
    assert!(
        errors.contains("le fichier CSV n'est pas en UTF-8 : octet invalide 0xE9"),
        "{errors}"
    );
    assert!(errors.contains("chiffres.csv:1:28"), "{errors}");
    assert!(errors.contains("chiffres.csv:2:7"), "{errors}");
    // A line break and a tab in a cell are text: the post is written.
    std::fs::write(
        &sheet,
        "number;caption;source;alt;légende\n12;Une phrase.;CPAM;Le chiffre de la semaine : 12.;\"Douze.\r\n\tEt une autre ligne.\"\n",
    )
    .unwrap();
    let output = import_sheet(dir.path(), &sheet);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let check = crieur(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

/// `crieur import SHEET --series chiffre-de-la-semaine` in the project.
fn import_sheet(root: &Path, sheet: &Path) -> std::process::Output {
    crieur(
        root,
        &[
            "import",
            sheet.to_str().unwrap(),
            "--series",
            "chiffre-de-la-semaine",
        ],
    )
}

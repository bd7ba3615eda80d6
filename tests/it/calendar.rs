//! The calendar where the team is: `plan --ics`, `plan --csv`, and
//! `crieur import` of a spreadsheet.

use std::path::Path;

use icalendar::Component;

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

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crieur"))
        .arg("init")
        .arg(dir.path())
        .env_clear()
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
    let output = crieur(
        dir.path(),
        &[
            "import",
            sheet.to_str().unwrap(),
            "--series",
            "chiffre-de-la-semaine",
        ],
    );
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

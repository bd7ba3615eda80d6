//! Series in plain words: `every` and `start`, the n-th weekday of a month,
//! why a slot is empty, what the calendar names a one-off post, and the
//! plan's table with a blocked post.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use icalendar::Component;

use crate::{command_in, crieur, stderr, stdout, temp_project};

const CRON: &str = "cron = \"0 19 * * tue\"";

/// The valid fixture, its series' `cron` line replaced by `lines`.
fn project_with(lines: &str) -> tempfile::TempDir {
    let project = temp_project("valid");
    let path = project.path().join("config/crieur.toml");
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(CRON));
    fs::write(&path, text.replace(CRON, lines)).unwrap();
    project
}

/// The instants and posts of the series' slots in `plan --json ARGS`.
fn series_slots(root: &Path, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    let output = crieur(root, &all);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    plan["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|slot| slot["series"] == "chiffre-de-la-semaine")
        .map(|slot| {
            (
                slot["at"].as_str().unwrap().to_owned(),
                slot["post"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(at, post)| ((*at).to_owned(), (*post).to_owned()))
        .collect()
}

#[test]
fn a_fortnightly_series_keeps_two_weeks_between_slots_across_the_winter_change() {
    let project = project_with(&format!("{CRON}\nevery = 2\nstart = 2026-10-20"));
    let slots = series_slots(project.path(), &["--from", "2026-10-19", "--weeks", "6"]);
    assert_eq!(
        slots,
        pairs(&[
            ("2026-10-20T19:00:00+02:00", "chiffre/01-dmp"),
            ("2026-11-03T19:00:00+01:00", "chiffre/02-teleconsultation"),
            ("2026-11-17T19:00:00+01:00", "chiffre/03-e-cps"),
        ])
    );
    let output = crieur(
        project.path(),
        &["plan", "--from", "2026-10-19", "--weeks", "6"],
    );
    let printed = stdout(&output);
    assert!(printed.contains("mar. 20/10/2026 19:00"), "{printed}");
    assert!(!printed.contains("27/10/2026"), "{printed}");
    assert!(!printed.contains("10/11/2026"), "{printed}");
}

#[test]
fn a_start_on_a_day_the_series_does_not_publish_is_an_error_at_its_line() {
    let project = project_with(&format!("{CRON}\nevery = 2\nstart = 2026-10-21"));
    let config = fs::read_to_string(project.path().join("config/crieur.toml")).unwrap();
    let line = config
        .lines()
        .position(|line| line.starts_with("start = "))
        .unwrap()
        + 1;
    let output = crieur(project.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains(
            "erreur : `start` tombe le mercredi 2026-10-21, un jour où la série ne publie pas (`0 19 * * tue`)"
        ),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("--> config/crieur.toml:{line}:9")),
        "{errors}"
    );
    assert!(
        errors.contains("aide : `start` est la date du premier créneau : un jour où `cron` publie, par exemple `start = 2026-10-27`, un mardi"),
        "{errors}"
    );
}

#[test]
fn every_other_week_without_a_start_is_an_error_at_its_line() {
    let project = project_with(&format!("{CRON}\nevery = 2"));
    let output = crieur(project.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains("erreur : `every = 2` demande la date du premier créneau : `start` manque"),
        "{errors}"
    );
}

#[test]
fn the_first_thursday_of_the_month_is_written_thu_hash_one() {
    let project = project_with("cron = \"30 12 * * thu#1\"");
    let slots = series_slots(project.path(), &["--from", "2026-11-22", "--weeks", "14"]);
    let series: Vec<(String, String)> = slots
        .into_iter()
        .filter(|(_, post)| post != "chiffre/2026-12-01-mon-espace-sante")
        .collect();
    assert_eq!(
        series,
        pairs(&[
            ("2026-12-03T12:30:00+01:00", "chiffre/01-dmp"),
            ("2027-01-07T12:30:00+01:00", "chiffre/02-teleconsultation"),
            ("2027-02-04T12:30:00+01:00", "chiffre/03-e-cps"),
        ])
    );
}

/// The valid fixture with a draft of its series and a second series
/// without posts.
fn project_with_empty_slots() -> tempfile::TempDir {
    let project = temp_project("valid");
    let root = project.path();
    fs::write(
        root.join("posts/chiffre/04-brouillon.md"),
        "+++\nseries = \"chiffre-de-la-semaine\"\ndraft = true\n[visual]\nnumber = \"12\"\ncaption = \"maisons de santé.\"\n+++\nBientôt.\n",
    )
    .unwrap();
    let path = root.join("config/crieur.toml");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replace(
            "[channels.facebook]",
            "[series.outil]\ntemplate = \"chiffre\"\ncron = \"30 12 * * thu\"\nchannels = [\"facebook\"]\n\n[channels.facebook]",
        ),
    )
    .unwrap();
    project
}

#[test]
fn plan_says_why_each_slot_is_empty() {
    let project = project_with_empty_slots();
    let output = crieur(
        project.path(),
        &["plan", "--from", "2026-11-22", "--until", "2027-01-01"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    let empty = printed
        .split_once("Créneaux vides :\n")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("{printed}"));
    let none = "    → aucun post de la série n'attend : écrivez-en un avec `crieur new outil`";
    let expected = [
        "  jeu. 26/11/2026 12:30  outil",
        "  jeu. 03/12/2026 12:30  outil",
        "  jeu. 10/12/2026 12:30  outil",
        "  jeu. 17/12/2026 12:30  outil",
        none,
        "  mar. 22/12/2026 19:00  chiffre-de-la-semaine",
        "    → le post `chiffre/04-brouillon` qui prendrait ce créneau est un brouillon : retirez `draft = true` quand il est prêt",
        "  jeu. 24/12/2026 12:30  outil",
        none,
        "  mar. 29/12/2026 19:00  chiffre-de-la-semaine",
        "    → aucun post de la série n'attend, les siens sont déjà partis ou prévus plus tôt : écrivez-en un avec `crieur new chiffre-de-la-semaine`",
        "  jeu. 31/12/2026 12:30  outil",
        none,
    ];
    assert_eq!(empty.lines().collect::<Vec<_>>(), expected, "{printed}");
    // The JSON says it too.
    let json = crieur(
        project.path(),
        &[
            "plan",
            "--json",
            "--from",
            "2026-11-22",
            "--until",
            "2027-01-01",
        ],
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let chiffre: Vec<&serde_json::Value> = plan["empty"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|slot| slot["series"] == "chiffre-de-la-semaine")
        .collect();
    assert_eq!(
        chiffre,
        [
            &serde_json::json!({
                "at": "2026-12-22T19:00:00+01:00",
                "series": "chiffre-de-la-semaine",
                "cause": {"kind": "draft", "post": "chiffre/04-brouillon"}
            }),
            &serde_json::json!({
                "at": "2026-12-29T19:00:00+01:00",
                "series": "chiffre-de-la-semaine",
                "cause": {"kind": "used_up"}
            }),
        ]
    );
}

#[test]
fn an_empty_slot_points_at_a_post_left_out_of_the_calendar() {
    let project = project_with_empty_slots();
    fs::write(
        project.path().join("posts/outil-sans-serie.md"),
        "+++\ntemplate = \"chiffre\"\n[visual]\nnumber = \"3\"\ncaption = \"Sans série.\"\n+++\nNi série ni date.\n",
    )
    .unwrap();
    let output = crieur(
        project.path(),
        &["plan", "--from", "2026-12-14", "--until", "2026-12-18"],
    );
    let printed = stdout(&output);
    assert!(
        printed.contains("Hors calendrier :\n  outil-sans-serie"),
        "{printed}"
    );
    assert!(
        printed.contains("    → aucun post de la série n'attend : écrivez-en un avec `crieur new outil`, ou rattachez à la série un post hors calendrier (ci-dessus) : `series = \"outil\"`\n"),
        "{printed}"
    );
}

#[test]
fn the_calendar_names_a_one_off_post_after_its_title() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    let init = command_in(dir.path())
        .arg("init")
        .arg(&root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    fs::create_dir_all(root.join("posts/evenement")).unwrap();
    fs::write(
        root.join("posts/evenement/2026-12-17-soiree-mon-espace-sante.md"),
        crate::init::EVENEMENT.replace("2026-12-18T10:00:00", "2026-12-17T18:30:00"),
    )
    .unwrap();
    let output = crieur(
        &root,
        &["plan", "--ics", "--from", "2026-12-14", "--weeks", "1"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let calendar: icalendar::Calendar = stdout(&output).parse().unwrap();
    let event = calendar
        .events()
        .find(|event| {
            event.get_description().is_some_and(|d| {
                d.contains("posts/evenement/2026-12-17-soiree-mon-espace-sante.md")
            })
        })
        .expect("the event's slot");
    assert_eq!(
        event.get_summary(),
        Some("Soirée d'information sur Mon Espace Santé")
    );
}

/// Where each column of a table line starts, in characters (every
/// character of the table but `✗` takes one cell of a terminal).
fn column_starts(line: &str) -> Vec<usize> {
    let chars: Vec<char> = line.chars().collect();
    (1..chars.len())
        .filter(|&i| chars[i] != ' ' && chars[i - 1] == ' ' && (i == 1 || chars[i - 2] == ' '))
        .collect()
}

#[test]
fn the_plan_table_stays_aligned_with_a_blocked_post() {
    let project = temp_project("valid");
    let post = project.path().join("posts/chiffre/02-teleconsultation.md");
    let text = fs::read_to_string(&post).unwrap();
    fs::write(&post, format!("{text}\n{}\n", "Trop long. ".repeat(400))).unwrap();
    let output = crieur(
        project.path(),
        &["plan", "--from", "2026-11-22", "--weeks", "4"],
    );
    assert_eq!(output.status.code(), Some(1));
    let printed = stdout(&output);
    let table: Vec<&str> = printed
        .lines()
        .take_while(|line| !line.is_empty())
        .collect();
    assert_eq!(table.len(), 6, "{printed}");
    let header = column_starts(table[0]);
    assert_eq!(header.len(), 4, "{printed}");
    for line in &table[1..] {
        // Every column of every row starts under its header; the one with
        // two words (`facebook, instagram`) and the blocked mark aside.
        let starts = column_starts(line);
        assert_eq!(&starts[..4], &header[..], "{printed}");
    }
    // The blocked mark ends its line: however wide a terminal draws `✗`,
    // no column comes after it.
    let blocked = table
        .iter()
        .find(|line| line.contains("✗"))
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(
        blocked.ends_with("chiffre/02-teleconsultation  ✗ bloqué"),
        "{printed}"
    );
}

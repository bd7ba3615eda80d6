//! The timetable does not depend on the system's time-zone database:
//! crieur carries its own (the chrono-tz crate). A minimal container image
//! without zone files once shifted every post of another scheduler by an
//! hour, so the real binary runs here as in such an image: an environment
//! holding only `PATH`, `TZ` unset, set to the project's zone or to UTC,
//! and `TZDIR` naming an empty folder, where the C library finds no zone at
//! all. Over the weeks of both daylight-saving changes of 2027, a series at
//! 19:00 on Tuesdays stays at 19:00 in Paris, and its instants in UTC move
//! by an hour across the change.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::{command, fixture, stderr, stdout};

/// What the system may say of its zone: nothing, the project's zone, or
/// UTC. Whichever, no zone file is there to read.
const SYSTEM_ZONES: [Option<&str>; 3] = [None, Some("Europe/Paris"), Some("UTC")];

/// A week of a daylight-saving change: the Monday it starts, then the two
/// Tuesdays at 19:00 on either side of the change, as `plan --json` writes
/// them and in UTC.
struct Change {
    monday: &'static str,
    local: [&'static str; 2],
    utc: [&'static str; 2],
    /// From one Tuesday's post to the next: a week, less or more an hour.
    apart: Duration,
}

const SPRING: Change = Change {
    monday: "2027-03-22",
    local: ["2027-03-23T19:00:00+01:00", "2027-03-30T19:00:00+02:00"],
    utc: ["2027-03-23T18:00:00Z", "2027-03-30T17:00:00Z"],
    apart: Duration::hours(7 * 24 - 1),
};

const AUTUMN: Change = Change {
    monday: "2027-10-25",
    local: ["2027-10-26T19:00:00+02:00", "2027-11-02T19:00:00+01:00"],
    utc: ["2027-10-26T17:00:00Z", "2027-11-02T18:00:00Z"],
    apart: Duration::hours(7 * 24 + 1),
};

/// A program run as in a minimal image: only `PATH`, `TZDIR` on an empty
/// folder, and `TZ` as the system says.
fn zoneless(mut program: Command, zones: &Path, system: Option<&str>) -> Command {
    program.env("TZDIR", zones);
    if let Some(path) = std::env::var_os("PATH") {
        program.env("PATH", path);
    }
    match system {
        Some(zone) => program.env("TZ", zone),
        None => program.env_remove("TZ"),
    };
    program
}

/// `crieur plan` over the two weeks from the change's Monday, "now" being
/// that Monday morning, with the given output option.
fn plan(
    root: &Path,
    zones: &Path,
    system: Option<&str>,
    change: &Change,
    format: &[&str],
) -> Output {
    let mut crieur = zoneless(command(root), zones, system);
    crieur
        .args(["plan", "--from", change.monday, "--weeks", "2"])
        .args(format)
        .env("CRIEUR_NOW", format!("{}T09:00:00", change.monday));
    let output = crieur.output().expect("the crieur binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "TZ={system:?}: {}",
        stderr(&output)
    );
    output
}

/// The instants of the series' slots, as `plan --json` writes them.
fn series_slots(json: &str) -> Vec<String> {
    let plan: Value = serde_json::from_str(json).expect("plan --json prints JSON");
    let empty = plan["empty"].as_array().unwrap();
    let mut slots: Vec<String> = plan["slots"]
        .as_array()
        .unwrap()
        .iter()
        .chain(empty)
        .filter(|slot| slot["series"] == "chiffre-de-la-semaine")
        .map(|slot| slot["at"].as_str().unwrap().to_owned())
        .collect();
    slots.sort();
    slots
}

fn check_week(change: &Change) {
    let project = fixture("valid");
    let zones = tempfile::tempdir().expect("an empty folder for TZDIR");
    for system in SYSTEM_ZONES {
        let root = project.path();
        let json = stdout(&plan(root, zones.path(), system, change, &["--json"]));
        let local = series_slots(&json);
        assert_eq!(local, change.local, "TZ={system:?}: {json}");
        let utc: Vec<DateTime<Utc>> = local
            .iter()
            .map(|at| DateTime::parse_from_rfc3339(at).unwrap().to_utc())
            .collect();
        let written: Vec<String> = utc
            .iter()
            .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect();
        assert_eq!(written, change.utc, "TZ={system:?}");
        assert_eq!(utc[1] - utc[0], change.apart, "TZ={system:?}");

        // The calendar feed writes the instants in UTC itself.
        let ics = stdout(&plan(root, zones.path(), system, change, &["--ics"]));
        let starts: Vec<&str> = ics
            .lines()
            .filter_map(|line| line.strip_prefix("DTSTART:"))
            .collect();
        let expected: Vec<String> = change
            .utc
            .iter()
            .map(|at| at.replace(['-', ':'], ""))
            .collect();
        assert_eq!(starts, expected, "TZ={system:?}: {ics}");

        // The table a person reads says 19:00 on both Tuesdays.
        let table = stdout(&plan(root, zones.path(), system, change, &[]));
        for at in change.local {
            let day = &at[..10];
            let shown = format!("{}/{}/{} 19:00", &day[8..10], &day[5..7], &day[..4]);
            assert!(table.contains(&shown), "TZ={system:?}: {shown}\n{table}");
        }
    }
}

#[test]
fn the_spring_change_keeps_posts_at_their_local_time_without_zone_files() {
    check_week(&SPRING);
}

#[test]
fn the_autumn_change_keeps_posts_at_their_local_time_without_zone_files() {
    check_week(&AUTUMN);
}

/// The premise of the two tests above: in this environment, a program that
/// asks the C library reads Paris as UTC, as in an image without `tzdata`.
#[test]
#[cfg(target_os = "linux")]
fn the_c_library_finds_no_zone_in_that_environment() {
    let zones = tempfile::tempdir().unwrap();
    let mut date = Command::new("date");
    date.env_clear();
    let output = zoneless(date, zones.path(), Some("Europe/Paris"))
        .args(["-d", "2027-07-01T12:00:00Z", "+%z"])
        .output()
        .expect("date runs");
    assert_eq!(stdout(&output), "+0000\n", "{}", stderr(&output));
}

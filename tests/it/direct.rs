//! `crieur publish` to a Bluesky channel that publishes directly, against
//! the local PDS of the unit tests.

use std::path::Path;
use std::process::Output;

use chrono::{Duration, Timelike, Utc};
use crieur_testing::Kills;
use crieur_testing::bluesky::{FakePds, HANDLE, PASSWORD};

use crate::copy_dir;

pub(crate) fn project(pds: &FakePds, at_local: &str) -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("assets"), &dir.path().join("assets"));
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    let config_path = dir.path().join("config/crieur.toml");
    let config = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace(
            "channels = [\"facebook\", \"linkedin\", \"instagram\"]",
            "channels = [\"bluesky\"]",
        )
        .replace(
            "[publisher]",
            &format!(
                "[channels.bluesky]\nnetwork = \"bluesky\"\npublisher = \"direct\"\nhandle = \"{HANDLE}\"\nservice = \"{}\"\n\n[publisher]",
                pds.url
            ),
        );
    std::fs::write(&config_path, config).unwrap();
    let post = format!(
        "+++\nseries = \"chiffre-de-la-semaine\"\npublish_at = {at_local}\nalt = \"Visuel « Le chiffre de la semaine » : 65,4 millions, le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\n\n[visual]\nnumber = \"65,4 millions\"\ncaption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\nsource = \"Assurance Maladie, novembre 2022\"\n+++\nPrès de 65,4 millions d'assurés ont un profil sur Mon Espace Santé 🩺 #Santé https://www.monespacesante.fr\n"
    );
    let path = dir.path().join("posts/chiffre/direct.md");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, post).unwrap();
    dir
}

/// The current minute, begun in real time: a post at it is due now, on
/// the real clock and on a clock `CRIEUR_NOW` starts there.
fn this_minute() -> chrono::DateTime<Utc> {
    crieur::clock::now()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
}

/// An instant as a post's local `publish_at` and `CRIEUR_NOW` write it.
pub(crate) fn local(instant: chrono::DateTime<Utc>) -> String {
    instant
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn run(root: &Path, now_local: &str, args: &[&str]) -> Output {
    crate::command(root)
        .args(args)
        .env("CRIEUR_NOW", now_local)
        .env("CRIEUR_BLUESKY_APP_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

#[test]
fn a_bluesky_post_goes_out_once_at_its_time_and_status_shows_its_address() {
    let pds = FakePds::start();
    // The post's instant: this minute (already begun in real time); the
    // calendar's now a minute before, so the pass finds it due.
    let at = this_minute();
    let dir = project(&pds, &local(at));
    let now = local(at);
    let output = run(dir.path(), &now, &["publish"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(!said.contains(PASSWORD), "{said}");
    let (records, creates) = pds.with(|state| (state.records.clone(), state.creates));
    assert_eq!(records.len(), 1, "{said}");
    assert_eq!(creates, 1);
    let (rkey, record) = records.iter().next().unwrap();
    let text = record["text"].as_str().unwrap();
    let tag = &record["facets"][0]["index"];
    let (start, end) = (
        tag["byteStart"].as_u64().unwrap() as usize,
        tag["byteEnd"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[start..end], "#Santé");
    assert!(
        record["embed"]["images"][0]["alt"]
            .as_str()
            .unwrap()
            .starts_with("Visuel")
    );
    // A second pass sends nothing more.
    let again = run(dir.path(), &now, &["publish"]);
    assert!(again.status.success());
    assert_eq!(
        pds.with(|state| (state.records.len(), state.creates)),
        (1, 1)
    );
    let status = run(dir.path(), &now, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let delivery = &json["deliveries"][0];
    assert_eq!(delivery["channel"], "bluesky");
    assert_eq!(
        delivery["url"],
        format!("https://bsky.app/profile/{HANDLE}/post/{rkey}")
    );
    let text = run(dir.path(), &now, &["status"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("/post/{rkey}")));
    // The preview links the calendar's line to the post.
    let project = crieur::loader::load(dir.path()).unwrap();
    let snapshot =
        crieur::preview::snapshot::Snapshot::of(&project, dir.path(), 1, at - Duration::minutes(1));
    let links: Vec<_> = snapshot
        .calendar
        .iter()
        .flat_map(|entry| entry.links.iter())
        .map(|link| (link.channel.as_str(), link.url.as_str()))
        .collect();
    let url = format!("https://bsky.app/profile/{HANDLE}/post/{rkey}");
    assert_eq!(links, [("bluesky", url.as_str())]);
    let files = std::fs::read_dir(dir.path().join("state")).unwrap();
    for file in files {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "the app password is in the state"
        );
    }
}

#[test]
fn channels_checks_the_app_password_of_a_direct_channel() {
    let pds = FakePds::start();
    let dir = project(&pds, "2026-12-01T19:00:00");
    let output = run(dir.path(), crate::NOW, &["channels"]);
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(
        said.contains("bluesky") && said.contains("ok : compte did:plc:cptstest"),
        "{said}"
    );
    let output = crate::command(dir.path())
        .arg("channels")
        .env("CRIEUR_NOW", crate::NOW)
        .env("CRIEUR_BLUESKY_APP_PASSWORD", "faux-mot-de-passe")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("PROBLÈME") && said.contains("« bluesky »"),
        "{said}"
    );
    assert!(!said.contains("faux-mot-de-passe"), "{said}");
}

#[test]
fn a_bluesky_pass_killed_at_any_point_sends_the_post_once() {
    let pds = FakePds::start();
    pds.with(|state| state.latency = std::time::Duration::from_millis(30));
    let at = this_minute();
    let dir = project(&pds, &local(at));
    let now = local(at);
    let mut kills = Kills::seeded();
    for _ in 0..30 {
        kills.run(
            crate::command(dir.path())
                .arg("publish")
                .env("CRIEUR_NOW", &now)
                .env("CRIEUR_BLUESKY_APP_PASSWORD", PASSWORD),
            700,
        );
    }
    let output = run(dir.path(), &now, &["publish"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = pds.with(|state| state.records.len());
    assert_eq!(records, 1, "nothing lost, nothing sent twice");
}

#[test]
fn a_refused_app_password_holds_only_its_channel_and_needs_a_person() {
    let pds = FakePds::start();
    let at = this_minute();
    let dir = project(&pds, &local(at));
    // The other series still goes to the outbox.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("posts/outils"), &dir.path().join("posts/outils"));
    let output = crate::command(dir.path())
        .arg("publish")
        .env("CRIEUR_NOW", local(at))
        .env("CRIEUR_BLUESKY_APP_PASSWORD", "mot-de-passe-faux")
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(errors.contains("le canal Bluesky « bluesky »"), "{errors}");
    assert!(!errors.contains("mot-de-passe-faux"), "{errors}");
    assert!(pds.with(|state| state.records.is_empty()));
    let queued = std::fs::read_dir(dir.path().join("outbox/queued"))
        .unwrap()
        .count();
    assert!(queued > 0, "the outbox channels go on");
}

#[test]
fn a_post_removed_from_the_network_after_it_went_out_is_reported() {
    let pds = FakePds::start();
    let at = this_minute();
    let dir = project(&pds, &local(at));
    let sent = run(dir.path(), &local(at), &["publish"]);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(pds.with(|state| state.records.len()), 1);
    // Someone deletes it on Bluesky; the next reading of outcomes says so.
    pds.with(|state| state.records.clear());
    run(dir.path(), &local(at + Duration::minutes(10)), &["publish"]);
    let status = run(
        dir.path(),
        &local(at + Duration::minutes(10)),
        &["status", "--json"],
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let delivery = &status["deliveries"][0];
    assert_eq!(delivery["status"], "deleted", "{status}");
    assert!(
        delivery["message"]
            .as_str()
            .unwrap()
            .contains("après sa publication"),
        "{status}"
    );
    assert_eq!(pds.with(|state| state.creates), 1, "never sent twice");
}

#[test]
fn a_late_pass_sends_within_the_grace_and_says_how_late_and_past_it_records_missed() {
    let pds = FakePds::start();
    let at = this_minute() - Duration::hours(3);
    let dir = project(&pds, &local(at));
    // The first pass, before the instant: the post waits for its time.
    let early = run(dir.path(), &local(at - Duration::minutes(10)), &["publish"]);
    assert!(early.status.success());
    assert!(pds.with(|state| state.records.is_empty()));
    // Twenty minutes late (the daemon was down): it goes, and says so.
    let late = run(dir.path(), &local(at + Duration::minutes(20)), &["publish"]);
    let said = String::from_utf8_lossy(&late.stderr);
    assert!(late.status.success(), "{said}");
    assert!(
        said.contains("parti avec 20 min de retard (délai de grâce : 1 h)"),
        "{said}"
    );
    assert_eq!(pds.with(|state| state.records.len()), 1);

    // Another post, whose pass comes two hours late: missed, with why.
    let other = dir.path().join("posts/chiffre/direct.md");
    let text = std::fs::read_to_string(&other)
        .unwrap()
        .replace(&local(at), &local(at + Duration::hours(1)));
    std::fs::write(dir.path().join("posts/chiffre/plus-tard.md"), text).unwrap();
    std::fs::remove_file(&other).unwrap();
    run(dir.path(), &local(at + Duration::minutes(50)), &["publish"]);
    run(dir.path(), &local(at + Duration::hours(3)), &["publish"]);
    let status = run(
        dir.path(),
        &local(at + Duration::hours(3)),
        &["status", "--json"],
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let missed = status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["post"] == "chiffre/plus-tard")
        .unwrap();
    assert_eq!(missed["status"], "missed", "{status:#}");
    let message = missed["message"].as_str().unwrap();
    assert!(
        message.contains("délai de grâce (1 h)") && message.contains("à son heure"),
        "{message}"
    );
    assert_eq!(pds.with(|state| state.records.len()), 1, "never sent late");
}

//! One verdict per post, the same in every command: a series with a blocked
//! post in the middle keeps its calendar in `plan`, `publish` (outbox and
//! Buffer) and the daemon alike.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crieur_testing::buffer::TOKEN;

use crate::copy_dir;
use crate::publish::{command, setup};

const BLOCKED: &str = "chiffre/02-teleconsultations-2020";

/// The example project, publishing three weeks ahead, with one post of the
/// weekly series given a caption too long for Instagram and LinkedIn.
fn example(root: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["assets", "config", "posts"] {
        copy_dir(&repo.join(dir), &root.join(dir));
    }
    let config = root.join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "kind = \"outbox\"",
            "kind = \"outbox\"\nlookahead = \"21d\"",
        ),
    )
    .unwrap();
    block(root);
}

fn block(root: &Path) {
    let post = root.join(format!("posts/{BLOCKED}.md"));
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(
        &post,
        format!("{text}\n{}\n", "Un texte bien trop long. ".repeat(130)),
    )
    .unwrap();
}

/// Runs crieur on the real clock.
fn run(root: &Path, args: &[&str]) -> std::process::Output {
    crate::command(root)
        .args(args)
        .env("CRIEUR_BUFFER_TOKEN", TOKEN)
        .output()
        .unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The slots the plan shows over the lookahead: (instant, post, blocked).
fn planned(root: &Path) -> Vec<(DateTime<Utc>, String, bool)> {
    let output = run(root, &["plan", "--json", "--weeks", "3"]);
    assert_eq!(output.status.code(), Some(1), "the project has errors");
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    plan["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| {
            if slot["blocked"] == true {
                assert!(!slot["problems"].as_array().unwrap().is_empty(), "{slot}");
            }
            (
                utc(slot["at"].as_str().unwrap()),
                slot["post"].as_str().unwrap().to_owned(),
                slot["blocked"] == true,
            )
        })
        .collect()
}

/// The (instant, post) pairs an outbox holds.
fn outbox(root: &Path) -> BTreeSet<(DateTime<Utc>, String)> {
    let mut found = BTreeSet::new();
    let Ok(folders) = std::fs::read_dir(root.join("outbox/queued")) else {
        return found;
    };
    for folder in folders {
        // A folder being written has no `post.json` yet.
        let Ok(json) = std::fs::read(folder.unwrap().path().join("post.json")) else {
            continue;
        };
        let Ok(entry) = serde_json::from_slice::<Value>(&json) else {
            continue;
        };
        found.insert((
            utc(entry["at"].as_str().unwrap()),
            entry["post"].as_str().unwrap().to_owned(),
        ));
    }
    found
}

/// What the plan says goes out within the lookahead: every slot but the
/// blocked ones, from now on.
fn expected(plan: &[(DateTime<Utc>, String, bool)]) -> BTreeSet<(DateTime<Utc>, String)> {
    let now = crieur::clock::now();
    plan.iter()
        .filter(|(at, _, blocked)| !blocked && *at > now && *at < now + chrono::Duration::days(21))
        .map(|(at, post, _)| (*at, post.clone()))
        .collect()
}

#[test]
fn plan_publish_and_the_daemon_agree_on_every_slot_around_a_blocked_post() {
    let dir = tempfile::tempdir().unwrap();
    example(dir.path());
    let plan = planned(dir.path());
    let blocked: Vec<_> = plan.iter().filter(|(_, _, blocked)| *blocked).collect();
    assert_eq!(blocked.len(), 1, "{plan:?}");
    assert_eq!(blocked[0].1, BLOCKED);
    let hole = blocked[0].0;
    let want = expected(&plan);
    assert!(
        want.iter().all(|(at, _)| *at != hole),
        "no post takes its slot"
    );

    // publish, to the outbox.
    let output = run(dir.path(), &["publish"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains(&format!("posts/{BLOCKED}.md")), "{errors}");
    assert_eq!(outbox(dir.path()), want);
    // The plan, now pinned by the store, is the same.
    assert_eq!(planned(dir.path()), plan);

    // The daemon, on a fresh copy.
    let fresh = tempfile::tempdir().unwrap();
    example(fresh.path());
    let mut daemon = crate::command(fresh.path())
        .arg("daemon")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while outbox(fresh.path()) != want && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    daemon.wait().unwrap();
    assert_eq!(outbox(fresh.path()), want);
}

#[test]
fn buffer_gets_what_the_plan_shows_around_a_blocked_post() {
    let setup = setup("5s");
    let root = setup.dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("posts"), &root.join("posts"));
    let config = root.join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("lookahead = \"14d\"", "lookahead = \"21d\""),
    )
    .unwrap();
    block(root);
    let plan = planned(root);
    let output = command(root, &["publish"], TOKEN)
        .env_remove("CRIEUR_NOW")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let status = command(root, &["status", "--json"], TOKEN)
        .env_remove("CRIEUR_NOW")
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let queued: BTreeSet<(DateTime<Utc>, String)> = status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "queued")
        .map(|d| {
            (
                utc(d["at"].as_str().unwrap()),
                d["post"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(queued, expected(&plan));
    assert!(
        status["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["post"] == BLOCKED),
        "{status}"
    );
}

#[test]
fn the_preview_shows_the_blocked_slot_and_says_it_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    example(dir.path());
    let project = crieur::loader::load(dir.path()).unwrap();
    let snapshot =
        crieur::preview::snapshot::Snapshot::of(&project, dir.path(), 1, crieur::clock::now());
    let blocked: Vec<_> = snapshot
        .calendar
        .iter()
        .filter(|entry| entry.state == "blocked")
        .collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].post.as_deref(), Some(BLOCKED));
    assert!(snapshot.problems.iter().any(|p| {
        p.path == format!("posts/{BLOCKED}.md") && p.message.contains("restera vide")
    }));
}

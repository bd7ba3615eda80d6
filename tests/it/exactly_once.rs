//! Exactly once on Mastodon and Bluesky through what people do after an
//! interruption: a pass killed at random points, then the post edited
//! (and edited back), or removed. After the next settled pass, the network
//! holds one version, the current one, or nothing for a removed post.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crieur_testing::bluesky::{FakePds, PASSWORD};
use crieur_testing::mastodon::{FakeMastodon, TOKEN};
use crieur_testing::{Kills, wait_for};

fn crieur(root: &Path, now: &str, args: &[&str]) -> Command {
    let mut command = crate::command(root);
    command
        .args(args)
        .env("CRIEUR_NOW", now)
        .env("CRIEUR_MASTODON_TOKEN", TOKEN)
        .env("CRIEUR_BLUESKY_APP_PASSWORD", PASSWORD);
    command
}

fn pass(root: &Path, now: &str) -> String {
    let output = crieur(root, now, &["publish"]).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.code().is_some_and(|c| c <= 1), "{said}");
    said
}

fn status(root: &Path, now: &str) -> Vec<serde_json::Value> {
    let output = crieur(root, now, &["status", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["deliveries"].as_array().unwrap().clone()
}

/// Replaces a post's caption.
fn caption(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    let before = std::fs::read_to_string(&file).unwrap();
    let (head, _) = before.rsplit_once("+++\n").unwrap();
    std::fs::write(&file, format!("{head}+++\n{text}\n")).unwrap();
}

mod mastodon {
    use super::*;
    use crate::direct_mastodon::{NOW, POST, project, start};

    fn scheduled_texts(fake: &FakeMastodon) -> Vec<String> {
        fake.state()
            .scheduled
            .iter()
            .map(|s| s.text.clone())
            .collect()
    }

    #[test]
    fn edits_back_and_forth_within_the_hour_leave_one_status_with_the_last_text() {
        let fake = start();
        let dir = project(&fake);
        for text in [
            "Version A. #Santé",
            "Version B. #Santé",
            "Version A. #Santé",
        ] {
            caption(dir.path(), POST, text);
            pass(dir.path(), NOW);
        }
        let texts = scheduled_texts(&fake);
        assert!(
            texts.len() == 1 && texts[0].starts_with("Version A. #Santé"),
            "{texts:?}"
        );
        let deliveries = status(dir.path(), NOW);
        assert_eq!(deliveries[0]["status"], "queued", "{deliveries:#?}");
        let remote = deliveries[0]["remote_id"].as_str().unwrap();
        let id = &fake.state().scheduled[0].id;
        assert!(
            remote.starts_with(&format!("direct:mastodon/s{id}.")),
            "{remote} is not the scheduled status {id}"
        );
    }

    #[test]
    fn a_pass_killed_then_the_post_edited_leaves_one_scheduled_version() {
        let fake = start();
        fake.with(|state| state.latency = Duration::from_millis(40));
        let dir = project(&fake);
        let mut kills = Kills::seeded();
        let texts = ["Version A. #Santé", "Version B. #Santé"];
        for round in 0..16 {
            caption(dir.path(), POST, texts[round % 2]);
            kills.run(&mut crieur(dir.path(), NOW, &["publish"]), 900);
        }
        caption(dir.path(), POST, texts[0]);
        let before = fake.state().requests.len();
        let mut passes = 0;
        loop {
            passes += 1;
            let said = pass(dir.path(), NOW);
            let again = pass(dir.path(), NOW);
            assert!(passes < 4, "{said}\n{again}");
            if fake.state().scheduled.len() == 1 {
                break;
            }
        }
        let settle = fake.state().requests.len() - before;
        eprintln!("settled after the kills: {passes} pass(es), {settle} requests");
        let scheduled = scheduled_texts(&fake);
        assert!(
            scheduled.len() == 1 && scheduled[0].starts_with(texts[0]),
            "{scheduled:?}"
        );
        let deliveries = status(dir.path(), NOW);
        assert_eq!(deliveries[0]["status"], "queued", "{deliveries:#?}");
    }

    #[test]
    fn an_image_still_processing_waits_and_is_uploaded_once() {
        let fake = start();
        // Processed after 25 looks, a second apart: more than one pass
        // waits for (20 seconds).
        fake.with(|state| state.processing_looks = 25);
        let dir = project(&fake);
        let said = pass(dir.path(), NOW);
        assert!(said.contains("Mastodon traite encore l'image"), "{said}");
        assert!(fake.state().scheduled.is_empty());
        let deliveries = status(dir.path(), NOW);
        assert_eq!(deliveries[0]["status"], "waiting", "{deliveries:#?}");
        let said = pass(dir.path(), NOW);
        let state = fake.state();
        assert_eq!(state.scheduled.len(), 1, "{said}");
        assert_eq!(state.media.len(), 1, "uploaded once: {said}");
    }

    #[test]
    fn an_edit_killed_once_rescheduled_then_the_post_removed_leaves_nothing() {
        let fake = start();
        let dir = project(&fake);
        caption(dir.path(), POST, "Version 1. #Santé");
        pass(dir.path(), NOW);
        assert_eq!(scheduled_texts(&fake).len(), 1);
        // The edit: the old status deleted, the new one scheduled, and the
        // pass killed before it hears so.
        caption(dir.path(), POST, "Version 2. #Santé");
        fake.with(|state| state.latency = Duration::from_millis(3000));
        let mut child = crieur(dir.path(), NOW, &["publish"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("version 2 scheduled", Duration::from_secs(60), || {
            fake.state().status_calls >= 2
        });
        let _ = child.kill();
        let _ = child.wait();
        fake.with(|state| state.latency = Duration::ZERO);
        assert!(scheduled_texts(&fake)[0].starts_with("Version 2."));
        std::fs::remove_file(dir.path().join(POST)).unwrap();
        let before = fake.state().requests.len();
        let said = pass(dir.path(), NOW);
        eprintln!(
            "settled after a kill in an edit: 1 pass, {} requests",
            fake.state().requests.len() - before
        );
        assert!(scheduled_texts(&fake).is_empty(), "{said}");
        let deliveries = status(dir.path(), NOW);
        assert!(
            deliveries.iter().all(|d| d["status"] == "withdrawn"),
            "{deliveries:#?}"
        );
    }

    #[test]
    fn a_pass_killed_then_the_post_removed_leaves_nothing_scheduled() {
        let fake = start();
        fake.with(|state| state.latency = Duration::from_millis(40));
        let dir = project(&fake);
        let mut kills = Kills::seeded();
        for round in 0..12 {
            caption(dir.path(), POST, &format!("Version {round}. #Santé"));
            kills.run(&mut crieur(dir.path(), NOW, &["publish"]), 900);
        }
        std::fs::remove_file(dir.path().join(POST)).unwrap();
        pass(dir.path(), NOW);
        pass(dir.path(), NOW);
        assert!(
            scheduled_texts(&fake).is_empty(),
            "{:?}",
            scheduled_texts(&fake)
        );
        let deliveries = status(dir.path(), NOW);
        assert!(
            deliveries.iter().all(|d| d["status"] == "withdrawn"),
            "{deliveries:#?}"
        );
    }
}

mod bluesky {
    use super::*;
    use crate::direct::{local, project};

    const POST: &str = "posts/chiffre/direct.md";

    fn texts(pds: &FakePds) -> Vec<String> {
        pds.with(|state| {
            state
                .records
                .values()
                .map(|r| r["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
    }

    /// Runs a pass and kills it once the PDS has made the record, before
    /// its answer (slow on purpose) comes back: the create is in doubt.
    fn killed_during_the_create(pds: &FakePds, root: &Path, now: &str) {
        pds.with(|state| state.latency = Duration::from_millis(3000));
        let mut child = crieur(root, now, &["publish"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("the record made", Duration::from_secs(60), || {
            pds.with(|state| state.creates >= 1)
        });
        let _ = child.kill();
        let _ = child.wait();
        pds.with(|state| state.latency = Duration::ZERO);
    }

    #[test]
    fn a_create_killed_then_the_post_edited_leaves_one_public_record() {
        let pds = FakePds::start();
        let at = crieur::clock::now();
        let dir = project(&pds, &local(at));
        let now = local(at);
        killed_during_the_create(&pds, dir.path(), &now);
        caption(dir.path(), POST, "Version revue #Santé");
        pass(dir.path(), &now);
        pass(dir.path(), &now);
        assert_eq!(texts(&pds).len(), 1, "{:?}", texts(&pds));
        let deliveries = status(dir.path(), &now);
        assert!(
            deliveries
                .iter()
                .all(|d| d["status"] == "queued" || d["status"] == "sent"),
            "{deliveries:#?}"
        );
        // Random kills, edits between them: still one.
        let mut kills = Kills::seeded();
        for round in 0..10 {
            caption(dir.path(), POST, &format!("Version {round} #Santé"));
            kills.run(&mut crieur(dir.path(), &now, &["publish"]), 500);
        }
        pass(dir.path(), &now);
        assert_eq!(texts(&pds).len(), 1, "{:?}", texts(&pds));
    }

    #[test]
    fn a_create_killed_then_the_post_removed_leaves_no_public_record() {
        let pds = FakePds::start();
        let at = crieur::clock::now();
        let dir = project(&pds, &local(at));
        let now = local(at);
        killed_during_the_create(&pds, dir.path(), &now);
        assert_eq!(texts(&pds).len(), 1, "the record was made");
        std::fs::remove_file(dir.path().join(POST)).unwrap();
        let said = pass(dir.path(), &now);
        assert!(texts(&pds).is_empty(), "{:?}\n{said}", texts(&pds));
        assert!(said.contains("version en trop retirée"), "{said}");
        let deliveries = status(dir.path(), &now);
        assert!(
            deliveries.iter().all(|d| d["status"] == "withdrawn"),
            "{deliveries:#?}"
        );
    }
}

mod buffer {
    use super::*;
    use crate::publish::{command, setup, walk};
    use crieur_testing::buffer::{Fault, TOKEN};

    #[test]
    fn a_create_killed_then_the_posts_edited_leaves_one_post_a_slot_at_buffer() {
        let setup = setup("30s");
        // Buffer makes the post, then answers only after 10 seconds.
        setup.buffer.fault(
            "CreatePost",
            Fault::SlowAnswer {
                delay: Duration::from_secs(10),
            },
        );
        let mut child = command(setup.dir.path(), &["publish"], TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("the post made", Duration::from_secs(60), || {
            !setup.buffer.posts().is_empty()
        });
        let _ = child.kill();
        let _ = child.wait();
        // Every post is edited before the next pass.
        for entry in walk(&setup.dir.path().join("posts")) {
            let text = std::fs::read_to_string(&entry).unwrap();
            std::fs::write(&entry, format!("{text}\nRevu après l'arrêt.\n")).unwrap();
        }
        let output = command(setup.dir.path(), &["publish"], TOKEN)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        let posts = setup.buffer.posts();
        let mut slots: Vec<(String, String)> = posts
            .iter()
            .map(|p| (p.channel_id.clone(), p.due_at.clone()))
            .collect();
        slots.sort();
        let total = slots.len();
        slots.dedup();
        assert_eq!(total, slots.len(), "a post went twice: {posts:#?}\n{said}");
        assert!(
            posts.iter().all(|p| p.text.contains("Revu après l'arrêt.")),
            "{posts:#?}\n{said}"
        );
    }
}

//! `crieur publish` against Buffer as people really use it: posts deleted
//! or paused in its app, full queues, request budgets, every form of rate
//! hint, unreachable images, rewritten texts, locked channels, garbled
//! answers, a lost state store.

use std::path::Path;
use std::process::Output;

use chrono::Duration;
use serde_json::Value;

use crieur_testing::buffer::{Fault, FileMode, GarbledKind, TOKEN};

use crate::publish::{EXPECTED, Setup, command, publish, setup};
use crate::{stderr, stdout};

/// A pass run as if it were `now` (local time of the project).
fn publish_at(setup: &Setup, now: &str, args: &[&str]) -> Output {
    let mut all = vec!["publish"];
    all.extend_from_slice(args);
    command(setup.dir.path(), &all, TOKEN)
        .env("CRIEUR_NOW", now)
        .output()
        .unwrap()
}

fn status_json(root: &Path, now: &str) -> Vec<Value> {
    let output = command(root, &["status", "--json"], TOKEN)
        .env("CRIEUR_NOW", now)
        .output()
        .unwrap();
    let value: Value = serde_json::from_str(&stdout(&output)).expect("status --json");
    value["deliveries"].as_array().unwrap().clone()
}

fn delivery<'a>(rows: &'a [Value], post: &str, channel: &str) -> &'a Value {
    rows.iter()
        .find(|row| row["post"] == post && row["channel"] == channel)
        .unwrap_or_else(|| panic!("{post} {channel} in {rows:?}"))
}

fn remote_id(setup: &Setup, channel: &str, due: &str) -> String {
    setup
        .buffer
        .posts()
        .into_iter()
        .find(|p| p.channel_id == channel && p.due_at == due)
        .unwrap_or_else(|| panic!("a post of {channel} at {due}"))
        .id
}

const DMP: &str = "chiffre/01-dmp-alpes-maritimes";
const DMP_DUE: &str = "2026-11-24T18:00:00.000Z";
const MES: &str = "chiffre/2026-12-01-mon-espace-sante";

#[test]
fn a_post_deleted_in_buffers_app_is_settled_once_and_never_created_again() {
    let setup = setup("5s");
    assert_eq!(publish(&setup, &[]).status.code(), Some(0));
    let creates = setup.buffer.requests("CreatePost");
    assert!(
        setup
            .buffer
            .delete_in_app(&remote_id(&setup, "chan-fb", DMP_DUE))
    );
    setup.buffer.send_due("2026-11-24T18:05:00Z");
    // The first pass, on a new store, listed Buffer's posts once to adopt.
    let reads = setup.buffer.requests("Posts");
    let after = publish_at(&setup, "2026-11-24T19:10:00", &[]);
    assert_eq!(
        setup.buffer.requests("Posts"),
        reads + 1,
        "one batched read"
    );
    assert_eq!(setup.buffer.requests("Post"), 0, "never one request a post");
    assert!(stderr(&after).contains("supprimé"), "{}", stderr(&after));
    let rows = status_json(setup.dir.path(), "2026-11-24T19:10:00");
    assert_eq!(delivery(&rows, DMP, "facebook")["status"], "deleted");
    assert_eq!(delivery(&rows, DMP, "linkedin")["status"], "sent");
    // Settled: later passes neither ask about it nor create it again.
    publish_at(&setup, "2026-11-24T20:30:00", &[]);
    assert_eq!(setup.buffer.requests("Posts"), reads + 1);
    let fb_dmp = setup
        .buffer
        .posts()
        .iter()
        .filter(|p| p.channel_id == "chan-fb" && p.due_at == DMP_DUE)
        .count();
    assert_eq!(fb_dmp, 0);
    assert!(setup.buffer.requests("CreatePost") >= creates);
    let status = command(setup.dir.path(), &["status"], TOKEN)
        .output()
        .unwrap();
    assert!(stdout(&status).contains("Supprimés dans Buffer"));
    assert!(stdout(&status).contains("--requeue"), "{}", stdout(&status));
}

#[test]
fn a_deleted_post_goes_again_only_when_requeued() {
    let setup = setup("5s");
    publish(&setup, &[]);
    let due = "2026-12-01T18:00:00.000Z";
    assert!(
        setup
            .buffer
            .delete_in_app(&remote_id(&setup, "chan-li", due))
    );
    let file = setup.dir.path().join(format!("posts/{MES}.md"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("près de 65,4", "environ 65,4")).unwrap();
    publish(&setup, &[]);
    let rows = status_json(setup.dir.path(), crate::NOW);
    assert_eq!(delivery(&rows, MES, "linkedin")["status"], "deleted");
    let creates = setup.buffer.requests("CreatePost");
    publish(&setup, &[]);
    assert_eq!(
        setup.buffer.requests("CreatePost"),
        creates,
        "not recreated"
    );
    let output = publish(&setup, &["--requeue", MES]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(setup.buffer.requests("CreatePost"), creates + 1);
    let rows = status_json(setup.dir.path(), crate::NOW);
    assert_eq!(delivery(&rows, MES, "linkedin")["status"], "queued");
}

#[test]
fn a_paused_queue_makes_its_posts_late_with_the_reason() {
    let setup = setup("5s");
    publish(&setup, &[]);
    setup.buffer.pause_queue("chan-fb", true);
    setup.buffer.send_due("2026-11-24T18:05:00Z");
    publish_at(&setup, "2026-11-24T20:30:00", &[]);
    let rows = status_json(setup.dir.path(), "2026-11-24T20:30:00");
    let late = delivery(&rows, DMP, "facebook");
    assert_eq!(late["status"], "late", "{late}");
    assert!(
        late["message"].as_str().unwrap().contains("pause"),
        "{late}"
    );
    assert_eq!(delivery(&rows, DMP, "instagram")["status"], "sent");
}

#[test]
fn a_full_queue_waits_and_goes_out_earliest_first_as_room_frees() {
    let setup = setup("5s");
    setup.buffer.set_queue_limit("chan-fb", Some(1));
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = status_json(setup.dir.path(), crate::NOW);
    let waiting: Vec<&Value> = rows.iter().filter(|r| r["status"] == "waiting").collect();
    assert_eq!(waiting.len(), 2, "{rows:?}");
    assert!(waiting.iter().all(|r| r["channel"] == "facebook"));
    assert!(waiting[0]["message"].as_str().unwrap().contains("pleine"));
    // The first goes out, room frees: the earliest waiting one is queued.
    setup.buffer.send_due("2026-11-24T18:05:00Z");
    publish_at(&setup, "2026-11-24T19:10:00", &[]);
    let rows = status_json(setup.dir.path(), "2026-11-24T19:10:00");
    assert_eq!(
        delivery(&rows, "outils/01-messagerie-securisee", "facebook")["status"],
        "queued"
    );
    assert_eq!(delivery(&rows, MES, "facebook")["status"], "waiting");
}

#[test]
fn every_form_of_long_rate_hint_ends_the_pass_and_says_when_work_resumes() {
    let in_an_hour = crieur::clock::now() + Duration::hours(1);
    let forms = [
        Fault::retry_after_seconds(3600),
        Fault::retry_after_date(in_an_hour),
        Fault::rate_limit_windows(&[("100-in-15min", 0, 900), ("250-in-24h", 12, 30000)]),
        Fault::rate_limit_reset(600),
        Fault::x_rate_limit_reset(in_an_hour.timestamp() as u64),
        Fault::retry_after_in_body(700),
        Fault::window_in_body("15m"),
    ];
    for fault in forms {
        let setup = setup("5s");
        setup.buffer.fault("CreatePost", fault.clone());
        let output = publish(&setup, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{fault:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("reprend le"),
            "{fault:?}: {}",
            stderr(&output)
        );
        let sent = setup.buffer.requests_total();
        let again = publish(&setup, &[]);
        assert!(stderr(&again).contains("reprend le"));
        assert_eq!(
            setup.buffer.requests_total(),
            sent,
            "{fault:?}: no retry sooner"
        );
        let rows = status_json(setup.dir.path(), crate::NOW);
        assert!(rows.iter().any(|r| r["status"] == "waiting"), "{fault:?}");
    }
}

#[test]
fn a_hostile_rate_hint_is_capped_not_a_crash() {
    let setup = setup("5s");
    setup.buffer.fault(
        "CreatePost",
        Fault::RateLimitedWith {
            headers: vec![("Retry-After".into(), "1e20".into())],
            body: serde_json::json!({"errors": [{"message": "x", "extensions": {"code": "RATE_LIMIT_EXCEEDED", "retryAfter": 1e300}}]}),
        },
    );
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = status_json(setup.dir.path(), crate::NOW);
    assert!(rows.iter().all(|r| r["status"] != "creating"));
}

#[test]
fn the_request_budget_is_kept_across_passes() {
    let setup = setup("5s");
    let config = setup.dir.path().join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "timeout = \"5s\"",
            "timeout = \"5s\"\nrequests_per_15_minutes = 4",
        ),
    )
    .unwrap();
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(setup.buffer.requests_total(), 4);
    assert!(
        stderr(&output).contains("reprend le"),
        "{}",
        stderr(&output)
    );
    publish(&setup, &[]);
    assert_eq!(
        setup.buffer.requests_total(),
        4,
        "the budget holds across passes"
    );
}

#[test]
fn an_image_that_cannot_be_fetched_keeps_its_posts_waiting() {
    let setup = setup("5s");
    setup.files.set_mode(FileMode::Forbidden);
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(errors.contains("public_base_url"), "{errors}");
    assert!(errors.contains("HTTP 403"), "{errors}");
    assert_eq!(setup.buffer.requests("CreatePost"), 0);
    setup.files.set_mode(FileMode::Normal);
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(setup.buffer.posts().len(), EXPECTED);
    // Instagram gets JPEG, and every image its alt text.
    for post in setup.buffer.posts() {
        let image = &post.assets[0]["image"];
        assert!(!image["metadata"]["altText"].as_str().unwrap().is_empty());
        let url = image["url"].as_str().unwrap();
        assert_eq!(url.ends_with(".jpg"), post.channel_id == "chan-ig", "{url}");
    }
}

#[test]
fn a_text_buffer_shortened_is_adopted_after_a_timeout_not_duplicated() {
    let setup = setup("1s");
    let file = setup.dir.path().join(format!("posts/{DMP}.md"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "Depuis 2022",
            "En savoir plus : https://www.ameli.fr/assure/sante/mon-espace-sante\n\nDepuis 2022",
        ),
    )
    .unwrap();
    setup.buffer.set_link_shortening("chan-fb", true);
    setup.buffer.fault(
        "CreatePost",
        Fault::SlowAnswer {
            delay: std::time::Duration::from_millis(2500),
        },
    );
    let first = publish(&setup, &[]);
    assert_eq!(first.status.code(), Some(1));
    let second = publish(&setup, &[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(setup.buffer.posts().len(), EXPECTED, "no duplicate");
    assert!(
        setup
            .buffer
            .posts()
            .iter()
            .any(|p| p.text.contains("buff.ly"))
    );
}

#[test]
fn a_locked_channel_holds_its_posts_and_is_flagged() {
    let setup = setup("5s");
    setup.buffer.lock("chan-li");
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("verrouillé"),
        "{}",
        stderr(&output)
    );
    assert!(
        setup
            .buffer
            .posts()
            .iter()
            .all(|p| p.channel_id != "chan-li")
    );
    assert_eq!(setup.buffer.posts().len(), EXPECTED - 3);
    let channels = command(setup.dir.path(), &["channels"], TOKEN)
        .output()
        .unwrap();
    assert_eq!(channels.status.code(), Some(1));
    assert!(
        stdout(&channels).contains("PROBLÈME"),
        "{}",
        stdout(&channels)
    );
}

#[test]
fn a_broken_series_disables_only_itself() {
    let setup = setup("5s");
    let config = setup.dir.path().join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[series.cassee]\ncron = \"0 25 * * *\"\nchannels = [\"facebook\"]\n"),
    )
    .unwrap();
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("désactivé"), "{}", stderr(&output));
    assert_eq!(setup.buffer.posts().len(), EXPECTED);
}

#[test]
fn a_garbled_answer_to_a_create_is_adopted_never_duplicated() {
    for kind in [
        GarbledKind::TruncatedJson,
        GarbledKind::BadGateway,
        GarbledKind::EmptyBody,
        GarbledKind::HtmlBody,
    ] {
        let setup = setup("5s");
        for _ in 0..4 {
            setup.buffer.fault("CreatePost", Fault::Garbled(kind));
        }
        let mut passes = 0;
        while passes < 6 {
            passes += 1;
            if publish(&setup, &[]).status.code() == Some(0) {
                break;
            }
        }
        assert_eq!(
            setup.buffer.posts().len(),
            EXPECTED,
            "{kind:?}: no duplicate"
        );
    }
}

#[test]
fn a_queued_post_that_gains_an_error_stays_queued_and_is_named() {
    let post = "posts/outils/01-messagerie-securisee.md";
    type Breaking = fn(&str) -> String;
    let breakages: [(&str, Breaking); 3] = [
        (post, |text| text.replacen("+++", "+++\nserie = [", 1)),
        (post, |text| {
            text.replacen("+++", "+++\ntempalte = \"outil\"", 1)
        }),
        ("assets/templates/outil.toml", |text| format!("{text}\n[[[")),
    ];
    for (file, breaking) in breakages {
        let setup = setup("5s");
        publish(&setup, &[]);
        let path = setup.dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, breaking(&text)).unwrap();
        let output = publish(&setup, &[]);
        assert_eq!(output.status.code(), Some(1), "{file}");
        assert_eq!(
            setup.buffer.requests("DeletePost"),
            0,
            "{file}: {}",
            stdout(&output)
        );
        assert!(
            stderr(&output).contains("outils/01-messagerie-securisee"),
            "{file}: {}",
            stderr(&output)
        );
        // Nothing took its slot, nothing was withdrawn.
        assert_eq!(setup.buffer.posts().len(), EXPECTED, "{file}");
    }
}

#[test]
fn a_lost_state_store_adopts_what_buffer_holds() {
    let setup = setup("5s");
    publish(&setup, &[]);
    for name in ["crieur.sqlite", "crieur.sqlite-wal", "crieur.sqlite-shm"] {
        let _ = std::fs::remove_file(setup.dir.path().join("state").join(name));
    }
    let output = publish(&setup, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        setup.buffer.posts().len(),
        EXPECTED,
        "nothing created twice"
    );
    assert_eq!(setup.buffer.requests("CreatePost"), EXPECTED);
}

#[test]
fn a_malformed_key_is_named_and_nothing_is_sent() {
    let setup = setup("5s");
    let output = command(setup.dir.path(), &["publish"], "abc\ndéf")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("mal formée"),
        "{}",
        stderr(&output)
    );
    assert_eq!(setup.buffer.requests_total(), 0);
}

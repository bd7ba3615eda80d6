//! A simulated fortnight: the passes the daemon would run, driven through
//! two weeks of instants (a daylight-saving change included) with the fake
//! Buffer, Mastodon instance and PDS on the same clock as crieur, faults
//! and what people do (edits, a withdrawal, a deletion in Buffer's app)
//! along the way. Every post goes out once, within a minute of its time,
//! nothing is lost, and Buffer's request budget holds.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use serde_json::Value;

use crieur_testing::bluesky::{self as fake_pds, FakePds};
use crieur_testing::buffer::{self as fake_buffer, FakeBuffer, Fault, FileServer, ORGANIZATION};
use crieur_testing::mastodon::{self as fake_mastodon, FakeMastodon};

use crate::{BRAND, copy_dir};

fn paris(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let (month, day) = if day > 31 { (4, day - 31) } else { (3, day) };
    Paris
        .with_ymd_and_hms(2027, month, day, hour, minute, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

struct World {
    dir: tempfile::TempDir,
    buffer: FakeBuffer,
    mastodon: FakeMastodon,
    pds: FakePds,
    _files: FileServer,
}

fn post(series: &str, number: usize, text: &str) -> String {
    format!(
        "+++\nseries = \"{series}\"\nalt = \"Visuel : {number} %, {text}\"\n[visual]\nnumber = \"{number} %\"\ncaption = \"{text}\"\n+++\n{text} ({series} {number})\n"
    )
}

fn world() -> World {
    let buffer = FakeBuffer::start();
    let mastodon = FakeMastodon::start();
    let pds = FakePds::start();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let files = FileServer::start(dir.path().join("media"));
    copy_dir(&repo.join("assets"), &dir.path().join("assets"));
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/crieur.toml"),
        format!(
            r##"{BRAND}[series.chiffre]
template = "chiffre"
cron = "0 18 * * 2,4"
channels = ["facebook", "mastodon", "bluesky"]
[series.astuce]
template = "chiffre"
cron = "30 9 * * 1,3,5"
channels = ["linkedin", "mastodon", "bluesky"]
[channels.facebook]
network = "facebook"
buffer_id = "chan-fb"
[channels.linkedin]
network = "linkedin"
buffer_id = "chan-li"
[channels.mastodon]
network = "mastodon"
publisher = "direct"
instance = "{}"
[channels.bluesky]
network = "bluesky"
publisher = "direct"
handle = "{}"
service = "{}"
[publisher]
kind = "buffer"
endpoint = "{}"
organization = "{ORGANIZATION}"
lookahead = "3d"
timeout = "5s"
[media]
kind = "local"
dir = "media"
public_base_url = "{}"
"##,
            mastodon.url,
            fake_pds::HANDLE,
            pds.url,
            buffer.url,
            files.url
        ),
    )
    .unwrap();
    for (series, count) in [("chiffre", 6), ("astuce", 9)] {
        std::fs::create_dir_all(dir.path().join("posts").join(series)).unwrap();
        for number in 0..count {
            std::fs::write(
                dir.path().join(format!("posts/{series}/{number:02}.md")),
                post(
                    series,
                    number,
                    "des patients suivis par leur médecin traitant",
                ),
            )
            .unwrap();
        }
    }
    World {
        dir,
        buffer,
        mastodon,
        pds,
        _files: files,
    }
}

fn crieur(root: &Path, now: DateTime<Utc>, args: &[&str]) -> Output {
    crate::command(root)
        .args(args)
        .env("CRIEUR_NOW", now.to_rfc3339())
        .env("CRIEUR_BUFFER_TOKEN", fake_buffer::TOKEN)
        .env("CRIEUR_MASTODON_TOKEN", fake_mastodon::TOKEN)
        .env("CRIEUR_BLUESKY_APP_PASSWORD", fake_pds::PASSWORD)
        .output()
        .unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What people and the services do at given instants.
enum Action {
    /// Buffer answers the next create with `Retry-After: 2` and a policy
    /// window of 15 minutes: a wait of 2 seconds, not of 15 minutes.
    BufferAsksTwoSeconds,
    /// Buffer makes the next post, then garbles its answer.
    BufferGarbles,
    /// The officer rewrites a post.
    Edit(&'static str, &'static str),
    /// The officer removes a post's file.
    Remove(&'static str),
    /// Someone deletes a post in Buffer's app.
    DeleteInBuffer {
        channel: &'static str,
        at: DateTime<Utc>,
    },
    /// The officer adds a post due a few minutes later, and the Mastodon
    /// instance then answers 429 until the given instant.
    Urgent {
        at: DateTime<Utc>,
        limited_until: DateTime<Utc>,
    },
}

fn act(world: &World, action: &Action) {
    let root = world.dir.path();
    match action {
        Action::BufferAsksTwoSeconds => world.buffer.fault(
            "CreatePost",
            Fault::RateLimitedWith {
                headers: vec![("Retry-After".into(), "2".into())],
                body: serde_json::json!({"errors": [{"message": "Too many requests", "extensions": {"code": "RATE_LIMIT_EXCEEDED", "window": "15m"}}]}),
            },
        ),
        Action::BufferGarbles => world.buffer.fault(
            "CreatePost",
            Fault::Garbled(fake_buffer::GarbledKind::TruncatedJson),
        ),
        Action::Edit(path, text) => {
            let file = root.join(path);
            let before = std::fs::read_to_string(&file).unwrap();
            let (head, _) = before.rsplit_once("+++\n").unwrap();
            std::fs::write(&file, format!("{head}+++\n{text}\n")).unwrap();
        }
        Action::Remove(path) => std::fs::remove_file(root.join(path)).unwrap(),
        Action::DeleteInBuffer { channel, at } => {
            let due = fake_buffer::buffer_instant(*at);
            let post = world
                .buffer
                .posts()
                .into_iter()
                .find(|p| p.channel_id == *channel && p.due_at == due && p.status == "scheduled")
                .expect("the post to delete is at Buffer");
            assert!(world.buffer.delete_in_app(&post.id));
        }
        Action::Urgent { at, limited_until } => {
            let local = at.with_timezone(&Paris).format("%Y-%m-%dT%H:%M:%S");
            std::fs::create_dir_all(root.join("posts/annonces")).unwrap();
            std::fs::write(
                root.join("posts/annonces/urgent.md"),
                format!(
                    "+++\ntemplate = \"chiffre\"\nchannels = [\"mastodon\", \"bluesky\"]\npublish_at = {local}\nalt = \"Visuel : 3 centres de vaccination ouverts ce soir\"\n[visual]\nnumber = \"3\"\ncaption = \"centres de vaccination ouverts ce soir\"\n+++\nTrois centres de vaccination ouverts ce soir (annonce urgente)\n"
                ),
            )
            .unwrap();
            let until = *limited_until;
            world
                .mastodon
                .with(|state| state.limited_until = Some(until));
        }
    }
}

/// Whether a post made at `made` went out within a minute of `at` (a pass
/// may send it up to 30 seconds early, as crieur does for Bluesky).
fn on_time(made: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    (-30..=60).contains(&(made - at).num_seconds())
}

/// Buffer's requests within every rolling window, at most the budget.
fn assert_within_budget(times: &[DateTime<Utc>]) {
    for (index, start) in times.iter().enumerate() {
        let within = |span: Duration| {
            times[index..]
                .iter()
                .take_while(|at| **at - *start < span)
                .count()
        };
        assert!(within(Duration::minutes(15)) <= 100, "15-minute budget");
        assert!(within(Duration::hours(24)) <= 250, "daily budget");
    }
}

#[test]
fn a_simulated_fortnight_sends_every_post_once_on_time_within_budget() {
    let world = world();
    let root = world.dir.path();
    let start = paris(22, 8, 0);
    let end = paris(36, 8, 0);
    let state = root.join("state/crieur.sqlite");
    let mut actions: Vec<(DateTime<Utc>, Action)> = vec![
        (paris(23, 10, 0), Action::BufferAsksTwoSeconds),
        (
            paris(24, 12, 0),
            Action::Edit(
                "posts/chiffre/01.md",
                "Texte revu : 71 % des patients (chiffre 01)",
            ),
        ),
        (paris(25, 12, 0), Action::Remove("posts/astuce/02.md")),
        (
            paris(28, 12, 0),
            Action::DeleteInBuffer {
                channel: "chan-fb",
                at: paris(30, 18, 0),
            },
        ),
        (paris(29, 15, 0), Action::BufferGarbles),
        (
            paris(31, 9, 27),
            Action::Urgent {
                at: paris(31, 9, 31),
                limited_until: paris(31, 9, 31) + Duration::seconds(40),
            },
        ),
    ];
    actions.sort_by_key(|(at, _)| *at);
    let mut actions = actions.into_iter().peekable();
    let mut now = start;
    let mut passes = 0;
    while now < end {
        while let Some((_, action)) = actions.next_if(|(at, _)| *at <= now) {
            act(&world, &action);
        }
        world.buffer.set_now(now);
        world.mastodon.with(|state| state.clock.set(now));
        world.buffer.send_due(&now.to_rfc3339());
        let output = crieur(root, now, &["publish"]);
        if std::env::var_os("FORTNIGHT_TRACE").is_some() {
            eprintln!("{now} {}", said(&output).lines().last().unwrap_or_default());
        }
        assert!(
            output.status.code().is_some_and(|code| code <= 1),
            "{now}: {}",
            said(&output)
        );
        assert!(
            !said(&output).contains("Buffer demande de patienter"),
            "{now}: a policy window is no wait: {}",
            said(&output)
        );
        passes += 1;
        let store = crieur::store::Store::open(&state).unwrap();
        let wake = crieur::daemon::publisher_wake(
            &store,
            &crieur::budget::Budget::default(),
            false,
            now,
            now,
        );
        // The daemon also passes every 10 minutes; every 6 hours is enough
        // here for a lookahead of 3 days.
        let next = [
            wake,
            Some(now + Duration::hours(6)),
            actions.peek().map(|(at, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap();
        // The daemon wakes and starts its pass a moment later.
        now = next.max(now + Duration::seconds(1)) + Duration::seconds(2);
    }
    assert!(passes < 300, "{passes} passes");
    let status = crieur(root, end, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let deliveries: Vec<&Value> = status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| DateTime::parse_from_rfc3339(d["at"].as_str().unwrap()).unwrap() < end)
        .collect();
    let at_of = |d: &Value| {
        DateTime::parse_from_rfc3339(d["at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let by_status = |status: &str| deliveries.iter().filter(|d| d["status"] == status).count();
    // 4 chiffre slots and 6 astuce slots, on three channels each, and the
    // urgent post on two.
    assert_eq!(deliveries.len(), 10 * 3 + 2 + 3, "{status:#}");
    assert_eq!(by_status("deleted"), 1, "{status:#}");
    assert_eq!(by_status("withdrawn"), 3, "{status:#}");
    assert_eq!(by_status("sent"), 31, "nothing lost: {status:#}");

    // Buffer: one post per delivery, sent at its time.
    let posts = world.buffer.posts();
    // (The post deleted in Buffer's app, and those withdrawn, are gone.)
    for d in deliveries.iter().filter(|d| {
        d["status"] == "sent"
            && d["remote_id"]
                .as_str()
                .is_some_and(|r| !r.starts_with("direct:"))
    }) {
        let id = d["remote_id"].as_str().unwrap();
        let post = posts
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("{d:#} is not at Buffer: {status:#}"));
        let due = fake_buffer::buffer_instant(at_of(d));
        let twins = posts
            .iter()
            .filter(|p| p.channel_id == post.channel_id && p.due_at == due)
            .count();
        assert_eq!(twins, 1, "one Buffer post per slot: {posts:#?}");
        if d["status"] == "sent" {
            assert_eq!(post.status, "sent");
        }
    }
    // Mastodon: each sent post published once, within a minute of its
    // instant; nothing left scheduled in the past.
    let sent_on = |channel: &str| -> Vec<&&Value> {
        deliveries
            .iter()
            .filter(|d| d["channel"] == channel && d["status"] == "sent")
            .collect()
    };
    let published = world.mastodon.with(|state| state.published.clone());
    assert_eq!(published.len(), sent_on("mastodon").len(), "{published:#?}");
    for d in sent_on("mastodon") {
        let at = at_of(d);
        let near: Vec<_> = published
            .iter()
            .filter(|status| on_time(status.at, at))
            .collect();
        assert_eq!(near.len(), 1, "{at}: {published:#?}");
    }
    // Bluesky: one record per sent post, made within a minute of its time.
    let records = world.pds.with(|state| state.records.clone());
    assert_eq!(records.len(), sent_on("bluesky").len(), "{records:#?}");
    for d in sent_on("bluesky") {
        let at = at_of(d);
        let near = records
            .values()
            .filter(|record| {
                let made = DateTime::parse_from_rfc3339(record["createdAt"].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&Utc);
                on_time(made, at)
            })
            .count();
        assert_eq!(near, 1, "{at}: {records:#?}");
    }
    // The edited post went out with its new text everywhere.
    let edited: Vec<_> = records
        .values()
        .filter(|r| r["text"].as_str().unwrap().starts_with("Texte revu"))
        .collect();
    assert_eq!(edited.len(), 1, "{records:#?}");
    assert!(
        posts
            .iter()
            .any(|p| p.text.starts_with("Texte revu") && p.status == "sent")
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &deliveries {
        *counts.entry(d["status"].as_str().unwrap()).or_default() += 1;
    }
    assert_within_budget(&world.buffer.request_times());
    eprintln!(
        "fortnight: {passes} passes, {} requests to Buffer, {counts:?}",
        world.buffer.requests_total()
    );
}

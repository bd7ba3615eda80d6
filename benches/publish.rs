//! One `crieur publish` pass over 1,000 due posts against the local fake
//! Buffer server (which checks every request against Buffer's schema), with
//! images hosted in a local folder served over HTTP: render, host, check the
//! URL, create, record. Target: under 10 s. Then one status pass once
//! the first 100 have gone out: how many requests and how long it takes to
//! learn their outcome (target: at most 3 requests). Run with
//! `cargo bench --bench publish`.

use std::path::Path;
use std::time::Instant;

use crieur_testing::buffer::{FakeBuffer, FileServer, ORGANIZATION, TOKEN};
use crieur_testing::copy_dir;

const POSTS: usize = 1_000;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("assets"), &dir.path().join("assets"));
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::create_dir_all(dir.path().join("posts")).unwrap();
    let buffer = FakeBuffer::start();
    let files = FileServer::start(dir.path().join("media"));
    let config = std::fs::read_to_string(repo.join("config/crieur.toml"))
        .unwrap()
        .replace(
            "[publisher]\nkind = \"outbox\"",
            &format!(
                "[publisher]\nkind = \"buffer\"\nendpoint = \"{}\"\norganization = \"{ORGANIZATION}\"\nlookahead = \"8d\"\nrequests_per_15_minutes = 100000\nrequests_per_day = 100000\n\n[media]\nkind = \"local\"\ndir = \"media\"\npublic_base_url = \"{}\"",
                buffer.url, files.url
            ),
        )
        .replace("network = \"facebook\"", "network = \"facebook\"\nbuffer_id = \"chan-fb\"")
        .replace("network = \"linkedin\"", "network = \"linkedin\"\nbuffer_id = \"chan-li\"")
        .replace("network = \"instagram\"", "network = \"instagram\"\nbuffer_id = \"chan-ig\"");
    std::fs::write(dir.path().join("config/crieur.toml"), config).unwrap();
    // 1,000 dated posts, one every ten minutes over the coming week.
    for index in 0..POSTS {
        let minutes = 60 + index as i64 * 10;
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00+01:00").unwrap()
            + chrono::Duration::minutes(minutes);
        let text = format!(
            "+++\ntemplate = \"chiffre\"\nchannels = [\"facebook\"]\npublish_at = {}\n[visual]\nnumber = \"{index} millions\"\ncaption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\n+++\nAujourd'hui, près de {index} millions d'assurés disposent d'un profil sur Mon Espace Santé.\n",
            at.format("%Y-%m-%dT%H:%M:%S%:z")
        );
        std::fs::write(dir.path().join(format!("posts/{index:04}.md")), text).unwrap();
    }
    // The bench measures crieur, not Buffer's plan limits.
    for channel in ["chan-fb", "chan-li", "chan-ig"] {
        buffer.set_queue_limit(channel, None);
    }
    buffer.set_budget(1_000_000, 1_000_000);
    let publish = |now: &str| {
        crieur_testing::crieur(env!("CARGO_BIN_EXE_crieur"), dir.path())
            .arg("publish")
            .env("CRIEUR_NOW", now)
            .env("CRIEUR_BUFFER_TOKEN", TOKEN)
            .output()
            .expect("crieur runs")
    };
    let start = Instant::now();
    let output = publish("2026-11-22T09:00:00");
    let elapsed = start.elapsed();
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}{}",
        summary,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(buffer.posts().len(), POSTS, "{summary}");
    assert!(buffer.violations().is_empty(), "{:?}", buffer.violations());
    println!(
        "crieur publish: {POSTS} due posts created at the fake Buffer in {:.2} s ({})",
        elapsed.as_secs_f64(),
        summary.trim()
    );

    // The first 100 posts go out (the last at 10:00 + 990 min = 02:30 the
    // next night, UTC+1); a pass then reads their outcome.
    buffer.send_due("2026-11-23T01:30:00Z");
    let before = buffer.requests_total();
    let reads_before = buffer.requests("Posts");
    let start = Instant::now();
    let output = publish("2026-11-23T02:45:00");
    let elapsed = start.elapsed();
    let reads = buffer.requests("Posts") - reads_before;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "status pass: outcome of about 100 deliveries read with {reads} `posts` request(s) ({} request(s) in all) in {:.2} s",
        buffer.requests_total() - before,
        elapsed.as_secs_f64()
    );
    assert!(reads <= 3, "{reads} requests to read 100 outcomes");
}

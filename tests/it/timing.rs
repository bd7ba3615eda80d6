//! Time on the real clock: `crieur daemon` sends a post that crieur itself
//! sends at its time, and every wait inside a pass ends on SIGTERM.

use std::time::Duration;

use chrono::Timelike;

use crieur_testing::bluesky::{FakePds, PASSWORD};
use crieur_testing::buffer::{FakeBuffer, Fault};
use crieur_testing::wait_for;

use crate::daemon::{daemon, every_minute, stop_within_ten_seconds};

#[cfg(unix)]
#[test]
fn a_bluesky_post_due_in_a_minute_is_sent_by_the_running_daemon_within_30_seconds() {
    let pds = FakePds::start();
    // No CRIEUR_NOW anywhere: the daemon, its passes and the PDS client
    // read the real clock.
    let at = (crieur::clock::now() + chrono::Duration::seconds(60))
        .with_nanosecond(0)
        .unwrap();
    let dir = crate::direct::project(&pds, &crate::direct::local(at));
    let mut child = daemon(dir.path(), &[])
        .env("CRIEUR_BLUESKY_APP_PASSWORD", PASSWORD)
        .spawn()
        .unwrap();
    wait_for("the Bluesky record", Duration::from_secs(150), || {
        pds.with(|state| !state.records.is_empty())
    });
    let sent = crieur::clock::now();
    let logs = stop_within_ten_seconds(&mut child);
    let off = (sent - at).num_milliseconds();
    eprintln!("sent {off} ms from its instant");
    assert!(
        off.abs() <= 30_000,
        "sent {off} ms from its instant\n{logs}"
    );
    assert_eq!(
        pds.with(|state| (state.records.len(), state.creates)),
        (1, 1),
        "{logs}"
    );
    let status = crate::status_of(dir.path());
    // Public already; `sent` once the next reading of outcomes confirms it.
    let recorded = &status["deliveries"][0]["status"];
    assert!(recorded == "queued" || recorded == "sent", "{status:#}");
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_buffer_retry_stops_the_daemon_within_ten_seconds() {
    let buffer = FakeBuffer::start();
    let (project, _files) = every_minute(&buffer);
    // Buffer asks to come back in 50 seconds: within what a call waits out
    // by itself, so the pass is asleep in its retry when the stop comes.
    buffer.fault("CreatePost", Fault::retry_after_seconds(50));
    let mut child = daemon(project.path(), &[]).spawn().unwrap();
    wait_for("a create answered 429", Duration::from_secs(60), || {
        buffer.requests("CreatePost") >= 1
    });
    std::thread::sleep(Duration::from_secs(1));
    let logs = stop_within_ten_seconds(&mut child);
    assert_eq!(buffer.requests("CreatePost"), 1, "{logs}");
    let status = crate::status_of(project.path());
    let deliveries = status["deliveries"].as_array().unwrap();
    assert!(
        deliveries.iter().all(|d| d["status"] != "creating"),
        "nothing half-recorded: {deliveries:#?}"
    );
    assert!(
        deliveries.iter().any(|d| d["status"] == "waiting"),
        "{deliveries:#?}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_mastodon_image_wait_stops_the_daemon_within_ten_seconds() {
    use crieur_testing::mastodon::TOKEN as MASTODON_TOKEN;
    let fake = crate::direct_mastodon::start();
    // The instance never finishes processing the image: the pass waits
    // for it, a second at a time.
    fake.with(|state| state.processing_looks = usize::MAX);
    let dir = crate::direct_mastodon::project(&fake);
    let now = crate::direct_mastodon::now();
    let mut child = daemon(dir.path(), &[])
        .env("CRIEUR_NOW", now.to_rfc3339())
        .env("CRIEUR_MASTODON_TOKEN", MASTODON_TOKEN)
        .spawn()
        .unwrap();
    let looks = || {
        fake.with(|state| {
            state
                .requests
                .iter()
                .filter(|line| line.starts_with("GET /api/v1/media/"))
                .count()
        })
    };
    wait_for("the image being processed", Duration::from_secs(60), || {
        looks() >= 2
    });
    let logs = stop_within_ten_seconds(&mut child);
    assert!(logs.contains("arrêt demandé"), "{logs}");
    assert!(looks() < 10, "the wait went on after the stop");
    let status = crate::status_of(dir.path());
    let deliveries = status["deliveries"].as_array().unwrap();
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] != "creating" && d["status"] != "queued"),
        "nothing half-recorded, nothing scheduled: {deliveries:#?}"
    );
    assert!(fake.with(|state| state.scheduled.is_empty()));
}

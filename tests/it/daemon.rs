//! `crieur daemon`, the real binary, on the real clock.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crieur_testing::buffer::{FakeBuffer, FileServer, ORGANIZATION, TOKEN};
use crieur_testing::{free_port, wait_for};

use crate::{BRAND, copy_dir, temp_project};

pub(crate) fn daemon(root: &Path, args: &[&str]) -> Command {
    let mut command = crate::command(root);
    command
        .arg("daemon")
        .args(args)
        .env("CRIEUR_BUFFER_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Sends SIGTERM and checks that the daemon exits 0 within ten seconds;
/// returns its logs.
pub(crate) fn stop_within_ten_seconds(child: &mut Child) -> String {
    let asked = Instant::now();
    sigterm(child);
    let code = child.wait().unwrap();
    let took = asked.elapsed();
    let mut logs = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert_eq!(code.code(), Some(0), "{logs}");
    assert!(took < Duration::from_secs(10), "{took:?}\n{logs}");
    eprintln!("stopped {took:?} after SIGTERM");
    logs
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A project whose series fires every minute and publishes through the
/// fake Buffer.
pub(crate) fn every_minute(buffer: &FakeBuffer) -> (tempfile::TempDir, FileServer) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let files = FileServer::start(dir.path().join("media"));
    copy_dir(&repo.join("assets"), &dir.path().join("assets"));
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::create_dir_all(dir.path().join("posts/minute")).unwrap();
    std::fs::write(
        dir.path().join("config/crieur.toml"),
        format!(
            r##"{BRAND}[series.minute]
template = "chiffre"
cron = "* * * * *"
channels = ["facebook"]
[channels.facebook]
network = "facebook"
buffer_id = "chan-fb"
[publisher]
kind = "buffer"
endpoint = "{}"
organization = "{ORGANIZATION}"
lookahead = "4m"
timeout = "5s"
[media]
kind = "local"
dir = "media"
public_base_url = "{}"
"##,
            buffer.url, files.url
        ),
    )
    .unwrap();
    for index in 0..12 {
        std::fs::write(
            dir.path().join(format!("posts/minute/{index:02}.md")),
            format!(
                "+++\nseries = \"minute\"\n[visual]\nnumber = \"{index}\"\ncaption = \"Le chiffre de la minute numéro {index}.\"\n+++\nLa minute {index}.\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("assets/templates/chiffre.toml"),
        std::fs::read_to_string(repo.join("assets/templates/chiffre.toml")).unwrap(),
    )
    .unwrap();
    (dir, files)
}

#[cfg(unix)]
#[test]
fn publishes_each_post_exactly_once_across_kills_and_restarts() {
    let buffer = FakeBuffer::start();
    buffer.set_latency(Duration::from_millis(40));
    let (project, _files) = every_minute(&buffer);

    // Killed while queueing, several times, then left to finish.
    for delay in [150, 400, 700] {
        let mut child = daemon(project.path(), &[]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let mut child = daemon(project.path(), &[]).spawn().unwrap();
    wait_for("posts at Buffer", Duration::from_secs(30), || {
        buffer.posts().len() >= 4
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = daemon(project.path(), &[]).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();

    let posts = buffer.posts();
    let mut instants: Vec<&str> = posts.iter().map(|p| p.due_at.as_str()).collect();
    let mut texts: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
    instants.sort();
    texts.sort();
    let count = instants.len();
    instants.dedup();
    texts.dedup();
    assert!(count >= 4, "{posts:#?}");
    assert_eq!(
        instants.len(),
        count,
        "two posts at one instant: {posts:#?}"
    );
    assert_eq!(texts.len(), count, "a post went twice: {posts:#?}");
    assert_eq!(buffer.violations(), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn stops_cleanly_on_sigterm_and_refuses_a_second_daemon() {
    let project = temp_project("valid");
    let address = format!("127.0.0.1:{}", free_port());
    let mut first = daemon(project.path(), &["--health", &address])
        .spawn()
        .unwrap();
    wait_for("the first pass", Duration::from_secs(20), || {
        health(&address) == Some(200)
    });
    let metrics = reqwest::blocking::get(format!("http://{address}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("crieur_posts{status=\"queued\"} "),
        "{metrics}"
    );
    assert!(
        metrics.contains("crieur_last_pass_timestamp_seconds "),
        "{metrics}"
    );
    for status in ["error", "late", "deleted", "waiting"] {
        assert!(
            metrics.contains(&format!("crieur_posts{{status=\"{status}\"}} 0")),
            "{metrics}"
        );
    }
    assert!(
        metrics.contains("crieur_requests_left{window=\"24h\"} 250"),
        "{metrics}"
    );

    let second = daemon(project.path(), &[]).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains("tourne déjà"), "{message}");

    let status = crate::command(project.path())
        .arg("status")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("Démon : en marche"));

    let asked = Instant::now();
    sigterm(&first);
    let code = first.wait().unwrap();
    assert_eq!(code.code(), Some(0));
    assert!(asked.elapsed() < Duration::from_secs(10));
    let mut logs = String::new();
    use std::io::Read as _;
    first
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("démon arrêté"), "{logs}");
}

#[cfg(unix)]
#[test]
fn delivers_an_outbox_post_at_its_instant() {
    let project = temp_project("valid");
    let at = crieur::clock::now().with_timezone(&chrono_tz::Europe::Paris)
        + chrono::Duration::seconds(4);
    std::fs::write(
        project.path().join("posts/bientot.md"),
        format!(
            "+++\ntemplate = \"chiffre\"\nchannels = [\"facebook\"]\npublish_at = {}\n[visual]\nnumber = \"1\"\ncaption = \"Bientôt.\"\n+++\nDans quelques secondes.\n",
            at.format("%Y-%m-%dT%H:%M:%S%:z")
        ),
    )
    .unwrap();
    let mut child = daemon(project.path(), &["--log-format", "json"])
        .spawn()
        .unwrap();
    let sent = project.path().join("outbox/sent");
    wait_for("the delivery", Duration::from_secs(30), || {
        std::fs::read_dir(&sent).is_ok_and(|mut entries| entries.next().is_some())
    });
    sigterm(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let mut logs = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(logs.lines().next().unwrap()).unwrap();
    assert!(first["fields"]["message"].is_string(), "{logs}");
}

#[cfg(unix)]
#[test]
fn runs_a_pass_when_a_post_file_changes() {
    let project = temp_project("valid");
    let mut child = daemon(project.path(), &[]).spawn().unwrap();
    let queued = project.path().join("outbox/queued");
    let count = || std::fs::read_dir(&queued).map_or(0, |entries| entries.count());
    wait_for("the first pass", Duration::from_secs(20), || count() > 0);
    let before = count();
    let at =
        crieur::clock::now().with_timezone(&chrono_tz::Europe::Paris) + chrono::Duration::hours(2);
    std::fs::write(
        project.path().join("posts/nouveau.md"),
        format!(
            "+++\ntemplate = \"chiffre\"\nchannels = [\"facebook\"]\npublish_at = {}\n[visual]\nnumber = \"2\"\ncaption = \"Nouveau.\"\n+++\nUn post ajouté pendant que le démon tourne.\n",
            at.format("%Y-%m-%dT%H:%M:00%:z")
        ),
    )
    .unwrap();
    wait_for("the new post queued", Duration::from_secs(30), || {
        count() == before + 1
    });
    sigterm(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[cfg(unix)]
#[test]
fn a_deleted_lock_file_does_not_let_a_second_daemon_start() {
    let project = temp_project("valid");
    let lock = project.path().join("state/crieur.lock");
    let mut first = daemon(project.path(), &[]).spawn().unwrap();
    wait_for("the lock", Duration::from_secs(20), || {
        std::fs::read_to_string(&lock).is_ok_and(|pid| pid.trim() == first.id().to_string())
    });
    std::fs::remove_file(&lock).unwrap();

    let mut second = daemon(project.path(), &[]).spawn().unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(20) {
            second.kill().unwrap();
            second.wait().unwrap();
            sigterm(&first);
            first.wait().unwrap();
            panic!("a second daemon started although the first runs");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(2));
    let mut message = String::new();
    use std::io::Read as _;
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut message)
        .unwrap();
    assert!(message.contains("tourne déjà"), "{message}");

    let status = crate::command(project.path())
        .arg("status")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("Démon : en marche"), "{status}");

    sigterm(&first);
    assert_eq!(first.wait().unwrap().code(), Some(0));
}

fn free_address() -> String {
    format!("127.0.0.1:{}", free_port())
}

fn health(address: &str) -> Option<u16> {
    reqwest::blocking::get(format!("http://{address}/healthz"))
        .ok()
        .map(|response| response.status().as_u16())
}

#[cfg(unix)]
#[test]
fn a_pass_that_writes_a_lot_does_not_hang_the_daemon() {
    let project = temp_project("valid");
    // 1,500 posts with an unknown key each: the pass names every one of them
    // on standard error, well over a pipe's 64 KiB.
    for index in 0..1500 {
        std::fs::write(
            project.path().join(format!("posts/faute-{index:04}.md")),
            "+++\nsereis = \"chiffre-de-la-semaine\"\ntemplate = \"chiffre\"\n+++\nUn post dont la clé est mal écrite.\n",
        )
        .unwrap();
    }
    let address = free_address();
    let mut child = daemon(project.path(), &["--health", &address])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a pass that ends", Duration::from_secs(60), || {
        health(&address) == Some(200)
    });
    sigterm(&child);
    child.wait().unwrap();
}

#[cfg(unix)]
#[test]
fn health_fails_once_the_state_store_is_unreadable() {
    let project = temp_project("valid");
    let address = free_address();
    let mut child = daemon(project.path(), &["--health", &address])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first pass", Duration::from_secs(20), || {
        health(&address) == Some(200)
    });
    let state = project.path().join("state");
    for name in ["crieur.sqlite-wal", "crieur.sqlite-shm"] {
        let _ = std::fs::remove_file(state.join(name));
    }
    std::fs::write(state.join("crieur.sqlite"), vec![b'x'; 8192]).unwrap();
    // A change makes the daemon run a pass now.
    let post = project.path().join("posts/annonce.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(&post, format!("{text}\n")).unwrap();
    wait_for("an unhealthy daemon", Duration::from_secs(30), || {
        health(&address) == Some(503)
    });
    sigterm(&child);
    child.wait().unwrap();
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_pass_lets_the_call_in_flight_finish_and_be_recorded() {
    let buffer = FakeBuffer::start();
    // Each answer takes a while: the stop comes while a create is at Buffer.
    buffer.set_latency(Duration::from_millis(1500));
    let (project, _files) = every_minute(&buffer);
    let mut child = daemon(project.path(), &[]).spawn().unwrap();
    wait_for("a create in flight", Duration::from_secs(60), || {
        buffer.requests("CreatePost") >= 1
    });
    let logs = stop_within_ten_seconds(&mut child);
    assert!(logs.contains("arrêt demandé"), "{logs}");
    assert!(logs.contains("démon arrêté"), "{logs}");

    // The call that was in flight went through and is recorded: every post
    // Buffer holds is a queued delivery with its id, none is left
    // `creating`, and no create left after the stop.
    let created = buffer.requests("CreatePost");
    let held = buffer.posts();
    assert_eq!(held.len(), created, "{held:#?}");
    assert!(
        created < 4,
        "the pass went on after the stop: {created} creates"
    );
    let status = crate::status_of(project.path());
    let deliveries = status["deliveries"].as_array().unwrap();
    for post in &held {
        assert!(
            deliveries
                .iter()
                .any(|d| d["remote_id"] == post.id.as_str() && d["status"] == "queued"),
            "{post:?} is not recorded: {deliveries:#?}"
        );
    }
    assert!(
        deliveries.iter().all(|d| d["status"] != "creating"),
        "{deliveries:#?}"
    );
}

#[cfg(unix)]
#[test]
fn a_call_buffer_leaves_unanswered_does_not_hold_a_stop_and_is_adopted_later() {
    use crieur_testing::buffer::Fault;
    let buffer = FakeBuffer::start();
    let (project, _files) = every_minute(&buffer);
    // A long timeout: only the stop may cut the call short.
    let config = project.path().join("config/crieur.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("timeout = \"5s\"", "timeout = \"60s\""),
    )
    .unwrap();
    // Buffer creates the post, then answers only after 20 seconds.
    buffer.fault(
        "CreatePost",
        Fault::SlowAnswer {
            delay: Duration::from_secs(20),
        },
    );
    let mut child = daemon(project.path(), &[]).spawn().unwrap();
    wait_for(
        "the post created at Buffer",
        Duration::from_secs(60),
        || !buffer.posts().is_empty(),
    );
    let logs = stop_within_ten_seconds(&mut child);
    assert!(logs.contains("arrêt demandé pendant l'appel"), "{logs}");
    assert_eq!(buffer.requests("CreatePost"), 1, "no create after the stop");

    // The next pass finds the post at Buffer and adopts it: it is not
    // created twice.
    let pass = crate::command(project.path())
        .arg("publish")
        .env("CRIEUR_BUFFER_TOKEN", TOKEN)
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&pass.stderr);
    let posts = buffer.posts();
    let mut texts: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
    texts.sort();
    let count = texts.len();
    texts.dedup();
    assert_eq!(
        texts.len(),
        count,
        "a post went twice: {posts:#?}\n{errors}"
    );
    let first = &buffer.posts()[0];
    let status = crate::status_of(project.path());
    assert!(
        status["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["remote_id"] == first.id.as_str()),
        "{status:#}\n{errors}"
    );
}

//! Notifications: `[notify]`, a local SMTP relay and a local webhook. Each
//! problem is told once, by both ways, naming the post's file; its end is
//! told once; a relay that is down changes nothing for publishing.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crieur_testing::buffer::{Fault, TOKEN};
use crieur_testing::smtp::{Mode, SmtpSink};
use crieur_testing::webhook::WebhookSink;

use crate::publish::{Setup, command, setup};
use crate::{stderr, stdout};

/// The relay's password: it must never show in a message.
const PASSWORD: &str = "mot-de-passe-du-relais-42";

/// A project publishing through the fake Buffer, told by e-mail through
/// `smtp` and by `webhook`.
fn notified(smtp: &SmtpSink, webhook: &WebhookSink) -> Setup {
    let setup = setup("5s");
    let path = setup.dir.path().join("config/crieur.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!(
        "\n[notify]\nemail = [\"communication@cpts-exemple.fr\"]\nsmtp = \"smtp://crieur@{}\"\nfrom = \"crieur@cpts-exemple.fr\"\nwebhook = \"{}\"\npreview = \"https://apercu.cpts-exemple.fr\"\n",
        smtp.address(),
        webhook.url()
    ));
    std::fs::write(&path, config).unwrap();
    setup
}

fn run(root: &Path, args: &[&str], now: &str) -> Output {
    command(root, args, TOKEN)
        .env("CRIEUR_NOW", now)
        .env("CRIEUR_SMTP_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

fn publish(setup: &Setup, now: &str) -> Output {
    run(setup.dir.path(), &["publish"], now)
}

/// The post whose delivery is in error, from `status --json`.
fn errored(root: &Path) -> (String, String) {
    let status = crate::status_of(root);
    let row = status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["status"] == "error")
        .unwrap_or_else(|| panic!("a delivery in error: {status}"))
        .clone();
    (
        row["post"].as_str().unwrap().to_owned(),
        row["channel"].as_str().unwrap().to_owned(),
    )
}

fn refuse_one_post(setup: &Setup) {
    refuse_one_post_of(&setup.buffer);
}

#[test]
fn a_refused_post_is_told_once_by_both_ways_and_its_end_once() {
    let (smtp, webhook) = (SmtpSink::start(), WebhookSink::start());
    let setup = notified(&smtp, &webhook);
    refuse_one_post(&setup);
    let output = publish(&setup, "2026-11-22T09:00:00");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let (post, channel) = errored(setup.dir.path());
    let file = format!("posts/{post}.md");

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{}", stderr(&output));
    let mail = &mails[0];
    assert_eq!(mail.to, ["communication@cpts-exemple.fr"]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("crieur : 1 post n'a pas pu partir")
    );
    let body = mail.body();
    for expected in [
        format!("{file} ({channel}) n'a pas pu partir"),
        "le texte est trop long".to_owned(),
        "Que faire : corrigez ce que dit le message".to_owned(),
        format!("https://apercu.cpts-exemple.fr/#post-{post}"),
    ] {
        assert!(body.contains(&expected), "{expected}\n{body}");
    }
    // The relay's password was used to log in, and shows nowhere.
    assert!(mail.auth.as_deref().is_some_and(|a| a.contains(PASSWORD)));
    assert!(!mail.data.contains(PASSWORD) && !body.contains(PASSWORD));

    let bodies = webhook.bodies();
    assert_eq!(bodies.len(), 1);
    let hook = &bodies[0];
    let mut keys: Vec<&str> = hook
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["at", "channel", "hint", "level", "message", "post", "title"]
    );
    assert_eq!(hook["post"], file.as_str());
    assert_eq!(hook["channel"], channel.as_str());
    assert_eq!(hook["level"], "error");
    assert!(!hook.to_string().contains(PASSWORD));

    // A second pass tells nothing new.
    publish(&setup, "2026-11-22T09:10:00");
    assert_eq!((smtp.mails().len(), webhook.bodies().len()), (1, 1));

    // Fixed: the file changes, the post leaves, and that is told once.
    let path = setup.dir.path().join(&file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\nPlus court.\n")).unwrap();
    let output = publish(&setup, "2026-11-22T09:20:00");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{}", stderr(&output));
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("crieur : tout est rentré dans l'ordre")
    );
    assert!(mails[1].body().contains(&file), "{}", mails[1].body());
    assert_eq!(webhook.bodies().len(), 2);
    publish(&setup, "2026-11-22T09:30:00");
    assert_eq!((smtp.mails().len(), webhook.bodies().len()), (2, 2));
}

#[test]
fn a_post_deleted_in_buffer_is_told_once_naming_its_file() {
    let (smtp, webhook) = (SmtpSink::start(), WebhookSink::start());
    let setup = notified(&smtp, &webhook);
    assert_eq!(
        publish(&setup, "2026-11-22T09:00:00").status.code(),
        Some(0)
    );
    assert!(smtp.mails().is_empty(), "nothing to tell");
    let post = setup
        .buffer
        .posts()
        .into_iter()
        .find(|p| p.channel_id == "chan-fb" && p.due_at == "2026-11-24T18:00:00.000Z")
        .expect("a post of facebook");
    assert!(setup.buffer.delete_in_app(&post.id));
    setup.buffer.send_due("2026-11-24T18:05:00Z");
    publish(&setup, "2026-11-24T19:10:00");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let body = mails[0].body();
    assert!(
        body.contains(
            "posts/chiffre/01-dmp-alpes-maritimes.md (facebook) a été supprimé dans Buffer"
        ),
        "{body}"
    );
    assert!(body.contains("--requeue"), "{body}");
    assert_eq!(webhook.bodies().len(), 1);
    publish(&setup, "2026-11-24T20:30:00");
    assert_eq!((smtp.mails().len(), webhook.bodies().len()), (1, 1));
}

#[test]
fn a_relay_and_a_webhook_down_change_nothing_for_publishing() {
    let (smtp, webhook) = (SmtpSink::start(), WebhookSink::start());
    smtp.set_mode(Mode::Refuse);
    webhook.set_down(true);
    let down = notified(&smtp, &webhook);
    let plain = setup("5s");
    refuse_one_post(&down);
    refuse_one_post(&plain);
    let start = Instant::now();
    let without = publish(&plain, "2026-11-22T09:00:00");
    let without_took = start.elapsed();
    let start = Instant::now();
    let with = publish(&down, "2026-11-22T09:00:00");
    let with_took = start.elapsed();
    assert_eq!(with.status.code(), without.status.code());
    assert_eq!(stdout(&with), stdout(&without));
    assert_eq!(down.buffer.posts().len(), plain.buffer.posts().len());
    assert!(
        with_took < without_took + Duration::from_secs(5),
        "{with_took:?} against {without_took:?}"
    );
    assert!(
        stderr(&with).contains("notification non envoyée (e-mail)"),
        "{}",
        stderr(&with)
    );
    let status = run(down.dir.path(), &["status"], "2026-11-22T09:00:30");
    assert!(
        stdout(&status).contains("Notification en attente (e-mail) : échec"),
        "{}",
        stdout(&status)
    );
    assert!(stdout(&status).contains("Notification en attente (webhook) : échec"));

    // Back up: the message leaves at a later pass, once.
    smtp.set_mode(Mode::Up);
    webhook.set_down(false);
    publish(&down, "2026-11-22T09:05:00");
    assert_eq!((smtp.mails().len(), webhook.bodies().len()), (1, 1));
    publish(&down, "2026-11-22T09:15:00");
    assert_eq!((smtp.mails().len(), webhook.bodies().len()), (1, 1));
    let status = run(down.dir.path(), &["status"], "2026-11-22T09:15:00");
    assert!(!stdout(&status).contains("Notification en attente"));
}

#[test]
fn notify_test_reaches_every_way_and_says_which_worked() {
    let (smtp, webhook) = (SmtpSink::start(), WebhookSink::start());
    let setup = notified(&smtp, &webhook);
    let output = run(setup.dir.path(), &["notify", "--test"], crate::NOW);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("e-mail à communication@cpts-exemple.fr : envoyé"),
        "{out}"
    );
    assert!(out.contains("webhook (127.0.0.1) : envoyé"), "{out}");
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(
        smtp.mails()[0].header("Subject").as_deref(),
        Some("crieur : message d'essai")
    );
    assert_eq!(webhook.bodies()[0]["title"], "crieur : message d'essai");

    webhook.set_down(true);
    let output = run(setup.dir.path(), &["notify", "--test"], crate::NOW);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains("webhook (127.0.0.1) : échec : le webhook répond 503"),
        "{out}"
    );
    assert!(
        out.contains("e-mail à communication@cpts-exemple.fr : envoyé"),
        "{out}"
    );
}

#[test]
fn notify_without_a_notify_section_says_what_to_add() {
    let setup = setup("5s");
    let output = run(setup.dir.path(), &["notify", "--test"], crate::NOW);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("ajoutez à config/crieur.toml une section `[notify]`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_refused_token_is_told_once_and_never_shown() {
    let webhook = WebhookSink::start();
    let fake = crate::direct_mastodon::start();
    let project = crate::direct_mastodon::project(&fake);
    let path = project.path().join("config/crieur.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!("\n[notify]\nwebhook = \"{}\"\n", webhook.url()));
    std::fs::write(&path, config).unwrap();
    let wrong = "jeton-revoque-0123456789";
    let pass = |token: &str| {
        crate::command(project.path())
            .arg("publish")
            .env("CRIEUR_NOW", crate::direct_mastodon::NOW)
            .env("CRIEUR_MASTODON_TOKEN", token)
            .output()
            .unwrap()
    };
    let output = pass(wrong);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let bodies = webhook.bodies();
    assert_eq!(bodies.len(), 1, "{}", stderr(&output));
    assert_eq!(bodies[0]["channel"], "mastodon");
    assert_eq!(
        bodies[0]["title"],
        "crieur : le canal mastodon refuse ses identifiants"
    );
    assert!(!bodies[0].to_string().contains(wrong), "{}", bodies[0]);
    pass(wrong);
    assert_eq!(webhook.bodies().len(), 1);
    // The right token: the post leaves, the refusal is over.
    let output = pass(crieur_testing::mastodon::TOKEN);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let bodies = webhook.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["title"], "crieur : tout est rentré dans l'ordre");
}

#[cfg(unix)]
#[test]
fn the_daemon_tells_a_refused_post_once_and_its_passes_do_not_tell_it_again() {
    use crieur_testing::buffer::FakeBuffer;
    let webhook = WebhookSink::start();
    let buffer = FakeBuffer::start();
    let (project, _files) = crate::daemon::every_minute(&buffer);
    let path = project.path().join("config/crieur.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!("\n[notify]\nwebhook = \"{}\"\n", webhook.url()));
    std::fs::write(&path, config).unwrap();
    refuse_one_post_of(&buffer);
    let child = crate::daemon::daemon(project.path(), &[]).spawn().unwrap();
    let mut child = crieur_testing::Killed(child);
    crieur_testing::wait_for("the daemon's message", Duration::from_secs(30), || {
        !webhook.bodies().is_empty()
    });
    // Another pass, on a change of a file: nothing new to tell.
    let post = project.path().join("posts/minute/11.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(&post, format!("{text}\nEncore.\n")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let logs = crate::daemon::stop_within_ten_seconds(&mut child.0);
    let bodies = webhook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}\n{logs}");
    assert!(
        bodies[0]["post"]
            .as_str()
            .is_some_and(|post| post.starts_with("posts/minute/")),
        "{}",
        bodies[0]
    );
    assert!(logs.contains("notification envoyée"), "{logs}");
}

fn refuse_one_post_of(buffer: &crieur_testing::buffer::FakeBuffer) {
    buffer.fault(
        "CreatePost",
        Fault::Typed {
            typename: "InvalidInputError",
            message: "Text is too long for this network",
        },
    );
}

#[test]
fn a_late_post_is_told_once_naming_its_file() {
    let (smtp, webhook) = (SmtpSink::start(), WebhookSink::start());
    let setup = notified(&smtp, &webhook);
    publish(&setup, "2026-11-22T09:00:00");
    setup.buffer.pause_queue("chan-fb", true);
    setup.buffer.send_due("2026-11-24T18:05:00Z");
    publish(&setup, "2026-11-24T20:30:00");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("crieur : 1 post en retard")
    );
    let body = mails[0].body();
    assert!(
        body.contains("posts/chiffre/01-dmp-alpes-maritimes.md (facebook) est en retard"),
        "{body}"
    );
    assert!(body.contains("pause"), "the network's own words: {body}");
    assert_eq!(webhook.bodies().len(), 1);
    publish(&setup, "2026-11-24T21:30:00");
    assert_eq!((smtp.mails().len(), webhook.bodies().len()), (1, 1));
}

/// A project of the example's posts publishing to the outbox, told by
/// `webhook`, with `extra` in its `[notify]` section.
fn outbox_project(webhook: &WebhookSink, extra: &str) -> tempfile::TempDir {
    let project = crate::temp_project("valid");
    let path = project.path().join("config/crieur.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!(
        "\n[notify]\nwebhook = \"{}\"\n{extra}",
        webhook.url()
    ));
    std::fs::write(&path, config).unwrap();
    project
}

/// The real daemon, its clock started at `now`.
fn daemon_at(root: &Path, now: &str) -> crieur_testing::Killed {
    let child = crate::daemon::daemon(root, &[])
        .env("CRIEUR_NOW", now)
        .spawn()
        .unwrap();
    crieur_testing::Killed(child)
}

/// Changes a post file, which makes the daemon pass again.
fn touch_post(root: &Path) {
    let post = root.join("posts/annonce.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(&post, format!("{text}\n")).unwrap();
}

#[cfg(unix)]
#[test]
fn a_post_the_daemon_misses_is_told_once_naming_its_file() {
    let webhook = WebhookSink::start();
    let project = outbox_project(&webhook, "");
    let output = crate::crieur(project.path(), &["publish"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(webhook.bodies().is_empty(), "{:?}", webhook.bodies());
    // The daemon starts again on Wednesday: Tuesday's post is past its
    // grace.
    let mut child = daemon_at(project.path(), "2026-11-25T12:00:00");
    crieur_testing::wait_for("the message", Duration::from_secs(30), || {
        !webhook.bodies().is_empty()
    });
    touch_post(project.path());
    std::thread::sleep(Duration::from_secs(3));
    let logs = crate::daemon::stop_within_ten_seconds(&mut child.0);
    let bodies = webhook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}\n{logs}");
    // Its two channels, in one message about the one file.
    assert_eq!(bodies[0]["title"], "crieur : 1 post manqué");
    assert_eq!(bodies[0]["post"], "posts/chiffre/01-dmp.md");
    assert!(bodies[0]["channel"].is_null(), "{}", bodies[0]);
    let message = bodies[0]["message"].as_str().unwrap_or_default();
    for channel in ["facebook", "instagram"] {
        assert!(
            message.contains(&format!("posts/chiffre/01-dmp.md ({channel}) a été manqué")),
            "{message}"
        );
    }
}

#[cfg(unix)]
#[test]
fn passes_failing_twice_are_told_once() {
    use crieur_testing::buffer::FakeBuffer;
    let webhook = WebhookSink::start();
    let buffer = FakeBuffer::start();
    let (project, _files) = crate::daemon::every_minute(&buffer);
    let path = project.path().join("config/crieur.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!("\n[notify]\nwebhook = \"{}\"\n", webhook.url()));
    std::fs::write(&path, config).unwrap();
    // Buffer refuses the key: every pass fails.
    let child = crate::daemon::daemon(project.path(), &[])
        .env("CRIEUR_BUFFER_TOKEN", "cle-revoquee-0123456789")
        .spawn()
        .unwrap();
    let mut child = crieur_testing::Killed(child);
    std::thread::sleep(Duration::from_secs(3));
    assert!(webhook.bodies().is_empty(), "one failed pass tells nothing");
    let changed = |index: u32| {
        let post = project.path().join("posts/minute/11.md");
        let text = std::fs::read_to_string(&post).unwrap();
        std::fs::write(&post, format!("{text}\nEncore {index}.\n")).unwrap();
    };
    changed(1);
    crieur_testing::wait_for("the message", Duration::from_secs(30), || {
        !webhook.bodies().is_empty()
    });
    changed(2);
    std::thread::sleep(Duration::from_secs(3));
    let logs = crate::daemon::stop_within_ten_seconds(&mut child.0);
    let bodies = webhook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}\n{logs}");
    assert!(
        bodies[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("les passages de publication échouent")),
        "{}",
        bodies[0]
    );
    assert!(!bodies[0].to_string().contains("cle-revoquee-0123456789"));
}

#[cfg(unix)]
#[test]
fn the_weekly_digest_goes_out_once_at_its_time() {
    let webhook = WebhookSink::start();
    // Sunday 22 November 2026, 09:05: the digest of Sunday 09:00 is due.
    let project = outbox_project(&webhook, "digest = \"dimanche 09:00\"\n");
    let mut child = daemon_at(project.path(), "2026-11-22T09:05:00");
    crieur_testing::wait_for("the digest", Duration::from_secs(30), || {
        !webhook.bodies().is_empty()
    });
    touch_post(project.path());
    std::thread::sleep(Duration::from_secs(3));
    let logs = crate::daemon::stop_within_ten_seconds(&mut child.0);
    let bodies = webhook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}\n{logs}");
    let message = bodies[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("posts/chiffre/") && message.contains("facebook"),
        "this week's posts: {message}"
    );
}

//! Secrets never leave the process: servers that repeat a credential in
//! their error messages, for each publisher, and everything a person or a
//! program reads afterwards (standard output and error, the state store,
//! `status --json`, the preview's snapshot).

use std::path::Path;
use std::process::Output;

use crieur_testing::buffer::{Fault, TOKEN};

use crate::publish::{command, setup};

/// Every place a secret could end up after a pass, with what each says.
fn everything_said(root: &Path, outputs: &[&Output], now: chrono::DateTime<chrono::Utc>) -> String {
    let mut said = String::new();
    for output in outputs {
        said.push_str(&String::from_utf8_lossy(&output.stdout));
        said.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    let status = command(root, &["status", "--json"], "")
        .env_remove("CRIEUR_BUFFER_TOKEN")
        .output()
        .unwrap();
    said.push_str(&String::from_utf8_lossy(&status.stdout));
    for file in std::fs::read_dir(root.join("state")).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        said.push_str(&String::from_utf8_lossy(&bytes));
    }
    let project = crieur::loader::load(root).unwrap();
    let snapshot = crieur::preview::snapshot::Snapshot::of(&project, root, 1, now);
    said.push_str(&serde_json::to_string(&snapshot).unwrap());
    said
}

#[test]
fn a_buffer_key_quoted_back_by_buffer_is_shown_nowhere() {
    let setup = setup("5s");
    setup.buffer.fault("CreatePost", Fault::Unauthorized);
    let output = command(setup.dir.path(), &["publish"], TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = everything_said(setup.dir.path(), &[&output], crieur::clock::now());
    assert!(said.contains("Buffer refuse la clé"), "{said}");
    assert!(!said.contains(TOKEN), "{said}");
}

mod bluesky {
    use super::*;
    use crate::direct::{local, project};
    use crieur_testing::bluesky::{FakePds, PASSWORD};

    fn publish(root: &Path, now: &str) -> Output {
        crate::command(root)
            .arg("publish")
            .env("CRIEUR_NOW", now)
            .env("CRIEUR_BLUESKY_APP_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    }

    #[test]
    fn an_app_password_quoted_back_by_the_pds_is_shown_nowhere() {
        let pds = FakePds::start();
        pds.with(|state| state.echo_password = true);
        let at = crieur::clock::now() + chrono::Duration::minutes(1);
        let dir = project(&pds, &local(at));
        let output = publish(dir.path(), &local(at));
        let said = everything_said(dir.path(), &[&output], at);
        assert!(said.contains("le canal Bluesky « bluesky »"), "{said}");
        assert!(!said.contains(PASSWORD), "{said}");
    }

    #[test]
    fn a_session_token_quoted_back_by_the_pds_is_shown_nowhere() {
        let pds = FakePds::start();
        let at = crieur::clock::now() + chrono::Duration::minutes(1);
        let dir = project(&pds, &local(at));
        // The session opens, then every call with it is refused, quoting it.
        pds.with(|state| state.echo_session = true);
        let output = publish(dir.path(), &local(at));
        let said = everything_said(dir.path(), &[&output], at);
        assert!(said.contains("Bluesky refuse la session"), "{said}");
        let token = pds.with(|state| state.access.clone());
        assert!(token.starts_with("access-"), "{token}");
        assert!(!said.contains(&token), "{said}");
        assert!(!said.contains(PASSWORD), "{said}");
    }
}

mod mastodon {
    use super::*;
    use crieur_testing::mastodon::FakeMastodon;

    #[test]
    fn a_mastodon_token_quoted_back_by_the_instance_is_shown_nowhere() {
        const WRONG: &str = "jeton-revoque-0123456789";
        let fake = FakeMastodon::start();
        let dir = crate::direct_mastodon::project(&fake);
        let now = crate::direct_mastodon::now();
        fake.with(|state| state.clock.set(now));
        let output = crate::command(dir.path())
            .arg("publish")
            .env("CRIEUR_NOW", now.to_rfc3339())
            .env("CRIEUR_MASTODON_TOKEN", WRONG)
            .output()
            .unwrap();
        let said = everything_said(dir.path(), &[&output], now);
        assert!(said.contains("le canal Mastodon « mastodon »"), "{said}");
        assert!(!said.contains(WRONG), "{said}");
    }
}

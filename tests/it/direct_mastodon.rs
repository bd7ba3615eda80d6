//! `crieur publish` to a Mastodon channel that publishes directly, against
//! the local instance of the unit tests.

use std::path::Path;
use std::process::{Command, Output};

use crieur_testing::Kills;
use crieur_testing::mastodon::{FakeMastodon, TOKEN};

use crate::copy_dir;

/// Within the lookahead of the post, and days ahead of the real clock.
pub(crate) const NOW: &str = "2026-11-30T09:00:00";
pub(crate) const POST: &str = "posts/chiffre/direct.md";

/// [`NOW`] as an instant.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    crieur::clock::parse_instant(NOW, chrono_tz::Europe::Paris).unwrap()
}

/// The local instance, its clock reading [`NOW`] as crieur's does.
pub(crate) fn start() -> FakeMastodon {
    let fake = FakeMastodon::start();
    fake.with(|state| state.clock.set(now()));
    fake
}

fn post(body: &str) -> String {
    format!(
        "+++\nseries = \"chiffre-de-la-semaine\"\npublish_at = 2026-12-01T19:00:00\nalt = \"Visuel « Le chiffre de la semaine » : 65,4 millions, le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\n\n[visual]\nnumber = \"65,4 millions\"\ncaption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\nsource = \"Assurance Maladie, novembre 2022\"\n+++\n{body}\n"
    )
}

pub(crate) fn project(fake: &FakeMastodon) -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("assets"), &dir.path().join("assets"));
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    let config_path = dir.path().join("config/crieur.toml");
    let config = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace(
            "channels = [\"facebook\", \"linkedin\", \"instagram\"]",
            "channels = [\"mastodon\"]",
        )
        .replace(
            "[publisher]",
            &format!(
                "[channels.mastodon]\nnetwork = \"mastodon\"\npublisher = \"direct\"\ninstance = \"{}\"\n\n[publisher]",
                fake.url
            ),
        );
    std::fs::write(&config_path, config).unwrap();
    let path = dir.path().join(POST);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        post("Près de 65,4 millions d'assurés ont un profil sur Mon Espace Santé. #Santé"),
    )
    .unwrap();
    dir
}

fn command(root: &Path, args: &[&str]) -> Command {
    let mut command = crate::command(root);
    command
        .args(args)
        .env("CRIEUR_NOW", NOW)
        .env("CRIEUR_MASTODON_TOKEN", TOKEN);
    command
}

fn run(root: &Path, args: &[&str]) -> Output {
    command(root, args).output().unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_mastodon_post_is_scheduled_once_rescheduled_when_edited_and_withdrawn_when_removed() {
    let fake = start();
    let dir = project(&fake);
    let output = run(dir.path(), &["publish"]);
    assert!(output.status.success(), "{}", said(&output));
    assert!(!said(&output).contains(TOKEN));
    {
        let state = fake.state();
        assert_eq!(state.scheduled.len(), 1, "{}", said(&output));
        let scheduled = &state.scheduled[0];
        assert_eq!(scheduled.at, "2026-12-01T18:00:00Z");
        assert!(scheduled.text.contains("#Santé"));
        let media = &state.media[&scheduled.media[0]];
        assert!(media.description.starts_with("Visuel"));
    }
    // Nothing changed: nothing is sent.
    let again = run(dir.path(), &["publish"]);
    assert!(again.status.success(), "{}", said(&again));
    assert_eq!(fake.state().status_calls, 1);
    // Edited: the old scheduled status goes, the new text is scheduled.
    std::fs::write(dir.path().join(POST), post("Nouveau texte. #Santé")).unwrap();
    let edited = run(dir.path(), &["publish"]);
    assert!(edited.status.success(), "{}", said(&edited));
    let texts: Vec<String> = fake
        .state()
        .scheduled
        .iter()
        .map(|s| s.text.clone())
        .collect();
    assert_eq!(texts.len(), 1);
    assert!(texts[0].starts_with("Nouveau texte."), "{texts:?}");
    // Removed: withdrawn.
    std::fs::remove_file(dir.path().join(POST)).unwrap();
    let removed = run(dir.path(), &["publish"]);
    assert!(removed.status.success(), "{}", said(&removed));
    assert!(fake.state().scheduled.is_empty());
}

#[test]
fn a_mastodon_pass_killed_at_any_point_schedules_the_post_once() {
    let fake = start();
    fake.with(|state| state.latency = std::time::Duration::from_millis(30));
    let dir = project(&fake);
    let mut kills = Kills::seeded();
    for _ in 0..30 {
        kills.run(&mut command(dir.path(), &["publish"]), 700);
    }
    let output = run(dir.path(), &["publish"]);
    assert!(output.status.success(), "{}", said(&output));
    assert_eq!(
        fake.state().scheduled.len(),
        1,
        "nothing lost, nothing twice"
    );
}

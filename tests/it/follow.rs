//! A server that follows the project's git repository: the real daemon,
//! the system's git, a bare repository in a temporary folder as the
//! remote, on the real clock.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Timelike;

use crieur_testing::{Incoming, Server, free_port, wait_for};

use crate::daemon::stop_within_ten_seconds;
use crate::{BRAND, command, copy_dir, stdout};

/// A fetch comes every 30 s (the shortest rhythm), then one pass; the
/// rest is room for a loaded machine.
const WITHIN_ONE_ROUND: Duration = Duration::from_secs(120);

/// The officer's laptop (a clone), the forge (a bare repository) and the
/// server's folder, all in one temporary folder.
struct Forge {
    dir: tempfile::TempDir,
}

impl Forge {
    /// A project with two posts in a daily series, pushed to the forge.
    fn new() -> Forge {
        let forge = Forge {
            dir: tempfile::tempdir().unwrap(),
        };
        git(
            forge.dir.path(),
            &["init", "--quiet", "--bare", "-b", "main", "forge.git"],
        );
        git(
            forge.dir.path(),
            &["init", "--quiet", "-b", "main", "laptop"],
        );
        let laptop = forge.laptop();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for shared in ["fonts", "logos", "icons"] {
            copy_dir(
                &repo.join("assets").join(shared),
                &laptop.join("assets").join(shared),
            );
        }
        std::fs::create_dir_all(laptop.join("assets/templates")).unwrap();
        std::fs::copy(
            repo.join("assets/templates/chiffre.toml"),
            laptop.join("assets/templates/chiffre.toml"),
        )
        .unwrap();
        std::fs::create_dir_all(laptop.join("config")).unwrap();
        // The daemon runs on the real clock: the series' hour is half a day
        // away, so that no slot is ever within the grace of a late post and
        // every post waits, queued, whatever the time the tests run at.
        let hour = (crieur::clock::now()
            .with_timezone(&chrono_tz::Europe::Paris)
            .hour()
            + 12)
            % 24;
        std::fs::write(
            laptop.join("config/crieur.toml"),
            format!(
                "{BRAND}[series.chiffre]\ntemplate = \"chiffre\"\ncron = \"0 {hour} * * *\"\nchannels = [\"facebook\"]\n[channels.facebook]\nnetwork = \"facebook\"\n[publisher]\nkind = \"outbox\"\n"
            ),
        )
        .unwrap();
        for name in ["a", "b"] {
            forge.write_post(name);
        }
        forge.commit("Deux premiers chiffres");
        git(&laptop, &["remote", "add", "origin", "../forge.git"]);
        git(&laptop, &["push", "--quiet", "origin", "main"]);
        let server = forge.server();
        std::fs::create_dir_all(server.join("config")).unwrap();
        forge.configure(&forge.dir.path().join("forge.git").display().to_string());
        forge
    }

    fn laptop(&self) -> PathBuf {
        self.dir.path().join("laptop")
    }

    fn server(&self) -> PathBuf {
        self.dir.path().join("serveur")
    }

    fn configure(&self, url: &str) {
        std::fs::write(
            self.server().join("config/crieur.toml"),
            format!(
                "[sync]\ngit = \"{url}\"\nbranch = \"main\"\nevery = \"30s\"\ndir = \"donnees\"\n"
            ),
        )
        .unwrap();
    }

    fn write_post(&self, name: &str) {
        let dir = self.laptop().join("posts/chiffre");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{name}.md")),
            format!(
                "+++\nseries = \"chiffre\"\n[visual]\nnumber = \"{}\"\ncaption = \"Le chiffre {name}.\"\n+++\nLe chiffre {name}.\n",
                name.len() * 7
            ),
        )
        .unwrap();
    }

    fn commit(&self, message: &str) -> String {
        git(&self.laptop(), &["add", "--all"]);
        git(&self.laptop(), &["commit", "--quiet", "-m", message]);
        git(&self.laptop(), &["rev-parse", "HEAD"])
    }

    fn push(&self, message: &str) -> String {
        let id = self.commit(message);
        git(&self.laptop(), &["push", "--quiet", "origin", "main"]);
        id
    }

    fn daemon(&self, health: &str, token: Option<&str>) -> Child {
        let mut daemon = command(&self.server());
        daemon
            .args(["daemon", "--health", health])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(token) = token {
            daemon.env("CRIEUR_GIT_TOKEN", token);
        }
        daemon.spawn().unwrap()
    }

    /// Each delivery's status by post, as `status --json` says it.
    fn statuses(&self) -> Vec<(String, String)> {
        let output = command(&self.server())
            .args(["status", "--json"])
            .output()
            .unwrap();
        let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        status["deliveries"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        (
                            row["post"].as_str().unwrap_or_default().to_owned(),
                            row["status"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn status_of(&self, post: &str) -> Option<String> {
        self.statuses()
            .into_iter()
            .find(|(id, _)| id == post)
            .map(|(_, status)| status)
    }

    fn status_text(&self) -> (Option<i32>, String) {
        let output = command(&self.server()).arg("status").output().unwrap();
        (output.status.code(), stdout(&output))
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Marie Dupont",
            "-c",
            "user.email=marie@cpts.example",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn health(address: &str) -> (u16, String) {
    match reqwest::blocking::get(format!("http://{address}/healthz")) {
        Ok(response) => (
            response.status().as_u16(),
            response.text().unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}

fn metrics(address: &str) -> String {
    reqwest::blocking::get(format!("http://{address}/metrics"))
        .and_then(|response| response.text())
        .unwrap_or_default()
}

fn queued(status: Option<String>) -> bool {
    status.as_deref() == Some("queued")
}

#[cfg(unix)]
#[test]
fn a_commit_publishes_and_a_deleting_commit_withdraws_within_one_round() {
    let forge = Forge::new();
    let address = format!("127.0.0.1:{}", free_port());
    let mut daemon = forge.daemon(&address, None);
    wait_for("the first commit published", WITHIN_ONE_ROUND, || {
        queued(forge.status_of("chiffre/a")) && queued(forge.status_of("chiffre/b"))
    });
    let (code, text) = forge.status_text();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Dépôt suivi :")
            && text.contains("« Deux premiers chiffres », de Marie Dupont"),
        "{text}"
    );
    wait_for("healthy", Duration::from_secs(10), || {
        health(&address).0 == 200
    });
    let (_, said) = health(&address);
    assert!(
        said.starts_with("ok\ncommit publié : ") && said.contains("de Marie Dupont"),
        "{said}"
    );

    // A post added on the laptop, merged on the forge.
    forge.write_post("c");
    let added = forge.push("Le chiffre c");
    wait_for("the new post queued", WITHIN_ONE_ROUND, || {
        queued(forge.status_of("chiffre/c"))
    });
    let (_, text) = forge.status_text();
    assert!(
        text.contains(&added[..10]) && text.contains("« Le chiffre c »"),
        "{text}"
    );
    let scraped = metrics(&address);
    assert!(
        scraped.contains(&format!("crieur_sync_commit{{commit=\"{added}\"}} 1")),
        "{scraped}"
    );
    assert!(scraped.contains("crieur_sync_following 1"), "{scraped}");

    // A post removed by an ordinary commit is withdrawn.
    std::fs::remove_file(forge.laptop().join("posts/chiffre/a.md")).unwrap();
    forge.push("Retire le chiffre a");
    wait_for("the removed post withdrawn", WITHIN_ONE_ROUND, || {
        forge.status_of("chiffre/a").as_deref() == Some("withdrawn")
    });
    assert!(queued(forge.status_of("chiffre/b")) && queued(forge.status_of("chiffre/c")));

    let logs = stop_within_ten_seconds(&mut daemon);
    assert!(
        logs.contains("commit publié") && logs.contains("Marie Dupont"),
        "{logs}"
    );
    // The clone is the daemon's own, outside any project folder.
    let data = forge.server().join("donnees");
    assert!(data.join("depot/HEAD").is_file() && data.join("state/crieur.sqlite").is_file());
    assert!(!forge.server().join("posts").exists());
}

#[cfg(unix)]
#[test]
fn a_rewritten_history_withdraws_nothing_until_a_person_accepts_it() {
    let forge = Forge::new();
    // The project asks to be told: once of the stop, once of its end.
    let webhook = crieur_testing::webhook::WebhookSink::start();
    let config = forge.laptop().join("config/crieur.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[notify]\nwebhook = \"{}\"\n", webhook.url()));
    std::fs::write(&config, text).unwrap();
    forge.push("Prévenir la chargée de communication");
    let address = format!("127.0.0.1:{}", free_port());
    let mut daemon = forge.daemon(&address, None);
    wait_for("the first commit published", WITHIN_ONE_ROUND, || {
        queued(forge.status_of("chiffre/a")) && queued(forge.status_of("chiffre/b"))
    });

    // A force-push of a history that lacks post a.
    git(
        &forge.laptop(),
        &["checkout", "--quiet", "--orphan", "autre"],
    );
    std::fs::remove_file(forge.laptop().join("posts/chiffre/a.md")).unwrap();
    let rewritten = forge.commit("Un autre historique");
    git(
        &forge.laptop(),
        &["push", "--quiet", "--force", "origin", "autre:main"],
    );
    wait_for("unhealthy after the rewrite", WITHIN_ONE_ROUND, || {
        health(&address).0 == 503
    });
    let (_, said) = health(&address);
    assert!(said.contains("réécrite"), "{said}");
    let (code, text) = forge.status_text();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("SUIVI ARRÊTÉ")
            && text.contains(&format!("crieur sync --accept {}", &rewritten[..10])),
        "{text}"
    );
    let told = webhook.bodies();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("le suivi du dépôt est arrêté")
                && m.contains("crieur sync --accept")),
        "{}",
        told[0]
    );
    // Nothing was withdrawn because of it, and later passes keep it so.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        queued(forge.status_of("chiffre/a")),
        "{:?}",
        forge.statuses()
    );
    assert!(metrics(&address).contains("crieur_sync_following 0"));

    // The person in charge accepts it: post a is then withdrawn.
    let accept = command(&forge.server())
        .args(["sync", "--accept", &rewritten[..10]])
        .output()
        .unwrap();
    assert_eq!(accept.status.code(), Some(0), "{}", crate::stderr(&accept));
    wait_for("the accepted history published", WITHIN_ONE_ROUND, || {
        forge.status_of("chiffre/a").as_deref() == Some("withdrawn")
    });
    wait_for("its end told", Duration::from_secs(30), || {
        webhook.bodies().len() >= 2
    });
    let told = webhook.bodies();
    assert_eq!(
        told[1]["title"], "crieur : tout est rentré dans l'ordre",
        "{told:?}"
    );
    wait_for("healthy again", Duration::from_secs(10), || {
        health(&address).0 == 200
    });
    stop_within_ten_seconds(&mut daemon);
}

#[cfg(unix)]
#[test]
fn a_failing_remote_or_a_hand_edit_keeps_publishing_the_last_commit() {
    let forge = Forge::new();
    let address = format!("127.0.0.1:{}", free_port());
    let mut daemon = forge.daemon(&address, None);
    wait_for("the first commit published", WITHIN_ONE_ROUND, || {
        queued(forge.status_of("chiffre/a"))
    });

    // The forge goes away: the server keeps what it has and says so.
    let forge_dir = forge.dir.path().join("forge.git");
    std::fs::rename(&forge_dir, forge.dir.path().join("ailleurs.git")).unwrap();
    wait_for("the failed fetch shown", WITHIN_ONE_ROUND, || {
        forge
            .status_text()
            .1
            .contains("La dernière récupération a échoué")
    });
    assert!(queued(forge.status_of("chiffre/a")) && queued(forge.status_of("chiffre/b")));
    // Less than a day without a fetch: still healthy.
    assert_eq!(health(&address).0, 200);
    std::fs::rename(forge.dir.path().join("ailleurs.git"), &forge_dir).unwrap();

    // Someone edits a post by hand on the server: the edit is set aside,
    // never published, and following stops until a person resumes it.
    let post = forge.server().join("donnees/projet/posts/chiffre/b.md");
    std::fs::write(
        &post,
        "+++\nseries = \"chiffre\"\n+++\nModifié sur le serveur.\n",
    )
    .unwrap();
    std::fs::remove_file(forge.server().join("donnees/projet/posts/chiffre/a.md")).unwrap();
    wait_for("the edit set aside", WITHIN_ONE_ROUND, || {
        forge.status_text().1.contains("modifiés à la main")
    });
    let (_, text) = forge.status_text();
    assert!(
        text.contains("posts/chiffre/b.md") && text.contains("crieur sync --resume"),
        "{text}"
    );
    assert!(
        queued(forge.status_of("chiffre/a")),
        "{:?}",
        forge.statuses()
    );
    let restored = std::fs::read_to_string(&post).unwrap();
    assert!(restored.contains("Le chiffre b."), "{restored}");
    assert_eq!(health(&address).0, 503);
    let kept: Vec<_> = std::fs::read_dir(forge.server().join("donnees"))
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("modifié-"))
        .collect();
    assert_eq!(kept.len(), 1);
    let edit = std::fs::read_to_string(kept[0].path().join("posts/chiffre/b.md")).unwrap();
    assert!(edit.contains("Modifié sur le serveur."));

    // Resumed: a new commit goes out again.
    let resume = command(&forge.server())
        .args(["sync", "--resume"])
        .output()
        .unwrap();
    assert_eq!(resume.status.code(), Some(0));
    forge.write_post("d");
    forge.push("Le chiffre d");
    wait_for("following resumed", WITHIN_ONE_ROUND, || {
        queued(forge.status_of("chiffre/d"))
    });
    assert_eq!(health(&address).0, 200);
    stop_within_ten_seconds(&mut daemon);
}

/// A forge on HTTPS's footing: it asks for credentials, then refuses
/// them, repeating what it was sent in its answer.
fn refusing_forge(seen: Arc<Mutex<Vec<Incoming>>>) -> Server {
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let seen = seen.clone();
        async move {
            let incoming = Incoming::read(request).await;
            let authorization = incoming.header("authorization");
            seen.lock().unwrap().push(incoming);
            match authorization {
                None => axum::response::Response::builder()
                    .status(401)
                    .header("www-authenticate", "Basic realm=\"forge\"")
                    .body(axum::body::Body::from("authentification requise"))
                    .unwrap(),
                Some(sent) => axum::response::Response::builder()
                    .status(500)
                    .body(axum::body::Body::from(format!("refusé : {sent}")))
                    .unwrap(),
            }
        }
    });
    Server::start(app)
}

#[cfg(unix)]
#[test]
fn the_token_reaches_the_forge_and_nothing_else() {
    use base64::Engine as _;
    const TOKEN: &str = "glpat-Sup3rS3cretT0ken";
    let forge = Forge::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = refusing_forge(seen.clone());
    forge.configure(&format!("http://{}/cpts/posts.git", server.address()));
    let address = format!("127.0.0.1:{}", free_port());
    let mut daemon = forge.daemon(&address, Some(TOKEN));
    wait_for("the failed fetch shown", WITHIN_ONE_ROUND, || {
        forge
            .status_text()
            .1
            .contains("La dernière récupération a échoué")
    });
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("crieur:{TOKEN}"))
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|request| request.header("authorization").as_deref() == Some(expected.as_str())),
        "the token was not sent"
    );
    let (_, text) = forge.status_text();
    let json = stdout(
        &command(&forge.server())
            .args(["status", "--json"])
            .output()
            .unwrap(),
    );
    let said = format!("{text}{json}{}{}", health(&address).1, metrics(&address));
    let logs = stop_within_ten_seconds(&mut daemon);
    for place in [&said, &logs] {
        assert!(!place.contains(TOKEN), "{place}");
        assert!(!place.contains(&expected[6..]), "{place}");
    }
    assert!(text.contains("CRIEUR_GIT_TOKEN"), "{text}");
}

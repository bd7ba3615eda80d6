//! The preview page in a real headless Chromium, driven over WebDriver.
//!
//! The WebDriver calls are few (a session, a page, scripts, a screenshot),
//! so they are made with reqwest's blocking client rather than an async
//! WebDriver crate. `.ci/run`
//! installs Debian's `chromium` and `chromium-driver`; elsewhere the test
//! runs when both are installed. It is a test binary of its own, so that
//! the browser's timings are not those of a machine busy with the other
//! integration tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crieur_testing::{Killed, copy_dir, free_port, wait_every};
use serde_json::{Value, json};

/// "Now" for the test, as in the other integration tests.
const NOW: &str = "2026-11-22T09:00:00";

/// Checks `done` every 10 ms, so that the times it returns are the
/// preview's to within that.
fn wait_for(what: &str, timeout: Duration, done: impl FnMut() -> bool) -> Duration {
    wait_every(Duration::from_millis(10), what, timeout, done)
}

struct Browser {
    base: String,
    session: String,
    _driver: Killed,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Option<Browser> {
        let present =
            Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists();
        if !present {
            if std::env::var_os("CRIEUR_REQUIRE_BROWSER").is_some() {
                panic!(
                    "chromium and chromium-driver are required (apt-get install chromium chromium-driver)"
                );
            }
            eprintln!("chromium is not installed: browser test skipped");
            return None;
        }
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_for("chromedriver", Duration::from_secs(20), || {
            reqwest::blocking::get(format!("{base}/status")).is_ok()
        });
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,2200",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let answer = post_json(&format!("{base}/session"), &capabilities);
        let session = answer["value"]["sessionId"]
            .as_str()
            .expect("a session")
            .to_owned();
        Some(Browser {
            base,
            session,
            _driver: Killed(driver),
            _profile: profile,
        })
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let answer = match method {
            "GET" => {
                let text = reqwest::blocking::get(&url).unwrap().text().unwrap();
                serde_json::from_str(&text).unwrap()
            }
            _ => post_json(&url, &body),
        };
        answer["value"].clone()
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    fn run(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
    }

    fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            json!({ "width": width, "height": height }),
        );
    }

    fn screenshot(&self, path: &Path) {
        let data = self.call("GET", "/screenshot", Value::Null);
        std::fs::write(path, base64(data.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = reqwest::blocking::Client::new()
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
    }
}

fn post_json(url: &str, body: &Value) -> Value {
    let text = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
        .text()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text
        .bytes()
        .filter(|b| *b != b'=' && !b.is_ascii_whitespace())
    {
        let value = ALPHABET.iter().position(|&c| c == byte).unwrap() as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

const ALL_IMAGES_LOADED: &str = "const images = [...document.querySelectorAll('img[data-post]')]; \
     return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0) ? images.length : 0;";

#[cfg(unix)]
#[test]
fn the_preview_shows_every_post_and_follows_edits_within_a_second() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = tempfile::tempdir().unwrap();
    for dir in ["config", "assets", "posts"] {
        copy_dir(&repo.join(dir), &project.path().join(dir));
    }
    let port = free_port();
    let _server = Killed(
        crieur_testing::crieur(env!("CARGO_BIN_EXE_crieur"), project.path())
            .args(["preview", "--port", &port.to_string()])
            .env("CRIEUR_NOW", NOW)
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(
                    Path::new(env!("CARGO_TARGET_TMPDIR")).join("preview-server.log"),
                )
                .unwrap(),
            )
            .spawn()
            .unwrap(),
    );
    let page = format!("http://127.0.0.1:{port}/");
    wait_for("the preview server", Duration::from_secs(20), || {
        reqwest::blocking::get(&page).is_ok()
    });
    browser.open(&page);
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("every image loaded", Duration::from_secs(30), || {
            browser.run(ALL_IMAGES_LOADED).as_u64().unwrap_or(0) > 0
        })
    }));
    if loaded.is_err() {
        let missing = browser.run(
            "return [...document.querySelectorAll('img[data-post]')].filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.src + ' ' + img.complete)",
        );
        let version = browser.run("return document.body.dataset.version");
        panic!("images not loaded: {missing} (version {version})");
    }
    let posts = std::fs::read_dir(project.path().join("posts"))
        .unwrap()
        .map(|dir| std::fs::read_dir(dir.unwrap().path()).unwrap().count())
        .sum::<usize>() as u64;
    assert_eq!(
        browser
            .run("return document.querySelectorAll('article.post').length")
            .as_u64(),
        Some(posts)
    );
    assert_eq!(
        browser.run("return document.documentElement.lang").as_str(),
        Some("fr")
    );
    assert_eq!(
        browser
            .run("return document.querySelectorAll('h1').length")
            .as_u64(),
        Some(1)
    );
    assert_eq!(
        browser.run("return [...document.querySelectorAll('img[data-post]')].filter((img) => !img.alt).length").as_u64(),
        Some(0),
        "every image has its alt text"
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    browser.screenshot(&shots.join("preview.png"));

    // Edit a post: its new text shows within a second, with a new image.
    let file = project
        .path()
        .join("posts/chiffre/2026-12-01-mon-espace-sante.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let old_src = browser
        .run("return document.querySelector(\"img[data-post='chiffre/2026-12-01-mon-espace-sante']\").src")
        .as_str()
        .unwrap()
        .to_owned();
    let edited = Instant::now();
    std::fs::write(
        &file,
        text.replace("number = \"65,4 millions\"", "number = \"66 millions\"")
            .replace(
                "Aujourd'hui, près de 65,4 millions",
                "Aujourd'hui, près de 66 millions",
            ),
    )
    .unwrap();
    let shown = wait_for("the new text", Duration::from_secs(1), || {
        browser
            .run("return document.body.innerText.includes('près de 66 millions')")
            .as_bool()
            == Some(true)
    });
    let redrawn = wait_for("the new image", Duration::from_secs(5), || {
        browser
            .run(&format!(
                "const img = document.querySelector(\"img[data-post='chiffre/2026-12-01-mon-espace-sante']\"); \
                 return img.src !== '{old_src}' && img.complete && img.naturalWidth > 0;"
            ))
            .as_bool()
            == Some(true)
    });
    eprintln!(
        "edit to text: {} ms, edit to updated image: {} ms",
        shown.as_millis(),
        (edited.elapsed().min(shown + redrawn)).as_millis()
    );
    browser.screenshot(&shots.join("preview-edited.png"));

    // A broken post is shown as a problem, not a crash.
    std::fs::write(
        project.path().join("posts/casse.md"),
        "+++\nsereis = \"x\"\n+++\nLégende\n",
    )
    .unwrap();
    wait_for("the problem shown", Duration::from_secs(2), || {
        browser
            .run("return document.body.innerText.includes('clé inconnue')")
            .as_bool()
            == Some(true)
    });
    // Counted in French: "1 erreur", "2 erreurs", never "erreur(s)".
    let counts = browser.run("return document.querySelector('#problems p').textContent");
    let counts = counts.as_str().unwrap_or_default();
    assert!(
        counts.starts_with("1 erreur,") || counts.contains(" erreurs,"),
        "{counts}"
    );
    assert!(!counts.contains("(s)"), "{counts}");

    browser.resize(390, 844);
    browser.screenshot(&shots.join("preview-phone.png"));
}

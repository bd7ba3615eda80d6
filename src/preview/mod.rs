//! `crieur preview`: one local page that shows everything the daemon will
//! publish, refreshed as files are saved.
//!
//! A small HTTP server (bound to 127.0.0.1 unless told otherwise) serves the
//! page and its script, embedded in the binary, a JSON snapshot of the
//! project (posts, captions as each network shows them, the calendar, the
//! problems `check` finds) and each post's images, rendered on demand and
//! cached by the post's content. A file watcher rebuilds the snapshot when
//! a file changes; the page long-polls `/events` and, when the snapshot's
//! version moves, fetches it again: only posts whose content changed get
//! new image addresses, so only they are rendered again.

pub mod snapshot;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use notify::Watcher as _;

use crate::project::Project;
use crate::render::{self, Context};
use crate::template::Format;
use snapshot::Snapshot;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// A rendered image: the post, its format, and the hash of its content.
type ImageKey = (String, Format, String);

/// The project as the page sees it, and its version.
struct Shared {
    root: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
    images: Mutex<HashMap<ImageKey, Arc<Vec<u8>>>>,
}

struct State {
    version: u64,
    project: Arc<Project>,
    snapshot: Arc<String>,
    hashes: HashMap<String, String>,
}

/// Runs the preview server until the process is stopped.
pub fn serve(root: &Path, address: SocketAddr) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        root: root.to_owned(),
        state: Mutex::new(build(root, 1)?),
        changed: Condvar::new(),
        images: Mutex::new(HashMap::new()),
    });
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("impossible d'écouter sur {address}"))?;
    let _watcher = watch(shared.clone())?;
    println!("Aperçu : http://{address}/  (Ctrl+C pour arrêter)");
    // One thread and one request per connection: a long-polled `/events`
    // never holds up an image, and a local page makes few requests.
    for stream in listener.incoming().flatten() {
        let shared = shared.clone();
        std::thread::spawn(move || serve_connection(&shared, stream));
    }
    Ok(())
}

fn build(root: &Path, version: u64) -> anyhow::Result<State> {
    let project = Project::load(root)?;
    let snapshot = Snapshot::of(&project, root, version, chrono::Utc::now());
    let hashes = snapshot
        .posts
        .iter()
        .map(|post| (post.id.clone(), post.hash.clone()))
        .collect();
    Ok(State {
        version,
        project: Arc::new(project),
        snapshot: Arc::new(serde_json::to_string(&snapshot)?),
        hashes,
    })
}

/// Rebuilds the snapshot after a change; a project that fails to load keeps
/// the last good one (its problems show on the page once it loads again).
fn rebuild(shared: &Shared) {
    let version = shared.state.lock().map(|s| s.version).unwrap_or(0) + 1;
    if let Ok(state) = build(&shared.root, version) {
        *shared.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
        shared.changed.notify_all();
    }
}

fn watch(shared: Arc<Shared>) -> anyhow::Result<notify::RecommendedWatcher> {
    let (sender, receiver) = std::sync::mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|event| {
            matches!(
                event.kind,
                notify::EventKind::Create(_)
                    | notify::EventKind::Modify(_)
                    | notify::EventKind::Remove(_)
            )
        }) {
            let _ = sender.send(());
        }
    })
    .context("surveillance des fichiers")?;
    for dir in ["posts", "config", "assets"] {
        let path = shared.root.join(dir);
        if path.is_dir() {
            watcher
                .watch(&path, notify::RecursiveMode::Recursive)
                .with_context(|| format!("surveillance de {}", path.display()))?;
        }
    }
    std::thread::spawn(move || {
        while receiver.recv().is_ok() {
            // An editor saves in several writes: gather them.
            while receiver.recv_timeout(Duration::from_millis(40)).is_ok() {}
            rebuild(&shared);
        }
    });
    Ok(watcher)
}

/// An answer: status, content type, cache policy, body.
struct Answer {
    status: u16,
    kind: &'static str,
    cache: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn text(body: impl Into<String>, kind: &'static str) -> Answer {
        Answer {
            status: 200,
            kind,
            cache: "no-store",
            body: body.into().into_bytes(),
        }
    }

    fn missing() -> Answer {
        Answer {
            status: 404,
            ..Answer::text("Introuvable", "text/plain; charset=utf-8")
        }
    }
}

/// Reads one request (the request line and headers: GETs have no body),
/// answers it, and closes the connection. The page asks a handful of
/// addresses with GET only, so this is all the HTTP it needs; tiny_http
/// (used by the daemon's health endpoint) was seen to leave Chromium's
/// parallel image requests waiting forever here.
fn serve_connection(shared: &Shared, stream: std::net::TcpStream) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    // Skip the headers.
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let answer = answer(shared, &target);
    let reason = if answer.status == 200 {
        "OK"
    } else {
        "Not Found"
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: {}\r\nConnection: close\r\n\r\n",
        answer.status,
        answer.kind,
        answer.body.len(),
        answer.cache
    );
    let mut stream = &stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&answer.body);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn answer(shared: &Shared, target: &str) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path {
        "/" => Answer::text(PAGE, "text/html; charset=utf-8"),
        "/page.js" => Answer::text(SCRIPT, "text/javascript; charset=utf-8"),
        "/page.css" => Answer::text(STYLE, "text/css; charset=utf-8"),
        "/api/state" => {
            let snapshot = shared
                .state
                .lock()
                .map(|s| s.snapshot.clone())
                .unwrap_or_default();
            Answer::text((*snapshot).clone(), "application/json")
        }
        "/events" => {
            let since: u64 = query
                .strip_prefix("since=")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let (state, _) = shared
                .changed
                .wait_timeout_while(state, Duration::from_secs(25), |s| s.version <= since)
                .unwrap_or_else(|e| e.into_inner());
            Answer::text(
                format!("{{\"version\":{}}}", state.version),
                "application/json",
            )
        }
        "/logo.png" => match logo(shared) {
            Some(png) => Answer {
                status: 200,
                kind: "image/png",
                cache: "no-cache",
                body: png,
            },
            None => Answer::missing(),
        },
        _ if path.starts_with("/image/") => match image(shared, path) {
            Some(png) => Answer {
                status: 200,
                kind: "image/png",
                cache: "public, max-age=31536000, immutable",
                body: (*png).clone(),
            },
            None => Answer::missing(),
        },
        _ => Answer::missing(),
    }
}

fn logo(shared: &Shared) -> Option<Vec<u8>> {
    let project = shared.state.lock().ok()?.project.clone();
    let logo = project.config.as_ref()?.brand.logo.as_ref()?;
    std::fs::read(shared.root.join("assets").join(logo.get_ref())).ok()
}

/// `/image/<format>/<post id>.png`: rendered once per content.
fn image(shared: &Shared, path: &str) -> Option<Arc<Vec<u8>>> {
    let rest = path.strip_prefix("/image/")?.strip_suffix(".png")?;
    let (format, id) = rest.split_once('/')?;
    let id = percent_decode(id);
    let format: Format = format.parse().ok()?;
    let (project, hash) = {
        let state = shared.state.lock().ok()?;
        (state.project.clone(), state.hashes.get(&id)?.clone())
    };
    let key = (id.clone(), format, hash);
    if let Some(png) = shared.images.lock().ok()?.get(&key) {
        return Some(png.clone());
    }
    let config = project.config.as_ref()?;
    let post = project.posts.iter().find(|post| post.id == id)?;
    let template =
        crate::check::template_of(post, config).and_then(|t| project.templates.get(t))?;
    let context = Context {
        brand: &config.brand,
        assets: &project.assets,
        french: config.typography.visuals,
    };
    let card = render::layout(context, template, format, post).ok()?;
    let png = Arc::new(render::encode_png(render::draw(&card)).ok()?);
    shared.images.lock().ok()?.insert(key, png.clone());
    Some(png)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        // `get` is `None` past the end or off a character boundary.
        if bytes[index] == b'%'
            && let Ok(byte) = u8::from_str_radix(text.get(index + 1..index + 3).unwrap_or(""), 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes_in_post_ids() {
        assert_eq!(percent_decode("chiffre/2026%2D12"), "chiffre/2026-12");
        assert_eq!(percent_decode("%C3%A9t%C3%A9"), "été");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}

//! `crieur preview`: one local page that shows everything the daemon will
//! publish, refreshed as files are saved.
//!
//! An axum app, served by [`crate::net::server`] (bound to 127.0.0.1 unless
//! told otherwise), with only the page's own routes: the page and its
//! script and style, embedded in the binary, a JSON snapshot of the project
//! (posts, captions as each network shows them, the calendar, the problems
//! `check` finds), each post's images, rendered on demand on rayon's
//! threads and cached by the post's content, the brand's logo, and
//! `/events`, a stream of Server-Sent Events. No part of a URL is ever a
//! file path: images are looked up among the posts the project loaded, the
//! logo among the images it read under `assets/`. A file watcher rebuilds
//! the snapshot when a file changes and the stream sends the new version;
//! the page then fetches the snapshot again: only posts whose content
//! changed get new image addresses, so only they are rendered again.

pub mod snapshot;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State as Extract};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use notify::Watcher as _;
use tokio::sync::watch;

use crate::net::server::{self, Limits};
use crate::store::Store;
use crieur_core::project::Project;
use crieur_core::render::{self, Context};
use crieur_core::template::Format;
use snapshot::Snapshot;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// The most bytes of rendered images kept; past it, the least recently
/// used are dropped.
pub const IMAGE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The project as the page sees it, its version, and the images drawn.
pub struct Shared {
    root: PathBuf,
    state: Mutex<State>,
    /// The snapshot's version: each change is sent to the page's streams.
    version: watch::Sender<u64>,
    images: Mutex<ImageCache>,
}

impl Shared {
    /// Loads the project at `root`.
    pub fn load(root: &Path) -> anyhow::Result<Arc<Shared>> {
        Ok(Arc::new(Shared {
            root: root.to_owned(),
            state: Mutex::new(build(root, 1)?),
            version: watch::Sender::new(1),
            images: Mutex::new(ImageCache::new(IMAGE_CACHE_BYTES)),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn images(&self) -> std::sync::MutexGuard<'_, ImageCache> {
        self.images.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A rendered image: the post, its format, and the hash of its content.
type ImageKey = (String, Format, String);

/// Rendered images, within a byte budget: the least recently used go
/// first. An edited post gets a new key, so its old images age out.
struct ImageCache {
    budget: usize,
    bytes: usize,
    /// Counts uses, to tell the least recently used.
    clock: u64,
    entries: HashMap<ImageKey, (Arc<Vec<u8>>, u64)>,
}

impl ImageCache {
    fn new(budget: usize) -> ImageCache {
        ImageCache {
            budget,
            bytes: 0,
            clock: 0,
            entries: HashMap::new(),
        }
    }

    fn get(&mut self, key: &ImageKey) -> Option<Arc<Vec<u8>>> {
        self.clock += 1;
        let (png, used) = self.entries.get_mut(key)?;
        *used = self.clock;
        Some(png.clone())
    }

    fn insert(&mut self, key: ImageKey, png: Arc<Vec<u8>>) {
        if png.len() > self.budget {
            return;
        }
        self.clock += 1;
        self.bytes += png.len();
        if let Some((old, _)) = self.entries.insert(key, (png, self.clock)) {
            self.bytes -= old.len();
        }
        while self.bytes > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some((png, _)) = self.entries.remove(&oldest) {
                self.bytes -= png.len();
            }
        }
    }
}

struct State {
    version: u64,
    project: Arc<Project>,
    snapshot: Arc<String>,
    /// The calendar feed.
    ics: Arc<String>,
    hashes: HashMap<String, String>,
}

/// Runs the preview server until the process is stopped (Ctrl-C). It
/// answers to its own address and loopback names, and to `allow_hosts`.
pub fn serve(root: &Path, address: SocketAddr, allow_hosts: &[String]) -> anyhow::Result<()> {
    let shared = Shared::load(root)?;
    // Requests are light: one thread serves them all; images are drawn on
    // rayon's threads, the snapshot rebuilt on the watcher's.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("démarrage du serveur")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                anyhow::anyhow!(crieur_core::system::bind_error(
                    &error, address, "--port", "--bind"
                ))
            })?;
        let _watcher = watch(shared.clone())?;
        if !address.ip().is_loopback() {
            eprintln!("{}", network_warning(address));
        }
        println!("Aperçu : http://{address}/  (Ctrl+C pour arrêter)");
        tokio::select! {
            () = server::serve(
                listener,
                app(shared),
                Limits::default(),
                server::Hosts::new(address.ip(), allow_hosts),
            ) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    })
}

/// What `--bind` to another address than loopback means.
pub fn network_warning(address: SocketAddr) -> String {
    format!(
        "attention : l'aperçu écoute sur {}, hors de cet ordinateur : la page, avec tous les posts, le calendrier et les problèmes du projet, devient visible de tout le réseau, sans mot de passe. Sans --bind, elle reste sur cet ordinateur (127.0.0.1).",
        address.ip()
    )
}

/// The page's routes, and nothing else.
pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { text(PAGE, "text/html; charset=utf-8") }),
        )
        .route(
            "/page.js",
            get(|| async { text(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/page.css",
            get(|| async { text(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/api/state", get(snapshot))
        .route("/calendrier.ics", get(calendar))
        .route("/events", get(events))
        .route("/logo.png", get(logo))
        .route("/image/{format}/{*id}", get(image))
        .route("/bilan", get(report))
        .fallback(|| async { missing() })
        .with_state(shared)
}

fn build(root: &Path, version: u64) -> anyhow::Result<State> {
    let mut project = crate::loader::load(root)?;
    let snapshot = Snapshot::judged(&mut project, root, version, crate::clock::now());
    let hashes = snapshot
        .posts
        .iter()
        .map(|post| (post.id.clone(), post.hash.clone()))
        .collect();
    Ok(State {
        version,
        project: Arc::new(project),
        snapshot: Arc::new(serde_json::to_string(&snapshot)?),
        ics: Arc::new(snapshot.ics.clone()),
        hashes,
    })
}

/// Rebuilds the snapshot after a change; a project that fails to load keeps
/// the last good one (its problems show on the page once it loads again).
fn rebuild(shared: &Shared) {
    let version = shared.state().version + 1;
    if let Ok(state) = build(&shared.root, version) {
        *shared.state() = state;
        shared.version.send_replace(version);
    }
}

/// Watches the project's files; a thread of its own gathers the writes of
/// one save and rebuilds the snapshot.
pub fn watch(shared: Arc<Shared>) -> anyhow::Result<notify::RecommendedWatcher> {
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

/// An answer with its type and cache policy.
fn answer(body: impl Into<Body>, kind: &'static str, cache: &'static str) -> Response<Body> {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn text(body: &'static str, kind: &'static str) -> Response<Body> {
    answer(body, kind, "no-store")
}

fn missing() -> Response<Body> {
    let mut response = answer("Introuvable", "text/plain; charset=utf-8", "no-store");
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

async fn snapshot(Extract(shared): Extract<Arc<Shared>>) -> Response<Body> {
    let snapshot = shared.state().snapshot.clone();
    answer((*snapshot).clone(), "application/json", "no-store")
}

/// The publishing calendar for calendar apps, current with the files.
async fn calendar(Extract(shared): Extract<Arc<Shared>>) -> Response<Body> {
    let ics = shared.state().ics.clone();
    answer((*ics).clone(), "text/calendar; charset=utf-8", "no-cache")
}

/// The snapshot's version now, then at each change: the page fetches the
/// snapshot again when it moves. A comment every 15 seconds keeps the
/// stream open through proxies.
async fn events(
    Extract(shared): Extract<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = shared.version.subscribe();
    let stream =
        futures_util::stream::unfold((receiver, true), |(mut receiver, first)| async move {
            if !first {
                receiver.changed().await.ok()?;
            }
            let version = *receiver.borrow_and_update();
            let event = Event::default().event("version").data(version.to_string());
            Some((Ok(event), (receiver, false)))
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The brand's logo, as the project read it from its `assets/` folder:
/// the configured path only names one of those images, it is never
/// opened, so nothing outside the project is served.
async fn logo(Extract(shared): Extract<Arc<Shared>>) -> Response<Body> {
    let project = shared.state().project.clone();
    let png = project
        .config
        .as_ref()
        .and_then(|config| config.brand.logo.as_ref())
        .and_then(|logo| project.assets.images.get(logo.get_ref()))
        .map(|picture| picture.png().to_vec());
    match png {
        Some(png) => answer(png, "image/png", "no-cache"),
        None => missing(),
    }
}

/// `/bilan`: the activity report's page for the current year, as
/// `crieur report --html` writes it, from the store alone (the preview
/// asks no network).
async fn report(Extract(shared): Extract<Arc<Shared>>) -> Response<Body> {
    let project = shared.state().project.clone();
    let root = shared.root.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = sender.send(report_page(&project, &root));
    });
    match receiver.await.ok().flatten() {
        Some(page) => answer(page, "text/html; charset=utf-8", "no-store"),
        None => missing(),
    }
}

fn report_page(project: &Project, root: &Path) -> Option<String> {
    let config = project.config.as_ref()?;
    let tz = config.timezone;
    let year = chrono::Datelike::year(&crate::clock::now().with_timezone(&tz));
    let period = crieur_core::report::Period::year(year, tz)?;
    let store = Store::open_existing(&root.join(&config.state)).ok()?;
    crate::report::page(project, store.as_ref(), period).ok()
}

/// `/image/<format>/<post id>.png`: a post the project loaded, drawn once
/// per content, on rayon's threads.
async fn image(
    Extract(shared): Extract<Arc<Shared>>,
    UrlPath((format, id)): UrlPath<(String, String)>,
) -> Response<Body> {
    let Some((id, format)) = id.strip_suffix(".png").zip(format.parse::<Format>().ok()) else {
        return missing();
    };
    let id = id.to_owned();
    let (project, hash) = {
        let state = shared.state();
        let Some(hash) = state.hashes.get(&id) else {
            return missing();
        };
        (state.project.clone(), hash.clone())
    };
    let key = (id.clone(), format, hash);
    let cached = shared.images().get(&key);
    let png = match cached {
        Some(png) => Some(png),
        None => {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            rayon::spawn(move || {
                let _ = sender.send(draw(&project, &id, format));
            });
            let png = receiver.await.ok().flatten().map(Arc::new);
            if let Some(png) = &png {
                shared.images().insert(key, png.clone());
            }
            png
        }
    };
    match png {
        Some(png) => answer(
            (*png).clone(),
            "image/png",
            "public, max-age=31536000, immutable",
        ),
        None => missing(),
    }
}

/// One post's card in one format, as PNG bytes.
fn draw(project: &Project, id: &str, format: Format) -> Option<Vec<u8>> {
    let config = project.config.as_ref()?;
    let post = project.posts.iter().find(|post| post.id == id)?;
    let template =
        crieur_core::post::template_of(post, config).and_then(|t| project.templates.get(t))?;
    let context = Context::of(config, &project.assets);
    let sizes = project.sizes_for(context, &[post]);
    let context = context.with_sizes(&sizes);
    let card = render::layout(context, template, format, post).ok()?;
    render::encode_png(render::draw(&card)).ok()
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;
    use crate::net::server::testing::{connect, get, raw, start};

    /// A copy of the repository's example project, with a secret beside
    /// it that no URL may reach.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for folder in ["config", "assets", "posts"] {
            crieur_testing::copy_dir(&repo.join(folder), &dir.path().join(folder));
        }
        std::fs::write(dir.path().join("secret.txt"), "SECRET-42").unwrap();
        dir
    }

    fn preview(root: &Path, limits: Limits) -> (Arc<Shared>, crate::net::server::testing::Running) {
        let shared = Shared::load(root).unwrap();
        let server = start(app(shared.clone()), limits);
        (shared, server)
    }

    fn image_paths(shared: &Shared) -> Vec<String> {
        let state = shared.state();
        let mut paths = Vec::new();
        for id in state.hashes.keys() {
            for format in ["carre", "portrait", "paysage"] {
                paths.push(format!("/image/{format}/{id}.png"));
            }
        }
        paths.sort();
        paths
    }

    #[test]
    fn a_half_sent_request_delays_no_other_client() {
        let project = project();
        let (_shared, server) = preview(project.path(), Limits::default());
        // Clients that send half a request and wait.
        let held: Vec<_> = (0..10)
            .map(|_| {
                let mut stream = connect(server.address);
                stream
                    .write_all(b"GET /api/state HTTP/1.1\r\nHost: lo")
                    .unwrap();
                stream
            })
            .collect();
        // While they hold their connections (ten seconds each), the page
        // and its snapshot are served.
        let (status, page) = get(server.address, "/");
        assert_eq!(status, 200);
        assert!(page.contains("lang=\"fr\""), "{page}");
        let (status, snapshot) = get(server.address, "/api/state");
        assert_eq!(status, 200);
        assert!(snapshot.contains("\"posts\""));
        drop(held);
    }

    #[test]
    fn serves_this_years_report_from_the_store() {
        use crieur_core::delivery::{Key, Status};
        let project = project();
        let key = Key {
            post_id: "chiffre/05-e-cps".into(),
            channel: "facebook".into(),
            at: crate::clock::now() - chrono::Duration::minutes(5),
        };
        let store = Store::open(&project.path().join("state/crieur.sqlite")).unwrap();
        store.record(&key, Status::Sent, "h", None, key.at).unwrap();
        let figures = crieur_core::report::Figures::from_mastodon(4, 2, 1);
        store.record_engagement(&key, &figures, key.at).unwrap();
        drop(store);
        let (_shared, server) = preview(project.path(), Limits::default());
        let (status, page) = get(server.address, "/bilan");
        assert_eq!(status, 200);
        assert!(page.contains("<html lang=\"fr\">"), "{page}");
        assert!(page.contains("a publié 1 post (1 publication)"), "{page}");
        assert!(page.contains("src=\"data:image/png;base64,"), "{page}");
    }

    #[test]
    fn serves_the_calendar_feed_kept_current_with_the_files() {
        let project = project();
        let (shared, server) = preview(project.path(), Limits::default());
        let _watcher = watch(shared.clone()).unwrap();
        let (status, feed) = get(server.address, "/calendrier.ics");
        assert_eq!(status, 200);
        assert!(feed.contains("BEGIN:VCALENDAR"), "{feed}");
        let events = feed.matches("BEGIN:VEVENT").count();
        assert!(events > 0);
        let post = project.path().join("posts/chiffre/05-e-cps.md");
        let text = std::fs::read_to_string(&post).unwrap();
        std::fs::write(&post, text.replacen("+++", "+++\ndraft = true", 1)).unwrap();
        let start = std::time::Instant::now();
        loop {
            let (_, feed) = get(server.address, "/calendrier.ics");
            if feed.matches("BEGIN:VEVENT").count() == events - 1 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the feed did not follow the edit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_half_sent_request_is_dropped_once_its_time_is_spent() {
        let project = project();
        let limits = Limits {
            request_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let (_shared, server) = preview(project.path(), limits);
        let mut half = connect(server.address);
        half.write_all(b"GET /api/state HTTP/1.1\r\nHost: lo")
            .unwrap();
        let mut sink = [0u8; 64];
        // Closed by the server, without an answer.
        assert!(matches!(half.read(&mut sink), Ok(0) | Err(_)));
        assert_eq!(get(server.address, "/page.css").0, 200);
    }

    #[test]
    fn fifty_parallel_requests_are_all_answered() {
        let project = project();
        let (shared, server) = preview(project.path(), Limits::default());
        let mut paths = image_paths(&shared);
        paths.truncate(40);
        paths.extend(["/", "/page.js", "/page.css", "/api/state", "/logo.png"].map(str::to_owned));
        paths.extend(["/api/state", "/", "/logo.png", "/page.js", "/api/state"].map(str::to_owned));
        assert_eq!(paths.len(), 50);
        let address = server.address;
        let answers: Vec<_> = paths
            .iter()
            .map(|path| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let answer = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(120))
                        .build()
                        .unwrap()
                        .get(format!("http://{address}{path}"))
                        .send()
                        .unwrap();
                    let status = answer.status().as_u16();
                    let kind = answer.headers()["content-type"]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    let body = answer.bytes().unwrap();
                    (path, status, kind, body)
                })
            })
            .collect();
        for answer in answers {
            let (path, status, kind, body) = answer.join().unwrap();
            assert_eq!(status, 200, "{path}");
            if path.ends_with(".png") {
                assert_eq!(kind, "image/png", "{path}");
                assert!(body.starts_with(b"\x89PNG"), "{path}");
            }
        }
    }

    #[test]
    fn no_url_reaches_a_file_outside_the_page() {
        let project = project();
        let (_shared, server) = preview(project.path(), Limits::default());
        for path in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/secret.txt",
            "//secret.txt",
            "/config/crieur.toml",
            "/assets/logos/cpts-mulhouse.png",
            "/posts/chiffre/05-e-cps.md",
            "/page.js/../secret.txt",
            "/logo.png/../../secret.txt",
            "/image/carre/../../secret.txt",
            "/image/carre/..%2F..%2Fsecret.txt.png",
            "/image/carre/..%2F..%2Fsecret.png",
            "/image/carre/%2Fetc%2Fpasswd.png",
            "/image/..%2F..%2Fconfig/crieur.toml.png",
            "/image/carre/chiffre/../../../secret.png",
            "/etc/passwd",
            "/%2Fetc%2Fpasswd",
        ] {
            let (status, answer) = get(server.address, path);
            assert!(matches!(status, 400 | 404), "{path}: {status}");
            for leaked in ["SECRET-42", "timezone", "root:", "+++"] {
                assert!(!answer.contains(leaked), "{path} answered {answer}");
            }
        }
        // A request line that is no path at all.
        let (status, _) = raw(
            server.address,
            b"GET ../secret.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        );
        assert!(matches!(status, 400 | 404), "{status}");
        let (status, _) = raw(
            server.address,
            b"GET http://localhost/../secret.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        );
        assert!(matches!(status, 400 | 404), "{status}");
    }

    #[test]
    fn idle_event_streams_and_slow_heads_leave_room_for_a_page() {
        let project = project();
        let (_shared, server) = preview(project.path(), Limits::default());
        let open_stream = || {
            let mut stream = connect(server.address);
            stream
                .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).unwrap();
            (String::from_utf8_lossy(&head).into_owned(), stream)
        };
        // 64 idle event streams: every slot of their own pool.
        let streams: Vec<_> = (0..crate::net::server::MAX_STREAMS)
            .map(|_| {
                let (head, stream) = open_stream();
                assert_eq!(head, "HTTP/1.1 200");
                stream
            })
            .collect();
        // And 200 clients sending their heads a byte at a time.
        let slow: Vec<_> = (0..200)
            .map(|_| {
                let mut stream = connect(server.address);
                stream.write_all(b"GET / HT").unwrap();
                stream
            })
            .collect();
        for path in ["/", "/api/state", "/page.js"] {
            let start = std::time::Instant::now();
            assert_eq!(get(server.address, path).0, 200, "{path}");
            eprintln!("{path} answered in {:?}", start.elapsed());
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "{path}: {:?}",
                start.elapsed()
            );
        }
        // One stream more than the pool holds is refused; the page is not.
        let (head, _) = open_stream();
        assert_eq!(head, "HTTP/1.1 503");
        drop((streams, slow));
    }

    #[test]
    fn the_event_stream_sends_the_version_now_and_after_each_change() {
        let project = project();
        let (shared, server) = preview(project.path(), Limits::default());
        let _watcher = watch(shared.clone()).unwrap();
        let mut stream = connect(server.address);
        stream
            .write_all(
                b"GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n",
            )
            .unwrap();
        let mut seen = String::new();
        let mut read_until = |needle: &str, seen: &mut String| {
            let mut chunk = [0u8; 4096];
            while !seen.contains(needle) {
                let read = stream.read(&mut chunk).expect("the stream goes on");
                assert!(read > 0, "the stream ended: {seen}");
                seen.push_str(&String::from_utf8_lossy(&chunk[..read]));
            }
        };
        read_until("data: 1\n", &mut seen);
        assert!(seen.contains("text/event-stream"), "{seen}");
        let post = project.path().join("posts/chiffre/05-e-cps.md");
        let text = std::fs::read_to_string(&post).unwrap();
        std::fs::write(&post, format!("{text}\nUne ligne de plus.\n")).unwrap();
        read_until("data: 2\n", &mut seen);
        assert!(seen.contains("event: version"), "{seen}");
    }

    fn key(id: &str) -> ImageKey {
        (id.to_owned(), Format::Carre, "hash".to_owned())
    }

    #[test]
    fn the_image_cache_keeps_within_its_budget_dropping_the_least_recently_used() {
        let mut cache = ImageCache::new(300);
        for id in ["a", "b", "c"] {
            cache.insert(key(id), Arc::new(vec![0; 100]));
        }
        assert!(cache.get(&key("a")).is_some());
        cache.insert(key("d"), Arc::new(vec![0; 100]));
        assert!(cache.bytes <= 300);
        assert!(
            cache.get(&key("b")).is_none(),
            "b was the least recently used"
        );
        for id in ["a", "c", "d"] {
            assert!(cache.get(&key(id)).is_some(), "{id}");
        }
        // Edits make new keys: the cache holds its budget however many.
        for index in 0..1000 {
            cache.insert(key(&index.to_string()), Arc::new(vec![0; 70]));
            assert!(cache.bytes <= 300);
        }
        assert!(cache.entries.len() <= 4);
        // An image larger than the budget is not kept.
        cache.insert(key("big"), Arc::new(vec![0; 301]));
        assert!(cache.get(&key("big")).is_none());
    }

    #[test]
    fn warns_that_another_address_shows_the_page_to_the_network() {
        let warning = network_warning("0.0.0.0:8000".parse().unwrap());
        assert!(warning.contains("visible de tout le réseau"), "{warning}");
    }
}

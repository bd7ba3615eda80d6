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

/// The most bytes of a request line and its headers; a longer head is
/// answered 431 and the connection closed.
pub const MAX_HEAD: usize = 16 * 1024;

/// The most bytes of a request body (the page only sends GETs); a longer
/// one is answered 413 and the connection closed.
pub const MAX_BODY: u64 = 16 * 1024;

/// How long a client may take to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an answer may take to be sent.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most connections served at once; past it, 503.
pub const MAX_CONNECTIONS: usize = 64;

/// The most bytes of rendered images kept; past it, the least recently
/// used are dropped.
pub const IMAGE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A rendered image: the post, its format, and the hash of its content.
type ImageKey = (String, Format, String);

/// The project as the page sees it, and its version.
struct Shared {
    root: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
    images: Mutex<ImageCache>,
}

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
    hashes: HashMap<String, String>,
}

/// Runs the preview server until the process is stopped.
pub fn serve(root: &Path, address: SocketAddr) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        root: root.to_owned(),
        state: Mutex::new(build(root, 1)?),
        changed: Condvar::new(),
        images: Mutex::new(ImageCache::new(IMAGE_CACHE_BYTES)),
    });
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("impossible d'écouter sur {address}"))?;
    let _watcher = watch(shared.clone())?;
    if !address.ip().is_loopback() {
        eprintln!("{}", network_warning(address));
    }
    println!("Aperçu : http://{address}/  (Ctrl+C pour arrêter)");
    // One thread and one request per connection: a long-polled `/events`
    // never holds up an image, and a local page makes few requests.
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for stream in listener.incoming().flatten() {
        let count = Connection::count(&open);
        if count.is_none() {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            refuse(&stream, 503, false);
            continue;
        }
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _count = count;
            serve_connection(&shared, stream);
        });
    }
    Ok(())
}

/// What `--bind` to another address than loopback means.
pub fn network_warning(address: SocketAddr) -> String {
    format!(
        "attention : l'aperçu écoute sur {}, hors de cet ordinateur : la page, avec tous les posts, le calendrier et les problèmes du projet, devient visible de tout le réseau, sans mot de passe. Sans --bind, elle reste sur cet ordinateur (127.0.0.1).",
        address.ip()
    )
}

/// One open connection, counted while it lives.
struct Connection(Arc<std::sync::atomic::AtomicUsize>);

impl Connection {
    /// Counts one more connection, or `None` when [`MAX_CONNECTIONS`] are
    /// open.
    fn count(open: &Arc<std::sync::atomic::AtomicUsize>) -> Option<Connection> {
        use std::sync::atomic::Ordering;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < MAX_CONNECTIONS).then_some(n + 1)
        })
        .ok()
        .map(|_| Connection(open.clone()))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
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

/// Why a request is not answered normally.
#[derive(Debug, PartialEq, Eq)]
enum BadRequest {
    /// The request line and headers exceed [`MAX_HEAD`]: 431.
    HeadTooLarge,
    /// A body over [`MAX_BODY`], or of unknown length: 413.
    BodyTooLarge,
    /// Not HTTP: 400.
    Malformed,
    /// The client went away or took longer than [`REQUEST_TIMEOUT`]: no
    /// answer.
    Gone,
}

impl BadRequest {
    fn status(&self) -> Option<u16> {
        match self {
            BadRequest::HeadTooLarge => Some(431),
            BadRequest::BodyTooLarge => Some(413),
            BadRequest::Malformed => Some(400),
            BadRequest::Gone => None,
        }
    }
}

/// Reads one request from `input` and returns its target: the request line
/// and headers, at most [`MAX_HEAD`] bytes of them, then the body (at most
/// [`MAX_BODY`] bytes), read and dropped. `before_read` runs before each
/// read: it sets the time left for the request, or fails once it is spent.
fn read_request(
    input: &mut impl std::io::Read,
    mut before_read: impl FnMut() -> std::io::Result<()>,
) -> Result<String, BadRequest> {
    let mut head: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = head_end(&head) {
            break end;
        }
        if head.len() >= MAX_HEAD {
            return Err(BadRequest::HeadTooLarge);
        }
        before_read().map_err(|_| BadRequest::Gone)?;
        // Never more than the head may hold, plus one byte to tell.
        let room = (MAX_HEAD + 1 - head.len()).min(chunk.len());
        match input.read(&mut chunk[..room]) {
            Ok(0) | Err(_) => return Err(BadRequest::Gone),
            Ok(read) => head.extend_from_slice(&chunk[..read]),
        }
    };
    if end > MAX_HEAD {
        return Err(BadRequest::HeadTooLarge);
    }
    let text = String::from_utf8_lossy(&head[..end]);
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (Some(_method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed);
    };
    if !version.starts_with("HTTP/") {
        return Err(BadRequest::Malformed);
    }
    let mut length: u64 = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        if name == "transfer-encoding" {
            return Err(BadRequest::BodyTooLarge);
        }
        if name == "content-length" {
            length = value.trim().parse().map_err(|_| BadRequest::Malformed)?;
        }
    }
    if length > MAX_BODY {
        return Err(BadRequest::BodyTooLarge);
    }
    // Whatever body there is, read and dropped.
    let mut left = length.saturating_sub((head.len() - end) as u64);
    while left > 0 {
        before_read().map_err(|_| BadRequest::Gone)?;
        let room = left.min(chunk.len() as u64) as usize;
        match input.read(&mut chunk[..room]) {
            Ok(0) | Err(_) => return Err(BadRequest::Gone),
            Ok(read) => left -= read as u64,
        }
    }
    Ok(target.to_owned())
}

/// Where the head of a request ends (after its blank line), if it does.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Answers an error and closes the connection; with `linger`, reads (and
/// drops) a little of what the client still sends, for a second at most,
/// so that it gets the answer rather than a reset.
fn refuse(stream: &std::net::TcpStream, status: u16, linger: bool) {
    use std::io::{Read as _, Write as _};
    let body = format!("{status} {}", reason(status));
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let mut writer = stream;
    let _ = writer.write_all(head.as_bytes());
    let _ = writer.write_all(body.as_bytes());
    let _ = writer.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    if linger {
        let until = std::time::Instant::now() + Duration::from_secs(1);
        let mut reader = stream;
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < 1024 * 1024 {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match reader.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(read) => drained += read,
            }
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Reads one request (the request line and headers, within [`MAX_HEAD`]
/// bytes and [`REQUEST_TIMEOUT`]), answers it, and closes the connection.
/// The page asks a handful of addresses with GET only, so this is all the
/// HTTP it needs; tiny_http (used by the daemon's health endpoint) was seen
/// to leave Chromium's parallel image requests waiting forever here.
fn serve_connection(shared: &Shared, stream: std::net::TcpStream) {
    use std::io::Write as _;
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    let mut input = &stream;
    let before_read = || {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))
    };
    let target = match read_request(&mut input, before_read) {
        Ok(target) => target,
        Err(error) => {
            match error.status() {
                Some(status) => refuse(&stream, status, true),
                None => {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
            }
            return;
        }
    };
    let answer = answer(shared, &target);
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: {}\r\nConnection: close\r\n\r\n",
        answer.status,
        reason(answer.status),
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

/// The brand's logo, as the project read it from its `assets/` folder:
/// the configured path only names one of those images, it is never
/// opened, so nothing outside the project is served.
fn logo(shared: &Shared) -> Option<Vec<u8>> {
    let project = shared.state.lock().ok()?.project.clone();
    let logo = project.config.as_ref()?.brand.logo.as_ref()?;
    let picture = project.assets.images.get(logo.get_ref())?;
    Some(picture.png().to_vec())
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
        return Some(png);
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

    fn request(bytes: &[u8]) -> Result<String, BadRequest> {
        read_request(&mut std::io::Cursor::new(bytes), || Ok(()))
    }

    #[test]
    fn reads_the_target_of_a_request() {
        assert_eq!(
            request(b"GET /image/carre/a.png HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok("/image/carre/a.png".to_owned())
        );
        assert_eq!(request(b"GET / HTTP/1.0\n\n"), Ok("/".to_owned()));
        assert_eq!(
            request(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            Ok("/x".to_owned())
        );
        assert_eq!(request(b"hello\r\n\r\n"), Err(BadRequest::Malformed));
        assert_eq!(request(b"GET / HTTP/1.1\r\nHost"), Err(BadRequest::Gone));
    }

    #[test]
    fn refuses_an_endless_head_after_sixteen_kibibytes() {
        // An endless header: reading stops at the cap.
        let mut endless =
            std::io::Read::chain(&b"GET / HTTP/1.1\r\nX-Long: "[..], std::io::repeat(b'a'));
        let mut reads = 0;
        let result = read_request(&mut endless, || {
            reads += 1;
            Ok(())
        });
        assert_eq!(result, Err(BadRequest::HeadTooLarge));
        assert!(reads <= MAX_HEAD / 1024 + 1, "{reads} reads");
        assert_eq!(BadRequest::HeadTooLarge.status(), Some(431));
    }

    #[test]
    fn refuses_a_large_or_unbounded_body() {
        let huge = format!("GET / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", 300 << 20);
        assert_eq!(request(huge.as_bytes()), Err(BadRequest::BodyTooLarge));
        assert_eq!(
            request(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(BadRequest::BodyTooLarge)
        );
        assert_eq!(BadRequest::BodyTooLarge.status(), Some(413));
    }

    #[test]
    fn stops_reading_once_the_time_for_the_request_is_spent() {
        // A client that sends nothing more: the deadline, once passed,
        // ends the connection.
        let mut slow = std::io::repeat(b'a');
        let result = read_request(&mut slow, || Err(std::io::ErrorKind::TimedOut.into()));
        assert_eq!(result, Err(BadRequest::Gone));
        assert_eq!(BadRequest::Gone.status(), None);
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

    #[test]
    fn decodes_percent_escapes_in_post_ids() {
        assert_eq!(percent_decode("chiffre/2026%2D12"), "chiffre/2026-12");
        assert_eq!(percent_decode("%C3%A9t%C3%A9"), "été");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}

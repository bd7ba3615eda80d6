//! The HTTP server of the preview and of the daemon's health endpoint: an
//! axum router served over hyper's HTTP/1, one request per connection,
//! with the limits a server open to any local program needs.
//!
//! - The request head must arrive whole within [`REQUEST_TIMEOUT`] of the
//!   connection, and hold at most [`MAX_HEAD`] bytes (else 431): a client
//!   that sends half a request, or nothing, is dropped and delays no one.
//! - A body is refused over [`MAX_BODY`] bytes or of unknown length (413):
//!   the routes only answer GETs.
//! - An answer whose writing stalls for [`WRITE_TIMEOUT`] (a client that
//!   stopped reading) ends its connection.
//! - Only its own host names are served ([`Hosts`]): a request whose `Host`
//!   is another name (a page of another site reaching the server through
//!   DNS rebinding) is answered 421; one a browser marks as coming from
//!   another site (`Origin`, `Sec-Fetch-Site: cross-site`), other than a
//!   person following a link to the page, 403. No answer carries CORS
//!   headers.
//! - Three pools, so that idle clients never take the slots of real
//!   requests: at most [`MAX_PENDING`] connections still sending their
//!   head, [`MAX_CONNECTIONS`] requests being answered, and
//!   [`MAX_STREAMS`] event streams open (each sends a comment every 15
//!   seconds, and one that stops reading is dropped); past each, 503.
//! - A closed connection lingers a second (reading and dropping at most
//!   1 MiB) so that a client still sending gets the answer, not a reset;
//!   a client that closes its sending side once its request is sent still
//!   gets the answer.
//!
//! Each connection is a task: any number of clients are served at once, a
//! long-lived stream (the preview's Server-Sent Events) holds no one up.

use std::future::Future as _;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

/// The most bytes of a request line and its headers; a longer head is
/// answered 431 and the connection closed.
pub const MAX_HEAD: usize = 16 * 1024;

/// The most bytes of a request body; a longer one, or one of unknown
/// length, is answered 413.
pub const MAX_BODY: u64 = 16 * 1024;

/// How long a client may take to send its request's head, from the moment
/// it connects.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the writing of an answer may stall.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most requests answered at once; past it, 503.
pub const MAX_CONNECTIONS: usize = 64;

/// The most connections still sending their request head; past it, 503.
pub const MAX_PENDING: usize = 1024;

/// The most event streams (`text/event-stream`) open at once, apart from
/// the requests; past it, 503.
pub const MAX_STREAMS: usize = 64;

/// The limits a server holds to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head: usize,
    pub max_body: u64,
    pub request_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub max_pending: usize,
    pub max_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: MAX_HEAD,
            max_body: MAX_BODY,
            request_timeout: REQUEST_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_pending: MAX_PENDING,
            max_streams: MAX_STREAMS,
        }
    }
}

/// The host names a server answers to: the address it is bound to,
/// `localhost`, `127.0.0.1` and `[::1]`, and the names a person allowed
/// (`--allow-host`). Bound to every address (`0.0.0.0`), any address
/// literal is its own; a name never is unless allowed, which is what stops
/// DNS rebinding.
#[derive(Debug, Clone)]
pub struct Hosts {
    bound: IpAddr,
    allowed: Vec<String>,
}

impl Hosts {
    pub fn new(bound: IpAddr, allowed: &[String]) -> Hosts {
        Hosts {
            bound,
            allowed: allowed
                .iter()
                .map(|name| name.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether a `Host` header (or an `Origin`'s host) names this server.
    pub fn accepts(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        if matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1") {
            return true;
        }
        if self.allowed.contains(&name) {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => ip == self.bound || self.bound.is_unspecified(),
            Err(_) => false,
        }
    }
}

/// The name of a `host[:port]` (`[v6]:port` for IPv6), lower-cased.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        }
    };
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

/// Why a request is refused before it reaches the routes.
fn misdirected(request: &Request<Incoming>, hosts: &Hosts) -> Option<StatusCode> {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text("host").or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|host| hosts.accepts(host)) {
        return Some(StatusCode::MISDIRECTED_REQUEST);
    }
    // A browser names the page that asks: another site's script may not
    // read the project, nor embed its images; a person following a link
    // to the page may open it.
    let navigates = text("sec-fetch-mode") == Some("navigate");
    if text("sec-fetch-site") == Some("cross-site") && !navigates {
        return Some(StatusCode::FORBIDDEN);
    }
    if let Some(origin) = text("origin") {
        let origin_host = url::Url::parse(origin).ok().and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
        if !origin_host.is_some_and(|host| hosts.accepts(&host)) && !navigates {
            return Some(StatusCode::FORBIDDEN);
        }
    }
    None
}

/// The server's pools of permits.
#[derive(Clone)]
struct Pools {
    pending: Arc<Semaphore>,
    serving: Arc<Semaphore>,
    streams: Arc<Semaphore>,
}

/// Serves `router` on `listener`, to the host names of `hosts`, until the
/// task is dropped.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, hosts: Hosts) {
    let pools = Pools {
        pending: Arc::new(Semaphore::new(limits.max_pending)),
        serving: Arc::new(Semaphore::new(limits.max_connections)),
        streams: Arc::new(Semaphore::new(limits.max_streams)),
    };
    let hosts = Arc::new(hosts);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, or a connection reset before it
                // was accepted: breathe, then go on.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = pools.pending.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let router = router.clone();
        let (pools, hosts) = (pools.clone(), hosts.clone());
        tokio::spawn(async move {
            let held = Arc::new(Mutex::new(Some(permit)));
            connection(stream, router, limits, pools, hosts, held.clone()).await;
            drop(held);
        });
    }
}

/// The permit a connection holds: for its head while it comes, then for
/// its request, or for its event stream.
type Held = Arc<Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>;

/// One connection: one request, its answer, then the connection closes.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    pools: Pools,
    hosts: Arc<Hosts>,
    held: Held,
) {
    let _ = stream.set_nodelay(true);
    let begun = Arc::new(AtomicBool::new(false));
    let inner = TowerToHyperService::new(router);
    let service = {
        let begun = begun.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            begun.store(true, Ordering::SeqCst);
            let (inner, pools, hosts, held) =
                (inner.clone(), pools.clone(), hosts.clone(), held.clone());
            async move {
                let hold = |permit| *held.lock().unwrap_or_else(|e| e.into_inner()) = permit;
                // The head came: its pending slot goes back.
                hold(None);
                if let Some(status) = misdirected(&request, &hosts) {
                    return Ok(plain(status));
                }
                let Ok(serving) = pools.serving.clone().try_acquire_owned() else {
                    return Ok(plain(StatusCode::SERVICE_UNAVAILABLE));
                };
                hold(Some(serving));
                if !acceptable_body(&request, limits.max_body) {
                    return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE));
                }
                let Ok(response) = hyper::service::Service::call(&inner, request).await;
                if is_stream(&response) {
                    // A stream lasts: it leaves the requests' pool for its own.
                    hold(None);
                    match pools.streams.clone().try_acquire_owned() {
                        Ok(stream) => hold(Some(stream)),
                        Err(_) => return Ok(plain(StatusCode::SERVICE_UNAVAILABLE)),
                    }
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    };
    let io = TokioIo::new(Guarded::new(stream, limits.write_timeout));
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        // A client may close its sending side once its request is sent:
        // it still waits for the answer, which hyper would otherwise drop
        // when it reads that end before the answer is ready.
        .half_close(true)
        .max_header_size(limits.max_head)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let deadline = tokio::time::sleep(limits.request_timeout);
    tokio::select! {
        _ = &mut connection => return,
        () = deadline => {}
    }
    // The request arrived in time: its answer may take as long as it
    // needs (an event stream lasts), as long as the client reads it.
    if begun.load(Ordering::SeqCst) {
        let _ = connection.await;
    }
}

/// Whether an answer is an event stream.
fn is_stream(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|kind| kind.starts_with("text/event-stream"))
}

/// A body the routes can take: none, or a small one of known length.
fn acceptable_body(request: &Request<Incoming>, max_body: u64) -> bool {
    let headers = request.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return false;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .is_some_and(|length| length <= max_body)
        })
        .unwrap_or(true)
}

/// A status's reason phrase, as RFC 9110 words it.
fn reason(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Content Too Large",
        other => other.canonical_reason().unwrap_or("Error"),
    }
}

/// A short plain-text answer.
pub fn plain(status: StatusCode) -> Response<Body> {
    let reason = reason(status);
    let mut response = Response::new(Body::from(format!("{} {reason}", status.as_u16())));
    *response.status_mut() = status;
    response
        .extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The answer to a connection over the limit: 503, sent within a second
/// or not at all, without reading the request.
async fn refuse(mut stream: TcpStream) {
    const ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\nConnection: close\r\n\r\n503 Service Unavailable";
    let sent = tokio::time::timeout(Duration::from_secs(1), stream.write_all(ANSWER)).await;
    if matches!(sent, Ok(Ok(()))) {
        linger(stream).await;
    }
}

/// How long a closed connection lingers, and how much it reads meanwhile.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;

/// Closes the sending side, then reads and drops what the client still
/// sends, for [`LINGER`] at most: closing a socket with unread data resets
/// the connection, and the client may lose the answer.
async fn linger(mut stream: TcpStream) {
    let _ = tokio::time::timeout(LINGER, async {
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 8192];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => drained += read,
            }
        }
    })
    .await;
}

/// A connection as hyper sees it: its writes fail once they stall for a
/// while (a client that stops reading does not hold its connection
/// forever), and once dropped it [`linger`]s.
struct Guarded {
    stream: Option<TcpStream>,
    limit: Duration,
    stall: Option<Pin<Box<Sleep>>>,
}

impl Guarded {
    fn new(stream: TcpStream, limit: Duration) -> Self {
        Guarded {
            stream: Some(stream),
            limit,
            stall: None,
        }
    }

    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.stream
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// The write is pending: fails once it has been for `limit`.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(
        &mut self,
        outcome: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match outcome {
            Poll::Ready(outcome) => {
                self.stall = None;
                Poll::Ready(outcome)
            }
            Poll::Pending => self.stalled(cx),
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let (Some(stream), Ok(runtime)) =
            (self.stream.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(linger(stream));
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_read(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = match this.stream() {
            Ok(stream) => stream.poll_write(cx, buf),
            Err(error) => return Poll::Ready(Err(error)),
        };
        this.progressed(outcome, cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = match this.stream() {
            Ok(stream) => stream.poll_flush(cx),
            Err(error) => return Poll::Ready(Err(error)),
        };
        this.progressed(outcome, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = match this.stream() {
            Ok(stream) => stream.poll_shutdown(cx),
            Err(error) => return Poll::Ready(Err(error)),
        };
        this.progressed(outcome, cx)
    }
}

/// A server on a local port, run by a thread with its own runtime, for the
/// tests; it stops when dropped.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::{Read as _, Write as _};
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::{Hosts, Limits, Router, serve};

    pub struct Running {
        pub address: SocketAddr,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    pub fn start(router: Router, limits: Limits) -> Running {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    () = serve(listener, router, limits, Hosts::new(address.ip(), &[])) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        Running {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    /// A connection whose reads give up after 20 seconds, so that a test
    /// never hangs.
    pub fn connect(address: SocketAddr) -> std::net::TcpStream {
        let stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }

    /// Sends raw bytes; returns the status and the whole answer.
    pub fn raw(address: SocketAddr, request: &[u8]) -> (u16, String) {
        let mut stream = connect(address);
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        // The server closes the connection after its answer; a reset after
        // it is no matter.
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(read) => answer.extend_from_slice(&chunk[..read]),
            }
        }
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, answer)
    }

    pub fn get(address: SocketAddr, path: &str) -> (u16, String) {
        raw(
            address,
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use axum::routing::get;

    use super::testing::{connect, raw, start};
    use super::*;

    fn hello() -> Router {
        Router::new().route("/", get(|| async { "bonjour" }))
    }

    #[test]
    fn the_limits_are_those_documented() {
        let limits = Limits::default();
        assert_eq!(limits.max_head, 16 * 1024);
        assert_eq!(limits.max_body, 16 * 1024);
        assert_eq!(limits.request_timeout, Duration::from_secs(10));
        assert_eq!(limits.write_timeout, Duration::from_secs(30));
        assert_eq!(limits.max_connections, 64);
    }

    #[test]
    fn a_head_over_sixteen_kibibytes_is_refused_with_431() {
        let server = start(hello(), Limits::default());
        // Sent whole, far past the limit: the answer still reaches the
        // client (the connection lingers rather than resets).
        let long = format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nX-Long: {}\r\n\r\n",
            "a".repeat(300 * 1024)
        );
        let (status, answer) = raw(server.address, long.as_bytes());
        assert_eq!(status, 431);
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
            "{answer}"
        );
        // Just under the limit passes.
        let fits = format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nX-Long: {}\r\n\r\n",
            "a".repeat(MAX_HEAD - 100)
        );
        assert_eq!(raw(server.address, fits.as_bytes()).0, 200);
    }

    #[test]
    fn a_client_that_closes_its_sending_side_still_gets_its_answer() {
        // The answer takes a while: the end of the request is read first.
        let slow = Router::new().route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                "bonjour"
            }),
        );
        let server = start(slow, Limits::default());
        let mut stream = connect(server.address);
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
        assert!(answer.ends_with("bonjour"), "{answer:?}");
    }

    #[test]
    fn a_large_or_unbounded_body_is_refused_with_413() {
        let server = start(hello(), Limits::default());
        let huge = format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}",
            300 << 20,
            "a".repeat(200 * 1024)
        );
        let (status, answer) = raw(server.address, huge.as_bytes());
        assert_eq!(status, 413);
        assert!(
            answer.starts_with("HTTP/1.1 413 Content Too Large"),
            "{answer}"
        );
        let chunked = b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(raw(server.address, chunked).0, 413);
        let small = b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
        let (status, answer) = raw(server.address, small);
        assert_eq!(status, 200);
        assert!(answer.ends_with("bonjour"), "{answer}");
    }

    #[test]
    fn a_client_that_sends_nothing_is_dropped_once_its_time_is_spent() {
        let limits = Limits {
            request_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let server = start(hello(), limits);
        let mut silent = connect(server.address);
        silent.write_all(b"GET / HT").unwrap();
        // The server closes it: the read ends rather than waiting for the
        // test's own 20-second guard.
        let mut sink = [0u8; 64];
        assert!(matches!(silent.read(&mut sink), Ok(0) | Err(_)));
    }

    #[test]
    fn a_client_that_stops_reading_gives_its_connection_back() {
        let limits = Limits {
            max_connections: 1,
            write_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let big = Router::new().route("/", get(|| async { vec![b'a'; 32 << 20] }));
        let server = start(big, limits);
        // Asks for 32 MiB and reads none of it: the answer's writing stalls.
        let mut stuck = connect(server.address);
        stuck
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        // Once the stall is over, the only connection is free again; until
        // then the others get 503.
        let mut status = 0;
        for _ in 0..200 {
            status = super::testing::raw(
                server.address,
                b"GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n",
            )
            .0;
            if status == 404 {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        assert_eq!(status, 404);
        drop(stuck);
    }

    #[test]
    fn past_the_request_limit_a_client_gets_503_and_the_others_go_on() {
        let limits = Limits {
            max_connections: 2,
            ..Limits::default()
        };
        let slow = Router::new().route("/", get(|| async { "bonjour" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "lent"
            }),
        );
        let server = start(slow, limits);
        let address = server.address;
        let slow: Vec<_> = (0..2)
            .map(|_| std::thread::spawn(move || super::testing::get(address, "/slow").0))
            .collect();
        // The two slow requests are counted once their heads arrive: try
        // until the third is refused.
        let mut status = 0;
        for _ in 0..100 {
            status = super::testing::get(server.address, "/").0;
            if status == 503 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(status, 503);
        for answer in slow {
            assert_eq!(answer.join().unwrap(), 200);
        }
        assert_eq!(super::testing::get(server.address, "/").0, 200);
    }

    #[test]
    fn clients_still_sending_their_head_take_no_request_slot() {
        let limits = Limits {
            max_connections: 2,
            ..Limits::default()
        };
        let server = start(hello(), limits);
        let held: Vec<_> = (0..20)
            .map(|_| {
                let mut stream = connect(server.address);
                stream.write_all(b"GET / HTTP/1.1\r\n").unwrap();
                stream
            })
            .collect();
        assert_eq!(super::testing::get(server.address, "/").0, 200);
        drop(held);
    }

    #[test]
    fn only_its_own_host_names_are_served() {
        let server = start(hello(), Limits::default());
        let port = server.address.port();
        for host in [
            "localhost".to_owned(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            "[::1]".to_owned(),
            format!("[::1]:{port}"),
            "LOCALHOST".to_owned(),
        ] {
            let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(raw(server.address, request.as_bytes()).0, 200, "{host}");
        }
        for host in [
            "evil.example".to_owned(),
            format!("evil.example:{port}"),
            "localhost.evil.example".to_owned(),
            "10.0.0.1".to_owned(),
            String::new(),
        ] {
            let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let (status, answer) = raw(server.address, request.as_bytes());
            assert_eq!(status, 421, "{host}: {answer}");
        }
        assert_eq!(raw(server.address, b"GET / HTTP/1.0\r\n\r\n").0, 421);
        let hosts = Hosts::new(
            "192.168.1.20".parse().unwrap(),
            &["Cpts-Serveur.local".into()],
        );
        assert!(hosts.accepts("192.168.1.20:8000"));
        assert!(hosts.accepts("cpts-serveur.local:8000"));
        assert!(!hosts.accepts("192.168.1.21"));
        assert!(!hosts.accepts("attaquant.example"));
        let everywhere = Hosts::new("0.0.0.0".parse().unwrap(), &[]);
        assert!(everywhere.accepts("192.168.1.21:8000"));
        assert!(!everywhere.accepts("rebinding.example:8000"));
    }

    #[test]
    fn cross_site_requests_are_refused_and_no_answer_allows_them() {
        let server = start(hello(), Limits::default());
        let port = server.address.port();
        let ask = |headers: &str| {
            raw(
                server.address,
                format!("GET / HTTP/1.1\r\nHost: localhost:{port}\r\n{headers}\r\n").as_bytes(),
            )
        };
        assert_eq!(ask("Origin: http://evil.example\r\n").0, 403);
        assert_eq!(ask("Origin: null\r\n").0, 403);
        assert_eq!(
            ask("Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: cors\r\n").0,
            403
        );
        assert_eq!(
            ask("Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\n").0,
            403
        );
        // A person following a link to the page opens it.
        assert_eq!(
            ask("Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n").0,
            200
        );
        let (status, answer) = ask(&format!(
            "Origin: http://localhost:{port}\r\nSec-Fetch-Site: same-origin\r\n"
        ));
        assert_eq!(status, 200);
        assert!(
            !answer.to_ascii_lowercase().contains("access-control-"),
            "{answer}"
        );
    }
}

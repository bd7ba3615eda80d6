//! The network edge: the secrets it masks in every answer ([`secret`]),
//! the one HTTP client, the small runtime that lets the
//! synchronous publishing code use it, the stop that SIGTERM and SIGINT ask
//! for, and the HTTP server of the preview and the daemon ([`server`]).
//!
//! One `reqwest` client serves Buffer, Mastodon, Bluesky, the S3 store and
//! the check of public
//! image URLs. It is built once, with a connect timeout, a total timeout and
//! a `crieur/<version>` User-Agent; a caller may give one request a shorter
//! limit (Buffer's `timeout`). Its connections live on one current-thread
//! tokio runtime, driven by a thread of its own, so that a synchronous
//! caller (the `Publisher` trait, the executor) runs a request with
//! [`block_on`] from any thread, and the connection pool is shared between
//! calls. The commands that make no request (`check`, `plan`, `render`,
//! `status`) never start it.

pub mod secret;
pub mod server;

pub use secret::Secret;

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::Notify;

/// The longest wait to connect to a server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a request may take, connection to the end of the answer,
/// unless the caller gives a shorter limit.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Once a stop is asked, how long a request in flight may still take to
/// answer before it is abandoned (its outcome then unclear, and recorded as
/// such); it keeps the daemon's stop within 10 seconds.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What every request says it is.
pub fn user_agent() -> String {
    format!("crieur/{}", env!("CARGO_PKG_VERSION"))
}

/// The HTTP client, built on first use.
pub fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(user_agent())
            .build()
            // Only a TLS back end that fails to load could make this fail,
            // and rustls with its built-in roots always loads.
            .expect("the HTTP client builds")
    })
}

/// The runtime of the client's connections: one thread drives it for the
/// life of the process.
fn runtime() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("crieur-net".into())
            .spawn(move || drive(runtime))
            .expect("a thread starts");
        handle
    })
}

fn drive(runtime: Runtime) {
    runtime.block_on(std::future::pending::<()>());
}

/// Runs a future on the client's runtime and waits for its outcome. Not for
/// use from async code (the daemon and the preview have runtimes of their
/// own and make no request).
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

static STOP: AtomicBool = AtomicBool::new(false);
static STOPPED: Notify = Notify::const_new();

/// Whether a stop was asked (SIGTERM, SIGINT, or [`ask_stop`]).
pub fn stop_flag() -> &'static AtomicBool {
    &STOP
}

pub fn stopping() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Asks the calls in flight to end within [`STOP_GRACE`], and the callers
/// to start no new one.
pub fn ask_stop() {
    STOP.store(true, Ordering::SeqCst);
    STOPPED.notify_waiters();
}

/// Turns SIGTERM and SIGINT into a stop asked, for the rest of the
/// process's life: the pass finishes the call in flight, records it, and
/// ends. The handlers are in place when this returns.
pub fn stop_on_signals() -> std::io::Result<()> {
    let (ready, registered) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        match Signals::new() {
            Ok(mut signals) => {
                let _ = ready.send(Ok(()));
                signals.recv().await;
                ask_stop();
            }
            Err(error) => {
                let _ = ready.send(Err(error));
            }
        }
    });
    registered
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("signaux SIGTERM et SIGINT")))
}

/// SIGTERM and SIGINT (Ctrl-C), whichever comes first.
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers; must run within a tokio runtime.
    pub fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the next signal; returns its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Waits `duration` (a retry's backoff, a wait a server asked for, an
/// image being processed), unless a stop is asked first: then returns
/// `false` at once, so that every wait inside a pass ends on SIGTERM.
pub fn pause(duration: Duration) -> bool {
    block_on(async {
        let notified = STOPPED.notified();
        if stopping() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = notified => false,
        }
    })
}

/// A request in flight once a stop was asked and [`STOP_GRACE`] went by.
#[derive(Debug)]
pub struct Abandoned;

/// Runs `future` to its end, unless a stop is asked and it is still running
/// [`STOP_GRACE`] later.
pub async fn unless_stopped<F: Future>(future: F) -> Result<F::Output, Abandoned> {
    let stopped = async {
        let notified = STOPPED.notified();
        if !stopping() {
            notified.await;
        }
        tokio::time::sleep(STOP_GRACE).await;
    };
    tokio::select! {
        output = future => Ok(output),
        () = stopped => Err(Abandoned),
    }
}

/// One request sent and its whole answer read, as the publishers need it.
#[derive(Debug)]
pub struct Exchange {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why an exchange has no answer to read.
#[derive(Debug)]
pub enum Failed {
    /// The request could not be sent, or no answer came.
    Send(reqwest::Error),
    /// The answer's body could not be read whole.
    Body(BodyError),
    /// A stop was asked and the call outlived its grace.
    Abandoned,
}

/// Sends `call` and reads its answer (status, headers, a body of at most
/// `limit` bytes), on the one runtime, giving up when a stop outlives its
/// grace.
pub fn exchange(call: reqwest::RequestBuilder, limit: usize) -> Result<Exchange, Failed> {
    let exchange = async move {
        let mut response = call.send().await.map_err(Failed::Send)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    secret::redact(value.to_str().unwrap_or_default()).into_owned(),
                )
            })
            .collect();
        let body = read_body(&mut response, limit)
            .await
            .map_err(Failed::Body)?;
        // A server that repeats a credential gives it to nobody.
        Ok(Exchange {
            status,
            headers,
            body: secret::redact_bytes(body),
        })
    };
    block_on(unless_stopped(exchange)).unwrap_or(Err(Failed::Abandoned))
}

/// Reads a whole answer's body, at most `limit` bytes; a longer one is an
/// error that says so.
pub async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLong(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("{0}")]
    Read(reqwest::Error),
    #[error("réponse de plus de {0} octets")]
    TooLong(usize),
}

/// An error's message with its causes, as reqwest's own says little
/// ("error sending request").
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(" : ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    secret::redact(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_itself_with_its_version() {
        assert_eq!(
            user_agent(),
            format!("crieur/{}", env!("CARGO_PKG_VERSION"))
        );
        // Built once: every caller shares its connections.
        assert!(std::ptr::eq(client(), client()));
    }

    #[test]
    fn a_pause_runs_its_length_when_no_stop_is_asked() {
        let start = std::time::Instant::now();
        assert!(pause(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_call_runs_to_its_end_when_no_stop_is_asked() {
        let value = block_on(unless_stopped(async { 7 }));
        assert_eq!(value.ok(), Some(7));
    }
}

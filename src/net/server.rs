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
//! - At most [`MAX_CONNECTIONS`] connections are served at once; past them
//!   a connection is answered 503 and closed.
//!
//! Each connection is a task: any number of clients are served at once, a
//! long-lived stream (the preview's Server-Sent Events) holds no one up.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The most connections served at once; past it, 503.
pub const MAX_CONNECTIONS: usize = 64;

/// The limits a server holds to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head: usize,
    pub max_body: u64,
    pub request_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: MAX_HEAD,
            max_body: MAX_BODY,
            request_timeout: REQUEST_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
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
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            connection(stream, router, limits).await;
            drop(permit);
        });
    }
}

/// One connection: one request, its answer, then the connection closes.
async fn connection(stream: TcpStream, router: Router, limits: Limits) {
    let _ = stream.set_nodelay(true);
    let begun = Arc::new(AtomicBool::new(false));
    let inner = TowerToHyperService::new(router);
    let service = {
        let begun = begun.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            begun.store(true, Ordering::SeqCst);
            let inner = inner.clone();
            async move {
                if !acceptable_body(&request, limits.max_body) {
                    return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE));
                }
                hyper::service::Service::call(&inner, request).await
            }
        })
    };
    let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
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

/// A short plain-text answer that closes the connection.
pub fn plain(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::from(format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    )));
    *response.status_mut() = status;
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
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(ANSWER).await?;
        stream.shutdown().await
    })
    .await;
}

/// A stream whose writes fail once they stall for a while: a client that
/// stops reading does not hold its connection forever.
struct WriteDeadline<S> {
    stream: S,
    limit: Duration,
    stall: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(stream: S, limit: Duration) -> Self {
        WriteDeadline {
            stream,
            limit,
            stall: None,
        }
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

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progressed(outcome, cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.stream).poll_flush(cx);
        this.progressed(outcome, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.progressed(outcome, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_are_those_documented() {
        let limits = Limits::default();
        assert_eq!(limits.max_head, 16 * 1024);
        assert_eq!(limits.max_body, 16 * 1024);
        assert_eq!(limits.request_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_connections, 64);
    }
}

//! Test servers: an axum app on a local port, served by a thread with its
//! own runtime.

use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

/// An axum app served on `127.0.0.1` by a thread with its own
/// current-thread runtime, until dropped: the drop stops the server and
/// waits for its thread.
pub struct Server {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `app` on a free local port.
    pub fn start(app: axum::Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
            // Answers still being made (a slow one) are dropped.
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        Server {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Where the server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.thread.take() {
            let _ = handle.join();
        }
    }
}

/// A local port free now, for a server another process opens (crieur's
/// preview or health address, a WebDriver, an S3 server).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a local port")
        .local_addr()
        .unwrap()
        .port()
}

//! `WebhookSink`, a local webhook that keeps the JSON bodies posted to it,
//! and can be told to answer as a service that is down.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::response::IntoResponse as _;

use crate::{Incoming, Server};

/// A local webhook at `/hook`, stopped when dropped.
pub struct WebhookSink {
    server: Server,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    status: Arc<AtomicU16>,
}

impl WebhookSink {
    pub fn start() -> WebhookSink {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (kept, answer) = (bodies.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |request: axum::extract::Request| {
                let (kept, answer) = (kept.clone(), answer.clone());
                async move {
                    let incoming = Incoming::read(request).await;
                    let status = answer.load(Ordering::SeqCst);
                    if status == 200 {
                        let body = serde_json::from_slice(&incoming.body)
                            .unwrap_or(serde_json::Value::Null);
                        kept.lock().unwrap().push(body);
                    }
                    let status = axum::http::StatusCode::from_u16(status)
                        .unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                    (status, "ok").into_response()
                }
            }),
        );
        WebhookSink {
            server: Server::start(app),
            bodies,
            status,
        }
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.server.address())
    }

    /// Every JSON body received while up.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Answers 503 (and keeps nothing) while down.
    pub fn set_down(&self, down: bool) {
        self.status
            .store(if down { 503 } else { 200 }, Ordering::SeqCst);
    }
}

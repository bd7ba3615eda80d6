//! A local Mastodon that keeps to the API crieur uses: media processed
//! after a first look (202, then 206, then the URL), `Idempotency-Key`
//! remembered, `scheduled_at` at least five minutes ahead, scheduled
//! statuses read and deleted, rate limits with an ISO 8601 reset.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

pub const TOKEN: &str = "jeton-de-test";

/// The instance's clock: the wall clock moved by the offset a test sets,
/// so that the instance and crieur (moved by `CRIEUR_NOW`) read the same
/// instants.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    // A fake's own clock, set by the tests beside `CRIEUR_NOW`.
    #[allow(clippy::disallowed_methods)]
    fn wall() -> DateTime<Utc> {
        Utc::now()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Self::wall() + self.offset
    }

    /// Moves the clock so that it reads `at` now.
    pub fn set(&mut self, at: DateTime<Utc>) {
        self.offset = at - Self::wall();
    }
}

#[derive(Debug, Clone, Default)]
pub struct Media {
    pub description: String,
    pub looked_at: usize,
}

#[derive(Debug, Clone)]
pub struct Scheduled {
    pub id: String,
    pub at: String,
    pub text: String,
    pub media: Vec<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub media: BTreeMap<String, Media>,
    pub scheduled: Vec<Scheduled>,
    pub published: Vec<(String, String, DateTime<Utc>)>,
    /// Answers by idempotency key.
    pub keys: BTreeMap<String, (u16, Value)>,
    /// Creates whose answer is lost (a 502 after the status was made).
    pub lose_next_answers: usize,
    pub limited_until: Option<DateTime<Utc>>,
    pub status_calls: usize,
    /// How long each answer takes once the call is done (so that a
    /// client killed meanwhile never reads it).
    pub latency: std::time::Duration,
    pub clock: Clock,
    next: u64,
}

pub struct FakeMastodon {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeMastodon {
    pub fn start() -> FakeMastodon {
        let state = Arc::new(Mutex::new(State::default()));
        let app = {
            let state = state.clone();
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let state = state.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = axum::body::to_bytes(body, 16 << 20)
                        .await
                        .unwrap_or_default();
                    let header = |name: &str| {
                        parts
                            .headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let call = Call {
                        method: parts.method.as_str().to_owned(),
                        path: parts.uri.path().to_owned(),
                        authorization: header("authorization"),
                        key: header("idempotency-key"),
                        body: body.to_vec(),
                    };
                    let (status, headers, value, latency) = {
                        let mut state = state.lock().unwrap();
                        let (status, headers, value) = handle(&call, &mut state);
                        (status, headers, value, state.latency)
                    };
                    tokio::time::sleep(latency).await;
                    let mut response = Response::builder().status(status);
                    for (name, value) in headers {
                        response = response.header(name, value);
                    }
                    response
                        .header("content-type", "application/json")
                        .body(Body::from(value.to_string()))
                        .unwrap()
                }
            })
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeMastodon {
            url: format!("http://{address}"),
            state,
        }
    }

    pub fn with<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.state.lock().unwrap())
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

struct Call {
    method: String,
    path: String,
    authorization: Option<String>,
    key: Option<String>,
    body: Vec<u8>,
}

type Answer = (u16, Vec<(&'static str, String)>, Value);

fn error(status: u16, message: &str) -> Answer {
    (status, Vec::new(), json!({ "error": message }))
}

fn handle(call: &Call, state: &mut State) -> Answer {
    if call.authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return error(401, "The access token is invalid");
    }
    if let Some(until) = state.limited_until {
        let reset = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        return (
            429,
            vec![
                ("x-ratelimit-limit", "300".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", reset),
            ],
            json!({ "error": "Too many requests" }),
        );
    }
    state.next += 1;
    let fresh = state.next.to_string();
    let segments: Vec<&str> = call.path.trim_matches('/').split('/').collect();
    match (call.method.as_str(), segments.as_slice()) {
        ("POST", ["api", "v2", "media"]) => {
            let body = String::from_utf8_lossy(&call.body);
            let description = body
                .split("name=\"description\"\r\n\r\n")
                .nth(1)
                .and_then(|rest| rest.split("\r\n--").next())
                .unwrap_or_default()
                .to_owned();
            if !body.contains("name=\"file\"") {
                return error(422, "Validation failed: File can't be blank");
            }
            state.media.insert(
                fresh.clone(),
                Media {
                    description,
                    looked_at: 0,
                },
            );
            (202, Vec::new(), json!({ "id": fresh, "url": null }))
        }
        ("GET", ["api", "v1", "media", id]) => match state.media.get_mut(*id) {
            None => error(404, "Record not found"),
            Some(media) => {
                media.looked_at += 1;
                if media.looked_at < 2 {
                    (206, Vec::new(), json!({ "id": id, "url": null }))
                } else {
                    let url = format!("https://files.example/{id}.png");
                    (200, Vec::new(), json!({ "id": id, "url": url }))
                }
            }
        },
        ("POST", ["api", "v1", "statuses"]) => create(call, state, fresh),
        ("GET", ["api", "v1", "accounts", "verify_credentials"]) => (
            200,
            Vec::new(),
            json!({ "id": "1", "acct": "cpts", "username": "cpts" }),
        ),
        ("GET", ["api", "v1", "scheduled_statuses"]) => {
            let all: Vec<Value> = state.scheduled.iter().map(scheduled_json).collect();
            (200, Vec::new(), json!(all))
        }
        ("GET", ["api", "v1", "scheduled_statuses", id]) => {
            match state.scheduled.iter().find(|s| s.id == *id) {
                Some(found) => (200, Vec::new(), scheduled_json(found)),
                None => error(404, "Record not found"),
            }
        }
        ("DELETE", ["api", "v1", "scheduled_statuses", id]) => {
            let before = state.scheduled.len();
            state.scheduled.retain(|s| s.id != *id);
            if state.scheduled.len() == before {
                error(404, "Record not found")
            } else {
                (200, Vec::new(), json!({}))
            }
        }
        ("GET", ["api", "v1", "statuses", id]) => {
            match state.published.iter().find(|(pid, _, _)| pid == id) {
                Some((id, text, at)) => (200, Vec::new(), status_json(id, text, *at)),
                None => error(404, "Record not found"),
            }
        }
        _ => error(404, "Not found"),
    }
}

fn scheduled_json(scheduled: &Scheduled) -> Value {
    json!({
        "id": scheduled.id,
        "scheduled_at": scheduled.at,
        "params": { "text": scheduled.text, "media_ids": scheduled.media },
        "media_attachments": [],
    })
}

fn status_json(id: &str, text: &str, at: DateTime<Utc>) -> Value {
    json!({
        "id": id,
        "created_at": at.to_rfc3339(),
        "content": format!("<p>{text}</p>"),
        "url": format!("https://piaille.example/@cpts/{id}"),
        "scheduled_at": null,
    })
}

fn create(call: &Call, state: &mut State, fresh: String) -> Answer {
    state.status_calls += 1;
    if let Some(key) = &call.key
        && let Some((status, value)) = state.keys.get(key)
    {
        return (*status, Vec::new(), value.clone());
    }
    let Ok(body) = serde_json::from_slice::<Value>(&call.body) else {
        return error(400, "bad json");
    };
    let text = body["status"].as_str().unwrap_or_default().to_owned();
    let media: Vec<String> = body["media_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for id in &media {
        if state.media.get(id).is_none_or(|m| m.looked_at < 2) {
            return error(422, "Validation failed: media not processed yet");
        }
    }
    let answer = match body["scheduled_at"].as_str() {
        Some(at) => {
            let Ok(when) = DateTime::parse_from_rfc3339(at) else {
                return error(422, "Validation failed: scheduled_at invalid");
            };
            if when.with_timezone(&Utc) < state.clock.now() + Duration::minutes(5) {
                return error(
                    422,
                    "Validation failed: Scheduled at The scheduled date must be in the future",
                );
            }
            let scheduled = Scheduled {
                id: fresh,
                at: at.to_owned(),
                text,
                media,
            };
            let value = scheduled_json(&scheduled);
            state.scheduled.push(scheduled);
            value
        }
        None => {
            let now = state.clock.now();
            state.published.push((fresh.clone(), text.clone(), now));
            status_json(&fresh, &text, now)
        }
    };
    if let Some(key) = &call.key {
        state.keys.insert(key.clone(), (200, answer.clone()));
    }
    if state.lose_next_answers > 0 {
        state.lose_next_answers -= 1;
        return error(502, "Bad gateway");
    }
    (200, Vec::new(), answer)
}

//! A local PDS that keeps to the XRPC calls crieur makes: sessions that
//! expire and refresh, blobs of at most 1,000,000 bytes, records under a
//! key the client chooses (a second create under the same key refused),
//! `getRecord` and `deleteRecord`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Response;
use serde_json::{Value, json};

use crate::{Incoming, Server};

pub const HANDLE: &str = "cpts-test.bsky.social";
pub const PASSWORD: &str = "abcd-efgh-ijkl-mnop";
pub const DID: &str = "did:plc:cptstest";

#[derive(Debug, Clone)]
pub struct Blob {
    pub mime: String,
    pub size: usize,
}

#[derive(Debug, Default)]
pub struct State {
    pub records: BTreeMap<String, Value>,
    pub blobs: Vec<Blob>,
    pub creates: usize,
    pub refreshes: usize,
    /// The next call with the session answers `ExpiredToken`.
    pub expire_next: bool,
    /// Creates whose answer is lost (a 502 after the record was made).
    pub lose_next_answers: usize,
    /// How long each answer takes once the call is done (so that a
    /// client killed meanwhile never reads it).
    pub latency: std::time::Duration,
    /// createSession answers 403 quoting the password it was sent.
    pub echo_password: bool,
    /// Calls with a session answer 403 quoting the token they carried.
    pub echo_session: bool,
    /// Figures set for a record key (likes, reposts, replies, quotes), in
    /// place of [`FIGURES`].
    pub figures: BTreeMap<String, [u64; 4]>,
    /// `app.bsky.feed.getPosts` answers 502, as an AppView down does.
    pub failing_reads: bool,
    /// `getPosts` requests received, each with its number of URIs.
    pub get_posts: Vec<usize>,
    /// The session's tokens, unique to this process (the mask of secrets
    /// is the process's: two fakes must not give the same one).
    pub access: String,
    refresh: String,
}

pub struct FakePds {
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: Server,
}

/// The figures a post has until a test sets others (likes, reposts,
/// replies, quotes): fixed, so that totals are known.
pub const FIGURES: [u64; 4] = [7, 2, 1, 1];

/// URIs `app.bsky.feed.getPosts` takes at once.
pub const POSTS_AT_ONCE: usize = 25;

struct Call {
    method: String,
    nsid: String,
    query: BTreeMap<String, String>,
    /// The query as sent: `getPosts` repeats `uris`.
    raw_query: String,
    bearer: Option<String>,
    content_type: String,
    body: Vec<u8>,
}

type Answer = (u16, Value);

impl FakePds {
    pub fn start() -> FakePds {
        let state = Arc::new(Mutex::new(State::default()));
        let app = {
            let state = state.clone();
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let state = state.clone();
                async move {
                    let request = Incoming::read(request).await;
                    let query = request
                        .query
                        .split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    let call = Call {
                        raw_query: request.query.clone(),
                        nsid: request.path.trim_start_matches("/xrpc/").to_owned(),
                        query,
                        bearer: request
                            .header("authorization")
                            .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned)),
                        content_type: request.header("content-type").unwrap_or_default(),
                        method: request.method,
                        body: request.body,
                    };
                    let (status, value, latency) = {
                        let mut state = state.lock().unwrap();
                        let (status, value) = handle(&call, &mut state);
                        (status, value, state.latency)
                    };
                    tokio::time::sleep(latency).await;
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(value.to_string()))
                        .unwrap()
                }
            })
        };
        let server = Server::start(app);
        FakePds {
            url: format!("http://{}", server.address()),
            state,
            _server: server,
        }
    }

    pub fn with<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.state.lock().unwrap())
    }
}

fn error(status: u16, name: &str, message: &str) -> Answer {
    (status, json!({ "error": name, "message": message }))
}

fn session(state: &mut State) -> Answer {
    static SESSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let number = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    state.access = format!("access-{number:08}");
    state.refresh = format!("refresh-{number:08}");
    (
        200,
        json!({ "accessJwt": state.access, "refreshJwt": state.refresh, "did": DID, "handle": HANDLE }),
    )
}

fn handle(call: &Call, state: &mut State) -> Answer {
    let json: Value = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
    match call.nsid.as_str() {
        "com.atproto.server.createSession" => {
            if state.echo_password {
                let password = json["password"].as_str().unwrap_or_default();
                return error(
                    403,
                    "Forbidden",
                    &format!("login refused for password {password:?}"),
                );
            }
            if json["identifier"] == HANDLE && json["password"] == PASSWORD {
                session(state)
            } else {
                error(
                    401,
                    "AuthenticationRequired",
                    "Invalid identifier or password",
                )
            }
        }
        "com.atproto.server.refreshSession" => {
            if call.bearer.as_deref() == Some(state.refresh.as_str()) {
                state.refreshes += 1;
                session(state)
            } else {
                error(400, "ExpiredToken", "Token has expired")
            }
        }
        _ if call.bearer.as_deref() != Some(state.access.as_str()) || state.access.is_empty() => {
            error(401, "AuthenticationRequired", "Authentication Required")
        }
        _ if state.echo_session => error(
            403,
            "Forbidden",
            &format!(
                "session refused: Bearer {}",
                call.bearer.clone().unwrap_or_default()
            ),
        ),
        _ if state.expire_next => {
            state.expire_next = false;
            error(400, "ExpiredToken", "Token has expired")
        }
        "com.atproto.repo.uploadBlob" => {
            if call.body.len() > 1_000_000 {
                return error(400, "BlobTooLarge", "This file is too large");
            }
            state.blobs.push(Blob {
                mime: call.content_type.clone(),
                size: call.body.len(),
            });
            let blob = json!({
                "$type": "blob",
                "ref": { "$link": format!("bafkrei{}", state.blobs.len()) },
                "mimeType": call.content_type,
                "size": call.body.len(),
            });
            (200, json!({ "blob": blob }))
        }
        "com.atproto.repo.createRecord" => create(&json, state),
        "com.atproto.repo.getRecord" if call.method == "GET" => {
            let rkey = call.query.get("rkey").cloned().unwrap_or_default();
            match state.records.get(&rkey) {
                Some(value) => (
                    200,
                    json!({ "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": "bafyrei", "value": value }),
                ),
                None => error(400, "RecordNotFound", "Could not locate record"),
            }
        }
        "app.bsky.feed.getPosts" if call.method == "GET" => get_posts(call, state),
        "com.atproto.repo.deleteRecord" => {
            let rkey = json["rkey"].as_str().unwrap_or_default();
            state.records.remove(rkey);
            (200, json!({}))
        }
        _ => error(404, "XRPCNotSupported", "Method Not Implemented"),
    }
}

/// `app.bsky.feed.getPosts`: a `PostView` for each URI whose record
/// exists, in the order asked; at most 25 URIs.
fn get_posts(call: &Call, state: &mut State) -> Answer {
    let uris: Vec<String> = url::form_urlencoded::parse(call.raw_query.as_bytes())
        .filter(|(key, _)| key == "uris")
        .map(|(_, value)| value.into_owned())
        .collect();
    state.get_posts.push(uris.len());
    if state.failing_reads {
        return error(502, "UpstreamFailure", "Bad gateway");
    }
    if uris.len() > POSTS_AT_ONCE {
        return error(
            400,
            "InvalidRequest",
            "uris must not have more than 25 elements",
        );
    }
    let prefix = format!("at://{DID}/app.bsky.feed.post/");
    let posts: Vec<Value> = uris
        .iter()
        .filter_map(|uri| {
            let rkey = uri.strip_prefix(&prefix)?;
            let record = state.records.get(rkey)?;
            let [likes, reposts, replies, quotes] =
                state.figures.get(rkey).copied().unwrap_or(FIGURES);
            Some(json!({
                "uri": uri, "cid": "bafyrei",
                "author": { "did": DID, "handle": HANDLE },
                "record": record,
                "likeCount": likes, "repostCount": reposts,
                "replyCount": replies, "quoteCount": quotes,
                "indexedAt": record["createdAt"],
            }))
        })
        .collect();
    (200, json!({ "posts": posts }))
}

/// A record key as the PDS accepts it.
fn is_tid(rkey: &str) -> bool {
    rkey.len() == 13
        && rkey
            .bytes()
            .all(|b| b"234567abcdefghijklmnopqrstuvwxyz".contains(&b))
}

fn create(json: &Value, state: &mut State) -> Answer {
    state.creates += 1;
    let rkey = json["rkey"].as_str().unwrap_or_default().to_owned();
    if json["repo"] != DID || json["collection"] != "app.bsky.feed.post" {
        return error(400, "InvalidRequest", "bad repo or collection");
    }
    if !is_tid(&rkey) {
        return error(400, "InvalidRequest", "rkey must be a TID");
    }
    if state.records.contains_key(&rkey) {
        return error(400, "InvalidRequest", "Record already exists");
    }
    let text = json["record"]["text"].as_str().unwrap_or_default();
    if text.len() > 3000 {
        return error(
            400,
            "InvalidRequest",
            "Record/text must not be longer than 3000",
        );
    }
    state.records.insert(rkey.clone(), json["record"].clone());
    if state.lose_next_answers > 0 {
        state.lose_next_answers -= 1;
        return error(502, "UpstreamFailure", "Bad gateway");
    }
    (
        200,
        json!({ "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": "bafyrei" }),
    )
}

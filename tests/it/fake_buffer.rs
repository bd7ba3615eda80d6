//! A local stand-in for Buffer's GraphQL API, keeping to its contract.
//!
//! It checks each request as Buffer would: method, headers (the bearer key,
//! JSON, a User-Agent), and the GraphQL document and variables, validated
//! against Buffer's schema (`tests/buffer/schema.graphql`). A request that
//! breaks the contract gets Buffer's `GRAPHQL_VALIDATION_FAILED` answer and
//! is recorded as a violation. It keeps the posts it is given, answers
//! `post` and `posts` queries about them, and plays scripted faults: 429,
//! 500, a timeout after the request arrived, typed errors, 401.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use apollo_compiler::{ExecutableDocument, Schema, validation::Valid};
use serde_json::{Value, json};

pub const TOKEN: &str = "test-token-9c1f3b7e";
pub const ORGANIZATION: &str = "org-cpts";

/// A fault to play on the next request of a kind.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with `extensions.retryAfter`.
    RateLimited { retry_after: u64 },
    /// HTTP 500.
    ServerError,
    /// Do the work, then answer only after `delay` (longer than the
    /// client's timeout).
    SlowAnswer { delay: Duration },
    /// A typed error inside HTTP 200.
    Typed {
        typename: &'static str,
        message: &'static str,
    },
    /// HTTP 401.
    Unauthorized,
}

#[derive(Debug, Clone)]
pub struct StoredPost {
    pub id: String,
    pub channel_id: String,
    pub text: String,
    pub due_at: String,
    pub status: String,
    pub assets: Value,
    /// The network's refusal, for a post in error.
    pub error: Option<String>,
}

#[derive(Default)]
pub struct State {
    pub posts: BTreeMap<String, StoredPost>,
    pub next_id: u64,
    /// Faults by operation name (`CreatePost`...), played in order.
    pub faults: BTreeMap<String, VecDeque<Fault>>,
    /// Every request received: operation name and raw body.
    pub requests: Vec<(String, String)>,
    /// Requests that broke the contract, and why.
    pub violations: Vec<String>,
    /// Added to every answer, to widen the moments a call is in flight.
    pub latency: Duration,
}

pub struct FakeBuffer {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Drop for FakeBuffer {
    fn drop(&mut self) {
        self.server.unblock();
        for _ in 0..self.threads.len() {
            self.server.unblock();
        }
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

fn schema() -> Valid<Schema> {
    let sdl = include_str!("../buffer/schema.graphql");
    Schema::parse_and_validate(sdl, "schema.graphql").expect("Buffer's schema is valid")
}

impl FakeBuffer {
    pub fn start() -> FakeBuffer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a local port"));
        let url = format!("http://{}/", server.server_addr());
        let state = Arc::new(Mutex::new(State::default()));
        let schema = Arc::new(schema());
        // A few workers, so that a slow answer does not hold the others.
        let threads = (0..4)
            .map(|_| {
                let server = server.clone();
                let state = state.clone();
                let schema = schema.clone();
                thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        handle(request, &state, &schema);
                    }
                })
            })
            .collect();
        FakeBuffer {
            url,
            state,
            server,
            threads,
        }
    }

    pub fn fault(&self, operation: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(operation.to_owned())
            .or_default()
            .push_back(fault);
    }

    pub fn posts(&self) -> Vec<StoredPost> {
        self.state.lock().unwrap().posts.values().cloned().collect()
    }

    pub fn requests(&self, operation: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(name, _)| name == operation)
            .count()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// Marks a post as published (or refused by the network), as Buffer
    /// does at its instant.
    pub fn settle(&self, id: &str, error: Option<&str>) {
        if let Some(post) = self.state.lock().unwrap().posts.get_mut(id) {
            post.status = if error.is_some() { "error" } else { "sent" }.into();
            post.error = error.map(str::to_owned);
        }
    }

    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }
}

fn respond(request: tiny_http::Request, status: u16, body: Value) {
    let response = tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(
            "Content-Type: application/json"
                .parse::<tiny_http::Header>()
                .unwrap(),
        );
    let _ = request.respond(response);
}

fn validation_failed(request: tiny_http::Request, state: &Mutex<State>, why: String) {
    state.lock().unwrap().violations.push(why.clone());
    respond(
        request,
        400,
        json!({"errors": [{"message": why, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}),
    );
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>, schema: &Valid<Schema>) {
    let header = |request: &tiny_http::Request, name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_owned())
    };
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);

    if *request.method() != tiny_http::Method::Post {
        return validation_failed(request, state, "method is not POST".into());
    }
    if !matches!(request.url(), "/" | "/graphql") {
        let path = request.url().to_owned();
        return validation_failed(request, state, format!("path {path}"));
    }
    if header(&request, "User-Agent").is_none_or(|agent| agent.trim().is_empty()) {
        // Buffer answers requests without a User-Agent with an HTML 403.
        state
            .lock()
            .unwrap()
            .violations
            .push("no User-Agent".into());
        let _ = request
            .respond(tiny_http::Response::from_string("<html>403</html>").with_status_code(403));
        return;
    }
    if !header(&request, "Content-Type").is_some_and(|kind| kind.starts_with("application/json")) {
        return validation_failed(request, state, "Content-Type is not JSON".into());
    }
    let authorized =
        header(&request, "Authorization").as_deref() == Some(&format!("Bearer {TOKEN}"));

    let Ok(payload) = serde_json::from_str::<Value>(&body) else {
        return validation_failed(request, state, "body is not JSON".into());
    };
    let query = payload["query"].as_str().unwrap_or_default().to_owned();
    let variables = payload.get("variables").cloned().unwrap_or(json!({}));
    let document = match ExecutableDocument::parse_and_validate(schema, &query, "request.graphql") {
        Ok(document) => document,
        Err(errors) => return validation_failed(request, state, format!("{errors}")),
    };
    let Ok(operation) = document.operations.get(None) else {
        return validation_failed(request, state, "not exactly one operation".into());
    };
    let name = operation
        .name
        .as_ref()
        .map(|name| name.to_string())
        .unwrap_or_default();
    let values: apollo_compiler::response::JsonMap =
        match apollo_compiler::response::serde_json_bytes::Value::from(variables.clone()) {
            apollo_compiler::response::serde_json_bytes::Value::Object(map) => map,
            _ => return validation_failed(request, state, "variables are not an object".into()),
        };
    if let Err(error) = apollo_compiler::request::coerce_variable_values(schema, operation, &values)
    {
        return validation_failed(request, state, format!("{name}: {error:?}"));
    }

    let (fault, latency) = {
        let mut state = state.lock().unwrap();
        state.requests.push((name.clone(), body.clone()));
        (
            state.faults.get_mut(&name).and_then(VecDeque::pop_front),
            state.latency,
        )
    };
    thread::sleep(latency);
    if !authorized || matches!(fault, Some(Fault::Unauthorized)) {
        return respond(
            request,
            401,
            json!({"errors": [{"message": "Unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}]}),
        );
    }
    match fault {
        Some(Fault::RateLimited { retry_after }) => {
            return respond(
                request,
                429,
                json!({"errors": [{"message": "Too many requests", "extensions": {"code": "RATE_LIMIT_EXCEEDED", "retryAfter": retry_after}}]}),
            );
        }
        Some(Fault::ServerError) => {
            return respond(
                request,
                500,
                json!({"errors": [{"message": "Internal error", "extensions": {"code": "UNEXPECTED"}}]}),
            );
        }
        Some(Fault::Typed { typename, message }) => {
            let field = field_of(&name);
            return respond(
                request,
                200,
                json!({"data": {field: {"__typename": typename, "message": message}}}),
            );
        }
        _ => {}
    }
    let answer = execute(&name, &variables, state);
    if let Some(Fault::SlowAnswer { delay }) = fault {
        thread::sleep(delay);
    }
    respond(request, 200, answer);
}

fn field_of(operation: &str) -> &'static str {
    match operation {
        "CreatePost" => "createPost",
        "EditPost" => "editPost",
        "DeletePost" => "deletePost",
        _ => "unknown",
    }
}

fn post_json(post: &StoredPost) -> Value {
    json!({
        "id": post.id, "status": post.status, "dueAt": post.due_at, "channelId": post.channel_id,
        "text": post.text, "sentAt": Value::Null,
        "error": post.error.as_ref().map_or(Value::Null, |message| json!({"message": message}))
    })
}

fn execute(name: &str, variables: &Value, state: &Mutex<State>) -> Value {
    let mut state = state.lock().unwrap();
    let input = &variables["input"];
    match name {
        "CreatePost" => {
            if input["text"].as_str().is_none_or(str::is_empty) {
                return json!({"data": {"createPost": {"__typename": "InvalidInputError", "message": "Text is required"}}});
            }
            state.next_id += 1;
            let post = StoredPost {
                id: format!("post-{}", state.next_id),
                channel_id: input["channelId"].as_str().unwrap_or_default().to_owned(),
                text: input["text"].as_str().unwrap_or_default().to_owned(),
                due_at: input["dueAt"].as_str().unwrap_or_default().to_owned(),
                status: "scheduled".into(),
                assets: input["assets"].clone(),
                error: None,
            };
            let answer = json!({"data": {"createPost": {"__typename": "PostActionSuccess", "post": post_json(&post)}}});
            state.posts.insert(post.id.clone(), post);
            answer
        }
        "EditPost" => {
            let id = input["id"].as_str().unwrap_or_default().to_owned();
            match state.posts.get_mut(&id) {
                Some(post) => {
                    post.text = input["text"].as_str().unwrap_or_default().to_owned();
                    post.due_at = input["dueAt"].as_str().unwrap_or_default().to_owned();
                    if !input["assets"].is_null() {
                        post.assets = input["assets"].clone();
                    }
                    json!({"data": {"editPost": {"__typename": "PostActionSuccess", "post": post_json(post)}}})
                }
                None => {
                    json!({"data": {"editPost": {"__typename": "NotFoundError", "message": "Post not found"}}})
                }
            }
        }
        "DeletePost" => {
            let id = input["id"].as_str().unwrap_or_default().to_owned();
            match state.posts.remove(&id) {
                Some(_) => {
                    json!({"data": {"deletePost": {"__typename": "DeletePostSuccess", "id": id}}})
                }
                None => {
                    json!({"data": {"deletePost": {"__typename": "VoidMutationError", "message": "Post not found"}}})
                }
            }
        }
        "Post" => {
            let id = input["id"].as_str().unwrap_or_default();
            match state.posts.get(id) {
                Some(post) => json!({"data": {"post": post_json(post)}}),
                None => {
                    json!({"data": null, "errors": [{"message": "Post not found", "extensions": {"code": "NOT_FOUND"}}]})
                }
            }
        }
        "Posts" => {
            let channels: Vec<&str> = input["filter"]["channelIds"]
                .as_array()
                .map(|ids| ids.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let start = input["filter"]["dueAt"]["start"].as_str().unwrap_or("");
            let end = input["filter"]["dueAt"]["end"].as_str().unwrap_or("~");
            let edges: Vec<Value> = state
                .posts
                .values()
                .filter(|post| channels.is_empty() || channels.contains(&post.channel_id.as_str()))
                .filter(|post| post.due_at.as_str() >= start && post.due_at.as_str() <= end)
                .map(|post| json!({"node": post_json(post), "cursor": post.id}))
                .collect();
            json!({"data": {"posts": {"edges": edges, "pageInfo": {"hasNextPage": false, "endCursor": Value::Null}}}})
        }
        "Organizations" => {
            json!({"data": {"account": {"organizations": [{"id": ORGANIZATION, "name": "CPTS Mulhouse Agglomération"}]}}})
        }
        "Channels" => json!({"data": {"channels": [
            {"id": "chan-fb", "name": "CPTS Mulhouse Agglomération", "service": "facebook", "isDisconnected": false, "isLocked": false, "isQueuePaused": false, "timezone": "Europe/Paris"},
            {"id": "chan-li", "name": "CPTS Mulhouse Agglomération", "service": "linkedin", "isDisconnected": false, "isLocked": false, "isQueuePaused": false, "timezone": "Europe/Paris"},
            {"id": "chan-ig", "name": "cpts_mulhouse", "service": "instagram", "isDisconnected": false, "isLocked": false, "isQueuePaused": false, "timezone": "Europe/Paris"}
        ]}}),
        other => {
            json!({"data": null, "errors": [{"message": format!("unknown operation {other}"), "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]})
        }
    }
}

/// Serves the files of a folder over HTTP, as the CPTS's web server serves
/// the images folder.
pub struct FileServer {
    pub url: String,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FileServer {
    pub fn start(dir: std::path::PathBuf) -> FileServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}/images/", server.server_addr());
        let handle = {
            let server = server.clone();
            thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    let name = request.url().trim_start_matches("/images/").to_owned();
                    match std::fs::read(dir.join(&name)) {
                        Ok(bytes) if !name.contains("..") => {
                            let response = tiny_http::Response::from_data(bytes).with_header(
                                "Content-Type: image/png"
                                    .parse::<tiny_http::Header>()
                                    .unwrap(),
                            );
                            let _ = request.respond(response);
                        }
                        _ => {
                            let _ = request.respond(tiny_http::Response::empty(404));
                        }
                    }
                }
            })
        };
        FileServer {
            url,
            server,
            thread: Some(handle),
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(handle) = self.thread.take() {
            let _ = handle.join();
        }
    }
}

//! A local stand-in for Buffer's GraphQL API, behaving as the real service.
//!
//! It checks each request as Buffer would: method, headers (the bearer key,
//! JSON, a User-Agent), and the GraphQL document and variables, validated
//! against Buffer's schema (`tests/buffer/schema.graphql`). A request that
//! breaks the contract gets Buffer's `GRAPHQL_VALIDATION_FAILED` answer and
//! is recorded as a violation. Valid documents are executed against the
//! schema: the answer holds exactly the fields the request selected.
//!
//! Beyond the ideal contract it plays what the real Buffer does:
//! - a registry of channels that people pause, disconnect or lock in the
//!   web app, with link shortening and a queue limit (Buffer Free holds
//!   about 10 scheduled posts a channel);
//! - posts deleted, drafted or sent in the app, and `send_due`, which
//!   publishes what is due as Buffer does at each post's instant;
//! - the stored text rewritten (whitespace normalised, links shortened);
//! - `posts` filters and Relay pages (20 a page by default, at most 100);
//! - a request budget per API key over rolling windows (100 per 15
//!   minutes, 250 per 24 hours), with `RateLimit` headers on every answer;
//! - scripted faults: every form of rate hint, 500, 401, typed errors, a
//!   slow answer after the work is done, and garbled answers after the
//!   work is done (truncated JSON, a gateway's HTML 502, empty or HTML
//!   bodies).
//!
//! `FileServer` serves the images folder as the CPTS's web server does, and
//! can answer as a broken or private host would.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use apollo_compiler::resolvers::{Execution, FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::JsonValue;
use apollo_compiler::{ExecutableDocument, Name, Schema, validation::Valid};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::{Clock, Server};

pub const TOKEN: &str = "test-token-9c1f3b7e";
pub const ORGANIZATION: &str = "org-cpts";

/// Buffer's published request limits, per API key, over rolling windows.
pub const BUDGET_PER_15_MIN: usize = 100;
pub const BUDGET_PER_DAY: usize = 250;
/// Scheduled posts a channel holds on Buffer Free.
pub const QUEUE_LIMIT: usize = 10;
/// Posts in a `posts` page when `first` is not given, and at most.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// The statuses a post can have (`PostStatus`).
pub const STATUSES: [&str; 6] = [
    "draft",
    "needs_approval",
    "scheduled",
    "sending",
    "sent",
    "error",
];

const LIMIT_REACHED: &str =
    "You have reached the maximum number of scheduled posts for this channel";

/// A fault to play on the next request of a kind.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 whose only rate hint is `extensions.retryAfter` in the body.
    RateLimited { retry_after: u64 },
    /// HTTP 429 with exactly these headers and this body (see the
    /// constructors for each form of rate hint Buffer has been seen to
    /// give).
    RateLimitedWith {
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// HTTP 500.
    ServerError,
    /// Do the work, then answer only after `delay` (longer than the
    /// client's timeout).
    SlowAnswer { delay: Duration },
    /// Do the work, then answer something the client cannot read.
    Garbled(GarbledKind),
    /// A typed error inside HTTP 200, instead of doing the work.
    Typed {
        typename: &'static str,
        message: &'static str,
    },
    /// HTTP 401.
    Unauthorized,
}

/// What a garbled answer looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GarbledKind {
    /// HTTP 200, the JSON answer cut in the middle.
    TruncatedJson,
    /// HTTP 502 with a gateway's HTML page.
    BadGateway,
    /// HTTP 200 with an empty body.
    EmptyBody,
    /// HTTP 200 with an HTML page.
    HtmlBody,
}

fn too_many_requests(extensions: Value) -> Value {
    let mut extensions = extensions;
    extensions["code"] = json!("RATE_LIMIT_EXCEEDED");
    json!({"errors": [{"message": "Too many requests", "extensions": extensions}]})
}

impl Fault {
    fn rate_limited(headers: &[(&str, String)], extensions: Value) -> Fault {
        Fault::RateLimitedWith {
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
            body: too_many_requests(extensions),
        }
    }

    /// 429 with only `Retry-After: <seconds>`.
    pub fn retry_after_seconds(seconds: u64) -> Fault {
        Fault::rate_limited(&[("Retry-After", seconds.to_string())], json!({}))
    }

    /// 429 with only `Retry-After: <HTTP-date>` (IMF-fixdate).
    pub fn retry_after_date(at: impl Into<DateTime<Utc>>) -> Fault {
        Fault::rate_limited(&[("Retry-After", http_date(at.into()))], json!({}))
    }

    /// 429 with only a `RateLimit` header of several windows, each given as
    /// (policy, remaining, seconds to reset), e.g.
    /// `[("100-in-15min", 0, 540), ("250-in-24h", 12, 30000)]`.
    pub fn rate_limit_windows(windows: &[(&str, u64, u64)]) -> Fault {
        let value = windows
            .iter()
            .map(|(policy, remaining, reset)| format!("\"{policy}\";r={remaining};t={reset}"))
            .collect::<Vec<_>>()
            .join(", ");
        Fault::rate_limited(&[("RateLimit", value)], json!({}))
    }

    /// 429 with only `RateLimit-Reset: <seconds>`.
    pub fn rate_limit_reset(seconds: u64) -> Fault {
        Fault::rate_limited(&[("RateLimit-Reset", seconds.to_string())], json!({}))
    }

    /// 429 with only `X-RateLimit-Remaining: 0` and
    /// `X-RateLimit-Reset: <epoch seconds>`.
    pub fn x_rate_limit_reset(epoch_seconds: u64) -> Fault {
        Fault::rate_limited(
            &[
                ("X-RateLimit-Remaining", "0".to_owned()),
                ("X-RateLimit-Reset", epoch_seconds.to_string()),
            ],
            json!({}),
        )
    }

    /// 429 with only `extensions.retryAfter` (seconds) in the body.
    pub fn retry_after_in_body(seconds: u64) -> Fault {
        Fault::RateLimited {
            retry_after: seconds,
        }
    }

    /// 429 with only `extensions.window` (e.g. `"15m"`) in the body: no
    /// number of seconds anywhere.
    pub fn window_in_body(window: &str) -> Fault {
        Fault::rate_limited(&[], json!({ "window": window }))
    }
}

/// An instant as an HTTP-date (IMF-fixdate): `Wed, 02 Dec 2026 19:05:00 GMT`.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// An instant as Buffer writes it: `2026-12-01T18:00:00.000Z`.
pub fn buffer_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// A social account connected to Buffer.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
    /// `facebook`, `instagram`, `linkedin`... (`Service`).
    pub service: String,
    pub timezone: String,
    pub is_disconnected: bool,
    pub is_locked: bool,
    pub is_queue_paused: bool,
    /// Links in the stored text become `https://buff.ly/...`.
    pub link_shortening: bool,
    /// Scheduled posts the channel holds at most; `None`: no limit.
    pub queue_limit: Option<usize>,
}

impl Channel {
    pub fn new(id: &str, name: &str, service: &str) -> Channel {
        Channel {
            id: id.to_owned(),
            name: name.to_owned(),
            service: service.to_owned(),
            timezone: "Europe/Paris".into(),
            is_disconnected: false,
            is_locked: false,
            is_queue_paused: false,
            link_shortening: false,
            queue_limit: Some(QUEUE_LIMIT),
        }
    }

    /// Whether Buffer sends this channel's posts at their instant.
    pub fn sends(&self) -> bool {
        !(self.is_queue_paused || self.is_disconnected || self.is_locked)
    }
}

#[derive(Debug, Clone)]
pub struct StoredPost {
    pub id: String,
    pub channel_id: String,
    /// The text as Buffer stores it (whitespace normalised, links
    /// shortened when the channel asks).
    pub text: String,
    /// `2026-12-01T18:00:00.000Z`, or empty for a post without an instant.
    pub due_at: String,
    pub status: String,
    pub assets: Value,
    pub metadata: Value,
    /// The network's refusal, for a post in error.
    pub error: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub mode: String,
    pub scheduling_type: String,
    /// Creation order, to sort and page posts.
    pub seq: u64,
}

/// The request budget of each API key, over two rolling windows. Every
/// request counts, refused ones included: a client that comes back before
/// the wait it was given pushes its own wait back.
#[derive(Debug)]
pub struct Budget {
    pub per_15min: usize,
    pub per_day: usize,
    /// Instants of the requests of the last 24 hours, by key, on the
    /// fake's clock.
    hits: BTreeMap<String, VecDeque<DateTime<Utc>>>,
}

const SHORT_WINDOW: Duration = Duration::from_secs(15 * 60);
const LONG_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// How long from `earlier` to `later`, zero when `later` comes first.
fn since(later: DateTime<Utc>, earlier: DateTime<Utc>) -> Duration {
    (later - earlier).to_std().unwrap_or(Duration::ZERO)
}

/// What the budget says of one request.
struct Verdict {
    /// Seconds until the request would fit, when it does not.
    refused: Option<u64>,
    headers: Vec<(String, String)>,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            per_15min: BUDGET_PER_15_MIN,
            per_day: BUDGET_PER_DAY,
            hits: BTreeMap::new(),
        }
    }

    /// Counts a request of `key` at `now` (answered or not) and tells
    /// whether it fits and what the `RateLimit` headers say.
    fn charge(&mut self, key: &str, now: DateTime<Utc>) -> Verdict {
        let hits = self.hits.entry(key.to_owned()).or_default();
        while hits
            .front()
            .is_some_and(|hit| since(now, *hit) >= LONG_WINDOW)
        {
            hits.pop_front();
        }
        hits.push_back(now);
        let windows = [
            (self.per_15min, SHORT_WINDOW, "15min"),
            (self.per_day, LONG_WINDOW, "24h"),
        ];
        let mut refused: Option<u64> = None;
        let mut states = Vec::new();
        let mut policies = Vec::new();
        for (quota, width, label) in windows {
            let inside: Vec<DateTime<Utc>> = hits
                .iter()
                .copied()
                .filter(|hit| since(now, *hit) < width)
                .collect();
            let count = inside.len();
            // The next request fits once enough of the oldest hits left.
            let index = count.saturating_sub(quota).min(count - 1);
            let frees = width.saturating_sub(since(now, inside[index]));
            let reset = frees.as_secs() + u64::from(frees.subsec_nanos() > 0);
            if count > quota {
                refused = Some(refused.map_or(reset, |wait| wait.max(reset)));
            }
            let policy = format!("\"{quota}-in-{label}\"");
            states.push(format!(
                "{policy};r={};t={reset}",
                quota.saturating_sub(count)
            ));
            policies.push(format!("{policy};q={quota};w={}", width.as_secs()));
        }
        Verdict {
            refused,
            headers: vec![
                ("RateLimit".into(), states.join(", ")),
                ("RateLimit-Policy".into(), policies.join(", ")),
            ],
        }
    }
}

pub struct State {
    pub channels: BTreeMap<String, Channel>,
    pub posts: BTreeMap<String, StoredPost>,
    pub next_id: u64,
    /// Faults by operation name (`CreatePost`...), played in order.
    pub faults: BTreeMap<String, VecDeque<Fault>>,
    /// Every request received with a readable operation: its name and raw
    /// body (requests refused for the budget included).
    pub requests: Vec<(String, String)>,
    /// Every request received, readable or not.
    pub requests_total: usize,
    /// Requests that broke the contract, and why.
    pub violations: Vec<String>,
    /// Added to every answer, to widen the moments a call is in flight.
    pub latency: Duration,
    pub budget: Budget,
    /// `send_due` fetches each post's images, as Buffer does at publish
    /// time, and fails the post when they do not answer.
    pub fetch_media: bool,
    /// The fake's clock: a test moves it beside `CRIEUR_NOW`, so that
    /// Buffer and crieur read the same time.
    pub clock: Clock,
    /// When each request came, on the fake's clock.
    pub request_times: Vec<DateTime<Utc>>,
    /// Figures set for a post (`type`, `value`), in place of those of
    /// [`default_metrics`].
    pub metrics: BTreeMap<String, Vec<(String, f64)>>,
}

/// The figures Buffer reports for a sent post of a service, until a test
/// sets others: fixed, so that totals are known. Each network gives its
/// own set, as Buffer's normalised metrics do (LinkedIn gives no reach,
/// Instagram no shares).
pub fn default_metrics(service: &str) -> Vec<(String, f64)> {
    let set: &[(&str, f64)] = match service {
        "facebook" => &[
            ("reactions", 12.0),
            ("comments", 3.0),
            ("shares", 2.0),
            ("reach", 340.0),
            ("impressions", 500.0),
            ("likes", 9.0),
            ("engagementRate", 3.4),
        ],
        "linkedin" => &[
            ("reactions", 8.0),
            ("comments", 1.0),
            ("reposts", 1.0),
            ("impressions", 250.0),
            ("clicks", 6.0),
            ("engagementRate", 6.2),
        ],
        "instagram" => &[
            ("reactions", 20.0),
            ("comments", 2.0),
            ("saves", 4.0),
            ("reach", 410.0),
            ("impressions", 600.0),
        ],
        _ => &[("reactions", 1.0), ("comments", 0.0)],
    };
    set.iter()
        .map(|(kind, value)| ((*kind).to_owned(), *value))
        .collect()
}

/// A sent post's figures as `Post.metrics` gives them; null before it is
/// sent.
fn with_metrics(state: &State, post: &StoredPost, mut value: Value) -> Value {
    if post.status != "sent" {
        return value;
    }
    let service = state
        .channels
        .get(&post.channel_id)
        .map_or("facebook", |c| c.service.as_str());
    let metrics = state
        .metrics
        .get(&post.id)
        .cloned()
        .unwrap_or_else(|| default_metrics(service));
    value["metrics"] = Value::Array(
        metrics
            .iter()
            .map(|(kind, number)| {
                let unit = if kind == "engagementRate" { "percentage" } else { "count" };
                json!({"type": kind, "name": kind, "description": kind, "value": number, "unit": unit})
            })
            .collect(),
    );
    value["metricsUpdatedAt"] = json!(post.sent_at);
    value
}

impl Default for State {
    fn default() -> State {
        let channels = [
            Channel::new("chan-fb", "CPTS Mulhouse Agglomération", "facebook"),
            Channel::new("chan-li", "CPTS Mulhouse Agglomération", "linkedin"),
            Channel::new("chan-ig", "cpts_mulhouse", "instagram"),
        ]
        .into_iter()
        .map(|channel| (channel.id.clone(), channel))
        .collect();
        State {
            channels,
            posts: BTreeMap::new(),
            next_id: 0,
            faults: BTreeMap::new(),
            requests: Vec::new(),
            requests_total: 0,
            violations: Vec::new(),
            latency: Duration::ZERO,
            budget: Budget::new(),
            fetch_media: false,
            clock: Clock::default(),
            request_times: Vec::new(),
            metrics: BTreeMap::new(),
        }
    }
}

impl State {
    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn channel_mut(&mut self, id: &str) -> &mut Channel {
        self.channels
            .get_mut(id)
            .unwrap_or_else(|| panic!("no channel {id} in the fake Buffer"))
    }
}

pub struct FakeBuffer {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    _server: Server,
}

fn schema() -> Valid<Schema> {
    let sdl = include_str!("../../../tests/buffer/schema.graphql");
    Schema::parse_and_validate(sdl, "schema.graphql").expect("Buffer's schema is valid")
}

/// Reads a request as the fake needs it.
async fn incoming(request: axum::extract::Request) -> Incoming {
    let request = crate::server::Incoming::read(request).await;
    Incoming {
        path: request.path_and_query(),
        method: request.method,
        headers: request.headers,
        body: String::from_utf8_lossy(&request.body).into_owned(),
    }
}

fn response(answer: Answer) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(answer.body));
    *response.status_mut() = axum::http::StatusCode::from_u16(answer.status).unwrap();
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        axum::http::HeaderValue::from_str(&answer.content_type).unwrap(),
    );
    for (name, value) in answer.headers {
        headers.append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

impl FakeBuffer {
    pub fn start() -> FakeBuffer {
        let state = Arc::new(Mutex::new(State::default()));
        let schema = Arc::new(schema());
        let app = {
            let state = state.clone();
            // Each request on a blocking thread, so that a slow answer
            // does not hold the others.
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let (state, schema) = (state.clone(), schema.clone());
                async move {
                    let request = incoming(request).await;
                    let answer =
                        tokio::task::spawn_blocking(move || handle(request, &state, &schema))
                            .await
                            .unwrap();
                    response(answer)
                }
            })
        };
        let server = Server::start(app);
        FakeBuffer {
            url: format!("http://{}/", server.address()),
            state,
            _server: server,
        }
    }

    fn with<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.state.lock().unwrap())
    }

    pub fn fault(&self, operation: &str, fault: Fault) {
        self.with(|state| {
            state
                .faults
                .entry(operation.to_owned())
                .or_default()
                .push_back(fault)
        });
    }

    /// The posts Buffer holds (deleted ones are gone).
    pub fn posts(&self) -> Vec<StoredPost> {
        self.with(|state| state.posts.values().cloned().collect())
    }

    pub fn post(&self, id: &str) -> Option<StoredPost> {
        self.with(|state| state.posts.get(id).cloned())
    }

    /// Requests of one operation (those refused for the budget included).
    pub fn requests(&self, operation: &str) -> usize {
        self.with(|state| {
            state
                .requests
                .iter()
                .filter(|(name, _)| name == operation)
                .count()
        })
    }

    /// Every request received, answered or not.
    pub fn requests_total(&self) -> usize {
        self.with(|state| state.requests_total)
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|state| state.violations.clone())
    }

    /// Moves the fake's clock so that it reads `at` now.
    pub fn set_now(&self, at: DateTime<Utc>) {
        self.with(|state| state.clock.set(at));
    }

    /// When each request came, on the fake's clock.
    pub fn request_times(&self) -> Vec<DateTime<Utc>> {
        self.with(|state| state.request_times.clone())
    }

    pub fn set_latency(&self, latency: Duration) {
        self.with(|state| state.latency = latency);
    }

    /// The requests each API key may make per 15 minutes and per 24 hours.
    pub fn set_budget(&self, per_15min: usize, per_day: usize) {
        self.with(|state| {
            state.budget.per_15min = per_15min;
            state.budget.per_day = per_day;
        });
    }

    /// Connects another channel.
    pub fn add_channel(&self, id: &str, name: &str, service: &str) {
        self.with(|state| {
            state
                .channels
                .insert(id.to_owned(), Channel::new(id, name, service))
        });
    }

    /// The queue paused (or resumed) in the app: its posts go late.
    pub fn pause_queue(&self, channel_id: &str, paused: bool) {
        self.with(|state| state.channel_mut(channel_id).is_queue_paused = paused);
    }

    /// The network's authorisation lapsed: the channel must be reconnected.
    pub fn disconnect(&self, channel_id: &str) {
        self.with(|state| state.channel_mut(channel_id).is_disconnected = true);
    }

    pub fn reconnect(&self, channel_id: &str) {
        self.with(|state| state.channel_mut(channel_id).is_disconnected = false);
    }

    /// Locked, as after a downgrade to a plan with fewer channels.
    pub fn lock(&self, channel_id: &str) {
        self.with(|state| state.channel_mut(channel_id).is_locked = true);
    }

    pub fn unlock(&self, channel_id: &str) {
        self.with(|state| state.channel_mut(channel_id).is_locked = false);
    }

    pub fn set_link_shortening(&self, channel_id: &str, on: bool) {
        self.with(|state| state.channel_mut(channel_id).link_shortening = on);
    }

    pub fn set_queue_limit(&self, channel_id: &str, limit: Option<usize>) {
        self.with(|state| state.channel_mut(channel_id).queue_limit = limit);
    }

    /// `send_due` fetches images first (off by default).
    pub fn set_fetch_media(&self, on: bool) {
        self.with(|state| state.fetch_media = on);
    }

    /// The figures Buffer reports for a post once sent (`type`, `value`).
    pub fn set_metrics(&self, post_id: &str, metrics: &[(&str, f64)]) {
        self.with(|state| {
            state.metrics.insert(
                post_id.to_owned(),
                metrics
                    .iter()
                    .map(|(kind, value)| ((*kind).to_owned(), *value))
                    .collect(),
            )
        });
    }

    /// Someone deleted the post in Buffer's app: it vanishes.
    pub fn delete_in_app(&self, post_id: &str) -> bool {
        self.with(|state| state.posts.remove(post_id).is_some())
    }

    /// Someone changed the post's status in the app (saved it as draft,
    /// asked for approval...), or Buffer did.
    pub fn set_post_status(&self, post_id: &str, status: &str) {
        assert!(STATUSES.contains(&status), "no post status {status}");
        self.with(|state| {
            let post = state
                .posts
                .get_mut(post_id)
                .unwrap_or_else(|| panic!("no post {post_id} in the fake Buffer"));
            post.status = status.to_owned();
            match status {
                "sent" => {
                    post.error = None;
                    if post.sent_at.is_none() {
                        post.sent_at = Some(post.due_at.clone());
                    }
                }
                "error" => {
                    post.sent_at = None;
                    if post.error.is_none() {
                        post.error = Some("The post could not be published".into());
                    }
                }
                _ => {
                    post.sent_at = None;
                    post.error = None;
                }
            }
        });
    }

    /// Marks a post as published (or refused by the network), as Buffer
    /// does at its instant.
    pub fn settle(&self, id: &str, error: Option<&str>) {
        self.with(|state| {
            if let Some(post) = state.posts.get_mut(id) {
                post.status = if error.is_some() { "error" } else { "sent" }.into();
                post.error = error.map(str::to_owned);
                post.sent_at = error.is_none().then(|| post.due_at.clone());
            }
        });
    }

    /// What Buffer does at each post's instant, up to `now` (RFC 3339):
    /// every scheduled post due by then on a channel that sends becomes
    /// sent; posts on paused, disconnected or locked channels stay
    /// scheduled and go late. Returns the ids sent or failed.
    pub fn send_due(&self, now: &str) -> Vec<String> {
        let now = parse_instant(now).expect("send_due takes an RFC 3339 instant");
        let (due, fetch) = self.with(|state| {
            let due: Vec<(String, Vec<String>)> = state
                .posts
                .values()
                .filter(|post| post.status == "scheduled")
                .filter(|post| parse_instant(&post.due_at).is_some_and(|at| at <= now))
                .filter(|post| {
                    state
                        .channels
                        .get(&post.channel_id)
                        .is_some_and(Channel::sends)
                })
                .map(|post| (post.id.clone(), image_urls(&post.assets)))
                .collect();
            (due, state.fetch_media)
        });
        let mut done = Vec::new();
        for (id, urls) in due {
            let failure = if fetch {
                urls.iter().find_map(|url| fetch_failure(url))
            } else {
                None
            };
            self.with(|state| {
                if let Some(post) = state.posts.get_mut(&id)
                    && post.status == "scheduled"
                {
                    match failure {
                        Some(message) => {
                            post.status = "error".into();
                            post.error = Some(message);
                        }
                        None => {
                            post.status = "sent".into();
                            post.sent_at = Some(buffer_instant(now));
                        }
                    }
                    done.push(id.clone());
                }
            });
        }
        done
    }
}

fn image_urls(assets: &Value) -> Vec<String> {
    assets
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|asset| asset.pointer("/image/url").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Why Buffer could not fetch an image at publish time, if it could not.
fn fetch_failure(url: &str) -> Option<String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let problem = match client.get(url).send() {
        Err(error) => Some(error.to_string()),
        Ok(response) => {
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let length = response
                .headers()
                .get("content-length")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<usize>().ok());
            let body = response.bytes();
            if status != 200 {
                Some(format!("HTTP {status}"))
            } else if !kind.starts_with("image/") {
                Some(format!("content type {kind}"))
            } else {
                match body {
                    Err(error) => Some(error.to_string()),
                    Ok(bytes) if length.is_some_and(|length| length != bytes.len()) => {
                        Some("incomplete file".into())
                    }
                    Ok(_) => None,
                }
            }
        }
    };
    problem.map(|problem| {
        format!("We couldn't fetch the media for this post ({problem}). Please check the file is publicly reachable and try again.")
    })
}

/// Buffer's short link for a URL: `https://buff.ly/` and seven characters
/// derived from the URL.
pub fn short_link(url: &str) -> String {
    use sha2::Digest as _;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = sha2::Sha256::digest(url.as_bytes());
    let mut number = u64::from_be_bytes(digest[..8].try_into().unwrap());
    let mut code = String::new();
    for _ in 0..7 {
        code.push(char::from(ALPHABET[(number % 62) as usize]));
        number /= 62;
    }
    format!("https://buff.ly/{code}")
}

/// The text as Buffer stores it: `\r\n` becomes `\n`, lines lose their
/// trailing spaces and tabs, and with link shortening every http(s) URL
/// becomes a `buff.ly` link.
pub fn stored_text(text: &str, shorten: bool) -> String {
    let text = text
        .replace("\r\n", "\n")
        .split('\n')
        .map(|line| line.trim_end_matches([' ', '\t']))
        .collect::<Vec<_>>()
        .join("\n");
    if !shorten {
        return text;
    }
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    let mut out = String::new();
    let mut last = 0;
    for link in finder.links(&text) {
        let url = link.as_str();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://"))
            || lower.starts_with("https://buff.ly/")
        {
            continue;
        }
        out.push_str(&text[last..link.start()]);
        out.push_str(&short_link(url));
        last = link.end();
    }
    out.push_str(&text[last..]);
    out
}

/// A request as the fake reads it.
struct Incoming {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }
}

/// An answer, as sent.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
    headers: Vec<(String, String)>,
}

fn respond(status: u16, body: Value, headers: &[(String, String)]) -> Answer {
    respond_raw(status, "application/json", body.to_string(), headers)
}

fn respond_raw(
    status: u16,
    content_type: &str,
    body: String,
    headers: &[(String, String)],
) -> Answer {
    Answer {
        status,
        content_type: content_type.to_owned(),
        body,
        headers: headers.to_vec(),
    }
}

/// The name of the operation a body asks for, read without validation.
fn operation_name(body: &str) -> Option<String> {
    let payload: Value = serde_json::from_str(body).ok()?;
    let query = payload["query"].as_str()?;
    let document = apollo_compiler::ast::Document::parse(query, "request.graphql").ok()?;
    document
        .definitions
        .iter()
        .find_map(|definition| match definition {
            apollo_compiler::ast::Definition::OperationDefinition(operation) => {
                operation.name.as_ref().map(|name| name.to_string())
            }
            _ => None,
        })
}

const GATEWAY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";
const MAINTENANCE_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Buffer</title></head><body><h1>We'll be right back</h1><p>Buffer is undergoing maintenance.</p></body></html>";

fn handle(request: Incoming, state: &Mutex<State>, schema: &Valid<Schema>) -> Answer {
    let body = request.body.clone();
    let key = request.header("Authorization").unwrap_or_default();

    // Every request counts against its key's budget, answered or not.
    let rate = {
        let mut state = state.lock().unwrap();
        state.requests_total += 1;
        let now = state.now();
        state.request_times.push(now);
        let verdict = state.budget.charge(&key, now);
        if let Some(wait) = verdict.refused {
            if let Some(name) = operation_name(&body) {
                state.requests.push((name, body.clone()));
            }
            drop(state);
            let mut headers = verdict.headers;
            headers.push(("Retry-After".into(), wait.to_string()));
            return respond(
                429,
                too_many_requests(json!({ "retryAfter": wait })),
                &headers,
            );
        }
        verdict.headers
    };
    let validation_failed = |why: String| {
        state.lock().unwrap().violations.push(why.clone());
        respond(
            400,
            json!({"errors": [{"message": why, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}),
            &rate,
        )
    };

    if request.method != "POST" {
        return validation_failed("method is not POST".into());
    }
    if !matches!(request.path.as_str(), "/" | "/graphql") {
        return validation_failed(format!("path {}", request.path));
    }
    if request
        .header("User-Agent")
        .is_none_or(|agent| agent.trim().is_empty())
    {
        // Buffer answers requests without a User-Agent with an HTML 403.
        state
            .lock()
            .unwrap()
            .violations
            .push("no User-Agent".into());
        return respond_raw(403, "text/html", "<html>403</html>".into(), &[]);
    }
    if !request
        .header("Content-Type")
        .is_some_and(|kind| kind.starts_with("application/json"))
    {
        return validation_failed("Content-Type is not JSON".into());
    }
    let authorized = key == format!("Bearer {TOKEN}");

    let Ok(payload) = serde_json::from_str::<Value>(&body) else {
        return validation_failed("body is not JSON".into());
    };
    let query = payload["query"].as_str().unwrap_or_default().to_owned();
    let variables = payload.get("variables").cloned().unwrap_or(json!({}));
    let document = match ExecutableDocument::parse_and_validate(schema, &query, "request.graphql") {
        Ok(document) => document,
        Err(errors) => return validation_failed(format!("{errors}")),
    };
    let Ok(operation) = document.operations.get(None) else {
        return validation_failed("not exactly one operation".into());
    };
    let name = operation
        .name
        .as_ref()
        .map(|name| name.to_string())
        .unwrap_or_default();
    let values: apollo_compiler::response::JsonMap = match JsonValue::from(variables.clone()) {
        JsonValue::Object(map) => map,
        _ => return validation_failed("variables are not an object".into()),
    };
    let values = match apollo_compiler::request::coerce_variable_values(schema, operation, &values)
    {
        Ok(values) => values,
        Err(error) => return validation_failed(format!("{name}: {error:?}")),
    };

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
        // As some gateways do: the refused credential, quoted back.
        let message = format!("Unauthorized: invalid header 'Authorization: {key}'");
        return respond(
            401,
            json!({"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}),
            &rate,
        );
    }
    let typed = match fault {
        Some(Fault::RateLimited { retry_after }) => {
            return respond(
                429,
                too_many_requests(json!({ "retryAfter": retry_after })),
                &[],
            );
        }
        Some(Fault::RateLimitedWith { headers, body }) => {
            return respond(429, body, &headers);
        }
        Some(Fault::ServerError) => {
            return respond(
                500,
                json!({"errors": [{"message": "Internal error", "extensions": {"code": "UNEXPECTED"}}]}),
                &rate,
            );
        }
        Some(Fault::Typed { typename, message }) => Some((typename, message)),
        _ => None,
    };

    let answer = {
        let mut state = state.lock().unwrap();
        execute(schema, &document, operation, &values, &mut state, typed)
    };
    match fault {
        Some(Fault::SlowAnswer { delay }) => thread::sleep(delay),
        Some(Fault::Garbled(kind)) => {
            return match kind {
                GarbledKind::TruncatedJson => {
                    let text = answer.to_string();
                    let mut cut = text.len() / 2;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    respond_raw(200, "application/json", text[..cut].to_owned(), &rate)
                }
                GarbledKind::BadGateway => respond_raw(502, "text/html", GATEWAY_PAGE.into(), &[]),
                GarbledKind::EmptyBody => {
                    respond_raw(200, "application/json", String::new(), &rate)
                }
                GarbledKind::HtmlBody => respond_raw(
                    200,
                    "text/html; charset=utf-8",
                    MAINTENANCE_PAGE.into(),
                    &rate,
                ),
            };
        }
        _ => {}
    }
    respond(200, answer, &rate)
}

/// A top-level GraphQL error, answered with `"data": null`.
fn failure(message: &str, code: &str) -> Value {
    json!({"data": null, "errors": [{"message": message, "extensions": {"code": code}}]})
}

/// Runs the operation against the state; the answer holds exactly the
/// selected fields.
fn execute(
    schema: &Valid<Schema>,
    document: &Valid<ExecutableDocument>,
    operation: &apollo_compiler::executable::Operation,
    values: &Valid<apollo_compiler::response::JsonMap>,
    state: &mut State,
    typed: Option<(&'static str, &'static str)>,
) -> Value {
    let root = Root {
        type_name: operation.object_type().to_string(),
        state: RefCell::new(state),
        typed,
        failure: RefCell::new(None),
    };
    let response = Execution::new(schema, document)
        .operation(operation)
        .coerced_variable_values(values)
        .execute_sync(&root);
    if let Some(failure) = root.failure.into_inner() {
        return failure;
    }
    match response {
        Ok(response) => serde_json::to_value(response).unwrap(),
        Err(error) => failure(&error.message().to_string(), "GRAPHQL_VALIDATION_FAILED"),
    }
}

/// The root object (`Query` or `Mutation`): each field reads or changes
/// the state.
struct Root<'s> {
    type_name: String,
    state: RefCell<&'s mut State>,
    typed: Option<(&'static str, &'static str)>,
    /// A top-level error that replaces the whole answer.
    failure: RefCell<Option<Value>>,
}

impl ObjectValue for Root<'_> {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let arguments = serde_json::to_value(info.arguments()).unwrap();
        let field = info.field_name();
        let result = match (self.typed, field) {
            (Some((typename, message)), "createPost" | "editPost" | "deletePost") => {
                Ok(json!({"__typename": typename, "message": message}))
            }
            _ => root_field(&mut self.state.borrow_mut(), field, &arguments),
        };
        match result {
            Ok(value) => Ok(resolved(
                JsonValue::from(value),
                info.field_definition().ty.inner_named_type().clone(),
            )),
            Err(answer) => {
                let message = answer
                    .pointer("/errors/0/message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                *self.failure.borrow_mut() = Some(answer);
                Err(FieldError { message })
            }
        }
    }
}

/// An object of the answer: its fields are in the map, its type in
/// `__typename` or given by the field that holds it.
struct Object {
    type_name: String,
    map: apollo_compiler::response::JsonMap,
}

impl ObjectValue for Object {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match self.map.get(info.field_name()) {
            Some(value) => Ok(resolved(
                value.clone(),
                info.field_definition().ty.inner_named_type().clone(),
            )),
            None => Err(FieldError {
                message: format!(
                    "the fake Buffer does not answer {}.{}",
                    self.type_name,
                    info.field_name()
                ),
            }),
        }
    }
}

fn resolved<'a>(value: JsonValue, type_name: Name) -> ResolvedValue<'a> {
    match value {
        JsonValue::Array(items) => ResolvedValue::list(
            items
                .into_iter()
                .map(move |item| resolved(item, type_name.clone())),
        ),
        JsonValue::Object(map) => {
            let type_name = map
                .get("__typename")
                .and_then(JsonValue::as_str)
                .map_or_else(|| type_name.to_string(), str::to_owned);
            ResolvedValue::object(Object { type_name, map })
        }
        leaf => ResolvedValue::Leaf(leaf),
    }
}

/// The value of a root field, or the whole answer when it fails.
fn root_field(state: &mut State, field: &str, arguments: &Value) -> Result<Value, Value> {
    let input = &arguments["input"];
    match field {
        "createPost" => Ok(create_post(state, input)),
        "editPost" => Ok(edit_post(state, input)),
        "deletePost" => {
            let id = input["id"].as_str().unwrap_or_default();
            Ok(match state.posts.remove(id) {
                Some(_) => json!({"__typename": "DeletePostSuccess", "id": id}),
                None => json!({"__typename": "VoidMutationError", "message": "Post not found"}),
            })
        }
        "post" => {
            let id = input["id"].as_str().unwrap_or_default();
            match state.posts.get(id) {
                Some(post) => Ok(with_metrics(
                    state,
                    post,
                    post_json(post, state.channels.get(&post.channel_id)),
                )),
                None => Err(failure("Post not found", "NOT_FOUND")),
            }
        }
        "posts" => list_posts(state, arguments),
        "account" => Ok(account_json(state)),
        "channels" => {
            organization(input)?;
            let locked = input["filter"]["isLocked"].as_bool();
            Ok(Value::Array(
                state
                    .channels
                    .values()
                    .filter(|channel| locked.is_none_or(|locked| channel.is_locked == locked))
                    .map(channel_json)
                    .collect(),
            ))
        }
        "channel" => {
            let id = input["id"].as_str().unwrap_or_default();
            state
                .channels
                .get(id)
                .map(channel_json)
                .ok_or_else(|| failure("Channel not found", "NOT_FOUND"))
        }
        "dailyPostingLimits" => Ok(daily_limits(state, input)),
        other => Err(failure(
            &format!("the fake Buffer does not answer {other}"),
            "INTERNAL_SERVER_ERROR",
        )),
    }
}

fn organization(input: &Value) -> Result<(), Value> {
    if input["organizationId"].as_str() == Some(ORGANIZATION) {
        Ok(())
    } else {
        Err(failure(
            "You do not have access to this organization",
            "FORBIDDEN",
        ))
    }
}

fn typed_error(typename: &str, message: &str) -> Value {
    json!({"__typename": typename, "message": message})
}

/// Why Buffer refuses these assets, if it does.
fn assets_problem(assets: &Value) -> Option<&'static str> {
    let assets = assets.as_array()?;
    let malformed = assets.iter().any(|asset| {
        asset
            .as_object()
            .is_none_or(|fields| fields.values().filter(|value| !value.is_null()).count() != 1)
    });
    malformed.then_some("Each asset must have exactly one of image, video, document or link")
}

fn has_media(assets: &Value) -> bool {
    assets.as_array().is_some_and(|assets| {
        assets
            .iter()
            .any(|asset| !asset["image"].is_null() || !asset["video"].is_null())
    })
}

/// Why Buffer refuses a post on this channel, if it does.
fn network_problem(channel: &Channel, assets: &Value, metadata: &Value) -> Option<&'static str> {
    if channel.service == "instagram" {
        if !has_media(assets) {
            return Some("Instagram posts require at least one image or video");
        }
        if metadata["instagram"]["type"].is_null() {
            return Some("Instagram posts require metadata.instagram.type");
        }
    }
    None
}

fn create_post(state: &mut State, input: &Value) -> Value {
    let now = state.now();
    let channel_id = input["channelId"].as_str().unwrap_or_default();
    let Some(channel) = state.channels.get(channel_id).cloned() else {
        return typed_error("NotFoundError", "Channel not found");
    };
    if channel.is_locked {
        return typed_error(
            "InvalidInputError",
            "This channel is locked. Upgrade your plan or unlock it in Buffer to schedule posts to it",
        );
    }
    if channel.is_disconnected {
        return typed_error(
            "InvalidInputError",
            "This channel is disconnected. Reconnect it in Buffer to schedule posts to it",
        );
    }
    let text = input["text"].as_str().unwrap_or_default();
    if text.trim().is_empty() {
        return typed_error("InvalidInputError", "Text is required");
    }
    let assets = if input["assets"].is_null() {
        json!([])
    } else {
        input["assets"].clone()
    };
    if let Some(problem) = assets_problem(&assets) {
        return typed_error("InvalidInputError", problem);
    }
    if let Some(problem) = network_problem(&channel, &assets, &input["metadata"]) {
        return typed_error("InvalidInputError", problem);
    }
    let mode = input["mode"].as_str().unwrap_or("customScheduled");
    let due_at = match (mode, input["dueAt"].as_str()) {
        (_, Some(text)) => match parse_instant(text) {
            Some(at) => buffer_instant(at),
            None => return typed_error("InvalidInputError", "dueAt is not a valid date"),
        },
        ("customScheduled", None) => {
            return typed_error(
                "InvalidInputError",
                "dueAt is required for custom scheduled posts",
            );
        }
        ("shareNow", None) => buffer_instant(now),
        // The channel's next free slot of its posting schedule.
        (_, None) => buffer_instant(now + chrono::Duration::hours(1)),
    };
    let status = if input["saveToDraft"].as_bool() == Some(true) {
        "draft"
    } else if input["needsApproval"].as_bool() == Some(true) {
        "needs_approval"
    } else {
        "scheduled"
    };
    if status == "scheduled"
        && let Some(limit) = channel.queue_limit
    {
        let queued = state
            .posts
            .values()
            .filter(|post| post.channel_id == channel.id && post.status == "scheduled")
            .count();
        if queued >= limit {
            return typed_error("LimitReachedError", LIMIT_REACHED);
        }
    }
    state.next_id += 1;
    let post = StoredPost {
        id: format!("post-{}", state.next_id),
        channel_id: channel.id.clone(),
        text: stored_text(text, channel.link_shortening),
        due_at,
        status: status.into(),
        assets,
        metadata: input["metadata"].clone(),
        error: None,
        sent_at: None,
        created_at: buffer_instant(now),
        updated_at: buffer_instant(now),
        mode: mode.into(),
        scheduling_type: input["schedulingType"]
            .as_str()
            .unwrap_or("automatic")
            .into(),
        seq: state.next_id,
    };
    let answer =
        json!({"__typename": "PostActionSuccess", "post": post_json(&post, Some(&channel))});
    state.posts.insert(post.id.clone(), post);
    answer
}

fn edit_post(state: &mut State, input: &Value) -> Value {
    let id = input["id"].as_str().unwrap_or_default();
    let Some(mut post) = state.posts.get(id).cloned() else {
        return typed_error("NotFoundError", "Post not found");
    };
    if matches!(post.status.as_str(), "sent" | "sending") {
        return typed_error(
            "InvalidInputError",
            "This post has already been sent and can no longer be edited",
        );
    }
    let Some(channel) = state.channels.get(&post.channel_id).cloned() else {
        return typed_error("NotFoundError", "Channel not found");
    };
    if let Some(text) = input["text"].as_str() {
        if text.trim().is_empty() {
            return typed_error("InvalidInputError", "Text is required");
        }
        post.text = stored_text(text, channel.link_shortening);
    }
    if let Some(text) = input["dueAt"].as_str() {
        match parse_instant(text) {
            Some(at) => post.due_at = buffer_instant(at),
            None => return typed_error("InvalidInputError", "dueAt is not a valid date"),
        }
    }
    // Omitted assets keep the old list.
    if !input["assets"].is_null() {
        post.assets = input["assets"].clone();
    }
    if !input["metadata"].is_null() {
        post.metadata = input["metadata"].clone();
    }
    if let Some(problem) = assets_problem(&post.assets)
        .or_else(|| network_problem(&channel, &post.assets, &post.metadata))
    {
        return typed_error("InvalidInputError", problem);
    }
    if let Some(mode) = input["mode"].as_str() {
        post.mode = mode.into();
    }
    match input["saveToDraft"].as_bool() {
        Some(true) => post.status = "draft".into(),
        Some(false) if post.status == "draft" => post.status = "scheduled".into(),
        _ => {}
    }
    post.updated_at = buffer_instant(state.now());
    let answer =
        json!({"__typename": "PostActionSuccess", "post": post_json(&post, Some(&channel))});
    state.posts.insert(post.id.clone(), post);
    answer
}

/// Where a post sorts: its instant (or creation) in milliseconds, then its
/// creation order.
fn sort_key(post: &StoredPost, by_creation: bool) -> (i64, u64) {
    let at = if by_creation {
        &post.created_at
    } else {
        &post.due_at
    };
    let millis = parse_instant(at).map_or(i64::MAX, |at| at.timestamp_millis());
    (millis, post.seq)
}

fn cursor(key: (i64, u64)) -> String {
    format!("c{}_{}", key.0, key.1)
}

fn parse_cursor(text: &str) -> Option<(i64, u64)> {
    let (millis, seq) = text.strip_prefix('c')?.split_once('_')?;
    Some((millis.parse().ok()?, seq.parse().ok()?))
}

fn bad_input(message: &str) -> Value {
    failure(message, "BAD_USER_INPUT")
}

/// The bounds of a `DateTimeComparator`.
type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn window(comparator: &Value) -> Result<Bounds, Value> {
    let bound = |name: &str| match comparator[name].as_str() {
        None => Ok(None),
        Some(text) => parse_instant(text)
            .map(Some)
            .ok_or_else(|| bad_input(&format!("Invalid date for {name}: {text}"))),
    };
    Ok((bound("start")?, bound("end")?))
}

fn within(at: &str, (start, end): Bounds) -> bool {
    if start.is_none() && end.is_none() {
        return true;
    }
    parse_instant(at).is_some_and(|at| start.is_none_or(|s| at >= s) && end.is_none_or(|e| at <= e))
}

fn list_posts(state: &State, arguments: &Value) -> Result<Value, Value> {
    let input = &arguments["input"];
    organization(input)?;
    let filter = &input["filter"];
    let channels: Option<Vec<&str>> = filter["channelIds"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect());
    let statuses: Option<Vec<&str>> = filter["status"]
        .as_array()
        .map(|statuses| statuses.iter().filter_map(Value::as_str).collect());
    let due = window(&filter["dueAt"])?;
    let created = window(&filter["createdAt"])?;
    let sort = &input["sort"][0];
    let by_creation = sort["field"].as_str() == Some("createdAt");
    let descending = sort["direction"].as_str() == Some("desc");
    let first = match arguments["first"].as_i64() {
        None => DEFAULT_PAGE,
        Some(first) if first < 0 => return Err(bad_input("first must not be negative")),
        Some(first) => usize::try_from(first).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    };
    let after = match arguments["after"].as_str() {
        None => None,
        Some(text) => Some(parse_cursor(text).ok_or_else(|| bad_input("Invalid cursor"))?),
    };

    let mut posts: Vec<(&StoredPost, (i64, u64))> = state
        .posts
        .values()
        .filter(|post| {
            channels
                .as_ref()
                .is_none_or(|ids| ids.contains(&post.channel_id.as_str()))
        })
        .filter(|post| {
            statuses
                .as_ref()
                .is_none_or(|list| list.contains(&post.status.as_str()))
        })
        .filter(|post| within(&post.due_at, due) && within(&post.created_at, created))
        .map(|post| (post, sort_key(post, by_creation)))
        .collect();
    posts.sort_by_key(|(_, key)| *key);
    if descending {
        posts.reverse();
    }
    if let Some(after) = after {
        posts.retain(|(_, key)| {
            if descending {
                *key < after
            } else {
                *key > after
            }
        });
    }
    let more = posts.len() > first;
    posts.truncate(first);
    let edges: Vec<Value> = posts
        .iter()
        .map(|(post, key)| {
            json!({
                "node": with_metrics(state, post, post_json(post, state.channels.get(&post.channel_id))),
                "cursor": cursor(*key)
            })
        })
        .collect();
    Ok(json!({
        "edges": edges,
        "pageInfo": {
            "startCursor": posts.first().map(|(_, key)| cursor(*key)),
            "endCursor": posts.last().map(|(_, key)| cursor(*key)),
            "hasPreviousPage": false,
            "hasNextPage": more
        }
    }))
}

fn daily_limits(state: &State, input: &Value) -> Value {
    let date = input["date"]
        .as_str()
        .and_then(parse_instant)
        .unwrap_or_else(|| state.now())
        .date_naive();
    let on_date = |at: &str| parse_instant(at).is_some_and(|at| at.date_naive() == date);
    let ids = input["channelIds"].as_array().cloned().unwrap_or_default();
    Value::Array(
        ids.iter()
            .filter_map(Value::as_str)
            .map(|id| {
                let posts = || state.posts.values().filter(|post| post.channel_id == id);
                let sent = posts()
                    .filter(|post| post.status == "sent" && post.sent_at.as_deref().is_some_and(on_date))
                    .count();
                let scheduled = posts()
                    .filter(|post| post.status == "scheduled" && on_date(&post.due_at))
                    .count();
                json!({"channelId": id, "sent": sent, "scheduled": scheduled, "limit": Value::Null, "isAtLimit": false})
            })
            .collect(),
    )
}

/// A post with every field the fake answers (selection keeps the asked
/// ones).
pub fn post_json(post: &StoredPost, channel: Option<&Channel>) -> Value {
    let service = channel.map_or("facebook", |channel| channel.service.as_str());
    let assets: Vec<Value> = post
        .assets
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|asset| {
            let image = asset.get("image").filter(|image| !image.is_null())?;
            let url = image["url"].as_str().unwrap_or_default();
            let mime = if url.ends_with(".jpg") || url.ends_with(".jpeg") {
                "image/jpeg"
            } else {
                "image/png"
            };
            Some(json!({
                "__typename": "ImageAsset", "id": Value::Null, "type": "image", "mimeType": mime,
                "source": url, "thumbnail": image["thumbnailUrl"].as_str().unwrap_or(url),
                "image": {
                    "altText": image["metadata"]["altText"].as_str().unwrap_or_default(),
                    "width": image["metadata"]["dimensions"]["width"].as_i64().unwrap_or(0),
                    "height": image["metadata"]["dimensions"]["height"].as_i64().unwrap_or(0),
                    "isAnimated": false, "animatedThumbnail": Value::Null, "userTags": []
                }
            }))
        })
        .collect();
    let actions: &[&str] = match post.status.as_str() {
        "sent" | "sending" => &["viewPost", "deletePost", "duplicatePost"],
        _ => &[
            "updatePost",
            "deletePost",
            "viewPost",
            "duplicatePost",
            "publishPostNow",
        ],
    };
    let mut value = json!({
        "id": post.id, "ideaId": Value::Null, "status": post.status, "via": "api",
        "schedulingType": post.scheduling_type, "author": Value::Null,
        "isCustomScheduled": post.mode == "customScheduled",
        "createdAt": post.created_at, "updatedAt": post.updated_at,
        "dueAt": if post.due_at.is_empty() { Value::Null } else { json!(post.due_at) },
        "sentAt": post.sent_at, "text": post.text,
        "externalLink": if post.status == "sent" { json!(format!("https://www.{service}.com/posts/{}", post.id)) } else { Value::Null },
        "metadata": Value::Null,
        "channelId": post.channel_id, "channelService": service,
        "tags": [], "notes": [], "notificationStatus": Value::Null,
        "error": post.error.as_ref().map_or(Value::Null, |message| json!({"message": message, "supportUrl": Value::Null, "rawError": Value::Null})),
        "assets": assets, "metrics": Value::Null, "metricsUpdatedAt": Value::Null,
        "allowedActions": actions, "sharedNow": post.mode == "shareNow", "shareMode": post.mode,
    });
    if let Some(channel) = channel {
        value["channel"] = channel_json(channel);
    }
    value
}

pub fn channel_json(channel: &Channel) -> Value {
    let (descriptor, kind) = match channel.service.as_str() {
        "facebook" => ("Facebook Page", "page"),
        "instagram" => ("Instagram Business", "business"),
        "linkedin" => ("LinkedIn Page", "page"),
        _ => ("Profile", "profile"),
    };
    json!({
        "id": channel.id, "name": channel.name, "displayName": channel.name,
        "service": channel.service, "serviceId": format!("{}-service", channel.id),
        "timezone": channel.timezone, "descriptor": descriptor, "type": kind,
        "isDisconnected": channel.is_disconnected, "isLocked": channel.is_locked,
        "isQueuePaused": channel.is_queue_paused, "isNew": false,
        "organizationId": ORGANIZATION,
        "avatar": format!("https://buffer-media-uploads.s3.amazonaws.com/avatars/{}.png", channel.id),
        "createdAt": "2025-09-01T08:00:00.000Z", "updatedAt": "2026-11-01T08:00:00.000Z",
        "allowedActions": ["viewChannel", "managePostingSchedule", "reconnectChannel", "removeChannel"],
        "scopes": [], "postingSchedule": [], "showTrendingTopicSuggestions": false,
        "metadata": Value::Null, "products": ["publish"], "hasActiveMemberDevice": false,
        "postingGoal": Value::Null, "externalLink": Value::Null,
        "linkShortening": {
            "isEnabled": channel.link_shortening,
            "config": if channel.link_shortening { json!({"domain": "buff.ly", "name": "Buffer"}) } else { Value::Null }
        }
    })
}

fn account_json(state: &State) -> Value {
    json!({
        "id": "account-cpts", "email": "communication@cpts-mulhouse.fr", "backupEmail": Value::Null,
        "avatar": "https://buffer-media-uploads.s3.amazonaws.com/avatars/account-cpts.png",
        "createdAt": "2025-09-01T08:00:00.000Z", "timezone": "Europe/Paris",
        "name": "Communication CPTS", "preferences": Value::Null, "connectedApps": [],
        "organizations": [{
            "id": ORGANIZATION, "name": "CPTS Mulhouse Agglomération",
            "channelCount": state.channels.len(),
            "ownerEmail": "communication@cpts-mulhouse.fr", "shouldEnforce2FASetup": false,
            "members": {"totalCount": 1},
            "limits": {
                "channels": 3, "members": 1, "scheduledPosts": QUEUE_LIMIT * 3,
                "scheduledThreadsPerChannel": QUEUE_LIMIT, "scheduledStoriesPerChannel": QUEUE_LIMIT,
                "generateContent": 0, "tags": 3, "ideas": 100, "ideaGroups": 3, "savedReplies": 1
            }
        }]
    })
}

/// How `FileServer` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// The file, with its image type.
    Normal,
    /// 404 for every file.
    NotFound,
    /// 403 for every file, as a private bucket answers.
    Forbidden,
    /// 200 with an HTML page (`text/html`), as a login page or a portal.
    WrongType,
    /// 200 whose `Content-Length` is the file's, but only half the bytes
    /// come before the connection closes.
    Truncated,
}

/// Serves the files of a folder over HTTP, as the CPTS's web server serves
/// the images folder: `GET` and `HEAD`.
pub struct FileServer {
    pub url: String,
    mode: Arc<Mutex<FileMode>>,
    /// Method and path of each request.
    hits: Arc<Mutex<Vec<(String, String)>>>,
    _server: Server,
}

impl FileServer {
    pub fn start(dir: PathBuf) -> FileServer {
        let mode = Arc::new(Mutex::new(FileMode::Normal));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let app = {
            let (mode, hits) = (mode.clone(), hits.clone());
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let answer = serve_file(&request, &dir, &mode, &hits);
                async move { answer }
            })
        };
        let server = Server::start(app);
        FileServer {
            url: format!("http://{}/images/", server.address()),
            mode,
            hits,
            _server: server,
        }
    }

    pub fn set_mode(&self, mode: FileMode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Method and path of each request received.
    pub fn hits(&self) -> Vec<(String, String)> {
        self.hits.lock().unwrap().clone()
    }
}

fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg"
    } else {
        "application/octet-stream"
    }
}

fn serve_file(
    request: &axum::extract::Request,
    dir: &std::path::Path,
    mode: &Mutex<FileMode>,
    hits: &Mutex<Vec<(String, String)>>,
) -> axum::response::Response {
    use axum::body::Body;
    let method = request.method().as_str().to_owned();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    hits.lock().unwrap().push((method.clone(), path.clone()));
    let name = request
        .uri()
        .path()
        .strip_prefix("/images/")
        .filter(|name| !name.is_empty() && !name.contains(".."))
        .map(str::to_owned);
    let file = name
        .as_ref()
        .and_then(|name| std::fs::read(dir.join(name)).ok());
    let mode = *mode.lock().unwrap();
    let answer = |status: u16, kind: &str, body: Body, length: usize| {
        let mut response = axum::response::Response::new(body);
        *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
        let headers = response.headers_mut();
        headers.insert("content-type", kind.parse().unwrap());
        headers.insert("content-length", length.into());
        response
    };
    let whole = |status: u16, kind: &str, bytes: Vec<u8>| {
        let length = bytes.len();
        answer(status, kind, Body::from(bytes), length)
    };
    if method != "GET" && method != "HEAD" {
        return whole(405, "text/plain", b"Method Not Allowed".to_vec());
    }
    match (mode, file) {
        (FileMode::Forbidden, _) => whole(
            403,
            "application/xml",
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>".to_vec(),
        ),
        (FileMode::WrongType, _) => whole(
            200,
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><head><title>Connexion</title></head><body><form>Identifiant</form></body></html>".to_vec(),
        ),
        (FileMode::NotFound, _) | (_, None) => whole(404, "text/plain", b"Not Found".to_vec()),
        (FileMode::Truncated, Some(bytes)) => {
            // The announced length, half the bytes, then the connection
            // breaks.
            let length = bytes.len();
            let half = axum::body::Bytes::from(bytes[..length / 2].to_vec());
            // The error comes a moment later, once the head and the half
            // have left.
            let broken = futures_util::stream::unfold(Some(half), |half| async move {
                match half {
                    Some(half) => Some((Ok(half), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Some((Err(std::io::Error::other("connection lost")), None))
                    }
                }
            });
            answer(
                200,
                content_type(name.as_deref().unwrap_or_default()),
                Body::from_stream(broken),
                length,
            )
        }
        (FileMode::Normal, Some(bytes)) => {
            whole(200, content_type(name.as_deref().unwrap_or_default()), bytes)
        }
    }
}

//! A local Mastodon that keeps to the API crieur uses: media processed
//! after a few looks (202, then 206, then the URL), `Idempotency-Key`
//! remembered for an hour, `scheduled_at` at least five minutes ahead,
//! scheduled statuses read, paged and deleted, and published by the
//! instance's clock when their time comes (a new id, the same text and
//! media), the account's statuses paged newest first with a `Link` header,
//! contents rendered as HTML as Mastodon renders them, rate limits with an
//! ISO 8601 reset.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::{Clock, Incoming, Server};

pub const TOKEN: &str = "jeton-de-test";

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

/// A status of the account, as published.
#[derive(Debug, Clone)]
pub struct Published {
    pub id: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub media: Vec<String>,
    pub favourites: u64,
    pub reblogs: u64,
    pub replies: u64,
}

/// The figures a status has until a test sets others (favourites,
/// reblogs, replies): fixed, so that totals are known.
pub const FIGURES: (u64, u64, u64) = (4, 2, 1);

/// Statuses `GET /api/v1/statuses?id[]=…` answers at once.
pub const STATUSES_AT_ONCE: usize = 20;

/// An answer kept for its `Idempotency-Key`, with the instant it was made.
#[derive(Debug, Clone)]
pub struct Remembered {
    pub at: DateTime<Utc>,
    pub status: u16,
    pub value: Value,
}

/// How long Mastodon remembers an `Idempotency-Key`.
pub fn key_lifetime() -> Duration {
    Duration::hours(1)
}

#[derive(Debug)]
pub struct State {
    pub media: BTreeMap<String, Media>,
    pub scheduled: Vec<Scheduled>,
    pub published: Vec<Published>,
    /// Answers by idempotency key.
    pub keys: BTreeMap<String, Remembered>,
    /// Creates whose answer is lost (a 502 after the status was made).
    pub lose_next_answers: usize,
    pub limited_until: Option<DateTime<Utc>>,
    pub status_calls: usize,
    /// How long each answer takes once the call is done (so that a
    /// client killed meanwhile never reads it).
    pub latency: std::time::Duration,
    pub clock: Clock,
    /// How many looks a media takes to be processed (`usize::MAX`: never).
    pub processing_looks: usize,
    /// Every request, as `METHOD /path?query`.
    pub requests: Vec<String>,
    /// Reading statuses by id answers 503, as an instance down does.
    pub failing_reads: bool,
    /// The instance's address, for the `Link` headers.
    url: String,
    next: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            media: BTreeMap::new(),
            scheduled: Vec::new(),
            published: Vec::new(),
            keys: BTreeMap::new(),
            lose_next_answers: 0,
            limited_until: None,
            status_calls: 0,
            latency: std::time::Duration::ZERO,
            clock: Clock::default(),
            processing_looks: 2,
            requests: Vec::new(),
            failing_reads: false,
            url: String::new(),
            next: 0,
        }
    }
}

impl State {
    fn fresh(&mut self) -> String {
        self.next += 1;
        self.next.to_string()
    }

    /// A status published at `at` (as if posted then), with a new id.
    pub fn publish(&mut self, text: &str, at: DateTime<Utc>, media: Vec<String>) -> String {
        let id = self.fresh();
        self.published.push(Published {
            id: id.clone(),
            text: text.to_owned(),
            at,
            media,
            favourites: FIGURES.0,
            reblogs: FIGURES.1,
            replies: FIGURES.2,
        });
        id
    }

    /// A status scheduled for `at`, with a new id.
    pub fn schedule(&mut self, text: &str, at: DateTime<Utc>, media: Vec<String>) -> String {
        let id = self.fresh();
        self.scheduled.push(Scheduled {
            id: id.clone(),
            at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: text.to_owned(),
            media,
        });
        id
    }

    /// The scheduled statuses whose time has come on the instance's clock
    /// become statuses: a new id, created at their instant, their text and
    /// media kept. Done at the start of every request.
    pub fn publish_due(&mut self) {
        let now = self.clock.now();
        let due_at = |s: &Scheduled| {
            DateTime::parse_from_rfc3339(&s.at)
                .ok()
                .map(|at| at.with_timezone(&Utc))
        };
        let (mut due, kept): (Vec<Scheduled>, Vec<Scheduled>) = std::mem::take(&mut self.scheduled)
            .into_iter()
            .partition(|s| due_at(s).is_some_and(|at| at <= now));
        self.scheduled = kept;
        due.sort_by_key(|s| (due_at(s), numeric(&s.id)));
        for scheduled in due {
            let at = due_at(&scheduled).unwrap_or(now);
            self.publish(&scheduled.text, at, scheduled.media);
        }
    }

    fn attachments(&self, media: &[String]) -> Value {
        let all: Vec<Value> = media
            .iter()
            .map(|id| {
                let description = self.media.get(id).map(|m| m.description.clone());
                json!({
                    "id": id,
                    "type": "image",
                    "url": format!("https://files.example/{id}.png"),
                    "preview_url": format!("https://files.example/{id}-small.png"),
                    "description": description,
                })
            })
            .collect();
        json!(all)
    }

    fn scheduled_json(&self, scheduled: &Scheduled) -> Value {
        json!({
            "id": scheduled.id,
            "scheduled_at": scheduled.at,
            "params": {
                "text": scheduled.text,
                "media_ids": scheduled.media,
                "visibility": "public",
                "language": "fr",
            },
            "media_attachments": self.attachments(&scheduled.media),
        })
    }

    fn status_json(&self, status: &Published) -> Value {
        let id = &status.id;
        json!({
            "id": id,
            "created_at": status.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "content": html(&status.text),
            "url": format!("https://piaille.example/@cpts/{id}"),
            "uri": format!("https://piaille.example/users/cpts/statuses/{id}"),
            "visibility": "public",
            "language": "fr",
            "reblog": null,
            "media_attachments": self.attachments(&status.media),
            "favourites_count": status.favourites,
            "reblogs_count": status.reblogs,
            "replies_count": status.replies,
        })
    }
}

/// An id as a number, to order and compare ids as Mastodon does.
fn numeric(id: &str) -> u64 {
    id.parse().unwrap_or(0)
}

pub struct FakeMastodon {
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: Server,
}

impl FakeMastodon {
    pub fn start() -> FakeMastodon {
        let state = Arc::new(Mutex::new(State::default()));
        let app = {
            let state = state.clone();
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let state = state.clone();
                async move {
                    let request = Incoming::read(request).await;
                    let call = Call {
                        authorization: request.header("authorization"),
                        key: request.header("idempotency-key"),
                        method: request.method,
                        path: request.path,
                        query: request.query,
                        body: request.body,
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
        let server = Server::start(app);
        let url = format!("http://{}", server.address());
        state.lock().unwrap().url = url.clone();
        FakeMastodon {
            url,
            state,
            _server: server,
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
    query: String,
    authorization: Option<String>,
    key: Option<String>,
    body: Vec<u8>,
}

impl Call {
    /// A parameter of the query string.
    fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

type Answer = (u16, Vec<(&'static str, String)>, Value);

fn error(status: u16, message: &str) -> Answer {
    (status, Vec::new(), json!({ "error": message }))
}

fn handle(call: &Call, state: &mut State) -> Answer {
    state.publish_due();
    let line = if call.query.is_empty() {
        format!("{} {}", call.method, call.path)
    } else {
        format!("{} {}?{}", call.method, call.path, call.query)
    };
    state.requests.push(line);
    if call.authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        // As some proxies do: the refused credential, quoted back.
        let sent = call.authorization.clone().unwrap_or_default();
        return error(
            401,
            &format!("The access token is invalid (Authorization: {sent})"),
        );
    }
    if let Some(until) = state
        .limited_until
        .filter(|until| *until > state.clock.now())
    {
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
            let fresh = state.fresh();
            state.media.insert(
                fresh.clone(),
                Media {
                    description,
                    looked_at: 0,
                },
            );
            (202, Vec::new(), json!({ "id": fresh, "url": null }))
        }
        ("GET", ["api", "v1", "media", id]) => {
            let looks = state.processing_looks;
            match state.media.get_mut(*id) {
                None => error(404, "Record not found"),
                Some(media) => {
                    media.looked_at = media.looked_at.saturating_add(1);
                    if media.looked_at < looks {
                        (206, Vec::new(), json!({ "id": id, "url": null }))
                    } else {
                        let url = format!("https://files.example/{id}.png");
                        (200, Vec::new(), json!({ "id": id, "url": url }))
                    }
                }
            }
        }
        ("POST", ["api", "v1", "statuses"]) => create(call, state),
        ("GET", ["api", "v1", "accounts", "verify_credentials"]) => (
            200,
            Vec::new(),
            json!({ "id": "1", "acct": "cpts", "username": "cpts" }),
        ),
        ("GET", ["api", "v1", "accounts", "1", "statuses"]) => {
            let mut all: Vec<&Published> = state.published.iter().collect();
            all.sort_by_key(|s| std::cmp::Reverse(numeric(&s.id)));
            let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
            let (page, headers) = page(call, state, &ids, "/api/v1/accounts/1/statuses");
            let values: Vec<Value> = page
                .iter()
                .filter_map(|id| state.published.iter().find(|s| s.id == *id))
                .map(|s| state.status_json(s))
                .collect();
            (200, headers, json!(values))
        }
        ("GET", ["api", "v1", "accounts", _, "statuses"]) => error(404, "Record not found"),
        ("GET", ["api", "v1", "scheduled_statuses"]) => {
            let mut all: Vec<&Scheduled> = state.scheduled.iter().collect();
            all.sort_by_key(|s| std::cmp::Reverse(numeric(&s.id)));
            let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
            let (page, headers) = page(call, state, &ids, "/api/v1/scheduled_statuses");
            let values: Vec<Value> = page
                .iter()
                .filter_map(|id| state.scheduled.iter().find(|s| s.id == *id))
                .map(|s| state.scheduled_json(s))
                .collect();
            (200, headers, json!(values))
        }
        ("GET", ["api", "v1", "scheduled_statuses", id]) => {
            match state.scheduled.iter().find(|s| s.id == *id) {
                Some(found) => (200, Vec::new(), state.scheduled_json(found)),
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
        ("GET", ["api", "v1", "statuses"]) => statuses(call, state),
        ("GET", ["api", "v1", "statuses", id]) => {
            match state.published.iter().find(|s| s.id == *id) {
                Some(found) => (200, Vec::new(), state.status_json(found)),
                None => error(404, "Record not found"),
            }
        }
        _ => error(404, "Not found"),
    }
}

/// `GET /api/v1/statuses?id[]=…` (Mastodon 4.3): the statuses found, in
/// the order asked; ids it does not have are left out.
fn statuses(call: &Call, state: &State) -> Answer {
    if state.failing_reads {
        return error(503, "Service Unavailable");
    }
    let ids: Vec<String> = url::form_urlencoded::parse(call.query.as_bytes())
        .filter(|(key, _)| key == "id[]")
        .map(|(_, value)| value.into_owned())
        .collect();
    if ids.len() > STATUSES_AT_ONCE {
        return error(422, "Too many ids");
    }
    let found: Vec<Value> = ids
        .iter()
        .filter_map(|id| state.published.iter().find(|s| &s.id == id))
        .map(|s| state.status_json(s))
        .collect();
    (200, Vec::new(), json!(found))
}

/// One page of `ids` (newest first), as Mastodon pages: `limit` (20 by
/// default, 40 at most), `max_id` (strictly older ids), and a `Link` header
/// to the next page when more remain and to the previous one.
fn page(
    call: &Call,
    state: &State,
    ids: &[&str],
    path: &str,
) -> (Vec<String>, Vec<(&'static str, String)>) {
    let limit = call
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 40);
    let max_id = call.param("max_id").map(|id| numeric(&id));
    let older: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| max_id.is_none_or(|max| numeric(id) < max))
        .collect();
    let page: Vec<String> = older
        .iter()
        .take(limit)
        .map(|id| (*id).to_owned())
        .collect();
    let mut links = Vec::new();
    if older.len() > limit
        && let Some(last) = page.last()
    {
        links.push(format!(
            "<{}{path}?limit={limit}&max_id={last}>; rel=\"next\"",
            state.url
        ));
    }
    if let Some(first) = page.first() {
        links.push(format!(
            "<{}{path}?limit={limit}&min_id={first}>; rel=\"prev\"",
            state.url
        ));
    }
    let headers = if links.is_empty() {
        Vec::new()
    } else {
        vec![("link", links.join(", "))]
    };
    (page, headers)
}

fn create(call: &Call, state: &mut State) -> Answer {
    state.status_calls += 1;
    let now = state.clock.now();
    state.keys.retain(|_, kept| now - kept.at < key_lifetime());
    if let Some(key) = &call.key
        && let Some(kept) = state.keys.get(key)
    {
        return (kept.status, Vec::new(), kept.value.clone());
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
        if state
            .media
            .get(id)
            .is_none_or(|m| m.looked_at < state.processing_looks)
        {
            return error(422, "Validation failed: media not processed yet");
        }
    }
    let answer = match body["scheduled_at"].as_str() {
        Some(at) => {
            let Ok(when) = DateTime::parse_from_rfc3339(at) else {
                return error(422, "Validation failed: scheduled_at invalid");
            };
            if when.with_timezone(&Utc) < now + Duration::minutes(5) {
                return error(
                    422,
                    "Validation failed: Scheduled at The scheduled date must be in the future",
                );
            }
            let scheduled = Scheduled {
                id: state.fresh(),
                at: at.to_owned(),
                text,
                media,
            };
            let value = state.scheduled_json(&scheduled);
            state.scheduled.push(scheduled);
            value
        }
        None => {
            let id = state.publish(&text, now, media);
            let status = state.published.last().expect("just published");
            debug_assert_eq!(status.id, id);
            state.status_json(status)
        }
    };
    if let Some(key) = &call.key {
        state.keys.insert(
            key.clone(),
            Remembered {
                at: now,
                status: 200,
                value: answer.clone(),
            },
        );
    }
    if state.lose_next_answers > 0 {
        state.lose_next_answers -= 1;
        return error(502, "Bad gateway");
    }
    (200, Vec::new(), answer)
}

/// A status's text as Mastodon renders it: escaped, paragraphs on blank
/// lines, `<br />` for single newlines, hashtags and links made links.
pub fn html(text: &str) -> String {
    let mut paragraphs: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
        .iter()
        .map(|lines| {
            let lines: Vec<String> = lines.iter().map(|line| inline(line)).collect();
            format!("<p>{}</p>", lines.join("<br />"))
        })
        .collect()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One line: its links, then its hashtags, the rest escaped.
fn inline(line: &str) -> String {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    let mut out = String::new();
    let mut last = 0;
    for link in finder.links(line) {
        out.push_str(&hashtags(&line[last..link.start()]));
        let url = link.as_str();
        let scheme = url.find("://").map_or(0, |i| i + 3);
        let prefix = if url[scheme..].starts_with("www.") {
            scheme + 4
        } else {
            scheme
        };
        out.push_str(&format!(
            "<a href=\"{}\" target=\"_blank\" rel=\"nofollow noopener\" translate=\"no\"><span class=\"invisible\">{}</span><span class=\"\">{}</span><span class=\"invisible\"></span></a>",
            escape(url),
            escape(&url[..prefix]),
            escape(&url[prefix..])
        ));
        last = link.end();
    }
    out.push_str(&hashtags(&line[last..]));
    out
}

/// Hashtags made links: `#` after a space or punctuation, then word
/// characters, at least one a letter.
fn hashtags(text: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut plain = 0;
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let starts = c == '#' && previous.is_none_or(|p| !word(p) && p != '/' && p != ')');
        if starts {
            let rest = &text[i + 1..];
            let end = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
            let tag = &rest[..end];
            if tag.chars().any(char::is_alphabetic) {
                out.push_str(&escape(&text[plain..i]));
                out.push_str(&format!(
                    "<a href=\"https://piaille.example/tags/{tag}\" class=\"mention hashtag\" rel=\"tag\">#<span>{tag}</span></a>"
                ));
                plain = i + 1 + end;
                while chars.peek().is_some_and(|(j, _)| *j < plain) {
                    chars.next();
                }
                previous = tag.chars().last();
                continue;
            }
        }
        previous = Some(c);
    }
    out.push_str(&escape(&text[plain..]));
    out
}

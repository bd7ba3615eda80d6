//! Buffer's GraphQL API.
//!
//! One HTTP function sends every request and turns every way it can go
//! wrong into a [`PublishError`]: the body is read whatever the HTTP status
//! (Buffer puts typed errors inside HTTP 200), 429 waits for the delay
//! Buffer gives (`extensions.retryAfter`, `Retry-After` or `RateLimit`'s
//! `t=`), server errors, `UNEXPECTED` and network faults are retried with
//! capped exponential backoff and jitter, 401 stops the pass with a word
//! about the key, and `GRAPHQL_VALIDATION_FAILED` is reported with the
//! request as the bug it is. The API key is sent in the `Authorization`
//! header (marked sensitive) and nowhere else: no error, log or file ever
//! holds it. Requests go through the shared client of [`crate::net`], each
//! with the configured `timeout`; the `Publisher` trait stays synchronous,
//! so each exchange runs with [`net::block_on`].

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::net;
use crieur_core::budget::Budget;
use crieur_core::network::Network;
use crieur_core::publisher::{
    Engagements, Outgoing, PublishError, Publisher, Reading, RemoteChannel, RemotePost,
    RemoteStatus, Report, SentPost,
};
use crieur_core::ratelimit;

/// The environment variable that holds the API key.
pub const TOKEN_VARIABLE: &str = "CRIEUR_BUFFER_TOKEN";

pub const CREATE_POST: &str = "mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id status dueAt channelId } }
    ... on MutationError { message }
  }
}";

pub const EDIT_POST: &str = "mutation EditPost($input: EditPostInput!) {
  editPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id status dueAt channelId } }
    ... on MutationError { message }
  }
}";

pub const DELETE_POST: &str = "mutation DeletePost($input: DeletePostInput!) {
  deletePost(input: $input) {
    __typename
    ... on DeletePostSuccess { id }
    ... on MutationError { message }
  }
}";

pub const POST: &str = "query Post($input: PostInput!) {
  post(input: $input) { id status dueAt sentAt error { message } }
}";

pub const POSTS: &str = "query Posts($input: PostsInput!, $first: Int, $after: String) {
  posts(input: $input, first: $first, after: $after) {
    edges { node { id text dueAt status channelId error { message } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// The sent posts of a listing with their figures: what `Post.metrics`
/// holds (refreshed by Buffer once a day; null until first computed).
pub const POST_METRICS: &str =
    "query PostMetrics($input: PostsInput!, $first: Int, $after: String) {
  posts(input: $input, first: $first, after: $after) {
    edges { node { id status metrics { type value } metricsUpdatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}";

pub const ORGANIZATIONS: &str = "query Organizations {
  account { organizations { id name } }
}";

pub const CHANNELS: &str = "query Channels($input: ChannelsInput!) {
  channels(input: $input) { id name service isDisconnected isLocked isQueuePaused timezone }
}";

/// How the client behaves on the wire.
#[derive(Debug, Clone)]
pub struct Options {
    /// For one request, connection to answer.
    pub timeout: Duration,
    /// Tries of one request before its fault is reported.
    pub attempts: u32,
    /// The first backoff; doubled at each try, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Waits Buffer asks for up to this are waited out within the call;
    /// longer ones end the pass.
    pub max_inline_wait: Duration,
    /// The request budget of the API key.
    pub budget: Budget,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(30),
            attempts: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_inline_wait: Duration::from_secs(60),
            budget: Budget::default(),
        }
    }
}

pub struct Buffer {
    endpoint: String,
    token: net::Secret,
    organization: String,
    options: Options,
    /// Requests made in the last day (this pass's included), real time.
    made: Vec<DateTime<Utc>>,
    /// Requests made since the store last recorded them.
    fresh: Vec<DateTime<Utc>>,
    /// An answer said no request is left until then.
    exhausted_until: Option<DateTime<Utc>>,
}

/// Reads the API key from the environment; a key that could not travel in
/// an HTTP header is refused here, before anything is sent.
pub fn token() -> Result<net::Secret, PublishError> {
    let token = std::env::var(TOKEN_VARIABLE).unwrap_or_default();
    let token = token.trim();
    if token.is_empty() {
        return Err(PublishError::Unauthorized(format!(
            "la clé d'API Buffer manque : définissez la variable d'environnement {TOKEN_VARIABLE} (Buffer > Réglages > API)"
        )));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(PublishError::Unauthorized(format!(
            "la clé d'API Buffer de {TOKEN_VARIABLE} est mal formée (elle contient un espace, un retour à la ligne ou un caractère non ASCII) : recopiez-la depuis Buffer > Réglages > API ; rien n'a été envoyé"
        )));
    }
    Ok(net::Secret::new(token))
}

/// A GraphQL request, as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub query: &'static str,
    pub variables: Value,
}

impl Request {
    pub fn body(&self) -> Value {
        json!({ "query": self.query, "variables": self.variables })
    }
}

fn due_at(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The fields of `createPost` and `editPost` that carry the post.
fn post_fields(outgoing: &Outgoing) -> serde_json::Map<String, Value> {
    let mut input = serde_json::Map::new();
    input.insert("schedulingType".into(), json!("automatic"));
    input.insert("mode".into(), json!("customScheduled"));
    input.insert("dueAt".into(), json!(due_at(outgoing.at)));
    input.insert("text".into(), json!(outgoing.text));
    if let Some(url) = &outgoing.image_url {
        input.insert(
            "assets".into(),
            json!([{ "image": { "url": url, "metadata": { "altText": outgoing.alt } } }]),
        );
    }
    match outgoing.network {
        Network::Instagram => {
            input.insert(
                "metadata".into(),
                json!({ "instagram": { "type": "post", "shouldShareToFeed": true } }),
            );
        }
        Network::Facebook => {
            input.insert("metadata".into(), json!({ "facebook": { "type": "post" } }));
        }
        _ => {}
    }
    input
}

/// The request that queues a post.
pub fn create_request(outgoing: &Outgoing) -> Request {
    let mut input = post_fields(outgoing);
    input.insert(
        "channelId".into(),
        json!(outgoing.channel_remote_id.clone().unwrap_or_default()),
    );
    Request {
        query: CREATE_POST,
        variables: json!({ "input": input }),
    }
}

pub fn edit_request(remote_id: &str, outgoing: &Outgoing) -> Request {
    let mut input = post_fields(outgoing);
    input.insert("id".into(), json!(remote_id));
    Request {
        query: EDIT_POST,
        variables: json!({ "input": input }),
    }
}

pub fn delete_request(remote_id: &str) -> Request {
    Request {
        query: DELETE_POST,
        variables: json!({ "input": { "id": remote_id } }),
    }
}

/// What went wrong with one try.
enum Fault {
    /// Give up: the error is final.
    Final(PublishError),
    /// Try again after the backoff.
    Retry(PublishError),
    /// Try again after this wait (a short rate limit).
    Wait(Duration, PublishError),
}

/// Statuses a listing asks for: every one, so that a post missing from it
/// is known to be gone.
const ALL_STATUSES: [&str; 6] = [
    "draft",
    "needs_approval",
    "scheduled",
    "sending",
    "sent",
    "error",
];

/// Buffer's largest page.
const PAGE: usize = 100;

impl Buffer {
    pub fn new(
        endpoint: &str,
        token: net::Secret,
        organization: &str,
        options: Options,
        made: Vec<DateTime<Utc>>,
    ) -> Buffer {
        Buffer {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token,
            organization: organization.to_owned(),
            options,
            made,
            fresh: Vec::new(),
            exhausted_until: None,
        }
    }

    /// The instant the next request may leave: the budget and the last
    /// answers' hints both agree.
    fn free_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let budget = self.options.budget.next_free(&self.made, now);
        budget.max(self.exhausted_until.unwrap_or(now))
    }

    /// Sends a request, retrying what may pass; returns the `data` object.
    /// `idempotent` requests are retried after an unclear outcome too.
    pub fn send(&mut self, request: &Request, idempotent: bool) -> Result<Value, PublishError> {
        let mut backoff = self.options.backoff;
        let mut tries = 0;
        loop {
            let now = crate::clock::now();
            let free = self.free_at(now);
            if free > now {
                return Err(rate_limited(free));
            }
            tries += 1;
            self.made.push(now);
            self.fresh.push(now);
            let fault = match self.try_once(request) {
                Ok(data) => return Ok(data),
                Err(fault) => fault,
            };
            match fault {
                Fault::Final(error) => return Err(error),
                Fault::Wait(wait, error) => {
                    if wait > self.options.max_inline_wait
                        || tries >= self.options.attempts * 2
                        || net::stopping()
                    {
                        return Err(match error {
                            PublishError::RateLimited { .. } => {
                                rate_limited(crate::clock::now() + to_chrono(wait))
                            }
                            other => other,
                        });
                    }
                    if !net::pause(wait) {
                        return Err(match error {
                            PublishError::RateLimited { .. } => {
                                rate_limited(crate::clock::now() + to_chrono(wait))
                            }
                            other => other,
                        });
                    }
                }
                Fault::Retry(error) => {
                    let unclear = matches!(error, PublishError::Unclear(_));
                    if (unclear && !idempotent) || tries >= self.options.attempts || net::stopping()
                    {
                        return Err(error);
                    }
                    if !net::pause(jitter(backoff)) {
                        return Err(error);
                    }
                    backoff = (backoff * 2).min(self.options.max_backoff);
                }
            }
        }
    }

    /// One exchange with Buffer, on the shared HTTP client. A stop asked
    /// while it runs lets it finish within [`net::STOP_GRACE`]; past that
    /// it is abandoned, its outcome unclear.
    fn try_once(&mut self, request: &Request) -> Result<Value, Fault> {
        let mut authorization =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
                .map_err(|_| {
                    Fault::Final(PublishError::Transient(
                        "requête impossible à envoyer (clé d'API mal formée)".into(),
                    ))
                })?;
        authorization.set_sensitive(true);
        let call = net::client()
            .post(&self.endpoint)
            .timeout(self.options.timeout)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(request.body().to_string());
        let net::Exchange {
            status,
            headers,
            body,
        } = net::exchange(call, MAX_ANSWER).map_err(|failed| match failed {
            net::Failed::Send(error) | net::Failed::Body(net::BodyError::Read(error)) => {
                network_fault(&error)
            }
            net::Failed::Body(too_long) => Fault::Retry(PublishError::Unclear(format!(
                "réponse illisible de Buffer ({too_long})"
            ))),
            net::Failed::Abandoned => Fault::Final(PublishError::Unclear(
                "arrêt demandé pendant l'appel à Buffer".into(),
            )),
        })?;
        let text = String::from_utf8_lossy(&body);
        let now = crate::clock::now();
        if let Some(until) = ratelimit::exhausted(&headers, now) {
            self.exhausted_until = Some(until);
        }
        answer(status, &headers, &text, request, now)
    }

    /// The organisations of the account, with their channels.
    pub fn account(&mut self) -> Result<Vec<(String, String, Vec<RemoteChannel>)>, PublishError> {
        let request = Request {
            query: ORGANIZATIONS,
            variables: json!({}),
        };
        let data = self.send(&request, true)?;
        let organizations = data
            .pointer("/account/organizations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for organization in organizations {
            let id = organization["id"].as_str().unwrap_or_default().to_owned();
            let name = organization["name"].as_str().unwrap_or_default().to_owned();
            let channels = self.organization_channels(&id)?;
            out.push((id, name, channels));
        }
        Ok(out)
    }

    fn organization_channels(
        &mut self,
        organization: &str,
    ) -> Result<Vec<RemoteChannel>, PublishError> {
        let request = Request {
            query: CHANNELS,
            variables: json!({ "input": { "organizationId": organization } }),
        };
        let data = self.send(&request, true)?;
        let channels = data["channels"].as_array().cloned().unwrap_or_default();
        Ok(channels
            .iter()
            .map(|channel| RemoteChannel {
                id: channel["id"].as_str().unwrap_or_default().to_owned(),
                name: channel["name"].as_str().unwrap_or_default().to_owned(),
                service: channel["service"].as_str().unwrap_or_default().to_owned(),
                disconnected: channel["isDisconnected"].as_bool().unwrap_or(false),
                locked: channel["isLocked"].as_bool().unwrap_or(false),
                paused: channel["isQueuePaused"].as_bool().unwrap_or(false),
            })
            .collect())
    }

    /// The posts of some channels between two instants, page after page, at
    /// most `pages` pages; says whether the listing is complete.
    fn posts(
        &mut self,
        channels: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        pages: usize,
    ) -> Result<(Vec<RemotePost>, bool), PublishError> {
        let margin = chrono::Duration::minutes(1);
        let mut after: Option<String> = None;
        let mut posts = Vec::new();
        for _ in 0..pages {
            let request = posts_request(
                &self.organization,
                channels,
                from - margin,
                until + margin,
                after.as_deref(),
            );
            let data = self.send(&request, true)?;
            let edges = data
                .pointer("/posts/edges")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            posts.extend(edges.iter().filter_map(|edge| remote_post(&edge["node"])));
            let page = data.pointer("/posts/pageInfo");
            let more = page
                .and_then(|p| p["hasNextPage"].as_bool())
                .unwrap_or(false);
            after = page
                .and_then(|p| p["endCursor"].as_str())
                .map(str::to_owned);
            if !more || after.is_none() {
                return Ok((posts, true));
            }
        }
        Ok((posts, false))
    }
}

/// The longest answer read: Buffer's are a few kilobytes.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

fn to_chrono(wait: Duration) -> chrono::Duration {
    chrono::Duration::from_std(wait).unwrap_or_else(|_| ratelimit::max_wait())
}

fn rate_limited(until: DateTime<Utc>) -> PublishError {
    PublishError::RateLimited {
        until,
        message: format!(
            "limite de requêtes Buffer atteinte : reprise le {}",
            until
                .with_timezone(&chrono_tz::Europe::Paris)
                .format("%d/%m/%Y à %H:%M")
        ),
    }
}

/// The `posts` query of a listing.
pub fn posts_request(
    organization: &str,
    channels: &[String],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    after: Option<&str>,
) -> Request {
    Request {
        query: POSTS,
        variables: json!({
            "input": {
                "organizationId": organization,
                "filter": {
                    "channelIds": channels,
                    "status": ALL_STATUSES,
                    "dueAt": { "start": due_at(from), "end": due_at(until) }
                },
                "sort": [{ "field": "dueAt", "direction": "asc" }]
            },
            "first": PAGE,
            "after": after,
        }),
    }
}

/// The `PostMetrics` query of a listing of sent posts.
pub fn metrics_request(
    organization: &str,
    channels: &[String],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    after: Option<&str>,
) -> Request {
    let mut request = posts_request(organization, channels, from, until, after);
    request.query = POST_METRICS;
    request.variables["input"]["filter"]["status"] = json!(["sent"]);
    request
}

/// A post's figures, when Buffer has computed them.
fn figures(node: &Value) -> Option<crieur_core::report::Figures> {
    let metrics: Vec<(String, f64)> = node["metrics"]
        .as_array()?
        .iter()
        .filter_map(|metric| {
            Some((
                metric["type"].as_str()?.to_owned(),
                metric["value"].as_f64()?,
            ))
        })
        .collect();
    Some(crieur_core::report::Figures::from_buffer(&metrics))
}

impl Buffer {
    /// How many requests reading figures may take now: half of what is
    /// left in the tightest window, so that publishing keeps the rest.
    fn spare(&self, now: DateTime<Utc>) -> usize {
        let left = self
            .options
            .budget
            .left(&self.made, now)
            .iter()
            .map(|(_, left)| *left)
            .min()
            .unwrap_or(0);
        usize::try_from(left / 2).unwrap_or(0)
    }

    /// The figures of sent posts, from listings of the sent posts of their
    /// channels and time span, pages of a hundred, within the budget's
    /// spare requests. A post missing from a whole listing is gone.
    fn read_engagement(&mut self, posts: &[SentPost]) -> Result<Engagements, PublishError> {
        let mut found = Engagements::default();
        let (Some(from), Some(until)) = (
            posts.iter().map(|p| p.at).min(),
            posts.iter().map(|p| p.at).max(),
        ) else {
            return Ok(found);
        };
        let mut channels: Vec<String> = posts
            .iter()
            .map(|p| p.channel_remote_id.clone())
            .filter(|c| !c.is_empty())
            .collect();
        channels.sort();
        channels.dedup();
        let pages = (posts.len().div_ceil(PAGE) + 2).min(self.spare(crate::clock::now()));
        if pages == 0 {
            return Err(PublishError::Transient(
                "limite de requêtes Buffer presque atteinte : les chiffres seront relus plus tard"
                    .to_owned(),
            ));
        }
        let margin = chrono::Duration::minutes(1);
        let mut after: Option<String> = None;
        let mut listed = std::collections::BTreeSet::new();
        for _ in 0..pages {
            let request = metrics_request(
                &self.organization,
                &channels,
                from - margin,
                until + margin,
                after.as_deref(),
            );
            let data = self.send(&request, true)?;
            for edge in data
                .pointer("/posts/edges")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let node = &edge["node"];
                let Some(id) = node["id"].as_str() else {
                    continue;
                };
                listed.insert(id.to_owned());
                if let Some(figures) = figures(node) {
                    found.read.insert(id.to_owned(), Reading::Figures(figures));
                }
            }
            let page = data.pointer("/posts/pageInfo");
            after = page
                .and_then(|p| p["endCursor"].as_str())
                .map(str::to_owned);
            let more = page.and_then(|p| p["hasNextPage"].as_bool()) == Some(true);
            if !more || after.is_none() {
                for post in posts.iter().filter(|p| !listed.contains(&p.remote_id)) {
                    found.read.insert(post.remote_id.clone(), Reading::Gone);
                }
                return Ok(found);
            }
        }
        Ok(found)
    }
}

/// One post of a listing.
fn remote_post(node: &Value) -> Option<RemotePost> {
    Some(RemotePost {
        id: node["id"].as_str()?.to_owned(),
        channel_remote_id: node["channelId"].as_str().unwrap_or_default().to_owned(),
        at: node["dueAt"]
            .as_str()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|at| at.with_timezone(&Utc)),
        text: node["text"].as_str().unwrap_or_default().to_owned(),
        status: match node["status"].as_str().unwrap_or_default() {
            "sent" => RemoteStatus::Sent,
            "sending" => RemoteStatus::Sending,
            "draft" => RemoteStatus::Draft,
            "needs_approval" => RemoteStatus::NeedsApproval,
            "error" => RemoteStatus::Failed(
                node.pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("erreur de publication")
                    .to_owned(),
            ),
            _ => RemoteStatus::Scheduled,
        },
    })
}

/// Reads one answer, whatever its HTTP status: Buffer puts typed errors
/// inside HTTP 200, and proxies answer with HTML.
fn answer(
    status: u16,
    headers: &[(String, String)],
    text: &str,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Value, Fault> {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let first_error = |field: &str| {
        parsed
            .as_ref()
            .and_then(|value| value.pointer(&format!("/errors/0/{field}")))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let code = first_error("extensions/code").unwrap_or_default();
    let message = first_error("message");
    let detail = || message.clone().unwrap_or_else(|| format!("HTTP {status}"));
    if status == 429 || code == "RATE_LIMIT_EXCEEDED" {
        let error = |wait: chrono::Duration| rate_limited(now + wait);
        return Err(match ratelimit::wait_asked(headers, parsed.as_ref(), now) {
            Some(wait) => Fault::Wait(wait.to_std().unwrap_or_default(), error(wait)),
            // No hint: back off, with jitter.
            None => Fault::Retry(PublishError::Transient(format!(
                "Buffer limite les requêtes ({})",
                detail()
            ))),
        });
    }
    if status == 401 || code == "UNAUTHENTICATED" || code == "UNAUTHORIZED" {
        return Err(Fault::Final(PublishError::Unauthorized(format!(
            "Buffer refuse la clé d'API ({}) : vérifiez la variable {TOKEN_VARIABLE} (clé créée dans les réglages de Buffer, ni expirée ni révoquée)",
            detail()
        ))));
    }
    if code == "GRAPHQL_VALIDATION_FAILED" {
        return Err(Fault::Final(PublishError::Bug {
            message: format!(
                "Buffer refuse la requête comme invalide ({}) : c'est une erreur de crieur, à signaler",
                detail()
            ),
            request: request.body().to_string(),
        }));
    }
    if status == 400 && parsed.is_some() {
        return Err(Fault::Final(PublishError::Refused {
            kind: "InvalidInputError".into(),
            message: detail(),
        }));
    }
    if status >= 500 || code == "UNEXPECTED" || parsed.is_none() {
        // The request arrived, the answer is unusable: whether Buffer acted
        // is unknown.
        let shown: String = text.chars().take(80).collect();
        return Err(Fault::Retry(PublishError::Unclear(format!(
            "réponse illisible de Buffer (HTTP {status}{})",
            message.as_ref().map_or_else(
                || if shown.trim().is_empty() {
                    ", vide".to_owned()
                } else {
                    String::new()
                },
                |m| format!(", {m}")
            )
        ))));
    }
    if code == "FORBIDDEN" {
        return Err(Fault::Final(PublishError::Refused {
            kind: "Accès refusé".into(),
            message: detail(),
        }));
    }
    if code == "NOT_FOUND" {
        return Err(Fault::Final(PublishError::NotFound(detail())));
    }
    let data = parsed.and_then(|mut value| value.get_mut("data").map(Value::take));
    match data {
        Some(data) if !data.is_null() => Ok(data),
        _ => Err(Fault::Retry(PublishError::Unclear(format!(
            "réponse de Buffer sans données ({})",
            detail()
        )))),
    }
}

/// Reads a mutation's payload: the success, or the typed error.
fn payload(data: &Value, field: &str) -> Result<Value, PublishError> {
    let payload = &data[field];
    let typename = payload["__typename"].as_str().unwrap_or_default();
    let message = payload["message"].as_str().unwrap_or_default().to_owned();
    match typename {
        "PostActionSuccess" | "DeletePostSuccess" => Ok(payload.clone()),
        "NotFoundError" => Err(PublishError::NotFound(message)),
        // deletePost answers a post already gone with a void error.
        "VoidMutationError" if message.to_lowercase().contains("not found") => {
            Err(PublishError::NotFound(message))
        }
        "LimitReachedError" => Err(PublishError::QueueFull(message)),
        "UnauthorizedError" => Err(PublishError::Unauthorized(format!(
            "Buffer refuse l'accès ({message}) : vérifiez la variable {TOKEN_VARIABLE} et les droits du compte sur ce canal"
        ))),
        "UnexpectedError" => Err(PublishError::Transient(format!(
            "erreur inattendue chez Buffer : {message}"
        ))),
        "" => Err(PublishError::Unclear(
            "réponse de Buffer sans type".to_owned(),
        )),
        other => Err(PublishError::Refused {
            kind: other.to_owned(),
            message: if message.is_empty() {
                "réponse illisible".to_owned()
            } else {
                message
            },
        }),
    }
}

/// Whether a transport error happened before the request left (safe to
/// retry) or after (the outcome is unclear).
fn network_fault(error: &reqwest::Error) -> Fault {
    let text = net::describe(error);
    if error.is_builder() {
        // The request could not be written at all: nothing left.
        Fault::Final(PublishError::Transient(format!(
            "requête impossible à envoyer ({text})"
        )))
    } else if error.is_connect() {
        // No connection (refused, unknown host, connect timeout, TLS):
        // nothing was sent.
        Fault::Retry(PublishError::Transient(format!(
            "Buffer injoignable ({text}) ; nouvel essai plus tard"
        )))
    } else {
        Fault::Retry(PublishError::Unclear(format!(
            "pas de réponse de Buffer ({text})"
        )))
    }
}

/// A backoff with ±25 % jitter, so that retries do not fall in step.
fn jitter(backoff: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // Randomly keyed per process and per call: noise, not time.
    let noise = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let factor = 0.75 + (noise % 1000) as f64 / 2000.0;
    backoff.mul_f64(factor)
}

impl Publisher for Buffer {
    fn name(&self) -> &'static str {
        "Buffer"
    }

    fn fetches_images(&self) -> bool {
        true
    }

    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
        let data = self.send(&create_request(outgoing), false)?;
        let payload = payload(&data, "createPost")?;
        payload
            .pointer("/post/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| PublishError::Unclear("réponse de Buffer sans identifiant".into()))
    }

    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        let data = self.send(&edit_request(remote_id, outgoing), true)?;
        payload(&data, "editPost").map(|_| ())
    }

    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError> {
        let data = self.send(&delete_request(remote_id), true)?;
        payload(&data, "deletePost").map(|_| ())
    }

    fn list(
        &mut self,
        channels: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<RemotePost>, PublishError> {
        self.posts(channels, from, until, 20)
            .map(|(posts, _)| posts)
    }

    /// Buffer has no idempotency key: its writes are recorded too, so that
    /// a create cut short is found again by channel, instant and text, even
    /// when the post is edited before the next pass.
    fn tracks_writes(&self, _channel: &str) -> bool {
        true
    }

    /// Buffer's channel, then the hash of the text (as Buffer may rewrite
    /// it: links shortened, spaces normalised).
    fn token(&self, outgoing: &Outgoing, _attempt: i64) -> String {
        format!(
            "{}|{}",
            outgoing.channel_remote_id.clone().unwrap_or_default(),
            crieur_core::publisher::text_hash(&outgoing.text)
        )
    }

    fn locate(
        &mut self,
        write: &crieur_core::delivery::Write,
        taken: &[String],
    ) -> Result<Option<String>, PublishError> {
        let Some((channel, text)) = write.token.split_once('|') else {
            return Ok(None);
        };
        if channel.is_empty() {
            return Ok(None);
        }
        let at = write.key.at;
        Ok(self
            .list(&[channel.to_owned()], at, at)?
            .into_iter()
            .find(|post| {
                post.at == Some(at)
                    && crieur_core::publisher::text_hash(&post.text) == text
                    && !taken.contains(&post.id)
            })
            .map(|post| post.id))
    }

    fn report(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError> {
        let Some(from) = remote_ids.iter().map(|r| r.2).min() else {
            return Ok(Report {
                complete: true,
                ..Report::default()
            });
        };
        let until = remote_ids.iter().map(|r| r.2).max().unwrap_or(from);
        let mut channels: Vec<String> = remote_ids.iter().map(|r| r.1.clone()).collect();
        channels.sort();
        channels.dedup();
        // Others' posts share the window: a little room beyond one page a
        // hundred deliveries.
        let pages = remote_ids.len().div_ceil(PAGE) + 2;
        let (posts, complete) = self.posts(&channels, from, until, pages)?;
        let mut report = Report {
            complete,
            ..Report::default()
        };
        for (id, _, _) in remote_ids {
            match posts.iter().find(|post| &post.id == id) {
                Some(post) => {
                    report.posts.insert(id.clone(), post.status.clone());
                }
                None if complete => {
                    report.posts.insert(id.clone(), RemoteStatus::Missing);
                }
                None => {}
            }
        }
        Ok(report)
    }

    fn channels(&mut self) -> Result<Option<Vec<RemoteChannel>>, PublishError> {
        let organization = self.organization.clone();
        self.organization_channels(&organization).map(Some)
    }

    fn engagement(&mut self, posts: &[SentPost]) -> Result<Engagements, PublishError> {
        self.read_engagement(posts)
    }

    fn take_requests(&mut self) -> Vec<DateTime<Utc>> {
        std::mem::take(&mut self.fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn outgoing(network: Network) -> Outgoing {
        Outgoing {
            post_id: "chiffre/a".into(),
            channel: "instagram".into(),
            channel_remote_id: Some("chan-ig".into()),
            network,
            at: Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap(),
            text: "Bonjour".into(),
            alt: "Le chiffre".into(),
            image: Vec::new(),
            image_url: Some("https://cpts.example/i/abc.png".into()),
            token: None,
        }
    }

    #[test]
    fn creates_with_assets_as_an_array_and_instagram_metadata() {
        let request = create_request(&outgoing(Network::Instagram));
        insta::assert_json_snapshot!(request.variables, @r#"
        {
          "input": {
            "assets": [
              {
                "image": {
                  "metadata": {
                    "altText": "Le chiffre"
                  },
                  "url": "https://cpts.example/i/abc.png"
                }
              }
            ],
            "channelId": "chan-ig",
            "dueAt": "2026-12-01T18:00:00.000Z",
            "metadata": {
              "instagram": {
                "shouldShareToFeed": true,
                "type": "post"
              }
            },
            "mode": "customScheduled",
            "schedulingType": "automatic",
            "text": "Bonjour"
          }
        }
        "#);
    }

    #[test]
    fn linkedin_takes_no_metadata() {
        let request = create_request(&outgoing(Network::Linkedin));
        assert!(request.variables["input"].get("metadata").is_none());
    }

    #[test]
    fn a_garbled_answer_is_unclear_and_a_full_queue_waits() {
        let request = create_request(&outgoing(Network::Facebook));
        let now = crate::clock::now();
        for (status, body) in [
            (200, "{\"data\": {\"createPo"),
            (502, "<html>Bad Gateway</html>"),
            (200, ""),
            (200, "<html></html>"),
        ] {
            let fault = answer(status, &[], body, &request, now).err().unwrap();
            assert!(
                matches!(fault, Fault::Retry(PublishError::Unclear(_))),
                "HTTP {status} {body}"
            );
        }
        let data =
            json!({"createPost": {"__typename": "LimitReachedError", "message": "Queue full"}});
        assert!(matches!(
            payload(&data, "createPost"),
            Err(PublishError::QueueFull(_))
        ));
        let data =
            json!({"deletePost": {"__typename": "VoidMutationError", "message": "Post not found"}});
        assert!(matches!(
            payload(&data, "deletePost"),
            Err(PublishError::NotFound(_))
        ));
    }

    #[test]
    fn a_long_wait_ends_the_call_and_a_short_one_is_waited_out() {
        let request = create_request(&outgoing(Network::Facebook));
        let now = crate::clock::now();
        let headers = vec![("Retry-After".to_owned(), "3600".to_owned())];
        let Err(Fault::Wait(wait, PublishError::RateLimited { until, .. })) =
            answer(429, &headers, "{}", &request, now)
        else {
            panic!("a rate limit");
        };
        assert_eq!(wait, Duration::from_secs(3600));
        assert_eq!(until, now + chrono::Duration::hours(1));
        assert!(matches!(
            answer(429, &[], "{}", &request, now),
            Err(Fault::Retry(PublishError::Transient(_)))
        ));
    }

    #[test]
    fn reads_typed_errors() {
        let data = json!({"createPost": {"__typename": "InvalidInputError", "message": "Text is required"}});
        let error = payload(&data, "createPost").unwrap_err();
        assert_eq!(
            error,
            PublishError::Refused {
                kind: "InvalidInputError".into(),
                message: "Text is required".into()
            }
        );
    }
}

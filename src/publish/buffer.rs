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
//! header and nowhere else: no error, log or file ever holds it.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Outgoing, PublishError, Publisher, RemoteStatus};
use crate::network::Network;

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
    edges { node { id text dueAt status channelId } }
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
    /// The longest wait a rate limit may impose on one request.
    pub max_rate_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(30),
            attempts: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_rate_wait: Duration::from_secs(20 * 60),
        }
    }
}

pub struct Buffer {
    endpoint: String,
    token: String,
    organization: String,
    options: Options,
    agent: ureq::Agent,
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
    /// Try again after this wait (rate limit).
    Wait(Duration, PublishError),
}

impl Buffer {
    pub fn new(endpoint: &str, token: String, organization: &str, options: Options) -> Buffer {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .http_status_as_error(false)
            .user_agent(format!("crieur/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Buffer {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token,
            organization: organization.to_owned(),
            options,
            agent,
        }
    }

    /// Sends a request, retrying what may pass; returns the `data` object.
    /// `idempotent` requests are retried after an unclear outcome too.
    pub fn send(&self, request: &Request, idempotent: bool) -> Result<Value, PublishError> {
        let mut backoff = self.options.backoff;
        let mut waited = Duration::ZERO;
        let mut tries = 0;
        loop {
            tries += 1;
            let fault = match self.try_once(request) {
                Ok(data) => return Ok(data),
                Err(fault) => fault,
            };
            match fault {
                Fault::Final(error) => return Err(error),
                Fault::Wait(wait, error) => {
                    waited += wait;
                    if waited > self.options.max_rate_wait {
                        return Err(error);
                    }
                    std::thread::sleep(wait);
                }
                Fault::Retry(error) => {
                    let unclear = matches!(error, PublishError::Unclear(_));
                    if (unclear && !idempotent) || tries >= self.options.attempts {
                        return Err(error);
                    }
                    std::thread::sleep(jitter(backoff));
                    backoff = (backoff * 2).min(self.options.max_backoff);
                }
            }
        }
    }

    fn try_once(&self, request: &Request) -> Result<Value, Fault> {
        let body = request.body().to_string();
        let response = self
            .agent
            .post(&self.endpoint)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(&body);
        let mut response = match response {
            Ok(response) => response,
            Err(error) => return Err(network_fault(&error)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = match response.body_mut().read_to_string() {
            Ok(text) => text,
            Err(error) => return Err(network_fault(&error)),
        };
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let code = parsed
            .as_ref()
            .and_then(|value| value.pointer("/errors/0/extensions/code"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let message = parsed
            .as_ref()
            .and_then(|value| value.pointer("/errors/0/message"))
            .and_then(Value::as_str)
            .map(str::to_owned);

        if status == 429 || code == "RATE_LIMIT_EXCEEDED" {
            let wait = retry_after(parsed.as_ref(), &headers).unwrap_or(Duration::from_secs(60));
            return Err(Fault::Wait(
                wait,
                PublishError::Transient(format!(
                    "limite de requêtes Buffer atteinte ; nouvel essai dans {} s",
                    wait.as_secs()
                )),
            ));
        }
        if status == 401 || code == "UNAUTHENTICATED" || code == "UNAUTHORIZED" {
            return Err(Fault::Final(PublishError::Unauthorized(format!(
                "Buffer refuse la clé d'API ({}) : vérifiez la variable {TOKEN_VARIABLE} (clé créée dans les réglages de Buffer, ni expirée ni révoquée)",
                message.unwrap_or_else(|| format!("HTTP {status}"))
            ))));
        }
        if code == "GRAPHQL_VALIDATION_FAILED" || (status == 400 && parsed.is_some()) {
            return Err(Fault::Final(PublishError::Bug {
                message: format!(
                    "Buffer refuse la requête comme invalide ({}) : c'est une erreur de crieur, à signaler",
                    message.unwrap_or_else(|| format!("HTTP {status}"))
                ),
                request: request.body().to_string(),
            }));
        }
        if status >= 500 || code == "UNEXPECTED" || parsed.is_none() {
            let detail = message.unwrap_or_else(|| format!("HTTP {status}"));
            return Err(Fault::Retry(PublishError::Transient(format!(
                "Buffer est en difficulté ({detail}) ; nouvel essai plus tard"
            ))));
        }
        if code == "FORBIDDEN" {
            return Err(Fault::Final(PublishError::Refused {
                kind: "Accès refusé".into(),
                message: message.unwrap_or_default(),
            }));
        }
        if code == "NOT_FOUND" {
            return Err(Fault::Final(PublishError::NotFound(
                message.unwrap_or_default(),
            )));
        }
        let data = parsed.and_then(|mut value| value.get_mut("data").map(Value::take));
        match data {
            Some(data) if !data.is_null() => Ok(data),
            _ => Err(Fault::Retry(PublishError::Transient(format!(
                "réponse de Buffer sans données ({})",
                message.unwrap_or_else(|| format!("HTTP {status}"))
            )))),
        }
    }

    /// The organisations of the account, with their channels.
    pub fn channels(&self) -> Result<Vec<(String, String, Vec<Value>)>, PublishError> {
        let data = self.send(
            &Request {
                query: ORGANIZATIONS,
                variables: json!({}),
            },
            true,
        )?;
        let organizations = data
            .pointer("/account/organizations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for organization in organizations {
            let id = organization["id"].as_str().unwrap_or_default().to_owned();
            let name = organization["name"].as_str().unwrap_or_default().to_owned();
            let data = self.send(
                &Request {
                    query: CHANNELS,
                    variables: json!({ "input": { "organizationId": id } }),
                },
                true,
            )?;
            let channels = data["channels"].as_array().cloned().unwrap_or_default();
            out.push((id, name, channels));
        }
        Ok(out)
    }
}

/// Reads a mutation's payload: the success, or the typed error.
fn payload(data: &Value, field: &str) -> Result<Value, PublishError> {
    let payload = &data[field];
    let typename = payload["__typename"].as_str().unwrap_or_default();
    match typename {
        "PostActionSuccess" | "DeletePostSuccess" => Ok(payload.clone()),
        "NotFoundError" => Err(PublishError::NotFound(
            payload["message"].as_str().unwrap_or_default().to_owned(),
        )),
        "UnauthorizedError" => Err(PublishError::Unauthorized(format!(
            "Buffer refuse l'accès ({}) : vérifiez la variable {TOKEN_VARIABLE} et les droits du compte sur ce canal",
            payload["message"].as_str().unwrap_or_default()
        ))),
        "UnexpectedError" => Err(PublishError::Transient(format!(
            "erreur inattendue chez Buffer : {}",
            payload["message"].as_str().unwrap_or_default()
        ))),
        other => Err(PublishError::Refused {
            kind: error_kind(other),
            message: payload["message"]
                .as_str()
                .unwrap_or("réponse illisible")
                .to_owned(),
        }),
    }
}

/// Buffer's error type, in French.
fn error_kind(typename: &str) -> String {
    match typename {
        "InvalidInputError" => "Buffer refuse le post (donnée invalide)".to_owned(),
        "LimitReachedError" => "Buffer refuse le post (limite du compte atteinte)".to_owned(),
        "RestProxyError" => "Buffer refuse le post".to_owned(),
        "" => "Buffer a répondu sans type".to_owned(),
        other => format!("Buffer refuse le post ({other})"),
    }
}

/// Whether a transport error happened before the request left (safe to
/// retry) or after (the outcome is unclear).
fn network_fault(error: &ureq::Error) -> Fault {
    use ureq::Error;
    let text = error.to_string();
    match error {
        Error::ConnectionFailed | Error::HostNotFound => Fault::Retry(PublishError::Transient(
            format!("Buffer injoignable ({text}) ; nouvel essai plus tard"),
        )),
        Error::Timeout(timeout)
            if format!("{timeout:?}").contains("Connect")
                || format!("{timeout:?}").contains("Resolve") =>
        {
            Fault::Retry(PublishError::Transient(format!(
                "Buffer injoignable ({text}) ; nouvel essai plus tard"
            )))
        }
        Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Fault::Retry(PublishError::Transient(format!(
                "Buffer injoignable ({text}) ; nouvel essai plus tard"
            )))
        }
        _ => Fault::Retry(PublishError::Unclear(format!(
            "pas de réponse de Buffer ({text}) : la requête a peut-être abouti"
        ))),
    }
}

/// The wait a rate-limited answer asks for.
fn retry_after(body: Option<&Value>, headers: &ureq::http::HeaderMap) -> Option<Duration> {
    let from_body = body
        .and_then(|value| value.pointer("/errors/0/extensions/retryAfter"))
        .and_then(Value::as_f64);
    if let Some(seconds) = from_body {
        return Some(Duration::from_secs_f64(seconds.max(0.0)));
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(seconds) = header("retry-after").and_then(|value| value.trim().parse::<f64>().ok())
    {
        return Some(Duration::from_secs_f64(seconds.max(0.0)));
    }
    header("ratelimit").and_then(|value| {
        value.split(';').find_map(|part| {
            part.trim()
                .strip_prefix("t=")
                .and_then(|t| t.trim().parse::<f64>().ok())
                .map(|seconds| Duration::from_secs_f64(seconds.max(0.0)))
        })
    })
}

/// A backoff with ±25 % jitter, so that retries do not fall in step.
fn jitter(backoff: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    backoff.mul_f64(factor)
}

impl Publisher for Buffer {
    fn name(&self) -> &'static str {
        "Buffer"
    }

    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
        let data = self.send(&create_request(outgoing), false)?;
        let payload = payload(&data, "createPost")?;
        payload
            .pointer("/post/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| PublishError::Transient("réponse de Buffer sans identifiant".into()))
    }

    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        let data = self.send(&edit_request(remote_id, outgoing), true)?;
        payload(&data, "editPost").map(|_| ())
    }

    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError> {
        let data = self.send(&delete_request(remote_id), true)?;
        payload(&data, "deletePost").map(|_| ())
    }

    fn find(&mut self, outgoing: &Outgoing) -> Result<Option<String>, PublishError> {
        let margin = chrono::Duration::minutes(1);
        let mut after: Option<String> = None;
        loop {
            let request = Request {
                query: POSTS,
                variables: json!({
                    "input": {
                        "organizationId": self.organization,
                        "filter": {
                            "channelIds": [outgoing.channel_remote_id.clone().unwrap_or_default()],
                            "dueAt": { "start": due_at(outgoing.at - margin), "end": due_at(outgoing.at + margin) }
                        },
                        "sort": [{ "field": "dueAt", "direction": "asc" }]
                    },
                    "first": 50,
                    "after": after,
                }),
            };
            let data = self.send(&request, true)?;
            let edges = data
                .pointer("/posts/edges")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for edge in edges {
                let node = &edge["node"];
                let same_text = node["text"].as_str() == Some(outgoing.text.as_str());
                let same_time = node["dueAt"]
                    .as_str()
                    .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                    .is_some_and(|at| at.with_timezone(&Utc) == outgoing.at);
                if same_text && same_time {
                    return Ok(node["id"].as_str().map(str::to_owned));
                }
            }
            let page = data.pointer("/posts/pageInfo");
            let more = page
                .and_then(|page| page["hasNextPage"].as_bool())
                .unwrap_or(false);
            after = page
                .and_then(|page| page["endCursor"].as_str())
                .map(str::to_owned);
            if !more || after.is_none() {
                return Ok(None);
            }
        }
    }

    fn status(&mut self, remote_id: &str) -> Result<RemoteStatus, PublishError> {
        let request = Request {
            query: POST,
            variables: json!({ "input": { "id": remote_id } }),
        };
        let data = match self.send(&request, true) {
            Ok(data) => data,
            Err(PublishError::NotFound(_)) => return Ok(RemoteStatus::Missing),
            Err(error) => return Err(error),
        };
        let post = &data["post"];
        Ok(match post["status"].as_str().unwrap_or_default() {
            "sent" => RemoteStatus::Sent,
            "error" => RemoteStatus::Failed(
                post.pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("erreur de publication")
                    .to_owned(),
            ),
            "" => RemoteStatus::Missing,
            _ => RemoteStatus::Queued,
        })
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
    fn reads_every_kind_of_rate_limit_delay() {
        let mut headers = ureq::http::HeaderMap::new();
        let body = json!({"errors": [{"extensions": {"retryAfter": 3}}]});
        assert_eq!(
            retry_after(Some(&body), &headers),
            Some(Duration::from_secs(3))
        );
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(None, &headers), Some(Duration::from_secs(7)));
        headers.clear();
        headers.insert("ratelimit", "\"default\";r=0;t=42".parse().unwrap());
        assert_eq!(retry_after(None, &headers), Some(Duration::from_secs(42)));
    }

    #[test]
    fn reads_typed_errors() {
        let data = json!({"createPost": {"__typename": "InvalidInputError", "message": "Text is required"}});
        let error = payload(&data, "createPost").unwrap_err();
        assert_eq!(
            error,
            PublishError::Refused {
                kind: "Buffer refuse le post (donnée invalide)".into(),
                message: "Text is required".into()
            }
        );
    }
}

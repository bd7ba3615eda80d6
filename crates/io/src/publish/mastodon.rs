//! Mastodon: its REST API over the one client, when a post is scheduled
//! on the server, and the `Idempotency-Key` that makes every try of one version of a delivery
//! the same request.
//!
//! Mastodon schedules statuses itself (`scheduled_at`, at least five
//! minutes ahead) and remembers an `Idempotency-Key` for an hour: a create
//! retried with the same key gives back the status (or scheduled status)
//! of the first try instead of a second one. The key is a hash of the
//! delivery (post, channel, instant) and of its content, so an edited post
//! is a new request and an unchanged one never is.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::net;
use crieur_core::delivery::Key;
use crieur_core::publisher::{
    Outgoing, PublishError, Publisher, RemotePost, RemoteStatus, Report, text_hash,
};
use crieur_core::ratelimit;

/// Where the access token comes from.
pub const TOKEN_VARIABLE: &str = "CRIEUR_MASTODON_TOKEN";
/// The longest answer read from the instance.
const MAX_ANSWER: usize = 4 * 1024 * 1024;
/// How many times a create is sent again after a fault: safe, the
/// `Idempotency-Key` makes every try the same request.
const CREATE_TRIES: usize = 3;

/// The keys of the store's `meta` under which images still being processed
/// are remembered from one pass to the next.
pub const MEMO_PREFIX: &str = "memo.mastodon.";

/// The longest image description Mastodon takes, in characters.
pub const MAX_DESCRIPTION: usize = 1_500;

/// How far ahead Mastodon accepts `scheduled_at`.
pub fn min_schedule_ahead() -> Duration {
    Duration::minutes(5)
}

/// The margin kept over [`min_schedule_ahead`], for the time the request
/// takes to reach the server.
pub fn schedule_margin() -> Duration {
    Duration::seconds(30)
}

/// How a post reaches Mastodon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// Scheduled on the server now, for its instant.
    Schedule(DateTime<Utc>),
    /// Too close to schedule: sent as a plain status once its instant
    /// comes (by `publish` run then, or by the daemon).
    AtItsTime,
}

/// Whether a post at `at` is scheduled on the server at `now`.
pub fn sending(at: DateTime<Utc>, now: DateTime<Utc>) -> Sending {
    if at - now >= min_schedule_ahead() + schedule_margin() {
        Sending::Schedule(at)
    } else {
        Sending::AtItsTime
    }
}

/// The `Idempotency-Key` of one version of one delivery.
pub fn idempotency_key(key: &Key, content_hash: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        key.post_id.as_str(),
        key.channel.as_str(),
        &key.at.to_rfc3339(),
        content_hash,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("crieur-{}", hex(&digest[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The content hash of what a delivery sends: text, alt text and image.
pub fn content_hash(outgoing: &Outgoing) -> String {
    let mut hasher = Sha256::new();
    hasher.update(outgoing.text.as_bytes());
    hasher.update([0]);
    hasher.update(outgoing.alt.as_bytes());
    hasher.update([0]);
    hasher.update(&outgoing.image);
    hex(&hasher.finalize())
}

/// A Mastodon account, for one channel.
pub struct Mastodon {
    channel: String,
    instance: String,
    token: net::Secret,
    timeout: std::time::Duration,
    /// How long to wait between two looks at an image being processed.
    pub media_pause: std::time::Duration,
    /// How many looks at an image being processed before giving up.
    pub media_polls: usize,
    /// The longest one pass waits, all images together, for the instance
    /// to process them; past it, their posts wait for the next pass.
    pub media_budget: std::time::Duration,
    /// How long this pass has waited so far.
    media_waited: std::cell::Cell<std::time::Duration>,
    /// Images uploaded by an earlier pass whose processing was not over,
    /// by [`Mastodon::media_memo`] key: their media id, reused rather than
    /// uploaded again.
    memo: std::cell::RefCell<std::collections::BTreeMap<String, Option<String>>>,
    /// The public addresses of the statuses seen, by remote id.
    urls: std::collections::BTreeMap<String, String>,
}

/// What the instance answered.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

/// What a request carries.
enum Body {
    Empty,
    Json(Value),
    Multipart { boundary: String, bytes: Vec<u8> },
}

impl Mastodon {
    /// The token comes from [`TOKEN_VARIABLE`]; an empty one is reported
    /// at the first call, naming the channel.
    pub fn new(channel: &str, instance: &str, token: &str, timeout: std::time::Duration) -> Self {
        Mastodon {
            channel: channel.to_owned(),
            instance: instance.trim_end_matches('/').to_owned(),
            token: net::Secret::new(token.trim()),
            timeout,
            media_pause: std::time::Duration::from_secs(1),
            media_polls: 30,
            media_budget: std::time::Duration::from_secs(20),
            media_waited: std::cell::Cell::new(std::time::Duration::ZERO),
            memo: std::cell::RefCell::new(std::collections::BTreeMap::new()),
            urls: std::collections::BTreeMap::new(),
        }
    }

    /// The token is refused or missing: a clear message naming the channel.
    /// Only this channel's deliveries wait; the pass goes on.
    fn unauthorized(&self, why: &str) -> PublishError {
        PublishError::ChannelRefused(format!(
            "le canal Mastodon « {} » ne peut pas publier : {why} ; créez un jeton (Préférences > Développement, droits write:statuses et write:media) et placez-le dans la variable d'environnement {TOKEN_VARIABLE}",
            self.channel
        ))
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Body,
        idempotency: Option<&str>,
    ) -> Result<Answer, PublishError> {
        if self.token.is_empty() || !self.token.expose().chars().all(|c| c.is_ascii_graphic()) {
            return Err(self.unauthorized("le jeton manque ou est mal formé"));
        }
        let mut authorization =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
                .map_err(|_| self.unauthorized("le jeton est mal formé"))?;
        authorization.set_sensitive(true);
        let mut call = net::client()
            .request(method, format!("{}{path}", self.instance))
            .timeout(self.timeout)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(key) = idempotency {
            call = call.header("Idempotency-Key", key);
        }
        call = match body {
            Body::Empty => call,
            Body::Json(value) => call
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(value.to_string()),
            Body::Multipart { boundary, bytes } => call
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(bytes),
        };
        let unclear = |why: String| {
            PublishError::Unclear(format!("pas de réponse utilisable de Mastodon ({why})"))
        };
        let net::Exchange {
            status,
            headers,
            body,
        } = net::exchange(call, MAX_ANSWER).map_err(|failed| match failed {
            net::Failed::Send(error) => unclear(net::describe(&error)),
            net::Failed::Body(error) => unclear(error.to_string()),
            net::Failed::Abandoned => unclear("arrêt demandé".to_owned()),
        })?;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// An answer that is not a success, as an error.
    fn fault(&self, answer: &Answer) -> PublishError {
        let message = answer.body["error"]
            .as_str()
            .unwrap_or("réponse inattendue")
            .to_owned();
        match answer.status {
            401 | 403 => self.unauthorized(&format!("l'instance refuse le jeton ({message})")),
            404 => PublishError::NotFound(message),
            429 => {
                let now = crate::clock::now();
                let wait = ratelimit::wait_asked(&answer.headers, None, now)
                    .unwrap_or_else(|| Duration::minutes(5));
                PublishError::RateLimited {
                    until: now + wait,
                    message: format!("Mastodon demande de patienter ({message})"),
                }
            }
            400..=499 => PublishError::Refused {
                kind: "Mastodon".to_owned(),
                message,
            },
            status => PublishError::Unclear(format!("erreur {status} de Mastodon")),
        }
    }

    /// The memo key of one image with its description on this instance.
    fn media_memo(&self, outgoing: &Outgoing) -> String {
        let mut hasher = Sha256::new();
        hasher.update(&outgoing.image);
        hasher.update([0]);
        hasher.update(outgoing.alt.as_bytes());
        format!(
            "{MEMO_PREFIX}{}.{}",
            self.holder(&outgoing.channel),
            hex(&hasher.finalize()[..12])
        )
    }

    /// The image's media id: one an earlier pass uploaded, once processed,
    /// or a new upload. The wait for processing is bounded per pass: past
    /// it the media id is remembered and the post waits for the next pass.
    fn upload(&self, outgoing: &Outgoing) -> Result<String, PublishError> {
        let memo = self.media_memo(outgoing);
        let known = self.memo.borrow().get(&memo).cloned().flatten();
        let (id, ready) = match known {
            Some(id) => match self.look(&id)? {
                Some(ready) => (id, ready),
                // Gone from the instance: uploaded again.
                None => self.send_image(outgoing)?,
            },
            None => self.send_image(outgoing)?,
        };
        self.memo
            .borrow_mut()
            .insert(memo.clone(), Some(id.clone()));
        let mut ready = ready;
        for _ in 0..self.media_polls {
            if ready {
                return Ok(id);
            }
            if self.media_waited.get() >= self.media_budget {
                break;
            }
            if !crate::net::pause(self.media_pause) {
                return Err(PublishError::Transient(
                    "Mastodon : arrêt demandé pendant le traitement de l'image ; le post partira au prochain passage".to_owned(),
                ));
            }
            self.media_waited
                .set(self.media_waited.get() + self.media_pause);
            ready = self.look(&id)?.unwrap_or(false);
        }
        if ready {
            return Ok(id);
        }
        Err(PublishError::Transient(format!(
            "Mastodon traite encore l'image (média {id}) : le post attend le prochain passage, qui reprend la même image sans l'envoyer de nouveau"
        )))
    }

    /// Whether an uploaded image is processed (`None`: the instance does
    /// not know it).
    fn look(&self, id: &str) -> Result<Option<bool>, PublishError> {
        let answer = self.call(
            reqwest::Method::GET,
            &format!("/api/v1/media/{id}"),
            Body::Empty,
            None,
        )?;
        match answer.status {
            200 | 206 => Ok(Some(answer.status == 200 && !answer.body["url"].is_null())),
            404 => Ok(None),
            _ => Err(self.fault(&answer).nothing_done()),
        }
    }

    /// Uploads an image with its description: its media id, and whether it
    /// is processed already.
    fn send_image(&self, outgoing: &Outgoing) -> Result<(String, bool), PublishError> {
        let (mime, name) = if outgoing.image.starts_with(&[0xff, 0xd8]) {
            ("image/jpeg", "image.jpg")
        } else {
            ("image/png", "image.png")
        };
        let description: String = outgoing.alt.chars().take(MAX_DESCRIPTION).collect();
        let boundary = format!("crieur-{}", &content_hash(outgoing)[..24]);
        let mut bytes = Vec::with_capacity(outgoing.image.len() + 512);
        bytes.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{description}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(&outgoing.image);
        bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let answer = self.call(
            reqwest::Method::POST,
            "/api/v2/media",
            Body::Multipart { boundary, bytes },
            None,
        )?;
        if !matches!(answer.status, 200 | 202) {
            return Err(self.fault(&answer).nothing_done());
        }
        let id = text_of(&answer.body["id"]).ok_or_else(|| garbled("image"))?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(garbled("image"));
        }
        Ok((id, answer.status == 200 && !answer.body["url"].is_null()))
    }

    /// Sends the status (scheduled when far enough ahead), the same key
    /// for every try.
    fn post(&mut self, outgoing: &Outgoing, media: Option<String>) -> Result<String, PublishError> {
        let key = Key {
            post_id: outgoing.post_id.clone(),
            channel: outgoing.channel.clone(),
            at: outgoing.at,
        };
        // One key per attempt of a version (its token), so that a version
        // written again (A, then B, then A) is never answered with the
        // first one's status.
        let idempotency = outgoing
            .token
            .as_deref()
            .and_then(|token| token.split('.').next())
            .filter(|key| !key.is_empty())
            .map_or_else(
                || idempotency_key(&key, &content_hash(outgoing)),
                str::to_owned,
            );
        let mut body = json!({
            "status": outgoing.text,
            "visibility": "public",
            "language": "fr",
        });
        if let Some(media) = &media {
            body["media_ids"] = json!([media]);
        }
        if let Sending::Schedule(at) = sending(outgoing.at, crate::clock::now()) {
            body["scheduled_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        let mut last = None;
        for _ in 0..CREATE_TRIES {
            let answer = match self.call(
                reqwest::Method::POST,
                "/api/v1/statuses",
                Body::Json(body.clone()),
                Some(&idempotency),
            ) {
                Ok(answer) => answer,
                Err(error @ PublishError::Unclear(_)) => {
                    last = Some(error);
                    continue;
                }
                Err(error) => return Err(error),
            };
            if answer.status != 200 {
                let error = self.fault(&answer);
                if matches!(error, PublishError::Unclear(_)) {
                    last = Some(error);
                    continue;
                }
                return Err(error);
            }
            let id = text_of(&answer.body["id"]).ok_or_else(|| garbled("statut"))?;
            let scheduled =
                !answer.body["scheduled_at"].is_null() && !answer.body["params"].is_null();
            // The media and text the server holds: a create answered from
            // its `Idempotency-Key` carries the first try's media.
            let remote = if scheduled {
                scheduled_remote(&answer.body, &outgoing.text).ok_or_else(|| garbled("statut"))?
            } else {
                format!("p{id}")
            };
            self.remember(&remote, &answer.body);
            return Ok(remote);
        }
        Err(last.unwrap_or_else(|| garbled("statut")))
    }

    /// Reads every page of a listing from `first`: the `Link` header's
    /// `rel="next"` when it stays on this instance, until a page is empty,
    /// `more` says enough or [`MAX_PAGES`] were read. Also says whether
    /// the listing was read to its end (or to where `more` stopped it).
    fn pages(
        &self,
        first: &str,
        mut more: impl FnMut(&[Value]) -> bool,
    ) -> Result<(Vec<Value>, bool), PublishError> {
        let mut path = first.to_owned();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self.call(reqwest::Method::GET, &path, Body::Empty, None)?;
            if answer.status != 200 {
                return Err(self.fault(&answer));
            }
            let Value::Array(page) = answer.body else {
                return Err(garbled("liste"));
            };
            if page.is_empty() {
                return Ok((all, true));
            }
            let go_on = more(&page);
            all.extend(page);
            if !go_on {
                return Ok((all, true));
            }
            match self.next_page(&answer.headers) {
                Some(next) => path = next,
                None => return Ok((all, true)),
            }
        }
        Ok((all, false))
    }

    /// The path and query of the `rel="next"` link of a listing, when it
    /// points to this instance.
    fn next_page(&self, headers: &[(String, String)]) -> Option<String> {
        let here = url::Url::parse(&self.instance).ok()?;
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("link"))
            .flat_map(|(_, value)| value.split(','))
            .find_map(|part| {
                let (target, params) = part.trim().strip_prefix('<')?.split_once('>')?;
                let next = params.split(';').any(|param| {
                    param.trim().split_once('=').is_some_and(|(key, value)| {
                        key.trim().eq_ignore_ascii_case("rel")
                            && value
                                .trim()
                                .trim_matches('"')
                                .split_ascii_whitespace()
                                .any(|rel| rel.eq_ignore_ascii_case("next"))
                    })
                });
                let url = here.join(target.trim()).ok()?;
                (next && url.origin() == here.origin()).then(|| match url.query() {
                    Some(query) => format!("{}?{query}", url.path()),
                    None => url.path().to_owned(),
                })
            })
    }

    /// The account's statuses, newest first, down to the first one made
    /// before `since`. Says whether the listing reached that far.
    fn statuses_since(&self, since: DateTime<Utc>) -> Result<(Vec<Value>, bool), PublishError> {
        let me = self.call(
            reqwest::Method::GET,
            "/api/v1/accounts/verify_credentials",
            Body::Empty,
            None,
        )?;
        if me.status != 200 {
            return Err(self.fault(&me));
        }
        let id = text_of(&me.body["id"]).ok_or_else(|| garbled("compte"))?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(garbled("compte"));
        }
        self.pages(
            &format!("/api/v1/accounts/{id}/statuses?limit={PAGE}&exclude_reblogs=true"),
            |page| {
                !page
                    .iter()
                    .any(|status| created_at(status).is_some_and(|created| created < since))
            },
        )
    }

    /// Checks the token: the account it opens (`@name`).
    pub fn verify(&mut self) -> Result<String, PublishError> {
        let me = self.call(
            reqwest::Method::GET,
            "/api/v1/accounts/verify_credentials",
            Body::Empty,
            None,
        )?;
        if me.status != 200 {
            return Err(self.fault(&me));
        }
        let acct = me.body["acct"].as_str().ok_or_else(|| garbled("compte"))?;
        Ok(format!("@{acct}"))
    }

    /// Keeps the public address a status carries.
    fn remember(&mut self, remote: &str, status: &Value) {
        if let Some(url) = status["url"]
            .as_str()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            self.urls.insert(remote.to_owned(), url.to_owned());
        }
    }

    /// Where one post stands, as far as its own id tells: `None` for a
    /// scheduled status gone once its time passed (published, or
    /// deleted), which the account's statuses tell.
    fn status_of(
        &mut self,
        remote: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<RemoteStatus>, PublishError> {
        let Some(parsed) = Remote::parse(remote) else {
            return Ok(Some(RemoteStatus::Missing));
        };
        let scheduled = parsed.kind == 's';
        let path = if scheduled {
            format!("/api/v1/scheduled_statuses/{}", parsed.id)
        } else {
            format!("/api/v1/statuses/{}", parsed.id)
        };
        let answer = self.call(reqwest::Method::GET, &path, Body::Empty, None)?;
        match (answer.status, scheduled) {
            (200, true) => Ok(Some(RemoteStatus::Scheduled)),
            (200, false) => {
                self.remember(remote, &answer.body);
                Ok(Some(RemoteStatus::Sent))
            }
            (404, true) if at <= now => Ok(None),
            (404, _) => Ok(Some(RemoteStatus::Missing)),
            _ => Err(self.fault(&answer)),
        }
    }

    /// The outcomes of `remote_ids`, as of `now`: each scheduled status
    /// gone once its time passed is looked for among the account's
    /// statuses, by its media or its text, each status given to one post
    /// only.
    fn report_at(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<Report, PublishError> {
        let mut report = Report {
            complete: true,
            ..Report::default()
        };
        let mut gone: Vec<(&str, DateTime<Utc>)> = Vec::new();
        let mut taken: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for (remote, _, at) in remote_ids {
            match self.status_of(remote, *at, now) {
                Ok(Some(status)) => {
                    if status == RemoteStatus::Sent
                        && let Some(parsed) = Remote::parse(remote)
                    {
                        taken.insert(parsed.id.to_owned());
                    }
                    report.posts.insert(remote.clone(), status);
                }
                Ok(None) => gone.push((remote, *at)),
                Err(error @ PublishError::RateLimited { .. }) => return Err(error),
                Err(_) => report.complete = false,
            }
        }
        let Some(since) = gone.iter().map(|(_, at)| *at - before_window()).min() else {
            return Ok(report);
        };
        let (statuses, whole) = match self.statuses_since(since) {
            Ok(found) => found,
            Err(error @ PublishError::RateLimited { .. }) => return Err(error),
            Err(_) => {
                report.complete = false;
                return Ok(report);
            }
        };
        let statuses: Vec<Published> = statuses.iter().filter_map(Published::read).collect();
        // Those that say what they carry first, so that an old id (a time
        // window only) never takes the status of another.
        gone.sort_by_key(|(remote, at)| {
            let precise =
                Remote::parse(remote).is_some_and(|r| r.media.is_some() || r.text.is_some());
            (!precise, *at)
        });
        for (remote, at) in gone {
            let Some(parsed) = Remote::parse(remote) else {
                continue;
            };
            let found = statuses
                .iter()
                .filter(|status| !taken.contains(&status.id) && parsed.matches(status, at))
                .min_by_key(|status| (status.created - at).num_milliseconds().abs());
            match found {
                Some(status) => {
                    taken.insert(status.id.clone());
                    self.remember(remote, &status.value);
                    report.posts.insert(remote.to_owned(), RemoteStatus::Sent);
                }
                None if whole => {
                    report
                        .posts
                        .insert(remote.to_owned(), RemoteStatus::Missing);
                }
                None => report.complete = false,
            }
        }
        Ok(report)
    }
}

/// How many statuses one `GET /api/v1/statuses?id[]=…` asks for (Mastodon
/// 4.3 and later answer up to this many at once).
const STATUSES_AT_ONCE: usize = 20;

/// The id of the status a sent post became: its own for one sent at its
/// time (`p<id>`), else the last segment of its public address (a
/// scheduled status gets a new id once published).
fn published_id(post: &crieur_core::publisher::SentPost) -> Option<String> {
    if let Some(Remote { kind: 'p', id, .. }) = Remote::parse(&post.remote_id) {
        return Some(id.to_owned());
    }
    let url = url::Url::parse(post.url.as_deref()?).ok()?;
    let last = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    (last.chars().all(|c| c.is_ascii_alphanumeric())).then(|| last.to_owned())
}

/// A status's figures, when it gives all three counts.
fn status_figures(status: &Value) -> Option<crieur_core::report::Figures> {
    Some(crieur_core::report::Figures::from_mastodon(
        status["favourites_count"].as_u64()?,
        status["reblogs_count"].as_u64()?,
        status["replies_count"].as_u64()?,
    ))
}

impl Mastodon {
    /// The figures of sent statuses, twenty a request; a status the
    /// instance no longer has is gone.
    fn read_engagement(
        &mut self,
        posts: &[crieur_core::publisher::SentPost],
    ) -> Result<crieur_core::publisher::Engagements, PublishError> {
        use crieur_core::publisher::Reading;
        let mut found = crieur_core::publisher::Engagements::default();
        let ids: Vec<(&str, String)> = posts
            .iter()
            .filter_map(|post| Some((post.remote_id.as_str(), published_id(post)?)))
            .collect();
        for chunk in ids.chunks(STATUSES_AT_ONCE) {
            let query: Vec<String> = chunk
                .iter()
                .map(|(_, id)| format!("id%5B%5D={id}"))
                .collect();
            let path = format!("/api/v1/statuses?{}", query.join("&"));
            let answer = self.call(reqwest::Method::GET, &path, Body::Empty, None)?;
            if answer.status != 200 {
                return Err(self.fault(&answer));
            }
            let Value::Array(statuses) = answer.body else {
                return Err(garbled("statuts"));
            };
            for (remote, id) in chunk {
                let status = statuses
                    .iter()
                    .find(|s| text_of(&s["id"]).as_deref() == Some(id.as_str()));
                match status {
                    None => {
                        found.read.insert((*remote).to_owned(), Reading::Gone);
                    }
                    Some(status) => {
                        if let Some(figures) = status_figures(status) {
                            found
                                .read
                                .insert((*remote).to_owned(), Reading::Figures(figures));
                        }
                    }
                }
            }
        }
        Ok(found)
    }
}

/// How many items a page of a listing asks for (Mastodon's most).
const PAGE: usize = 40;
/// The most pages read of one listing, so that a server cannot keep
/// crieur paging for ever.
const MAX_PAGES: usize = 50;

/// How long before its instant a scheduled status may appear published.
fn before_window() -> Duration {
    Duration::minutes(1)
}

/// How long after its instant a scheduled status may appear published.
fn after_window() -> Duration {
    Duration::minutes(15)
}

/// When a status was made.
fn created_at(status: &Value) -> Option<DateTime<Utc>> {
    status["created_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A status of the account, as read to recognise a scheduled one.
struct Published {
    id: String,
    created: DateTime<Utc>,
    media: Vec<String>,
    /// [`text_hash`] of its content's text.
    hash: String,
    value: Value,
}

impl Published {
    fn read(status: &Value) -> Option<Published> {
        if !status["reblog"].is_null() {
            return None;
        }
        Some(Published {
            id: text_of(&status["id"])?,
            created: created_at(status)?,
            media: status["media_attachments"]
                .as_array()
                .map(|all| all.iter().filter_map(|m| text_of(&m["id"])).collect())
                .unwrap_or_default(),
            hash: text_hash(&plain_text(status["content"].as_str().unwrap_or_default())),
            value: status.clone(),
        })
    }
}

/// A remote id: `s<id>` or `s<id>.<media id>.<text hash>` for a scheduled
/// status (the media id empty for a text alone; the hash is
/// [`text_hash`] of what was sent), `p<id>` for a published one. What a
/// scheduled status carries recognises it once published (a new id, the
/// same media); ids without it (crieur before) fall back on the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remote<'a> {
    kind: char,
    id: &'a str,
    media: Option<&'a str>,
    text: Option<&'a str>,
}

impl<'a> Remote<'a> {
    fn parse(remote: &'a str) -> Option<Remote<'a>> {
        let kind = remote.chars().next().filter(|c| matches!(c, 's' | 'p'))?;
        let rest = &remote[1..];
        let id_like = |part: &str| part.chars().all(|c| c.is_ascii_alphanumeric());
        let parts: Vec<&str> = rest.split('.').collect();
        let (id, media, text) = match parts.as_slice() {
            [id] => (*id, None, None),
            [id, media, text] if kind == 's' => (*id, Some(*media), Some(*text)),
            _ => return None,
        };
        if id.is_empty() || !id_like(id) {
            return None;
        }
        let media = media.filter(|m| !m.is_empty());
        if media.is_some_and(|m| !id_like(m))
            || text.is_some_and(|t| t.len() != 8 || !t.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return None;
        }
        Some(Remote {
            kind,
            id,
            media,
            text,
        })
    }

    /// Whether `status` is what this scheduled status, due at `at`, became.
    fn matches(&self, status: &Published, at: DateTime<Utc>) -> bool {
        let in_time =
            status.created >= at - before_window() && status.created <= at + after_window();
        let same = match (self.media, self.text) {
            (Some(media), _) => status.media.iter().any(|m| m == media),
            (None, Some(text)) => status.hash == text,
            (None, None) => true,
        };
        in_time && same
    }
}

/// The remote id of a scheduled status as the instance gives it: its id,
/// its first media, its text (`text` when it does not say).
fn scheduled_remote(scheduled: &Value, text: &str) -> Option<String> {
    let plain = |id: &String| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
    let id = text_of(&scheduled["id"]).filter(plain)?;
    let media = scheduled["params"]["media_ids"]
        .get(0)
        .or_else(|| scheduled["media_attachments"].get(0).map(|m| &m["id"]))
        .and_then(text_of)
        .filter(plain)
        .unwrap_or_default();
    let text = scheduled["params"]["text"].as_str().unwrap_or(text);
    Some(format!("s{id}.{media}.{}", text_hash(text)))
}

/// The text of a status's HTML `content`: tags removed (paragraphs and
/// line breaks as spaces), entities decoded.
fn plain_text(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').map_or(rest.len(), |i| i + 1);
                let name: String = rest[1..end]
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if matches!(name.as_str(), "br" | "p") {
                    out.push(' ');
                }
                rest = &rest[end..];
            }
            '&' => {
                let entity = rest[1..]
                    .char_indices()
                    .take(12)
                    .find(|(_, c)| *c == ';')
                    .and_then(|(i, _)| entity(&rest[1..=i]).map(|c| (c, i + 2)));
                match entity {
                    Some((decoded, length)) => {
                        out.push(decoded);
                        rest = &rest[length..];
                    }
                    None => {
                        out.push('&');
                        rest = &rest[1..];
                    }
                }
            }
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// The character an HTML entity (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn garbled(what: &str) -> PublishError {
    PublishError::Unclear(format!("réponse illisible de Mastodon ({what})"))
}

impl Publisher for Mastodon {
    fn name(&self) -> &'static str {
        "Mastodon"
    }

    fn holder(&self, _channel: &str) -> String {
        let host = url::Url::parse(&self.instance)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.instance.clone());
        format!("Mastodon ({host})")
    }

    fn fetches_images(&self) -> bool {
        false
    }

    fn tracks_writes(&self, _channel: &str) -> bool {
        true
    }

    fn recall(&mut self, memo: &std::collections::BTreeMap<String, String>) {
        let mine = format!("{MEMO_PREFIX}{}.", self.holder(&self.channel));
        let mut kept = self.memo.borrow_mut();
        for (key, value) in memo.range(mine.clone()..) {
            if !key.starts_with(&mine) {
                break;
            }
            kept.insert(key.clone(), Some(value.clone()));
        }
    }

    fn memos(&mut self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut *self.memo.borrow_mut())
            .into_iter()
            .collect()
    }

    /// The attempt's `Idempotency-Key`, then the hash of its text, which
    /// finds the status it made in the listings.
    fn token(&self, outgoing: &Outgoing, attempt: i64) -> String {
        let key = Key {
            post_id: outgoing.post_id.clone(),
            channel: outgoing.channel.clone(),
            at: outgoing.at,
        };
        let version = format!("{}#{attempt}", content_hash(outgoing));
        format!(
            "{}.{}",
            idempotency_key(&key, &version),
            text_hash(&outgoing.text)
        )
    }

    /// A status this write made: scheduled at the delivery's instant with
    /// its text, or published around it with its text; never one another
    /// write of the delivery already is.
    fn locate(
        &mut self,
        write: &crieur_core::delivery::Write,
        taken: &[String],
    ) -> Result<Option<String>, PublishError> {
        let Some((_, text)) = write.token.split_once('.') else {
            return Ok(None);
        };
        let taken_ids: Vec<&str> = taken
            .iter()
            .filter_map(|remote| Remote::parse(remote).map(|r| r.id))
            .collect();
        let (scheduled, _) = self
            .pages(&format!("/api/v1/scheduled_statuses?limit={PAGE}"), |_| {
                true
            })?;
        for item in &scheduled {
            let at = item["scheduled_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let item_text = item["params"]["text"].as_str().unwrap_or_default();
            if at == Some(write.key.at)
                && text_hash(item_text) == text
                && let Some(remote) = scheduled_remote(item, item_text)
                && Remote::parse(&remote).is_some_and(|r| !taken_ids.contains(&r.id))
            {
                return Ok(Some(remote));
            }
        }
        if write.key.at > crate::clock::now() + min_schedule_ahead() + schedule_margin() {
            return Ok(None);
        }
        let (statuses, _) = self.statuses_since(write.key.at - before_window())?;
        Ok(statuses
            .iter()
            .filter_map(Published::read)
            .find(|status| {
                status.hash == text
                    && status.created >= write.key.at - before_window()
                    && status.created <= write.key.at + after_window()
                    && !taken_ids.contains(&status.id.as_str())
            })
            .map(|status| {
                self.remember(&format!("p{}", status.id), &status.value);
                format!("p{}", status.id)
            }))
    }

    fn public_url(&self, remote_id: &str) -> Option<String> {
        self.urls.get(remote_id).cloned()
    }

    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
        let now = crate::clock::now();
        if sending(outgoing.at, now) == Sending::AtItsTime && outgoing.at > now {
            return Err(PublishError::Transient(format!(
                "trop proche pour être programmé chez Mastodon (moins de {} minutes) : il partira à son heure",
                min_schedule_ahead().num_minutes()
            )));
        }
        let media = if outgoing.image.is_empty() {
            None
        } else {
            Some(self.upload(outgoing).map_err(PublishError::nothing_done)?)
        };
        let posted = self.post(outgoing, media.clone())?;
        // Attached now: the memo of the image is done with.
        if media.is_some() {
            let memo = self.media_memo(outgoing);
            self.memo.borrow_mut().insert(memo, None);
        }
        Ok(posted)
    }

    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        self.replace(remote_id, outgoing).map(|_| ())
    }

    /// Mastodon changes only the time of a scheduled status: a new text or
    /// image is the old one deleted and a new one scheduled.
    fn replace(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<String, PublishError> {
        match Remote::parse(remote_id) {
            Some(Remote { kind: 's', .. }) => {
                self.delete(remote_id)?;
                self.create(outgoing)
            }
            _ => Err(PublishError::Refused {
                kind: "Mastodon".to_owned(),
                message: "un statut déjà publié ne se modifie pas ici".to_owned(),
            }),
        }
    }

    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError> {
        let path = match Remote::parse(remote_id) {
            Some(Remote { kind: 's', id, .. }) => format!("/api/v1/scheduled_statuses/{id}"),
            Some(Remote { id, .. }) => format!("/api/v1/statuses/{id}"),
            None => return Err(PublishError::NotFound(remote_id.to_owned())),
        };
        let answer = self.call(reqwest::Method::DELETE, &path, Body::Empty, None)?;
        match answer.status {
            200 | 204 => Ok(()),
            _ => Err(self.fault(&answer)),
        }
    }

    /// The scheduled statuses, to adopt what an unclear create scheduled.
    fn list(
        &mut self,
        _channels: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<RemotePost>, PublishError> {
        let (scheduled, _) = self
            .pages(&format!("/api/v1/scheduled_statuses?limit={PAGE}"), |_| {
                true
            })?;
        Ok(scheduled
            .iter()
            .filter_map(|item| {
                let at = DateTime::parse_from_rfc3339(item["scheduled_at"].as_str()?)
                    .ok()?
                    .with_timezone(&Utc);
                let text = item["params"]["text"].as_str().unwrap_or_default();
                let id = scheduled_remote(item, text)?;
                (from <= at && at <= until).then(|| RemotePost {
                    id,
                    channel_remote_id: self.channel.clone(),
                    at: Some(at),
                    text: text.to_owned(),
                    status: RemoteStatus::Scheduled,
                })
            })
            .collect())
    }

    fn report(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError> {
        self.report_at(remote_ids, crate::clock::now())
    }

    fn channels(
        &mut self,
    ) -> Result<Option<Vec<crieur_core::publisher::RemoteChannel>>, PublishError> {
        Ok(None)
    }

    fn engagement(
        &mut self,
        posts: &[crieur_core::publisher::SentPost],
    ) -> Result<crieur_core::publisher::Engagements, PublishError> {
        self.read_engagement(posts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use crieur_testing::mastodon as fake;

    fn key(post: &str) -> Key {
        Key {
            post_id: post.to_owned(),
            channel: "mastodon".to_owned(),
            at: Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap(),
        }
    }

    #[test]
    fn one_key_per_version_of_a_delivery() {
        let first = idempotency_key(&key("chiffres/01"), "hash-a");
        assert_eq!(first, idempotency_key(&key("chiffres/01"), "hash-a"));
        assert_ne!(first, idempotency_key(&key("chiffres/01"), "hash-b"));
        assert_ne!(first, idempotency_key(&key("chiffres/02"), "hash-a"));
        let mut moved = key("chiffres/01");
        moved.at += Duration::hours(1);
        assert_ne!(first, idempotency_key(&moved, "hash-a"));
        assert!(first.len() <= 64 && first.is_ascii(), "{first}");
    }

    #[test]
    fn a_post_under_five_minutes_away_is_sent_at_its_time() {
        let at = key("a").at;
        assert_eq!(sending(at, at - Duration::hours(3)), Sending::Schedule(at));
        assert_eq!(
            sending(at, at - Duration::minutes(6)),
            Sending::Schedule(at)
        );
        assert_eq!(sending(at, at - Duration::minutes(5)), Sending::AtItsTime);
        assert_eq!(sending(at, at - Duration::minutes(2)), Sending::AtItsTime);
        assert_eq!(sending(at, at + Duration::minutes(1)), Sending::AtItsTime);
    }

    fn outgoing(text: &str, at: DateTime<Utc>) -> Outgoing {
        Outgoing {
            post_id: "chiffre/01".to_owned(),
            channel: "mastodon".to_owned(),
            channel_remote_id: None,
            network: crieur_core::network::Network::Mastodon,
            at,
            text: text.to_owned(),
            alt: "Visuel : 71 % des Français ont activé Mon espace santé".to_owned(),
            image: vec![0x89, b'P', b'N', b'G', 1, 2, 3],
            image_url: None,
            token: None,
        }
    }

    #[test]
    fn reads_figures_of_published_statuses_and_marks_a_deleted_one_gone() {
        use crieur_core::publisher::{Reading, SentPost};
        use crieur_core::report::Figures;
        let fake = fake::FakeMastodon::start();
        let at = later();
        let ids: Vec<String> = (0..22)
            .map(|i| fake.with(|state| state.publish(&format!("statut {i}"), at, Vec::new())))
            .collect();
        fake.with(|state| {
            state.published.retain(|s| s.id != ids[0]);
            state.published[0].favourites = 9;
        });
        let posts: Vec<SentPost> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| SentPost {
                // Sent at its time, or scheduled and found by its address.
                remote_id: if i % 2 == 0 {
                    format!("p{id}")
                } else {
                    format!("s9{i}..")
                },
                channel_remote_id: String::new(),
                at,
                url: Some(format!("https://piaille.example/@cpts/{id}")),
            })
            .collect();
        let mut mastodon = client(&fake, fake::TOKEN);
        let found = mastodon.engagement(&posts).unwrap();
        let reads = fake.with(|state| {
            state
                .requests
                .iter()
                .filter(|r| r.starts_with("GET /api/v1/statuses?"))
                .count()
        });
        assert_eq!(reads, 2, "twenty statuses a request");
        assert_eq!(found.read[&posts[0].remote_id], Reading::Gone);
        assert_eq!(
            found.read[&posts[1].remote_id],
            Reading::Figures(Figures::from_mastodon(9, 2, 1))
        );
        assert_eq!(
            found.read[&posts[2].remote_id],
            Reading::Figures(Figures::from_mastodon(4, 2, 1))
        );
        fake.with(|state| state.failing_reads = true);
        assert!(mastodon.engagement(&posts).is_err());
    }

    fn client(fake: &fake::FakeMastodon, token: &str) -> Mastodon {
        let mut mastodon = Mastodon::new(
            "mastodon",
            &fake.url,
            token,
            std::time::Duration::from_secs(5),
        );
        mastodon.media_pause = std::time::Duration::ZERO;
        mastodon
    }

    fn later() -> DateTime<Utc> {
        (crate::clock::now() + Duration::days(2))
            .with_nanosecond(0)
            .expect("a whole second")
    }

    use chrono::Timelike;

    #[test]
    fn schedules_with_the_image_once_processed_and_its_description() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, fake::TOKEN);
        let post = outgoing("Le DMP en chiffres #Santé", later());
        let id = mastodon.create(&post).unwrap();
        assert!(id.starts_with('s'), "{id}");
        let state = fake.state();
        assert_eq!(state.scheduled.len(), 1);
        let scheduled = &state.scheduled[0];
        assert_eq!(scheduled.text, "Le DMP en chiffres #Santé");
        assert_eq!(scheduled.at, later_str(post.at));
        assert_eq!(scheduled.media.len(), 1);
        let media = &state.media[&scheduled.media[0]];
        assert_eq!(media.description, post.alt);
        assert!(
            media.looked_at >= 2,
            "polled until processed: {}",
            media.looked_at
        );
        drop(state);
        assert_eq!(
            mastodon
                .report(&[(id.clone(), String::new(), post.at)])
                .unwrap()
                .posts[&id],
            RemoteStatus::Scheduled
        );
    }

    #[test]
    fn an_image_still_processing_is_remembered_and_uploaded_once() {
        let fake = fake::FakeMastodon::start();
        fake.with(|state| state.processing_looks = 4);
        let post = outgoing("Une image lente #Santé", later());
        // The first pass may wait two looks: the post waits, its image's
        // id is remembered.
        let mut first = client(&fake, fake::TOKEN);
        first.media_pause = std::time::Duration::from_millis(1);
        first.media_budget = std::time::Duration::from_millis(2);
        let error = first.create(&post).unwrap_err();
        assert!(
            matches!(&error, PublishError::Transient(m) if m.contains("traite encore l'image")),
            "{error:?}"
        );
        let memo: std::collections::BTreeMap<String, String> = first
            .memos()
            .into_iter()
            .filter_map(|(key, value)| Some((key, value?)))
            .collect();
        assert_eq!(memo.len(), 1, "{memo:?}");
        assert!(memo.keys().all(|key| key.starts_with(MEMO_PREFIX)));
        // The next pass takes the same image up where it was.
        let mut second = client(&fake, fake::TOKEN);
        second.media_pause = std::time::Duration::from_millis(1);
        second.media_budget = std::time::Duration::from_millis(2);
        second.recall(&memo);
        let id = second.create(&post).unwrap();
        assert!(id.starts_with('s'), "{id}");
        let state = fake.state();
        assert_eq!(state.media.len(), 1, "uploaded once");
        assert_eq!(state.scheduled.len(), 1);
        drop(state);
        // Attached: forgotten.
        assert!(second.memos().iter().all(|(_, value)| value.is_none()));
    }

    fn later_str(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    #[test]
    fn a_lost_answer_is_tried_again_with_the_same_key_and_makes_one_status() {
        let fake = fake::FakeMastodon::start();
        fake.with(|state| state.lose_next_answers = 1);
        let mut mastodon = client(&fake, fake::TOKEN);
        let post = outgoing("Une fois", later());
        let id = mastodon.create(&post).unwrap();
        // A later pass that tries again (its outcome was unclear) gets the
        // same status back.
        assert_eq!(mastodon.create(&post).unwrap(), id);
        let state = fake.state();
        assert_eq!(state.scheduled.len(), 1, "{:?}", state.scheduled);
        assert_eq!(state.status_calls, 3);
    }

    #[test]
    fn an_edit_schedules_the_new_version_and_a_delete_withdraws_it() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, fake::TOKEN);
        let first = mastodon.create(&outgoing("Avant", later())).unwrap();
        let second = mastodon
            .replace(&first, &outgoing("Après", later()))
            .unwrap();
        assert_ne!(first, second);
        let texts: Vec<String> = fake
            .state()
            .scheduled
            .iter()
            .map(|s| s.text.clone())
            .collect();
        assert_eq!(texts, ["Après"]);
        assert!(matches!(
            mastodon.delete(&first),
            Err(PublishError::NotFound(_))
        ));
        mastodon.delete(&second).unwrap();
        assert!(fake.state().scheduled.is_empty());
        assert_eq!(
            mastodon
                .report(&[(second.clone(), String::new(), later())])
                .unwrap()
                .posts[&second],
            RemoteStatus::Missing
        );
    }

    #[test]
    fn a_post_due_within_five_minutes_waits_for_its_time() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, fake::TOKEN);
        let soon = outgoing("Bientôt", crate::clock::now() + Duration::minutes(3));
        assert!(matches!(
            mastodon.create(&soon),
            Err(PublishError::Transient(_))
        ));
        assert_eq!(fake.state().status_calls, 0);
        let due = outgoing("Maintenant", crate::clock::now() - Duration::seconds(10));
        let id = mastodon.create(&due).unwrap();
        assert!(id.starts_with('p'), "{id}");
        assert_eq!(fake.state().published.len(), 1);
        assert_eq!(
            mastodon.public_url(&id).as_deref(),
            Some(format!("https://piaille.example/@cpts/{}", &id[1..]).as_str())
        );
        assert_eq!(
            mastodon
                .report(&[(id.clone(), String::new(), due.at)])
                .unwrap()
                .posts[&id],
            RemoteStatus::Sent
        );
    }

    #[test]
    fn a_revoked_token_names_the_channel_and_never_shows_the_token() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, "jeton-revoque-secret");
        let error = mastodon.create(&outgoing("x", later())).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, PublishError::ChannelRefused(_)),
            "{error:?}"
        );
        assert!(
            message.contains("« mastodon »") && message.contains(TOKEN_VARIABLE),
            "{message}"
        );
        assert!(!message.contains("jeton-revoque-secret"), "{message}");
        let mut missing = client(&fake, "");
        assert!(
            missing
                .create(&outgoing("x", later()))
                .unwrap_err()
                .to_string()
                .contains("manque")
        );
    }

    #[test]
    fn verifies_the_token_and_names_the_account() {
        let fake = fake::FakeMastodon::start();
        assert_eq!(client(&fake, fake::TOKEN).verify().unwrap(), "@cpts");
        let error = client(&fake, "revoque").verify().unwrap_err();
        assert!(error.to_string().contains("refuse le jeton"), "{error}");
    }

    #[test]
    fn a_rate_limit_gives_the_instants_reset() {
        let fake = fake::FakeMastodon::start();
        let reset = later();
        fake.with(|state| state.limited_until = Some(reset));
        let mut mastodon = client(&fake, fake::TOKEN);
        match mastodon.create(&outgoing("x", later())) {
            Err(PublishError::RateLimited { until, .. }) => {
                assert!((until - reset).num_seconds().abs() <= 1, "{until} {reset}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// The published status of the fake whose text is `text`.
    fn published_with(fake: &fake::FakeMastodon, text: &str) -> String {
        let state = fake.state();
        let found: Vec<&fake::Published> =
            state.published.iter().filter(|s| s.text == text).collect();
        assert_eq!(found.len(), 1, "{text}: {:?}", state.published);
        found[0].id.clone()
    }

    fn account_pages(fake: &fake::FakeMastodon) -> usize {
        fake.state()
            .requests
            .iter()
            .filter(|r| r.starts_with("GET /api/v1/accounts/1/statuses"))
            .count()
    }

    #[test]
    fn lists_every_scheduled_status_page_after_page() {
        let fake = fake::FakeMastodon::start();
        let at = later();
        fake.with(|state| {
            for i in 0..45 {
                state.schedule(&format!("Post {i}"), at + Duration::minutes(i), Vec::new());
            }
        });
        let mut mastodon = client(&fake, fake::TOKEN);
        let listed = mastodon.list(&[], at, at + Duration::minutes(44)).unwrap();
        assert_eq!(listed.len(), 45);
        let ids: std::collections::BTreeSet<&str> = listed.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), 45);
        let texts: std::collections::BTreeSet<&str> =
            listed.iter().map(|p| p.text.as_str()).collect();
        assert!(texts.contains("Post 0") && texts.contains("Post 44"));
        let pages: Vec<String> = fake
            .state()
            .requests
            .iter()
            .filter(|r| r.starts_with("GET /api/v1/scheduled_statuses"))
            .cloned()
            .collect();
        assert_eq!(pages.len(), 2, "{pages:?}");
        assert!(pages[0].contains("limit=40"), "{pages:?}");
        assert!(pages[1].contains("max_id="), "{pages:?}");
    }

    #[test]
    fn two_posts_of_the_same_minute_get_each_their_own_status() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, fake::TOKEN);
        let at = later();
        let mut first = outgoing("Premier post de la minute #Santé", at);
        first.post_id = "chiffre/01".to_owned();
        let mut second = outgoing("Second post, même minute", at);
        second.post_id = "chiffre/02".to_owned();
        second.image = vec![0x89, b'P', b'N', b'G', 9, 9, 9];
        let one = mastodon.create(&first).unwrap();
        let two = mastodon.create(&second).unwrap();
        assert_ne!(one, two);
        for id in [&one, &two] {
            assert!(!id.contains('/'), "{id}");
            assert!(Remote::parse(id).is_some_and(|r| r.media.is_some()), "{id}");
        }
        // The instance's time passes theirs: both are published, with new
        // ids, at the same instant.
        fake.with(|state| state.clock.set(at + Duration::minutes(2)));
        let report = mastodon
            .report_at(
                &[
                    (one.clone(), String::new(), at),
                    (two.clone(), String::new(), at),
                ],
                at + Duration::minutes(3),
            )
            .unwrap();
        assert!(report.complete);
        assert_eq!(report.posts[&one], RemoteStatus::Sent);
        assert_eq!(report.posts[&two], RemoteStatus::Sent);
        assert!(fake.state().scheduled.is_empty());
        let url = |text: &str| {
            format!(
                "https://piaille.example/@cpts/{}",
                published_with(&fake, text)
            )
        };
        assert_eq!(mastodon.public_url(&one), Some(url(&first.text)));
        assert_eq!(mastodon.public_url(&two), Some(url(&second.text)));
    }

    #[test]
    fn old_ids_fall_back_on_the_time_and_never_share_a_status() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, fake::TOKEN);
        let at = later();
        // Three scheduled for one instant, one deleted in Mastodon's app:
        // two statuses for three ids.
        let ids: Vec<String> = fake.with(|state| {
            let ids: Vec<String> = ["Un", "Deux", "Trois"]
                .iter()
                .map(|text| format!("s{}", state.schedule(text, at, Vec::new())))
                .collect();
            state.scheduled.pop();
            state.clock.set(at + Duration::minutes(1));
            ids
        });
        let asked: Vec<(String, String, DateTime<Utc>)> = ids
            .iter()
            .map(|id| (id.clone(), String::new(), at))
            .collect();
        let report = mastodon
            .report_at(&asked, at + Duration::minutes(2))
            .unwrap();
        assert!(report.complete);
        let sent: Vec<&String> = ids
            .iter()
            .filter(|id| report.posts[*id] == RemoteStatus::Sent)
            .collect();
        assert_eq!(sent.len(), 2, "{:?}", report.posts);
        assert_ne!(mastodon.public_url(sent[0]), mastodon.public_url(sent[1]));
        assert_eq!(
            ids.iter()
                .filter(|id| report.posts[*id] == RemoteStatus::Missing)
                .count(),
            1
        );
    }

    #[test]
    fn an_idempotency_key_is_remembered_for_an_hour_of_the_instance() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, fake::TOKEN);
        let post = outgoing("Une heure de mémoire", later());
        let start = fake.state().clock.now();
        let id = mastodon.create(&post).unwrap();
        fake.with(|state| state.clock.set(start + Duration::minutes(59)));
        assert_eq!(mastodon.create(&post).unwrap(), id);
        assert_eq!(fake.state().scheduled.len(), 1);
        fake.with(|state| state.clock.set(start + Duration::minutes(61)));
        let again = mastodon.create(&post).unwrap();
        assert_ne!(again, id);
        assert_eq!(fake.state().scheduled.len(), 2);
        assert_eq!(fake.state().status_calls, 3);
    }

    #[test]
    fn a_text_alone_is_found_by_its_text_among_pages_of_statuses() {
        let fake = fake::FakeMastodon::start();
        let mut mastodon = client(&fake, fake::TOKEN);
        let at = later();
        let text = "Votre profil : https://www.monespacesante.fr/profil & « guillemets » <ici>\nà l'heure.\n\nDeuxième paragraphe #MonEspaceSanté";
        let mut post = outgoing(text, at);
        post.image.clear();
        let id = mastodon.create(&post).unwrap();
        let remote = Remote::parse(&id).unwrap();
        assert_eq!((remote.media, remote.text.is_some()), (None, true), "{id}");
        fake.with(|state| {
            // Older than the window: never read.
            for i in 0..60 {
                state.publish(
                    &format!("Ancien {i}"),
                    at - Duration::hours(3) + Duration::seconds(i),
                    Vec::new(),
                );
            }
            // Within the window, older.
            for i in 0..30 {
                state.publish(
                    &format!("Avant {i}"),
                    at - Duration::seconds(30 - i),
                    Vec::new(),
                );
            }
            state.clock.set(at + Duration::minutes(1));
            state.publish_due();
            // Within the window, newer: the first one at the same instant.
            for i in 0..100 {
                state.publish(
                    &format!("Après {i}"),
                    at + Duration::seconds(i * 6),
                    Vec::new(),
                );
            }
        });
        let report = mastodon
            .report_at(
                &[(id.clone(), String::new(), at)],
                at + Duration::minutes(20),
            )
            .unwrap();
        assert!(report.complete);
        assert_eq!(report.posts[&id], RemoteStatus::Sent);
        let status = published_with(&fake, text);
        assert_eq!(
            mastodon.public_url(&id),
            Some(format!("https://piaille.example/@cpts/{status}"))
        );
        // Newest first, 40 a page: the fourth page reaches statuses older
        // than the window, and paging stops there.
        assert_eq!(account_pages(&fake), 4);
        // An id of before (no text) falls back on the time alone, and
        // takes the nearest: here not the right one.
        let old = format!("s{}", remote.id);
        mastodon
            .report_at(
                &[(old.clone(), String::new(), at)],
                at + Duration::minutes(20),
            )
            .unwrap();
        assert_ne!(mastodon.public_url(&old), mastodon.public_url(&id));
    }

    #[test]
    fn a_status_as_mastodon_renders_it_reads_as_the_text_sent() {
        for text in [
            "Le DMP en chiffres #Santé",
            "Deux lignes\nune autre\n\nUn paragraphe & des <balises> \"citées\" l'été",
            "Lien : https://www.ameli.fr/assure/remboursements?x=1&y=2 et #MonEspaceSanté.",
            "Un lien http://exemple.fr/chemin en clair, #2026 n'est pas un mot-dièse",
        ] {
            let content = fake::html(text);
            assert!(content.starts_with("<p>"), "{content}");
            assert_eq!(
                crieur_core::publisher::normalise(&plain_text(&content)),
                crieur_core::publisher::normalise(text),
                "{content}"
            );
            assert_eq!(text_hash(&plain_text(&content)), text_hash(text));
        }
        assert_eq!(
            plain_text("<p>a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; &#x41;&unknown;</p><p>f<br />g</p>")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["a", "&", "b", "<c>", "\"d\"", "'e'", "A&unknown;", "f", "g"]
        );
        assert!(fake::html("a #Santé").contains(
            "<a href=\"https://piaille.example/tags/Santé\" class=\"mention hashtag\" rel=\"tag\">#<span>Santé</span></a>"
        ));
    }

    #[test]
    fn remote_ids_old_and_new() {
        let old = Remote::parse("s123").unwrap();
        assert_eq!(
            (old.kind, old.id, old.media, old.text),
            ('s', "123", None, None)
        );
        let new = Remote::parse("s12.34.0a1b2c3d").unwrap();
        assert_eq!(
            (new.id, new.media, new.text),
            ("12", Some("34"), Some("0a1b2c3d"))
        );
        let alone = Remote::parse("s12..0a1b2c3d").unwrap();
        assert_eq!((alone.media, alone.text), (None, Some("0a1b2c3d")));
        assert_eq!(Remote::parse("p9").unwrap().kind, 'p');
        for bad in [
            "",
            "s",
            "x12",
            "s1/2",
            "s12.34",
            "s12.34.xyz",
            "p12.34.0a1b2c3d",
            "s1.2.0a1b2c3d.4",
        ] {
            assert_eq!(Remote::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn follows_only_the_next_link_on_the_same_instance() {
        let mastodon = Mastodon::new(
            "mastodon",
            "https://piaille.example/",
            "jeton",
            std::time::Duration::from_secs(5),
        );
        let link = |value: &str| vec![("link".to_owned(), value.to_owned())];
        assert_eq!(
            mastodon.next_page(&link(
                "<https://piaille.example/api/v1/scheduled_statuses?limit=40&max_id=7>; rel=\"next\", <https://piaille.example/api/v1/scheduled_statuses?min_id=9>; rel=\"prev\""
            )),
            Some("/api/v1/scheduled_statuses?limit=40&max_id=7".to_owned())
        );
        assert_eq!(
            mastodon.next_page(&link(
                "<https://piaille.example/api/v1/scheduled_statuses?min_id=9>; rel=\"prev\""
            )),
            None
        );
        assert_eq!(
            mastodon.next_page(&link(
                "<https://ailleurs.example/api/v1/scheduled_statuses?max_id=7>; rel=\"next\""
            )),
            None
        );
        assert_eq!(mastodon.next_page(&[]), None);
    }
}

//! Mastodon, the pure part: when a post is scheduled on the server and
//! the `Idempotency-Key` that makes every try of one version of a delivery
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

use super::{Outgoing, PublishError, Publisher, RemotePost, RemoteStatus, Report, ratelimit};
use crate::net;
use crate::store::Key;

/// Where the access token comes from.
pub const TOKEN_VARIABLE: &str = "CRIEUR_MASTODON_TOKEN";
/// The longest answer read from the instance.
const MAX_ANSWER: usize = 4 * 1024 * 1024;
/// How many times a create is sent again after a fault: safe, the
/// `Idempotency-Key` makes every try the same request.
const CREATE_TRIES: usize = 3;

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
    token: String,
    timeout: std::time::Duration,
    /// How long to wait between two looks at an image being processed.
    pub media_pause: std::time::Duration,
    /// How many looks at an image being processed before giving up.
    pub media_polls: usize,
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
            token: token.trim().to_owned(),
            timeout,
            media_pause: std::time::Duration::from_secs(1),
            media_polls: 30,
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
        if self.token.is_empty() || !self.token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(self.unauthorized("le jeton manque ou est mal formé"));
        }
        let mut authorization =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.token))
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
            PublishError::Unclear(format!(
                "pas de réponse utilisable de Mastodon ({why}) : la requête a peut-être abouti"
            ))
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
            status => PublishError::Unclear(format!(
                "erreur {status} de Mastodon : la requête a peut-être abouti"
            )),
        }
    }

    /// Uploads an image with its description; waits while the instance
    /// processes it. Returns the media's id.
    fn upload(&self, outgoing: &Outgoing) -> Result<String, PublishError> {
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
            return Err(transient(self.fault(&answer)));
        }
        let id = text_of(&answer.body["id"]).ok_or_else(|| garbled("image"))?;
        let mut ready = answer.status == 200 && !answer.body["url"].is_null();
        for _ in 0..self.media_polls {
            if ready {
                return Ok(id);
            }
            if !crate::net::pause(self.media_pause) {
                return Err(PublishError::Transient(
                    "Mastodon : arrêt demandé pendant le traitement de l'image ; le post partira au prochain passage".to_owned(),
                ));
            }
            let answer = self.call(
                reqwest::Method::GET,
                &format!("/api/v1/media/{id}"),
                Body::Empty,
                None,
            )?;
            ready = answer.status == 200 && !answer.body["url"].is_null();
            if !matches!(answer.status, 200 | 206) {
                return Err(transient(self.fault(&answer)));
            }
        }
        if ready {
            return Ok(id);
        }
        Err(PublishError::Transient(
            "Mastodon traite encore l'image : nouvel essai au prochain passage".to_owned(),
        ))
    }

    /// Sends the status (scheduled when far enough ahead), the same key
    /// for every try.
    fn post(&mut self, outgoing: &Outgoing, media: Option<String>) -> Result<String, PublishError> {
        let key = Key {
            post_id: outgoing.post_id.clone(),
            channel: outgoing.channel.clone(),
            at: outgoing.at,
        };
        let idempotency = idempotency_key(&key, &content_hash(outgoing));
        let mut body = json!({
            "status": outgoing.text,
            "visibility": "public",
            "language": "fr",
        });
        if let Some(media) = media {
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
            let remote = format!("{}{id}", if scheduled { "s" } else { "p" });
            self.remember(&remote, &answer.body);
            return Ok(remote);
        }
        Err(last.unwrap_or_else(|| garbled("statut")))
    }

    /// Where a scheduled status went once its time passed: the account's
    /// status made around then, if any.
    fn published_around(&self, at: DateTime<Utc>) -> Result<Option<Value>, PublishError> {
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
        let answer = self.call(
            reqwest::Method::GET,
            &format!("/api/v1/accounts/{id}/statuses?limit=40"),
            Body::Empty,
            None,
        )?;
        if answer.status != 200 {
            return Err(self.fault(&answer));
        }
        let statuses = answer.body.as_array().cloned().unwrap_or_default();
        Ok(statuses.into_iter().find(|status| {
            status["created_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|created| {
                    let created = created.with_timezone(&Utc);
                    created >= at - Duration::minutes(1) && created <= at + Duration::minutes(15)
                })
        }))
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

    /// Where one post stands.
    fn status_of(&mut self, remote: &str, at: DateTime<Utc>) -> Result<RemoteStatus, PublishError> {
        let (path, scheduled) = match split(remote) {
            Some(('s', id)) => (format!("/api/v1/scheduled_statuses/{id}"), true),
            Some((_, id)) => (format!("/api/v1/statuses/{id}"), false),
            None => return Ok(RemoteStatus::Missing),
        };
        let answer = self.call(reqwest::Method::GET, &path, Body::Empty, None)?;
        match (answer.status, scheduled) {
            (200, true) => Ok(RemoteStatus::Scheduled),
            (200, false) => {
                self.remember(remote, &answer.body);
                Ok(RemoteStatus::Sent)
            }
            (404, true) if at <= crate::clock::now() => Ok(match self.published_around(at)? {
                Some(status) => {
                    self.remember(remote, &status);
                    RemoteStatus::Sent
                }
                None => RemoteStatus::Missing,
            }),
            (404, _) => Ok(RemoteStatus::Missing),
            _ => Err(self.fault(&answer)),
        }
    }
}

/// A remote id: `s<id>` for a scheduled status, `p<id>` for a published one.
fn split(remote: &str) -> Option<(char, &str)> {
    let mut chars = remote.chars();
    let kind = chars.next().filter(|c| matches!(c, 's' | 'p'))?;
    let id = chars.as_str();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())).then_some((kind, id))
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn garbled(what: &str) -> PublishError {
    PublishError::Unclear(format!(
        "réponse illisible de Mastodon ({what}) : la requête a peut-être abouti"
    ))
}

/// An image that did not go up: nothing was posted, so the delivery waits.
fn transient(error: PublishError) -> PublishError {
    match error {
        PublishError::Unclear(message) => PublishError::Transient(message),
        other => other,
    }
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
            Some(self.upload(outgoing).map_err(transient)?)
        };
        self.post(outgoing, media)
    }

    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        self.replace(remote_id, outgoing).map(|_| ())
    }

    /// Mastodon changes only the time of a scheduled status: a new text or
    /// image is the old one deleted and a new one scheduled.
    fn replace(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<String, PublishError> {
        match split(remote_id) {
            Some(('s', _)) => {
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
        let path = match split(remote_id) {
            Some(('s', id)) => format!("/api/v1/scheduled_statuses/{id}"),
            Some((_, id)) => format!("/api/v1/statuses/{id}"),
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
        let answer = self.call(
            reqwest::Method::GET,
            "/api/v1/scheduled_statuses?limit=40",
            Body::Empty,
            None,
        )?;
        if answer.status != 200 {
            return Err(self.fault(&answer));
        }
        let scheduled = answer.body.as_array().cloned().unwrap_or_default();
        Ok(scheduled
            .iter()
            .filter_map(|item| {
                let at = DateTime::parse_from_rfc3339(item["scheduled_at"].as_str()?)
                    .ok()?
                    .with_timezone(&Utc);
                (from <= at && at <= until).then(|| RemotePost {
                    id: format!("s{}", text_of(&item["id"]).unwrap_or_default()),
                    channel_remote_id: self.channel.clone(),
                    at: Some(at),
                    text: item["params"]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    status: RemoteStatus::Scheduled,
                })
            })
            .collect())
    }

    fn report(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError> {
        let mut report = Report {
            complete: true,
            ..Report::default()
        };
        for (remote, _, at) in remote_ids {
            match self.status_of(remote, *at) {
                Ok(status) => {
                    report.posts.insert(remote.clone(), status);
                }
                Err(error @ PublishError::RateLimited { .. }) => return Err(error),
                Err(_) => report.complete = false,
            }
        }
        Ok(report)
    }

    fn channels(&mut self) -> Result<Option<Vec<super::RemoteChannel>>, PublishError> {
        Ok(None)
    }
}

#[cfg(test)]
mod fake;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
            network: crate::network::Network::Mastodon,
            at,
            text: text.to_owned(),
            alt: "Visuel : 71 % des Français ont activé Mon espace santé".to_owned(),
            image: vec![0x89, b'P', b'N', b'G', 1, 2, 3],
            image_url: None,
        }
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
        assert!(!message.contains("secret"), "{message}");
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
}

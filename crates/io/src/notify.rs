//! Sending notifications: by e-mail through an SMTP relay (`lettre`) and
//! to a webhook (the one HTTP client of [`crate::net`]).
//!
//! A pass (the daemon's, or `crieur publish` run by a person) gathers the
//! problems the state store shows ([`gather`]) and hands them to
//! [`Notifier::announce`], which compares them with those already told
//! (the store's `announced` table), writes one message with the core's
//! [`compose`] and queues it for each way, in the same transaction that
//! marks the problems told: a problem is queued once, never on every
//! pass. [`Notifier::flush`] then sends what is due from the queue, each
//! send bounded by a short timeout; a failure is logged, kept (redacted)
//! for `status` and tried again later with a growing wait. Nothing here
//! fails or holds up publishing: the daemon flushes on a thread of its
//! own that its loop never waits for.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use lettre::Transport as _;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use tracing::{info, warn};

use crate::net::{self, Secret};
use crate::store::{Announcement, Store, StoreError};
use crieur_core::delivery::Status;
use crieur_core::notify::{self, Compose, Message, Notify, PASSWORD_VARIABLE, Problem};

/// Set to `daemon` in the environment of the daemon's passes: the daemon
/// notifies for them, the pass does not.
pub const VARIABLE: &str = "CRIEUR_NOTIFY";

/// The store's `meta` key of the channels whose credentials were refused
/// (JSON: channel to message).
pub const REFUSED: &str = "notify.refused";

/// The store's `meta` key of the last weekly digest queued (RFC 3339).
pub const LAST_DIGEST: &str = "notify.last_digest";

/// How long one send may take, all included.
pub const SEND_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// A message queued longer than this is dropped: it would only be old news.
const KEEP: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("notification illisible dans la base d'état : {0}")]
    Payload(String),
}

/// One way of telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Email,
    Webhook,
}

impl Way {
    pub fn as_str(self) -> &'static str {
        match self {
            Way::Email => "email",
            Way::Webhook => "webhook",
        }
    }

    /// The way in French, for `status` and the logs.
    pub fn label(self) -> &'static str {
        match self {
            Way::Email => "e-mail",
            Way::Webhook => "webhook",
        }
    }

    /// The way [`Way::as_str`] wrote, if it is one.
    pub fn parse(text: &str) -> Option<Way> {
        match text {
            "email" => Some(Way::Email),
            "webhook" => Some(Way::Webhook),
            _ => None,
        }
    }
}

/// The configured ways, with the relay's password.
#[derive(Debug, Clone)]
pub struct Notifier {
    notify: Notify,
    password: Secret,
    /// The webhook's address, which may hold a token (Slack, ntfy).
    webhook: Option<Secret>,
    tz: Tz,
}

impl Notifier {
    /// The notifier of `[notify]`; the password comes from
    /// `CRIEUR_SMTP_PASSWORD`.
    pub fn new(notify: &Notify, tz: Tz) -> Notifier {
        let password = std::env::var(PASSWORD_VARIABLE).unwrap_or_default();
        Notifier {
            notify: notify.clone(),
            password: Secret::new(password.trim()),
            webhook: notify.webhook.as_deref().map(Secret::new),
            tz,
        }
    }

    /// The configured ways.
    pub fn ways(&self) -> Vec<Way> {
        let mut ways = Vec::new();
        if !self.notify.email.is_empty() {
            ways.push(Way::Email);
        }
        if self.notify.webhook.is_some() {
            ways.push(Way::Webhook);
        }
        ways
    }

    /// Where a way goes, as a person reads it; the webhook by its host
    /// only, since its address may hold a token.
    pub fn target(&self, way: Way) -> String {
        match way {
            Way::Email => format!("e-mail à {}", self.notify.email.join(", ")),
            Way::Webhook => {
                let host = self
                    .notify
                    .webhook
                    .as_deref()
                    .and_then(|url| url::Url::parse(url).ok())
                    .and_then(|url| url.host_str().map(str::to_owned))
                    .unwrap_or_default();
                format!("webhook ({host})")
            }
        }
    }

    /// Sends `message` one way, now; the error in French, without secrets.
    pub fn send(&self, way: Way, message: &Message) -> Result<(), String> {
        let result = match way {
            Way::Email => self.send_email(message),
            Way::Webhook => self.send_webhook(message),
        };
        result.map_err(|error| net::secret::redact(&error).into_owned())
    }

    fn send_email(&self, message: &Message) -> Result<(), String> {
        let Some(smtp) = &self.notify.smtp else {
            return Err("aucun relais `smtp` dans `[notify]`".to_owned());
        };
        let from = self.notify.from.as_deref().unwrap_or_default();
        let mut mail = lettre::Message::builder()
            .from(from.parse().map_err(|e| format!("adresse `from` : {e}"))?)
            .subject(message.title.clone())
            .header(ContentType::TEXT_PLAIN);
        for address in &self.notify.email {
            mail = mail.to(address
                .parse()
                .map_err(|e| format!("adresse {address} : {e}"))?);
        }
        let mail = mail
            .body(message.message.clone())
            .map_err(|e| format!("message : {e}"))?;
        let tls = TlsParameters::new(smtp.host.clone()).map_err(|e| net::describe(&e))?;
        let mut transport = lettre::SmtpTransport::builder_dangerous(smtp.host.as_str())
            .port(smtp.port)
            .timeout(Some(SEND_TIMEOUT))
            .tls(if smtp.implicit_tls {
                Tls::Wrapper(tls)
            } else {
                Tls::Opportunistic(tls)
            });
        if let Some(user) = &smtp.user {
            transport = transport.credentials(Credentials::new(
                user.clone(),
                self.password.expose().to_owned(),
            ));
        }
        transport
            .build()
            .send(&mail)
            .map(|_| ())
            .map_err(|e| format!("relais {}:{} : {}", smtp.host, smtp.port, net::describe(&e)))
    }

    fn send_webhook(&self, message: &Message) -> Result<(), String> {
        let Some(url) = &self.webhook else {
            return Err("aucun `webhook` dans `[notify]`".to_owned());
        };
        let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        let call = net::client()
            .post(url.expose())
            .timeout(SEND_TIMEOUT)
            .header("content-type", "application/json")
            .body(body);
        match net::exchange(call, 64 * 1024) {
            Ok(answer) if (200..300).contains(&answer.status) => Ok(()),
            Ok(answer) => Err(format!(
                "le webhook répond {} : {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )),
            Err(net::Failed::Send(error)) => Err(net::describe(&error)),
            Err(net::Failed::Body(error)) => Err(net::describe(&error)),
            Err(net::Failed::Abandoned) => Err("envoi interrompu par l'arrêt".to_owned()),
        }
    }

    /// Compares `current` with what was told, and queues one message for
    /// each way about what is new and what cleared; returns it.
    pub fn announce(
        &self,
        store: &Store,
        current: &[Problem],
        now: DateTime<Utc>,
    ) -> Result<Option<Message>, NotifyError> {
        let announced: Vec<Problem> = store
            .announced()?
            .into_iter()
            .map(|(_, json)| serde_json::from_str(&json))
            .collect::<Result<_, _>>()
            .map_err(|e| NotifyError::Payload(e.to_string()))?;
        let (new, cleared) = notify::changes(&announced, current);
        if new.is_empty() && cleared.is_empty() {
            return Ok(None);
        }
        let told: Vec<Problem> = cleared
            .iter()
            .filter(|p| notify::worth_saying(p, current))
            .cloned()
            .collect();
        let message = notify::compose(&Compose {
            new: &new,
            cleared: &told,
            remaining: current.len(),
            preview: self.notify.preview.as_deref(),
            now,
            tz: self.tz,
        });
        let mut what = Announcement {
            cleared: cleared.iter().map(|p| p.key.clone()).collect(),
            ..Announcement::default()
        };
        for problem in &new {
            let json =
                serde_json::to_string(problem).map_err(|e| NotifyError::Payload(e.to_string()))?;
            what.new.push((problem.key.clone(), json));
        }
        if let Some(message) = &message {
            what.queued = self.queue(message)?;
        }
        store.announce(&what, now)?;
        if let Some(message) = &message {
            info!(sujet = %message.title, "notification préparée");
        }
        Ok(message)
    }

    fn queue(&self, message: &Message) -> Result<Vec<(String, String)>, NotifyError> {
        let json =
            serde_json::to_string(message).map_err(|e| NotifyError::Payload(e.to_string()))?;
        Ok(self
            .ways()
            .into_iter()
            .map(|way| (way.as_str().to_owned(), json.clone()))
            .collect())
    }

    /// Queues the weekly digest when it is due; returns whether it did.
    pub fn digest(&self, store: &Store, now: DateTime<Utc>) -> Result<bool, NotifyError> {
        let Some(digest) = self.notify.digest else {
            return Ok(false);
        };
        let last = store
            .meta(LAST_DIGEST)?
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|at| at.with_timezone(&Utc));
        if !notify::digest_due(digest, last, now, self.tz) {
            return Ok(false);
        }
        let message = notify::digest(&store.deliveries()?, now, self.tz);
        let what = Announcement {
            queued: self.queue(&message)?,
            ..Announcement::default()
        };
        store.announce(&what, now)?;
        store.set_meta(LAST_DIGEST, &now.to_rfc3339())?;
        Ok(true)
    }

    /// Sends every queued message that is due; a failure waits longer
    /// before each new try.
    pub fn flush(&self, store: &Store, now: DateTime<Utc>) -> Result<Flushed, NotifyError> {
        let mut flushed = Flushed::default();
        for pending in store.pending_notifications()? {
            if now - pending.created_at > Duration::days(KEEP) {
                warn!(id = pending.id, "notification trop ancienne, abandonnée");
                store.notification_sent(pending.id)?;
                continue;
            }
            if pending.next_try > now {
                continue;
            }
            let Some(way) = Way::parse(&pending.channel).filter(|w| self.ways().contains(w)) else {
                // The way was removed from the configuration.
                store.notification_sent(pending.id)?;
                continue;
            };
            let message: Message = serde_json::from_str(&pending.payload)
                .map_err(|e| NotifyError::Payload(e.to_string()))?;
            match self.send(way, &message) {
                Ok(()) => {
                    info!(par = way.label(), sujet = %message.title, "notification envoyée");
                    store.notification_sent(pending.id)?;
                    flushed.sent += 1;
                }
                Err(error) => {
                    let next = now + backoff(pending.attempts);
                    warn!(par = way.label(), nouvel_essai = %next, "notification non envoyée : {error}");
                    store.notification_failed(pending.id, &error, next)?;
                    flushed.failed.push((way, error, next));
                }
            }
        }
        Ok(flushed)
    }
}

/// What one flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    pub sent: usize,
    /// The ways that failed, why, and when they are tried again.
    pub failed: Vec<(Way, String, DateTime<Utc>)>,
}

/// The wait before the next try after `attempts` failed ones: 1 min,
/// 2, 4… at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    Duration::minutes(1i64 << attempts.min(6)).min(Duration::hours(1))
}

/// Whether any queued message is due now.
pub fn due(store: &Store, now: DateTime<Utc>) -> bool {
    store
        .pending_notifications()
        .is_ok_and(|pending| pending.iter().any(|p| p.next_try <= now))
}

/// What needs a person now: the deliveries' problems, channels whose
/// credentials are refused, passes failing (`failing` in a row, the last
/// one saying `last_error`) and following stopped.
pub fn gather(store: &Store, failing: u64, last_error: &str) -> Result<Vec<Problem>, NotifyError> {
    let meta =
        |key: &str| -> Result<String, StoreError> { Ok(store.meta(key)?.unwrap_or_default()) };
    let mut extra: Vec<Problem> = refusals(store)?
        .iter()
        .map(|(channel, message)| notify::refused(channel, message))
        .collect();
    extra.extend(notify::failing(failing, last_error));
    let stopped = meta(crate::follow::meta::STOPPED)?;
    if !stopped.is_empty() {
        extra.push(notify::stopped(
            &stopped,
            &meta(crate::follow::meta::STOPPED_HINT)?,
        ));
    }
    Ok(notify::problems(&store.deliveries()?, extra))
}

fn refusals(store: &Store) -> Result<BTreeMap<String, String>, StoreError> {
    Ok(store
        .meta(REFUSED)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// Records the channels whose credentials a pass saw refused. A refusal
/// stays while a delivery of its channel still waits for that reason,
/// even through passes that did not try the channel; it goes once none
/// does.
pub fn record_refusals(
    store: &Store,
    refused: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let mut all = refusals(store)?;
    all.extend(refused.clone());
    let deliveries = store.deliveries()?;
    all.retain(|channel, message| {
        let reason = format!("en attente : {message}");
        deliveries.iter().any(|d| {
            d.channel == *channel
                && d.status == Status::Waiting
                && d.last_error.as_deref() == Some(reason.as_str())
        })
    });
    store.set_meta(REFUSED, &serde_json::to_string(&all).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_longer_after_each_failure_up_to_an_hour() {
        let minutes: Vec<i64> = (0..8).map(|n| backoff(n).num_minutes()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(u32::MAX), Duration::hours(1));
    }
}

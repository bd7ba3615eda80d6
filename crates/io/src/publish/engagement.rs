//! Reading how the posts that went out were received: each publisher's
//! figures for the deliveries the store records as sent, kept in the
//! store with the instant they were read, at most once a day.
//!
//! `crieur report` refreshes before it reports (unless `--offline`), and
//! the daemon asks for a refresh after a pass when the last one is a day
//! old (a child `crieur report --refresh-only`, under the pass lock). A
//! network that cannot be read keeps the figures stored; what failed is
//! kept in `meta` so that every report says so.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};
use crieur_core::config::Config;
use crieur_core::delivery::Status;
use crieur_core::publisher::{Engagements, PublishError, Publisher, Reading, SentPost};

/// `meta`: when the figures were last read (RFC 3339).
pub const REFRESHED: &str = "engagement.refreshed_at";
/// `meta`: what the last refresh could not read ([`Failure`]s as JSON).
pub const FAILED: &str = "engagement.failed";

/// How often figures are read again: the networks (Buffer first) refresh
/// theirs once a day.
pub fn every() -> Duration {
    Duration::days(1)
}

/// How far back posts are read again: a year and a little, the span of an
/// activity report. Older posts keep their last figures.
pub fn reach_back() -> Duration {
    Duration::days(400)
}

/// A publisher that could not be read at a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Who answers for the channels (`Buffer`, `Mastodon (instance)`…).
    pub holder: String,
    pub message: String,
    /// When (RFC 3339).
    pub at: String,
    /// When the figures kept for its posts were read, if ever.
    pub shown: Option<String>,
}

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub read: usize,
    pub gone: usize,
    pub failed: Vec<Failure>,
}

fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// When the figures were last read.
pub fn last_refresh(store: &Store) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(store.meta(REFRESHED)?.as_deref().and_then(parse))
}

/// What the last refresh could not read.
pub fn failures(store: &Store) -> Result<Vec<Failure>, StoreError> {
    Ok(store
        .meta(FAILED)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// Whether the figures are worth reading again: never read, read a day
/// ago or more, or read "later" than a clock that was set back.
pub fn due(store: &Store, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let sent = store
        .deliveries()?
        .iter()
        .any(|d| d.status == Status::Sent && d.remote_id.is_some());
    Ok(sent && last_refresh(store)?.is_none_or(|last| now - last >= every() || last > now))
}

/// Reads the figures of the deliveries sent within [`reach_back`] and
/// keeps them; records the requests made for the budget.
pub fn refresh(
    store: &Store,
    publisher: &mut dyn Publisher,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Refreshed, StoreError> {
    let urls = store.public_urls()?;
    let sent: Vec<_> = store
        .deliveries()?
        .into_iter()
        .filter(|d| d.status == Status::Sent && d.at > now - reach_back())
        .filter(|d| d.remote_id.is_some())
        .collect();
    let posts: Vec<SentPost> = sent
        .iter()
        .map(|d| SentPost {
            remote_id: d.remote_id.clone().unwrap_or_default(),
            channel_remote_id: config
                .channels
                .get(&d.channel)
                .and_then(|c| c.buffer_id.clone())
                .unwrap_or_default(),
            at: d.at,
            url: urls.get(&d.key()).cloned(),
        })
        .collect();
    // A reading changes nothing at the network: an unclear answer is only
    // a failed reading.
    let answer = publisher
        .engagement(&posts)
        .map_err(PublishError::nothing_done);
    store.record_requests(&publisher.take_requests())?;
    let found = answer.unwrap_or_else(|error| Engagements {
        failed: vec![(publisher.name().to_owned(), error.to_string())],
        ..Engagements::default()
    });
    let mut refreshed = Refreshed::default();
    for delivery in &sent {
        let remote = delivery.remote_id.as_deref().unwrap_or_default();
        match found.read.get(remote) {
            Some(Reading::Figures(figures)) => {
                store.record_engagement(&delivery.key(), figures, now)?;
                refreshed.read += 1;
            }
            Some(Reading::Gone) => {
                store.engagement_gone(&delivery.key(), now)?;
                refreshed.gone += 1;
            }
            None => {}
        }
    }
    let stored = store.engagement()?;
    for (holder, message) in found.failed {
        // The figures its posts keep: the latest read of its channels.
        let shown = sent
            .iter()
            .filter(|d| publisher.holder(&d.channel) == holder)
            .filter_map(|d| stored.get(&d.key()).map(|e| e.read_at))
            .max();
        refreshed.failed.push(Failure {
            holder,
            message,
            at: now.to_rfc3339(),
            shown: shown.map(|at| at.to_rfc3339()),
        });
    }
    store.set_meta(REFRESHED, &now.to_rfc3339())?;
    let json = serde_json::to_string(&refreshed.failed).unwrap_or_else(|_| "[]".to_owned());
    store.set_meta(FAILED, &json)?;
    Ok(refreshed)
}

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
use sha2::{Digest, Sha256};

use crate::store::Key;

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
}

//! The waits publishers ask for (rate limits, budgets), kept in the state
//! store so that every pass, and the daemon's timetable, honour them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError};

/// Key of the store's `meta` table for the waits the publishers asked
/// for: a JSON object, the publisher's name
/// (`Buffer`, `Mastodon (instance)`, `Bluesky (handle)`) to the instant its
/// channels may go on.
pub const HOLDS: &str = "publisher.holds";

/// Every wait a publisher asked for, over or not.
pub fn holds(store: &Store) -> Result<BTreeMap<String, DateTime<Utc>>, StoreError> {
    Ok(store
        .meta(HOLDS)?
        .and_then(|json| serde_json::from_str::<BTreeMap<String, String>>(&json).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(holder, at)| {
            let at = DateTime::parse_from_rfc3339(&at).ok()?;
            Some((holder, at.with_timezone(&Utc)))
        })
        .collect())
}

/// The waits not over at `now`.
pub fn active_holds(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, DateTime<Utc>>, StoreError> {
    let mut holds = holds(store)?;
    holds.retain(|_, until| *until > now);
    Ok(holds)
}

/// Records that a publisher asked to wait until `until`; a longer wait
/// already asked stands. A refusal whose reset has already passed still
/// holds for [`ratelimit::min_hold`], so that a pass is never run again at
/// once against a server that said no.
pub fn hold(
    store: &Store,
    holder: &str,
    until: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    let now = crate::clock::now();
    let until = until.max(now + crieur_core::ratelimit::min_hold());
    let mut holds = active_holds(store, now)?;
    let entry = holds.entry(holder.to_owned()).or_insert(until);
    *entry = (*entry).max(until);
    let until = *entry;
    let json: BTreeMap<&String, String> = holds
        .iter()
        .map(|(holder, at)| (holder, at.to_rfc3339()))
        .collect();
    store.set_meta(HOLDS, &serde_json::to_string(&json).unwrap_or_default())?;
    Ok(until)
}

//! What a pass must do, as a pure function.
//!
//! [`diff`] takes what the files want ([`Want`]: a post, a channel, an
//! instant and the hash of its content), what the store knows (the
//! deliveries) and what the publisher reported of the posts awaiting an
//! outcome, and returns the [`Step`]s that bring the publisher in line:
//! settle what the publisher reported, withdraw what the files no longer
//! hold, then create, adopt, edit or hold back what they want, earliest
//! first. It reads no clock and calls nothing: the executor does.
//!
//! The rules that keep a post going out once:
//! - a delivery whose create had an unclear outcome is adopted (looked for
//!   at the publisher) before it is ever created again;
//! - a delivery someone deleted in the publisher's app is never created
//!   again by itself;
//! - a post whose file still exists but has errors keeps what it queued.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use crate::delivery::{Delivery, Key, Status};
use crate::publisher::{RemoteStatus, Report};

/// One delivery the files want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub key: Key,
    /// What identifies its content: any change means an edit.
    pub hash: String,
    /// Why it cannot be sent now (an unusable channel...), if so.
    pub hold: Option<String>,
}

/// What the diff looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub now: DateTime<Utc>,
    /// How late after its instant a post may still go out; past it, a
    /// delivery that never went is missed.
    pub grace: Duration,
    /// By instant.
    pub wanted: &'a [Want],
    pub known: &'a [Delivery],
    /// Posts whose file exists but cannot go out as it stands: what they
    /// queued stays queued.
    pub blocked: &'a BTreeSet<String>,
    /// What the publisher said of the deliveries awaiting an outcome.
    pub report: &'a Report,
    /// Why a channel's posts do not go out, as the publisher's channel
    /// shows it (paused queue, disconnected), by channel name.
    pub stalled: &'a BTreeMap<String, String>,
    /// A store that was just created knows nothing of what the publisher
    /// holds: every create looks first.
    pub adopt_all: bool,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Record what the publisher reported (sent, error, deleted, late) or
    /// what time decided (missed, withdrawn): no call.
    Settle {
        key: Key,
        status: Status,
        message: Option<String>,
    },
    /// Withdraw a delivery the files no longer hold. Without a known id,
    /// look for it first.
    Delete {
        key: Key,
        remote_id: Option<String>,
    },
    /// Look for a post an unclear call may have created; create it if it
    /// is not there (when it is still wanted).
    Adopt {
        key: Key,
        want: Option<usize>,
    },
    Create {
        key: Key,
        want: usize,
    },
    /// Replace the content. `recreate`: if the post is gone, create it
    /// (crieur itself was withdrawing it); otherwise a post gone is one a
    /// person deleted.
    Edit {
        key: Key,
        remote_id: String,
        want: usize,
        recreate: bool,
    },
    /// Hold a new delivery back, with the reason: later passes try again.
    Wait {
        key: Key,
        want: usize,
        reason: String,
    },
    /// A blocked post's delivery stays as it is; named in the summary.
    Keep {
        key: Key,
    },
}

impl Step {
    pub fn key(&self) -> &Key {
        match self {
            Step::Settle { key, .. }
            | Step::Delete { key, .. }
            | Step::Adopt { key, .. }
            | Step::Create { key, .. }
            | Step::Edit { key, .. }
            | Step::Wait { key, .. }
            | Step::Keep { key } => key,
        }
    }
}

/// What to do with a delivery an unclear call may have created, once the
/// publisher was searched for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// Not found and no longer wanted: its instant passed unsent.
    Missed,
    /// Not found and still wanted: create it.
    Create,
    /// Found, carrying the version wanted (or nothing is wanted of it any
    /// more: a later pass withdraws it): record it queued.
    Keep,
    /// Found, carrying an older version: record it queued, then edit it.
    Edit,
}

/// Decides on a delivery an unclear call may have created: `found` at the
/// publisher, the version `wanted` by the files (none when they no longer
/// want it), the version the store `known` for it.
pub fn adoption(found: bool, wanted: Option<&str>, known: Option<&str>) -> Adoption {
    match (found, wanted) {
        (false, None) => Adoption::Missed,
        (false, Some(_)) => Adoption::Create,
        (true, None) => Adoption::Keep,
        (true, Some(wanted)) if known.is_none_or(|known| known == wanted) => Adoption::Keep,
        (true, Some(_)) => Adoption::Edit,
    }
}

/// How long after its instant a post Buffer has not sent is late.
pub fn late_after() -> Duration {
    Duration::hours(1)
}

/// The steps that bring the publisher in line with the files.
pub fn diff(input: Input<'_>) -> Vec<Step> {
    let known: BTreeMap<Key, &Delivery> = input.known.iter().map(|d| (d.key(), d)).collect();
    let wanted: BTreeSet<&Key> = input.wanted.iter().map(|w| &w.key).collect();
    let mut steps: Vec<Step> = input
        .known
        .iter()
        .filter_map(|delivery| outcome(&input, delivery))
        .collect();
    let settled: BTreeSet<Key> = steps.iter().map(|step| step.key().clone()).collect();
    for delivery in input.known {
        if !wanted.contains(&delivery.key()) {
            steps.extend(unwanted(&input, delivery));
        }
    }
    for (index, want) in input.wanted.iter().enumerate() {
        if !settled.contains(&want.key) {
            steps.extend(wanted_step(
                &input,
                index,
                want,
                known.get(&want.key).copied(),
            ));
        }
    }
    steps
}

/// What the publisher's report says of a delivery awaiting its outcome.
fn outcome(input: &Input<'_>, delivery: &Delivery) -> Option<Step> {
    if !delivery.status.awaits_outcome() || delivery.at > input.now {
        return None;
    }
    let remote = delivery.remote_id.as_ref()?;
    let settle = |status: Status, message: Option<String>| {
        let same = delivery.status == status && delivery.last_error == message;
        (!same).then(|| Step::Settle {
            key: delivery.key(),
            status,
            message,
        })
    };
    match input.report.posts.get(remote)? {
        RemoteStatus::Sent => settle(Status::Sent, None),
        RemoteStatus::Failed(message) => settle(Status::Error, Some(message.clone())),
        RemoteStatus::Missing => settle(
            Status::Deleted,
            Some("introuvable chez l'éditeur : supprimé dans son application, ou sur le réseau après sa publication".to_owned()),
        ),
        RemoteStatus::Sending => None,
        status if input.now - delivery.at > late_after() => {
            let reason = match status {
                RemoteStatus::Draft => "enregistré comme brouillon dans Buffer".to_owned(),
                RemoteStatus::NeedsApproval => "en attente d'approbation dans Buffer".to_owned(),
                _ => input
                    .stalled
                    .get(&delivery.channel)
                    .cloned()
                    .unwrap_or_else(|| "l'éditeur ne l'a pas encore envoyé".to_owned()),
            };
            settle(Status::Late, Some(format!("en retard : {reason}")))
        }
        _ => None,
    }
}

/// A delivery the files no longer want (or whose instant passed).
fn unwanted(input: &Input<'_>, delivery: &Delivery) -> Option<Step> {
    let key = delivery.key();
    if delivery.at < input.now {
        match delivery.status {
            Status::Waiting if input.now - delivery.at > input.grace => {
                let why = delivery
                    .last_error
                    .as_deref()
                    .map(|reason| reason.trim_start_matches("en attente : "))
                    .filter(|reason| !reason.is_empty())
                    .map_or_else(String::new, |reason| format!(" ; il attendait : {reason}"));
                return Some(Step::Settle {
                    key,
                    status: Status::Missed,
                    message: Some(format!(
                        "manqué : le délai de grâce ({}) est passé sans que le post parte{why}",
                        crate::config::format_duration(input.grace)
                    )),
                });
            }
            Status::Creating => return Some(Step::Adopt { key, want: None }),
            // Within the grace, a waiting delivery the files no longer want
            // is withdrawn (or kept, when its post is blocked), as before
            // its instant.
            Status::Waiting => {}
            _ => return None,
        }
    }
    if !delivery.status.is_pending() && delivery.status != Status::Waiting {
        return None;
    }
    if input.blocked.contains(&delivery.post_id) {
        return Some(Step::Keep { key });
    }
    match delivery.status {
        Status::Waiting => Some(Step::Settle {
            key,
            status: Status::Withdrawn,
            message: None,
        }),
        Status::Creating => Some(Step::Delete {
            key,
            remote_id: None,
        }),
        _ => Some(Step::Delete {
            key,
            remote_id: delivery.remote_id.clone(),
        }),
    }
}

/// A delivery the files want.
fn wanted_step(
    input: &Input<'_>,
    index: usize,
    want: &Want,
    known: Option<&Delivery>,
) -> Option<Step> {
    let key = want.key.clone();
    let changed = known.is_none_or(|d| d.content_hash != want.hash);
    let create = || match &want.hold {
        Some(reason) => {
            let same = known.is_some_and(|d| {
                d.status == Status::Waiting && d.last_error.as_deref() == Some(reason.as_str())
            });
            (!same).then(|| Step::Wait {
                key: key.clone(),
                want: index,
                reason: reason.clone(),
            })
        }
        None if input.adopt_all && known.is_none() => Some(Step::Adopt {
            key: key.clone(),
            want: Some(index),
        }),
        None => Some(Step::Create {
            key: key.clone(),
            want: index,
        }),
    };
    let Some(delivery) = known else {
        return create();
    };
    // Its time has come: the publisher has it, or said how it went.
    if delivery.at <= input.now && delivery.remote_id.is_some() && !delivery.status.is_pending() {
        return None;
    }
    let edit = |recreate: bool| match &delivery.remote_id {
        Some(remote_id) => Some(Step::Edit {
            key: key.clone(),
            remote_id: remote_id.clone(),
            want: index,
            recreate,
        }),
        None => Some(Step::Adopt {
            key: key.clone(),
            want: Some(index),
        }),
    };
    match delivery.status {
        Status::Withdrawn | Status::Waiting => create(),
        // Refused: tried again once the file changes, as a new post if the
        // publisher never took it, as an edit if it holds it.
        Status::Error if changed && delivery.remote_id.is_none() => create(),
        Status::Error if changed && want.hold.is_none() => edit(false),
        Status::Creating => Some(Step::Adopt {
            key,
            want: Some(index),
        }),
        Status::Queued | Status::Late if changed && want.hold.is_none() => edit(false),
        // An edit was interrupted: a publisher that edits by deleting then
        // creating again (Mastodon) may have deleted it already, so a post
        // gone is created again rather than taken for one deleted by hand.
        Status::Editing => edit(true),
        Status::Deleting => edit(true),
        Status::Queued
        | Status::Late
        | Status::Error
        | Status::Deleted
        | Status::Sent
        | Status::Missed => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn a_post_an_unclear_call_may_have_made_is_kept_edited_made_or_missed() {
        // Found: kept when it carries what is wanted (or the store knows
        // no other version), edited when it carries an older one.
        assert_eq!(adoption(true, Some("v2"), Some("v2")), Adoption::Keep);
        assert_eq!(adoption(true, Some("v2"), None), Adoption::Keep);
        assert_eq!(adoption(true, Some("v2"), Some("v1")), Adoption::Edit);
        // No longer wanted: kept, for a later pass to withdraw.
        assert_eq!(adoption(true, None, Some("v1")), Adoption::Keep);
        // Not found: made when still wanted, missed otherwise.
        assert_eq!(adoption(false, Some("v2"), Some("v1")), Adoption::Create);
        assert_eq!(adoption(false, None, Some("v1")), Adoption::Missed);
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn key(post: usize, channel: usize, hour: i64) -> Key {
        Key {
            post_id: format!("p{post}"),
            channel: format!("c{channel}"),
            at: now() + Duration::hours(hour),
        }
    }

    fn delivery(key: &Key, status: Status, hash: &str, remote: Option<&str>) -> Delivery {
        Delivery {
            id: 0,
            post_id: key.post_id.clone(),
            channel: key.channel.clone(),
            at: key.at,
            content_hash: hash.to_owned(),
            image_url: None,
            remote_id: remote.map(str::to_owned),
            status,
            attempts: 0,
            last_error: None,
            updated_at: now(),
        }
    }

    #[derive(Debug)]
    struct World {
        wanted: Vec<Want>,
        known: Vec<Delivery>,
        blocked: BTreeSet<String>,
        report: Report,
        adopt_all: bool,
    }

    impl World {
        fn diff(&self) -> Vec<Step> {
            diff(Input {
                now: now(),
                grace: Duration::hours(1),
                wanted: &self.wanted,
                known: &self.known,
                blocked: &self.blocked,
                report: &self.report,
                stalled: &BTreeMap::new(),
                adopt_all: self.adopt_all,
            })
        }

        /// Carries the steps out as a publisher that accepts everything
        /// would, then forgets the report's news (it was recorded).
        fn apply(&mut self, steps: &[Step]) {
            for step in steps {
                let key = step.key().clone();
                let hash = |want: usize| self.wanted[want].hash.clone();
                let (status, hash, message, remote) = match step {
                    Step::Settle {
                        status, message, ..
                    } => (*status, None, message.clone(), None),
                    Step::Delete { .. } => (Status::Withdrawn, None, None, None),
                    Step::Adopt { want: None, .. } => (Status::Missed, None, None, None),
                    Step::Adopt { want: Some(w), .. }
                    | Step::Create { want: w, .. }
                    | Step::Edit { want: w, .. } => (
                        Status::Queued,
                        Some(hash(*w)),
                        None,
                        Some(format!("r-{}", key.post_id)),
                    ),
                    Step::Wait { want, reason, .. } => (
                        Status::Waiting,
                        Some(hash(*want)),
                        Some(reason.clone()),
                        None,
                    ),
                    Step::Keep { .. } => continue,
                };
                match self.known.iter_mut().find(|d| d.key() == key) {
                    Some(d) => {
                        d.status = status;
                        d.last_error = message;
                        if let Some(hash) = hash {
                            d.content_hash = hash;
                        }
                        if remote.is_some() {
                            d.remote_id = remote;
                        }
                    }
                    None => {
                        let mut d = delivery(&key, status, &hash.unwrap_or_default(), None);
                        d.remote_id = remote;
                        d.last_error = message;
                        self.known.push(d);
                    }
                }
            }
        }
    }

    fn want(key: Key, hash: &str) -> Want {
        Want {
            key,
            hash: hash.to_owned(),
            hold: None,
        }
    }

    #[test]
    fn a_waiting_post_goes_out_late_within_the_grace_and_is_missed_past_it() {
        // Twenty minutes late, still wanted: it is sent now.
        let late = key(0, 0, 0);
        let late = Key {
            at: late.at - Duration::minutes(20),
            ..late
        };
        let mut waiting = delivery(&late, Status::Waiting, "h", None);
        waiting.last_error = Some("en attente : Bluesky demande de patienter".into());
        let world = World {
            wanted: vec![want(late.clone(), "h")],
            known: vec![waiting.clone()],
            blocked: BTreeSet::new(),
            report: Report::default(),
            adopt_all: false,
        };
        assert_eq!(
            world.diff(),
            [Step::Create {
                key: late.clone(),
                want: 0
            }]
        );
        // Two hours late, past the grace (the plan no longer wants it):
        // missed, with what it was waiting for.
        let old = Key {
            at: late.at - Duration::minutes(100),
            ..late.clone()
        };
        let world = World {
            wanted: vec![],
            known: vec![delivery(&old, Status::Waiting, "h", None), {
                let mut d = waiting;
                d.post_id = "p9".into();
                d
            }],
            blocked: BTreeSet::new(),
            report: Report::default(),
            adopt_all: false,
        };
        let steps = world.diff();
        let Step::Settle {
            status, message, ..
        } = &steps[0]
        else {
            panic!("{steps:?}")
        };
        assert_eq!(*status, Status::Missed);
        assert!(message.as_deref().unwrap().contains("délai de grâce (1 h)"));
        // Within the grace, a waiting post whose file is gone is withdrawn.
        assert!(matches!(
            steps[1],
            Step::Settle {
                status: Status::Withdrawn,
                ..
            }
        ));
    }

    #[test]
    fn a_post_deleted_in_the_app_is_settled_once_and_never_created_again() {
        let past = key(1, 1, -3);
        let mut world = World {
            wanted: vec![],
            known: vec![delivery(&past, Status::Queued, "h", Some("r1"))],
            blocked: BTreeSet::new(),
            report: Report {
                posts: [("r1".to_owned(), RemoteStatus::Missing)].into(),
                complete: true,
            },
            adopt_all: false,
        };
        let steps = world.diff();
        assert!(matches!(
            &steps[..],
            [Step::Settle {
                status: Status::Deleted,
                ..
            }]
        ));
        world.apply(&steps);
        assert!(world.diff().is_empty());
        // Deleted before its instant, and still in the files: not recreated.
        let future = key(2, 1, 5);
        let world = World {
            wanted: vec![want(future.clone(), "new")],
            known: vec![delivery(&future, Status::Deleted, "old", Some("r2"))],
            blocked: BTreeSet::new(),
            report: Report::default(),
            adopt_all: false,
        };
        assert!(world.diff().is_empty());
    }

    #[test]
    fn a_post_unsent_an_hour_after_its_time_is_late_with_the_reason() {
        let past = key(1, 1, -2);
        let world = World {
            wanted: vec![],
            known: vec![delivery(&past, Status::Queued, "h", Some("r1"))],
            blocked: BTreeSet::new(),
            report: Report {
                posts: [("r1".to_owned(), RemoteStatus::NeedsApproval)].into(),
                complete: true,
            },
            adopt_all: false,
        };
        let steps = world.diff();
        let [
            Step::Settle {
                status: Status::Late,
                message: Some(message),
                ..
            },
        ] = &steps[..]
        else {
            panic!("{steps:?}");
        };
        assert!(message.contains("approbation"), "{message}");
    }

    #[test]
    fn an_interrupted_edit_is_finished_even_if_the_post_is_gone() {
        let future = key(1, 1, 5);
        let world = World {
            wanted: vec![want(future.clone(), "new")],
            known: vec![delivery(&future, Status::Editing, "old", Some("r1"))],
            blocked: BTreeSet::new(),
            report: Report::default(),
            adopt_all: false,
        };
        assert_eq!(
            world.diff(),
            vec![Step::Edit {
                key: future,
                remote_id: "r1".into(),
                want: 0,
                recreate: true
            }]
        );
    }

    #[test]
    fn a_blocked_post_keeps_what_it_queued() {
        let future = key(1, 1, 5);
        let world = World {
            wanted: vec![],
            known: vec![delivery(&future, Status::Queued, "h", Some("r1"))],
            blocked: ["p1".to_owned()].into(),
            report: Report::default(),
            adopt_all: false,
        };
        assert_eq!(world.diff(), vec![Step::Keep { key: future }]);
    }

    #[test]
    fn waiting_deliveries_go_earliest_first_and_a_held_one_waits() {
        let early = key(1, 1, 2);
        let late = key(2, 1, 30);
        let mut held = want(key(3, 2, 10), "h3");
        held.hold = Some("canal verrouillé".into());
        let world = World {
            wanted: vec![want(early.clone(), "h1"), held, want(late.clone(), "h2")],
            known: vec![delivery(&late, Status::Waiting, "h2", None)],
            blocked: BTreeSet::new(),
            report: Report::default(),
            adopt_all: false,
        };
        let steps = world.diff();
        assert!(matches!(&steps[0], Step::Create { key, .. } if *key == early));
        assert!(matches!(&steps[1], Step::Wait { reason, .. } if reason == "canal verrouillé"));
        assert!(matches!(&steps[2], Step::Create { key, .. } if *key == late));
    }

    fn status() -> impl Strategy<Value = Status> {
        proptest::sample::select(Status::ALL.to_vec())
    }

    fn remote_status() -> impl Strategy<Value = RemoteStatus> {
        prop_oneof![
            Just(RemoteStatus::Scheduled),
            Just(RemoteStatus::Sending),
            Just(RemoteStatus::Sent),
            Just(RemoteStatus::Failed("refusé".into())),
            Just(RemoteStatus::Draft),
            Just(RemoteStatus::NeedsApproval),
            Just(RemoteStatus::Missing),
        ]
    }

    prop_compose! {
        fn world()(
            wanted in proptest::collection::btree_map((0..6usize, 0..2usize, -4..6i64), 0..3u8, 0..8),
            known in proptest::collection::btree_map(
                (0..6usize, 0..2usize, -4..6i64),
                (status(), 0..3u8, any::<bool>(), remote_status()),
                0..8,
            ),
            blocked in proptest::collection::btree_set(0..6usize, 0..3),
            holds in proptest::collection::vec(any::<bool>(), 8),
            adopt_all in any::<bool>(),
        ) -> World {
            let wanted: Vec<Want> = wanted
                .into_iter()
                .filter(|((_, _, hour), _)| *hour >= 0)
                .enumerate()
                .map(|(i, ((p, c, h), hash))| Want {
                    key: key(p, c, h),
                    hash: format!("h{hash}"),
                    hold: holds[i % holds.len()].then(|| "attente".to_owned()),
                })
                .collect();
            let mut report = Report { posts: BTreeMap::new(), complete: true };
            let known = known
                .into_iter()
                .map(|((p, c, h), (status, hash, has_remote, remote))| {
                    let remote_id = has_remote.then(|| format!("r-{p}-{c}-{h}"));
                    if let Some(id) = &remote_id {
                        report.posts.insert(id.clone(), remote);
                    }
                    delivery(&key(p, c, h), status, &format!("h{hash}"), remote_id.as_deref())
                })
                .collect();
            let blocked = blocked.into_iter().map(|p| format!("p{p}")).collect();
            World { wanted, known, blocked, report, adopt_all }
        }
    }

    proptest! {
        #[test]
        fn never_two_creates_for_one_delivery(world in world()) {
            let steps = world.diff();
            let mut creating = BTreeSet::new();
            for step in &steps {
                if let Step::Create { key, .. } | Step::Adopt { key, .. } = step {
                    prop_assert!(creating.insert(key.clone()), "{steps:?}");
                }
            }
        }

        #[test]
        fn a_deleted_delivery_is_never_recreated(world in world()) {
            let deleted: BTreeSet<Key> = world
                .known
                .iter()
                .filter(|d| d.status == Status::Deleted)
                .map(Delivery::key)
                .collect();
            for step in world.diff() {
                if let Step::Create { key, .. } | Step::Adopt { key, .. } | Step::Edit { key, .. } = &step {
                    prop_assert!(!deleted.contains(key), "{step:?}");
                }
            }
        }

        #[test]
        fn executing_the_steps_then_diffing_again_gives_no_step(mut world in world()) {
            let steps = world.diff();
            world.apply(&steps);
            // The publisher now holds what was queued, as it was sent.
            world.report.posts.retain(|_, status| *status != RemoteStatus::Missing);
            for delivery in &world.known {
                if let Some(remote) = &delivery.remote_id {
                    world.report.posts.entry(remote.clone()).or_insert(RemoteStatus::Scheduled);
                }
            }
            world.adopt_all = false;
            let again: Vec<Step> = world
                .diff()
                .into_iter()
                .filter(|step| !matches!(step, Step::Keep { .. }))
                .collect();
            prop_assert!(again.is_empty(), "first {steps:?}\nthen {again:?}");
        }
    }
}

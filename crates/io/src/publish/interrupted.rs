//! Property tests of the settle phase, the diff and the executor together,
//! against a model network of each kind crieur publishes to directly: a
//! scheduler (Mastodon: statuses scheduled ahead, an edit is a delete and
//! a new status, found again by instant and text) and a network of
//! records under keys chosen by the client (Bluesky). Passes are
//! interrupted after any remote write (its answer lost, the pass stopped,
//! as a kill does), and the post is edited (A, B, A…) or removed between
//! passes. Once passes run again undisturbed: never two remote versions,
//! never a post lost, and a withdrawn post leaves nothing remote.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::execute::{self, Prepared};
use super::pass::{self, Keep, Options, Summary};
use crate::store::Store;
use crieur_core::delivery::{Key, Status, Write};
use crieur_core::diff::{self, Input, Want};
use crieur_core::network::Network;
use crieur_core::publisher::{
    Outgoing, PublishError, Publisher, RemoteChannel, RemotePost, RemoteStatus, Report,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scheduler,
    Records,
}

/// One object the model network holds.
#[derive(Debug, Clone)]
struct Object {
    text: String,
    at: DateTime<Utc>,
}

/// A network that does what it is asked, and at its `kill_at`-th write
/// asks the pass to stop: the answer lost (a kill during the call), or
/// given (a kill between two steps).
struct Model<'s> {
    kind: Kind,
    objects: BTreeMap<String, Object>,
    /// The object each token made (idempotency keys, record keys).
    tokens: BTreeMap<String, String>,
    next: u64,
    writes: usize,
    kill_at: Option<usize>,
    /// Whether the answer of the write the pass is stopped at is lost.
    lose: bool,
    stop: &'s AtomicBool,
}

impl Model<'_> {
    /// Counts a write; true when its answer is lost.
    fn killed(&mut self) -> bool {
        self.writes += 1;
        if self.kill_at == Some(self.writes) {
            self.stop.store(true, Ordering::SeqCst);
            return self.lose;
        }
        false
    }

    fn lost() -> PublishError {
        PublishError::Unclear("réponse perdue".into())
    }
}

impl Publisher for Model<'_> {
    fn name(&self) -> &'static str {
        "Modèle"
    }

    fn fetches_images(&self) -> bool {
        false
    }

    fn tracks_writes(&self, _: &str) -> bool {
        true
    }

    fn token(&self, _: &Outgoing, attempt: i64) -> String {
        format!("t{attempt}")
    }

    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
        let token = outgoing.token.clone().expect("a token before the call");
        if let Some(remote) = self.tokens.get(&token)
            && self.objects.contains_key(remote)
        {
            return Ok(remote.clone());
        }
        self.next += 1;
        let remote = match self.kind {
            Kind::Scheduler => format!("s{}", self.next),
            Kind::Records => token.clone(),
        };
        self.objects.insert(
            remote.clone(),
            Object {
                text: outgoing.text.clone(),
                at: outgoing.at,
            },
        );
        self.tokens.insert(token, remote.clone());
        if self.killed() {
            return Err(Self::lost());
        }
        Ok(remote)
    }

    fn edit(&mut self, remote: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        self.replace(remote, outgoing).map(|_| ())
    }

    fn replace(&mut self, remote: &str, outgoing: &Outgoing) -> Result<String, PublishError> {
        match self.kind {
            Kind::Scheduler => {
                self.delete(remote)?;
                self.create(outgoing)
            }
            Kind::Records => Err(PublishError::Refused {
                kind: "Modèle".into(),
                message: "un post publié ne se modifie pas".into(),
            }),
        }
    }

    fn delete(&mut self, remote: &str) -> Result<(), PublishError> {
        if self.objects.remove(remote).is_none() {
            return Err(PublishError::NotFound(remote.into()));
        }
        if self.killed() {
            return Err(Self::lost());
        }
        Ok(())
    }

    fn locate(&mut self, write: &Write, taken: &[String]) -> Result<Option<String>, PublishError> {
        Ok(match self.kind {
            Kind::Records => self
                .objects
                .contains_key(&write.token)
                .then(|| write.token.clone()),
            // A scheduler is searched by instant and text.
            Kind::Scheduler => {
                let text = self
                    .tokens
                    .get(&write.token)
                    .and_then(|r| self.objects.get(r));
                let text = text.map(|o| o.text.clone());
                self.objects
                    .iter()
                    .find(|(remote, object)| {
                        object.at == write.key.at
                            && Some(&object.text) == text.as_ref()
                            && !taken.contains(remote)
                    })
                    .map(|(remote, _)| remote.clone())
            }
        })
    }

    fn list(
        &mut self,
        _: &[String],
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<RemotePost>, PublishError> {
        Ok(Vec::new())
    }

    fn report(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError> {
        Ok(Report {
            posts: remote_ids
                .iter()
                .map(|(remote, _, _)| {
                    let status = if self.objects.contains_key(remote) {
                        RemoteStatus::Scheduled
                    } else {
                        RemoteStatus::Missing
                    };
                    (remote.clone(), status)
                })
                .collect(),
            complete: true,
        })
    }

    fn channels(&mut self) -> Result<Option<Vec<RemoteChannel>>, PublishError> {
        Ok(None)
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn key(kind: Kind) -> Key {
    Key {
        post_id: "chiffre/01".into(),
        channel: "reseau".into(),
        // A scheduler holds the post ahead; records go out at their time.
        at: match kind {
            Kind::Scheduler => now() + Duration::days(1),
            Kind::Records => now() - Duration::minutes(1),
        },
    }
}

/// One pass over one post whose file holds `text` (or is gone).
fn run(store: &Store, model: &mut Model<'_>, text: Option<&str>) {
    let key = key(model.kind);
    let options = Options {
        now: now(),
        grace: Duration::hours(1),
        dry_run: false,
        fresh_store: false,
        stop: Some(model.stop),
    };
    let mut summary = Summary::default();
    let items: Vec<Prepared> = text
        .map(|text| Prepared {
            outgoing: Outgoing {
                post_id: key.post_id.clone(),
                channel: key.channel.clone(),
                channel_remote_id: None,
                network: Network::Mastodon,
                at: key.at,
                text: text.to_owned(),
                alt: "Visuel".into(),
                image: Vec::new(),
                image_url: None,
                token: None,
            },
            hash: format!("hash-{text}"),
            path: format!("posts/{}.md", key.post_id),
            series: None,
        })
        .into_iter()
        .collect();
    let wanted: Vec<Want> = items
        .iter()
        .map(|item| Want {
            key: key.clone(),
            hash: item.hash.clone(),
            hold: None,
        })
        .collect();
    let keep = Keep {
        wanted: wanted.iter().map(|w| w.key.clone()).collect(),
        held: BTreeSet::new(),
    };
    let before = store.deliveries().unwrap();
    let unsettled = pass::settle_writes(
        store,
        model,
        &before,
        &keep,
        &BTreeMap::new(),
        options,
        &mut summary,
    )
    .unwrap();
    if options.stopping() || !unsettled.is_empty() {
        return;
    }
    let known = store.deliveries().unwrap();
    let steps = diff::diff(Input {
        now: options.now,
        grace: options.grace,
        wanted: &wanted,
        known: &known,
        blocked: &BTreeSet::new(),
        report: &Report::default(),
        stalled: &BTreeMap::new(),
        adopt_all: false,
    });
    let _ = execute::run(&steps, &items, store, model, None, options, &mut summary);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn interrupted_passes_edits_and_withdrawals_leave_one_version_or_none(
        records in any::<bool>(),
        rounds in proptest::collection::vec(
            (0..3u8, proptest::option::of(1..4usize), any::<bool>()),
            1..8,
        ),
    ) {
        let kind = if records { Kind::Records } else { Kind::Scheduler };
        let store = Store::in_memory().unwrap();
        let stop = AtomicBool::new(false);
        let mut model = Model {
            kind,
            objects: BTreeMap::new(),
            tokens: BTreeMap::new(),
            next: 0,
            writes: 0,
            kill_at: None,
            lose: true,
            stop: &stop,
        };
        let texts = [Some("Version A"), Some("Version B"), None];
        let mut file = texts[0];
        for (version, kill, lose) in rounds {
            file = texts[usize::from(version)];
            stop.store(false, Ordering::SeqCst);
            model.writes = 0;
            model.kill_at = kill;
            model.lose = lose;
            run(&store, &mut model, file);
        }
        // Undisturbed from here.
        model.kill_at = None;
        for _ in 0..3 {
            stop.store(false, Ordering::SeqCst);
            run(&store, &mut model, file);
        }
        let delivery = store.delivery(&key(kind)).unwrap();
        let objects: Vec<(&String, &Object)> = model.objects.iter().collect();
        prop_assert!(objects.len() <= 1, "two remote versions: {:?}", objects);
        match (file, kind) {
            (Some(text), Kind::Scheduler) => {
                prop_assert_eq!(objects.len(), 1, "lost: {:?}", delivery);
                prop_assert_eq!(&objects[0].1.text, text);
            }
            // Out at its time: the version that went out stays.
            (Some(_), Kind::Records) => prop_assert_eq!(objects.len(), 1, "lost: {:?}", delivery),
            (None, _) => {}
        }
        if let Some(delivery) = &delivery {
            if delivery.status == Status::Withdrawn {
                prop_assert!(objects.is_empty(), "withdrawn, yet {:?}", objects);
            }
            if let Some((remote, _)) = objects.first() {
                prop_assert_eq!(delivery.remote_id.as_ref(), Some(*remote), "{:?}", delivery);
            }
        }
    }
}

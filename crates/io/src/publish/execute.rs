//! Carrying out a pass's steps, one call at a time, in order.
//!
//! Before each call the store records the intent (`creating`, `editing`,
//! `deleting`); after it, the outcome. A delivery left `creating` by a
//! call whose outcome is unclear (a timeout, a reset, a garbled answer) is
//! adopted by a later pass, never created again blindly. Images are hosted
//! and their public URL fetched before the post that needs them is queued.
//! A full queue, a spent request budget, an unusable channel or an image
//! that cannot be reached leave the delivery `waiting`; later passes try
//! again, earliest first.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::holds;
use super::outcome::{Named, Options, PassError, Summary};
use crate::media::{self, MediaStore};
use crate::store::{Settle, Store};
use crieur_core::delivery::{Key, Status, Write, WriteState};
use crieur_core::diff::{self, Adoption, Step};
use crieur_core::publisher::{Outgoing, PublishError, Publisher, RemotePost, normalise};

/// One wanted delivery, ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub outgoing: Outgoing,
    pub hash: String,
    /// The post's file, for messages.
    pub path: String,
    pub series: Option<String>,
}

/// Why the executor stops before the end of the steps.
enum Halt {
    /// The key is refused: nothing more can be sent.
    Unauthorized(String),
    /// The publisher asks to wait (or the budget is spent) until then.
    Wait(DateTime<Utc>),
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for Halt {
    fn from(error: crate::store::StoreError) -> Self {
        Halt::Store(error)
    }
}

struct Executor<'a, 's> {
    store: &'a Store,
    publisher: &'a mut dyn Publisher,
    media: Option<&'a mut dyn MediaStore>,
    items: &'a [Prepared],
    options: Options<'s>,
    summary: &'a mut Summary,
    /// Channels whose queue answered full this pass.
    full: BTreeSet<String>,
    /// The publisher's posts over the pass's window, read once for
    /// adoption.
    listing: Option<Vec<RemotePost>>,
    /// The publishers that asked to wait, and until when.
    held: BTreeMap<String, DateTime<Utc>>,
}

/// Carries out the steps. A publisher that asks to wait holds only its own
/// channels: their deliveries wait, the other channels go on. A refused
/// key stops the pass.
pub fn run<'a>(
    steps: &[Step],
    items: &'a [Prepared],
    store: &'a Store,
    publisher: &'a mut dyn Publisher,
    media: Option<&'a mut dyn MediaStore>,
    options: Options<'_>,
    summary: &'a mut Summary,
) -> Result<(), PassError> {
    let held = summary.holds.clone();
    let mut executor = Executor {
        store,
        publisher,
        media,
        items,
        options,
        summary,
        full: BTreeSet::new(),
        listing: None,
        held,
    };
    for step in steps {
        if executor.options.stopping() {
            break;
        }
        let outcome = match executor.holder_held(step) {
            Some((holder, until)) => executor.held_step(step, &holder, until),
            None => executor.step(step),
        };
        store.record_requests(&executor.publisher.take_requests())?;
        match outcome {
            Ok(()) => {}
            Err(Halt::Wait(until)) => {
                let holder = executor.publisher.holder(&step.key().channel);
                let until = holds::hold(store, &holder, until)?;
                executor.summary.holds.insert(holder.clone(), until);
                executor.held.insert(holder, until);
            }
            Err(Halt::Unauthorized(message)) => return Err(PassError::Unauthorized(message)),
            Err(Halt::Store(error)) => return Err(error.into()),
        }
    }
    Ok(())
}

fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Paris)
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

impl Executor<'_, '_> {
    fn step(&mut self, step: &Step) -> Result<(), Halt> {
        let now = self.options.now;
        match step {
            Step::Settle {
                key,
                status,
                message,
            } => {
                if *status == Status::Sent {
                    self.keep_url(key)?;
                }
                self.store.settle(
                    key,
                    Settle {
                        error: message.as_deref(),
                        ..Settle::status(*status)
                    },
                    now,
                )?;
                if *status == Status::Withdrawn {
                    self.summary.withdrawn.push(key.post_id.clone());
                } else {
                    self.summary
                        .settled
                        .push((named(key, message.clone().unwrap_or_default()), *status));
                }
                Ok(())
            }
            Step::Delete { key, remote_id } => self.delete(key, remote_id.clone()),
            Step::Adopt { key, want } => self.adopt(key, *want),
            Step::Create { want, .. } => self.create(*want),
            Step::Edit {
                remote_id,
                want,
                recreate,
                ..
            } => self.edit(remote_id, *want, *recreate),
            // An unusable channel needs a person.
            Step::Wait { key, want, reason } => {
                self.wait(key, &self.items[*want].hash.clone(), reason, true)
            }
            Step::Keep { key } => {
                self.summary.blocked.retain(|b| b.path != path_of(key));
                self.summary.blocked.push(named(
                    key,
                    "le post a des erreurs : il reste programmé tel quel ; corrigez-le (voir `crieur check`)".to_owned(),
                ));
                Ok(())
            }
        }
    }

    /// Records a delivery as waiting; `attention` when a person must act.
    fn wait(&mut self, key: &Key, hash: &str, reason: &str, attention: bool) -> Result<(), Halt> {
        self.store
            .record(key, Status::Waiting, hash, Some(reason), self.options.now)?;
        let entry = named(key, reason.to_owned());
        if attention {
            self.summary.failed.push(entry.clone());
        }
        self.summary.waiting.push(entry);
        Ok(())
    }

    /// The publisher of a step's channel, if it asked to wait.
    fn holder_held(&self, step: &Step) -> Option<(String, DateTime<Utc>)> {
        if matches!(step, Step::Settle { .. } | Step::Keep { .. }) {
            return None;
        }
        let holder = self.publisher.holder(&step.key().channel);
        self.held.get(&holder).map(|until| (holder, *until))
    }

    /// A step of a publisher that asked to wait: a new delivery waits with
    /// the resume time; the rest (edits, withdrawals, adoptions) is left
    /// for a pass after the wait.
    fn held_step(&mut self, step: &Step, holder: &str, until: DateTime<Utc>) -> Result<(), Halt> {
        let reason = format!(
            "en attente : {holder} demande de patienter jusqu'au {} ; le post partira ensuite s'il est encore dans le délai de grâce",
            local_time(until)
        );
        match step {
            Step::Create { key, want } => {
                let hash = self.items[*want].hash.clone();
                self.wait(key, &hash, &reason, false)
            }
            Step::Adopt {
                key,
                want: Some(want),
            } if self
                .store
                .delivery(key)?
                .is_none_or(|d| d.status == Status::Waiting) =>
            {
                let hash = self.items[*want].hash.clone();
                self.wait(key, &hash, &reason, false)
            }
            Step::Wait { .. } => self.step(step),
            _ => Ok(()),
        }
    }

    /// Hosts the image of a delivery for publishers that fetch it, and
    /// checks its public URL; on failure the delivery waits.
    fn host(&mut self, want: usize) -> Result<Option<Outgoing>, Halt> {
        let item = &self.items[want];
        let mut outgoing = item.outgoing.clone();
        if !self.publisher.fetches_images_for(&outgoing.channel) {
            return Ok(Some(outgoing));
        }
        let key = key_of(&outgoing);
        let hash = item.hash.clone();
        let Some(store) = self.media.as_deref_mut() else {
            let reason = "aucun hébergement d'images configuré (`[media]` dans config/crieur.toml)";
            self.wait(&key, &hash, reason, true)?;
            return Ok(None);
        };
        match media::host(store, &outgoing.image) {
            Ok(url) => {
                outgoing.image_url = Some(url);
                Ok(Some(outgoing))
            }
            Err(error) => {
                self.wait(&key, &hash, &format!("en attente : {error}"), true)?;
                Ok(None)
            }
        }
    }

    fn create(&mut self, want: usize) -> Result<(), Halt> {
        let item = self.items[want].clone();
        let key = key_of(&item.outgoing);
        if self.full.contains(&key.channel) {
            return self.wait(&key, &item.hash, &queue_full(&key.channel), false);
        }
        let Some(mut outgoing) = self.host(want)? else {
            return Ok(());
        };
        let now = self.options.now;
        self.store.intend(
            &key,
            Status::Creating,
            &item.hash,
            outgoing.image_url.as_deref(),
            now,
        )?;
        self.store
            .assign(&key.post_id, item.series.as_deref(), key.at)?;
        let write = self.begin_write(&key, &mut outgoing, &item.hash)?;
        let url = outgoing.image_url.as_deref();
        let created = self.publisher.create(&outgoing);
        self.end_write(write, &created)?;
        match created {
            Ok(remote) => {
                self.queued(&key, &remote, &item.hash, url)?;
                self.summary.created.push(key.post_id.clone());
                let late = now - key.at;
                if late >= chrono::Duration::minutes(1) {
                    let message = format!(
                        "parti avec {} de retard (délai de grâce : {})",
                        crieur_core::config::format_duration(late),
                        crieur_core::config::format_duration(self.options.grace)
                    );
                    self.summary.late.push(named(&key, message));
                }
                Ok(())
            }
            Err(error) => self.failed(&key, &item, error, Status::Creating),
        }
    }

    fn edit(&mut self, remote: &str, want: usize, recreate: bool) -> Result<(), Halt> {
        let item = self.items[want].clone();
        let key = key_of(&item.outgoing);
        let Some(mut outgoing) = self.host(want)? else {
            return Ok(());
        };
        self.store.intend(
            &key,
            Status::Editing,
            &item.hash,
            outgoing.image_url.as_deref(),
            self.options.now,
        )?;
        let write = self.begin_write(&key, &mut outgoing, &item.hash)?;
        let url = outgoing.image_url.as_deref();
        let replaced = self.publisher.replace(remote, &outgoing);
        if replaced.is_ok() || matches!(replaced, Err(PublishError::NotFound(_))) {
            // The old version is gone (an edit that changes the id deleted
            // it; one that keeps it carries the new version, recorded next).
            self.store.writes_gone(&key, remote, self.options.now)?;
        }
        self.end_write(write, &replaced)?;
        match replaced {
            Ok(remote) => {
                self.queued(&key, &remote, &item.hash, url)?;
                self.summary.edited.push(key.post_id.clone());
                Ok(())
            }
            Err(PublishError::NotFound(_)) if recreate => self.create(want),
            Err(PublishError::NotFound(_)) => {
                let message = "supprimé chez l'éditeur avant d'être envoyé : il ne sera pas recréé";
                self.store.settle(
                    &key,
                    Settle {
                        error: Some(message),
                        ..Settle::status(Status::Deleted)
                    },
                    self.options.now,
                )?;
                self.summary
                    .settled
                    .push((named(&key, message.to_owned()), Status::Deleted));
                Ok(())
            }
            Err(error) => self.failed(&key, &item, error, Status::Editing),
        }
    }

    /// Records a remote write before its call, on the channels whose writes
    /// are tracked, and gives the attempt its token.
    fn begin_write(
        &mut self,
        key: &Key,
        outgoing: &mut Outgoing,
        version: &str,
    ) -> Result<Option<i64>, Halt> {
        if !self.publisher.tracks_writes(&key.channel) {
            return Ok(None);
        }
        let id = self.store.begin_write(key, version, self.options.now)?;
        let token = self.publisher.token(outgoing, id);
        self.store.set_write_token(id, &token)?;
        outgoing.token = Some(token);
        Ok(Some(id))
    }

    /// What a recorded write did: live under its id, gone when the call
    /// surely made nothing; an unclear outcome stays intended, for the next
    /// pass to settle.
    fn end_write(
        &mut self,
        write: Option<i64>,
        outcome: &Result<String, PublishError>,
    ) -> Result<(), Halt> {
        let Some(id) = write else {
            return Ok(());
        };
        let now = self.options.now;
        match outcome {
            Ok(remote) => self
                .store
                .settle_write(id, WriteState::Live, Some(remote), now)?,
            Err(PublishError::Unclear(_)) => {}
            Err(_) => self.store.forget_write(id)?,
        }
        Ok(())
    }

    /// After a withdrawal: every other write the delivery ever made that
    /// may still be at the network is looked for and deleted. Returns what
    /// remains, in French, when something could not be removed.
    fn withdraw_rest(&mut self, key: &Key) -> Result<Option<String>, Halt> {
        if !self.publisher.tracks_writes(&key.channel) {
            return Ok(None);
        }
        let now = self.options.now;
        let writes: Vec<Write> = self
            .store
            .open_writes()?
            .into_iter()
            .filter(|w| w.key == *key)
            .collect();
        let mut left = Vec::new();
        for write in writes {
            let remote = match write.state {
                WriteState::Intended => match self.publisher.locate(&write, &[]) {
                    Ok(found) => found,
                    Err(error) => {
                        left.push(error.to_string());
                        continue;
                    }
                },
                _ => write.remote_id.clone(),
            };
            let Some(remote) = remote else {
                self.store
                    .settle_write(write.id, WriteState::Gone, None, now)?;
                continue;
            };
            match self.publisher.delete(&remote) {
                Ok(()) | Err(PublishError::NotFound(_)) => {
                    self.store
                        .settle_write(write.id, WriteState::Gone, Some(&remote), now)?;
                }
                Err(error) => left.push(error.to_string()),
            }
        }
        Ok((!left.is_empty()).then(|| {
            let publisher = self.publisher.holder(&key.channel);
            format!(
                "ATTENTION : une version du post reste en ligne chez {publisher} ({}) ; crieur réessaie au prochain passage, retirez-la à la main si elle est publique",
                left.join(" ; ")
            )
        }))
    }

    /// Records the public address of a sent post, when the publisher knows it.
    fn keep_url(&mut self, key: &Key) -> Result<(), Halt> {
        let remote = self.store.delivery(key)?.and_then(|d| d.remote_id);
        if let Some(url) = remote.and_then(|r| self.publisher.public_url(&r)) {
            self.store.set_public_url(key, &url)?;
        }
        Ok(())
    }

    fn queued(
        &mut self,
        key: &Key,
        remote: &str,
        hash: &str,
        url: Option<&str>,
    ) -> Result<(), Halt> {
        if let Some(public) = self.publisher.public_url(remote) {
            self.store.set_public_url(key, &public)?;
        }
        self.store.settle(
            key,
            Settle {
                remote_id: Some(remote),
                content_hash: Some(hash),
                image_url: url,
                ..Settle::status(Status::Queued)
            },
            self.options.now,
        )?;
        Ok(())
    }

    /// A call that failed: what it means for the delivery.
    fn failed(
        &mut self,
        key: &Key,
        item: &Prepared,
        error: PublishError,
        intent: Status,
    ) -> Result<(), Halt> {
        let now = self.options.now;
        let creating = intent == Status::Creating;
        match error {
            PublishError::Unauthorized(message) => {
                self.restore(key, intent)?;
                Err(Halt::Unauthorized(message))
            }
            PublishError::RateLimited { until, .. } if creating => {
                self.wait(
                    key,
                    &item.hash,
                    "en attente : limite de requêtes de l'éditeur",
                    false,
                )?;
                Err(Halt::Wait(until))
            }
            PublishError::RateLimited { until, .. } => Err(Halt::Wait(until)),
            PublishError::QueueFull(_) if creating => {
                self.full.insert(key.channel.clone());
                self.wait(key, &item.hash, &queue_full(&key.channel), false)
            }
            PublishError::ChannelRefused(message) if creating => {
                // A person must give the channel working credentials.
                self.summary
                    .refused
                    .insert(key.channel.clone(), message.clone());
                self.wait(key, &item.hash, &format!("en attente : {message}"), true)
            }
            PublishError::Transient(message) if creating => {
                // Known not to have been created: it waits for the next pass.
                self.wait(key, &item.hash, &format!("en attente : {message}"), false)
            }
            PublishError::Refused { .. } | PublishError::Bug { .. } => {
                self.refused(key, item, &error)
            }
            PublishError::NotFound(_) if creating => self.refused(key, item, &error),
            other => {
                // Unclear, or an edit that may pass: the intent stays, to
                // be looked for (or tried again) by the next pass.
                let message = other.to_string();
                self.store.settle(
                    key,
                    Settle {
                        error: Some(&message),
                        ..Settle::status(intent)
                    },
                    now,
                )?;
                self.summary.failed.push(named(key, message));
                Ok(())
            }
        }
    }

    /// A post the publisher refused: an error until its file changes.
    fn refused(&mut self, key: &Key, item: &Prepared, error: &PublishError) -> Result<(), Halt> {
        let publisher = self.publisher.holder(&key.channel);
        let message = refusal(&publisher, &item.path, &key.channel, error);
        self.store.settle(
            key,
            Settle {
                error: Some(&message),
                ..Settle::status(Status::Error)
            },
            self.options.now,
        )?;
        self.summary.failed.push(named(key, message));
        Ok(())
    }

    /// Puts back the status a refused key interrupted: a create that was
    /// never sent waits.
    fn restore(&mut self, key: &Key, intent: Status) -> Result<(), Halt> {
        let status = if intent == Status::Creating {
            Status::Waiting
        } else {
            Status::Queued
        };
        self.store
            .settle(key, Settle::status(status), self.options.now)?;
        Ok(())
    }

    fn delete(&mut self, key: &Key, remote: Option<String>) -> Result<(), Halt> {
        let now = self.options.now;
        let delivery = self.store.delivery(key)?;
        let hash = delivery
            .as_ref()
            .map_or_else(String::new, |d| d.content_hash.clone());
        let was_creating = delivery
            .as_ref()
            .is_some_and(|d| d.status == Status::Creating);
        self.store.intend(key, Status::Deleting, &hash, None, now)?;
        let remote = match remote {
            Some(remote) => Some(remote),
            None if was_creating => match self.find(key, None) {
                Ok(found) => found,
                Err(error) => return self.delete_failed(key, error),
            },
            None => None,
        };
        let result = remote
            .as_ref()
            .map_or(Ok(()), |remote| self.publisher.delete(remote));
        match result {
            // Gone already: what was asked is done.
            Ok(()) | Err(PublishError::NotFound(_)) => {
                if let Some(remote) = &remote {
                    self.store.writes_gone(key, remote, now)?;
                }
                // Withdrawn only once nothing it ever made remains.
                if let Some(left) = self.withdraw_rest(key)? {
                    self.store.settle(
                        key,
                        Settle {
                            error: Some(&left),
                            ..Settle::status(Status::Deleting)
                        },
                        now,
                    )?;
                    self.summary.failed.push(named(key, left));
                    return Ok(());
                }
                self.store
                    .settle(key, Settle::status(Status::Withdrawn), now)?;
                let others = self.store.deliveries()?.iter().any(|d| {
                    d.post_id == key.post_id
                        && d.at == key.at
                        && d.channel != key.channel
                        && d.status.is_pending()
                });
                if !others {
                    self.store.unassign(&key.post_id, key.at)?;
                }
                self.summary.withdrawn.push(key.post_id.clone());
                Ok(())
            }
            Err(error) => self.delete_failed(key, error),
        }
    }

    fn delete_failed(&mut self, key: &Key, error: PublishError) -> Result<(), Halt> {
        match error {
            PublishError::Unauthorized(message) => Err(Halt::Unauthorized(message)),
            PublishError::RateLimited { until, .. } => Err(Halt::Wait(until)),
            error => {
                // On a network crieur publishes to directly, what is not
                // removed may be public: said loudly.
                let message = if self.publisher.tracks_writes(&key.channel) {
                    format!(
                        "ATTENTION : le post n'a pas pu être retiré de {} ({error}) ; crieur réessaie au prochain passage, retirez-le à la main s'il est public",
                        self.publisher.holder(&key.channel)
                    )
                } else {
                    error.to_string()
                };
                self.store.settle(
                    key,
                    Settle {
                        error: Some(&message),
                        ..Settle::status(Status::Deleting)
                    },
                    self.options.now,
                )?;
                self.summary.failed.push(named(key, message));
                Ok(())
            }
        }
    }

    /// Looks for the post an unclear call may have created: adopts it, or
    /// creates it (when still wanted), or records it missed.
    fn adopt(&mut self, key: &Key, want: Option<usize>) -> Result<(), Halt> {
        let now = self.options.now;
        let text = want.map(|w| self.items[w].outgoing.text.clone());
        let found = match self.find(key, text.as_deref()) {
            Ok(found) => found,
            Err(error) => {
                return match error {
                    PublishError::Unauthorized(message) => Err(Halt::Unauthorized(message)),
                    PublishError::RateLimited { until, .. } => Err(Halt::Wait(until)),
                    error => {
                        self.summary.failed.push(named(key, error.to_string()));
                        Ok(())
                    }
                };
            }
        };
        let known = self.store.delivery(key)?;
        let item = want.map(|want| self.items[want].clone());
        let adoption = diff::adoption(
            found.is_some(),
            item.as_ref().map(|item| item.hash.as_str()),
            known.as_ref().map(|d| d.content_hash.as_str()),
        );
        let known_hash = known.as_ref().map(|d| d.content_hash.clone());
        match (adoption, found, item, want) {
            (Adoption::Missed, ..) => {
                let message = "manqué : l'heure est passée sans que le post soit programmé";
                self.store
                    .record(key, Status::Missed, "", Some(message), now)?;
                self.summary
                    .settled
                    .push((named(key, message.to_owned()), Status::Missed));
                Ok(())
            }
            (Adoption::Create, _, _, Some(want)) => self.create(want),
            (Adoption::Keep, Some(remote), Some(item), _) => {
                if known.is_none() {
                    self.store
                        .record(key, Status::Queued, &item.hash, None, now)?;
                    self.store
                        .assign(&key.post_id, item.series.as_deref(), key.at)?;
                }
                self.queued(key, &remote, &item.hash, None)?;
                self.summary.unchanged += 1;
                Ok(())
            }
            (Adoption::Keep, Some(remote), None, _) => {
                self.queued(key, &remote, &known_hash.unwrap_or_default(), None)
            }
            (Adoption::Edit, Some(remote), _, Some(want)) => {
                self.queued(key, &remote, &known_hash.unwrap_or_default(), None)?;
                self.edit(&remote, want, true)
            }
            // The diff decides from what was found and wanted: no other
            // combination is decided.
            _ => Ok(()),
        }
    }

    /// The publisher's post for a delivery: same channel, same instant,
    /// same text once links and spaces are normalised (the publisher may
    /// shorten links). Without a text, any post of crieur's at that
    /// channel and instant.
    fn find(&mut self, key: &Key, text: Option<&str>) -> Result<Option<String>, PublishError> {
        let channel = self
            .items
            .iter()
            .find(|item| item.outgoing.channel == key.channel)
            .map(|item| {
                item.outgoing
                    .channel_remote_id
                    .clone()
                    .unwrap_or_else(|| item.outgoing.channel.clone())
            });
        if self.listing.is_none() {
            let channels: BTreeSet<String> = self
                .items
                .iter()
                .filter_map(|item| item.outgoing.channel_remote_id.clone())
                .collect();
            let from = self
                .items
                .iter()
                .map(|i| i.outgoing.at)
                .min()
                .unwrap_or(key.at)
                .min(key.at);
            let until = self
                .items
                .iter()
                .map(|i| i.outgoing.at)
                .max()
                .unwrap_or(key.at)
                .max(key.at);
            let channels: Vec<String> = channels.into_iter().collect();
            self.listing = Some(self.publisher.list(&channels, from, until)?);
        }
        let wanted = text.map(normalise);
        let listing = self.listing.as_deref().unwrap_or_default();
        Ok(listing
            .iter()
            .find(|post| {
                channel
                    .as_ref()
                    .is_none_or(|c| *c == post.channel_remote_id)
                    && post.at == Some(key.at)
                    && wanted.as_ref().is_none_or(|t| *t == normalise(&post.text))
            })
            .map(|post| post.id.clone()))
    }
}

fn key_of(outgoing: &Outgoing) -> Key {
    Key {
        post_id: outgoing.post_id.clone(),
        channel: outgoing.channel.clone(),
        at: outgoing.at,
    }
}

fn path_of(key: &Key) -> String {
    format!("posts/{}.md", key.post_id)
}

fn named(key: &Key, message: String) -> Named {
    Named {
        path: path_of(key),
        channel: key.channel.clone(),
        message,
    }
}

fn queue_full(channel: &str) -> String {
    format!(
        "en attente : la file de Buffer du canal « {channel} » est pleine ; le post partira dès qu'une place se libère (les posts publiés en libèrent)"
    )
}

/// Where the fix for a refusal lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    Post,
    Configuration,
    Crieur,
}

/// What a publisher's refusal says, in French, and where the fix lies.
pub fn explain(message: &str) -> Option<(&'static str, Blame)> {
    let lower = message.to_lowercase();
    let known: &[(&[&str], &str, Blame)] = &[
        (
            &[
                "text is required",
                "text cannot be empty",
                "text can't be blank",
            ],
            "le texte est vide",
            Blame::Post,
        ),
        (
            &["too long", "character limit", "exceeds"],
            "le texte est trop long pour ce réseau",
            Blame::Post,
        ),
        (
            &["hashtag"],
            "trop de hashtags ou hashtag refusé",
            Blame::Post,
        ),
        (
            &["image", "media", "asset", "aspect ratio", "blob"],
            "l'image est refusée (format, taille ou proportions)",
            Blame::Post,
        ),
        (&["alt"], "le texte alternatif est refusé", Blame::Post),
        (
            &[
                "channel",
                "account",
                "permission",
                "organization",
                "locked",
                "disconnected",
                "profile",
                "suspended",
            ],
            "le canal refuse le post",
            Blame::Configuration,
        ),
        (
            &["duedate", "dueat", "scheduled", "past"],
            "l'heure de publication est refusée",
            Blame::Post,
        ),
    ];
    known
        .iter()
        .find(|(needles, _, _)| needles.iter().any(|needle| lower.contains(needle)))
        .map(|(_, french, blame)| (*french, *blame))
}

/// A refusal as the summary and `status` show it: the publisher's message
/// in French and as it came (the publisher named), and where to fix it,
/// the post's file named once. The channel and the file are shown beside
/// it by whoever prints it.
fn refusal(publisher: &str, path: &str, channel: &str, error: &PublishError) -> String {
    let (french, original, blame) = match error {
        PublishError::Bug { message, .. } => (message.clone(), String::new(), Blame::Crieur),
        PublishError::NotFound(message) => (
            format!("le canal est introuvable chez {publisher}"),
            message.clone(),
            Blame::Configuration,
        ),
        PublishError::Refused { message, .. } => {
            let (french, blame) = explain(message)
                .map(|(french, blame)| (french.to_owned(), blame))
                .unwrap_or_else(|| (format!("{publisher} refuse le post"), Blame::Post));
            (french, message.clone(), blame)
        }
        other => (other.to_string(), String::new(), Blame::Post),
    };
    let fix = match blame {
        Blame::Post => format!("à corriger dans le post ({path})"),
        Blame::Configuration => format!(
            "à corriger dans la configuration (le canal « {channel} » de config/crieur.toml, ou chez {publisher})"
        ),
        Blame::Crieur => "c'est un défaut de crieur, à signaler : ni le post ni la configuration n'y sont pour rien".to_owned(),
    };
    let original = if original.is_empty() {
        String::new()
    } else {
        format!(" ({publisher} : « {original} »)")
    };
    format!("{french}{original} ; {fix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_post_the_channel_and_where_to_fix_it() {
        let error = PublishError::Refused {
            kind: "InvalidInputError".into(),
            message: "Text is too long for this network".into(),
        };
        let message = refusal("Buffer", "posts/chiffre/a.md", "linkedin", &error);
        assert!(message.starts_with("le texte est trop long"), "{message}");
        assert!(message.contains("(Buffer : « Text is too long for this network »)"));
        assert_eq!(
            message.matches("posts/chiffre/a.md").count(),
            1,
            "{message}"
        );
        assert!(message.contains("à corriger dans le post"));
        let error = PublishError::Refused {
            kind: "InvalidInputError".into(),
            message: "Channel is locked".into(),
        };
        assert!(refusal("Buffer", "p.md", "instagram", &error).contains("dans la configuration"));
        let error = PublishError::Bug {
            message: "requête invalide".into(),
            request: "{}".into(),
        };
        assert!(refusal("Buffer", "p.md", "facebook", &error).contains("défaut de crieur"));
        // Each publisher names itself.
        let error = PublishError::Refused {
            kind: "Mastodon".into(),
            message: "Validation failed: Text character limit of 500 exceeded".into(),
        };
        let message = refusal(
            "Mastodon (piaille.example)",
            "posts/a.md",
            "mastodon",
            &error,
        );
        assert!(message.starts_with("le texte est trop long"), "{message}");
        assert!(
            message.contains("(Mastodon (piaille.example) : « Validation failed"),
            "{message}"
        );
        assert!(!message.contains("Buffer"), "{message}");
        let error = PublishError::Refused {
            kind: "Bluesky".into(),
            message: "Record/text must not be longer than 300 graphemes".into(),
        };
        let message = refusal(
            "Bluesky (cpts.bsky.social)",
            "posts/a.md",
            "bluesky",
            &error,
        );
        assert!(
            message.contains("Bluesky (cpts.bsky.social) refuse le post")
                || message.contains("(Bluesky (cpts.bsky.social) : «"),
            "{message}"
        );
        assert!(!message.contains("Buffer"), "{message}");
    }
}

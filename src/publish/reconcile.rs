//! One reconcile pass: make the publisher hold what the files say, once.
//!
//! The pass plans the lookahead window (keeping the calendar the store
//! pinned), compares each post, channel and instant with the store, and
//! creates what is new, edits what changed and withdraws what the files no
//! longer hold. It also asks the publisher how past posts went. Intent is
//! written before each call; a delivery left `creating` by a pass that died
//! mid-call is looked for at the publisher (same text, same instant) and
//! adopted rather than created again. Images are rendered first, in
//! parallel; calls are made one at a time, in order of instant.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{Outgoing, PublishError, Publisher, RemoteStatus};
use crate::caption;
use crate::check::{check, template_of};
use crate::media::{self, MediaStore};
use crate::network::Network;
use crate::plan::{Window, plan_with};
use crate::post::Post;
use crate::project::Project;
use crate::render::{self, Context, alt_text, layout};
use crate::store::{Key, Settle, Status, Store, StoreError};
use crate::template::{Format, Template};

/// How a pass runs.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub now: DateTime<Utc>,
    /// Plan and describe, but send nothing and write nothing.
    pub dry_run: bool,
    /// Set when the daemon is asked to stop: the pass ends after the call
    /// in flight, recorded.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
}

impl Options<'_> {
    fn stopping(&self) -> bool {
        self.stop
            .is_some_and(|stop| stop.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct Summary {
    pub created: Vec<String>,
    pub edited: Vec<String>,
    pub withdrawn: Vec<String>,
    pub unchanged: usize,
    pub sent: Vec<String>,
    pub failed: Vec<Failure>,
    /// In a dry run: each action and, for Buffer, its exact request.
    pub actions: Vec<String>,
}

/// A post that could not be queued, edited or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub path: String,
    pub channel: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("{0}")]
    Unauthorized(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("la configuration a des erreurs : corrigez-les (voir `crieur check`)")]
    InvalidConfig,
}

/// The format a network shows best, among those a template offers.
pub fn format_for(network: Network, template: &Template) -> Option<Format> {
    let preferred: &[Format] = match network {
        Network::Instagram => &[Format::Portrait, Format::Carre],
        Network::Facebook | Network::Linkedin | Network::X => &[Format::Paysage, Format::Carre],
        _ => &[Format::Carre, Format::Paysage, Format::Portrait],
    };
    preferred
        .iter()
        .chain(Format::ALL.iter())
        .find(|format| template.formats.contains_key(format))
        .copied()
}

/// One delivery the plan wants.
struct Wanted<'p> {
    key: Key,
    post: &'p Post,
    template: &'p Template,
    format: Format,
    network: Network,
    remote_channel: Option<String>,
    series: Option<String>,
    text: String,
}

/// Runs one pass.
pub fn run(
    project: &Project,
    store: &Store,
    publisher: &mut dyn Publisher,
    mut media: Option<&mut dyn MediaStore>,
    options: Options<'_>,
) -> Result<Summary, PassError> {
    let config = project.config.as_ref().ok_or(PassError::InvalidConfig)?;
    let now = options.now;
    let mut summary = Summary::default();

    // Posts with errors are left alone (and said so), the others go on.
    let diagnostics = check(project, now);
    let broken: BTreeSet<&str> = diagnostics
        .iter()
        .chain(project.report.diagnostics())
        .filter(|d| d.is_error())
        .map(|d| d.path.as_str())
        .collect();
    if broken
        .iter()
        .any(|path| *path == crate::config::CONFIG_PATH)
    {
        return Err(PassError::InvalidConfig);
    }
    let posts: Vec<Post> = project
        .posts
        .iter()
        .filter(|post| !broken.contains(post.path.as_str()))
        .cloned()
        .collect();

    if !options.dry_run {
        sync_past(store, publisher, now, &mut summary)?;
    }

    // The window reaches every pending delivery, so that one beyond a
    // shortened lookahead is not taken for withdrawn.
    let deliveries = store.deliveries()?;
    let pending_until = deliveries
        .iter()
        .filter(|d| d.status.is_pending())
        .map(|d| d.at + Duration::seconds(1))
        .max()
        .unwrap_or(now);
    let window = Window {
        from: now,
        until: (now + config.publisher.lookahead).max(pending_until),
    };
    let plan = plan_with(config, &posts, window, &project.pins);
    let by_id: HashMap<&str, &Post> = posts.iter().map(|post| (post.id.as_str(), post)).collect();

    let mut wanted: Vec<Wanted<'_>> = Vec::new();
    for slot in &plan.slots {
        let Some(post) = by_id.get(slot.post.as_str()) else {
            continue;
        };
        let Some(template) = template_of(post, config).and_then(|id| project.templates.get(id))
        else {
            continue;
        };
        let hashtags = post
            .series
            .as_ref()
            .and_then(|series| config.series.get(series.get_ref()))
            .map(|series| series.hashtags.clone())
            .unwrap_or_default();
        for channel_id in &slot.channels {
            let Some(channel) = config.channels.get(channel_id) else {
                continue;
            };
            let Some(format) = format_for(channel.network, template) else {
                continue;
            };
            wanted.push(Wanted {
                key: Key {
                    post_id: post.id.clone(),
                    channel: channel_id.clone(),
                    at: slot.at.with_timezone(&Utc),
                },
                post,
                template,
                format,
                network: channel.network,
                remote_channel: channel.buffer_id.clone(),
                series: slot.series.clone(),
                text: caption::render(
                    post.caption_for(channel.network),
                    &hashtags,
                    config.typography.captions,
                ),
            });
        }
    }

    // Withdraw what the files no longer hold.
    let wanted_keys: BTreeSet<&Key> = wanted.iter().map(|w| &w.key).collect();
    for delivery in deliveries
        .iter()
        .filter(|d| d.status.is_pending() && d.at >= now)
    {
        let key = Key {
            post_id: delivery.post_id.clone(),
            channel: delivery.channel.clone(),
            at: delivery.at,
        };
        if wanted_keys.contains(&key) {
            continue;
        }
        if options.stopping() {
            return Ok(summary);
        }
        let path = format!("posts/{}.md", delivery.post_id);
        if options.dry_run {
            summary.actions.push(format!(
                "retirer {} ({}) du {}",
                delivery.post_id, delivery.channel, delivery.at
            ));
            summary.withdrawn.push(delivery.post_id.clone());
            continue;
        }
        store.intend(&key, Status::Deleting, &delivery.content_hash, None, now)?;
        let result = match &delivery.remote_id {
            Some(remote) => publisher.delete(remote),
            None => Ok(()),
        };
        match result {
            Ok(()) | Err(PublishError::NotFound(_)) => {
                store.settle(&key, Settle::status(Status::Withdrawn), now)?;
                let others = deliveries.iter().any(|d| {
                    d.post_id == key.post_id
                        && d.at == key.at
                        && d.channel != key.channel
                        && d.status.is_pending()
                        && wanted_keys.contains(&Key {
                            post_id: d.post_id.clone(),
                            channel: d.channel.clone(),
                            at: d.at,
                        })
                });
                if !others {
                    store.unassign(&key.post_id, key.at)?;
                }
                summary.withdrawn.push(delivery.post_id.clone());
            }
            Err(PublishError::Unauthorized(message)) => {
                return Err(PassError::Unauthorized(message));
            }
            Err(error) => {
                store.settle(
                    &key,
                    Settle {
                        error: Some(&error.to_string()),
                        ..Settle::status(Status::Deleting)
                    },
                    now,
                )?;
                summary.failed.push(Failure {
                    path,
                    channel: key.channel.clone(),
                    message: error.to_string(),
                });
            }
        }
    }

    // Render every image the pass may need, on every core.
    let context = Context {
        brand: &config.brand,
        assets: &project.assets,
        french: config.typography.visuals,
    };
    let mut needed: Vec<(&Post, &Template, Format)> = wanted
        .iter()
        .map(|w| (w.post, w.template, w.format))
        .collect();
    needed.sort_by(|a, b| (&a.0.id, a.2).cmp(&(&b.0.id, b.2)));
    needed.dedup_by(|a, b| a.0.id == b.0.id && a.2 == b.2);
    let draw = |(post, template, format): &(&Post, &Template, Format)| {
        let png = layout(context, template, *format, post)
            .map_err(|problems| {
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ; ")
            })
            .and_then(|card| render::encode_png(render::draw(&card)).map_err(|e| e.to_string()));
        ((post.id.clone(), *format), png)
    };
    let images: BTreeMap<(String, Format), Result<Vec<u8>, String>> =
        needed.par_iter().map(draw).collect();

    for want in &wanted {
        if options.stopping() {
            break;
        }
        let path = want.post.path.clone();
        let fail = |summary: &mut Summary, message: String| {
            summary.failed.push(Failure {
                path: path.clone(),
                channel: want.key.channel.clone(),
                message,
            });
        };
        let png = match &images[&(want.post.id.clone(), want.format)] {
            Ok(png) => png,
            Err(message) => {
                fail(&mut summary, message.clone());
                continue;
            }
        };
        let alt = alt_text(want.template, want.post);
        let hash = content_hash(&want.text, &alt, png, &want.key);
        let existing = store.delivery(&want.key)?;
        let mut outgoing = Outgoing {
            post_id: want.post.id.clone(),
            channel: want.key.channel.clone(),
            channel_remote_id: want.remote_channel.clone(),
            network: want.network,
            at: want.key.at,
            text: want.text.clone(),
            alt,
            image: png.clone(),
            image_url: None,
        };
        let (remote_id, status, same) = match &existing {
            Some(delivery) => (
                delivery.remote_id.clone(),
                Some(delivery.status),
                delivery.content_hash == hash,
            ),
            None => (None, None, false),
        };
        let action = match status {
            None | Some(Status::Withdrawn) => Action::Create,
            // The last create's outcome is unknown: look before creating.
            Some(Status::Creating) => Action::Adopt,
            Some(Status::Queued) if same => Action::Nothing,
            Some(Status::Queued | Status::Editing | Status::Deleting) => Action::Edit,
            // A refused post is tried again once its file changes.
            Some(Status::Error) if same => Action::Nothing,
            Some(Status::Error) => Action::Create,
            Some(Status::Sent | Status::Missed) => Action::Nothing,
        };
        if action == Action::Nothing {
            summary.unchanged += 1;
            continue;
        }
        // Publishers that fetch images get a public URL.
        let needs_url = want.remote_channel.is_some();
        if options.dry_run {
            if needs_url {
                outgoing.image_url = config.media.as_ref().map(|m| media_url(m, png));
            }
            let what = match action {
                Action::Edit => "modifier",
                _ => "créer",
            };
            let mut line = format!(
                "{what} {} ({}) le {}",
                want.post.id,
                want.key.channel,
                want.key
                    .at
                    .with_timezone(&config.timezone)
                    .format("%d/%m/%Y %H:%M")
            );
            if needs_url {
                let request = match (action, &remote_id) {
                    (Action::Edit, Some(remote)) => super::buffer::edit_request(remote, &outgoing),
                    _ => super::buffer::create_request(&outgoing),
                };
                line.push('\n');
                line.push_str(&serde_json::to_string_pretty(&request.body()).unwrap_or_default());
            }
            summary.actions.push(line);
            match action {
                Action::Edit => summary.edited.push(want.post.id.clone()),
                _ => summary.created.push(want.post.id.clone()),
            }
            continue;
        }
        if needs_url {
            let Some(store_media) = media.as_deref_mut() else {
                fail(
                    &mut summary,
                    "aucun hébergement d'images configuré (`[media]`)".into(),
                );
                continue;
            };
            match media::host(store_media, png) {
                Ok(url) => outgoing.image_url = Some(url),
                Err(error) => {
                    fail(&mut summary, error.to_string());
                    continue;
                }
            }
        }
        let url = outgoing.image_url.as_deref();
        let result = match action {
            Action::Adopt => match publisher.find(&outgoing) {
                Ok(Some(found)) => {
                    store.settle(
                        &want.key,
                        Settle {
                            remote_id: Some(&found),
                            ..Settle::status(Status::Queued)
                        },
                        now,
                    )?;
                    store.assign(&want.key.post_id, want.series.as_deref(), want.key.at)?;
                    if same {
                        summary.unchanged += 1;
                        continue;
                    }
                    store.intend(&want.key, Status::Editing, &hash, url, now)?;
                    publisher
                        .edit(&found, &outgoing)
                        .map(|()| Done::Edited(found))
                }
                Ok(None) => create(store, publisher, want, &outgoing, &hash, now),
                Err(error) => Err(error),
            },
            Action::Create => create(store, publisher, want, &outgoing, &hash, now),
            Action::Edit => match &remote_id {
                Some(remote) => {
                    store.intend(&want.key, Status::Editing, &hash, url, now)?;
                    match publisher.edit(remote, &outgoing) {
                        Ok(()) => Ok(Done::Edited(remote.clone())),
                        // Gone from the publisher: queue it again.
                        Err(PublishError::NotFound(_)) => {
                            create(store, publisher, want, &outgoing, &hash, now)
                        }
                        Err(error) => Err(error),
                    }
                }
                None => create(store, publisher, want, &outgoing, &hash, now),
            },
            Action::Nothing => continue,
        };
        match result {
            Ok(done) => {
                let (remote, edited) = match &done {
                    Done::Created(remote) => (remote.as_str(), false),
                    Done::Edited(remote) => (remote.as_str(), true),
                };
                store.settle(
                    &want.key,
                    Settle {
                        remote_id: Some(remote),
                        content_hash: Some(&hash),
                        image_url: url,
                        ..Settle::status(Status::Queued)
                    },
                    now,
                )?;
                if edited {
                    summary.edited.push(want.post.id.clone());
                } else {
                    summary.created.push(want.post.id.clone());
                }
            }
            Err(PublishError::Unauthorized(message)) => {
                return Err(PassError::Unauthorized(message));
            }
            Err(error) => {
                // A refusal is final until the file changes; anything else
                // keeps the intent, to be looked for and tried again.
                let status = match &error {
                    PublishError::Refused { .. } | PublishError::Bug { .. } => Status::Error,
                    _ => store
                        .delivery(&want.key)?
                        .map_or(Status::Creating, |d| d.status),
                };
                store.settle(
                    &want.key,
                    Settle {
                        error: Some(&error.to_string()),
                        ..Settle::status(status)
                    },
                    now,
                )?;
                fail(&mut summary, error.to_string());
            }
        }
    }
    Ok(summary)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Nothing,
    Create,
    Adopt,
    Edit,
}

enum Done {
    Created(String),
    Edited(String),
}

/// Records the intent (and pins the calendar), then creates.
fn create(
    store: &Store,
    publisher: &mut dyn Publisher,
    want: &Wanted<'_>,
    outgoing: &Outgoing,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Done, PublishError> {
    let url = outgoing.image_url.as_deref();
    store
        .intend(&want.key, Status::Creating, hash, url, now)
        .and_then(|()| store.assign(&want.key.post_id, want.series.as_deref(), want.key.at))
        .map_err(|error| PublishError::Local(error.to_string()))?;
    publisher.create(outgoing).map(Done::Created)
}

/// Asks the publisher how posts whose instant passed went.
fn sync_past(
    store: &Store,
    publisher: &mut dyn Publisher,
    now: DateTime<Utc>,
    summary: &mut Summary,
) -> Result<(), PassError> {
    for delivery in store.deliveries()? {
        if delivery.status != Status::Queued || delivery.at > now {
            continue;
        }
        let Some(remote) = &delivery.remote_id else {
            continue;
        };
        let key = Key {
            post_id: delivery.post_id.clone(),
            channel: delivery.channel.clone(),
            at: delivery.at,
        };
        match publisher.status(remote) {
            Ok(RemoteStatus::Sent) => {
                store.settle(&key, Settle::status(Status::Sent), now)?;
                summary.sent.push(delivery.post_id.clone());
            }
            Ok(RemoteStatus::Failed(message)) => {
                store.settle(
                    &key,
                    Settle {
                        error: Some(&message),
                        ..Settle::status(Status::Error)
                    },
                    now,
                )?;
                summary.failed.push(Failure {
                    path: format!("posts/{}.md", delivery.post_id),
                    channel: delivery.channel.clone(),
                    message,
                });
            }
            Ok(RemoteStatus::Queued | RemoteStatus::Missing) => {}
            Err(PublishError::Unauthorized(message)) => {
                return Err(PassError::Unauthorized(message));
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// What identifies a delivery's content: any change means an edit.
fn content_hash(text: &str, alt: &str, png: &[u8], key: &Key) -> String {
    let mut hasher = Sha256::new();
    for part in [text.as_bytes(), alt.as_bytes(), key.channel.as_bytes()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(Sha256::digest(png));
    hasher.update(key.at.timestamp().to_le_bytes());
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The URL an image would have, for dry runs.
fn media_url(media: &crate::config::Media, png: &[u8]) -> String {
    let base = match media {
        crate::config::Media::Local {
            public_base_url, ..
        }
        | crate::config::Media::S3 {
            public_base_url, ..
        } => public_base_url,
    };
    media::url(base, &media::name(png))
}

//! One publishing pass: what the files want, what the publisher reports,
//! the diff, then the executor.
//!
//! The pass plans the lookahead window (keeping the calendar the store
//! pinned), gives every post a verdict (ready, or blocked by its errors),
//! renders the images of the ready ones in parallel, reads the outcome of
//! the deliveries whose instant passed (in batches, when the request budget
//! allows), checks the publisher's channels, and hands all of it to
//! [`diff`](crieur_core::diff::diff). The steps go to the executor.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::execute::{self, Prepared};
pub use super::outcome::{Named, Options, PassError, Summary};
use crate::media::MediaStore;
use crate::store::{Store, StoreError};
use crieur_core::budget::Budget;
use crieur_core::caption;
use crieur_core::config::Config;
use crieur_core::delivery::{Delivery, Key};
use crieur_core::diff::{self, Input, Step, Want};
use crieur_core::network::Network;
use crieur_core::plan::Window;
use crieur_core::post::Post;
use crieur_core::post::template_of;
use crieur_core::project::Project;
use crieur_core::publisher::{Outgoing, PublishError, Publisher, RemoteChannel, Report};
use crieur_core::render::{self, Context, alt_text, layout};
use crieur_core::template::{Format, Template};
use crieur_core::verdict::Verdicts;

/// Keys of the pass's memory in the store's `meta` table.
pub use super::holds::{HOLDS, active_holds, hold, holds};
pub const LAST_POLL: &str = "publisher.last_poll";
pub const CHANNELS: &str = "publisher.channels";
pub const CHANNELS_AT: &str = "publisher.channels_at";
/// How many posts the last pass left out for their errors.
pub const BLOCKED: &str = "publisher.blocked";

/// How long the publisher's list of channels is trusted.
pub fn channels_ttl() -> Duration {
    Duration::hours(6)
}

/// How soon after its instant a post's outcome is first read.
pub fn first_poll_after() -> Duration {
    Duration::minutes(2)
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

/// Runs one pass.
pub fn run(
    project: &Project,
    verdicts: &Verdicts,
    store: &Store,
    publisher: &mut dyn Publisher,
    media: Option<&mut dyn MediaStore>,
    options: Options<'_>,
) -> Result<Summary, PassError> {
    let config = project.config.as_ref().ok_or(PassError::InvalidConfig)?;
    let mut summary = Summary {
        config_errors: config.broken.len(),
        ..Summary::default()
    };
    for (post, verdict) in verdicts.held() {
        summary.blocked.push(Named {
            path: format!("posts/{post}.md"),
            channel: String::new(),
            message: verdict
                .problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join(" ; "),
        });
    }
    if !options.dry_run {
        store.set_meta(BLOCKED, &summary.blocked.len().to_string())?;
    }
    let holds = active_holds(store, crate::clock::now())?;
    summary.holds.clone_from(&holds);
    let (known, wanted) = settled(
        project,
        verdicts,
        store,
        publisher,
        &holds,
        options,
        &mut summary,
    )?;
    let (mut wanted, prepared) = prepare(project, config, wanted);
    let budget = &config.publisher.budget;
    let mut blocked: BTreeSet<String> = verdicts.held().map(|(id, _)| id.clone()).collect();
    blocked.extend(prepared.failed.keys().cloned());
    for (post, message) in &prepared.failed {
        summary.blocked.push(Named {
            path: format!("posts/{post}.md"),
            channel: String::new(),
            message: message.clone(),
        });
    }
    let mut remote = Remote::default();
    if !options.dry_run {
        remote = read_remote(store, publisher, config, &known, budget, &holds, options)?;
        hold_channels(&mut wanted, &prepared.items, &remote.holds);
    }
    let steps = diff::diff(Input {
        now: options.now,
        grace: options.grace,
        wanted: &wanted,
        known: &known,
        blocked: &blocked,
        report: &remote.report,
        stalled: &remote.stalled,
        adopt_all: options.fresh_store,
    });
    summary.unchanged = wanted.len().saturating_sub(
        steps
            .iter()
            .filter(|s| !matches!(s, Step::Settle { .. } | Step::Keep { .. }))
            .count(),
    );
    if options.dry_run {
        summary.steps = describe(&steps, &prepared.items, config, publisher);
        return Ok(summary);
    }
    let media = media.map(|media| {
        let media: &mut dyn MediaStore = media;
        media
    });
    let executed = execute::run(
        &steps,
        &prepared.items,
        store,
        publisher,
        media,
        options,
        &mut summary,
    );
    for (key, value) in publisher.memos() {
        match value {
            Some(value) => store.set_meta(&key, &value)?,
            None => store.delete_meta(&key)?,
        }
    }
    executed?;
    Ok(summary)
}

/// What the store knows and what the files want, once what each write an
/// interruption left in doubt did is settled (the diff then works from
/// what the networks really hold); deliveries that could not be settled
/// are left out of this pass.
fn settled<'p>(
    project: &'p Project,
    verdicts: &Verdicts,
    store: &Store,
    publisher: &mut dyn Publisher,
    holds: &BTreeMap<String, DateTime<Utc>>,
    options: Options<'_>,
    summary: &mut Summary,
) -> Result<(Vec<Delivery>, Vec<Planned<'p>>), PassError> {
    let config = project.config.as_ref().ok_or(PassError::InvalidConfig)?;
    let before = store.deliveries()?;
    let mut wanted = wanted(project, config, verdicts, &before, options);
    if options.dry_run {
        return Ok((before, wanted));
    }
    publisher.recall(&store.meta_prefixed("memo.")?);
    let keep = Keep {
        wanted: wanted.iter().map(|planned| planned.key.clone()).collect(),
        held: verdicts.held().map(|(id, _)| id.clone()).collect(),
    };
    let unsettled = settle_writes(store, publisher, &before, &keep, holds, options, summary)?;
    let known: Vec<Delivery> = store
        .deliveries()?
        .into_iter()
        .filter(|d| !unsettled.contains(&d.key()))
        .collect();
    wanted.retain(|planned| !unsettled.contains(&planned.key));
    Ok((known, wanted))
}

/// Settles the writes that may be at the networks: each one an
/// interruption left in doubt is looked for (found: live; not: gone); a
/// delivery caught in a create or an edit adopts the newest one found; and
/// every live write that is not its delivery's current version (an
/// orphan: an old version, a duplicate, a version of a post withdrawn) is
/// deleted. Returns the deliveries that could not be settled: this pass
/// leaves them alone.
/// What the files still want: deliveries the plan holds, and the posts
/// that keep what they made because their file has errors.
pub(crate) struct Keep {
    pub wanted: BTreeSet<Key>,
    pub held: BTreeSet<String>,
}

pub(crate) fn settle_writes(
    store: &Store,
    publisher: &mut dyn Publisher,
    known: &[Delivery],
    keep: &Keep,
    holds: &BTreeMap<String, DateTime<Utc>>,
    options: Options<'_>,
    summary: &mut Summary,
) -> Result<BTreeSet<Key>, PassError> {
    use crate::store::Settle;
    use crieur_core::delivery::{Status, WriteState};
    let now = options.now;
    let mut groups: BTreeMap<Key, Vec<crieur_core::delivery::Write>> = BTreeMap::new();
    for write in store.open_writes()? {
        if publisher.tracks_writes(&write.key.channel) {
            groups.entry(write.key.clone()).or_default().push(write);
        }
    }
    let mut unsettled = BTreeSet::new();
    for (key, mut writes) in groups {
        if options.stopping() || holds.contains_key(&publisher.holder(&key.channel)) {
            unsettled.insert(key);
            continue;
        }
        let delivery = known.iter().find(|d| d.key() == key);
        let found = locate_intended(store, publisher, &mut writes, now)?;
        store.record_requests(&publisher.take_requests())?;
        let Some(found) = found else {
            unsettled.insert(key);
            continue;
        };
        let live: Vec<&crieur_core::delivery::Write> = writes
            .iter()
            .filter(|w| w.state == WriteState::Live)
            .collect();
        // Caught in a create or an edit: the newest write found is what the
        // network holds for it now, if the files still want it (none found:
        // the create or the edit goes on, from what the store knows); a
        // post removed meanwhile is withdrawn whole.
        let still = keep.wanted.contains(&key) || keep.held.contains(&key.post_id);
        let newest = live.iter().rev().find(|w| found.contains(&w.id));
        let mut current = delivery.and_then(|d| match d.status {
            Status::Creating | Status::Editing if !still => None,
            Status::Creating | Status::Editing => Some(match newest {
                Some(newest) => (newest.remote_id.clone(), Some(newest.version.clone())),
                None => (d.remote_id.clone(), None),
            }),
            Status::Deleting | Status::Withdrawn | Status::Missed | Status::Deleted => None,
            _ => Some((d.remote_id.clone(), None)),
        });
        if let Some((Some(remote), Some(version))) = &current {
            store.settle(
                &key,
                Settle {
                    remote_id: Some(remote),
                    content_hash: Some(version),
                    ..Settle::status(Status::Queued)
                },
                now,
            )?;
            if let Some(url) = publisher.public_url(remote) {
                store.set_public_url(&key, &url)?;
            }
        }
        let current = current.take().and_then(|(remote, _)| remote);
        if !remove_orphans(
            store,
            publisher,
            &key,
            &live,
            current.as_deref(),
            now,
            summary,
        )? {
            unsettled.insert(key.clone());
        } else if !still
            && delivery.is_some_and(|d| matches!(d.status, Status::Creating | Status::Editing))
        {
            store.settle(&key, Settle::status(Status::Withdrawn), now)?;
            summary.withdrawn.push(key.post_id.clone());
        }
        store.record_requests(&publisher.take_requests())?;
    }
    Ok(unsettled)
}

/// Looks for each write in doubt: found, it is live; not, gone. Returns
/// the ids of those found (only they are known to be there: a live one
/// may since have been deleted by an edit cut short), or `None` when one
/// could not be looked for.
fn locate_intended(
    store: &Store,
    publisher: &mut dyn Publisher,
    writes: &mut [crieur_core::delivery::Write],
    now: DateTime<Utc>,
) -> Result<Option<Vec<i64>>, StoreError> {
    use crieur_core::delivery::WriteState;
    let mut taken: Vec<String> = writes.iter().filter_map(|w| w.remote_id.clone()).collect();
    let mut found = Vec::new();
    let mut doubt = false;
    for write in writes
        .iter_mut()
        .filter(|w| w.state == WriteState::Intended)
    {
        match publisher.locate(write, &taken) {
            Ok(Some(remote)) => {
                store.settle_write(write.id, WriteState::Live, Some(&remote), now)?;
                taken.push(remote.clone());
                write.remote_id = Some(remote);
                write.state = WriteState::Live;
                found.push(write.id);
            }
            Ok(None) => {
                store.settle_write(write.id, WriteState::Gone, None, now)?;
                write.state = WriteState::Gone;
            }
            Err(_) => doubt = true,
        }
    }
    Ok((!doubt).then_some(found))
}

/// Deletes every live write of a delivery but its current one; says
/// whether all went.
fn remove_orphans(
    store: &Store,
    publisher: &mut dyn Publisher,
    key: &Key,
    live: &[&crieur_core::delivery::Write],
    current: Option<&str>,
    now: DateTime<Utc>,
    summary: &mut Summary,
) -> Result<bool, StoreError> {
    let mut all = true;
    for write in live {
        let Some(remote) = write.remote_id.as_deref() else {
            continue;
        };
        if Some(remote) == current {
            continue;
        }
        match publisher.delete(remote) {
            Ok(()) | Err(PublishError::NotFound(_)) => {
                store.settle_write(write.id, crieur_core::delivery::WriteState::Gone, None, now)?;
                summary.orphans.push(Named {
                    path: format!("posts/{}.md", key.post_id),
                    channel: key.channel.clone(),
                    message: format!(
                        "une version en trop ({remote}) retirée chez {}",
                        publisher.holder(&key.channel)
                    ),
                });
            }
            Err(_) => all = false,
        }
    }
    Ok(all)
}

/// One delivery the plan wants, before its image is drawn.
struct Planned<'p> {
    key: Key,
    post: &'p Post,
    template: &'p Template,
    format: Format,
    network: Network,
    remote_channel: Option<String>,
    series: Option<String>,
    text: String,
}

/// The deliveries the plan wants over the window, by instant.
fn wanted<'p>(
    project: &'p Project,
    config: &'p Config,
    verdicts: &Verdicts,
    known: &[Delivery],
    options: Options<'_>,
) -> Vec<Planned<'p>> {
    let now = options.now;
    // The window reaches every pending delivery, so that one beyond a
    // shortened lookahead is not taken for withdrawn.
    let pending_until = known
        .iter()
        .filter(|d| d.status.is_pending() || d.status == crieur_core::delivery::Status::Waiting)
        .map(|d| d.at + Duration::seconds(1))
        .max()
        .unwrap_or(now);
    // A post whose instant passed within the grace still goes out, late.
    let window = Window {
        from: now - options.grace,
        until: (now + config.publisher.lookahead).max(pending_until),
    };
    let plan = verdicts.calendar(project, config, window);
    let by_id: HashMap<&str, &Post> = project.posts.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut wanted = Vec::new();
    for slot in &plan.slots {
        let Some(post) = by_id.get(slot.post.as_str()) else {
            continue;
        };
        if !verdicts.is_ready(&post.id) {
            continue;
        }
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
            wanted.push(Planned {
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
    wanted.sort_by(|a, b| (a.key.at, &a.key).cmp(&(b.key.at, &b.key)));
    wanted
}

/// The wanted deliveries with their images drawn and their content hashed.
struct PreparedAll {
    items: Vec<Prepared>,
    /// Posts whose image could not be drawn, with why.
    failed: BTreeMap<String, String>,
}

/// Draws every image the pass may need, on every core, and hashes each
/// delivery's content.
fn prepare(
    project: &Project,
    config: &Config,
    planned: Vec<Planned<'_>>,
) -> (Vec<Want>, PreparedAll) {
    let context = Context::of(config, &project.assets);
    let posts: Vec<&Post> = planned.iter().map(|p| p.post).collect();
    let sizes = project.sizes_for(context, &posts);
    let context = context.with_sizes(&sizes);
    let jpeg = |network: Network| network == Network::Instagram;
    let mut needed: Vec<(&Post, &Template, Format, bool)> = planned
        .iter()
        .map(|p| (p.post, p.template, p.format, jpeg(p.network)))
        .collect();
    needed.sort_by(|a, b| (&a.0.id, a.2, a.3).cmp(&(&b.0.id, b.2, b.3)));
    needed.dedup_by(|a, b| a.0.id == b.0.id && a.2 == b.2 && a.3 == b.3);
    let draw = |(post, template, format, jpeg): &(&Post, &Template, Format, bool)| {
        let image = layout(context, template, *format, post)
            .map_err(|problems| {
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ; ")
            })
            .and_then(|card| {
                let canvas = render::draw(&card);
                let encoded = if *jpeg {
                    render::encode_jpeg(canvas)
                } else {
                    render::encode_png(canvas)
                };
                encoded.map_err(|e| e.to_string())
            });
        ((post.id.clone(), *format, *jpeg), image)
    };
    let images: BTreeMap<(String, Format, bool), Result<Vec<u8>, String>> =
        needed.par_iter().map(draw).collect();
    let mut failed = BTreeMap::new();
    let mut wants: Vec<Want> = Vec::new();
    let mut items: Vec<Prepared> = Vec::new();
    for planned in planned {
        let image = &images[&(
            planned.post.id.clone(),
            planned.format,
            jpeg(planned.network),
        )];
        let image = match image {
            Ok(image) => image.clone(),
            Err(message) => {
                failed.insert(planned.post.id.clone(), message.clone());
                continue;
            }
        };
        let alt = alt_for(planned.template, planned.post);
        let hash = content_hash(&planned.text, &alt, &image, &planned.key);
        wants.push(Want {
            key: planned.key.clone(),
            hash: hash.clone(),
            hold: None,
        });
        items.push(Prepared {
            outgoing: Outgoing {
                post_id: planned.post.id.clone(),
                channel: planned.key.channel.clone(),
                channel_remote_id: planned.remote_channel.clone(),
                network: planned.network,
                at: planned.key.at,
                text: planned.text,
                alt,
                image,
                image_url: None,
                token: None,
            },
            hash,
            path: planned.post.path.clone(),
            series: planned.series,
        });
    }
    // A post whose image failed on one channel is left out on all.
    let (wants, items): (Vec<Want>, Vec<Prepared>) = wants
        .into_iter()
        .zip(items)
        .filter(|(_, item)| !failed.contains_key(&item.outgoing.post_id))
        .unzip();
    (wants, PreparedAll { items, failed })
}

/// The alt text sent with the image: never empty (the template's, else the
/// post's main text).
pub fn alt_for(template: &Template, post: &Post) -> String {
    let alt = alt_text(template, post);
    if !alt.trim().is_empty() {
        return alt;
    }
    let mut texts = post.visual.values().filter_map(|v| v.get_ref().as_text());
    let fallback = texts
        .next()
        .map(str::to_owned)
        .unwrap_or_else(|| post.body.lines().next().unwrap_or_default().to_owned());
    if fallback.trim().is_empty() {
        format!("Visuel : {}", template.id)
    } else {
        fallback
    }
}

/// What the publisher said this pass: outcomes, and the channels' states.
#[derive(Debug, Default)]
struct Remote {
    report: Report,
    /// Channels whose deliveries must wait, with why.
    holds: BTreeMap<String, String>,
    /// Channels whose posts do not go out, with why (for `late`).
    stalled: BTreeMap<String, String>,
}

/// Reads the publisher's channels (cached) and the outcome of the
/// deliveries whose instant passed (when polling is due).
fn read_remote(
    store: &Store,
    publisher: &mut dyn Publisher,
    config: &Config,
    known: &[Delivery],
    budget: &Budget,
    held: &BTreeMap<String, DateTime<Utc>>,
    options: Options<'_>,
) -> Result<Remote, PassError> {
    let mut remote = Remote::default();
    // A publisher that asked to wait is not asked anything.
    let is_held = |channel: &str| held.contains_key(&publisher.holder(channel));
    let known: Vec<Delivery> = known
        .iter()
        .filter(|d| !is_held(&d.channel))
        .cloned()
        .collect();
    let known = known.as_slice();
    let project_held = config
        .channels
        .values()
        .filter(|c| c.direct.is_none())
        .any(|c| is_held(&c.id));
    let last_poll = store
        .meta(LAST_POLL)?
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|at| at.with_timezone(&Utc));
    let awaiting = awaiting(known, options.now);
    if poll_due(&awaiting, last_poll, options.now, budget) {
        let ids: Vec<(String, String, DateTime<Utc>)> = awaiting
            .iter()
            .filter_map(|d| {
                let channel = config.channels.get(&d.channel)?;
                let remote_channel = channel.buffer_id.clone().unwrap_or_default();
                Some((d.remote_id.clone()?, remote_channel, d.at))
            })
            .collect();
        match publisher.report(&ids) {
            Ok(report) => {
                remote.report = report;
                store.set_meta(LAST_POLL, &options.now.to_rfc3339())?;
            }
            Err(PublishError::Unauthorized(message)) => {
                return Err(PassError::Unauthorized(message));
            }
            Err(_) => {}
        }
    }
    // A post newly late: the channels' state says why (paused...).
    let newly_late = awaiting.iter().any(|d| {
        d.status != crieur_core::delivery::Status::Late
            && options.now - d.at > diff::late_after()
            && d.remote_id.as_ref().is_some_and(|id| {
                matches!(
                    remote.report.posts.get(id),
                    Some(crieur_core::publisher::RemoteStatus::Scheduled)
                )
            })
    });
    let listed = if project_held {
        Ok(None)
    } else {
        channels(store, publisher, config, crate::clock::now(), newly_late)
    };
    match listed {
        Ok(Some(channels)) => {
            (remote.holds, remote.stalled) = channel_states(config, &channels);
        }
        Ok(None) => {}
        Err(PublishError::Unauthorized(message)) => return Err(PassError::Unauthorized(message)),
        // Without the list, nothing is held: the calls will say.
        Err(_) => {}
    }
    store.record_requests(&publisher.take_requests())?;
    Ok(remote)
}

/// The next instant a waiting delivery is due: a post sent at its time by
/// crieur itself waits until then, and a pass at that instant sends it.
/// Only instants after `after` (the last pass) count.
pub fn next_waiting(known: &[Delivery], after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    known
        .iter()
        .filter(|d| d.status == crieur_core::delivery::Status::Waiting && d.at > after)
        .map(|d| d.at)
        .min()
}

/// The deliveries the publisher holds whose instant has passed and whose
/// outcome is not known yet.
pub fn awaiting(known: &[Delivery], now: DateTime<Utc>) -> Vec<&Delivery> {
    known
        .iter()
        .filter(|d| d.status.awaits_outcome() && d.at <= now && d.remote_id.is_some())
        .collect()
}

/// When the outcomes are next worth reading: soon after a delivery's
/// instant, then spaced so that polling keeps to its share of the budget
/// (every half hour at most for a day, then every six hours).
pub fn next_poll(
    awaiting: &[&Delivery],
    upcoming: Option<DateTime<Utc>>,
    last_poll: Option<DateTime<Utc>>,
    budget: &Budget,
) -> Option<DateTime<Utc>> {
    let spacing = budget.poll_every();
    let after_last = |gap: Duration| last_poll.map_or(DateTime::<Utc>::MIN_UTC, |at| at + gap);
    let newest = awaiting.iter().map(|d| d.at).max();
    let unpolled = newest.filter(|at| last_poll.is_none_or(|last| *at > last));
    let first = unpolled
        .or(upcoming)
        .map(|at| (at + first_poll_after()).max(after_last(spacing)));
    let again = newest.map(|newest| {
        let recent = last_poll.is_none_or(|last| last - newest < Duration::days(1));
        let gap = if recent {
            Duration::minutes(30).max(spacing)
        } else {
            Duration::hours(6)
        };
        after_last(gap)
    });
    [first, again].into_iter().flatten().min()
}

/// Whether the outcomes must be read now.
fn poll_due(
    awaiting: &[&Delivery],
    last_poll: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    budget: &Budget,
) -> bool {
    !awaiting.is_empty() && next_poll(awaiting, None, last_poll, budget).is_some_and(|at| at <= now)
}

/// The publisher's channels, from the store's cache while it is fresh.
fn channels(
    store: &Store,
    publisher: &mut dyn Publisher,
    config: &Config,
    clock: DateTime<Utc>,
    refresh: bool,
) -> Result<Option<Vec<RemoteChannel>>, PublishError> {
    let local = |error: StoreError| PublishError::Local(error.to_string());
    let fetched = store
        .meta(CHANNELS_AT)
        .map_err(local)?
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|at| at.with_timezone(&Utc));
    let cached: Option<Vec<RemoteChannel>> = store
        .meta(CHANNELS)
        .map_err(local)?
        .and_then(|json| serde_json::from_str(&json).ok());
    if let (Some(at), Some(cached)) = (fetched, &cached) {
        let covers = config
            .channels
            .values()
            .filter_map(|c| c.buffer_id.as_ref())
            .all(|id| cached.iter().any(|r| &r.id == id));
        if !refresh && clock - at < channels_ttl() && clock >= at && covers {
            return Ok(Some(cached.clone()));
        }
    }
    let Some(channels) = publisher.channels()? else {
        return Ok(None);
    };
    let json = serde_json::to_string(&channels).map_err(|e| PublishError::Local(e.to_string()))?;
    store.set_meta(CHANNELS, &json).map_err(local)?;
    store
        .set_meta(CHANNELS_AT, &clock.to_rfc3339())
        .map_err(local)?;
    Ok(Some(channels))
}

/// Which configured channels cannot take posts (held, with why), and which
/// do not send them (stalled).
pub fn channel_states(
    config: &Config,
    remote: &[RemoteChannel],
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut holds = BTreeMap::new();
    let mut stalled = BTreeMap::new();
    for channel in config.channels.values() {
        let Some(id) = &channel.buffer_id else {
            continue;
        };
        let name = &channel.id;
        let network = channel.network.as_str();
        let Some(found) = remote.iter().find(|r| &r.id == id) else {
            holds.insert(name.clone(), format!(
                "le canal « {name} » ({network}) n'existe pas chez Buffer (buffer_id = \"{id}\") : corrigez `buffer_id` dans config/crieur.toml (`crieur channels` liste les canaux)"
            ));
            continue;
        };
        let service = &found.service;
        let problem = if !service.eq_ignore_ascii_case(network) {
            Some(format!("est un canal {service} chez Buffer, pas {network}"))
        } else if found.disconnected {
            Some("est déconnecté chez Buffer : reconnectez-le dans Buffer".to_owned())
        } else if found.locked {
            Some("est verrouillé chez Buffer (limite de canaux de l'offre) : déverrouillez-le dans Buffer".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            holds.insert(
                name.clone(),
                format!("le canal « {name} » ({network}, service Buffer {service}) {problem}"),
            );
        }
        if found.paused {
            stalled.insert(
                name.clone(),
                "la file du canal est en pause dans Buffer".to_owned(),
            );
        } else if found.disconnected {
            stalled.insert(
                name.clone(),
                "le canal est déconnecté dans Buffer".to_owned(),
            );
        }
    }
    (holds, stalled)
}

/// Holds back the new deliveries of channels that cannot take them.
fn hold_channels(wanted: &mut [Want], items: &[Prepared], holds: &BTreeMap<String, String>) {
    for (want, item) in wanted.iter_mut().zip(items) {
        want.hold = holds.get(&item.outgoing.channel).cloned();
    }
}

/// The steps in French, for `publish --dry-run`, with Buffer's requests.
fn describe(
    steps: &[Step],
    items: &[Prepared],
    config: &Config,
    publisher: &dyn Publisher,
) -> Vec<String> {
    let when = |key: &Key| crieur_core::plan::format_local(&key.at.with_timezone(&config.timezone));
    let url = |item: &Prepared| {
        config
            .media
            .as_ref()
            .filter(|_| publisher.fetches_images_for(&item.outgoing.channel))
            .map(|media| {
                crate::media::url(
                    media.public_base_url(),
                    &crate::media::name(&item.outgoing.image),
                )
            })
    };
    steps
        .iter()
        .map(|step| {
            let key = step.key();
            let what = format!("{} ({}) le {}", key.post_id, key.channel, when(key));
            let request = |item: &Prepared, remote: Option<&str>| {
                if !publisher.fetches_images_for(&item.outgoing.channel) {
                    return String::new();
                }
                let mut outgoing = item.outgoing.clone();
                outgoing.image_url = url(item);
                let request = match remote {
                    Some(remote) => super::buffer::edit_request(remote, &outgoing),
                    None => super::buffer::create_request(&outgoing),
                };
                format!(
                    "\n{}",
                    serde_json::to_string_pretty(&request.body()).unwrap_or_default()
                )
            };
            match step {
                Step::Create { want, .. } => {
                    format!("créer {what}{}", request(&items[*want], None))
                }
                Step::Adopt { .. } => format!("chercher chez l'éditeur, sinon créer : {what}"),
                Step::Edit {
                    want, remote_id, ..
                } => {
                    format!("modifier {what}{}", request(&items[*want], Some(remote_id)))
                }
                Step::Delete { .. } => format!("retirer {what}"),
                Step::Wait { reason, .. } => format!("mettre en attente {what} : {reason}"),
                Step::Settle {
                    status, message, ..
                } => format!(
                    "noter {what} : {}{}",
                    status.label(),
                    message
                        .as_ref()
                        .map_or_else(String::new, |m| format!(" ({m})"))
                ),
                Step::Keep { .. } => format!("garder tel quel {what} (le post a des erreurs)"),
            }
        })
        .collect()
}

/// What identifies a delivery's content: any change means an edit.
pub fn content_hash(text: &str, alt: &str, image: &[u8], key: &Key) -> String {
    let mut hasher = Sha256::new();
    for part in [text.as_bytes(), alt.as_bytes(), key.channel.as_bytes()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(Sha256::digest(image));
    hasher.update(key.at.timestamp().to_le_bytes());
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn delivery(at: DateTime<Utc>, status: crieur_core::delivery::Status) -> Delivery {
        Delivery {
            id: 0,
            post_id: "p".into(),
            channel: "bluesky".into(),
            at,
            content_hash: String::new(),
            image_url: None,
            remote_id: None,
            status,
            attempts: 0,
            last_error: None,
            updated_at: at,
        }
    }

    #[test]
    fn the_daemon_wakes_when_a_post_sent_at_its_time_is_due() {
        use crieur_core::delivery::Status;
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let soon = now + Duration::minutes(20);
        let later = now + Duration::hours(3);
        let known = [
            delivery(later, Status::Waiting),
            delivery(soon, Status::Waiting),
            delivery(now - Duration::hours(1), Status::Waiting),
            delivery(now + Duration::minutes(5), Status::Queued),
        ];
        assert_eq!(next_waiting(&known, now), Some(soon));
        assert_eq!(next_waiting(&[], now), None);
    }
}

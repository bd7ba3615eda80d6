//! What the preview page shows, as data: each post with its images and its
//! captions as each network shows them, the calendar of the coming weeks
//! with empty slots and sent posts, and the problems `check` finds. Pure
//! apart from reading the state store for what was sent.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::publish::pass::format_for;
use crate::store::Store;
use crieur_core::caption::{self, hashtags_in};
use crieur_core::check::judge;
use crieur_core::delivery::Status;
use crieur_core::network::Network;
use crieur_core::plan::{Window, format_local};
use crieur_core::post::template_of;
use crieur_core::project::Project;
use crieur_core::render::alt_text;

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub version: u64,
    pub brand: String,
    pub problems: Vec<crieur_core::diagnostic::LocatedDiagnostic>,
    pub calendar: Vec<Entry>,
    pub posts: Vec<PostView>,
    /// The calendar of the coming three months as iCalendar, served at
    /// `/calendrier.ics` for calendar apps to subscribe to.
    #[serde(skip)]
    pub ics: String,
}

/// One line of the calendar.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub at: String,
    pub when: String,
    pub series: Option<String>,
    pub post: Option<String>,
    pub channels: Vec<String>,
    /// `planned`, `empty` or `sent`.
    pub state: &'static str,
    /// The public addresses of the post on the channels that publish
    /// directly, once sent.
    pub links: Vec<Link>,
}

/// Where a sent post can be seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub channel: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct PostView {
    pub id: String,
    pub path: String,
    /// Changes whenever the post's file changes: images are cached by it.
    pub hash: String,
    pub draft: bool,
    pub series: Option<String>,
    pub when: Option<String>,
    pub formats: Vec<String>,
    pub alt: String,
    pub channels: Vec<ChannelView>,
    /// The contrast of each format's least readable text.
    pub contrast: Vec<ContrastView>,
}

/// How the least readable text of one card reads.
#[derive(Debug, Serialize)]
pub struct ContrastView {
    pub format: String,
    /// `7,2:1`.
    pub ratio: String,
    pub required: String,
    pub passes: bool,
}

#[derive(Debug, Serialize)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub network: String,
    pub network_name: String,
    /// The image format this network gets.
    pub format: Option<String>,
    pub text: String,
    pub length: usize,
    pub limit: usize,
    pub unit: &'static str,
    /// Where the network cuts the caption with « … voir plus ».
    pub fold: usize,
    pub hashtags: Vec<String>,
}

/// Where each network folds a long caption, in characters (approximately,
/// as each shows it on a phone).
fn fold(network: Network) -> usize {
    match network {
        Network::Instagram => 125,
        Network::Linkedin => 210,
        Network::Facebook => 480,
        Network::X => 280,
        Network::Mastodon | Network::Threads => 500,
        Network::Bluesky => 300,
    }
}

/// The public addresses of an entry's post on its channels.
fn links_of(entry: &Entry, urls: &BTreeMap<crieur_core::delivery::Key, String>) -> Vec<Link> {
    let (Some(post), Ok(at)) = (&entry.post, DateTime::parse_from_rfc3339(&entry.at)) else {
        return Vec::new();
    };
    entry
        .channels
        .iter()
        .filter_map(|channel| {
            let key = crieur_core::delivery::Key {
                post_id: post.clone(),
                channel: channel.clone(),
                at: at.with_timezone(&Utc),
            };
            urls.get(&key).map(|url| Link {
                channel: channel.clone(),
                url: url.clone(),
            })
        })
        .collect()
}

/// The deliveries a person should look at, as problems of their post:
/// refused, late, deleted in Buffer (errors) and waiting (warnings).
fn delivery_problems(
    deliveries: &[crieur_core::delivery::Delivery],
    tz: chrono_tz::Tz,
) -> Vec<crieur_core::diagnostic::LocatedDiagnostic> {
    use crieur_core::diagnostic::Severity;
    deliveries
        .iter()
        .filter_map(|delivery| {
            let severity = match delivery.status {
                Status::Error | Status::Late | Status::Deleted => Severity::Error,
                Status::Waiting => Severity::Warning,
                _ => return None,
            };
            let when = format_local(&delivery.at.with_timezone(&tz));
            let mut message = format!(
                "{} le {when} : {}",
                delivery.channel,
                delivery.status.label()
            );
            if let Some(error) = &delivery.last_error {
                message.push_str(&format!(" — {error}"));
            }
            Some(crieur_core::diagnostic::LocatedDiagnostic {
                severity,
                path: format!("posts/{}.md", delivery.post_id),
                line: 1,
                column: 1,
                message,
                hint: delivery.status.advice().map(str::to_owned),
            })
        })
        .collect()
}

/// A problem per blocked slot: the slot stays empty unless the post is
/// fixed.
fn blocked_slots(
    plan: &crieur_core::plan::Plan,
) -> Vec<crieur_core::diagnostic::LocatedDiagnostic> {
    plan.slots
        .iter()
        .filter(|slot| slot.blocked)
        .map(|slot| crieur_core::diagnostic::LocatedDiagnostic {
            severity: crieur_core::diagnostic::Severity::Error,
            path: format!("posts/{}.md", slot.post),
            line: 1,
            column: 1,
            message: format!(
                "ce post ne partira pas le {} : son créneau restera vide tant qu'il n'est pas corrigé",
                format_local(&slot.at)
            ),
            hint: slot.problems.first().map(|p| format!("d'abord : {p}")),
        })
        .collect()
}

impl Snapshot {
    pub fn of(project: &Project, root: &Path, version: u64, now: DateTime<Utc>) -> Snapshot {
        let (found, _) = judge(project, now);
        Snapshot::found(project, found, (root, version, now))
    }

    /// The same, the project keeping the sizes `check` found, with which
    /// the preview then draws its images.
    pub fn judged(
        project: &mut Project,
        root: &Path,
        version: u64,
        now: DateTime<Utc>,
    ) -> Snapshot {
        let (found, sizes) = judge(project, now);
        project.sizes = sizes;
        Snapshot::found(project, found, (root, version, now))
    }

    /// The snapshot of a project and what `check` found in it.
    fn found(
        project: &Project,
        found: Vec<crieur_core::diagnostic::Diagnostic>,
        (root, version, now): (&Path, u64, DateTime<Utc>),
    ) -> Snapshot {
        let mut report = project.report.clone();
        report.extend(found);
        let mut problems = report.located();
        let Some(config) = &project.config else {
            return Snapshot {
                version,
                brand: String::new(),
                problems,
                calendar: Vec::new(),
                posts: Vec::new(),
                ics: String::new(),
            };
        };
        let tz = config.timezone;

        let store = Store::open_existing(&root.join(&config.state))
            .ok()
            .flatten();
        let deliveries = store
            .as_ref()
            .and_then(|store| store.deliveries().ok())
            .unwrap_or_default();
        let urls = store
            .as_ref()
            .and_then(|store| store.public_urls().ok())
            .unwrap_or_default();
        problems.extend(delivery_problems(&deliveries, tz));
        let sent = sent_entries(deliveries, now, tz);
        let window = Window {
            from: now,
            until: now + Duration::weeks(4),
        };
        let verdicts = crieur_core::verdict::judge(project, &report);
        let plan = verdicts.calendar(project, config, window);
        problems.extend(blocked_slots(&plan));
        let quarter = Window {
            from: now,
            until: now + Duration::weeks(13),
        };
        let ics = crieur_core::calendar::ics(
            project,
            config,
            &verdicts.calendar(project, config, quarter),
            now,
        );
        let calendar = calendar_of(&plan, sent, &urls);

        let cache = crieur_core::contrast::Cache::default();
        let posts = project
            .posts
            .iter()
            .map(|post| post_view(project, config, &report, &plan, &cache, post))
            .collect();
        Snapshot {
            version,
            brand: config.brand.name.clone(),
            problems,
            calendar,
            posts,
            ics,
        }
    }
}

/// The posts sent in the past week: one entry per post and instant, with
/// every channel it went to.
fn sent_entries(
    deliveries: Vec<crieur_core::delivery::Delivery>,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Vec<Entry> {
    let sent = deliveries
        .into_iter()
        .filter(|d| d.status == Status::Sent && d.at >= now - Duration::weeks(1));
    let mut entries: Vec<Entry> = Vec::new();
    for delivery in sent {
        let (post, at, channel) = (delivery.post_id, delivery.at, delivery.channel);
        match entries
            .iter_mut()
            .find(|e| e.post.as_deref() == Some(&post) && e.at == at.to_rfc3339())
        {
            Some(entry) => entry.channels.push(channel),
            None => entries.push(Entry {
                at: at.to_rfc3339(),
                when: format_local(&at.with_timezone(&tz)),
                series: None,
                post: Some(post),
                channels: vec![channel],
                state: "sent",
                links: Vec::new(),
            }),
        }
    }
    entries
}

/// The calendar's entries by instant: the posts sent, the slots to come
/// and the empty ones, each with where its post can be seen.
fn calendar_of(
    plan: &crieur_core::plan::Plan,
    sent: Vec<Entry>,
    urls: &BTreeMap<crieur_core::delivery::Key, String>,
) -> Vec<Entry> {
    // A slot whose post went out is shown once, as sent.
    let went = |post: &str, at: &str| {
        sent.iter()
            .any(|e| e.post.as_deref() == Some(post) && e.at == at)
    };
    let slots: Vec<_> = plan
        .slots
        .iter()
        .filter(|slot| !went(&slot.post, &slot.at.with_timezone(&Utc).to_rfc3339()))
        .collect();
    let mut calendar = sent;
    for slot in slots {
        calendar.push(Entry {
            at: slot.at.to_rfc3339(),
            when: format_local(&slot.at),
            series: slot.series.clone(),
            post: Some(slot.post.clone()),
            channels: slot.channels.clone(),
            state: if slot.blocked { "blocked" } else { "planned" },
            links: Vec::new(),
        });
    }
    for empty in &plan.empty {
        calendar.push(Entry {
            at: empty.at.to_rfc3339(),
            when: format_local(&empty.at),
            series: Some(empty.series.clone()),
            post: None,
            channels: Vec::new(),
            state: "empty",
            links: Vec::new(),
        });
    }
    calendar.sort_by(|a, b| a.at.cmp(&b.at));
    for entry in &mut calendar {
        entry.links = links_of(entry, urls);
    }
    calendar
}

/// A post as the page shows it: its slot, formats, alt text, captions and
/// contrast.
fn post_view(
    project: &Project,
    config: &crieur_core::config::Config,
    report: &crieur_core::diagnostic::Report,
    plan: &crieur_core::plan::Plan,
    cache: &crieur_core::contrast::Cache,
    post: &crieur_core::post::Post,
) -> PostView {
    let template = template_of(post, config).and_then(|t| project.templates.get(t));
    let when = plan
        .slots
        .iter()
        .find(|slot| slot.post == post.id)
        .map(|slot| format_local(&slot.at));
    let source = report.source(&post.path).unwrap_or_default();
    PostView {
        id: post.id.clone(),
        path: post.path.clone(),
        hash: hash_of(project, source),
        draft: post.draft,
        series: post.series.as_ref().map(|s| s.get_ref().clone()),
        when,
        formats: template
            .map(|t| t.formats.keys().map(|f| f.as_str().to_owned()).collect())
            .unwrap_or_default(),
        alt: template.map(|t| alt_text(t, post)).unwrap_or_default(),
        channels: channel_views(config, template, post),
        contrast: template
            .map(|t| contrast_of(project, config, t, post, cache))
            .unwrap_or_default(),
    }
}

/// The post's caption on each of its channels, as that network shows it,
/// with its series' hashtags.
fn channel_views(
    config: &crieur_core::config::Config,
    template: Option<&crieur_core::template::Template>,
    post: &crieur_core::post::Post,
) -> Vec<ChannelView> {
    let hashtags = post
        .series
        .as_ref()
        .and_then(|s| config.series.get(s.get_ref()))
        .map(|s| s.hashtags.clone())
        .unwrap_or_default();
    crieur_core::plan::channels_of(post, config)
        .into_iter()
        .filter_map(|id| {
            let channel = config.channels.get(&id)?;
            let network = channel.network;
            let text = caption::render(
                post.caption_for(network),
                &hashtags,
                config.typography.captions,
            );
            Some(ChannelView {
                name: channel
                    .name
                    .clone()
                    .unwrap_or_else(|| config.brand.name.clone()),
                network: network.as_str().to_owned(),
                network_name: network.display_name().to_owned(),
                format: template
                    .and_then(|t| format_for(network, t))
                    .map(|f| f.as_str().to_owned()),
                length: network.count(&text),
                limit: network.text_limit(),
                unit: network.unit(),
                fold: fold(network),
                hashtags: hashtags_in(&text).into_iter().map(str::to_owned).collect(),
                text,
                id,
            })
        })
        .collect()
}

/// Changes whenever the post's file, the configuration or a template
/// changes: its images are cached by it.
fn hash_of(project: &Project, source: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update(version_of_shared(project).as_bytes());
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The least readable text of each of the post's cards.
fn contrast_of(
    project: &Project,
    config: &crieur_core::config::Config,
    template: &crieur_core::template::Template,
    post: &crieur_core::post::Post,
    cache: &crieur_core::contrast::Cache,
) -> Vec<ContrastView> {
    let context = crieur_core::render::Context::of(config, &project.assets);
    let sizes = project.sizes_for(context, &[post]);
    let context = context.with_sizes(&sizes);
    template
        .formats
        .keys()
        .filter_map(|&format| {
            let card = crieur_core::render::layout(context, template, format, post).ok()?;
            let readings = crieur_core::contrast::measure(&card, cache);
            let worst = readings
                .iter()
                .min_by(|a, b| (a.ratio / a.required).total_cmp(&(b.ratio / b.required)))?;
            Some(ContrastView {
                format: format.as_str().to_owned(),
                ratio: crieur_core::contrast::format(worst.ratio),
                required: crieur_core::contrast::format(worst.required),
                passes: worst.passes(),
            })
        })
        .collect()
}

/// What every image depends on besides its post: the configuration and
/// templates, so that editing a template redraws every image.
fn version_of_shared(project: &Project) -> String {
    let mut hasher = Sha256::new();
    if let Some(text) = project.report.source(crieur_core::config::CONFIG_PATH) {
        hasher.update(text.as_bytes());
    }
    for template in project.templates.values() {
        if let Some(text) = project.report.source(&template.path) {
            hasher.update(text.as_bytes());
        }
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

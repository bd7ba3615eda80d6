//! Which post goes out when, on which channels.
//!
//! Pure: the configuration, the posts, the calendar already pinned by the
//! state store and a window in, a [`Plan`] out. A post with `publish_at`
//! takes that instant; so does a series post the store pinned when it was
//! queued. Each series' timetable gives slots; the series' posts that are
//! still in its pool fill its free slots in the order of their file paths,
//! and a slot with no post left is reported as empty, with why (a series
//! with `repeat = true` starts over from its first post instead). Drafts
//! are left out.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::config::{Config, Series};
use crate::post::Post;

/// The most slots one series may produce in a window: an every-minute
/// timetable over years would otherwise fill the memory.
pub const MAX_SLOTS_PER_SERIES: usize = 100_000;

/// The instants a plan covers: `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.from <= instant && instant < self.until
    }
}

/// Where a post stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ready,
    Blocked,
    Draft,
    Orphan,
}

/// One error of a post, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{} : {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// A post that has no slot, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Apart {
    pub post: String,
    pub state: State,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub slots: Vec<Slot>,
    pub empty: Vec<EmptySlot>,
    /// Posts with no slot at all (neither series nor date, an unknown
    /// series, a file that is no post), with their problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apart: Vec<Apart>,
}

/// A post at its instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Tz>,
    pub series: Option<String>,
    pub post: String,
    pub channels: Vec<String>,
    /// The post has errors: nothing goes out, and the slot stays empty
    /// until it is fixed (no other post takes it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// A slot of a series' timetable with no post to fill it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmptySlot {
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Tz>,
    pub series: String,
    /// Why no post fills it.
    pub cause: Vacancy,
}

/// Why a slot of a series is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Vacancy {
    /// The series has no post (drafts aside).
    NoPost,
    /// Every post of the series has gone out, is queued or took an earlier
    /// slot, or has a date of its own.
    UsedUp,
    /// The post that would take the slot is a draft.
    Draft { post: String },
}

fn rfc3339<S: Serializer>(at: &DateTime<Tz>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Secs, false))
}

/// The channels a post goes to: its own, or its series'.
pub fn channels_of(post: &Post, config: &Config) -> Vec<String> {
    if let Some(channels) = &post.channels {
        return channels.iter().map(|c| c.get_ref().clone()).collect();
    }
    post.series
        .as_ref()
        .and_then(|series| config.series.get(series.get_ref()))
        .map(|series| {
            series
                .channels
                .iter()
                .map(|c| c.get_ref().clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The instants the state store pinned, by post id.
pub type Pins = BTreeMap<String, Vec<DateTime<Utc>>>;

/// Lays the posts out on the timetable of `window`, with no pinned
/// calendar.
pub fn plan(config: &Config, posts: &[Post], window: Window) -> Plan {
    plan_with(config, posts, window, &Pins::new())
}

/// Lays the posts out on the timetable of `window`, keeping the instants
/// `pins` holds.
pub fn plan_with(config: &Config, posts: &[Post], window: Window, pins: &Pins) -> Plan {
    plan_reserving(config, posts, window, pins, &BTreeSet::new())
}

/// Lays the posts out, keeping the pinned instants and leaving the
/// `reserved` ones to no other post (instants pinned by posts whose file
/// cannot be read just now: their slot is theirs).
pub fn plan_reserving(
    config: &Config,
    posts: &[Post],
    window: Window,
    pins: &Pins,
    reserved: &BTreeSet<DateTime<Utc>>,
) -> Plan {
    let live: Vec<&Post> = posts.iter().filter(|post| !post.draft).collect();
    let mut plan = Plan {
        slots: dated_slots(config, &live, window),
        ..Plan::default()
    };
    for series in config.series.values() {
        let first = plan.empty.len();
        plan_series(config, series, &live, window, pins, reserved, &mut plan);
        explain(series, posts, pins, &mut plan.empty[first..]);
    }
    plan.slots
        .sort_by(|a, b| (a.at, &a.series, &a.post).cmp(&(b.at, &b.series, &b.post)));
    plan.empty
        .sort_by(|a, b| (a.at, &a.series).cmp(&(b.at, &b.series)));
    plan
}

/// A post at `at` on its channels, not blocked.
fn slot_of(config: &Config, post: &Post, at: DateTime<Tz>, series: Option<String>) -> Slot {
    Slot {
        at,
        series,
        post: post.id.clone(),
        channels: channels_of(post, config),
        blocked: false,
        problems: Vec::new(),
    }
}

/// The posts with `publish_at` inside the window, at that instant.
fn dated_slots(config: &Config, live: &[&Post], window: Window) -> Vec<Slot> {
    let mut slots = Vec::new();
    for post in live {
        if let Some(at) = &post.publish_at
            && window.contains(at.get_ref().with_timezone(&Utc))
        {
            let series = post.series.as_ref().map(|s| s.get_ref().clone());
            slots.push(slot_of(config, post, *at.get_ref(), series));
        }
    }
    slots
}

/// One series' share of the plan: its pinned posts at their instants, then
/// its pool in the free slots of its timetable, and the slots left empty
/// when the pool runs dry.
fn plan_series(
    config: &Config,
    series: &Series,
    live: &[&Post],
    window: Window,
    pins: &Pins,
    reserved: &BTreeSet<DateTime<Utc>>,
    plan: &mut Plan,
) {
    let tz = config.timezone;
    let members: Vec<&Post> = live
        .iter()
        .filter(|post| {
            post.series
                .as_ref()
                .is_some_and(|s| s.get_ref() == &series.id)
        })
        .copied()
        .collect();
    let mut taken: HashSet<DateTime<Utc>> = members
        .iter()
        .filter_map(|post| post.publish_at.as_ref())
        .map(|at| at.get_ref().with_timezone(&Utc))
        .chain(reserved.iter().copied())
        .collect();
    let floating: Vec<&Post> = members
        .iter()
        .filter(|post| post.publish_at.is_none())
        .copied()
        .collect();
    let pinned = pinned_slots(config, series, &floating, window, pins, &mut taken);
    plan.slots.extend(pinned);
    let (mut pool, round) = series_pool(series, &floating, pins);
    let slots = series
        .schedule
        .slots(tz, window.from, window.until, MAX_SLOTS_PER_SERIES);
    for at in slots {
        if taken.contains(&at.with_timezone(&Utc)) {
            continue;
        }
        if pool.is_empty() && series.repeat {
            pool = round.iter().rev().copied().collect();
        }
        match pool.pop() {
            Some(post) => plan
                .slots
                .push(slot_of(config, post, at, Some(series.id.clone()))),
            None => plan.empty.push(EmptySlot {
                at,
                series: series.id.clone(),
                cause: Vacancy::NoPost,
            }),
        }
    }
}

/// Why each of a series' empty slots (in time order) is empty: the
/// series' drafts without a date, in path order, would take them first;
/// past them, the series has no post left, or none at all.
fn explain(series: &Series, posts: &[Post], pins: &Pins, empty: &mut [EmptySlot]) {
    let members: Vec<&Post> = posts
        .iter()
        .filter(|post| {
            post.series
                .as_ref()
                .is_some_and(|s| s.get_ref() == &series.id)
        })
        .collect();
    let mut drafts = members.iter().filter(|post| {
        post.draft && post.publish_at.is_none() && pins.get(&post.id).is_none_or(Vec::is_empty)
    });
    let used_up = members.iter().any(|post| !post.draft);
    for slot in empty {
        slot.cause = match drafts.next() {
            Some(post) => Vacancy::Draft {
                post: post.id.clone(),
            },
            None if used_up => Vacancy::UsedUp,
            None => Vacancy::NoPost,
        };
    }
}

/// The pinned slots of a series: posts the store pinned keep their
/// instants, which no other post of the series takes (`taken`), and those
/// inside the window are laid out.
fn pinned_slots(
    config: &Config,
    series: &Series,
    floating: &[&Post],
    window: Window,
    pins: &Pins,
    taken: &mut HashSet<DateTime<Utc>>,
) -> Vec<Slot> {
    let mut slots = Vec::new();
    for post in floating {
        for at in pins.get(&post.id).into_iter().flatten() {
            taken.insert(*at);
            if window.contains(*at) {
                let at = at.with_timezone(&config.timezone);
                slots.push(slot_of(config, post, at, Some(series.id.clone())));
            }
        }
    }
    slots
}

/// A series' pool and its round: the pool holds the posts not yet pinned,
/// reversed so that popping gives them in path order; a repeating series
/// takes the least used first, then goes round again over every post of
/// the round, sorted by id.
fn series_pool<'p>(
    series: &Series,
    floating: &[&'p Post],
    pins: &Pins,
) -> (Vec<&'p Post>, Vec<&'p Post>) {
    // A repeating series is in its round `r` when its least used post
    // went out `r` times: the posts used no more than that are left.
    let uses = |post: &&Post| pins.get(&post.id).map_or(0, Vec::len);
    let round_uses = if series.repeat {
        floating.iter().map(uses).min().unwrap_or(0)
    } else {
        0
    };
    let mut pool: Vec<&Post> = floating
        .iter()
        .filter(|post| uses(post) == round_uses)
        .copied()
        .collect();
    pool.reverse();
    let mut round = floating.to_vec();
    round.sort_by(|a, b| a.id.cmp(&b.id));
    (pool, round)
}

/// A channel that would hold more scheduled posts at once than its queue
/// takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow {
    pub channel: String,
    /// The most posts scheduled at once.
    pub count: usize,
    pub limit: usize,
    /// The instant of the first post that would not fit.
    pub at: DateTime<Utc>,
}

/// The channels whose queue would overflow: the publisher holds every post
/// of the lookahead at once, so any `lookahead`-long stretch of the plan
/// with more posts on a channel than its `queue_limit` overflows.
pub fn queue_overflows(config: &Config, plan: &Plan) -> Vec<Overflow> {
    let mut overflows = Vec::new();
    for (id, channel) in &config.channels {
        let mut instants: Vec<DateTime<Utc>> = plan
            .slots
            .iter()
            .filter(|slot| slot.channels.contains(id))
            .map(|slot| slot.at.with_timezone(&Utc))
            .collect();
        instants.sort();
        let mut worst: Option<Overflow> = None;
        for (start, first) in instants.iter().enumerate() {
            let count = instants[start..]
                .iter()
                .take_while(|at| **at < *first + config.publisher.lookahead)
                .count();
            if count > channel.queue_limit && worst.as_ref().is_none_or(|w| count > w.count) {
                worst = Some(Overflow {
                    channel: id.clone(),
                    count,
                    limit: channel.queue_limit,
                    at: instants[start + channel.queue_limit],
                });
            }
        }
        overflows.extend(worst);
    }
    overflows
}

/// A local instant as French readers write it: `mar. 01/12/2026 19:00`.
pub fn format_local(at: &DateTime<Tz>) -> String {
    const DAYS: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
    format!(
        "{} {:02}/{:02}/{} {:02}:{:02}",
        DAYS[at.weekday().num_days_from_monday() as usize],
        at.day(),
        at.month(),
        at.year(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Paris;

    const CONFIG: &str = r#"
timezone = "Europe/Paris"
[brand]
name = "CPTS"
[series.chiffre]
cron = "0 19 * * tue"
channels = ["facebook"]
[series.outil]
cron = "30 12 * * thu"
channels = ["linkedin"]
[channels.facebook]
network = "facebook"
[channels.linkedin]
network = "linkedin"
"#;

    fn config() -> Config {
        Config::parse(CONFIG, "config/crieur.toml").0.unwrap()
    }

    fn post(id: &str, front_matter: &str) -> Post {
        let text = format!("+++\n{front_matter}\n+++\nLégende\n");
        let (post, diagnostics) = Post::parse(&text, &format!("posts/{id}.md"), id, Paris);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        post.unwrap()
    }

    fn window(from: (i32, u32, u32), until: (i32, u32, u32)) -> Window {
        let at = |(y, m, d): (i32, u32, u32)| {
            Paris
                .with_ymd_and_hms(y, m, d, 0, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        Window {
            from: at(from),
            until: at(until),
        }
    }

    fn summary(plan: &Plan) -> Vec<String> {
        plan.slots
            .iter()
            .map(|slot| format!("{} {}", format_local(&slot.at), slot.post))
            .chain(
                plan.empty
                    .iter()
                    .map(|slot| format!("{} vide {}", format_local(&slot.at), slot.series)),
            )
            .collect()
    }

    #[test]
    fn series_posts_fill_free_slots_in_path_order_around_pinned_ones() {
        let posts = vec![
            post("c/a", "series = \"chiffre\""),
            post(
                "c/b",
                "series = \"chiffre\"\npublish_at = 2026-12-01T19:00:00",
            ),
            post("c/c", "series = \"chiffre\""),
            post("c/d", "series = \"chiffre\"\ndraft = true"),
            post(
                "annonce",
                "publish_at = 2026-12-02T10:00:00\nchannels = [\"facebook\"]",
            ),
        ];
        let plan = plan(&config(), &posts, window((2026, 11, 23), (2026, 12, 16)));
        assert_eq!(
            summary(&plan)
                .into_iter()
                .filter(|line| !line.contains("outil"))
                .collect::<Vec<_>>(),
            vec![
                "mar. 24/11/2026 19:00 c/a",
                "mar. 01/12/2026 19:00 c/b",
                "mer. 02/12/2026 10:00 annonce",
                "mar. 08/12/2026 19:00 c/c",
                "mar. 15/12/2026 19:00 vide chiffre",
            ]
        );
        assert_eq!(plan.slots[0].channels, vec!["facebook"]);
    }

    #[test]
    fn reports_each_slot_of_a_series_without_posts_as_empty() {
        let plan = plan(&config(), &[], window((2026, 11, 23), (2026, 12, 1)));
        assert!(plan.slots.is_empty());
        assert_eq!(
            summary(&plan),
            vec![
                "mar. 24/11/2026 19:00 vide chiffre",
                "jeu. 26/11/2026 12:30 vide outil",
            ]
        );
    }

    #[test]
    fn a_pinned_post_keeps_its_instant_and_leaves_the_pool() {
        let posts = vec![
            post("c/a", "series = \"chiffre\""),
            post("c/b", "series = \"chiffre\""),
        ];
        let at = |d| {
            Paris
                .with_ymd_and_hms(2026, 11, d, 19, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        // c/a went out on the 17th, c/b is queued for the 24th.
        let pins: Pins = [
            ("c/a".to_owned(), vec![at(17)]),
            ("c/b".to_owned(), vec![at(24)]),
        ]
        .into_iter()
        .collect();
        let plan = plan_with(
            &config(),
            &posts,
            window((2026, 11, 20), (2026, 12, 9)),
            &pins,
        );
        assert_eq!(
            summary(&plan)
                .into_iter()
                .filter(|line| !line.contains("outil"))
                .collect::<Vec<_>>(),
            vec![
                "mar. 24/11/2026 19:00 c/b",
                "mar. 01/12/2026 19:00 vide chiffre",
                "mar. 08/12/2026 19:00 vide chiffre",
            ]
        );
    }

    #[test]
    fn a_repeating_series_starts_over_from_its_first_post() {
        let text = CONFIG.replace(
            "cron = \"0 19 * * tue\"",
            "cron = \"0 19 * * tue\"\nrepeat = true",
        );
        let config = Config::parse(&text, "config/crieur.toml").0.unwrap();
        let posts = vec![
            post("c/a", "series = \"chiffre\""),
            post("c/b", "series = \"chiffre\""),
        ];
        let at = Paris
            .with_ymd_and_hms(2026, 11, 17, 19, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let pins: Pins = [("c/a".to_owned(), vec![at])].into_iter().collect();
        let plan = plan_with(
            &config,
            &posts,
            window((2026, 11, 20), (2026, 12, 16)),
            &pins,
        );
        let chiffre: Vec<String> = summary(&plan)
            .into_iter()
            .filter(|line| !line.contains("outil"))
            .collect();
        assert_eq!(
            chiffre,
            vec![
                "mar. 24/11/2026 19:00 c/b",
                "mar. 01/12/2026 19:00 c/a",
                "mar. 08/12/2026 19:00 c/b",
                "mar. 15/12/2026 19:00 c/a",
            ]
        );
    }

    #[test]
    fn says_why_each_empty_slot_is_empty() {
        let posts = vec![
            post("c/a", "series = \"chiffre\""),
            post("c/b", "series = \"chiffre\"\ndraft = true"),
            post("c/c", "series = \"chiffre\"\ndraft = true"),
        ];
        let plan = plan(&config(), &posts, window((2026, 11, 23), (2026, 12, 16)));
        let causes: Vec<(String, &str, Vacancy)> = plan
            .empty
            .iter()
            .map(|slot| {
                (
                    format_local(&slot.at),
                    slot.series.as_str(),
                    slot.cause.clone(),
                )
            })
            .collect();
        let draft = |post: &str| Vacancy::Draft {
            post: post.to_owned(),
        };
        assert_eq!(
            causes,
            vec![
                ("jeu. 26/11/2026 12:30".to_owned(), "outil", Vacancy::NoPost),
                ("mar. 01/12/2026 19:00".to_owned(), "chiffre", draft("c/b")),
                ("jeu. 03/12/2026 12:30".to_owned(), "outil", Vacancy::NoPost),
                ("mar. 08/12/2026 19:00".to_owned(), "chiffre", draft("c/c")),
                ("jeu. 10/12/2026 12:30".to_owned(), "outil", Vacancy::NoPost),
                (
                    "mar. 15/12/2026 19:00".to_owned(),
                    "chiffre",
                    Vacancy::UsedUp
                ),
            ]
        );
        assert_eq!(
            serde_json::to_string(&plan.empty[1]).unwrap(),
            r#"{"at":"2026-12-01T19:00:00+01:00","series":"chiffre","cause":{"kind":"draft","post":"c/b"}}"#
        );
        assert_eq!(
            serde_json::to_string(&plan.empty[5].cause).unwrap(),
            r#"{"kind":"used_up"}"#
        );
    }

    #[test]
    fn a_series_every_other_week_leaves_the_weeks_between_alone() {
        let text = CONFIG.replace(
            "cron = \"0 19 * * tue\"",
            "cron = \"0 19 * * tue\"\nevery = 2\nstart = 2026-10-20",
        );
        let config = Config::parse(&text, "config/crieur.toml").0.unwrap();
        let posts = vec![
            post("c/a", "series = \"chiffre\""),
            post("c/b", "series = \"chiffre\""),
        ];
        let plan = plan(&config, &posts, window((2026, 10, 12), (2026, 11, 12)));
        let chiffre: Vec<String> = summary(&plan)
            .into_iter()
            .filter(|line| !line.contains("outil"))
            .collect();
        assert_eq!(
            chiffre,
            vec!["mar. 20/10/2026 19:00 c/a", "mar. 03/11/2026 19:00 c/b",]
        );
        assert_eq!(plan.slots[0].at.to_rfc3339(), "2026-10-20T19:00:00+02:00");
        assert_eq!(plan.slots[1].at.to_rfc3339(), "2026-11-03T19:00:00+01:00");
    }

    #[test]
    fn serialises_to_the_documented_json() {
        let posts = vec![post(
            "chiffre/2026-12-01-mon-espace-sante",
            "series = \"chiffre\"\npublish_at = 2026-12-01T19:00:00",
        )];
        let plan = plan(&config(), &posts, window((2026, 12, 1), (2026, 12, 2)));
        assert_eq!(
            serde_json::to_string(&plan).unwrap(),
            r#"{"slots":[{"at":"2026-12-01T19:00:00+01:00","series":"chiffre","post":"chiffre/2026-12-01-mon-espace-sante","channels":["facebook"]}],"empty":[]}"#
        );
    }
}

//! The report's values and how they are made: the figures in one
//! vocabulary, the period and the one before it, and the aggregation of
//! the sent deliveries (see the parent module).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::delivery::{Delivery, Key, Status};
use crate::network::Network;

/// What a network reported of one post, in crieur's vocabulary:
/// reactions (Buffer's reactions, Mastodon's favourites, Bluesky's likes),
/// shares (Buffer's shares and reposts, Mastodon's reblogs, Bluesky's
/// reposts and quotes), comments (comments, replies), and reach and
/// impressions where the network reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub reactions: Option<u64>,
    pub shares: Option<u64>,
    pub comments: Option<u64>,
    pub reach: Option<u64>,
    pub impressions: Option<u64>,
}

/// A metric's value as Buffer gives it (a float), as a count.
fn count(value: f64) -> Option<u64> {
    (value.is_finite() && value >= 0.0).then(|| value.round() as u64)
}

/// Two figures that may be missing, added: missing only when both are.
fn plus(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    }
}

impl Figures {
    /// Buffer's `Post.metrics` (`type`, `value`): `reactions`, `shares` and
    /// `reposts`, `comments`, `reach`, `impressions`. Network-specific
    /// metrics (Facebook's `likes`, a subcount of its reactions; saves,
    /// clicks, the engagement rate) are not part of the vocabulary.
    pub fn from_buffer(metrics: &[(String, f64)]) -> Figures {
        let mut figures = Figures::default();
        for (kind, value) in metrics {
            let value = count(*value);
            let slot = match kind.as_str() {
                "reactions" => &mut figures.reactions,
                "shares" | "reposts" => &mut figures.shares,
                "comments" => &mut figures.comments,
                "reach" => &mut figures.reach,
                "impressions" => &mut figures.impressions,
                _ => continue,
            };
            *slot = plus(*slot, value);
        }
        figures
    }

    /// Mastodon's `Status`: favourites, reblogs, replies; no reach.
    pub fn from_mastodon(favourites: u64, reblogs: u64, replies: u64) -> Figures {
        Figures {
            reactions: Some(favourites),
            shares: Some(reblogs),
            comments: Some(replies),
            reach: None,
            impressions: None,
        }
    }

    /// Bluesky's `PostView`: likes, reposts and quotes, replies; no reach.
    pub fn from_bluesky(likes: u64, reposts: u64, replies: u64, quotes: u64) -> Figures {
        Figures {
            reactions: Some(likes),
            shares: Some(reposts.saturating_add(quotes)),
            comments: Some(replies),
            reach: None,
            impressions: None,
        }
    }

    pub fn add(&mut self, other: &Figures) {
        self.reactions = plus(self.reactions, other.reactions);
        self.shares = plus(self.shares, other.shares);
        self.comments = plus(self.comments, other.comments);
        self.reach = plus(self.reach, other.reach);
        self.impressions = plus(self.impressions, other.impressions);
    }

    /// Reactions, shares and comments together, when any is known.
    pub fn interactions(&self) -> Option<u64> {
        plus(plus(self.reactions, self.shares), self.comments)
    }

    /// How many times it was seen: impressions, or else reach.
    pub fn seen(&self) -> Option<u64> {
        self.impressions.or(self.reach)
    }

    pub fn is_empty(&self) -> bool {
        *self == Figures::default()
    }
}

/// The engagement of one delivery as last read, and when; `gone` when
/// the network no longer has the post (deleted after it went out): its
/// last figures are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engagement {
    pub figures: Figures,
    pub read_at: DateTime<Utc>,
    pub gone: bool,
}

/// A report's period: from `from` (included) to `until` (excluded), in
/// the project's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Tz>,
    pub until: DateTime<Tz>,
}

/// Midnight of a day in a zone (or the first instant after, on a day that
/// skips it).
fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Tz> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| tz.from_utc_datetime(&naive))
}

impl Period {
    /// A calendar year of the zone.
    pub fn year(year: i32, tz: Tz) -> Option<Period> {
        let from = NaiveDate::from_ymd_opt(year, 1, 1)?;
        let until = NaiveDate::from_ymd_opt(year + 1, 1, 1)?;
        Some(Period {
            from: midnight(from, tz),
            until: midnight(until, tz),
        })
    }

    pub fn new(from: DateTime<Utc>, until: DateTime<Utc>, tz: Tz) -> Period {
        Period {
            from: from.with_timezone(&tz),
            until: until.with_timezone(&tz),
        }
    }

    /// Whole months from the first of a month at midnight to another, if
    /// the period is that.
    fn months(&self) -> Option<u32> {
        let whole = |at: &DateTime<Tz>| at.day() == 1 && at.time() == chrono::NaiveTime::MIN;
        if !(whole(&self.from) && whole(&self.until)) {
            return None;
        }
        let count = (self.until.year() - self.from.year()) * 12 + self.until.month() as i32
            - self.from.month() as i32;
        u32::try_from(count).ok().filter(|n| *n > 0)
    }

    /// The period of the same length just before: whole months for whole
    /// months (a year before a year), the same duration otherwise.
    pub fn previous(&self) -> Period {
        let tz = self.from.timezone();
        if let Some(months) = self.months()
            && let Some(day) = self
                .from
                .date_naive()
                .checked_sub_months(Months::new(months))
        {
            return Period {
                from: midnight(day, tz),
                until: self.from,
            };
        }
        Period {
            from: self.from - (self.until - self.from),
            until: self.from,
        }
    }

    /// The calendar year it is, if it is one.
    pub fn calendar_year(&self) -> Option<i32> {
        (self.months() == Some(12) && self.from.month() == 1).then(|| self.from.year())
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from.with_timezone(&Utc) <= at && at < self.until.with_timezone(&Utc)
    }

    /// The last day of the period.
    pub fn last_day(&self) -> NaiveDate {
        (self.until - Duration::nanoseconds(1)).date_naive()
    }

    /// `2026-01`, each month the period touches.
    fn month_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut day = self.from.date_naive().with_day(1).unwrap_or_default();
        let last = self.last_day();
        while day <= last && keys.len() < 1200 {
            keys.push(day.format("%Y-%m").to_string());
            day = day + Months::new(1);
        }
        keys
    }
}

/// What the report knows of a post of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostInfo {
    pub title: String,
    pub series: Option<String>,
}

/// Everything a report is made from.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Who publishes: the brand's name (`CPTS Mulhouse Agglomération`).
    pub brand: &'a str,
    pub period: Period,
    pub deliveries: &'a [Delivery],
    pub engagement: &'a BTreeMap<Key, Engagement>,
    pub urls: &'a BTreeMap<Key, String>,
    /// By post id; a post whose file is gone is named by its id.
    pub posts: &'a BTreeMap<String, PostInfo>,
    /// Each channel's network, by channel name.
    pub channels: &'a BTreeMap<String, Network>,
    /// What the last refresh could not read, said in French.
    pub notes: &'a [String],
    /// When the figures were last refreshed.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// The period as the JSON says it: RFC 3339 instants of the project's
/// zone, `until` excluded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PeriodOut {
    pub from: String,
    pub until: String,
}

impl From<&Period> for PeriodOut {
    fn from(period: &Period) -> PeriodOut {
        PeriodOut {
            from: period.from.to_rfc3339(),
            until: period.until.to_rfc3339(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Posts with at least one delivery sent.
    pub posts: usize,
    /// Deliveries sent (one post on one channel).
    pub sent: usize,
    #[serde(flatten)]
    pub figures: Figures,
}

impl Totals {
    /// Each figure of `before` beside this period's, named as a person
    /// reads it (« Posts », « Réactions »…), for the comparison the text
    /// and the page show.
    pub fn compared(&self, before: &Totals) -> [(&'static str, Option<u64>, Option<u64>); 7] {
        let count = |n: usize| Some(n as u64);
        let (was, is) = (&before.figures, &self.figures);
        [
            ("Posts", count(before.posts), count(self.posts)),
            ("Publications", count(before.sent), count(self.sent)),
            ("Réactions", was.reactions, is.reactions),
            ("Partages", was.shares, is.shares),
            ("Commentaires", was.comments, is.comments),
            ("Personnes atteintes", was.reach, is.reach),
            ("Vues", was.impressions, is.impressions),
        ]
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SeriesRow {
    /// `None` for posts outside any series.
    pub series: Option<String>,
    pub posts: usize,
    pub sent: usize,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChannelRow {
    pub channel: String,
    pub network: Option<Network>,
    pub sent: usize,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MonthRow {
    /// `2026-01`.
    pub month: String,
    pub posts: usize,
    pub sent: usize,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One delivery sent: a post on a channel.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PostRow {
    pub post: String,
    pub title: String,
    pub series: Option<String>,
    pub channel: String,
    pub network: Option<Network>,
    /// RFC 3339, in the project's zone.
    pub at: String,
    pub url: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
    /// When its figures were read (RFC 3339), if ever.
    pub read_at: Option<String>,
    /// Deleted from the network after it went out: its last figures kept.
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Previous {
    pub period: PeriodOut,
    pub totals: Totals,
}

/// The report, as `--json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub brand: String,
    pub period: PeriodOut,
    pub totals: Totals,
    pub by_series: Vec<SeriesRow>,
    pub by_channel: Vec<ChannelRow>,
    pub by_month: Vec<MonthRow>,
    /// Most read first: impressions (or reach), then reactions, shares
    /// and comments together.
    pub posts: Vec<PostRow>,
    pub previous: Previous,
    /// When the figures were last read from the networks (RFC 3339).
    pub refreshed_at: Option<String>,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub span: Period,
}

/// The deliveries sent within a period, with their figures.
fn sent_in<'a>(
    input: &'a Input<'_>,
    period: &Period,
) -> Vec<(&'a Delivery, Option<&'a Engagement>)> {
    input
        .deliveries
        .iter()
        .filter(|d| d.status == Status::Sent && period.contains(d.at))
        .map(|d| (d, input.engagement.get(&d.key())))
        .collect()
}

fn totals(sent: &[(&Delivery, Option<&Engagement>)]) -> Totals {
    let mut totals = Totals {
        posts: sent
            .iter()
            .map(|(d, _)| d.post_id.as_str())
            .collect::<BTreeSet<_>>()
            .len(),
        sent: sent.len(),
        ..Totals::default()
    };
    for (_, engagement) in sent {
        if let Some(engagement) = engagement {
            totals.figures.add(&engagement.figures);
        }
    }
    totals
}

/// Groups the deliveries by a key, each group's totals.
fn grouped<K: Ord + Clone>(
    sent: &[(&Delivery, Option<&Engagement>)],
    key: impl Fn(&Delivery) -> K,
) -> BTreeMap<K, Totals> {
    let mut groups: BTreeMap<K, Vec<(&Delivery, Option<&Engagement>)>> = BTreeMap::new();
    for (delivery, engagement) in sent {
        groups
            .entry(key(delivery))
            .or_default()
            .push((*delivery, *engagement));
    }
    groups
        .into_iter()
        .map(|(key, rows)| (key, totals(&rows)))
        .collect()
}

fn rfc3339(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).to_rfc3339()
}

fn post_rows(input: &Input<'_>, sent: &[(&Delivery, Option<&Engagement>)]) -> Vec<PostRow> {
    let tz = input.period.from.timezone();
    let mut rows: Vec<PostRow> = sent
        .iter()
        .map(|(delivery, engagement)| {
            let info = input.posts.get(&delivery.post_id);
            PostRow {
                post: delivery.post_id.clone(),
                title: info.map_or_else(|| delivery.post_id.clone(), |i| i.title.clone()),
                series: info.and_then(|i| i.series.clone()),
                channel: delivery.channel.clone(),
                network: input.channels.get(&delivery.channel).copied(),
                at: rfc3339(delivery.at, tz),
                url: input.urls.get(&delivery.key()).cloned(),
                figures: engagement.map(|e| e.figures).unwrap_or_default(),
                read_at: engagement.map(|e| rfc3339(e.read_at, tz)),
                deleted: engagement.is_some_and(|e| e.gone),
            }
        })
        .collect();
    // Stable: deliveries of equal figures stay in the order they went out.
    rows.sort_by_key(|row| {
        (
            std::cmp::Reverse(row.figures.seen()),
            std::cmp::Reverse(row.figures.interactions()),
        )
    });
    rows
}

/// The report of a period, from the store's deliveries and figures.
pub fn build(input: &Input<'_>) -> Report {
    let tz = input.period.from.timezone();
    let sent = sent_in(input, &input.period);
    let series_of = |d: &Delivery| input.posts.get(&d.post_id).and_then(|i| i.series.clone());
    let by_series = grouped(&sent, series_of)
        .into_iter()
        .map(|(series, t)| SeriesRow {
            series,
            posts: t.posts,
            sent: t.sent,
            figures: t.figures,
        })
        .collect();
    let by_channel = grouped(&sent, |d| d.channel.clone())
        .into_iter()
        .map(|(channel, t)| ChannelRow {
            network: input.channels.get(&channel).copied(),
            channel,
            sent: t.sent,
            figures: t.figures,
        })
        .collect();
    let mut months = grouped(&sent, |d| {
        d.at.with_timezone(&tz).format("%Y-%m").to_string()
    });
    let by_month = input
        .period
        .month_keys()
        .into_iter()
        .map(|month| {
            let t = months.remove(&month).unwrap_or_default();
            MonthRow {
                month,
                posts: t.posts,
                sent: t.sent,
                figures: t.figures,
            }
        })
        .collect();
    let previous = input.period.previous();
    Report {
        brand: input.brand.to_owned(),
        period: PeriodOut::from(&input.period),
        totals: totals(&sent),
        by_series,
        by_channel,
        by_month,
        posts: post_rows(input, &sent),
        previous: Previous {
            period: PeriodOut::from(&previous),
            totals: totals(&sent_in(input, &previous)),
        },
        refreshed_at: input.refreshed_at.map(|at| rfc3339(at, tz)),
        notes: input.notes.to_vec(),
        span: input.period,
    }
}

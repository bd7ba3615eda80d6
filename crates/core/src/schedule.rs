//! Series timetables: classic five-field cron expressions read in the
//! project's time zone.
//!
//! Pure time arithmetic, no clock and no IO: callers pass the instants.
//! Daylight saving follows classic cron (Vixie cron, cronie): a local time
//! that does not exist on the spring day fires at the first valid instant
//! after it, and one that occurs twice on the autumn day fires once. The
//! `croner` crate behaves so; the tests below pin both days.
//!
//! A timetable may keep only one week in `every` (a [`Cadence`]): the
//! weeks, Monday to Sunday, of its `start` date, then every `every` weeks,
//! from `start` on. Weeks are counted on local dates, so daylight saving
//! does not shift them.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// The five fields of a crontab line, in French, for messages.
const FIELDS: [(&str, &str); 5] = [
    ("minute", "0 à 59"),
    ("heure", "0 à 23"),
    ("jour du mois", "1 à 31"),
    ("mois", "1 à 12 ou jan…dec"),
    ("jour de la semaine", "0 à 7 (0 et 7 : dimanche) ou mon…sun"),
];

/// The most weeks a cadence may leave between two of its weeks: a year.
pub const MAX_EVERY: u32 = 52;

/// How many times a search may skip to the next kept week before it gives
/// up: a timetable that never fires in a kept week has no next instant.
const MAX_SKIPS: usize = 10_000;

/// A parsed timetable.
#[derive(Clone)]
pub struct Schedule {
    cron: Cron,
    expression: String,
    cadence: Option<Cadence>,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule")
            .field(&self.expression)
            .field(&self.cadence)
            .finish()
    }
}

/// The weeks a timetable keeps: the week of `start`, then one week in
/// `every`, from `start` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Weeks from one kept week to the next, at least 1.
    pub every: u32,
    /// The first day a slot may fall on.
    pub start: NaiveDate,
}

impl Cadence {
    /// Whether a slot on this local date is kept.
    pub fn keeps(&self, date: NaiveDate) -> bool {
        date >= self.start && self.weeks_from_start(date) % i64::from(self.every.max(1)) == 0
    }

    /// The first day after `date`, not kept, from which slots may be kept
    /// again: `start`, or the Monday of the next kept week.
    fn resume(&self, date: NaiveDate) -> NaiveDate {
        if date < self.start {
            return self.start;
        }
        let every = i64::from(self.every.max(1));
        let left = every - self.weeks_from_start(date) % every;
        monday(date) + Duration::weeks(left)
    }

    /// Whole weeks from the week of `start` to the week of `date`.
    fn weeks_from_start(&self, date: NaiveDate) -> i64 {
        (monday(date) - monday(self.start)).num_weeks()
    }
}

/// The Monday of a date's week.
fn monday(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// The first instant of a local date: midnight, or the first hour that
/// exists when a time change skips midnight.
fn start_of(tz: Tz, date: NaiveDate) -> DateTime<Tz> {
    (0..4)
        .find_map(|hour| {
            let time = NaiveTime::from_hms_opt(hour, 0, 0)?;
            tz.from_local_datetime(&date.and_time(time)).earliest()
        })
        .unwrap_or_else(|| tz.from_utc_datetime(&date.and_time(NaiveTime::MIN)))
}

/// A weekday in French, for messages: `jeudi`.
pub fn weekday_name(day: Weekday) -> &'static str {
    const NAMES: [&str; 7] = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    NAMES[day.num_days_from_monday() as usize]
}

/// Why an expression is not a valid timetable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScheduleError {
    /// Byte range of the culprit inside the expression.
    pub range: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Schedule {
    /// Parses a classic crontab expression: minute, hour, day of month,
    /// month, day of week.
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let fields = field_ranges(expression);
        if fields.len() != 5 {
            return Err(ScheduleError {
                range: 0..expression.len(),
                message: format!(
                    "l'expression cron doit avoir 5 champs (minute heure jour mois jour-de-la-semaine), elle en a {}",
                    fields.len()
                ),
                hint: Some("par exemple `0 19 * * tue` : le mardi à 19 h 00".to_owned()),
            });
        }
        // Check each field alone, so that the message can say which one is
        // wrong: croner's own errors do not.
        for (index, range) in fields.iter().enumerate() {
            let mut probe = ["*"; 5];
            probe[index] = &expression[range.clone()];
            if parser().parse(&probe.join(" ")).is_err() {
                let (name, allowed) = FIELDS[index];
                return Err(ScheduleError {
                    range: range.clone(),
                    message: format!(
                        "champ « {name} » ({}e) invalide : `{}`",
                        index + 1,
                        &expression[range.clone()]
                    ),
                    hint: Some(format!(
                        "valeurs possibles : {allowed}, `*`, des listes `1,3`, des plages `1-5`, des pas `*/15`"
                    )),
                });
            }
        }
        let cron = parser().parse(expression).map_err(|error| ScheduleError {
            range: 0..expression.len(),
            message: format!("expression cron invalide : {error}"),
            hint: None,
        })?;
        Ok(Schedule {
            cron,
            expression: expression.to_owned(),
            cadence: None,
        })
    }

    /// The same timetable, keeping only the weeks of `cadence`.
    pub fn with_cadence(mut self, cadence: Cadence) -> Schedule {
        self.cadence = Some(cadence);
        self
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn cadence(&self) -> Option<Cadence> {
        self.cadence
    }

    /// The first instant of the cron expression on the local date `day`,
    /// whatever the cadence; `None` when it does not fire that day.
    pub fn first_on(&self, tz: Tz, day: NaiveDate) -> Option<DateTime<Tz>> {
        self.cron
            .find_next_occurrence(&start_of(tz, day), true)
            .ok()
            .filter(|at| at.date_naive() == day)
    }

    /// The first local date on or after `day` on which the cron expression
    /// fires, whatever the cadence.
    pub fn first_day_from(&self, tz: Tz, day: NaiveDate) -> Option<NaiveDate> {
        self.cron
            .find_next_occurrence(&start_of(tz, day), true)
            .ok()
            .map(|at| at.date_naive())
    }

    /// The first instant strictly after `after`, or `None` when the
    /// expression never fires again (`0 0 30 2 *`).
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let mut cursor = after.with_timezone(&tz);
        let mut inclusive = false;
        for _ in 0..MAX_SKIPS {
            let next = self.cron.find_next_occurrence(&cursor, inclusive).ok()?;
            match self.cadence {
                Some(cadence) if !cadence.keeps(next.date_naive()) => {
                    cursor = start_of(tz, cadence.resume(next.date_naive()));
                    inclusive = true;
                }
                _ => return Some(next),
            }
        }
        None
    }

    /// Every instant in `[from, until)`, at most `limit` of them.
    pub fn slots(
        &self,
        tz: Tz,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Tz>> {
        let mut slots = Vec::new();
        let mut cursor = from.with_timezone(&tz);
        let mut inclusive = true;
        while slots.len() < limit {
            let Ok(next) = self.cron.find_next_occurrence(&cursor, inclusive) else {
                break;
            };
            if next.with_timezone(&Utc) >= until {
                break;
            }
            if let Some(cadence) = self.cadence
                && !cadence.keeps(next.date_naive())
            {
                cursor = start_of(tz, cadence.resume(next.date_naive()));
                inclusive = true;
                continue;
            }
            // An autumn hour occurs twice; a cron time inside it fires once.
            if slots.last() != Some(&next) {
                slots.push(next);
            }
            cursor = next;
            inclusive = false;
        }
        slots
    }
}

fn parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Disallowed).build()
}

/// Byte ranges of the whitespace-separated fields of `expression`.
fn field_ranges(expression: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = None;
    for (index, character) in expression.char_indices() {
        match (character.is_whitespace(), start) {
            (true, Some(begin)) => {
                ranges.push(begin..index);
                start = None;
            }
            (false, None) => start = Some(index),
            _ => {}
        }
    }
    if let Some(begin) = start {
        ranges.push(begin..expression.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Paris;

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Paris
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn check(expression: &str, from: DateTime<Utc>, until: DateTime<Utc>, expected: &[&str]) {
        let schedule = Schedule::parse(expression).unwrap();
        let slots: Vec<String> = schedule
            .slots(Paris, from, until, 1000)
            .iter()
            .map(|at| at.to_rfc3339())
            .collect();
        assert_eq!(slots, expected);
    }

    #[test]
    fn fires_on_tuesdays_at_seven_pm_local_time_across_the_winter_change() {
        check(
            "0 19 * * tue",
            paris(2026, 10, 19, 0, 0),
            paris(2026, 11, 4, 0, 0),
            &[
                "2026-10-20T19:00:00+02:00",
                "2026-10-27T19:00:00+01:00",
                "2026-11-03T19:00:00+01:00",
            ],
        );
    }

    #[test]
    fn a_time_skipped_in_spring_fires_at_the_first_valid_instant_after_it() {
        check(
            "30 2 * * *",
            paris(2026, 3, 28, 0, 0),
            paris(2026, 3, 31, 0, 0),
            &[
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
            ],
        );
        check(
            "30 2 * * *",
            paris(2027, 3, 28, 0, 0),
            paris(2027, 3, 29, 0, 0),
            &["2027-03-28T03:00:00+02:00"],
        );
    }

    #[test]
    fn a_time_repeated_in_autumn_fires_once() {
        check(
            "30 2 * * *",
            paris(2026, 10, 24, 12, 0),
            paris(2026, 10, 26, 12, 0),
            &["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        );
        check(
            "30 2 * * *",
            paris(2027, 10, 31, 0, 0),
            paris(2027, 11, 1, 0, 0),
            &["2027-10-31T02:30:00+02:00"],
        );
    }

    #[test]
    fn monday_is_day_one_as_in_classic_cron() {
        check(
            "0 9 * * 1",
            paris(2026, 11, 22, 0, 0),
            paris(2026, 11, 29, 0, 0),
            &["2026-11-23T09:00:00+01:00"],
        );
    }

    #[test]
    fn says_which_field_is_wrong() {
        let error = Schedule::parse("0 19 * * tus").unwrap_err();
        assert_eq!(error.range, 9..12);
        assert!(error.message.contains("jour de la semaine"), "{error}");
        let error = Schedule::parse("0 25 * * *").unwrap_err();
        assert_eq!(error.range, 2..4);
        assert!(error.message.contains("heure"), "{error}");
    }

    #[test]
    fn wants_exactly_five_fields() {
        let error = Schedule::parse("0 0 19 * * tue").unwrap_err();
        assert!(error.message.contains("5 champs"), "{error}");
        assert!(Schedule::parse("").is_err());
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn check_every(
        expression: &str,
        every: u32,
        start: NaiveDate,
        window: (DateTime<Utc>, DateTime<Utc>),
        expected: &[&str],
    ) {
        let schedule = Schedule::parse(expression)
            .unwrap()
            .with_cadence(Cadence { every, start });
        let slots: Vec<String> = schedule
            .slots(Paris, window.0, window.1, 1000)
            .iter()
            .map(|at| at.to_rfc3339())
            .collect();
        assert_eq!(slots, expected);
    }

    #[test]
    fn every_other_week_keeps_local_times_across_the_winter_change() {
        check_every(
            "0 19 * * tue",
            2,
            date(2026, 10, 13),
            (paris(2026, 10, 1, 0, 0), paris(2026, 11, 25, 0, 0)),
            &[
                "2026-10-13T19:00:00+02:00",
                "2026-10-27T19:00:00+01:00",
                "2026-11-10T19:00:00+01:00",
                "2026-11-24T19:00:00+01:00",
            ],
        );
    }

    #[test]
    fn every_four_weeks_counts_from_the_week_of_start() {
        // The window opens mid-cycle: the next kept week is four weeks
        // after the start's, not the window's first.
        check_every(
            "30 12 * * thu",
            4,
            date(2026, 12, 3),
            (paris(2026, 12, 10, 0, 0), paris(2027, 2, 1, 0, 0)),
            &["2026-12-31T12:30:00+01:00", "2027-01-28T12:30:00+01:00"],
        );
    }

    #[test]
    fn twice_a_week_every_other_week_keeps_whole_weeks_from_start() {
        // Weeks run Monday to Sunday: the Tuesday before the start is
        // left out, the Tuesday after it kept.
        check_every(
            "0 18 * * tue,thu",
            2,
            date(2026, 12, 3),
            (paris(2026, 11, 30, 0, 0), paris(2027, 1, 1, 0, 0)),
            &[
                "2026-12-03T18:00:00+01:00",
                "2026-12-15T18:00:00+01:00",
                "2026-12-17T18:00:00+01:00",
                "2026-12-29T18:00:00+01:00",
                "2026-12-31T18:00:00+01:00",
            ],
        );
    }

    #[test]
    fn the_next_instant_follows_the_cadence() {
        let schedule = Schedule::parse("0 19 * * tue")
            .unwrap()
            .with_cadence(Cadence {
                every: 2,
                start: date(2026, 12, 8),
            });
        let next = |at| schedule.next_after(Paris, at).unwrap().to_rfc3339();
        assert_eq!(next(paris(2026, 11, 22, 0, 0)), "2026-12-08T19:00:00+01:00");
        assert_eq!(next(paris(2026, 12, 8, 19, 0)), "2026-12-22T19:00:00+01:00");
        assert_eq!(next(paris(2026, 12, 14, 0, 0)), "2026-12-22T19:00:00+01:00");
        let never = Schedule::parse("0 0 30 2 *")
            .unwrap()
            .with_cadence(Cadence {
                every: 2,
                start: date(2026, 12, 8),
            });
        assert_eq!(never.next_after(Paris, paris(2026, 1, 1, 0, 0)), None);
    }

    #[test]
    fn the_nth_weekday_of_the_month_is_read() {
        // `thu#1`: the first Thursday of each month.
        check(
            "30 12 * * thu#1",
            paris(2026, 11, 1, 0, 0),
            paris(2027, 3, 1, 0, 0),
            &[
                "2026-11-05T12:30:00+01:00",
                "2026-12-03T12:30:00+01:00",
                "2027-01-07T12:30:00+01:00",
                "2027-02-04T12:30:00+01:00",
            ],
        );
        check(
            "0 9 * * 1#1",
            paris(2027, 3, 1, 0, 0),
            paris(2027, 5, 1, 0, 0),
            &["2027-03-01T09:00:00+01:00", "2027-04-05T09:00:00+02:00"],
        );
    }

    #[test]
    fn the_guides_examples_fire_as_it_says() {
        let week = (paris(2026, 11, 30, 0, 0), paris(2026, 12, 7, 0, 0));
        check(
            "0 19 * * tue",
            week.0,
            week.1,
            &["2026-12-01T19:00:00+01:00"],
        );
        check(
            "30 8 * * mon-fri",
            week.0,
            week.1,
            &[
                "2026-11-30T08:30:00+01:00",
                "2026-12-01T08:30:00+01:00",
                "2026-12-02T08:30:00+01:00",
                "2026-12-03T08:30:00+01:00",
                "2026-12-04T08:30:00+01:00",
            ],
        );
        check(
            "0 18 * * tue,thu",
            week.0,
            week.1,
            &["2026-12-01T18:00:00+01:00", "2026-12-03T18:00:00+01:00"],
        );
        check(
            "0 9 * * mon#1",
            paris(2026, 11, 1, 0, 0),
            paris(2027, 1, 1, 0, 0),
            &["2026-11-02T09:00:00+01:00", "2026-12-07T09:00:00+01:00"],
        );
        check_every(
            "30 12 * * thu",
            2,
            date(2026, 12, 3),
            (paris(2026, 11, 30, 0, 0), paris(2026, 12, 28, 0, 0)),
            &["2026-12-03T12:30:00+01:00", "2026-12-17T12:30:00+01:00"],
        );
    }

    #[test]
    fn a_day_of_month_and_a_weekday_together_mean_either_as_in_classic_cron() {
        // Not "the Thursdays among the 1st to the 7th": every day from the
        // 1st to the 7th, and every Thursday.
        let schedule = Schedule::parse("30 12 1-7 * thu").unwrap();
        let slots = schedule.slots(
            Paris,
            paris(2026, 12, 1, 0, 0),
            paris(2027, 1, 1, 0, 0),
            100,
        );
        assert_eq!(slots.len(), 7 + 4);
    }

    #[test]
    fn says_whether_and_when_the_expression_fires_on_a_day() {
        let schedule = Schedule::parse("0 19 * * thu").unwrap();
        assert!(schedule.first_on(Paris, date(2026, 12, 3)).is_some());
        assert!(schedule.first_on(Paris, date(2026, 12, 2)).is_none());
        assert_eq!(
            schedule.first_day_from(Paris, date(2026, 12, 4)),
            Some(date(2026, 12, 10))
        );
        assert_eq!(weekday_name(date(2026, 12, 3).weekday()), "jeudi");
    }

    #[test]
    fn an_expression_that_never_fires_has_no_next_instant() {
        let schedule = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(schedule.next_after(Paris, paris(2026, 1, 1, 0, 0)), None);
    }
}

//! Series timetables: classic five-field cron expressions read in the
//! project's time zone.
//!
//! Pure time arithmetic, no clock and no IO: callers pass the instants.
//! Daylight saving follows classic cron (Vixie cron, cronie): a local time
//! that does not exist on the spring day fires at the first valid instant
//! after it, and one that occurs twice on the autumn day fires once. The
//! `croner` crate behaves so; the tests below pin both days.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Utc};
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

/// A parsed timetable.
#[derive(Clone)]
pub struct Schedule {
    cron: Cron,
    expression: String,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule").field(&self.expression).finish()
    }
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
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first instant strictly after `after`, or `None` when the
    /// expression never fires again (`0 0 30 2 *`).
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&tz), false)
            .ok()
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

    #[test]
    fn an_expression_that_never_fires_has_no_next_instant() {
        let schedule = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(schedule.next_after(Paris, paris(2026, 1, 1, 0, 0)), None);
    }
}

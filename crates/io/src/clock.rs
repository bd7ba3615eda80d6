//! The one clock.
//!
//! Every component reads the time here and nowhere else: the commands, the
//! daemon, the three network clients, the rate-limit holds and the request
//! budget, the preview. `CRIEUR_NOW` sets the instant the clock starts at
//! (to see the project as it will be on another day, and for tests); from
//! there it runs at the real pace, so a daemon started "on another day"
//! keeps time as one started today. A child process (the daemon's passes)
//! is handed the instant its parent reads ([`for_child`]), so that parent
//! and child read one clock.
//!
//! `clippy.toml` forbids `Utc::now`, `Local::now` and `SystemTime::now`
//! outside this
//! module.

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The environment variable that sets where the clock starts.
pub const VARIABLE: &str = "CRIEUR_NOW";

/// The years an instant given on the command line (or in `CRIEUR_NOW`) may
/// fall in: far enough for any calendar, near enough that date arithmetic
/// on it never overflows.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Where the clock started, when `CRIEUR_NOW` moved it: that instant, and
/// the moment of the process's own monotonic clock it was read at.
#[derive(Debug, Clone, Copy)]
struct Origin {
    at: DateTime<Utc>,
    read: Instant,
}

static ORIGIN: OnceLock<Option<Origin>> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
#[error("{VARIABLE} invalide : {0}")]
pub struct ClockError(String);

/// Starts the clock, reading `CRIEUR_NOW` as a local time of `tz` when it
/// has no offset; returns the current instant. Only the first call reads
/// the variable: later ones (and [`now`]) keep the clock it set.
pub fn start(tz: Tz) -> Result<DateTime<Utc>, ClockError> {
    if ORIGIN.get().is_none() {
        let origin = match std::env::var(VARIABLE) {
            Ok(text) => Some(Origin {
                at: parse_instant(&text, tz).map_err(ClockError)?,
                read: Instant::now(),
            }),
            Err(_) => None,
        };
        let _ = ORIGIN.set(origin);
    }
    Ok(now())
}

/// The current instant.
pub fn now() -> DateTime<Utc> {
    let origin = ORIGIN.get_or_init(|| {
        // Read before any command started it: the project's zone is
        // unknown, Europe/Paris is crieur's default. An unreadable value
        // was (or will be) reported by `start`.
        std::env::var(VARIABLE)
            .ok()
            .and_then(|text| parse_instant(&text, chrono_tz::Europe::Paris).ok())
            .map(|at| Origin {
                at,
                read: Instant::now(),
            })
    });
    match origin {
        Some(origin) => origin.at + elapsed(origin.read),
        None => system(),
    }
}

/// Whether `CRIEUR_NOW` moved the clock.
pub fn moved() -> bool {
    now();
    ORIGIN.get().is_some_and(Option::is_some)
}

/// The `CRIEUR_NOW` to hand a child process so that it reads this clock:
/// the current instant when the clock was moved, none otherwise.
pub fn for_child() -> Option<String> {
    moved().then(|| now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// How long until `at` on this clock, as the runtime's timers count it
/// (zero when it has come).
pub fn until(at: DateTime<Utc>) -> std::time::Duration {
    (at - now()).to_std().unwrap_or(std::time::Duration::ZERO)
}

fn elapsed(since: Instant) -> Duration {
    Duration::from_std(since.elapsed()).unwrap_or(Duration::MAX)
}

#[allow(clippy::disallowed_methods)]
fn system() -> DateTime<Utc> {
    Utc::now()
}

/// Reads an instant given on the command line: a date (midnight), a local
/// date and time, or either with an offset.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let within = |year: i32| -> Result<(), String> {
        if YEARS.contains(&year) {
            Ok(())
        } else {
            Err(format!(
                "date hors limites `{text}` : crieur accepte les années {} à {}",
                YEARS.start(),
                YEARS.end()
            ))
        }
    };
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        within(instant.year())?;
        return Ok(instant.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.and_hms_opt(0, 0, 0))
    });
    let Some(naive) = naive else {
        return Err(format!(
            "date illisible `{text}` : écrivez 2026-12-01 ou 2026-12-01T19:00"
        ));
    };
    within(naive.year())?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => {
            Ok(instant.with_timezone(&Utc))
        }
        LocalResult::None => Err(format!(
            "{naive} n'existe pas à {} (passage à l'heure d'été)",
            tz.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_clock_runs_at_the_real_pace() {
        let origin = Origin {
            at: Utc.with_ymd_and_hms(2027, 3, 28, 0, 59, 59).unwrap(),
            read: Instant::now() - std::time::Duration::from_secs(2),
        };
        let read = origin.at + elapsed(origin.read);
        assert!(read >= origin.at + Duration::seconds(2));
        assert!(read < origin.at + Duration::seconds(60));
    }

    #[test]
    fn reads_local_times_in_the_projects_zone() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(
            parse_instant("2026-12-01T19:00", paris).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap()
        );
        assert_eq!(
            parse_instant("2026-12-01T19:00:00.250Z", paris).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap() + Duration::milliseconds(250)
        );
        assert!(parse_instant("2027-03-28T02:30", paris).is_err());
        assert!(parse_instant("hier", paris).is_err());
    }
}

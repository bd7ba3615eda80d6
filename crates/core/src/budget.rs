//! The publisher's request budget, pure: given the limits and the instants
//! of the requests already made, how many are left in each window and when
//! the next one may be sent.
//!
//! Buffer counts requests per API key over rolling windows (100 per 15
//! minutes, 250 a day on its Free and Essentials plans). Every pass records
//! the requests it makes in the state store, so that the command line and
//! the daemon's passes share one count, and each request is sent only when
//! every window has room.

use chrono::{DateTime, Duration, Utc};

/// One rolling window: at most `limit` requests in any `span`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub span: Duration,
}

impl Window {
    /// A short name for metrics and messages: `15m`, `24h`.
    pub fn name(&self) -> String {
        let minutes = self.span.num_minutes();
        if minutes % 60 == 0 {
            format!("{}h", minutes / 60)
        } else {
            format!("{minutes}m")
        }
    }
}

/// The limits a publisher's requests keep to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub windows: Vec<Window>,
}

/// Buffer's published limits for one API key.
pub const BUFFER_PER_15_MINUTES: u32 = 100;
pub const BUFFER_PER_DAY: u32 = 250;

impl Default for Budget {
    fn default() -> Self {
        Budget::new(BUFFER_PER_15_MINUTES, BUFFER_PER_DAY)
    }
}

impl Budget {
    pub fn new(per_15_minutes: u32, per_day: u32) -> Budget {
        Budget {
            windows: vec![
                Window {
                    limit: per_15_minutes,
                    span: Duration::minutes(15),
                },
                Window {
                    limit: per_day,
                    span: Duration::days(1),
                },
            ],
        }
    }

    /// Requests left in each window at `now`.
    pub fn left(&self, made: &[DateTime<Utc>], now: DateTime<Utc>) -> Vec<(Window, u32)> {
        self.windows
            .iter()
            .map(|window| {
                let used = made
                    .iter()
                    .filter(|at| **at > now - window.span && **at <= now)
                    .count();
                let used = u32::try_from(used).unwrap_or(u32::MAX);
                (*window, window.limit.saturating_sub(used))
            })
            .collect()
    }

    /// The first instant from `now` at which one more request fits in every
    /// window: `now` when there is room.
    pub fn next_free(&self, made: &[DateTime<Utc>], now: DateTime<Utc>) -> DateTime<Utc> {
        let mut at = now;
        for window in &self.windows {
            let mut recent: Vec<DateTime<Utc>> = made
                .iter()
                .filter(|made| **made > now - window.span)
                .copied()
                .collect();
            let limit = window.limit as usize;
            if limit == 0 {
                return now + window.span;
            }
            if recent.len() >= limit {
                recent.sort();
                // The request that must leave the window for one more to fit.
                let leaving = recent[recent.len() - limit];
                at = at.max(leaving + window.span);
            }
        }
        at
    }

    /// How often outcomes may be polled so that polling uses at most a
    /// quarter of the daily budget, and never more often than every five
    /// minutes.
    pub fn poll_every(&self) -> Duration {
        let per_day = self
            .windows
            .iter()
            .map(|window| {
                let days = window.span.num_seconds().max(1) as f64 / 86_400.0;
                f64::from(window.limit) / days
            })
            .fold(f64::INFINITY, f64::min);
        let polls = (per_day / 4.0).max(1.0);
        let seconds = (86_400.0 / polls).clamp(300.0, 86_400.0);
        Duration::seconds(seconds as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap() + Duration::minutes(minute)
    }

    #[test]
    fn counts_what_is_left_in_each_window() {
        let budget = Budget::new(3, 5);
        let made = [at(-60 * 20), at(-20), at(-10), at(-1)];
        let left = budget.left(&made, at(0));
        assert_eq!(left[0].1, 1, "two requests in the last 15 minutes");
        assert_eq!(left[1].1, 1, "four in the last day");
        assert_eq!(left[0].0.name(), "15m");
        assert_eq!(left[1].0.name(), "24h");
    }

    #[test]
    fn the_next_request_waits_for_the_oldest_to_leave_the_window() {
        let budget = Budget::new(2, 250);
        assert_eq!(budget.next_free(&[], at(0)), at(0));
        let made = [at(-10), at(-5)];
        assert_eq!(budget.next_free(&made, at(0)), at(5));
        let day = Budget::new(100, 2);
        let made = [at(-600), at(-30)];
        assert_eq!(day.next_free(&made, at(0)), at(-600) + Duration::days(1));
    }

    #[test]
    fn polling_keeps_to_a_quarter_of_the_daily_budget() {
        let every = Budget::default().poll_every();
        // 250 a day: at most 62 polls, one every 23 minutes or so.
        assert!(every >= Duration::minutes(23) && every < Duration::minutes(24));
        assert_eq!(
            Budget::new(1000, 100_000).poll_every(),
            Duration::minutes(5)
        );
    }
}

//! Reading the waits a server asks for, pure.
//!
//! Buffer (and the proxies in front of it) say "wait" in many ways:
//! `Retry-After` in seconds or as an HTTP-date, the IETF `RateLimit` header
//! with several windows (`"100-in-15min";r=0;t=540, "250-in-24h";r=12;t=30000`),
//! `RateLimit-Reset` in seconds or as a date, `X-RateLimit-Reset` in epoch
//! seconds or as an ISO 8601 date (Mastodon's `2026-12-02T19:05:00.000Z`),
//! and `extensions.retryAfter` (or only `window: "15m"`) in the body. Every
//! explicit form present is read and the longest wait wins, so a retry
//! never comes sooner than any of them asked; a policy's `window` is the
//! length of its rolling window, and counts as a wait only when nothing
//! explicit came with it. Every value is capped: a
//! server cannot make crieur wait for ever, or crash it with `1e300`.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// The longest wait any hint may impose.
pub fn max_wait() -> Duration {
    Duration::days(2)
}

/// The shortest a refusal holds a publisher, whatever its hints say (a
/// reset already past, a zero): a server that said no is not asked again
/// at once.
pub fn min_hold() -> Duration {
    Duration::seconds(30)
}

/// Epoch seconds above this are dates, below are delays (2001-09-09).
const EPOCH_THRESHOLD: f64 = 1e9;

/// The wait the hints of one answer ask for, if any, capped.
pub fn wait_asked(
    headers: &[(String, String)],
    body: Option<&Value>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let header = |name: &'static str| values(headers, name);
    let mut waits: Vec<Duration> = Vec::new();
    waits.extend(header("retry-after").filter_map(|v| seconds_or_date(v, now)));
    waits.extend(header("ratelimit").flat_map(ratelimit_windows));
    waits.extend(header("ratelimit-reset").filter_map(|v| seconds_or_date(v, now)));
    waits.extend(header("x-ratelimit-reset").filter_map(|v| epoch_or_seconds(v, now)));
    let (explicit, windows): (Vec<Duration>, Vec<Duration>) =
        body.map(body_waits).unwrap_or_default();
    waits.extend(explicit);
    // A policy's `window` is the length of the rolling window, not a wait:
    // it counts only when nothing explicit came with it.
    if waits.is_empty() {
        waits.extend(windows);
    }
    waits.into_iter().max().map(|wait| wait.min(max_wait()))
}

/// The values of one header, whatever its case.
fn values<'h>(
    headers: &'h [(String, String)],
    name: &'static str,
) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Whether an answer says no request is left (`r=0` in a `RateLimit`
/// window, or `X-RateLimit-Remaining: 0`), and until when.
pub fn exhausted(headers: &[(String, String)], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut until: Option<Duration> = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("ratelimit") {
            for wait in ratelimit_windows(value) {
                until = until.max(Some(wait));
            }
        }
    }
    let remaining_zero = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("x-ratelimit-remaining") && value.trim() == "0"
    });
    if remaining_zero {
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("x-ratelimit-reset") {
                until = until.max(epoch_or_seconds(value, now));
            }
        }
    }
    until.map(|wait| now + wait.min(max_wait()))
}

/// A finite, non-negative number of seconds as a capped duration.
fn seconds(value: f64) -> Option<Duration> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let capped = value.min(max_wait().num_seconds() as f64);
    Some(Duration::milliseconds((capped * 1000.0).ceil() as i64))
}

fn seconds_or_date(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(number) = value.parse::<f64>() {
        // Bluesky's `RateLimit-Reset` is epoch seconds, not a delay.
        return epoch_or_seconds(value, now).or_else(|| seconds(number));
    }
    let date = DateTime::parse_from_rfc2822(value)
        .or_else(|_| DateTime::parse_from_rfc3339(value))
        .ok()?;
    Some((date.with_timezone(&Utc) - now).max(Duration::zero()))
}

fn epoch_or_seconds(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(value) {
        return Some((date.with_timezone(&Utc) - now).max(Duration::zero()));
    }
    let number = value.parse::<f64>().ok()?;
    if !number.is_finite() {
        return None;
    }
    if number >= EPOCH_THRESHOLD {
        let now_seconds = now.timestamp_millis() as f64 / 1000.0;
        return seconds((number - now_seconds).max(0.0));
    }
    seconds(number)
}

/// The waits of a `RateLimit` header: each window whose `r` is 0 (or that
/// gives no `r`) asks to wait its `t`.
fn ratelimit_windows(value: &str) -> Vec<Duration> {
    value
        .split(',')
        .filter_map(|window| {
            let mut remaining: Option<f64> = None;
            let mut reset: Option<f64> = None;
            for part in window.split(';') {
                let part = part.trim();
                if let Some(r) = part.strip_prefix("r=") {
                    remaining = r.trim().parse().ok();
                } else if let Some(t) = part.strip_prefix("t=") {
                    reset = t.trim().parse().ok();
                }
            }
            match remaining {
                Some(r) if r > 0.0 => None,
                _ => reset.and_then(seconds),
            }
        })
        .collect()
}

/// `extensions.retryAfter` (a number or a numeric string), then `window`
/// (`"15m"`, `"1h"`, `"24h"`), of every error in a GraphQL body.
fn body_waits(body: &Value) -> (Vec<Duration>, Vec<Duration>) {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let mut waits = Vec::new();
    let mut windows = Vec::new();
    for error in &errors {
        for holder in [&error["extensions"], error] {
            match &holder["retryAfter"] {
                Value::Number(number) => waits.extend(number.as_f64().and_then(seconds)),
                Value::String(text) => waits.extend(text.trim().parse().ok().and_then(seconds)),
                _ => {}
            }
            if let Some(window) = holder["window"].as_str() {
                windows.extend(crate::config::parse_duration(window).map(|d| d.min(max_wait())));
            }
        }
    }
    (waits, windows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 19, 0, 0).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn wait(pairs: &[(&str, &str)], body: Option<Value>) -> Option<i64> {
        wait_asked(&headers(pairs), body.as_ref(), now()).map(|d| d.num_seconds())
    }

    #[test]
    fn reads_every_form_of_hint() {
        assert_eq!(wait(&[("Retry-After", "120")], None), Some(120));
        assert_eq!(
            wait(&[("Retry-After", "Wed, 02 Dec 2026 19:05:00 GMT")], None),
            Some(300)
        );
        assert_eq!(
            wait(
                &[(
                    "RateLimit",
                    "\"100-in-15min\";r=0;t=540, \"250-in-24h\";r=12;t=30000"
                )],
                None
            ),
            Some(540)
        );
        assert_eq!(wait(&[("RateLimit-Reset", "42")], None), Some(42));
        let reset = (now() + Duration::seconds(90)).timestamp().to_string();
        assert_eq!(
            wait(
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", &reset)
                ],
                None
            ),
            Some(90)
        );
        let body =
            json!({"errors": [{"extensions": {"code": "RATE_LIMIT_EXCEEDED", "retryAfter": 7}}]});
        assert_eq!(wait(&[], Some(body)), Some(7));
        let body = json!({"errors": [{"message": "Too many requests", "window": "15m"}]});
        assert_eq!(wait(&[], Some(body)), Some(900));
        assert_eq!(wait(&[("Content-Type", "application/json")], None), None);
    }

    #[test]
    fn a_window_is_no_wait_when_an_explicit_one_comes_with_it() {
        let body = json!({"errors": [{"message": "Too many requests", "window": "15m"}]});
        assert_eq!(wait(&[("Retry-After", "2")], Some(body.clone())), Some(2));
        assert_eq!(
            wait(&[("RateLimit", "\"x\";r=0;t=30")], Some(body)),
            Some(30)
        );
        let body = json!({"errors": [{"extensions": {"retryAfter": 5, "window": "24h"}}]});
        assert_eq!(wait(&[], Some(body)), Some(5));
    }

    #[test]
    fn reads_mastodons_iso_8601_reset() {
        let pairs = [
            ("X-RateLimit-Limit", "300"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "2026-12-02T19:05:00.000Z"),
        ];
        assert_eq!(wait(&pairs, None), Some(300));
        assert_eq!(
            exhausted(&headers(&pairs), now()),
            Some(now() + Duration::seconds(300))
        );
        assert_eq!(
            wait(&[("X-RateLimit-Reset", "2026-12-02T18:00:00Z")], None),
            Some(0),
            "a reset in the past asks no wait"
        );
        assert_eq!(
            wait(&[("X-RateLimit-Reset", "2999-01-01T00:00:00Z")], None),
            Some(max_wait().num_seconds())
        );
    }

    #[test]
    fn reads_blueskys_epoch_reset() {
        let reset = (now() + Duration::seconds(120)).timestamp().to_string();
        assert_eq!(
            wait(
                &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", &reset)],
                None
            ),
            Some(120)
        );
    }

    #[test]
    fn the_longest_wait_wins() {
        let body = json!({"errors": [{"extensions": {"retryAfter": 30}}]});
        assert_eq!(
            wait(
                &[("Retry-After", "10"), ("RateLimit", "\"q\";r=0;t=600")],
                Some(body)
            ),
            Some(600)
        );
    }

    #[test]
    fn hostile_values_are_capped_or_ignored() {
        let cap = max_wait().num_seconds();
        assert_eq!(wait(&[("Retry-After", "1e20")], None), Some(cap));
        let body = json!({"errors": [{"extensions": {"retryAfter": 1e300}}]});
        assert_eq!(wait(&[], Some(body)), Some(cap));
        assert_eq!(wait(&[("Retry-After", "-5")], None), None);
        assert_eq!(wait(&[("Retry-After", "NaN")], None), None);
        assert_eq!(wait(&[("Retry-After", "soon")], None), None);
        assert_eq!(
            wait(&[("Retry-After", "Wed, 02 Dec 2026 18:00:00 GMT")], None),
            Some(0),
            "a date in the past asks no wait"
        );
    }

    #[test]
    fn a_window_with_requests_left_asks_no_wait() {
        assert_eq!(wait(&[("RateLimit", "\"q\";r=5;t=600")], None), None);
        let until = exhausted(&headers(&[("RateLimit", "\"q\";r=0;t=60")]), now());
        assert_eq!(until, Some(now() + Duration::seconds(60)));
        assert_eq!(
            exhausted(&headers(&[("RateLimit", "\"q\";r=3;t=60")]), now()),
            None
        );
    }
}

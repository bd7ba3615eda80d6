//! The daemon's clock work, pure: given the queued deliveries, the last
//! pass and the current instant, what is due now and when to wake next.
//!
//! No clock is read here: `now` is a parameter, so the tests walk through
//! daylight-saving days, downtime and clock jumps without sleeping.

use chrono::{DateTime, Duration, Utc};

use crate::delivery::{Delivery, Key, Status};

/// A reconcile pass runs at least this often.
pub fn pass_every() -> Duration {
    Duration::minutes(10)
}

/// What to do with a queued outbox delivery whose instant has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Deliver it now (the outbox stands for the network): on time, or late
    /// but within the grace.
    Deliver(Key, String),
    /// Its instant passed more than the grace ago: record it as missed.
    Miss(Key, String),
}

/// The outbox deliveries due at `now`. A publisher that sends by itself
/// (Buffer) has none: the passes read how its posts went.
pub fn due(
    deliveries: &[Delivery],
    now: DateTime<Utc>,
    grace: Duration,
    delivers_itself: bool,
) -> Vec<Due> {
    if !delivers_itself {
        return Vec::new();
    }
    deliveries
        .iter()
        .filter(|d| d.status == Status::Queued && d.at <= now && in_outbox(d))
        .filter_map(|d| {
            let remote = d.remote_id.clone()?;
            let key = d.key();
            Some(if now - d.at <= grace {
                Due::Deliver(key, remote)
            } else {
                Due::Miss(key, remote)
            })
        })
        .collect()
}

/// Whether the outbox holds a delivery: those of the channels that publish
/// directly went to their network.
fn in_outbox(delivery: &Delivery) -> bool {
    delivery
        .remote_id
        .as_deref()
        .is_none_or(|remote| crate::delivery::direct_parts(remote).is_none())
}

/// The next instant to wake at: the next outbox delivery, the publisher's
/// own next instant (`publisher`: the next outcome poll, or the end of a
/// wait it asked for), or the next periodic pass, whichever comes first;
/// never in the past.
pub fn next_wake(
    deliveries: &[Delivery],
    last_pass: DateTime<Utc>,
    now: DateTime<Utc>,
    delivers_itself: bool,
    publisher: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let next_pass = last_pass + pass_every();
    let next_due = delivers_itself
        .then(|| {
            deliveries
                .iter()
                .filter(|d| d.status == Status::Queued && d.at > now && in_outbox(d))
                .map(|d| d.at)
                .min()
        })
        .flatten();
    [Some(next_pass), next_due, publisher]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(next_pass)
        .max(now)
}

/// Deliveries past their instant and the grace that have still not gone
/// out nor reached a final state (sent, withdrawn, deleted, refused,
/// missed): something is stuck, and `/healthz` says so.
pub fn overdue(deliveries: &[Delivery], now: DateTime<Utc>, grace: Duration) -> Vec<&Delivery> {
    deliveries
        .iter()
        .filter(|d| {
            matches!(
                d.status,
                Status::Creating
                    | Status::Queued
                    | Status::Editing
                    | Status::Waiting
                    | Status::Late
            ) && now - d.at > grace
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Paris;

    use crate::schedule::Schedule;

    fn queued(post: &str, at: DateTime<Utc>) -> Delivery {
        Delivery {
            id: 0,
            post_id: post.into(),
            channel: "facebook".into(),
            at,
            content_hash: String::new(),
            image_url: None,
            remote_id: Some(format!("remote-{post}")),
            status: Status::Queued,
            attempts: 0,
            last_error: None,
            updated_at: at,
        }
    }

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Paris
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Runs the daemon's loop on a simulated clock from `start` to `end`,
    /// returning each delivery with the instant it was delivered at.
    fn simulate(
        mut deliveries: Vec<Delivery>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        grace: Duration,
    ) -> Vec<(String, DateTime<Utc>)> {
        let mut now = start;
        let mut delivered = Vec::new();
        let mut wakes = 0;
        while now <= end {
            for due in due(&deliveries, now, grace, true) {
                let Due::Deliver(key, _) = due else {
                    panic!("nothing is missed on a clock that does not stop")
                };
                let delivery = deliveries
                    .iter_mut()
                    .find(|d| d.post_id == key.post_id && d.at == key.at)
                    .unwrap();
                delivery.status = Status::Sent;
                delivered.push((key.post_id, now));
            }
            let next = next_wake(&deliveries, now - Duration::minutes(1), now, true, None);
            assert!(
                next > now
                    || deliveries
                        .iter()
                        .any(|d| d.status == Status::Queued && d.at <= now)
            );
            now = next.max(now + Duration::seconds(1));
            wakes += 1;
            assert!(wakes < 100_000, "the loop must not spin");
        }
        delivered
    }

    #[rstest::rstest]
    #[case::spring_2026(2026, 3, 28)]
    #[case::autumn_2026(2026, 10, 24)]
    #[case::spring_2027(2027, 3, 27)]
    #[case::autumn_2027(2027, 10, 30)]
    fn delivers_each_slot_once_and_on_time_across_daylight_saving_days(
        #[case] year: i32,
        #[case] month: u32,
        #[case] day: u32,
    ) {
        // A nightly 02:30 series: the hour that vanishes in spring and the
        // one that occurs twice in autumn.
        let schedule = Schedule::parse("30 2 * * *").unwrap();
        let from = paris(year, month, day, 0, 0);
        let until = from + Duration::days(3);
        let slots = schedule.slots(Paris, from, until, 100);
        assert_eq!(slots.len(), 3);
        let deliveries: Vec<Delivery> = slots
            .iter()
            .enumerate()
            .map(|(index, at)| queued(&format!("p{index}"), at.with_timezone(&Utc)))
            .collect();
        let delivered = simulate(deliveries, from, until, Duration::hours(1));
        assert_eq!(delivered.len(), 3, "{delivered:?}");
        for ((post, at), slot) in delivered.iter().zip(&slots) {
            assert_eq!(*at, slot.with_timezone(&Utc), "{post} delivered on time");
        }
    }

    #[test]
    fn after_downtime_delivers_within_the_grace_and_misses_beyond() {
        let now = paris(2026, 12, 1, 20, 0);
        let deliveries = vec![
            queued("late", paris(2026, 12, 1, 19, 30)),
            queued("too-late", paris(2026, 12, 1, 18, 30)),
            queued("future", paris(2026, 12, 1, 21, 0)),
        ];
        let decisions = due(&deliveries, now, Duration::hours(1), true);
        assert!(
            matches!(&decisions[..], [Due::Deliver(a, _), Due::Miss(b, _)] | [Due::Miss(b, _), Due::Deliver(a, _)] if a.post_id == "late" && b.post_id == "too-late"),
            "{decisions:?}"
        );
        assert_eq!(
            next_wake(&deliveries, now, now, true, None),
            paris(2026, 12, 1, 20, 10),
            "the next pass comes before the next post"
        );
    }

    #[test]
    fn a_clock_jump_neither_skips_nor_repeats() {
        let deliveries = vec![
            queued("a", paris(2026, 12, 1, 10, 0)),
            queued("b", paris(2026, 12, 1, 10, 30)),
            queued("c", paris(2026, 12, 1, 13, 0)),
        ];
        // Asleep from 9:00 to 10:50 (a suspend, or the clock jumping ahead):
        // both posts are within the hour's grace, and go out at once.
        let mut state = deliveries;
        let jump = paris(2026, 12, 1, 10, 50);
        let decisions = due(&state, jump, Duration::hours(1), true);
        assert_eq!(decisions.len(), 2, "{decisions:?}");
        for decision in &decisions {
            let Due::Deliver(key, _) = decision else {
                panic!("{decision:?}")
            };
            state
                .iter_mut()
                .find(|d| d.post_id == key.post_id)
                .unwrap()
                .status = Status::Sent;
        }
        // The clock jumps back to 10:00: nothing is delivered again.
        let back = paris(2026, 12, 1, 10, 0);
        assert!(due(&state, back, Duration::hours(1), true).is_empty());
        assert_eq!(
            next_wake(&state, back, back, true, None),
            paris(2026, 12, 1, 10, 10)
        );
    }

    #[test]
    fn a_publisher_that_sends_by_itself_is_only_polled() {
        let now = paris(2026, 12, 1, 19, 0);
        let deliveries = vec![queued("a", now)];
        assert!(due(&deliveries, now, Duration::hours(1), false).is_empty());
        let poll = now + Duration::minutes(2);
        assert_eq!(next_wake(&deliveries, now, now, false, Some(poll)), poll);
        assert_eq!(
            next_wake(&deliveries, now, now, false, None),
            now + pass_every()
        );
    }

    #[test]
    fn overdue_is_past_the_grace_and_not_settled() {
        let at = paris(2026, 12, 1, 19, 0);
        let grace = Duration::hours(1);
        let mut sent = queued("sent", at);
        sent.status = Status::Sent;
        let mut missed = queued("missed", at);
        missed.status = Status::Missed;
        let mut late = queued("late", at);
        late.status = Status::Late;
        let all = [
            queued("queued", at),
            sent,
            missed,
            late,
            queued("later", at + Duration::days(1)),
        ];
        let names = |now| {
            overdue(&all, now, grace)
                .iter()
                .map(|d| d.post_id.clone())
                .collect::<Vec<_>>()
        };
        assert!(names(at + Duration::minutes(59)).is_empty());
        assert_eq!(names(at + Duration::minutes(61)), ["queued", "late"]);
    }
}

//! Waits on something another process or thread does.

use std::time::{Duration, Instant};

/// Checks `done` every 100 ms until it holds; fails the test once
/// `timeout` has passed. How long it took.
pub fn wait_for(what: &str, timeout: Duration, done: impl FnMut() -> bool) -> Duration {
    wait_every(Duration::from_millis(100), what, timeout, done)
}

/// Checks `done` every `step` until it holds; fails the test once
/// `timeout` has passed. How long it took.
pub fn wait_every(
    step: Duration,
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(step);
    }
    start.elapsed()
}

//! The fakes' clock: a remote service keeps its own time, which a test
//! sets beside `CRIEUR_NOW`. It is the one place of the tests' support
//! that reads the wall clock.

use chrono::{DateTime, Duration, Utc};

/// The wall clock moved by the offset a test sets, so that a fake and
/// crieur (moved by `CRIEUR_NOW`) read the same instants while both run at
/// the real pace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    // A fake's own clock, set by the tests beside `CRIEUR_NOW`.
    #[allow(clippy::disallowed_methods)]
    fn wall() -> DateTime<Utc> {
        Utc::now()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Self::wall() + self.offset
    }

    /// Moves the clock so that it reads `at` now.
    pub fn set(&mut self, at: DateTime<Utc>) {
        self.offset = at - Self::wall();
    }
}

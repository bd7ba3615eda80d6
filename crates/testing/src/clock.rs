//! The fakes' clock: a remote service keeps its own time, which a test
//! sets beside `CRIEUR_NOW`. It reads the time from crieur's one clock
//! (`crieur_io::clock`), as crieur itself does.

use chrono::{DateTime, Duration, Utc};

/// Crieur's clock moved by the offset a test sets, so that a fake and
/// crieur (moved by `CRIEUR_NOW`) read the same instants while both run at
/// the real pace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        crieur_io::clock::now() + self.offset
    }

    /// Moves the clock so that it reads `at` now.
    pub fn set(&mut self, at: DateTime<Utc>) {
        self.offset = at - crieur_io::clock::now();
    }
}

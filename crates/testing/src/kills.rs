//! Passes killed at random points, for the tests of exactly once.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

/// Kills passes at random points: a deterministic sequence from a seed it
/// prints, so that a failure can be played again with
/// [`Kills::with_seed`].
pub struct Kills {
    seed: u64,
}

impl Kills {
    /// A sequence from a random seed, drawn from the standard library's
    /// hash keys.
    pub fn seeded() -> Kills {
        Kills::with_seed(RandomState::new().hash_one("kills"))
    }

    /// The sequence of `seed`, printed on standard error.
    pub fn with_seed(seed: u64) -> Kills {
        eprintln!("seed {seed}");
        Kills { seed }
    }

    /// The next number of the sequence.
    fn draw(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.seed >> 33
    }

    /// Runs `command` (its output thrown away) and kills it after up to
    /// `most` milliseconds.
    pub fn run(&mut self, command: &mut Command, most: u64) {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(self.draw() % most));
        let _ = child.kill();
        let _ = child.wait();
    }
}

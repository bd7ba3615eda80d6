//! Runs the real `crieur` binary on fixture projects, in a clean
//! environment, and checks what a user would see.

#[path = "../../benches/support.rs"]
mod support;

pub use support::copy_dir;
mod agreement;
mod buffer_life;
mod calendar;
mod check;
mod cli;
mod daemon;
mod direct;
mod direct_mastodon;
mod exactly_once;
mod fake_buffer;
mod fake_buffer_tests;
mod fortnight;
mod hostile;
mod init;
mod media;
mod plan;
mod publish;
mod render;
mod secrets;
mod timing;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The time zone and brand of the projects the tests write from scratch.
pub const BRAND: &str = r##"timezone = "Europe/Paris"
[brand]
name = "CPTS Mulhouse Agglomération"
logo = "logos/cpts-mulhouse.png"
[brand.fonts]
display = "Lato-Black.ttf"
heading = "Lato-Bold.ttf"
body = "Inter-Regular.otf"
[brand.colors]
primary = "#1F4E79"
accent = "#B5431A"
ink = "#1D2733"
muted = "#5B6675"
paper = "#FFFFFF"
mist = "#EEF3F8"
white = "#FFFFFF"
"##;

/// "Now" for every test: a Sunday morning in November 2026.
pub const NOW: &str = "2026-11-22T09:00:00";

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixture project, ready to run: a copy in a temporary folder, with the
/// repository's fonts, icons and logos (fixtures keep only their own files).
pub fn fixture(name: &str) -> tempfile::TempDir {
    temp_project(name)
}

/// Runs `crieur --root ROOT ARGS...` in ROOT (so that paths are shown as
/// from the project) with only the variables it needs.
pub fn crieur(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crieur"))
        .current_dir(root)
        .arg("--root")
        .arg(root)
        .args(args)
        .env_clear()
        .env("CRIEUR_NOW", NOW)
        .env("NO_COLOR", "1")
        .output()
        .expect("the crieur binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// A copy of a fixture project in a temporary folder, to be altered.
pub fn temp_project(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&fixture_dir(name), dir.path());
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for shared in ["fonts", "icons", "logos"] {
        let target = dir.path().join("assets").join(shared);
        if !target.exists() {
            copy_dir(&assets.join(shared), &target);
        }
    }
    dir
}

/// What `crieur status --json` says of a project, read in a clean
/// environment.
pub fn status_of(root: &Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_crieur"))
        .arg("--root")
        .arg(root)
        .args(["status", "--json"])
        .env_clear()
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Kills passes at random points, for the tests of exactly once: a
/// deterministic sequence from a seed it prints, so that a failure can be
/// played again.
pub struct Kills {
    seed: u64,
}

impl Kills {
    pub fn seeded() -> Kills {
        let seed = crieur::clock::now().timestamp_subsec_nanos() as u64
            ^ crieur::clock::now().timestamp() as u64;
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
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(self.draw() % most));
        let _ = child.kill();
        let _ = child.wait();
    }
}

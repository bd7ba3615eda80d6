//! Runs the real `crieur` binary on fixture projects, in a clean
//! environment, and checks what a user would see.

pub use crieur_testing::copy_dir;

mod agreement;
mod buffer_life;
mod calendar;
mod check;
mod cli;
mod daemon;
mod direct;
mod direct_mastodon;
mod discovery;
mod exactly_once;
mod fake_buffer_tests;
mod first_month;
mod follow;
mod forge;
mod fortnight;
mod hostile;
mod import_sheet;
mod init;
mod media;
mod notify;
mod plan;
mod publish;
mod render;
mod report;
mod secrets;
mod series;
mod timing;
mod traps;
mod zones;

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

/// `crieur --root ROOT`, run in ROOT in a clean environment (see
/// [`crieur_testing::crieur`]).
pub fn command(root: &Path) -> Command {
    crieur_testing::crieur(env!("CARGO_BIN_EXE_crieur"), root)
}

/// `crieur` with no `--root`, run in `dir` in a clean environment.
pub fn command_in(dir: &Path) -> Command {
    crieur_testing::crieur_in(env!("CARGO_BIN_EXE_crieur"), dir)
}

/// Runs `crieur --root ROOT ARGS...` in ROOT (so that paths are shown as
/// from the project) at [`NOW`].
pub fn crieur(root: &Path, args: &[&str]) -> Output {
    command(root)
        .args(args)
        .env("CRIEUR_NOW", NOW)
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
    let output = command(root).args(["status", "--json"]).output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The files under `posts/`, sorted: to see what a command wrote, or that
/// it wrote nothing.
pub fn post_files(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut folders = vec![root.join("posts")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                names.push(path.display().to_string());
            }
        }
    }
    names.sort();
    names
}

//! `crieur check` on 10,000 generated posts: the whole binary, run as a user
//! runs it (read, parse, validate, lay every image out, plan the calendar,
//! print), and the library's load + check in process. The project uses the
//! repository's real templates, fonts and configuration. Target: well
//! under 300 ms on two cores. Run with `cargo bench --bench check`.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};

// The library in process allocates as the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POSTS: usize = 10_000;
const RUNS: usize = 7;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    crieur_testing::generated_project(Path::new(env!("CARGO_MANIFEST_DIR")), dir.path(), POSTS);
    let now = "2026-11-22T09:00:00";

    let binary = env!("CARGO_BIN_EXE_crieur");
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let output = crieur_testing::crieur(binary, dir.path())
            .arg("check")
            .env("CRIEUR_NOW", now)
            .output()
            .expect("crieur runs");
        times.push(start.elapsed());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    report("crieur check (binary)", &mut times);

    let instant = Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let project = crieur::loader::load(dir.path()).expect("a project");
        let diagnostics = crieur::check::check(&project, instant);
        times.push(start.elapsed());
        assert_eq!(project.posts.len(), POSTS);
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    }
    report("load + check (library)", &mut times);
}

fn report(name: &str, times: &mut [Duration]) {
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{name}: {POSTS} posts, median {:.1} ms (min {:.1} ms, max {:.1} ms, {RUNS} runs)",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
}

//! The daemon's footprint on the example project (the repository's own
//! `config/`, `posts/` and `assets/`) and with 1,000 posts in the
//! project: how soon the first pass starts after launch, the resident
//! memory once idle (the daemon's own process: its passes and workers have
//! ended by then), and the CPU used while waiting (none expected: no
//! polling loop). Linux only. Run with `cargo bench --bench daemon`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crieur_testing::copy_dir;

const POSTS: usize = 1_000;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = tempfile::tempdir().unwrap();
    for folder in ["assets", "config", "posts"] {
        copy_dir(&repo.join(folder), &example.path().join(folder));
    }
    println!(
        "crieur daemon, example project: {}",
        measure(example.path())
    );

    let many = tempfile::tempdir().unwrap();
    write_posts(repo, many.path());
    println!("crieur daemon, {POSTS} posts: {}", measure(many.path()));
}

/// A project with the example's assets and configuration and `POSTS`
/// posts, half of a series, half at a date of their own.
fn write_posts(repo: &Path, dir: &Path) {
    copy_dir(&repo.join("assets"), &dir.join("assets"));
    copy_dir(&repo.join("config"), &dir.join("config"));
    std::fs::create_dir_all(dir.join("posts/serie")).unwrap();
    std::fs::create_dir_all(dir.join("posts/dates")).unwrap();
    for index in 0..POSTS {
        let (folder, head) = if index % 2 == 0 {
            ("serie", "series = \"chiffre-de-la-semaine\"\n".to_owned())
        } else {
            let at = crieur::clock::now() + chrono::Duration::hours(3 + index as i64 * 6);
            (
                "dates",
                format!(
                    "template = \"chiffre\"\nchannels = [\"linkedin\"]\npublish_at = {}\n",
                    at.format("%Y-%m-%dT%H:%M:00Z")
                ),
            )
        };
        std::fs::write(
            dir.join(format!("posts/{folder}/{index:04}.md")),
            format!(
                "+++\n{head}[visual]\nnumber = \"{index} millions\"\ncaption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\n+++\nAujourd'hui, près de {index} millions d'assurés disposent d'un profil sur Mon Espace Santé.\n"
            ),
        )
        .unwrap();
    }
}

/// What one run of the daemon measured.
struct Footprint {
    first_pass: Duration,
    pass_done: Duration,
    rss_mb: f64,
    idle_ticks: u64,
}

impl std::fmt::Display for Footprint {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            out,
            "first pass started {:.0} ms after launch (done at {:.0} ms); idle RSS {:.1} MB; CPU while idle for 10 s: {} ticks",
            self.first_pass.as_secs_f64() * 1e3,
            self.pass_done.as_secs_f64() * 1e3,
            self.rss_mb,
            self.idle_ticks
        )
    }
}

/// Runs the daemon on `dir` until its first pass is over and it has been
/// idle for a while, then stops it.
fn measure(dir: &Path) -> Footprint {
    let launched = Instant::now();
    let mut child = crieur_testing::crieur(env!("CARGO_BIN_EXE_crieur"), dir)
        .arg("daemon")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut first_pass = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if first_pass.is_none() && line.contains("début du passage") {
            first_pass = Some(launched.elapsed());
        }
        if line.contains("passage terminé") {
            break;
        }
    }
    let pass_done = launched.elapsed();
    std::thread::spawn(move || for _ in lines {});
    std::thread::sleep(Duration::from_secs(2));
    let pid = child.id();
    let cpu_before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(10));
    let cpu_after = cpu_ticks(pid);
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .map(|line| {
            line.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    Footprint {
        first_pass: first_pass.unwrap(),
        pass_done,
        rss_mb: rss as f64 / 1024.0,
        idle_ticks: cpu_after - cpu_before,
    }
}

/// User + system CPU ticks of a process.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

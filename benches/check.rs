//! `crieur check` on 10,000 generated posts: the whole binary, run as a user
//! runs it (read, parse, validate, lay every image out, plan the calendar,
//! print), and the library's load + check in process. The project uses the
//! repository's real templates, fonts and configuration. Target: under one
//! second in release mode. Run with `cargo bench --bench check`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use crieur_testing::copy_dir;

const POSTS: usize = 10_000;
const RUNS: usize = 7;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    generate(dir.path());
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

/// A project of `POSTS` posts: half fill a weekly series, half are dated,
/// one an hour, spread over two channels.
fn generate(root: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("config"), &root.join("config"));
    copy_dir(&repo.join("assets"), &root.join("assets"));
    std::fs::create_dir_all(root.join("posts/serie")).unwrap();
    std::fs::create_dir_all(root.join("posts/dates")).unwrap();
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 0, 30, 0).unwrap();
    for index in 0..POSTS {
        let mut text = String::from("+++\n");
        let folder = if index % 2 == 0 {
            text.push_str("series = \"chiffre-de-la-semaine\"\n");
            "serie"
        } else {
            let at = start + chrono::Duration::hours(index as i64);
            let channel = if index % 4 == 1 {
                "facebook"
            } else {
                "linkedin"
            };
            let _ = writeln!(
                text,
                "template = \"chiffre\"\nchannels = [\"{channel}\"]\npublish_at = {}",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            );
            "dates"
        };
        let _ = write!(
            text,
            "[visual]\nnumber = \"{index} millions\"\ncaption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\nsource = \"Assurance Maladie, novembre 2022\"\n+++\n\
             Aujourd'hui, près de 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé (novembre 2022).\n\n\
             Qu'est-ce que Mon Espace Santé ? C'est un carnet de santé numérique qui permet aux patients de gérer leurs données de santé en un seul et même endroit.\n"
        );
        std::fs::write(
            root.join("posts")
                .join(folder)
                .join(format!("{index:05}.md")),
            text,
        )
        .unwrap();
    }
}

//! Rendering speed. Three figures:
//!
//! - the "chiffre de la semaine" card at 1080x1080, end to end: read and
//!   parse the post, lay out, draw, encode (on every core, as a large
//!   card's image data is compressed in strips of rows), write the PNG (median
//!   of many runs; the project's fonts and templates are loaded once, as a
//!   running `crieur` holds them);
//! - every template in every format: the PNG's size and the time to encode
//!   it (median of many runs), for an example post of each template;
//! - `crieur render` of 1,000 posts in all their formats, the whole binary.
//!
//! Run with `cargo bench --bench render`; `-- card` times the card alone,
//! `-- formats` the card and the formats.

use std::path::Path;
use std::time::{Duration, Instant};

use crieur::post::Post;
use crieur::render::{Context, draw, encode_png, layout};
use crieur::template::Format;
use crieur_testing::copy_dir;

const CARD_RUNS: usize = 500;
const FORMAT_RUNS: usize = 51;
const POSTS: usize = 1_000;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    card(repo);
    let asked = |name: &str| std::env::args().any(|arg| arg == name);
    if !asked("card") {
        formats(repo);
    }
    if !asked("card") && !asked("formats") {
        batch(repo);
    }
}

fn card(repo: &Path) {
    let project = crieur::loader::load(repo).expect("the example project");
    let config = project.config.as_ref().expect("a valid config");
    let template = &project.templates["chiffre"];
    let context = Context::of(config, &project.assets);
    let source = repo.join("posts/chiffre/2026-12-01-mon-espace-sante.md");
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("card.png");
    // `CRIEUR_BENCH_RUNS` shortens the run, for instruction counting under
    // callgrind.
    let runs = std::env::var("CRIEUR_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(CARD_RUNS);
    let mut times = Vec::with_capacity(runs);
    let mut phases: [Vec<Duration>; 5] = Default::default();
    let mut size = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let text = std::fs::read_to_string(&source).unwrap();
        let (post, _) = Post::parse(&text, "posts/chiffre.md", "chiffre", config.timezone);
        let post = post.expect("a valid post");
        let parsed = Instant::now();
        let card = layout(context, template, Format::Carre, &post).expect("a card");
        let laid_out = Instant::now();
        let canvas = draw(&card);
        let drawn = Instant::now();
        let png = encode_png(canvas).expect("a PNG");
        let encoded = Instant::now();
        std::fs::write(&target, &png).unwrap();
        let written = Instant::now();
        times.push(written - start);
        for (phase, (from, to)) in phases.iter_mut().zip([
            (start, parsed),
            (parsed, laid_out),
            (laid_out, drawn),
            (drawn, encoded),
            (encoded, written),
        ]) {
            phase.push(to - from);
        }
        size = png.len();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    report(
        &format!("chiffre card 1080x1080, {cores} cores"),
        &mut times,
    );
    for (name, phase) in ["read+parse", "layout", "draw", "encode", "write"]
        .iter()
        .zip(phases.iter_mut())
    {
        phase.sort();
        print!(
            "  {name} {:.2} ms",
            phase[phase.len() / 2].as_secs_f64() * 1e3
        );
    }
    println!();
    println!("  PNG size: {size} bytes");
}

/// Every template in every format, for the first example post that uses
/// it: the PNG's size and the median time to encode the drawn card.
fn formats(repo: &Path) {
    let project = crieur::loader::load(repo).expect("the example project");
    let config = project.config.as_ref().expect("a valid config");
    let context = Context::of(config, &project.assets);
    println!("PNG by template and format ({FORMAT_RUNS} encodings each):");
    for (id, template) in &project.templates {
        let Some(post) = project
            .posts
            .iter()
            .find(|post| crieur::post::template_of(post, config) == Some(id.as_str()))
        else {
            continue;
        };
        for format in Format::ALL {
            let card = layout(context, template, format, post).expect("a card");
            let mut times = Vec::with_capacity(FORMAT_RUNS);
            let mut size = 0;
            for _ in 0..FORMAT_RUNS {
                let canvas = draw(&card);
                let start = Instant::now();
                size = encode_png(canvas).expect("a PNG").len();
                times.push(start.elapsed());
            }
            times.sort();
            println!(
                "  {id} {format} {}x{}: {size} bytes, encode median {:.2} ms (min {:.2} ms)",
                card.width,
                card.height,
                times[times.len() / 2].as_secs_f64() * 1e3,
                times[0].as_secs_f64() * 1e3,
            );
        }
    }
}

fn batch(repo: &Path) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("assets"), &dir.path().join("assets"));
    // 1,000 posts: the example posts, each copied with its own figure.
    let mut examples = Vec::new();
    collect(&repo.join("posts"), &mut examples);
    examples.sort();
    std::fs::create_dir_all(dir.path().join("posts")).unwrap();
    for index in 0..POSTS {
        let text = std::fs::read_to_string(&examples[index % examples.len()]).unwrap();
        // Each post at an instant of its own: no two collide, and a post
        // without a series keeps a date.
        let at = format!(
            "publish_at = 2027-01-02T{:02}:{:02}:00",
            index / 60,
            index % 60
        );
        let text = text
            .lines()
            .map(|line| {
                if line.starts_with("publish_at") {
                    at.as_str()
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            .replace("number = \"", &format!("number = \"{index} · "));
        std::fs::write(dir.path().join(format!("posts/{index:04}.md")), text).unwrap();
    }
    let start = Instant::now();
    let output = crieur_testing::crieur(env!("CARGO_BIN_EXE_crieur"), dir.path())
        .args(["render", "--out", "out"])
        .env("CRIEUR_NOW", "2026-11-22T09:00:00")
        .output()
        .expect("crieur runs");
    let elapsed = start.elapsed();
    let images = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.ends_with(".png"))
        .count();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "crieur render: {POSTS} posts, {images} images in {:.2} s ({} cores)",
        elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

fn collect(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
}

fn report(name: &str, times: &mut [Duration]) {
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{name}: median {:.2} ms (min {:.2} ms, p90 {:.2} ms, {} runs)",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() * 9 / 10].as_secs_f64() * 1e3,
        times.len()
    );
}

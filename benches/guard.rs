//! The guard: instruction counts of four pieces of work, each run once
//! under valgrind's callgrind by gungraun, against the baseline committed
//! in `benches/guard/baseline.toml`. `.ci/guard` runs them and fails when a
//! count grows more than 10 % over its baseline; time figures stay in the
//! other benches.
//!
//! - `check`: `check` of a loaded project of 1,000 generated posts;
//! - `card`: one "chiffre" card in format carré, laid out, drawn and
//!   encoded as PNG;
//! - `plan`: the calendar of a year, as `crieur plan` computes it (verdicts,
//!   slots, posts apart) for the same 1,000 posts;
//! - `diff`: one publishing diff, what to create, edit, withdraw or settle
//!   at the publisher for 1,000 posts with a store that already knows most
//!   of them.
//!
//! Each setup (generating, loading, building the input) runs before the
//! measured function and each teardown after it: neither is counted. The
//! content and the instants are fixed, so two runs of the same code give
//! the same counts. The work runs on one thread: rayon's pool is the
//! calling thread alone, so callgrind counts all of it and no scheduling
//! between threads changes the figures.
//!
//! Run with `.ci/guard` (or `cargo bench --bench guard`, with valgrind and
//! `gungraun-runner` of the same version as the `gungraun` library
//! installed).

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crieur::delivery::{Delivery, Key, Status};
use crieur::diagnostic::Diagnostic;
use crieur::diff::{Input, Step, Want, diff};
use crieur::plan::{Plan, Window};
use crieur::post::Post;
use crieur::project::Project;
use crieur::publisher::{RemoteStatus, Report};
use crieur::render::{Context, draw, encode_png, layout};
use crieur::template::Format;
use gungraun::{
    Callgrind, LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main,
};
use tempfile::TempDir;

/// How many posts the project of `check` and `plan`, and the diff, hold.
const POSTS: usize = 1_000;

/// The instant every piece of work takes as now: 22 November 2026, 9:00 in
/// Paris.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("a valid instant")
}

/// A project on disk and loaded; the folder lives as long as the project.
struct Loaded {
    _dir: TempDir,
    project: Project,
}

/// Makes rayon's global pool the calling thread alone: the parallel parts
/// (laying out every card in `check`) run in place, on the thread
/// callgrind measures.
fn one_thread() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build_global()
        .expect("rayon's pool, built once per benchmark process");
}

/// A project with the repository's configuration, templates and fonts and
/// `posts` generated posts, loaded.
fn project(posts: usize) -> Loaded {
    one_thread();
    let dir = tempfile::tempdir().expect("a temporary folder");
    crieur_testing::generated_project(Path::new(env!("CARGO_MANIFEST_DIR")), dir.path(), posts);
    let project = crieur::loader::load(dir.path()).expect("a project");
    assert_eq!(project.posts.len(), posts);
    Loaded { _dir: dir, project }
}

/// The project of 1,000 posts, loaded.
fn check_setup() -> Loaded {
    project(POSTS)
}

#[library_benchmark]
#[bench::posts_1000(setup = check_setup, teardown = check_teardown)]
fn check(loaded: Loaded) -> (Loaded, Vec<Diagnostic>) {
    let diagnostics = crieur::check::check(black_box(&loaded.project), now());
    (loaded, diagnostics)
}

/// The generated posts are sound: `check` went all the way.
fn check_teardown((_, diagnostics): (Loaded, Vec<Diagnostic>)) {
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
}

/// The card's post: the figure of the week, with fixed content.
const CARD_POST: &str = "+++\n\
series = \"chiffre-de-la-semaine\"\n\
[visual]\n\
number = \"65,4 millions\"\n\
caption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"\n\
source = \"Assurance Maladie, novembre 2022\"\n\
+++\n\
Aujourd'hui, près de 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé.\n";

/// A project without posts (its templates and fonts) and the card's post.
fn card_setup() -> (Loaded, Post) {
    let loaded = project(0);
    let config = loaded.project.config.as_ref().expect("a valid config");
    let (post, diagnostics) =
        Post::parse(CARD_POST, "posts/chiffre.md", "chiffre", config.timezone);
    let post = post.unwrap_or_else(|| panic!("a valid post: {diagnostics:?}"));
    (loaded, post)
}

#[library_benchmark]
#[bench::chiffre_carre(setup = card_setup, teardown = card_teardown)]
fn card((loaded, post): (Loaded, Post)) -> (Loaded, Post, Vec<u8>) {
    let project = black_box(&loaded.project);
    let config = project.config.as_ref().expect("a valid config");
    let template = &project.templates["chiffre"];
    let context = Context::of(config, &project.assets);
    let card = layout(context, template, Format::Carre, &post).expect("a card");
    let png = encode_png(draw(&card)).expect("a PNG");
    (loaded, post, png)
}

/// The card was drawn and encoded.
fn card_teardown((_, _, png): (Loaded, Post, Vec<u8>)) {
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
}

/// The project of 1,000 posts, loaded and checked as `crieur plan` has it
/// (`check`'s diagnostics in its report).
fn plan_setup() -> Loaded {
    let mut loaded = project(POSTS);
    let diagnostics = crieur::check::check(&loaded.project, now());
    loaded.project.report.extend(diagnostics);
    loaded
}

#[library_benchmark]
#[bench::one_year(setup = plan_setup, teardown = plan_teardown)]
fn plan(loaded: Loaded) -> (Loaded, Plan) {
    let project = black_box(&loaded.project);
    let config = project.config.as_ref().expect("a valid config");
    let window = Window {
        from: now(),
        until: now() + Duration::weeks(52),
    };
    let verdicts = crieur::verdict::judge(project, &project.report);
    let mut plan = verdicts.calendar(project, config, window);
    plan.apart = verdicts.apart(project, config);
    (loaded, plan)
}

/// The dated posts and a year of the weekly series have their slots.
fn plan_teardown((_, plan): (Loaded, Plan)) {
    assert!(plan.slots.len() > POSTS / 2, "{} slots", plan.slots.len());
}

/// What the diff reads: the files' wishes and the store's and publisher's
/// knowledge.
struct State {
    wanted: Vec<Want>,
    known: Vec<Delivery>,
    blocked: BTreeSet<String>,
    report: Report,
    stalled: BTreeMap<String, String>,
}

/// 1,000 posts, one every six hours from five days ago, each on one channel
/// and every fifth on Instagram too; the store knows most of them:
/// - those whose instant passed are queued, and the publisher reports them
///   sent, failed or deleted;
/// - of those to come, most are queued unchanged; one in ten was edited
///   since, one in ten waits for room in its queue, one in ten was refused,
///   one in ten is new; Instagram is disconnected: its deliveries wait, and
///   its new ones are held back;
/// - 100 deliveries of posts since deleted are still queued (ten of them
///   blocked by errors, ten only waiting).
fn diff_setup() -> State {
    let start = now() - Duration::days(5);
    let hash = |index: usize, version: usize| format!("{:064x}", index * 7 + version);
    let mut state = State {
        wanted: Vec::new(),
        known: Vec::new(),
        blocked: BTreeSet::new(),
        report: Report {
            posts: BTreeMap::new(),
            complete: true,
        },
        stalled: BTreeMap::from([(
            "instagram".to_owned(),
            "le canal est déconnecté chez Buffer".to_owned(),
        )]),
    };
    for index in 0..POSTS {
        let at = start + Duration::hours(6 * index as i64);
        let mut channels = vec![if index % 2 == 0 {
            "facebook"
        } else {
            "linkedin"
        }];
        if index % 5 == 0 {
            channels.push("instagram");
        }
        for channel in channels {
            let key = Key {
                post_id: format!("chiffre/{index:05}-mon-espace-sante"),
                channel: channel.to_owned(),
                at,
            };
            let hold = (channel == "instagram").then(|| state.stalled[channel].clone());
            let want = Want {
                key,
                hash: hash(index, 0),
                hold,
            };
            if let Some(delivery) = known_of(&want, index, &mut state.report) {
                state.known.push(delivery);
            }
            state.wanted.push(want);
        }
    }
    for index in 0..100 {
        let post_id = format!("retire/{index:03}");
        let mut delivery = delivery(
            Key {
                post_id: post_id.clone(),
                channel: "facebook".to_owned(),
                at: now() + Duration::hours(3 + index as i64),
            },
            hash(index, 0),
            Status::Queued,
        );
        delivery.remote_id = Some(format!("remote-retire-{index}"));
        if index % 10 == 0 {
            state.blocked.insert(post_id);
        } else if index % 10 == 1 {
            delivery.status = Status::Waiting;
            delivery.remote_id = None;
        }
        state.known.push(delivery);
    }
    state
}

/// What the store knows of a wanted delivery, and what the publisher
/// reports of it.
fn known_of(want: &Want, index: usize, report: &mut Report) -> Option<Delivery> {
    let remote_id = format!("remote-{index}-{}", want.key.channel);
    let mut delivery = delivery(want.key.clone(), want.hash.clone(), Status::Queued);
    if want.key.at <= now() {
        let status = match index % 11 {
            0 => RemoteStatus::Failed("image refusée par le réseau".to_owned()),
            1 => RemoteStatus::Missing,
            _ => RemoteStatus::Sent,
        };
        report.posts.insert(remote_id.clone(), status);
        delivery.remote_id = Some(remote_id);
        return Some(delivery);
    }
    if let Some(reason) = &want.hold {
        if index % 10 == 5 {
            return None;
        }
        delivery.status = Status::Waiting;
        delivery.last_error = Some(reason.clone());
        return Some(delivery);
    }
    match index % 10 {
        6 => delivery.content_hash = format!("{:064x}", index * 7 + 1),
        7 => {
            delivery.status = Status::Waiting;
            delivery.last_error = Some("en attente : la file du canal est pleine".to_owned());
            return Some(delivery);
        }
        8 => {
            delivery.status = Status::Error;
            delivery.content_hash = format!("{:064x}", index * 7 + 1);
            delivery.last_error = Some("le texte dépasse la limite du réseau".to_owned());
            return Some(delivery);
        }
        9 => return None,
        _ => {}
    }
    delivery.remote_id = Some(remote_id);
    Some(delivery)
}

/// A delivery as the store records it.
fn delivery(key: Key, content_hash: String, status: Status) -> Delivery {
    Delivery {
        id: 0,
        post_id: key.post_id,
        channel: key.channel,
        at: key.at,
        content_hash,
        image_url: None,
        remote_id: None,
        status,
        attempts: 1,
        last_error: None,
        updated_at: now() - Duration::days(6),
    }
}

#[library_benchmark]
#[bench::posts_1000(setup = diff_setup, teardown = diff_teardown)]
fn publish_diff(state: State) -> (State, Vec<Step>) {
    let steps = diff(Input {
        now: now(),
        grace: Duration::hours(1),
        wanted: black_box(&state.wanted),
        known: &state.known,
        blocked: &state.blocked,
        report: &state.report,
        stalled: &state.stalled,
        adopt_all: false,
    });
    (state, steps)
}

/// The diff has something of every kind to do.
fn diff_teardown((_, steps): (State, Vec<Step>)) {
    let kinds: BTreeSet<&str> = steps
        .iter()
        .map(|step| match step {
            Step::Settle { .. } => "settle",
            Step::Delete { .. } => "delete",
            Step::Adopt { .. } => "adopt",
            Step::Create { .. } => "create",
            Step::Edit { .. } => "edit",
            Step::Wait { .. } => "wait",
            Step::Keep { .. } => "keep",
        })
        .collect();
    for kind in ["settle", "delete", "create", "edit", "wait", "keep"] {
        assert!(kinds.contains(kind), "no {kind} step: {steps:?}");
    }
}

library_benchmark_group!(
    name = guard;
    benchmarks = check, card, plan, publish_diff
);

main!(
    // Only instructions are compared: without the cache simulation,
    // callgrind runs about twice as fast.
    config = LibraryBenchmarkConfig::default().tool(Callgrind::with_args(["cache-sim=no"]));
    library_benchmark_groups = guard
);

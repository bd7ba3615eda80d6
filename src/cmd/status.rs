//! `crieur status`: where each delivery stands, and what to do about it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::cli::StatusArgs;
use crate::delivery::{Delivery, Key, Status};
use crate::store::Store;

use super::context::Outcome;

/// One delivery as `status --json` prints it.
#[derive(Debug, Serialize)]
struct Row<'a> {
    post: &'a str,
    channel: &'a str,
    /// RFC 3339.
    at: String,
    status: &'static str,
    message: Option<&'a str>,
    remote_id: Option<&'a str>,
    /// The post's public address, once sent (Mastodon, Bluesky).
    url: Option<&'a str>,
}

pub fn run(root: &Path, args: &StatusArgs) -> anyhow::Result<Outcome> {
    // On a server: the followed repository first; before its first fetch
    // there is no project to say more of.
    let following = match crate::follow::server(root)? {
        Some(follow) => {
            let follower = crate::follow::Follower::new(root, follow);
            let store = Store::open_existing(&follower.state())?;
            let following = crate::follow::Following::read(&follower.follow, store.as_ref());
            if follower.tree().is_err() {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "sync": following, "deliveries": [], "blocked": [] })
                    );
                } else {
                    super::sync::print(&following, chrono_tz::Europe::Paris);
                }
                return Ok(Outcome::Invalid);
            }
            Some(following)
        }
        None => None,
    };
    let project = super::context::load_checked(root)?;
    let verdicts = crate::verdict::judge(&project, &project.report);
    let blocked: Vec<Blocked<'_>> = verdicts
        .held()
        .map(|(post, verdict)| Blocked {
            post,
            problems: &verdict.problems,
        })
        .collect();
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        return Ok(Outcome::Invalid);
    };
    let state = root.join(&config.state);
    let store = Store::open_existing(&state)?;
    let deliveries = match &store {
        Some(store) => store.deliveries()?,
        None => Vec::new(),
    };
    let urls = match &store {
        Some(store) => store.public_urls()?,
        None => BTreeMap::new(),
    };
    if args.json {
        let rows: Vec<Row<'_>> = deliveries.iter().map(|d| row(d, &urls)).collect();
        let mut answer = serde_json::json!({ "deliveries": rows, "blocked": blocked });
        if let Some(following) = &following {
            answer["sync"] = serde_json::to_value(following)?;
        }
        println!("{answer}");
        return Ok(stopped(outcome(&deliveries, &blocked), following.as_ref()));
    }
    if let Some(following) = &following {
        super::sync::print(following, config.timezone);
    }
    print_blocked(&blocked);
    let Some(store) = store else {
        println!("Rien n'a encore été publié (pas de base d'état : lancez `crieur publish`).");
        // The daemon opens the store first: without one, none ever ran.
        println!("{NEVER_RAN}");
        return Ok(outcome(&deliveries, &blocked));
    };
    print_daemon(&store, &state, config.timezone);
    print_sections(&deliveries, &urls, config.timezone);
    Ok(stopped(outcome(&deliveries, &blocked), following.as_ref()))
}

/// Exit code 1 too when following the repository stopped.
fn stopped(outcome: Outcome, following: Option<&crate::follow::Following>) -> Outcome {
    match following {
        Some(following) if following.stopped.is_some() => Outcome::Invalid,
        _ => outcome,
    }
}

/// A post left out for its errors, as `status --json` prints it.
#[derive(Debug, Serialize)]
struct Blocked<'a> {
    post: &'a str,
    problems: &'a [crate::verdict::Problem],
}

fn print_blocked(blocked: &[Blocked<'_>]) {
    if blocked.is_empty() {
        return;
    }
    println!("Laissés de côté (rien ne part, leur créneau reste vide) :");
    println!(
        "  → corrigez chaque problème (voir `crieur check`) : le post repart au passage suivant"
    );
    for entry in blocked {
        println!("  posts/{}.md", entry.post);
        for problem in entry.problems {
            println!("      {problem}");
        }
    }
}

fn row<'a>(delivery: &'a Delivery, urls: &'a BTreeMap<Key, String>) -> Row<'a> {
    Row {
        post: &delivery.post_id,
        channel: &delivery.channel,
        at: delivery
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        status: delivery.status.public(),
        message: delivery.last_error.as_deref(),
        remote_id: delivery.remote_id.as_deref(),
        url: urls.get(&delivery.key()).map(String::as_str),
    }
}

/// Exit code 1 when a delivery or a post needs a person.
fn outcome(deliveries: &[Delivery], blocked: &[Blocked<'_>]) -> Outcome {
    let attention = deliveries.iter().any(|d| {
        matches!(
            d.status,
            Status::Error | Status::Missed | Status::Late | Status::Deleted
        )
    });
    if attention || !blocked.is_empty() {
        Outcome::Invalid
    } else {
        Outcome::Success
    }
}

/// What `status` says when no daemon ever ran for the project.
const NEVER_RAN: &str = "Démon : aucun n'a encore tourné pour ce projet ; pour publier à l'heure, sans surveillance, lancez `crieur daemon`.";

/// Whether a daemon ever ran for the project: it leaves its heartbeat in
/// the store from its first wait or pass.
fn has_run(store: &Store) -> bool {
    [
        crate::daemon::LAST_PASS,
        crate::daemon::NEXT_WAKE,
        crate::daemon::LAST_ERROR,
    ]
    .iter()
    .any(|key| store.meta(key).ok().flatten().is_some())
}

fn print_daemon(store: &Store, state: &Path, tz: chrono_tz::Tz) {
    let when = |key: &str| -> Option<String> {
        let text = store.meta(key).ok().flatten()?;
        let at = chrono::DateTime::parse_from_rfc3339(&text).ok()?;
        Some(crate::plan::format_local(&at.with_timezone(&tz)))
    };
    let last_pass = when(crate::daemon::LAST_PASS);
    if crate::daemon::is_running(state) {
        println!(
            "Démon : en marche ; dernier passage {}, prochain réveil {}.",
            last_pass.as_deref().unwrap_or("à venir"),
            when(crate::daemon::NEXT_WAKE)
                .as_deref()
                .unwrap_or("inconnu")
        );
    } else if has_run(store) {
        println!(
            "Démon : arrêté{}.",
            last_pass.map_or_else(String::new, |at| format!(" (dernier passage {at})"))
        );
    } else {
        println!("{NEVER_RAN}");
    }
    if let Some(error) = store
        .meta(crate::daemon::LAST_ERROR)
        .ok()
        .flatten()
        .filter(|e| !e.is_empty())
    {
        println!("Dernière erreur : {error}");
    }
    let holds = crate::publish::pass::active_holds(store, crate::clock::now()).unwrap_or_default();
    for (holder, until) in holds {
        println!(
            "{holder} a demandé de patienter : reprise le {}.",
            crate::plan::format_local(&until.with_timezone(&tz))
        );
    }
    print_notifications(store, tz);
}

/// The notifications that could not leave yet, and when they try again.
fn print_notifications(store: &Store, tz: chrono_tz::Tz) {
    for pending in store.pending_notifications().unwrap_or_default() {
        let Some(error) = &pending.last_error else {
            continue;
        };
        let way = crate::notifier::Way::parse(&pending.channel)
            .map_or_else(|| pending.channel.clone(), |way| way.label().to_owned());
        println!(
            "Notification en attente ({way}) : échec : {error} ; nouvel essai après le {}.",
            crate::plan::format_local(&pending.next_try.with_timezone(&tz))
        );
    }
}

fn print_sections(deliveries: &[Delivery], urls: &BTreeMap<Key, String>, tz: chrono_tz::Tz) {
    let sections: [(&str, &[Status]); 8] = [
        ("En échec", &[Status::Error]),
        ("Supprimés dans Buffer", &[Status::Deleted]),
        ("En retard", &[Status::Late]),
        ("En attente", &[Status::Waiting, Status::Creating]),
        (
            "À venir",
            &[Status::Queued, Status::Editing, Status::Deleting],
        ),
        ("Publiés", &[Status::Sent]),
        ("Manqués", &[Status::Missed]),
        ("Retirés", &[Status::Withdrawn]),
    ];
    for (title, statuses) in sections {
        let rows: Vec<&Delivery> = deliveries
            .iter()
            .filter(|d| statuses.contains(&d.status))
            .collect();
        if rows.is_empty() {
            continue;
        }
        println!("{title} :");
        if let Some(advice) = statuses[0].advice() {
            println!("  → {advice}");
        }
        for delivery in rows {
            let at = delivery.at.with_timezone(&tz);
            println!(
                "  {}  posts/{}.md  {}  {}",
                crate::plan::format_local(&at),
                delivery.post_id,
                delivery.channel,
                delivery.status.label()
            );
            if let Some(url) = urls.get(&delivery.key()) {
                println!("      {url}");
            }
            if let Some(error) = &delivery.last_error {
                println!("      {error}");
            }
        }
    }
}

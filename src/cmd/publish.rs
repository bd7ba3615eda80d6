//! `crieur publish` and `crieur channels`.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};

use crate::cli::PublishArgs;
use crate::config::{CONFIG_PATH, Config, PublisherKind};
use crate::delivery::Status;
use crate::diagnostic::{Report, Severity};
use crate::media;
use crate::notifier::{Notifier, NotifyError};
use crate::project::Project;
use crate::publish::buffer::{Buffer, Options as BufferOptions};
use crate::publish::pass::{self, Named, Options, PassError, Summary};
use crate::publish::{self, PublishError, RemoteChannel};
use crate::store::Store;

use super::context::Outcome;

pub fn run(root: &Path, args: &PublishArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load_checked(root)?;
    let verdicts = crate::verdict::judge(&project, &project.report);
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        eprintln!("La configuration a des erreurs : rien n'est publié (voir `crieur check`).");
        return Ok(Outcome::Invalid);
    };
    print_config_errors(&project);
    let now = super::context::now(config.timezone)?;
    let state = root.join(&config.state);
    // One pass at a time per project: a pass left running by a killed
    // daemon, the daemon's next one, or one started by hand, wait in turn.
    let _pass = if args.dry_run {
        None
    } else {
        Some(pass_lock(&state)?)
    };
    let (store, fresh_store) = if args.dry_run {
        match Store::open_existing(&state)? {
            Some(store) => (store, false),
            None => (Store::in_memory()?, false),
        }
    } else {
        Store::open_reporting(&state)?
    };
    for post in &args.requeue {
        requeue(&store, &project, post, now)?;
    }
    let mut publisher = publish::open(root, config, store.requests()?).map_err(publish_error)?;
    let mut media = match (&config.media, args.dry_run, publisher.fetches_images()) {
        (Some(media), false, true) => Some(media::open(media, root)?),
        _ => None,
    };
    // SIGTERM and SIGINT end the pass after the call in flight, recorded.
    crate::net::stop_on_signals().context("signaux SIGTERM et SIGINT")?;
    let stop = crate::net::stop_flag();
    let options = Options {
        now,
        grace: config.grace,
        dry_run: args.dry_run,
        fresh_store,
        stop: Some(stop),
    };
    let media = media
        .as_mut()
        .map(|media| &mut **media as &mut dyn media::MediaStore);
    let summary = match pass::run(
        &project,
        &verdicts,
        &store,
        publisher.as_mut(),
        media,
        options,
    ) {
        Ok(summary) => summary,
        Err(PassError::InvalidConfig) => {
            super::context::print_report(&project.report);
            eprintln!("La configuration a des erreurs : rien n'est publié (voir `crieur check`).");
            return Ok(Outcome::Invalid);
        }
        Err(error) => bail!("{error}"),
    };
    print(
        &summary,
        publisher.name(),
        args.dry_run,
        config,
        &project.report,
    );
    if !args.dry_run {
        notify(&store, &state, config, &summary, now);
    }
    Ok(if summary.needs_attention() {
        Outcome::Invalid
    } else {
        Outcome::Success
    })
}

/// How long a pass run by a person waits for its notifications to leave;
/// what has not left by then goes at the next pass.
const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Records the credentials the pass saw refused, then tells the officer
/// what went wrong or cleared, unless the daemon runs the pass (the daemon
/// tells them itself). Never changes the pass's outcome: a failure is
/// said, and the message waits in the queue.
fn notify(store: &Store, state: &Path, config: &Config, summary: &Summary, now: DateTime<Utc>) {
    if let Err(error) = crate::notifier::record_refusals(store, &summary.refused) {
        eprintln!("notifications : {error}");
    }
    if std::env::var(crate::notifier::VARIABLE).is_ok_and(|who| who == "daemon") {
        return;
    }
    let Some(notify) = &config.notify else {
        return;
    };
    let notifier = Notifier::new(notify, config.timezone);
    match crate::notifier::gather(store, 0, "")
        .and_then(|found| notifier.announce(store, &found, now))
    {
        Ok(Some(message)) => eprintln!("notification : {}", message.title),
        Ok(None) => {}
        Err(error) => eprintln!("notifications : {error}"),
    }
    if !crate::notifier::due(store, now) {
        return;
    }
    let (done, flushed) = std::sync::mpsc::channel();
    let state = state.to_owned();
    std::thread::spawn(move || {
        let flushed = Store::open(&state)
            .map_err(NotifyError::from)
            .and_then(|store| notifier.flush(&store, now));
        let _ = done.send(flushed);
    });
    match flushed.recv_timeout(NOTIFY_WAIT) {
        Ok(Ok(flushed)) => {
            for (way, error, next) in flushed.failed {
                eprintln!(
                    "notification non envoyée ({}) : {error} ; nouvel essai après le {}",
                    way.label(),
                    crate::plan::format_local(&next.with_timezone(&config.timezone))
                );
            }
        }
        Ok(Err(error)) => eprintln!("notifications : {error}"),
        Err(_) => eprintln!(
            "notifications : l'envoi tarde ; le message reste en file et repart au prochain passage"
        ),
    }
}

fn publish_error(error: PublishError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// `--requeue POST`: a deleted post may be sent again, on a person's word.
fn requeue(store: &Store, project: &Project, post: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    let id = post
        .trim_start_matches("posts/")
        .trim_end_matches(".md")
        .to_owned();
    if !project.post_ids.contains(&id) {
        bail!("post inconnu `{post}` : donnez son identifiant (chiffre/01-dmp) ou son fichier");
    }
    let count = store.requeue(&id, now)?;
    if count == 0 {
        println!("{id} : aucune publication supprimée à renvoyer.");
    } else if count == 1 {
        println!("{id} : 1 publication supprimée dans Buffer sera renvoyée.");
    } else {
        println!("{id} : {count} publications supprimées dans Buffer seront renvoyées.");
    }
    Ok(())
}

/// The errors of the configuration that disable a series or a channel:
/// the rest is published.
fn print_config_errors(project: &Project) {
    for diagnostic in project.report.located() {
        if diagnostic.path == CONFIG_PATH && diagnostic.severity == Severity::Error {
            eprintln!(
                "erreur : {}:{}:{} : {}",
                project.report.display_path(&diagnostic.path),
                diagnostic.line,
                diagnostic.column,
                diagnostic.message
            );
        }
    }
    if let Some(config) = &project.config {
        for section in config.broken.keys() {
            eprintln!(
                "désactivé : `[{section}]` a des erreurs ; ce qui en dépend n'est pas publié, le reste l'est"
            );
        }
    }
}

/// Waits for, then holds, the project's pass lock.
pub(super) fn pass_lock(state: &Path) -> anyhow::Result<std::fs::File> {
    let dir = state.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("impossible de créer {}", dir.display()))?;
    let path = dir.join("crieur.pass.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("impossible d'ouvrir {}", path.display()))?;
    file.lock()
        .with_context(|| format!("verrou {}", path.display()))?;
    Ok(file)
}

/// What the pass did; paths are shown from the current folder, as the
/// report shows them.
fn print(summary: &Summary, publisher: &str, dry_run: bool, config: &Config, report: &Report) {
    if dry_run {
        println!("Simulation : rien n'est envoyé ni écrit.");
        for step in &summary.steps {
            println!("{step}");
        }
    }
    for (named, status) in &summary.settled {
        let line = format!(
            "{} : {} ({})",
            status.label(),
            report.display_path(&named.path),
            named.channel
        );
        match status {
            Status::Sent => println!("{line}"),
            _ => eprintln!("{line} : {}", named.message),
        }
    }
    let line = |word: &str, named: &Named| {
        let channel = if named.channel.is_empty() {
            String::new()
        } else {
            format!(" ({})", named.channel)
        };
        eprintln!(
            "{word} : {}{channel} : {}",
            report.display_path(&named.path),
            named.message
        );
    };
    for named in &summary.blocked {
        line("laissé de côté", named);
    }
    for named in &summary.failed {
        line("en échec", named);
    }
    for named in summary
        .waiting
        .iter()
        .filter(|w| !summary.failed.contains(w))
    {
        line("en attente", named);
    }
    for named in &summary.late {
        line("en retard", named);
    }
    for named in &summary.orphans {
        line("version en trop retirée", named);
    }
    for (holder, until) in &summary.holds {
        eprintln!(
            "{holder} demande de patienter : le travail reprend le {} (heure de {}) ; rien n'est perdu, ses posts restent en attente et partent ensuite s'ils sont encore dans le délai de grâce ; les autres canaux continuent.",
            crate::plan::format_local(&until.with_timezone(&config.timezone)),
            config.timezone.name()
        );
    }
    println!(
        "{publisher} : {} créé{}, {} modifié{}, {} retiré{}, {} inchangé{}, {} en attente, {} en échec, {} laissé{} de côté.",
        summary.created.len(),
        plural(summary.created.len()),
        summary.edited.len(),
        plural(summary.edited.len()),
        summary.withdrawn.len(),
        plural(summary.withdrawn.len()),
        summary.unchanged,
        plural(summary.unchanged),
        summary.waiting.len(),
        summary.failed.len(),
        summary.blocked.len(),
        plural(summary.blocked.len()),
    );
}

fn plural(count: usize) -> &'static str {
    if count > 1 { "s" } else { "" }
}

/// The channels that publish directly, each one's credentials checked;
/// returns how many have a problem.
fn direct_channels(config: &crate::config::Config) -> usize {
    let direct: Vec<_> = config
        .channels
        .values()
        .filter_map(|c| c.direct.as_ref().map(|d| (c, d)))
        .collect();
    if direct.is_empty() {
        return 0;
    }
    println!("Canaux publiés en direct :");
    let mut problems = 0;
    let timeout = config.publisher.timeout;
    for (channel, direct) in direct {
        let (place, found) = match direct {
            crate::config::Direct::Mastodon { instance } => {
                let token = std::env::var(publish::mastodon::TOKEN_VARIABLE).unwrap_or_default();
                let mut mastodon =
                    publish::mastodon::Mastodon::new(&channel.id, instance, &token, timeout);
                (instance.clone(), mastodon.verify())
            }
            crate::config::Direct::Bluesky { handle, service } => {
                let password =
                    std::env::var(publish::bluesky::PASSWORD_VARIABLE).unwrap_or_default();
                let mut bluesky = publish::bluesky::Bluesky::new(
                    &channel.id,
                    handle,
                    service,
                    &password,
                    timeout,
                );
                (format!("{handle} sur {service}"), bluesky.verify())
            }
        };
        let verdict = match found {
            Ok(account) => format!("ok : compte {account}"),
            Err(error) => {
                problems += 1;
                format!("PROBLÈME : {error}")
            }
        };
        println!(
            "  {:<10} {:<10} {place}  {verdict}",
            channel.id,
            channel.network.as_str()
        );
    }
    println!();
    problems
}

/// `crieur channels`: the channels that publish directly, their
/// credentials checked; then the configured channels checked against the
/// Buffer account, and the account's organisations and channels (skipped
/// when every channel publishes directly and the project does not use
/// Buffer).
pub fn channels(root: &Path) -> anyhow::Result<Outcome> {
    let project = super::context::load(root)?;
    let config = project.config.as_ref();
    let direct_problems = config.map_or(0, direct_channels);
    let buffer_used = config.is_none_or(|c| {
        matches!(c.publisher.kind, PublisherKind::Buffer { .. })
            || c.channels.values().all(|channel| channel.direct.is_none())
    });
    if !buffer_used {
        return Ok(if direct_problems > 0 {
            Outcome::Invalid
        } else {
            Outcome::Success
        });
    }
    let endpoint = match config.map(|c| &c.publisher.kind) {
        Some(PublisherKind::Buffer { endpoint, .. }) => endpoint.clone(),
        _ => crate::config::BUFFER_ENDPOINT.to_owned(),
    };
    let token = publish::buffer::token().map_err(publish_error)?;
    let mut buffer = Buffer::new(&endpoint, token, "", BufferOptions::default(), Vec::new());
    let organizations = buffer
        .account()
        .map_err(publish_error)
        .context("liste des canaux Buffer")?;
    let all: Vec<RemoteChannel> = organizations
        .iter()
        .flat_map(|(_, _, channels)| channels.iter().cloned())
        .collect();
    let mut mismatches = direct_problems;
    if let Some(config) = config {
        println!("Canaux de config/crieur.toml :");
        let (holds, stalled) = pass::channel_states(config, &all);
        for channel in config.channels.values().filter(|c| c.direct.is_none()) {
            let id = channel.buffer_id.as_deref().unwrap_or("(pas de buffer_id)");
            let verdict = match (holds.get(&channel.id), stalled.get(&channel.id)) {
                (Some(problem), _) => {
                    mismatches += 1;
                    format!("PROBLÈME : {problem}")
                }
                (None, Some(note)) => format!("ok, mais {note}"),
                (None, None) => "ok".to_owned(),
            };
            println!(
                "  {:<10} {:<10} buffer_id = \"{id}\"  {verdict}",
                channel.id,
                channel.network.as_str()
            );
        }
        println!();
    }
    for (id, name, channels) in organizations {
        println!("Organisation « {name} » : organization = \"{id}\"");
        for channel in channels {
            let mut flags = Vec::new();
            if channel.locked {
                flags.push("verrouillé");
            }
            if channel.disconnected {
                flags.push("déconnecté");
            }
            if channel.paused {
                flags.push("file en pause");
            }
            println!(
                "  {:<10} {:<30} buffer_id = \"{}\"{}",
                channel.service,
                channel.name,
                channel.id,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", flags.join(", "))
                }
            );
        }
    }
    Ok(if mismatches > 0 {
        Outcome::Invalid
    } else {
        Outcome::Success
    })
}

//! `crieur publish` and `crieur channels`.

use std::path::Path;

use anyhow::{Context as _, bail};

use crate::cli::PublishArgs;
use crate::config::{Config, PublisherKind};
use crate::media;
use crate::publish::Publisher;
use crate::publish::buffer::{Buffer, Options as BufferOptions, TOKEN_VARIABLE};
use crate::publish::outbox::Outbox;
use crate::publish::reconcile::{self, Options, PassError, Summary};
use crate::store::Store;

use super::Outcome;

pub fn run(root: &Path, args: &PublishArgs) -> anyhow::Result<Outcome> {
    let project = super::load(root)?;
    let Some(config) = project.config.as_ref() else {
        super::print_report(&project.report);
        eprintln!("La configuration a des erreurs : rien n'est publié (voir `crieur check`).");
        return Ok(Outcome::Invalid);
    };
    let now = super::now(config.timezone)?;
    let state = root.join(&config.state);
    // One pass at a time per project: a pass left running by a killed
    // daemon, the daemon's next one, or one started by hand, wait in turn.
    let _pass = if args.dry_run {
        None
    } else {
        Some(pass_lock(&state)?)
    };
    let store = if args.dry_run {
        match Store::open_existing(&state)? {
            Some(store) => store,
            None => Store::in_memory()?,
        }
    } else {
        Store::open(&state)?
    };
    let mut publisher = publisher(root, config)?;
    let mut media = match (&config.media, args.dry_run) {
        (Some(media), false) => Some(media::open(media, root)?),
        _ => None,
    };
    // SIGTERM and SIGINT end the pass after the call in flight, recorded.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).context("signaux SIGTERM et SIGINT")?;
    }
    let options = Options {
        now,
        dry_run: args.dry_run,
        stop: Some(&stop),
    };
    let summary = match reconcile::run(
        &project,
        &store,
        publisher.as_mut(),
        media
            .as_mut()
            .map(|media| &mut **media as &mut dyn media::MediaStore),
        options,
    ) {
        Ok(summary) => summary,
        Err(PassError::InvalidConfig) => {
            super::print_report(&project.report);
            eprintln!("La configuration a des erreurs : rien n'est publié (voir `crieur check`).");
            return Ok(Outcome::Invalid);
        }
        Err(error) => bail!("{error}"),
    };
    print(&summary, publisher.name(), args.dry_run);
    Ok(if summary.failed.is_empty() {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

/// Waits for, then holds, the project's pass lock.
fn pass_lock(state: &Path) -> anyhow::Result<std::fs::File> {
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

/// The publisher the configuration names.
pub fn publisher(root: &Path, config: &Config) -> anyhow::Result<Box<dyn Publisher>> {
    Ok(match &config.publisher.kind {
        PublisherKind::Outbox { dir } => Box::new(Outbox::new(root.join(dir))),
        PublisherKind::Buffer {
            endpoint,
            organization,
        } => {
            let token = token()?;
            Box::new(Buffer::new(
                endpoint,
                token,
                organization,
                BufferOptions {
                    timeout: config.publisher.timeout,
                    ..BufferOptions::default()
                },
            ))
        }
    })
}

fn token() -> anyhow::Result<String> {
    match std::env::var(TOKEN_VARIABLE) {
        Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_owned()),
        _ => bail!(
            "la clé d'API Buffer manque : définissez la variable d'environnement {TOKEN_VARIABLE} (Buffer > Réglages > API)"
        ),
    }
}

fn print(summary: &Summary, publisher: &str, dry_run: bool) {
    if dry_run {
        println!("Simulation : rien n'est envoyé ni écrit.");
        for action in &summary.actions {
            println!("{action}");
        }
    }
    for sent in &summary.sent {
        println!("publié : {sent}");
    }
    for failure in &summary.failed {
        eprintln!(
            "en échec : {} ({}) : {}",
            failure.path, failure.channel, failure.message
        );
    }
    println!(
        "{publisher} : {} créé{}, {} modifié{}, {} retiré{}, {} inchangé{}, {} en échec.",
        summary.created.len(),
        plural(summary.created.len()),
        summary.edited.len(),
        plural(summary.edited.len()),
        summary.withdrawn.len(),
        plural(summary.withdrawn.len()),
        summary.unchanged,
        plural(summary.unchanged),
        summary.failed.len(),
    );
}

fn plural(count: usize) -> &'static str {
    if count > 1 { "s" } else { "" }
}

/// `crieur channels`: the account's organisations and channels.
pub fn channels(root: &Path) -> anyhow::Result<Outcome> {
    let project = super::load(root)?;
    let endpoint = match project.config.as_ref().map(|c| &c.publisher.kind) {
        Some(PublisherKind::Buffer { endpoint, .. }) => endpoint.clone(),
        _ => crate::config::BUFFER_ENDPOINT.to_owned(),
    };
    let buffer = Buffer::new(&endpoint, token()?, "", BufferOptions::default());
    let organizations = buffer.channels().context("liste des canaux Buffer")?;
    for (id, name, channels) in organizations {
        println!("Organisation « {name} » : organization = \"{id}\"");
        for channel in channels {
            let mut flags = Vec::new();
            if channel["isLocked"].as_bool() == Some(true) {
                flags.push("verrouillé");
            }
            if channel["isDisconnected"].as_bool() == Some(true) {
                flags.push("déconnecté");
            }
            if channel["isQueuePaused"].as_bool() == Some(true) {
                flags.push("file en pause");
            }
            println!(
                "  {:<10} {:<30} buffer_id = \"{}\"{}",
                channel["service"].as_str().unwrap_or_default(),
                channel["name"].as_str().unwrap_or_default(),
                channel["id"].as_str().unwrap_or_default(),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", flags.join(", "))
                }
            );
        }
    }
    Ok(Outcome::Success)
}

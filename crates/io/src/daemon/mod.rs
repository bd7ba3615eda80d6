//! `crieur daemon`: publishing on schedule, unattended.
//!
//! The daemon waits small. Its own process holds the lock, the clock, the
//! health server (axum's `/healthz` and `/metrics`, served by
//! [`crate::net::server`]), the file watcher (`notify`, whose events wake
//! the loop), the signal handler (`tokio::signal`: SIGTERM, SIGINT) and
//! the timetable loop, as tokio tasks on one current-thread runtime, and
//! nothing else: it never loads the project, opens the state store or
//! builds an HTTP client. What needs them runs in child processes
//! ([`child`]), `crieur daemon` itself started as a worker, whose memory
//! is given back when they end:
//! - at start, a setup worker reads the configuration: where the state
//!   store is, the clock's zone, and the settings the other workers read
//!   (the configuration's text as read then, so that a file changed later
//!   does not change the daemon's settings until it restarts, as before);
//! - at each wake, a wake worker runs one turn of the loop: on a server,
//!   it fetches the followed repository when that is due and moves to a
//!   new commit only by fast-forward ([`Daemon::follow`]); it runs the
//!   publishing pass when it is due (at start, after a change, at least
//!   every 10 minutes, when the outcome of Buffer's posts is worth reading
//!   within the request budget, or when a wait Buffer asked for is over)
//!   as a child `crieur publish`; it delivers the outbox's due posts,
//!   records a heartbeat in the state store, and answers with the next
//!   instant something is due ([`timing`](crieur_core::timing)) and the
//!   figures `/healthz` and `/metrics` show;
//! - when notifications are due, a flush worker sends them, while the
//!   loop goes on: it never waits for a relay or a webhook, and one send
//!   runs at a time.
//!
//! The loop then waits for that instant, a change of the project's files
//! or a stop: no fixed tick, no drift, no CPU used while waiting. A stop
//! is passed on to the worker and from there to the pass, which finishes
//! its call in flight and records it; the loop stops between two steps,
//! never inside one. A worker whose daemon was killed stops at the next
//! step too. A lock next to the state store keeps to one daemon per
//! project. On a server whose configuration names a repository (`[sync]`)
//! there is no file watcher, since the checkout changes only by
//! following.

mod child;

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use notify::Watcher as _;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::error_text;
use crate::follow::{Follower, meta};
use crate::net::{self, server};
use crate::notify::Notifier;
use crate::publish::outbox::Outbox;
use crate::publish::pass;
use crate::store::{Settle, Store};
use child::Work;
use crieur_core::budget::Budget;
use crieur_core::config::{CONFIG_PATH, Config, DEFAULT_STATE, PublisherKind};
use crieur_core::delivery::Status;
use crieur_core::sync::{Follow, Move, Stop};
use crieur_core::timing::{self, Due};

/// The lock file, next to the state store.
pub const LOCK_FILE: &str = "crieur.lock";

/// Keys of the heartbeat in the store's `meta` table.
pub const LAST_PASS: &str = "daemon.last_pass";
pub const NEXT_WAKE: &str = "daemon.next_wake";
pub const LAST_ERROR: &str = "daemon.last_error";

/// What `/metrics` and `/healthz` report; the wake worker hands it back
/// to the daemon after each turn.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Metrics {
    /// Deliveries by the status `status --json` shows.
    by_status: std::collections::BTreeMap<String, usize>,
    #[serde(with = "instant::option")]
    last_pass: Option<DateTime<Utc>>,
    passes: u64,
    /// Passes that failed in a row (0 after a pass that ran).
    failing: u64,
    /// Requests made to the publisher, and left, per budget window.
    requests: Vec<(String, usize, u32)>,
    /// The state store's file vanished while the daemon ran.
    state_missing: bool,
    /// Posts the last pass left out for their errors.
    blocked: u64,
    /// Deliveries past their instant and the grace, not gone out.
    overdue: usize,
    /// The followed repository, on a server that follows one.
    sync: Option<SyncView>,
}

/// What `/healthz` and `/metrics` say of the followed repository.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct SyncView {
    commit: String,
    author: String,
    #[serde(with = "instant::option")]
    commit_time: Option<DateTime<Utc>>,
    #[serde(with = "instant::option")]
    last_fetch: Option<DateTime<Utc>>,
    /// Why following makes the daemon unhealthy, if it does.
    trouble: Option<String>,
    stopped: bool,
}

/// Instants between the daemon and its workers, as milliseconds since the
/// epoch (chrono's serde support is not built).
mod instant {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, to: S) -> Result<S::Ok, S::Error> {
        to.serialize_i64(at.timestamp_millis())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<DateTime<Utc>, D::Error> {
        let millis = i64::deserialize(from)?;
        DateTime::from_timestamp_millis(millis)
            .ok_or_else(|| serde::de::Error::custom("instant hors limites"))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize as _, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            to: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => to.serialize_some(&at.timestamp_millis()),
                None => to.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            from: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<i64>::deserialize(from)?
                .map(|millis| {
                    DateTime::from_timestamp_millis(millis)
                        .ok_or_else(|| serde::de::Error::custom("instant hors limites"))
                })
                .transpose()
        }
    }
}

/// How the daemon serves and logs (from `crieur daemon`'s options).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where to serve /healthz and /metrics, if anywhere.
    pub health: Option<std::net::SocketAddr>,
    /// Host names /healthz and /metrics answer besides the address's own.
    pub allow_host: Vec<String>,
    pub log_format: LogFormat,
}

/// The daemon's log lines: readable text, or JSON for collectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// The value of `--log-format` that asks for it.
    fn arg(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// What the workers read their settings from, as the setup worker found
/// them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    /// The state store's file.
    state: PathBuf,
    /// The server's configuration, when the root is a server's (`[sync]`).
    server: Option<String>,
    /// The project's configuration; none on a server before its first
    /// fetch, or after one whose configuration did not read.
    config: Option<String>,
}

/// What the setup worker answers.
#[derive(Debug, Serialize, Deserialize)]
struct Setup {
    settings: Settings,
    /// The project's time zone, which the clock reads `CRIEUR_NOW` in.
    timezone: String,
    /// On a server: the repository, its branch, and milliseconds between
    /// fetches.
    follow: Option<(String, String, i64)>,
}

/// What a wake worker is handed: the loop's state.
#[derive(Debug, Serialize, Deserialize)]
struct Wake {
    settings: Settings,
    #[serde(with = "instant")]
    started: DateTime<Utc>,
    #[serde(with = "instant")]
    last_pass: DateTime<Utc>,
    pass_due: bool,
    /// Whether to fetch the followed repository first.
    fetch: bool,
    /// The first wake opens the state store, making it if need be; later
    /// ones find out when its file vanished.
    first: bool,
    metrics: Metrics,
}

/// What a wake worker answers.
#[derive(Debug, Serialize, Deserialize)]
struct Woken {
    #[serde(with = "instant")]
    next: DateTime<Utc>,
    #[serde(with = "instant")]
    last_pass: DateTime<Utc>,
    pass_due: bool,
    /// When the repository was fetched, if it was.
    #[serde(with = "instant::option")]
    fetched: Option<DateTime<Utc>>,
    metrics: Metrics,
    /// The configuration of a newly published commit, when it reads.
    config: Option<String>,
    /// Whether notifications are due to be sent.
    flush: bool,
    /// Why the daemon cannot go on: the state store does not open at start.
    fatal: Option<String>,
    /// Whether the worker stopped on a stop asked.
    stopped: bool,
}

pub fn run(root: &Path, args: &Options) -> anyhow::Result<()> {
    init_logs(args.log_format);
    match Work::asked() {
        Some(work) => run_worker(root, work),
        None => supervise(root, args),
    }
}

/// The daemon itself: the setup worker's answer, the clock, the lock, then
/// the loop until a stop is asked.
fn supervise(root: &Path, args: &Options) -> anyhow::Result<()> {
    let setup = start(root, args.log_format)?;
    let tz = setup.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let started = crate::clock::start(tz)?;
    let _lock = lock(&setup.settings.state)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("démarrage du démon")?;
    runtime.block_on(serve(root, setup, started, args))?;
    info!("démon arrêté");
    Ok(())
}

/// Runs the setup worker: its answer, or the error it stopped on.
fn start(root: &Path, log_format: LogFormat) -> anyhow::Result<Setup> {
    let (code, out) = child::setup(root, log_format.arg()).context("démarrage du démon")?;
    let answer: Result<Setup, String> = serde_json::from_slice(&out).map_err(|_| {
        anyhow::anyhow!(
            "démarrage du démon : la lecture de la configuration a échoué (code {})",
            code.map_or_else(|| "aucun".to_owned(), |code| code.to_string())
        )
    })?;
    answer.map_err(anyhow::Error::msg)
}

/// Starts the tasks, then runs the timetable loop until a stop is asked.
async fn serve(
    root: &Path,
    setup: Setup,
    started: DateTime<Utc>,
    args: &Options,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    if let Some(address) = args.health {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                let why = crieur_core::system::bind_error(
                    &error,
                    address,
                    "--health ADRESSE:PORT",
                    "--health ADRESSE:PORT",
                );
                anyhow::anyhow!("impossible de servir /healthz et /metrics : {why}")
            })?;
        let routes = health_routes(metrics.clone());
        tokio::spawn(server::serve(
            listener,
            routes,
            server::Limits::default(),
            server::Hosts::new(address.ip(), &args.allow_host),
        ));
        info!(%address, "santé servie sur /healthz et /metrics");
    }
    let (stop, stopped) = watch::channel(false);
    let mut signals = net::Signals::new().context("signaux SIGTERM et SIGINT")?;
    tokio::spawn(async move {
        let signal = signals.recv().await;
        info!(signal, "arrêt demandé : fin de l'appel en cours");
        stop.send_replace(true);
    });
    let changes = Arc::new(Notify::new());
    let _watcher = match &setup.follow {
        None => Some(watch_files(root, changes.clone())?),
        Some((git, branch, every)) => {
            info!(
                dépôt = %git,
                branche = %branch,
                toutes_les = %crieur_core::config::format_duration(chrono::Duration::milliseconds(*every)),
                "suivi du dépôt"
            );
            None
        }
    };
    info!(root = %root.display(), "démon démarré");
    let every = setup
        .follow
        .as_ref()
        .map(|(_, _, every)| chrono::Duration::milliseconds(*every));
    let mut daemon = Supervisor {
        root: root.to_owned(),
        log_format: args.log_format,
        settings: setup.settings,
        started,
        every,
        metrics,
        flushing: None,
    };
    let outcome = daemon.run(stopped, &changes).await;
    if let Some(flushing) = daemon.flushing.take() {
        // A send in flight ends with the daemon, as it always did.
        let _ = flushing.await;
    }
    outcome
}

/// The daemon's own state between two wakes: what the loop needs, and
/// nothing of the project.
struct Supervisor {
    root: PathBuf,
    log_format: LogFormat,
    settings: Settings,
    /// When the daemon started: a fetch that never succeeded counts from there.
    started: DateTime<Utc>,
    /// How often the followed repository is fetched, on a server.
    every: Option<chrono::Duration>,
    metrics: Arc<Mutex<Metrics>>,
    /// The flush worker, while notifications are being sent.
    flushing: Option<tokio::task::JoinHandle<()>>,
}

/// Where the loop is between two wakes.
struct Turn {
    pass_due: bool,
    last_pass: DateTime<Utc>,
    next_fetch: DateTime<Utc>,
    first: bool,
}

impl Supervisor {
    /// The timetable loop: a wake worker's turn, then a wait for the next
    /// instant, a change or a stop.
    async fn run(
        &mut self,
        mut stop: watch::Receiver<bool>,
        changes: &Notify,
    ) -> anyhow::Result<()> {
        let mut turn = Turn {
            pass_due: true,
            last_pass: crate::clock::now(),
            next_fetch: crate::clock::now(),
            first: true,
        };
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let next = self.wake(&mut turn, &stop).await?;
            if *stop.borrow() {
                return Ok(());
            }
            let next = match self.every {
                Some(_) => next.min(turn.next_fetch),
                None => next,
            };
            tokio::select! {
                _ = stop.changed() => return Ok(()),
                () = changes.notified() => {
                    // An editor saves in several writes: let them settle.
                    loop {
                        tokio::select! {
                            _ = stop.changed() => return Ok(()),
                            settled = tokio::time::timeout(StdDuration::from_millis(300), changes.notified()) => {
                                if settled.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    info!("fichiers modifiés : nouveau passage");
                    turn.pass_due = true;
                }
                () = tokio::time::sleep(crate::clock::until(next)) => {}
            }
        }
    }

    /// One turn, in a wake worker; returns the instant of the next wake.
    async fn wake(
        &mut self,
        turn: &mut Turn,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<DateTime<Utc>> {
        let fetch = self.every.is_some() && crate::clock::now() >= turn.next_fetch;
        let wake = Wake {
            settings: self.settings.clone(),
            started: self.started,
            last_pass: turn.last_pass,
            pass_due: turn.pass_due,
            fetch,
            first: turn.first,
            metrics: snapshot(&self.metrics),
        };
        let input = serde_json::to_vec(&wake).context("état du démon")?;
        let answer = child::work(
            &self.root,
            Work::Wake,
            self.log_format.arg(),
            input,
            stop.clone(),
        )
        .await;
        let woken = match answer {
            Ok((_, out)) => serde_json::from_slice::<Woken>(&out).ok(),
            Err(error) => {
                error!("impossible de lancer le travail du démon : {error}");
                None
            }
        };
        let Some(woken) = woken else {
            if fetch {
                turn.next_fetch = crate::clock::now() + self.every.unwrap_or_default();
            }
            if !*stop.borrow() {
                error!("le travail du démon s'est interrompu : nouvel essai au prochain tour");
                self.metrics
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .failing += 1;
            }
            return Ok(crate::clock::now() + timing::pass_every());
        };
        if let Some(fatal) = woken.fatal {
            bail!("{fatal}");
        }
        turn.first = false;
        turn.pass_due = woken.pass_due;
        turn.last_pass = woken.last_pass;
        if let (Some(every), true) = (self.every, fetch) {
            turn.next_fetch = woken.fetched.unwrap_or_else(crate::clock::now) + every;
        }
        if woken.config.is_some() {
            self.settings.config = woken.config;
        }
        *self.metrics.lock().unwrap_or_else(|e| e.into_inner()) = woken.metrics;
        if woken.flush && !woken.stopped {
            self.flush(stop);
        }
        Ok(woken.next)
    }

    /// Sends the notifications that are due in a flush worker, unless one
    /// is still at work.
    fn flush(&mut self, stop: &watch::Receiver<bool>) {
        if self
            .flushing
            .as_ref()
            .is_some_and(|task| !task.is_finished())
        {
            return;
        }
        let Ok(input) = serde_json::to_vec(&self.settings) else {
            return;
        };
        let (root, format, stop) = (self.root.clone(), self.log_format.arg(), stop.clone());
        self.flushing = Some(tokio::spawn(async move {
            if let Err(error) = child::work(&root, Work::Flush, format, input, stop).await {
                warn!("notifications : {error}");
            }
        }));
    }
}

/// Runs the work this worker was started for, reading its input on
/// standard input and answering on standard output.
fn run_worker(root: &Path, work: Work) -> anyhow::Result<()> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("entrée du travail du démon")?;
    let answer = match work {
        Work::Setup => serde_json::to_vec(&setup(root).map_err(|error| error_text(&error))),
        Work::Wake => {
            let wake: Wake =
                serde_json::from_slice(&input).context("entrée du travail du démon")?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                // The state store's work, one step at a time.
                .max_blocking_threads(2)
                .build()
                .context("démarrage du démon")?;
            serde_json::to_vec(&runtime.block_on(wake_worker(root, wake)))
        }
        Work::Flush => {
            let settings: Settings =
                serde_json::from_slice(&input).context("entrée du travail du démon")?;
            flush(root, &settings);
            return Ok(());
        }
    };
    let answer = answer.context("réponse du travail du démon")?;
    let mut out = std::io::stdout().lock();
    // A daemon that is gone reads no answer; one that is there says
    // itself when it has none.
    let _ = out.write_all(&answer).and_then(|()| out.flush());
    Ok(())
}

/// The setup worker's work: the configuration read once, as the daemon
/// keeps it.
fn setup(root: &Path) -> anyhow::Result<Setup> {
    let follow = crate::follow::server(root)?;
    let server = match follow {
        Some(_) => Some(read_config(root)?),
        None => None,
    };
    let follower = follow.map(|follow| Follower::new(root, follow));
    let config = match &follower {
        None => {
            let text = read_config(root)?;
            if parse_config(&text, None).is_none() {
                bail!(
                    "la configuration a des erreurs : corrigez-les (voir `crieur check`) avant de lancer le démon"
                );
            }
            Some(text)
        }
        // Before the first fetch there is no project yet.
        Some(follower) => tree_config(follower),
    };
    let parsed = config
        .as_deref()
        .and_then(|text| parse_config(text, follower.as_ref()));
    let state = match (&follower, &parsed) {
        (Some(follower), _) => follower.state(),
        (None, config) => root.join(config.as_ref().map_or(DEFAULT_STATE, |c| c.state.as_str())),
    };
    let timezone = parsed
        .as_ref()
        .map_or(chrono_tz::Europe::Paris, |config| config.timezone);
    Ok(Setup {
        settings: Settings {
            state,
            server,
            config,
        },
        timezone: timezone.name().to_owned(),
        follow: follower.map(|follower| {
            let follow = follower.follow;
            (follow.git, follow.branch, follow.every.num_milliseconds())
        }),
    })
}

/// The text of `config/crieur.toml` under `root`, read as the project's
/// loader reads it: a regular file inside the project, of a reasonable
/// size, in UTF-8. The daemon reads nothing else of the project: each
/// pass loads it afresh.
fn read_config(root: &Path) -> anyhow::Result<String> {
    let path = root.join(CONFIG_PATH);
    if !path.is_file() {
        return Err(crate::loader::LoadError::NotAProject(root.to_owned()).into());
    }
    let unreadable = || format!("impossible de lire {}", path.display());
    let inside = root.canonicalize().with_context(unreadable)?;
    let resolved = path.canonicalize().with_context(unreadable)?;
    if !resolved.starts_with(&inside) {
        bail!(
            "{} : lien symbolique vers l'extérieur du projet ({}) : refusé",
            path.display(),
            resolved.display()
        );
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Never wait on a named pipe swapped in for the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let file = options.open(&resolved).with_context(unreadable)?;
    let limit = crate::loader::MAX_FILE_SIZE;
    let mut bytes = Vec::new();
    if !file.metadata().with_context(unreadable)?.is_file() {
        bail!("{} n'est pas un fichier", path.display());
    }
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(unreadable)?;
    if bytes.len() as u64 > limit {
        bail!("{} : fichier trop gros", path.display());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => Ok(text.to_owned()),
        _ => bail!("{} n'est pas un texte en UTF-8", path.display()),
    }
}

/// The project's configuration in the published commit's checkout, on a
/// server, when it reads.
fn tree_config(follower: &Follower) -> Option<String> {
    let text = read_config(&follower.tree().ok()?).ok()?;
    parse_config(&text, Some(follower)).map(|_| text)
}

/// The project's configuration, when it has no errors; on a server, with
/// the files crieur writes placed under the server's folder, as the
/// project's loader places them.
fn parse_config(text: &str, follower: Option<&Follower>) -> Option<Config> {
    let mut config = Config::parse(text, CONFIG_PATH).0?;
    if let Some(follower) = follower {
        config.state = follower.state().to_string_lossy().into_owned();
        if let PublisherKind::Outbox { dir } = &mut config.publisher.kind {
            *dir = follower.dir.join(&*dir).to_string_lossy().into_owned();
        }
    }
    Some(config)
}

/// The flush worker's work: the notifications that are due, sent.
fn flush(root: &Path, settings: &Settings) {
    let follower = follower(root, settings);
    let Some(config) = settings
        .config
        .as_deref()
        .and_then(|text| parse_config(text, follower.as_ref()))
    else {
        return;
    };
    let _ = crate::clock::start(config.timezone);
    let Some(notify) = &config.notify else {
        return;
    };
    let notifier = Notifier::new(notify, config.timezone);
    let sent = Store::open(&settings.state)
        .map_err(crate::notify::NotifyError::from)
        .and_then(|store| notifier.flush(&store, crate::clock::now()));
    if let Err(error) = sent {
        warn!("notifications : {error}");
    }
}

/// The followed repository, on a server.
fn follower(root: &Path, settings: &Settings) -> Option<Follower> {
    let follow = Follow::parse(settings.server.as_deref()?, CONFIG_PATH).0?;
    Some(Follower::new(root, follow))
}

/// The process that started this one.
#[cfg(unix)]
fn parent() -> u32 {
    std::os::unix::process::parent_id()
}

#[cfg(not(unix))]
fn parent() -> u32 {
    0
}

/// Whether the daemon that started this worker is gone (killed): the
/// worker then stops at the next step, as on a stop.
fn orphaned(started_by: u32) -> bool {
    parent() != started_by
}

/// The wake worker's work: one turn of the loop, on the state store.
async fn wake_worker(root: &Path, wake: Wake) -> Woken {
    let started_by = parent();
    let (stop, stopped) = watch::channel(false);
    // The same stop, for the git commands run on blocking threads.
    let halt = Arc::new(AtomicBool::new(false));
    match net::Signals::new() {
        Ok(mut signals) => {
            let halting = halt.clone();
            tokio::spawn(async move {
                signals.recv().await;
                halting.store(true, Ordering::Relaxed);
                stop.send_replace(true);
            });
        }
        Err(error) => warn!("signaux SIGTERM et SIGINT : {error}"),
    }
    let mut woken = Woken {
        next: crate::clock::now() + timing::pass_every(),
        last_pass: wake.last_pass,
        pass_due: wake.pass_due,
        fetched: None,
        metrics: wake.metrics.clone(),
        config: None,
        flush: false,
        fatal: None,
        stopped: false,
    };
    let (root, settings, first) = (root.to_owned(), wake.settings.clone(), wake.first);
    let opened = tokio::task::spawn_blocking(move || open_store(&settings.state, first)).await;
    let store = match opened {
        Ok(Ok(store)) => store,
        Ok(Err(error)) => {
            woken.fatal = Some(error_text(&error.into()));
            return woken;
        }
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    };
    let daemon = Daemon::new(&root, &wake, store);
    let shared = Shared(Arc::new(Mutex::new(daemon)));
    shared
        .turn(&root, &wake, &mut woken, stopped, halt, || {
            orphaned(started_by)
        })
        .await;
    woken
}

/// The state store: opened (and made) at the first wake; later, a store
/// whose file vanished is reported by [`Daemon::watch_state`] and worked
/// on in memory until a pass makes a new one, and one that does not open
/// is said in the log and worked on in memory as well.
fn open_store(state: &Path, first: bool) -> Result<Store, crate::store::StoreError> {
    if first {
        return Store::open(state);
    }
    if state.is_file() {
        match Store::open(state) {
            Ok(store) => return Ok(store),
            Err(error) => error!("{error}"),
        }
    }
    Store::open(Path::new(":memory:"))
}

struct Daemon {
    root: PathBuf,
    state: PathBuf,
    store: Store,
    metrics: Arc<Mutex<Metrics>>,
    grace: chrono::Duration,
    budget: Budget,
    outbox: Option<Outbox>,
    /// The repository followed, on a server.
    follower: Option<Follower>,
    /// When the daemon started: a fetch that never succeeded counts from there.
    started: DateTime<Utc>,
    /// Who hears when something goes wrong (`[notify]`).
    notifier: Option<Notifier>,
    /// Whether notifications are due to be sent.
    flush: bool,
    /// The configuration of a commit published during this turn.
    config: Option<String>,
}

/// The daemon's state, worked on from tokio's blocking threads.
#[derive(Clone)]
struct Shared(Arc<Mutex<Daemon>>);

impl Shared {
    /// Runs synchronous work on the daemon (the state store, the outbox's
    /// folders) on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Daemon) -> T + Send + 'static,
    ) -> T {
        let daemon = self.0.clone();
        let task = tokio::task::spawn_blocking(move || {
            work(&mut daemon.lock().unwrap_or_else(|e| e.into_inner()))
        });
        match task.await {
            Ok(value) => value,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// One turn of the timetable loop: a fetch when one is due, a pass
    /// when one is due, the outbox's deliveries and the heartbeat; fills
    /// `woken` with the next wake and what the daemon keeps.
    async fn turn(
        &self,
        root: &Path,
        wake: &Wake,
        woken: &mut Woken,
        stop: watch::Receiver<bool>,
        halt: Arc<AtomicBool>,
        orphaned: impl Fn() -> bool,
    ) {
        let stopping = || *stop.borrow() || orphaned();
        let (mut pass_due, mut last_pass) = (wake.pass_due, wake.last_pass);
        if wake.fetch {
            let halt = halt.clone();
            if self.with(move |daemon| daemon.follow(&halt)).await {
                pass_due = true;
            }
            woken.fetched = Some(crate::clock::now());
        }
        let halting = halt.clone();
        let due = self
            .with(move |daemon| {
                daemon.watch_state();
                let now = crate::clock::now();
                let publisher_due = daemon.publisher_wake(last_pass).is_some_and(|at| at <= now);
                let due = pass_due || publisher_due || now - last_pass >= timing::pass_every();
                due && daemon.ready_for_pass(&halting)
            })
            .await;
        if due && !orphaned() {
            let now = crate::clock::now();
            info!("début du passage");
            let finished = child::run_pass(root, stop.clone()).await;
            self.with(move |daemon| daemon.record_pass(now, finished))
                .await;
            last_pass = now;
            pass_due = false;
            if !orphaned() && self.with(|daemon| daemon.engagement_due()).await {
                let finished = child::run_refresh(root, stop.clone()).await;
                self.with(|daemon| daemon.record_refresh(finished)).await;
            }
        }
        woken.last_pass = last_pass;
        woken.pass_due = pass_due;
        if stopping() {
            woken.stopped = true;
        } else {
            woken.next = self
                .with(move |daemon| daemon.deliver_and_plan(last_pass))
                .await;
        }
        let (metrics, config, flush) = self
            .with(|daemon| {
                (
                    snapshot(&daemon.metrics),
                    daemon.config.take(),
                    daemon.flush,
                )
            })
            .await;
        woken.metrics = metrics;
        woken.config = config;
        woken.flush = flush;
    }
}

impl Daemon {
    /// The daemon as a wake worker holds it for one turn: its settings
    /// from the configuration read at start (or at the last commit
    /// published), its figures from the daemon.
    fn new(root: &Path, wake: &Wake, store: Store) -> Daemon {
        let follower = follower(root, &wake.settings);
        let config = wake
            .settings
            .config
            .as_deref()
            .and_then(|text| parse_config(text, follower.as_ref()));
        if let Some(config) = &config {
            let _ = crate::clock::start(config.timezone);
        }
        let mut daemon = Daemon {
            root: root.to_owned(),
            state: wake.settings.state.clone(),
            store,
            metrics: Arc::new(Mutex::new(wake.metrics.clone())),
            grace: chrono::Duration::hours(1),
            budget: Budget::default(),
            outbox: None,
            follower,
            started: wake.started,
            notifier: None,
            flush: false,
            config: None,
        };
        if let Some(config) = &config {
            daemon.configure(config);
        }
        daemon
    }

    /// Takes the settings the daemon keeps from the project's
    /// configuration: the grace, the request budget, the outbox.
    fn configure(&mut self, config: &Config) {
        self.grace = config.grace;
        self.budget = config.publisher.budget.clone();
        self.notifier = config
            .notify
            .as_ref()
            .map(|notify| Notifier::new(notify, config.timezone));
        self.outbox = match &config.publisher.kind {
            PublisherKind::Outbox { dir } => Some(Outbox::new(self.root.join(dir))),
            PublisherKind::Buffer { .. } => None,
        };
    }

    fn meta(&self, key: &str) -> String {
        self.store.meta(key).ok().flatten().unwrap_or_default()
    }

    fn set(&self, key: &str, value: &str) {
        if let Err(error) = self.store.set_meta(key, value) {
            self.failure(&error.to_string());
        }
    }

    /// Whether a pass may run: always, but on a server before the first
    /// commit is checked out. A checkout changed by hand is set aside
    /// first, so the pass reads the commit's own files.
    fn ready_for_pass(&mut self, halt: &AtomicBool) -> bool {
        let Some(follower) = self.follower.clone() else {
            return true;
        };
        if follower.published().is_none() {
            return false;
        }
        self.check_hand(&follower, halt);
        true
    }

    /// Sets aside files changed by hand in the checkout and stops
    /// following until a person resumes it.
    fn check_hand(&mut self, follower: &Follower, halt: &AtomicBool) {
        let files = match follower.changed_by_hand(halt) {
            Ok(files) if files.is_empty() => return,
            Ok(files) => files,
            Err(error) => {
                self.failure(&error.to_string());
                return;
            }
        };
        match follower.set_aside(crate::clock::now(), halt) {
            Ok(kept) => {
                let stop = Stop::ChangedByHand {
                    files,
                    kept: kept.display().to_string(),
                };
                self.stop_following(&stop, "hand");
            }
            Err(error) => self.failure(&error.to_string()),
        }
    }

    fn stop_following(&mut self, stop: &Stop, kind: &str) {
        let message = stop.message();
        if self.meta(meta::STOPPED) != message {
            error!(que_faire = %stop.hint(), "{message}");
        }
        self.set(meta::STOPPED, &message);
        self.set(meta::STOPPED_HINT, &stop.hint());
        self.set(meta::STOP_KIND, kind);
    }

    fn resume_following(&mut self) {
        if !self.meta(meta::STOPPED).is_empty() {
            info!("suivi du dépôt repris");
        }
        for key in [meta::STOPPED, meta::STOPPED_HINT, meta::STOP_KIND] {
            self.set(key, "");
        }
    }

    /// Fetches the followed repository and moves to its commit when that is
    /// a fast-forward (or what a person accepted); returns whether the
    /// commit being published changed. A failing fetch, a rewrite or a
    /// stop keeps the commit there is: nothing is withdrawn for it.
    fn follow(&mut self, halt: &AtomicBool) -> bool {
        let Some(follower) = self.follower.clone() else {
            return false;
        };
        let now = crate::clock::now();
        if !self.meta(meta::RESUME).is_empty() {
            if self.meta(meta::STOP_KIND) == "hand" {
                self.resume_following();
            }
            self.set(meta::RESUME, "");
        }
        if follower.published().is_some() {
            self.check_hand(&follower, halt);
        }
        let moved = match follower.fetch(halt) {
            Err(error) => {
                let message = error.to_string();
                let last = self.meta(meta::FETCHED);
                if crieur_core::sync::trouble(None, parse_instant(&last), self.started, now)
                    .is_some()
                {
                    error!(dernière_réussite = %last, "le dépôt ne peut plus être récupéré : {message}");
                } else {
                    warn!(
                        "récupération du dépôt impossible, nouvel essai au prochain tour : {message}"
                    );
                }
                self.set(meta::FETCH_ERROR, &message);
                false
            }
            Ok(remote) => {
                self.set(
                    meta::FETCHED,
                    &now.to_rfc3339_opts(SecondsFormat::Secs, true),
                );
                self.set(meta::FETCH_ERROR, "");
                self.step(&follower, &remote, halt)
            }
        };
        self.count(now, false);
        moved
    }

    /// After a fetch: the one rule of following ([`crieur_core::sync::decide`]).
    fn step(&mut self, follower: &Follower, remote: &str, halt: &AtomicBool) -> bool {
        let kind = self.meta(meta::STOP_KIND);
        if kind == "hand" && !self.meta(meta::STOPPED).is_empty() {
            return false;
        }
        let published = follower.published();
        let descends = published
            .as_deref()
            .is_some_and(|from| follower.descends(from, remote, halt).unwrap_or(false));
        let accepted = Some(self.meta(meta::ACCEPT)).filter(|id| !id.is_empty());
        match crieur_core::sync::decide(published.as_deref(), remote, descends, accepted.as_deref())
        {
            Move::Stay => {
                if kind == "rewrite" {
                    self.resume_following();
                }
                self.record_commit(follower, remote, halt);
                false
            }
            Move::Forward(id) => match follower.checkout(&id, halt) {
                Ok(_) => {
                    if let Some(text) = tree_config(follower)
                        && let Some(config) = parse_config(&text, Some(follower))
                    {
                        self.configure(&config);
                        self.config = Some(text);
                    }
                    self.resume_following();
                    self.set(meta::ACCEPT, "");
                    self.record_commit(follower, &id, halt);
                    true
                }
                Err(error) => {
                    self.failure(&format!("impossible d'extraire le commit {id} : {error}"));
                    false
                }
            },
            Move::Stop(stop) => {
                self.stop_following(&stop, "rewrite");
                false
            }
        }
    }

    /// Records the commit being published (for `status`), and logs it when
    /// it is new.
    fn record_commit(&mut self, follower: &Follower, id: &str, halt: &AtomicBool) {
        if self.meta(meta::COMMIT) == id {
            return;
        }
        match follower.commit(id, halt) {
            Ok(commit) => {
                info!(
                    commit = %commit.id,
                    auteur = %commit.author,
                    date = %commit.time,
                    titre = %commit.title,
                    "commit publié"
                );
                self.set(meta::COMMIT, &commit.id);
                self.set(meta::AUTHOR, &commit.author);
                self.set(meta::TIME, &commit.time);
                self.set(meta::TITLE, &commit.title);
            }
            Err(error) => self.failure(&error.to_string()),
        }
    }

    /// What following says now, for `/healthz` and `/metrics`.
    fn sync_view(&self, now: DateTime<Utc>) -> Option<SyncView> {
        self.follower.as_ref()?;
        let stopped = self.meta(meta::STOPPED);
        let last_fetch = parse_instant(&self.meta(meta::FETCHED));
        Some(SyncView {
            commit: self.meta(meta::COMMIT),
            author: self.meta(meta::AUTHOR),
            commit_time: parse_instant(&self.meta(meta::TIME)),
            last_fetch,
            trouble: crieur_core::sync::trouble(Some(&stopped), last_fetch, self.started, now),
            stopped: !stopped.is_empty(),
        })
    }

    /// Delivers what is due in the outbox, then records and returns the
    /// instant of the next wake.
    fn deliver_and_plan(&mut self, last_pass: DateTime<Utc>) -> DateTime<Utc> {
        let now = crate::clock::now();
        self.due(now);
        self.notify(now);
        let deliveries = self.store.deliveries().unwrap_or_default();
        let next = timing::next_wake(
            &deliveries,
            last_pass,
            now,
            self.outbox.is_some(),
            self.publisher_wake(last_pass),
        );
        self.heartbeat(NEXT_WAKE, &next);
        next
    }

    /// Tells what went wrong or cleared since the last word (and the
    /// weekly digest when due), and whether there is something to send:
    /// the daemon sends it in a flush worker, while the loop goes on.
    fn notify(&mut self, now: DateTime<Utc>) {
        let Some(notifier) = self.notifier.clone() else {
            return;
        };
        let failing = self.lock_metrics().failing;
        let last_error = self.meta(LAST_ERROR);
        let told = crate::notify::gather(&self.store, failing, &last_error)
            .and_then(|problems| notifier.announce(&self.store, &problems, now))
            .and_then(|_| notifier.digest(&self.store, now));
        if let Err(error) = told {
            warn!("notifications : {error}");
        }
        self.flush = crate::notify::due(&self.store, now);
    }

    fn publisher_wake(&self, last_pass: DateTime<Utc>) -> Option<DateTime<Utc>> {
        publisher_wake(
            &self.store,
            &self.budget,
            self.outbox.is_some(),
            last_pass,
            crate::clock::now(),
        )
    }

    /// The state store must stay where it is: if its file vanished, the
    /// next pass starts a new one and adopts what the publisher holds, and
    /// the daemon says so loudly and reports itself unhealthy until then.
    fn watch_state(&mut self) {
        let missing = !self.state.is_file();
        let was_missing = self.lock_metrics().state_missing;
        if missing && !was_missing {
            error!(
                state = %self.state.display(),
                "la base d'état a disparu : le prochain passage en crée une nouvelle et reprend chez l'éditeur ce qui y est déjà (aucun post n'est recréé) ; restaurez la sauvegarde si vous en avez une"
            );
        }
        if !missing && was_missing {
            // The pass recreated it: work with the new file.
            match Store::open(&self.state) {
                Ok(store) => self.store = store,
                Err(error) => self.failure(&error.to_string()),
            }
        }
        self.lock_metrics().state_missing = missing;
    }

    fn lock_metrics(&self) -> std::sync::MutexGuard<'_, Metrics> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one reconcile pass: `crieur publish`, run as a child
    /// process ([`child::run_pass`]), so that the memory a pass needs (the
    /// project, fonts, images) is given back when it ends and the daemon
    /// waits small.
    fn record_pass(&mut self, now: DateTime<Utc>, finished: std::io::Result<child::Finished>) {
        let (code, out, err) = match finished {
            Ok(finished) => finished,
            Err(error) => {
                self.failure(&format!("impossible de lancer le passage : {error}"));
                self.lock_metrics().failing += 1;
                return;
            }
        };
        for line in err.lines().filter(|line| !line.trim().is_empty()) {
            warn!("{line}");
        }
        let summary = out.lines().last().unwrap_or_default().to_owned();
        match code {
            Some(0) => {
                info!(résumé = %summary, "passage terminé");
                let _ = self.store.set_meta(LAST_ERROR, "");
                self.lock_metrics().failing = 0;
            }
            Some(1) => {
                info!(résumé = %summary, "passage terminé ; des posts demandent votre attention");
                let first = err
                    .lines()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or_default();
                let _ = self.store.set_meta(LAST_ERROR, first);
                self.lock_metrics().failing = 0;
            }
            _ => {
                let last = err
                    .lines()
                    .last()
                    .unwrap_or("le passage a échoué")
                    .to_owned();
                self.failure(&last);
                self.lock_metrics().failing += 1;
            }
        }
        self.heartbeat(LAST_PASS, &now);
        self.count(now, true);
    }

    /// Whether the networks' figures are a day old: read again after this
    /// pass, in a child of its own.
    fn engagement_due(&self) -> bool {
        crate::publish::engagement::due(&self.store, crate::clock::now()).unwrap_or(false)
    }

    /// Logs what the reading of the figures said.
    fn record_refresh(&mut self, finished: std::io::Result<child::Finished>) {
        match finished {
            Ok((code, _, err)) => {
                for line in err.lines().filter(|line| !line.trim().is_empty()) {
                    warn!("{line}");
                }
                if code == Some(0) {
                    info!("chiffres des réseaux relevés");
                }
            }
            Err(error) => warn!("impossible de relever les chiffres des réseaux : {error}"),
        }
    }

    /// Delivers the outbox's due posts.
    fn due(&mut self, now: DateTime<Utc>) {
        let deliveries = self.store.deliveries().unwrap_or_default();
        let Some(outbox) = &self.outbox else {
            return;
        };
        for due in timing::due(&deliveries, now, self.grace, true) {
            let outcome = match &due {
                Due::Deliver(key, remote) => match outbox.deliver(remote) {
                    Ok(()) => {
                        info!(post = %key.post_id, channel = %key.channel, "publié");
                        self.store.settle(key, Settle::status(Status::Sent), now)
                    }
                    Err(error) => self.store.settle(
                        key,
                        Settle {
                            error: Some(&error.to_string()),
                            ..Settle::status(Status::Error)
                        },
                        now,
                    ),
                },
                Due::Miss(key, remote) => {
                    let _ = outbox.miss(remote);
                    warn!(post = %key.post_id, channel = %key.channel, "manqué");
                    let message = format!(
                        "manqué : l'heure prévue est passée de plus de {} min pendant que le démon était arrêté",
                        self.grace.num_minutes()
                    );
                    self.store.settle(
                        key,
                        Settle {
                            error: Some(&message),
                            ..Settle::status(Status::Missed)
                        },
                        now,
                    )
                }
            };
            if let Err(error) = outcome {
                self.failure(&error.to_string());
            }
        }
        self.count(now, false);
    }

    fn failure(&self, message: &str) {
        error!("{message}");
        let _ = self.store.set_meta(LAST_ERROR, message);
    }

    fn heartbeat(&self, key: &str, at: &DateTime<Utc>) {
        let _ = self
            .store
            .set_meta(key, &at.to_rfc3339_opts(SecondsFormat::Secs, true));
    }

    fn count(&self, now: DateTime<Utc>, passed: bool) {
        let deliveries = self.store.deliveries().unwrap_or_default();
        let made = self.store.requests().unwrap_or_default();
        let sync = self.sync_view(now);
        let overdue = timing::overdue(&deliveries, now, self.grace).len();
        let mut metrics = self.lock_metrics();
        metrics.by_status.clear();
        for status in Status::ALL {
            metrics
                .by_status
                .entry(status.public().to_owned())
                .or_insert(0);
        }
        for delivery in &deliveries {
            *metrics
                .by_status
                .entry(delivery.status.public().to_owned())
                .or_insert(0) += 1;
        }
        metrics.requests = self
            .budget
            .left(&made, crate::clock::now())
            .into_iter()
            .map(|(window, left)| {
                let used = made
                    .iter()
                    .filter(|at| **at > crate::clock::now() - window.span)
                    .count();
                (window.name(), used, left)
            })
            .collect();
        metrics.sync = sync;
        metrics.overdue = overdue;
        metrics.blocked = self
            .store
            .meta(crate::publish::pass::BLOCKED)
            .ok()
            .flatten()
            .and_then(|count| count.parse().ok())
            .unwrap_or_default();
        if passed {
            metrics.last_pass = Some(now);
            metrics.passes += 1;
        }
    }
}

/// When the publishers next need a pass: to send a post that goes out at
/// its time, to read the outcome of posts whose instant passed (spaced to
/// keep within the request budget), or once a wait one of them asked for
/// is over. Only instants after the last pass count, so a poll that could
/// not run does not make the loop spin.
pub fn publisher_wake(
    store: &Store,
    budget: &Budget,
    delivers_itself: bool,
    last_pass: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let deliveries = store.deliveries().unwrap_or_default();
    // Posts that go out at their time from here (Bluesky, and Mastodon
    // a few minutes ahead): a pass at that instant sends them.
    let at_their_time = pass::next_waiting(&deliveries, last_pass);
    if delivers_itself {
        return at_their_time.filter(|at| *at > last_pass);
    }
    let instant = |key: &str| {
        store
            .meta(key)
            .ok()
            .flatten()
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|at| at.with_timezone(&Utc))
    };
    let awaiting = pass::awaiting(&deliveries, now);
    let upcoming = deliveries
        .iter()
        .filter(|d| d.status == Status::Queued && d.at > now)
        .map(|d| d.at)
        .min();
    let poll = pass::next_poll(&awaiting, upcoming, instant(pass::LAST_POLL), budget);
    // Each publisher's wait is its own: the earliest end is a reason to
    // pass (the others' channels were never held).
    let resume = pass::active_holds(store, now)
        .unwrap_or_default()
        .into_values()
        .min();
    [poll, resume, at_their_time]
        .into_iter()
        .flatten()
        .filter(|at| *at > last_pass)
        .min()
}

/// An instant the state store holds (RFC 3339).
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Takes the project's lock, or says who holds it.
///
/// The lock is held on the state folder itself, opened and locked for as
/// long as the returned handle lives: deleting or replacing the lock file
/// cannot release it. The lock file only tells which process holds it.
fn lock(state: &Path) -> anyhow::Result<File> {
    let dir = state.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("impossible de créer {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let folder =
        File::open(dir).with_context(|| format!("impossible d'ouvrir {}", dir.display()))?;
    match folder.try_lock() {
        Ok(()) => {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&path)
                .with_context(|| format!("impossible d'ouvrir {}", path.display()))?;
            writeln!(file, "{}", std::process::id())?;
            Ok(folder)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = match holder.trim() {
                "" => "inconnu".to_owned(),
                pid => pid.to_owned(),
            };
            bail!(
                "un autre « crieur daemon » tourne déjà sur ce projet (processus {holder}, verrou sur {}) : arrêtez-le avant d'en lancer un autre",
                dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("verrou {}", dir.display()))
        }
    }
}

/// Whether a daemon holds the project's lock (on the state folder).
pub fn is_running(state: &Path) -> bool {
    let dir = state.parent().unwrap_or(Path::new("."));
    let Ok(folder) = File::open(dir) else {
        return false;
    };
    matches!(
        folder.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// Watches the project's files; each change wakes the loop (changes that
/// come while it works are folded into one).
fn watch_files(root: &Path, changes: Arc<Notify>) -> anyhow::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && matches!(
                event.kind,
                notify::EventKind::Create(_)
                    | notify::EventKind::Modify(_)
                    | notify::EventKind::Remove(_)
            )
        {
            changes.notify_one();
        }
    })
    .context("surveillance des fichiers")?;
    for (dir, mode) in [
        ("posts", notify::RecursiveMode::Recursive),
        ("config", notify::RecursiveMode::NonRecursive),
        ("assets/templates", notify::RecursiveMode::NonRecursive),
    ] {
        let path = root.join(dir);
        if path.is_dir() {
            watcher
                .watch(&path, mode)
                .with_context(|| format!("surveillance de {}", path.display()))?;
        }
    }
    Ok(watcher)
}

/// `/healthz` and `/metrics`; any other path is 404.
fn health_routes(metrics: Arc<Mutex<Metrics>>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "introuvable\n".into(), PLAIN) })
        .with_state(metrics)
}

const PLAIN: &str = "text/plain; charset=utf-8";

/// The OpenMetrics text format, as Prometheus asks for it.
const PROMETHEUS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn text(status: StatusCode, body: String, kind: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

fn snapshot(metrics: &Mutex<Metrics>) -> Metrics {
    metrics.lock().map(|m| m.clone()).unwrap_or_default()
}

async fn healthz(Extract(metrics): Extract<Arc<Mutex<Metrics>>>) -> Response<Body> {
    let (status, body) = health(&snapshot(&metrics), crate::clock::now());
    text(
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        body,
        PLAIN,
    )
}

async fn metrics_text(Extract(metrics): Extract<Arc<Mutex<Metrics>>>) -> Response<Body> {
    text(StatusCode::OK, prometheus(&snapshot(&metrics)), PROMETHEUS)
}

/// 200 while passes run and succeed and the state store is in place.
fn health(metrics: &Metrics, now: DateTime<Utc>) -> (u16, String) {
    let fresh = metrics
        .last_pass
        .is_some_and(|at| now - at < timing::pass_every() * 2);
    if metrics.state_missing {
        (503, "la base d'état a disparu\n".to_owned())
    } else if metrics.failing > 0 {
        (
            503,
            match metrics.failing {
                1 => "1 passage en échec\n".to_owned(),
                n => format!("{n} passages en échec d'affilée\n"),
            },
        )
    } else if let Some(trouble) = metrics.sync.as_ref().and_then(|sync| sync.trouble.as_ref()) {
        (503, format!("{trouble}\n"))
    } else if metrics.overdue > 0 {
        (
            503,
            match metrics.overdue {
                1 => "1 post en retard : son heure et le délai de grâce sont passés, il n'est pas parti\n".to_owned(),
                n => format!("{n} posts en retard : leur heure et le délai de grâce sont passés, ils ne sont pas partis\n"),
            },
        )
    } else if !fresh {
        (503, "pas de passage récent\n".to_owned())
    } else {
        (200, format!("ok\n{}", following(metrics.sync.as_ref())))
    }
}

/// Which commit is published and when the repository was last fetched,
/// after `/healthz`'s first line, on a server.
fn following(sync: Option<&SyncView>) -> String {
    let Some(sync) = sync else {
        return String::new();
    };
    let at = |instant: Option<DateTime<Utc>>| {
        instant.map_or_else(
            || "jamais".to_owned(),
            |at| at.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
    };
    format!(
        "commit publié : {} de {} ({})\ndernière récupération réussie : {}\n",
        crieur_core::sync::short(&sync.commit),
        sync.author,
        at(sync.commit_time),
        at(sync.last_fetch)
    )
}

/// The metrics in the OpenMetrics text format, which Prometheus scrapes.
fn prometheus(metrics: &Metrics) -> String {
    type Labels = Vec<(&'static str, String)>;
    let family = |values: Vec<(Labels, i64)>| {
        let family = Family::<Labels, Gauge>::default();
        for (labels, value) in values {
            family.get_or_create(&labels).set(value);
        }
        family
    };
    let count = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
    let mut registry = Registry::default();
    registry.register(
        "crieur_posts",
        "Deliveries by status",
        family(
            metrics
                .by_status
                .iter()
                .map(|(status, n)| (vec![("status", status.clone())], count(*n)))
                .collect(),
        ),
    );
    registry.register(
        "crieur_requests",
        "Requests made to the publisher in the budget window",
        family(
            metrics
                .requests
                .iter()
                .map(|(window, used, _)| (vec![("window", window.clone())], count(*used)))
                .collect(),
        ),
    );
    registry.register(
        "crieur_requests_left",
        "Requests left in the publisher's budget window",
        family(
            metrics
                .requests
                .iter()
                .map(|(window, _, left)| (vec![("window", window.clone())], i64::from(*left)))
                .collect(),
        ),
    );
    registry.register(
        "crieur_last_pass_timestamp_seconds",
        "When the last pass ran",
        gauge(metrics.last_pass.map_or(0, |at| at.timestamp())),
    );
    let passes = Counter::<u64>::default();
    passes.inc_by(metrics.passes);
    registry.register("crieur_passes", "Passes since start", passes);
    registry.register(
        "crieur_failing_passes",
        "Passes that failed in a row",
        gauge(i64::try_from(metrics.failing).unwrap_or(i64::MAX)),
    );
    registry.register(
        "crieur_state_missing",
        "Whether the state store's file vanished",
        gauge(i64::from(metrics.state_missing)),
    );
    registry.register(
        "crieur_blocked_posts",
        "Posts left out for their errors: their slots stay empty",
        gauge(i64::try_from(metrics.blocked).unwrap_or(i64::MAX)),
    );
    registry.register(
        "crieur_overdue_posts",
        "Deliveries past their time and grace that have not gone out",
        gauge(count(metrics.overdue)),
    );
    if let Some(sync) = &metrics.sync {
        register_sync(&mut registry, sync);
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// A gauge that reads `value`.
fn gauge(value: i64) -> Gauge<i64> {
    let gauge = Gauge::<i64>::default();
    gauge.set(value);
    gauge
}

/// The followed repository's metrics, on a server.
fn register_sync(registry: &mut Registry, sync: &SyncView) {
    let commit = Family::<Vec<(&'static str, String)>, Gauge>::default();
    commit
        .get_or_create(&vec![("commit", sync.commit.clone())])
        .set(1);
    registry.register(
        "crieur_sync_commit",
        "The commit of the followed repository being published",
        commit,
    );
    registry.register(
        "crieur_sync_commit_timestamp_seconds",
        "When the commit being published was made",
        gauge(sync.commit_time.map_or(0, |at| at.timestamp())),
    );
    registry.register(
        "crieur_sync_last_fetch_timestamp_seconds",
        "When the followed repository was last fetched successfully",
        gauge(sync.last_fetch.map_or(0, |at| at.timestamp())),
    );
    registry.register(
        "crieur_sync_following",
        "Whether the daemon follows the repository (0: stopped, see status)",
        gauge(i64::from(!sync.stopped)),
    );
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        let mut metrics = Metrics {
            last_pass: Some(crate::clock::now()),
            passes: 3,
            requests: vec![("15min".into(), 4, 96), ("24h".into(), 10, 240)],
            ..Metrics::default()
        };
        for status in Status::ALL {
            metrics.by_status.insert(status.public().to_owned(), 0);
        }
        metrics.by_status.insert("queued".to_owned(), 5);
        metrics
    }

    /// Reads the OpenMetrics text format as a scraper does: each sample's
    /// family announced by `# HELP` and `# TYPE` before it, names and label values
    /// well formed, values numbers, a counter's sample named `_total`, and
    /// `# EOF` last.
    fn scrape(text: &str) -> Vec<(String, String, f64)> {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helped = Vec::new();
        let mut samples = Vec::new();
        let name_ok = |name: &str| {
            name.starts_with("crieur_")
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        assert_eq!(text.lines().last(), Some("# EOF"), "{text}");
        for line in text.lines().filter(|line| *line != "# EOF") {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("a HELP text");
                assert!(name_ok(name) && !help.is_empty(), "{line}");
                helped.push(name.to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("a TYPE");
                assert!(matches!(kind, "counter" | "gauge"), "{line}");
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "{line}"
                );
            } else {
                let (series, value) = line.rsplit_once(' ').expect("a sample");
                let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
                let (name, labels) = match series.split_once('{') {
                    Some((name, labels)) => (name, labels.strip_suffix('}').expect(line)),
                    None => (series, ""),
                };
                let family = match types.get(name) {
                    Some(_) => name,
                    None => name.strip_suffix("_total").unwrap_or(name),
                };
                let kind = types
                    .get(family)
                    .unwrap_or_else(|| panic!("no TYPE for {line}"));
                assert!(helped.iter().any(|h| h == family), "no HELP for {line}");
                assert!(name_ok(name), "{line}");
                assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
                for label in labels.split(',').filter(|l| !l.is_empty()) {
                    let (key, value) = label.split_once('=').expect(line);
                    assert!(key.chars().all(|c| c.is_ascii_lowercase()), "{line}");
                    assert!(value.starts_with('"') && value.ends_with('"'), "{line}");
                }
                samples.push((name.to_owned(), labels.to_owned(), value));
            }
        }
        samples
    }

    use std::collections::HashMap;

    #[test]
    fn metrics_are_prometheus_text_a_scraper_reads_as_is() {
        let samples = scrape(&prometheus(&metrics()));
        let value = |name: &str, labels: &str| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && l == labels)
                .map(|(_, _, v)| *v)
        };
        assert_eq!(value("crieur_posts", "status=\"queued\""), Some(5.0));
        assert_eq!(value("crieur_posts", "status=\"error\""), Some(0.0));
        assert_eq!(value("crieur_passes_total", ""), Some(3.0));
        assert_eq!(value("crieur_requests", "window=\"15min\""), Some(4.0));
        assert_eq!(value("crieur_requests_left", "window=\"24h\""), Some(240.0));
        assert!(value("crieur_last_pass_timestamp_seconds", "").is_some_and(|at| at > 1.7e9));
        assert_eq!(value("crieur_failing_passes", ""), Some(0.0));
        assert_eq!(value("crieur_state_missing", ""), Some(0.0));
        assert_eq!(value("crieur_blocked_posts", ""), Some(0.0));
    }

    #[test]
    fn health_and_metrics_are_axum_routes_with_prometheus_content_type() {
        let shared = Arc::new(Mutex::new(metrics()));
        let server =
            server::testing::start(health_routes(shared.clone()), server::Limits::default());
        let (status, answer) = server::testing::get(server.address, "/metrics");
        assert_eq!(status, 200);
        assert!(
            answer.contains(
                "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"
            ),
            "{answer}"
        );
        assert!(answer.contains("crieur_passes_total 3"), "{answer}");
        assert_eq!(server::testing::get(server.address, "/healthz").0, 200);
        shared.lock().unwrap().failing = 2;
        let (status, answer) = server::testing::get(server.address, "/healthz");
        assert_eq!(status, 503);
        assert!(answer.contains("2 passages en échec d'affilée"), "{answer}");
        {
            let mut metrics = shared.lock().unwrap();
            metrics.failing = 0;
            metrics.overdue = 1;
        }
        let (status, answer) = server::testing::get(server.address, "/healthz");
        assert_eq!(status, 503);
        assert!(answer.contains("1 post en retard"), "{answer}");
        {
            let mut metrics = shared.lock().unwrap();
            metrics.overdue = 0;
            metrics.sync = Some(SyncView {
                trouble: Some("la branche a été réécrite".into()),
                stopped: true,
                ..SyncView::default()
            });
        }
        let (status, answer) = server::testing::get(server.address, "/healthz");
        assert_eq!(status, 503);
        assert!(answer.contains("réécrite"), "{answer}");
        let (_, answer) = server::testing::get(server.address, "/metrics");
        assert!(answer.contains("crieur_sync_following 0"), "{answer}");
        assert_eq!(server::testing::get(server.address, "/autre").0, 404);
    }

    #[test]
    fn what_a_worker_hands_back_reads_the_same_to_the_millisecond() {
        let mut sent = metrics();
        sent.sync = Some(SyncView {
            commit: "abc".into(),
            commit_time: DateTime::from_timestamp_millis(1_790_000_000_123),
            trouble: Some("la branche a été réécrite".into()),
            ..SyncView::default()
        });
        let text = serde_json::to_string(&sent).unwrap();
        let read: Metrics = serde_json::from_str(&text).unwrap();
        assert_eq!(
            read.last_pass.map(|at| at.timestamp_millis()),
            sent.last_pass.map(|at| at.timestamp_millis())
        );
        assert_eq!(read.by_status, sent.by_status);
        assert_eq!(read.requests, sent.requests);
        // A family's samples come in no set order.
        let lines = |metrics: &Metrics| {
            let mut lines: Vec<String> = prometheus(metrics).lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        assert_eq!(lines(&read), lines(&sent));
        let (read, sent) = (read.sync.unwrap(), sent.sync.unwrap());
        assert_eq!(read.commit_time, sent.commit_time);
        assert_eq!(read.trouble, sent.trouble);
    }

    #[test]
    fn the_daemon_reads_its_configuration_and_nothing_outside_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("projet");
        let missing = read_config(&root).unwrap_err().to_string();
        assert!(missing.contains("n'est pas un projet crieur"), "{missing}");
        std::fs::create_dir_all(root.join("config")).unwrap();
        std::fs::write(dir.path().join("ailleurs.toml"), "timezone = \"UTC\"\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("ailleurs.toml"), root.join(CONFIG_PATH))
            .unwrap();
        let outside = read_config(&root).unwrap_err().to_string();
        assert!(outside.contains("extérieur du projet"), "{outside}");
        std::fs::remove_file(root.join(CONFIG_PATH)).unwrap();
        std::fs::write(root.join(CONFIG_PATH), "\u{feff}timezone = \"UTC\"\n").unwrap();
        assert_eq!(read_config(&root).unwrap(), "timezone = \"UTC\"\n");
    }
}

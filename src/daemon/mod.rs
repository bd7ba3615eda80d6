//! `crieur daemon`: publishing on schedule, unattended.
//!
//! One loop over a channel of events: a file changed (watched with
//! `notify`), a stop was asked (SIGTERM, SIGINT), or the wait ran out. The
//! wait lasts until the next instant something is due, recomputed from the
//! clock after every wake-up ([`timing`]): no fixed tick, no drift, no CPU
//! used while waiting. Each wake runs the reconcile pass of `publish` when
//! it is due (at start, after a change, at least every 10 minutes), then
//! delivers the outbox's due posts (or asks Buffer how its went), records a
//! heartbeat in the state store, and waits again. A lock next to the state
//! store keeps to one daemon per project.

pub mod timing;

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use notify::Watcher as _;
use tracing::{error, info, warn};

use crate::cli::{DaemonArgs, LogFormat};
use crate::config::PublisherKind;
use crate::project::Project;
use crate::publish::outbox::Outbox;
use crate::publish::{Publisher, RemoteStatus};
use crate::store::{Settle, Status, Store};
use timing::Due;

/// The lock file, next to the state store.
pub const LOCK_FILE: &str = "crieur.lock";

/// Keys of the heartbeat in the store's `meta` table.
pub const LAST_PASS: &str = "daemon.last_pass";
pub const NEXT_WAKE: &str = "daemon.next_wake";
pub const LAST_ERROR: &str = "daemon.last_error";

enum Event {
    Changed,
    Stop,
}

/// What `/metrics` and `/healthz` report.
#[derive(Debug, Default, Clone)]
struct Metrics {
    queued: usize,
    sent: usize,
    failed: usize,
    last_pass: Option<DateTime<Utc>>,
    passes: u64,
}

pub fn run(root: &Path, args: &DaemonArgs) -> anyhow::Result<()> {
    init_logs(args.log_format);
    let project = Project::load(root)?;
    let Some(config) = project.config.clone() else {
        bail!(
            "la configuration a des erreurs : corrigez-les (voir `crieur check`) avant de lancer le démon"
        );
    };
    // Each pass loads the project afresh; nothing of it is kept between.
    drop(project);
    let state = root.join(&config.state);
    let _lock = lock(&state)?;
    let store = Store::open(&state)?;
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    if let Some(address) = args.health {
        serve_health(address, metrics.clone())?;
        info!(%address, "santé servie sur /healthz et /metrics");
    }

    let (events, receiver) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(events.clone(), stop.clone())?;
    let _watcher = watch_files(root, events.clone())?;
    info!(root = %root.display(), "démon démarré");

    let mut daemon = Daemon {
        root: root.to_owned(),
        store,
        metrics,
        stop,
        grace: config.grace,
        outbox: match &config.publisher.kind {
            PublisherKind::Outbox { dir } => Some(Outbox::new(root.join(dir))),
            PublisherKind::Buffer { .. } => None,
        },
        publisher: crate::cmd::publish::publisher(root, &config)?,
    };
    daemon.run(&receiver);
    info!("démon arrêté");
    Ok(())
}

struct Daemon {
    root: PathBuf,
    store: Store,
    metrics: Arc<Mutex<Metrics>>,
    stop: Arc<AtomicBool>,
    grace: chrono::Duration,
    outbox: Option<Outbox>,
    publisher: Box<dyn Publisher>,
}

impl Daemon {
    fn run(&mut self, receiver: &Receiver<Event>) {
        let mut pass_due = true;
        let mut last_pass = Utc::now();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let now = Utc::now();
            if pass_due || now - last_pass >= timing::pass_every() {
                self.pass(now);
                last_pass = now;
                pass_due = false;
            }
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let now = Utc::now();
            self.due(now);
            let deliveries = self.store.deliveries().unwrap_or_default();
            let next = timing::next_wake(&deliveries, last_pass, now, self.outbox.is_some());
            self.heartbeat(NEXT_WAKE, &next);
            let wait = (next - Utc::now()).to_std().unwrap_or(StdDuration::ZERO);
            match receiver.recv_timeout(wait) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Event::Changed) => {
                    // An editor saves in several writes: let them settle.
                    while let Ok(event) = receiver.recv_timeout(StdDuration::from_millis(300)) {
                        if matches!(event, Event::Stop) {
                            return;
                        }
                    }
                    info!("fichiers modifiés : nouveau passage");
                    pass_due = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// One reconcile pass: `crieur publish`, run as a child process, so that
    /// the memory a pass needs (the project, fonts, images) is given back
    /// when it ends and the daemon waits small. A stop asked meanwhile is
    /// passed on: the child finishes the call in flight, records it, and
    /// exits.
    fn pass(&mut self, now: DateTime<Utc>) {
        info!("début du passage");
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("crieur"));
        let child = std::process::Command::new(exe)
            .arg("--root")
            .arg(&self.root)
            .arg("publish")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(error) => {
                self.failure(&format!("impossible de lancer le passage : {error}"));
                return;
            }
        };
        let mut forwarded = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(error) => {
                    self.failure(&format!("passage : {error}"));
                    break None;
                }
            }
            if self.stop.load(Ordering::SeqCst) && !forwarded {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                forwarded = true;
            }
            std::thread::sleep(StdDuration::from_millis(50));
        };
        let mut out = String::new();
        let mut err = String::new();
        use std::io::Read as _;
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        for line in err.lines().filter(|line| !line.trim().is_empty()) {
            warn!("{line}");
        }
        let summary = out.lines().last().unwrap_or_default().to_owned();
        match status.and_then(|status| status.code()) {
            Some(0) => {
                info!(résumé = %summary, "passage terminé");
                let _ = self.store.set_meta(LAST_ERROR, "");
            }
            Some(1) => {
                info!(résumé = %summary, "passage terminé, avec des échecs");
                let first = err
                    .lines()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or_default();
                let _ = self.store.set_meta(LAST_ERROR, first);
            }
            _ => {
                let last = err
                    .lines()
                    .last()
                    .unwrap_or("le passage a échoué")
                    .to_owned();
                self.failure(&last);
            }
        }
        self.heartbeat(LAST_PASS, &now);
        self.count(now);
    }

    /// Delivers the outbox's due posts, or asks Buffer how its went.
    fn due(&mut self, now: DateTime<Utc>) {
        let deliveries = self.store.deliveries().unwrap_or_default();
        for due in timing::due(&deliveries, now, self.grace, self.outbox.is_some()) {
            let outcome = match &due {
                Due::Deliver(key, remote) => {
                    let result = self.outbox.as_ref().map(|outbox| outbox.deliver(remote));
                    match result {
                        Some(Ok(())) => {
                            info!(post = %key.post_id, channel = %key.channel, "publié");
                            self.store.settle(key, Settle::status(Status::Sent), now)
                        }
                        Some(Err(error)) => self.store.settle(
                            key,
                            Settle {
                                error: Some(&error.to_string()),
                                ..Settle::status(Status::Error)
                            },
                            now,
                        ),
                        None => Ok(()),
                    }
                }
                Due::Miss(key, remote) => {
                    if let Some(outbox) = &self.outbox {
                        let _ = outbox.miss(remote);
                    }
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
                Due::Check(key, remote) => match self.publisher.status(remote) {
                    Ok(RemoteStatus::Sent) => {
                        info!(post = %key.post_id, channel = %key.channel, "publié par Buffer");
                        self.store.settle(key, Settle::status(Status::Sent), now)
                    }
                    Ok(RemoteStatus::Failed(message)) => {
                        warn!(post = %key.post_id, channel = %key.channel, "{message}");
                        self.store.settle(
                            key,
                            Settle {
                                error: Some(&message),
                                ..Settle::status(Status::Error)
                            },
                            now,
                        )
                    }
                    Ok(_) => Ok(()),
                    Err(error) => {
                        warn!("{error}");
                        Ok(())
                    }
                },
            };
            if let Err(error) = outcome {
                self.failure(&error.to_string());
            }
        }
        self.count(now);
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

    fn count(&self, now: DateTime<Utc>) {
        let deliveries = self.store.deliveries().unwrap_or_default();
        let mut metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        metrics.queued = deliveries.iter().filter(|d| d.status.is_pending()).count();
        metrics.sent = deliveries
            .iter()
            .filter(|d| d.status == Status::Sent)
            .count();
        metrics.failed = deliveries
            .iter()
            .filter(|d| matches!(d.status, Status::Error | Status::Missed))
            .count();
        metrics.last_pass = Some(now);
        metrics.passes += 1;
    }
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

fn watch_signals(events: Sender<Event>, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .context("signaux SIGTERM et SIGINT")?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            info!(signal, "arrêt demandé : fin de l'appel en cours");
            stop.store(true, Ordering::SeqCst);
            let _ = events.send(Event::Stop);
        }
    });
    Ok(())
}

fn watch_files(root: &Path, events: Sender<Event>) -> anyhow::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && matches!(
                event.kind,
                notify::EventKind::Create(_)
                    | notify::EventKind::Modify(_)
                    | notify::EventKind::Remove(_)
            )
        {
            let _ = events.send(Event::Changed);
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

fn serve_health(address: std::net::SocketAddr, metrics: Arc<Mutex<Metrics>>) -> anyhow::Result<()> {
    let server = tiny_http::Server::http(address).map_err(|error| {
        anyhow::anyhow!("impossible de servir la santé sur {address} : {error}")
    })?;
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let metrics = metrics.lock().map(|m| m.clone()).unwrap_or_default();
            let fresh = metrics
                .last_pass
                .is_some_and(|at| Utc::now() - at < timing::pass_every() * 2);
            let (status, body) = match request.url() {
                "/healthz" if fresh => (200, "ok\n".to_owned()),
                "/healthz" => (503, "pas de passage récent\n".to_owned()),
                "/metrics" => (200, prometheus(&metrics)),
                _ => (404, "introuvable\n".to_owned()),
            };
            let _ =
                request.respond(tiny_http::Response::from_string(body).with_status_code(status));
        }
    });
    Ok(())
}

fn prometheus(metrics: &Metrics) -> String {
    format!(
        "# HELP crieur_posts Deliveries by status.\n\
         # TYPE crieur_posts gauge\n\
         crieur_posts{{status=\"queued\"}} {}\n\
         crieur_posts{{status=\"sent\"}} {}\n\
         crieur_posts{{status=\"failed\"}} {}\n\
         # HELP crieur_last_pass_timestamp_seconds When the last pass ran.\n\
         # TYPE crieur_last_pass_timestamp_seconds gauge\n\
         crieur_last_pass_timestamp_seconds {}\n\
         # HELP crieur_passes_total Passes and wake-ups since start.\n\
         # TYPE crieur_passes_total counter\n\
         crieur_passes_total {}\n",
        metrics.queued,
        metrics.sent,
        metrics.failed,
        metrics.last_pass.map_or(0, |at| at.timestamp()),
        metrics.passes
    )
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

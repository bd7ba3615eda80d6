//! The daemon's child processes, run with `tokio::process`: one pass as a
//! child `crieur publish` (and the daily reading of the networks' figures
//! as a child `crieur report --refresh-only`), and the daemon's own
//! workers, `crieur daemon` started with [`WORKER`] set, which do the work
//! that needs the project's configuration and the state store (see the
//! module above). Their output is read as it comes (a child that writes a
//! lot must never block on a full pipe) and a stop is passed on.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// A finished pass: its exit code, standard output and standard error.
pub type Finished = (Option<i32>, String, String);

/// The environment variable that makes `crieur daemon` one of the
/// daemon's workers rather than the daemon itself; its value is the work
/// ([`Work`]).
pub const WORKER: &str = "CRIEUR_DAEMON_WORKER";

/// What a worker is started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Reads the configuration once, at start: where the state store is,
    /// the clock's zone, the settings the other workers read.
    Setup,
    /// One turn of the timetable loop: following the repository, the pass
    /// when one is due, the outbox's deliveries, the next wake.
    Wake,
    /// Sends the notifications that are due.
    Flush,
}

impl Work {
    fn name(self) -> &'static str {
        match self {
            Work::Setup => "setup",
            Work::Wake => "wake",
            Work::Flush => "flush",
        }
    }

    /// The work this process was started for, if it is a worker.
    pub fn asked() -> Option<Work> {
        match std::env::var(WORKER).ok()?.as_str() {
            "setup" => Some(Work::Setup),
            "wake" => Some(Work::Wake),
            "flush" => Some(Work::Flush),
            _ => None,
        }
    }
}

/// Runs `crieur --root ROOT publish`. A stop asked meanwhile (`stop`
/// turning true) is sent on as SIGTERM: the child finishes the call in
/// flight, records it, and exits; this waits for it.
pub async fn run_pass(root: &Path, stop: watch::Receiver<bool>) -> std::io::Result<Finished> {
    run(root, &["publish"], stop).await
}

/// Runs `crieur --root ROOT report --refresh-only`: the networks' figures
/// read again, when the last reading is a day old, under the pass lock.
pub async fn run_refresh(root: &Path, stop: watch::Receiver<bool>) -> std::io::Result<Finished> {
    run(root, &["report", "--refresh-only"], stop).await
}

/// The running program, to start children of the same version.
fn exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "crieur".into())
}

/// Runs `crieur --root ROOT <args>` as a pass is run.
async fn run(root: &Path, args: &[&str], stop: watch::Receiver<bool>) -> std::io::Result<Finished> {
    let mut command = Command::new(exe());
    // The pass reads the daemon's clock, not the instant the daemon was
    // started at.
    if let Some(now) = crate::clock::for_child() {
        command.env(crate::clock::VARIABLE, now);
    }
    // The daemon tells of the pass's problems itself, once.
    command.env(crate::notify::VARIABLE, "daemon");
    let mut child = command
        .env_remove(WORKER)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let (status, out, err) = tokio::join!(
        wait_passing_stop(&mut child, stop),
        read_all(out),
        read_all(err)
    );
    Ok((status?.code(), lossy(out), lossy(err)))
}

/// `crieur --root ROOT daemon --log-format FORMAT`, as a worker of `work`:
/// it logs on the daemon's own standard error, in the daemon's format.
fn worker(root: &Path, work: Work, log_format: &str) -> std::process::Command {
    let mut command = std::process::Command::new(exe());
    command
        .env(WORKER, work.name())
        .arg("--root")
        .arg(root)
        .args(["daemon", "--log-format", log_format])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

/// Runs the setup worker and waits for it: its exit code and standard
/// output. Runs before the daemon's clock starts, which it does not read.
pub fn setup(root: &Path, log_format: &str) -> std::io::Result<(Option<i32>, Vec<u8>)> {
    let output = worker(root, Work::Setup, log_format)
        .stdin(Stdio::null())
        .output()?;
    Ok((output.status.code(), output.stdout))
}

/// Runs a worker of `work` with `input` on its standard input and waits
/// for it: its exit code and standard output. A stop is passed on as
/// for a pass.
pub async fn work(
    root: &Path,
    work: Work,
    log_format: &str,
    input: Vec<u8>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<(Option<i32>, Vec<u8>)> {
    let mut command = Command::from(worker(root, work, log_format));
    // The worker reads the daemon's clock.
    if let Some(now) = crate::clock::for_child() {
        command.env(crate::clock::VARIABLE, now);
    }
    let mut child = command.stdin(Stdio::piped()).spawn()?;
    let stdin = child.stdin.take();
    let out = child.stdout.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A worker that ended before reading says why on its own.
            let _ = stdin.write_all(&input).await;
        }
    };
    let (status, out, ()) = tokio::join!(wait_passing_stop(&mut child, stop), read_all(out), feed);
    Ok((status?.code(), out))
}

/// Waits for the child; forwards a stop to it once.
async fn wait_passing_stop(
    child: &mut Child,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<std::process::ExitStatus> {
    let mut forwarded = false;
    loop {
        if !forwarded && *stop.borrow() {
            terminate(child).await;
            forwarded = true;
        }
        tokio::select! {
            status = child.wait() => return status,
            changed = stop.changed(), if !forwarded => {
                if changed.is_err() {
                    // The daemon is going away: stop the pass too.
                    terminate(child).await;
                    forwarded = true;
                }
            }
        }
    }
}

/// SIGTERM, which `crieur publish` turns into "finish the call in flight".
async fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes).await;
    }
    bytes
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

//! Running one pass as a child `crieur publish` (and the daily reading of
//! the networks' figures as a child `crieur report --refresh-only`) with `tokio::process`,
//! reading its output as it comes (a pass that writes a lot must never
//! block on a full pipe) and passing a stop on.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// A finished pass: its exit code, standard output and standard error.
pub type Finished = (Option<i32>, String, String);

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

/// Runs `crieur --root ROOT <args>` as a pass is run.
async fn run(root: &Path, args: &[&str], stop: watch::Receiver<bool>) -> std::io::Result<Finished> {
    let exe = std::env::current_exe().unwrap_or_else(|_| "crieur".into());
    let mut command = Command::new(exe);
    // The pass reads the daemon's clock, not the instant the daemon was
    // started at.
    if let Some(now) = crate::clock::for_child() {
        command.env(crate::clock::VARIABLE, now);
    }
    // The daemon tells of the pass's problems itself, once.
    command.env(crate::notify::VARIABLE, "daemon");
    let mut child = command
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
    Ok((status?.code(), out, err))
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

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes).await;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

//! Running one pass as a child `crieur publish`, reading its output as it
//! comes (a pass that writes a lot must never block on a full pipe) and
//! passing a stop on.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs `crieur --root ROOT publish`; returns its exit code, standard
/// output and standard error. A stop asked meanwhile is sent on as
/// SIGTERM: the child finishes the call in flight, records it, and exits.
pub fn run_pass(root: &Path, stop: &AtomicBool) -> std::io::Result<(Option<i32>, String, String)> {
    let exe = std::env::current_exe().unwrap_or_else(|_| "crieur".into());
    let mut child = Command::new(exe)
        .arg("--root")
        .arg(root)
        .arg("publish")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let mut forwarded = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if stop.load(Ordering::SeqCst) && !forwarded {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            forwarded = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    Ok((status.code(), out, err))
}

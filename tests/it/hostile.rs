//! Hostile files and settings: each is refused with a diagnostic or a
//! usage error, never a crash, a hang or an unbounded allocation.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{NOW, stderr, temp_project};

/// Runs `crieur --root ROOT ARGS...` like [`crate::crieur`], killing it if
/// it is still running after a minute: a hang fails the test instead of
/// holding up the whole suite.
fn crieur_or_hang(root: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crieur"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_clear()
        .env("CRIEUR_NOW", NOW)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the crieur binary runs");
    let start = Instant::now();
    while child.try_wait().expect("waits").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().expect("kills");
            child.wait().expect("waits");
            panic!("crieur {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_socket_among_the_files_is_refused_without_hanging() {
    let project = temp_project("valid");
    let status = Command::new("mkfifo")
        .arg(project.path().join("posts/tube.md"))
        .arg(project.path().join("assets/icons/tube.png"))
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let _socket =
        std::os::unix::net::UnixListener::bind(project.path().join("posts/socket.md")).unwrap();
    let output = crieur_or_hang(project.path(), &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    for file in ["posts/tube.md", "posts/socket.md", "assets/icons/tube.png"] {
        assert!(errors.contains(file), "{file} in {errors}");
    }
    assert!(
        errors.contains("ce n'est pas un fichier ordinaire"),
        "{errors}"
    );
    // The other posts are drawn.
    let output = crieur_or_hang(project.path(), &["render", "--out", "out"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(project.path().join("out/annonce.carre.png").is_file());
}

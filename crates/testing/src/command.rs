//! The `crieur` binary, run as a user runs it.

use std::path::Path;
use std::process::{Child, Command};

/// `BINARY --root ROOT`, run in ROOT (so that paths are shown as from the
/// project) with only `NO_COLOR=1` in its environment. Callers add the
/// arguments and the variables they need (`CRIEUR_NOW`, credentials).
pub fn crieur(binary: &str, root: &Path) -> Command {
    let mut command = crieur_in(binary, root);
    command.arg("--root").arg(root);
    command
}

/// `BINARY` with no `--root`, run in `dir` with only `NO_COLOR=1` in its
/// environment: `init`, `--help`, or crieur finding its project from the
/// current folder.
pub fn crieur_in(binary: &str, dir: &Path) -> Command {
    let mut command = Command::new(binary);
    command.current_dir(dir).env_clear().env("NO_COLOR", "1");
    command
}

/// A child process killed, and waited for, when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

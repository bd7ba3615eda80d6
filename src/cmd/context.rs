//! What every command shares: the project loaded (and checked), its
//! diagnostics printed, the one clock started in its zone, and how a
//! command ends.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::diagnostic::Report;
use crate::project::Project;

/// How a command ended, as the process exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All is well (warnings allowed).
    Success = 0,
    /// The project has errors.
    Invalid = 1,
}

/// The environment variable that sets "now", to see the project as it will
/// be on another day (and for tests).
pub const NOW_VARIABLE: &str = crate::clock::VARIABLE;

/// The project's folder: the one `--root` gives, exactly; without it, the
/// current folder's project, found from there up as git finds its
/// repository ([`crate::loader::discover`]), as a way from the current
/// folder (`../..` from `posts/chiffre/`). No project anywhere above: the
/// empty path (the current folder), which loading then says is no project,
/// nor any folder above it.
pub fn root(given: Option<std::path::PathBuf>) -> std::path::PathBuf {
    given.unwrap_or_else(|| crate::loader::discover(std::path::Path::new(".")).unwrap_or_default())
}

pub fn load(root: &std::path::Path) -> anyhow::Result<Project> {
    let mut project = crate::loader::load(root)?;
    // On a server, the checkout of the commit being published.
    let prefix = display_prefix(&project.root);
    project.report.set_display_prefix(prefix);
    Ok(project)
}

/// The way from the current folder to the project, put before the paths
/// (relative to the project) shown to a person: empty when crieur runs in
/// the project, `mon-projet/` with `--root mon-projet` or with an absolute
/// root under the current folder, the root as given when it is elsewhere.
pub fn display_prefix(root: &std::path::Path) -> String {
    let here = std::env::current_dir().and_then(|dir| dir.canonicalize());
    if let (Ok(here), Ok(root)) = (here, root.canonicalize())
        && let Ok(inside) = root.strip_prefix(&here)
    {
        return with_slash(inside);
    }
    // `./` adds nothing to a path.
    let cleaned: std::path::PathBuf = root
        .components()
        .filter(|part| *part != std::path::Component::CurDir)
        .collect();
    with_slash(&cleaned)
}

fn with_slash(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    match text.trim_end_matches('/') {
        "" if path.has_root() => "/".to_owned(),
        "" => String::new(),
        trimmed => format!("{trimmed}/"),
    }
}

/// The project with every problem `check` finds in its report.
pub fn load_checked(root: &std::path::Path) -> anyhow::Result<Project> {
    let mut project = load(root)?;
    let tz = project
        .config
        .as_ref()
        .map_or(chrono_tz::Europe::Paris, |config| config.timezone);
    let (diagnostics, sizes) = crate::check::judge(&project, now(tz)?);
    project.report.extend(diagnostics);
    project.sizes = sizes;
    Ok(project)
}

/// The current instant on the one clock, started in the project's zone
/// (where `CRIEUR_NOW` is read).
pub fn now(tz: Tz) -> anyhow::Result<DateTime<Utc>> {
    Ok(crate::clock::start(tz)?)
}

pub use crate::clock::YEARS;

/// Reads an instant given on the command line: a date (midnight), a local
/// date and time, or either with an offset.
pub fn parse_instant(text: &str, tz: Tz) -> anyhow::Result<DateTime<Utc>> {
    crate::clock::parse_instant(text, tz).map_err(anyhow::Error::msg)
}

/// Prints diagnostics on standard error, in colour on a terminal.
pub fn print_report(report: &Report) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", report.render(color));
}

pub use crieur_io::error_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_errors_reach_a_person_in_french() {
        let missing = std::io::Error::from_raw_os_error(2);
        let error = anyhow::Error::new(missing).context("impossible d'écrire posts/a.md");
        assert_eq!(
            error_text(&error),
            "impossible d'écrire posts/a.md : fichier ou dossier introuvable"
        );
        // A message that quotes its cause's English gets the French instead.
        let busy = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let quoted = format!("encodage impossible : {busy}");
        let error = anyhow::Error::new(busy).context(quoted);
        assert_eq!(
            error_text(&error),
            "encodage impossible : adresse déjà utilisée par un autre programme"
        );
        // crieur's own messages are kept as they are.
        let error = anyhow::anyhow!("le logo par défaut n'a pas pu être dessiné").context("init");
        assert_eq!(
            error_text(&error),
            "init : le logo par défaut n'a pas pu être dessiné"
        );
    }
}

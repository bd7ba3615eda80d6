//! One module per subcommand: each loads what it needs, calls the pure core
//! and prints. Errors here are `anyhow` errors with context; problems in the
//! user's files are diagnostics, printed by the command.

pub mod check;
pub mod import;
pub mod init;
pub mod new;
pub mod plan;
pub mod publish;
pub mod render;
pub mod status;

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::cli::{Cli, Command};
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

/// The exit code of a usage or internal error.
pub const EXIT_FAILURE: i32 = 2;

/// The environment variable that sets "now", to see the project as it will
/// be on another day (and for tests).
pub const NOW_VARIABLE: &str = crate::clock::VARIABLE;

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Check(args) => check::run(&cli.root, &args),
        Command::Plan(args) => plan::run(&cli.root, &args),
        Command::Render(args) => render::run(&cli.root, &args),
        Command::Publish(args) => publish::run(&cli.root, &args),
        Command::Status(args) => status::run(&cli.root, &args),
        Command::Channels => publish::channels(&cli.root),
        Command::Preview(args) => {
            crate::preview::serve(
                &cli.root,
                std::net::SocketAddr::new(args.bind, args.port),
                &args.allow_host,
            )?;
            Ok(Outcome::Success)
        }
        Command::Init(args) => init::run(&args),
        Command::New(args) => new::run(&cli.root, &args),
        Command::Import(args) => import::run(&cli.root, &args),
        Command::Daemon(args) => crate::daemon::run(&cli.root, &args).map(|()| Outcome::Success),
    }
}

fn load(root: &std::path::Path) -> anyhow::Result<Project> {
    let mut project = Project::load(root)?;
    project.report.set_display_prefix(display_prefix(root));
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
fn load_checked(root: &std::path::Path) -> anyhow::Result<Project> {
    let mut project = load(root)?;
    let tz = project
        .config
        .as_ref()
        .map_or(chrono_tz::Europe::Paris, |config| config.timezone);
    let diagnostics = crate::check::check(&project, now(tz)?);
    project.report.extend(diagnostics);
    Ok(project)
}

/// The current instant on the one clock, started in the project's zone
/// (where `CRIEUR_NOW` is read).
fn now(tz: Tz) -> anyhow::Result<DateTime<Utc>> {
    Ok(crate::clock::start(tz)?)
}

pub use crate::clock::YEARS;

/// Reads an instant given on the command line: a date (midnight), a local
/// date and time, or either with an offset.
pub fn parse_instant(text: &str, tz: Tz) -> anyhow::Result<DateTime<Utc>> {
    crate::clock::parse_instant(text, tz).map_err(anyhow::Error::msg)
}

/// Prints diagnostics on standard error, in colour on a terminal.
fn print_report(report: &Report) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", report.render(color));
}

//! One module per subcommand: each loads what it needs, calls the pure core
//! and prints. Errors here are `anyhow` errors with context; problems in the
//! user's files are diagnostics, printed by the command.

pub mod check;
pub mod context;
pub mod import;
pub mod init;
pub mod new;
pub mod notify;
pub mod plan;
pub mod publish;
pub mod render;
pub mod report;
pub mod status;
pub mod sync;

use crate::cli::{Cli, Command};

pub use context::{NOW_VARIABLE, Outcome, YEARS, display_prefix, parse_instant};

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    // `init` makes its project where it is told, and uses no root.
    let root = context::root(cli.root);
    let root = root.as_path();
    match cli.command {
        Command::Check(args) => check::run(root, &args),
        Command::Plan(args) => plan::run(root, &args),
        Command::Render(args) => render::run(root, &args),
        Command::Publish(args) => publish::run(root, &args),
        Command::Status(args) => status::run(root, &args),
        Command::Report(args) => report::run(root, &args),
        Command::Sync(args) => sync::run(root, &args),
        Command::Channels => publish::channels(root),
        Command::Notify(args) => notify::run(root, &args),
        Command::Preview(args) => {
            crate::preview::serve(
                root,
                std::net::SocketAddr::new(args.bind, args.port),
                &args.allow_host,
            )?;
            Ok(Outcome::Success)
        }
        Command::Init(args) => init::run(&args),
        Command::New(args) => new::run(root, &args),
        Command::Import(args) => import::run(root, &args),
        Command::Daemon(args) => {
            crate::daemon::run(root, &daemon_options(args)).map(|()| Outcome::Success)
        }
    }
}

/// The daemon's options, from its command line.
fn daemon_options(args: crate::cli::DaemonArgs) -> crate::daemon::Options {
    crate::daemon::Options {
        health: args.health,
        allow_host: args.allow_host,
        log_format: match args.log_format {
            crate::cli::LogFormat::Text => crate::daemon::LogFormat::Text,
            crate::cli::LogFormat::Json => crate::daemon::LogFormat::Json,
        },
    }
}

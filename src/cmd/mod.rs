//! One module per subcommand: each loads what it needs, calls the pure core
//! and prints. Errors here are `anyhow` errors with context; problems in the
//! user's files are diagnostics, printed by the command.

pub mod check;
pub mod context;
pub mod import;
pub mod init;
pub mod new;
pub mod plan;
pub mod publish;
pub mod render;
pub mod status;

use crate::cli::{Cli, Command};

pub use context::{NOW_VARIABLE, Outcome, YEARS, display_prefix, parse_instant};

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
        Command::Daemon(args) => {
            crate::daemon::run(&cli.root, &daemon_options(args)).map(|()| Outcome::Success)
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

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = crieur::cli::Cli::parse();
    match crieur::cmd::run(cli) {
        Ok(outcome) => ExitCode::from(outcome as u8),
        Err(error) => {
            eprintln!("erreur : {error:#}");
            ExitCode::from(crieur::cmd::EXIT_FAILURE as u8)
        }
    }
}

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match crieur::cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(stop) => {
            if stop.stdout {
                print!("{}", stop.text);
            } else {
                eprint!("{}", stop.text);
            }
            return ExitCode::from(stop.code);
        }
    };
    match crieur::cmd::run(cli) {
        Ok(outcome) => ExitCode::from(outcome as u8),
        Err(error) => {
            // The same prefix as diagnostics and usage errors.
            eprintln!("erreur : {error:#}");
            ExitCode::from(crieur::cmd::EXIT_FAILURE as u8)
        }
    }
}

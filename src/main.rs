use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // What a panic says passes through the same mask as every answer.
    crieur::net::secret::install_panic_hook();
    quiet_on_a_closed_pipe();
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
            // The same prefix as diagnostics and usage errors; what the
            // system says, in French.
            eprintln!("erreur : {}", crieur::cmd::context::error_text(&error));
            ExitCode::from(crieur::cli::EXIT_FAILURE as u8)
        }
    }
}

/// `crieur plan | head`: once the reader has gone, stop quietly, as other
/// command-line tools do, rather than report a panic.
fn quiet_on_a_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

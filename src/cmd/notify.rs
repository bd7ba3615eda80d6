//! `crieur notify`: the ways `[notify]` configures, and `--test`, a test
//! message sent through each of them at once (not through the queue), to
//! see that the officer will hear when something goes wrong.

use std::path::Path;

use crate::cli::NotifyArgs;
use crate::config::Config;
use crate::notifier::{Notifier, Way};

use super::context::Outcome;

/// What `notify` says when `[notify]` is missing.
const MISSING: &str = "aucune notification configurée : ajoutez à config/crieur.toml une section `[notify]` avec `email = [\"…\"]`, `smtp = \"smtp://…\"` et `from = \"…\"`, ou `webhook = \"https://…\"` (voir le guide, « Être prévenu quand quelque chose ne va pas »)";

pub fn run(root: &Path, args: &NotifyArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load(root)?;
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        eprintln!("La configuration a des erreurs : corrigez-les (voir `crieur check`).");
        return Ok(Outcome::Invalid);
    };
    let Some(notifier) = notifier(config) else {
        if config.broken.contains_key("notify") {
            super::context::print_report(&project.report);
            eprintln!("erreur : `[notify]` a des erreurs : corrigez-les (voir ci-dessus).");
        } else {
            eprintln!("erreur : {MISSING}");
        }
        return Ok(Outcome::Invalid);
    };
    if !args.test {
        println!("Notifications configurées :");
        for way in notifier.ways() {
            println!("  {}", notifier.target(way));
        }
        println!("Pour envoyer un message d'essai : `crieur notify --test`.");
        return Ok(Outcome::Success);
    }
    let message = crate::notify::test_message(crate::clock::now());
    // Every way at once: a relay that hangs does not delay the webhook.
    let sent: Vec<(Way, Result<(), String>)> = std::thread::scope(|scope| {
        let sends: Vec<_> = notifier
            .ways()
            .into_iter()
            .map(|way| {
                let (notifier, message) = (&notifier, &message);
                (way, scope.spawn(move || notifier.send(way, message)))
            })
            .collect();
        sends
            .into_iter()
            .map(|(way, send)| {
                let result = send
                    .join()
                    .unwrap_or_else(|_| Err("défaut interne pendant l'envoi".to_owned()));
                (way, result)
            })
            .collect()
    });
    let mut failed = 0;
    for (way, result) in &sent {
        match result {
            Ok(()) => println!("{} : envoyé", notifier.target(*way)),
            Err(error) => {
                failed += 1;
                println!("{} : échec : {error}", notifier.target(*way));
            }
        }
    }
    Ok(if failed == 0 {
        println!("Message d'essai envoyé par chaque moyen configuré.");
        Outcome::Success
    } else {
        let (ways, verb) = if failed > 1 {
            ("moyens", "n'ont")
        } else {
            ("moyen", "n'a")
        };
        eprintln!(
            "{failed} {ways} sur {} {verb} pas marché : corrigez ce que dit le message, puis relancez `crieur notify --test`.",
            sent.len()
        );
        Outcome::Invalid
    })
}

fn notifier(config: &Config) -> Option<Notifier> {
    config
        .notify
        .as_ref()
        .map(|notify| Notifier::new(notify, config.timezone))
}

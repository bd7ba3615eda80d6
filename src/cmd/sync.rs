//! `crieur sync`: on a server, which commit of the followed repository is
//! published, and a person's word after following stopped.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::bail;

use crate::cli::SyncArgs;
use crate::follow::{Follower, Following, meta};
use crate::store::Store;

use super::context::Outcome;

pub fn run(root: &Path, args: &SyncArgs) -> anyhow::Result<Outcome> {
    let Some(follow) = crate::follow::server(root)? else {
        bail!(
            "ce projet ne suit aucun dépôt : c'est sur le serveur que config/crieur.toml dit quel dépôt suivre, avec une section [sync] (voir le guide, « Pour la personne qui s'occupe du serveur »)"
        );
    };
    let follower = Follower::new(root, follow);
    let never = AtomicBool::new(false);
    if args.accept.is_some() || args.resume {
        let store = Store::open(&follower.state())?;
        if let Some(commit) = &args.accept {
            let id = follower.resolve(commit, &never)?;
            store.set_meta(meta::ACCEPT, &id)?;
            println!(
                "Accepté : au prochain tour, le serveur publiera {} ; les posts absents de cette version seront retirés.",
                crieur_core::sync::short(&id)
            );
        }
        if args.resume {
            store.set_meta(meta::RESUME, "1")?;
            println!("Le suivi du dépôt reprendra au prochain tour du démon.");
        }
        return Ok(Outcome::Success);
    }
    let store = Store::open_existing(&follower.state())?;
    let following = Following::read(&follower.follow, store.as_ref());
    print(&following, chrono_tz::Europe::Paris);
    Ok(if following.stopped.is_some() {
        Outcome::Invalid
    } else {
        Outcome::Success
    })
}

/// The followed repository, as `status` and `crieur sync` say it.
pub fn print(following: &Following, tz: chrono_tz::Tz) {
    let local = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text).map_or_else(
            |_| text.to_owned(),
            |at| crate::plan::format_local(&at.with_timezone(&tz)),
        )
    };
    println!(
        "Dépôt suivi : {} (branche {}).",
        following.git, following.branch
    );
    match &following.commit {
        Some(commit) => println!(
            "Commit publié : {} « {} », de {}, {}.",
            crieur_core::sync::short(commit),
            following.title.as_deref().unwrap_or_default(),
            following.author.as_deref().unwrap_or("?"),
            following.time.as_deref().map(local).unwrap_or_default()
        ),
        None => println!(
            "Commit publié : aucun encore ; le démon récupère le dépôt à son démarrage, puis à son rythme."
        ),
    }
    match &following.fetched {
        Some(at) => println!("Dernière récupération réussie : {}.", local(at)),
        None => println!("Dernière récupération réussie : aucune."),
    }
    if let Some(error) = &following.fetch_error {
        println!("La dernière récupération a échoué : {error}");
        println!(
            "  → vérifiez l'adresse du dépôt, le réseau et le jeton (CRIEUR_GIT_TOKEN) ou la clé de déploiement (CRIEUR_GIT_SSH_KEY) ; le serveur publie en attendant le dernier commit récupéré"
        );
    }
    if let Some(stopped) = &following.stopped {
        println!("SUIVI ARRÊTÉ : {stopped}");
        if let Some(hint) = &following.hint {
            println!("  → {hint}");
        }
    }
}

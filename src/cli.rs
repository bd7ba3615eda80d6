//! The command line: subcommands and their options, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// crieur : des posts écrits en fichiers, vérifiés, mis en image et publiés
/// à l'heure prévue.
#[derive(Debug, Parser)]
#[command(name = "crieur", version, about, long_about = None)]
pub struct Cli {
    /// Dossier du projet (celui qui contient config/crieur.toml).
    #[arg(long, global = true, default_value = ".", value_name = "DOSSIER")]
    pub root: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Vérifie la configuration, les modèles et chaque post, et signale
    /// chaque problème avec son fichier, sa ligne et sa colonne.
    Check(CheckArgs),
    /// Montre quel post part quand, sur quels canaux, et les créneaux vides.
    Plan(PlanArgs),
    /// Dessine l'image de chaque post (PNG) et écrit son texte alternatif.
    Render(RenderArgs),
    /// Programme chez l'éditeur (outbox ou Buffer) les posts des jours à
    /// venir ; modifie ou retire ceux dont le fichier a changé.
    Publish(PublishArgs),
    /// Montre ce qui est programmé, publié, en attente, en retard, en
    /// échec ou supprimé, et quoi faire.
    Status(StatusArgs),
    /// Liste les organisations et les canaux du compte Buffer.
    Channels,
    /// Publie à l'heure, sans surveillance : repasse à chaque modification
    /// des fichiers et au moins toutes les 10 minutes.
    Daemon(DaemonArgs),
    /// Ouvre un aperçu local de tous les posts, mis à jour à chaque
    /// enregistrement.
    Preview(PreviewArgs),
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Port du serveur local.
    #[arg(long, default_value_t = 8000)]
    pub port: u16,

    /// Adresse d'écoute (par défaut 127.0.0.1 : l'aperçu n'est visible que
    /// depuis cet ordinateur).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Sert /healthz et /metrics (Prometheus) à cette adresse.
    #[arg(long, value_name = "ADRESSE", num_args = 0..=1, default_missing_value = "127.0.0.1:9187")]
    pub health: Option<std::net::SocketAddr>,

    /// Format des journaux : lignes lisibles, ou JSON (journald, collecteurs).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Montre ce qui serait fait, et les requêtes exactes, sans rien envoyer
    /// ni écrire.
    #[arg(long)]
    pub dry_run: bool,

    /// Renvoie un post supprimé dans Buffer (identifiant ou fichier) : il
    /// sera recréé à ce passage. Répétable.
    #[arg(long, value_name = "POST")]
    pub requeue: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Écrit les publications en JSON sur la sortie standard.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Posts à dessiner, par identifiant (chiffre/2026-12-01-mon-espace-sante)
    /// ou par fichier (posts/chiffre/….md). Par défaut : tous sauf les
    /// brouillons.
    #[arg(value_name = "POST")]
    pub posts: Vec<String>,

    /// Dossier où écrire les images.
    #[arg(long, default_value = "out", value_name = "DOSSIER")]
    pub out: std::path::PathBuf,

    /// Format à dessiner.
    #[arg(long, value_enum, default_value_t = FormatArg::All)]
    pub format: FormatArg,

    /// N'écrit aucune image : imprime en JSON la mise en page de chaque
    /// texte (champ, taille, graisse, lignes, cadre), pour les auteurs de
    /// modèles.
    #[arg(long)]
    pub layout_json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Carre,
    Portrait,
    Paysage,
    All,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Écrit les problèmes en JSON sur la sortie standard.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Début de la période (heure locale du projet, ou avec décalage) :
    /// 2026-12-01, 2026-12-01T19:00. Par défaut : maintenant.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,

    /// Fin de la période, exclue.
    #[arg(long, value_name = "DATE", conflicts_with = "weeks")]
    pub until: Option<String>,

    /// Durée de la période en semaines (520 au plus).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub weeks: u32,

    /// Écrit le calendrier en JSON sur la sortie standard.
    #[arg(long)]
    pub json: bool,
}

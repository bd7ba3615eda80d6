//! The command line: subcommands and their options, parsed by clap, and
//! said in French: help, usage and every usage error (see [`parse_from`]).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// The exit code of a usage or internal error.
pub const EXIT_FAILURE: i32 = 2;

/// crieur : des posts écrits en fichiers, vérifiés, mis en image et publiés
/// à l'heure prévue.
#[derive(Debug, Parser)]
#[command(name = "crieur", version)]
pub struct Cli {
    /// Dossier du projet, celui qui contient config/crieur.toml (par défaut :
    /// le dossier courant, ou le plus proche au-dessus qui en contient un).
    // Without it, the project is found from the current folder up
    // (`cmd::context::root`); given, it is exactly that folder.
    #[arg(long, global = true, value_name = "DOSSIER", display_order = 1000)]
    pub root: Option<PathBuf>,

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
    /// Le bilan de la communication pour le rapport d'activité : ce qui est
    /// parti, par série, canal et mois, et comment cela a été reçu.
    Report(ReportArgs),
    /// Sur le serveur : quel commit du dépôt suivi est publié ; reprend le
    /// suivi après un arrêt.
    Sync(SyncArgs),
    /// Liste les organisations et les canaux du compte Buffer.
    Channels,
    /// Notifications de `[notify]` : `--test` envoie un message d'essai par
    /// chaque moyen configuré (e-mail, webhook).
    Notify(NotifyArgs),
    /// Publie à l'heure, sans surveillance : repasse à chaque modification
    /// des fichiers et au moins toutes les 10 minutes.
    Daemon(DaemonArgs),
    /// Ouvre un aperçu local de tous les posts, mis à jour à chaque
    /// enregistrement.
    Preview(PreviewArgs),
    /// Crée un projet complet, prêt à l'emploi : configuration, modèles,
    /// polices, logo, une série et deux posts d'exemple.
    Init(InitArgs),
    /// Écrit un nouveau post à compléter : le suivant d'une série, ou un
    /// post ponctuel à une date donnée.
    New(NewArgs),
    /// Crée un post par ligne d'un fichier CSV (tableur) : tout est vérifié
    /// avant que rien ne soit écrit.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Le fichier CSV : une ligne d'en-tête (alt, publish_at, channels,
    /// draft, caption ou légende, et les champs du modèle), puis un post
    /// par ligne.
    #[arg(value_name = "FICHIER.csv")]
    pub file: PathBuf,

    /// Les posts sont ceux de cette série : ils prennent ses prochains
    /// créneaux libres, dans l'ordre des lignes.
    #[arg(
        long,
        value_name = "SÉRIE",
        required_unless_present = "template",
        conflicts_with = "template"
    )]
    pub series: Option<String>,

    /// Les posts sont ponctuels, avec ce modèle d'image (colonne
    /// publish_at obligatoire).
    #[arg(long, value_name = "MODÈLE")]
    pub template: Option<String>,

    /// Montre ce qui serait créé, sans rien écrire.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Dossier du nouveau projet (par défaut : le dossier courant).
    #[arg(value_name = "DOSSIER")]
    pub dir: Option<PathBuf>,

    /// Nom de la structure (par défaut : le nom du dossier).
    #[arg(long, value_name = "NOM")]
    pub name: Option<String>,

    /// Couleur principale, `#RRGGBB`.
    #[arg(long, value_name = "COULEUR")]
    pub primary: Option<String>,

    /// Couleur d'accent, `#RRGGBB`.
    #[arg(long, value_name = "COULEUR")]
    pub accent: Option<String>,

    /// Le logo, un fichier PNG (par défaut : un monogramme des initiales).
    #[arg(long, value_name = "FICHIER")]
    pub logo: Option<PathBuf>,

    /// Fuseau horaire des dates (par défaut : Europe/Paris).
    #[arg(long, value_name = "FUSEAU", default_value = "Europe/Paris")]
    pub timezone: String,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// La série du post (par exemple chiffre-de-la-semaine).
    #[arg(value_name = "SÉRIE", required_unless_present = "template")]
    pub series: Option<String>,

    /// Titre : donne son nom au fichier et remplit le champ titre du modèle
    /// (à défaut, son premier champ de texte).
    #[arg(long, value_name = "TEXTE")]
    pub title: Option<String>,

    /// Pour un post ponctuel : son modèle d'image.
    #[arg(
        long,
        value_name = "MODÈLE",
        requires = "at",
        conflicts_with = "series"
    )]
    pub template: Option<String>,

    /// Pour un post ponctuel : sa date et son heure (2026-12-01T19:00).
    #[arg(long, value_name = "DATE", requires = "template")]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Port du serveur local.
    #[arg(long, default_value_t = 8000, value_parser = port)]
    pub port: u16,

    /// Adresse d'écoute ; avec 127.0.0.1, l'aperçu n'est visible que depuis
    /// cet ordinateur.
    #[arg(
        long,
        default_value = "127.0.0.1",
        value_name = "ADRESSE",
        value_parser = ip_address
    )]
    pub bind: std::net::IpAddr,

    /// Un nom d'hôte de plus auquel l'aperçu répond (avec --bind, le nom de
    /// cet ordinateur sur le réseau) ; les autres noms sont refusés (421).
    #[arg(long = "allow-host", value_name = "NOM")]
    pub allow_host: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Sert /healthz et /metrics (Prometheus) à cette adresse.
    #[arg(
        long,
        value_name = "ADRESSE",
        num_args = 0..=1,
        default_missing_value = "127.0.0.1:9187",
        value_parser = socket_address
    )]
    pub health: Option<std::net::SocketAddr>,

    /// Un nom d'hôte de plus auquel /healthz et /metrics répondent ; les
    /// autres noms sont refusés (421).
    #[arg(long = "allow-host", value_name = "NOM")]
    pub allow_host: Vec<String>,

    /// Format des journaux : lignes lisibles, ou JSON (journald, collecteurs).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
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
pub struct SyncArgs {
    /// Accepte une branche réécrite : le serveur publiera ce commit (celui
    /// que `crieur status` montre), et retirera les posts qui n'y sont plus.
    #[arg(long, value_name = "COMMIT", conflicts_with = "resume")]
    pub accept: Option<String>,

    /// Reprend le suivi arrêté par des fichiers modifiés à la main sur le
    /// serveur (mis de côté), une fois ces changements mis dans le dépôt.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Envoie tout de suite un message d'essai par chaque moyen configuré
    /// et dit lesquels ont marché.
    #[arg(long)]
    pub test: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Année du bilan. Par défaut : l'année en cours.
    #[arg(long, value_name = "AAAA", value_parser = year, conflicts_with_all = ["from", "until"])]
    pub year: Option<i32>,

    /// Début de la période (heure locale du projet) : 2026-01-01.
    #[arg(long, value_name = "DATE", requires = "until")]
    pub from: Option<String>,

    /// Fin de la période, exclue : 2027-01-01.
    #[arg(long, value_name = "DATE", requires = "from")]
    pub until: Option<String>,

    /// Écrit le bilan en JSON sur la sortie standard.
    #[arg(long, conflicts_with_all = ["csv", "html"])]
    pub json: bool,

    /// Écrit une ligne par publication en CSV, pour un tableur.
    #[arg(long, conflicts_with = "html")]
    pub csv: bool,

    /// Écrit le bilan en page HTML imprimable (A4), à coller dans Word ou
    /// LibreOffice.
    #[arg(long, value_name = "FICHIER")]
    pub html: Option<PathBuf>,

    /// N'interroge aucun réseau : le bilan des chiffres déjà relevés.
    #[arg(long)]
    pub offline: bool,

    /// Relève les chiffres des réseaux si le dernier relevé a un jour, sans
    /// écrire de bilan (ce que lance le démon).
    #[arg(long, hide = true, conflicts_with_all = ["json", "csv", "html", "offline"])]
    pub refresh_only: bool,
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

    /// Ne dessine que les posts changés depuis REF (branche, étiquette ou
    /// commit git), fichiers non validés et nouveaux compris ; un modèle
    /// changé désigne ses posts, la configuration, une police ou une image
    /// tous les posts.
    #[arg(long, value_name = "REF", conflicts_with = "posts")]
    pub changed_since: Option<String>,
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
    /// Format des problèmes : texte lisible, JSON, annotations de GitHub
    /// Actions ou rapport de qualité du code de GitLab.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text, value_name = "FORMAT")]
    pub format: CheckFormat,

    /// Écrit les problèmes en JSON sur la sortie standard (comme `--format
    /// json`).
    // Kept from before `--format`, for the scripts that use it.
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
}

/// How `check` writes the problems it finds. (Plain comments on the
/// variants: clap would show doc comments, in English, in the help.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    // For a person: each problem with its source line and a caret.
    Text,
    // A JSON array of located diagnostics.
    Json,
    // GitHub Actions workflow commands, one annotation per problem.
    Github,
    // A GitLab Code Quality report.
    Gitlab,
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
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = whole_number)]
    pub weeks: u32,

    /// Écrit le calendrier en JSON sur la sortie standard.
    #[arg(long, conflicts_with_all = ["ics", "csv"])]
    pub json: bool,

    /// Écrit le calendrier au format iCalendar (.ics), pour un agenda.
    #[arg(long, conflicts_with = "csv")]
    pub ics: bool,

    /// Écrit le calendrier en CSV, pour un tableur.
    #[arg(long)]
    pub csv: bool,
}

/// The binary's name, as usage lines and messages show it.
const NAME: &str = "crieur";

/// The French help of every command: its description, usage, arguments and
/// options, with the defaults and possible values in the text.
pub fn command() -> clap::Command {
    let help = clap::Command::new("help")
        .about("Affiche l'aide de crieur, ou celle d'une commande")
        .arg(
            Arg::new("command")
                .value_name("COMMANDE")
                .help("La commande dont afficher l'aide"),
        );
    localize(
        Cli::command()
            .disable_help_subcommand(true)
            .subcommand(help),
        None,
    )
}

/// Makes `command` and its subcommands speak French: own `--help` and
/// `--version`, usage line, headings, and defaults and possible values said
/// in each option's text.
fn localize(command: clap::Command, parent: Option<&str>) -> clap::Command {
    let path = match parent {
        Some(parent) => format!("{parent} {}", command.get_name()),
        None => NAME.to_owned(),
    };
    let mut command = command
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .display_order(1001)
                .help("Affiche cette aide"),
        )
        .mut_args(french_arg);
    if parent.is_none() {
        command = command.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .display_order(1002)
                .help("Affiche la version"),
        );
    }
    let positionals: Vec<String> = command.get_positionals().map(positional_usage).collect();
    let subcommands = command.has_subcommands();
    let mut usage = format!("{path} [options]");
    if subcommands {
        usage.push_str(" <COMMANDE>");
    }
    for positional in &positionals {
        usage.push(' ');
        usage.push_str(positional);
    }
    let mut template = String::from("{about-with-newline}\nUtilisation : {usage}\n\n");
    if subcommands {
        template.push_str("Commandes :\n{subcommands}\n\n");
    }
    if !positionals.is_empty() {
        template.push_str("Arguments :\n{positionals}\n\n");
    }
    template.push_str("Options :\n{options}{after-help}");
    command
        .override_usage(usage)
        .help_template(template)
        .mut_subcommands(|sub| localize(sub, Some(&path)))
}

/// `[POST]...` or `<POST>`, as the usage line shows a positional argument.
fn positional_usage(arg: &Arg) -> String {
    let name = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map_or_else(
            || arg.get_id().to_string().to_uppercase(),
            ToString::to_string,
        );
    let many = if matches!(arg.get_action(), ArgAction::Append) {
        "..."
    } else {
        ""
    };
    if arg.is_required_set() {
        format!("<{name}>{many}")
    } else {
        format!("[{name}]{many}")
    }
}

/// An option's default and possible values, said in French in its text
/// rather than by clap (`[default: …]`, `[possible values: …]`).
fn french_arg(arg: Arg) -> Arg {
    if !arg.get_action().takes_values() {
        return arg;
    }
    let mut notes = Vec::new();
    if !arg.is_hide_possible_values_set() {
        let values: Vec<String> = arg
            .get_value_parser()
            .possible_values()
            .into_iter()
            .flatten()
            .filter(|value| !value.is_hide_set())
            .map(|value| value.get_name().to_owned())
            .collect();
        if !values.is_empty() {
            // A no-break space before the colon, as French sets it: a
            // wrapped line never starts with it.
            notes.push(format!("valeurs\u{a0}: {}", values.join(", ")));
        }
    }
    if !arg.is_hide_default_value_set() && !arg.get_default_values().is_empty() {
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        notes.push(format!("par défaut\u{a0}: {}", defaults.join(", ")));
    }
    if notes.is_empty() {
        return arg;
    }
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    arg.hide_default_value(true)
        .hide_possible_values(true)
        .help(format!("{help} ({})", notes.join("\u{a0}; ")))
}

/// Why the command line leads to no command: help or version to print on
/// standard output (exit code 0), or a usage error, in French, for standard
/// error (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub text: String,
    pub stdout: bool,
    pub code: u8,
}

/// Reads the command line (`args` includes the program's name).
pub fn parse_from(args: impl IntoIterator<Item = impl Into<OsString>>) -> Result<Cli, Stop> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = command()
        .try_get_matches_from(&args)
        .map_err(|error| stop(&error, &args))?;
    if let Some(("help", help)) = matches.subcommand() {
        // `crieur help plan` is `crieur plan --help`.
        let mut again = vec![OsString::from(NAME)];
        again.extend(help.get_one::<String>("command").map(OsString::from));
        again.push(OsString::from("--help"));
        return Err(match parse_from(again) {
            Err(stop) => stop,
            Ok(_) => Stop {
                text: command().render_help().to_string(),
                stdout: true,
                code: 0,
            },
        });
    }
    Cli::from_arg_matches(&matches).map_err(|error| stop(&error, &args))
}

fn stop(error: &clap::Error, args: &[OsString]) -> Stop {
    let usage_error = || Stop {
        text: usage_error(error, args),
        stdout: false,
        code: EXIT_FAILURE as u8,
    };
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Stop {
            text: with_newline(error.to_string()),
            stdout: true,
            code: 0,
        },
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Stop {
            text: with_newline(error.to_string()),
            ..usage_error()
        },
        _ => usage_error(),
    }
}

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A usage error as crieur says every error: `erreur : `, the message, a
/// line per hint, and where to read more.
fn usage_error(error: &clap::Error, args: &[OsString]) -> String {
    let (message, hints) = french_error(error);
    let mut text = format!("erreur : {message}\n");
    for hint in hints {
        text.push_str(&format!("  aide : {hint}\n"));
    }
    text.push_str(&format!(
        "\nPour en savoir plus : {} --help\n",
        command_path(args)
    ));
    text
}

/// `crieur`, or `crieur plan` when the command line names a command: the
/// help to read after a usage error.
fn command_path(args: &[OsString]) -> String {
    let command = command();
    let mut words = args.iter().skip(1).map(|arg| arg.to_str());
    while let Some(word) = words.next() {
        match word {
            Some("--root") => {
                words.next();
            }
            Some("--") => break,
            Some(word) if word.starts_with('-') => {}
            Some(word) if command.find_subcommand(word).is_some() => {
                return format!("{NAME} {word}");
            }
            _ => break,
        }
    }
    NAME.to_owned()
}

/// One piece of what clap tells about an error, as text.
fn context(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind)? {
        ContextValue::String(text) => Some(text.clone()),
        ContextValue::Strings(texts) => texts.first().cloned(),
        ContextValue::StyledStr(text) => Some(text.to_string()),
        ContextValue::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Every value of one piece of what clap tells about an error.
fn contexts(error: &clap::Error, kind: ContextKind) -> Vec<String> {
    match error.get(kind) {
        Some(ContextValue::String(text)) => vec![text.clone()],
        Some(ContextValue::Strings(texts)) => texts.clone(),
        _ => Vec::new(),
    }
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|value| format!("`{value}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A clap error in French: the message, and hints (suggestions, valid
/// values) drawn from what clap tells about it.
fn french_error(error: &clap::Error) -> (String, Vec<String>) {
    let arg = context(error, ContextKind::InvalidArg).unwrap_or_default();
    let value = context(error, ContextKind::InvalidValue).unwrap_or_default();
    let mut hints = Vec::new();
    let mut did_you_mean = |kind: ContextKind| {
        if let Some(suggestion) = context(error, kind) {
            hints.push(format!("vouliez-vous dire `{suggestion}` ?"));
        }
    };
    let message = match error.kind() {
        ErrorKind::InvalidSubcommand => {
            let name = context(error, ContextKind::InvalidSubcommand).unwrap_or_default();
            // clap offers every name somewhat alike; the closest is enough.
            let names: Vec<String> = command()
                .get_subcommands()
                .map(|sub| sub.get_name().to_owned())
                .collect();
            if let Some(best) = crate::diagnostic::closest(&name, names.iter().map(String::as_str))
            {
                hints.push(format!("vouliez-vous dire `{best}` ?"));
            }
            format!("commande inconnue `{name}`")
        }
        ErrorKind::UnknownArgument => {
            did_you_mean(ContextKind::SuggestedArg);
            if let Some(command) = context(error, ContextKind::SuggestedSubcommand) {
                hints.push(format!("vouliez-vous dire la commande `{command}` ?"));
            }
            if error.get(ContextKind::Suggested).is_some() && arg.starts_with('-') {
                hints.push(format!(
                    "pour donner `{arg}` comme valeur, écrivez `-- {arg}`"
                ));
            }
            if arg.starts_with('-') {
                format!("option inconnue `{arg}`")
            } else {
                format!("argument inattendu `{arg}`")
            }
        }
        ErrorKind::InvalidValue => {
            did_you_mean(ContextKind::SuggestedValue);
            let valid = contexts(error, ContextKind::ValidValue);
            if !valid.is_empty() {
                hints.push(format!("valeurs possibles : {}", quoted(&valid)));
            }
            if value.is_empty() {
                format!("valeur manquante pour `{arg}`")
            } else {
                format!("valeur invalide `{value}` pour `{arg}`")
            }
        }
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(error)
                .map(|source| format!(" : {source}"))
                .unwrap_or_default();
            if value.is_empty() {
                format!("valeur vide pour `{arg}`{why}")
            } else {
                format!("valeur invalide `{value}` pour `{arg}`{why}")
            }
        }
        ErrorKind::ArgumentConflict => {
            let prior = contexts(error, ContextKind::PriorArg);
            if prior.is_empty() || prior == [arg.clone()] {
                format!("`{arg}` est donné plusieurs fois : une fois suffit")
            } else {
                format!(
                    "`{arg}` ne va pas avec {} : choisissez l'un ou l'autre",
                    quoted(&prior)
                )
            }
        }
        ErrorKind::NoEquals => format!("`{arg}` attend sa valeur après `=` : `{arg}=…`"),
        ErrorKind::TooManyValues => format!("valeur en trop `{value}` pour `{arg}`"),
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("nombre de valeurs incorrect pour `{arg}`")
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = contexts(error, ContextKind::InvalidArg);
            format!("argument obligatoire manquant : {}", quoted(&missing))
        }
        ErrorKind::MissingSubcommand => "commande manquante".to_owned(),
        ErrorKind::InvalidUtf8 => "argument illisible : il n'est pas en UTF-8".to_owned(),
        _ => "ligne de commande invalide".to_owned(),
    };
    (message, hints)
}

/// A number of weeks.
fn year(text: &str) -> Result<i32, String> {
    text.parse()
        .ok()
        .filter(|year| (1970..=9999).contains(year))
        .ok_or_else(|| "une année sur quatre chiffres est attendue (2026)".to_owned())
}

fn whole_number(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| "un nombre entier positif est attendu".to_owned())
}

fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| "un numéro de port de 0 à 65535 est attendu".to_owned())
}

fn ip_address(text: &str) -> Result<std::net::IpAddr, String> {
    text.parse()
        .map_err(|_| "une adresse IP est attendue (127.0.0.1, 0.0.0.0, ::1…)".to_owned())
}

fn socket_address(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse()
        .map_err(|_| "une adresse IP et un port sont attendus (127.0.0.1:9187)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn reads_a_command_and_its_options() {
        let cli = parse_from(["crieur", "--root", "projet", "plan", "--weeks", "2"]).unwrap();
        assert_eq!(cli.root, Some(PathBuf::from("projet")));
        let Command::Plan(plan) = cli.command else {
            panic!("plan expected");
        };
        assert_eq!(plan.weeks, 2);
        // Without `--root`, the project is looked for from the current folder.
        assert_eq!(parse_from(["crieur", "check"]).unwrap().root, None);
    }

    /// The usage error `args` lead to.
    fn usage_error_of(args: &[&str]) -> String {
        let stop = parse_from(args.iter().copied()).unwrap_err();
        assert_eq!((stop.code, stop.stdout), (2, false), "{}", stop.text);
        stop.text
    }

    #[test]
    fn every_usage_error_is_said_in_french() {
        let cases = [
            (
                &["crieur", "plan", "--weeks="][..],
                "erreur : valeur vide pour `--weeks <N>` : un nombre entier positif est attendu\n",
            ),
            (
                &["crieur", "plan", "--weeks"],
                "erreur : valeur manquante pour `--weeks <N>`\n",
            ),
            (
                &["crieur", "check", "--json", "--json"],
                "erreur : `--json` est donné plusieurs fois : une fois suffit\n",
            ),
            (
                &["crieur", "preview", "--bind", "ici"],
                "erreur : valeur invalide `ici` pour `--bind <ADRESSE>` : une adresse IP est attendue (127.0.0.1, 0.0.0.0, ::1…)\n",
            ),
            (
                &["crieur", "daemon", "--health", "ici"],
                "erreur : valeur invalide `ici` pour `--health [<ADRESSE>]` : une adresse IP et un port sont attendus (127.0.0.1:9187)\n",
            ),
            (
                &["crieur", "daemon", "--log-format", "xml"],
                "erreur : valeur invalide `xml` pour `--log-format <FORMAT>`\n  aide : valeurs possibles : `text`, `json`\n",
            ),
            (
                &["crieur", "render", "-x"],
                "erreur : option inconnue `-x`\n  aide : pour donner `-x` comme valeur, écrivez `-- -x`\n",
            ),
            (
                &["crieur", "help", "nope"],
                "erreur : commande inconnue `nope`\n",
            ),
        ];
        for (args, start) in cases {
            let text = usage_error_of(args);
            assert!(text.starts_with(start), "{args:?}: {text}");
            assert!(text.ends_with(" --help\n"), "{args:?}: {text}");
        }
    }

    #[test]
    fn help_names_defaults_and_possible_values_in_french() {
        let stop = parse_from(["crieur", "render", "--help"]).unwrap_err();
        assert_eq!(stop.code, 0);
        assert!(stop.stdout);
        // Lines are wrapped to the terminal's width.
        let words: Vec<&str> = stop.text.split_whitespace().collect();
        assert!(
            words
                .join(" ")
                .contains("(valeurs : carre, portrait, paysage, all ; par défaut : all)"),
            "{}",
            stop.text
        );
        assert!(
            stop.text
                .contains("Utilisation : crieur render [options] [POST]...")
        );
    }
}

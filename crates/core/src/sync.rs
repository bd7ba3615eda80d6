//! Following a git repository: the server's configuration (`[sync]`) and
//! the decisions of following, with no IO.
//!
//! On the server, `config/crieur.toml` names only the repository the daemon
//! follows and where it keeps its clone; the posts, templates and the
//! project's own configuration come from the repository. A configuration
//! with a `[sync]` table is such a server configuration ([`is_server`]).
//!
//! The daemon moves only by fast-forward ([`decide`]): a rewritten
//! history, files changed by hand in its checkout, or a remote that stays
//! unreachable for a day ([`UNREACHABLE_AFTER`]) stop the following, and
//! the daemon keeps publishing the commit it has.

use chrono::{DateTime, Duration, Utc};
use toml::de::DeTable;

use crate::config::{format_duration, parse_duration};
use crate::diagnostic::Diagnostic;
use crate::table::Reader;

/// The shortest fetching rhythm: a forge is not to be hammered.
pub const MIN_EVERY: Duration = Duration::seconds(30);

/// The fetching rhythm when `every` is not given.
pub const DEFAULT_EVERY: Duration = Duration::minutes(5);

/// How long fetches may fail before the daemon reports itself unhealthy.
pub const UNREACHABLE_AFTER: Duration = Duration::days(1);

/// The environment variable that holds an HTTPS token for the repository.
pub const TOKEN_VARIABLE: &str = "CRIEUR_GIT_TOKEN";

/// The environment variable that names an SSH deploy key's file.
pub const SSH_KEY_VARIABLE: &str = "CRIEUR_GIT_SSH_KEY";

/// The server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    /// The repository's address: `https://…`, `ssh://…`, `git@host:path`,
    /// or a path on the server.
    pub git: String,
    pub branch: String,
    /// How often to fetch.
    pub every: Duration,
    /// Where the daemon keeps its clone, the checked-out commits, the
    /// state store and the files it writes, relative to the server root
    /// unless absolute.
    pub dir: String,
    /// The state store, relative to `dir` unless absolute.
    pub state: String,
}

const TOP_KEYS: &[&str] = &["sync", "state"];
const SYNC_KEYS: &[&str] = &["git", "branch", "every", "dir"];

/// Whether a configuration's text is a server's: it has a `[sync]` table.
/// Text that is not TOML is not a server's (the project's parser says why).
pub fn is_server(text: &str) -> bool {
    DeTable::parse(text).is_ok_and(|table| Reader::get(table.get_ref(), "sync").is_some())
}

impl Follow {
    /// Parses a server's configuration, with every problem found; `None`
    /// when it has errors.
    pub fn parse(text: &str, path: &str) -> (Option<Follow>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let follow = {
            let mut reader = Reader::new(path, 0, &mut diagnostics);
            reader
                .parse(text)
                .and_then(|table| read(&mut reader, &table))
        };
        let follow = follow.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
        (follow, diagnostics)
    }
}

fn read(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Option<Follow> {
    for (key, _) in table.iter() {
        let name: &str = key.get_ref();
        if !TOP_KEYS.contains(&name) {
            reader
                .error(
                    key.span(),
                    format!("`{name}` n'a pas sa place dans la configuration du serveur"),
                )
                .hint = Some(format!(
                "ce fichier a une section [sync] : c'est la configuration d'un serveur, qui dit seulement quel dépôt suivre ([sync]) et où garder l'état ([state]) ; `{name}` se règle dans config/crieur.toml du dépôt suivi. Sur l'ordinateur de la chargée de communication, retirez plutôt [sync]"
            ));
        }
    }
    let (sync, span) = reader.table(table, "sync")?;
    reader.unknown_keys(sync, "sync", SYNC_KEYS);
    let git = reader.required_string(sync, "git", "sync", span)?;
    check_address(reader, git.get_ref(), git.span());
    let branch = match reader.string(sync, "branch") {
        Some(branch) => {
            if !branch_is_valid(branch.get_ref()) {
                reader
                    .error(branch.span(), format!("nom de branche invalide `{}`", branch.get_ref()))
                    .hint = Some(
                    "le nom d'une branche du dépôt, par exemple `main` : lettres, chiffres, `.`, `_`, `-` et `/`"
                        .to_owned(),
                );
            }
            branch.into_inner()
        }
        None => "main".to_owned(),
    };
    let mut every = DEFAULT_EVERY;
    if let Some(text) = reader.string(sync, "every") {
        match parse_duration(text.get_ref()) {
            Some(duration) if duration >= MIN_EVERY => every = duration,
            Some(duration) => {
                reader
                    .error(
                        text.span(),
                        format!(
                            "récupérer le dépôt toutes les {} est trop fréquent",
                            format_duration(duration)
                        ),
                    )
                    .hint = Some("30 s au moins, par exemple `5m`".to_owned());
            }
            None => {
                reader
                    .error(text.span(), format!("durée invalide `{}`", text.get_ref()))
                    .hint = Some("par exemple `5m`, `30s` ou `1h`".to_owned());
            }
        }
    }
    let dir = reader
        .string(sync, "dir")
        .map_or_else(|| ".".to_owned(), |dir| dir.into_inner());
    let state = match reader.table(table, "state") {
        Some((state, _)) => {
            reader.unknown_keys(state, "state", &["path"]);
            reader.string(state, "path").map(|path| path.into_inner())
        }
        None => None,
    }
    .unwrap_or_else(|| crate::config::DEFAULT_STATE.to_owned());
    Some(Follow {
        git: git.into_inner(),
        branch,
        every,
        dir,
        state,
    })
}

/// Refuses an address git would read as an option, or one that carries a
/// password (it would be written in the clone's configuration and shown in
/// git's messages).
fn check_address(reader: &mut Reader<'_>, address: &str, span: std::ops::Range<usize>) {
    if address.trim().is_empty() || address.starts_with('-') {
        reader
            .error(span, format!("adresse de dépôt invalide `{address}`"))
            .hint = Some(
            "l'adresse que la forge donne pour cloner : `https://forge.exemple.fr/cpts/posts.git` ou `git@forge.exemple.fr:cpts/posts.git`"
                .to_owned(),
        );
        return;
    }
    let userinfo = address
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|host| host.rsplit_once('@'))
        .map(|(userinfo, _)| userinfo);
    if userinfo.is_some_and(|userinfo| userinfo.contains(':')) {
        reader
            .error(span, "l'adresse du dépôt contient un mot de passe")
            .hint = Some(format!(
            "retirez-le de l'adresse et donnez le jeton dans la variable d'environnement {TOKEN_VARIABLE} (le fichier de secrets du serveur) : il n'apparaît alors nulle part"
        ));
    }
}

/// A branch name git accepts, without what could be read as an option or
/// a range.
fn branch_is_valid(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.contains("..")
        && !name.contains("//")
        && !name.ends_with(".lock")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

/// Why the daemon stopped following the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The branch no longer descends from the commit being published
    /// (a force-push, a rewritten history).
    Rewritten { published: String, remote: String },
    /// Files of the checkout were changed by hand; they were set aside in
    /// `kept`, and the commit's own files put back.
    ChangedByHand { files: Vec<String>, kept: String },
}

impl Stop {
    /// What happened, for the log and `status`.
    pub fn message(&self) -> String {
        match self {
            Stop::Rewritten { published, remote } => format!(
                "le suivi du dépôt est arrêté : la branche a été réécrite (elle pointe sur {} qui ne descend pas de {}, le commit publié)",
                short(remote),
                short(published)
            ),
            Stop::ChangedByHand { files, kept } => format!(
                "le suivi du dépôt est arrêté : des fichiers ont été modifiés à la main sur le serveur ({}) ; ils ne sont pas publiés et sont gardés dans {kept}",
                files.join(", ")
            ),
        }
    }

    /// What the person in charge does about it.
    pub fn hint(&self) -> String {
        match self {
            Stop::Rewritten { published, remote } => format!(
                "le serveur publie toujours {} et ne retire rien. Si la réécriture est une erreur, remettez l'historique (poussez de nouveau {} sur la branche) : le suivi reprend de lui-même. Si elle est voulue, acceptez-la : `crieur sync --accept {}` (les posts absents de la nouvelle branche seront alors retirés)",
                short(published),
                short(published),
                short(remote)
            ),
            Stop::ChangedByHand { .. } => "sur le serveur, crieur ne publie que ce qui est dans le dépôt : faites ces changements dans le dépôt (un commit), puis reprenez le suivi avec `crieur sync --resume`".to_owned(),
        }
    }
}

/// What to do after a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Nothing new: keep publishing the same commit.
    Stay,
    /// A fast-forward (or the first commit): publish this one.
    Forward(String),
    /// Not a fast-forward: stop following.
    Stop(Stop),
}

/// The one rule of following: move to the remote's commit only when it
/// descends from the one being published (`descends`), or when a person
/// accepted exactly that commit after a rewrite (`accepted`).
pub fn decide(
    published: Option<&str>,
    remote: &str,
    descends: bool,
    accepted: Option<&str>,
) -> Move {
    match published {
        None => Move::Forward(remote.to_owned()),
        Some(published) if published == remote => Move::Stay,
        Some(_) if descends => Move::Forward(remote.to_owned()),
        Some(_) if accepted.is_some_and(|accepted| remote.starts_with(accepted)) => {
            Move::Forward(remote.to_owned())
        }
        Some(published) => Move::Stop(Stop::Rewritten {
            published: published.to_owned(),
            remote: remote.to_owned(),
        }),
    }
}

/// Why following the repository makes the daemon unhealthy, if it does: a
/// stop, or no successful fetch for [`UNREACHABLE_AFTER`] (counted from
/// the daemon's start when it never fetched).
pub fn trouble(
    stopped: Option<&str>,
    last_fetch: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<String> {
    if let Some(stopped) = stopped.filter(|text| !text.is_empty()) {
        return Some(stopped.to_owned());
    }
    let from = last_fetch.unwrap_or(since);
    (now - from >= UNREACHABLE_AFTER).then(|| match last_fetch {
        Some(at) => format!(
            "le dépôt n'a pas pu être récupéré depuis {} (dernière récupération réussie : {})",
            format_duration(now - at),
            at.format("%Y-%m-%d %H:%M UTC")
        ),
        None => format!(
            "le dépôt n'a jamais pu être récupéré, depuis {}",
            format_duration(now - from)
        ),
    })
}

/// A commit's short name, as people read it.
pub fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<Follow>, Vec<String>) {
        let (follow, diagnostics) = Follow::parse(text, "config/crieur.toml");
        let messages = diagnostics
            .iter()
            .map(|d| format!("{} / {}", d.message, d.hint.clone().unwrap_or_default()))
            .collect();
        (follow, messages)
    }

    #[test]
    fn a_server_configuration_names_the_repository_and_nothing_of_the_project() {
        let (follow, errors) = parse(
            "[sync]\ngit = \"https://forge.exemple.fr/cpts/posts.git\"\nevery = \"2m\"\ndir = \"/var/lib/crieur\"\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            follow,
            Some(Follow {
                git: "https://forge.exemple.fr/cpts/posts.git".into(),
                branch: "main".into(),
                every: Duration::minutes(2),
                dir: "/var/lib/crieur".into(),
                state: "state/crieur.sqlite".into(),
            })
        );
        assert!(is_server("[sync]\ngit = \"x\"\n"));
        assert!(!is_server(
            "timezone = \"Europe/Paris\"\n[brand]\nname = \"x\"\n"
        ));
        assert!(!is_server("[sync\n"));

        let (follow, errors) = parse("[sync]\ngit = \"x\"\n[brand]\nname = \"CPTS\"\n");
        assert!(follow.is_none());
        assert!(
            errors[0].starts_with("`brand` n'a pas sa place dans la configuration du serveur")
                && errors[0].contains("retirez plutôt [sync]"),
            "{errors:?}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_what_to_write() {
        let (_, errors) = parse("[sync]\ngit = \"x\"\nevery = \"10s\"\n");
        assert!(errors[0].contains("trop fréquent") && errors[0].contains("30 s au moins"));
        let (_, errors) = parse("[sync]\ngit = \"--upload-pack=evil\"\n");
        assert!(
            errors[0].starts_with("adresse de dépôt invalide"),
            "{errors:?}"
        );
        let (_, errors) = parse("[sync]\ngit = \"https://marie:s3cret@forge.fr/p.git\"\n");
        assert!(
            errors[0].contains("contient un mot de passe") && errors[0].contains(TOKEN_VARIABLE)
        );
        // A user name alone (`https://marie@…`, `git@host:…`) is fine.
        assert!(
            parse("[sync]\ngit = \"https://marie@forge.fr/p.git\"\n")
                .1
                .is_empty()
        );
        assert!(
            parse("[sync]\ngit = \"git@forge.fr:cpts/p.git\"\n")
                .1
                .is_empty()
        );
        for branch in ["-f", "a..b", "a b", "", "main.lock", "/x"] {
            let (_, errors) = parse(&format!("[sync]\ngit = \"x\"\nbranch = \"{branch}\"\n"));
            assert!(errors[0].starts_with("nom de branche invalide"), "{branch}");
        }
        let (_, errors) = parse("[sync]\nbranch = \"main\"\n");
        assert!(errors[0].contains("git"), "{errors:?}");
    }

    #[test]
    fn only_a_fast_forward_or_an_accepted_commit_moves() {
        assert_eq!(decide(None, "b", false, None), Move::Forward("b".into()));
        assert_eq!(decide(Some("a"), "a", true, None), Move::Stay);
        assert_eq!(
            decide(Some("a"), "b", true, None),
            Move::Forward("b".into())
        );
        let Move::Stop(stop) = decide(Some("a"), "b", false, None) else {
            panic!("a rewrite must stop");
        };
        assert!(
            stop.message().contains("réécrite") && stop.hint().contains("crieur sync --accept b")
        );
        // Accepting one commit does not accept the next rewrite.
        assert_eq!(
            decide(Some("a"), "bcdef", false, Some("bcd")),
            Move::Forward("bcdef".into())
        );
        assert!(matches!(
            decide(Some("a"), "c", false, Some("b")),
            Move::Stop(_)
        ));
    }

    #[test]
    fn a_day_without_a_fetch_is_trouble_and_a_stop_always_is() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let hours = |n| start + Duration::hours(n);
        assert_eq!(trouble(None, Some(hours(1)), start, hours(20)), None);
        let late = trouble(None, Some(hours(1)), start, hours(26)).unwrap();
        assert!(late.contains("depuis 1 j 1 h"), "{late}");
        assert!(
            trouble(None, None, start, hours(25))
                .unwrap()
                .contains("jamais")
        );
        assert_eq!(
            trouble(Some("arrêté"), Some(hours(1)), start, hours(2)).as_deref(),
            Some("arrêté")
        );
        assert_eq!(trouble(Some(""), Some(hours(1)), start, hours(2)), None);
    }
}

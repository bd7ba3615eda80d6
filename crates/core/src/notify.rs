//! Notifications: who hears when something goes wrong, and what they read.
//!
//! `[notify]` in `config/crieur.toml` names the ways (e-mail through an
//! SMTP relay, a webhook) and, optionally, a weekly digest. This module
//! reads that section ([`read`], called by `config.rs`), turns the state of
//! the deliveries and what the daemon knows into [`Problem`]s, tells which
//! are new and which cleared against those already announced
//! ([`changes`]), and writes the one French message a pass sends
//! ([`compose`]) or the weekly digest ([`digest`]). No IO: `crieur-io`
//! keeps what was announced in the state store and sends the messages.

use std::ops::Range;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeTable;

use crate::delivery::{Delivery, Status};
use crate::table::Reader;

/// The variable that holds the SMTP relay's password.
pub const PASSWORD_VARIABLE: &str = "CRIEUR_SMTP_PASSWORD";

const KEYS: &[&str] = &["email", "smtp", "from", "webhook", "digest", "preview"];

/// The `[notify]` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Who receives the e-mails; empty for none.
    pub email: Vec<String>,
    /// The relay, required when `email` is given.
    pub smtp: Option<Smtp>,
    /// The sender's address, required when `email` is given.
    pub from: Option<String>,
    /// Where a JSON message is posted.
    pub webhook: Option<String>,
    /// When the weekly digest goes out, if it does.
    pub digest: Option<Digest>,
    /// The preview's public address, for links to a post.
    pub preview: Option<String>,
}

/// An SMTP relay, from `smtp://[user@]host[:port]` or `smtps://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    /// `smtps://`: TLS from the first byte; otherwise STARTTLS when the
    /// relay offers it.
    pub implicit_tls: bool,
    /// The user name; its password comes from [`PASSWORD_VARIABLE`].
    pub user: Option<String>,
}

/// When the weekly digest goes out, in the project's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub weekday: Weekday,
    pub time: NaiveTime,
}

const DAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

impl Digest {
    /// Reads `lundi 08:00`.
    pub fn parse(text: &str) -> Option<Digest> {
        let mut words = text.split_whitespace();
        let day = words.next()?.to_lowercase();
        let time = words.next()?;
        if words.next().is_some() {
            return None;
        }
        let index = DAYS.iter().position(|d| *d == day)?;
        let weekday = Weekday::try_from(u8::try_from(index).ok()?).ok()?;
        let (hour, minute) = time.split_once(':')?;
        if hour.is_empty() || hour.len() > 2 || minute.len() != 2 {
            return None;
        }
        let time = NaiveTime::from_hms_opt(hour.parse().ok()?, minute.parse().ok()?, 0)?;
        Some(Digest { weekday, time })
    }
}

/// Reads `[notify]`; `None` when it is absent or has errors (reported).
pub fn read(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Option<Notify> {
    let (section, span) = reader.table(table, "notify")?;
    let before = reader.error_count();
    reader.unknown_keys(section, "notify", KEYS);
    let email = read_emails(reader, section);
    let smtp = reader
        .string(section, "smtp")
        .and_then(|url| read_smtp(reader, &url));
    let from = reader.string(section, "from");
    if let Some(from) = &from
        && !is_address(from.get_ref())
    {
        bad_address(reader, from);
    }
    if !email.is_empty() {
        for key in ["smtp", "from"] {
            if Reader::get(section, key).is_none() {
                reader
                    .error(span.clone(), format!("`email` demande `{key}` dans `[notify]`"))
                    .hint = Some(match key {
                    "smtp" => "le relais qui envoie les e-mails : `smtp = \"smtp://smtp.exemple.fr:587\"` (ou `smtp://localhost:25` pour un relais local)".to_owned(),
                    _ => "l'adresse qui envoie : `from = \"crieur@cpts-exemple.fr\"`".to_owned(),
                });
            }
        }
    }
    let webhook = reader.string(section, "webhook");
    let webhook = webhook.and_then(|url| read_web_url(reader, &url, "webhook"));
    let preview = reader
        .string(section, "preview")
        .and_then(|url| read_web_url(reader, &url, "preview"))
        .map(|url| url.trim_end_matches('/').to_owned());
    let digest = reader.string(section, "digest").and_then(|text| {
        let digest = Digest::parse(text.get_ref());
        if digest.is_none() {
            reader
                .error(
                    text.span(),
                    format!("moment du bilan invalide `{}`", text.get_ref()),
                )
                .hint =
                Some("un jour de la semaine et une heure : `digest = \"lundi 08:00\"`".to_owned());
        }
        digest
    });
    if email.is_empty() && webhook.is_none() && reader.error_count() == before {
        reader
            .error(span, "`[notify]` ne dit ni à qui écrire ni où")
            .hint = Some(
            "ajoutez `email = [\"…\"]` (avec `smtp` et `from`) ou `webhook = \"https://…\"`"
                .to_owned(),
        );
    }
    (reader.error_count() == before).then(|| Notify {
        email,
        smtp,
        from: from.map(Spanned::into_inner),
        webhook,
        digest,
        preview,
    })
}

fn read_emails(reader: &mut Reader<'_>, section: &DeTable<'_>) -> Vec<String> {
    let Some(list) = reader.strings(section, "email") else {
        return Vec::new();
    };
    let mut email = Vec::new();
    for address in list.into_inner() {
        if is_address(address.get_ref()) {
            email.push(address.into_inner());
        } else {
            bad_address(reader, &address);
        }
    }
    email
}

fn bad_address(reader: &mut Reader<'_>, address: &Spanned<String>) {
    reader
        .error(
            address.span(),
            format!("adresse e-mail invalide `{}`", address.get_ref()),
        )
        .hint = Some("une adresse complète : `communication@cpts-exemple.fr`".to_owned());
}

/// Whether `text` looks like one e-mail address (the relay says the rest).
pub fn is_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
}

fn read_smtp(reader: &mut Reader<'_>, url: &Spanned<String>) -> Option<Smtp> {
    let fail = |reader: &mut Reader<'_>, span: Range<usize>, message: String, hint: &str| {
        reader.error(span, message).hint = Some(hint.to_owned());
        None
    };
    let example = "par exemple `smtp://smtp.exemple.fr:587` (STARTTLS), `smtps://smtp.exemple.fr:465` ou `smtp://localhost:25`";
    let Ok(parsed) = url::Url::parse(url.get_ref()) else {
        return fail(
            reader,
            url.span(),
            format!("adresse de relais invalide `{}`", url.get_ref()),
            example,
        );
    };
    let implicit_tls = match parsed.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => {
            return fail(
                reader,
                url.span(),
                format!("protocole de relais inconnu `{other}://`"),
                example,
            );
        }
    };
    if parsed.password().is_some() {
        return fail(
            reader,
            url.span(),
            "le mot de passe du relais ne s'écrit pas dans la configuration".to_owned(),
            "retirez-le de l'adresse et placez-le dans la variable d'environnement CRIEUR_SMTP_PASSWORD",
        );
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return fail(
            reader,
            url.span(),
            format!("le relais `{}` n'a pas de nom d'hôte", url.get_ref()),
            example,
        );
    };
    let user = Some(parsed.username()).filter(|u| !u.is_empty()).map(|u| {
        url::form_urlencoded::parse(format!("u={u}").as_bytes())
            .next()
            .map_or_else(|| u.to_owned(), |(_, v)| v.into_owned())
    });
    Some(Smtp {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: parsed.port().unwrap_or(if implicit_tls { 465 } else { 25 }),
        implicit_tls,
        user,
    })
}

fn read_web_url(reader: &mut Reader<'_>, url: &Spanned<String>, key: &str) -> Option<String> {
    let ok = url::Url::parse(url.get_ref()).is_ok_and(|parsed| {
        matches!(parsed.scheme(), "http" | "https")
            && parsed.host_str().is_some_and(|h| !h.is_empty())
    });
    if ok {
        return Some(url.get_ref().clone());
    }
    reader
        .error(
            url.span(),
            format!("adresse `{key}` invalide `{}`", url.get_ref()),
        )
        .hint = Some(match key {
        "webhook" => {
            "une adresse en `https://…`, par exemple `https://ntfy.sh/cpts-exemple`".to_owned()
        }
        _ => "l'adresse publique de l'aperçu, par exemple `https://apercu.cpts-exemple.fr`"
            .to_owned(),
    });
    None
}

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// One thing that needs a person, announced once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// What makes it the same problem from one pass to the next.
    pub key: String,
    /// What it is about (a delivery, the passes…): a problem that replaces
    /// another of the same subject (late, then missed) does not clear it
    /// aloud.
    pub subject: String,
    pub level: Level,
    /// The post's id (`chiffre/01-dmp`), if it is about a post.
    pub post: Option<String>,
    pub channel: Option<String>,
    /// When the post was due (Unix seconds), if it is about a delivery.
    pub at: Option<i64>,
    /// What happened, in a few words ("n'a pas pu partir").
    pub title: String,
    /// The network's (or git's) own words.
    pub message: String,
    /// What to do: the text `status` prints.
    pub hint: String,
}

/// The problems the deliveries show (errors, deletions, late and missed
/// posts), then `extra`, those the caller knows of (refused credentials,
/// failing passes, following stopped).
pub fn problems(deliveries: &[Delivery], extra: Vec<Problem>) -> Vec<Problem> {
    let mut problems: Vec<Problem> = deliveries
        .iter()
        .filter_map(|delivery| {
            let (level, title) = match delivery.status {
                Status::Error => (Level::Error, "n'a pas pu partir"),
                Status::Deleted => (Level::Warning, "a été supprimé dans Buffer"),
                Status::Late => (Level::Warning, "est en retard"),
                Status::Missed => (Level::Error, "a été manqué"),
                _ => return None,
            };
            let subject = format!(
                "delivery:{}:{}:{}",
                delivery.post_id,
                delivery.channel,
                delivery.at.timestamp()
            );
            Some(Problem {
                key: format!("{subject}:{}", delivery.status.as_str()),
                subject,
                level,
                post: Some(delivery.post_id.clone()),
                channel: Some(delivery.channel.clone()),
                at: Some(delivery.at.timestamp()),
                title: title.to_owned(),
                message: delivery.last_error.clone().unwrap_or_default(),
                hint: delivery.status.advice().unwrap_or_default().to_owned(),
            })
        })
        .collect();
    problems.extend(extra);
    problems
}

/// A channel whose credentials the network refuses.
pub fn refused(channel: &str, message: &str) -> Problem {
    Problem {
        key: format!("credentials:{channel}"),
        subject: format!("credentials:{channel}"),
        level: Level::Error,
        post: None,
        channel: Some(channel.to_owned()),
        at: None,
        title: "refuse les identifiants de crieur".to_owned(),
        message: message.to_owned(),
        hint: "donnez au canal des identifiants valides (voir `crieur channels`) ; ses posts attendent et partent au passage suivant".to_owned(),
    }
}

/// Passes failing `count` times in a row (announced from two).
pub fn failing(count: u64, message: &str) -> Option<Problem> {
    (count >= 2).then(|| Problem {
        key: "passes:failing".to_owned(),
        subject: "passes:failing".to_owned(),
        level: Level::Error,
        post: None,
        channel: None,
        at: None,
        title: format!("les passages de publication échouent ({count} de suite)"),
        message: message.to_owned(),
        hint: "lisez le message et les journaux du démon (`journalctl -u crieur`), puis `crieur status`".to_owned(),
    })
}

/// Following the repository stopped, with why and what to do.
pub fn stopped(message: &str, hint: &str) -> Problem {
    Problem {
        key: "sync:stopped".to_owned(),
        subject: "sync:stopped".to_owned(),
        level: Level::Error,
        post: None,
        channel: None,
        at: None,
        title: "le suivi du dépôt est arrêté".to_owned(),
        message: message.to_owned(),
        hint: hint.to_owned(),
    }
}

/// The problems not announced yet, and those announced that are gone.
/// A problem replaced by another of the same subject is not said to clear.
pub fn changes(announced: &[Problem], current: &[Problem]) -> (Vec<Problem>, Vec<Problem>) {
    let new = current
        .iter()
        .filter(|p| !announced.iter().any(|a| a.key == p.key))
        .cloned()
        .collect();
    let cleared = announced
        .iter()
        .filter(|a| !current.iter().any(|p| p.key == a.key))
        .cloned()
        .collect();
    (new, cleared)
}

/// Whether a cleared problem deserves a word: not when another problem of
/// the same subject took its place.
pub fn worth_saying(cleared: &Problem, current: &[Problem]) -> bool {
    !current.iter().any(|p| p.subject == cleared.subject)
}

/// One message: what one pass found, a test or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub level: Level,
    /// The subject, a few words.
    pub title: String,
    /// The whole text.
    pub message: String,
    /// The post's file (`posts/ID.md`) when the message is about one post.
    pub post: Option<String>,
    /// The channel when the message is about one channel.
    pub channel: Option<String>,
    /// What to do, when the message is about one problem.
    pub hint: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// The subject of a message about `new` problems and `cleared` ones.
fn subject(new: &[Problem], cleared: &[Problem], remaining: usize) -> String {
    let posts = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 post {one}")
        } else {
            format!("{n} posts {many}")
        }
    };
    let all_same = new.windows(2).all(|w| w[0].title == w[1].title);
    let about_posts = new.iter().all(|p| p.post.is_some());
    // A post missed on two channels is one post.
    let count = new
        .iter()
        .filter_map(|p| p.post.as_ref())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let what = match new {
        [] => None,
        [first, ..] if all_same && about_posts => Some(match first.title.as_str() {
            "n'a pas pu partir" => posts(count, "n'a pas pu partir", "n'ont pas pu partir"),
            "a été supprimé dans Buffer" => {
                posts(count, "supprimé dans Buffer", "supprimés dans Buffer")
            }
            "est en retard" => posts(count, "en retard", "en retard"),
            _ => posts(count, "manqué", "manqués"),
        }),
        [only] if only.channel.is_some() => format!(
            "le canal {} refuse ses identifiants",
            only.channel.as_deref().unwrap_or_default()
        )
        .into(),
        [only] => Some(only.title.clone()),
        _ => Some(format!("{} problèmes", new.len())),
    };
    match (what, cleared.len()) {
        (Some(what), 0) => format!("crieur : {what}"),
        (Some(what), n) => format!("crieur : {what} ; {n} résolu{}", plural(n)),
        (None, _) if remaining == 0 => "crieur : tout est rentré dans l'ordre".to_owned(),
        (None, n) => format!("crieur : {n} problème{} résolu{}", plural(n), plural(n)),
    }
}

fn plural(n: usize) -> &'static str {
    if n > 1 { "s" } else { "" }
}

/// What a problem is about: `posts/ID.md (canal)`, the channel, or nothing.
fn about(problem: &Problem) -> String {
    match (&problem.post, &problem.channel) {
        (Some(post), Some(channel)) => format!("posts/{post}.md ({channel})"),
        (Some(post), None) => format!("posts/{post}.md"),
        (None, Some(channel)) => format!("le canal {channel}"),
        (None, None) => "crieur".to_owned(),
    }
}

/// Everything about one new problem, as the message tells it.
fn describe(problem: &Problem, preview: Option<&str>, tz: Tz) -> String {
    let mut text = format!("{} {}", about(problem), problem.title);
    if let Some(at) = problem
        .at
        .and_then(|at| DateTime::<Utc>::from_timestamp(at, 0))
    {
        text.push_str(&format!(" (prévu {})", local_time(&at.with_timezone(&tz))));
    }
    text.push_str(".\n");
    if !problem.message.is_empty() {
        text.push_str(&format!("   Message : {}\n", problem.message));
    }
    if !problem.hint.is_empty() {
        text.push_str(&format!("   Que faire : {}\n", problem.hint));
    }
    if let (Some(preview), Some(post)) = (preview, &problem.post) {
        text.push_str(&format!("   Aperçu : {preview}/#post-{post}\n"));
    }
    text
}

/// What the message of a pass says: every new problem with what to do,
/// then what cleared. `None` when there is nothing to say.
pub struct Compose<'a> {
    pub new: &'a [Problem],
    pub cleared: &'a [Problem],
    /// How many problems remain, announced or new.
    pub remaining: usize,
    pub preview: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub tz: Tz,
}

/// The one message of a pass.
pub fn compose(input: &Compose<'_>) -> Option<Message> {
    let (new, cleared) = (input.new, input.cleared);
    if new.is_empty() && cleared.is_empty() {
        return None;
    }
    let mut text = String::from("Bonjour,\n\n");
    if !new.is_empty() {
        text.push_str(match new.len() {
            1 => "crieur a besoin de vous :\n\n",
            _ => "crieur a besoin de vous pour ces problèmes :\n\n",
        });
        for (index, problem) in new.iter().enumerate() {
            text.push_str(&format!("{}. ", index + 1));
            text.push_str(&describe(problem, input.preview, input.tz));
            text.push('\n');
        }
    }
    if !cleared.is_empty() {
        text.push_str("Résolu, rien à faire :\n");
        for problem in cleared {
            text.push_str(&format!(
                "- {} : « {} », c'est rentré dans l'ordre.\n",
                about(problem),
                problem.title
            ));
        }
        text.push('\n');
    }
    text.push_str("`crieur status` donne l'état complet.\n");
    let single = (new.len() + cleared.len() == 1).then(|| new.first().or(cleared.first()));
    let single = single.flatten();
    Some(Message {
        level: new.iter().map(|p| p.level).max().unwrap_or(Level::Info),
        title: subject(new, cleared, input.remaining),
        message: text,
        // The post (the channel) all the problems told are about, if
        // they are about one.
        post: shared(new, cleared, |p| p.post.as_ref()).map(|post| format!("posts/{post}.md")),
        channel: shared(new, cleared, |p| p.channel.as_ref()).cloned(),
        hint: single
            .filter(|_| !new.is_empty())
            .map(|p| p.hint.clone())
            .filter(|h| !h.is_empty()),
        at: instant(input.now),
    })
}

/// An instant as `status` shows it: `mar. 01/12/2026 19:00`. (The same
/// form as `plan::format_local`, which this module does not use: the
/// configuration reads this module.)
fn local_time(at: &DateTime<Tz>) -> String {
    const DAYS: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
    format!(
        "{} {}",
        DAYS[at.weekday().num_days_from_monday() as usize],
        at.format("%d/%m/%Y %H:%M")
    )
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The message `crieur notify --test` sends.
pub fn test_message(now: DateTime<Utc>) -> Message {
    Message {
        level: Level::Info,
        title: "crieur : message d'essai".to_owned(),
        message: "Bonjour,\n\nCeci est un message d'essai de crieur (`crieur notify --test`) : s'il vous parvient, vous serez prévenu ici quand quelque chose ne va pas.\n".to_owned(),
        post: None,
        channel: None,
        hint: None,
        at: instant(now),
    }
}

/// The last instant the digest was due at, at or before `now`.
fn last_slot(digest: Digest, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&tz).date_naive();
    let back =
        (7 + local.weekday().num_days_from_monday() - digest.weekday.num_days_from_monday()) % 7;
    [0, 7].into_iter().find_map(|extra| {
        let day = local - Duration::days(i64::from(back) + extra);
        let at = day
            .and_time(digest.time)
            .and_local_timezone(tz)
            .earliest()?
            .with_timezone(&Utc);
        (at <= now).then_some(at)
    })
}

/// Whether the weekly digest is due: its instant passed since the last
/// one went out. Never sent before: only within a day of its instant, so
/// a daemon started on a Thursday waits for the next one.
pub fn digest_due(
    digest: Digest,
    last_sent: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    tz: Tz,
) -> bool {
    let Some(slot) = last_slot(digest, now, tz) else {
        return false;
    };
    match last_sent {
        Some(last) => last < slot,
        None => now - slot < Duration::days(1),
    }
}

/// What every problem of `new` and `cleared` has in common, if anything.
fn shared<'p>(
    new: &'p [Problem],
    cleared: &'p [Problem],
    field: impl Fn(&'p Problem) -> Option<&'p String>,
) -> Option<&'p String> {
    let mut all = new.iter().chain(cleared).map(field);
    let first = all.next()??;
    all.all(|other| other == Some(first)).then_some(first)
}

/// The weekly digest: what went out in the last seven days, what goes out
/// in the next seven, what needs attention.
pub fn digest(deliveries: &[Delivery], now: DateTime<Utc>, tz: Tz) -> Message {
    let week = Duration::days(7);
    let line = |d: &Delivery| {
        format!(
            "- {}  posts/{}.md ({})\n",
            local_time(&d.at.with_timezone(&tz)),
            d.post_id,
            d.channel
        )
    };
    let sent: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.status == Status::Sent && d.at <= now && d.at > now - week)
        .collect();
    let coming: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.at > now && d.at <= now + week)
        .filter(|d| d.status.is_pending() || d.status == Status::Waiting)
        .collect();
    let attention = problems(deliveries, Vec::new());
    let mut text = String::from("Bonjour,\n\nVoici la semaine de crieur.\n\n");
    let mut section = |title: &str, lines: Vec<String>, empty: &str| {
        text.push_str(&format!("{title} ({}) :\n", lines.len()));
        if lines.is_empty() {
            text.push_str(&format!("- {empty}\n"));
        }
        lines.iter().for_each(|l| text.push_str(l));
        text.push('\n');
    };
    section(
        "Partis ces sept derniers jours",
        sent.iter().map(|d| line(d)).collect(),
        "rien",
    );
    section(
        "Prévus ces sept prochains jours",
        coming.iter().map(|d| line(d)).collect(),
        "rien de programmé",
    );
    section(
        "À regarder",
        attention
            .iter()
            .map(|p| format!("- {} {} ; {}\n", about(p), p.title, p.hint))
            .collect(),
        "rien, tout va bien",
    );
    text.push_str("`crieur status` donne l'état complet.\n");
    Message {
        level: if attention.is_empty() {
            Level::Info
        } else {
            Level::Warning
        },
        title: format!(
            "crieur : la semaine ({} parti{}, {} prévu{}, {} à regarder)",
            sent.len(),
            plural(sent.len()),
            coming.len(),
            plural(coming.len()),
            attention.len()
        ),
        message: text,
        post: None,
        channel: None,
        hint: None,
        at: instant(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn parse(section: &str) -> (Option<Notify>, Vec<String>) {
        let text = format!("[notify]\n{section}");
        let mut diagnostics = Vec::new();
        let notify = {
            let mut reader = Reader::new("config/crieur.toml", 0, &mut diagnostics);
            let table = reader.parse(&text).unwrap();
            read(&mut reader, &table)
        };
        let errors = diagnostics
            .iter()
            .map(|d| format!("{} | {}", d.message, d.hint.clone().unwrap_or_default()))
            .collect();
        (notify, errors)
    }

    #[test]
    fn reads_every_way_and_the_digest() {
        let (notify, errors) = parse(
            "email = [\"com@cpts.fr\", \"dir@cpts.fr\"]\nsmtp = \"smtp://crieur%40cpts.fr@smtp.cpts.fr:587\"\nfrom = \"crieur@cpts.fr\"\nwebhook = \"https://ntfy.sh/cpts\"\ndigest = \"lundi 08:00\"\npreview = \"https://apercu.cpts.fr/\"\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let notify = notify.unwrap();
        assert_eq!(notify.email.len(), 2);
        let smtp = notify.smtp.unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.implicit_tls),
            ("smtp.cpts.fr", 587, false)
        );
        assert_eq!(smtp.user.as_deref(), Some("crieur@cpts.fr"));
        assert_eq!(notify.preview.as_deref(), Some("https://apercu.cpts.fr"));
        assert_eq!(
            notify.digest,
            Some(Digest {
                weekday: Weekday::Mon,
                time: NaiveTime::from_hms_opt(8, 0, 0).unwrap()
            })
        );
        let (notify, errors) = parse("webhook = \"http://localhost:8080/hook\"\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(notify.unwrap().email.is_empty());
    }

    #[test]
    fn refuses_each_mistake_at_its_place_with_a_hint() {
        let cases = [
            (
                "email = [\"pas-une-adresse\"]\nsmtp = \"smtp://h.fr\"\nfrom = \"a@b.fr\"\n",
                "adresse e-mail invalide",
            ),
            ("email = [\"a@b.fr\"]\n", "`email` demande `smtp`"),
            (
                "email = [\"a@b.fr\"]\nsmtp = \"smtp://h.fr\"\n",
                "`email` demande `from`",
            ),
            (
                "email = [\"a@b.fr\"]\nsmtp = \"smtp://u:motdepasse@h.fr\"\nfrom = \"a@b.fr\"\n",
                "CRIEUR_SMTP_PASSWORD",
            ),
            (
                "email = [\"a@b.fr\"]\nsmtp = \"imap://h.fr\"\nfrom = \"a@b.fr\"\n",
                "protocole de relais inconnu",
            ),
            ("webhook = \"ftp://h.fr\"\n", "adresse `webhook` invalide"),
            (
                "webhook = \"https://h.fr\"\ndigest = \"lundy 8h\"\n",
                "lundi 08:00",
            ),
            (
                "webhook = \"https://h.fr\"\nsms = \"06\"\n",
                "clé inconnue `sms`",
            ),
            ("digest = \"lundi 08:00\"\n", "ni à qui écrire"),
        ];
        for (section, expected) in cases {
            let (notify, errors) = parse(section);
            assert!(notify.is_none(), "{section}");
            assert!(
                errors.iter().any(|e| e.contains(expected)),
                "{section}: {errors:?}"
            );
            assert!(
                errors
                    .iter()
                    .all(|e| !e.ends_with("| ") || e.contains("clé inconnue")),
                "{errors:?}"
            );
        }
    }

    fn delivery(post: &str, status: Status, error: Option<&str>) -> Delivery {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap();
        Delivery {
            id: 1,
            post_id: post.into(),
            channel: "facebook".into(),
            at,
            content_hash: "h".into(),
            image_url: None,
            remote_id: None,
            status,
            attempts: 1,
            last_error: error.map(str::to_owned),
            updated_at: at,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap()
    }

    fn compose_now(new: &[Problem], cleared: &[Problem], remaining: usize) -> Message {
        compose(&Compose {
            new,
            cleared,
            remaining,
            preview: Some("https://apercu.cpts.fr"),
            now: now(),
            tz: chrono_tz::Europe::Paris,
        })
        .unwrap()
    }

    #[test]
    fn one_problem_per_delivery_that_needs_a_person() {
        let deliveries = [
            delivery("chiffre/a", Status::Error, Some("le texte est trop long")),
            delivery("chiffre/b", Status::Deleted, None),
            delivery("chiffre/c", Status::Late, None),
            delivery("chiffre/d", Status::Missed, None),
            delivery("chiffre/e", Status::Sent, None),
            delivery("chiffre/f", Status::Queued, None),
        ];
        let found = problems(&deliveries, vec![refused("mastodon", "jeton refusé")]);
        assert_eq!(found.len(), 5);
        assert_eq!(found[0].hint, Status::Error.advice().unwrap());
        assert!(found[0].key.ends_with(":error"));
        assert!(failing(1, "x").is_none());
        assert!(failing(2, "x").is_some());
    }

    #[test]
    fn says_a_new_problem_once_and_its_end_once() {
        let first = problems(&[delivery("chiffre/a", Status::Late, None)], Vec::new());
        let (new, cleared) = changes(&[], &first);
        assert_eq!((new.len(), cleared.len()), (1, 0));
        let (new, cleared) = changes(&first, &first);
        assert!(new.is_empty() && cleared.is_empty());
        let (new, cleared) = changes(&first, &[]);
        assert_eq!((new.len(), cleared.len()), (0, 1));
        let message = compose_now(&new, &cleared, 0);
        assert_eq!(message.title, "crieur : tout est rentré dans l'ordre");
        assert!(
            message.message.contains("posts/chiffre/a.md (facebook)"),
            "{}",
            message.message
        );
        // Late, then missed: the new problem replaces the old one.
        let missed = problems(&[delivery("chiffre/a", Status::Missed, None)], Vec::new());
        let (new, cleared) = changes(&first, &missed);
        assert_eq!((new.len(), cleared.len()), (1, 1));
        assert!(!worth_saying(&cleared[0], &missed));
    }

    #[test]
    fn a_message_names_the_post_the_network_s_words_and_what_to_do() {
        let found = problems(
            &[delivery(
                "chiffre/a",
                Status::Error,
                Some("Buffer : le texte est trop long"),
            )],
            Vec::new(),
        );
        let message = compose_now(&found, &[], 1);
        assert_eq!(message.title, "crieur : 1 post n'a pas pu partir");
        assert_eq!(message.post.as_deref(), Some("posts/chiffre/a.md"));
        assert_eq!(message.channel.as_deref(), Some("facebook"));
        assert_eq!(message.level, Level::Error);
        for expected in [
            "posts/chiffre/a.md (facebook) n'a pas pu partir (prévu mar. 01/12/2026 19:00)",
            "Message : Buffer : le texte est trop long",
            Status::Error.advice().unwrap(),
            "Aperçu : https://apercu.cpts.fr/#post-chiffre/a",
        ] {
            assert!(
                message.message.contains(expected),
                "{expected}\n{}",
                message.message
            );
        }
    }

    #[test]
    fn several_problems_go_in_one_message() {
        let found = problems(
            &[
                delivery("chiffre/a", Status::Error, None),
                delivery("chiffre/b", Status::Error, None),
            ],
            Vec::new(),
        );
        let message = compose_now(&found, &[], 2);
        assert_eq!(message.title, "crieur : 2 posts n'ont pas pu partir");
        assert_eq!(message.post, None);
        let mut mixed = found.clone();
        mixed.push(stopped("la branche a été réécrite", "crieur sync --accept"));
        assert_eq!(compose_now(&mixed, &[], 3).title, "crieur : 3 problèmes");
        let channel = compose_now(&[refused("mastodon", "jeton refusé")], &[], 1);
        assert_eq!(
            channel.title,
            "crieur : le canal mastodon refuse ses identifiants"
        );
        assert_eq!(
            compose_now(&[], &found[..1], 1).title,
            "crieur : 1 problème résolu"
        );
        assert!(
            compose(&Compose {
                new: &[],
                cleared: &[],
                remaining: 0,
                preview: None,
                now: now(),
                tz: chrono_tz::UTC
            })
            .is_none()
        );
    }

    #[test]
    fn the_digest_is_due_once_a_week_at_its_time() {
        let tz = chrono_tz::Europe::Paris;
        let digest = Digest::parse("lundi 08:00").unwrap();
        // Monday 30 November 2026, 08:00 in Paris is 07:00 UTC.
        let monday = Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap();
        assert!(!digest_due(digest, None, monday - Duration::minutes(1), tz));
        assert!(digest_due(digest, None, monday, tz));
        assert!(!digest_due(
            digest,
            Some(monday),
            monday + Duration::hours(3),
            tz
        ));
        assert!(!digest_due(digest, None, monday + Duration::days(3), tz));
        assert!(digest_due(
            digest,
            Some(monday),
            monday + Duration::days(7),
            tz
        ));
        assert!(digest_due(
            digest,
            Some(monday - Duration::days(7)),
            monday + Duration::days(2),
            tz
        ));
    }

    #[test]
    fn the_digest_tells_the_past_week_the_next_and_what_needs_attention() {
        let mut sent = delivery("chiffre/a", Status::Sent, None);
        sent.at = now() - Duration::days(2);
        let mut queued = delivery("chiffre/b", Status::Queued, None);
        queued.at = now() + Duration::days(3);
        let error = delivery("chiffre/c", Status::Error, Some("refusé"));
        let message = digest(&[sent, queued, error], now(), chrono_tz::Europe::Paris);
        assert_eq!(
            message.title,
            "crieur : la semaine (1 parti, 1 prévu, 1 à regarder)"
        );
        for expected in [
            "posts/chiffre/a.md",
            "posts/chiffre/b.md",
            "posts/chiffre/c.md (facebook) n'a pas pu partir",
        ] {
            assert!(
                message.message.contains(expected),
                "{expected}\n{}",
                message.message
            );
        }
    }
}

//! The project's configuration, `config/crieur.toml`.
//!
//! [`Config::parse`] takes the file's text and its display path and returns
//! the validated configuration together with every problem found; it does no
//! IO. References to templates are checked later, by `check`, once the
//! templates are loaded.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use chrono::Datelike;
use chrono_tz::Tz;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, suggest};
use crate::network::Network;
use crate::schedule::{Cadence, MAX_EVERY, Schedule, weekday_name};
use crate::table::Reader;

/// Where the configuration lives, relative to the project root.
pub const CONFIG_PATH: &str = "config/crieur.toml";

#[derive(Debug, Clone)]
pub struct Config {
    pub timezone: Tz,
    pub brand: Brand,
    pub series: BTreeMap<String, Series>,
    pub channels: BTreeMap<String, Channel>,
    pub publisher: Publisher,
    pub typography: Typography,
    pub media: Option<Media>,
    /// The state store, relative to the project root.
    pub state: String,
    /// How late the daemon may still deliver a post after downtime.
    pub grace: chrono::Duration,
    /// Who hears when something goes wrong (`[notify]`), if anyone.
    pub notify: Option<crate::notify::Notify>,
    /// Series and channels left out because of their errors, by section
    /// (`series.<id>`, `channels.<id>`), with the first error: what
    /// depends on them is disabled, the rest goes on.
    pub broken: BTreeMap<String, String>,
}

/// The default place of the state store.
pub const DEFAULT_STATE: &str = "state/crieur.sqlite";

/// Where images are hosted for the publisher to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// A folder that the organisation's web server serves.
    Local {
        dir: String,
        public_base_url: String,
    },
    /// An S3-compatible bucket; keys come from the environment.
    S3 {
        endpoint: String,
        bucket: String,
        region: String,
        public_base_url: String,
        /// The canned ACL sent with each image (`public-read` by default);
        /// `None` for buckets made public otherwise (Cloudflare R2, a CDN).
        acl: Option<String>,
    },
}

impl Media {
    pub fn public_base_url(&self) -> &str {
        match self {
            Media::Local {
                public_base_url, ..
            }
            | Media::S3 {
                public_base_url, ..
            } => public_base_url,
        }
    }
}

/// Where French typographic rules apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typography {
    /// To the text drawn on images (default: yes).
    pub visuals: bool,
    /// To captions (default: no, they go out as written).
    pub captions: bool,
    /// Names a card never breaks across lines: those of `no_break`, then
    /// « Mon Espace Santé » and the brand's name.
    pub no_break: Vec<String>,
}

/// Names kept on one line on every card, besides the brand's own.
pub const NO_BREAK: &[&str] = &["Mon Espace Santé"];

impl Default for Typography {
    fn default() -> Self {
        Typography {
            visuals: true,
            captions: false,
            no_break: NO_BREAK.iter().map(|name| (*name).to_owned()).collect(),
        }
    }
}

/// The organisation's identity, used by templates.
#[derive(Debug, Clone, Default)]
pub struct Brand {
    pub name: String,
    /// Where `name` is written, where a card it makes fail is told.
    pub name_span: Option<Range<usize>>,
    /// Named colours (`primary = "#E4632D"`), as `#RRGGBB` or `#RRGGBBAA`,
    /// each with its span, where a text it makes unreadable is told.
    pub colors: BTreeMap<String, Spanned<String>>,
    /// Named fonts (`title = "Lato-Black.ttf"`), files in `assets/fonts/`,
    /// each with the span of its file name, where a missing file is told.
    pub fonts: BTreeMap<String, Spanned<String>>,
    /// The logo, a PNG path relative to `assets/`.
    pub logo: Option<Spanned<String>>,
    /// Where `categories = "derived"` asks for the `outil` template's
    /// category colours to be derived from the primary (those the colours
    /// do not name); `None` when it does not.
    pub derived_categories: Option<Range<usize>>,
}

/// A recurring kind of post, on its own timetable.
#[derive(Debug, Clone)]
pub struct Series {
    pub id: String,
    /// Where `[series.<id>]` is declared, for messages about the series.
    pub span: Range<usize>,
    pub name: Option<String>,
    pub template: Option<Spanned<String>>,
    pub schedule: Schedule,
    pub cron_span: Range<usize>,
    pub channels: Vec<Spanned<String>>,
    pub hashtags: Vec<String>,
    /// When every post has gone out, start again from the first.
    pub repeat: bool,
}

/// A place posts go to: one account on one network.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub network: Network,
    pub name: Option<String>,
    /// Buffer's id of the channel.
    pub buffer_id: Option<String>,
    /// How many scheduled posts the publisher's queue holds for this
    /// channel (Buffer Free: about 10).
    pub queue_limit: usize,
    /// Set when the channel publishes directly to its network
    /// (`publisher = "direct"`) rather than through the project's publisher.
    pub direct: Option<Direct>,
}

/// A channel that publishes straight to its network's API. Secrets are not
/// here: they come from the environment only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direct {
    /// A Mastodon account; its token comes from `CRIEUR_MASTODON_TOKEN`.
    Mastodon {
        /// The instance's address, without a trailing slash.
        instance: String,
    },
    /// A Bluesky account; its app password comes from
    /// `CRIEUR_BLUESKY_APP_PASSWORD`.
    Bluesky {
        /// The account's handle, without `@`.
        handle: String,
        /// The account's PDS, without a trailing slash.
        service: String,
    },
}

/// The PDS a Bluesky channel uses unless it names another.
pub const BLUESKY_SERVICE: &str = "https://bsky.social";

/// Whether an address may receive a token: `https://`, or `http://` on the
/// machine itself (a local test server).
pub fn secure_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    parsed.host_str().is_some_and(|h| !h.is_empty())
        && (parsed.scheme() == "https" || (parsed.scheme() == "http" && local))
}

/// The default queue limit of a channel.
pub const DEFAULT_QUEUE_LIMIT: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub kind: PublisherKind,
    /// How far ahead `publish` queues posts.
    pub lookahead: chrono::Duration,
    /// How long one request to the publisher may take.
    pub timeout: std::time::Duration,
    /// The publisher's request budget.
    pub budget: crate::budget::Budget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherKind {
    /// Queued posts become folders in `dir` (default `outbox`): no account
    /// needed.
    Outbox { dir: String },
    /// Buffer's GraphQL API.
    Buffer {
        endpoint: String,
        organization: String,
    },
}

/// The default Buffer endpoint.
pub const BUFFER_ENDPOINT: &str = "https://api.buffer.com";

impl Default for Publisher {
    fn default() -> Self {
        Publisher {
            kind: PublisherKind::Outbox {
                dir: "outbox".to_owned(),
            },
            lookahead: chrono::Duration::days(7),
            timeout: std::time::Duration::from_secs(30),
            budget: crate::budget::Budget::default(),
        }
    }
}

/// The longest duration the configuration may give (a lookahead, a grace,
/// a timeout): longer ones are typing mistakes, and would overflow the
/// date arithmetic they feed.
pub const MAX_DURATION_DAYS: i64 = 366;

/// Reads a duration written as `7d`, `36h`, `90m` or `30s`, of at most
/// [`MAX_DURATION_DAYS`] days.
pub fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let duration = match unit.trim() {
        "d" | "j" => chrono::Duration::try_days(number),
        "h" => chrono::Duration::try_hours(number),
        "m" | "min" => chrono::Duration::try_minutes(number),
        "s" => chrono::Duration::try_seconds(number),
        _ => None,
    }?;
    (duration <= chrono::Duration::days(MAX_DURATION_DAYS)).then_some(duration)
}

/// A duration as a person reads it, in French: `45 s`, `12 min`,
/// `1 h 05 min`, `2 j 3 h`.
pub fn format_duration(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m:02} min"),
        (d, 0, _) => format!("{d} j"),
        (d, h, _) => format!("{d} j {h} h"),
    }
}

const TOP_KEYS: &[&str] = &[
    "timezone",
    "brand",
    "series",
    "channels",
    "publisher",
    "typography",
    "media",
    "state",
    "daemon",
    "notify",
];
const TYPOGRAPHY_KEYS: &[&str] = &["visuals", "captions", "no_break"];
const BRAND_KEYS: &[&str] = &["name", "colors", "fonts", "logo", "categories"];
const SERIES_KEYS: &[&str] = &[
    "name", "template", "cron", "every", "start", "channels", "hashtags", "repeat",
];
const CHANNEL_KEYS: &[&str] = &[
    "network",
    "name",
    "buffer_id",
    "queue_limit",
    "publisher",
    "instance",
    "handle",
    "service",
];
const PUBLISHER_KEYS: &[&str] = &[
    "kind",
    "dir",
    "endpoint",
    "organization",
    "lookahead",
    "timeout",
    "requests_per_15_minutes",
    "requests_per_day",
];
const PUBLISHER_KINDS: &[&str] = &["outbox", "buffer"];
const MEDIA_KEYS: &[&str] = &[
    "kind",
    "dir",
    "public_base_url",
    "endpoint",
    "bucket",
    "region",
];
const MEDIA_KINDS: &[&str] = &["local", "s3"];

impl Config {
    /// Parses and validates the configuration. The configuration is `None`
    /// when it has errors that leave nothing sound to plan with.
    ///
    /// An error inside a series or a channel disables only that series or
    /// channel (listed in [`Config::broken`]); any other error (the TOML
    /// itself, the time zone, the publisher, the brand...) affects
    /// everything and leaves no configuration.
    pub fn parse(text: &str, path: &str) -> (Option<Config>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let config = {
            let mut reader = Reader::new(path, 0, &mut diagnostics);
            reader
                .parse(text)
                .and_then(|table| read_config(&mut reader, &table))
        };
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let config = config.filter(|config| errors <= config.broken_errors);
        (config.map(|c| c.config), diagnostics)
    }
}

/// A configuration, with how many of the errors found lie in the series
/// and channels it left out.
struct Read {
    config: Config,
    broken_errors: usize,
}

fn read_config(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Option<Read> {
    reader.unknown_keys(table, "", TOP_KEYS);
    let timezone = read_timezone(reader, table);
    let brand = read_brand(reader, table);
    let mut broken = BTreeMap::new();
    let before = reader.error_count();
    let mut channels = read_channels(reader, table, &mut broken);
    let broken_channels: Vec<String> = broken.keys().cloned().collect();
    let series = read_series(
        reader,
        table,
        timezone.unwrap_or(chrono_tz::UTC),
        &channels,
        &mut broken,
        &broken_channels,
    );
    let in_sections = reader.error_count() - before;
    let broken_before = broken.len();
    let publisher = read_publisher(reader, table, &mut channels, &mut broken);
    // Each channel the publisher disables adds one error of its own.
    let broken_errors = in_sections + broken.len() - broken_before;
    let before_notify = reader.error_count();
    let notify = read_notify(reader, table, &mut broken);
    let broken_errors = broken_errors + reader.error_count() - before_notify;
    let mut typography = read_typography(reader, table);
    typography.no_break.push(brand.name.clone());
    let media = read_media(reader, table, &publisher);
    let state = match reader.table(table, "state") {
        Some((state, _)) => {
            reader.unknown_keys(state, "state", &["path"]);
            reader
                .string(state, "path")
                .map_or_else(|| DEFAULT_STATE.to_owned(), Spanned::into_inner)
        }
        None => DEFAULT_STATE.to_owned(),
    };
    let mut grace = chrono::Duration::hours(1);
    if let Some((daemon, _)) = reader.table(table, "daemon") {
        reader.unknown_keys(daemon, "daemon", &["grace"]);
        if let Some(text) = reader.string(daemon, "grace") {
            match parse_duration(text.get_ref()) {
                Some(duration) if duration >= chrono::Duration::zero() => grace = duration,
                _ => {
                    reader
                        .error(text.span(), format!("durée invalide `{}`", text.get_ref()))
                        .hint = Some("par exemple `1h` ou `30m` (366 jours au plus)".to_owned());
                }
            }
        }
    }
    Some(Read {
        config: Config {
            timezone: timezone?,
            brand,
            series,
            channels,
            publisher,
            typography,
            media,
            state,
            grace,
            notify,
            broken,
        },
        broken_errors,
    })
}

/// `[notify]`: its errors are reported, but leave out only the section,
/// like a broken channel's (listed in `broken` as `notify`): a
/// notification never stops publishing.
fn read_notify(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    broken: &mut BTreeMap<String, String>,
) -> Option<crate::notify::Notify> {
    let before = reader.error_count();
    let notify = crate::notify::read(reader, table);
    if reader.error_count() > before {
        broken.insert("notify".to_owned(), reader.last_error().unwrap_or_default());
    }
    notify
}

fn read_media(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    publisher: &Publisher,
) -> Option<Media> {
    let Some((media, span)) = reader.table(table, "media") else {
        if matches!(publisher.kind, PublisherKind::Buffer { .. }) {
            reader
                .error(0..0, "Buffer va chercher les images à une adresse publique : la section `[media]` manque")
                .hint = Some(
                "ajoutez `[media]` avec `kind = \"local\"`, `dir` et `public_base_url` (ou `kind = \"s3\"`)".to_owned(),
            );
        }
        return None;
    };
    reader.unknown_keys(media, "media", MEDIA_KEYS);
    let kind = reader.required_string(media, "kind", "media", span.clone())?;
    let public_base_url = reader.required_string(media, "public_base_url", "media", span.clone());
    if let Some(url) = &public_base_url
        && !(url.get_ref().starts_with("https://") || url.get_ref().starts_with("http://"))
    {
        reader
            .error(url.span(), format!("adresse invalide `{}`", url.get_ref()))
            .hint =
            Some("une adresse publique complète : `https://cpts-mulhouse.fr/crieur/`".to_owned());
    }
    let public_base_url = public_base_url?.into_inner();
    match kind.get_ref().as_str() {
        "local" => {
            let dir = reader
                .required_string(media, "dir", "media", span)?
                .into_inner();
            Some(Media::Local {
                dir,
                public_base_url,
            })
        }
        "s3" => {
            let endpoint = reader.required_string(media, "endpoint", "media", span.clone());
            let bucket = reader.required_string(media, "bucket", "media", span.clone());
            let region = reader
                .string(media, "region")
                .map_or_else(|| "us-east-1".to_owned(), Spanned::into_inner);
            let acl = match reader.string(media, "acl") {
                None => Some("public-read".to_owned()),
                Some(acl) if acl.get_ref() == "none" => None,
                Some(acl) => Some(acl.into_inner()),
            };
            Some(Media::S3 {
                endpoint: endpoint?.into_inner(),
                bucket: bucket?.into_inner(),
                region,
                public_base_url,
                acl,
            })
        }
        other => {
            let hint = suggest(other, MEDIA_KINDS);
            reader
                .error(kind.span(), format!("type d'hébergement inconnu `{other}`"))
                .hint = hint;
            None
        }
    }
}

fn read_typography(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Typography {
    let Some((typography, _)) = reader.table(table, "typography") else {
        return Typography::default();
    };
    reader.unknown_keys(typography, "typography", TYPOGRAPHY_KEYS);
    let defaults = Typography::default();
    let mut no_break: Vec<String> = reader
        .strings(typography, "no_break")
        .map(|names| {
            names
                .into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect()
        })
        .unwrap_or_default();
    no_break.extend(defaults.no_break);
    Typography {
        visuals: reader
            .bool(typography, "visuals")
            .map_or(defaults.visuals, Spanned::into_inner),
        captions: reader
            .bool(typography, "captions")
            .map_or(defaults.captions, Spanned::into_inner),
        no_break,
    }
}

fn read_timezone(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Option<Tz> {
    let name = reader.required_string(table, "timezone", "", 0..0)?;
    match Tz::from_str(name.get_ref()) {
        Ok(tz) => Some(tz),
        Err(_) => {
            reader
                .error(
                    name.span(),
                    format!("fuseau horaire inconnu `{}`", name.get_ref()),
                )
                .hint = Some(timezone_hint(name.get_ref()));
            None
        }
    }
}

/// What to say of a time zone crieur does not know: the zone meant, when
/// `name` is a slip of a known one, or the zones there are. The build keeps
/// those of Europe and of France overseas (`.cargo/config.toml`).
pub fn timezone_hint(name: &str) -> String {
    let lower = name.to_lowercase();
    let known = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    // A slip is a few letters; a zone of the same continent is not one.
    let slip = known()
        .map(|zone| (strsim::levenshtein(&lower, &zone.to_lowercase()), zone))
        .filter(|(distance, zone)| *distance <= 2.max(zone.len() / 6))
        .min_by_key(|(distance, _)| *distance);
    if let Some((_, zone)) = slip {
        return format!("vouliez-vous dire `{zone}` ?");
    }
    // A build without the filter knows every zone of the world.
    if Tz::from_str("America/New_York").is_ok() {
        return "un nom de fuseau IANA, par exemple `Europe/Paris` ou `America/Cayenne`".to_owned();
    }
    let overseas: Vec<String> = OVERSEAS.iter().map(|zone| format!("`{zone}`")).collect();
    format!(
        "crieur connaît les fuseaux de l'Europe (`Europe/Paris`, `Europe/Brussels`…) et de la France d'outre-mer ({}), ainsi que `UTC`",
        overseas.join(", ")
    )
}

/// The zones of France overseas, as `.cargo/config.toml` keeps them.
const OVERSEAS: &[&str] = &[
    "America/Guadeloupe",
    "America/Martinique",
    "America/Cayenne",
    "Indian/Reunion",
    "Indian/Mayotte",
    "America/Miquelon",
    "America/St_Barthelemy",
    "America/Marigot",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Pacific/Marquesas",
    "Pacific/Gambier",
    "Pacific/Wallis",
    "Indian/Kerguelen",
];

fn read_brand(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Brand {
    let Some((brand, span)) = reader.table(table, "brand") else {
        reader.error(0..0, "section `[brand]` manquante").hint =
            Some("ajoutez `[brand]` avec au moins `name = \"…\"`".to_owned());
        return Brand::default();
    };
    reader.unknown_keys(brand, "brand", BRAND_KEYS);
    let name = reader.required_string(brand, "name", "brand", span);
    let name_span = name.as_ref().map(Spanned::span);
    let name = name.map(Spanned::into_inner).unwrap_or_default();
    let colors = string_map(reader, brand, "colors");
    for (key, color) in &colors {
        if !is_hex_color(color.get_ref()) {
            reader
                .error(
                    color.span(),
                    format!("couleur `{key}` invalide : `{}`", color.get_ref()),
                )
                .hint = Some(
                "écrivez-la en hexadécimal : `#E4632D` (ou `#E4632DCC` avec transparence)"
                    .to_owned(),
            );
        }
    }
    let fonts = string_map(reader, brand, "fonts");
    let logo = reader.string(brand, "logo");
    let derived_categories = reader.string(brand, "categories").and_then(|value| {
        if value.get_ref() == "derived" {
            return Some(value.span());
        }
        reader
            .error(value.span(), format!("valeur inconnue `{}`", value.get_ref()))
            .hint = Some(
            "`categories = \"derived\"` donne aux catégories du modèle `outil` des couleurs tirées de la couleur principale ; sinon, retirez la ligne et nommez-les dans [brand.colors]"
                .to_owned(),
        );
        None
    });
    Brand {
        name,
        name_span,
        colors,
        fonts,
        logo,
        derived_categories,
    }
}

/// A table of strings (`[brand.colors]`).
fn string_map(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    key: &str,
) -> BTreeMap<String, Spanned<String>> {
    let Some((inner, _)) = reader.table(table, key) else {
        return BTreeMap::new();
    };
    let mut map = BTreeMap::new();
    for (name, _) in inner.iter() {
        let name: &str = name.get_ref();
        if let Some(value) = reader.string(inner, name) {
            map.insert(name.to_owned(), value);
        }
    }
    map
}

fn is_hex_color(text: &str) -> bool {
    let Some(hex) = text.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit())
}

fn read_channels(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    broken: &mut BTreeMap<String, String>,
) -> BTreeMap<String, Channel> {
    let mut channels = BTreeMap::new();
    for (id, channel, span) in reader.tables(table, "channels") {
        let section = format!("channels.{}", id.get_ref());
        let before = reader.error_count();
        reader.unknown_keys(channel, &section, CHANNEL_KEYS);
        let network = reader
            .required_string(channel, "network", &section, span.clone())
            .and_then(|name| match name.get_ref().parse::<Network>() {
                Ok(network) => Some(network),
                Err(()) => {
                    let hint = suggest(name.get_ref(), &Network::NAMES);
                    reader
                        .error(name.span(), format!("réseau inconnu `{}`", name.get_ref()))
                        .hint = hint;
                    None
                }
            });
        let name = reader.string(channel, "name").map(Spanned::into_inner);
        let buffer_id = reader.string(channel, "buffer_id").map(Spanned::into_inner);
        let queue_limit = reader.integer(channel, "queue_limit").and_then(|limit| {
            match usize::try_from(*limit.get_ref()) {
                Ok(limit) if (1..=10_000).contains(&limit) => Some(limit),
                _ => {
                    reader
                        .error(
                            limit.span(),
                            format!("limite de file invalide `{}`", limit.get_ref()),
                        )
                        .hint =
                        Some("un nombre de posts entre 1 et 10000 : `queue_limit = 10`".to_owned());
                    None
                }
            }
        });
        let direct = network
            .and_then(|network| read_direct(reader, channel, network, &section, span.clone()));
        if reader.error_count() > before {
            broken.insert(section, reader.last_error().unwrap_or_default());
            continue;
        }
        if let Some(network) = network {
            let id = id.into_inner();
            channels.insert(
                id.clone(),
                Channel {
                    id,
                    network,
                    name,
                    buffer_id,
                    queue_limit: queue_limit.unwrap_or(DEFAULT_QUEUE_LIMIT),
                    direct,
                },
            );
        }
    }
    channels
}

/// A channel's `publisher = "direct"` and the keys it needs; the keys of a
/// direct channel on a channel without it are errors, so that no one
/// believes a channel goes direct when it does not.
fn read_direct(
    reader: &mut Reader<'_>,
    channel: &DeTable<'_>,
    network: Network,
    section: &str,
    span: Range<usize>,
) -> Option<Direct> {
    let publisher = reader.string(channel, "publisher");
    let Some(publisher) = publisher else {
        check_no_direct_keys(reader, channel);
        return None;
    };
    if publisher.get_ref() != "direct" {
        reader
            .error(
                publisher.span(),
                format!("publication inconnue `{}`", publisher.get_ref()),
            )
            .hint = Some("seule `publisher = \"direct\"` existe pour un canal ; sans elle, le canal passe par `[publisher]`".to_owned());
        return None;
    }
    match network {
        Network::Mastodon => {
            let instance = read_direct_url(reader, channel, "instance", None, section, &span)?;
            Some(Direct::Mastodon { instance })
        }
        Network::Bluesky => {
            let service = read_direct_url(
                reader,
                channel,
                "service",
                Some(BLUESKY_SERVICE),
                section,
                &span,
            );
            let handle = reader.required_string(channel, "handle", section, span.clone())?;
            let text = handle.get_ref().trim().trim_start_matches('@').to_owned();
            if text.is_empty()
                || !text.contains('.')
                || text.chars().any(|c| c.is_whitespace() || c == '/')
            {
                reader
                    .error(
                        handle.span(),
                        format!("identifiant Bluesky invalide `{}`", handle.get_ref()),
                    )
                    .hint = Some(
                    "l'identifiant du compte, par exemple `cpts-mulhouse.bsky.social`".to_owned(),
                );
                return None;
            }
            Some(Direct::Bluesky {
                handle: text,
                service: service?,
            })
        }
        other => {
            reader
                .error(
                    publisher.span(),
                    format!(
                        "{} ne se publie pas en direct",
                        other.display_name()
                    ),
                )
                .hint = Some("seuls Mastodon et Bluesky se publient en direct ; retirez `publisher` pour passer par `[publisher]`".to_owned());
            None
        }
    }
}

/// Reports the keys of a direct channel on a channel that does not go
/// direct.
fn check_no_direct_keys(reader: &mut Reader<'_>, channel: &DeTable<'_>) {
    for key in ["instance", "handle", "service"] {
        if let Some(value) = reader.string(channel, key) {
            reader
                .error(
                    value.span(),
                    format!("`{key}` ne sert qu'aux canaux publiés en direct"),
                )
                .hint = Some(
                "ajoutez `publisher = \"direct\"` au canal, ou retirez cette ligne".to_owned(),
            );
        }
    }
}

/// A direct channel's address under `key`, `https://` and without its
/// trailing `/`; `default` when not given, or an error when there is none.
fn read_direct_url(
    reader: &mut Reader<'_>,
    channel: &DeTable<'_>,
    key: &str,
    default: Option<&str>,
    section: &str,
    span: &Range<usize>,
) -> Option<String> {
    let value = match reader.string(channel, key) {
        Some(value) => value,
        None => {
            if let Some(default) = default {
                return Some(default.to_owned());
            }
            reader.required_string(channel, key, section, span.clone());
            return None;
        }
    };
    let text = value.get_ref().trim().trim_end_matches('/').to_owned();
    if secure_url(&text) {
        Some(text)
    } else {
        reader
            .error(
                value.span(),
                format!("adresse invalide `{}`", value.get_ref()),
            )
            .hint = Some("une adresse en `https://…`, par exemple `https://piaille.fr`".to_owned());
        None
    }
}

fn read_series(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    tz: Tz,
    channels: &BTreeMap<String, Channel>,
    broken: &mut BTreeMap<String, String>,
    broken_channels: &[String],
) -> BTreeMap<String, Series> {
    let mut series = BTreeMap::new();
    for (id, entry, span) in reader.tables(table, "series") {
        let section = format!("series.{}", id.get_ref());
        let before = reader.error_count();
        reader.unknown_keys(entry, &section, SERIES_KEYS);
        let name = reader.string(entry, "name").map(Spanned::into_inner);
        let template = reader.string(entry, "template");
        let cron = reader.required_string(entry, "cron", &section, span.clone());
        let schedule = cron.as_ref().and_then(|cron| read_schedule(reader, cron));
        let cadence = read_cadence(reader, entry, schedule.as_ref(), tz);
        let series_channels = reader
            .strings(entry, "channels")
            .map(Spanned::into_inner)
            .unwrap_or_default();
        // A channel with errors of its own is reported there, not here.
        let declared: Vec<Spanned<String>> = series_channels
            .iter()
            .filter(|c| !broken_channels.contains(&format!("channels.{}", c.get_ref())))
            .cloned()
            .collect();
        check_channel_refs(reader, &declared, channels);
        let repeat = reader
            .bool(entry, "repeat")
            .is_some_and(Spanned::into_inner);
        let hashtags = reader
            .strings(entry, "hashtags")
            .map(Spanned::into_inner)
            .unwrap_or_default();
        check_hashtags(reader, &hashtags);
        if reader.error_count() > before {
            broken.insert(section, reader.last_error().unwrap_or_default());
            continue;
        }
        if let (Some(schedule), Some(cron)) = (schedule, cron) {
            let id = id.into_inner();
            series.insert(
                id.clone(),
                Series {
                    id,
                    span: span.clone(),
                    name,
                    template,
                    schedule: match cadence {
                        Some(cadence) => schedule.with_cadence(cadence),
                        None => schedule,
                    },
                    cron_span: cron.span(),
                    channels: series_channels,
                    hashtags: hashtags.into_iter().map(Spanned::into_inner).collect(),
                    repeat,
                },
            );
        }
    }
    series
}

/// A series' `cron`, read; an error points at the faulty field.
fn read_schedule(reader: &mut Reader<'_>, cron: &Spanned<String>) -> Option<Schedule> {
    match Schedule::parse(cron.get_ref()) {
        Ok(schedule) => Some(schedule),
        Err(error) => {
            // Point inside the string at the faulty field when the
            // string is written plainly, `"…"` or `'…'` (escapes and
            // triple quotes make the file longer than the text):
            // +1 skips the opening quote. Else, at the whole string.
            let start = cron.span().start + 1;
            let span = if cron.span().len() == cron.get_ref().len() + 2 {
                start + error.range.start..start + error.range.end
            } else {
                cron.span()
            };
            reader.error(span, error.message).hint = error.hint;
            None
        }
    }
}

/// A series' `every` (weeks, 1 by default) and `start` (the date of its
/// first slot, needed when `every` is over 1, on a day its timetable
/// fires): the weeks its timetable keeps, or `None` for every week.
/// Errors are reported at their line.
fn read_cadence(
    reader: &mut Reader<'_>,
    entry: &DeTable<'_>,
    schedule: Option<&Schedule>,
    tz: Tz,
) -> Option<Cadence> {
    let every = reader.integer(entry, "every");
    let start = read_start(reader, entry);
    let weeks = match &every {
        None => 1,
        Some(every) => match u32::try_from(*every.get_ref()) {
            Ok(weeks) if (1..=MAX_EVERY).contains(&weeks) => weeks,
            _ => {
                reader
                    .error(
                        every.span(),
                        format!("`every` invalide : `{}`", every.get_ref()),
                    )
                    .hint = Some(format!(
                    "un nombre de semaines entre 1 et {MAX_EVERY} : `every = 2` pour une semaine sur deux"
                ));
                return None;
            }
        },
    };
    let Some((start, span)) = start else {
        let missing = Reader::get(entry, "start").is_none();
        if let Some(every) = every.filter(|_| weeks > 1 && missing) {
            reader
                .error(
                    every.span(),
                    format!("`every = {weeks}` demande la date du premier créneau : `start` manque"),
                )
                .hint = Some(
                "ajoutez `start = 2026-12-03` (sans guillemets) : un jour où la série publie, d'où partent les semaines comptées".to_owned(),
            );
        }
        return None;
    };
    let schedule = schedule?;
    if schedule.first_on(tz, start).is_none() {
        let day = weekday_name(start.weekday());
        let message = format!(
            "`start` tombe le {day} {start}, un jour où la série ne publie pas (`{}`)",
            schedule.expression()
        );
        let hint = match schedule.first_day_from(tz, start) {
            Some(next) => format!(
                "`start` est la date du premier créneau : un jour où `cron` publie, par exemple `start = {next}`, un {}",
                weekday_name(next.weekday())
            ),
            None => "`start` est la date du premier créneau : un jour où `cron` publie".to_owned(),
        };
        reader.error(span, message).hint = Some(hint);
        return None;
    }
    Some(Cadence {
        every: weeks,
        start,
    })
}

/// A series' `start`, a date written without quotes, and its span.
fn read_start(
    reader: &mut Reader<'_>,
    entry: &DeTable<'_>,
) -> Option<(chrono::NaiveDate, Range<usize>)> {
    let (_, value) = Reader::get(entry, "start")?;
    let hint = "une date sans guillemets ni heure : `start = 2026-12-03`";
    let date = match value.get_ref() {
        DeValue::Datetime(datetime) if datetime.time.is_none() => datetime.date.and_then(|date| {
            chrono::NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
        }),
        _ => None,
    };
    if date.is_none() {
        let found = match value.get_ref() {
            DeValue::Datetime(datetime) if datetime.date.is_none() => "une heure",
            DeValue::Datetime(_) => "une date et une heure",
            other => crate::table::type_name(other),
        };
        reader
            .error(
                value.span(),
                format!("`start` doit être une date, pas {found}"),
            )
            .hint = Some(hint.to_owned());
    }
    date.map(|date| (date, value.span()))
}

/// Reports each of a series' hashtags that is not one well-formed hashtag.
fn check_hashtags(reader: &mut Reader<'_>, hashtags: &[Spanned<String>]) {
    for hashtag in hashtags {
        if !is_hashtag(hashtag.get_ref()) {
            reader
                .error(
                    hashtag.span(),
                    format!("hashtag invalide `{}`", hashtag.get_ref()),
                )
                .hint = Some(
                "un hashtag commence par `#` et ne contient ni espace ni ponctuation : `#ChiffreDeLaSemaine`"
                    .to_owned(),
            );
        }
    }
}

/// Reports each channel name that `[channels]` does not declare.
pub fn check_channel_refs(
    reader: &mut Reader<'_>,
    names: &[Spanned<String>],
    channels: &BTreeMap<String, Channel>,
) {
    let known: Vec<&str> = channels.keys().map(String::as_str).collect();
    for name in names {
        if !channels.contains_key(name.get_ref()) {
            let hint = suggest(name.get_ref(), &known).or_else(|| {
                Some(format!(
                    "déclarez-le dans config/crieur.toml : `[channels.{}]` avec `network = \"…\"`",
                    name.get_ref()
                ))
            });
            reader
                .error(name.span(), format!("canal inconnu `{}`", name.get_ref()))
                .hint = hint;
        }
    }
}

/// Whether `text` is one well-formed hashtag.
pub fn is_hashtag(text: &str) -> bool {
    text.strip_prefix('#')
        .is_some_and(|tag| !tag.is_empty() && tag.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

fn read_publisher(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    channels: &mut BTreeMap<String, Channel>,
    broken: &mut BTreeMap<String, String>,
) -> Publisher {
    let mut publisher = Publisher::default();
    let Some((section, span)) = reader.table(table, "publisher") else {
        return publisher;
    };
    reader.unknown_keys(section, "publisher", PUBLISHER_KEYS);
    if let Some(lookahead) = read_lookahead(reader, section) {
        publisher.lookahead = lookahead;
    }
    if let Some(timeout) = read_timeout(reader, section) {
        publisher.timeout = timeout;
    }
    publisher.budget = read_budget(reader, section);
    let Some(kind) = reader.required_string(section, "kind", "publisher", span.clone()) else {
        return publisher;
    };
    match kind.get_ref().as_str() {
        "outbox" => {
            if let Some(dir) = reader.string(section, "dir") {
                publisher.kind = PublisherKind::Outbox {
                    dir: dir.into_inner(),
                };
            }
        }
        "buffer" => {
            publisher.kind = read_buffer(reader, section, &kind, span, channels, broken);
        }
        other => {
            let hint = suggest(other, PUBLISHER_KINDS);
            reader
                .error(
                    kind.span(),
                    format!("type de publication inconnu `{other}`"),
                )
                .hint = hint;
        }
    }
    publisher
}

/// `[publisher]`'s `lookahead`, a positive duration; `None` when absent or
/// invalid (reported).
fn read_lookahead(reader: &mut Reader<'_>, section: &DeTable<'_>) -> Option<chrono::Duration> {
    let lookahead = reader.string(section, "lookahead")?;
    match parse_duration(lookahead.get_ref()) {
        Some(duration) if duration > chrono::Duration::zero() => Some(duration),
        _ => {
            reader
                .error(
                    lookahead.span(),
                    format!("durée invalide `{}`", lookahead.get_ref()),
                )
                .hint = Some(
                "par exemple `7d` (jours), `36h` (heures) ou `90m` (minutes) ; 366 jours au plus"
                    .to_owned(),
            );
            None
        }
    }
}

/// `[publisher]`'s `timeout`, a positive duration; `None` when absent or
/// invalid (reported).
fn read_timeout(reader: &mut Reader<'_>, section: &DeTable<'_>) -> Option<std::time::Duration> {
    let timeout = reader.string(section, "timeout")?;
    match parse_duration(timeout.get_ref()).and_then(|d| d.to_std().ok()) {
        Some(duration) if !duration.is_zero() => Some(duration),
        _ => {
            reader
                .error(
                    timeout.span(),
                    format!("durée invalide `{}`", timeout.get_ref()),
                )
                .hint = Some("par exemple `30s` (366 jours au plus)".to_owned());
            None
        }
    }
}

/// `[publisher]`'s request limits, Buffer's own for those not given or
/// invalid (reported).
fn read_budget(reader: &mut Reader<'_>, section: &DeTable<'_>) -> crate::budget::Budget {
    let mut limits = [
        crate::budget::BUFFER_PER_15_MINUTES,
        crate::budget::BUFFER_PER_DAY,
    ];
    for (key, limit) in ["requests_per_15_minutes", "requests_per_day"]
        .iter()
        .zip(&mut limits)
    {
        if let Some(value) = reader.integer(section, key) {
            match u32::try_from(*value.get_ref()) {
                Ok(value) if value > 0 => *limit = value,
                _ => {
                    reader
                        .error(
                            value.span(),
                            format!("nombre de requêtes invalide `{}`", value.get_ref()),
                        )
                        .hint =
                        Some("un nombre positif, la limite de votre offre Buffer".to_owned());
                }
            }
        }
    }
    crate::budget::Budget::new(limits[0], limits[1])
}

/// `kind = "buffer"`: the endpoint and the organization; the channels that
/// need Buffer but have no `buffer_id` are reported and disabled.
fn read_buffer(
    reader: &mut Reader<'_>,
    section: &DeTable<'_>,
    kind: &Spanned<String>,
    span: Range<usize>,
    channels: &mut BTreeMap<String, Channel>,
    broken: &mut BTreeMap<String, String>,
) -> PublisherKind {
    let endpoint = reader
        .string(section, "endpoint")
        .map_or_else(|| BUFFER_ENDPOINT.to_owned(), Spanned::into_inner);
    let organization = reader.required_string(section, "organization", "publisher", span);
    if organization.is_none()
        && let Some(diagnostic) = reader_last(reader)
    {
        diagnostic.hint = Some(
            "donnez l'identifiant de l'organisation Buffer : `crieur channels` l'affiche"
                .to_owned(),
        );
    }
    // A channel without its Buffer id is disabled, the others go on.
    let missing: Vec<String> = channels
        .values()
        .filter(|channel| channel.buffer_id.is_none() && channel.direct.is_none())
        .map(|channel| channel.id.clone())
        .collect();
    for id in missing {
        let message = format!("le canal `{id}` n'a pas de `buffer_id`");
        reader.error(kind.span(), message.clone()).hint = Some(format!(
            "ajoutez `buffer_id = \"…\"` sous `[channels.{id}]` : `crieur channels` liste les identifiants"
        ));
        channels.remove(&id);
        broken.insert(format!("channels.{id}"), message);
    }
    PublisherKind::Buffer {
        endpoint,
        organization: organization.map(Spanned::into_inner).unwrap_or_default(),
    }
}

/// The last diagnostic the reader pushed, to add a hint to it.
fn reader_last<'r>(reader: &'r mut Reader<'_>) -> Option<&'r mut Diagnostic> {
    reader.last()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_says_them() {
        let d = chrono::Duration::seconds;
        assert_eq!(format_duration(d(45)), "45 s");
        assert_eq!(format_duration(d(12 * 60 + 5)), "12 min");
        assert_eq!(format_duration(d(3600 + 5 * 60)), "1 h 05 min");
        assert_eq!(format_duration(d(7200)), "2 h");
        assert_eq!(format_duration(d(2 * 86_400 + 3 * 3600)), "2 j 3 h");
    }

    const VALID: &str = r##"
timezone = "Europe/Paris"
[brand]
name = "CPTS Mulhouse Agglomération"
colors = { primary = "#E4632D" }
[series.chiffre-de-la-semaine]
template = "chiffre"
cron = "0 19 * * tue"
channels = ["facebook"]
hashtags = ["#ChiffreDeLaSemaine"]
[channels.facebook]
network = "facebook"
[publisher]
kind = "outbox"
"##;

    fn errors(text: &str) -> Vec<String> {
        let (_, diagnostics) = Config::parse(text, "config/crieur.toml");
        diagnostics.into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn reads_a_valid_config() {
        let (config, diagnostics) = Config::parse(VALID, "config/crieur.toml");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let config = config.unwrap();
        assert_eq!(config.timezone, chrono_tz::Europe::Paris);
        assert_eq!(config.brand.name, "CPTS Mulhouse Agglomération");
        assert_eq!(config.brand.colors["primary"].get_ref(), "#E4632D");
        let series = &config.series["chiffre-de-la-semaine"];
        assert_eq!(series.schedule.expression(), "0 19 * * tue");
        assert_eq!(config.channels["facebook"].network, Network::Facebook);
    }

    #[test]
    fn a_mistake_in_notify_leaves_out_only_notifications() {
        let text = format!("{VALID}[notify]\nwebhook = \"ftp://x\"\n");
        let (config, diagnostics) = Config::parse(&text, "config/crieur.toml");
        let config = config.expect("publishing goes on");
        assert!(config.notify.is_none());
        assert!(config.broken.contains_key("notify"));
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let text = format!("{VALID}[notify]\nwebhook = \"https://ntfy.sh/cpts\"\n");
        let (config, _) = Config::parse(&text, "config/crieur.toml");
        assert!(config.unwrap().notify.is_some());
    }

    #[test]
    fn keeps_where_the_brand_s_name_and_colours_are_written() {
        let text = VALID.replace(
            "colors = { primary = \"#E4632D\" }\n",
            "[brand.colors]\nprimary = \"#1F4E79\"\n\"ink\" = '#1D2733'\n",
        );
        let (config, diagnostics) = Config::parse(&text, "config/crieur.toml");
        let brand = config.unwrap_or_else(|| panic!("{diagnostics:?}")).brand;
        let name = brand.name_span.unwrap();
        assert_eq!(&text[name], "\"CPTS Mulhouse Agglomération\"");
        assert_eq!(&text[brand.colors["primary"].span()], "\"#1F4E79\"");
        assert_eq!(&text[brand.colors["ink"].span()], "'#1D2733'");
        let dotted = VALID.replace(
            "[brand]\nname = \"CPTS Mulhouse Agglomération\"\ncolors = { primary = \"#E4632D\" }\n",
            "brand.name = \"CPTS\"\nbrand.colors.primary = \"#E4632D\"\n",
        );
        let (config, diagnostics) = Config::parse(&dotted, "config/crieur.toml");
        let brand = config.unwrap_or_else(|| panic!("{diagnostics:?}")).brand;
        assert_eq!(&dotted[brand.name_span.unwrap()], "\"CPTS\"");
        assert_eq!(&dotted[brand.colors["primary"].span()], "\"#E4632D\"");
    }

    #[test]
    fn points_at_the_faulty_cron_field() {
        let text = VALID.replace("0 19 * * tue", "0 19 * * tus");
        let (_, diagnostics) = Config::parse(&text, "config/crieur.toml");
        assert_eq!(diagnostics.len(), 1);
        let span = diagnostics[0].span.clone().unwrap();
        assert_eq!(&text[span], "tus");
    }

    #[test]
    fn rejects_unknown_timezone_network_channel_and_colour() {
        let text = VALID
            .replace("Europe/Paris", "Europe/Pari")
            .replace("network = \"facebook\"", "network = \"facebok\"")
            .replace("#E4632D", "orange");
        let messages = errors(&text);
        assert!(
            messages
                .iter()
                .any(|m| m.contains("fuseau horaire inconnu")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("réseau inconnu `facebok`")),
            "{messages:?}"
        );
        // The channel is reported in its own section, not again in each
        // series that names it.
        assert!(
            !messages.iter().any(|m| m.contains("canal inconnu")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("couleur `primary` invalide")),
            "{messages:?}"
        );
    }

    #[test]
    fn a_mistake_in_one_series_or_channel_disables_only_it() {
        let text = format!(
            "{VALID}\n[series.cassee]\ncron = \"0 25 * * *\"\nchannels = [\"facebook\"]\n\n[channels.mastodon]\nnetwork = \"mastodn\"\n"
        );
        let (config, diagnostics) = Config::parse(&text, CONFIG_PATH);
        assert!(diagnostics.iter().filter(|d| d.is_error()).count() >= 2);
        let config = config.expect("the rest of the configuration stands");
        assert!(config.series.contains_key("chiffre-de-la-semaine"));
        assert!(!config.series.contains_key("cassee"));
        assert!(
            config.broken.contains_key("series.cassee"),
            "{:?}",
            config.broken
        );
        assert!(config.broken.contains_key("channels.mastodon"));
        assert!(config.channels.contains_key("facebook"));
        // What affects everything still stops everything.
        let (config, _) = Config::parse(&VALID.replace("Europe/Paris", "Europe/Pari"), CONFIG_PATH);
        assert!(config.is_none());
    }

    #[test]
    fn an_unknown_time_zone_gets_the_zone_meant_or_those_there_are() {
        assert_eq!(
            timezone_hint("Europe/Pari"),
            "vouliez-vous dire `Europe/Paris` ?"
        );
        assert_eq!(
            timezone_hint("indian/reunion"),
            "vouliez-vous dire `Indian/Reunion` ?"
        );
        // Another zone of the same continent is not offered for a slip.
        let hint = timezone_hint("America/Nowhere");
        assert!(!hint.contains("vouliez-vous"), "{hint}");
        for zone in ["Europe/Paris", "America/Cayenne", "Indian/Reunion", "UTC"] {
            assert!(hint.contains(&format!("`{zone}`")), "{hint}");
        }
        for zone in OVERSEAS
            .iter()
            .chain(&["Europe/Paris", "Europe/Brussels", "UTC"])
        {
            assert!(Tz::from_str(zone).is_ok(), "{zone} is built in");
        }
    }

    #[test]
    fn refuses_a_duration_too_long_for_date_arithmetic() {
        for (key, value) in [
            ("lookahead", "99999999999d"),
            ("timeout", "99999999999999s"),
            ("lookahead", "367d"),
        ] {
            let text = VALID.replace(
                "kind = \"outbox\"",
                &format!("kind = \"outbox\"\n{key} = \"{value}\""),
            );
            let messages = errors(&text);
            assert!(
                messages.iter().any(|m| m.contains("durée invalide")),
                "{key} = {value}: {messages:?}"
            );
        }
        let text = VALID.replace(
            "[publisher]",
            "[daemon]\ngrace = \"99999999999d\"\n[publisher]",
        );
        assert!(errors(&text).iter().any(|m| m.contains("durée invalide")));
        assert_eq!(parse_duration("366d"), Some(chrono::Duration::days(366)));
    }

    fn with_series_lines(lines: &str) -> String {
        VALID.replace(
            "cron = \"0 19 * * tue\"",
            &format!("cron = \"0 19 * * tue\"\n{lines}"),
        )
    }

    #[test]
    fn reads_every_other_week_from_its_start() {
        let text = with_series_lines("every = 2\nstart = 2026-12-01");
        let (config, diagnostics) = Config::parse(&text, CONFIG_PATH);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let series = &config.unwrap().series["chiffre-de-la-semaine"];
        assert_eq!(
            series.schedule.cadence(),
            Some(Cadence {
                every: 2,
                start: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
            })
        );
        let (config, _) = Config::parse(VALID, CONFIG_PATH);
        assert_eq!(
            config.unwrap().series["chiffre-de-la-semaine"]
                .schedule
                .cadence(),
            None
        );
    }

    /// The one diagnostic of `text`: the text it points at, its message
    /// and its hint.
    fn only_error(text: &str) -> (String, String, String) {
        let (config, diagnostics) = Config::parse(text, CONFIG_PATH);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let config = config.expect("only the series is left out");
        assert!(config.broken.contains_key("series.chiffre-de-la-semaine"));
        let diagnostic = &diagnostics[0];
        let span = diagnostic.span.clone().unwrap();
        (
            text[span].to_owned(),
            diagnostic.message.clone(),
            diagnostic.hint.clone().unwrap_or_default(),
        )
    }

    #[test]
    fn a_start_on_a_day_the_series_does_not_publish_is_an_error_at_its_line() {
        let (at, message, hint) = only_error(&with_series_lines("every = 2\nstart = 2026-12-02"));
        assert_eq!(at, "2026-12-02");
        assert!(message.contains("le mercredi 2026-12-02"), "{message}");
        assert!(hint.contains("`start = 2026-12-08`, un mardi"), "{hint}");
    }

    #[test]
    fn every_other_week_needs_a_start_date() {
        let (at, message, hint) = only_error(&with_series_lines("every = 2"));
        assert_eq!(at, "2");
        assert!(message.contains("`start` manque"), "{message}");
        assert!(hint.contains("start = 2026-12-03"), "{hint}");
    }

    #[test]
    fn refuses_a_wrong_every_or_start() {
        for (lines, at, expected) in [
            ("every = 0", "0", "`every` invalide"),
            ("every = 53\nstart = 2026-12-01", "53", "`every` invalide"),
            (
                "every = \"2\"\nstart = 2026-12-01",
                "\"2\"",
                "doit être un nombre entier",
            ),
            (
                "every = 2\nstart = \"2026-12-01\"",
                "\"2026-12-01\"",
                "`start` doit être une date, pas une chaîne",
            ),
            (
                "every = 2\nstart = 2026-12-01T19:00:00",
                "2026-12-01T19:00:00",
                "pas une date et une heure",
            ),
        ] {
            let (found, message, _) = only_error(&with_series_lines(lines));
            assert_eq!(found, at, "{lines}");
            assert!(message.contains(expected), "{lines}: {message}");
        }
    }

    #[test]
    fn rejects_a_bad_hashtag() {
        let text = VALID.replace("#ChiffreDeLaSemaine", "Chiffre de la semaine");
        assert!(errors(&text).iter().any(|m| m.contains("hashtag invalide")));
    }

    fn with_channels(extra: &str) -> String {
        VALID.replace("[publisher]", &format!("{extra}\n[publisher]"))
    }

    #[test]
    fn reads_direct_mastodon_and_bluesky_channels() {
        let text = with_channels(
            r#"[channels.mastodon]
network = "mastodon"
publisher = "direct"
instance = "https://piaille.fr/"
[channels.bluesky]
network = "bluesky"
publisher = "direct"
handle = "@cpts-mulhouse.bsky.social"
[channels.bluesky-pds]
network = "bluesky"
publisher = "direct"
handle = "cpts.example.org"
service = "http://127.0.0.1:8123""#,
        );
        let (config, diagnostics) = Config::parse(&text, CONFIG_PATH);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let config = config.unwrap();
        assert_eq!(
            config.channels["mastodon"].direct,
            Some(Direct::Mastodon {
                instance: "https://piaille.fr".to_owned()
            })
        );
        assert_eq!(
            config.channels["bluesky"].direct,
            Some(Direct::Bluesky {
                handle: "cpts-mulhouse.bsky.social".to_owned(),
                service: BLUESKY_SERVICE.to_owned()
            })
        );
        assert_eq!(
            config.channels["bluesky-pds"].direct,
            Some(Direct::Bluesky {
                handle: "cpts.example.org".to_owned(),
                service: "http://127.0.0.1:8123".to_owned()
            })
        );
        assert_eq!(config.channels["facebook"].direct, None);
    }

    #[test]
    fn a_direct_channel_needs_no_buffer_id() {
        let text = with_channels(
            "[channels.mastodon]\nnetwork = \"mastodon\"\npublisher = \"direct\"\ninstance = \"https://piaille.fr\"\n[channels.facebook2]\nnetwork = \"facebook\"",
        )
        .replace(
            "kind = \"outbox\"",
            "kind = \"buffer\"\norganization = \"org\"\n[media]\nkind = \"local\"\ndir = \"public\"\npublic_base_url = \"https://images.example.org\"",
        )
        .replace(
            "[channels.facebook]\nnetwork = \"facebook\"",
            "[channels.facebook]\nnetwork = \"facebook\"\nbuffer_id = \"b1\"",
        );
        let (config, diagnostics) = Config::parse(&text, CONFIG_PATH);
        let config = config.expect("only facebook2 is broken");
        assert!(config.channels.contains_key("mastodon"), "{diagnostics:?}");
        assert!(!config.channels.contains_key("facebook2"));
        assert_eq!(
            config.broken.keys().collect::<Vec<_>>(),
            ["channels.facebook2"]
        );
    }

    #[test]
    fn refuses_a_direct_channel_it_cannot_use() {
        let cases = [
            (
                "network = \"mastodon\"\npublisher = \"direct\"",
                "clé `instance` manquante",
            ),
            (
                "network = \"mastodon\"\npublisher = \"direct\"\ninstance = \"http://piaille.fr\"",
                "adresse invalide",
            ),
            (
                "network = \"bluesky\"\npublisher = \"direct\"",
                "clé `handle` manquante",
            ),
            (
                "network = \"bluesky\"\npublisher = \"direct\"\nhandle = \"cpts mulhouse\"",
                "identifiant Bluesky invalide",
            ),
            (
                "network = \"facebook\"\npublisher = \"direct\"",
                "Facebook ne se publie pas en direct",
            ),
            (
                "network = \"mastodon\"\npublisher = \"buffer\"",
                "publication inconnue `buffer`",
            ),
            (
                "network = \"mastodon\"\ninstance = \"https://piaille.fr\"",
                "`instance` ne sert qu'aux canaux publiés en direct",
            ),
        ];
        for (body, expected) in cases {
            let text = with_channels(&format!("[channels.direct]\n{body}"));
            let (config, diagnostics) = Config::parse(&text, CONFIG_PATH);
            assert!(
                diagnostics.iter().any(|d| d.message.contains(expected)),
                "{body}: {diagnostics:?}"
            );
            // Only that channel is left out.
            let config = config.unwrap();
            assert!(config.broken.contains_key("channels.direct"), "{body}");
            assert!(config.channels.contains_key("facebook"));
        }
    }
}

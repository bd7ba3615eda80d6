//! One post: a file in `posts/` with TOML front matter between `+++` lines
//! and a Markdown body, its caption.
//!
//! [`Post::parse`] takes the file's text (already decoded, without a BOM)
//! and returns the post with every problem found; it does no IO. Spans in a
//! [`Post`] are byte ranges in that text, so diagnostics point at the true
//! line of the file and not of the front matter alone.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, suggest};
use crate::network::Network;
use crate::table::{Reader, type_name};

/// Where posts live, relative to the project root.
pub const POSTS_DIR: &str = "posts";

/// The delimiter of the front matter, alone on its line.
const DELIMITER: &str = "+++";

#[derive(Debug, Clone)]
pub struct Post {
    /// The file's path under `posts/`, without `.md`: `chiffre/2026-12-01`.
    pub id: String,
    /// The file's path relative to the project root, for messages.
    pub path: String,
    pub series: Option<Spanned<String>>,
    pub publish_at: Option<Spanned<DateTime<Tz>>>,
    pub template: Option<Spanned<String>>,
    pub channels: Option<Vec<Spanned<String>>>,
    pub draft: bool,
    /// The alt text the post gives, with its span, where its problems are
    /// told.
    pub alt: Option<Spanned<String>>,
    pub visual: BTreeMap<String, Spanned<Visual>>,
    /// Where `[visual]` is, or the opening `+++` when there is none.
    pub visual_span: Range<usize>,
    /// Captions written for one network instead of the body.
    pub captions: BTreeMap<Network, Spanned<String>>,
    /// The caption: the body, trimmed, with LF line ends.
    pub body: String,
    pub body_span: Range<usize>,
    /// The opening `+++` line.
    pub header_span: Range<usize>,
}

/// The value of a visual field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visual {
    Text(String),
    List(Vec<String>),
}

impl Visual {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Visual::Text(text) => Some(text),
            Visual::List(_) => None,
        }
    }
}

const POST_KEYS: &[&str] = &[
    "series",
    "publish_at",
    "template",
    "channels",
    "draft",
    "alt",
    "visual",
    "caption",
];
const CAPTION_KEYS: &[&str] = &["text"];

/// The parts of a post file.
struct Split<'t> {
    front_matter: &'t str,
    front_matter_offset: usize,
    header_span: Range<usize>,
    body: &'t str,
    body_offset: usize,
}

impl Post {
    /// Parses a post. `id` names it; `path` is shown in messages; `tz`
    /// reads dates written without an offset.
    pub fn parse(text: &str, path: &str, id: &str, tz: Tz) -> (Option<Post>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let Some(split) = split(text, path, &mut diagnostics) else {
            return (None, diagnostics);
        };
        let post = {
            let mut reader = Reader::new(path, split.front_matter_offset, &mut diagnostics);
            reader
                .parse(split.front_matter)
                .map(|table| read_post(&mut reader, &table, &split, id, tz))
        };
        if let Some(post) = &post {
            warn_bidi_controls(text, post, &mut diagnostics);
        }
        let has_errors = diagnostics.iter().any(Diagnostic::is_error);
        (post.filter(|_| !has_errors), diagnostics)
    }

    /// The caption for `network` before hashtags: its own caption if the
    /// post gives one, else the body.
    pub fn caption_for(&self, network: Network) -> &str {
        self.captions
            .get(&network)
            .map_or(self.body.as_str(), |caption| caption.get_ref().as_str())
    }

    /// The text of a visual field, if it is text.
    pub fn visual_text(&self, field: &str) -> Option<&str> {
        self.visual
            .get(field)
            .and_then(|value| value.get_ref().as_text())
    }
}

/// Finds the front matter and the body.
fn split<'t>(text: &'t str, path: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Split<'t>> {
    if text.trim().is_empty() {
        diagnostics.push(Diagnostic::error(path, None, "fichier vide").with_hint(
            "un post commence par une ligne `+++`, ses champs, une ligne `+++`, puis sa légende",
        ));
        return None;
    }
    let mut lines = line_spans(text);
    let (first_start, first_end, first_next) = lines.next()?;
    let first = text[first_start..first_end].trim_end();
    if first != DELIMITER {
        let hint = if first == "---" {
            "crieur attend un en-tête TOML entre deux lignes `+++`, pas YAML entre `---`"
        } else {
            "la première ligne doit être `+++`, suivie des champs du post et d'une autre ligne `+++`"
        };
        diagnostics.push(
            Diagnostic::error(
                path,
                Some(first_start..first_end),
                "l'en-tête du post doit commencer par une ligne `+++`",
            )
            .with_hint(hint),
        );
        return None;
    }
    for (start, end, next) in lines {
        if text[start..end].trim_end() == DELIMITER {
            return Some(Split {
                front_matter: &text[first_next..start],
                front_matter_offset: first_next,
                header_span: first_start..first_end,
                body: &text[next..],
                body_offset: next,
            });
        }
    }
    diagnostics.push(
        Diagnostic::error(
            path,
            Some(first_start..first_end),
            "l'en-tête du post n'est jamais fermé",
        )
        .with_hint("ajoutez une ligne `+++` après les champs, avant la légende"),
    );
    None
}

/// `(start, end without line break, start of next line)` of each line.
fn line_spans(text: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let line_start = start;
        let (end, next) = match text[start..].find('\n') {
            Some(i) => (start + i, start + i + 1),
            None => (text.len(), text.len()),
        };
        start = next;
        let end = if text[line_start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        Some((line_start, end, next))
    })
}

fn read_post(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    split: &Split<'_>,
    id: &str,
    tz: Tz,
) -> Post {
    reader.unknown_keys(table, "", POST_KEYS);
    let file_span = |reader: &Reader<'_>, value: Spanned<String>| {
        Spanned::new(reader.span(value.span()), value.into_inner())
    };
    let series = reader.string(table, "series").map(|v| file_span(reader, v));
    let template = reader
        .string(table, "template")
        .map(|v| file_span(reader, v));
    let channels = reader.strings(table, "channels").map(|list| {
        list.into_inner()
            .into_iter()
            .map(|v| file_span(reader, v))
            .collect()
    });
    let draft = reader.bool(table, "draft").is_some_and(Spanned::into_inner);
    let alt = reader.string(table, "alt").map(|v| file_span(reader, v));
    let publish_at = read_publish_at(reader, table, tz);
    let (visual, visual_span) = read_visual(reader, table, split);
    let captions = read_captions(reader, table);

    let trimmed = split.body.trim();
    let body_start = split.body_offset + (split.body.len() - split.body.trim_start().len());
    Post {
        id: id.to_owned(),
        path: reader.path().to_owned(),
        series,
        publish_at,
        template,
        channels,
        draft,
        alt,
        visual,
        visual_span,
        captions,
        body: trimmed.replace("\r\n", "\n"),
        body_span: body_start..body_start + trimmed.len(),
        header_span: split.header_span.clone(),
    }
}

/// The Unicode controls that set the direction of the text around them.
/// Invisible, they reorder what the reader sees: a caption can show a link
/// other than the one it holds, or hide words.
const BIDI_CONTROLS: [(char, &str); 12] = [
    ('\u{061C}', "ARABIC LETTER MARK"),
    ('\u{200E}', "LEFT-TO-RIGHT MARK"),
    ('\u{200F}', "RIGHT-TO-LEFT MARK"),
    ('\u{202A}', "LEFT-TO-RIGHT EMBEDDING"),
    ('\u{202B}', "RIGHT-TO-LEFT EMBEDDING"),
    ('\u{202C}', "POP DIRECTIONAL FORMATTING"),
    ('\u{202D}', "LEFT-TO-RIGHT OVERRIDE"),
    ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE"),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE"),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE"),
    ('\u{2068}', "FIRST STRONG ISOLATE"),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE"),
];

fn bidi_name(c: char) -> Option<&'static str> {
    BIDI_CONTROLS
        .iter()
        .find(|(control, _)| *control == c)
        .map(|(_, name)| *name)
}

/// Warns at each bidirectional control of the caption, the captions per
/// network and the visual fields: written as is, or as a TOML escape
/// (`\u202E`) in the front matter.
fn warn_bidi_controls(text: &str, post: &Post, diagnostics: &mut Vec<Diagnostic>) {
    let mut places: Vec<(Range<usize>, bool)> = vec![(post.body_span.clone(), false)];
    places.extend(post.captions.values().map(|caption| (caption.span(), true)));
    places.extend(post.visual.values().map(|value| (value.span(), true)));
    let mut found: Vec<(Range<usize>, char, &str)> = Vec::new();
    for (span, toml) in places {
        let Some(raw) = text.get(span.clone()) else {
            continue;
        };
        for (offset, c) in raw.char_indices() {
            if let Some(name) = bidi_name(c) {
                let start = span.start + offset;
                found.push((start..start + c.len_utf8(), c, name));
            }
        }
        if !toml {
            continue;
        }
        // Escapes: `\u` and 4 hexadecimal digits, `\U` and 8; `\\` is a
        // backslash.
        let bytes = raw.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] != b'\\' {
                index += 1;
                continue;
            }
            let digits = match bytes.get(index + 1) {
                Some(b'u') => 4,
                Some(b'U') => 8,
                _ => {
                    index += 2;
                    continue;
                }
            };
            let escape = index..index + 2 + digits;
            let decoded = raw
                .get(index + 2..escape.end)
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32);
            if let Some(c) = decoded
                && let Some(name) = bidi_name(c)
            {
                found.push((span.start + escape.start..span.start + escape.end, c, name));
            }
            index += 2;
        }
    }
    for (span, c, name) in found {
        diagnostics.push(
            Diagnostic::warning(
                &post.path,
                Some(span),
                format!(
                    "caractère de contrôle bidirectionnel U+{:04X} ({name}) : invisible, il réordonne le texte à l'écran et peut cacher ou déguiser un lien",
                    u32::from(c)
                ),
            )
            .with_hint("supprimez-le"),
        );
    }
}

fn read_publish_at(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    tz: Tz,
) -> Option<Spanned<DateTime<Tz>>> {
    let (_, value) = Reader::get(table, "publish_at")?;
    let span = value.span();
    let hint_format =
        "écrivez la date et l'heure sans guillemets : `publish_at = 2026-12-01T19:00:00`";
    let datetime = match value.get_ref() {
        DeValue::Datetime(datetime) => datetime,
        other => {
            let found = type_name(other);
            reader
                .error(
                    span,
                    format!("`publish_at` doit être une date et une heure, pas {found}"),
                )
                .hint = Some(hint_format.to_owned());
            return None;
        }
    };
    let (Some(date), Some(time)) = (datetime.date, datetime.time) else {
        reader
            .error(span, "`publish_at` doit donner la date et l'heure")
            .hint = Some(hint_format.to_owned());
        return None;
    };
    let naive = NaiveDate::from_ymd_opt(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
    .and_then(|day| {
        NaiveTime::from_hms_opt(
            u32::from(time.hour),
            u32::from(time.minute),
            u32::from(time.second.unwrap_or(0)),
        )
        .map(|clock| NaiveDateTime::new(day, clock))
    });
    let Some(naive) = naive else {
        reader.error(span, "date invalide").hint = Some(hint_format.to_owned());
        return None;
    };
    let instant = match datetime.offset {
        Some(offset) => {
            let minutes = match offset {
                toml::value::Offset::Z => 0,
                toml::value::Offset::Custom { minutes } => i32::from(minutes),
            };
            FixedOffset::east_opt(minutes * 60)
                .and_then(|offset| offset.from_local_datetime(&naive).single())
                .map(|instant| instant.with_timezone(&tz))
        }
        None => in_zone(reader, span.clone(), naive, tz),
    };
    let Some(instant) = instant else {
        reader.error(span, "décalage horaire invalide");
        return None;
    };
    Some(Spanned::new(reader.span(span), instant))
}

/// A local date and time without an offset, read in the project's zone:
/// a time that exists twice takes the first (with a warning), one that
/// does not exist is an error.
fn in_zone(
    reader: &mut Reader<'_>,
    span: Range<usize>,
    naive: NaiveDateTime,
    tz: Tz,
) -> Option<DateTime<Tz>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(instant) => Some(instant),
        LocalResult::Ambiguous(first, _) => {
            reader
                .warning(
                    span.clone(),
                    format!(
                        "{naive} existe deux fois à {} (passage à l'heure d'hiver) : le post partira à la première",
                        tz.name()
                    ),
                )
                .hint = Some("précisez le décalage pour lever le doute : `…T02:30:00+01:00`".to_owned());
            Some(first)
        }
        LocalResult::None => {
            reader
                .error(
                    span.clone(),
                    format!(
                        "{naive} n'existe pas à {} (passage à l'heure d'été)",
                        tz.name()
                    ),
                )
                .hint = Some("choisissez une heure avant 2 h ou après 3 h ce jour-là".to_owned());
            None
        }
    }
}

fn read_visual(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    split: &Split<'_>,
) -> (BTreeMap<String, Spanned<Visual>>, Range<usize>) {
    let mut visual = BTreeMap::new();
    let Some((fields, span)) = reader.table(table, "visual") else {
        return (visual, split.header_span.clone());
    };
    for (key, value) in fields.iter() {
        let name: &str = key.get_ref();
        let parsed = match value.get_ref() {
            DeValue::String(text) => Some(Visual::Text(text.to_string())),
            DeValue::Array(items) => {
                let texts: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.get_ref().as_str().map(str::to_owned))
                    .collect();
                texts.map(Visual::List)
            }
            _ => None,
        };
        match parsed {
            Some(parsed) => {
                visual.insert(
                    name.to_owned(),
                    Spanned::new(reader.span(value.span()), parsed),
                );
            }
            None => {
                let found = type_name(value.get_ref());
                reader
                    .error(
                        value.span(),
                        format!(
                            "`visual.{name}` doit être un texte ou une liste de textes, pas {found}"
                        ),
                    )
                    .hint = Some("entourez la valeur de guillemets : `\"…\"`".to_owned());
            }
        }
    }
    (visual, reader.span(span))
}

fn read_captions(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
) -> BTreeMap<Network, Spanned<String>> {
    let mut captions = BTreeMap::new();
    for (name, entry, span) in reader.tables(table, "caption") {
        let Ok(network) = name.get_ref().parse::<Network>() else {
            let hint = suggest(name.get_ref(), &Network::NAMES);
            reader
                .error(
                    name.span(),
                    format!("réseau inconnu `{}` dans `caption`", name.get_ref()),
                )
                .hint = hint;
            continue;
        };
        let section = format!("caption.{}", name.get_ref());
        reader.unknown_keys(entry, &section, CAPTION_KEYS);
        if let Some(text) = reader.required_string(entry, "text", &section, span) {
            let text_span = reader.span(text.span());
            captions.insert(
                network,
                Spanned::new(text_span, text.into_inner().trim().to_owned()),
            );
        }
    }
    captions
}

/// The id of the template a post is drawn with: its own, or its series'.
pub fn template_of<'a>(post: &'a Post, config: &'a crate::config::Config) -> Option<&'a str> {
    post.template
        .as_ref()
        .or_else(|| {
            post.series
                .as_ref()
                .and_then(|series| config.series.get(series.get_ref()))
                .and_then(|series| series.template.as_ref())
        })
        .map(|name| name.get_ref().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    const POST: &str = "+++
series = \"chiffre-de-la-semaine\"
publish_at = 2026-12-01T19:00:00
channels = [\"facebook\"]
alt = \"Le chiffre\"
[visual]
number = \"65,4 millions\"
caption = \"C'est le nombre d'assurés disposant d'un profil sur Mon Espace Santé.\"
[caption.instagram]
text = \"Version courte\"
+++

Aujourd'hui, près de 65,4 millions d'assurés disposent d'un profil sur Mon Espace Santé.
";

    fn parse(text: &str) -> (Option<Post>, Vec<Diagnostic>) {
        Post::parse(text, "posts/a.md", "a", Paris)
    }

    fn messages(text: &str) -> Vec<String> {
        parse(text).1.into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn reads_front_matter_and_body() {
        let (post, diagnostics) = parse(POST);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let post = post.unwrap();
        assert_eq!(
            post.series.clone().unwrap().into_inner(),
            "chiffre-de-la-semaine"
        );
        assert_eq!(
            post.publish_at.clone().unwrap().into_inner().to_rfc3339(),
            "2026-12-01T19:00:00+01:00"
        );
        assert_eq!(post.visual_text("number"), Some("65,4 millions"));
        assert!(post.body.starts_with("Aujourd'hui"));
        assert_eq!(&POST[post.body_span.clone()], post.body);
        assert_eq!(post.caption_for(Network::Instagram), "Version courte");
        assert_eq!(post.caption_for(Network::Facebook), post.body);
    }

    #[test]
    fn spans_point_into_the_whole_file() {
        let text = POST.replace("series =", "sereis =");
        let (_, diagnostics) = parse(&text);
        let span = diagnostics[0].span.clone().unwrap();
        assert_eq!(&text[span], "sereis");
        assert_eq!(
            diagnostics[0].hint.as_deref(),
            Some("vouliez-vous dire `series` ?")
        );
    }

    #[test]
    fn accepts_crlf_line_ends() {
        let text = POST.replace('\n', "\r\n");
        let (post, diagnostics) = parse(&text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert!(!post.unwrap().body.contains('\r'));
    }

    #[test]
    fn reads_an_offset_as_written() {
        let text = POST.replace("2026-12-01T19:00:00", "2026-12-01T18:00:00Z");
        let post = parse(&text).0.unwrap();
        assert_eq!(
            post.publish_at.unwrap().into_inner().to_rfc3339(),
            "2026-12-01T19:00:00+01:00"
        );
    }

    #[rstest::rstest]
    #[case::empty("", "fichier vide")]
    #[case::blank("  \n\n", "fichier vide")]
    #[case::no_opening("series = \"x\"\n+++\n", "doit commencer par une ligne `+++`")]
    #[case::yaml("---\ntitle: x\n---\n", "doit commencer par une ligne `+++`")]
    #[case::never_closed("+++\nseries = \"x\"\nLégende\n", "jamais fermé")]
    #[case::date_only(
        "+++\npublish_at = 2026-12-01\n+++\nx\n",
        "doit donner la date et l'heure"
    )]
    #[case::quoted_date(
        "+++\npublish_at = \"2026-12-01 19h\"\n+++\nx\n",
        "doit être une date et une heure"
    )]
    #[case::impossible_date(
        "+++\npublish_at = 2026-02-30T19:00:00\n+++\nx\n",
        "syntaxe TOML invalide"
    )]
    #[case::spring_gap("+++\npublish_at = 2027-03-28T02:30:00\n+++\nx\n", "n'existe pas")]
    #[case::wrong_type("+++\ndraft = \"non\"\n+++\nx\n", "`draft` doit être un booléen")]
    #[case::visual_number(
        "+++\n[visual]\nnumber = 65.4\n+++\nx\n",
        "`visual.number` doit être un texte"
    )]
    #[case::caption_network(
        "+++\n[caption.instagramm]\ntext = \"x\"\n+++\nx\n",
        "réseau inconnu `instagramm`"
    )]
    fn rejects(#[case] text: &str, #[case] expected: &str) {
        let found = messages(text);
        assert!(
            found.iter().any(|m| m.contains(expected)),
            "expected «{expected}» in {found:?}"
        );
        assert!(parse(text).0.is_none());
    }

    #[test]
    fn an_autumn_time_that_occurs_twice_is_a_warning() {
        let (post, diagnostics) = parse("+++\npublish_at = 2026-10-25T02:30:00\n+++\nx\n");
        assert_eq!(diagnostics.len(), 1);
        assert!(!diagnostics[0].is_error());
        assert_eq!(
            post.unwrap().publish_at.unwrap().into_inner().to_rfc3339(),
            "2026-10-25T02:30:00+02:00"
        );
    }

    /// The bidirectional-control warnings of a post, as the text each
    /// points at.
    fn bidi_warnings(text: &str) -> Vec<String> {
        let (post, diagnostics) = parse(text);
        assert!(post.is_some(), "{diagnostics:?}");
        diagnostics
            .iter()
            .filter(|d| d.message.contains("contrôle bidirectionnel"))
            .map(|d| {
                assert!(!d.is_error());
                assert_eq!(d.hint.as_deref(), Some("supprimez-le"));
                text[d.span.clone().unwrap()].to_owned()
            })
            .collect()
    }

    #[test]
    fn warns_at_each_bidirectional_control_of_a_caption_or_a_visual_field() {
        let text = "+++\n[visual]\nnumber = \"65\u{2067}4\"\nmarks = [\"a\", \"b\\u2069\"]\n[caption.instagram]\ntext = \"Voir \\u202Eexample\\U0000200F \\\\u202E\"\n+++\nRendez-vous sur https://\u{202E}moc.elpmaxe\u{202C}.fr\n";
        let warnings = bidi_warnings(text);
        assert_eq!(
            warnings,
            vec![
                "\u{202E}",
                "\u{202C}",
                "\\u202E",
                "\\U0000200F",
                "\\u2069",
                "\u{2067}"
            ],
            "{text}"
        );
        let (_, diagnostics) = parse(text);
        let first = diagnostics
            .iter()
            .find(|d| d.message.contains("U+202E"))
            .unwrap();
        assert!(
            first.message.contains("RIGHT-TO-LEFT OVERRIDE")
                && first.message.contains("réordonne le texte à l'écran")
                && first.message.contains("déguiser un lien"),
            "{}",
            first.message
        );
    }

    #[test]
    fn plain_text_has_no_bidirectional_warning() {
        assert!(bidi_warnings(POST).is_empty());
        assert!(bidi_warnings("+++\n+++\nمرحبا et שלום, \\u202E écrit tel quel\n").is_empty());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!(
            "+++\nx = {}1{}\n+++\nx\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let (post, diagnostics) = parse(&text);
        assert!(post.is_none());
        assert!(diagnostics.iter().any(Diagnostic::is_error));
    }
}

//! Property tests of the readers of users' files: the post reader
//! ([`Post::parse`]), the template reader ([`Template::parse`]) and the
//! configuration reader ([`Config::parse`]), fed arbitrary text and the
//! example project's files mutated (bytes inserted, deleted, replaced).
//! Whatever the text, they must not panic, and every diagnostic must point
//! within it, on character boundaries, and render.
//!
//! The number of cases is bounded so that they run with `cargo test` in a
//! few seconds; `PROPTEST_CASES=100000 cargo test --lib fuzz` searches
//! longer.

use proptest::prelude::*;

use crate::config::Config;
use crate::diagnostic::{Diagnostic, Report};
use crate::post::Post;
use crate::template::Template;

const CONFIGS: &[&str] = &[
    include_str!("../../../config/crieur.toml"),
    include_str!("../../../tests/fixtures/valid/config/crieur.toml"),
];

const TEMPLATES: &[&str] = &[
    include_str!("../../../assets/templates/chiffre.toml"),
    include_str!("../../../assets/templates/evenement.toml"),
    include_str!("../../../assets/templates/outil.toml"),
];

const POSTS: &[&str] = &[
    include_str!("../../../posts/chiffre/2026-12-01-mon-espace-sante.md"),
    include_str!("../../../posts/annonces/2026-12-02-cartographie-outils-numeriques.md"),
    include_str!("../../../tests/fixtures/golden/posts/outil.md"),
    include_str!("../../../tests/fixtures/golden/posts/evenement.md"),
];

/// Pieces that matter to the readers, inserted more often than chance
/// would.
const PIECES: &[&str] = &[
    "+++",
    "\n",
    "\r\n",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "#",
    "\\",
    "\\u",
    "\\U0010FFFF",
    "\\u202E",
    "é",
    "€",
    "𝄞",
    "\u{202E}",
    "\u{0301}",
    "\u{FEFF}",
    "\0",
    "nan",
    "inf",
    "-1",
    "1e9",
    "0",
    "2026-12-01T19:00:00",
    "2027-03-28T02:30:00",
    "+01:00",
    "Z",
    "{brand}",
    "{",
    "layers",
    "kind",
    "cron",
    "* * * * *",
    "series",
    "visual",
    "caption",
    "publish_at",
    "line_height",
    "max_size",
    "timezone",
];

/// One edit of a file: where (a fraction of its length) and what.
#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, String),
    Delete(f64, usize),
    Replace(f64, usize, String),
    /// One of the file's `"…"` strings rewritten with this text, in this
    /// style of TOML string.
    Requote(f64, String, Quotes),
}

/// The ways TOML writes a string.
#[derive(Debug, Clone, Copy)]
enum Quotes {
    Basic,
    Literal,
    MultiLineBasic,
    MultiLineLiteral,
    /// A basic string, each character as a `\u` or `\U` escape.
    Escaped,
}

impl Quotes {
    fn write(self, text: &str) -> String {
        match self {
            Quotes::Basic => format!("\"{text}\""),
            Quotes::Literal => format!("'{text}'"),
            Quotes::MultiLineBasic => format!("\"\"\"\n{text}\"\"\""),
            Quotes::MultiLineLiteral => format!("'''{text}'''"),
            Quotes::Escaped => {
                let escaped: String = text
                    .chars()
                    .map(|c| {
                        if u32::from(c) > 0xFFFF {
                            format!("\\U{:08X}", u32::from(c))
                        } else {
                            format!("\\u{:04X}", u32::from(c))
                        }
                    })
                    .collect();
                format!("\"{escaped}\"")
            }
        }
    }
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
}

fn quotes() -> impl Strategy<Value = Quotes> {
    proptest::sample::select(vec![
        Quotes::Basic,
        Quotes::Literal,
        Quotes::MultiLineBasic,
        Quotes::MultiLineLiteral,
        Quotes::Escaped,
    ])
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..=1.0f64, "[0-9a-z *,/#é€𝄞\u{202E}-]{0,12}", quotes())
            .prop_map(|(at, text, quotes)| Edit::Requote(at, text, quotes)),
        (0.0..=1.0f64, piece()).prop_map(|(at, text)| Edit::Insert(at, text)),
        (0.0..=1.0f64, 1usize..40).prop_map(|(at, length)| Edit::Delete(at, length)),
        (0.0..=1.0f64, 1usize..8, piece())
            .prop_map(|(at, length, text)| Edit::Replace(at, length, text)),
    ]
}

/// `seed` with `edits` applied to its bytes; a cut in the middle of a
/// character leaves replacement characters, as a decoder would.
fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for edit in edits {
        let at = |fraction: f64, bytes: &Vec<u8>| {
            ((bytes.len() as f64 * fraction) as usize).min(bytes.len())
        };
        match edit {
            Edit::Insert(fraction, text) => {
                let index = at(*fraction, &bytes);
                bytes.splice(index..index, text.bytes());
            }
            Edit::Delete(fraction, length) => {
                let index = at(*fraction, &bytes);
                let end = (index + length).min(bytes.len());
                bytes.drain(index..end);
            }
            Edit::Replace(fraction, length, text) => {
                let index = at(*fraction, &bytes);
                let end = (index + length).min(bytes.len());
                bytes.splice(index..end, text.bytes());
            }
            Edit::Requote(fraction, text, quotes) => {
                let strings = strings(&bytes);
                if strings.is_empty() {
                    continue;
                }
                let chosen = ((strings.len() as f64 * fraction) as usize).min(strings.len() - 1);
                bytes.splice(strings[chosen].clone(), quotes.write(text).bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The byte ranges of the `"…"` strings of a file that stand on one line,
/// quotes included.
fn strings(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut start = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match (byte, start) {
            (b'"', None) => start = Some(index),
            (b'"', Some(open)) => {
                found.push(open..index + 1);
                start = None;
            }
            (b'\n', _) => start = None,
            _ => {}
        }
    }
    found
}

/// Every span lies within `text`, on character boundaries, and the
/// diagnostics render.
fn check_spans(text: &str, path: &str, diagnostics: Vec<Diagnostic>) -> Result<(), TestCaseError> {
    for diagnostic in &diagnostics {
        if let Some(span) = &diagnostic.span {
            prop_assert!(
                span.start <= span.end && span.end <= text.len(),
                "{span:?} outside {} bytes: {diagnostic:?}",
                text.len()
            );
            prop_assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "{span:?} not on character boundaries: {diagnostic:?}"
            );
        }
    }
    let mut report = Report::new();
    report.add_source(path, std::sync::Arc::from(text));
    report.extend(diagnostics);
    let _ = report.render(false);
    Ok(())
}

fn post(text: &str) -> Result<(), TestCaseError> {
    let path = "posts/a.md";
    let (_, diagnostics) = Post::parse(text, path, "a", chrono_tz::Europe::Paris);
    check_spans(text, path, diagnostics)
}

fn template(text: &str) -> Result<(), TestCaseError> {
    let path = "assets/templates/a.toml";
    let (_, diagnostics) = Template::parse(text, path, "a");
    check_spans(text, path, diagnostics)
}

fn config(text: &str) -> Result<(), TestCaseError> {
    let path = crate::config::CONFIG_PATH;
    let (_, diagnostics) = Config::parse(text, path);
    check_spans(text, path, diagnostics)
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(256),
        // Failures found are kept as plain tests below, not in files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn the_post_reader_takes_any_text(text in "\\PC{0,200}|(\\+\\+\\+\n\\PC{0,100}\n\\+\\+\\+\n\\PC{0,40})") {
        post(&text)?;
    }

    #[test]
    fn the_post_reader_takes_any_mutation_of_a_post(
        seed in proptest::sample::select(POSTS),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        post(&mutate(seed, &edits))?;
    }

    #[test]
    fn the_template_reader_takes_any_text(text in "\\PC{0,200}") {
        template(&text)?;
    }

    #[test]
    fn the_template_reader_takes_any_mutation_of_a_template(
        seed in proptest::sample::select(TEMPLATES),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        template(&mutate(seed, &edits))?;
    }

    #[test]
    fn the_config_reader_takes_any_text(text in "\\PC{0,200}") {
        config(&text)?;
    }

    #[test]
    fn the_config_reader_takes_any_mutation_of_a_config(
        seed in proptest::sample::select(CONFIGS),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        config(&mutate(seed, &edits))?;
    }
}

#[test]
fn a_multi_line_cron_string_is_pointed_at_on_character_boundaries() {
    let text = include_str!("../../../tests/fixtures/valid/config/crieur.toml")
        .replace("cron = \"0 19 * * tue\"", "cron = \"\"\"€€ 19 * * *\"\"\"");
    config(&text).unwrap();
}

//! What makes a post readable by everyone beyond the contrast of its card:
//! its alt text, and hashtags that screen readers can say. Pure.
//!
//! - The alt text must exist (the post's `alt`, or the one its template
//!   writes), be more than an example (`…`) and hold at most 1,500
//!   characters (what Mastodon and Buffer take); it should say the card's
//!   main text, the largest on the card.
//! - A hashtag of several words written all in lower case
//!   (`#monespacesanté`) is read letter soup by a screen reader: each word
//!   should start with a capital (`#MonEspaceSanté`). Words are found with
//!   the French function words and the words of the project's own texts.

use rayon::prelude::*;
use rustc_hash::FxHashSet;

use crate::diagnostic::Diagnostic;
use crate::post::Post;
use crate::render::alt_text;
use crate::scaffold::PLACEHOLDERS;
use crate::template::{Layer, Template, placeholders};

/// The longest alt text networks take.
pub const MAX_ALT: usize = 1_500;

/// Short words that glue French hashtags together.
const GLUE: &[&str] = &[
    "a", "au", "aux", "avec", "ce", "ces", "d", "dans", "de", "des", "du", "en", "et", "l", "la",
    "le", "les", "ma", "mes", "mon", "nos", "notre", "par", "pour", "sa", "ses", "son", "sur",
    "ta", "tes", "ton", "un", "une", "vos", "votre",
];

/// The words hashtags are split into.
#[derive(Debug, Default)]
pub struct Words {
    words: FxHashSet<String>,
}

impl Words {
    /// The words of some texts (three letters or more), with the glue
    /// words.
    pub fn from_texts<'t>(texts: impl IntoIterator<Item = &'t str>) -> Words {
        // A text met again adds no word: many posts share a source or a
        // caption's closing lines.
        let mut seen = FxHashSet::default();
        let texts: Vec<&str> = texts
            .into_iter()
            .filter(|text| seen.insert(*text))
            .collect();
        // Read in parts on all the cores, their sets then joined.
        let mut words = texts
            .par_chunks(256)
            .map(|part| {
                let mut words = FxHashSet::default();
                let mut lower = String::new();
                for text in part {
                    add_words(text, &mut words, &mut lower);
                }
                words
            })
            .reduce_with(|mut a, b| {
                a.extend(b);
                a
            })
            .unwrap_or_default();
        words.extend(GLUE.iter().map(|w| (*w).to_owned()));
        Words { words }
    }

    /// Whether `tag` (without `#`) reads as two words or more.
    fn splits(&self, tag: &str) -> bool {
        let chars: Vec<char> = tag.chars().collect();
        let n = chars.len();
        // parts[i]: the fewest words that make the first i characters.
        let mut parts: Vec<Option<usize>> = vec![None; n + 1];
        parts[0] = Some(0);
        for end in 1..=n {
            for start in 0..end {
                let Some(before) = parts[start] else { continue };
                let word: String = chars[start..end].iter().collect();
                if self.words.contains(&word) {
                    parts[end] = Some(parts[end].map_or(before + 1, |p| p.min(before + 1)));
                }
            }
        }
        // Two words or more, and not the whole tag as one known word.
        parts[n].is_some_and(|p| p >= 2) && !self.words.contains(tag)
    }
}

/// Adds the words of `text` (three letters or more, in lower case) to
/// `words`; `lower` is room to lower a word's case in.
fn add_words(text: &str, words: &mut FxHashSet<String>, lower: &mut String) {
    // Hashtags themselves are not words: `#monespacesanté` must not vouch
    // for itself.
    let tokens = text
        .split_whitespace()
        .filter(|token| !token.starts_with('#'));
    for token in tokens {
        for word in token.split(|c: char| !c.is_alphanumeric()) {
            // Most words recur from post to post: no copy of one known.
            if word.len() < 3 || word.chars().nth(2).is_none() {
                continue;
            }
            let word = if word.chars().any(char::is_uppercase) {
                lower.clear();
                lower.extend(word.chars().flat_map(char::to_lowercase));
                lower.as_str()
            } else {
                word
            };
            if !words.contains(word) {
                words.insert(word.to_owned());
            }
        }
    }
}

/// The text of the template's largest text, for this post: what the alt
/// text should say.
pub fn main_text(template: &Template, post: &Post) -> Option<String> {
    let layers = template.formats.values().next()?;
    let largest = layers
        .iter()
        .flat_map(Layer::texts)
        .max_by(|a, b| a.max_size.total_cmp(&b.max_size))?;
    largest.text.iter().find_map(|pattern| {
        let mut out = pattern.get_ref().clone();
        for field in placeholders(pattern.get_ref()) {
            out = out.replace(&format!("{{{field}}}"), post.visual_text(field)?);
        }
        Some(out)
    })
}

/// Letters and digits only, lower case: two writings of one text compare
/// equal whatever their spaces and punctuation.
fn bare(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            }
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The alt text's problems, at the post's `alt` when it gives one, else at
/// its header.
pub fn check_alt(template: &Template, post: &Post, diagnostics: &mut Vec<Diagnostic>) {
    let path = post.path.as_str();
    let alt = alt_text(template, post);
    let span = || {
        let span = post.alt.as_ref().map(toml::Spanned::span);
        Some(span.unwrap_or_else(|| post.header_span.clone()))
    };
    if alt.trim().is_empty() {
        let (message, hint) = if post.alt.is_some() {
            (
                "texte alternatif vide : l'image ne peut pas être décrite aux personnes qui ne la voient pas",
                "écrivez entre les guillemets ce que montre l'image, son texte principal compris",
            )
        } else {
            (
                "texte alternatif manquant : l'image ne peut pas être décrite aux personnes qui ne la voient pas",
                "ajoutez `alt = \"…\"` : ce que montre l'image, son texte principal compris",
            )
        };
        diagnostics.push(Diagnostic::error(path, span(), message).with_hint(hint));
        return;
    }
    if PLACEHOLDERS.contains(&alt.trim()) {
        diagnostics.push(
            Diagnostic::error(
                path,
                span(),
                format!("texte alternatif d'exemple laissé tel quel : « {} »", alt.trim()),
            )
            .with_hint("remplacez ce texte d'exemple par ce que montre l'image, son texte principal compris"),
        );
        return;
    }
    let length = alt.chars().count();
    if length > MAX_ALT {
        diagnostics.push(
            Diagnostic::error(
                path,
                span(),
                format!("texte alternatif trop long : {length} caractères, {MAX_ALT} au plus"),
            )
            .with_hint("décrivez l'image en quelques phrases ; la légende dit le reste"),
        );
        return;
    }
    if let Some(main) = main_text(template, post)
        && let bare_main = bare(&main)
        && !bare_main.is_empty()
        && !bare(&alt).contains(&bare_main)
    {
        diagnostics.push(
            Diagnostic::warning(
                path,
                span(),
                format!("le texte alternatif ne reprend pas le texte principal de l'image (« {main} »)"),
            )
            .with_hint("une personne qui ne voit pas l'image doit en entendre l'essentiel : reprenez ce texte dans `alt`"),
        );
    }
}

/// Hashtags of several words written all in lower case, in a caption.
pub fn check_hashtags(
    path: &str,
    text: &str,
    offset: usize,
    words: &Words,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for tag in crate::caption::hashtags_in(text) {
        let name = tag.trim_start_matches('#');
        if name.chars().any(char::is_uppercase) || !words.splits(name) {
            continue;
        }
        let start = offset + (tag.as_ptr() as usize - text.as_ptr() as usize);
        diagnostics.push(
            Diagnostic::warning(
                path,
                Some(start..start + tag.len()),
                format!("hashtag de plusieurs mots tout en minuscules : `{tag}`"),
            )
            .with_hint(
                "mettez une capitale à chaque mot (`#MonEspaceSanté`) : les lecteurs d'écran lisent alors les mots, pas une suite de lettres",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The alt text's problems of a post of a template whose alt text is
    /// its field `number`; the post's `alt` value starts at byte 10.
    fn alt_problems(front: &str) -> Vec<Diagnostic> {
        let template = "name = \"Chiffre\"\nalt = \"{number}\"\n[fields.number]\nlabel = \"Le chiffre\"\n[[formats.carre.layers]]\nkind = \"background\"\ncolor = \"#FFFFFF\"\n";
        let (template, problems) = Template::parse(template, "t.toml", "t");
        let template = template.unwrap_or_else(|| panic!("{problems:?}"));
        let text = format!("+++\n{front}\n+++\nLégende.\n");
        let (post, problems) = Post::parse(&text, "posts/a.md", "a", chrono_tz::Europe::Paris);
        let post = post.unwrap_or_else(|| panic!("{problems:?}"));
        let mut diagnostics = Vec::new();
        check_alt(&template, &post, &mut diagnostics);
        diagnostics
    }

    #[test]
    fn an_empty_alt_is_empty_at_its_value_and_no_alt_missing_at_the_header() {
        let empty = alt_problems("alt = \"  \"");
        assert_eq!(empty.len(), 1, "{empty:?}");
        assert!(empty[0].message.starts_with("texte alternatif vide : "));
        assert_eq!(empty[0].span, Some(10..14));
        let missing = alt_problems("template = \"t\"");
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0]
                .message
                .starts_with("texte alternatif manquant : ")
        );
        assert_eq!(missing[0].span, Some(0..3));
        let example = alt_problems("alt = \" … \"");
        assert_eq!(example.len(), 1, "{example:?}");
        assert_eq!(
            example[0].message,
            "texte alternatif d'exemple laissé tel quel : « … »"
        );
        assert_eq!(example[0].span, Some(10..17));
        assert!(alt_problems("alt = \"Le chiffre de la semaine.\"").is_empty());
    }

    #[test]
    fn finds_lower_case_hashtags_of_several_words() {
        let words = Words::from_texts([
            "Mon Espace Santé #monespacesanté",
            "le chiffre de la semaine",
        ]);
        assert!(words.splits("monespacesanté"));
        assert!(words.splits("chiffredelasemaine"));
        assert!(!words.splits("santé"));
        assert!(!words.splits("téléconsultation"));
        assert!(!words.splits("prévention"));
    }
}

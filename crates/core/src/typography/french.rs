//! French typographic rules, applied to the text drawn on images (and to
//! captions when the configuration asks for it).
//!
//! - the apostrophe is ’, not ';
//! - quotation marks are « » with a no-break space inside;
//! - a narrow no-break space (U+202F) comes before ; ! ? and %, a no-break
//!   space (U+00A0) before : ;
//! - the digits of numbers from 1 000 are grouped by threes with a narrow
//!   no-break space ("1 700", "240 008"), years aside ("2026");
//! - a unit symbol follows its number after a narrow no-break space
//!   ("20 km", "15 €");
//! - three dots are an ellipsis.
//!
//! No-break spaces keep what they join on one line: Unicode's line-breaking
//! rules give them class GL.

/// No-break space, before a colon and inside « ».
pub const NBSP: char = '\u{00A0}';
/// Narrow no-break space, before ; ! ? %, before a unit and between groups
/// of digits. It is drawn 1/8 em wide whatever the font says
/// ([`NARROW_SPACE_EM`]).
pub const NNBSP: char = '\u{202F}';

/// The width of a narrow no-break space, in ems: a thin space, narrower
/// than a word space, so that "240 008" reads as one number.
pub const NARROW_SPACE_EM: f32 = 0.125;

/// Unit symbols, which stay with their number after a narrow no-break
/// space.
pub const UNITS: &[&str] = &[
    "€", "$", "£", "%", "‰", "°C", "°", "km", "m", "cm", "mm", "m²", "km²", "ha", "kg", "g", "mg",
    "µg", "l", "L", "ml", "mL", "cl", "dl", "h", "min", "s", "ms", "Mo", "Go", "To", "ko", "Hz",
    "kHz", "MHz", "GHz", "W", "kW", "kWh", "V",
];

/// Words that stay with the number before them, like units ("65,4
/// millions").
pub const MAGNITUDES: &[&str] = &["million", "millions", "milliard", "milliards"];

/// Month names: a day number stays with its month.
pub const MONTHS: &[&str] = &[
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// Titles that stay with the name after them ("Dr Martin").
pub const TITLES: &[&str] = &[
    "Dr", "Dr.", "Dre", "Drs", "Pr", "Pr.", "Pre", "M.", "MM.", "Mme", "Mmes", "Mlle", "Mlles",
    "Me", "Mgr", "St", "Ste",
];

/// Articles, prepositions, conjunctions and determiners: a line never
/// ends on one in display text, and seldom in running text ("des / outils"
/// reads as a broken phrase).
pub const LINKING: &[&str] = &[
    "à", "au", "aux", "avec", "ce", "ces", "cet", "cette", "chez", "dans", "de", "des", "du", "en",
    "entre", "et", "la", "le", "les", "leur", "leurs", "ma", "mais", "mes", "mon", "ni", "nos",
    "notre", "ou", "où", "par", "pour", "sa", "sans", "ses", "son", "sous", "sur", "ta", "tes",
    "ton", "un", "une", "vers", "vos", "votre", "qui", "que", "dont", "d’", "l’", "qu’",
];

/// Keeps each of `names` (product and proper names: « Mon Espace Santé »,
/// the brand's name) on one line: the spaces inside them become no-break
/// spaces. Matched without regard to case, so that capitals drawn by a
/// template keep them whole too.
pub fn keep_whole(text: &str, names: &[String]) -> String {
    let mut out = text.to_owned();
    for name in names.iter().filter(|name| name.contains(' ')) {
        let lower = out.to_lowercase();
        let wanted = name.to_lowercase();
        // Lowercasing may change byte lengths (rarely, in French): then
        // the name is left as it is rather than cut at a wrong place.
        if lower.len() != out.len() || wanted.len() != name.len() {
            continue;
        }
        let mut from = 0;
        let mut joined = String::with_capacity(out.len());
        while let Some(at) = lower[from..].find(&wanted) {
            let start = from + at;
            let end = start + wanted.len();
            joined.push_str(&out[from..start]);
            joined.push_str(&out[start..end].replace(' ', "\u{a0}"));
            from = end;
        }
        joined.push_str(&out[from..]);
        out = joined;
    }
    out
}

/// Words after which a four-digit number is a year ("en 1789").
/// The words that qualify a figure set before it ("Plus de 1 200"),
/// lower case; each may end in `de` or `d'`.
pub const QUALIFIERS: &[&str] = &[
    "plus de",
    "plus d'",
    "près de",
    "près d'",
    "moins de",
    "moins d'",
    "environ",
    "au moins",
    "presque",
    "jusqu'à",
    "quelque",
    "autour de",
];

/// A figure's qualifier and the figure: `Plus de 1 200` gives `Plus de`
/// and `1 200`. `None` when the text does not open with a qualifier
/// followed by a figure.
pub fn qualifier(text: &str) -> Option<(&str, &str)> {
    QUALIFIERS.iter().find_map(|word| {
        let end = prefix_end(text, word)?;
        let rest = &text[end..];
        let figure = rest.trim_start();
        let spaced = figure.len() < rest.len() || word.ends_with('\'');
        (spaced && figure.starts_with(|c: char| c.is_ascii_digit()))
            .then(|| (text[..end].trim_end(), figure))
    })
}

/// Where `word` (lower case) ends at the start of `text`, whatever the
/// case, the apostrophe and the kind of space.
fn prefix_end(text: &str, word: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    for wanted in word.chars() {
        let (_, c) = chars.next()?;
        let same = match wanted {
            ' ' => c.is_whitespace(),
            '\'' => c == '\'' || c == '’',
            _ => c.to_lowercase().eq(std::iter::once(wanted)),
        };
        if !same {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(index, _)| index))
}

const YEAR_WORDS: &[&str] = &[
    "en",
    "depuis",
    "dès",
    "avant",
    "après",
    "fin",
    "début",
    "mi",
    "année",
    "an",
    "printemps",
    "été",
    "automne",
    "hiver",
    "rentrée",
    "vers",
];

/// Applies every rule to `text`, links aside: a link is copied as it is.
pub fn apply(text: &str) -> String {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url, linkify::LinkKind::Email]);
    let mut out = String::with_capacity(text.len() + 16);
    for span in finder.spans(text) {
        match span.kind() {
            Some(_) => out.push_str(span.as_str()),
            None => out.push_str(&apply_to_prose(span.as_str())),
        }
    }
    out
}

fn apply_to_prose(text: &str) -> String {
    // Each pass only where it has something to change: most texts have
    // no quote, many no punctuation mark or number.
    let mut text = std::borrow::Cow::Borrowed(text);
    if text.contains("...") {
        text = text.replace("...", "…").into();
    }
    if text.contains(['\'', '"', '«', '»']) {
        text = quotes(&text).into();
    }
    if text.contains([';', '!', '?', '%', ':']) {
        text = punctuation(&text).into();
    }
    if text.bytes().any(|b| b.is_ascii_digit()) {
        text = units(&group_digits(&text)).into();
    }
    text.into_owned()
}

/// Straight quotes to French ones; spaces inside « » made unbreakable.
fn quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut open = false;
    let chars: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        match c {
            '\'' => out.push('’'),
            '"' => {
                if open {
                    trim_spaces(&mut out);
                    out.push(NBSP);
                    out.push('»');
                } else {
                    out.push('«');
                    out.push(NBSP);
                    // Skip the spaces the writer put after the quote.
                    while chars.get(index + 1).is_some_and(|c| c.is_whitespace()) {
                        index += 1;
                    }
                }
                open = !open;
            }
            '«' => {
                out.push('«');
                out.push(NBSP);
                while chars.get(index + 1).is_some_and(|c| c.is_whitespace()) {
                    index += 1;
                }
            }
            '»' => {
                trim_spaces(&mut out);
                out.push(NBSP);
                out.push('»');
            }
            _ => out.push(c),
        }
        index += 1;
    }
    out
}

/// Removes trailing spaces of `out`, no-break ones included.
fn trim_spaces(out: &mut String) {
    while out.ends_with(|c: char| c.is_whitespace()) {
        out.pop();
    }
}

/// The space before ; ! ? : and %.
fn punctuation(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (index, &c) in chars.iter().enumerate() {
        let space = match c {
            ';' | '!' | '?' | '%' => Some(NNBSP),
            ':' => Some(NBSP),
            _ => None,
        };
        let Some(space) = space else {
            out.push(c);
            continue;
        };
        let previous = out.chars().last();
        let next = chars.get(index + 1).copied();
        let after_space = previous.is_some_and(char::is_whitespace);
        // A sign right after another one (« ?! ») shares its space.
        let after_sign = previous.is_some_and(|p| "!?;:".contains(p));
        let applies = match c {
            // `19:00`, `https://`: a colon glued to what follows is no
            // punctuation mark.
            ':' => {
                after_space
                    || (previous.is_some_and(char::is_alphanumeric)
                        && next.is_none_or(char::is_whitespace))
            }
            '%' => after_space || previous.is_some_and(|p| p.is_ascii_digit()),
            _ => {
                after_space
                    || (previous.is_some_and(|p| p.is_alphanumeric() || p == '»' || p == ')')
                        && !after_sign)
            }
        };
        if applies && !after_sign {
            trim_spaces(&mut out);
            out.push(space);
        }
        out.push(c);
    }
    out
}

/// Groups the digits of numbers from 1 000 by threes. Numbers already
/// grouped with ordinary spaces get narrow no-break ones. A four-digit
/// number that reads as a year (1900 to 2099, or after « en », « depuis »,
/// a month…) is left whole, as is a five-digit number before a capitalised
/// word (a postcode, `68100 Mulhouse`), a number glued to letters (`A320`,
/// `1080x1080`), one that starts with 0, and decimals after a comma.
fn group_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let glued_before = index > 0 && {
            let p = chars[index - 1];
            p.is_ascii_digit() || p == ',' || p == '.' || p.is_alphabetic() || "_/#@".contains(p)
        };
        if !c.is_ascii_digit() || glued_before {
            out.push(c);
            index += 1;
            continue;
        }
        // The number: digits, possibly already grouped by threes with
        // spaces (ordinary, no-break or narrow no-break).
        let mut digits = String::new();
        let mut end = index;
        while end < chars.len() && chars[end].is_ascii_digit() {
            digits.push(chars[end]);
            end += 1;
        }
        let mut grouped_by_writer = false;
        // The writer's first group ("1" of "1 234 567") has one to three
        // digits; each group after it, three.
        let first_group = digits.len();
        loop {
            let is_space = |c: char| c == ' ' || c == NBSP || c == NNBSP;
            let group = end + 1..end + 4;
            let grouped = first_group <= 3 && (digits.len() - first_group).is_multiple_of(3);
            if grouped
                && end < chars.len()
                && is_space(chars[end])
                && group.end <= chars.len()
                && chars[group.clone()].iter().all(char::is_ascii_digit)
                && chars.get(group.end).is_none_or(|c| !c.is_ascii_digit())
            {
                digits.extend(&chars[group.clone()]);
                end = group.end;
                grouped_by_writer = true;
            } else {
                break;
            }
        }
        let glued_after = chars.get(end).is_some_and(|c| c.is_alphabetic());
        let postcode = digits.len() == 5
            && chars.get(end) == Some(&' ')
            && chars.get(end + 1).is_some_and(|c| c.is_uppercase());
        let year = digits.len() == 4 && !grouped_by_writer && is_year(&digits, &out);
        if digits.len() >= 4 && !postcode && !year && !glued_after && !digits.starts_with('0') {
            for (position, digit) in digits.chars().enumerate() {
                if position > 0 && (digits.len() - position).is_multiple_of(3) {
                    out.push(NNBSP);
                }
                out.push(digit);
            }
        } else {
            out.extend(&chars[index..end]);
        }
        index = end;
    }
    out
}

/// Whether four digits read as a year, given the text before them.
fn is_year(digits: &str, before: &str) -> bool {
    let value: u32 = digits.parse().unwrap_or(0);
    if (1900..=2099).contains(&value) {
        return true;
    }
    let previous = before
        .trim_end()
        .rsplit(|c: char| c.is_whitespace() || c == '’' || c == '\'')
        .next()
        .unwrap_or("")
        .to_lowercase();
    (1000..=2199).contains(&value)
        && (YEAR_WORDS.contains(&previous.as_str()) || MONTHS.contains(&previous.as_str()))
}

/// A narrow no-break space between a number and the unit symbol after it
/// (`20 km`, `15 €`).
fn units(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    for (index, &c) in chars.iter().enumerate() {
        let after_number = index > 0 && chars[index - 1].is_ascii_digit();
        if (c == ' ' || c == NBSP) && after_number {
            let rest: String = chars[index + 1..].iter().take(4).collect();
            let unit = UNITS.iter().any(|unit| {
                rest.starts_with(unit)
                    && rest[unit.len()..]
                        .chars()
                        .next()
                        .is_none_or(|next| !next.is_alphanumeric())
            });
            if unit {
                out.push(NNBSP);
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Writes the invisible spaces visibly: `_` for U+00A0, `^` for U+202F.
    fn visible(text: &str) -> String {
        text.replace(NBSP, "_").replace(NNBSP, "^")
    }

    #[rstest]
    #[case::apostrophe("L'outil d'aujourd'hui", "L’outil d’aujourd’hui")]
    #[case::straight_quotes("Le \"volet de synthèse\" du DMP", "Le «_volet de synthèse_» du DMP")]
    #[case::french_quotes_with_spaces("« Ma Santé 2022 »", "«_Ma Santé 2022_»")]
    #[case::french_quotes_without_spaces("«Ma Santé 2022»", "«_Ma Santé 2022_»")]
    #[case::question("Qu'est-ce que Mon Espace Santé ?", "Qu’est-ce que Mon Espace Santé^?")]
    #[case::question_glued("Prêts?", "Prêts^?")]
    #[case::exclamation_and_question("Vraiment ?!", "Vraiment^?!")]
    #[case::semicolon("le DMP ; la e-CPS", "le DMP^; la e-CPS")]
    #[case::colon("Source : CPAM", "Source_: CPAM")]
    #[case::colon_glued("Source: CPAM", "Source_: CPAM")]
    #[case::time_is_left_alone("de 20:00 à 21:00", "de 20:00 à 21:00")]
    #[case::url_is_left_alone("https://www.ameli.fr", "https://www.ameli.fr")]
    #[case::percent("8 % des consultations", "8^% des consultations")]
    #[case::percent_glued("70% des médecins", "70^% des médecins")]
    #[case::grouped_number("240008 DMP", "240^008 DMP")]
    #[case::already_grouped("416 649 téléconsultations", "416^649 téléconsultations")]
    #[case::million("1234567", "1^234^567")]
    #[case::ten_thousand("10000", "10^000")]
    #[case::four_digits("1700 assurés en 2020", "1^700 assurés en 2020")]
    #[case::four_digits_grouped_by_the_writer("Plus de 1 700", "Plus de 1^700")]
    #[case::seven_digits_grouped_by_the_writer("1 234 567 patients", "1^234^567 patients")]
    #[case::eight_digits_grouped_by_the_writer("12 345 678", "12^345^678")]
    #[case::a_year_stays_whole("Ma Santé 2022, rapport 2020", "Ma Santé 2022, rapport 2020")]
    #[case::an_old_year_after_en("en 1789 et depuis 1848", "en 1789 et depuis 1848")]
    #[case::a_year_after_a_month("janvier 2027", "janvier 2027")]
    #[case::a_code_glued_to_letters("A3200 et 1080x1080", "A3200 et 1080x1080")]
    #[case::leading_zero("code 0800", "code 0800")]
    #[case::unit("20 km et 15 €", "20^km et 15^€")]
    #[case::not_a_unit("20 minutes", "20 minutes")]
    #[case::decimals("65,4 millions", "65,4 millions")]
    #[case::postcode("68100 Mulhouse", "68100 Mulhouse")]
    #[case::ellipsis("allergies, mesures...", "allergies, mesures…")]
    #[case::links_are_left_alone(
        "Le guide : https://cpts-mulhouse.fr/guide?id=123456 !",
        "Le guide_: https://cpts-mulhouse.fr/guide?id=123456^!"
    )]
    #[case::emails_are_left_alone(
        "Écrivez à contact@cpts-mulhouse.fr !",
        "Écrivez à contact@cpts-mulhouse.fr^!"
    )]
    fn applies_french_rules(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(visible(&apply(input)), expected);
    }

    #[test]
    fn is_idempotent() {
        let text = "Qu'est-ce que « Mon Espace Santé » ? 240008 DMP : 8 % !";
        assert_eq!(apply(&apply(text)), apply(text));
    }

    #[test]
    fn keeps_product_and_proper_names_whole_whatever_their_case() {
        let names = vec!["Mon Espace Santé".to_owned(), "CPTS Sud Alsace".to_owned()];
        assert_eq!(
            visible(&keep_whole(
                "Un profil sur Mon Espace Santé, avec la CPTS Sud Alsace.",
                &names
            )),
            "Un profil sur Mon_Espace_Santé, avec la CPTS_Sud_Alsace."
        );
        assert_eq!(
            visible(&keep_whole("MON ESPACE SANTÉ", &names)),
            "MON_ESPACE_SANTÉ"
        );
        assert_eq!(keep_whole("Mon espace", &names), "Mon espace");
    }

    #[test]
    fn sets_a_qualifier_apart_from_its_figure() {
        assert_eq!(qualifier("Plus de 1 200"), Some(("Plus de", "1 200")));
        assert_eq!(qualifier("PRÈS DE 65 %"), Some(("PRÈS DE", "65 %")));
        assert_eq!(
            qualifier("Plus d’1 million"),
            Some(("Plus d’", "1 million"))
        );
        assert_eq!(qualifier("Environ\u{a0}40"), Some(("Environ", "40")));
        assert_eq!(qualifier("Plus de la moitié"), None);
        assert_eq!(qualifier("Environ40"), None);
        assert_eq!(qualifier("1 200"), None);
    }
}

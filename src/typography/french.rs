//! French typographic rules, applied to the text drawn on images (and to
//! captions when the configuration asks for it).
//!
//! - the apostrophe is ’, not ';
//! - quotation marks are « » with a no-break space inside;
//! - a narrow no-break space (U+202F) comes before ; ! ? and %, a no-break
//!   space (U+00A0) before : ;
//! - the digits of numbers from 10 000 are grouped by threes with a narrow
//!   no-break space ("240 008");
//! - three dots are an ellipsis.
//!
//! No-break spaces keep what they join on one line: Unicode's line-breaking
//! rules give them class GL.

/// No-break space, before a colon and inside « ».
pub const NBSP: char = '\u{00A0}';
/// Narrow no-break space, before ; ! ? % and between groups of digits.
pub const NNBSP: char = '\u{202F}';

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
    let text = text.replace("...", "…");
    let text = quotes(&text);
    let text = punctuation(&text);
    group_digits(&text)
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

/// Groups the digits of numbers from 10 000 by threes. Numbers already
/// grouped with ordinary spaces get narrow no-break ones. A five-digit
/// number before a capitalised word is a postcode (`68100 Mulhouse`) and is
/// left alone, as are decimals after a comma.
fn group_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let starts_number = c.is_ascii_digit()
            && !(index > 0 && (chars[index - 1].is_ascii_digit() || chars[index - 1] == ','));
        if !starts_number {
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
        loop {
            let is_space = |c: char| c == ' ' || c == NBSP || c == NNBSP;
            let group = end + 1..end + 4;
            let grouped = digits.len() <= 3 || digits.len().is_multiple_of(3);
            if grouped
                && end < chars.len()
                && is_space(chars[end])
                && group.end <= chars.len()
                && chars[group.clone()].iter().all(char::is_ascii_digit)
                && chars.get(group.end).is_none_or(|c| !c.is_ascii_digit())
            {
                digits.extend(&chars[group.clone()]);
                end = group.end;
            } else {
                break;
            }
        }
        let postcode = digits.len() == 5
            && chars.get(end) == Some(&' ')
            && chars.get(end + 1).is_some_and(|c| c.is_uppercase());
        if digits.len() >= 5 && !postcode && !digits.starts_with('0') {
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
    #[case::below_ten_thousand("1700 assurés en 2020", "1700 assurés en 2020")]
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
}

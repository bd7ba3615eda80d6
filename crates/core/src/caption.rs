//! The text that goes out with an image: the post's caption plus its
//! series' hashtags.
//!
//! Hashtags are appended on a paragraph of their own unless the caption
//! already carries them (compared without case, as the networks do).

/// The caption as a network will receive it: the series' hashtags added
/// and, when the configuration asks for it, French typographic rules
/// applied.
pub fn render(caption: &str, hashtags: &[String], french: bool) -> String {
    let composed = compose(caption, hashtags);
    if french {
        crate::typography::french::apply(&composed)
    } else {
        composed
    }
}

/// The caption with the series' hashtags.
pub fn compose(caption: &str, hashtags: &[String]) -> String {
    let present: Vec<String> = hashtags_in(caption)
        .into_iter()
        .map(str::to_lowercase)
        .collect();
    let missing: Vec<&str> = hashtags
        .iter()
        .map(String::as_str)
        .filter(|tag| !present.contains(&tag.to_lowercase()))
        .collect();
    if missing.is_empty() {
        return caption.to_owned();
    }
    let tags = missing.join(" ");
    if caption.is_empty() {
        tags
    } else {
        format!("{caption}\n\n{tags}")
    }
}

/// The hashtags of `text`, in order, each with its `#`. A `#` counts only
/// at the start of a word, so that a link's `#anchor` is not a hashtag.
pub fn hashtags_in(text: &str) -> Vec<&str> {
    let mut tags = Vec::new();
    // Only the `#`s are looked at, found by a fast search, each with the
    // character before it.
    for (index, _) in text.match_indices('#') {
        let starts_word = text[..index]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([{«\"'".contains(c));
        if !starts_word {
            continue;
        }
        let rest = &text[index + 1..];
        let length: usize = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum();
        // A tag made only of digits (`#1`) is not a hashtag anywhere.
        if length > 0 && !rest[..length].chars().all(|c| c.is_ascii_digit()) {
            tags.push(&text[index..index + 1 + length]);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|tag| (*tag).to_owned()).collect()
    }

    #[test]
    fn appends_the_series_hashtags_on_their_own_paragraph() {
        assert_eq!(
            compose("Bonjour.", &tags(&["#ChiffreDeLaSemaine", "#CPTS"])),
            "Bonjour.\n\n#ChiffreDeLaSemaine #CPTS"
        );
    }

    #[test]
    fn does_not_repeat_a_hashtag_already_present_whatever_its_case() {
        assert_eq!(
            compose(
                "Le #chiffredelasemaine du jour.",
                &tags(&["#ChiffreDeLaSemaine", "#CPTS"])
            ),
            "Le #chiffredelasemaine du jour.\n\n#CPTS"
        );
        assert_eq!(compose("#CPTS", &tags(&["#CPTS"])), "#CPTS");
    }

    #[test]
    fn applies_french_rules_only_when_asked() {
        let caption = "Qu'est-ce que Mon Espace Santé ?";
        assert_eq!(render(caption, &[], false), caption);
        assert_eq!(
            render(caption, &tags(&["#CPTS"]), true),
            "Qu’est-ce que Mon Espace Santé\u{202F}?\n\n#CPTS"
        );
    }

    #[test]
    fn finds_hashtags_but_not_anchors_or_numbers() {
        assert_eq!(
            hashtags_in("#Santé et #e_CPS, voir https://x.fr/#ancre, n°#1 (#MonEspaceSanté)"),
            vec!["#Santé", "#e_CPS", "#MonEspaceSanté"]
        );
    }
}

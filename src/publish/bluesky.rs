//! Bluesky (atproto), the pure part: record keys, rich-text facets and the
//! public address of a post.
//!
//! Bluesky has no server-side scheduling: a post goes out at its time from
//! crieur. A post is made exactly once because crieur chooses its record key
//! (a TID) and records it before `com.atproto.repo.createRecord`: after an
//! unclear answer, `getRecord` with that key says whether it exists, and a
//! second create with the same key is refused rather than duplicated.
//!
//! Facets point into the text by UTF-8 byte offsets, not characters: an
//! accent takes two bytes, most emoji four.

use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

/// The largest blob a PDS accepts for an image.
pub const MAX_BLOB_BYTES: usize = 1_000_000;
/// The most images one post embeds.
pub const MAX_IMAGES: usize = 4;
/// The longest alt text of an image, in characters.
pub const MAX_ALT: usize = 2_000;
/// The longest hashtag, in graphemes (without `#`).
pub const MAX_TAG_GRAPHEMES: usize = 64;

/// The alphabet of TIDs (base32, sortable).
const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A record key (TID) from microseconds since the Unix epoch and a clock
/// identifier (10 bits): 13 characters that sort as the instants do.
pub fn tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..13)
        .map(|i| TID_ALPHABET[((value >> (60 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// Whether a text is a well-formed TID.
pub fn is_tid(text: &str) -> bool {
    text.len() == 13
        && text.bytes().all(|b| TID_ALPHABET.contains(&b))
        // The first character carries the top bits, the highest always zero.
        && TID_ALPHABET[..16].contains(&text.as_bytes()[0])
}

/// The public address of a post.
pub fn post_url(handle: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{handle}/post/{rkey}")
}

/// One facet of a text: a byte range and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    /// UTF-8 byte offsets, end excluded.
    pub start: usize,
    pub end: usize,
    pub feature: Feature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    Link(String),
    /// A hashtag, without its `#`.
    Tag(String),
}

impl Facet {
    /// The facet as `app.bsky.richtext.facet` expects it.
    pub fn to_json(&self) -> Value {
        let feature = match &self.feature {
            Feature::Link(uri) => json!({"$type": "app.bsky.richtext.facet#link", "uri": uri}),
            Feature::Tag(tag) => json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
        };
        json!({
            "index": {"byteStart": self.start, "byteEnd": self.end},
            "features": [feature],
        })
    }
}

/// The links (with a scheme) and hashtags of a text, in order. A hashtag
/// starts a word, is not only digits, and loses the punctuation that ends
/// a sentence; a `#` inside a link is part of the link.
pub fn facets(text: &str) -> Vec<Facet> {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    let mut facets: Vec<Facet> = finder
        .links(text)
        .map(|link| Facet {
            start: link.start(),
            end: link.end(),
            feature: Feature::Link(link.as_str().to_owned()),
        })
        .collect();
    let links: Vec<(usize, usize)> = facets.iter().map(|f| (f.start, f.end)).collect();
    let mut previous: Option<char> = None;
    for (start, c) in text.char_indices() {
        let starts_word = previous.is_none_or(char::is_whitespace);
        previous = Some(c);
        if c != '#' || !starts_word || links.iter().any(|(s, e)| (*s..*e).contains(&start)) {
            continue;
        }
        let body_start = start + 1;
        let body_len: usize = text[body_start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum();
        let tag = &text[body_start..body_start + body_len];
        if tag.is_empty()
            || tag.chars().all(|c| c.is_ascii_digit())
            || tag.graphemes(true).count() > MAX_TAG_GRAPHEMES
        {
            continue;
        }
        facets.push(Facet {
            start,
            end: body_start + body_len,
            feature: Feature::Tag(tag.to_owned()),
        });
    }
    facets.sort_by_key(|f| f.start);
    facets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facet_offsets_are_utf8_bytes_on_character_boundaries() {
        let text =
            "Journée 🩺 prévention : #Santé, voir https://exemple.fr/dépistage#rdv et #Été2026 !";
        let facets = facets(text);
        let found: Vec<(&str, &Feature)> = facets
            .iter()
            .map(|f| {
                assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
                (&text[f.start..f.end], &f.feature)
            })
            .collect();
        assert_eq!(
            found,
            [
                ("#Santé", &Feature::Tag("Santé".to_owned())),
                (
                    "https://exemple.fr/dépistage#rdv",
                    &Feature::Link("https://exemple.fr/dépistage#rdv".to_owned())
                ),
                ("#Été2026", &Feature::Tag("Été2026".to_owned())),
            ]
        );
        // "Journée " is 9 bytes (é takes 2), the emoji 4, then " prévention : "
        // 15: the hashtag starts at byte 28, not at character 23.
        assert_eq!((facets[0].start, facets[0].end), (28, 35));
        assert_eq!(text[..28].chars().count(), 23);
    }

    #[test]
    fn a_hash_in_a_word_or_a_number_is_no_hashtag() {
        assert!(facets("C# et le n°#12 ou #2026").is_empty());
        let long = format!("#{}", "a".repeat(MAX_TAG_GRAPHEMES + 1));
        assert!(facets(&long).is_empty());
        let json = facets("#Santé")[0].to_json();
        assert_eq!(json["index"]["byteStart"], 0);
        assert_eq!(json["index"]["byteEnd"], 7);
        assert_eq!(json["features"][0]["$type"], "app.bsky.richtext.facet#tag");
        assert_eq!(json["features"][0]["tag"], "Santé");
    }

    #[test]
    fn record_keys_are_tids_that_sort_as_their_instants() {
        assert_eq!(tid(0, 0), "2222222222222");
        let earlier = tid(1_764_000_000_000_000, 7);
        let later = tid(1_764_000_000_000_001, 0);
        assert!(is_tid(&earlier) && is_tid(&later), "{earlier} {later}");
        assert!(earlier < later);
        assert_ne!(tid(1_764_000_000_000_000, 8), earlier);
        assert!(!is_tid("abc"));
        assert!(
            !is_tid("zzzzzzzzzzzzz"),
            "the first character is out of range"
        );
        assert_eq!(
            post_url("cpts-mulhouse.bsky.social", &earlier),
            format!("https://bsky.app/profile/cpts-mulhouse.bsky.social/post/{earlier}")
        );
    }
}

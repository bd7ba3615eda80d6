//! The social networks crieur publishes to, and how each counts a caption.
//!
//! Limits come from each network's documentation as Buffer passes them on:
//! a caption over its limit is refused at publish time, so `check` counts it
//! beforehand exactly as the network will (graphemes for Bluesky, a link as
//! 23 characters for X and Mastodon).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Facebook,
    Instagram,
    Linkedin,
    X,
    Mastodon,
    Bluesky,
    Threads,
}

/// How a network measures text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Unicode scalar values.
    Characters,
    /// Characters, with every link counted as 23 whatever its length.
    CharactersLinksAs23,
    /// User-perceived characters (extended grapheme clusters).
    Graphemes,
}

impl Network {
    pub const ALL: [Network; 7] = [
        Network::Facebook,
        Network::Instagram,
        Network::Linkedin,
        Network::X,
        Network::Mastodon,
        Network::Bluesky,
        Network::Threads,
    ];

    pub const NAMES: [&'static str; 7] = [
        "facebook",
        "instagram",
        "linkedin",
        "x",
        "mastodon",
        "bluesky",
        "threads",
    ];

    pub fn as_str(self) -> &'static str {
        Network::NAMES[self as usize]
    }

    /// The name people know the network by, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Network::Facebook => "Facebook",
            Network::Instagram => "Instagram",
            Network::Linkedin => "LinkedIn",
            Network::X => "X",
            Network::Mastodon => "Mastodon",
            Network::Bluesky => "Bluesky",
            Network::Threads => "Threads",
        }
    }

    /// The longest caption the network takes, in its own unit.
    pub fn text_limit(self) -> usize {
        match self {
            Network::Facebook => 5_000,
            Network::Instagram => 2_200,
            Network::Linkedin => 3_000,
            Network::X => 280,
            Network::Mastodon => 500,
            Network::Bluesky => 300,
            Network::Threads => 500,
        }
    }

    /// A limit in UTF-8 bytes on top of the counted one (Bluesky's records).
    pub fn byte_limit(self) -> Option<usize> {
        match self {
            Network::Bluesky => Some(3_000),
            _ => None,
        }
    }

    /// The most hashtags a caption may carry (Instagram since December 2025).
    pub fn hashtag_limit(self) -> Option<usize> {
        match self {
            Network::Instagram => Some(5),
            _ => None,
        }
    }

    pub fn counting(self) -> Counting {
        match self {
            Network::X | Network::Mastodon => Counting::CharactersLinksAs23,
            Network::Bluesky => Counting::Graphemes,
            _ => Counting::Characters,
        }
    }

    /// The unit of [`Network::count`], in French, plural.
    pub fn unit(self) -> &'static str {
        match self.counting() {
            Counting::Graphemes => "graphèmes",
            _ => "caractères",
        }
    }

    /// The length of `text` as this network counts it.
    pub fn count(self, text: &str) -> usize {
        match self.counting() {
            Counting::Characters => text.chars().count(),
            Counting::Graphemes => text.graphemes(true).count(),
            Counting::CharactersLinksAs23 => {
                let mut finder = linkify::LinkFinder::new();
                finder.kinds(&[linkify::LinkKind::Url]);
                let mut length = 0;
                let mut last = 0;
                for link in finder.links(text) {
                    length += text[last..link.start()].chars().count() + LINK_WEIGHT;
                    last = link.end();
                }
                length + text[last..].chars().count()
            }
        }
    }
}

/// What X and Mastodon count a link as, whatever its length.
const LINK_WEIGHT: usize = 23;

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Network {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        Network::ALL
            .into_iter()
            .find(|network| network.as_str() == name)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::characters(Network::Facebook, "Mon Espace Santé", 16)]
    #[case::a_link_counts_23_on_x(
        Network::X,
        "Voir https://www.ameli.fr/assure/sante/mon-espace-sante ici",
        32
    )]
    #[case::a_link_counts_23_on_mastodon(Network::Mastodon, "https://cpts-mulhouse.fr", 23)]
    #[case::links_are_plain_on_linkedin(Network::Linkedin, "https://cpts-mulhouse.fr", 24)]
    #[case::graphemes_on_bluesky(Network::Bluesky, "👩‍⚕️ e\u{301}", 3)]
    #[case::code_points_elsewhere(Network::Threads, "👩‍⚕️", 4)]
    fn counts_as_the_network_counts(
        #[case] network: Network,
        #[case] text: &str,
        #[case] expected: usize,
    ) {
        assert_eq!(network.count(text), expected);
    }

    #[test]
    fn names_round_trip() {
        for network in Network::ALL {
            assert_eq!(network.as_str().parse::<Network>(), Ok(network));
        }
        assert!("twitter".parse::<Network>().is_err());
    }
}

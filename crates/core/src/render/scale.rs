//! One type scale per series: side by side in a feed, the cards of a
//! series set each text at the same size.
//!
//! A template declares its steps (`scale`); each card alone takes, for each
//! text, the largest step at which it fits and breaks well. [`Sizes`] then
//! picks, for each text of a series in a format, the size most of its cards
//! reach: a card whose text would not fit there takes the step (or steps)
//! below, and no card is set larger than its series.

use std::collections::BTreeMap;

use crate::post::Post;
use crate::template::{Format, Template};

/// Text key -> size, for one series, template and format.
type Caps = BTreeMap<usize, f32>;

/// The sizes of one card's texts set on the scale, by text key.
pub type Scaled = Vec<(usize, f32)>;

/// Series -> template -> format -> text -> the size on each card.
type Reached<'p> =
    BTreeMap<&'p str, BTreeMap<&'p str, BTreeMap<Format, BTreeMap<usize, Vec<f32>>>>>;

/// The size each text of each series takes, by series, template, format
/// and text ([`crate::template::TextLayer::key`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sizes {
    series: BTreeMap<String, BTreeMap<String, BTreeMap<Format, Caps>>>,
}

impl Sizes {
    /// The sizes of the series, from the texts of each card laid out alone
    /// (`layout` without sizes): its post, template, format and
    /// [`crate::render::Card::scaled`].
    pub fn from_cards<'p, 'c>(
        cards: impl IntoIterator<Item = (&'p Post, &'p Template, Format, &'c [(usize, f32)])>,
    ) -> Sizes {
        let mut reached: Reached<'p> = BTreeMap::new();
        for (post, template, format, scaled) in cards {
            let Some(series) = &post.series else { continue };
            let texts = reached
                .entry(series.get_ref().as_str())
                .or_default()
                .entry(template.id.as_str())
                .or_default()
                .entry(format)
                .or_default();
            for &(key, size) in scaled {
                texts.entry(key).or_default().push(size);
            }
        }
        let series = reached
            .into_iter()
            .map(|(series, templates)| {
                let templates = templates
                    .into_iter()
                    .map(|(template, formats)| {
                        let formats = formats
                            .into_iter()
                            .map(|(format, texts)| {
                                let caps = texts
                                    .into_iter()
                                    .map(|(key, sizes)| (key, most_reach(sizes)))
                                    .collect();
                                (format, caps)
                            })
                            .collect();
                        (template.to_owned(), formats)
                    })
                    .collect();
                (series.to_owned(), templates)
            })
            .collect();
        Sizes { series }
    }

    /// Whether a card laid out alone, its texts at `scaled`, is set
    /// otherwise in its series: one of its texts is larger than the
    /// series'.
    pub fn changes(
        &self,
        post: &Post,
        template: &Template,
        format: Format,
        scaled: &Scaled,
    ) -> bool {
        let Some(series) = &post.series else {
            return false;
        };
        let Some(caps) = self.caps(series.get_ref(), &template.id, format) else {
            return false;
        };
        scaled
            .iter()
            .any(|(key, size)| caps.get(key).is_some_and(|cap| size > cap))
    }

    /// Whether no series has sizes (a project not judged, or without
    /// scales).
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The sizes of a series' texts on a template's cards in a format.
    pub fn caps(&self, series: &str, template: &str, format: Format) -> Option<&Caps> {
        self.series.get(series)?.get(template)?.get(&format)
    }
}

/// The largest size more than half of the cards reach.
fn most_reach(mut sizes: Vec<f32>) -> f32 {
    sizes.sort_by(|a, b| b.total_cmp(a));
    sizes[sizes.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_takes_the_size_most_of_its_cards_reach() {
        assert_eq!(most_reach(vec![220.0]), 220.0);
        // Two cards: both at the smaller, rather than one of each.
        assert_eq!(most_reach(vec![220.0, 170.0]), 170.0);
        assert_eq!(most_reach(vec![170.0, 220.0, 150.0]), 170.0);
        // One long text does not shrink the series.
        assert_eq!(most_reach(vec![220.0, 220.0, 220.0, 220.0, 110.0]), 220.0);
    }
}

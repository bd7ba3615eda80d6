//! What the cards of a batch share: the strips of rows already
//! compressed ([`Strips`]), and the card last drawn in each size and
//! background.
//!
//! Two cards of a template in one format differ in their texts, seldom in
//! their background, logos and footer. A card is drawn and compressed a
//! strip of rows at a time, each strip while it is in the core's cache.
//! A strip that no operation covers where the card differs from the
//! last card of its size and background — the same operations, in the
//! same order, over the same rows — holds that card's pixels: it is
//! copied from the strips kept, neither drawn nor read. The image is the
//! one `draw` and `encode_png` make.

use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use super::canvas::text_rows;
use super::flat::{Place, Strips};
use super::layout::{Card, Op};

/// Cards a batch keeps: every format of a few templates.
const KEPT_CARDS: usize = 12;

/// The strips and cards of a batch.
#[derive(Default)]
pub struct Batch {
    strips: Strips,
    kept: Mutex<Vec<Kept>>,
}

/// A card drawn, and where the strips of its image are kept, in order.
pub(super) struct Kept {
    pub card: Card,
    /// The rows each of its operations can change ([`rows`]).
    pub spans: Vec<Range<usize>>,
    pub places: Vec<Place>,
}

impl Batch {
    /// The strips the batch keeps.
    pub(super) fn strips(&self) -> &Strips {
        &self.strips
    }

    /// The kept card of the card's size and background that shares most
    /// operations with it, the latest of those sharing as many.
    pub(super) fn take(&self, card: &Card) -> Option<Kept> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let (best, _) = kept
            .iter()
            .enumerate()
            .filter(|(_, kept)| {
                (kept.card.width, kept.card.height) == (card.width, card.height)
                    && same(&kept.card.ops[0], &card.ops[0])
            })
            .max_by_key(|(_, kept)| shared(&kept.card.ops, &card.ops))?;
        Some(kept.remove(best))
    }

    pub(super) fn keep(&self, card: Kept) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT_CARDS {
            kept.remove(0);
        }
        kept.push(card);
    }
}

/// Whether two operations put the same pixels: the same shape, picture
/// or glyphs, at the same place, in the same colours.
fn same(a: &Op, b: &Op) -> bool {
    match (a, b) {
        (
            Op::Fill {
                rect,
                paint,
                radius,
            },
            Op::Fill {
                rect: rect_b,
                paint: paint_b,
                radius: radius_b,
            },
        ) => rect == rect_b && paint == paint_b && radius.to_bits() == radius_b.to_bits(),
        (
            Op::Image { image, rect, fit },
            Op::Image {
                image: image_b,
                rect: rect_b,
                fit: fit_b,
            },
        ) => Arc::ptr_eq(image, image_b) && rect == rect_b && fit == fit_b,
        (
            Op::Text {
                face,
                block,
                origins,
                color,
            },
            Op::Text {
                face: face_b,
                block: block_b,
                origins: origins_b,
                color: color_b,
            },
        ) => {
            face.name == face_b.name && color == color_b && origins == origins_b && block == block_b
        }
        _ => false,
    }
}

/// How many operations two cards share, place for place.
fn shared(a: &[Op], b: &[Op]) -> usize {
    a.iter().zip(b).filter(|(a, b)| same(a, b)).count()
}

/// The rows, in order and apart, that an operation of either card
/// covers where the two differ, place for place, past their shared
/// first operation: each card as its operations and the rows each can
/// change.
pub(super) fn differing_rows(
    (earlier, earlier_spans): (&[Op], &[Range<usize>]),
    (later, later_spans): (&[Op], &[Range<usize>]),
) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for index in 1..earlier.len().max(later.len()) {
        match (earlier.get(index), later.get(index)) {
            (Some(a), Some(b)) if same(a, b) => {}
            _ => spans.extend(
                [earlier_spans.get(index), later_spans.get(index)]
                    .into_iter()
                    .flatten()
                    .cloned(),
            ),
        }
    }
    spans.retain(|rows| !rows.is_empty());
    spans.sort_by_key(|rows| rows.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for rows in spans {
        match merged.last_mut() {
            Some(last) if rows.start <= last.end => last.end = last.end.max(rows.end),
            _ => merged.push(rows),
        }
    }
    merged
}

/// The rows an operation can change, within a canvas `height` rows tall:
/// its box, widened by a row each way for the edges the rasterizer
/// softens; for a text, the rows its glyphs' coverage spans.
pub(super) fn rows(op: &Op, height: u32) -> Range<usize> {
    let height = height as usize;
    let span = |top: f32, bottom: f32| {
        let top = (top.floor() - 1.0).max(0.0) as usize;
        let bottom = ((bottom.ceil() + 1.0).max(0.0) as usize).min(height);
        top.min(bottom)..bottom
    };
    match op {
        Op::Fill { rect: None, .. } => 0..height,
        Op::Fill {
            rect: Some(rect), ..
        }
        | Op::Image { rect, .. } => span(rect.y, rect.y + rect.height),
        Op::Text {
            face,
            block,
            origins,
            ..
        } => text_rows(face, block, origins)
            .map_or(0..0, |(top, bottom)| span(top as f32, bottom as f32)),
    }
}

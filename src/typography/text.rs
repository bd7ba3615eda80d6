//! Shaping, line breaking and fitting: text in a box, no pixels yet.
//!
//! Text is shaped once with HarfRust in font units, which applies the
//! font's kerning (GPOS or `kern`) and ligatures. Break opportunities come
//! from Unicode's line-breaking algorithm (UAX #14), so a line never breaks
//! inside a word nor at a no-break space. Fitting looks for the largest size
//! between the box's minimum and maximum at which the text fits in its
//! lines; shaped advances scale linearly with the size, so the text is not
//! shaped again for each size tried.

use std::str::FromStr;

use std::sync::Arc;

use harfrust::{Buffer, Direction, Language, Script, ShapeOptions, ShapePlan, ShaperFont};
use skrifa::Font;
use unicode_linebreak::{BreakOpportunity, linebreaks};

thread_local! {
    /// Shaped paragraphs by font and text.
    static PARAGRAPHS: std::cell::RefCell<std::collections::HashMap<(String, String), Arc<Paragraph>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// A loaded font, ready to shape, measure and draw.
#[derive(Clone)]
pub struct FontFace {
    pub name: String,
    pub(crate) font: Font,
    upem: f32,
    /// Above the baseline, in font units (positive).
    ascent: f32,
    /// Below the baseline, in font units (positive).
    descent: f32,
    /// The width given to a space the font lacks (U+202F in Open Sans).
    thin_space: f32,
    /// The shaping plan for French text, built once: building it is most
    /// of the cost of shaping a short text.
    plan: Arc<ShapePlan>,
}

impl std::fmt::Debug for FontFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontFace")
            .field("name", &self.name)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` n'est pas une police TrueType ou OpenType lisible")]
pub struct FontError(pub String);

impl FontFace {
    pub fn from_bytes(name: &str, data: Vec<u8>) -> Result<FontFace, FontError> {
        let font = Font::new(data, 0).ok_or_else(|| FontError(name.to_owned()))?;
        let metrics = font.metrics();
        let upem = f32::from(metrics.units_per_em);
        let line = metrics
            .typo_line
            .filter(|_| metrics.use_typo_metrics)
            .or(metrics.hhea_line)
            .or(metrics.typo_line);
        let (ascent, descent) = match line {
            Some(line) => (
                line.ascender.to_f64() as f32,
                -(line.descender.to_f64() as f32),
            ),
            None => (upem * 0.8, upem * 0.2),
        };
        let thin_space = font
            .charmap()
            .map_unicode('\u{2009}')
            .map_or(upem / 5.0, |glyph| font.glyph_metrics().h_advance(glyph));
        let plan = ShapePlan::new(
            &font,
            Direction::LeftToRight,
            Some(Script::LATIN),
            Language::from_str("fr").ok().as_ref(),
            &[],
        );
        Ok(FontFace {
            name: name.to_owned(),
            font,
            upem,
            ascent,
            descent,
            thin_space,
            plan: Arc::new(plan),
        })
    }

    /// Whether the font is bold (a weight of 700 or more), as WCAG counts
    /// large text.
    pub fn is_bold(&self) -> bool {
        self.font.default_attributes().weight >= skrifa::font::attribute::Weight::BOLD
    }

    pub fn has_char(&self, c: char) -> bool {
        self.font.charmap().map_unicode(c).is_some()
    }

    /// The characters of `text` this font cannot draw, spaces aside (a
    /// missing space is drawn as a thin space).
    pub fn missing_chars(&self, text: &str) -> Vec<char> {
        let mut missing: Vec<char> = text
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control() && !self.has_char(*c))
            .collect();
        missing.dedup();
        missing
    }

    /// Ascent and descent at `size` pixels per em.
    pub fn extents(&self, size: f32) -> (f32, f32) {
        let scale = size / self.upem;
        (self.ascent * scale, self.descent * scale)
    }

    /// Shapes `text` in font units.
    pub fn shape(&self, text: &str) -> Shaped {
        let shaper = ShaperFont::new(&self.font);
        let mut buffer = Buffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        buffer.set_language(Language::from_str("fr").ok());
        // The cached plan fits Latin text written left to right; anything
        // else gets a plan of its own.
        let fits =
            buffer.direction() == self.plan.direction() && buffer.script() == self.plan.script();
        let options = ShapeOptions::new().plan(fits.then_some(&*self.plan));
        // Shaping only fails on a buffer that was set up wrong; an empty
        // result draws nothing rather than crashing a render.
        if harfrust::shape(&shaper, &mut buffer, options).is_err() {
            return Shaped::default();
        }
        let glyphs = buffer
            .glyph_infos()
            .iter()
            .zip(buffer.glyph_positions())
            .map(|(info, position)| {
                let cluster = info.cluster as usize;
                let character = text[cluster..].chars().next().unwrap_or(' ');
                let missing = info.glyph_id == 0;
                let (advance, visible) = if missing && character.is_whitespace() {
                    (self.thin_space, false)
                } else {
                    (
                        position.x_advance as f32,
                        !missing && !character.is_whitespace(),
                    )
                };
                ShapedGlyph {
                    id: info.glyph_id,
                    cluster,
                    advance,
                    x_offset: position.x_offset as f32,
                    y_offset: position.y_offset as f32,
                    visible,
                }
            })
            .collect();
        Shaped {
            upem: self.upem,
            glyphs,
        }
    }
}

/// Glyphs of a text, in font units.
#[derive(Debug, Clone, Default)]
pub struct Shaped {
    upem: f32,
    pub glyphs: Vec<ShapedGlyph>,
}

#[derive(Debug, Clone, Copy)]
pub struct ShapedGlyph {
    pub id: u32,
    /// Byte offset of the first character the glyph stands for.
    pub cluster: usize,
    pub advance: f32,
    pub x_offset: f32,
    pub y_offset: f32,
    /// Whether the glyph has ink to draw (spaces and missing glyphs do not).
    pub visible: bool,
}

impl Shaped {
    /// Total advance in font units.
    pub fn advance(&self) -> f32 {
        self.glyphs.iter().map(|g| g.advance).sum()
    }
}

/// The largest text size laid out, in pixels.
pub const MAX_SIZE: f32 = 2000.0;

/// The line heights laid out, as multiples of the size.
pub const LINE_HEIGHTS: std::ops::RangeInclusive<f32> = 0.5..=3.0;

/// `value` within `range`, or `default` when it is not a number.
fn sane(value: f32, default: f32, range: std::ops::RangeInclusive<f32>) -> f32 {
    if value.is_nan() {
        default
    } else {
        value.clamp(*range.start(), *range.end())
    }
}

/// The box a text must fit in, and how it may be sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f32,
    pub height: f32,
    pub min_size: f32,
    pub max_size: f32,
    pub max_lines: usize,
    /// Line height as a multiple of the size.
    pub line_height: f32,
}

/// A glyph at its place on a line, in pixels from the line's start and
/// baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedGlyph {
    pub id: u32,
    pub x: f32,
    pub y: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub glyphs: Vec<PlacedGlyph>,
    /// Ink advance, trailing spaces excluded.
    pub width: f32,
}

/// Text laid out at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub size: f32,
    pub lines: Vec<Line>,
    /// Height of one line, in pixels.
    pub line_height: f32,
    /// From the top of a line box to its baseline, in pixels.
    pub baseline: f32,
}

impl Block {
    pub fn height(&self) -> f32 {
        self.line_height * self.lines.len() as f32
    }

    pub fn width(&self) -> f32 {
        self.lines.iter().map(|l| l.width).fold(0.0, f32::max)
    }
}

/// Why a text does not fit its box, even at the smallest size.
#[derive(Debug, Clone, PartialEq)]
pub enum Overflow {
    /// One word is wider than the box.
    Word { word: String, by: f32 },
    /// More lines than the box allows.
    Lines { needed: usize, allowed: usize },
    /// Taller than the box.
    Height { by: f32 },
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overflow::Word { word, by } => {
                write!(
                    f,
                    "le mot « {word} » dépasse la largeur de {} px",
                    by.ceil()
                )
            }
            Overflow::Lines { needed, allowed } => write!(
                f,
                "il faudrait {needed} lignes, {allowed} au plus (soit {} de trop)",
                needed - allowed
            ),
            Overflow::Height { by } => write!(f, "le texte dépasse la hauteur de {} px", by.ceil()),
        }
    }
}

/// A piece of text between two break opportunities.
#[derive(Debug, Clone)]
struct Segment {
    /// Range of glyphs.
    glyphs: std::ops::Range<usize>,
    /// Advance of the whole segment, font units.
    advance: f32,
    /// Advance of the spaces that end it, which vanish at the end of a line.
    trailing: f32,
    /// A line must end after this segment.
    mandatory: bool,
    text: std::ops::Range<usize>,
}

/// Text prepared for fitting at any size: shaped once, cut at its break
/// opportunities.
#[derive(Debug, Clone)]
pub struct Paragraph {
    text: String,
    shaped: Shaped,
    segments: Vec<Segment>,
    ascent: f32,
    descent: f32,
}

impl Paragraph {
    pub fn new(face: &FontFace, text: &str) -> Paragraph {
        let shaped = face.shape(text);
        let mut segments = Vec::new();
        let mut glyph = 0;
        let mut start = 0;
        for (end, opportunity) in linebreaks(text) {
            let first = glyph;
            while glyph < shaped.glyphs.len() && shaped.glyphs[glyph].cluster < end {
                glyph += 1;
            }
            let piece = &text[start..end];
            let mut trailing = 0.0;
            for g in shaped.glyphs[first..glyph].iter().rev() {
                let c = text[g.cluster..].chars().next().unwrap_or(' ');
                if c.is_whitespace() {
                    trailing += g.advance;
                } else {
                    break;
                }
            }
            let advance: f32 = shaped.glyphs[first..glyph].iter().map(|g| g.advance).sum();
            segments.push(Segment {
                glyphs: first..glyph,
                advance,
                trailing,
                mandatory: opportunity == BreakOpportunity::Mandatory && end < text.len(),
                text: start..start + piece.trim_end().len(),
            });
            start = end;
        }
        Paragraph {
            text: text.to_owned(),
            shaped,
            segments,
            ascent: face.ascent,
            descent: face.descent,
        }
    }

    /// Lays the text out at `size`, greedily, or says why it does not fit.
    pub fn layout(&self, size: f32, frame: &Frame) -> Result<Block, Overflow> {
        let lines = self.break_lines(size, frame)?;
        let scale = size / self.shaped.upem.max(1.0);
        let line_height = size * frame.line_height;
        let (ascent, descent) = (self.ascent * scale, self.descent * scale);
        let baseline = (line_height - (ascent + descent)) / 2.0 + ascent;
        let lines = lines
            .into_iter()
            .map(|range| self.place(range, scale))
            .collect();
        Ok(Block {
            size,
            lines,
            line_height,
            baseline,
        })
    }

    /// The segments of each line at `size`, or why the text does not fit.
    fn break_lines(
        &self,
        size: f32,
        frame: &Frame,
    ) -> Result<Vec<std::ops::Range<usize>>, Overflow> {
        let scale = size / self.shaped.upem.max(1.0);
        let mut lines: Vec<std::ops::Range<usize>> = Vec::new();
        let mut current: Option<(usize, usize, f32)> = None; // first, last, width incl. trailing
        for (index, segment) in self.segments.iter().enumerate() {
            let ink = (segment.advance - segment.trailing) * scale;
            if ink > frame.width + 0.01 {
                return Err(Overflow::Word {
                    word: self.text[segment.text.clone()].to_owned(),
                    by: ink - frame.width,
                });
            }
            current = match current {
                Some((first, _, width)) if width + ink <= frame.width + 0.01 => {
                    Some((first, index, width + segment.advance * scale))
                }
                Some((first, last, _)) => {
                    lines.push(first..last + 1);
                    Some((index, index, segment.advance * scale))
                }
                None => Some((index, index, segment.advance * scale)),
            };
            if segment.mandatory
                && let Some((first, last, _)) = current.take()
            {
                lines.push(first..last + 1);
            }
        }
        if let Some((first, last, _)) = current {
            lines.push(first..last + 1);
        }
        if lines.len() > frame.max_lines {
            return Err(Overflow::Lines {
                needed: lines.len(),
                allowed: frame.max_lines,
            });
        }
        let height = size * frame.line_height * lines.len() as f32;
        if height > frame.height + 0.01 {
            return Err(Overflow::Height {
                by: height - frame.height,
            });
        }
        Ok(lines)
    }

    fn place(&self, segments: std::ops::Range<usize>, scale: f32) -> Line {
        let first = &self.segments[segments.start];
        let last = &self.segments[segments.end - 1];
        let mut x = 0.0;
        let mut glyphs = Vec::new();
        for glyph in &self.shaped.glyphs[first.glyphs.start..last.glyphs.end] {
            if glyph.visible {
                glyphs.push(PlacedGlyph {
                    id: glyph.id,
                    x: x + glyph.x_offset * scale,
                    y: -glyph.y_offset * scale,
                });
            }
            x += glyph.advance * scale;
        }
        Line {
            glyphs,
            width: x - last.trailing * scale,
        }
    }

    /// The largest size, in whole pixels between the frame's minimum and
    /// maximum, at which the text fits; else why it does not fit at the
    /// minimum.
    ///
    /// Sizes are held within 1 to [`MAX_SIZE`] pixels and the line height
    /// within [`LINE_HEIGHTS`] whatever the frame says (templates are
    /// checked to stay within them): a size is paid for in glyph memory.
    pub fn fit(&self, frame: &Frame) -> Result<Block, Overflow> {
        let frame = &Frame {
            min_size: sane(frame.min_size, 1.0, 1.0..=MAX_SIZE),
            max_size: sane(frame.max_size, 1.0, 1.0..=MAX_SIZE),
            line_height: sane(frame.line_height, 1.2, LINE_HEIGHTS),
            ..*frame
        };
        let min = frame.min_size.ceil() as u32;
        let max = (frame.max_size.floor() as u32).max(min);
        self.break_lines(min as f32, frame)?;
        // Fitting is monotonic in practice: binary search over whole
        // pixels, placing the glyphs only at the size found.
        let (mut low, mut high) = (min, max);
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if self.break_lines(mid as f32, frame).is_ok() {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        self.layout(low as f32, frame)
    }

    /// The paragraph of `text` in `face`, shaped once per thread and kept:
    /// a card's texts recur across its formats, and kickers and footers
    /// across cards.
    pub fn cached(face: &FontFace, text: &str) -> Arc<Paragraph> {
        /// Past this many, the cache starts afresh.
        const MOST: usize = 256;
        let key = (face.name.clone(), text.to_owned());
        if let Some(found) = PARAGRAPHS.with(|cache| cache.borrow().get(&key).cloned()) {
            return found;
        }
        let paragraph = Arc::new(Paragraph::new(face, text));
        PARAGRAPHS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= MOST {
                cache.clear();
            }
            cache.insert(key, paragraph.clone());
        });
        paragraph
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn face(file: &str) -> FontFace {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let data = std::fs::read(path).unwrap();
        FontFace::from_bytes(file, data).unwrap()
    }

    fn inter() -> FontFace {
        face("assets/fonts/Inter-Regular.otf")
    }

    fn lato() -> FontFace {
        face("assets/fonts/Lato-Regular.ttf")
    }

    fn frame(width: f32, max_lines: usize) -> Frame {
        Frame {
            width,
            height: 10_000.0,
            min_size: 10.0,
            max_size: 100.0,
            max_lines,
            line_height: 1.2,
        }
    }

    #[test]
    fn applies_gpos_kerning_of_a_font_without_a_kern_table() {
        // Inter kerns only through GPOS: "To" must come out narrower than
        // "T" and "o" side by side.
        let face = inter();
        let pair = face.shape("To").advance();
        let apart = face.shape("T").advance() + face.shape("o").advance();
        assert!(pair < apart * 0.97, "To = {pair}, T + o = {apart}");
    }

    #[test]
    fn applies_ligatures() {
        // Lato draws "fi" as one glyph.
        let face = lato();
        assert_eq!(face.shape("fi").glyphs.len(), 1);
        assert_eq!(face.shape("f i").glyphs.len(), 3);
    }

    #[test]
    fn draws_a_missing_space_as_a_thin_space() {
        let face = face("tests/fixtures/fonts/OpenSans-Regular.ttf");
        assert!(!face.has_char('\u{202F}'));
        let shaped = face.shape("8\u{202F}%");
        assert_eq!(shaped.glyphs.len(), 3);
        assert!(!shaped.glyphs[1].visible);
        assert!(shaped.glyphs[1].advance > 0.0);
        assert!(face.missing_chars("8\u{202F}%").is_empty());
        assert_eq!(face.missing_chars("Ωmega ☃"), vec!['☃']);
    }

    #[test]
    fn never_breaks_inside_a_word_or_at_a_no_break_space() {
        let face = inter();
        let text = "240\u{202F}008 dossiers ouverts";
        let paragraph = Paragraph::new(&face, text);
        // Narrow: one unit per line.
        let block = paragraph.layout(40.0, &frame(190.0, 10)).unwrap();
        assert_eq!(block.lines.len(), 3);
        // A word wider than the box is an overflow, not a break.
        let error = paragraph.layout(40.0, &frame(60.0, 10)).unwrap_err();
        assert!(matches!(error, Overflow::Word { .. }), "{error:?}");
    }

    #[test]
    fn breaks_at_new_lines() {
        let paragraph = Paragraph::new(&inter(), "Mon Espace\nSanté");
        let block = paragraph.layout(20.0, &frame(1000.0, 5)).unwrap();
        assert_eq!(block.lines.len(), 2);
    }

    #[test]
    fn fits_at_the_largest_size_that_holds() {
        let face = lato();
        let paragraph = Paragraph::new(&face, "65,4 millions");
        let frame = frame(300.0, 1);
        let block = paragraph.fit(&frame).unwrap();
        assert!(block.size < frame.max_size, "{}", block.size);
        assert!(block.width() <= 300.0);
        assert!(paragraph.layout(block.size + 1.0, &frame).is_err());
    }

    #[test]
    fn reports_an_overflow_at_the_minimum_size() {
        let paragraph = Paragraph::new(&lato(), "C'est le nombre d'assurés disposant d'un profil");
        let error = paragraph
            .fit(&Frame {
                min_size: 40.0,
                ..frame(400.0, 2)
            })
            .unwrap_err();
        assert!(
            matches!(error, Overflow::Lines { allowed: 2, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn fits_within_sane_sizes_whatever_the_frame_says() {
        let paragraph = Paragraph::new(&lato(), "1");
        for (min_size, max_size, line_height) in [
            (10.0, 1e12, 0.0),
            (f32::NAN, f32::INFINITY, f32::NAN),
            (-5.0, -1.0, -1.0),
            (f32::NEG_INFINITY, f32::NAN, f32::INFINITY),
        ] {
            let frame = Frame {
                width: 1e9,
                height: 1e9,
                min_size,
                max_size,
                max_lines: 1,
                line_height,
            };
            let block = paragraph.fit(&frame).unwrap();
            assert!(
                (1.0..=MAX_SIZE).contains(&block.size),
                "{frame:?}: {}",
                block.size
            );
            assert!(block.line_height >= 0.5 * block.size, "{frame:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn no_line_is_wider_than_its_box(
            words in proptest::collection::vec("[a-zA-Zéèàç0-9,’]{1,12}", 1..20),
            width in 200.0f32..1000.0,
            max_lines in 1usize..8,
        ) {
            let face = lato();
            let text = words.join(" ");
            let frame = Frame { width, height: 2000.0, min_size: 12.0, max_size: 120.0, max_lines, line_height: 1.2 };
            if let Ok(block) = Paragraph::new(&face, &text).fit(&frame) {
                prop_assert!(block.lines.len() <= max_lines);
                for line in &block.lines {
                    prop_assert!(line.width <= width + 0.01, "{} > {}", line.width, width);
                }
                prop_assert!(block.height() <= frame.height + 0.01);
            }
        }
    }
}

//! Shaping, line breaking and fitting: text in a box, no pixels yet.
//!
//! Text is shaped once with HarfRust in font units, which applies the
//! font's kerning (GPOS or `kern`) and ligatures. Break opportunities come
//! from Unicode's line-breaking algorithm (UAX #14), so a line never breaks
//! inside a word nor at a no-break space. Among those opportunities, lines
//! are chosen for the whole paragraph at once (as CSS `text-wrap: pretty`
//! and `balance` do) under the rules of French typesetting: a paragraph of
//! five words or more does not end on a lone word; a line does not end on a
//! one-letter word, on an opening parenthesis with a short word, between a
//! day and its month, a number and its unit, a title and its name, nor at a
//! compound's hyphen, unless nothing else fits. Fitting looks for the
//! largest size between the box's minimum and maximum at which the text
//! fits under these rules (or, failing that, at all); shaped advances scale
//! linearly with the size, so the text is not shaped again for each size
//! tried.

use std::str::FromStr;

use std::sync::Arc;

use rustc_hash::FxHashMap;

use harfrust::{Buffer, Direction, Language, Script, ShapeOptions, ShapePlan, ShaperFont};
use skrifa::Font;
use unicode_linebreak::{BreakOpportunity, linebreaks};

use super::french::{LINKING, MAGNITUDES, MONTHS, NARROW_SPACE_EM, NNBSP, TITLES, UNITS};

thread_local! {
    /// Shaped paragraphs by font, then text: looked up without a copy of
    /// either.
    static PARAGRAPHS: std::cell::RefCell<FxHashMap<String, FxHashMap<String, Arc<Paragraph>>>> =
        std::cell::RefCell::new(FxHashMap::default());
}

/// A loaded font, ready to shape, measure and draw.
#[derive(Clone)]
pub struct FontFace {
    /// Shared: a face is cloned into every text a card draws.
    pub name: Arc<str>,
    pub(crate) font: Font,
    upem: f32,
    /// Above the baseline, in font units (positive).
    ascent: f32,
    /// Below the baseline, in font units (positive).
    descent: f32,
    /// The width given to a space the font lacks (U+202F in Open Sans).
    thin_space: f32,
    /// The weight of the design, 100 to 900 (OS/2 `usWeightClass`).
    weight: f32,
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
        let weight = font.default_attributes().weight.value();
        Ok(FontFace {
            name: name.into(),
            font,
            upem,
            ascent,
            descent,
            thin_space,
            weight,
            plan: Arc::new(plan),
        })
    }

    /// Whether the design is bold (semibold or heavier).
    pub fn is_bold(&self) -> bool {
        self.weight >= 600.0
    }

    /// Whether the font is bold as WCAG counts it for large text: a weight
    /// of 700 or more (CSS `bold`).
    pub fn is_wcag_bold(&self) -> bool {
        self.weight >= 700.0
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
                let (advance, visible) = if character == NNBSP {
                    // Fonts draw it anywhere from a sixth to a third of an
                    // em (Lato: a quarter, wider than its word space).
                    (self.upem * NARROW_SPACE_EM, false)
                } else if missing && character.is_whitespace() {
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
    pub wrap: Wrap,
}

impl Frame {
    /// Running text (captions, summaries): wrapped `pretty` over four lines
    /// or more. Any other text is display text (titles, numbers, kickers,
    /// labels, dates, places), where no line ends on a linking word.
    pub fn running(&self) -> bool {
        self.wrap == Wrap::Pretty && self.max_lines >= 4
    }
}

/// How the words of a paragraph are shared among its lines, once the
/// number of lines is the smallest that holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wrap {
    /// Lines as full as they go, in order, the last ones rebalanced where
    /// a rule asks for it (CSS `text-wrap: pretty`): running text.
    #[default]
    Pretty,
    /// Lines of similar lengths (CSS `text-wrap: balance`): titles,
    /// numbers, short texts set large.
    Balance,
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
    /// The line's text, trailing spaces excluded.
    pub text: String,
}

/// Text laid out at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub size: f32,
    /// Shared: a remembered block is handed out again without a copy.
    pub lines: Arc<[Line]>,
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

/// Past this many segments or lines, a paragraph is broken greedily:
/// choosing its lines costs the square of its length.
const MAX_SEGMENTS_CHOSEN: usize = 300;
const MAX_LINES_CHOSEN: usize = 20;

/// Lines chosen at one size.
#[derive(Debug, Clone)]
struct Breaks {
    /// The segments of each line.
    lines: Vec<std::ops::Range<usize>>,
    /// How many rules they break.
    poor: usize,
}

/// A paragraph fitted in a frame: what [`Paragraph::fit_remembered`]
/// keeps.
#[derive(Debug)]
struct Fitting {
    frame: Frame,
    steps: Vec<f32>,
    result: Result<Block, Overflow>,
}

/// Words ended before each segment, and each segment's paragraph.
#[derive(Debug)]
struct Words {
    ended: Vec<usize>,
    paragraph: Vec<usize>,
}

impl Words {
    /// Before each segment, how many words end there, and the first
    /// segment of its paragraph.
    fn of(segments: &[Segment]) -> Words {
        let mut ended = Vec::with_capacity(segments.len() + 1);
        let mut paragraph = Vec::with_capacity(segments.len());
        let mut count = 0;
        let mut first = 0;
        for (index, segment) in segments.iter().enumerate() {
            ended.push(count);
            paragraph.push(first);
            if segment.ends_word || segment.mandatory {
                count += 1;
            }
            if segment.mandatory {
                first = index + 1;
            }
        }
        ended.push(count);
        Words { ended, paragraph }
    }
}

/// Whether ending a line between `before` and `after` (two segments, each
/// without its trailing spaces) breaks a rule of French typesetting.
/// `spaced`: a space separates them (else the break follows a hyphen or a
/// dash).
fn poor_break(before: &str, after: &str, spaced: bool) -> bool {
    if !spaced {
        // A compound broken at its hyphen.
        return before.ends_with(['-', '\u{2010}']);
    }
    let last = before.rsplit(char::is_whitespace).next().unwrap_or("");
    let next = after.split(char::is_whitespace).next().unwrap_or("");
    let next_word = next.trim_end_matches(|c: char| !c.is_alphanumeric() && !"€$£%‰°²".contains(c));
    let letters = last.chars().filter(|c| c.is_alphabetic()).count();
    // « à », « y », « a » at a line's end.
    let one_letter = letters == 1 && last.chars().count() == 1;
    // « (un » at a line's end.
    let opening = last.starts_with(['(', '[']) && !last.contains([')', ']']) && letters <= 3;
    let number = !last.is_empty()
        && last.chars().any(|c| c.is_ascii_digit())
        && last
            .chars()
            .all(|c| c.is_ascii_digit() || ",.".contains(c) || c == NNBSP || c == '\u{00A0}');
    let day =
        last == "1er" || (number && last.parse::<u32>().is_ok_and(|day| (1..=31).contains(&day)));
    let month = is_one_of(MONTHS, next_word);
    let unit = UNITS.contains(&next_word) || is_one_of(MAGNITUDES, next_word);
    let title = TITLES.contains(&last);
    // « décembre / 2026 »: a date stays whole.
    let year = next_word.len() == 4 && next_word.chars().all(|c| c.is_ascii_digit());
    let month_year = is_one_of(MONTHS, last) && year;
    one_letter || opening || (day && month) || (number && unit) || title || month_year
}

/// Whether a line ending on `before` ends on an article, a preposition or a
/// conjunction (« des / outils », « Sur le site de / la CPTS »).
fn linking_end(before: &str, spaced: bool) -> bool {
    let last = before.rsplit(char::is_whitespace).next().unwrap_or("");
    spaced && is_one_of(LINKING, last)
}

/// Whether `word` in lower case is one of `list`, written in lower case;
/// a word in ASCII is compared without a lower-case copy.
fn is_one_of(list: &[&str], word: &str) -> bool {
    if word.is_ascii() {
        list.iter().any(|entry| entry.eq_ignore_ascii_case(word))
    } else {
        list.contains(&word.to_lowercase().as_str())
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
    /// The segment's text, trailing spaces excluded.
    text: std::ops::Range<usize>,
    /// A space follows: the segment ends a word (not a hyphen's break).
    ends_word: bool,
    /// Ending a line here breaks a rule (a one-letter word, a day and its
    /// month…): done only when nothing else fits.
    poor_break: bool,
    /// Ending a line here leaves a linking word at its end: a poor break
    /// in display text, avoided where it costs no line in running text.
    linking: bool,
}

/// Text prepared for fitting at any size: shaped once, cut at its break
/// opportunities.
#[derive(Debug)]
pub struct Paragraph {
    /// The blocks already fitted, by frame and steps: a kicker, a source or
    /// the brand's name recurs in the same box on many cards.
    fitted: std::sync::Mutex<Vec<Fitting>>,
    /// The characters of the text the font lacks.
    missing: Vec<char>,
    text: String,
    shaped: Shaped,
    segments: Vec<Segment>,
    /// Where words and paragraphs fall among the segments, for every size.
    words: Words,
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
            let trimmed = piece.trim_end();
            segments.push(Segment {
                glyphs: first..glyph,
                advance,
                trailing,
                mandatory: opportunity == BreakOpportunity::Mandatory && end < text.len(),
                text: start..start + trimmed.len(),
                ends_word: trimmed.len() < piece.len() || end == text.len(),
                poor_break: false,
                linking: false,
            });
            start = end;
        }
        for index in 1..segments.len() {
            let (before, after) = (&segments[index - 1], &segments[index]);
            let poor = !before.mandatory
                && poor_break(
                    &text[before.text.clone()],
                    &text[after.text.clone()],
                    before.ends_word,
                );
            let linking =
                !before.mandatory && linking_end(&text[before.text.clone()], before.ends_word);
            segments[index - 1].poor_break = poor;
            segments[index - 1].linking = linking;
        }
        let words = Words::of(&segments);
        Paragraph {
            fitted: std::sync::Mutex::default(),
            missing: face.missing_chars(text),
            text: text.to_owned(),
            shaped,
            segments,
            words,
            ascent: face.ascent,
            descent: face.descent,
        }
    }

    /// The characters of the text its font lacks.
    pub fn missing(&self) -> &[char] {
        &self.missing
    }

    /// Lays the text out at `size`, or says why it does not fit.
    pub fn layout(&self, size: f32, frame: &Frame) -> Result<Block, Overflow> {
        let lines = self.break_lines(size, frame)?.lines;
        Ok(self.block(size, frame, lines))
    }

    fn block(&self, size: f32, frame: &Frame, lines: Vec<std::ops::Range<usize>>) -> Block {
        let scale = size / self.shaped.upem.max(1.0);
        let line_height = size * frame.line_height;
        let (ascent, descent) = (self.ascent * scale, self.descent * scale);
        let baseline = (line_height - (ascent + descent)) / 2.0 + ascent;
        let lines = lines
            .into_iter()
            .map(|range| self.place(range, scale))
            .collect();
        Block {
            size,
            lines,
            line_height,
            baseline,
        }
    }

    /// The segments of each line at `size`, or why the text does not fit.
    fn break_lines(&self, size: f32, frame: &Frame) -> Result<Breaks, Overflow> {
        let scale = size / self.shaped.upem.max(1.0);
        for segment in &self.segments {
            let ink = (segment.advance - segment.trailing) * scale;
            if ink > frame.width + 0.01 {
                return Err(Overflow::Word {
                    word: self.text[segment.text.clone()].to_owned(),
                    by: ink - frame.width,
                });
            }
        }
        // Filling each line in turn gives the fewest lines.
        let greedy = self.greedy(scale, frame.width);
        if greedy.len() > frame.max_lines {
            return Err(Overflow::Lines {
                needed: greedy.len(),
                allowed: frame.max_lines,
            });
        }
        let line_height = size * frame.line_height;
        let height = line_height * greedy.len() as f32;
        if height > frame.height + 0.01 {
            return Err(Overflow::Height {
                by: height - frame.height,
            });
        }
        let room = ((frame.height + 0.01) / line_height).floor().max(1.0) as usize;
        let most = frame.max_lines.min(room).min(self.segments.len());
        if self.segments.len() > MAX_SEGMENTS_CHOSEN || most > MAX_LINES_CHOSEN {
            let poor = self.poor_lines(&greedy, scale, frame);
            return Ok(Breaks {
                lines: greedy,
                poor,
            });
        }
        Ok(self.choose(scale, frame, most).unwrap_or_else(|| {
            let poor = self.poor_lines(&greedy, scale, frame);
            Breaks {
                lines: greedy,
                poor,
            }
        }))
    }

    /// Lines filled in order, each as full as it goes.
    fn greedy(&self, scale: f32, width: f32) -> Vec<std::ops::Range<usize>> {
        let mut lines: Vec<std::ops::Range<usize>> = Vec::with_capacity(4);
        let mut current: Option<(usize, usize, f32)> = None; // first, last, width incl. trailing
        for (index, segment) in self.segments.iter().enumerate() {
            let ink = (segment.advance - segment.trailing) * scale;
            current = match current {
                Some((first, _, used)) if used + ink <= width + 0.01 => {
                    Some((first, index, used + segment.advance * scale))
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
        lines
    }

    /// How many rules the lines break.
    fn poor_lines(&self, lines: &[std::ops::Range<usize>], scale: f32, frame: &Frame) -> usize {
        let words = &self.words;
        let (width, running) = (frame.width, frame.running());
        lines
            .iter()
            .map(|line| {
                let segments = &self.segments[line.clone()];
                let advance: f32 = segments.iter().map(|s| s.advance).sum();
                let trailing = segments.last().map_or(0.0, |s| s.trailing);
                let full = (advance - trailing) * scale / width.max(1.0);
                self.line_faults((line.start, line.end), f64::from(full), words, running)
            })
            .sum()
    }

    /// The rules a line of segments `start..end`, `full` of its width,
    /// breaks, weighed: ending at a poor break (a day without its month…,
    /// or a linking word outside `running` text) counts twice, being less
    /// than half full once, unless it ends its paragraph; being a lone word
    /// ending a paragraph of five or more, once. A short line reads better
    /// than a broken phrase.
    fn line_faults(
        &self,
        (start, end): (usize, usize),
        full: f64,
        words: &Words,
        running: bool,
    ) -> usize {
        let last = &self.segments[end - 1];
        let paragraph_ends = last.mandatory || end == self.segments.len();
        if !paragraph_ends {
            let broken = last.poor_break || (last.linking && !running);
            return 2 * usize::from(broken) + usize::from(full < 0.5);
        }
        let first = words.paragraph[end - 1];
        let in_line = words.ended[end] - words.ended[start];
        let in_paragraph = words.ended[end] - words.ended[first];
        usize::from(start > first && in_line <= 1 && in_paragraph >= 5)
    }

    /// The lines, `most` at most, that break the fewest rules, then are the
    /// fewest, then fit `frame.wrap` best; `None` if there are none.
    fn choose(&self, scale: f32, frame: &Frame, most: usize) -> Option<Breaks> {
        let count = self.segments.len();
        let words = &self.words;
        let running = frame.running();
        let width = f64::from(frame.width);
        // Prefix sums of the advances, in pixels.
        let mut before = Vec::with_capacity(count + 1);
        let mut total = 0.0f64;
        before.push(0.0);
        for segment in &self.segments {
            total += f64::from(segment.advance * scale);
            before.push(total);
        }
        // best[k][j]: the best k lines holding segments 0..j, as (faults,
        // cost, where line k starts); one table, row by row.
        let unset = (usize::MAX, f64::INFINITY, 0);
        let mut table = vec![unset; (most + 1) * (count + 1)];
        let at = |lines: usize, end: usize| lines * (count + 1) + end;
        table[at(0, 0)] = (0, 0.0, 0);
        for end in 1..=count {
            let last = &self.segments[end - 1];
            let paragraph_ends = last.mandatory || end == count;
            for start in (0..end).rev() {
                if start < end - 1 && self.segments[start].mandatory {
                    break;
                }
                let ink = before[end] - before[start] - f64::from(last.trailing * scale);
                if ink > width + 0.01 {
                    break;
                }
                let slack = ((width - ink) / width.max(1.0)).max(0.0);
                let cost = match frame.wrap {
                    Wrap::Balance => slack * slack,
                    Wrap::Pretty if !paragraph_ends => slack * slack,
                    // A short last line costs a little.
                    Wrap::Pretty => (slack - 0.75).max(0.0).powi(2),
                };
                let faults = self.line_faults((start, end), 1.0 - slack, words, running);
                // In running text, a line ending on a linking word costs
                // more than any spacing: avoided wherever it costs no line.
                let cost = if running && last.linking && !paragraph_ends {
                    cost + 1.0
                } else {
                    cost
                };
                // Line k starts at segment k - 1 at the earliest.
                for lines in 1..=most.min(start + 1) {
                    let (previous_faults, previous_cost, _) = table[at(lines - 1, start)];
                    if previous_faults == usize::MAX {
                        continue;
                    }
                    let candidate = (previous_faults + faults, previous_cost + cost, start);
                    let current = table[at(lines, end)];
                    if (candidate.0, candidate.1) < (current.0, current.1) {
                        table[at(lines, end)] = candidate;
                    }
                }
            }
        }
        let lines = (1..=most)
            .filter(|&lines| table[at(lines, count)].0 != usize::MAX)
            .min_by(|&a, &b| {
                let (fa, ca, _) = table[at(a, count)];
                let (fb, cb, _) = table[at(b, count)];
                (fa, a).cmp(&(fb, b)).then(ca.total_cmp(&cb))
            })?;
        let poor = table[at(lines, count)].0;
        let mut ranges = Vec::with_capacity(lines);
        let mut end = count;
        for k in (1..=lines).rev() {
            let start = table[at(k, end)].2;
            ranges.push(start..end);
            end = start;
        }
        ranges.reverse();
        Some(Breaks {
            lines: ranges,
            poor,
        })
    }

    fn place(&self, segments: std::ops::Range<usize>, scale: f32) -> Line {
        let first = &self.segments[segments.start];
        let last = &self.segments[segments.end - 1];
        let mut x = 0.0;
        let shaped = &self.shaped.glyphs[first.glyphs.start..last.glyphs.end];
        let mut glyphs = Vec::with_capacity(shaped.len());
        for glyph in shaped {
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
            text: self.text[first.text.start..last.text.end].to_owned(),
        }
    }

    /// The largest size, in whole pixels between the frame's minimum and
    /// maximum, at which the text fits and its lines break no rule (or no
    /// more than they must at the minimum); else why it does not fit at the
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
        let at_min = self.break_lines(min as f32, frame)?;
        // The fewest faults any size gives, sampled every 8 pixels from
        // the largest down (a short line at the smallest size may be a
        // fault a larger one avoids): a smaller size rather than a bad
        // break.
        let mut fewest = at_min.poor;
        let mut sample = max;
        while fewest > 0 && sample > min {
            if let Ok(breaks) = self.break_lines(sample as f32, frame) {
                fewest = fewest.min(breaks.poor);
            }
            sample = sample.saturating_sub(8);
        }
        // Fitting is monotonic in practice: binary search over whole
        // pixels, placing the glyphs only at the size found: the largest
        // size whose lines break no more rules than the fewest (none, most
        // often).
        let fits = |size: u32| {
            self.break_lines(size as f32, frame)
                .is_ok_and(|breaks| breaks.poor <= fewest)
        };
        let (mut low, mut high) = (min, max);
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if fits(mid) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        let lines = if low == min {
            at_min.lines
        } else {
            self.break_lines(low as f32, frame)?.lines
        };
        Ok(self.block(low as f32, frame, lines))
    }

    /// [`Paragraph::fit_steps`], remembered: the same frame and steps give
    /// the same block.
    pub fn fit_remembered(&self, frame: &Frame, steps: &[f32]) -> Result<Block, Overflow> {
        /// Past this many frames, the paragraph's memo starts afresh.
        const MOST: usize = 16;
        let same = |fitting: &&Fitting| fitting.frame == *frame && fitting.steps == steps;
        if let Ok(fitted) = self.fitted.lock()
            && let Some(found) = fitted.iter().find(same)
        {
            return found.result.clone();
        }
        let result = self.fit_steps(frame, steps);
        if let Ok(mut fitted) = self.fitted.lock() {
            if fitted.len() >= MOST {
                fitted.clear();
            }
            fitted.push(Fitting {
                frame: *frame,
                steps: steps.to_vec(),
                result: result.clone(),
            });
        }
        result
    }

    /// The largest of `steps` (a type scale's, largest first) within the
    /// frame's sizes at which the text fits and its lines break no rule,
    /// or break the fewest; with no step there, any whole size
    /// ([`Paragraph::fit`]).
    pub fn fit_steps(&self, frame: &Frame, steps: &[f32]) -> Result<Block, Overflow> {
        let frame = &Frame {
            line_height: sane(frame.line_height, 1.2, LINE_HEIGHTS),
            ..*frame
        };
        let mut usable = steps
            .iter()
            .copied()
            .filter(|step| (frame.min_size..=frame.max_size).contains(step) && *step <= MAX_SIZE)
            .peekable();
        if usable.peek().is_none() {
            return self.fit(frame);
        }
        let mut best: Option<(usize, f32, Breaks)> = None;
        let mut last = None;
        for step in usable {
            match self.break_lines(step, frame) {
                Ok(breaks) if breaks.poor == 0 => {
                    return Ok(self.block(step, frame, breaks.lines));
                }
                Ok(breaks) => {
                    if best.as_ref().is_none_or(|(poor, ..)| breaks.poor < *poor) {
                        best = Some((breaks.poor, step, breaks));
                    }
                }
                Err(overflow) => last = Some(overflow),
            }
        }
        match (best, last) {
            (Some((_, step, breaks)), _) => Ok(self.block(step, frame, breaks.lines)),
            (None, Some(overflow)) => Err(overflow),
            (None, None) => self.fit(frame),
        }
    }

    /// The paragraph of `text` in `face`, shaped once per thread and kept:
    /// a card's texts recur across its formats, and kickers and footers
    /// across cards.
    pub fn cached(face: &FontFace, text: &str) -> Arc<Paragraph> {
        /// Past this many texts of a font, the font's cache starts afresh.
        const MOST: usize = 1024;
        let found = PARAGRAPHS.with(|cache| {
            let cache = cache.borrow();
            cache.get(&*face.name)?.get(text).cloned()
        });
        if let Some(found) = found {
            return found;
        }
        let paragraph = Arc::new(Paragraph::new(face, text));
        PARAGRAPHS.with(|cache| {
            let mut cache = cache.borrow_mut();
            let texts = match cache.get_mut(&*face.name) {
                Some(texts) => texts,
                None => cache.entry(face.name.to_string()).or_default(),
            };
            if texts.len() >= MOST {
                texts.clear();
            }
            texts.insert(text.to_owned(), paragraph.clone());
        });
        paragraph
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn face(file: &str) -> FontFace {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(file);
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
            wrap: Wrap::Pretty,
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

    /// The lines of `text` in `face` at `size` in a box `width` wide.
    fn lines(face: &FontFace, text: &str, size: f32, width: f32, wrap: Wrap) -> Vec<String> {
        let frame = Frame {
            wrap,
            ..frame(width, 10)
        };
        let block = Paragraph::new(face, text).layout(size, &frame).unwrap();
        block.lines.iter().map(|line| line.text.clone()).collect()
    }

    /// The lines greedy filling gives: what the rules are tested against.
    fn greedy(face: &FontFace, text: &str, size: f32, width: f32) -> Vec<String> {
        let paragraph = Paragraph::new(face, text);
        let scale = size / face.upem;
        paragraph
            .greedy(scale, width)
            .into_iter()
            .map(|range| paragraph.place(range, scale).text)
            .collect()
    }

    #[test]
    fn draws_a_narrow_no_break_space_an_eighth_of_an_em_wide() {
        // Lato's own U+202F is a quarter of an em, wider than its word
        // space: "240 008" read as two words.
        let lato = face("assets/fonts/Lato-Black.ttf");
        let shaped = lato.shape("240\u{202F}008 8");
        let narrow = shaped.glyphs[3].advance;
        let word = shaped.glyphs[7].advance;
        assert_eq!(narrow, lato.upem / 8.0);
        assert!(
            narrow < word * 0.6,
            "{narrow} against a word space of {word}"
        );
        // The same in a font that lacks it.
        let open_sans = face("tests/fixtures/fonts/OpenSans-Regular.ttf");
        assert_eq!(
            open_sans.shape("8\u{202F}%").glyphs[1].advance,
            open_sans.upem / 8.0
        );
    }

    #[test]
    fn a_paragraph_of_five_words_does_not_end_on_a_lone_word() {
        let face = inter();
        let text =
            "Téléconsultations réalisées en 2020 dans les Alpes-Maritimes (et non à Mulhouse).";
        let before = greedy(&face, text, 54.0, 920.0);
        assert_eq!(before.last().unwrap(), "Mulhouse).", "{before:?}");
        let after = lines(&face, text, 54.0, 920.0, Wrap::Pretty);
        assert_eq!(after.len(), before.len(), "{after:?}");
        assert!(after.last().unwrap().contains(' '), "{after:?}");
    }

    #[test]
    fn a_short_paragraph_may_end_on_one_word() {
        let face = face("assets/fonts/Lato-Black.ttf");
        let after = lines(&face, "Mon espace santé", 88.0, 680.0, Wrap::Balance);
        assert_eq!(after, ["Mon espace", "santé"]);
    }

    #[rstest::rstest]
    #[case::one_letter("On en parle à la réunion de la commission des outils", "à")]
    #[case::y("des données de santé, y compris aux patients du territoire", "y")]
    #[case::parenthesis("les Alpes-Maritimes fin 2020 (un chiffre de ce département", "(un")]
    #[case::day_and_month("Réunion de la commission le mardi 19 janvier 2027 en visio", "19")]
    #[case::number_and_unit("Une plateforme pour des profils: 65,4 millions de profils", "65,4")]
    #[case::title_and_name("Réunion de la commission avec Dr Martin et ses confrères", "Dr")]
    #[case::article("Voici la cartographie des outils numériques", "des")]
    #[case::preposition("Rendez-vous sur le site de la CPTS pour tout savoir du projet", "de")]
    #[case::month_and_year(
        "La prochaine réunion plénière aura lieu en janvier 2027 à Mulhouse",
        "janvier"
    )]
    fn does_not_end_a_line_on(#[case] text: &str, #[case] word: &str) {
        let face = inter();
        // The width at which filling lines in order ends the first line on
        // `word`.
        let prefix = &text[..text.find(&format!(" {word} ")).unwrap() + 1 + word.len()];
        let width = face.shape(prefix).advance() * 40.0 / face.upem + 1.0;
        let before = greedy(&face, text, 40.0, width);
        assert!(before[0].ends_with(word), "{before:?}");
        let after = lines(&face, text, 40.0, width, Wrap::Pretty);
        for line in &after[..after.len() - 1] {
            assert!(
                !line.ends_with(&format!(" {word}")) && *line != word,
                "{after:?}"
            );
        }
    }

    #[test]
    fn breaks_a_compound_at_its_hyphen_only_when_nothing_else_fits() {
        let face = inter();
        let text = "dossiers ouverts Alpes-Maritimes fin 2020";
        let width = face.shape("dossiers ouverts Alpes-").advance() * 40.0 / face.upem + 1.0;
        let before = greedy(&face, text, 40.0, width);
        assert_eq!(before[0], "dossiers ouverts Alpes-", "{before:?}");
        let after = lines(&face, text, 40.0, width, Wrap::Pretty);
        assert!(after.iter().all(|line| !line.ends_with('-')), "{after:?}");
        // Alone on too narrow a line, the compound breaks at its hyphen.
        let narrow = face.shape("Maritimes").advance() * 40.0 / face.upem + 1.0;
        let after = lines(&face, "Alpes-Maritimes", 40.0, narrow, Wrap::Pretty);
        assert_eq!(after, ["Alpes-", "Maritimes"]);
    }

    #[test]
    fn balances_the_lines_of_a_title() {
        let face = face("assets/fonts/Lato-Black.ttf");
        let text = "Téléconsultation assistée : nouvelles permanences infirmières hebdomadaires";
        let width = face
            .shape("Téléconsultation assistée : nouvelles permanences")
            .advance()
            * 60.0
            / face.upem
            + 1.0;
        let before = greedy(&face, text, 60.0, width);
        let after = lines(&face, text, 60.0, width, Wrap::Balance);
        assert_eq!(after.len(), before.len());
        let widths = |lines: &[String]| -> Vec<f32> {
            lines
                .iter()
                .map(|line| face.shape(line).advance())
                .collect()
        };
        let spread = |widths: Vec<f32>| {
            widths.iter().cloned().fold(0.0, f32::max)
                - widths.iter().cloned().fold(f32::MAX, f32::min)
        };
        assert!(
            spread(widths(&after)) < spread(widths(&before)) / 2.0,
            "{before:?} then {after:?}"
        );
    }

    #[test]
    fn shrinks_a_text_rather_than_break_a_rule() {
        // At 60 px the date only fits as "Mardi 19 / janvier 2027".
        let face = face("assets/fonts/Lato-Bold.ttf");
        let text = "Mardi 19 janvier 2027";
        let width = face.shape("Mardi 19 janvier").advance() * 50.0 / face.upem + 1.0;
        let frame = Frame {
            min_size: 30.0,
            max_size: 60.0,
            max_lines: 2,
            ..frame(width, 2)
        };
        let block = Paragraph::new(&face, text).fit(&frame).unwrap();
        let first = &block.lines[0].text;
        assert!(!first.ends_with("19"), "{first} at {}", block.size);
        assert!(block.size < 60.0);
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
                wrap: Wrap::Balance,
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
            balance in any::<bool>(),
        ) {
            let wrap = if balance { Wrap::Balance } else { Wrap::Pretty };
            let face = lato();
            let text = words.join(" ");
            let frame = Frame { width, height: 2000.0, min_size: 12.0, max_size: 120.0, max_lines, line_height: 1.2, wrap };
            if let Ok(block) = Paragraph::new(&face, &text).fit(&frame) {
                prop_assert!(block.lines.len() <= max_lines);
                for line in block.lines.iter() {
                    prop_assert!(line.width <= width + 0.01, "{} > {}", line.width, width);
                }
                prop_assert!(block.height() <= frame.height + 0.01);
            }
        }
    }
}

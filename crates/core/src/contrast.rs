//! Whether the text drawn on a card can be read by everyone: the contrast
//! ratio of WCAG 2 (success criterion 1.4.3), which the French RGAA (3.2)
//! applies to text inside images.
//!
//! For each text of a laid-out card, the layers beneath it are drawn and
//! the pixels under the text's box compared with the text's colour: over a
//! flat fill every pixel gives the same ratio; over a picture or a gradient
//! the worst tenth of the pixels counts. The text must reach 4.5:1, or 3:1
//! when it is large (a size of at least 1/15 of the card's width, 1/19 when
//! bold: WCAG's 24 px and 18.5 px bold on a card seen about 360 px wide).
//! Pure: the card is drawn in memory.

use rustc_hash::FxHashMap;
use std::sync::Mutex;

use crate::render::layout::{Card, Color, Fill, Op};
use crate::template::Rect;

/// The ratio normal text must reach.
pub const NORMAL: f64 = 4.5;
/// The ratio large text must reach.
pub const LARGE: f64 = 3.0;

/// Each 8-bit sRGB channel value, linearised once.
static LINEAR: std::sync::LazyLock<[f64; 256]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|c| {
        let c = c as f64 / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    })
});

/// WCAG's relative luminance of an sRGB colour.
pub fn luminance(color: [u8; 3]) -> f64 {
    let linear = &*LINEAR;
    0.2126 * linear[color[0] as usize]
        + 0.7152 * linear[color[1] as usize]
        + 0.0722 * linear[color[2] as usize]
}

/// WCAG's contrast ratio of two colours, from 1 to 21.
pub fn ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The ratio a text must reach: 3:1 when large, 4.5:1 otherwise.
pub fn required(size: f32, card_width: u32, bold: bool) -> f64 {
    let width = card_width as f32;
    let large = size >= width / 15.0 || (bold && size >= width / 19.0);
    if large { LARGE } else { NORMAL }
}

/// A ratio as French readers write it: `4,5:1`. Rounded down, so that a
/// ratio shown as passing does pass.
pub fn format(ratio: f64) -> String {
    let tenths = (ratio * 10.0).floor() / 10.0;
    format!("{tenths:.1}:1").replace('.', ",")
}

/// `#RRGGBB`.
pub fn hex(color: [u8; 3]) -> String {
    format!("#{:02X}{:02X}{:02X}", color[0], color[1], color[2])
}

/// The colour of the same hue and saturation as `color`, lighter or
/// darker, nearest to it, that reaches `required` against `background`.
pub fn nearest_passing(color: [u8; 3], background: [u8; 3], required: f64) -> [u8; 3] {
    let (h, s, l) = to_hsl(color);
    let passes = |l: f64| ratio(from_hsl(h, s, l), background) >= required;
    let mut best: Option<f64> = None;
    for step in 0..=1000 {
        let delta = f64::from(step) / 1000.0;
        for candidate in [l - delta, l + delta] {
            if (0.0..=1.0).contains(&candidate) && passes(candidate) {
                best = Some(candidate);
                break;
            }
        }
        if best.is_some() {
            break;
        }
    }
    from_hsl(
        h,
        s,
        best.unwrap_or(if luminance(background) > 0.18 {
            0.0
        } else {
            1.0
        }),
    )
}

/// Hue (a fraction of a turn), saturation and lightness.
pub fn to_hsl([r, g, b]: [u8; 3]) -> (f64, f64, f64) {
    let (r, g, b) = (
        f64::from(r) / 255.0,
        f64::from(g) / 255.0,
        f64::from(b) / 255.0,
    );
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let l = (max + min) / 2.0;
    if (max - min).abs() < f64::EPSILON {
        return (0.0, 0.0, l);
    }
    let d = max - min;
    let s = if l > 0.5 {
        d / (2.0 - max - min)
    } else {
        d / (max + min)
    };
    let h = if max == r {
        (g - b) / d + if g < b { 6.0 } else { 0.0 }
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    } / 6.0;
    (h, s, l)
}

/// The sRGB colour of a hue (a fraction of a turn), saturation and
/// lightness.
pub fn from_hsl(h: f64, s: f64, l: f64) -> [u8; 3] {
    let byte = |v: f64| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    if s == 0.0 {
        return [byte(l); 3];
    }
    let q = if l < 0.5 {
        l * (1.0 + s)
    } else {
        l + s - l * s
    };
    let p = 2.0 * l - q;
    let hue = |mut t: f64| {
        if t < 0.0 {
            t += 1.0;
        }
        if t > 1.0 {
            t -= 1.0;
        }
        if t < 1.0 / 6.0 {
            p + (q - p) * 6.0 * t
        } else if t < 0.5 {
            q
        } else if t < 2.0 / 3.0 {
            p + (q - p) * (2.0 / 3.0 - t) * 6.0
        } else {
            p
        }
    };
    [
        byte(hue(h + 1.0 / 3.0)),
        byte(hue(h)),
        byte(hue(h - 1.0 / 3.0)),
    ]
}

/// How one text of a card reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The index of the text's operation in the card.
    pub op: usize,
    pub text: [u8; 3],
    /// The background colour of the worst tenth of the pixels under it.
    pub background: [u8; 3],
    pub ratio: f64,
    pub required: f64,
    pub size: f32,
}

impl Reading {
    pub fn passes(&self) -> bool {
        self.ratio >= self.required
    }
}

/// What a background is drawn from: the card's size, then each fill and
/// image beneath a text, as the bits of their numbers (no formatting, and
/// no float hashed as a float).
type Beneath = Vec<u32>;

/// A reading's identity: its background's number, its box on it, its
/// colour.
type Memo = (usize, [usize; 4], Color);

/// Remembers the backgrounds already drawn: the cards of one template
/// share most of them, and drawing is the costly part.
#[derive(Debug, Default)]
pub struct Cache {
    /// Each background drawn, with its number.
    drawn: Mutex<FxHashMap<Beneath, (usize, std::sync::Arc<Background>)>>,
    /// Readings already made: background, scaled box and colour.
    read: Mutex<FxHashMap<Memo, ([u8; 3], f64)>>,
}

/// What lies beneath some text, drawn small.
#[derive(Debug)]
struct Background {
    width: usize,
    height: usize,
    /// Straight RGBA.
    rgba: Vec<u8>,
}

/// Backgrounds are drawn at this fraction of the card's size: colours are
/// what matters, not edges, and a sixth of the pixels is plenty to find
/// the worst tenth under a text.
const SCALE: f32 = 1.0 / 6.0;

/// How every text of `card` reads.
pub fn measure(card: &Card, cache: &Cache) -> Vec<Reading> {
    let mut readings = Vec::with_capacity(card.fields.len());
    // Made once for all the card's texts.
    let mut under: Vec<&Op> = Vec::with_capacity(card.ops.len());
    let mut below: Beneath = Vec::with_capacity(2 + 12 * card.ops.len());
    for (index, op) in card.ops.iter().enumerate() {
        let Op::Text {
            face,
            block,
            origins,
            color,
        } = op
        else {
            continue;
        };
        let Some(area) = text_box(block, origins, card) else {
            continue;
        };
        // Only what lies under the text (and a small pixel around) colours
        // its background: cards whose other parts differ share it.
        let reach = [
            area[0] - REACH,
            area[1] - REACH,
            area[2] + REACH,
            area[3] + REACH,
        ];
        under.clear();
        under.extend(card.ops[..index].iter().filter(|op| overlaps(op, reach)));
        below.clear();
        below.extend([card.width, card.height]);
        for op in &under {
            describe(op, &mut below);
        }
        let (number, background) = beneath(card, &under, &below, cache);
        let cell = scaled(&background, &area);
        let memo = (number, cell, *color);
        let known = cache.read.lock().ok().and_then(|r| r.get(&memo).copied());
        let (under, ratio) = known.unwrap_or_else(|| {
            let found = worst_tenth(&background, cell, *color);
            if let Ok(mut read) = cache.read.lock() {
                read.insert(memo, found);
            }
            found
        });
        readings.push(Reading {
            op: index,
            text: [color[0], color[1], color[2]],
            background: under,
            ratio,
            required: required(block.size, card.width, face.is_wcag_bold()),
            size: block.size,
        });
    }
    readings
}

/// The pixel box a text covers, clipped to the card: x0, y0, x1, y1.
fn text_box(
    block: &crate::typography::Block,
    origins: &[(f32, f32)],
    card: &Card,
) -> Option<[f32; 4]> {
    let mut area = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    for (line, (x, y)) in block.lines.iter().zip(origins) {
        let top = y - block.baseline;
        area[0] = area[0].min(*x);
        area[1] = area[1].min(top);
        area[2] = area[2].max(x + line.width);
        area[3] = area[3].max(top + block.line_height);
    }
    let area = [
        area[0].clamp(0.0, card.width as f32),
        area[1].clamp(0.0, card.height as f32),
        area[2].clamp(0.0, card.width as f32),
        area[3].clamp(0.0, card.height as f32),
    ];
    (area[2] > area[0] && area[3] > area[1]).then_some(area)
}

/// How far around a text, in the card's pixels, what is drawn may still
/// reach its background's pixels: two of them.
const REACH: f32 = 2.0 / SCALE;

/// Whether a fill or an image reaches into `area` (x0, y0, x1, y1).
fn overlaps(op: &Op, area: [f32; 4]) -> bool {
    let rect = match op {
        Op::Fill { rect: None, .. } => return true,
        Op::Fill {
            rect: Some(rect), ..
        }
        | Op::Image { rect, .. } => rect,
        Op::Text { .. } => return false,
    };
    rect.x < area[2]
        && rect.x + rect.width > area[0]
        && rect.y < area[3]
        && rect.y + rect.height > area[1]
}

/// Adds a fill or an image to what a background is drawn from.
fn describe(op: &Op, below: &mut Beneath) {
    let rect = |r: &Rect, below: &mut Beneath| {
        below.extend([r.x, r.y, r.width, r.height].map(f32::to_bits));
    };
    let color = |c: &Color| u32::from_le_bytes(*c);
    match op {
        Op::Fill {
            rect: area,
            paint,
            radius,
        } => {
            below.push(1);
            match area {
                Some(area) => rect(area, below),
                None => below.push(0),
            }
            match paint {
                Fill::Solid(c) => below.extend([0, color(c)]),
                Fill::Gradient { from, to, angle } => {
                    below.extend([1, color(from), color(to), angle.to_bits()]);
                }
            }
            below.push(radius.to_bits());
        }
        Op::Image {
            image,
            rect: area,
            fit,
        } => {
            let address = std::sync::Arc::as_ptr(image) as usize as u64;
            below.extend([2, address as u32, (address >> 32) as u32, *fit as u32]);
            rect(area, below);
        }
        Op::Text { .. } => {}
    }
}

/// The fills and images drawn before the text and under it, scaled down,
/// drawn once per distinct background; with the background's number.
fn beneath(
    card: &Card,
    under: &[&Op],
    below: &Beneath,
    cache: &Cache,
) -> (usize, std::sync::Arc<Background>) {
    if let Some(found) = cache.drawn.lock().ok().and_then(|d| d.get(below).cloned()) {
        return found;
    }
    let scale = |r: Rect| Rect {
        x: r.x * SCALE,
        y: r.y * SCALE,
        width: r.width * SCALE,
        height: r.height * SCALE,
    };
    let ops: Vec<Op> = under
        .iter()
        .filter_map(|op| match op {
            Op::Fill {
                rect,
                paint,
                radius,
            } => Some(Op::Fill {
                rect: rect.map(scale),
                paint: *paint,
                radius: radius * SCALE,
            }),
            Op::Image { image, rect, fit } => Some(Op::Image {
                image: image.clone(),
                rect: scale(*rect),
                fit: *fit,
            }),
            Op::Text { .. } => None,
        })
        .collect();
    let width = ((card.width as f32 * SCALE).ceil() as u32).max(1);
    let height = ((card.height as f32 * SCALE).ceil() as u32).max(1);
    let small = Card {
        width,
        height,
        ops,
        sources: Vec::new(),
        fields: Vec::new(),
        scaled: Vec::new(),
    };
    let drawn = std::sync::Arc::new(Background {
        width: width as usize,
        height: height as usize,
        rgba: crate::render::draw(&small).into_rgba(),
    });
    let Ok(mut cached) = cache.drawn.lock() else {
        return (usize::MAX, drawn);
    };
    let number = cached.len();
    let entry = cached
        .entry(below.clone())
        .or_insert_with(|| (number, drawn));
    entry.clone()
}

/// A text's box on the small background: x0, y0, x1, y1 in its pixels.
fn scaled(background: &Background, area: &[f32; 4]) -> [usize; 4] {
    let x0 = ((area[0] * SCALE).floor() as usize).min(background.width - 1);
    let y0 = ((area[1] * SCALE).floor() as usize).min(background.height - 1);
    let x1 = ((area[2] * SCALE).ceil() as usize).clamp(x0 + 1, background.width);
    let y1 = ((area[3] * SCALE).ceil() as usize).clamp(y0 + 1, background.height);
    [x0, y0, x1, y1]
}

/// The background of the worst tenth of the pixels under a text, with the
/// ratio there: the pixel that sorting them by ratio, in a stable sort,
/// puts a tenth of the way along. A text over flat fills sees a few
/// colours, row after row: each ratio is worked out once per run of equal
/// pixels and the pixels of each ratio counted, not sorted; over many
/// colours (a picture), they are sorted.
fn worst_tenth(background: &Background, cell: [usize; 4], color: Color) -> ([u8; 3], f64) {
    let read = Reader::new(background, cell, color);
    // Each ratio met, in the order first met, and how many pixels have it.
    let mut counts: Vec<(f64, usize)> = Vec::with_capacity(FEW);
    let mut last: Option<([u8; 3], usize)> = None;
    let mut total = 0;
    for under in read.pixels() {
        total += 1;
        let group = match last {
            Some((seen, group)) if seen == under => group,
            _ => {
                let ratio = read.ratio(under);
                let group = match counts.iter().position(|(r, _)| r.total_cmp(&ratio).is_eq()) {
                    Some(group) => group,
                    None if counts.len() == FEW => return worst_tenth_sorted(&read),
                    None => {
                        counts.push((ratio, 0));
                        counts.len() - 1
                    }
                };
                last = Some((under, group));
                group
            }
        };
        counts[group].1 += 1;
    }
    let tenth = total / 10;
    counts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut before = 0;
    for (ratio, count) in counts {
        if tenth < before + count {
            // The pixels of one ratio keep their order in a stable sort.
            let under = read
                .scored()
                .filter(|(_, r)| r.total_cmp(&ratio).is_eq())
                .nth(tenth - before)
                .map_or([255; 3], |(under, _)| under);
            return (under, ratio);
        }
        before += count;
    }
    ([255; 3], 21.0)
}

/// How many ratios [`worst_tenth`] counts before it sorts instead.
const FEW: usize = 16;

/// [`worst_tenth`] by sorting every pixel.
fn worst_tenth_sorted(read: &Reader<'_>) -> ([u8; 3], f64) {
    let mut scored: Vec<(f64, [u8; 3])> = read.scored().map(|(under, r)| (r, under)).collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let worst = scored
        .get(scored.len() / 10)
        .copied()
        .unwrap_or((21.0, [255; 3]));
    (worst.1, worst.0)
}

/// The pixels of a text's box on its background, and their ratio with
/// the text's colour.
struct Reader<'b> {
    background: &'b Background,
    cell: [usize; 4],
    color: Color,
}

impl<'b> Reader<'b> {
    fn new(background: &'b Background, cell: [usize; 4], color: Color) -> Self {
        Reader {
            background,
            cell,
            color,
        }
    }

    /// Each pixel's colour, row by row; transparent corners read as white
    /// paper.
    fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        let [x0, y0, x1, y1] = self.cell;
        (y0..y1).flat_map(move |y| {
            let row = y * self.background.width;
            self.background.rgba[(row + x0) * 4..(row + x1) * 4]
                .chunks_exact(4)
                .map(|p| {
                    if p[3] == 255 {
                        return [p[0], p[1], p[2]];
                    }
                    let over = |c: u8| {
                        let a = u16::from(p[3]);
                        ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8
                    };
                    [over(p[0]), over(p[1]), over(p[2])]
                })
        })
    }

    /// Each pixel's colour and its ratio, row by row, the ratio worked out
    /// once per run of equal pixels.
    fn scored(&self) -> impl Iterator<Item = ([u8; 3], f64)> + '_ {
        let mut last: Option<([u8; 3], f64)> = None;
        self.pixels().map(move |under| match last {
            Some((seen, ratio)) if seen == under => (under, ratio),
            _ => {
                let ratio = self.ratio(under);
                last = Some((under, ratio));
                (under, ratio)
            }
        })
    }

    /// The ratio of the text's colour, blended over `under` when it is
    /// translucent, with `under`.
    fn ratio(&self, under: [u8; 3]) -> f64 {
        let color = self.color;
        let text = if color[3] == 255 {
            [color[0], color[1], color[2]]
        } else {
            let a = f64::from(color[3]) / 255.0;
            let mix = |t: u8, b: u8| (f64::from(t) * a + f64::from(b) * (1.0 - a)).round() as u8;
            [
                mix(color[0], under[0]),
                mix(color[1], under[1]),
                mix(color[2], under[2]),
            ]
        };
        ratio(text, under)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_pairs() {
        let white = [255, 255, 255];
        assert!((ratio([0, 0, 0], white) - 21.0).abs() < 1e-9);
        assert_eq!(format(ratio([0x76; 3], white)), "4,5:1");
        assert!(ratio([0x76; 3], white) >= 4.54 && ratio([0x76; 3], white) < 4.55);
        assert!(ratio([0x77; 3], white) >= 4.47 && ratio([0x77; 3], white) < 4.49);
        assert_eq!(format(ratio([0x77; 3], white)), "4,4:1");
    }

    proptest::proptest! {
        /// Counting the pixels of each ratio finds the pixel sorting them
        /// does, over few colours and over many.
        #[test]
        fn the_worst_tenth_counted_is_the_worst_tenth_sorted(
            width in 1usize..24,
            height in 1usize..12,
            palette in proptest::collection::vec(proptest::prelude::any::<[u8; 4]>(), 1..40),
            picks in proptest::collection::vec(0usize..40, 288),
            text in proptest::prelude::any::<[u8; 4]>(),
            cell in proptest::prelude::any::<[usize; 4]>(),
        ) {
            let rgba = picks[..width * height]
                .iter()
                .flat_map(|pick| palette[pick % palette.len()])
                .collect();
            let background = Background { width, height, rgba };
            let x0 = cell[0] % width;
            let y0 = cell[1] % height;
            let cell = [x0, y0, x0 + 1 + cell[2] % (width - x0), y0 + 1 + cell[3] % (height - y0)];
            let sorted = worst_tenth_sorted(&Reader::new(&background, cell, text));
            proptest::prop_assert_eq!(worst_tenth(&background, cell, text), sorted);
        }
    }

    #[test]
    fn large_text_needs_three_to_one() {
        assert_eq!(required(72.0, 1080, false), LARGE);
        assert_eq!(required(71.0, 1080, false), NORMAL);
        assert_eq!(required(57.0, 1080, true), LARGE);
        assert_eq!(required(56.0, 1080, true), NORMAL);
    }

    #[test]
    fn the_nearest_passing_colour_keeps_its_hue() {
        let orange = [0xE4, 0x63, 0x2D];
        let white = [255, 255, 255];
        let fixed = nearest_passing(orange, white, NORMAL);
        assert!(ratio(fixed, white) >= NORMAL);
        let (h1, _, _) = to_hsl(orange);
        let (h2, _, _) = to_hsl(fixed);
        assert!((h1 - h2).abs() < 0.01, "{h1} {h2}");
        // A passing colour is its own nearest.
        assert_eq!(nearest_passing([0, 0, 0], white, NORMAL), [0, 0, 0]);
    }
}

//! The pixels: a canvas and the few operations cards are made of.
//!
//! The canvas holds premultiplied RGBA, so every operation composites with
//! the one source-over formula, `out = src + dst × (1 − src_alpha)`, and
//! images are resampled premultiplied (no dark fringes at transparent
//! edges). Shapes and glyph outlines are turned into coverage by the
//! ab_glyph rasterizer; glyph outlines come from skrifa, unhinted, at their
//! exact fractional positions. Integer arithmetic with fixed rounding keeps
//! the output identical from run to run.

use std::collections::HashMap;
use std::sync::Arc;

use ab_glyph_rasterizer::{Point, Rasterizer, point};
use rustc_hash::FxHashMap;
use skrifa::{DrawMemory, GlyphId, PathSink, ScalerFont};

use super::layout::{Color, Fill};
use super::picture::{Picture, div255, premultiply};
use crate::template::{Fit, Rect};
use crate::typography::{Block, FontFace};
use image::RgbaImage;

/// A drawing surface: premultiplied RGBA, or RGB when its background is
/// opaque (source-over keeps an opaque canvas opaque, so its alpha would
/// only be 255s to carry around and strip before encoding).
pub struct Canvas {
    width: u32,
    height: u32,
    /// 3 (opaque, RGB) or 4 (premultiplied RGBA).
    channels: usize,
    bytes: Vec<u8>,
}

thread_local! {
    /// Buffers of finished canvases, reused by the next ones: a fresh 4 MB
    /// allocation costs more in page faults than drawing a card.
    static BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

thread_local! {
    /// Whole-canvas gradients, by size and colours, most recent first.
    static BACKGROUNDS: std::cell::RefCell<Vec<(BackgroundKey, Arc<[u8]>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A canvas's size and the colours and angle of its gradient.
type BackgroundKey = (u32, u32, [u32; 3]);

fn background_key(width: u32, height: u32, fill: Fill) -> BackgroundKey {
    let colors = match fill {
        Fill::Solid(color) => [u32::from_le_bytes(color), 0, 0],
        Fill::Gradient { from, to, angle } => [
            u32::from_le_bytes(from),
            u32::from_le_bytes(to),
            angle.to_bits(),
        ],
    };
    (width, height, colors)
}

thread_local! {
    /// One rasterizer per thread, its buffer reused from shape to shape.
    static RASTERIZER: std::cell::RefCell<Rasterizer> =
        std::cell::RefCell::new(Rasterizer::new(0, 0));
    /// Glyph coverage by font, then by glyph, size and sub-pixel offset.
    static MASKS: std::cell::RefCell<FxHashMap<Arc<str>, FaceMasks>> =
        std::cell::RefCell::new(FxHashMap::default());
}

impl Drop for Canvas {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        if bytes.capacity() > 0 {
            BUFFERS.with(|buffers| {
                let mut buffers = buffers.borrow_mut();
                if buffers.len() < 2 {
                    buffers.push(bytes);
                }
            });
        }
    }
}

impl Canvas {
    /// A transparent canvas.
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas::filled(width, height, [0; 4])
    }

    /// A canvas filled with one straight-alpha colour.
    pub fn filled(width: u32, height: u32, color: Color) -> Canvas {
        let channels = if color[3] == 255 { 3 } else { 4 };
        let pixel = premultiply(color);
        let length = width as usize * height as usize * channels;
        let mut bytes = BUFFERS
            .with(|buffers| buffers.borrow_mut().pop())
            .unwrap_or_default();
        bytes.clear();
        let uniform = pixel[..channels].iter().all(|&c| c == pixel[0]);
        let row = width as usize * channels;
        if uniform || row == 0 {
            bytes.resize(length, pixel[0]);
        } else {
            // One row of the colour, then copies of it: a single pass.
            bytes.reserve(length);
            for _ in 0..width {
                bytes.extend_from_slice(&pixel[..channels]);
            }
            for _ in 1..height {
                bytes.extend_from_within(..row);
            }
            bytes.truncate(length);
        }
        Canvas {
            width,
            height,
            channels,
            bytes,
        }
    }

    /// An opaque canvas painted all over with `fill`, a gradient of
    /// opaque colours: copied from the last canvases painted so on this
    /// thread, as the cards of a template share their background.
    pub fn painted(width: u32, height: u32, fill: Fill) -> Canvas {
        /// Backgrounds kept by a thread: those of a template's formats.
        const KEPT: usize = 3;
        let key = background_key(width, height, fill);
        let mut bytes = BUFFERS
            .with(|buffers| buffers.borrow_mut().pop())
            .unwrap_or_default();
        bytes.clear();
        let found = BACKGROUNDS.with(|kept| {
            let kept = kept.borrow();
            let (_, pixels) = kept.iter().find(|(k, _)| *k == key)?;
            bytes.extend_from_slice(pixels);
            Some(())
        });
        let mut canvas = Canvas {
            width,
            height,
            channels: 3,
            bytes,
        };
        if found.is_none() {
            canvas.bytes.resize(width as usize * height as usize * 3, 0);
            canvas.draw_in_bands(|band| band.fill(None, fill, 0.0));
            let pixels: Arc<[u8]> = canvas.bytes.as_slice().into();
            BACKGROUNDS.with(|kept| {
                let mut kept = kept.borrow_mut();
                kept.insert(0, (key, pixels));
                kept.truncate(KEPT);
            });
        }
        canvas
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Whether the canvas is opaque, its bytes then RGB.
    pub fn is_opaque(&self) -> bool {
        self.channels == 3
    }

    /// The RGB bytes of an opaque canvas, as PNG takes them.
    pub fn rgb(&self) -> Option<&[u8]> {
        self.is_opaque().then_some(self.bytes.as_slice())
    }

    /// The picture, straight alpha.
    pub fn into_image(self) -> RgbaImage {
        let (width, height) = (self.width, self.height);
        let bytes = self.into_rgba();
        RgbaImage::from_raw(width, height, bytes).expect("the size matches the pixels")
    }

    /// The pixels as straight-alpha RGBA bytes.
    pub fn into_rgba(self) -> Vec<u8> {
        let mut bytes = vec![0; self.width as usize * self.height as usize * 4];
        let out = bytes.as_chunks_mut::<4>().0;
        // One loop per kind of canvas, each a plain pass over its pixels.
        if self.channels == 3 {
            for (out, &[r, g, b]) in out.iter_mut().zip(self.bytes.as_chunks::<3>().0) {
                *out = [r, g, b, 255];
            }
        } else {
            for (out, &pixel) in out.iter_mut().zip(self.bytes.as_chunks::<4>().0) {
                *out = unpremultiply(pixel);
            }
        }
        bytes
    }

    /// Fills the whole canvas, or a rectangle with rounded corners.
    pub fn fill(&mut self, rect: Option<Rect>, fill: Fill, radius: f32) {
        self.band().fill(rect, fill, radius);
    }

    /// Draws an image into `rect`: see [`Band::draw_image`].
    pub fn draw_image(&mut self, picture: &Picture, rect: Rect, fit: Fit) {
        self.band().draw_image(picture, rect, fit);
    }

    /// The whole canvas as one band.
    fn band(&mut self) -> Band<'_> {
        Band {
            bytes: &mut self.bytes,
            channels: self.channels,
            width: self.width,
            height: self.height,
            top: 0,
        }
    }

    /// Runs `draw` on every band of the canvas: a large canvas's two
    /// halves on two threads, each drawing every operation on its own
    /// rows. A pixel sees the same operations in the same order either
    /// way, so the picture does not depend on the threads.
    pub fn draw_in_bands(&mut self, draw: impl Fn(&mut Band<'_>) + Sync) {
        let row = self.width as usize * self.channels;
        if self.bytes.len() < SPLIT_BYTES || self.height < 2 || row == 0 {
            draw(&mut self.band());
            return;
        }
        let middle = self.height as usize / 2;
        let (upper, lower) = self.bytes.split_at_mut(middle * row);
        let band = |bytes, top| Band {
            bytes,
            channels: self.channels,
            width: self.width,
            height: self.height,
            top,
        };
        let (mut upper, mut lower) = (band(upper, 0), band(lower, middle));
        rayon::join(|| draw(&mut upper), || draw(&mut lower));
    }
}

impl<'a> Band<'a> {
    /// Rows of an opaque canvas `width` by `height`, from row `top` on,
    /// as RGB bytes: `base` painted all over them, ready to draw on.
    pub(super) fn painted(
        bytes: &'a mut [u8],
        (width, height): (u32, u32),
        top: usize,
        base: Fill,
    ) -> Band<'a> {
        let mut band = Band {
            bytes,
            channels: 3,
            width,
            height,
            top,
        };
        let Fill::Gradient { .. } = base else {
            band.fill(None, base, 0.0);
            return band;
        };
        // A gradient is copied from the thread's kept backgrounds, as
        // [`Canvas::painted`] paints them, rather than worked out again.
        let row = width as usize * 3;
        let key = background_key(width, height, base);
        let copied = BACKGROUNDS.with(|kept| {
            let kept = kept.borrow();
            let (_, pixels) = kept.iter().find(|(k, _)| *k == key)?;
            let from = top * row;
            band.bytes
                .copy_from_slice(pixels.get(from..from + band.bytes.len())?);
            Some(())
        });
        if copied.is_none() {
            // Painted once, and kept for the next strips.
            let canvas = Canvas::painted(width, height, base);
            let from = top * row;
            match canvas.bytes.get(from..from + band.bytes.len()) {
                Some(rows) => band.bytes.copy_from_slice(rows),
                None => band.fill(None, base, 0.0),
            }
        }
        band
    }
}

/// Canvases of fewer bytes than this are drawn in one piece: a second
/// thread would gain less than it costs to start.
const SPLIT_BYTES: usize = 1 << 18;

/// Rows of a canvas, from row `top` on: what drawing writes to. The
/// coordinates drawn at are the whole canvas's; what falls outside the
/// band's rows is left to the other band.
pub struct Band<'a> {
    bytes: &'a mut [u8],
    channels: usize,
    width: u32,
    height: u32,
    top: usize,
}

impl Band<'_> {
    /// Runs `draw` on the pixels as `[u8; 3]` or `[u8; 4]`, so that the hot
    /// loops are compiled for a fixed number of channels.
    fn with_pixels(&mut self, draw: impl PixelsFn) {
        match self.channels {
            3 => draw.call(
                self.bytes.as_chunks_mut::<3>().0,
                self.width as usize,
                self.top,
            ),
            _ => draw.call(
                self.bytes.as_chunks_mut::<4>().0,
                self.width as usize,
                self.top,
            ),
        }
    }

    /// Fills the whole canvas, or a rectangle with rounded corners.
    pub fn fill(&mut self, rect: Option<Rect>, fill: Fill, radius: f32) {
        let area = rect.unwrap_or(Rect {
            x: 0.0,
            y: 0.0,
            width: self.width as f32,
            height: self.height as f32,
        });
        let shader = Shader::new(fill, area);
        let aligned = area.x.fract() == 0.0
            && area.y.fract() == 0.0
            && area.width.fract() == 0.0
            && area.height.fract() == 0.0;
        if radius <= 0.0 && aligned {
            // Whole pixels: full coverage, no rasterizer needed.
            let x0 = area.x as usize;
            let y0 = area.y as usize;
            let x1 = ((area.x + area.width) as usize).min(self.width as usize);
            let y1 = ((area.y + area.height) as usize).min(self.height as usize);
            self.with_pixels(FillArea {
                x0,
                y0,
                x1,
                y1,
                shader: &shader,
            });
            return;
        }
        let mut path = Path::default();
        path.rounded_rect(area, radius);
        let solid = match fill {
            Fill::Solid(color) => Some((color, sources(color))),
            Fill::Gradient { .. } => None,
        };
        match shape_mask(&path, (area, radius), (self.width, self.height)) {
            Some(mask) => self.with_pixels(Stamp {
                mask: &mask,
                x: mask.left,
                y: mask.top,
                paint: match &solid {
                    Some((color, sources)) => Paint::Solid(*color, sources),
                    None => Paint::Shaded(&shader),
                },
            }),
            None => self.fill_path(&path, |x, y| shader.at(x, y)),
        }
    }

    /// Draws an image into `rect`, scaled to fit it whole (`contain`,
    /// centred) or to fill it (`cover`, cropped around the centre).
    pub fn draw_image(&mut self, picture: &Picture, rect: Rect, fit: Fit) {
        let (source_width, source_height) =
            (picture.dimensions().0 as f32, picture.dimensions().1 as f32);
        if source_width == 0.0 || source_height == 0.0 {
            return;
        }
        let scale = match fit {
            Fit::Contain => (rect.width / source_width).min(rect.height / source_height),
            Fit::Cover => (rect.width / source_width).max(rect.height / source_height),
        };
        let mut crop = (0, 0, picture.dimensions().0, picture.dimensions().1);
        let mut width = (source_width * scale).round().max(1.0) as u32;
        let mut height = (source_height * scale).round().max(1.0) as u32;
        // A very long image covering a box would be resampled far beyond
        // the box (a 40000x1 strip in a square, to 4,000,000 pixels wide):
        // then only the part inside the box is resampled.
        if u64::from(width) * u64::from(height)
            > 4 * u64::from(self.width.max(1)) * u64::from(self.height.max(1))
        {
            let part_width = (rect.width / scale).round().clamp(1.0, source_width) as u32;
            let part_height = (rect.height / scale).round().clamp(1.0, source_height) as u32;
            crop = (
                (picture.dimensions().0 - part_width) / 2,
                (picture.dimensions().1 - part_height) / 2,
                part_width,
                part_height,
            );
            width = (part_width as f32 * scale).round().max(1.0) as u32;
            height = (part_height as f32 * scale).round().max(1.0) as u32;
        }
        // Templates keep images inside the card; anything larger is not
        // drawn rather than resampled to gigabytes.
        if u64::from(width) * u64::from(height)
            > 4 * u64::from(self.width.max(1)) * u64::from(self.height.max(1))
        {
            return;
        }
        let scaled = picture.scaled(crop, width, height);
        let left = (rect.x + (rect.width - width as f32) / 2.0).round() as i64;
        let top = (rect.y + (rect.height - height as f32) / 2.0).round() as i64;
        // Cover crops to the box; contain stays inside it anyway.
        let clip_x0 = rect.x.floor().max(0.0) as i64;
        let clip_y0 = rect.y.floor().max(0.0) as i64;
        let clip_x1 = ((rect.x + rect.width).ceil() as i64).min(i64::from(self.width));
        let clip_y1 = ((rect.y + rect.height).ceil() as i64).min(i64::from(self.height));
        self.with_pixels(Blit {
            scaled: &scaled,
            width: width as usize,
            left,
            top,
            clip: (clip_x0, clip_y0, clip_x1, clip_y1),
        });
    }

    /// Draws laid-out text, one line per origin.
    ///
    /// Glyphs are rasterized once per font, size and quarter-pixel offset,
    /// and their coverage kept: a card repeats letters, and cards repeat
    /// their kicker and footer.
    pub fn draw_text(
        &mut self,
        face: &FontFace,
        block: &Block,
        origins: &[(f32, f32)],
        color: Color,
    ) {
        let sources = sources(color);
        each_glyph(face, block, origins, |mask, x, y| {
            self.with_pixels(Stamp {
                mask,
                x,
                y,
                paint: Paint::Solid(color, &sources),
            });
        });
    }

    /// Composites `color` over the pixels a path covers.
    fn fill_path(&mut self, path: &Path, color: impl Fn(u32, u32) -> Color) {
        let Some((x0, y0, x1, y1)) = path.bounds(self.width, self.height) else {
            return;
        };
        let (width, height) = ((x1 - x0) as usize, (y1 - y0) as usize);
        RASTERIZER.with(|rasterizer| {
            let mut rasterizer = rasterizer.borrow_mut();
            rasterizer.reset(width, height);
            let shift = |p: Point| point(p.x - x0 as f32, p.y - y0 as f32);
            for segment in &path.segments {
                match *segment {
                    Segment::Line(a, b) => rasterizer.draw_line(shift(a), shift(b)),
                    Segment::Quad(a, b, c) => rasterizer.draw_quad(shift(a), shift(b), shift(c)),
                    Segment::Cubic(a, b, c, d) => {
                        rasterizer.draw_cubic(shift(a), shift(b), shift(c), shift(d));
                    }
                }
            }
            self.with_pixels(Cover {
                rasterizer: &rasterizer,
                x0: x0 as usize,
                y0: y0 as usize,
                color: &color,
            });
        });
    }
}

/// A drawing step over pixels of `N` channels.
trait PixelsFn {
    /// `pixels` holds the rows from `top` on, `stride` pixels each.
    fn call<const N: usize>(self, pixels: &mut [[u8; N]], stride: usize, top: usize);
}

/// The first `N` channels of a colour, as a pixel: assigned whole,
/// never through a call to `memcpy`.
#[inline(always)]
fn channels<const N: usize>(color: Color) -> [u8; N] {
    std::array::from_fn(|k| color[k])
}

/// Premultiplied source-over of one pixel.
#[inline(always)]
fn over<const N: usize>(pixel: &mut [u8; N], source: [u8; 4]) {
    let keep = 255 - u32::from(source[3]);
    if keep == 0 {
        *pixel = channels(source);
        return;
    }
    for channel in 0..N {
        pixel[channel] =
            (u32::from(source[channel]) + div255(u32::from(pixel[channel]) * keep)).min(255) as u8;
    }
}

/// A rectangle of whole pixels.
struct FillArea<'s> {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    shader: &'s Shader,
}

impl PixelsFn for FillArea<'_> {
    fn call<const N: usize>(self, pixels: &mut [[u8; N]], stride: usize, top: usize) {
        let end = top + pixels.len() / stride.max(1);
        for y in self.y0.max(top)..self.y1.min(end) {
            let base = (y - top) * stride;
            let row = &mut pixels[base + self.x0..base + self.x1];
            match self.shader.fill {
                Fill::Solid(color) if color[3] == 255 => fill_row(row, color),
                Fill::Solid(color) => {
                    let source = premultiply(color);
                    let kept = kept_under(source);
                    for pixel in row {
                        over_kept(pixel, source, &kept);
                    }
                }
                Fill::Gradient { .. } => {
                    // Fixed-point walk along the row: the gradient's step
                    // changes only every few pixels.
                    const ONE: i64 = 1 << 24;
                    let shader = self.shader;
                    let start = (self.x0 as f32 + 0.5 - shader.cx) * shader.dx
                        + (y as f32 + 0.5 - shader.cy) * shader.dy
                        + 0.5;
                    let t = (f64::from(start) * ONE as f64) as i64;
                    let dt = (f64::from(shader.dx) * ONE as f64) as i64;
                    let step_at = |t: i64| ((t.clamp(0, ONE) * 256 + ONE / 2) >> 24) as usize;
                    // Runs of pixels share a step: find where each run ends
                    // (t is linear in x) and fill it at once.
                    let mut x = 0;
                    while x < row.len() {
                        let here = t + dt * x as i64;
                        let step = step_at(here);
                        let end = if dt > 0 && step < 256 {
                            // The first t of the next step.
                            let next = ((2 * step as i64 + 1) * ONE) / 512;
                            x + ((next - here + dt - 1) / dt).max(1) as usize
                        } else if dt < 0 && step > 0 {
                            let next = ((2 * step as i64 - 1) * ONE) / 512;
                            x + ((here - next - dt) / -dt).max(1) as usize
                        } else {
                            row.len()
                        };
                        let end = end.min(row.len());
                        let (straight, source) = shader.steps[step];
                        let run = &mut row[x..end];
                        if straight[3] == 255 {
                            fill_row(run, straight);
                        } else {
                            for pixel in run {
                                over(pixel, source);
                            }
                        }
                        x = end;
                    }
                }
            }
        }
    }
}

/// Fills a row with one opaque colour: a short run pixel by pixel, a
/// long one with one pixel written, then copied in doubling blocks,
/// which compiles to a few `memcpy`s.
fn fill_row<const N: usize>(row: &mut [[u8; N]], color: Color) {
    /// Runs shorter than this cost less written in a loop than in calls.
    const SHORT: usize = 64;
    let value = channels::<N>(color);
    if row.len() < SHORT {
        row.fill(value);
        return;
    }
    row[0] = value;
    let bytes = row.as_flattened_mut();
    let mut filled = N;
    while filled < bytes.len() {
        let length = filled.min(bytes.len() - filled);
        bytes.copy_within(..length, filled);
        filled += length;
    }
}

/// Each glyph of a text that leaves ink, with its coverage and the
/// canvas pixel its coverage's top left corner lands on.
fn each_glyph(
    face: &FontFace,
    block: &Block,
    origins: &[(f32, f32)],
    mut at: impl FnMut(&Mask, i64, i64),
) {
    /// A face's glyphs kept: enough for every glyph of many templates;
    /// past it, start afresh.
    const MOST: usize = 8192;
    let mut scaler: Option<ScalerFont> = None;
    MASKS.with(|masks| {
        let mut masks = masks.borrow_mut();
        let masks = masks.entry(face.name.clone()).or_default();
        for (line, &(x, y)) in block.lines.iter().zip(origins) {
            for glyph in &line.glyphs {
                let (ox, oy) = (x + glyph.x, y + glyph.y);
                let (ix, iy) = (ox.floor(), oy.floor());
                let quarter = |f: f32| ((f * 4.0).round() as u8).min(3);
                let key = GlyphKey {
                    glyph: glyph.id,
                    size: block.size.to_bits(),
                    dx: quarter(ox - ix),
                    dy: quarter(oy - iy),
                };
                if masks.len() >= MOST && !masks.contains_key(&key) {
                    masks.clear();
                }
                let mask = masks.entry(key).or_insert_with(|| {
                    let scaler = scaler.get_or_insert_with(|| {
                        ScalerFont::unhinted(face.font.clone(), Some(block.size))
                    });
                    glyph_mask(key, scaler.outline(GlyphId::new(glyph.id)))
                });
                if let Some(mask) = mask {
                    at(mask, ix as i64 + mask.left, iy as i64 + mask.top);
                }
            }
        }
    });
}

/// The rows a text's ink covers, from the first to past the last, as
/// [`Band::draw_text`] draws it; `None` for a text without ink.
pub(super) fn text_rows(
    face: &FontFace,
    block: &Block,
    origins: &[(f32, f32)],
) -> Option<(i64, i64)> {
    let mut rows: Option<(i64, i64)> = None;
    each_glyph(face, block, origins, |mask, _, top| {
        let bottom = top + mask.coverage.len().checked_div(mask.width).unwrap_or(0) as i64;
        rows = Some(rows.map_or((top, bottom), |(a, b)| (a.min(top), b.max(bottom))));
    });
    rows
}

/// A face's glyph coverage, by glyph, size and sub-pixel offset; `None`
/// for a glyph with no ink.
type FaceMasks = FxHashMap<GlyphKey, Option<Mask>>;

/// A glyph at a size and a sub-pixel offset, in a face.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct GlyphKey {
    glyph: u32,
    size: u32,
    dx: u8,
    dy: u8,
}

/// A glyph's coverage, placed relative to its integer origin.
struct Mask {
    left: i64,
    top: i64,
    width: usize,
    coverage: Vec<u8>,
}

/// The coverage of a glyph's outline at its key's sub-pixel offset;
/// `None` for a glyph with no ink.
fn glyph_mask(key: GlyphKey, outline: Option<skrifa::ScalerOutline<'_>>) -> Option<Mask> {
    let offset = (f32::from(key.dx) / 4.0, f32::from(key.dy) / 4.0);
    let mut path = Path::default();
    let mut sink = GlyphSink {
        path: &mut path,
        x: offset.0,
        y: offset.1,
    };
    // A glyph that fails to draw is left out rather than failing the
    // whole card.
    outline?.draw(DrawMemory::Scratch, &mut sink).ok()?;
    rasterize(&path)
}

thread_local! {
    /// The coverage of the rounded boxes drawn, by box and radius (a
    /// template draws the same ones on every card), and its bytes.
    static SHAPES: std::cell::RefCell<(Shapes, usize)> =
        std::cell::RefCell::new((HashMap::new(), 0));
}

/// Coverage masks by a box's place, size and radius, as bits.
type Shapes = HashMap<[u32; 5], Arc<Mask>>;

/// The cached coverage of `path`, a rounded box, when it lies inside a
/// canvas of `size`: the same as [`Band::fill_path`] composites.
fn shape_mask(path: &Path, (area, radius): (Rect, f32), size: (u32, u32)) -> Option<Arc<Mask>> {
    /// Enough for the boxes of a few templates in every format, boxes
    /// as tall as their text included: past it, start afresh.
    const MOST_BYTES: usize = 16 << 20;
    let (x0, y0, x1, y1) = path.bounds_unclipped()?;
    if x0 < 0 || y0 < 0 || x1 > i64::from(size.0) || y1 > i64::from(size.1) {
        return None;
    }
    let key = [area.x, area.y, area.width, area.height, radius].map(f32::to_bits);
    if let Some(found) = SHAPES.with(|shapes| shapes.borrow().0.get(&key).cloned()) {
        return Some(found);
    }
    let mask = Arc::new(rasterize(path)?);
    SHAPES.with(|shapes| {
        let (shapes, bytes) = &mut *shapes.borrow_mut();
        if *bytes + mask.coverage.len() > MOST_BYTES {
            shapes.clear();
            *bytes = 0;
        }
        *bytes += mask.coverage.len();
        shapes.insert(key, mask.clone());
    });
    Some(mask)
}

/// The largest glyph rasterized, in pixels (a 2000-pixel size makes
/// glyphs of a few megapixels): a larger one, from a broken font, is left
/// out rather than taking gigabytes.
const MAX_GLYPH_PIXELS: usize = 16 * 1024 * 1024;

/// A path's coverage, 0 to 255, over its whole-pixel bounds.
fn rasterize(path: &Path) -> Option<Mask> {
    let (x0, y0, x1, y1) = path.bounds_unclipped()?;
    let (width, height) = ((x1 - x0) as usize, (y1 - y0) as usize);
    if width.checked_mul(height)? > MAX_GLYPH_PIXELS {
        return None;
    }
    let mut rasterizer = Rasterizer::new(width, height);
    let shift = |p: Point| point(p.x - x0 as f32, p.y - y0 as f32);
    for segment in &path.segments {
        match *segment {
            Segment::Line(a, b) => rasterizer.draw_line(shift(a), shift(b)),
            Segment::Quad(a, b, c) => rasterizer.draw_quad(shift(a), shift(b), shift(c)),
            Segment::Cubic(a, b, c, d) => {
                rasterizer.draw_cubic(shift(a), shift(b), shift(c), shift(d))
            }
        }
    }
    let mut coverage = vec![0u8; width * height];
    rasterizer.for_each_pixel(|index, value| {
        coverage[index] = (value.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    });
    Some(Mask {
        left: x0,
        top: y0,
        width,
        coverage,
    })
}

/// A coverage mask composited in one colour (a glyph) or a shader's (a
/// shape).
struct Stamp<'m> {
    mask: &'m Mask,
    x: i64,
    y: i64,
    paint: Paint<'m>,
}

#[derive(Clone, Copy)]
enum Paint<'s> {
    /// One colour, and the source it makes over a pixel at each coverage.
    Solid(Color, &'s Sources),
    Shaded(&'s Shader),
}

/// What a colour makes over a pixel, worked out once for a text or a
/// shape rather than at every pixel.
struct Sources {
    /// The premultiplied source at each coverage.
    at: [[u8; 4]; 256],
    /// What is kept of each channel value under the source at full
    /// coverage ([`kept_under`]).
    kept: [u8; 256],
}

fn sources(color: Color) -> Sources {
    let at: [[u8; 4]; 256] = std::array::from_fn(|coverage| source(color, coverage as u8));
    let kept = kept_under(at[255]);
    Sources { at, kept }
}

/// What source-over keeps of each channel value `v` under a premultiplied
/// `source`: `v × (255 - alpha) / 255`, rounded. A translucent fill looks
/// it up rather than multiply and divide at every pixel.
fn kept_under(source: [u8; 4]) -> [u8; 256] {
    let keep = 255 - u32::from(source[3]);
    std::array::from_fn(|v| div255(v as u32 * keep) as u8)
}

/// [`over`], with what the pixel keeps looked up in `kept`
/// ([`kept_under`] of `source`): the same result.
#[inline(always)]
fn over_kept<const N: usize>(pixel: &mut [u8; N], source: [u8; 4], kept: &[u8; 256]) {
    for channel in 0..N {
        pixel[channel] = source[channel].saturating_add(kept[usize::from(pixel[channel])]);
    }
}

/// The premultiplied source `color` makes over a pixel, `coverage` of it
/// covered.
#[inline(always)]
fn source(color: Color, coverage: u8) -> [u8; 4] {
    let alpha = div255(u32::from(color[3]) * u32::from(coverage));
    [
        div255(u32::from(color[0]) * alpha) as u8,
        div255(u32::from(color[1]) * alpha) as u8,
        div255(u32::from(color[2]) * alpha) as u8,
        alpha as u8,
    ]
}

impl PixelsFn for Stamp<'_> {
    fn call<const N: usize>(self, pixels: &mut [[u8; N]], stride: usize, top: usize) {
        let width = self.mask.width;
        // The mask's columns on the canvas, clipped once for all its rows.
        let first = (-self.x).clamp(0, width as i64) as usize;
        let last = (stride as i64 - self.x).clamp(first as i64, width as i64) as usize;
        if first == last {
            return;
        }
        let end = (top + pixels.len() / stride.max(1)) as i64;
        for (row_index, row) in self.mask.coverage.chunks_exact(width).enumerate() {
            let y = self.y + row_index as i64;
            if y < top as i64 || y >= end {
                continue;
            }
            let start = (y as usize - top) * stride + (self.x + first as i64) as usize;
            let line = &mut pixels[start..start + (last - first)];
            let left = (self.x + first as i64) as u32;
            let coverage = &row[first..last];
            match self.paint {
                Paint::Solid(color, sources) => {
                    stamp_row(line, coverage, Some((color, sources)), |pixel, c, _| {
                        stamp(pixel, sources.at[usize::from(c)]);
                    })
                }
                Paint::Shaded(shader) => stamp_row(line, coverage, None, |pixel, c, x| {
                    cover(pixel, c, shader.at(left + x as u32, y as u32));
                }),
            }
        }
    }
}

/// A row of a mask over `line`: `paint` composites a pixel at a
/// coverage and a column. Eight pixels at a time: a large glyph is
/// mostly empty or, inside its strokes, fully covered, which an opaque
/// `solid` colour simply fills and a translucent one covers through its
/// table ([`Sources::kept`]).
#[inline(always)]
fn stamp_row<const N: usize>(
    line: &mut [[u8; N]],
    coverage: &[u8],
    solid: Option<(Color, &Sources)>,
    paint: impl Fn(&mut [u8; N], u8, usize),
) {
    let (lines, line_rest) = line.as_chunks_mut::<8>();
    let (coverages, coverage_rest) = coverage.as_chunks::<8>();
    for (chunk, (pixels, coverage)) in lines.iter_mut().zip(coverages).enumerate() {
        match (u64::from_ne_bytes(*coverage), solid) {
            (0, _) => {}
            (u64::MAX, Some((color, _))) if color[3] == 255 => pixels.fill(channels(color)),
            (u64::MAX, Some((_, sources))) if sources.at[255][3] != 0 => {
                for pixel in pixels {
                    over_kept(pixel, sources.at[255], &sources.kept);
                }
            }
            _ => {
                for (k, (pixel, &coverage)) in pixels.iter_mut().zip(coverage).enumerate() {
                    paint(pixel, coverage, chunk * 8 + k);
                }
            }
        }
    }
    let done = lines.len() * 8;
    for (k, (pixel, &coverage)) in line_rest.iter_mut().zip(coverage_rest).enumerate() {
        paint(pixel, coverage, done + k);
    }
}

/// A premultiplied source over a pixel, which a source of no alpha
/// leaves as it is.
#[inline(always)]
fn stamp<const N: usize>(pixel: &mut [u8; N], source: [u8; 4]) {
    if source[3] != 0 {
        over(pixel, source);
    }
}

/// `color` over a pixel, `coverage` of it covered: inside a shape, an
/// opaque colour simply replaces the pixel.
#[inline(always)]
fn cover<const N: usize>(pixel: &mut [u8; N], coverage: u8, color: Color) {
    if coverage == 0 {
        return;
    }
    if coverage == 255 && color[3] == 255 {
        *pixel = channels(color);
        return;
    }
    over(pixel, source(color, coverage));
}

/// A resampled image at its place.
struct Blit<'s> {
    scaled: &'s [[u8; 4]],
    width: usize,
    left: i64,
    top: i64,
    clip: (i64, i64, i64, i64),
}

impl PixelsFn for Blit<'_> {
    fn call<const N: usize>(self, pixels: &mut [[u8; N]], stride: usize, top: usize) {
        let (clip_x0, clip_y0, clip_x1, clip_y1) = self.clip;
        // The band's rows only.
        let clip_y0 = clip_y0.max(top as i64);
        let clip_y1 = clip_y1.min((top + pixels.len() / stride.max(1)) as i64);
        for (sy, row) in self.scaled.chunks_exact(self.width).enumerate() {
            let y = self.top + sy as i64;
            if y < clip_y0 || y >= clip_y1 {
                continue;
            }
            for (sx, source) in row.iter().enumerate() {
                let x = self.left + sx as i64;
                if x < clip_x0 || x >= clip_x1 || source[3] == 0 {
                    continue;
                }
                over(
                    &mut pixels[(y as usize - top) * stride + x as usize],
                    *source,
                );
            }
        }
    }
}

/// A colour through the coverage a rasterizer accumulated.
struct Cover<'s, C: Fn(u32, u32) -> Color> {
    rasterizer: &'s Rasterizer,
    x0: usize,
    y0: usize,
    color: &'s C,
}

impl<C: Fn(u32, u32) -> Color> PixelsFn for Cover<'_, C> {
    fn call<const N: usize>(self, pixels: &mut [[u8; N]], stride: usize, top: usize) {
        let end = top + pixels.len() / stride.max(1);
        self.rasterizer.for_each_pixel_2d(|x, y, coverage| {
            let (px, py) = (x as usize + self.x0, y as usize + self.y0);
            if coverage <= 0.5 / 255.0 || py < top || py >= end {
                return;
            }
            let coverage = (coverage.min(1.0) * 255.0 + 0.5) as u8;
            let color = (self.color)(px as u32, py as u32);
            cover(&mut pixels[(py - top) * stride + px], coverage, color);
        });
    }
}

fn unpremultiply(pixel: [u8; 4]) -> [u8; 4] {
    match pixel[3] {
        0 => [0, 0, 0, 0],
        255 => pixel,
        alpha => {
            let alpha = u32::from(alpha);
            let channel = |c: u8| ((u32::from(c) * 255 + alpha / 2) / alpha).min(255) as u8;
            [
                channel(pixel[0]),
                channel(pixel[1]),
                channel(pixel[2]),
                pixel[3],
            ]
        }
    }
}

/// The colour of a fill at a pixel.
struct Shader {
    fill: Fill,
    /// The gradient's direction, scaled by its length, and its middle.
    dx: f32,
    dy: f32,
    cx: f32,
    cy: f32,
    /// The gradient's 257 steps, straight and premultiplied.
    steps: Vec<(Color, [u8; 4])>,
}

impl Shader {
    fn new(fill: Fill, area: Rect) -> Shader {
        let angle = match fill {
            Fill::Gradient { angle, .. } => angle,
            Fill::Solid(_) => 0.0,
        };
        // CSS convention: 0° points up, 90° to the right; the gradient
        // line is as long as the box's projection on it.
        let radians = angle.to_radians();
        let (dx, dy) = (radians.sin(), -radians.cos());
        let length = ((area.width * dx).abs() + (area.height * dy).abs()).max(1.0);
        let steps = match fill {
            Fill::Solid(_) => Vec::new(),
            Fill::Gradient { from, to, .. } => (0..=256u32)
                .map(|weight| {
                    let mut color = [0u8; 4];
                    for channel in 0..4 {
                        color[channel] = ((u32::from(from[channel]) * (256 - weight)
                            + u32::from(to[channel]) * weight
                            + 128)
                            >> 8) as u8;
                    }
                    (color, premultiply(color))
                })
                .collect(),
        };
        Shader {
            fill,
            dx: dx / length,
            dy: dy / length,
            cx: area.x + area.width / 2.0,
            cy: area.y + area.height / 2.0,
            steps,
        }
    }

    fn at(&self, x: u32, y: u32) -> Color {
        match self.fill {
            Fill::Solid(color) => color,
            Fill::Gradient { .. } => {
                let along =
                    (x as f32 + 0.5 - self.cx) * self.dx + (y as f32 + 0.5 - self.cy) * self.dy;
                let step = ((along + 0.5).clamp(0.0, 1.0) * 256.0 + 0.5) as usize;
                self.steps[step].0
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Segment {
    Line(Point, Point),
    Quad(Point, Point, Point),
    Cubic(Point, Point, Point, Point),
}

/// Outlines in canvas pixels, y down.
#[derive(Default)]
struct Path {
    segments: Vec<Segment>,
    start: Option<Point>,
    current: Option<Point>,
}

impl Path {
    fn move_to(&mut self, p: Point) {
        self.close();
        self.start = Some(p);
        self.current = Some(p);
    }

    fn line_to(&mut self, p: Point) {
        if let Some(current) = self.current {
            self.segments.push(Segment::Line(current, p));
        }
        self.current = Some(p);
    }

    fn quad_to(&mut self, c: Point, p: Point) {
        if let Some(current) = self.current {
            self.segments.push(Segment::Quad(current, c, p));
        }
        self.current = Some(p);
    }

    fn cubic_to(&mut self, c0: Point, c1: Point, p: Point) {
        if let Some(current) = self.current {
            self.segments.push(Segment::Cubic(current, c0, c1, p));
        }
        self.current = Some(p);
    }

    fn close(&mut self) {
        if let (Some(start), Some(current)) = (self.start, self.current)
            && start != current
        {
            self.segments.push(Segment::Line(current, start));
        }
        self.current = self.start;
    }

    fn rounded_rect(&mut self, rect: Rect, radius: f32) {
        let r = radius.min(rect.width / 2.0).min(rect.height / 2.0).max(0.0);
        let (x0, y0) = (rect.x, rect.y);
        let (x1, y1) = (rect.x + rect.width, rect.y + rect.height);
        // The control distance that makes a cubic a quarter circle.
        let k = r * 0.552_284_8;
        self.move_to(point(x0 + r, y0));
        self.line_to(point(x1 - r, y0));
        self.cubic_to(
            point(x1 - r + k, y0),
            point(x1, y0 + r - k),
            point(x1, y0 + r),
        );
        self.line_to(point(x1, y1 - r));
        self.cubic_to(
            point(x1, y1 - r + k),
            point(x1 - r + k, y1),
            point(x1 - r, y1),
        );
        self.line_to(point(x0 + r, y1));
        self.cubic_to(
            point(x0 + r - k, y1),
            point(x0, y1 - r + k),
            point(x0, y1 - r),
        );
        self.line_to(point(x0, y0 + r));
        self.cubic_to(
            point(x0, y0 + r - k),
            point(x0 + r - k, y0),
            point(x0 + r, y0),
        );
        self.close();
    }

    /// Whole-pixel bounds; `None` when empty.
    fn bounds_unclipped(&self) -> Option<(i64, i64, i64, i64)> {
        let mut min = (f32::MAX, f32::MAX);
        let mut max = (f32::MIN, f32::MIN);
        for segment in &self.segments {
            let points: &[Point] = match segment {
                Segment::Line(a, b) => &[*a, *b],
                Segment::Quad(a, b, c) => &[*a, *b, *c],
                Segment::Cubic(a, b, c, d) => &[*a, *b, *c, *d],
            };
            for p in points {
                min = (min.0.min(p.x), min.1.min(p.y));
                max = (max.0.max(p.x), max.1.max(p.y));
            }
        }
        let (x0, y0) = (min.0.floor() as i64, min.1.floor() as i64);
        let (x1, y1) = (max.0.ceil() as i64, max.1.ceil() as i64);
        (x1 > x0 && y1 > y0).then_some((x0, y0, x1, y1))
    }

    /// Whole-pixel bounds, clipped to the canvas; `None` when empty.
    fn bounds(&self, width: u32, height: u32) -> Option<(i64, i64, i64, i64)> {
        let (x0, y0, x1, y1) = self.bounds_unclipped()?;
        let (x0, y0) = (x0.max(0), y0.max(0));
        let (x1, y1) = (x1.min(i64::from(width)), y1.min(i64::from(height)));
        (x1 > x0 && y1 > y0).then_some((x0, y0, x1, y1))
    }
}

/// Receives a glyph's outline (y up, pixels) and adds it to a path at its
/// place on the canvas (y down).
struct GlyphSink<'p> {
    path: &'p mut Path,
    x: f32,
    y: f32,
}

impl GlyphSink<'_> {
    fn at(&self, x: f32, y: f32) -> Point {
        point(self.x + x, self.y - y)
    }
}

impl PathSink for GlyphSink<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let p = self.at(x, y);
        self.path.move_to(p);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let p = self.at(x, y);
        self.path.line_to(p);
    }

    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        let (c, p) = (self.at(cx0, cy0), self.at(x, y));
        self.path.quad_to(c, p);
    }

    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        let (c0, c1, p) = (self.at(cx0, cy0), self.at(cx1, cy1), self.at(x, y));
        self.path.cubic_to(c0, c1, p);
    }

    fn close(&mut self) {
        self.path.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::picture::PictureError;

    #[test]
    fn composites_source_over_with_straight_alpha_colours() {
        let mut canvas = Canvas::new(2, 1);
        canvas.fill(None, Fill::Solid([255, 255, 255, 255]), 0.0);
        canvas.fill(
            Some(Rect {
                x: 0.0,
                y: 0.0,
                width: 1.0,
                height: 1.0,
            }),
            Fill::Solid([0, 0, 0, 128]),
            0.0,
        );
        let image = canvas.into_image();
        // Half-transparent black over white is mid grey, still opaque.
        assert_eq!(image.get_pixel(0, 0).0, [127, 127, 127, 255]);
        assert_eq!(image.get_pixel(1, 0).0, [255, 255, 255, 255]);
    }

    #[test]
    fn keeps_transparency_where_nothing_opaque_was_drawn() {
        let mut canvas = Canvas::new(1, 1);
        canvas.fill(None, Fill::Solid([200, 100, 50, 128]), 0.0);
        let pixel = canvas.into_image().get_pixel(0, 0).0;
        assert_eq!(pixel[3], 128);
        // Colours survive the premultiplied round trip within one step.
        for (got, want) in pixel.iter().zip([200u8, 100, 50]) {
            assert!(got.abs_diff(want) <= 1, "{pixel:?}");
        }
    }

    #[test]
    fn rounds_the_corners_of_a_rectangle() {
        let mut canvas = Canvas::new(100, 100);
        canvas.fill(
            Some(Rect {
                x: 0.0,
                y: 0.0,
                width: 100.0,
                height: 100.0,
            }),
            Fill::Solid([0, 0, 0, 255]),
            30.0,
        );
        let image = canvas.into_image();
        assert_eq!(image.get_pixel(0, 0).0[3], 0, "the corner is cut");
        assert_eq!(image.get_pixel(50, 50).0[3], 255, "the middle is full");
        assert_eq!(image.get_pixel(50, 0).0[3], 255, "the edge is full");
    }

    /// A PNG of `width` x `height` RGBA pixels of one colour.
    fn png(width: u32, height: u32, color: [u8; 4]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let image = RgbaImage::from_pixel(width, height, image::Rgba(color));
        image
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    }

    #[test]
    fn a_large_canvas_drawn_in_two_bands_has_the_pixels_of_one() {
        use crate::typography::text::PlacedGlyph;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets/fonts/Lato-Black.ttf");
        let face = FontFace::from_bytes("Lato-Black.ttf", std::fs::read(path).unwrap()).unwrap();
        // Glyphs, an image and a rounded box all across row 150, where the
        // two bands of this 400x300 canvas meet.
        let glyphs = (0..6)
            .map(|k| PlacedGlyph {
                id: 20 + k,
                x: 55.3 * k as f32,
                y: 0.0,
            })
            .collect();
        let block = Block {
            size: 120.0,
            lines: Arc::from(vec![crate::typography::Line {
                glyphs,
                width: 330.0,
                text: String::new(),
            }]),
            line_height: 140.0,
            baseline: 110.0,
        };
        let picture = Picture::from_png(png(30, 50, [0, 120, 200, 128])).unwrap();
        let draw = |canvas: &mut Canvas, banded: bool| {
            let ops = |band: &mut Band<'_>| {
                let gradient = Fill::Gradient {
                    from: [250, 240, 230, 255],
                    to: [20, 60, 90, 255],
                    angle: 30.0,
                };
                band.fill(None, gradient, 0.0);
                let rect = Rect {
                    x: 40.5,
                    y: 120.25,
                    width: 200.0,
                    height: 61.5,
                };
                band.fill(Some(rect), Fill::Solid([200, 30, 40, 170]), 18.0);
                band.draw_image(&picture, rect, Fit::Cover);
                band.draw_text(&face, &block, &[(20.4, 190.6)], [10, 10, 10, 230]);
            };
            if banded {
                canvas.draw_in_bands(ops);
            } else {
                ops(&mut canvas.band());
            }
        };
        let (mut one, mut two) = (Canvas::new(400, 300), Canvas::new(400, 300));
        assert!(two.bytes.len() >= SPLIT_BYTES, "drawn in two bands");
        draw(&mut one, false);
        draw(&mut two, true);
        let (one, two) = (one.into_image(), two.into_image());
        assert!(one == two, "the bands change the pixels");
        // Something was drawn on both sides of the seam.
        assert_ne!(one.get_pixel(100, 149), one.get_pixel(399, 0));
        assert_ne!(one.get_pixel(100, 150), one.get_pixel(399, 0));
    }

    #[test]
    fn refuses_an_image_over_the_pixel_budget_from_its_header_alone() {
        let mut header = Vec::new();
        {
            let encoder = png::Encoder::new(&mut header, 20_000, 20_000);
            drop(encoder.write_header().unwrap());
        }
        assert_eq!(
            Picture::from_png(header).unwrap_err(),
            PictureError::TooLarge {
                width: 20_000,
                height: 20_000
            }
        );
        assert_eq!(
            PictureError::TooLarge {
                width: 7000,
                height: 6000
            }
            .to_string(),
            "image trop grande : 7000x6000 pixels, soit 42 mégapixels (40 au plus)"
        );
    }

    #[test]
    fn refuses_a_damaged_image_when_it_is_read_not_when_it_is_drawn() {
        let mut damaged = png(64, 64, [10, 20, 30, 255]);
        let middle = damaged.len() / 2;
        damaged.truncate(middle);
        assert!(matches!(
            Picture::from_png(damaged),
            Err(PictureError::Unreadable(_))
        ));
    }

    #[test]
    fn decodes_an_image_only_when_it_is_drawn() {
        let picture = Picture::from_png(png(4, 2, [0, 0, 255, 255])).unwrap();
        assert_eq!(picture.dimensions(), (4, 2));
        assert!(!picture.is_decoded());
        let mut canvas = Canvas::new(4, 2);
        let rect = Rect {
            x: 0.0,
            y: 0.0,
            width: 4.0,
            height: 2.0,
        };
        canvas.draw_image(&picture, rect, Fit::Contain);
        assert!(picture.is_decoded());
        assert_eq!(canvas.into_image().get_pixel(1, 1).0, [0, 0, 255, 255]);
    }

    #[test]
    fn a_long_strip_covering_a_box_is_resampled_no_larger_than_the_box() {
        // Covering a 100x100 box, a 40000x1 strip would be scaled to
        // 4,000,000x100 pixels: only its middle is.
        let picture = Picture::from_png(png(40_000, 1, [255, 0, 0, 255])).unwrap();
        let mut canvas = Canvas::new(100, 100);
        let rect = Rect {
            x: 0.0,
            y: 0.0,
            width: 100.0,
            height: 100.0,
        };
        canvas.draw_image(&picture, rect, Fit::Cover);
        let largest = picture.largest_copy();
        assert!(largest <= 100 * 100, "{largest} pixels");
        let image = canvas.into_image();
        assert_eq!(image.get_pixel(0, 0).0, [255, 0, 0, 255]);
        assert_eq!(image.get_pixel(99, 99).0, [255, 0, 0, 255]);
    }

    #[test]
    fn a_glyph_of_gigabytes_is_left_out() {
        let mut path = Path::default();
        path.move_to(point(0.0, 0.0));
        path.line_to(point(100_000.0, 0.0));
        path.line_to(point(0.0, 100_000.0));
        path.close();
        assert!(rasterize(&path).is_none());
        let mut small = Path::default();
        small.move_to(point(0.0, 0.0));
        small.line_to(point(10.0, 0.0));
        small.line_to(point(0.0, 10.0));
        small.close();
        assert_eq!(rasterize(&small).unwrap().width, 10);
    }

    #[test]
    fn a_gradient_runs_from_one_colour_to_the_other() {
        let mut canvas = Canvas::new(1, 100);
        canvas.fill(
            None,
            Fill::Gradient {
                from: [0, 0, 0, 255],
                to: [255, 255, 255, 255],
                angle: 180.0,
            },
            0.0,
        );
        let image = canvas.into_image();
        assert!(image.get_pixel(0, 0).0[0] < 5);
        assert!(image.get_pixel(0, 99).0[0] > 250);
    }
}

//! The pixels: a canvas and the few operations cards are made of.
//!
//! The canvas holds premultiplied RGBA, so every operation composites with
//! the one source-over formula, `out = src + dst × (1 − src_alpha)`, and
//! images are resampled premultiplied (no dark fringes at transparent
//! edges). Shapes and glyph outlines are turned into coverage by the
//! ab_glyph rasterizer; glyph outlines come from skrifa, unhinted, at their
//! exact fractional positions. Integer arithmetic with fixed rounding keeps
//! the output identical from run to run.

use ab_glyph_rasterizer::{Point, Rasterizer, point};
use image::{RgbaImage, imageops};
use skrifa::{DrawMemory, GlyphId, PathSink, ScalerFont};

use super::layout::{Color, Fill};
use crate::template::{Fit, Rect};
use crate::typography::{Block, FontFace};

/// A drawing surface, premultiplied RGBA.
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<[u8; 4]>,
}

impl Canvas {
    /// A transparent canvas.
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![[0; 4]; width as usize * height as usize],
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The picture, straight alpha, as PNG wants it.
    pub fn into_image(self) -> RgbaImage {
        let mut bytes = Vec::with_capacity(self.pixels.len() * 4);
        for pixel in self.pixels {
            bytes.extend_from_slice(&unpremultiply(pixel));
        }
        RgbaImage::from_raw(self.width, self.height, bytes).expect("the size matches the pixels")
    }

    /// Whether every pixel is opaque (the PNG can then drop its alpha).
    pub fn is_opaque(&self) -> bool {
        self.pixels.iter().all(|p| p[3] == 255)
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
            let x0 = area.x as u32;
            let y0 = area.y as u32;
            let x1 = (area.x + area.width).min(self.width as f32) as u32;
            let y1 = (area.y + area.height).min(self.height as f32) as u32;
            for y in y0..y1 {
                for x in x0..x1 {
                    let color = shader.at(x, y);
                    self.blend(x, y, color, 255);
                }
            }
            return;
        }
        let mut path = Path::default();
        path.rounded_rect(area, radius);
        self.fill_path(&path, |x, y| shader.at(x, y));
    }

    /// Draws an image into `rect`, scaled to fit it whole (`contain`,
    /// centred) or to fill it (`cover`, cropped around the centre).
    pub fn draw_image(&mut self, image: &RgbaImage, rect: Rect, fit: Fit) {
        let (source_width, source_height) = (image.width() as f32, image.height() as f32);
        if source_width == 0.0 || source_height == 0.0 {
            return;
        }
        let scale = match fit {
            Fit::Contain => (rect.width / source_width).min(rect.height / source_height),
            Fit::Cover => (rect.width / source_width).max(rect.height / source_height),
        };
        let width = (source_width * scale).round().max(1.0) as u32;
        let height = (source_height * scale).round().max(1.0) as u32;
        let scaled = scale_premultiplied(image, width, height);
        let left = (rect.x + (rect.width - width as f32) / 2.0).round() as i64;
        let top = (rect.y + (rect.height - height as f32) / 2.0).round() as i64;
        // Cover crops to the box; contain stays inside it anyway.
        let clip_x0 = rect.x.floor().max(0.0) as i64;
        let clip_y0 = rect.y.floor().max(0.0) as i64;
        let clip_x1 = ((rect.x + rect.width).ceil() as i64).min(i64::from(self.width));
        let clip_y1 = ((rect.y + rect.height).ceil() as i64).min(i64::from(self.height));
        for (sy, row) in scaled.chunks_exact(width as usize).enumerate() {
            let y = top + sy as i64;
            if y < clip_y0 || y >= clip_y1 {
                continue;
            }
            for (sx, pixel) in row.iter().enumerate() {
                let x = left + sx as i64;
                if x < clip_x0 || x >= clip_x1 || pixel[3] == 0 {
                    continue;
                }
                let index = y as usize * self.width as usize + x as usize;
                self.pixels[index] = over(*pixel, self.pixels[index]);
            }
        }
    }

    /// Draws laid-out text, one line per origin.
    pub fn draw_text(
        &mut self,
        face: &FontFace,
        block: &Block,
        origins: &[(f32, f32)],
        color: Color,
    ) {
        let scaler = ScalerFont::unhinted(face.font.clone(), Some(block.size));
        let mut path = Path::default();
        for (line, &(x, y)) in block.lines.iter().zip(origins) {
            for glyph in &line.glyphs {
                let Some(outline) = scaler.outline(GlyphId::new(glyph.id)) else {
                    continue;
                };
                let mut sink = GlyphSink {
                    path: &mut path,
                    x: x + glyph.x,
                    y: y + glyph.y,
                };
                // A glyph that fails to draw is left out rather than
                // failing the whole card.
                let _ = outline.draw(DrawMemory::Scratch, &mut sink);
            }
        }
        self.fill_path(&path, |_, _| color);
    }

    /// Composites `color` over the pixels a path covers.
    fn fill_path(&mut self, path: &Path, color: impl Fn(u32, u32) -> Color) {
        let Some((x0, y0, x1, y1)) = path.bounds(self.width, self.height) else {
            return;
        };
        let (width, height) = ((x1 - x0) as usize, (y1 - y0) as usize);
        let mut rasterizer = Rasterizer::new(width, height);
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
        rasterizer.for_each_pixel_2d(|x, y, coverage| {
            let coverage = (coverage.clamp(0.0, 1.0) * 255.0).round() as u32;
            if coverage > 0 {
                let (px, py) = (x + x0 as u32, y + y0 as u32);
                self.blend(px, py, color(px, py), coverage);
            }
        });
    }

    /// Source-over of a straight-alpha colour at `coverage` (0 to 255).
    fn blend(&mut self, x: u32, y: u32, color: Color, coverage: u32) {
        let index = y as usize * self.width as usize + x as usize;
        let alpha = div255(u32::from(color[3]) * coverage);
        let source = [
            div255(u32::from(color[0]) * alpha) as u8,
            div255(u32::from(color[1]) * alpha) as u8,
            div255(u32::from(color[2]) * alpha) as u8,
            alpha as u8,
        ];
        self.pixels[index] = over(source, self.pixels[index]);
    }
}

/// `x / 255`, rounded, for `x` up to 255 × 255.
fn div255(x: u32) -> u32 {
    (x + 128 + ((x + 128) >> 8)) >> 8
}

/// Premultiplied source-over.
fn over(source: [u8; 4], destination: [u8; 4]) -> [u8; 4] {
    let keep = 255 - u32::from(source[3]);
    if keep == 0 {
        return source;
    }
    let mut out = [0u8; 4];
    for channel in 0..4 {
        out[channel] = (u32::from(source[channel]) + div255(u32::from(destination[channel]) * keep))
            .min(255) as u8;
    }
    out
}

fn premultiply(pixel: [u8; 4]) -> [u8; 4] {
    let alpha = u32::from(pixel[3]);
    [
        div255(u32::from(pixel[0]) * alpha) as u8,
        div255(u32::from(pixel[1]) * alpha) as u8,
        div255(u32::from(pixel[2]) * alpha) as u8,
        pixel[3],
    ]
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

/// Resamples an image, premultiplied, so transparent pixels lend no colour
/// to their neighbours.
fn scale_premultiplied(image: &RgbaImage, width: u32, height: u32) -> Vec<[u8; 4]> {
    let mut premultiplied = image.clone();
    for pixel in premultiplied.pixels_mut() {
        pixel.0 = premultiply(pixel.0);
    }
    let scaled = if (width, height) == image.dimensions() {
        premultiplied
    } else {
        imageops::resize(
            &premultiplied,
            width,
            height,
            imageops::FilterType::CatmullRom,
        )
    };
    scaled.pixels().map(|p| p.0).collect()
}

/// The colour of a fill at a pixel.
struct Shader {
    fill: Fill,
    area: Rect,
}

impl Shader {
    fn new(fill: Fill, area: Rect) -> Shader {
        Shader { fill, area }
    }

    fn at(&self, x: u32, y: u32) -> Color {
        match self.fill {
            Fill::Solid(color) => color,
            Fill::Gradient { from, to, angle } => {
                // CSS convention: 0° points up, 90° to the right.
                let radians = angle.to_radians();
                let (dx, dy) = (radians.sin(), -radians.cos());
                let length = (self.area.width * dx).abs() + (self.area.height * dy).abs();
                let cx = self.area.x + self.area.width / 2.0;
                let cy = self.area.y + self.area.height / 2.0;
                let along = (x as f32 + 0.5 - cx) * dx + (y as f32 + 0.5 - cy) * dy;
                let t = (along / length.max(1.0) + 0.5).clamp(0.0, 1.0);
                let weight = (t * 256.0).round() as u32;
                let mut color = [0u8; 4];
                for channel in 0..4 {
                    color[channel] = ((u32::from(from[channel]) * (256 - weight)
                        + u32::from(to[channel]) * weight
                        + 128)
                        >> 8) as u8;
                }
                color
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

    /// Whole-pixel bounds, clipped to the canvas; `None` when empty.
    fn bounds(&self, width: u32, height: u32) -> Option<(i64, i64, i64, i64)> {
        let mut min = (f32::MAX, f32::MAX);
        let mut max = (f32::MIN, f32::MIN);
        let mut grow = |p: &Point| {
            min = (min.0.min(p.x), min.1.min(p.y));
            max = (max.0.max(p.x), max.1.max(p.y));
        };
        for segment in &self.segments {
            match segment {
                Segment::Line(a, b) => [a, b].into_iter().for_each(&mut grow),
                Segment::Quad(a, b, c) => [a, b, c].into_iter().for_each(&mut grow),
                Segment::Cubic(a, b, c, d) => [a, b, c, d].into_iter().for_each(&mut grow),
            }
        }
        let x0 = (min.0.floor() as i64).max(0);
        let y0 = (min.1.floor() as i64).max(0);
        let x1 = (max.0.ceil() as i64).min(i64::from(width));
        let y1 = (max.1.ceil() as i64).min(i64::from(height));
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

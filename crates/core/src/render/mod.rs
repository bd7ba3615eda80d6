//! Rendering: a post's card as a PNG. The only code that touches pixels.
//!
//! [`layout`] resolves a template's layers for a post (pure, shared with
//! `check`); [`canvas`] draws them; [`encode_png`] writes the file's bytes.

mod batch;
pub mod canvas;
mod flat;
pub mod layout;
pub mod picture;
pub mod scale;

use std::io::Write as _;
use std::ops::Range;

pub use batch::Batch;
pub use canvas::Canvas;
pub use flat::Strips;
pub use layout::{Assets, Card, Context, Op, Problem, alt_text, layout};

/// The heaviest PNG crieur writes: Bluesky refuses images over 1,000,000
/// bytes, and a margin keeps every network happy.
pub const MAX_PNG_BYTES: usize = 950_000;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "l'image pèse {0} octets, plus que les {MAX_PNG_BYTES} permis : allégez les images du modèle"
    )]
    TooHeavy(usize),
    #[error("encodage PNG impossible : {0}")]
    Encode(#[from] png::EncodingError),
    #[error("encodage PNG impossible : {0}")]
    Write(#[from] std::io::Error),
    #[error("encodage JPEG impossible : {0}")]
    Jpeg(String),
}

/// Draws a card.
pub fn draw(card: &Card) -> Canvas {
    // An opaque background makes an opaque canvas, stored as RGB; a solid
    // one is the canvas's first colour rather than a pass of its own.
    let (mut canvas, skip) = match card.opaque_base() {
        Some(layout::Fill::Solid(color)) => (Canvas::filled(card.width, card.height, color), 1),
        Some(paint) => (Canvas::painted(card.width, card.height, paint), 1),
        None => (Canvas::new(card.width, card.height), 0),
    };
    canvas.draw_in_bands(|band| {
        for op in &card.ops[skip..] {
            draw_op(band, op);
        }
    });
    canvas
}

/// Draws `op` on the rows of `band`.
fn draw_op(band: &mut canvas::Band<'_>, op: &Op) {
    match op {
        Op::Fill {
            rect,
            paint,
            radius,
        } => band.fill(*rect, *paint, *radius),
        Op::Image { image, rect, fit } => band.draw_image(image, *rect, *fit),
        Op::Text {
            face,
            block,
            origins,
            color,
        } => band.draw_text(face, block, origins, *color),
    }
}

/// Encodes a canvas as PNG: RGB when it is opaque, compressed by an
/// encoder built for flat graphics (a third smaller than fdeflate's fast
/// compression on a card), or by fdeflate for a busy picture; compressed
/// harder if that is not enough to stay under [`MAX_PNG_BYTES`].
pub fn encode_png(canvas: Canvas) -> Result<Vec<u8>, RenderError> {
    encode_png_reusing(canvas, None)
}

/// [`encode_png`], with the strips of rows compressed for the images
/// encoded before it with the same `strips` copied rather than
/// compressed again, and this image's kept: the same bytes, faster for a
/// batch of cards that share their templates.
pub fn encode_png_reusing(canvas: Canvas, strips: Option<&Strips>) -> Result<Vec<u8>, RenderError> {
    let (width, height) = (canvas.width(), canvas.height());
    match canvas.rgb() {
        Some(rgb) => compress(rgb, (width, height), png::ColorType::Rgb, strips),
        None => {
            let rgba = canvas.into_rgba();
            compress(&rgba, (width, height), png::ColorType::Rgba, strips)
        }
    }
}

impl Batch {
    /// The card as [`encode_png`] encodes it, drawn and compressed a strip
    /// of rows at a time: the strips it shares with the last card of its
    /// size and background copied, neither drawn nor read; then kept for
    /// the cards that follow (see [`batch`]).
    pub fn encode_png(&self, card: Card) -> Result<Vec<u8>, RenderError> {
        let Some(base) = card.opaque_base() else {
            return encode_png_reusing(draw(&card), Some(self.strips()));
        };
        let earlier = self.take(&card);
        let spans: Vec<Range<usize>> = card
            .ops
            .iter()
            .map(|op| batch::rows(op, card.height))
            .collect();
        let differing = earlier.as_ref().map_or_else(Vec::new, |earlier| {
            batch::differing_rows((&earlier.card.ops, &earlier.spans), (&card.ops, &spans))
        });
        let size = (card.width, card.height);
        let draw_rows = |rows: Range<usize>, bytes: &mut [u8]| {
            let mut band = canvas::Band::painted(bytes, size, rows.start, base);
            for (op, span) in card.ops.iter().zip(&spans).skip(1) {
                if span.start < rows.end && rows.start < span.end {
                    draw_op(&mut band, op);
                }
            }
        };
        let shape = (card.width as usize * 3, 3, card.height as usize);
        let drawn = flat::zlib_drawn(
            shape,
            self.strips(),
            earlier.as_ref().map(|earlier| flat::Earlier {
                places: &earlier.places,
                differing: &differing,
            }),
            &draw_rows,
        );
        if let Some((zlib, places)) = drawn {
            let png = write_png(card.width, card.height, png::ColorType::Rgb, &zlib)?;
            if png.len() <= MAX_PNG_BYTES {
                self.keep(batch::Kept {
                    card,
                    spans,
                    places,
                });
                return Ok(png);
            }
        }
        if let Some(earlier) = earlier {
            self.keep(earlier);
        }
        // A picture too busy for the flat encoder, or too heavy: the whole
        // canvas, encoded as a card alone is.
        let canvas = draw(&card);
        match canvas.rgb() {
            Some(rgb) => compress(rgb, size, png::ColorType::Rgb, None),
            None => encode_png_reusing(canvas, None),
        }
    }
}

/// JPEG quality for networks that want JPEG (Instagram).
pub const JPEG_QUALITY: u8 = 90;

/// Encodes a canvas as a baseline JPEG (sRGB, quality
/// [`JPEG_QUALITY`]): what Instagram takes best. A canvas that is not
/// opaque is laid on white first, as JPEG has no transparency.
pub fn encode_jpeg(canvas: Canvas) -> Result<Vec<u8>, RenderError> {
    let (width, height) = (canvas.width(), canvas.height());
    let rgb: Vec<u8> = match canvas.rgb() {
        Some(rgb) => rgb.to_vec(),
        None => canvas
            .into_rgba()
            .chunks_exact(4)
            .flat_map(|p| {
                let a = u16::from(p[3]);
                let over = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
                [over(p[0]), over(p[1]), over(p[2])]
            })
            .collect(),
    };
    let mut jpeg = Vec::with_capacity(256 * 1024);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|error| RenderError::Jpeg(error.to_string()))?;
    Ok(jpeg)
}

/// An encoded image that fits in `limit` bytes: itself when it does, else
/// re-encoded as JPEG (laid on white) at falling qualities. `None` when even
/// the lowest quality does not fit or the bytes are no image.
pub fn fit_under(bytes: &[u8], limit: usize) -> Option<Vec<u8>> {
    if bytes.len() <= limit {
        return Some(bytes.to_vec());
    }
    let decoded = image::load_from_memory(bytes).ok()?.to_rgba8();
    let (width, height) = decoded.dimensions();
    let rgb: Vec<u8> = decoded
        .pixels()
        .flat_map(|p| {
            let a = u16::from(p[3]);
            let over = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
            [over(p[0]), over(p[1]), over(p[2])]
        })
        .collect();
    [JPEG_QUALITY, 80, 70, 60, 50]
        .into_iter()
        .find_map(|quality| {
            let mut jpeg = Vec::with_capacity(limit);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
                .encode(&rgb, width, height, image::ExtendedColorType::Rgb8)
                .ok()?;
            (jpeg.len() <= limit).then_some(jpeg)
        })
}

/// The width and height an encoded image declares, read from its header.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// The flat-graphics encoder first (fdeflate's fast compression for an
/// image it declines); zlib's best if that is not enough.
fn compress(
    bytes: &[u8],
    (width, height): (u32, u32),
    color: png::ColorType,
    strips: Option<&Strips>,
) -> Result<Vec<u8>, RenderError> {
    let samples = color.samples();
    let first = match flat::zlib(bytes, width as usize * samples, samples, strips) {
        Some(zlib) => write_png(width, height, color, &zlib)?,
        None => encode_rows(bytes, width, height, color, png::Compression::Fast)?,
    };
    if first.len() <= MAX_PNG_BYTES {
        return Ok(first);
    }
    let png = encode_rows(bytes, width, height, color, png::Compression::High)?;
    if png.len() <= MAX_PNG_BYTES {
        Ok(png)
    } else {
        Err(RenderError::TooHeavy(png.len()))
    }
}

/// A PNG of eight-bit samples around image data already compressed: its
/// header, one `IDAT` chunk, its end.
fn write_png(
    width: u32,
    height: u32,
    color: png::ColorType,
    zlib: &[u8],
) -> Result<Vec<u8>, RenderError> {
    let mut png = Vec::with_capacity(zlib.len() + 64);
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_chunk(png::chunk::IDAT, zlib)?;
    writer.finish()?;
    Ok(png)
}

/// Encodes with the png crate's fdeflate-based fast compression, which is
/// tuned for filtered image data, and its adaptive filter, which picks for
/// each row the filter that leaves the smallest residues (`Up` for the many
/// rows of flat graphics that repeat the one above).
fn encode_rows(
    bytes: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
    compression: png::Compression,
) -> Result<Vec<u8>, RenderError> {
    let mut png = Vec::with_capacity(256 * 1024);
    {
        let mut encoder = png::Encoder::new(&mut png, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(compression);
        let mut writer = encoder.write_header()?;
        let mut stream = writer.stream_writer()?;
        let samples = color.samples();
        let row_length = width as usize * samples;
        let mut previous: Option<&[u8]> = None;
        for row in bytes.chunks_exact(row_length) {
            stream.set_filter(row_filter(row, previous, samples));
            stream.write_all(row)?;
            previous = Some(row);
        }
        stream.finish()?;
    }
    Ok(png)
}

/// The filter for one row of flat graphics: `Up` for a row that repeats
/// the one above, else whichever of `Up` and `Sub` leaves the smaller
/// residues (the usual sum-of-magnitudes estimate). Paeth and Average,
/// which the png crate's adaptive choice also tries, cost most of the
/// encoding time and gain little on flat colours.
fn row_filter(row: &[u8], previous: Option<&[u8]>, samples: usize) -> png::Filter {
    let Some(previous) = previous else {
        return png::Filter::Sub;
    };
    if row == previous {
        return png::Filter::Up;
    }
    let up = residues(row, previous);
    let sub = residues(&row[samples..], &row[..row.len() - samples]);
    if up <= sub {
        png::Filter::Up
    } else {
        png::Filter::Sub
    }
}

/// An estimate of the sum of |a − b| over two byte rows, each difference
/// read as a signed byte: one byte in seven is enough to tell flat rows
/// from busy ones, at a seventh of the cost.
fn residues(a: &[u8], b: &[u8]) -> u32 {
    let length = a.len().min(b.len());
    let mut total = 0u32;
    let mut index = 0;
    while index < length {
        let residue = a[index].wrapping_sub(b[index]);
        total += u32::from(residue.min(residue.wrapping_neg()));
        index += 7;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A card-like picture: flat areas, soft edges, a diagonal gradient and
    /// glyph-like marks repeated along a line, `channels` bytes a pixel.
    fn card(width: u32, height: u32, channels: usize) -> Vec<u8> {
        let mark: Vec<u8> = (0..49u32).map(|k| ((k * 37 + 11) % 251) as u8).collect();
        let mut pixels = Vec::with_capacity(width as usize * height as usize * channels);
        for y in 0..height {
            for x in 0..width {
                let mut pixel = if y < height / 5 {
                    [30, 80, 120, 255]
                } else if y < height / 2 {
                    let step = ((x + 3 * y) / 97) as u8;
                    [40 - step / 4, 90 - step / 3, 140 - step / 2, 255]
                } else {
                    [250, 248, 240, 200]
                };
                let (mx, my) = (x % 40, y % 60);
                if y > height / 2 && mx < 7 && my < 7 {
                    let shade = mark[(my * 7 + mx) as usize];
                    pixel = [shade, shade / 2, 255 - shade, 255];
                }
                pixels.extend_from_slice(&pixel[..channels]);
            }
        }
        pixels
    }

    /// Noise: what a photograph looks like to a compressor.
    fn noise(width: u32, height: u32) -> Vec<u8> {
        let mut state = 0x2545_f491_u32;
        (0..width as usize * height as usize * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    }

    fn color(channels: usize) -> png::ColorType {
        if channels == 3 {
            png::ColorType::Rgb
        } else {
            png::ColorType::Rgba
        }
    }

    /// Encodes and decodes back, checking the pixels come out as they went in.
    fn round_trip(pixels: &[u8], width: u32, height: u32, channels: usize) -> Vec<u8> {
        let png = compress(pixels, (width, height), color(channels), None).expect("a PNG");
        let decoded = image::load_from_memory(&png).expect("a valid PNG");
        assert_eq!((decoded.width(), decoded.height()), (width, height));
        let decoded = if channels == 3 {
            decoded.into_rgb8().into_raw()
        } else {
            decoded.into_rgba8().into_raw()
        };
        assert!(decoded == pixels, "the pixels change through the PNG");
        assert!(checked_pixels(&png) == pixels, "a checksum is wrong");
        png
    }

    fn golden(png: &[u8]) -> (Vec<u8>, u32, u32) {
        let image = image::load_from_memory(png)
            .expect("a golden image")
            .into_rgb8();
        let (width, height) = image.dimensions();
        (image.into_raw(), width, height)
    }

    #[test]
    fn flat_graphics_keep_their_pixels_in_rgb_and_rgba() {
        for channels in [3, 4] {
            let pixels = card(300, 200, channels);
            assert!(flat::zlib(&pixels, 300 * channels, channels, None).is_some());
            round_trip(&pixels, 300, 200, channels);
        }
    }

    #[test]
    fn a_gradient_background_kept_from_a_card_to_the_next_has_the_same_pixels() {
        let card = |paint| Card {
            width: 700,
            height: 500,
            ops: vec![Op::Fill {
                rect: None,
                paint,
                radius: 0.0,
            }],
            sources: Vec::new(),
            fields: Vec::new(),
            scaled: Vec::new(),
        };
        let gradient_fill = layout::Fill::Gradient {
            from: [20, 60, 110, 255],
            to: [200, 90, 30, 255],
            angle: 160.0,
        };
        let gradient = card(gradient_fill);
        let mut fresh = Canvas::filled(700, 500, [0, 0, 0, 255]);
        fresh.draw_in_bands(|band| band.fill(None, gradient_fill, 0.0));
        // Drawn, then copied onto a canvas of other pixels given back.
        for _ in 0..2 {
            assert!(draw(&gradient).rgb() == fresh.rgb());
            drop(draw(&card(layout::Fill::Solid([9, 200, 9, 255]))));
        }
    }

    #[test]
    fn a_canvas_encodes_to_its_own_pixels() {
        let png = encode_png(Canvas::filled(64, 48, [200, 100, 50, 255])).expect("a PNG");
        let decoded = image::load_from_memory(&png)
            .expect("a valid PNG")
            .into_rgb8();
        assert!(decoded.pixels().all(|p| p.0 == [200, 100, 50]));
    }

    #[test]
    fn a_photograph_goes_to_fdeflate_and_keeps_its_pixels() {
        let pixels = noise(200, 120);
        assert!(flat::zlib(&pixels, 600, 3, None).is_none());
        round_trip(&pixels, 200, 120, 3);
    }

    #[test]
    fn odd_shapes_keep_their_pixels() {
        // Too narrow to search, one row, rows wider than deflate's window.
        for (width, height) in [(1, 1), (1, 5), (2, 3), (7, 1), (11_000, 4)] {
            round_trip(&card(width, height, 3), width, height, 3);
        }
    }

    #[test]
    fn the_same_pixels_give_the_same_bytes_whatever_came_before() {
        let pixels = card(320, 240, 3);
        let first = round_trip(&pixels, 320, 240, 3);
        // The same size with no row repeating the one above, then another.
        let mut shifted = pixels.clone();
        for (y, row) in shifted.chunks_exact_mut(960).enumerate() {
            row[y % 960] ^= 0x55;
        }
        round_trip(&shifted, 320, 240, 3);
        round_trip(&card(500, 90, 4), 500, 90, 4);
        assert_eq!(round_trip(&pixels, 320, 240, 3), first);
    }

    /// A PNG's pixels, its checksums checked (Adler-32 included).
    fn checked_pixels(png: &[u8]) -> Vec<u8> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
        decoder.ignore_checksums(false);
        let mut reader = decoder.read_info().expect("a valid PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
        reader.next_frame(&mut pixels).expect("valid image data");
        pixels
    }

    #[test]
    fn a_card_copies_the_strips_it_shares_with_earlier_cards_into_the_same_bytes() {
        // Three strips of rows each; the second card differs from the
        // first in its middle strip only.
        let (width, height) = (600, 900);
        let first = card(width, height, 3);
        let mut second = first.clone();
        let row_len = width as usize * 3;
        for byte in &mut second[450 * row_len..451 * row_len] {
            *byte = byte.wrapping_add(40);
        }
        let alone =
            |pixels: &[u8]| compress(pixels, (width, height), color(3), None).expect("a PNG");
        let strips = Strips::default();
        let batch = |pixels: &[u8]| {
            compress(pixels, (width, height), color(3), Some(&strips)).expect("a PNG")
        };
        assert!(batch(&first) == alone(&first), "the first card changes");
        assert_eq!(strips.copied(), 0);
        let copied = batch(&second);
        assert!(
            strips.copied() >= 2,
            "the shared strips are compressed again"
        );
        assert!(
            copied == alone(&second),
            "the copied strips change the bytes"
        );
        assert!(checked_pixels(&copied) == second, "the pixels change");
    }

    #[test]
    fn a_large_card_cut_in_strips_keeps_its_pixels_and_bytes_whatever_the_threads() {
        // Over 512 KB each: compressed in strips.
        for (width, height, channels) in [(600, 401, 3), (500, 400, 4)] {
            let pixels = card(width, height, channels);
            let row_len = width as usize * channels;
            assert!(flat::zlib(&pixels, row_len, channels, None).is_some());
            let encode = |threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
                let pool = pool.expect("a thread pool");
                pool.install(|| {
                    compress(&pixels, (width, height), color(channels), None).expect("a PNG")
                })
            };
            let one = encode(1);
            assert!(checked_pixels(&one) == pixels, "the pixels change");
            for _ in 0..4 {
                assert!(encode(2) == one, "the bytes depend on the threads");
            }
        }
    }

    #[test]
    fn a_card_is_a_quarter_smaller_than_with_fdeflate_and_near_zlibs_default_level() {
        for png in [
            &include_bytes!("../../../../tests/golden/chiffre.carre.png")[..],
            &include_bytes!("../../../../tests/golden/evenement.carre.png")[..],
        ] {
            let (pixels, width, height) = golden(png);
            let ours = round_trip(&pixels, width, height, 3).len();
            let rgb = png::ColorType::Rgb;
            let fast = encode_rows(&pixels, width, height, rgb, png::Compression::Fast).unwrap();
            // zlib's default level (6) on the same rows, ten times slower.
            let zlib = encode_rows(&pixels, width, height, rgb, png::Compression::Balanced);
            let zlib = zlib.unwrap();
            assert!(
                ours * 4 < fast.len() * 3,
                "{ours} against fdeflate's {}",
                fast.len()
            );
            assert!(
                ours * 100 < zlib.len() * 105,
                "{ours} against zlib's {}",
                zlib.len()
            );
        }
    }
}

//! Rendering: a post's card as a PNG. The only code that touches pixels.
//!
//! [`layout`] resolves a template's layers for a post (pure, shared with
//! `check`); [`canvas`] draws them; [`encode_png`] writes the file's bytes.

pub mod canvas;
pub mod layout;
pub mod picture;
pub mod scale;

use std::io::Write as _;

pub use canvas::Canvas;
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
    let (mut canvas, skip) = match card.ops.first() {
        Some(Op::Fill {
            rect: None,
            paint: layout::Fill::Solid(color),
            ..
        }) if color[3] == 255 => (Canvas::filled(card.width, card.height, *color), 1),
        Some(Op::Fill {
            rect: None,
            paint: layout::Fill::Gradient { from, to, .. },
            ..
        }) if from[3] == 255 && to[3] == 255 => (Canvas::filled(card.width, card.height, *from), 0),
        _ => (Canvas::new(card.width, card.height), 0),
    };
    for op in &card.ops[skip..] {
        match op {
            Op::Fill {
                rect,
                paint,
                radius,
            } => canvas.fill(*rect, *paint, *radius),
            Op::Image { image, rect, fit } => canvas.draw_image(image, *rect, *fit),
            Op::Text {
                face,
                block,
                origins,
                color,
            } => canvas.draw_text(face, block, origins, *color),
        }
    }
    canvas
}

/// Encodes a canvas as PNG: RGB when it is opaque, quickly compressed with
/// filters that suit flat graphics; compressed harder if that is not
/// enough to stay under [`MAX_PNG_BYTES`].
pub fn encode_png(canvas: Canvas) -> Result<Vec<u8>, RenderError> {
    let (width, height) = (canvas.width(), canvas.height());
    match canvas.rgb() {
        Some(rgb) => compress(rgb, width, height, png::ColorType::Rgb),
        None => {
            let rgba = canvas.into_rgba();
            compress(&rgba, width, height, png::ColorType::Rgba)
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

/// Fast compression first; harder if that is not enough.
fn compress(
    bytes: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
) -> Result<Vec<u8>, RenderError> {
    let mut last = 0;
    for compression in [png::Compression::Fast, png::Compression::High] {
        let png = encode_rows(bytes, width, height, color, compression)?;
        if png.len() <= MAX_PNG_BYTES {
            return Ok(png);
        }
        last = png.len();
    }
    Err(RenderError::TooHeavy(last))
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

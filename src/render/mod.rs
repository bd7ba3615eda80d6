//! Rendering: a post's card as a PNG. The only code that touches pixels.
//!
//! [`layout`] resolves a template's layers for a post (pure, shared with
//! `check`); [`canvas`] draws them; [`encode_png`] writes the file's bytes.

pub mod canvas;
pub mod layout;

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

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
    Encode(#[from] image::ImageError),
}

/// Draws a card.
pub fn draw(card: &Card) -> Canvas {
    let mut canvas = Canvas::new(card.width, card.height);
    for op in &card.ops {
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
    let opaque = canvas.is_opaque();
    let (width, height) = (canvas.width(), canvas.height());
    let image = canvas.into_image();
    let (bytes, color) = if opaque {
        let rgb: Vec<u8> = image
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        (rgb, image::ExtendedColorType::Rgb8)
    } else {
        (image.into_raw(), image::ExtendedColorType::Rgba8)
    };
    let mut last = 0;
    for compression in [CompressionType::Fast, CompressionType::Best] {
        let mut png = Vec::new();
        PngEncoder::new_with_quality(&mut png, compression, FilterType::Adaptive)
            .write_image(&bytes, width, height, color)?;
        if png.len() <= MAX_PNG_BYTES {
            return Ok(png);
        }
        last = png.len();
    }
    Err(RenderError::TooHeavy(last))
}

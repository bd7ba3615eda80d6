//! An image of the project (a logo, an icon): its PNG checked on reading,
//! its pixels decoded when first drawn and resampled once per size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use image::{RgbaImage, imageops};

/// Premultiplied RGBA pixels, row after row.
pub(super) type Pixels = Vec<[u8; 4]>;

/// The most pixels an image of the project may have: 40 megapixels, more
/// than any photo a card needs. An image is measured from its PNG header,
/// before any pixel is decoded, and refused past this budget; decoded, an
/// image takes 4 bytes per pixel (160 MB at the budget).
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// Why a PNG of the project cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error(
        "image trop grande : {width}x{height} pixels, soit {} mégapixels ({} au plus)",
        megapixels(u64::from(*width) * u64::from(*height)),
        megapixels(MAX_IMAGE_PIXELS)
    )]
    TooLarge { width: u32, height: u32 },
    /// What is wrong with the file, in French ([`crate::system::png_error`]).
    #[error("{0}")]
    Unreadable(String),
}

fn megapixels(pixels: u64) -> String {
    let tenths = (pixels + 50_000) / 100_000;
    if tenths.is_multiple_of(10) {
        format!("{}", tenths / 10)
    } else {
        format!("{},{}", tenths / 10, tenths % 10)
    }
}

/// An image of the project (a logo, an icon): its PNG file, checked, and
/// its pixels, decoded the first time it is drawn, with its resampled
/// copies kept for the sizes it is drawn at (a logo is drawn at the same
/// size on every card). Commands that draw nothing decode nothing.
pub struct Picture {
    png: Vec<u8>,
    width: u32,
    height: u32,
    /// Premultiplied.
    pixels: OnceLock<RgbaImage>,
    scaled: Mutex<HashMap<(Crop, u32, u32), Arc<Pixels>>>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picture")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

impl Picture {
    /// Checks a PNG file: its size from its header, within
    /// [`MAX_IMAGE_PIXELS`], then its data, decoded a row at a time (the
    /// memory of one row), so that a damaged file is reported now rather
    /// than when a card is drawn.
    pub fn from_png(png: Vec<u8>) -> Result<Picture, PictureError> {
        let unreadable =
            |error: png::DecodingError| PictureError::Unreadable(crate::system::png_error(&error));
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png.as_slice()));
        let (width, height) = {
            let info = decoder.read_header_info().map_err(unreadable)?;
            (info.width, info.height)
        };
        if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
            return Err(PictureError::TooLarge { width, height });
        }
        let mut reader = decoder.read_info().map_err(unreadable)?;
        while reader.next_row().map_err(unreadable)?.is_some() {}
        Ok(Picture {
            png,
            width,
            height,
            pixels: OnceLock::new(),
            scaled: Mutex::new(HashMap::new()),
        })
    }

    /// The PNG file, as read.
    pub fn png(&self) -> &[u8] {
        &self.png
    }

    /// The most pixels of its resampled copies kept so far.
    pub fn largest_copy(&self) -> usize {
        let cache = self
            .scaled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.values().map(|pixels| pixels.len()).max().unwrap_or(0)
    }

    /// Whether its pixels have been decoded (drawing decodes them).
    pub fn is_decoded(&self) -> bool {
        self.pixels.get().is_some()
    }

    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The pixels, premultiplied, decoded on first use.
    pub(super) fn pixels(&self) -> &RgbaImage {
        self.pixels.get_or_init(|| {
            let mut reader = image::ImageReader::with_format(
                std::io::Cursor::new(self.png.as_slice()),
                image::ImageFormat::Png,
            );
            let mut limits = image::Limits::default();
            limits.max_image_width = Some(self.width);
            limits.max_image_height = Some(self.height);
            reader.limits(limits);
            // The file was checked when it was read; should decoding fail
            // anyway, the image is drawn transparent.
            let mut image = reader.decode().map_or_else(
                |_| RgbaImage::new(self.width, self.height),
                image::DynamicImage::into_rgba8,
            );
            for pixel in image.pixels_mut() {
                pixel.0 = premultiply(pixel.0);
            }
            image
        })
    }

    /// The part `crop` (x, y, width, height) of the image resampled to
    /// `width` x `height`, premultiplied.
    pub(super) fn scaled(&self, crop: Crop, width: u32, height: u32) -> Arc<Pixels> {
        let mut cache = self
            .scaled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .entry((crop, width, height))
            .or_insert_with(|| {
                let pixels = self.pixels();
                let (x, y, part_width, part_height) = crop;
                let scaled = if crop == (0, 0, self.width, self.height) {
                    scale_premultiplied(pixels, width, height)
                } else {
                    let part = imageops::crop_imm(pixels, x, y, part_width, part_height).to_image();
                    scale_premultiplied(&part, width, height)
                };
                Arc::new(scaled)
            })
            .clone()
    }
}

/// A part of an image: x, y, width, height.
pub(super) type Crop = (u32, u32, u32, u32);

/// `x / 255`, rounded, for `x` up to 255 × 255.
pub(super) fn div255(x: u32) -> u32 {
    (x + 128 + ((x + 128) >> 8)) >> 8
}

pub(super) fn premultiply(pixel: [u8; 4]) -> [u8; 4] {
    let alpha = u32::from(pixel[3]);
    [
        div255(u32::from(pixel[0]) * alpha) as u8,
        div255(u32::from(pixel[1]) * alpha) as u8,
        div255(u32::from(pixel[2]) * alpha) as u8,
        pixel[3],
    ]
}

/// Resamples a premultiplied image, so transparent pixels lend no colour
/// to their neighbours.
fn scale_premultiplied(premultiplied: &RgbaImage, width: u32, height: u32) -> Vec<[u8; 4]> {
    if (width, height) == premultiplied.dimensions() {
        return premultiplied.pixels().map(|p| p.0).collect();
    }
    // Sixteen times smaller or more (a logo drawn small to read a text's
    // background): an average over each pixel's area, which costs a pass
    // over the source where a filter costs many.
    let (source_width, source_height) = premultiplied.dimensions();
    if source_width >= width.saturating_mul(16) && source_height >= height.saturating_mul(16) {
        return imageops::thumbnail(premultiplied, width, height)
            .pixels()
            .map(|p| p.0)
            .collect();
    }
    imageops::resize(
        premultiplied,
        width,
        height,
        imageops::FilterType::CatmullRom,
    )
    .pixels()
    .map(|p| p.0)
    .collect()
}

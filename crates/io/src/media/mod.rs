//! Where images are hosted: Buffer fetches each image from a public URL
//! when the post goes out, so the image must sit there until then.
//!
//! Images are stored under a content-addressed name (the SHA-256 of their
//! bytes), so the same image is stored once and an edited image gets a new
//! address. After storing, the URL is checked as Buffer will fetch it: a
//! GET must answer 200 with an image type. Requests go through the shared
//! client of [`crate::net`].

pub mod local;
pub mod s3;
pub mod store;

use std::time::Duration;

use crate::net;
use crieur_core::config::Media;

pub use store::{MediaError, MediaStore, content_type, extension, name, url};

/// Stores an image and checks that its URL answers as Buffer needs.
pub fn host(store: &mut dyn MediaStore, image: &[u8]) -> Result<String, MediaError> {
    let url = store.store(&name(image), image)?;
    verify(&url, image.len())?;
    Ok(url)
}

/// The largest image read back when checking a URL.
const MAX_IMAGE: usize = 16 * 1024 * 1024;

/// How long the check of a URL may take.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

/// A GET of `url` must answer 200 with an image type and the image's
/// length, as the publisher will fetch it.
pub fn verify(url: &str, length: usize) -> Result<(), MediaError> {
    let unreachable = |reason: String| MediaError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let fetch = async {
        let mut response = net::client()
            .get(url)
            .timeout(VERIFY_TIMEOUT)
            .send()
            .await
            .map_err(|error| unreachable(net::describe(&error)))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(unreachable(format!("HTTP {status}")));
        }
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !kind.starts_with("image/") {
            return Err(unreachable(format!("type « {kind} » au lieu d'une image")));
        }
        let body = net::read_body(&mut response, MAX_IMAGE)
            .await
            .map_err(|error| unreachable(format!("lecture interrompue : {}", describe(&error))))?;
        if body.len() != length {
            return Err(unreachable(format!(
                "{} octets reçus au lieu de {length}",
                body.len()
            )));
        }
        Ok(())
    };
    net::block_on(net::unless_stopped(fetch))
        .unwrap_or_else(|net::Abandoned| Err(unreachable("arrêt demandé".into())))
}

fn describe(error: &net::BodyError) -> String {
    match error {
        net::BodyError::Read(error) => net::describe(error),
        too_long => too_long.to_string(),
    }
}

/// The store the configuration names, rooted at the project.
pub fn open(media: &Media, root: &std::path::Path) -> Result<Box<dyn MediaStore>, MediaError> {
    match media {
        Media::Local {
            dir,
            public_base_url,
        } => Ok(Box::new(local::Local::new(root.join(dir), public_base_url))),
        Media::S3 {
            endpoint,
            bucket,
            region,
            public_base_url,
            acl,
        } => Ok(Box::new(
            s3::S3::from_env(endpoint, bucket, region, public_base_url)?.with_acl(acl.clone()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_images_by_their_content() {
        assert_eq!(name(b"a"), name(b"a"));
        assert_ne!(name(b"a"), name(b"b"));
        assert!(name(b"a").ends_with(".png"));
        assert!(name(&[0xFF, 0xD8, 0xFF, 0xE0]).ends_with(".jpg"));
        assert_eq!(content_type(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(url("https://x.fr/i/", "a.png"), "https://x.fr/i/a.png");
    }
}

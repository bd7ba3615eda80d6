//! Where images are hosted: Buffer fetches each image from a public URL
//! when the post goes out, so the image must sit there until then.
//!
//! Images are stored under a content-addressed name (the SHA-256 of their
//! bytes), so the same image is stored once and an edited image gets a new
//! address. After storing, the URL is checked as Buffer will fetch it: a
//! GET must answer 200 with an image type.

pub mod local;
pub mod s3;

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::Media;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("impossible d'enregistrer l'image dans {path} : {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("l'envoi de l'image vers le stockage S3 a échoué : {0}")]
    Upload(String),
    #[error(
        "l'image n'est pas accessible à {url} ({reason}) : vérifiez que le serveur web publie bien ce dossier (`public_base_url`)"
    )]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Config(String),
}

/// A place images go.
pub trait MediaStore {
    /// Stores `png` and returns its public URL.
    fn store(&mut self, name: &str, png: &[u8]) -> Result<String, MediaError>;
}

/// The content-addressed name of an image.
pub fn name(png: &[u8]) -> String {
    let digest = Sha256::digest(png);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{hex}.png")
}

/// The public URL of `name` under `base`.
pub fn url(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}

/// Stores an image and checks that its URL answers as Buffer needs.
pub fn host(store: &mut dyn MediaStore, png: &[u8]) -> Result<String, MediaError> {
    let url = store.store(&name(png), png)?;
    verify(&url)?;
    Ok(url)
}

/// A GET of `url` must answer 200 with an image type.
pub fn verify(url: &str) -> Result<(), MediaError> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .user_agent(format!("crieur/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let unreachable = |reason: String| MediaError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let response = agent
        .get(url)
        .call()
        .map_err(|error| unreachable(error.to_string()))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(unreachable(format!("HTTP {status}")));
    }
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !kind.starts_with("image/") {
        return Err(unreachable(format!("type « {kind} » au lieu d'une image")));
    }
    Ok(())
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
        assert_eq!(url("https://x.fr/i/", "a.png"), "https://x.fr/i/a.png");
    }
}

//! A place images go, and the content-addressed names they are stored
//! under.

use sha2::{Digest, Sha256};

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
        "l'image n'est pas accessible à {url} ({reason}) : vérifiez `public_base_url` dans `[media]` (le serveur web doit publier ce dossier ; un bucket S3 doit permettre la lecture publique)"
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

/// The content-addressed name of an image, with the extension of its
/// format (JPEG or PNG).
pub fn name(image: &[u8]) -> String {
    let digest = Sha256::digest(image);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{hex}.{}", extension(image))
}

/// `jpg` for JPEG bytes, `png` otherwise.
pub fn extension(image: &[u8]) -> &'static str {
    if image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "jpg"
    } else {
        "png"
    }
}

/// The media type of an image's bytes.
pub fn content_type(image: &[u8]) -> &'static str {
    match extension(image) {
        "jpg" => "image/jpeg",
        _ => "image/png",
    }
}

/// The public URL of `name` under `base`.
pub fn url(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}

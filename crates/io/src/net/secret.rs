//! Secrets never leave the process.
//!
//! Every secret crieur holds (the Buffer key, a Mastodon token, a Bluesky
//! app password and the session tokens the PDS gives back, the S3 keys) is
//! a [`Secret`]: it shows as `[secret masqué]` in `Display` and `Debug`,
//! and making one records its value. Every answer a server gives passes
//! through [`redact`] at the network edge ([`super::exchange`]: body and
//! headers; [`super::describe`]: the transport's errors) before any code
//! reads it, so a server that repeats a credential in its error message
//! cannot carry it into a message, a log, the state store, `status` or the
//! preview; the panic hook redacts too.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a secret is replaced with.
pub const MASK: &str = "[secret masqué]";

/// Values shorter than this are not worth a secret's name (and would mask
/// innocent text).
const SHORTEST: usize = 6;

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// A credential: usable by the code that sends it, never shown.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Holds `value` and records it (and the forms a server may echo it
    /// in: JSON-escaped, percent-encoded) for [`redact`].
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        remember(&value);
        Secret(value)
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

fn remember(value: &str) {
    if value.chars().count() < SHORTEST {
        return;
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json.trim_matches('"').to_owned();
    let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    for form in [value.to_owned(), json, encoded] {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    // The longest first, so that a secret holding another is masked whole.
    known.sort_by_key(|form| std::cmp::Reverse(form.len()));
}

/// `text` with every known secret masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let mut text = Cow::Borrowed(text);
    for secret in known.iter() {
        if text.contains(secret.as_str()) {
            text = Cow::Owned(text.replace(secret.as_str(), MASK));
        }
    }
    text
}

/// Bytes (an answer's body) with every known secret masked; bytes that are
/// not UTF-8 are masked where they hold a secret all the same.
pub fn redact_bytes(bytes: Vec<u8>) -> Vec<u8> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    if known.is_empty() {
        return bytes;
    }
    let mut bytes = bytes;
    for secret in known.iter() {
        let needle = secret.as_bytes();
        if bytes.windows(needle.len()).any(|window| window == needle) {
            let mut out = Vec::with_capacity(bytes.len());
            let mut rest = bytes.as_slice();
            while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(MASK.as_bytes());
                rest = &rest[at + needle.len()..];
            }
            out.extend_from_slice(rest);
            bytes = out;
        }
    }
    bytes
}

/// Masks secrets in what a panic says, then reports it as an internal
/// error, in French.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "erreur : défaut interne de crieur, à signaler : {}{place}",
            redact(&message)
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_and_is_masked_wherever_a_server_repeats_it() {
        let secret = Secret::new("jeton-\"très\"/secret+42");
        assert_eq!(format!("{secret}"), MASK);
        assert_eq!(format!("{secret:?}"), MASK);
        assert_eq!(format!("{:?}", Some(&secret)), format!("Some({MASK})"));
        assert_eq!(secret.expose(), "jeton-\"très\"/secret+42");
        let echoed = r#"{"error":"invalid token: Bearer jeton-\"très\"/secret+42"}"#;
        assert_eq!(
            redact(echoed),
            format!(r#"{{"error":"invalid token: Bearer {MASK}"}}"#)
        );
        let raw = "Authorization: Bearer jeton-\"très\"/secret+42 refused";
        assert!(!redact(raw).contains("secret+42"));
        let query = "token=jeton-%22tr%C3%A8s%22%2Fsecret%2B42";
        assert!(!redact(query).contains("secret%2B42"), "{}", redact(query));
        let bytes = redact_bytes(b"\xff\xfe jeton-\"tr\xc3\xa8s\"/secret+42 \xff".to_vec());
        assert!(!String::from_utf8_lossy(&bytes).contains("secret+42"));
        assert_eq!(redact("rien à cacher"), "rien à cacher");
    }
}

//! crieur's edge: everything that touches the outside world, around the
//! pure core of `crieur-core`.
//!
//! The one clock ([`clock`]), the project read from disk ([`loader`]),
//! atomic files ([`file`]), the SQLite state store ([`store`]), HTTP
//! ([`net`]), image hosting ([`media`]), the publishers and the pass that
//! drives them ([`publish`]), the daemon ([`daemon`]), the notifications
//! ([`notify`]), the activity report's section ([`report`]) and the preview server ([`preview`]); an
//! error said in French ([`error_text`]). See ARCHITECTURE.md for the map.

pub mod clock;
pub mod daemon;
pub mod file;
pub mod follow;
pub mod loader;
pub mod media;
pub mod net;
pub mod notify;
pub mod preview;
pub mod publish;
pub mod report;
pub mod store;

/// An error as a person reads it after `erreur : `: each context, then
/// its cause, joined by ` : `, with what the system or an image decoder
/// says in French ([`crieur_core::system::french`]). A cause a message
/// already quotes is said in French in its place, not again after it.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let raw = cause.to_string();
        let said = crieur_core::system::french(cause).unwrap_or_else(|| raw.clone());
        match parts.last_mut() {
            Some(last) if !raw.is_empty() && last.contains(&raw) => {
                *last = last.replace(&raw, &said);
            }
            Some(last) if last.contains(&said) => {}
            _ => parts.push(said),
        }
    }
    parts.join(" : ")
}

//! crieur's edge: everything that touches the outside world, around the
//! pure core of `crieur-core`.
//!
//! The one clock ([`clock`]), the project read from disk ([`loader`]),
//! atomic files ([`file`]), the SQLite state store ([`store`]), HTTP
//! ([`net`]), image hosting ([`media`]), the publishers and the pass that
//! drives them ([`publish`]), the daemon ([`daemon`]), the notifications
//! ([`notify`]), the activity report's section ([`report`]) and the preview server ([`preview`]). See ARCHITECTURE.md for the map.

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

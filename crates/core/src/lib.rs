//! crieur's pure core: what a post, a configuration and a template are,
//! when each post goes out, whether it may, how its card looks, and what
//! a publishing pass must do about it.
//!
//! Nothing here reads a file, the network or the clock: text and bytes
//! come in, values and diagnostics go out, and "now" is a parameter. The
//! crate's manifest has no IO dependency, so the compiler keeps it so.
//! `crieur-io` reads the files, keeps the state store and talks to the
//! networks; see ARCHITECTURE.md for the map.

pub mod access;
pub mod budget;
pub mod calendar;
pub mod caption;
pub mod check;
pub mod config;
pub mod contrast;
pub mod delivery;
pub mod diagnostic;
pub mod diff;
#[cfg(test)]
mod fuzz;
pub mod import;
pub mod network;
pub mod notify;
pub mod plan;
pub mod post;
pub mod project;
pub mod publisher;
pub mod ratelimit;
pub mod render;
pub mod report;
pub mod scaffold;
pub mod schedule;
pub mod sync;
pub mod system;
pub mod table;
pub mod template;
pub mod timing;
pub mod typography;
pub mod verdict;

//! crieur: social-media posts written as files, checked, laid out on a
//! timetable, rendered as branded images and published.
//!
//! The data flows files -> check -> plan -> render -> host -> publish. The
//! pure cores (`post`, `config`, `template`, `caption`, `network`,
//! `schedule`, `plan`, `check`) do no IO; `project` reads the files and
//! `cmd` prints. See ARCHITECTURE.md for the map.

pub mod access;
pub mod budget;
pub mod calendar;
pub mod caption;
pub mod check;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod contrast;
pub mod daemon;
pub mod diagnostic;
pub mod file;
#[cfg(test)]
mod fuzz;
pub mod import;
pub mod media;
pub mod net;
pub mod network;
pub mod plan;
pub mod post;
pub mod preview;
pub mod project;
pub mod publish;
pub mod render;
pub mod scaffold;
pub mod schedule;
pub mod store;
pub mod table;
pub mod template;
pub mod typography;
pub mod verdict;

//! crieur: social-media posts written as files, checked, laid out on a
//! timetable, rendered as branded images and published.
//!
//! The data flows files -> check -> plan -> render -> host -> publish.
//! This package is the `crieur` command: its command line ([`cli`]) and
//! its commands ([`cmd`]). The pure core is the `crieur-core` crate, the
//! IO edge (files, clock, state store, networks, daemon, preview) the
//! `crieur-io` crate; both are re-exported here under their module names.
//! See ARCHITECTURE.md for the map.

pub mod cli;
pub mod cmd;

pub use crieur_core::{
    access, budget, calendar, caption, check, config, contrast, delivery, diagnostic, diff, import,
    network, notify, plan, post, project, publisher, ratelimit, render, report, scaffold, schedule,
    system, table, template, timing, typography, verdict,
};
pub use crieur_io::{
    clock, daemon, file, follow, loader, media, net, notify as notifier, preview, publish,
    report as reporter, store,
};

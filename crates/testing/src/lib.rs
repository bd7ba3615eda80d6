//! The support of crieur's tests, in one place:
//!
//! - local stand-ins for Buffer ([`buffer`]), Mastodon ([`mastodon`]) and
//!   a Bluesky PDS ([`bluesky`]) that keep to the real services' contracts,
//!   and an image host ([`buffer::FileServer`]);
//! - [`Server`], the one way to serve them, or any test app, on a local
//!   port, and [`free_port`] for a server the test does not own;
//! - [`crieur`] and [`crieur_in`], the command that runs the binary as a
//!   user does, in a clean environment;
//! - [`Kills`], which kills passes at random points from a seed it prints;
//! - [`Clock`], the fakes' own time, which a test sets beside `CRIEUR_NOW`;
//! - sinks for notifications: an SMTP relay ([`smtp::SmtpSink`]) and a
//!   webhook ([`webhook::WebhookSink`]).
//!
//! - [`generated_project`], the made-up project the benchmarks measure.
//!
//! Of crieur it uses only the one clock (`crieur_io::clock`): the tests
//! meet crieur over its command line and the services' HTTP APIs.

pub mod bluesky;
pub mod buffer;
pub mod mastodon;
pub mod smtp;
pub mod webhook;

mod clock;
mod command;
mod copy;
mod generated;
mod kills;
mod server;
mod wait;

pub use clock::Clock;
pub use command::{Killed, crieur, crieur_in};
pub use copy::copy_dir;
pub use generated::generated_project;
pub use kills::Kills;
pub use server::{Incoming, Server, free_port};
pub use wait::{wait_every, wait_for};

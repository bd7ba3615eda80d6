//! Publishing: where queued posts go, and the pass that keeps them in step
//! with the files.
//!
//! A [`Publisher`] takes one post for one channel at one instant
//! ([`Outgoing`]) and creates, edits or withdraws it: [`outbox`] writes
//! folders (no account needed), [`buffer`] speaks Buffer's GraphQL API.
//! A pass ([`pass`]) works out what the files want, then [`diff`], a pure
//! function, compares it with what the store knows and what the publisher
//! reported, and returns steps (create, edit, delete, adopt, wait, settle);
//! [`execute`] carries them out, writing the intent before each call and
//! the outcome after. Only this module and `media` do network IO.

pub mod bluesky;
pub mod buffer;
pub mod engagement;
pub mod execute;
pub mod holds;
pub mod mastodon;
pub mod outbox;
pub mod outcome;
pub mod pass;
pub mod router;

#[cfg(test)]
mod interrupted;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use crieur_core::config::{Config, PublisherKind};
pub use crieur_core::publisher::{
    Engagements, Outgoing, PublishError, Publisher, Reading, RemoteChannel, RemotePost,
    RemoteStatus, Report, SentPost, normalise, text_hash,
};

/// The publisher the configuration names, with the channels that publish
/// directly routed to their own. Keys, tokens and passwords come from the
/// environment only.
pub fn open(
    root: &Path,
    config: &Config,
    requests: Vec<DateTime<Utc>>,
) -> Result<Box<dyn Publisher>, PublishError> {
    let mut direct: BTreeMap<String, Box<dyn Publisher>> = BTreeMap::new();
    for channel in config.channels.values() {
        let publisher: Box<dyn Publisher> = match &channel.direct {
            None => continue,
            Some(crieur_core::config::Direct::Mastodon { instance }) => {
                Box::new(mastodon::Mastodon::new(
                    &channel.id,
                    instance,
                    &std::env::var(mastodon::TOKEN_VARIABLE).unwrap_or_default(),
                    config.publisher.timeout,
                ))
            }
            Some(crieur_core::config::Direct::Bluesky { handle, service }) => {
                Box::new(bluesky::Bluesky::new(
                    &channel.id,
                    handle,
                    service,
                    &std::env::var(bluesky::PASSWORD_VARIABLE).unwrap_or_default(),
                    config.publisher.timeout,
                ))
            }
        };
        direct.insert(channel.id.clone(), publisher);
    }
    let default = project_publisher(root, config, requests)?;
    Ok(if direct.is_empty() {
        default
    } else {
        Box::new(router::Router::new(default, direct))
    })
}

/// The project's own publisher (`[publisher]`).
fn project_publisher(
    root: &Path,
    config: &Config,
    requests: Vec<DateTime<Utc>>,
) -> Result<Box<dyn Publisher>, PublishError> {
    Ok(match &config.publisher.kind {
        PublisherKind::Outbox { dir } => Box::new(outbox::Outbox::new(root.join(dir))),
        PublisherKind::Buffer {
            endpoint,
            organization,
        } => Box::new(buffer::Buffer::new(
            endpoint,
            buffer::token()?,
            organization,
            buffer::Options {
                timeout: config.publisher.timeout,
                budget: config.publisher.budget.clone(),
                ..buffer::Options::default()
            },
            requests,
        )),
    })
}

//! Publishing: where queued posts go, and the pass that keeps them in step
//! with the files.
//!
//! A [`Publisher`] takes one post for one channel at one instant
//! ([`Outgoing`]) and creates, edits or withdraws it: [`outbox`] writes
//! folders (no account needed), [`buffer`] speaks Buffer's GraphQL API.
//! [`reconcile`] compares the plan with the state store and calls the
//! publisher for what is new, changed or gone. Only this module and `media`
//! do network IO.

pub mod buffer;
pub mod outbox;
pub mod reconcile;

use chrono::{DateTime, Utc};

use crate::network::Network;

/// One post, for one channel, at one instant, as the publisher gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub post_id: String,
    /// The channel's name in the configuration.
    pub channel: String,
    /// The publisher's id of the channel (Buffer's), if it has one.
    pub channel_remote_id: Option<String>,
    pub network: Network,
    pub at: DateTime<Utc>,
    pub text: String,
    pub alt: String,
    /// The image, for publishers that keep it themselves.
    pub image: Vec<u8>,
    /// The image's public address, for publishers that fetch it.
    pub image_url: Option<String>,
}

/// What the publisher says of a post it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteStatus {
    /// Waiting for its instant.
    Queued,
    /// Published.
    Sent,
    /// Refused by the network, with the publisher's message.
    Failed(String),
    /// The publisher does not know it (any more).
    Missing,
}

/// Why a call to the publisher failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The publisher refused the post (invalid input, limit reached...):
    /// retrying would not help.
    #[error("{kind} : {message}")]
    Refused { kind: String, message: String },
    /// The API key is wrong or revoked: the pass stops.
    #[error("{0}")]
    Unauthorized(String),
    /// A fault that may pass (server error, rate limit, network): retried
    /// later.
    #[error("{0}")]
    Transient(String),
    /// The request may have reached the publisher, but no answer came back:
    /// whether it acted is unknown.
    #[error("{0}")]
    Unclear(String),
    /// The publisher says the request itself is malformed: a bug in crieur.
    #[error("{message} (requête : {request})")]
    Bug { message: String, request: String },
    /// The post is not at the publisher.
    #[error("introuvable chez l'éditeur : {0}")]
    NotFound(String),
    /// A local failure (disk...).
    #[error("{0}")]
    Local(String),
}

/// A place queued posts go to.
pub trait Publisher {
    /// A short name for messages (`outbox`, `Buffer`).
    fn name(&self) -> &'static str;

    /// Queues a post; returns the publisher's id for it.
    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError>;

    /// Replaces a queued post's content.
    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError>;

    /// Withdraws a queued post.
    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError>;

    /// After an unclear create: the id of a post already there with this
    /// text at this instant on this channel, if any.
    fn find(&mut self, outgoing: &Outgoing) -> Result<Option<String>, PublishError>;

    /// Where a post stands at the publisher.
    fn status(&mut self, remote_id: &str) -> Result<RemoteStatus, PublishError>;
}

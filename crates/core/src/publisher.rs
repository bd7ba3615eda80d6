//! The contract every publisher keeps: one post for one channel at one
//! instant ([`Outgoing`]) created, edited or withdrawn, and what the
//! publisher reports of the posts it holds. Buffer, the outbox, Mastodon
//! and Bluesky implement [`Publisher`]; the diff decides on its reports.

use std::collections::BTreeMap;

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
    /// The image (PNG, or JPEG for Instagram), for publishers that keep it
    /// themselves.
    pub image: Vec<u8>,
    /// The image's public address, for publishers that fetch it.
    pub image_url: Option<String>,
    /// What this attempt of this version is known by at the network,
    /// chosen and recorded before the call ([`Publisher::token`]): the
    /// Bluesky record key, the Mastodon idempotency key.
    pub token: Option<String>,
}

/// What the publisher says of a post it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteStatus {
    /// Waiting for its instant.
    Scheduled,
    /// Being sent right now.
    Sending,
    /// Published.
    Sent,
    /// Refused by the network, with the publisher's message.
    Failed(String),
    /// Saved as a draft in the publisher's app: it will not go out.
    Draft,
    /// Waiting for someone's approval in the publisher's app.
    NeedsApproval,
    /// The publisher does not know it (any more): deleted there.
    Missing,
}

/// One post the publisher holds, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePost {
    pub id: String,
    pub channel_remote_id: String,
    pub at: Option<DateTime<Utc>>,
    pub text: String,
    pub status: RemoteStatus,
}

/// A channel as the publisher knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteChannel {
    pub id: String,
    pub name: String,
    /// The network, as the publisher names it (`facebook`, `instagram`...).
    pub service: String,
    pub disconnected: bool,
    pub locked: bool,
    pub paused: bool,
}

/// What the publisher reported of the posts asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// By the publisher's id.
    pub posts: BTreeMap<String, RemoteStatus>,
    /// Whether every post asked about was looked for: only then is one not
    /// found known to be gone.
    pub complete: bool,
}

/// A post that went out, whose engagement is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPost {
    /// The publisher's id of the post.
    pub remote_id: String,
    /// The publisher's id of its channel (Buffer's), if it has one.
    pub channel_remote_id: String,
    pub at: DateTime<Utc>,
    /// Its public address, when known: Mastodon's published status is
    /// found by it.
    pub url: Option<String>,
}

/// What a network said of one sent post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Its figures, as far as the network reports them.
    Figures(crate::report::Figures),
    /// The network no longer has it: deleted after it went out.
    Gone,
}

/// What the publishers said of the posts asked about, by remote id; a post
/// neither read nor gone was not answered for (figures not yet computed,
/// a listing cut short).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engagements {
    pub read: BTreeMap<String, Reading>,
    /// The publishers that could not be read (`Publisher::holder`), with
    /// why, in French.
    pub failed: Vec<(String, String)>,
}

/// Why a call to the publisher failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The publisher refused the post (invalid input...): retrying would
    /// not help until the file or the configuration changes.
    #[error("{kind} : {message}")]
    Refused { kind: String, message: String },
    /// The channel's queue is full: room frees as posts go out.
    #[error("{0}")]
    QueueFull(String),
    /// The API key is wrong, malformed or revoked: the pass stops.
    #[error("{0}")]
    Unauthorized(String),
    /// The publisher asks to wait, or the request budget is spent, until
    /// the given instant (real time).
    #[error("{message}")]
    RateLimited {
        until: DateTime<Utc>,
        message: String,
    },
    /// One channel's credentials are refused (a revoked token, a wrong app
    /// password): its deliveries wait for a person to fix them, the other
    /// channels go on.
    #[error("{0}")]
    ChannelRefused(String),
    /// A fault that may pass (server error, network): retried later.
    #[error("{0}")]
    Transient(String),
    /// The request may have reached the publisher, but no usable answer
    /// came back: whether it acted is unknown. The text says what came
    /// back; the message adds that the request may have gone through.
    #[error("{0} : la requête a peut-être abouti")]
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

impl PublishError {
    /// The error of a call that cannot have changed anything at the
    /// publisher (an upload not yet used, a reading): an unclear answer is
    /// then only a fault that may pass.
    pub fn nothing_done(self) -> PublishError {
        match self {
            PublishError::Unclear(what) => PublishError::Transient(what),
            other => other,
        }
    }
}

/// A place queued posts go to.
pub trait Publisher {
    /// A short name for messages (`outbox`, `Buffer`).
    fn name(&self) -> &'static str;

    /// Whether it fetches images from a public URL (Buffer) rather than
    /// keeping the bytes (the outbox).
    fn fetches_images(&self) -> bool;

    /// Queues a post; returns the publisher's id for it.
    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError>;

    /// Replaces a queued post's content.
    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError>;

    /// Replaces a queued post's content; returns its id afterwards, which
    /// changes where an edit is a delete and a new create (Mastodon).
    fn replace(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<String, PublishError> {
        self.edit(remote_id, outgoing)
            .map(|()| remote_id.to_owned())
    }

    /// The public address of a post it made, when it knows it.
    fn public_url(&self, _remote_id: &str) -> Option<String> {
        None
    }

    /// Who answers for a channel's requests, as messages name it: a wait
    /// it asks for holds every channel it answers for, and only those
    /// (`Buffer`, `Mastodon (instance)`, `Bluesky (handle)`).
    fn holder(&self, _channel: &str) -> String {
        self.name().to_owned()
    }

    /// Whether the remote writes of this channel are recorded one by one
    /// (`writes`), and settled after any interruption with
    /// [`Publisher::locate`]: the networks crieur publishes to directly.
    fn tracks_writes(&self, _channel: &str) -> bool {
        false
    }

    /// What one attempt (`attempt`, unique to it) of one version of a
    /// delivery is known by at the network, chosen before the call.
    fn token(&self, _outgoing: &Outgoing, _attempt: i64) -> String {
        String::new()
    }

    /// Where a recorded write stands at the network: its remote id if it
    /// exists there (scheduled or public), `None` if it does not.
    /// `taken`: remote ids other writes of the delivery already are.
    fn locate(
        &mut self,
        _write: &crate::delivery::Write,
        _taken: &[String],
    ) -> Result<Option<String>, PublishError> {
        Ok(None)
    }

    /// What earlier passes remembered for it (the store's `meta`, by key):
    /// images a network was still processing.
    fn recall(&mut self, _memo: &BTreeMap<String, String>) {}

    /// What it remembers for the next passes: a value to keep, or `None`
    /// to forget the key.
    fn memos(&mut self) -> Vec<(String, Option<String>)> {
        Vec::new()
    }

    /// Whether it fetches the images of this channel from a public URL.
    fn fetches_images_for(&self, _channel: &str) -> bool {
        self.fetches_images()
    }

    /// Withdraws a queued post.
    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError>;

    /// The posts it holds on these channels (the publisher's ids) between
    /// two instants, to adopt what an unclear call created.
    fn list(
        &mut self,
        channels: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<RemotePost>, PublishError>;

    /// Where many posts stand, read in as few requests as it can.
    fn report(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError>;

    /// The account's channels, for publishers that have them.
    fn channels(&mut self) -> Result<Option<Vec<RemoteChannel>>, PublishError>;

    /// The engagement of posts that went out, read in as few requests as
    /// it can and within its request budget. Publishers that know nothing
    /// of it (the outbox) read nothing.
    fn engagement(&mut self, _posts: &[SentPost]) -> Result<Engagements, PublishError> {
        Ok(Engagements::default())
    }

    /// The instants of the requests made since the last call, for the
    /// request budget.
    fn take_requests(&mut self) -> Vec<DateTime<Utc>> {
        Vec::new()
    }
}

/// A text as a publisher may have rewritten it: links shortened, spaces
/// normalised. Two texts that differ only there are the same post.
pub fn normalise(text: &str) -> String {
    let finder = linkify::LinkFinder::new();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for link in finder.links(text) {
        out.push_str(&text[last..link.start()]);
        out.push_str(" <lien> ");
        last = link.end();
    }
    out.push_str(&text[last..]);
    crate::typography::squash_spaces(&out)
}

/// Eight hex digits of the hash of a text once normalised (links and
/// spaces), as [`normalise`] compares texts: what finds a post again in a
/// publisher's listings.
pub fn text_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(normalise(text).as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_link_or_respaced_text_is_the_same_text() {
        let ours = "Le DMP en chiffres : https://www.ameli.fr/alpes-maritimes/dmp  \n#Santé";
        let theirs = "Le DMP en chiffres :  https://buff.ly/3xYzAb\n#Santé";
        assert_eq!(normalise(ours), normalise(theirs));
        assert_ne!(normalise(ours), normalise("Le DMP en chiffres"));
    }
}

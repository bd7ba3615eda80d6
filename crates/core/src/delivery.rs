//! What crieur publishes and remembers: a delivery (one post on one
//! channel at one instant), where it stands, and the remote writes made
//! for it. The state store stores these; the diff decides on them.

use chrono::{DateTime, Utc};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// A create was about to be sent; its outcome is unknown until adopted.
    Creating,
    /// At the publisher, waiting for its instant.
    Queued,
    /// An edit was about to be sent.
    Editing,
    /// A withdrawal was about to be sent.
    Deleting,
    /// Withdrawn before its instant.
    Withdrawn,
    /// Published.
    Sent,
    /// Refused, by the publisher or the network.
    Error,
    /// Its instant passed while nothing could send it.
    Missed,
    /// Not yet accepted by the publisher (full queue, spent request budget,
    /// unreachable image, unusable channel): later passes try again,
    /// earliest first.
    Waiting,
    /// Gone from the publisher before being sent: someone deleted it there.
    /// Never created again by itself.
    Deleted,
    /// Its instant passed over an hour ago and the publisher has not sent
    /// it (paused queue, draft, awaiting approval, disconnected channel).
    Late,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Queued => "queued",
            Status::Editing => "editing",
            Status::Deleting => "deleting",
            Status::Withdrawn => "withdrawn",
            Status::Sent => "sent",
            Status::Error => "error",
            Status::Missed => "missed",
            Status::Waiting => "waiting",
            Status::Deleted => "deleted",
            Status::Late => "late",
        }
    }

    /// The word `status --json` and the metrics use: the internal
    /// in-flight states read as where the post stands for a person.
    pub fn public(self) -> &'static str {
        match self {
            Status::Creating => "waiting",
            Status::Editing | Status::Deleting => "queued",
            other => other.as_str(),
        }
    }

    /// The status [`Status::as_str`] wrote, if it is one.
    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "creating" => Status::Creating,
            "queued" => Status::Queued,
            "editing" => Status::Editing,
            "deleting" => Status::Deleting,
            "withdrawn" => Status::Withdrawn,
            "sent" => Status::Sent,
            "error" => Status::Error,
            "missed" => Status::Missed,
            "waiting" => Status::Waiting,
            "deleted" => Status::Deleted,
            "late" => Status::Late,
            _ => return None,
        })
    }

    /// The status in French, for `status`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Creating => "en cours d'envoi",
            Status::Queued => "programmé",
            Status::Editing => "en cours de modification",
            Status::Deleting => "en cours de retrait",
            Status::Withdrawn => "retiré",
            Status::Sent => "publié",
            Status::Error => "en échec",
            Status::Missed => "manqué",
            Status::Waiting => "en attente",
            Status::Deleted => "supprimé dans Buffer",
            Status::Late => "en retard",
        }
    }

    /// What a person should do about a delivery in this status, if
    /// anything.
    pub fn advice(self) -> Option<&'static str> {
        match self {
            Status::Error => Some(
                "corrigez ce que dit le message (le post, ou le canal chez le réseau) ; le post repart dès que son fichier change",
            ),
            Status::Deleted => Some(
                "quelqu'un l'a supprimé dans Buffer : il ne sera pas recréé ; pour le renvoyer, lancez `crieur publish --requeue <post>`",
            ),
            Status::Late => Some(
                "ouvrez Buffer : reprenez la file en pause, validez le brouillon ou reconnectez le canal",
            ),
            Status::Waiting => Some(
                "rien à faire si la cause est passagère (file pleine, limite de requêtes) : les prochains passages réessaient ; sinon corrigez ce que dit le message",
            ),
            Status::Missed => Some(
                "l'heure est passée : republiez-le à une nouvelle date (`publish_at`) si besoin",
            ),
            _ => None,
        }
    }

    /// Whether the delivery still waits for its instant at the publisher
    /// (or may, after an unclear call).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::Creating | Status::Queued | Status::Editing | Status::Deleting
        )
    }

    /// Whether the publisher holds it and has not said how it went: its
    /// outcome is read after its instant.
    pub fn awaits_outcome(self) -> bool {
        matches!(self, Status::Queued | Status::Late)
    }

    /// Every status, for listings and metrics.
    pub const ALL: [Status; 11] = [
        Status::Creating,
        Status::Queued,
        Status::Editing,
        Status::Deleting,
        Status::Withdrawn,
        Status::Sent,
        Status::Error,
        Status::Missed,
        Status::Waiting,
        Status::Deleted,
        Status::Late,
    ];
}

/// One post on one channel at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub post_id: String,
    pub channel: String,
    pub at: DateTime<Utc>,
    pub content_hash: String,
    pub image_url: Option<String>,
    pub remote_id: Option<String>,
    pub status: Status,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The identity of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub post_id: String,
    pub channel: String,
    pub at: DateTime<Utc>,
}

impl Delivery {
    pub fn key(&self) -> Key {
        Key {
            post_id: self.post_id.clone(),
            channel: self.channel.clone(),
            at: self.at,
        }
    }
}

/// One remote write of a delivery (table `writes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub id: i64,
    pub key: Key,
    /// The content hash of the version it carries.
    pub version: String,
    /// What finds it at the network (see the publisher's `locate`).
    pub token: String,
    /// The network's id for it, once known.
    pub remote_id: Option<String>,
    pub state: WriteState,
}

/// Where a remote write stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteState {
    /// Recorded before the call; what it did is not known yet.
    Intended,
    /// It exists at the network.
    Live,
    /// Never made, or deleted since.
    Gone,
}

impl WriteState {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteState::Intended => "intended",
            WriteState::Live => "live",
            WriteState::Gone => "gone",
        }
    }

    pub fn parse(text: &str) -> WriteState {
        match text {
            "intended" => WriteState::Intended,
            "live" => WriteState::Live,
            _ => WriteState::Gone,
        }
    }
}

/// The prefix of the remote ids of posts sent by a channel's own
/// publisher (direct channels), which carry their channel.
const DIRECT: &str = "direct:";

/// The id the store keeps for a direct channel's post.
pub fn direct_id(channel: &str, id: &str) -> String {
    format!("{DIRECT}{channel}/{id}")
}

/// The channel and the publisher's own id of a direct channel's post.
pub fn direct_parts(remote: &str) -> Option<(&str, &str)> {
    remote.strip_prefix(DIRECT)?.rsplit_once('/')
}

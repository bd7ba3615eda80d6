//! What a pass is given and what it gives back: its options, its summary
//! and its errors, shared by the pass and its executor.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::store::StoreError;

/// How a pass runs.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// The pass's now, read once from the one clock at its start.
    pub now: DateTime<Utc>,
    /// How late after its instant a post may still go out (`[daemon]
    /// grace`); past it, the delivery is missed.
    pub grace: Duration,
    /// Plan and describe, but send nothing and write nothing.
    pub dry_run: bool,
    /// The store was just created: look before every create.
    pub fresh_store: bool,
    /// Set when asked to stop: the pass ends after the call in flight,
    /// recorded.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
}

impl Options<'_> {
    pub fn stopping(&self) -> bool {
        self.stop
            .is_some_and(|stop| stop.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// A delivery named in the summary, with what was said of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub path: String,
    pub channel: String,
    pub message: String,
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct Summary {
    pub created: Vec<String>,
    pub edited: Vec<String>,
    pub withdrawn: Vec<String>,
    pub unchanged: usize,
    /// Outcomes the publisher reported: sent, error, deleted, late, missed.
    pub settled: Vec<(Named, crieur_core::delivery::Status)>,
    /// Calls that failed, or posts refused: exit code 1.
    pub failed: Vec<Named>,
    /// Deliveries held back (full queue, budget, unusable channel, image
    /// not reachable); `failed` holds those that need a person.
    pub waiting: Vec<Named>,
    /// Posts left out because of their errors (queued ones stay queued).
    pub blocked: Vec<Named>,
    /// Errors of the configuration that disable a series or a channel.
    pub config_errors: usize,
    /// The publishers that asked to wait, and until when: their channels'
    /// deliveries wait, the other channels go on.
    pub holds: BTreeMap<String, DateTime<Utc>>,
    /// Posts sent after their instant, within the grace, with how late.
    pub late: Vec<Named>,
    /// Versions found at a network that were not their delivery's current
    /// one (an interruption, then an edit or a withdrawal), deleted.
    pub orphans: Vec<Named>,
    /// Channels whose credentials the network refused, with its words.
    pub refused: BTreeMap<String, String>,
    /// In a dry run: each step, in French.
    pub steps: Vec<String>,
}

impl Summary {
    /// Whether a person must look at something: exit code 1.
    pub fn needs_attention(&self) -> bool {
        !self.failed.is_empty() || !self.blocked.is_empty() || self.config_errors > 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("{0}")]
    Unauthorized(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("la configuration a des erreurs : corrigez-les (voir `crieur check`)")]
    InvalidConfig,
}

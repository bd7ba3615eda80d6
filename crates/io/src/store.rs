//! The state store: what went where, in a SQLite file.
//!
//! Two tables carry the state. `assignments` pins the calendar: a series
//! post, once queued, keeps its instant and leaves the pool of posts waiting
//! for a slot. `deliveries` records, per post, channel and instant, what was
//! sent to the publisher: the content's hash, the image's URL, the
//! publisher's id, the status, the attempts and the last error.
//!
//! Every write is a transaction; the file is in WAL mode, so a crash leaves
//! it readable. Intent is written before each call to the publisher (status
//! `creating`, `editing`, `deleting`), so a pass that was killed in the
//! middle of a call knows, on the next run, that the outcome is unclear.
//! Migrations are append-only: a released migration is never edited.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crieur_core::delivery::{Delivery, Key, Status, Write, WriteState};
use crieur_core::report::{Engagement, Figures};

/// The schema, one migration per entry, applied in order; `PRAGMA
/// user_version` says how many were applied. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: the calendar and the deliveries.
    "CREATE TABLE assignments (
        post_id TEXT NOT NULL,
        series TEXT,
        at TEXT NOT NULL,
        PRIMARY KEY (post_id, at)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        post_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        at TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        image_url TEXT,
        remote_id TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (post_id, channel, at)
    );
    CREATE INDEX deliveries_status ON deliveries (status, at);
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
    // 2: the requests made to the publisher, for its request budget.
    "CREATE TABLE requests (
        at TEXT NOT NULL
    );
    CREATE INDEX requests_at ON requests (at);",
    // 3: the public address of a sent post (Mastodon, Bluesky).
    "ALTER TABLE deliveries ADD COLUMN public_url TEXT;",
    // 4: every remote write of the networks crieur publishes to directly,
    // with the version it carries and what finds it there (a Bluesky
    // record key, a Mastodon idempotency key and text), recorded before
    // the call: after any interruption, the next pass settles what each
    // one did, and deletes what is not the delivery's current version.
    "CREATE TABLE writes (
        id INTEGER PRIMARY KEY,
        post_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        at TEXT NOT NULL,
        version TEXT NOT NULL,
        token TEXT NOT NULL,
        remote_id TEXT,
        state TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX writes_open ON writes (state);",
    // 5: notifications. `announced` holds each problem told to a person
    // (the problem itself as JSON, to say when it clears), so that none
    // is told twice; `notifications` is the queue of messages to send,
    // retried with backoff until the relay or the webhook answers.
    "CREATE TABLE announced (
        key TEXT PRIMARY KEY,
        problem TEXT NOT NULL,
        announced_at TEXT NOT NULL,
        cleared_at TEXT
    );
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL
    );",
    // 6: the engagement of each sent delivery as last read from its
    // network, with the instant it was read: a report is made again from
    // it alone (`report --offline`). `gone`: deleted from the network
    // after it went out, its last figures kept. A figure the network does
    // not report stays NULL.
    "CREATE TABLE engagement (
        post_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        at TEXT NOT NULL,
        read_at TEXT NOT NULL,
        reactions INTEGER,
        shares INTEGER,
        comments INTEGER,
        reach INTEGER,
        impressions INTEGER,
        gone INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (post_id, channel, at)
    );",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("base d'état {path} illisible : {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "la base d'état {path} vient d'une version plus récente de crieur (schéma {found}, connu : {known}) : mettez crieur à jour"
    )]
    TooNew {
        path: String,
        found: usize,
        known: usize,
    },
    #[error("base d'état : {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("base d'état : valeur illisible `{0}`")]
    Corrupt(String),
}

/// An open state store.
pub struct Store {
    connection: Connection,
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(text.to_owned()))
}

impl Store {
    /// Opens (creating if need be) the store at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_reporting(path).map(|(store, _)| store)
    }

    /// Opens the store and says whether its file had to be created: a new
    /// store knows nothing of what the publisher already holds.
    pub fn open_reporting(path: &Path) -> Result<(Store, bool), StoreError> {
        let created = !path.exists();
        Store::open_inner(path).map(|store| (store, created))
    }

    fn open_inner(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let display = path.display().to_string();
        let connection = Connection::open(path).map_err(|source| StoreError::Open {
            path: display.clone(),
            source,
        })?;
        let mut store = Store { connection };
        store.prepare(&display)?;
        Ok(store)
    }

    /// Opens the store only if its file exists: reading the calendar must
    /// not create one.
    pub fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        if path.is_file() {
            Store::open(path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A store in memory, for tests and dry runs.
    pub fn in_memory() -> Result<Store, StoreError> {
        let mut store = Store {
            connection: Connection::open_in_memory()?,
        };
        store.prepare(":memory:")?;
        Ok(store)
    }

    fn prepare(&mut self, path: &str) -> Result<(), StoreError> {
        let connection = &mut self.connection;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let applied: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let applied = usize::try_from(applied).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found: applied,
                known: MIGRATIONS.len(),
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
            let transaction = connection.transaction()?;
            transaction.execute_batch(migration)?;
            transaction.pragma_update(None, "user_version", (index + 1) as i64)?;
            transaction.commit()?;
        }
        Ok(())
    }

    /// Every assignment: post id to its instants, in order.
    pub fn assignments(&self) -> Result<BTreeMap<String, Vec<DateTime<Utc>>>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT post_id, at FROM assignments ORDER BY post_id, at")?;
        let mut rows = statement.query([])?;
        let mut assignments: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let post: String = row.get(0)?;
            let at: String = row.get(1)?;
            assignments
                .entry(post)
                .or_default()
                .push(parse_instant(&at)?);
        }
        Ok(assignments)
    }

    pub fn assign(
        &self,
        post_id: &str,
        series: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT OR IGNORE INTO assignments (post_id, series, at) VALUES (?1, ?2, ?3)",
            params![post_id, series, instant(at)],
        )?;
        Ok(())
    }

    pub fn unassign(&self, post_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.connection.execute(
            "DELETE FROM assignments WHERE post_id = ?1 AND at = ?2",
            params![post_id, instant(at)],
        )?;
        Ok(())
    }

    fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawDelivery> {
        Ok(RawDelivery {
            id: row.get(0)?,
            post_id: row.get(1)?,
            channel: row.get(2)?,
            at: row.get(3)?,
            content_hash: row.get(4)?,
            image_url: row.get(5)?,
            remote_id: row.get(6)?,
            status: row.get(7)?,
            attempts: row.get(8)?,
            last_error: row.get(9)?,
            updated_at: row.get(10)?,
        })
    }

    const COLUMNS: &'static str = "id, post_id, channel, at, content_hash, image_url, remote_id, status, attempts, last_error, updated_at";

    /// Every delivery, by instant.
    pub fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {} FROM deliveries ORDER BY at, post_id, channel",
            Self::COLUMNS
        ))?;
        let raw: Vec<RawDelivery> = statement
            .query_map([], Self::row)?
            .collect::<Result<_, _>>()?;
        raw.into_iter().map(RawDelivery::parse).collect()
    }

    pub fn delivery(&self, key: &Key) -> Result<Option<Delivery>, StoreError> {
        let raw = self
            .connection
            .query_row(
                &format!(
                    "SELECT {} FROM deliveries WHERE post_id = ?1 AND channel = ?2 AND at = ?3",
                    Self::COLUMNS
                ),
                params![key.post_id, key.channel, instant(key.at)],
                Self::row,
            )
            .optional()?;
        raw.map(RawDelivery::parse).transpose()
    }

    /// Records the intent to act on a delivery before calling the
    /// publisher: creates the row if need be, sets its status, counts the
    /// attempt.
    pub fn intend(
        &self,
        key: &Key,
        status: Status,
        content_hash: &str,
        image_url: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO deliveries (post_id, channel, at, content_hash, image_url, status, attempts, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)
             ON CONFLICT (post_id, channel, at) DO UPDATE SET
                status = excluded.status,
                attempts = deliveries.attempts + 1,
                updated_at = excluded.updated_at",
            params![
                key.post_id,
                key.channel,
                instant(key.at),
                content_hash,
                image_url,
                status.as_str(),
                instant(now)
            ],
        )?;
        Ok(())
    }

    /// Records the outcome of a call: the new status, and what the
    /// publisher said.
    pub fn settle(
        &self,
        key: &Key,
        outcome: Settle<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let transaction = self.connection.unchecked_transaction()?;
        transaction.execute(
            "UPDATE deliveries SET status = ?4, last_error = ?5, updated_at = ?6,
                remote_id = COALESCE(?7, remote_id),
                content_hash = COALESCE(?8, content_hash),
                image_url = COALESCE(?9, image_url),
                attempts = CASE WHEN ?4 IN ('queued', 'sent', 'withdrawn') THEN 0 ELSE attempts END
             WHERE post_id = ?1 AND channel = ?2 AND at = ?3",
            params![
                key.post_id,
                key.channel,
                instant(key.at),
                outcome.status.as_str(),
                outcome.error,
                instant(now),
                outcome.remote_id,
                outcome.content_hash,
                outcome.image_url,
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Records the public address of a delivery's post.
    pub fn set_public_url(&self, key: &Key, url: &str) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE deliveries SET public_url = ?4 WHERE post_id = ?1 AND channel = ?2 AND at = ?3",
            params![key.post_id, key.channel, instant(key.at), url],
        )?;
        Ok(())
    }

    /// The public addresses known, by delivery.
    pub fn public_urls(&self) -> Result<BTreeMap<Key, String>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT post_id, channel, at, public_url FROM deliveries WHERE public_url IS NOT NULL",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        let mut urls = BTreeMap::new();
        for row in rows {
            let (post_id, channel, at, url) = row?;
            let Ok(at) = DateTime::parse_from_rfc3339(&at) else {
                continue;
            };
            urls.insert(
                Key {
                    post_id,
                    channel,
                    at: at.with_timezone(&Utc),
                },
                url,
            );
        }
        Ok(urls)
    }

    /// Records a delivery's state without a call: a new delivery that must
    /// wait, an outcome the publisher reported.
    pub fn record(
        &self,
        key: &Key,
        status: Status,
        content_hash: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO deliveries (post_id, channel, at, content_hash, status, last_error, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (post_id, channel, at) DO UPDATE SET
                status = excluded.status,
                last_error = excluded.last_error,
                updated_at = excluded.updated_at",
            params![
                key.post_id,
                key.channel,
                instant(key.at),
                content_hash,
                status.as_str(),
                error,
                instant(now)
            ],
        )?;
        Ok(())
    }

    /// Makes a post's deleted deliveries wait to be created again, on a
    /// person's word (`publish --requeue`); returns how many.
    pub fn requeue(&self, post_id: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.connection.execute(
            "UPDATE deliveries SET status = 'waiting', remote_id = NULL, last_error = NULL,
                content_hash = '', updated_at = ?2
             WHERE post_id = ?1 AND status = 'deleted'",
            params![post_id, instant(now)],
        )?)
    }

    /// Records requests made to the publisher, and forgets those older
    /// than a day.
    pub fn record_requests(&self, at: &[DateTime<Utc>]) -> Result<(), StoreError> {
        if at.is_empty() {
            return Ok(());
        }
        let transaction = self.connection.unchecked_transaction()?;
        for at in at {
            transaction.execute("INSERT INTO requests (at) VALUES (?1)", [instant(*at)])?;
        }
        if let Some(last) = at.iter().max() {
            transaction.execute(
                "DELETE FROM requests WHERE at < ?1",
                [instant(*last - chrono::Duration::days(1))],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// The requests made to the publisher in the last day, oldest first.
    pub fn requests(&self) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT at FROM requests ORDER BY at")?;
        let raw: Vec<String> = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        raw.iter().map(|at| parse_instant(at)).collect()
    }

    /// A value of the `meta` table (the daemon's heartbeat...).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Records a remote write before its call; returns its id (the token
    /// may be derived from it, then set with [`Store::set_write_token`]).
    pub fn begin_write(
        &self,
        key: &Key,
        version: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.connection.execute(
            "INSERT INTO writes (post_id, channel, at, version, token, state, updated_at)
             VALUES (?1, ?2, ?3, ?4, '', 'intended', ?5)",
            params![
                key.post_id,
                key.channel,
                instant(key.at),
                version,
                instant(now)
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    pub fn set_write_token(&self, id: i64, token: &str) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE writes SET token = ?2 WHERE id = ?1",
            params![id, token],
        )?;
        Ok(())
    }

    /// What a write turned out to be: live under `remote_id`, or gone.
    pub fn settle_write(
        &self,
        id: i64,
        state: WriteState,
        remote_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE writes SET state = ?2, remote_id = COALESCE(?3, remote_id), updated_at = ?4 WHERE id = ?1",
            params![id, state.as_str(), remote_id, instant(now)],
        )?;
        Ok(())
    }

    /// Forgets a write that surely made nothing (refused before anything
    /// was sent, or a post that waits for its time).
    pub fn forget_write(&self, id: i64) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM writes WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Every write of a delivery whose remote id is `remote_id` is gone.
    pub fn writes_gone(
        &self,
        key: &Key,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE writes SET state = 'gone', updated_at = ?5
             WHERE post_id = ?1 AND channel = ?2 AND at = ?3 AND remote_id = ?4",
            params![
                key.post_id,
                key.channel,
                instant(key.at),
                remote_id,
                instant(now)
            ],
        )?;
        Ok(())
    }

    /// The writes that may exist at the network (intended or live), oldest
    /// first.
    pub fn open_writes(&self) -> Result<Vec<Write>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT id, post_id, channel, at, version, token, remote_id, state FROM writes
             WHERE state != 'gone' ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, String>(7)?,
            ))
        })?;
        let mut writes = Vec::new();
        for row in rows {
            let (id, post_id, channel, at, version, token, remote_id, state) = row?;
            writes.push(Write {
                id,
                key: Key {
                    post_id,
                    channel,
                    at: parse_instant(&at)?,
                },
                version,
                token,
                remote_id,
                state: WriteState::parse(&state),
            });
        }
        Ok(writes)
    }

    /// The values of `meta` whose keys start with `prefix`.
    pub fn meta_prefixed(&self, prefix: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1")?;
        let rows = statement.query_map([prefix], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

/// A message waiting in the notifications' queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    /// `email` or `webhook`.
    pub channel: String,
    /// The message, as JSON.
    pub payload: String,
    pub attempts: u32,
    pub next_try: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What one pass tells: the problems newly announced (key and JSON), the
/// keys that cleared, and the messages to queue (channel and JSON).
#[derive(Debug, Default)]
pub struct Announcement {
    pub new: Vec<(String, String)>,
    pub cleared: Vec<String>,
    pub queued: Vec<(String, String)>,
}

impl Store {
    /// The problems announced and not cleared: key and JSON.
    pub fn announced(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT key, problem FROM announced WHERE cleared_at IS NULL ORDER BY announced_at, key",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records what a pass tells, all at once: a message is queued exactly
    /// when its problems are marked announced.
    pub fn announce(&self, what: &Announcement, now: DateTime<Utc>) -> Result<(), StoreError> {
        let transaction = self.connection.unchecked_transaction()?;
        for (key, problem) in &what.new {
            transaction.execute(
                "INSERT INTO announced (key, problem, announced_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET problem = excluded.problem,
                    announced_at = excluded.announced_at, cleared_at = NULL",
                params![key, problem, instant(now)],
            )?;
        }
        for key in &what.cleared {
            transaction.execute(
                "UPDATE announced SET cleared_at = ?2 WHERE key = ?1",
                params![key, instant(now)],
            )?;
        }
        for (channel, payload) in &what.queued {
            transaction.execute(
                "INSERT INTO notifications (channel, payload, next_try, created_at)
                 VALUES (?1, ?2, ?3, ?3)",
                params![channel, payload, instant(now)],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Every message waiting to be sent, oldest first.
    pub fn pending_notifications(&self) -> Result<Vec<Pending>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT id, channel, payload, attempts, next_try, last_error, created_at
             FROM notifications ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, u32>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, String>(6)?,
            ))
        })?;
        let mut pending = Vec::new();
        for row in rows {
            let (id, channel, payload, attempts, next_try, last_error, created_at) = row?;
            pending.push(Pending {
                id,
                channel,
                payload,
                attempts,
                next_try: parse_instant(&next_try)?,
                last_error,
                created_at: parse_instant(&created_at)?,
            });
        }
        Ok(pending)
    }

    /// A message sent: it leaves the queue.
    pub fn notification_sent(&self, id: i64) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM notifications WHERE id = ?1", [id])?;
        Ok(())
    }

    /// A message that could not be sent: tried again at `next_try`.
    pub fn notification_failed(
        &self,
        id: i64,
        error: &str,
        next_try: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE notifications SET attempts = attempts + 1, last_error = ?2, next_try = ?3
             WHERE id = ?1",
            params![id, error, instant(next_try)],
        )?;
        Ok(())
    }
}

fn to_sql(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn from_sql(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

impl Store {
    /// Records a delivery's figures as read at `read_at`. A figure the
    /// network did not give this time keeps the one read before.
    pub fn record_engagement(
        &self,
        key: &Key,
        figures: &Figures,
        read_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO engagement (post_id, channel, at, read_at, reactions, shares, comments, reach, impressions, gone)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)
             ON CONFLICT (post_id, channel, at) DO UPDATE SET
                read_at = excluded.read_at,
                reactions = COALESCE(excluded.reactions, engagement.reactions),
                shares = COALESCE(excluded.shares, engagement.shares),
                comments = COALESCE(excluded.comments, engagement.comments),
                reach = COALESCE(excluded.reach, engagement.reach),
                impressions = COALESCE(excluded.impressions, engagement.impressions),
                gone = 0",
            params![
                key.post_id,
                key.channel,
                instant(key.at),
                instant(read_at),
                to_sql(figures.reactions),
                to_sql(figures.shares),
                to_sql(figures.comments),
                to_sql(figures.reach),
                to_sql(figures.impressions),
            ],
        )?;
        Ok(())
    }

    /// Marks a delivery deleted from its network after it went out; its
    /// last figures (and when they were read) are kept.
    pub fn engagement_gone(&self, key: &Key, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO engagement (post_id, channel, at, read_at, gone) VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT (post_id, channel, at) DO UPDATE SET gone = 1",
            params![key.post_id, key.channel, instant(key.at), instant(now)],
        )?;
        Ok(())
    }

    /// Every delivery's last figures.
    pub fn engagement(&self) -> Result<BTreeMap<Key, Engagement>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT post_id, channel, at, read_at, reactions, shares, comments, reach, impressions, gone
             FROM engagement",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                [4, 5, 6, 7, 8].map(|i| row.get::<_, Option<i64>>(i).ok().flatten()),
                row.get::<_, bool>(9)?,
            ))
        })?;
        let mut all = BTreeMap::new();
        for row in rows {
            let (
                post_id,
                channel,
                at,
                read_at,
                [reactions, shares, comments, reach, impressions],
                gone,
            ) = row?;
            let key = Key {
                post_id,
                channel,
                at: parse_instant(&at)?,
            };
            let figures = Figures {
                reactions: from_sql(reactions),
                shares: from_sql(shares),
                comments: from_sql(comments),
                reach: from_sql(reach),
                impressions: from_sql(impressions),
            };
            all.insert(
                key,
                Engagement {
                    figures,
                    read_at: parse_instant(&read_at)?,
                    gone,
                },
            );
        }
        Ok(all)
    }
}

/// The outcome of a call, for [`Store::settle`].
#[derive(Debug, Clone, Copy)]
pub struct Settle<'a> {
    pub status: Status,
    pub error: Option<&'a str>,
    pub remote_id: Option<&'a str>,
    pub content_hash: Option<&'a str>,
    pub image_url: Option<&'a str>,
}

impl<'a> Settle<'a> {
    pub fn status(status: Status) -> Settle<'a> {
        Settle {
            status,
            error: None,
            remote_id: None,
            content_hash: None,
            image_url: None,
        }
    }
}

struct RawDelivery {
    id: i64,
    post_id: String,
    channel: String,
    at: String,
    content_hash: String,
    image_url: Option<String>,
    remote_id: Option<String>,
    status: String,
    attempts: u32,
    last_error: Option<String>,
    updated_at: String,
}

impl RawDelivery {
    fn parse(self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            id: self.id,
            post_id: self.post_id,
            channel: self.channel,
            at: parse_instant(&self.at)?,
            content_hash: self.content_hash,
            image_url: self.image_url,
            remote_id: self.remote_id,
            status: Status::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(self.status.clone()))?,
            attempts: self.attempts,
            last_error: self.last_error,
            updated_at: parse_instant(&self.updated_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, 18, 0, 0).unwrap()
    }

    fn key(day: u32) -> Key {
        Key {
            post_id: "chiffre/a".into(),
            channel: "facebook".into(),
            at: at(day),
        }
    }

    #[test]
    fn announces_a_problem_once_and_queues_its_message_with_it() {
        let store = Store::in_memory().unwrap();
        let what = Announcement {
            new: vec![("k".into(), "{}".into())],
            cleared: Vec::new(),
            queued: vec![("email".into(), "{\"title\":\"t\"}".into())],
        };
        store.announce(&what, at(1)).unwrap();
        assert_eq!(store.announced().unwrap(), vec![("k".into(), "{}".into())]);
        let pending = store.pending_notifications().unwrap();
        assert_eq!(pending.len(), 1);
        store
            .notification_failed(pending[0].id, "relais injoignable", at(2))
            .unwrap();
        let pending = store.pending_notifications().unwrap();
        assert_eq!((pending[0].attempts, pending[0].next_try), (1, at(2)));
        assert_eq!(pending[0].last_error.as_deref(), Some("relais injoignable"));
        store.notification_sent(pending[0].id).unwrap();
        assert!(store.pending_notifications().unwrap().is_empty());
        let cleared = Announcement {
            cleared: vec!["k".into()],
            ..Announcement::default()
        };
        store.announce(&cleared, at(3)).unwrap();
        assert!(store.announced().unwrap().is_empty());
    }

    #[test]
    fn keeps_the_public_address_of_a_sent_post() {
        let store = Store::in_memory().unwrap();
        store
            .record(&key(1), Status::Queued, "h", None, at(1))
            .unwrap();
        store
            .record(&key(2), Status::Queued, "h", None, at(1))
            .unwrap();
        let url = "https://bsky.app/profile/cpts.bsky.social/post/3lbxyz2abcd2a";
        store.set_public_url(&key(1), url).unwrap();
        let urls = store.public_urls().unwrap();
        assert_eq!(urls.len(), 1);
        assert_eq!(urls[&key(1)], url);
    }

    #[test]
    fn keeps_the_last_figures_of_a_post_deleted_after_it_went_out() {
        let store = Store::in_memory().unwrap();
        let figures = Figures::from_mastodon(5, 2, 1);
        store.record_engagement(&key(1), &figures, at(2)).unwrap();
        store
            .record_engagement(&key(1), &Figures::default(), at(3))
            .unwrap();
        store.engagement_gone(&key(1), at(4)).unwrap();
        store.engagement_gone(&key(2), at(4)).unwrap();
        let all = store.engagement().unwrap();
        assert_eq!(all[&key(1)].figures, figures);
        assert_eq!(all[&key(1)].read_at, at(3));
        assert!(all[&key(1)].gone);
        assert!(all[&key(2)].figures.is_empty());
        assert!(all[&key(2)].gone);
    }

    #[test]
    fn records_intent_then_outcome() {
        let store = Store::in_memory().unwrap();
        store
            .intend(
                &key(1),
                Status::Creating,
                "h1",
                Some("https://x/a.png"),
                at(1),
            )
            .unwrap();
        let delivery = store.delivery(&key(1)).unwrap().unwrap();
        assert_eq!(delivery.status, Status::Creating);
        assert_eq!(delivery.attempts, 1);
        store
            .settle(
                &key(1),
                Settle {
                    remote_id: Some("post-1"),
                    ..Settle::status(Status::Queued)
                },
                at(1),
            )
            .unwrap();
        let delivery = store.delivery(&key(1)).unwrap().unwrap();
        assert_eq!(delivery.status, Status::Queued);
        assert_eq!(delivery.remote_id.as_deref(), Some("post-1"));
        assert_eq!(delivery.attempts, 0);
    }

    #[test]
    fn counts_attempts_until_success() {
        let store = Store::in_memory().unwrap();
        for _ in 0..3 {
            store
                .intend(&key(1), Status::Creating, "h1", None, at(1))
                .unwrap();
            store
                .settle(
                    &key(1),
                    Settle {
                        error: Some("Buffer ne répond pas"),
                        ..Settle::status(Status::Error)
                    },
                    at(1),
                )
                .unwrap();
        }
        let delivery = store.delivery(&key(1)).unwrap().unwrap();
        assert_eq!(delivery.attempts, 3);
        assert_eq!(delivery.last_error.as_deref(), Some("Buffer ne répond pas"));
    }

    #[test]
    fn pins_the_calendar() {
        let store = Store::in_memory().unwrap();
        store.assign("chiffre/a", Some("chiffre"), at(1)).unwrap();
        store.assign("chiffre/a", Some("chiffre"), at(1)).unwrap();
        store.assign("chiffre/a", Some("chiffre"), at(8)).unwrap();
        assert_eq!(
            store.assignments().unwrap()["chiffre/a"],
            vec![at(1), at(8)]
        );
        store.unassign("chiffre/a", at(1)).unwrap();
        assert_eq!(store.assignments().unwrap()["chiffre/a"], vec![at(8)]);
    }

    #[test]
    fn survives_reopening_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/crieur.sqlite");
        {
            let store = Store::open(&path).unwrap();
            store.set_meta("last_pass", "x").unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.meta("last_pass").unwrap().as_deref(), Some("x"));
        store
            .connection
            .pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
            .unwrap();
        drop(store);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew { .. })));
    }
}

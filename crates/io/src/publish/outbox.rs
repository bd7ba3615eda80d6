//! The outbox: a local stand-in for a scheduling service.
//!
//! Each queued post is a folder of `outbox/queued/` holding `post.json`
//! (instant, channel, network, caption, alt text), `caption.txt` and the
//! image, `image.png` (or `image.jpg`, Instagram's JPEG); the whole pipeline runs with no account. A folder's name is
//! its id, made from the instant, the channel and the post, so creating
//! the same post twice finds the folder already there. Withdrawn posts move
//! to `outbox/withdrawn/`; the daemon delivers due posts to `outbox/sent/`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::file::write_durable;
use crieur_core::publisher::{
    Outgoing, PublishError, Publisher, RemoteChannel, RemotePost, RemoteStatus, Report,
};

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const WITHDRAWN: &str = "withdrawn";
pub const MISSED: &str = "missed";

/// What `post.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub post: String,
    pub channel: String,
    pub network: String,
    /// The instant, UTC, RFC 3339.
    pub at: String,
    pub caption: String,
    pub alt: String,
    pub image: String,
}

pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Outbox {
        Outbox { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder name of a post: sortable by instant, unique per post,
    /// channel and instant.
    pub fn id(outgoing: &Outgoing) -> String {
        format!(
            "{}-{}-{}",
            outgoing.at.format("%Y%m%dT%H%M%SZ"),
            outgoing.channel,
            outgoing.post_id.replace('/', "__")
        )
    }

    fn folder(&self, state: &str, id: &str) -> PathBuf {
        self.dir.join(state).join(id)
    }

    fn write(&self, id: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        let folder = self.folder(QUEUED, id);
        let local = |error: std::io::Error| {
            PublishError::Local(format!(
                "écriture impossible dans {} : {error}",
                folder.display()
            ))
        };
        fs::create_dir_all(&folder).map_err(local)?;
        let image = format!("image.{}", crate::media::extension(&outgoing.image));
        let entry = Entry {
            post: outgoing.post_id.clone(),
            channel: outgoing.channel.clone(),
            network: outgoing.network.as_str().to_owned(),
            at: outgoing.at.to_rfc3339(),
            caption: outgoing.text.clone(),
            alt: outgoing.alt.clone(),
            image: image.clone(),
        };
        let json = serde_json::to_vec_pretty(&entry)
            .map_err(|error| PublishError::Local(error.to_string()))?;
        // The image first, `post.json` last: a folder with a `post.json` is
        // complete.
        write_durable(&folder.join(&image), &outgoing.image).map_err(local)?;
        write_durable(&folder.join("caption.txt"), outgoing.text.as_bytes()).map_err(local)?;
        write_durable(&folder.join("post.json"), &json).map_err(local)?;
        Ok(())
    }

    /// The entries of one state's folders, by id.
    pub fn entries(&self, state: &str) -> Vec<(String, Entry)> {
        let Ok(folders) = fs::read_dir(self.dir.join(state)) else {
            return Vec::new();
        };
        let mut entries: Vec<(String, Entry)> = folders
            .filter_map(Result::ok)
            .filter_map(|folder| {
                let id = folder.file_name().to_str()?.to_owned();
                let json = fs::read(folder.path().join("post.json")).ok()?;
                let entry = serde_json::from_slice(&json).ok()?;
                Some((id, entry))
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    }

    /// Moves a queued post to `sent/`: the daemon's delivery.
    pub fn deliver(&self, id: &str) -> Result<(), PublishError> {
        self.move_to(id, SENT)
    }

    /// Moves a queued post whose instant passed too long ago to `missed/`.
    pub fn miss(&self, id: &str) -> Result<(), PublishError> {
        self.move_to(id, MISSED)
    }

    fn move_to(&self, id: &str, state: &str) -> Result<(), PublishError> {
        let from = self.folder(QUEUED, id);
        let to = self.folder(state, id);
        if !from.join("post.json").is_file() {
            return Err(PublishError::NotFound(id.to_owned()));
        }
        let local = |error: std::io::Error| {
            PublishError::Local(format!(
                "déplacement impossible de {} : {error}",
                from.display()
            ))
        };
        fs::create_dir_all(self.dir.join(state)).map_err(local)?;
        if to.exists() {
            fs::remove_dir_all(&to).map_err(local)?;
        }
        fs::rename(&from, &to).map_err(local)
    }
}

impl Publisher for Outbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
        let id = Outbox::id(outgoing);
        self.write(&id, outgoing)?;
        Ok(id)
    }

    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        if !self.folder(QUEUED, remote_id).join("post.json").is_file() {
            return Err(PublishError::NotFound(remote_id.to_owned()));
        }
        self.write(remote_id, outgoing)
    }

    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError> {
        self.move_to(remote_id, WITHDRAWN)
    }

    fn fetches_images(&self) -> bool {
        false
    }

    fn list(
        &mut self,
        channels: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<RemotePost>, PublishError> {
        let _ = channels;
        Ok(self
            .entries(QUEUED)
            .into_iter()
            .filter_map(|(id, entry)| {
                let at = DateTime::parse_from_rfc3339(&entry.at)
                    .ok()?
                    .with_timezone(&Utc);
                (at >= from && at <= until).then_some(RemotePost {
                    id,
                    channel_remote_id: entry.channel,
                    at: Some(at),
                    text: entry.caption,
                    status: RemoteStatus::Scheduled,
                })
            })
            .collect())
    }

    /// The daemon delivers the outbox itself and records each outcome: a
    /// pass has nothing to read.
    fn report(
        &mut self,
        _remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError> {
        Ok(Report::default())
    }

    fn channels(&mut self) -> Result<Option<Vec<RemoteChannel>>, PublishError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use crieur_core::network::Network;

    fn outgoing(text: &str) -> Outgoing {
        Outgoing {
            post_id: "chiffre/a".into(),
            channel: "facebook".into(),
            channel_remote_id: None,
            network: Network::Facebook,
            at: chrono::Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap(),
            text: text.into(),
            alt: "Le chiffre".into(),
            image: vec![1, 2, 3],
            image_url: None,
            token: None,
        }
    }

    #[test]
    fn creates_edits_finds_and_withdraws_folders() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::new(dir.path().join("outbox"));
        let id = outbox.create(&outgoing("Bonjour")).unwrap();
        assert_eq!(id, "20261201T180000Z-facebook-chiffre__a");
        let at = outgoing("Bonjour").at;
        let listed = outbox.list(&[], at, at).unwrap();
        assert_eq!(listed[0].id, id);
        assert_eq!(listed[0].channel_remote_id, "facebook");
        outbox.edit(&id, &outgoing("Bonsoir")).unwrap();
        let entries = outbox.entries(QUEUED);
        assert_eq!(entries[0].1.caption, "Bonsoir");
        outbox.delete(&id).unwrap();
        assert!(outbox.list(&[], at, at).unwrap().is_empty());
        assert_eq!(outbox.entries(WITHDRAWN).len(), 1);
        assert!(matches!(
            outbox.edit(&id, &outgoing("x")),
            Err(PublishError::NotFound(_))
        ));
    }

    #[test]
    fn delivers_to_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::new(dir.path().join("outbox"));
        let id = outbox.create(&outgoing("Bonjour")).unwrap();
        outbox.deliver(&id).unwrap();
        assert_eq!(outbox.entries(SENT)[0].0, id);
    }

    #[test]
    fn names_the_image_after_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::new(dir.path().join("outbox"));
        let png = outbox.create(&outgoing("Bonjour")).unwrap();
        let jpeg = Outgoing {
            channel: "instagram".into(),
            network: Network::Instagram,
            image: vec![0xFF, 0xD8, 0xFF, 0xE0],
            ..outgoing("Bonjour")
        };
        let jpg = outbox.create(&jpeg).unwrap();
        let folder = |id: &str| dir.path().join("outbox").join(QUEUED).join(id);
        assert!(folder(&png).join("image.png").is_file());
        assert!(folder(&jpg).join("image.jpg").is_file());
        assert!(!folder(&jpg).join("image.png").exists());
        let entries = outbox.entries(QUEUED);
        let entry = |id: &str| &entries.iter().find(|(i, _)| i == id).unwrap().1;
        assert_eq!(entry(&jpg).image, "image.jpg");
        assert_eq!(entry(&png).image, "image.png");
    }
}

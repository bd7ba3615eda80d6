//! Channels that publish directly, each to its own publisher, beside the
//! project's publisher (Buffer or the outbox) for the others.
//!
//! The router is itself a [`Publisher`], so the pass, the diff and the
//! executor stay as they are. The ids of direct channels' posts carry
//! their channel (`direct:<channel>/<id>`): a delete or a report, which get
//! only an id, reaches the publisher that made it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crieur_core::publisher::{
    Engagements, Outgoing, PublishError, Publisher, RemoteChannel, RemotePost, Report, SentPost,
};

pub struct Router {
    default: Box<dyn Publisher>,
    /// By channel name.
    direct: BTreeMap<String, Box<dyn Publisher>>,
}

impl Router {
    pub fn new(default: Box<dyn Publisher>, direct: BTreeMap<String, Box<dyn Publisher>>) -> Self {
        Router { default, direct }
    }
}

use crieur_core::delivery::{direct_id, direct_parts};

impl Router {
    /// The publisher of a remote id, with the id it knows.
    fn by_id<'r>(&mut self, remote: &'r str) -> (&mut dyn Publisher, &'r str) {
        match direct_parts(remote) {
            Some((channel, id)) if self.direct.contains_key(channel) => {
                let publisher = self.direct.get_mut(channel).expect("checked");
                (publisher.as_mut(), id)
            }
            _ => (self.default.as_mut(), remote),
        }
    }
}

impl Publisher for Router {
    fn name(&self) -> &'static str {
        self.default.name()
    }

    fn fetches_images(&self) -> bool {
        self.default.fetches_images()
    }

    fn public_url(&self, remote_id: &str) -> Option<String> {
        match direct_parts(remote_id) {
            Some((channel, id)) => self.direct.get(channel)?.public_url(id),
            None => self.default.public_url(remote_id),
        }
    }

    fn recall(&mut self, memo: &BTreeMap<String, String>) {
        self.default.recall(memo);
        for publisher in self.direct.values_mut() {
            publisher.recall(memo);
        }
    }

    fn memos(&mut self) -> Vec<(String, Option<String>)> {
        let mut all = self.default.memos();
        for publisher in self.direct.values_mut() {
            all.extend(publisher.memos());
        }
        all
    }

    fn tracks_writes(&self, channel: &str) -> bool {
        match self.direct.get(channel) {
            Some(publisher) => publisher.tracks_writes(channel),
            None => self.default.tracks_writes(channel),
        }
    }

    fn token(&self, outgoing: &Outgoing, attempt: i64) -> String {
        match self.direct.get(&outgoing.channel) {
            Some(publisher) => publisher.token(outgoing, attempt),
            None => self.default.token(outgoing, attempt),
        }
    }

    fn locate(
        &mut self,
        write: &crieur_core::delivery::Write,
        taken: &[String],
    ) -> Result<Option<String>, PublishError> {
        let channel = write.key.channel.clone();
        let Some(publisher) = self.direct.get_mut(&channel) else {
            return self.default.locate(write, taken);
        };
        let theirs: Vec<String> = taken
            .iter()
            .filter_map(|remote| direct_parts(remote).map(|(_, id)| id.to_owned()))
            .collect();
        Ok(publisher
            .locate(write, &theirs)?
            .map(|id| direct_id(&channel, &id)))
    }

    fn holder(&self, channel: &str) -> String {
        match self.direct.get(channel) {
            Some(publisher) => publisher.holder(channel),
            None => self.default.holder(channel),
        }
    }

    fn fetches_images_for(&self, channel: &str) -> bool {
        match self.direct.get(channel) {
            Some(publisher) => publisher.fetches_images(),
            None => self.default.fetches_images(),
        }
    }

    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
        match self.direct.get_mut(&outgoing.channel) {
            Some(publisher) => Ok(direct_id(&outgoing.channel, &publisher.create(outgoing)?)),
            None => self.default.create(outgoing),
        }
    }

    fn edit(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<(), PublishError> {
        self.replace(remote_id, outgoing).map(|_| ())
    }

    fn replace(&mut self, remote_id: &str, outgoing: &Outgoing) -> Result<String, PublishError> {
        match direct_parts(remote_id) {
            Some((channel, id)) if self.direct.contains_key(channel) => {
                let channel = channel.to_owned();
                let publisher = self.direct.get_mut(&channel).expect("checked");
                Ok(direct_id(&channel, &publisher.replace(id, outgoing)?))
            }
            _ => self.default.replace(remote_id, outgoing),
        }
    }

    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError> {
        let (publisher, id) = self.by_id(remote_id);
        publisher.delete(id)
    }

    fn list(
        &mut self,
        channels: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<RemotePost>, PublishError> {
        let mut posts = if channels.is_empty() {
            Vec::new()
        } else {
            self.default.list(channels, from, until)?
        };
        for (channel, publisher) in &mut self.direct {
            // A direct channel that cannot be read adopts nothing this time.
            let Ok(found) = publisher.list(std::slice::from_ref(channel), from, until) else {
                continue;
            };
            posts.extend(found.into_iter().map(|post| RemotePost {
                id: direct_id(channel, &post.id),
                channel_remote_id: channel.clone(),
                ..post
            }));
        }
        Ok(posts)
    }

    /// Each publisher reads its own posts; one that fails is named in
    /// `failed` and the others are read all the same.
    fn engagement(&mut self, posts: &[SentPost]) -> Result<Engagements, PublishError> {
        let mut by_channel: BTreeMap<String, Vec<SentPost>> = BTreeMap::new();
        let mut rest = Vec::new();
        for post in posts {
            match direct_parts(&post.remote_id) {
                Some((name, id)) if self.direct.contains_key(name) => {
                    by_channel
                        .entry(name.to_owned())
                        .or_default()
                        .push(SentPost {
                            remote_id: id.to_owned(),
                            ..post.clone()
                        });
                }
                _ => rest.push(post.clone()),
            }
        }
        let mut all = Engagements::default();
        if !rest.is_empty() {
            match self.default.engagement(&rest) {
                Ok(found) => all = found,
                Err(error) => all
                    .failed
                    .push((self.default.name().to_owned(), error.to_string())),
            }
        }
        for (channel, posts) in by_channel {
            let publisher = self.direct.get_mut(&channel).expect("checked");
            match publisher.engagement(&posts) {
                Ok(found) => {
                    all.read.extend(
                        found
                            .read
                            .into_iter()
                            .map(|(id, reading)| (direct_id(&channel, &id), reading)),
                    );
                    all.failed.extend(found.failed);
                }
                Err(error) => all
                    .failed
                    .push((publisher.holder(&channel), error.to_string())),
            }
        }
        Ok(all)
    }

    fn report(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError> {
        let mut by_channel: BTreeMap<String, Vec<(String, String, DateTime<Utc>)>> =
            BTreeMap::new();
        let mut rest = Vec::new();
        for (remote, channel, at) in remote_ids {
            match direct_parts(remote) {
                Some((name, id)) if self.direct.contains_key(name) => by_channel
                    .entry(name.to_owned())
                    .or_default()
                    .push((id.to_owned(), channel.clone(), *at)),
                _ => rest.push((remote.clone(), channel.clone(), *at)),
            }
        }
        let mut report = if rest.is_empty() {
            Report {
                complete: true,
                ..Report::default()
            }
        } else {
            self.default.report(&rest)?
        };
        for (channel, ids) in by_channel {
            let publisher = self.direct.get_mut(&channel).expect("checked");
            match publisher.report(&ids) {
                Ok(found) => {
                    report.complete &= found.complete;
                    report.posts.extend(
                        found
                            .posts
                            .into_iter()
                            .map(|(id, status)| (direct_id(&channel, &id), status)),
                    );
                }
                Err(_) => report.complete = false,
            }
        }
        Ok(report)
    }

    fn channels(&mut self) -> Result<Option<Vec<RemoteChannel>>, PublishError> {
        self.default.channels()
    }

    fn take_requests(&mut self) -> Vec<DateTime<Utc>> {
        // The request budget is the project publisher's (Buffer's).
        self.default.take_requests()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crieur_core::network::Network;

    /// Records the calls it gets; ids are `<name>-<n>`.
    struct Recorder {
        name: &'static str,
        fetches: bool,
        calls: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
    }

    impl Publisher for Recorder {
        fn name(&self) -> &'static str {
            self.name
        }
        fn fetches_images(&self) -> bool {
            self.fetches
        }
        fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
            self.calls
                .borrow_mut()
                .push(format!("{} create {}", self.name, outgoing.channel));
            Ok(format!("{}-1", self.name))
        }
        fn edit(&mut self, remote_id: &str, _: &Outgoing) -> Result<(), PublishError> {
            self.calls
                .borrow_mut()
                .push(format!("{} edit {remote_id}", self.name));
            Ok(())
        }
        fn delete(&mut self, remote_id: &str) -> Result<(), PublishError> {
            self.calls
                .borrow_mut()
                .push(format!("{} delete {remote_id}", self.name));
            Ok(())
        }
        fn list(
            &mut self,
            _: &[String],
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Vec<RemotePost>, PublishError> {
            Ok(Vec::new())
        }
        fn report(
            &mut self,
            ids: &[(String, String, DateTime<Utc>)],
        ) -> Result<Report, PublishError> {
            Ok(Report {
                posts: ids
                    .iter()
                    .map(|(id, _, _)| (id.clone(), crieur_core::publisher::RemoteStatus::Sent))
                    .collect(),
                complete: true,
            })
        }
        fn channels(&mut self) -> Result<Option<Vec<RemoteChannel>>, PublishError> {
            Ok(None)
        }
    }

    fn outgoing(channel: &str) -> Outgoing {
        Outgoing {
            post_id: "a".to_owned(),
            channel: channel.to_owned(),
            channel_remote_id: None,
            network: Network::Mastodon,
            at: DateTime::<Utc>::UNIX_EPOCH,
            text: "x".to_owned(),
            alt: String::new(),
            image: Vec::new(),
            image_url: None,
            token: None,
        }
    }

    #[test]
    fn each_channel_reaches_its_own_publisher_and_ids_find_their_way_back() {
        let calls = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let buffer = Recorder {
            name: "Buffer",
            fetches: true,
            calls: calls.clone(),
        };
        let mastodon = Recorder {
            name: "Mastodon",
            fetches: false,
            calls: calls.clone(),
        };
        let mut direct: BTreeMap<String, Box<dyn Publisher>> = BTreeMap::new();
        direct.insert("masto".to_owned(), Box::new(mastodon));
        let mut router = Router::new(Box::new(buffer), direct);
        assert!(router.fetches_images_for("facebook"));
        assert!(!router.fetches_images_for("masto"));
        assert_eq!(router.create(&outgoing("facebook")).unwrap(), "Buffer-1");
        let id = router.create(&outgoing("masto")).unwrap();
        assert_eq!(id, "direct:masto/Mastodon-1");
        assert_eq!(router.replace(&id, &outgoing("masto")).unwrap(), id);
        router.delete(&id).unwrap();
        router.delete("Buffer-1").unwrap();
        let report = router
            .report(&[
                (id.clone(), String::new(), DateTime::<Utc>::UNIX_EPOCH),
                (
                    "Buffer-1".to_owned(),
                    "chan".to_owned(),
                    DateTime::<Utc>::UNIX_EPOCH,
                ),
            ])
            .unwrap();
        assert!(report.complete);
        assert_eq!(
            report.posts.keys().collect::<Vec<_>>(),
            ["Buffer-1", "direct:masto/Mastodon-1"]
        );
        assert_eq!(
            *calls.borrow(),
            [
                "Buffer create facebook",
                "Mastodon create masto",
                "Mastodon edit Mastodon-1",
                "Mastodon delete Mastodon-1",
                "Buffer delete Buffer-1",
            ]
        );
    }
}

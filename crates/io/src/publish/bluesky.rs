//! Bluesky (atproto): its XRPC calls over the one client, record keys,
//! rich-text facets and the public address of a post.
//!
//! Bluesky has no server-side scheduling: a post goes out at its time from
//! crieur. A post is made exactly once because crieur chooses its record key
//! (a TID) and records it before `com.atproto.repo.createRecord`: after an
//! unclear answer, `getRecord` with that key says whether it exists, and a
//! second create with the same key is refused rather than duplicated.
//!
//! Facets point into the text by UTF-8 byte offsets, not characters: an
//! accent takes two bytes, most emoji four.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::net;
use crieur_core::publisher::{Outgoing, PublishError, Publisher, RemotePost, RemoteStatus, Report};
use crieur_core::ratelimit;

/// Where the app password comes from.
pub const PASSWORD_VARIABLE: &str = "CRIEUR_BLUESKY_APP_PASSWORD";
/// The collection of posts.
const POSTS: &str = "app.bsky.feed.post";
/// The longest answer read from the PDS.
const MAX_ANSWER: usize = 4 * 1024 * 1024;
/// How early a post may leave before its instant (a pass that starts a
/// little ahead of the slot).
const EARLY: i64 = 30;

/// The largest blob a PDS accepts for an image.
pub const MAX_BLOB_BYTES: usize = 1_000_000;
/// The most images one post embeds.
pub const MAX_IMAGES: usize = 4;
/// The longest alt text of an image, in characters.
pub const MAX_ALT: usize = 2_000;
/// The longest hashtag, in graphemes (without `#`).
pub const MAX_TAG_GRAPHEMES: usize = 64;

/// The alphabet of TIDs (base32, sortable).
const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A record key (TID) from microseconds since the Unix epoch and a clock
/// identifier (10 bits): 13 characters that sort as the instants do.
pub fn tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..13)
        .map(|i| TID_ALPHABET[((value >> (60 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// Whether a text is a well-formed TID.
pub fn is_tid(text: &str) -> bool {
    text.len() == 13
        && text.bytes().all(|b| TID_ALPHABET.contains(&b))
        // The first character carries the top bits, the highest always zero.
        && TID_ALPHABET[..16].contains(&text.as_bytes()[0])
}

/// The longest page read for its link card.
const MAX_PAGE: usize = 1024 * 1024;
/// The longest image read for a link card.
const MAX_CARD_IMAGE: usize = 5 * 1024 * 1024;
/// How long fetching a page (or its image) for a link card may take.
const CARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a page's Open Graph tags say (or its `<title>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenGraph {
    pub title: String,
    pub description: String,
    pub image: Option<String>,
}

/// Reads `og:title`, `og:description` and `og:image` (else the `<title>`
/// and the `description` meta) from a page, pure and forgiving: attributes
/// in any order, either quote, common entities decoded.
pub fn open_graph(html: &str) -> OpenGraph {
    let mut graph = OpenGraph::default();
    let mut plain_description = String::new();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("<meta") {
        let start = from + found;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &html[start..end];
        from = end;
        let key = attribute(tag, "property")
            .or_else(|| attribute(tag, "name"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let Some(content) = attribute(tag, "content") else {
            continue;
        };
        match key.as_str() {
            "og:title" => graph.title = content,
            "og:description" => graph.description = content,
            "og:image" | "og:image:url" if graph.image.is_none() => graph.image = Some(content),
            "description" => plain_description = content,
            _ => {}
        }
    }
    if graph.title.is_empty()
        && let Some(open) = lower.find("<title")
        && let Some(gt) = lower[open..].find('>')
        && let Some(close) = lower[open..].find("</title")
        && open + gt < open + close
    {
        graph.title = decode(html[open + gt + 1..open + close].trim());
    }
    if graph.description.is_empty() {
        graph.description = plain_description;
    }
    graph
}

/// The value of one attribute of a tag, decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before = lower[..at].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = lower[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let offset = tag.len() - rest.trim_start().len();
        let value = &tag[offset..];
        let quote = value.chars().next()?;
        let value = if quote == '"' || quote == '\'' {
            &value[1..value[1..].find(quote).map_or(value.len(), |e| e + 1)]
        } else {
            value
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()?
        };
        return Some(decode(value));
    }
    None
}

fn decode(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Fetches at most `limit` bytes of a public address, within the card's
/// timeout.
fn fetch(url: &str, limit: usize) -> Option<Vec<u8>> {
    let call = net::client().get(url).timeout(CARD_TIMEOUT);
    let exchange = async move {
        let mut response = call.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        net::read_body(&mut response, limit).await.ok()
    };
    net::block_on(net::unless_stopped(exchange)).ok().flatten()
}

/// The public address of a post.
pub fn post_url(handle: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{handle}/post/{rkey}")
}

/// One facet of a text: a byte range and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    /// UTF-8 byte offsets, end excluded.
    pub start: usize,
    pub end: usize,
    pub feature: Feature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    Link(String),
    /// A hashtag, without its `#`.
    Tag(String),
}

impl Facet {
    /// The facet as `app.bsky.richtext.facet` expects it.
    pub fn to_json(&self) -> Value {
        let feature = match &self.feature {
            Feature::Link(uri) => json!({"$type": "app.bsky.richtext.facet#link", "uri": uri}),
            Feature::Tag(tag) => json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
        };
        json!({
            "index": {"byteStart": self.start, "byteEnd": self.end},
            "features": [feature],
        })
    }
}

/// The links (with a scheme) and hashtags of a text, in order. A hashtag
/// starts a word, is not only digits, and loses the punctuation that ends
/// a sentence; a `#` inside a link is part of the link.
pub fn facets(text: &str) -> Vec<Facet> {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    let mut facets: Vec<Facet> = finder
        .links(text)
        .map(|link| Facet {
            start: link.start(),
            end: link.end(),
            feature: Feature::Link(link.as_str().to_owned()),
        })
        .collect();
    let links: Vec<(usize, usize)> = facets.iter().map(|f| (f.start, f.end)).collect();
    let mut previous: Option<char> = None;
    for (start, c) in text.char_indices() {
        let starts_word = previous.is_none_or(char::is_whitespace);
        previous = Some(c);
        if c != '#' || !starts_word || links.iter().any(|(s, e)| (*s..*e).contains(&start)) {
            continue;
        }
        let body_start = start + 1;
        let body_len: usize = text[body_start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum();
        let tag = &text[body_start..body_start + body_len];
        if tag.is_empty()
            || tag.chars().all(|c| c.is_ascii_digit())
            || tag.graphemes(true).count() > MAX_TAG_GRAPHEMES
        {
            continue;
        }
        facets.push(Facet {
            start,
            end: body_start + body_len,
            feature: Feature::Tag(tag.to_owned()),
        });
    }
    facets.sort_by_key(|f| f.start);
    facets
}

/// The record key of one version of one delivery, chosen before any call
/// and found again from the delivery alone: its instant (to the second)
/// plus a hash of post, channel, instant and content spread over the
/// microseconds and the clock identifier. A retry, by this pass or a
/// later one, uses the same key; the PDS refuses a second record under it.
pub fn record_key(outgoing: &Outgoing) -> String {
    record_key_of(outgoing, 0)
}

/// The record key of one attempt of one version of a delivery: each
/// attempt its own, so that a version written again after a withdrawal
/// (A, then B, then A) is a new record.
pub fn record_key_of(outgoing: &Outgoing, attempt: i64) -> String {
    let mut hasher = Sha256::new();
    if attempt != 0 {
        hasher.update(attempt.to_le_bytes());
    }
    for part in [
        outgoing.post_id.as_bytes(),
        outgoing.channel.as_bytes(),
        outgoing.at.to_rfc3339().as_bytes(),
        outgoing.text.as_bytes(),
        outgoing.alt.as_bytes(),
        &outgoing.image,
    ] {
        hasher.update(part);
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let hash = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    let seconds = u64::try_from(outgoing.at.timestamp()).unwrap_or(0);
    tid(
        seconds * 1_000_000 + hash % 1_000_000,
        ((hash >> 32) & 0x3ff) as u16,
    )
}

/// A Bluesky account, for one channel.
pub struct Bluesky {
    channel: String,
    handle: String,
    service: String,
    password: net::Secret,
    timeout: std::time::Duration,
    session: Option<Session>,
}

#[derive(Debug, Clone)]
struct Session {
    access: net::Secret,
    refresh: net::Secret,
    did: String,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Bluesky {
    pub fn new(
        channel: &str,
        handle: &str,
        service: &str,
        password: &str,
        timeout: std::time::Duration,
    ) -> Self {
        Bluesky {
            channel: channel.to_owned(),
            handle: handle.to_owned(),
            service: service.trim_end_matches('/').to_owned(),
            password: net::Secret::new(password.trim()),
            timeout,
            session: None,
        }
    }

    /// The password is refused or missing: the channel waits, the pass goes on.
    fn unauthorized(&self, why: &str) -> PublishError {
        PublishError::ChannelRefused(format!(
            "le canal Bluesky « {} » ne peut pas publier : {why} ; créez un mot de passe d'application (Paramètres > Confidentialité et sécurité > Mots de passe d'application) et placez-le dans la variable d'environnement {PASSWORD_VARIABLE}",
            self.channel
        ))
    }

    /// One XRPC call; `bearer` is the session token to send, if any.
    fn xrpc(
        &self,
        method: reqwest::Method,
        nsid: &str,
        bearer: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, PublishError> {
        let mut call = net::client()
            .request(method, format!("{}/xrpc/{nsid}", self.service))
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| self.unauthorized("la session est mal formée"))?;
            value.set_sensitive(true);
            call = call.header(reqwest::header::AUTHORIZATION, value);
        }
        if let Some((content_type, bytes)) = body {
            call = call
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let unclear = |why: String| {
            PublishError::Unclear(format!("pas de réponse utilisable de Bluesky ({why})"))
        };
        let net::Exchange {
            status,
            headers,
            body,
        } = net::exchange(call, MAX_ANSWER).map_err(|failed| match failed {
            net::Failed::Send(error) => unclear(net::describe(&error)),
            net::Failed::Body(error) => unclear(error.to_string()),
            net::Failed::Abandoned => unclear("arrêt demandé".to_owned()),
        })?;
        Ok(Answer {
            status,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        })
    }

    fn json(
        &self,
        nsid: &str,
        bearer: Option<&str>,
        value: &Value,
    ) -> Result<Answer, PublishError> {
        let bytes = value.to_string().into_bytes();
        self.xrpc(
            reqwest::Method::POST,
            nsid,
            bearer,
            Some(("application/json", bytes)),
        )
    }

    /// Opens a session with the app password, or refreshes an expired one.
    fn login(&mut self, refresh: bool) -> Result<Session, PublishError> {
        if let (false, Some(session)) = (refresh, &self.session) {
            return Ok(session.clone());
        }
        if let (true, Some(old)) = (refresh, self.session.take()) {
            let answer = self.xrpc(
                reqwest::Method::POST,
                "com.atproto.server.refreshSession",
                Some(old.refresh.expose()),
                None,
            )?;
            if answer.status == 200 {
                return self.keep(&answer.body);
            }
        }
        if self.password.is_empty() {
            return Err(self.unauthorized("le mot de passe d'application manque"));
        }
        let answer = self.json(
            "com.atproto.server.createSession",
            None,
            &json!({ "identifier": self.handle, "password": self.password.expose() }),
        )?;
        match answer.status {
            200 => self.keep(&answer.body),
            400 | 401 => Err(self.unauthorized("Bluesky refuse l'identifiant ou le mot de passe")),
            _ => Err(self.fault(&answer).nothing_done()),
        }
    }

    fn keep(&mut self, body: &Value) -> Result<Session, PublishError> {
        let field = |name: &str| body[name].as_str().map(str::to_owned);
        let (Some(access), Some(refresh), Some(did)) =
            (field("accessJwt"), field("refreshJwt"), field("did"))
        else {
            return Err(PublishError::Transient(
                "réponse illisible de Bluesky (session)".to_owned(),
            ));
        };
        // Known to the mask from here: a server that repeats them later
        // shows them to no one.
        let session = Session {
            access: net::Secret::new(access),
            refresh: net::Secret::new(refresh),
            did,
        };
        self.session = Some(session.clone());
        Ok(session)
    }

    /// A call with the session; an expired session is refreshed once.
    fn authed(
        &mut self,
        method: reqwest::Method,
        nsid: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, PublishError> {
        let session = self.login(false)?;
        let answer = self.xrpc(
            method.clone(),
            nsid,
            Some(session.access.expose()),
            body.clone(),
        )?;
        if answer.status == 400 && answer.body["error"] == "ExpiredToken" || answer.status == 401 {
            let session = self.login(true)?;
            return self.xrpc(method, nsid, Some(session.access.expose()), body);
        }
        Ok(answer)
    }

    fn fault(&self, answer: &Answer) -> PublishError {
        let message = answer.body["message"]
            .as_str()
            .or_else(|| answer.body["error"].as_str())
            .unwrap_or("réponse inattendue")
            .to_owned();
        match answer.status {
            401 | 403 => self.unauthorized(&format!("Bluesky refuse la session ({message})")),
            429 => {
                let now = crate::clock::now();
                let wait = ratelimit::wait_asked(&answer.headers, None, now)
                    .unwrap_or_else(|| chrono::Duration::minutes(5));
                PublishError::RateLimited {
                    until: now + wait,
                    message: format!("Bluesky demande de patienter ({message})"),
                }
            }
            400..=499 => PublishError::Refused {
                kind: "Bluesky".to_owned(),
                message,
            },
            status => PublishError::Unclear(format!("erreur {status} de Bluesky")),
        }
    }

    /// Checks the app password: the account's identifier (`did:…`).
    pub fn verify(&mut self) -> Result<String, PublishError> {
        Ok(self.login(false)?.did)
    }

    /// Whether the record exists: `getRecord` after any doubt.
    fn exists(&mut self, rkey: &str) -> Result<bool, PublishError> {
        let did = self.login(false)?.did;
        let nsid = format!("com.atproto.repo.getRecord?repo={did}&collection={POSTS}&rkey={rkey}");
        let answer = self.authed(reqwest::Method::GET, &nsid, None)?;
        match answer.status {
            200 => Ok(true),
            400 | 404 if answer.body["error"] == "RecordNotFound" || answer.status == 404 => {
                Ok(false)
            }
            _ => Err(self.fault(&answer)),
        }
    }

    /// The image as a blob, under the PDS's limit, with its alt text and
    /// aspect ratio.
    fn image_embed(&mut self, outgoing: &Outgoing) -> Result<Value, PublishError> {
        let bytes =
            crieur_core::render::fit_under(&outgoing.image, MAX_BLOB_BYTES).ok_or_else(|| {
                PublishError::Refused {
                    kind: "Bluesky".to_owned(),
                    message: format!("image de plus de {MAX_BLOB_BYTES} octets, même en JPEG"),
                }
            })?;
        let mime = if bytes.starts_with(&[0xff, 0xd8]) {
            "image/jpeg"
        } else {
            "image/png"
        };
        let (width, height) = crieur_core::render::dimensions(&bytes).unwrap_or((1, 1));
        let answer = self.authed(
            reqwest::Method::POST,
            "com.atproto.repo.uploadBlob",
            Some((mime, bytes)),
        )?;
        if answer.status != 200 || answer.body["blob"].is_null() {
            return Err(self.fault(&answer).nothing_done());
        }
        let alt: String = outgoing.alt.chars().take(MAX_ALT).collect();
        Ok(json!({
            "$type": "app.bsky.embed.images",
            "images": [{
                "alt": alt,
                "image": answer.body["blob"],
                "aspectRatio": { "width": width, "height": height },
            }],
        }))
    }

    /// A link card for a page: its Open Graph title, description and
    /// image (uploaded as the thumbnail). `None` when the page cannot be
    /// read in time: the post goes without a card.
    fn link_card(&mut self, page: &str) -> Option<Value> {
        let html = fetch(page, MAX_PAGE)?;
        let graph = open_graph(&String::from_utf8_lossy(&html));
        let mut external = json!({
            "uri": page,
            "title": graph.title,
            "description": graph.description,
        });
        let image = graph
            .image
            .and_then(|image| url::Url::parse(page).ok()?.join(&image).ok())
            .filter(|image| matches!(image.scheme(), "http" | "https"))
            .and_then(|image| fetch(image.as_str(), MAX_CARD_IMAGE))
            .and_then(|bytes| crieur_core::render::fit_under(&bytes, MAX_BLOB_BYTES));
        if let Some(bytes) = image {
            let mime = if bytes.starts_with(&[0xff, 0xd8]) {
                "image/jpeg"
            } else {
                "image/png"
            };
            if let Ok(answer) = self.authed(
                reqwest::Method::POST,
                "com.atproto.repo.uploadBlob",
                Some((mime, bytes)),
            ) && answer.status == 200
            {
                external["thumb"] = answer.body["blob"].clone();
            }
        }
        Some(json!({ "$type": "app.bsky.embed.external", "external": external }))
    }

    /// The post's record.
    fn record(&mut self, outgoing: &Outgoing) -> Result<Value, PublishError> {
        let mut record = json!({
            "$type": POSTS,
            "text": outgoing.text,
            "createdAt": crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "langs": ["fr"],
        });
        let facets: Vec<Value> = facets(&outgoing.text).iter().map(Facet::to_json).collect();
        if !facets.is_empty() {
            record["facets"] = json!(facets);
        }
        if !outgoing.image.is_empty() {
            record["embed"] = self.image_embed(outgoing)?;
        } else if let Some(Feature::Link(page)) = self::facets(&outgoing.text)
            .into_iter()
            .map(|facet| facet.feature)
            .find(|feature| matches!(feature, Feature::Link(_)))
            && let Some(card) = self.link_card(&page)
        {
            // A card or images, not both.
            record["embed"] = card;
        }
        Ok(record)
    }
}

/// How many posts one `app.bsky.feed.getPosts` takes.
const POSTS_AT_ONCE: usize = 25;

/// A post view's figures, when it gives the four counts.
fn post_figures(view: &Value) -> Option<crieur_core::report::Figures> {
    Some(crieur_core::report::Figures::from_bluesky(
        view["likeCount"].as_u64()?,
        view["repostCount"].as_u64()?,
        view["replyCount"].as_u64()?,
        view["quoteCount"].as_u64().unwrap_or(0),
    ))
}

impl Bluesky {
    /// The figures of sent posts, 25 a request through the PDS (which
    /// passes `app.bsky.*` calls on to the AppView); a post missing from
    /// the answer is gone.
    fn read_engagement(
        &mut self,
        posts: &[crieur_core::publisher::SentPost],
    ) -> Result<crieur_core::publisher::Engagements, PublishError> {
        use crieur_core::publisher::Reading;
        let mut found = crieur_core::publisher::Engagements::default();
        let keys: Vec<&str> = posts
            .iter()
            .map(|p| p.remote_id.as_str())
            .filter(|rkey| is_tid(rkey))
            .collect();
        if keys.is_empty() {
            return Ok(found);
        }
        let did = self.login(false)?.did;
        let uri = |rkey: &str| format!("at://{did}/{POSTS}/{rkey}");
        for chunk in keys.chunks(POSTS_AT_ONCE) {
            let query: Vec<String> = chunk
                .iter()
                .map(|rkey| {
                    format!(
                        "uris={}",
                        url::form_urlencoded::byte_serialize(uri(rkey).as_bytes())
                            .collect::<String>()
                    )
                })
                .collect();
            let nsid = format!("app.bsky.feed.getPosts?{}", query.join("&"));
            let answer = self.authed(reqwest::Method::GET, &nsid, None)?;
            if answer.status != 200 {
                return Err(self.fault(&answer));
            }
            let views = answer.body["posts"].as_array().cloned().unwrap_or_default();
            for rkey in chunk {
                let wanted = uri(rkey);
                match views
                    .iter()
                    .find(|v| v["uri"].as_str() == Some(wanted.as_str()))
                {
                    None => {
                        found.read.insert((*rkey).to_owned(), Reading::Gone);
                    }
                    Some(view) => {
                        if let Some(figures) = post_figures(view) {
                            found
                                .read
                                .insert((*rkey).to_owned(), Reading::Figures(figures));
                        }
                    }
                }
            }
        }
        Ok(found)
    }
}

impl Publisher for Bluesky {
    fn name(&self) -> &'static str {
        "Bluesky"
    }

    fn holder(&self, _channel: &str) -> String {
        format!("Bluesky ({})", self.handle)
    }

    fn fetches_images(&self) -> bool {
        false
    }

    fn tracks_writes(&self, _channel: &str) -> bool {
        true
    }

    fn token(&self, outgoing: &Outgoing, attempt: i64) -> String {
        record_key_of(outgoing, attempt)
    }

    /// A record key tells: the record is there, or it is not.
    fn locate(
        &mut self,
        write: &crieur_core::delivery::Write,
        _taken: &[String],
    ) -> Result<Option<String>, PublishError> {
        if !is_tid(&write.token) {
            return Ok(None);
        }
        Ok(self.exists(&write.token)?.then(|| write.token.clone()))
    }

    fn public_url(&self, remote_id: &str) -> Option<String> {
        is_tid(remote_id).then(|| post_url(&self.handle, remote_id))
    }

    /// Sends the post at its time, under a key chosen beforehand: a key
    /// already taken is the post already sent.
    fn create(&mut self, outgoing: &Outgoing) -> Result<String, PublishError> {
        if outgoing.at > crate::clock::now() + chrono::Duration::seconds(EARLY) {
            return Err(PublishError::Transient(
                "Bluesky ne programme pas : le post partira à son heure".to_owned(),
            ));
        }
        let rkey = outgoing
            .token
            .clone()
            .filter(|token| is_tid(token))
            .unwrap_or_else(|| record_key(outgoing));
        if self.exists(&rkey)? {
            return Ok(rkey);
        }
        let record = self.record(outgoing)?;
        let did = self.login(false)?.did;
        let body = json!({ "repo": did, "collection": POSTS, "rkey": rkey, "record": record });
        let answer = self.authed(
            reqwest::Method::POST,
            "com.atproto.repo.createRecord",
            Some(("application/json", body.to_string().into_bytes())),
        );
        match answer {
            Ok(answer) if answer.status == 200 => Ok(rkey),
            // Refused or unclear: the key says whether it went out.
            Ok(answer) => match self.exists(&rkey) {
                Ok(true) => Ok(rkey),
                Ok(false) => Err(self.fault(&answer)),
                Err(error) => Err(error),
            },
            Err(error) => match self.exists(&rkey) {
                Ok(true) => Ok(rkey),
                Ok(false) => Err(error.nothing_done()),
                Err(_) => Err(error),
            },
        }
    }

    fn edit(&mut self, _: &str, _: &Outgoing) -> Result<(), PublishError> {
        Err(PublishError::Refused {
            kind: "Bluesky".to_owned(),
            message: "un post déjà publié ne se modifie pas".to_owned(),
        })
    }

    fn delete(&mut self, remote_id: &str) -> Result<(), PublishError> {
        let did = self.login(false)?.did;
        let body = json!({ "repo": did, "collection": POSTS, "rkey": remote_id });
        let answer = self.authed(
            reqwest::Method::POST,
            "com.atproto.repo.deleteRecord",
            Some(("application/json", body.to_string().into_bytes())),
        )?;
        match answer.status {
            200 => Ok(()),
            _ => Err(self.fault(&answer)),
        }
    }

    fn list(
        &mut self,
        _: &[String],
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<RemotePost>, PublishError> {
        // Nothing waits at Bluesky: a doubt is settled by the record key.
        Ok(Vec::new())
    }

    fn report(
        &mut self,
        remote_ids: &[(String, String, DateTime<Utc>)],
    ) -> Result<Report, PublishError> {
        let mut report = Report {
            complete: true,
            ..Report::default()
        };
        for (rkey, _, _) in remote_ids {
            match self.exists(rkey) {
                Ok(true) => {
                    report.posts.insert(rkey.clone(), RemoteStatus::Sent);
                }
                Ok(false) => {
                    report.posts.insert(rkey.clone(), RemoteStatus::Missing);
                }
                Err(error @ PublishError::RateLimited { .. }) => return Err(error),
                Err(_) => report.complete = false,
            }
        }
        Ok(report)
    }

    fn channels(
        &mut self,
    ) -> Result<Option<Vec<crieur_core::publisher::RemoteChannel>>, PublishError> {
        Ok(None)
    }

    fn engagement(
        &mut self,
        posts: &[crieur_core::publisher::SentPost],
    ) -> Result<crieur_core::publisher::Engagements, PublishError> {
        self.read_engagement(posts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crieur_testing::bluesky as fake;

    #[test]
    fn facet_offsets_are_utf8_bytes_on_character_boundaries() {
        let text =
            "Journée 🩺 prévention : #Santé, voir https://exemple.fr/dépistage#rdv et #Été2026 !";
        let facets = facets(text);
        let found: Vec<(&str, &Feature)> = facets
            .iter()
            .map(|f| {
                assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
                (&text[f.start..f.end], &f.feature)
            })
            .collect();
        assert_eq!(
            found,
            [
                ("#Santé", &Feature::Tag("Santé".to_owned())),
                (
                    "https://exemple.fr/dépistage#rdv",
                    &Feature::Link("https://exemple.fr/dépistage#rdv".to_owned())
                ),
                ("#Été2026", &Feature::Tag("Été2026".to_owned())),
            ]
        );
        // "Journée " is 9 bytes (é takes 2), the emoji 4, then " prévention : "
        // 15: the hashtag starts at byte 28, not at character 23.
        assert_eq!((facets[0].start, facets[0].end), (28, 35));
        assert_eq!(text[..28].chars().count(), 23);
    }

    #[test]
    fn a_hash_in_a_word_or_a_number_is_no_hashtag() {
        assert!(facets("C# et le n°#12 ou #2026").is_empty());
        let long = format!("#{}", "a".repeat(MAX_TAG_GRAPHEMES + 1));
        assert!(facets(&long).is_empty());
        let json = facets("#Santé")[0].to_json();
        assert_eq!(json["index"]["byteStart"], 0);
        assert_eq!(json["index"]["byteEnd"], 7);
        assert_eq!(json["features"][0]["$type"], "app.bsky.richtext.facet#tag");
        assert_eq!(json["features"][0]["tag"], "Santé");
    }

    #[test]
    fn record_keys_are_tids_that_sort_as_their_instants() {
        assert_eq!(tid(0, 0), "2222222222222");
        let earlier = tid(1_764_000_000_000_000, 7);
        let later = tid(1_764_000_000_000_001, 0);
        assert!(is_tid(&earlier) && is_tid(&later), "{earlier} {later}");
        assert!(earlier < later);
        assert_ne!(tid(1_764_000_000_000_000, 8), earlier);
        assert!(!is_tid("abc"));
        assert!(
            !is_tid("zzzzzzzzzzzzz"),
            "the first character is out of range"
        );
        assert_eq!(
            post_url("cpts-mulhouse.bsky.social", &earlier),
            format!("https://bsky.app/profile/cpts-mulhouse.bsky.social/post/{earlier}")
        );
    }

    fn png(width: u32, height: u32, noise: bool) -> Vec<u8> {
        let mut seed: u32 = 12345;
        let image = image::RgbImage::from_fn(width, height, |_, _| {
            if noise {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let b = seed.to_be_bytes();
                image::Rgb([b[0], b[1], b[2]])
            } else {
                image::Rgb([228, 99, 45])
            }
        });
        let mut bytes = Vec::new();
        image
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    }

    fn outgoing(text: &str, image: Vec<u8>) -> Outgoing {
        Outgoing {
            post_id: "chiffre/01".to_owned(),
            channel: "bluesky".to_owned(),
            channel_remote_id: None,
            network: crieur_core::network::Network::Bluesky,
            at: crate::clock::now() - chrono::Duration::seconds(5),
            text: text.to_owned(),
            alt: "Visuel : 71 % des Français ont activé Mon espace santé".to_owned(),
            image,
            image_url: None,
            token: None,
        }
    }

    fn sent(rkey: &str) -> crieur_core::publisher::SentPost {
        crieur_core::publisher::SentPost {
            remote_id: rkey.to_owned(),
            channel_remote_id: String::new(),
            at: crate::clock::now(),
            url: None,
        }
    }

    #[test]
    fn reads_figures_25_posts_a_request_and_marks_a_deleted_post_gone() {
        use crieur_core::publisher::Reading;
        use crieur_core::report::Figures;
        let pds = fake::FakePds::start();
        let keys: Vec<String> = (0..30u64)
            .map(|i| tid(1_700_000_000_000_000 + i, 1))
            .collect();
        pds.with(|state| {
            for key in keys.iter().skip(1) {
                state.records.insert(
                    key.clone(),
                    serde_json::json!({"text": "x", "createdAt": "2026-11-01T10:00:00Z"}),
                );
            }
            state.figures.insert(keys[2].clone(), [10, 3, 2, 1]);
        });
        let mut bluesky = client(&pds, fake::PASSWORD);
        let posts: Vec<_> = keys.iter().map(|k| sent(k)).collect();
        let found = bluesky.engagement(&posts).unwrap();
        assert_eq!(pds.with(|state| state.get_posts.clone()), vec![25, 5]);
        assert_eq!(found.read[&keys[0]], Reading::Gone);
        assert_eq!(
            found.read[&keys[1]],
            Reading::Figures(Figures::from_bluesky(7, 2, 1, 1))
        );
        assert_eq!(
            found.read[&keys[2]],
            Reading::Figures(Figures {
                reactions: Some(10),
                shares: Some(4),
                comments: Some(2),
                reach: None,
                impressions: None,
            })
        );
        pds.with(|state| state.failing_reads = true);
        assert!(bluesky.engagement(&posts).is_err());
    }

    fn client(pds: &fake::FakePds, password: &str) -> Bluesky {
        Bluesky::new(
            "bluesky",
            fake::HANDLE,
            &pds.url,
            password,
            std::time::Duration::from_secs(5),
        )
    }

    #[test]
    fn sends_with_facets_the_image_its_alt_text_and_aspect_ratio() {
        let pds = fake::FakePds::start();
        let mut bluesky = client(&pds, fake::PASSWORD);
        let text = "Été 🩺 : #Santé https://exemple.fr/é";
        let post = outgoing(text, png(40, 20, false));
        let rkey = bluesky.create(&post).unwrap();
        assert_eq!(rkey, record_key(&post));
        assert_eq!(
            bluesky.public_url(&rkey),
            Some(format!(
                "https://bsky.app/profile/{}/post/{rkey}",
                fake::HANDLE
            ))
        );
        let record = pds.with(|state| state.records[&rkey].clone());
        assert_eq!(record["text"], text);
        assert_eq!(record["langs"], json!(["fr"]));
        let facets = record["facets"].as_array().unwrap();
        assert_eq!(facets[0]["index"], json!({"byteStart": 13, "byteEnd": 20}));
        assert_eq!(&text[13..20], "#Santé");
        assert_eq!(facets[1]["features"][0]["uri"], "https://exemple.fr/é");
        let image = &record["embed"]["images"][0];
        assert_eq!(image["alt"], post.alt);
        assert_eq!(image["aspectRatio"], json!({"width": 40, "height": 20}));
        assert_eq!(pds.with(|state| state.blobs[0].mime.clone()), "image/png");
        assert_eq!(
            bluesky
                .report(&[(rkey.clone(), String::new(), post.at)])
                .unwrap()
                .posts[&rkey],
            RemoteStatus::Sent
        );
    }

    #[test]
    fn reads_open_graph_tags_in_any_order() {
        let html = r#"<html><head><title>Titre de secours</title>
            <meta content="Mon espace sant&eacute; &amp; vous" property="og:title">
            <META NAME='description' CONTENT='Résumé : l&#39;essentiel'>
            <meta property="og:image" content="/images/carte.png" />
            </head></html>"#;
        let graph = open_graph(html);
        assert_eq!(graph.title, "Mon espace sant&eacute; & vous");
        assert_eq!(graph.description, "Résumé : l'essentiel");
        assert_eq!(graph.image.as_deref(), Some("/images/carte.png"));
        assert_eq!(open_graph("<title> Seul </title>").title, "Seul");
        assert_eq!(open_graph("<meta").title, "");
    }

    /// A web page with Open Graph tags and its image, on a local port.
    fn serve_page() -> String {
        let page = r#"<html><head><meta property="og:title" content="Mon espace santé">
            <meta property="og:description" content="Le carnet de santé numérique">
            <meta property="og:image" content="/carte.png"></head></html>"#;
        let app = axum::Router::new()
            .route(
                "/page",
                axum::routing::get(move || async move { axum::response::Html(page) }),
            )
            .route(
                "/carte.png",
                axum::routing::get(|| async { png(60, 30, false) }),
            );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(listener, app).await.unwrap();
                });
        });
        format!("http://{address}/page")
    }

    #[test]
    fn a_link_without_an_image_gets_a_card_from_the_pages_open_graph() {
        let pds = fake::FakePds::start();
        let mut bluesky = client(&pds, fake::PASSWORD);
        let page = serve_page();
        let rkey = bluesky
            .create(&outgoing(&format!("À lire : {page}"), Vec::new()))
            .unwrap();
        let record = pds.with(|state| state.records[&rkey].clone());
        let external = &record["embed"]["external"];
        assert_eq!(record["embed"]["$type"], "app.bsky.embed.external");
        assert_eq!(external["uri"], page);
        assert_eq!(external["title"], "Mon espace santé");
        assert_eq!(external["description"], "Le carnet de santé numérique");
        assert_eq!(external["thumb"]["mimeType"], "image/png");
        // A page that does not answer: the post goes without a card.
        let rkey = bluesky
            .create(&outgoing("Voir http://127.0.0.1:9/rien", Vec::new()))
            .unwrap();
        assert!(pds.with(|state| state.records[&rkey]["embed"].is_null()));
    }

    #[test]
    fn an_image_over_the_blob_limit_goes_as_jpeg() {
        let pds = fake::FakePds::start();
        let mut bluesky = client(&pds, fake::PASSWORD);
        let big = png(700, 700, true);
        assert!(big.len() > MAX_BLOB_BYTES, "{}", big.len());
        bluesky.create(&outgoing("Grande image", big)).unwrap();
        let blob = pds.with(|state| state.blobs[0].clone());
        assert_eq!(blob.mime, "image/jpeg");
        assert!(blob.size <= MAX_BLOB_BYTES);
    }

    #[test]
    fn a_lost_answer_is_settled_by_the_key_and_never_sent_twice() {
        let pds = fake::FakePds::start();
        pds.with(|state| state.lose_next_answers = 1);
        let mut bluesky = client(&pds, fake::PASSWORD);
        let post = outgoing("Une seule fois", Vec::new());
        let rkey = bluesky.create(&post).unwrap();
        // A later pass, unsure, tries again: the key is taken, nothing new.
        assert_eq!(bluesky.create(&post).unwrap(), rkey);
        pds.with(|state| {
            assert_eq!(state.records.len(), 1);
            assert_eq!(state.creates, 1);
        });
    }

    #[test]
    fn the_pds_refuses_a_key_twice_and_the_refusal_means_sent() {
        let pds = fake::FakePds::start();
        let mut bluesky = client(&pds, fake::PASSWORD);
        let post = outgoing("Déjà là", Vec::new());
        let rkey = record_key(&post);
        // Another run made it between our look and our create.
        pds.with(|state| {
            state
                .records
                .insert(rkey.clone(), json!({"text": "Déjà là"}));
        });
        let session = bluesky.login(false).unwrap();
        let body = json!({"repo": session.did, "collection": POSTS, "rkey": rkey, "record": {"text": "x"}});
        let answer = bluesky
            .json(
                "com.atproto.repo.createRecord",
                Some(session.access.expose()),
                &body,
            )
            .unwrap();
        assert_eq!(answer.status, 400, "a second create under a key is refused");
        assert_eq!(bluesky.create(&post).unwrap(), rkey);
        assert_eq!(pds.with(|state| state.records.len()), 1);
    }

    #[test]
    fn an_expired_session_is_refreshed() {
        let pds = fake::FakePds::start();
        let mut bluesky = client(&pds, fake::PASSWORD);
        bluesky.login(false).unwrap();
        pds.with(|state| state.expire_next = true);
        bluesky
            .create(&outgoing("Après expiration", Vec::new()))
            .unwrap();
        assert_eq!(pds.with(|state| state.refreshes), 1);
    }

    #[test]
    fn a_post_before_its_time_waits_and_a_wrong_password_names_the_channel() {
        let pds = fake::FakePds::start();
        let mut bluesky = client(&pds, fake::PASSWORD);
        let mut early = outgoing("Plus tard", Vec::new());
        early.at = crate::clock::now() + chrono::Duration::hours(1);
        assert!(matches!(
            bluesky.create(&early),
            Err(PublishError::Transient(_))
        ));
        assert_eq!(pds.with(|state| state.creates), 0);
        let mut wrong = client(&pds, "mot-de-passe-secret");
        let message = wrong
            .create(&outgoing("x", Vec::new()))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("« bluesky »") && message.contains(PASSWORD_VARIABLE),
            "{message}"
        );
        assert!(!message.contains("mot-de-passe-secret"), "{message}");
    }
}

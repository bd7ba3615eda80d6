//! Images in an S3-compatible bucket (Scaleway, OVH, Cloudflare R2, AWS,
//! MinIO...). Requests are signed with rusty-s3 (signing only, no HTTP
//! stack of its own) and sent with the same HTTP client as the rest of
//! crieur ([`crate::net::client`]). Keys come from the environment: `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY`.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::store::{MediaError, MediaStore, url};
use crate::net;

pub const KEY_VARIABLE: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_VARIABLE: &str = "AWS_SECRET_ACCESS_KEY";

pub struct S3 {
    bucket: Bucket,
    credentials: Credentials,
    public_base_url: String,
    acl: Option<String>,
}

/// How long an upload may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);

impl S3 {
    pub fn from_env(
        endpoint: &str,
        bucket: &str,
        region: &str,
        public_base_url: &str,
    ) -> Result<S3, MediaError> {
        let key = std::env::var(KEY_VARIABLE).ok();
        let secret = std::env::var(SECRET_VARIABLE).ok();
        let (Some(key), Some(secret)) = (key, secret) else {
            return Err(MediaError::Config(format!(
                "stockage S3 : définissez les variables d'environnement {KEY_VARIABLE} et {SECRET_VARIABLE}"
            )));
        };
        // Known to the mask: a server that repeats them shows them to no one.
        let (key, secret) = (net::Secret::new(key), net::Secret::new(secret));
        S3::new(
            endpoint,
            bucket,
            region,
            public_base_url,
            key.expose().to_owned(),
            secret.expose().to_owned(),
        )
    }

    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        public_base_url: &str,
        key: String,
        secret: String,
    ) -> Result<S3, MediaError> {
        let endpoint = endpoint.parse().map_err(|_| {
            MediaError::Config(format!("stockage S3 : adresse invalide `{endpoint}`"))
        })?;
        let bucket = Bucket::new(
            endpoint,
            UrlStyle::Path,
            bucket.to_owned(),
            region.to_owned(),
        )
        .map_err(|error| MediaError::Config(format!("stockage S3 : {error}")))?;
        Ok(S3 {
            bucket,
            credentials: Credentials::new(key, secret),
            public_base_url: public_base_url.to_owned(),
            acl: Some("public-read".to_owned()),
        })
    }

    /// The canned ACL sent with each image; `None` sends none.
    pub fn with_acl(mut self, acl: Option<String>) -> S3 {
        self.acl = acl;
        self
    }
}

impl MediaStore for S3 {
    fn store(&mut self, name: &str, png: &[u8]) -> Result<String, MediaError> {
        let mut action = self.bucket.put_object(Some(&self.credentials), name);
        let kind = super::store::content_type(png);
        action.headers_mut().insert("content-type", kind);
        // Signed, and sent, as S3's presigned uploads carry it.
        if let Some(acl) = &self.acl {
            action.headers_mut().insert("x-amz-acl", acl.clone());
        }
        let signed = action.sign(Duration::from_secs(600));
        let mut request = net::client()
            .put(signed.as_str())
            .timeout(UPLOAD_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, kind)
            .body(png.to_vec());
        if let Some(acl) = &self.acl {
            request = request.header("x-amz-acl", acl);
        }
        let response = net::block_on(net::unless_stopped(async move { request.send().await }))
            .map_err(|net::Abandoned| MediaError::Upload("arrêt demandé".into()))?
            .map_err(|error| MediaError::Upload(net::describe(&error)))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(MediaError::Upload(format!("HTTP {status}")));
        }
        Ok(url(&self.public_base_url, name))
    }
}

//! The S3 bridge: a bucket of AWS S3 or of any S3-compatible store
//! (Google Cloud Storage, Cloudflare R2, DigitalOcean Spaces, Scaleway,
//! MinIO, SeaweedFS…), with every key under an optional prefix.
//!
//! - **Uploads stream.** An object smaller than one part ([`PART_SIZE`])
//!   goes up in one `PutObject`; a larger one as a multipart upload of
//!   equal parts (R2 insists on that), at most [`PARTS_IN_FLIGHT`] parts
//!   in flight while the next one fills. A writer never holds more than
//!   `(PARTS_IN_FLIGHT + 1) × PART_SIZE` = 15 MiB, whatever the object's size.
//! - **Downloads stream** straight from the response body.
//! - **Failures.** The SDK retries throttling, 5xx and transport errors
//!   with backoff for `retry_seconds` (60 by default). A failed, aborted or dropped
//!   writer aborts its multipart upload. What a killed process or a dead
//!   server leaves behind is swept when the bridge is next opened: every
//!   multipart upload under the prefix started more than
//!   [`STALE_UPLOAD_AGE`] ago (no writer keeps one open that long: it
//!   only lives while one segment is produced). Deleting a prefix (a dump,
//!   or a failed dump's remains) also aborts the uploads under it, of any
//!   age.
//! - **No conditional writes.** The index is a cache that listing repairs
//!   from the manifests ([`crate::format::store`]), so two dumps finishing
//!   at once cannot lose one; that needs nothing from the store, which
//!   keeps every S3-compatible store usable.

mod client;
mod error;
mod reader;
mod settings;
mod uploads;
mod writer;

pub use settings::S3Settings;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tracing::{debug, info};

use super::{Bridge, BridgeError, ObjectInfo, ObjectReader, ObjectWriter, Result};
use writer::S3Writer;

/// Size of every part of a multipart upload but the last: S3's minimum, so
/// that memory stays small.
const PART_SIZE: usize = 5 * 1024 * 1024;

/// Parts of one object uploading at once.
const PARTS_IN_FLIGHT: usize = 2;

/// Fewest attempts per request, the first included (`retry_seconds` may
/// allow more).
const MIN_ATTEMPTS: u32 = 3;

/// Age past which an unfinished multipart upload is taken as abandoned.
const STALE_UPLOAD_AGE: Duration = Duration::from_secs(60 * 60);

/// Objects deleted at once when a prefix goes.
const DELETES_IN_FLIGHT: usize = 16;

/// A bridge on an S3 bucket.
pub struct S3Bridge {
    store: Arc<Store>,
}

/// What every request needs, shared by the bridge and its writers.
struct Store {
    client: Client,
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    /// The bridge as messages name it.
    name: String,
}

impl Store {
    /// The full key of `key`, which is relative to the prefix.
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// `full` relative to the prefix.
    fn relative<'a>(&self, full: &'a str) -> &'a str {
        full.strip_prefix(&self.prefix).unwrap_or(full)
    }
}

impl S3Bridge {
    /// Connects to the bucket and sweeps abandoned uploads. That first
    /// request also checks the endpoint, the credentials and the bucket,
    /// so a mistake in them stops a command before it starts work.
    ///
    /// # Errors
    /// An unreachable store, wrong credentials or a missing bucket, each
    /// as one sentence naming the setting to check.
    pub async fn connect(settings: S3Settings) -> Result<Self> {
        let name = match &settings.endpoint {
            Some(endpoint) => format!("S3 bridge s3://{}/{} at {endpoint}", settings.bucket, settings.prefix),
            None => format!("S3 bridge s3://{}/{}", settings.bucket, settings.prefix),
        };
        let store = Store {
            client: client::build(&settings).await,
            bucket: settings.bucket,
            prefix: settings.prefix,
            endpoint: settings.endpoint,
            name,
        };
        let bridge = S3Bridge { store: Arc::new(store) };
        match bridge.abort_uploads("", STALE_UPLOAD_AGE).await? {
            Some(0) => {}
            Some(n) => info!("{}: aborted {n} abandoned multipart upload(s)", bridge.store.name),
            None => debug!("{}: these credentials may not list multipart uploads; none swept", bridge.store.name),
        }
        Ok(bridge)
    }

    /// Aborts the unfinished multipart uploads under `prefix` that started
    /// at least `min_age` ago; returns how many, or `None` when the store
    /// does not let these credentials list uploads.
    ///
    /// # Errors
    /// A failing store.
    pub async fn abort_uploads(&self, prefix: &str, min_age: Duration) -> Result<Option<usize>> {
        uploads::abort(&self.store, prefix, min_age).await
    }

    /// Starts reading an object.
    async fn get_object(&self, key: &str) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput> {
        let store = &self.store;
        let request = store.client.get_object().bucket(&store.bucket).key(store.key(key));
        request.send().await.map_err(|e| store.error("read", key, e))
    }
}

#[async_trait]
impl Bridge for S3Bridge {
    fn describe(&self) -> String {
        self.store.name.clone()
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<()> {
        let store = &self.store;
        let request = store.client.put_object().bucket(&store.bucket).key(store.key(key));
        request.body(ByteStream::from(body)).send().await.map_err(|e| store.error("write", key, e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let object = self.get_object(key).await?;
        let body = object.body.collect().await.map_err(|e| self.store.body_error(key, &e))?;
        Ok(body.into_bytes())
    }

    async fn create(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        Ok(Box::new(S3Writer::new(self.store.clone(), key)))
    }

    async fn open(&self, key: &str) -> Result<ObjectReader> {
        let body = self.get_object(key).await?.body;
        Ok(Box::new(reader::Resuming::new(self.store.clone(), key, body)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let store = &self.store;
        let pages = store.client.list_objects_v2().bucket(&store.bucket).prefix(store.key(prefix)).into_paginator();
        let mut out = Vec::new();
        let mut pages = pages.send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store.error("list", prefix, e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let size = object.size().unwrap_or_default().max(0) as u64;
                out.push(ObjectInfo { key: store.relative(key).to_string(), size });
            }
        }
        // S3 lists in UTF-8 byte order, which is `String`'s order: no sort.
        Ok(out)
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let store = &self.store;
        let full = store.key(prefix);
        let pages = store.client.list_objects_v2().bucket(&store.bucket).prefix(&full).delimiter("/").into_paginator();
        let mut out = Vec::new();
        let mut pages = pages.send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store.error("list", prefix, e))?;
            let dirs = page.common_prefixes().iter().filter_map(|p| p.prefix());
            out.extend(dirs.filter_map(|d| d.strip_prefix(&full)?.strip_suffix('/')).map(str::to_string));
        }
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let store = &self.store;
        match store.client.delete_object().bucket(&store.bucket).key(store.key(key)).send().await {
            Ok(_) => Ok(()),
            Err(e) => match store.error("delete", key, e) {
                BridgeError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Unfinished uploads first, so none lands after the objects are gone;
    /// then the objects, several at once. One by one rather than with
    /// `DeleteObjects`, which Google Cloud Storage does not offer.
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        self.abort_uploads(prefix, Duration::ZERO).await?;
        let objects = self.list(prefix).await?;
        // Stores with real folders (SeaweedFS) keep them once empty, and
        // list them as if they held objects: they go too, deepest first.
        // Elsewhere these keys do not exist and deleting them does nothing.
        let folders: BTreeSet<String> =
            objects.iter().flat_map(|o| folders_below(prefix, &o.key)).map(str::to_string).collect();
        let deletes = objects.into_iter().map(|object| async move { self.delete(&object.key).await });
        futures::stream::iter(deletes).buffer_unordered(DELETES_IN_FLIGHT).try_collect::<()>().await?;
        for folder in folders.iter().rev() {
            self.delete(folder).await?;
        }
        Ok(())
    }
}

/// The folders that hold `key` (`a/`, `a/b/` for `a/b/c`), those within
/// `prefix` only.
fn folders_below<'a>(prefix: &str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let start = prefix.len().saturating_sub(1);
    key.match_indices('/').filter(move |(at, _)| *at >= start).map(move |(at, _)| &key[..=at])
}

#[cfg(test)]
mod tests {
    use super::folders_below;

    #[test]
    fn only_folders_within_the_prefix_are_named() {
        let folders = |prefix, key| folders_below(prefix, key).collect::<Vec<_>>();
        assert_eq!(folders("", "a/b/c"), ["a/", "a/b/"]);
        assert_eq!(folders("a/", "a/b/c"), ["a/", "a/b/"]);
        assert_eq!(folders("a/b", "a/b/c"), ["a/b/"]);
        assert_eq!(folders("a/bc", "a/bcd/e"), ["a/bcd/"]);
        assert_eq!(folders("a/", "a/c"), ["a/"]);
    }
}

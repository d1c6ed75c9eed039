//! Streaming uploads: one `PutObject` for an object no larger than a part,
//! a multipart upload with a bounded number of parts in flight otherwise.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinSet;
use tracing::warn;

use super::{uploads, Store, PARTS_IN_FLIGHT, PART_SIZE};
use crate::bridge::{ObjectWriter, Result};

/// S3 numbers parts from 1 to 10 000.
const MAX_PARTS: i32 = 10_000;

/// A streaming upload of one object. The multipart upload starts only when
/// more than one part's worth of bytes arrives, so a small object costs
/// one request.
pub(super) struct S3Writer {
    store: Arc<Store>,
    /// Relative to the prefix.
    key: String,
    /// The part being filled: at most [`PART_SIZE`] bytes, allocated at
    /// the first byte (the pages only count once written).
    buffer: Vec<u8>,
    size: u64,
    upload: Option<Multipart>,
}

impl S3Writer {
    pub(super) fn new(store: Arc<Store>, key: &str) -> Self {
        S3Writer { store, key: key.to_string(), buffer: Vec::new(), size: 0, upload: None }
    }

    fn take_buffer(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.buffer))
    }
}

#[async_trait]
impl ObjectWriter for S3Writer {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.size += chunk.len() as u64;
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            // A full buffer is sent only once more bytes come: the last
            // part is never empty, and an object of exactly one part
            // still goes up in one request.
            if self.buffer.len() == PART_SIZE {
                let part = self.take_buffer();
                let upload = match &mut self.upload {
                    Some(upload) => upload,
                    None => self.upload.insert(Multipart::start(self.store.clone(), &self.key).await?),
                };
                upload.send(part).await?;
            }
            if self.buffer.capacity() == 0 {
                self.buffer.reserve_exact(PART_SIZE);
            }
            let take = (PART_SIZE - self.buffer.len()).min(rest.len());
            self.buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        let last = self.take_buffer();
        match self.upload.take() {
            Some(upload) => upload.complete(last).await?,
            None => {
                let store = &self.store;
                let request = store.client.put_object().bucket(&store.bucket).key(store.key(&self.key));
                request.body(ByteStream::from(last)).send().await.map_err(|e| store.error("write", &self.key, e))?;
            }
        }
        Ok(self.size)
    }

    async fn abort(mut self: Box<Self>) {
        if let Some(upload) = self.upload.take() {
            upload.abort().await;
        }
    }
}

impl Drop for S3Writer {
    /// A writer dropped unfinished (its task cancelled, a panic) aborts its
    /// upload in the background, as a best effort: the sweep when the
    /// bridge is next opened catches what this misses.
    fn drop(&mut self) {
        if let (Some(upload), Ok(runtime)) = (self.upload.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(upload.abort());
        }
    }
}

/// A multipart upload under way.
struct Multipart {
    store: Arc<Store>,
    /// Relative to the prefix, for messages.
    key: String,
    full_key: String,
    id: String,
    /// Number of the next part, from 1.
    next: i32,
    in_flight: JoinSet<Result<CompletedPart>>,
    done: Vec<CompletedPart>,
}

impl Multipart {
    async fn start(store: Arc<Store>, key: &str) -> Result<Self> {
        let full_key = store.key(key);
        let request = store.client.create_multipart_upload().bucket(&store.bucket).key(&full_key);
        let created = request.send().await.map_err(|e| store.error("start the upload of", key, e))?;
        let Some(id) = created.upload_id else {
            return Err(store.other(format!("start the upload of {key}: the store returned no upload id")));
        };
        Ok(Multipart {
            store,
            key: key.to_string(),
            full_key,
            id,
            next: 1,
            in_flight: JoinSet::new(),
            done: Vec::new(),
        })
    }

    /// Starts uploading `part` once fewer than [`PARTS_IN_FLIGHT`] are.
    async fn send(&mut self, part: Bytes) -> Result<()> {
        if self.next > MAX_PARTS {
            return Err(self.store.other(format!(
                "write {}: an object may have at most {MAX_PARTS} parts of {} MiB (lower segment_size_mib)",
                self.key,
                PART_SIZE >> 20
            )));
        }
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.wait_one().await?;
        }
        let store = &self.store;
        let request = store
            .client
            .upload_part()
            .bucket(&store.bucket)
            .key(&self.full_key)
            .upload_id(&self.id)
            .part_number(self.next)
            .body(ByteStream::from(part));
        let (store, key, number) = (store.clone(), self.key.clone(), self.next);
        // A task of its own, so the part keeps uploading while the caller
        // produces the next one.
        self.in_flight.spawn(async move {
            let uploaded =
                request.send().await.map_err(|e| store.error(&format!("upload part {number} of"), &key, e))?;
            Ok(CompletedPart::builder().part_number(number).set_e_tag(uploaded.e_tag).build())
        });
        self.next += 1;
        Ok(())
    }

    /// Waits for one part in flight to be stored; `false` when none was in
    /// flight.
    async fn wait_one(&mut self) -> Result<bool> {
        let Some(joined) = self.in_flight.join_next().await else {
            return Ok(false);
        };
        let part = joined.map_err(|e| self.store.other(format!("upload of a part of {} stopped: {e}", self.key)))??;
        self.done.push(part);
        Ok(true)
    }

    /// Uploads `last`, waits for every part and completes the upload; on
    /// failure, aborts it.
    async fn complete(mut self, last: Bytes) -> Result<()> {
        match self.try_complete(last).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    async fn try_complete(&mut self, last: Bytes) -> Result<()> {
        self.send(last).await?;
        while self.wait_one().await? {}
        let mut parts = std::mem::take(&mut self.done);
        parts.sort_by_key(|p| p.part_number());
        let store = &self.store;
        store
            .client
            .complete_multipart_upload()
            .bucket(&store.bucket)
            .key(&self.full_key)
            .upload_id(&self.id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| store.error("complete the upload of", &self.key, e))?;
        Ok(())
    }

    /// Cancels the parts in flight, then the upload; a failure is logged
    /// (the sweep retries later).
    async fn abort(mut self) {
        self.in_flight.shutdown().await;
        if let Err(e) = uploads::abort_one(&self.store, &self.full_key, &self.id).await {
            warn!("{e}");
        }
    }
}

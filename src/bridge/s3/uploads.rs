//! Unfinished multipart uploads: their parts cost storage yet appear in no
//! listing, so nothing may leave them behind.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::MultipartUpload;

use super::error::is_refused;
use super::Store;
use crate::bridge::Result;

/// Aborts the uploads under `prefix` (relative) started at least `min_age`
/// ago; returns how many, or `None` when the store does not let these
/// credentials list uploads.
pub(super) async fn abort(store: &Store, prefix: &str, min_age: Duration) -> Result<Option<usize>> {
    let Some(uploads) = list(store, prefix).await? else {
        return Ok(None);
    };
    let cutoff = SystemTime::now() - min_age;
    let mut aborted = 0;
    for upload in uploads.iter().filter(|u| min_age.is_zero() || started_before(u, cutoff)) {
        if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
            abort_one(store, key, id).await?;
            aborted += 1;
        }
    }
    Ok(Some(aborted))
}

/// Aborts one upload of the object at `full_key`. An upload already gone
/// (completed or aborted meanwhile) is fine.
///
/// # Errors
/// A failing store.
pub(super) async fn abort_one(store: &Store, full_key: &str, upload_id: &str) -> Result<()> {
    let request = store.client.abort_multipart_upload().bucket(&store.bucket).key(full_key).upload_id(upload_id);
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("NoSuchUpload") => Ok(()),
        Err(e) => Err(store.error("abort the unfinished upload of", store.relative(full_key), e)),
    }
}

async fn list(store: &Store, prefix: &str) -> Result<Option<Vec<MultipartUpload>>> {
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker) = (None, None);
    loop {
        let request = store
            .client
            .list_multipart_uploads()
            .bucket(&store.bucket)
            .prefix(store.key(prefix))
            .set_key_marker(key_marker)
            .set_upload_id_marker(id_marker);
        let page = match request.send().await {
            Ok(page) => page,
            Err(e) if is_refused(&e) => return Ok(None),
            Err(e) => return Err(store.error("list multipart uploads", prefix, e)),
        };
        out.extend_from_slice(page.uploads());
        key_marker = page.next_key_marker().map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
        if !page.is_truncated().unwrap_or(false) || (key_marker.is_none() && id_marker.is_none()) {
            return Ok(Some(out));
        }
    }
}

/// Whether `upload` started before `cutoff`; an upload without a start time
/// is never taken as old.
fn started_before(upload: &MultipartUpload, cutoff: SystemTime) -> bool {
    upload.initiated().and_then(|t| SystemTime::try_from(*t).ok()).is_some_and(|t| t < cutoff)
}

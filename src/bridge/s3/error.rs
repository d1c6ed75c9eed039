//! S3 failures in the user's terms.
//!
//! The SDK's errors are exact but long (a refused connection is a chain of
//! five causes), and `replibyte` prints one line. So every failure becomes
//! one sentence naming the setting to check. The SDK never puts the secret
//! key in an error, and neither does this module.

use std::error::Error as StdError;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStreamError;

use super::Store;
use crate::bridge::BridgeError;

type Failure<E> = SdkError<E, HttpResponse>;

impl Store {
    /// `error`, from a request that would `action` the object `key`
    /// (relative to the prefix; empty for requests on the whole bucket), as
    /// a bridge error.
    pub(super) fn error<E>(&self, action: &str, key: &str, error: Failure<E>) -> BridgeError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        if is_not_found(&error) {
            return BridgeError::NotFound { store: self.name.clone(), key: key.to_string() };
        }
        let what = if key.is_empty() { action.to_string() } else { format!("{action} {key}") };
        self.other(format!("{what}: {}", self.explain(&error)))
    }

    /// A body that broke off while `key` was read.
    pub(super) fn body_error(&self, key: &str, error: &ByteStreamError) -> BridgeError {
        self.other(format!("read {key}: the transfer broke off: {}", root_cause(error)))
    }

    /// Any other failure, described by `message`.
    pub(super) fn other(&self, message: String) -> BridgeError {
        BridgeError::Other { store: self.name.clone(), message }
    }

    fn explain<E>(&self, error: &Failure<E>) -> String
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let endpoint = self.endpoint.as_deref().unwrap_or("AWS S3");
        match error {
            SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
                format!("cannot reach {endpoint} (retried for `retry_seconds`): {}", root_cause(error))
            }
            // Before any byte is sent: no credentials found, for one.
            SdkError::DispatchFailure(_) => format!("cannot send the request: {}", root_cause(error)),
            SdkError::TimeoutError(_) => format!("{endpoint} did not answer in time"),
            SdkError::ResponseError(_) => format!("unreadable answer from {endpoint}: {}", root_cause(error)),
            SdkError::ServiceError(_) => self.explain_refusal(error),
            // Construction failures (no credentials found, an unusable
            // setting) and whatever the SDK adds later.
            _ => root_cause(error),
        }
    }

    /// An answer of the store that says no.
    fn explain_refusal<E: ProvideErrorMetadata>(&self, error: &Failure<E>) -> String {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let said = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => format!("HTTP {}", status.unwrap_or_default()),
        };
        match error.code() {
            Some("NoSuchBucket") => {
                format!("bucket {} does not exist (create it, or check `bucket`, `endpoint` and `region`)", self.bucket)
            }
            Some("InvalidAccessKeyId") => "the store does not know this access key id (check `access_key_id`)".into(),
            Some("SignatureDoesNotMatch") => {
                "the secret access key does not match the access key id (check `secret_access_key`)".into()
            }
            Some("InvalidToken" | "ExpiredToken" | "TokenRefreshRequired") => {
                format!("the credentials' session token is not valid (refresh the credentials; {said})")
            }
            Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException") => {
                let region = error
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                format!("the bucket is in another region{region}: set `region` ({said})")
            }
            Some("AccessDenied" | "AllAccessDisabled") => {
                format!("access denied: the credentials lack a permission this needs ({said})")
            }
            _ if status.is_some_and(|s| s == 429 || s >= 500) => {
                format!("the store kept failing for `retry_seconds` ({said})")
            }
            _ => said,
        }
    }
}

fn is_not_found<E: ProvideErrorMetadata>(error: &Failure<E>) -> bool {
    let status = error.raw_response().map(|r| r.status().as_u16());
    matches!(error.code(), Some("NoSuchKey" | "NotFound")) || (status == Some(404) && error.code().is_none())
}

/// Whether the store refuses this kind of request for good: these
/// credentials may not, or the store does not implement it.
pub(super) fn is_refused<E: ProvideErrorMetadata>(error: &Failure<E>) -> bool {
    let status = error.raw_response().map(|r| r.status().as_u16());
    matches!(error.code(), Some("AccessDenied" | "NotImplemented")) || status == Some(501)
}

/// The innermost cause, which is the one that says what happened
/// ("Connection refused (os error 111)").
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

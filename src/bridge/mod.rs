//! Bridge: the object store between source and destination.
//!
//! A bridge deals only in keys and bytes; what the keys mean (dumps,
//! manifests, segments) is the business of [`crate::format`]. Large objects
//! stream in and out through [`ObjectWriter`] and [`ObjectReader`], so no
//! object is ever held whole in memory.

pub mod encrypted;
mod local;
mod s3;

pub use encrypted::EncryptedBridge;
pub use local::LocalBridge;
pub use s3::{S3Bridge, S3Settings};

use async_trait::async_trait;
use bytes::Bytes;
use thiserror::Error;
use tokio::io::AsyncRead;

use crate::config::BridgeConfig;

/// A failure of the object store, naming the store and the key.
#[derive(Debug, Error)]
pub enum BridgeError {
    #[error("{store}: no object {key}")]
    NotFound { store: String, key: String },
    #[error("{store}: {action} {key}: {source}")]
    Io {
        store: String,
        action: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{store}: {message}")]
    Other { store: String, message: String },
}

pub type Result<T, E = BridgeError> = std::result::Result<T, E>;

/// An object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// A readable stream of one object's bytes.
pub type ObjectReader = Box<dyn AsyncRead + Send + Unpin>;

/// An object store.
#[async_trait]
pub trait Bridge: Send + Sync {
    /// A short description for messages, without secrets.
    fn describe(&self) -> String;

    /// Writes a small object in one go, replacing any previous one.
    async fn put(&self, key: &str, body: Bytes) -> Result<()>;

    /// Reads a small object whole.
    async fn get(&self, key: &str) -> Result<Bytes>;

    /// Starts writing an object as a stream. The object becomes visible only
    /// when [`ObjectWriter::finish`] succeeds.
    async fn create(&self, key: &str) -> Result<Box<dyn ObjectWriter>>;

    /// Opens an object for streaming reads.
    async fn open(&self, key: &str) -> Result<ObjectReader>;

    /// Every object whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;

    /// The "directories" right below `prefix`: the distinct key parts between
    /// `prefix` and the next `/`, in order.
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>>;

    /// Deletes one object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Deletes every object under `prefix`.
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        for object in self.list(prefix).await? {
            self.delete(&object.key).await?;
        }
        Ok(())
    }
}

/// A streaming upload of one object.
#[async_trait]
pub trait ObjectWriter: Send {
    /// Appends bytes to the object.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;

    /// Completes the object and makes it visible; returns its size.
    async fn finish(self: Box<Self>) -> Result<u64>;

    /// Gives up: nothing of the object remains in the store.
    async fn abort(self: Box<Self>);
}

/// Opens the bridge a config describes, behind [`EncryptedBridge`] when
/// `encryption` is set.
///
/// # Errors
/// When the store cannot be set up (for instance, a directory that cannot be
/// created, or an S3 bucket that cannot be reached), or its encryption does
/// not match the config (a wrong secret, or none for an encrypted bridge).
pub async fn open(config: &BridgeConfig) -> Result<Box<dyn Bridge>> {
    let store: Box<dyn Bridge> = match config {
        BridgeConfig::Local { path, .. } => Box::new(LocalBridge::new(path.clone()).await?),
        BridgeConfig::S3 { .. } => Box::new(S3Bridge::connect(S3Settings::try_from(config)?).await?),
    };
    match config.encryption() {
        Some(encryption) => Ok(Box::new(EncryptedBridge::open(store, encryption).await?)),
        None => {
            encrypted::refuse_if_encrypted(store.as_ref()).await?;
            Ok(store)
        }
    }
}

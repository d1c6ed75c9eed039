//! Read locks: a restore, a verification or an incremental chain being
//! applied holds a lock object per dump it reads, so that `dump delete`,
//! `dump prune` and the agent's retention leave those dumps alone until it
//! is done (as restic does).
//!
//! A lock is `locks/{dump-id}/{lock-id}.json`, written when reading starts,
//! rewritten every [`REFRESH`] while it goes on, deleted at the end. A lock
//! not rewritten for [`STALE_AFTER`] belongs to a reader that died: it is
//! ignored (and removed by the next deletion that meets it). Locks live
//! outside the dumps' folders, so listing dumps never sees them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::DumpId;
use crate::bridge::{Bridge, BridgeError, Result};

/// How often a held lock is rewritten.
pub const REFRESH: Duration = Duration::from_secs(30);
/// A lock older than this is a dead reader's.
pub const STALE_AFTER: Duration = Duration::from_secs(180);

/// What a lock says about its reader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    /// What reads: `restore`, `verify`.
    pub purpose: String,
    pub host: String,
    pub pid: u32,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
}

impl LockInfo {
    fn is_stale(&self, now: DateTime<Utc>) -> bool {
        now - self.refreshed_at > chrono::Duration::from_std(STALE_AFTER).unwrap_or_default()
    }

    /// "a restore on host (pid 12), since …", for messages.
    pub fn describe(&self) -> String {
        format!(
            "a {} on {} (pid {}) since {}",
            self.purpose,
            self.host,
            self.pid,
            self.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

fn dir(dump: &DumpId) -> String {
    format!("locks/{dump}/")
}

/// Locks held on a set of dumps, refreshed in the background until
/// released (or dropped).
pub struct ReadLock {
    bridge: Arc<dyn Bridge>,
    keys: Vec<String>,
    refresher: JoinHandle<()>,
}

impl ReadLock {
    /// Takes a lock on each of `dumps` for `purpose`.
    ///
    /// # Errors
    /// A bridge that cannot store the lock objects.
    pub async fn take(bridge: Arc<dyn Bridge>, dumps: &[DumpId], purpose: &str) -> Result<ReadLock> {
        let now = Utc::now();
        let info = LockInfo {
            purpose: purpose.to_string(),
            host: hostname(),
            pid: std::process::id(),
            created_at: now,
            refreshed_at: now,
        };
        let lock_id = format!("{}-{:08x}", now.format("%Y%m%dT%H%M%S%.3fZ"), rand::random::<u32>());
        let keys: Vec<String> = dumps.iter().map(|d| format!("{}{lock_id}.json", dir(d))).collect();
        for key in &keys {
            bridge.put(key, to_json(&info)).await?;
        }
        let refresher = tokio::spawn(refresh(bridge.clone(), keys.clone(), info));
        debug!(dumps = dumps.len(), "read locks taken");
        Ok(ReadLock { bridge, keys, refresher })
    }

    /// Removes the locks.
    pub async fn release(self) {
        self.refresher.abort();
        for key in &self.keys {
            if let Err(e) = self.bridge.delete(key).await {
                warn!("a read lock was not removed ({e}); it goes stale in {} s", STALE_AFTER.as_secs());
            }
        }
    }
}

impl Drop for ReadLock {
    fn drop(&mut self) {
        // Released or not, the lock stops being refreshed: if the objects
        // stay, they go stale.
        self.refresher.abort();
    }
}

async fn refresh(bridge: Arc<dyn Bridge>, keys: Vec<String>, mut info: LockInfo) {
    loop {
        tokio::time::sleep(REFRESH).await;
        info.refreshed_at = Utc::now();
        for key in &keys {
            if let Err(e) = bridge.put(key, to_json(&info)).await {
                warn!("a read lock could not be refreshed: {e}");
            }
        }
    }
}

fn to_json(info: &LockInfo) -> Bytes {
    Bytes::from(serde_json::to_vec(info).expect("plain data serializes"))
}

/// The live locks on `dump` (stale ones are removed on the way).
///
/// # Errors
/// A failing bridge.
pub async fn holders(bridge: &dyn Bridge, dump: &DumpId) -> Result<Vec<LockInfo>> {
    let now = Utc::now();
    let mut live = Vec::new();
    for object in bridge.list(&dir(dump)).await? {
        // A lock that cannot be read is not taken for stale: the deletion
        // fails instead of removing a live reader's lock. One gone since
        // the listing was released.
        let bytes = match bridge.get(&object.key).await {
            Ok(bytes) => bytes,
            Err(BridgeError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        match serde_json::from_slice::<LockInfo>(&bytes) {
            Ok(info) if !info.is_stale(now) => live.push(info),
            // Stale, or not a lock at all (objects appear whole, so never
            // a lock half written).
            _ => {
                let _ = bridge.delete(&object.key).await;
            }
        }
    }
    Ok(live)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

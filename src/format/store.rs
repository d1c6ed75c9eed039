//! Reading and writing the dump format through a bridge.
//!
//! The index is a cache: listing trusts the folders and manifests present
//! in the bridge, uses the index for what it already summarizes, and
//! repairs it when it is missing or stale (two dumps finishing at once, a
//! crash between manifest and index).

use bytes::Bytes;
use thiserror::Error;

use super::index::DumpSummary;
use super::{keys, DumpId, Index, Manifest};
use crate::bridge::{Bridge, BridgeError};
use crate::catalog::globals::Globals;
use crate::catalog::DatabaseSchema;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error("{store}: {key}: {message}")]
    Corrupt { store: String, key: String, message: String },
    #[error("{store} has no complete dump {id} (`replibyte dump list` shows the dumps)")]
    UnknownDump { store: String, id: String },
    #[error("{store} holds no complete dump yet (run `replibyte dump` first)")]
    NoDumps { store: String },
    #[error("{store}: dump {id} applies to dump {parent}, which is not in the bridge: restore an older full dump, or take a new base (`replibyte dump`)")]
    BrokenChain { store: String, id: String, parent: String },
    #[error("dump {id} is being read by {by}: not deleted; delete it once that is done")]
    Locked { id: String, by: String },
}

/// Which dump a command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpRef {
    Latest,
    Id(DumpId),
}

impl std::str::FromStr for DumpRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            Ok(DumpRef::Latest)
        } else {
            s.parse().map(DumpRef::Id)
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(value).expect("plain data serializes"))
}

/// Stores a database's schema model; returns its key and size.
///
/// # Errors
/// A failing bridge.
pub async fn write_schema(
    bridge: &dyn Bridge,
    id: &DumpId,
    schema: &DatabaseSchema,
) -> Result<(String, u64), StoreError> {
    let key = keys::schema(id, &schema.database.name);
    let body = to_json(schema);
    let size = body.len() as u64;
    bridge.put(&key, body).await?;
    Ok((key, size))
}

/// Stores the roles and memberships; returns the key and size.
///
/// # Errors
/// A failing bridge.
pub async fn write_globals(bridge: &dyn Bridge, id: &DumpId, globals: &Globals) -> Result<(String, u64), StoreError> {
    let key = keys::globals(id);
    let body = to_json(globals);
    let size = body.len() as u64;
    bridge.put(&key, body).await?;
    Ok((key, size))
}

/// Reads the roles and memberships of a dump.
///
/// # Errors
/// A failing bridge or a malformed file.
pub async fn read_globals(bridge: &dyn Bridge, key: &str) -> Result<Globals, StoreError> {
    read_json(bridge, key).await
}

/// Reads a schema model.
///
/// # Errors
/// A failing bridge or a malformed file.
pub async fn read_schema(bridge: &dyn Bridge, key: &str) -> Result<DatabaseSchema, StoreError> {
    read_json(bridge, key).await
}

async fn read_json<T: serde::de::DeserializeOwned>(bridge: &dyn Bridge, key: &str) -> Result<T, StoreError> {
    let bytes = bridge.get(key).await?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        store: bridge.describe(),
        key: key.to_string(),
        message: e.to_string(),
    })
}

/// Writes the manifest, which makes the dump exist, then records it in the
/// index.
///
/// # Errors
/// A failing bridge. When only the index update fails the dump is complete
/// anyway (the next listing repairs the index).
pub async fn commit(bridge: &dyn Bridge, manifest: &Manifest) -> Result<(), StoreError> {
    bridge.put(&keys::manifest(&manifest.id), to_json(manifest)).await?;
    let mut index = read_index(bridge).await.unwrap_or_default();
    index.upsert(DumpSummary::of(manifest));
    write_index(bridge, &index).await
}

async fn write_index(bridge: &dyn Bridge, index: &Index) -> Result<(), StoreError> {
    let complete: Vec<DumpSummary> = index.dumps.iter().filter(|d| d.is_complete()).cloned().collect();
    bridge.put(keys::INDEX, to_json(&Index::new(complete))).await?;
    Ok(())
}

async fn read_index(bridge: &dyn Bridge) -> Result<Index, StoreError> {
    let bytes = match bridge.get(keys::INDEX).await {
        Ok(bytes) => bytes,
        Err(BridgeError::NotFound { .. }) => return Ok(Index::default()),
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        store: bridge.describe(),
        key: keys::INDEX.to_string(),
        message: e.to_string(),
    })
}

/// Reads the manifest of a dump, or `None` when the dump has none (it is
/// incomplete).
///
/// # Errors
/// A failing bridge, or a manifest this build cannot read.
pub async fn read_manifest(bridge: &dyn Bridge, id: &DumpId) -> Result<Option<Manifest>, StoreError> {
    let key = keys::manifest(id);
    match bridge.get(&key).await {
        Ok(bytes) => Manifest::from_json(&bytes).map(Some).map_err(|message| StoreError::Corrupt {
            store: bridge.describe(),
            key,
            message,
        }),
        Err(BridgeError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every dump in the bridge, newest first: complete ones, and the folders
/// of failed or running ones as `incomplete`. Repairs the index when it
/// disagrees with the manifests.
///
/// # Errors
/// A failing bridge.
pub async fn list(bridge: &dyn Bridge) -> Result<Vec<DumpSummary>, StoreError> {
    let index = read_index(bridge).await.unwrap_or_default();
    let mut out = Vec::new();
    let mut repaired = false;
    for dir in bridge.list_dirs("").await? {
        let Ok(id) = dir.parse::<DumpId>() else {
            continue;
        };
        if let Some(known) = index.dumps.iter().find(|d| d.id == id && d.is_complete()) {
            out.push(known.clone());
            continue;
        }
        match read_manifest(bridge, &id).await {
            Ok(Some(manifest)) => {
                out.push(DumpSummary::of(&manifest));
                repaired = true;
            }
            Ok(None) | Err(StoreError::Corrupt { .. }) => out.push(DumpSummary::incomplete(id)),
            Err(e) => return Err(e),
        }
    }
    let listed = Index::new(out);
    let indexed_gone = index.dumps.iter().any(|d| !listed.dumps.iter().any(|l| l.id == d.id));
    if repaired || indexed_gone {
        // Best effort: listing must work on a read-only bridge too.
        let _ = write_index(bridge, &listed).await;
    }
    Ok(listed.dumps)
}

/// The manifest of the dump `which` names, which must be complete.
///
/// # Errors
/// No such complete dump, or a failing bridge.
pub async fn resolve(bridge: &dyn Bridge, which: &DumpRef) -> Result<Manifest, StoreError> {
    let id = match which {
        DumpRef::Id(id) => id.clone(),
        DumpRef::Latest => {
            let dumps = list(bridge).await?;
            dumps
                .into_iter()
                .find(DumpSummary::is_complete)
                .map(|d| d.id)
                .ok_or_else(|| StoreError::NoDumps { store: bridge.describe() })?
        }
    };
    read_manifest(bridge, &id)
        .await?
        .ok_or_else(|| StoreError::UnknownDump { store: bridge.describe(), id: id.to_string() })
}

/// The chain `manifest` ends: its base (a full dump) first, then every
/// incremental dump up to `manifest`. A full dump is a chain of one.
///
/// # Errors
/// A missing parent, or a failing bridge.
pub async fn chain(bridge: &dyn Bridge, manifest: &Manifest) -> Result<Vec<Manifest>, StoreError> {
    let mut chain = vec![manifest.clone()];
    while let Some(parent) = chain.last().and_then(|m| m.parent.clone()) {
        let child = chain.last().map(|m| m.id.to_string()).unwrap_or_default();
        let found = read_manifest(bridge, &parent).await?.ok_or_else(|| StoreError::BrokenChain {
            store: bridge.describe(),
            id: child,
            parent: parent.to_string(),
        })?;
        chain.push(found);
    }
    chain.reverse();
    Ok(chain)
}

/// Deletes a dump that no reader holds (see [`super::locks`]): the manifest first (so it stops being restorable at
/// once), then everything else, then its index entry.
///
/// # Errors
/// An unknown dump or a failing bridge.
pub async fn delete(bridge: &dyn Bridge, id: &DumpId) -> Result<(), StoreError> {
    let dir = keys::dump_dir(id);
    if bridge.list(&dir).await?.is_empty() {
        return Err(StoreError::UnknownDump { store: bridge.describe(), id: id.to_string() });
    }
    if let Some(reader) = super::locks::holders(bridge, id).await?.first() {
        return Err(StoreError::Locked { id: id.to_string(), by: reader.describe() });
    }
    bridge.delete(&keys::manifest(id)).await?;
    bridge.delete_prefix(&dir).await?;
    let mut index = read_index(bridge).await.unwrap_or_default();
    index.remove(id);
    write_index(bridge, &index).await
}

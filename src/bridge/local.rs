//! The local-directory bridge: keys are relative paths below a root folder.
//!
//! Objects are written to a temporary name in the same folder and renamed
//! into place when complete, so a reader never sees half an object and a
//! crash leaves only `.partial` files, which listing ignores.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::fs;
use tokio::io::AsyncWriteExt;

use super::{Bridge, BridgeError, ObjectInfo, ObjectReader, ObjectWriter, Result};

const PARTIAL_SUFFIX: &str = ".partial";

/// A bridge on a local (or mounted) filesystem.
pub struct LocalBridge {
    root: PathBuf,
}

impl LocalBridge {
    /// A bridge rooted at `root`, created if missing.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub async fn new(root: PathBuf) -> Result<Self> {
        let bridge = LocalBridge { root };
        fs::create_dir_all(&bridge.root).await.map_err(|e| bridge.io("create folder", "", e))?;
        Ok(bridge)
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn io(&self, action: &'static str, key: &str, source: std::io::Error) -> BridgeError {
        if source.kind() == std::io::ErrorKind::NotFound && action == "read" {
            return BridgeError::NotFound { store: self.describe(), key: key.to_string() };
        }
        BridgeError::Io { store: self.describe(), action, key: key.to_string(), source }
    }

    async fn ensure_parent(&self, key: &str, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).await.map_err(|e| self.io("create folder for", key, e))?;
        }
        Ok(())
    }

    fn temp_path(path: &Path) -> PathBuf {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{:08x}{PARTIAL_SUFFIX}", rand::random::<u32>()));
        path.with_file_name(name)
    }
}

#[async_trait]
impl Bridge for LocalBridge {
    fn describe(&self) -> String {
        format!("local bridge {}", self.root.display())
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<()> {
        let mut writer = self.create(key).await?;
        writer.write(body).await?;
        writer.finish().await.map(|_| ())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        fs::read(self.path(key)).await.map(Bytes::from).map_err(|e| self.io("read", key, e))
    }

    async fn create(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        let path = self.path(key);
        self.ensure_parent(key, &path).await?;
        let temp = Self::temp_path(&path);
        let file = fs::File::create(&temp).await.map_err(|e| self.io("create", key, e))?;
        Ok(Box::new(LocalWriter { store: self.describe(), key: key.to_string(), path, temp, file, size: 0 }))
    }

    async fn open(&self, key: &str) -> Result<ObjectReader> {
        let file = fs::File::open(self.path(key)).await.map_err(|e| self.io("read", key, e))?;
        Ok(Box::new(tokio::io::BufReader::with_capacity(256 * 1024, file)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        // Walk only the folder the prefix points into, not the whole root.
        let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let mut stack = vec![self.root.join(dir_part)];
        while let Some(dir) = stack.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io("list", prefix, e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(|e| self.io("list", prefix, e))? {
                let meta = entry.metadata().await.map_err(|e| self.io("list", prefix, e))?;
                let path = entry.path();
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                if key.starts_with(prefix) && !key.ends_with(PARTIAL_SUFFIX) {
                    out.push(ObjectInfo { key, size: meta.len() });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = self.root.join(prefix);
        let mut out = Vec::new();
        let mut entries = match fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(self.io("list", prefix, e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(|e| self.io("list", prefix, e))? {
            if entry.file_type().await.map_err(|e| self.io("list", prefix, e))?.is_dir() {
                out.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key);
        match fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io("delete", key, e)),
        }
        // Tidy up folders left empty, up to the root; a folder that is not
        // empty simply stays.
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    /// A folder prefix goes in one sweep, with any `.partial` files that
    /// interrupted writers left in it.
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        if prefix.is_empty() || !prefix.ends_with('/') {
            for object in self.list(prefix).await? {
                self.delete(&object.key).await?;
            }
            return Ok(());
        }
        match fs::remove_dir_all(self.path(prefix)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io("delete", prefix, e)),
            _ => Ok(()),
        }
    }
}

struct LocalWriter {
    store: String,
    key: String,
    path: PathBuf,
    temp: PathBuf,
    file: fs::File,
    size: u64,
}

impl LocalWriter {
    fn io(&self, action: &'static str, source: std::io::Error) -> BridgeError {
        BridgeError::Io { store: self.store.clone(), action, key: self.key.clone(), source }
    }
}

#[async_trait]
impl ObjectWriter for LocalWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.size += chunk.len() as u64;
        self.file.write_all(&chunk).await.map_err(|e| self.io("write", e))
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        self.file.flush().await.map_err(|e| self.io("write", e))?;
        // Durable before visible: the rename must not expose a file whose
        // bytes are still only in the page cache.
        self.file.sync_all().await.map_err(|e| self.io("sync", e))?;
        fs::rename(&self.temp, &self.path).await.map_err(|e| self.io("rename", e))?;
        Ok(self.size)
    }

    async fn abort(self: Box<Self>) {
        drop(self.file);
        let _ = fs::remove_file(&self.temp).await;
    }
}

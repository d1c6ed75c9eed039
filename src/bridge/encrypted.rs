//! Encryption at rest: a decorator that encrypts every object of any bridge
//! on this side of the network, in the [age] format.
//!
//! - **One data key per bridge.** The first replibyte to write to a bridge
//!   generates an age X25519 identity, the data key, and stores it in
//!   [`KEY_OBJECT`], itself an age file locked with the configured secret:
//!   a passphrase (age's scrypt recipient) or an age identity. Every other
//!   object is an age file encrypted to the data key. Why not the secret
//!   itself: scrypt costs about a second on purpose, and a dump has
//!   hundreds of objects; X25519 costs microseconds.
//! - **Standard files.** age is authenticated (ChaCha20-Poly1305 per
//!   64 KiB chunk, truncation detected), and the `age` command reads every
//!   object: `age -d replibyte-key.age > data.key`, then
//!   `age -d -i data.key OBJECT`.
//! - **Streaming.** Writers encrypt chunk by chunk as bytes arrive and
//!   readers decrypt as they read: memory stays one age chunk per object.
//! - **Checked when opened.** A wrong secret fails every command before it
//!   starts work, and a bridge that already holds unencrypted dumps is not
//!   mixed with encrypted ones.
//!
//! Object keys and sizes stay visible to whoever can list the store: dump
//! ids, database and table names (docs/SECURITY.md).
//!
//! [age]: https://age-encryption.org/v1

use std::io::{self, Write};
use std::iter;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use age::secrecy::{ExposeSecret, SecretString};
use age::stream::StreamWriter;
use age::{x25519, DecryptError};
use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

use super::{Bridge, BridgeError, ObjectInfo, ObjectReader, ObjectWriter, Result};
use crate::config::EncryptionConfig;

/// The bridge's data key, locked with the configured secret.
pub const KEY_OBJECT: &str = "replibyte-key.age";

/// scrypt's work factor (log2 N) for a passphrase: about a second and
/// 256 MiB, as age recommends. Fixed rather than timed as age does by
/// default, because timing on a busy machine picks a factor that the same
/// machine, later and idle, would refuse as excessive.
const SCRYPT_LOG_N: u8 = 18;

/// The highest work factor accepted when unlocking (1 GiB): room for a key
/// re-locked with `age -p` on a fast machine, not for a denial of service.
const SCRYPT_MAX_LOG_N: u8 = 20;

/// A bridge whose objects are encrypted with the bridge's data key.
pub struct EncryptedBridge {
    inner: Box<dyn Bridge>,
    identity: x25519::Identity,
    recipient: x25519::Recipient,
}

/// The configured secret, which locks and unlocks the data key.
#[derive(Clone)]
enum Lock {
    Passphrase(SecretString),
    Identity(Arc<x25519::Identity>),
}

impl EncryptedBridge {
    /// Wraps `inner`, unlocking its data key with the configured secret (or
    /// creating the key, on a bridge that has none yet).
    ///
    /// # Errors
    /// A key that is not an age identity, a wrong secret, a bridge that
    /// holds unencrypted dumps, or a failing bridge.
    pub async fn open(inner: Box<dyn Bridge>, config: &EncryptionConfig) -> Result<Self> {
        let lock = Lock::from_config(config).map_err(|message| other(inner.as_ref(), message))?;
        let identity = match inner.get(KEY_OBJECT).await {
            Ok(sealed) => lock.unseal(sealed).await.map_err(|message| other(inner.as_ref(), message))?,
            Err(BridgeError::NotFound { .. }) => create_key(inner.as_ref(), lock).await?,
            Err(e) => return Err(e),
        };
        let recipient = identity.to_public();
        Ok(EncryptedBridge { inner, identity, recipient })
    }

    fn decrypt_error(&self, key: &str, error: DecryptError) -> BridgeError {
        let reason = match error {
            DecryptError::UnknownFormat | DecryptError::InvalidHeader => {
                "it is not encrypted (was it written without bridge.encryption?)".to_string()
            }
            DecryptError::NoMatchingKeys => "it was encrypted with another data key".to_string(),
            DecryptError::DecryptionFailed | DecryptError::InvalidMac | DecryptError::KeyDecryptionFailed => {
                DAMAGED.to_string()
            }
            DecryptError::Io(e) if e.kind() == io::ErrorKind::InvalidData => DAMAGED.to_string(),
            other => other.to_string(),
        };
        other(self, format!("cannot decrypt {key}: {reason}"))
    }
}

/// Why an authenticated chunk or header does not check out.
const DAMAGED: &str = "it is damaged or was tampered with";

/// Makes the data key of a bridge that has none, and stores it locked.
async fn create_key(inner: &dyn Bridge, lock: Lock) -> Result<x25519::Identity> {
    if !inner.list_dirs("").await?.is_empty() {
        return Err(other(
            inner,
            "it holds dumps written without encryption; use an empty path or prefix for encrypted dumps (or \
             delete those dumps first)"
                .to_string(),
        ));
    }
    let identity = x25519::Identity::generate();
    let sealed = lock.clone().seal(identity.to_string()).await.map_err(|message| other(inner, message))?;
    inner.put(KEY_OBJECT, sealed).await?;
    // Another replibyte may have stored its key at the same moment: the one
    // in the store wins, before a single object is encrypted.
    let stored = inner.get(KEY_OBJECT).await?;
    lock.unseal(stored).await.map_err(|message| other(inner, message))
}

impl Lock {
    fn from_config(config: &EncryptionConfig) -> Result<Self, String> {
        Ok(match config {
            EncryptionConfig::Passphrase(passphrase) => {
                Lock::Passphrase(SecretString::from(passphrase.expose().to_string()))
            }
            EncryptionConfig::Key(key) => {
                Lock::Identity(Arc::new(x25519::Identity::from_str(key.expose().trim()).map_err(|_| {
                    "bridge.encryption.key is not an age identity (AGE-SECRET-KEY-1…, as age-keygen prints it)"
                        .to_string()
                })?))
            }
        })
    }

    /// The config key of this secret, and of the other kind.
    fn names(&self) -> (&'static str, &'static str) {
        match self {
            Lock::Passphrase(_) => ("passphrase", "key"),
            Lock::Identity(_) => ("key", "passphrase"),
        }
    }

    /// Encrypts the data key. scrypt is slow on purpose, so this (and
    /// [`Lock::unseal`]) runs off the async workers.
    async fn seal(self, data_key: SecretString) -> Result<Bytes, String> {
        let sealed = tokio::task::spawn_blocking(move || match &self {
            Lock::Passphrase(passphrase) => {
                let mut recipient = age::scrypt::Recipient::new(passphrase.clone());
                recipient.set_work_factor(SCRYPT_LOG_N);
                age::encrypt(&recipient, data_key.expose_secret().as_bytes())
            }
            Lock::Identity(identity) => age::encrypt(&identity.to_public(), data_key.expose_secret().as_bytes()),
        });
        let sealed = sealed.await.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string()));
        sealed.map(Bytes::from).map_err(|e| format!("cannot lock the data key: {e}"))
    }

    /// Decrypts the data key.
    async fn unseal(self, sealed: Bytes) -> Result<x25519::Identity, String> {
        let (name, other_name) = self.names();
        let unsealed = tokio::task::spawn_blocking(move || match &self {
            Lock::Passphrase(passphrase) => {
                let mut identity = age::scrypt::Identity::new(passphrase.clone());
                identity.set_max_work_factor(SCRYPT_MAX_LOG_N);
                age::decrypt(&identity, &sealed)
            }
            Lock::Identity(identity) => age::decrypt(identity.as_ref(), &sealed),
        })
        .await
        .map_err(|e| format!("cannot unlock the data key: {e}"))?;
        let plaintext = unsealed.map_err(|e| match e {
            DecryptError::NoMatchingKeys | DecryptError::DecryptionFailed | DecryptError::KeyDecryptionFailed => {
                format!("wrong encryption {name}: {KEY_OBJECT} was locked with another one (or with a {other_name})")
            }
            other => format!("cannot unlock the data key in {KEY_OBJECT}: {other}"),
        })?;
        std::str::from_utf8(&plaintext)
            .ok()
            .and_then(|text| x25519::Identity::from_str(text.trim()).ok())
            .ok_or_else(|| format!("{KEY_OBJECT} does not hold an age identity: the bridge's data key is damaged"))
    }
}

fn other(bridge: &dyn Bridge, message: String) -> BridgeError {
    BridgeError::Other { store: bridge.describe(), message }
}

/// Refuses to use an encrypted bridge as a plain one, which would list its
/// dumps as incomplete and write unencrypted ones beside them.
///
/// # Errors
/// When the bridge has a data key, or cannot be read.
pub async fn refuse_if_encrypted(bridge: &dyn Bridge) -> Result<()> {
    match bridge.get(KEY_OBJECT).await {
        Ok(_) => Err(other(
            bridge,
            format!("its dumps are encrypted ({KEY_OBJECT}): set bridge.encryption (passphrase or key) to use it"),
        )),
        Err(BridgeError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl Bridge for EncryptedBridge {
    fn describe(&self) -> String {
        format!("{} (encrypted)", self.inner.describe())
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<()> {
        let ciphertext =
            age::encrypt(&self.recipient, &body).map_err(|e| other(self, format!("cannot encrypt {key}: {e}")))?;
        self.inner.put(key, Bytes::from(ciphertext)).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let ciphertext = self.inner.get(key).await?;
        age::decrypt(&self.identity, &ciphertext).map(Bytes::from).map_err(|e| self.decrypt_error(key, e))
    }

    async fn create(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        let inner = self.inner.create(key).await?;
        let sink = Sink::default();
        let encryptor = age::Encryptor::with_recipients(iter::once(&self.recipient as &dyn age::Recipient))
            .map_err(|e| other(self, format!("cannot encrypt {key}: {e}")))?;
        // Writing into a Vec cannot fail.
        let stream = encryptor.wrap_output(sink.clone()).expect("writes to memory");
        Ok(Box::new(EncryptingWriter { inner, stream, sink }))
    }

    async fn open(&self, key: &str) -> Result<ObjectReader> {
        let ciphertext = tokio::io::BufReader::new(self.inner.open(key).await?).compat();
        let decryptor = age::Decryptor::new_async_buffered(ciphertext).await.map_err(|e| self.decrypt_error(key, e))?;
        let plaintext = decryptor
            .decrypt_async(iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| self.decrypt_error(key, e))?;
        Ok(Box::new(Decrypting { inner: plaintext.compat(), key: key.to_string() }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.inner.list(prefix).await
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list_dirs(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        self.inner.delete_prefix(prefix).await
    }
}

/// A decrypting reader whose errors name the object: age reports a chunk
/// that fails authentication as a bare "decryption error".
struct Decrypting<R> {
    inner: R,
    key: String,
}

impl<R: AsyncRead + Unpin> AsyncRead for Decrypting<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::InvalidData => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cannot decrypt {}: {DAMAGED}", self.key),
            ))),
            other => other,
        }
    }
}

/// Where the age stream writer puts ciphertext until it is handed on to
/// the inner writer (after every write, so it never holds more than an
/// age chunk).
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().expect("never poisoned: no panics while held"))
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("never poisoned: no panics while held").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Encrypts a streamed object on its way to the inner writer.
struct EncryptingWriter {
    inner: Box<dyn ObjectWriter>,
    stream: StreamWriter<Sink>,
    sink: Sink,
}

impl EncryptingWriter {
    async fn forward(&mut self) -> Result<()> {
        let ciphertext = self.sink.take();
        if ciphertext.is_empty() {
            return Ok(());
        }
        self.inner.write(Bytes::from(ciphertext)).await
    }
}

#[async_trait]
impl ObjectWriter for EncryptingWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.stream.write_all(&chunk).expect("writes to memory");
        self.forward().await
    }

    async fn finish(self: Box<Self>) -> Result<u64> {
        let EncryptingWriter { mut inner, stream, sink } = *self;
        stream.finish().expect("writes to memory");
        let rest = sink.take();
        if !rest.is_empty() {
            inner.write(Bytes::from(rest)).await?;
        }
        inner.finish().await
    }

    async fn abort(self: Box<Self>) {
        self.inner.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::LocalBridge;
    use crate::config::{Expanded, Secret};
    use tokio::io::AsyncReadExt;

    fn passphrase(text: &str) -> EncryptionConfig {
        EncryptionConfig::Passphrase(Secret(Expanded(text.to_string())))
    }

    async fn local(dir: &std::path::Path) -> Box<dyn Bridge> {
        Box::new(LocalBridge::new(dir.to_path_buf()).await.unwrap())
    }

    #[tokio::test]
    async fn objects_round_trip_and_are_stored_as_age_files() {
        let dir = tempfile::tempdir().unwrap();
        let bridge = EncryptedBridge::open(local(dir.path()).await, &passphrase("pass 1")).await.unwrap();
        bridge.put("a/small.json", Bytes::from_static(b"{\"email\": \"ann@example.com\"}")).await.unwrap();
        assert_eq!(&bridge.get("a/small.json").await.unwrap()[..], b"{\"email\": \"ann@example.com\"}");

        // Several age chunks, written in uneven pieces.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut writer = bridge.create("a/big.bin").await.unwrap();
        for piece in big.chunks(70_001) {
            writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        let stored = writer.finish().await.unwrap();
        let mut read = Vec::new();
        bridge.open("a/big.bin").await.unwrap().read_to_end(&mut read).await.unwrap();
        assert_eq!(read, big);

        let raw = std::fs::read(dir.path().join("a/big.bin")).unwrap();
        assert_eq!(raw.len() as u64, stored);
        for file in ["a/small.json", "a/big.bin", KEY_OBJECT] {
            let raw = std::fs::read(dir.path().join(file)).unwrap();
            assert!(raw.starts_with(b"age-encryption.org/v1\n"), "{file} is not an age file");
            assert!(!raw.windows(9).any(|w| w == b"ann@examp"), "{file} holds plaintext");
        }
    }

    #[tokio::test]
    async fn a_wrong_secret_or_a_plain_bridge_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let bridge = EncryptedBridge::open(local(dir.path()).await, &passphrase("right")).await.unwrap();
        bridge.put("d/x", Bytes::from_static(b"x")).await.unwrap();
        drop(bridge);

        let err = EncryptedBridge::open(local(dir.path()).await, &passphrase("wrong")).await.err().unwrap();
        assert!(err.to_string().contains("wrong encryption passphrase"), "{err}");
        let key = EncryptionConfig::Key(Secret(Expanded(
            x25519::Identity::generate().to_string().expose_secret().to_string(),
        )));
        let err = EncryptedBridge::open(local(dir.path()).await, &key).await.err().unwrap();
        assert!(err.to_string().contains("wrong encryption key"), "{err}");
        let err = refuse_if_encrypted(local(dir.path()).await.as_ref()).await.unwrap_err();
        assert!(err.to_string().contains("set bridge.encryption"), "{err}");

        let plain = tempfile::tempdir().unwrap();
        local(plain.path()).await.put("d/x", Bytes::from_static(b"x")).await.unwrap();
        let err = EncryptedBridge::open(local(plain.path()).await, &passphrase("p")).await.err().unwrap();
        assert!(err.to_string().contains("written without encryption"), "{err}");
        let bad_key = EncryptionConfig::Key(Secret(Expanded("AGE-SECRET-KEY-1NOPE-hidden".into())));
        let err = EncryptedBridge::open(local(dir.path()).await, &bad_key).await.err().unwrap();
        assert!(err.to_string().contains("not an age identity") && !err.to_string().contains("hidden"), "{err}");
    }

    #[tokio::test]
    async fn tampering_and_plaintext_objects_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let key = x25519::Identity::generate().to_string().expose_secret().to_string();
        let config = EncryptionConfig::Key(Secret(Expanded(key)));
        let bridge = EncryptedBridge::open(local(dir.path()).await, &config).await.unwrap();
        bridge.put("d/x", Bytes::from(vec![7u8; 1000])).await.unwrap();
        let path = dir.path().join("d/x");
        let mut raw = std::fs::read(&path).unwrap();
        let last = raw.len() - 20;
        raw[last] ^= 1;
        std::fs::write(&path, raw).unwrap();
        let err = bridge.get("d/x").await.unwrap_err().to_string();
        assert!(err.contains("cannot decrypt d/x: it is damaged or was tampered with"), "{err}");
        let mut read = Vec::new();
        let err = bridge.open("d/x").await.unwrap().read_to_end(&mut read).await.unwrap_err().to_string();
        assert_eq!(err, "cannot decrypt d/x: it is damaged or was tampered with");
        std::fs::write(&path, b"{}").unwrap();
        let err = bridge.get("d/x").await.unwrap_err().to_string();
        assert!(err.contains("it is not encrypted"), "{err}");
    }
}

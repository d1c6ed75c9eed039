//! Segment checksums: XXH3-64 of the uncompressed COPY bytes.
//!
//! A checksum here guards against corruption in storage or transit, not
//! against tampering (that is the job of authenticated encryption), so the
//! fastest sound hash wins: XXH3 runs at memory speed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::Xxh3;

/// A checksum as stored in a manifest: `xxh3-64:<16 hex digits>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(u64);

impl Checksum {
    /// The checksum of `bytes`, in one go.
    pub fn of(bytes: &[u8]) -> Self {
        Checksum(xxhash_rust::xxh3::xxh3_64(bytes))
    }
}

/// Computes a [`Checksum`] over bytes that arrive in pieces.
pub struct ChecksumHasher(Box<Xxh3>);

impl ChecksumHasher {
    pub fn new() -> Self {
        ChecksumHasher(Box::new(Xxh3::new()))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(&self) -> Checksum {
        Checksum(self.0.digest())
    }
}

impl Default for ChecksumHasher {
    fn default() -> Self {
        Self::new()
    }
}

const PREFIX: &str = "xxh3-64:";

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{:016x}", self.0)
    }
}

impl FromStr for Checksum {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("unknown checksum algorithm in {s:?} (expected {PREFIX}…)"))?;
        u64::from_str_radix(hex, 16).map(Checksum).map_err(|_| format!("malformed checksum {s:?}"))
    }
}

impl Serialize for Checksum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_one_shot_and_text_round_trips() {
        let data = b"some bytes to hash, in pieces";
        let mut h = ChecksumHasher::new();
        for piece in data.chunks(7) {
            h.update(piece);
        }
        let c = h.finish();
        assert_eq!(c, Checksum::of(data));
        assert_eq!(c.to_string().parse::<Checksum>().unwrap(), c);
        assert!("sha1:00".parse::<Checksum>().is_err());
    }
}

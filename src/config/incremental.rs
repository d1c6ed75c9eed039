//! `source.incremental` and `source.max_retained_wal`: after a full base
//! dump, each dump carries only the changes since the previous one.

use std::time::Duration;

use serde::Deserialize;

/// `incremental: true`, or a map of settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incremental {
    pub enabled: bool,
    /// A new base once the chain's base is this old.
    pub full_every: Duration,
    /// A new base once the chain has this many dumps after its base.
    pub max_chain: usize,
    /// The replication slot (and publication) on the source; one per
    /// source database and config.
    pub slot: Option<String>,
}

/// Default age of a base before the next one: a week.
const FULL_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default longest chain of deltas after a base.
const MAX_CHAIN: usize = 100;

impl<'de> Deserialize<'de> for Incremental {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Settings {
            full_every: Option<String>,
            max_chain: Option<usize>,
            slot: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Settings(Settings),
        }
        let settings = match Raw::deserialize(d)? {
            Raw::Flag(false) => return Ok(Incremental::default()),
            Raw::Flag(true) => Settings { full_every: None, max_chain: None, slot: None },
            Raw::Settings(settings) => settings,
        };
        let full_every = match settings.full_every {
            Some(text) => humantime::parse_duration(&text).map_err(|e| {
                serde::de::Error::custom(format!("incremental.full_every: {text:?}: {e} (e.g. 7d, 12h)"))
            })?,
            None => FULL_EVERY,
        };
        if let Some(slot) = &settings.slot {
            let valid = !slot.is_empty()
                && slot.len() <= 63
                && slot.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(serde::de::Error::custom(format!(
                    "incremental.slot: {slot:?} is not a slot name (lower-case letters, digits and _, at most 63)"
                )));
            }
        }
        Ok(Incremental {
            enabled: true,
            full_every,
            max_chain: settings.max_chain.unwrap_or(MAX_CHAIN).max(1),
            slot: settings.slot,
        })
    }
}

/// Default WAL a slot may hold back before the next run drops it and
/// takes a new base.
pub const MAX_RETAINED_WAL: u64 = 10 * 1024 * 1024 * 1024;

/// Parses `max_retained_wal` (`10GB`, `512MiB`, a plain number of bytes).
///
/// # Errors
/// A size that cannot be read, in words naming the key.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("max_retained_wal: {text:?} is not a size ({e}); e.g. 10GB or 512MiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_or_settings() {
        let on: Incremental = serde_yaml::from_str("true").unwrap();
        assert!(on.enabled && on.full_every == FULL_EVERY && on.max_chain == MAX_CHAIN && on.slot.is_none());
        let off: Incremental = serde_yaml::from_str("false").unwrap();
        assert!(!off.enabled);
        let set: Incremental = serde_yaml::from_str("{full_every: 12h, max_chain: 5, slot: app_sync}").unwrap();
        assert_eq!(set.full_every, Duration::from_secs(12 * 3600));
        assert_eq!((set.max_chain, set.slot.as_deref()), (5, Some("app_sync")));
        assert!(serde_yaml::from_str::<Incremental>("{full_every: soon}").is_err());
        assert!(serde_yaml::from_str::<Incremental>("{slot: Bad-Name}").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10GB").unwrap(), 10_000_000_000);
        assert_eq!(parse_size("512MiB").unwrap(), 512 * 1024 * 1024);
        assert!(parse_size("lots").unwrap_err().contains("max_retained_wal"));
    }
}

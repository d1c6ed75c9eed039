//! Dump ids: the UTC time the dump started, to the millisecond, then a random
//! suffix, so ids sort by time and two dumps started together do not collide.
//!
//! Milliseconds matter: the agent can start a dump in the second its previous
//! one finished, and "newest" (retention, `latest`) is the greatest id. Ids of
//! versions that wrote whole seconds (`20261126T030000Z-ab12`) still parse.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A dump id such as `20261126T030000.250Z-ab12`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DumpId(String);

/// Written with exactly three fraction digits, so ids of one version have one
/// length and their byte order is their time order.
const WRITE_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";
/// `%.f` also reads no fraction at all: ids of earlier versions.
const READ_FORMAT: &str = "%Y%m%dT%H%M%S%.fZ";

impl DumpId {
    /// A new id for a dump starting at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        DumpId(format!("{}-{:04x}", now.format(WRITE_FORMAT), rand::random::<u16>()))
    }

    /// When the dump started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        let time = self.0.split('-').next()?;
        NaiveDateTime::parse_from_str(time, READ_FORMAT).ok().map(|t| t.and_utc())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DumpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DumpId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = DumpId(s.to_string());
        let suffix_ok = s
            .split_once('-')
            .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit()));
        if id.started_at().is_some() && suffix_ok {
            Ok(id)
        } else {
            Err(format!(
                "{s:?} is not a dump id (expected something like 20261126T030000.250Z-ab12; `dump list` shows them)"
            ))
        }
    }
}

impl Serialize for DumpId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DumpId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_sort_by_time_and_parse_back() {
        let early = DumpId::new(Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap());
        let late = DumpId::new(Utc.with_ymd_and_hms(2026, 11, 26, 4, 0, 0).unwrap());
        assert!(early < late);
        assert!(early.as_str().starts_with("20261126T030000.000Z-"));
        assert_eq!(early.to_string().parse::<DumpId>().unwrap(), early);
        assert_eq!(early.started_at().unwrap(), Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap());
        assert!("../../etc".parse::<DumpId>().is_err());

        // Two dumps in one second: the later one is the greater id.
        let second = Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap();
        for _ in 0..64 {
            let a = DumpId::new(second + chrono::Duration::milliseconds(1));
            let b = DumpId::new(second + chrono::Duration::milliseconds(999));
            assert!(a < b, "{a} < {b}");
        }
        let later = DumpId::new(second + chrono::Duration::milliseconds(250));
        assert_eq!(later.started_at().unwrap(), second + chrono::Duration::milliseconds(250));

        // Ids written by versions without milliseconds.
        let old: DumpId = "20261126T030000Z-ab12".parse().unwrap();
        assert_eq!(old.started_at().unwrap(), second);
        assert!("latest".parse::<DumpId>().is_err());
    }
}

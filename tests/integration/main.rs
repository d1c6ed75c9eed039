//! Integration tests: the `replibyte` binary against a real PostgreSQL
//! (started by scripts/test.sh).

mod agent;
mod compare;
mod failures;
mod faithful;
mod harness;
mod incremental;
mod load;
mod outages;
mod privacy;
mod roundtrip;
mod s3;
mod scope;
mod security;
mod sharing;
mod subset;
mod transform;
mod versions;

//! Integration tests: the `replibyte` binary against a real PostgreSQL
//! (started by scripts/test.sh).

mod compare;
mod failures;
mod harness;
mod roundtrip;

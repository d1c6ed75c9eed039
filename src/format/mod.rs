//! Format: the layout of dumps in a bridge, as documented in docs/FORMAT.md.
//!
//! ```text
//! {prefix}index.json                                   list of complete dumps
//! {prefix}{dump-id}/manifest.json                      written last
//! {prefix}{dump-id}/{database}/schema.json             the schema model
//! {prefix}{dump-id}/{database}/data/{table}/{n}.bin.zst  segments
//! ```
//!
//! Plain data and key naming only; reading and writing them is done by
//! [`store`] over any [`crate::bridge::Bridge`].

mod id;
mod index;
pub mod locks;
mod manifest;
pub mod retention;
pub mod store;
pub mod verify;

pub use id::DumpId;
pub use index::{DumpSummary, Index};
pub use manifest::{
    ChangeSet, ChangeTable, DatabaseEntry, DumpKind, Manifest, Replication, SegmentEntry, SequenceValue, TableEntry,
    Totals,
};

/// The version of the dump format this build writes for full dumps, and
/// the oldest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The version of incremental dumps (and the newest this build reads): a
/// reader of version 1 would take a delta for a full dump without rows, so
/// it must refuse them.
pub const INCREMENTAL_FORMAT_VERSION: u32 = 2;

/// Identifies replibyte manifests among other JSON files.
pub const FORMAT_NAME: &str = "replibyte-dump";

/// Object keys of the dump format.
pub mod keys {
    use super::DumpId;

    pub const INDEX: &str = "index.json";

    pub fn manifest(id: &DumpId) -> String {
        format!("{id}/manifest.json")
    }

    pub fn dump_dir(id: &DumpId) -> String {
        format!("{id}/")
    }

    pub fn globals(id: &DumpId) -> String {
        format!("{id}/globals.json")
    }

    pub fn schema(id: &DumpId, database: &str) -> String {
        format!("{id}/{}/schema.json", component(database))
    }

    /// Key of segment `n` of an incremental dump's changes.
    pub fn changes(id: &DumpId, database: &str, n: usize) -> String {
        format!("{id}/{}/changes/{n:06}.bin.zst", component(database))
    }

    /// Key of segment `n` of part `part` of a table, both counting from 0.
    pub fn segment(id: &DumpId, database: &str, schema: &str, table: &str, part: usize, n: usize) -> String {
        format!(
            "{id}/{}/data/{}/{part:03}-{n:06}.bin.zst",
            component(database),
            component(&format!("{schema}.{table}"))
        )
    }

    /// A name as one safe path component: anything outside a small set of
    /// characters is percent-encoded, so hostile names (slashes, dots-only,
    /// unicode) cannot escape the dump's folder or clash.
    pub fn component(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !out.is_empty()) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn components_cannot_escape() {
            assert_eq!(component("public.users"), "public.users");
            assert_eq!(component("../x"), "%2E./x".replace('/', "%2F"));
            assert_eq!(component("a b/\"c\""), "a%20b%2F%22c%22");
            assert_eq!(component("表"), "%E8%A1%A8");
        }
    }
}

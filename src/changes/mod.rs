//! Changes: what happened on the source since the previous dump, read
//! from a logical replication slot (`pgoutput`), for incremental dumps.
//!
//! [`pgoutput`] decodes the plugin's messages, [`rows`] takes changed rows
//! through the transformers, [`record`] is how a delta stores each change,
//! [`slot`] manages the slot and publication on the source, and
//! [`snapshot`] tells which transactions a base dump already saw.

pub mod lsn;
pub mod pgoutput;
pub mod record;
pub mod rows;
pub mod slot;
pub mod snapshot;

pub use lsn::Lsn;

//! Transform: replaces the values of configured columns between COPY OUT
//! and the segments, so that no original value reaches the bridge.
//!
//! The shape, from config to row:
//!
//! ```text
//! source.transformers (YAML) ─► Rules ─► check against the catalog ─► Plans
//!                                         (every error, before any row)     │
//! COPY OUT tuple ─► Rewriter (one per table and worker) ─► segment ◄─────────┘
//! ```
//!
//! - A [`Transformer`] is per value, in the spirit of postgres-types: its
//!   [`registry::Kind`] says which column types it `accepts` before any data
//!   moves; [`Transformer::apply`] turns one binary field (or NULL) into the
//!   new one, writing into a buffer the caller reuses.
//! - A [`TablePlan`] rewrites a binary COPY tuple: only the transformed
//!   fields are looked at; every run of other fields is copied as raw bytes.
//! - Every choice a transformer makes comes from a keyed hash of the input
//!   ([`key`]): deterministic with `source.secret`, random per run without.
//!
//! One file per family of transformers; [`registry`] lists them all.

mod basic;
mod card;
mod checks;
mod contact;
pub mod detect;
mod dictionary;
mod facts;
mod hash;
mod json;
pub mod key;
mod numeric;
mod options;
mod person;
mod plan;
mod pseudonym;
mod random;
mod range;
mod references;
pub mod registry;
mod rules;
mod text;
pub mod types;
mod validate;

pub use plan::{Plans, RewriteError, Rewriter, Step, TablePlan};
pub use rules::{Problem, Rules, RulesError};
pub use types::{ColumnType, Type};

use thiserror::Error;

/// What [`Transformer::apply`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The bytes written to the output buffer are the new value.
    Value,
    /// The new value is NULL (nothing was written).
    Null,
}

/// A value a transformer cannot handle. The message never contains the
/// value: it may be the very data the transformer is there to hide.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    pub fn new(message: impl Into<String>) -> ValueError {
        ValueError(message.into())
    }
}

/// Replaces one column's values.
///
/// Built for one column type (see [`registry::Kind::accepts`]); stateless
/// per value, so one instance serves every worker.
pub trait Transformer: Send + Sync {
    /// Appends the replacement of `input` (a binary COPY field, `None` for
    /// NULL) to `out`, after what it holds already (the tuple being
    /// rewritten, up to this field's length word), and writes nothing for
    /// NULL.
    ///
    /// NULL stays NULL unless the transformer exists to change that
    /// (`null`, `constant`).
    ///
    /// # Errors
    /// A malformed field, or one the transformer cannot map (a dictionary
    /// told to fail on unknown values).
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError>;

    /// What every output is known to satisfy, checked against the column's
    /// constraints before any data moves.
    fn guarantees(&self) -> Guarantees;
}

/// What a transformer promises about its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guarantees {
    /// Whether a non-NULL input may become NULL.
    pub makes_nulls: bool,
    /// The length of text outputs, in characters.
    pub length: Length,
    /// Distinct inputs give distinct outputs except with probability at
    /// most `n² / 2^(unique_bits + 1)` for `n` values: the output carries
    /// this many bits of the input's keyed hash (or is the input itself,
    /// [`u32::MAX`]). 0 when the transformer makes no such promise.
    pub unique_bits: u32,
}

/// Bits of keyed hash an output needs to be accepted for a unique column:
/// with 64 bits, 2 million distinct values collide with probability below
/// 1.1e-7.
pub const UNIQUE_BITS: u32 = 64;

/// How long a text output can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// As long as the input (any limit the input met still holds).
    Same,
    /// At most this many characters.
    AtMost(usize),
    /// Not bounded in advance.
    Unbounded,
}

impl Guarantees {
    /// Outputs of at most `max` characters, no NULLs, no uniqueness.
    pub fn at_most(max: usize) -> Guarantees {
        Guarantees { makes_nulls: false, length: Length::AtMost(max), unique_bits: 0 }
    }

    /// Outputs of a type other than text (no length to check), no NULLs,
    /// no uniqueness.
    pub fn non_text() -> Guarantees {
        Guarantees::same_length()
    }

    /// Outputs as long as their inputs, no NULLs, no uniqueness.
    pub fn same_length() -> Guarantees {
        Guarantees { makes_nulls: false, length: Length::Same, unique_bits: 0 }
    }

    /// The same, carrying `bits` bits of keyed hash.
    pub fn unique(self, bits: u32) -> Guarantees {
        Guarantees { unique_bits: bits, ..self }
    }
}

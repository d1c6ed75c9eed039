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
//!   [`Kind`](spec::Kind) says which column types it `accepts` before any data
//!   moves; [`Transformer::apply`] turns one binary field (or NULL) into the
//!   new one, writing into a buffer the caller reuses.
//! - A [`TablePlan`] rewrites a binary COPY tuple: only the transformed
//!   fields are looked at; every run of other fields is copied as raw bytes.
//! - Every choice a transformer makes comes from a keyed hash of the input
//!   ([`key`]): deterministic with `source.secret`, random per run without.
//!
//! The modules depend on each other in one direction only, no circles:
//! spec ← kinds ← registry ← validate and plan; detect beside.
//!
//! ```text
//! helpers    error, key, options, types, numeric    ← nothing above them
//! spec       Transformer, Guarantees, Kind, Build   ← helpers
//! kinds/     one file per family of transformers    ← spec, helpers
//! registry   every kind by name                     ← kinds, spec
//! plan       the hot path: TablePlan, Rewriter      ← spec
//! validate/  Rules, checked against the source      ← registry, plan, spec, helpers
//! detect/    the privacy scan, beside the kinds     ← registry, types
//! ```
//!
//! A kind that builds others (`json`) finds them through the lookup its
//! [`Build`](spec::Build) context carries, never through the registry.

pub mod detect;
mod error;
pub mod key;
mod kinds;
mod numeric;
mod options;
mod plan;
pub mod registry;
pub mod spec;
pub mod types;
mod validate;

pub use plan::{Plans, RewriteError, Rewriter, Step, TablePlan};
pub use spec::Transformer;
pub use types::{ColumnType, Type};
pub use validate::{Rules, RulesError};

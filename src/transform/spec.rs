//! The spec every transformer kind is written against: the
//! [`Transformer`] trait and what it promises ([`Guarantees`]), and the
//! [`Kind`] descriptor a kind declares with the [`Build`] context it is
//! built from.
//!
//! Kinds import this, never the registry that lists them: a kind that
//! builds others (`json`) finds them through [`Build::lookup`].

use std::path::Path;

use serde_yaml::Value;

use super::error::ValueError;
use super::key::{Key, Keys};
use super::options;
use super::types::{self, ColumnType, Type};

/// What [`Transformer::apply`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The bytes written to the output buffer are the new value.
    Value,
    /// The new value is NULL (nothing was written).
    Null,
}

/// Replaces one column's values.
///
/// Built for one column type (see [`Kind::accepts`]); stateless
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

/// One built-in transformer, as the registry lists it.
pub struct Kind {
    /// The name written in `transformer:`.
    pub name: &'static str,
    /// One line for `transformer list`.
    pub summary: &'static str,
    /// `(option, what it does and its default)`.
    pub options: &'static [(&'static str, &'static str)],
    /// Whether the transformer can write a column of this (base) type:
    /// checked before any data moves.
    pub accepts: fn(&Type) -> bool,
    /// Builds the transformer for a column it accepts.
    pub build: fn(&Build) -> Result<Box<dyn Transformer>, String>,
}

/// What a transformer is built from.
pub struct Build<'a> {
    pub options: Option<&'a Value>,
    pub column: &'a ColumnType,
    /// The key of this transformer configuration.
    pub key: Key,
    /// The dump's keys, for transformers that build others (`json`).
    pub keys: &'a Keys,
    /// Where relative paths in options are resolved: the config file's
    /// folder.
    pub dir: &'a Path,
    /// The transformers by name, for transformers that build others
    /// (`json`).
    pub lookup: Lookup,
}

/// Finds a transformer by the name a config gives it; an unknown name is
/// an error that suggests a known one. The registry's, passed down so that
/// no kind imports the registry.
pub type Lookup = fn(&str) -> Result<&'static Kind, String>;

impl Kind {
    /// Builds this transformer for `column`, keyed by its name and options.
    ///
    /// # Errors
    /// A type the transformer does not accept, or invalid options; the
    /// message says what would be valid.
    pub fn build(
        &self,
        options: Option<&Value>,
        column: &ColumnType,
        keys: &Keys,
        dir: &Path,
        lookup: Lookup,
    ) -> Result<Box<dyn Transformer>, String> {
        if !(self.accepts)(&column.ty) {
            return Err(format!(
                "transformer `{}` cannot write a column of type {}; it accepts {}",
                self.name,
                column.ty.name(),
                self.accepted_types()
            ));
        }
        let key = keys.derive(&format!("{}\0{}", self.name, options::canonical(options)));
        (self.build)(&Build { options, column, key, keys, dir, lookup })
    }

    /// The common column types this transformer accepts, for messages and
    /// `transformer list`.
    pub fn accepted_types(&self) -> String {
        // A type no transformer knows tells those that take anything.
        if (self.accepts)(&Type::INET) {
            return "every type".to_string();
        }
        let listed = types::listed();
        let accepted: Vec<&str> = listed.iter().filter(|t| (self.accepts)(t)).map(Type::name).collect();
        accepted.join(", ")
    }
}

/// The lookup of tests of kinds that build no other transformer.
#[cfg(test)]
pub fn no_lookup(name: &str) -> Result<&'static Kind, String> {
    unreachable!("a transformer that builds no other looked up `{name}`")
}

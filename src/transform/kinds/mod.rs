//! The built-in transformers, one file per family. Each declares its
//! [`Kind`](super::spec::Kind)s against the spec and imports only the spec,
//! the helpers below it (`error`, `types`, `numeric`, `key`, `options`) and
//! at most a sibling's helper (`contact` uses `person`'s names, `random`
//! uses `range`'s instants); the registry, above them, lists them.

pub mod basic;
pub mod card;
pub mod contact;
pub mod dictionary;
pub mod hash;
pub mod json;
pub mod person;
pub mod pseudonym;
pub mod random;
pub mod range;
pub mod text;

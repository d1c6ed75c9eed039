//! Checking the transformer config against the source, before any row
//! moves: every table and column it names must exist; every transformer
//! must exist, accept the column's type and its options; and what it writes
//! must fit the column: NOT NULL, the length limit of `varchar(n)`, a
//! unique index ([`column`](mod@column)), CHECK constraints and domains
//! ([`constraints`]); the two sides of a foreign key must be transformed
//! alike ([`references`]).
//!
//! Every problem is collected, not just the first, so one `check` run shows
//! all that needs fixing.
//!
//! Inside, each file imports only those before it: [`problems`] ←
//! [`rules`], [`facts`] ← [`planned`], [`column`](mod@column), [`references`] ←
//! [`constraints`] ← [`source`] (which gives [`Rules::plan`]).

mod column;
mod constraints;
mod facts;
mod planned;
mod problems;
mod references;
mod rules;
mod source;

pub use problems::RulesError;
pub use rules::Rules;

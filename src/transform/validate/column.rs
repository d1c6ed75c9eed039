//! One column's transformer, built and checked against the column: the
//! column exists, the transformer exists and accepts its type and options,
//! and what it writes fits: NOT NULL, the length limit of `varchar(n)`, a
//! unique index.

use std::sync::Arc;

use super::facts::ColumnFacts;
use super::problems::Part;
use super::rules::Rules;
use crate::catalog::TableData;
use crate::config::ColumnTransformer;
use crate::transform::plan::Step;
use crate::transform::registry::{self, closest};
use crate::transform::spec::{Length, UNIQUE_BITS};

/// Builds and checks one column's transformer: its facts and step, or what
/// is wrong and where.
pub fn check(
    rules: &Rules,
    shown: &str,
    table: &TableData,
    configured: &ColumnTransformer,
    facts: Option<&ColumnFacts>,
) -> Result<(ColumnFacts, Step), (Part, String)> {
    let at = format!("column {shown}.{}", configured.name);
    let Some(index) = table.columns.iter().position(|c| c.name == configured.name) else {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        return Err((
            Part::Name,
            format!("{at} does not exist (or is generated); {}", suggest(&configured.name, &names)),
        ));
    };
    let info = &table.columns[index];
    let facts = facts.ok_or_else(|| (Part::Name, format!("{at}: its type could not be read from the catalog")))?;
    let kind = registry::lookup(&configured.transformer).map_err(|message| (Part::Transformer, message))?;
    if !(kind.accepts)(&facts.column.ty) {
        return Err((
            Part::Transformer,
            format!(
                "{at} is of type {}, which transformer `{}` cannot write; it accepts {}",
                info.type_name,
                kind.name,
                kind.accepted_types()
            ),
        ));
    }
    let part = if configured.options.is_some() { Part::Options } else { Part::Transformer };
    let transformer = kind
        .build(configured.options.as_ref(), &facts.column, &rules.keys, rules.dir(), registry::lookup)
        .map_err(|e| (part, format!("{at}, transformer `{}`: {e}", kind.name)))?;
    let promised = transformer.guarantees();
    if info.not_null && promised.makes_nulls {
        return Err((
            part,
            format!("{at} is NOT NULL, but transformer `{}` can write NULL; choose one that writes values", kind.name),
        ));
    }
    if let Some(max) = facts.column.max_chars {
        let too_long = match promised.length {
            Length::AtMost(n) => (n > max).then(|| format!("up to {n} characters")),
            Length::Unbounded => Some("values of any length".to_string()),
            Length::Same => None,
        };
        if let Some(writes) = too_long {
            return Err((
                part,
                format!(
                    "{at} is {} (at most {max} characters), but transformer `{}` writes {writes}; \
                     choose options or a transformer that write shorter values",
                    info.type_name, kind.name
                ),
            ));
        }
    }
    if info.unique && promised.unique_bits < UNIQUE_BITS {
        return Err((
            Part::Transformer,
            format!(
                "{at} is under a unique index or primary key, but transformer `{}` cannot keep its values unique \
                 (it needs {UNIQUE_BITS} bits of keyed hash per value, and carries {}); use email, hash or uuid, \
                 which are unique by construction",
                kind.name, promised.unique_bits
            ),
        ));
    }
    let step =
        Step { index, column: info.name.clone(), transformer_name: kind.name, transformer: Arc::from(transformer) };
    Ok((facts.clone(), step))
}

/// "did you mean …" among `names`, or the list of them.
fn suggest(wanted: &str, names: &[&str]) -> String {
    match closest(wanted, names.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("there are: {}", names.join(", ")),
    }
}

//! Rewriting binary COPY tuples: the per-row hot path.
//!
//! A [`TablePlan`] is built once per table; each worker rewrites with its
//! own [`Rewriter`]. The new tuple is written straight where it goes (the
//! segment's batch), each transformer appending its value after a length
//! word filled in afterwards: no row or value is copied twice. Fields that
//! are not transformed are never decoded: the bytes between two transformed
//! fields (lengths included) are copied in one piece, and everything after
//! the last transformed field is copied without even being walked.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

use super::error::ValueError;
use super::spec::{Field, Transformer};
use crate::catalog::TableData;

/// One transformed column of a table.
pub struct Step {
    /// Position of the field in the COPY tuple.
    pub index: usize,
    pub column: String,
    pub transformer_name: &'static str,
    pub transformer: Arc<dyn Transformer>,
}

/// How one table's tuples are rewritten.
pub struct TablePlan {
    /// Transformed columns, in tuple order.
    steps: Vec<Step>,
}

impl TablePlan {
    /// A plan transforming `steps` (in any order, one per column).
    pub fn new(mut steps: Vec<Step>) -> TablePlan {
        steps.sort_by_key(|s| s.index);
        TablePlan { steps }
    }

    /// A rewriter for one stream of this table's tuples.
    pub fn rewriter(&self) -> Rewriter<'_> {
        Rewriter { plan: self }
    }
}

/// The plans of every table with transformed columns.
#[derive(Default, Clone)]
pub struct Plans(HashMap<(String, String), Arc<TablePlan>>);

impl Plans {
    pub fn insert(&mut self, schema: &str, table: &str, plan: TablePlan) {
        self.0.insert((schema.to_string(), table.to_string()), Arc::new(plan));
    }

    /// The plan of `table`, if any of its columns is transformed.
    pub fn get(&self, table: &TableData) -> Option<Arc<TablePlan>> {
        self.0.get(&(table.schema.clone(), table.name.clone())).cloned()
    }

    /// Whether `column` of `table` has a transformer.
    pub fn covers(&self, table: &TableData, column: &str) -> bool {
        self.0
            .get(&(table.schema.clone(), table.name.clone()))
            .is_some_and(|plan| plan.steps.iter().any(|s| s.column == column))
    }

    /// How many tables have a plan.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A value that a transformer refused, named by its column (never by the
/// value).
#[derive(Debug, Error)]
#[error("column {column}, transformer `{transformer}`: {source}")]
pub struct RewriteError {
    column: String,
    transformer: &'static str,
    #[source]
    source: ValueError,
}

/// Rewrites tuples of one table.
pub struct Rewriter<'a> {
    plan: &'a TablePlan,
}

/// The field starting at `pos` of a complete tuple, and where the next one
/// starts.
#[inline]
fn field_at(tuple: &[u8], pos: usize) -> (Option<&[u8]>, usize) {
    let len = i32::from_be_bytes(tuple[pos..pos + 4].try_into().expect("4 bytes"));
    if len < 0 {
        (None, pos + 4)
    } else {
        let end = pos + 4 + len as usize;
        (Some(&tuple[pos + 4..end]), end)
    }
}

impl Rewriter<'_> {
    /// Appends `tuple` to `out` with its transformed fields replaced; on
    /// error, `out` is left as it was.
    ///
    /// `tuple` must be one complete tuple with the table's field count, as
    /// [`crate::copy::rows::RowSplitter`] hands them out.
    ///
    /// # Errors
    /// A value a transformer cannot handle.
    ///
    /// # Panics
    /// When `tuple` is not a complete tuple.
    #[inline]
    pub fn rewrite(&mut self, tuple: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let start = out.len();
        // Bytes of `tuple` already accounted for, and the walk position:
        // just after the field count, on field `field`.
        let mut copied = 0;
        let mut pos = 2;
        let mut field = 0;
        for step in &self.plan.steps {
            while field < step.index {
                pos = field_at(tuple, pos).1;
                field += 1;
            }
            out.extend_from_slice(&tuple[copied..pos]);
            let (input, next) = field_at(tuple, pos);
            let length_at = out.len();
            out.extend_from_slice(&[0; 4]);
            let length = step.transformer.apply(input, out).and_then(|produced| match produced {
                Field::Value => i32::try_from(out.len() - length_at - 4)
                    .map_err(|_| ValueError::new("the new value is larger than a field can be")),
                Field::Null => {
                    out.truncate(length_at + 4);
                    Ok(-1)
                }
            });
            match length {
                Ok(length) => out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes()),
                Err(source) => {
                    out.truncate(start);
                    return Err(RewriteError {
                        column: step.column.clone(),
                        transformer: step.transformer_name,
                        source,
                    });
                }
            }
            copied = next;
            pos = next;
            field += 1;
        }
        out.extend_from_slice(&tuple[copied..]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::binary;
    use crate::transform::spec::Guarantees;

    /// Upper-cases its input; NULL stays NULL.
    struct Upper;

    impl Transformer for Upper {
        fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
            match input {
                Some(b"fail") => Err(ValueError::new("refused")),
                Some(bytes) => {
                    out.extend(bytes.iter().map(u8::to_ascii_uppercase));
                    Ok(Field::Value)
                }
                None => Ok(Field::Null),
            }
        }

        fn guarantees(&self) -> Guarantees {
            Guarantees::same_length()
        }
    }

    fn tuple(values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = Vec::new();
        binary::put_field_count(&mut out, values.len());
        for v in values {
            binary::put_field(&mut out, *v);
        }
        out
    }

    fn plan(indexes: &[usize]) -> TablePlan {
        TablePlan::new(
            indexes
                .iter()
                .map(|&index| Step {
                    index,
                    column: format!("c{index}"),
                    transformer_name: "upper",
                    transformer: Arc::new(Upper),
                })
                .collect(),
        )
    }

    fn rewritten(plan: &TablePlan, input: &[u8]) -> Result<Vec<u8>, RewriteError> {
        let mut out = Vec::new();
        plan.rewriter().rewrite(input, &mut out).map(|()| out)
    }

    #[test]
    fn only_planned_fields_change() {
        let input = tuple(&[Some(b"id-1"), Some(b"alice"), None, Some(b""), Some(b"keep me")]);
        let plan = plan(&[3, 1, 2]);
        let mut rewriter = plan.rewriter();
        let mut out = b"earlier rows".to_vec();
        rewriter.rewrite(&input, &mut out).unwrap();
        let first = tuple(&[Some(b"id-1"), Some(b"ALICE"), None, Some(b""), Some(b"keep me")]);
        assert_eq!(out, [&b"earlier rows"[..], &first].concat());
        assert_eq!(binary::tuple_len(&out[12..], 5), Ok(binary::Next::Tuple(first.len())));
        // Rows follow one another: a second, longer one comes out whole.
        let second = tuple(&[None, Some(b"bob and a much longer name"), Some(b"x"), None, None]);
        rewriter.rewrite(&second, &mut out).unwrap();
        let second = tuple(&[None, Some(b"BOB AND A MUCH LONGER NAME"), Some(b"X"), None, None]);
        assert_eq!(out, [&b"earlier rows"[..], &first, &second].concat());
    }

    #[test]
    fn first_and_last_fields_can_be_planned() {
        let input = tuple(&[Some(b"a"), Some(b"b")]);
        assert_eq!(rewritten(&plan(&[0]), &input).unwrap(), tuple(&[Some(b"A"), Some(b"b")]));
        assert_eq!(rewritten(&plan(&[1]), &input).unwrap(), tuple(&[Some(b"a"), Some(b"B")]));
        assert_eq!(rewritten(&plan(&[]), &input).unwrap(), input);
    }

    #[test]
    fn errors_name_the_column_not_the_value_and_write_nothing() {
        let input = tuple(&[Some(b"x"), Some(b"ok"), Some(b"fail")]);
        let mut out = b"earlier rows".to_vec();
        let err = plan(&[1, 2]).rewriter().rewrite(&input, &mut out).unwrap_err().to_string();
        assert_eq!(err, "column c2, transformer `upper`: refused");
        assert_eq!(out, b"earlier rows");
    }
}

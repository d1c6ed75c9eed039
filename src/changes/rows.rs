//! A changed row through the transformers: pgoutput's row form to a binary
//! COPY tuple (what [`crate::transform::Rewriter`] rewrites) and back.
//!
//! A TOASTed value the change did not touch is not sent; it goes through
//! the transformers as NULL and comes back as "unchanged", so an update
//! never replaces it.

use thiserror::Error;

use super::pgoutput::{encode_tuple, Value};
use crate::copy::binary;
use crate::transform::Rewriter;

#[derive(Debug, Error)]
pub enum RowError {
    #[error("column {0} came in text form; tables with a type lacking binary I/O are not carried by deltas")]
    TextValue(usize),
    #[error(transparent)]
    Rewrite(#[from] crate::transform::RewriteError),
}

/// Reusable buffers for rewriting rows.
#[derive(Default)]
pub struct RowRewriter {
    copy: Vec<u8>,
    rewritten: Vec<u8>,
    unchanged: Vec<bool>,
}

impl RowRewriter {
    /// Appends `values` to `out` in pgoutput's row form, the transformed
    /// columns replaced when `rewriter` is given.
    ///
    /// # Errors
    /// A value in text form, or one a transformer refuses.
    pub fn rewrite(
        &mut self,
        values: &[Value<'_>],
        rewriter: Option<&mut Rewriter<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<(), RowError> {
        let Some(rewriter) = rewriter else {
            encode_tuple(values, out);
            return Ok(());
        };
        self.copy.clear();
        self.unchanged.clear();
        binary::put_field_count(&mut self.copy, values.len());
        for (i, value) in values.iter().enumerate() {
            match value {
                Value::Binary(bytes) => binary::put_field(&mut self.copy, Some(bytes)),
                Value::Null | Value::Unchanged => binary::put_field(&mut self.copy, None),
                Value::Text(_) => return Err(RowError::TextValue(i)),
            }
            self.unchanged.push(matches!(value, Value::Unchanged));
        }
        self.rewritten.clear();
        rewriter.rewrite(&self.copy, &mut self.rewritten)?;
        let new: Vec<Value<'_>> = binary::fields(&self.rewritten)
            .zip(&self.unchanged)
            .map(|(field, &unchanged)| match (unchanged, field) {
                (true, _) => Value::Unchanged,
                (false, Some(bytes)) => Value::Binary(bytes),
                (false, None) => Value::Null,
            })
            .collect();
        encode_tuple(&new, out);
        Ok(())
    }
}

/// Binary COPY tuple of `parts` (each some values and which of them), for
/// loading: every value present.
///
/// # Errors
/// An unchanged or text value, which a loaded row cannot have.
pub fn to_copy_tuple(parts: &[(&[Value<'_>], &[usize])], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let count: usize = parts.iter().map(|(_, columns)| columns.len()).sum();
    binary::put_field_count(out, count);
    for (values, columns) in parts {
        for &i in *columns {
            match values.get(i) {
                Some(Value::Binary(bytes)) => binary::put_field(out, Some(bytes)),
                Some(Value::Null) => binary::put_field(out, None),
                Some(Value::Unchanged) => return Err("an unchanged value where a value is needed"),
                Some(Value::Text(_)) => return Err("a value in text form"),
                None => return Err("fewer values than columns"),
            }
        }
    }
    Ok(())
}

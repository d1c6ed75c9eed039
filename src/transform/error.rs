//! The error of one value, below every transformer and the types they
//! decode: it depends on nothing else in `transform`.

use thiserror::Error;

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

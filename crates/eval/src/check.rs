//! Input checks shared by the metrics, made before any arithmetic so that no metric panics on user input.

use crate::error::{EvalError, Result};

/// Fails with [`EvalError::Empty`] when `values` is empty.
pub(crate) fn non_empty<T>(what: &'static str, unit: &'static str, values: &[T]) -> Result<()> {
    if values.is_empty() { Err(EvalError::Empty { what, unit }) } else { Ok(()) }
}

/// Fails with [`EvalError::NonFinite`] naming the first NaN or infinity in `values`.
pub(crate) fn finite<T: Copy + Into<f64>>(what: &'static str, values: &[T]) -> Result<()> {
    match values.iter().map(|&v| v.into()).enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, value)) => Err(EvalError::NonFinite { what, index, value }),
        None => Ok(()),
    }
}

/// Fails with [`EvalError::LengthMismatch`] when the two lengths differ.
pub(crate) fn same_len(left: &'static str, left_len: usize, right: &'static str, right_len: usize) -> Result<()> {
    if left_len == right_len { Ok(()) } else { Err(EvalError::LengthMismatch { left, left_len, right, right_len }) }
}

/// Fails with [`EvalError::InvalidParameter`] unless `value` is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(EvalError::InvalidParameter { name, value: value.to_string(), expected: "finite and > 0".into() })
    }
}

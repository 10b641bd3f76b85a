//! sha256 of files and buffers, as lowercase hex: doppel-stdx's, with its I/O errors as [`DataError`]s.

use std::path::Path;

use crate::error::{DataError, Result};

pub use doppel_stdx::hash::sha256_hex as sha256_bytes;

/// Hex sha256 of the file at `path`, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    doppel_stdx::sha256_file(path).map_err(DataError::from)
}

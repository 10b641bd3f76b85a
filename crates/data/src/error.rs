//! The one error type of doppel-data.

use std::path::PathBuf;

/// Everything that can go wrong while reading, building or writing a dataset.
///
/// Messages are lowercase, name the file or field at fault and, where the user can act, say what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] doppel_stdx::IoError),
    /// A fetched dataset is not in the data directory.
    #[error("{dataset} is missing: {path} does not exist; run `cargo xtask data fetch{fetch_args}` first")]
    Missing {
        /// Dataset name as `xtask data fetch` knows it.
        dataset: &'static str,
        /// The file that was expected.
        path: PathBuf,
        /// Extra arguments for the fetch command (e.g. ` --only mnist`).
        fetch_args: String,
    },
    /// A file does not have the structure its format requires.
    #[error("{path}: {what}")]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it, in words.
        what: String,
    },
    /// A size that must agree with another does not.
    #[error("{path}: {what} is {got}, expected {expected}")]
    SizeMismatch {
        /// The file at fault.
        path: PathBuf,
        /// Which size.
        what: &'static str,
        /// The size the format requires.
        expected: u64,
        /// The size found.
        got: u64,
    },
    /// A file's content hash differs from the one recorded for it.
    #[error(
        "{path}: sha256 is {got}, the manifest records {expected}; the file was changed or damaged — rebuild the dataset"
    )]
    ShaMismatch {
        /// The file at fault.
        path: PathBuf,
        /// Recorded hash.
        expected: String,
        /// Hash of the file as found.
        got: String,
    },
    /// A configuration value is invalid.
    #[error("{file}: `{field}` {problem}")]
    Config {
        /// The config file (or `<inline>`).
        file: String,
        /// Dotted path of the offending key.
        field: String,
        /// What is wrong and the valid range.
        problem: String,
    },
    /// A config file is not valid TOML of the expected shape (unknown key, wrong type, missing key).
    #[error("{file}: {message}")]
    ConfigSyntax {
        /// The config file with the line of the problem (`configs/x.toml:12`).
        file: String,
        /// The parser's message, on one line.
        message: String,
    },
    /// The in-memory data break an invariant of [`crate::Dataset`].
    #[error("invalid dataset {name}: {what}")]
    Invalid {
        /// Dataset name.
        name: String,
        /// The broken invariant.
        what: String,
    },
    /// Writing a table through polars failed.
    #[error("{path}: {source}")]
    Table {
        /// The table file.
        path: PathBuf,
        /// The polars error.
        #[source]
        source: polars::error::PolarsError,
    },
    /// Writing a PNG failed.
    #[error("{path}: {source}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The image-crate error.
        #[source]
        source: image::ImageError,
    },
    /// An output directory already exists.
    #[error("{path} already exists; choose another --out or pass --force to replace it")]
    OutputExists {
        /// The directory that exists.
        path: PathBuf,
    },
}

/// Result alias for doppel-data.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    /// An [`DataError::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DataError::Io(doppel_stdx::IoError { action, path, source })
    }

    /// A [`DataError::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        DataError::Format { path: path.into(), what: what.into() }
    }
}

impl From<doppel_stdx::ConfigProblem> for DataError {
    fn from(p: doppel_stdx::ConfigProblem) -> Self {
        DataError::Config { file: p.file, field: p.field, problem: p.problem }
    }
}

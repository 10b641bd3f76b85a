//! The one error type of doppel-text.

use std::path::PathBuf;

/// Everything that can go wrong while reading WordNet, building a QA dataset or writing it.
///
/// Messages are lowercase, name the file (and line) or config field at fault and, where the user can act, say what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] doppel_stdx::IoError),
    /// A WordNet file is not in the data directory.
    #[error("wordnet is missing: {path} does not exist; run `{fetch}` first")]
    Missing {
        /// The file that was expected.
        path: PathBuf,
        /// The command that fetches it.
        fetch: &'static str,
    },
    /// A line of a WordNet file does not have the structure the format requires.
    #[error("{path}:{line}: {what}")]
    Parse {
        /// The file at fault.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it, in words.
        what: String,
    },
    /// A file does not have the structure its format requires (a dataset directory, a manifest).
    #[error("{path}: {what}")]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it, in words.
        what: String,
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
    /// The data hold fewer QA pairs than the config asks for.
    #[error(
        "`{field}` asks for {need} QA pairs, but {have} are usable with pos {pos}; lower it or add parts of speech"
    )]
    TooFew {
        /// The config field(s) at fault.
        field: &'static str,
        /// How many the config asks for.
        need: usize,
        /// How many there are.
        have: usize,
        /// The parts of speech in use.
        pos: String,
    },
    /// The embedder failed or returned the wrong number of rows.
    #[error("embedder {embedder}: {source}")]
    Embed {
        /// The embedder's name.
        embedder: String,
        /// The underlying error.
        #[source]
        source: doppel_mine::MineError,
    },
    /// The embedder returned a table of the wrong size.
    #[error("embedder {embedder} returned {got} rows for {expected} texts")]
    EmbedRows {
        /// The embedder's name.
        embedder: String,
        /// Texts handed in.
        expected: usize,
        /// Rows returned.
        got: usize,
    },
    /// Writing or reading a table through polars failed.
    #[error("{path}: {source}")]
    Table {
        /// The table file.
        path: PathBuf,
        /// The polars error.
        #[source]
        source: polars::error::PolarsError,
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
    /// An output directory already exists.
    #[error("{path} already exists; choose another --out or pass --force to replace it")]
    OutputExists {
        /// The directory that exists.
        path: PathBuf,
    },
}

/// Result alias for doppel-text.
pub type Result<T, E = TextError> = std::result::Result<T, E>;

impl TextError {
    /// A [`TextError::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TextError::Io(doppel_stdx::IoError { action, path, source })
    }

    /// A [`TextError::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        TextError::Format { path: path.into(), what: what.into() }
    }
}

impl From<doppel_data::DataError> for TextError {
    fn from(e: doppel_data::DataError) -> Self {
        match e {
            doppel_data::DataError::Io(e) => TextError::Io(e),
            doppel_data::DataError::OutputExists { path } => TextError::OutputExists { path },
            doppel_data::DataError::ShaMismatch { path, expected, got } => {
                TextError::ShaMismatch { path, expected, got }
            }
            other => TextError::Format { path: PathBuf::new(), what: other.to_string() },
        }
    }
}

impl From<doppel_stdx::ConfigProblem> for TextError {
    fn from(p: doppel_stdx::ConfigProblem) -> Self {
        TextError::Config { file: p.file, field: p.field, problem: p.problem }
    }
}

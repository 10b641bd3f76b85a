//! The one error type of doppel-mine.

use std::path::PathBuf;

/// Everything that can go wrong while embedding, indexing or mining.
///
/// Messages are lowercase, name the file, field, sample or value at fault and, where the user can act, say what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] doppel_stdx::IoError),
    /// Opening or reading the dataset directory failed.
    #[error(transparent)]
    Data(#[from] doppel_data::DataError),
    /// A parameter set in code (not from a file) is out of range.
    #[error("`{field}` is {value}; {problem}")]
    Param {
        /// Dotted name of the parameter, as the config file spells it (`index.m`).
        field: &'static str,
        /// The value given.
        value: String,
        /// The valid range, and why.
        problem: String,
    },
    /// A config file value is invalid.
    #[error("{file}: `{field}` {problem}")]
    Config {
        /// The config file.
        file: String,
        /// Dotted path of the offending key.
        field: String,
        /// What is wrong and the valid range.
        problem: String,
    },
    /// A config file is not valid TOML of the expected shape (unknown key, wrong type, missing key).
    #[error("{file}: {message}")]
    ConfigSyntax {
        /// The config file with the line of the problem (`configs/mine/pixel.toml:12`).
        file: String,
        /// The parser's message, on one line.
        message: String,
    },
    /// A vector cannot be indexed: it is all zeros or holds a NaN or infinity.
    #[error(
        "sample {id}: its embedding {problem}; the index takes only finite, non-zero vectors — drop the sample or use another embedder"
    )]
    BadVector {
        /// Sample id of the vector.
        id: u32,
        /// What is wrong with it ("is all zeros", "holds NaN at 3").
        problem: String,
    },
    /// Two sizes that must agree do not.
    #[error("{what}: dimension {got}, expected {expected}")]
    DimMismatch {
        /// What was being compared (`query 17`, `embeddings file x.parquet`).
        what: String,
        /// The dimension required.
        expected: usize,
        /// The dimension found.
        got: usize,
    },
    /// An embedder kind that runs a model (features, minilm) was asked of [`crate::EmbedderSpec::build`], which
    /// knows only the model-free embedders; doppel-models builds those (`doppel_models::embedders`).
    #[error(
        "embedder kind `{kind}` runs a model and is built by doppel-models (`doppel_models::embedders`), not doppel-mine"
    )]
    NeedsModel {
        /// The embedder kind.
        kind: &'static str,
    },
    /// An embedder backed by a model failed while embedding.
    #[error("embedder {embedder}: {message}")]
    Model {
        /// The embedder's name.
        embedder: String,
        /// The model's error, as text (doppel-mine cannot name doppel-models' error type).
        message: String,
    },
    /// An embedder was asked to embed before it was fitted on the training split.
    #[error("embedder {embedder} is not fitted; call `fit` on the training split first")]
    NotFitted {
        /// The embedder's name.
        embedder: String,
    },
    /// An embedder was handed samples of a kind it does not read.
    #[error("embedder {embedder} cannot embed {input}; it reads {reads}")]
    UnsupportedInput {
        /// The embedder's name.
        embedder: String,
        /// The kind of samples handed to it.
        input: &'static str,
        /// The kind it reads.
        reads: &'static str,
    },
    /// A sample id is not in the dataset or index.
    #[error("sample id {id} is not in {within}")]
    UnknownId {
        /// The id asked for.
        id: u32,
        /// Where it was looked for.
        within: String,
    },
    /// A file does not have the structure its format requires.
    #[error("{path}: {what}")]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// Reading or writing a table through polars failed.
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
}

/// Result alias for doppel-mine.
pub type Result<T, E = MineError> = std::result::Result<T, E>;

impl MineError {
    /// A [`MineError::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| MineError::Io(doppel_stdx::IoError { action, path, source })
    }

    /// A [`MineError::Table`] for `path`.
    pub fn table(path: impl Into<PathBuf>) -> impl FnOnce(polars::error::PolarsError) -> Self {
        let path = path.into();
        move |source| MineError::Table { path, source }
    }

    /// A [`MineError::Param`].
    pub fn param(field: &'static str, value: impl ToString, problem: impl Into<String>) -> Self {
        MineError::Param { field, value: value.to_string(), problem: problem.into() }
    }

    /// Turns a [`MineError::Param`] into a [`MineError::Config`] naming `file`; other errors pass through.
    pub fn in_file(self, file: &str) -> Self {
        match self {
            MineError::Param { field, value, problem } => MineError::Config {
                file: file.to_string(),
                field: field.to_string(),
                problem: format!("is {value}; {problem}"),
            },
            other => other,
        }
    }
}

impl From<doppel_stdx::ConfigProblem> for MineError {
    fn from(p: doppel_stdx::ConfigProblem) -> Self {
        MineError::Config { file: p.file, field: p.field, problem: p.problem }
    }
}

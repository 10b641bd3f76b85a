//! The one error type of doppel-report.

/// Everything that can keep the report from being written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] doppel_stdx::IoError),
    /// A step's result file is missing, from another build of doppel, or malformed.
    #[error("{0}")]
    Result(#[from] doppel_protocol::ResultError),
    /// The plan file is not one this build reads.
    #[error("{path}: {problem}; write it again with `cargo xtask reproduce` from this tree")]
    Plan {
        /// The plan file.
        path: std::path::PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Steps of the plan have no artifact in the cache yet.
    #[error(
        "{missing} of {total} steps are not in {cache} yet ({shown}); run the missing shards (or the preset without \
         --shard), then merge again"
    )]
    Missing {
        /// How many are missing.
        missing: usize,
        /// Steps in the plan.
        total: usize,
        /// The cache folder.
        cache: String,
        /// The first few labels.
        shown: String,
    },
    /// A step's artifact does not hold what its kind promises.
    #[error("{step}: {problem}; delete {dir} to rebuild it")]
    Artifact {
        /// The step's label.
        step: String,
        /// What is wrong.
        problem: String,
        /// Its cache folder.
        dir: std::path::PathBuf,
    },
    /// A table could not be encoded.
    #[error("table {table}: {detail}")]
    Table {
        /// The table's name.
        table: String,
        /// polars' message.
        detail: String,
    },
    /// A figure could not be drawn.
    #[error("{file}: {source}")]
    Figure {
        /// The figure's file.
        file: String,
        /// Why.
        source: crate::figures::render::FigureError,
    },
}

/// Results of doppel-report.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;

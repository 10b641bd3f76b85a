//! The one error type of doppel-unlearn.

/// Everything that can go wrong while configuring or running an unlearning method.
#[derive(Debug, thiserror::Error)]
pub enum UnlearnError {
    /// A method setting is out of range.
    #[error("{method}: `{field}` {problem}")]
    Config {
        /// The method (its config section).
        method: &'static str,
        /// The offending key.
        field: &'static str,
        /// What is wrong and the valid range.
        problem: String,
    },
    /// A config file could not be parsed.
    #[error("{file}: {problem}")]
    ConfigFile {
        /// The file (with a line number when known).
        file: String,
        /// The parser's message.
        problem: String,
    },
    /// The scope asks for rows that do not exist, or leaves nothing to forget or retain.
    #[error("scope {scope}: {problem}")]
    Scope {
        /// The scope's name.
        scope: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Neither the last weights nor the ones before them are sound: a weight, or the logits on the probe rows,
    /// are not finite.
    #[error(
        "{method}: the weights or their logits became non-finite by step {step} and no sound weights remain; lower \
         the learning rate"
    )]
    NonFinite {
        /// The method.
        method: &'static str,
        /// The step (1-based).
        step: usize,
    },
    /// Reading a tensor back from the device failed.
    #[error("reading tensor data from the device: {0}")]
    TensorData(String),
    /// A file could not be read.
    #[error(transparent)]
    Io(#[from] doppel_stdx::IoError),
    /// An error from the model layer (training, checkpoints, devices).
    #[error(transparent)]
    Model(#[from] doppel_models::ModelError),
}

/// Result alias for doppel-unlearn.
pub type Result<T, E = UnlearnError> = std::result::Result<T, E>;

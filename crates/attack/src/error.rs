//! The one error type of doppel-attack.

use std::path::PathBuf;

/// Results of this crate.
pub type Result<T, E = AttackError> = std::result::Result<T, E>;

/// Everything that can stop an attack: a bad setting, a model it cannot attack, bad data, a file it cannot write.
///
/// Messages are lowercase and name the field, model or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// A hyperparameter is out of range.
    #[error("attack setting `{field}` {problem}")]
    Config {
        /// The setting (`candidates`, `steps`, `lr`, …).
        field: &'static str,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The attack needs an architecture the model does not have.
    #[error(
        "the {attack} attack is not supported for the {arch} arch; it writes the network's backward pass by hand \
         and supports only mlp (use --attack inversion for {arch})"
    )]
    UnsupportedArch {
        /// The attack's name.
        attack: &'static str,
        /// The model's architecture.
        arch: &'static str,
    },
    /// Two inputs that must agree do not (image shapes, class counts, lengths).
    #[error("{what}: expected {expected}, got {got}")]
    Mismatch {
        /// What is being compared.
        what: String,
        /// The expected value.
        expected: String,
        /// The value found.
        got: String,
    },
    /// The optimisation produced NaN or an infinity.
    #[error("the {attack} attack diverged at step {step} (loss {loss}); lower the learning rate")]
    Diverged {
        /// The attack's name.
        attack: &'static str,
        /// 1-based step.
        step: usize,
        /// The loss seen.
        loss: f64,
    },
    /// A tensor could not be read back to the host.
    #[error("reading a tensor back: {0}")]
    TensorData(String),
    /// A metric rejected its input.
    #[error(transparent)]
    Eval(#[from] doppel_eval::EvalError),
    /// A file could not be written.
    #[error(transparent)]
    Io(#[from] doppel_stdx::IoError),
    /// A table or image could not be encoded.
    #[error("writing {path}: {problem}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The cause.
        problem: String,
    },
}

impl AttackError {
    /// An [`AttackError::Io`] maker for `map_err`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| AttackError::Io(doppel_stdx::IoError { action, path, source })
    }

    pub(crate) fn config(field: &'static str, problem: impl Into<String>) -> Self {
        AttackError::Config { field, problem: problem.into() }
    }
}

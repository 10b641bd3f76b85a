//! The one error type of doppel-models.

use std::path::PathBuf;

/// Everything that can go wrong while choosing a device, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The asked device is not compiled into this build.
    #[error(
        "device {device} is not compiled into this doppel; rebuild with `--features {feature}` or use --device flex"
    )]
    DeviceNotCompiled {
        /// The device asked for.
        device: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The GPU runtime could not start (no adapter, no driver).
    #[error(
        "cannot start the {device} device: {reason}; install a Vulkan/Metal driver (on Debian, mesa-vulkan-drivers gives a CPU one) or use --device flex"
    )]
    DeviceUnavailable {
        /// The device asked for.
        device: &'static str,
        /// What the runtime said.
        reason: String,
    },
    /// A model or training setting is out of range.
    #[error("{context}: `{field}` {problem}")]
    Config {
        /// Which config (file name or `recipe`).
        context: String,
        /// The offending key.
        field: String,
        /// What is wrong and the valid range.
        problem: String,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged at epoch {epoch}, step {step}: loss is {loss}; lower the learning rate")]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Step within the epoch (1-based).
        step: usize,
        /// The non-finite loss.
        loss: f32,
    },
    /// A checkpoint does not fit the model it is loaded into, or is damaged.
    #[error("{path}: {problem}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A file of a pretrained model is absent.
    #[error("{path} does not exist; run `{fetch}` (or pass a folder that holds the {model} files)")]
    PretrainedMissing {
        /// The missing file.
        path: PathBuf,
        /// The model it belongs to.
        model: &'static str,
        /// The command that fetches it.
        fetch: &'static str,
    },
    /// A pretrained model's file is unreadable or describes another model.
    #[error("{path}: {problem}")]
    Pretrained {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A tensor of a pretrained model's weights is absent or of the wrong shape or type.
    #[error("{path}: tensor `{tensor}` {problem}")]
    PretrainedTensor {
        /// The weights file.
        path: PathBuf,
        /// The tensor's name in the file.
        tensor: String,
        /// What is wrong, with the expected and found shape or type.
        problem: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] doppel_stdx::IoError),
    /// Writing a table failed.
    #[error("{path}: {source}")]
    Table {
        /// The table file.
        path: PathBuf,
        /// The polars error.
        #[source]
        source: polars::error::PolarsError,
    },
    /// Reading a tensor back from the device failed.
    #[error("reading tensor data from the device: {0}")]
    TensorData(String),
    /// An error from the dataset layer.
    #[error(transparent)]
    Data(#[from] doppel_data::DataError),
}

/// Result alias for doppel-models.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    /// An [`ModelError::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ModelError::Io(doppel_stdx::IoError { action, path, source })
    }
}

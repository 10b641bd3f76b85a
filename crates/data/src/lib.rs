//! doppel-data: the datasets of the doppel study, with the ground truth of which sample came from which.
//!
//! The principal types, in the order data flows through them:
//!
//! - [`Dataset`]: images (`u8`, planar `[C, H, W]`), labels, class names and split, checked on construction.
//!   Every reader in [`readers`] returns one per split ([`Splits`]); [`synthetic`] makes one with no download.
//! - [`BuildConfig`]: a checked TOML config naming a source, `T` targets and `k` variants per target
//!   ([`VariantSpec`]: block occlusion, shift, noise).
//! - [`build::build`] turns a config into a [`Built`] dataset: base ∪ targets ∪ variants, each sample with its
//!   [`lineage::Origin`]. All randomness derives from the config's master seed ([`seed`]).
//! - [`store::write`] writes a dataset directory (Parquet samples, `manifest.json`, a PNG contact sheet)
//!   atomically; [`store::open`] reads it back after checking every file's sha256.
//!
//! Errors are one [`DataError`] enum whose messages name the file or config key at fault.

pub mod build;
pub mod config;
pub mod dataset;
pub mod derive;
pub mod error;
pub mod hash;
pub mod lineage;
pub mod readers;
pub mod seed;
pub mod sheet;
pub mod store;
pub mod synthetic;
pub mod variants;

pub use build::{Built, Part, build as build_dataset};
pub use config::BuildConfig;
pub use dataset::{Dataset, ImageShape, Split, Splits};
pub use error::{DataError, Result};
pub use readers::SourceName;
pub use store::{DatasetDir, Manifest};
pub use variants::VariantSpec;

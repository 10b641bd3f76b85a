//! doppel: machine unlearning when the training set holds look-alikes of the samples to forget.
//!
//! This facade re-exports doppel's crates so a researcher can depend on one package:
//!
//! - [`data`] (`doppel-data`): dataset readers, the synthetic generator, similarity-entailed construction with
//!   lineage, and dataset directories.
//! - [`models`] (`doppel-models`): classifiers on burn, device choice, the deterministic training loop, inference
//!   outputs and checkpoints.
//!
//! The crates for mining, models, unlearning and evaluation join here as they land; see ARCHITECTURE.md.

pub use doppel_data as data;
pub use doppel_models as models;

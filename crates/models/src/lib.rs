//! doppel-models: the classifiers of the doppel study on burn, how they are trained, saved and queried.
//!
//! - [`DeviceChoice`] opens `flex` (CPU) or `wgpu` (GPU, with the `wgpu` feature) at run time.
//! - [`ModelSpec`] describes a network ([`Arch`]: MLP, CNN, ResNet-8) with its input normalisation;
//!   [`ModelSpec::init`] builds the [`Net`] module, which gives penultimate features and logits.
//! - [`train::train`] runs the deterministic loop of a [`Recipe`] on chosen rows; [`Role`] names the rows of M0,
//!   `retrain_exact` and `retrain_clean` from the lineage.
//! - [`infer::predict`] gives per-sample logits, f64 losses, confidences and predictions, written as Parquet by
//!   [`infer::write_parquet`].
//! - [`checkpoint`] saves safetensors (PyTorch layout) with a JSON [`checkpoint::Sidecar`] and loads them back,
//!   refusing a network of another shape.
//! - [`MiniLm`] is all-MiniLM-L6-v2 (a [`Bert`] encoder loaded from the fetched safetensors) with its
//!   [`WordPiece`] tokenizer: sentences in, mean-pooled unit-norm 384-d embeddings out, as sentence-transformers
//!   gives them.
//! - [`FeaturesEmbedder`] and [`MiniLmEmbedder`] implement doppel-mine's `Embedder` with those models
//!   (classifier penultimate features; MiniLM sentence embeddings), so mining can use them.
//! - [`lm`] is the language arm's model: [`CausalLm`] (a small GPT-style decoder) with its compact WordPiece
//!   [`LmTokenizer`], the deterministic training loop, checkpoints with the vocabulary beside them, and generation.

pub mod arch;
pub mod checkpoint;
pub mod clip;
pub mod conv;
pub mod device;
pub mod embedders;
pub mod error;
pub mod infer;
pub mod lm;
pub mod minilm;
pub mod oracle;
pub mod train;
pub mod wordpiece;

pub use arch::{Arch, ModelSpec, Net};
pub use device::{Device, DeviceChoice};
pub use embedders::{FeaturesEmbedder, MiniLmEmbedder};
pub use error::{ModelError, Result};
pub use lm::{CausalLm, LmConfig, LmTokenizer};
pub use minilm::{Bert, BertConfig, MINILM_DIM, MiniLm};
pub use oracle::{Role, RoleRows};
pub use train::{Recipe, TrainSeeds};
pub use wordpiece::WordPiece;

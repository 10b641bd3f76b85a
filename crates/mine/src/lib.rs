//! doppel-mine: finds the look-alikes of samples, planted or natural, and measures how well it finds them.
//!
//! The principal types, in the order data flows through them:
//!
//! - [`Embedder`] (the extension point) turns [`Samples`] into rows of a [`Matrix`]; [`PixelEmbedder`] is
//!   standardised pixels, optionally reduced by a seeded random projection or PCA ([`Reduce`]). It is fitted on
//!   the train split, then embeds both splits. [`PatchEmbedder`] sketches the set of non-blank patches at their
//!   positions (shingling), for copies with regions erased or edited. The model-backed embedders (classifier
//!   features, MiniLM) implement the same trait in doppel-models.
//! - [`store::embed_dataset`] keeps [`DatasetEmbeddings`] as Parquet beside the dataset
//!   (`DATASET/embeddings/<embedder>-<config hash>.parquet`) and reuses them while config and dataset match.
//! - [`Index`] is HNSW (hnsw_rs) over the train embeddings, cosine or L2 ([`Metric`]), with [`IndexParams`]
//!   checked before hnsw_rs sees them, every vector checked at ingest, serial inserts, and exact search beside
//!   it ([`Search`]) for ground truth and recall@k. It is a cache, rebuilt from the embeddings. The built graph
//!   is searched from a flat copy (`flat.rs`) that answers exactly as hnsw_rs does, faster.
//! - [`mine`] answers the study's questions with [`MiningParams`]: the look-alikes of each target by lineage
//!   [`Relation`], near-duplicate groups (union–find), train↔test near-copies — each as a polars table.
//! - [`quality`] scores mining against the lineage ([`QualityRow`]: precision and recall over a threshold sweep,
//!   a PR curve PNG) and the graph against exact search (recall@10).
//! - [`MineConfig`] is the checked TOML config of all of the above (`configs/mine/*.toml`).
//!
//! Errors are one [`MineError`] enum whose messages name the file, key, sample or value at fault.

pub mod audit;
pub mod config;
pub mod embed;
pub mod error;
mod exact;
mod flat;
pub mod index;
pub mod matrix;
pub mod mine;
pub mod patch;
mod pca;
pub mod quality;
pub mod store;

pub use config::{EmbedderSpec, MineConfig};
pub use embed::{Embedder, PixelConfig, PixelEmbedder, Reduce, Samples};
pub use error::{MineError, Result};
pub use index::{Hit, Index, IndexParams, Metric, Search};
pub use matrix::Matrix;
pub use mine::{MiningParams, Neighbours, Relation};
pub use patch::{PatchConfig, PatchEmbedder};
pub use quality::{QualityParams, QualityRow};
pub use store::DatasetEmbeddings;

/// The polars this crate's tables are made with, for callers that print or join them.
pub use polars;

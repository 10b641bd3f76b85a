//! The language arm's model: a small causal transformer LM trained on the QA text, with its tokenizer, training
//! loop, checkpoints and generation.
//!
//! How the pieces connect:
//!
//! - [`LmTokenizer`] ([`tokenizer`]) is MiniLM's [`crate::WordPiece`] with the vocabulary compacted to the pieces of
//!   the training corpus; [`LmTokenizer::encode_qa`] turns a question and its answer into an [`LmExample`]
//!   (`[CLS] question answer [SEP]`, the answer's tokens marked).
//! - [`LmShape`] (the sizes a config file gives) plus the tokenizer's vocabulary size make an [`LmConfig`];
//!   [`LmConfig::init`] builds a [`CausalLm`] ([`model`]) with seeded weights.
//! - [`CausalLm::forward`] gives next-token logits; [`CausalLm::token_logprobs`] and [`CausalLm::sequence_nll`] give
//!   per-token log-probabilities and per-sequence NLLs (differentiable: LM unlearning builds its losses on them).
//! - [`batch`] pads examples into a [`Batch`] with a loss mask over the whole sequence or the answer only
//!   ([`LossOn`]); [`score`] returns per-example host-side log-probabilities for doppel-eval's metrics.
//! - [`train::train_lm`] runs the deterministic AdamW loop of an [`LmTrainConfig`] on chosen examples
//!   (M0 / `retrain_exact` / `retrain_clean` differ only in the rows, chosen with [`crate::RoleRows::admits`]).
//! - [`checkpoint::save`] / [`checkpoint::load`] write and read a model folder: `model.safetensors`, the JSON
//!   sidecar `model.json` ([`LmSidecar`]) and the compact `vocab.txt`, so a model reloads with its own tokenizer.
//! - [`generate::generate`] decodes greedily or by seeded temperature / top-k sampling ([`Decoding`]).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod generate;
pub mod model;
pub mod tokenizer;
pub mod train;

pub use checkpoint::{LmSidecar, TokenizerInfo};
pub use config::{AdamWSpec, LmConfig, LmShape, LmTrainConfig, LossOn};
pub use data::{Batch, ExampleScores, batch, score};
pub use generate::{Decoding, generate};
pub use model::CausalLm;
pub use tokenizer::{LmExample, LmTokenizer};
pub use train::{LmEpochLog, LmTrainReport, train_lm, train_lm_from};

//! doppel: machine unlearning when the training set holds look-alikes of the samples to forget.
//!
//! This facade re-exports doppel's crates so a researcher can depend on one package:
//!
//! - [`data`] (`doppel-data`): dataset readers, the synthetic generator, similarity-entailed construction with
//!   lineage, and dataset directories.
//! - [`mine`] (`doppel-mine`): embedders, the HNSW index, mining of look-alikes and its quality against the lineage.
//! - [`models`] (`doppel-models`): classifiers on burn, MiniLM sentence embeddings, device choice, the deterministic
//!   training loop, inference outputs and checkpoints.
//! - [`unlearn`] (`doppel-unlearn`): the unlearning methods behind one trait, with the `exact`, `lineage` and
//!   `mined` scopes.
//! - [`eval`] (`doppel-eval`): the study's metrics on plain slices (accuracy, f64 losses, MIA, KL/JS, ε-score,
//!   ROUGE-L, SSIM).
//! - [`attack`] (`doppel-attack`): training-set reconstruction from a model (KKT) and model inversion, scored by
//!   SSIM.
//! - [`text`] (`doppel-text`): the language arm's QA dataset from WordNet and SpamAssassin with its natural
//!   look-alikes.
//! - [`report`] (`doppel-report`): the study's tables, report and figures from a reproduce run's cache.
//! - [`protocol`] (`doppel-protocol`): the names (roles, scopes, methods) and the `result.json` of each command.
//! - [`stdx`] (`doppel-stdx`): atomic writes, sha256, config field checks.
//! - [`study`] (`doppel-study`): presets and the reproduce step plan with its cache keys.
//!
//! Runnable examples, on synthetic data with nothing to download: `cargo run --release --example
//! mine_lookalikes` (build a dataset, mine the targets' look-alikes, score them against the lineage) and
//! `cargo run --release --example unlearn_and_evaluate` (train M0 and both oracles, unlearn with SalUn under two
//! scopes, compare forgetting, utility, MIA and KL to the oracles).

pub use doppel_attack as attack;
pub use doppel_data as data;
pub use doppel_eval as eval;
pub use doppel_mine as mine;
pub use doppel_models as models;
pub use doppel_protocol as protocol;
pub use doppel_report as report;
pub use doppel_stdx as stdx;
pub use doppel_study as study;
pub use doppel_text as text;
pub use doppel_unlearn as unlearn;

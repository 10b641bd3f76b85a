//! doppel-protocol: what the `doppel` binary and the `cargo xtask` orchestrator say to each other, as types.
//!
//! The xtask drives the binary through subprocesses (which is what makes every step cacheable, shardable and
//! runnable as a Slurm task) and links no burn and no polars, so the seam cannot be Rust calls. It is this crate
//! instead, serde-only:
//!
//! - [`names`]: the study's closed vocabularies with their `ALL` lists — [`Role`] (M0 and the two oracles),
//!   [`Scope`] (exact, mined, lineage), the classifiers' [`Method`]s and the language arm's [`LmMethod`]s — named
//!   as configs, tables and the command line write them. doppel-models and doppel-unlearn use these very types.
//! - [`plan`]: `OUT/plan.json`, what `doppel report` needs of a reproduce run ([`ReportPlan`]): the preset's arms
//!   and every step with its kind, key and place in the sweep.
//! - [`results`]: the `result.json` a command writes in its `--out` folder ([`DatasetResult`] of `doppel data
//!   build*`, [`TrainResult`] of `doppel train`, [`QualityResult`] of `doppel mine quality`, [`UnlearnResult`] of
//!   `doppel unlearn` and `doppel lm unlearn`, [`EvalResult`], [`AttackResult`], [`LmEvalResult`]), each
//!   with a `format` tag; [`read_result`] checks the tag and refuses a file another version of doppel wrote,
//!   naming the file and what to do. Readers never parse a printed table.

pub mod names;
pub mod plan;
pub mod results;

pub use names::{LmMethod, Method, Role, Scope};
pub use plan::{ArmInfo, Builder, PlanStep, PlanUnlearn, PresetInfo, ReportPlan, Settings, StepKind, UnlearnInfo};
pub use results::{
    AttackResult, CommandResult, DatasetResult, EvalModel, EvalResult, LmEvalResult, ModelMetrics, QualityResult,
    QualityRow, ResultError, RetainSplit, SearchOutcome, TargetScore, TrainResult, TrainedModel, UnlearnResult,
    read_result,
};

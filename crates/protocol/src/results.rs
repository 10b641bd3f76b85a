//! The `result.json` each command writes beside its outputs, read back by the orchestrator and the report.
//!
//! Every result carries a `format` tag (`doppel-train-result/1`); [`read_result`] refuses a file whose tag is
//! not the one this build knows, and every struct denies unknown fields, so a binary and an orchestrator from
//! different trees fail loudly instead of reading the wrong numbers. Bump a format's number when its meaning
//! changes. `tests/fixtures/` holds one file per result type that must parse and re-serialise byte for byte:
//! a change to a struct that does not update its fixture fails that test.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::names::Role;

/// The file name of every command's result, inside the command's `--out` folder.
pub const RESULT_FILE: &str = "result.json";

/// A command's result file: its format tag names the command and the version of the struct.
pub trait CommandResult: Serialize + DeserializeOwned {
    /// The format tag this build writes and reads.
    const FORMAT: &'static str;

    /// The JSON text of `self` (pretty, ending in a newline), as the command writes it.
    fn to_json(&self) -> String {
        // Serialising plain structs of strings, numbers and options cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Why a result file could not be read.
#[derive(Debug)]
pub enum ResultError {
    /// The file could not be read.
    Io {
        /// The result file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not this build's result of that command.
    Format {
        /// The result file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

impl std::fmt::Display for ResultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResultError::Io { path, source } => write!(f, "reading {}: {source}", path.display()),
            ResultError::Format { path, problem } => write!(
                f,
                "{}: {problem}; the doppel binary and this tree disagree, so rebuild doppel from this tree (and \
                 delete the folder to rebuild it)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ResultError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResultError::Io { source, .. } => Some(source),
            ResultError::Format { .. } => None,
        }
    }
}

/// Reads the result `T` from `path`, checking its format tag first.
pub fn read_result<T: CommandResult>(path: &Path) -> Result<T, ResultError> {
    let text = std::fs::read(path).map_err(|source| ResultError::Io { path: path.to_path_buf(), source })?;
    let format_err = |problem: String| ResultError::Format { path: path.to_path_buf(), problem };
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| format_err(format!("not JSON: {e}")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(f) if f == T::FORMAT => {}
        Some(f) => return Err(format_err(format!("format is {f:?}, expected {:?}", T::FORMAT))),
        None => return Err(format_err(format!("no `format` field (expected {:?})", T::FORMAT))),
    }
    serde_json::from_value(value).map_err(|e| format_err(format!("not a {} file: {e}", T::FORMAT)))
}

/// `doppel train`'s result: one entry per trained (or reused) reference model, in `--which` order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainResult {
    /// [`TrainResult::FORMAT`].
    pub format: String,
    /// The models.
    pub models: Vec<TrainedModel>,
}

impl CommandResult for TrainResult {
    const FORMAT: &'static str = "doppel-train-result/1";
}

impl TrainResult {
    /// A result of these models, tagged with this build's format.
    pub fn new(models: Vec<TrainedModel>) -> Self {
        TrainResult { format: Self::FORMAT.to_string(), models }
    }

    /// The model of `role`, if this run trained it.
    pub fn model(&self, role: Role) -> Option<&TrainedModel> {
        self.models.iter().find(|m| m.role == role)
    }
}

/// One reference model of a `doppel train` run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainedModel {
    /// Which reference model.
    pub role: Role,
    /// The training rows it saw.
    pub rows: usize,
    /// Whether an existing checkpoint of the same config, data, seed and device was reused.
    pub reused: bool,
    /// Its accuracy and confidence on the sets of the study.
    pub metrics: ModelMetrics,
}

/// A classifier's accuracy and confidence on the study's sets, as fractions in [0, 1]; `None` for a set that is
/// empty (S at k = 0).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMetrics {
    /// Accuracy on the test split.
    pub test_acc: Option<f64>,
    /// Accuracy on the forget set F (the targets).
    pub forget_acc: Option<f64>,
    /// Mean true-class probability on F.
    pub forget_conf: Option<f64>,
    /// Accuracy on the similar set S (the variants).
    pub similar_acc: Option<f64>,
    /// Accuracy on the retain set R.
    pub retain_acc: Option<f64>,
}

impl ModelMetrics {
    /// The metric names, in table order.
    pub const NAMES: [&'static str; 5] = ["test_acc", "forget_acc", "forget_conf", "similar_acc", "retain_acc"];

    /// The values in [`ModelMetrics::NAMES`] order.
    pub fn values(&self) -> [Option<f64>; 5] {
        [self.test_acc, self.forget_acc, self.forget_conf, self.similar_acc, self.retain_acc]
    }
}

/// The result of `doppel data build`, `build-spam` and `build-qa`: the dataset's counts by lineage origin.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetResult {
    /// [`DatasetResult::FORMAT`].
    pub format: String,
    /// The dataset's name (its config's `name`).
    pub name: String,
    /// Training rows that are neither a target nor a variant (R).
    pub base: u64,
    /// Targets (F).
    pub targets: u64,
    /// Variants of the targets (S).
    pub variants: u64,
    /// Rows of the test split.
    pub test: u64,
}

impl CommandResult for DatasetResult {
    const FORMAT: &'static str = "doppel-dataset-result/1";
}

/// The result of `doppel mine quality`: precision and recall of the mined look-alikes against the lineage's
/// variants, one row per threshold (or top-k) of the config's sweep.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityResult {
    /// [`QualityResult::FORMAT`].
    pub format: String,
    /// The sweep, in the config's order.
    pub rows: Vec<QualityRow>,
}

impl CommandResult for QualityResult {
    const FORMAT: &'static str = "doppel-mine-quality-result/1";
}

/// One point of the mining sweep; a ratio is `None` where it is undefined (nothing mined, no variant).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityRow {
    /// `threshold` or `top_k`.
    pub rule: String,
    /// The threshold or `k`.
    pub value: f64,
    /// Σ|Ŝ_t|: rows mined over all targets.
    pub mined: usize,
    /// Σ|Ŝ_t ∩ S_t|: mined rows that are the target's variants.
    pub correct: usize,
    /// Σ|S_t|: the targets' variants.
    pub variants: usize,
    /// Micro precision.
    pub precision: Option<f64>,
    /// Micro recall.
    pub recall: Option<f64>,
    /// Precision of the mined set against S.
    pub set_precision: Option<f64>,
    /// Recall of the mined set against S.
    pub set_recall: Option<f64>,
    /// Targets with all their variants found.
    pub complete: usize,
    /// Targets.
    pub targets: usize,
}

/// The result of `doppel unlearn` and `doppel lm unlearn`: what one run forgot and what it cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlearnResult {
    /// [`UnlearnResult::FORMAT`].
    pub format: String,
    /// The method's name ([`Method`](crate::Method) or [`LmMethod`](crate::LmMethod)).
    pub method: String,
    /// The forget scope.
    pub scope: crate::Scope,
    /// Rows of the forget side.
    pub scope_size: usize,
    /// Rows of the retain side.
    pub retain_size: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// The step whose loss was not finite, when the run diverged (it kept the last sound weights).
    pub diverged_at: Option<usize>,
    /// The run's wall time over the original's training time (RTE); `None` when the original's is unknown.
    pub rte: Option<f64>,
    /// The budgeted search that chose the settings, when `--search` ran.
    pub search: Option<SearchOutcome>,
}

impl CommandResult for UnlearnResult {
    const FORMAT: &'static str = "doppel-unlearn-result/3";
}

/// What `doppel unlearn --search` chose.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchOutcome {
    /// The whole search's wall time over the original's training time.
    pub rte: f64,
    /// Candidates tried.
    pub candidates: usize,
    /// The chosen candidate's learning rate, when the grid sets one.
    pub lr: Option<f64>,
    /// The factor the chosen candidate applied to the method's budgets (steps or epochs), when it has any.
    pub budget: Option<f64>,
    /// The chosen candidate's Avg.Gap to the reference.
    pub avg_gap: Option<f64>,
    /// What the search minimised: `avg_gap`, or `kl_forget` (the calibration: mean KL to the reference on F with
    /// test accuracy within a tolerance of the original's).
    pub objective: String,
    /// The chosen candidate's mean KL(model ‖ reference) on F.
    pub kl_forget: Option<f64>,
    /// The chosen candidate's test accuracy.
    pub test_accuracy: Option<f64>,
    /// The original model's test accuracy.
    pub original_test_accuracy: Option<f64>,
    /// For `kl_forget`: whether the chosen candidate keeps test accuracy within the tolerance.
    pub within_tolerance: Option<bool>,
}

/// The result of `doppel eval`: per model, mean and std over runs (seeds) of every summary column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalResult {
    /// [`EvalResult::FORMAT`].
    pub format: String,
    /// The summary columns, in table order (`f_acc`, `test_acc`, `mia_auc`, `kl_f_clean`, …).
    pub columns: Vec<String>,
    /// One row per model, references first.
    pub models: Vec<EvalModel>,
    /// The retain set's split into near and far rows, when `doppel eval --near-rows` gave one (its columns,
    /// `r_near_*` and `r_far_*`, are then among [`EvalResult::columns`]); absent in results written without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_split: Option<RetainSplit>,
}

/// How `doppel eval --near-rows` split the retain set R: near, the retain rows the file lists (look-alikes of the
/// targets a mining step found), and far, every other retain row; `near + far` is |R|.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetainSplit {
    /// The `--near-rows` file, as given on the command line.
    pub near_rows: String,
    /// Retain rows in the file (each counted once; the file's targets and variants are F and S, not counted).
    pub near: usize,
    /// The other retain rows.
    pub far: usize,
}

impl CommandResult for EvalResult {
    const FORMAT: &'static str = "doppel-eval-result/1";
}

impl EvalResult {
    /// The row of `model`.
    pub fn model(&self, model: &str) -> Option<&EvalModel> {
        self.models.iter().find(|m| m.model == model)
    }
}

/// One model of [`EvalResult`]: `mean[i]` and `std[i]` belong to `columns[i]`; `None` where undefined.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalModel {
    /// `m0`, `retrain_exact`, `retrain_clean` or `<method>-<scope>`.
    pub model: String,
    /// Runs (seeds) averaged.
    pub runs: usize,
    /// Mean over runs, per column.
    pub mean: Vec<Option<f64>>,
    /// Sample standard deviation over runs, per column (`None` below two runs).
    pub std: Vec<Option<f64>>,
}

/// The result of `doppel attack`: one row per (model, attack, target).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackResult {
    /// [`AttackResult::FORMAT`].
    pub format: String,
    /// The scores, by model (in `--model` order), attack and target.
    pub scores: Vec<TargetScore>,
}

impl CommandResult for AttackResult {
    const FORMAT: &'static str = "doppel-attack-result/1";
}

/// How well one attack on one model reconstructed one target (SSIM), with the controls.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetScore {
    /// The model's name.
    pub model: String,
    /// `kkt` or `inversion`.
    pub attack: String,
    /// The target's training row.
    pub target_row: u32,
    /// The target's sample id.
    pub target_id: u32,
    /// Its class.
    pub class: u32,
    /// Best SSIM over the reconstructions of its class; `None` when the class has none.
    pub best_ssim: Option<f64>,
    /// SSIM of the target to its class's mean training image.
    pub class_mean_ssim: Option<f64>,
    /// SSIM of the target to the nearest (L2) retain image of its class.
    pub nearest_ssim: Option<f64>,
}

/// The result of `doppel lm eval`: one causal LM on a QA dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmEvalResult {
    /// [`LmEvalResult::FORMAT`].
    pub format: String,
    /// The model folder.
    pub model: String,
    /// The role it was trained as (an unlearned model keeps its original's).
    pub role: String,
    /// Perplexity on the held-out pairs.
    pub heldout_ppl: f64,
    /// Add-one unigram perplexity on the same tokens (the floor a model must beat).
    pub unigram_ppl: f64,
    /// Mean answer NLL (nats per token) on the targets F.
    pub answer_nll_forget: f64,
    /// On the paraphrases S; `None` without paraphrases.
    pub answer_nll_similar: Option<f64>,
    /// On the retain pairs R.
    pub answer_nll_retain: f64,
    /// On the held-out pairs.
    pub answer_nll_heldout: f64,
    /// Mean ROUGE-L F1 of the greedy answer to each target question.
    pub rouge_l_forget: f64,
    /// Mean MiniLM cosine of the greedy answer to each target question against the target answer.
    pub minilm_cosine_forget: f64,
    /// Min-K% Prob AUC, targets vs held-out.
    pub min_k_auc_forget_vs_heldout: f64,
    /// The K of Min-K% (a fraction).
    pub min_k: f64,
    /// Rows of F.
    pub forget: usize,
    /// Rows of S.
    pub similar: usize,
    /// Rows of R.
    pub retain: usize,
    /// Held-out rows.
    pub heldout: usize,
    /// Share of held-out tokens the tokenizer maps to [UNK].
    pub heldout_unk_rate: f64,
}

impl CommandResult for LmEvalResult {
    const FORMAT: &'static str = "doppel-lm-eval-result/1";
}

impl LmEvalResult {
    /// The metric `name` (a field of this struct), `None` when it is missing or undefined.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let v = match name {
            "heldout_ppl" => self.heldout_ppl,
            "unigram_ppl" => self.unigram_ppl,
            "answer_nll_forget" => self.answer_nll_forget,
            "answer_nll_similar" => self.answer_nll_similar?,
            "answer_nll_retain" => self.answer_nll_retain,
            "answer_nll_heldout" => self.answer_nll_heldout,
            "rouge_l_forget" => self.rouge_l_forget,
            "minilm_cosine_forget" => self.minilm_cosine_forget,
            "min_k_auc_forget_vs_heldout" => self.min_k_auc_forget_vs_heldout,
            "min_k" => self.min_k,
            "heldout_unk_rate" => self.heldout_unk_rate,
            "forget" => self.forget as f64,
            "similar" => self.similar as f64,
            "retain" => self.retain as f64,
            "heldout" => self.heldout as f64,
            _ => return None,
        };
        Some(v).filter(|v| v.is_finite())
    }
}

/// Builds a result with this build's format tag: `tagged!(DatasetResult { name, base, … })`.
#[macro_export]
macro_rules! tagged {
    ($t:ident { $($body:tt)* }) => {
        $t { format: <$t as $crate::results::CommandResult>::FORMAT.to_string(), $($body)* }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_result_of_another_format_or_shape_is_refused_with_the_file_named() {
        let dir = std::env::temp_dir().join(format!("doppel-protocol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(RESULT_FILE);
        let ok = TrainResult::new(vec![]);
        std::fs::write(&path, ok.to_json()).unwrap();
        assert_eq!(read_result::<TrainResult>(&path).unwrap(), ok);
        std::fs::write(&path, r#"{"format": "doppel-train-result/0", "models": []}"#).unwrap();
        let e = read_result::<TrainResult>(&path).unwrap_err().to_string();
        assert!(e.contains("result.json") && e.contains("doppel-train-result/0") && e.contains("rebuild"), "{e}");
        std::fs::write(&path, r#"{"format": "doppel-train-result/1", "models": [], "extra": 1}"#).unwrap();
        let e = read_result::<TrainResult>(&path).unwrap_err().to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

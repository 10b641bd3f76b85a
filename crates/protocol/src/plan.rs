//! The plan of a `cargo xtask reproduce` run as the report reads it: `OUT/plan.json`.
//!
//! The xtask expands a preset into content-addressed steps and caches each step's artifact under
//! `OUT/cache/<kind>/<key>/`; `doppel report --plan OUT/plan.json --cache OUT/cache --out OUT` then builds the
//! whole report from the artifacts alone. This file is what the report needs to know of the preset (labels, k,
//! seeds, which methods and scopes each arm runs) and of every step (its kind, key and where it sits in the
//! sweep), so the report never reads a preset TOML or guesses a model's scope from its name.

use crate::names::Scope;

/// `OUT/plan.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPlan {
    /// [`ReportPlan::FORMAT`].
    pub format: String,
    /// The preset the steps come from.
    pub preset: PresetInfo,
    /// Every step, in dependency order.
    pub steps: Vec<PlanStep>,
}

impl ReportPlan {
    /// The format tag of this build.
    pub const FORMAT: &'static str = "doppel-report-plan/2";
}

/// What the report shows of the preset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetInfo {
    /// The preset's name.
    pub name: String,
    /// Its one-paragraph description (may be empty).
    pub description: String,
    /// The preset file, relative to the workspace root when inside it.
    pub file: String,
    /// `flex` or `wgpu`.
    pub device: String,
    /// The training seeds.
    pub seeds: Vec<u64>,
    /// Whether each seed also redraws the targets and variants.
    pub reseed_data: bool,
    /// The dataset arms, in preset order (a step's `arm` indexes this list).
    pub arms: Vec<ArmInfo>,
}

/// How an arm's datasets are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builder {
    /// `doppel data build`: images with planted variants.
    Images,
    /// `doppel data build-spam`: SpamAssassin with its natural look-alikes.
    Spam,
    /// `doppel data build-qa`: the language arm's QA pairs with paraphrases.
    Qa,
}

/// One dataset arm of the preset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmInfo {
    /// The arm's label (section title, `dataset` column).
    pub label: String,
    /// How its datasets are built.
    pub builder: Builder,
    /// The look-alikes per target swept.
    pub k: Vec<usize>,
    /// The seeds this arm trains.
    pub seeds: Vec<u64>,
    /// The dataset config file.
    pub config_path: String,
    /// The train config file.
    pub train_path: String,
    /// The arm's unlearning, if any.
    pub unlearn: Option<UnlearnInfo>,
}

/// An arm's unlearning table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlearnInfo {
    /// Method names, in preset order.
    pub methods: Vec<String>,
    /// Scopes, in preset order.
    pub scopes: Vec<Scope>,
    /// The k it unlearns at.
    pub k: Vec<usize>,
    /// The seeds it unlearns from.
    pub seeds: Vec<u64>,
    /// The method settings file.
    pub config_path: String,
    /// The arm (index) whose k = 0 calibration every unlearning row of this arm runs: this arm, an earlier one
    /// (`calibrate = { from = … }`), or none when the arm runs its settings file as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated_by: Option<usize>,
}

/// The kinds of step, each cached under `cache/<dir>/<key>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// `doppel data build*`: a dataset directory (`dataset/`, `dataset/result.json`).
    Dataset,
    /// `doppel train --which <role>`: one reference model (`<role>/`, `result.json`).
    Model,
    /// `doppel mine neighbours` (+ `quality`): the targets' look-alikes (`mine/`, `quality/result.json`).
    Mine,
    /// `doppel unlearn`: one method under one scope (`model/`, `model/result.json`).
    Unlearn,
    /// `doppel eval` of every seed's models on one dataset (`eval/result.json`).
    Eval,
    /// `doppel attack` on one seed's models (`attack/result.json`, the grids).
    Attack,
    /// `doppel lm train` + `doppel lm eval`: one reference LM (`<role>/`, `result.json`).
    LmModel,
    /// `doppel lm unlearn` + `doppel lm eval` (`model/`, `model/result.json`, `result.json`).
    LmUnlearn,
}

impl StepKind {
    /// Every kind, in pipeline order.
    pub const ALL: [StepKind; 8] = [
        StepKind::Dataset,
        StepKind::Model,
        StepKind::LmModel,
        StepKind::Mine,
        StepKind::Unlearn,
        StepKind::LmUnlearn,
        StepKind::Eval,
        StepKind::Attack,
    ];

    /// The cache sub-folder and the name in logs.
    pub fn dir(self) -> &'static str {
        match self {
            StepKind::Dataset => "dataset",
            StepKind::Model => "model",
            StepKind::Mine => "mine",
            StepKind::Unlearn => "unlearn",
            StepKind::Eval => "eval",
            StepKind::Attack => "attack",
            StepKind::LmModel => "lm-model",
            StepKind::LmUnlearn => "lm-unlearn",
        }
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.dir())
    }
}

/// One step of the plan, with where it sits in the sweep.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// Its kind.
    pub kind: StepKind,
    /// Its key (the cache folder's name).
    pub key: String,
    /// Human-readable: `smoke k=7 seed=1 m0`.
    pub label: String,
    /// Index into [`PresetInfo::arms`].
    pub arm: usize,
    /// Look-alikes per target.
    pub k: usize,
    /// The seed, when the step depends on one (for a dataset: its data seed, when the preset reseeds data).
    pub seed: Option<u64>,
    /// What the step's model is called in the tables: a role (`m0`) or `<method>[+search]-<scope>`.
    pub model: Option<String>,
    /// For unlearn steps: the method and scope, and where its settings came from.
    pub unlearn: Option<PlanUnlearn>,
}

/// The unlearning a step ran.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanUnlearn {
    /// The method's name.
    pub method: String,
    /// The scope.
    pub scope: Scope,
    /// Where the settings came from.
    pub settings: Settings,
}

/// Where an unlearn step's settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settings {
    /// The arm's method settings file, as written.
    Config,
    /// `doppel unlearn --search` (Avg.Gap to that seed's `retrain_exact`) chose them; the row is
    /// `<method>+search-<scope>`.
    Search,
    /// This step is the arm's calibration of the method: `--search --objective kl-forget` at k = 0, exact scope,
    /// against the calibration seed's `retrain_exact`. Its settings are what the calibrated steps run; it is not a
    /// table row.
    Calibration,
    /// The settings the arm's calibration step chose.
    Calibrated,
}

impl Settings {
    /// Whether a budgeted search ran in this step (its cost is the whole search).
    pub fn searched(self) -> bool {
        matches!(self, Settings::Search | Settings::Calibration)
    }
}

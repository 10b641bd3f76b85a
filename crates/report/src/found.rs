//! What the report reads from a run's cache: every step's `result.json` (doppel-protocol's types), turned into
//! the rows the tables, the Markdown and the figures are made of.
//!
//! Each step's artifact sits in `CACHE/<kind>/<key>/` ([`ReportPlan`] says which); nothing here reads a printed
//! table or a CSV file. The reconstruction grids of the attack steps are copied to `OUT/reconstructions/` under
//! names that say where they come from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doppel_protocol::results::RESULT_FILE;
use doppel_protocol::{
    AttackResult, DatasetResult, EvalResult, LmEvalResult, ModelMetrics, PlanStep, QualityResult, QualityRow,
    ReportPlan, RetainSplit, SearchOutcome, Settings, StepKind, TrainResult, UnlearnResult, read_result,
};

use crate::error::{ReportError, Result};
use crate::stats::mean_std_sample;

/// The reference models, in table order.
pub const ROLES: [&str; 3] = ["m0", "retrain_exact", "retrain_clean"];

/// The forget scopes, in table order.
pub const SCOPES: [&str; 3] = ["exact", "mined", "lineage"];

/// A reference model's metrics in percent at two decimals, the precision of the per-seed table (the means over
/// seeds are taken of these, so the summary and the per-seed table agree).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics(pub [Option<f64>; 5]);

impl Metrics {
    /// The metric names, in table order, with their column titles.
    pub const COLUMNS: [(&'static str, &'static str); 5] = [
        ("test_acc", "test acc %"),
        ("forget_acc", "F acc %"),
        ("forget_conf", "F conf %"),
        ("similar_acc", "S acc %"),
        ("retain_acc", "R acc %"),
    ];

    /// Each fraction of `m` as a percentage rounded to two decimals (decimal rounding of the printed value).
    pub fn percent(m: &ModelMetrics) -> Metrics {
        Metrics(m.values().map(|v| v.and_then(|v| format!("{:.2}", 100.0 * v).parse::<f64>().ok())))
    }

    /// The values in [`Metrics::COLUMNS`] order.
    pub fn values(&self) -> [Option<f64>; 5] {
        self.0
    }
}

/// One reference model (one seed) with where it sits.
#[derive(Debug, Clone)]
pub struct Row {
    /// Index of the arm.
    pub arm: usize,
    /// The arm's label.
    pub dataset: String,
    /// Look-alikes per target.
    pub k: usize,
    /// The training seed.
    pub seed: u64,
    /// `m0`, `retrain_exact` or `retrain_clean`.
    pub role: &'static str,
    /// Its metrics.
    pub metrics: Metrics,
}

/// Counts of one dataset artifact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// R.
    pub base: u64,
    /// F.
    pub targets: u64,
    /// S.
    pub variants: u64,
    /// The test split.
    pub test: u64,
}

/// One model's row of a `doppel eval` aggregate (mean and std over seeds), with where it sits.
#[derive(Debug, Clone)]
pub struct EvalRow {
    /// Index of the arm.
    pub arm: usize,
    /// The arm's label.
    pub dataset: String,
    /// Look-alikes per target.
    pub k: usize,
    /// The model's name.
    pub model: String,
    /// `runs`, and `<column>_mean` / `<column>_std` for every summary column with a value.
    pub values: BTreeMap<String, f64>,
    /// The retain set's near / far split of the eval step (`doppel eval --near-rows`), when it had one.
    pub retain_split: Option<RetainSplit>,
}

impl EvalRow {
    /// The finite value of `column`.
    pub fn get(&self, column: &str) -> Option<f64> {
        self.values.get(column).copied().filter(|v| v.is_finite())
    }
}

/// One seed's reconstruction scores of one model under one attack: means over the targets.
#[derive(Debug, Clone)]
pub struct AttackRow {
    /// Index of the arm.
    pub arm: usize,
    /// Look-alikes per target.
    pub k: usize,
    /// The model's name.
    pub model: String,
    /// `kkt` or `inversion`.
    pub attack: String,
    /// Mean over targets of [best SSIM in class, class-mean control, nearest non-target control] (NaN: none).
    pub values: [f64; 3],
}

/// A model under one attack at one k: mean and std over seeds of the per-seed means.
#[derive(Debug, Clone)]
pub struct AttackCell {
    /// Index of the arm.
    pub arm: usize,
    /// Look-alikes per target.
    pub k: usize,
    /// The model's name.
    pub model: String,
    /// The attack.
    pub attack: String,
    /// Seeds averaged.
    pub seeds: usize,
    /// (mean, std) of [best SSIM, class-mean control, nearest control].
    pub stats: [(Option<f64>, Option<f64>); 3],
}

/// One LM's metrics (one seed) with where it sits.
#[derive(Debug, Clone)]
pub struct LmRow {
    /// Index of the arm.
    pub arm: usize,
    /// The arm's label.
    pub dataset: String,
    /// Paraphrases per target.
    pub k: usize,
    /// `m0`, `retrain_exact`, `retrain_clean` or `<method>-<scope>`.
    pub model: String,
    /// The evaluation.
    pub eval: LmEvalResult,
}

/// What the unlearn steps of one method and scope at one k cost, over seeds.
#[derive(Debug, Default, Clone)]
pub struct Cost {
    /// Wall time relative to training M0, per seed.
    pub rte: Vec<f64>,
    /// Seeds whose run diverged.
    pub diverged: usize,
    /// Rows the scope held, per seed.
    pub scope_size: Vec<u64>,
    /// For searched runs: (seed, the chosen setting and its Avg.Gap), per seed.
    pub chosen: Vec<(u64, String)>,
}

/// Costs by (arm, k, model name).
pub type Costs = BTreeMap<(usize, usize, String), Cost>;

/// Everything the report reads from the cache.
#[derive(Debug, Default)]
pub struct Found {
    /// The reference models, one row per seed.
    pub rows: Vec<Row>,
    /// Dataset counts by (arm, k, data seed).
    pub counts: BTreeMap<(usize, usize, Option<u64>), Counts>,
    /// `doppel eval` aggregates.
    pub evals: Vec<EvalRow>,
    /// Unlearning costs.
    pub costs: Costs,
    /// The methods' calibrations, in plan order.
    pub calibrations: Vec<Calibration>,
    /// Reconstruction scores per seed.
    pub attacks: Vec<AttackRow>,
    /// The language arm's models.
    pub lm_rows: Vec<LmRow>,
    /// The mining sweeps: (arm label, k, row).
    pub quality: Vec<(String, usize, QualityRow)>,
    /// The reconstruction grids copied out: (arm, k, file name under `reconstructions/`).
    pub grids: Vec<(usize, usize, String)>,
}

/// The cache folder of `step`.
pub fn step_dir(cache: &Path, step: &PlanStep) -> PathBuf {
    cache.join(step.kind.dir()).join(&step.key)
}

/// Reads every step of `plan` from `cache`; copies the reconstruction grids to `out/reconstructions/`.
pub fn read(plan: &ReportPlan, cache: &Path, out: &Path) -> Result<Found> {
    let missing: Vec<&PlanStep> = plan.steps.iter().filter(|s| !step_dir(cache, s).is_dir()).collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(8).map(|s| s.label.as_str()).collect();
        let more = if missing.len() > shown.len() {
            format!(" and {} more", missing.len() - shown.len())
        } else {
            String::new()
        };
        return Err(ReportError::Missing {
            missing: missing.len(),
            total: plan.steps.len(),
            cache: cache.display().to_string(),
            shown: format!("{}{more}", shown.join(", ")),
        });
    }
    let mut f = Found::default();
    for s in &plan.steps {
        let dir = step_dir(cache, s);
        let label = plan.preset.arms.get(s.arm).map_or("?", |a| a.label.as_str()).to_string();
        let bad = |problem: String| ReportError::Artifact { step: s.label.clone(), problem, dir: dir.clone() };
        match s.kind {
            StepKind::Dataset => {
                let r: DatasetResult = read_result(&dir.join("dataset").join(RESULT_FILE))?;
                let c = Counts { base: r.base, targets: r.targets, variants: r.variants, test: r.test };
                f.counts.insert((s.arm, s.k, s.seed), c);
            }
            StepKind::Model => {
                let role = s.model.as_deref().and_then(|m| ROLES.iter().find(|r| **r == m)).copied();
                let (Some(seed), Some(role)) = (s.seed, role) else {
                    return Err(bad("a model step without a seed or a reference role".into()));
                };
                let result: TrainResult = read_result(&dir.join(RESULT_FILE))?;
                if !result.models.iter().any(|m| m.role.name() == role) {
                    return Err(bad(format!("its result.json holds no {role} model")));
                }
                // Every model it wrote: one, or retrain_exact and retrain_clean where they are one model (k = 0).
                for model in &result.models {
                    let Some(role) = ROLES.iter().find(|r| **r == model.role.name()).copied() else { continue };
                    let metrics = Metrics::percent(&model.metrics);
                    f.rows.push(Row { arm: s.arm, dataset: label.clone(), k: s.k, seed, role, metrics });
                }
            }
            // Its effect shows in the size of the mined scope, which the unlearn steps report; with variants, its
            // precision and recall against the lineage over the config's threshold sweep.
            StepKind::Mine => {
                let path = dir.join("quality").join(RESULT_FILE);
                if path.is_file() {
                    let q: QualityResult = read_result(&path)?;
                    f.quality.extend(q.rows.into_iter().map(|r| (label.clone(), s.k, r)));
                }
            }
            StepKind::Attack => {
                let result: AttackResult = read_result(&dir.join("attack").join(RESULT_FILE))?;
                for ((model, attack), values) in target_means(&result) {
                    f.attacks.push(AttackRow { arm: s.arm, k: s.k, model, attack, values });
                }
                // The reconstruction grids (one row per target: the target, then each model's best
                // reconstruction), copied out of the cache under names that say where they come from.
                for attack in ["kkt", "inversion"] {
                    let grid = dir.join(format!("attack/grid_{attack}.png"));
                    if grid.is_file() {
                        let bytes = std::fs::read(&grid).map_err(doppel_stdx::IoError::at("reading", &grid))?;
                        let name = format!("{label}-k{}-seed{}-{attack}.png", s.k, s.seed.unwrap_or(0));
                        doppel_stdx::write_atomic(&out.join("reconstructions").join(&name), &bytes)?;
                        f.grids.push((s.arm, s.k, name));
                    }
                }
            }
            StepKind::LmModel | StepKind::LmUnlearn => {
                let eval: LmEvalResult = read_result(&dir.join(RESULT_FILE))?;
                let Some(model) = s.model.clone() else { return Err(bad("an LM step without a model name".into())) };
                f.lm_rows.push(LmRow { arm: s.arm, dataset: label, k: s.k, model, eval });
                if s.kind == StepKind::LmUnlearn {
                    add_cost(&dir, s, &mut f.costs, &mut f.calibrations)?;
                }
            }
            StepKind::Unlearn => add_cost(&dir, s, &mut f.costs, &mut f.calibrations)?,
            StepKind::Eval => {
                let result: EvalResult = read_result(&dir.join("eval").join(RESULT_FILE))?;
                for m in &result.models {
                    let mut values = BTreeMap::from([("runs".to_string(), m.runs as f64)]);
                    for (i, c) in result.columns.iter().enumerate() {
                        if let Some(v) = m.mean.get(i).copied().flatten() {
                            values.insert(format!("{c}_mean"), v);
                        }
                        if let Some(v) = m.std.get(i).copied().flatten() {
                            values.insert(format!("{c}_std"), v);
                        }
                    }
                    f.evals.push(EvalRow {
                        arm: s.arm,
                        dataset: label.clone(),
                        k: s.k,
                        model: m.model.clone(),
                        values,
                        retain_split: result.retain_split.clone(),
                    });
                }
            }
        }
    }
    Ok(f)
}

/// Per (model, attack): the means over targets of best SSIM, the class-mean control and the nearest control
/// (NaN where no target has a value), summed in the attack's row order.
fn target_means(result: &AttackResult) -> BTreeMap<(String, String), [f64; 3]> {
    let mut sums: BTreeMap<(String, String), ([f64; 3], [usize; 3])> = BTreeMap::new();
    for r in &result.scores {
        let e = sums.entry((r.model.clone(), r.attack.clone())).or_default();
        for (j, v) in [r.best_ssim, r.class_mean_ssim, r.nearest_ssim].into_iter().enumerate() {
            if let Some(v) = v {
                e.0[j] += v;
                e.1[j] += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(key, (sum, n))| (key, [0, 1, 2].map(|j| if n[j] == 0 { f64::NAN } else { sum[j] / n[j] as f64 })))
        .collect()
}

/// Adds the cost of the unlearn step `s` (its `model/result.json`) to `costs`.
fn add_cost(dir: &Path, s: &PlanStep, costs: &mut Costs, calibrations: &mut Vec<Calibration>) -> Result<()> {
    let r: UnlearnResult = read_result(&dir.join("model").join(RESULT_FILE))?;
    let name = s.model.clone().unwrap_or_else(|| format!("{}-{}", r.method, r.scope));
    let cost = costs.entry((s.arm, s.k, name)).or_default();
    // A searched run costs the whole search, not just the chosen candidate.
    let settings = s.unlearn.as_ref().map(|u| u.settings);
    let searched = settings.is_some_and(Settings::searched);
    let rte = if searched { r.search.as_ref().map(|x| x.rte) } else { r.rte };
    if let Some(rte) = rte {
        cost.rte.push(rte);
    }
    if let (Some(Settings::Search), Some(search)) = (settings, &r.search) {
        let setting = match (search.lr, search.budget) {
            (Some(lr), Some(f)) => format!("lr {}, budget ×{f}", short_e(lr)),
            (Some(lr), None) => format!("lr {}", short_e(lr)),
            (None, Some(f)) => format!("budget ×{f}"),
            (None, None) => "its only setting".to_string(),
        };
        let gap = search.avg_gap.map_or("–".to_string(), |g| format!("{g:.4}"));
        cost.chosen.push((s.seed.unwrap_or(0), format!("{setting} (Avg.Gap {gap})")));
    }
    cost.diverged += usize::from(r.diverged_at.is_some());
    cost.scope_size.push(r.scope_size as u64);
    if let (Some(Settings::Calibration), Some(search)) = (settings, &r.search) {
        calibrations.push(Calibration {
            arm: s.arm,
            method: r.method.clone(),
            seed: s.seed.unwrap_or(0),
            outcome: search.clone(),
            diverged: r.diverged_at.is_some(),
        });
    }
    Ok(())
}

/// A learning rate in `e` notation at six significant digits, so a grid point such as 1e-5 × 0.1 reads `1e-6`, not
/// `1.0000000000000002e-6`.
pub fn short_e(v: f64) -> String {
    let rounded: f64 = format!("{v:.5e}").parse().unwrap_or(v);
    format!("{rounded:e}")
}

/// One method's calibration (k = 0, exact scope): the settings `doppel unlearn --search --objective kl-forget`
/// chose and how near `retrain_exact` they got on F.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// Index of the arm.
    pub arm: usize,
    /// The method.
    pub method: String,
    /// The seed whose models calibrated it.
    pub seed: u64,
    /// What the search chose.
    pub outcome: SearchOutcome,
    /// Whether the chosen run diverged (and kept its last sound weights).
    pub diverged: bool,
}

/// One cell of the reference-model summary: a model at one k, over seeds.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Index of the arm.
    pub arm: usize,
    /// The arm's label.
    pub dataset: String,
    /// Look-alikes per target.
    pub k: usize,
    /// The role.
    pub role: &'static str,
    /// Seeds averaged.
    pub seeds: usize,
    /// (mean, std) per metric, in [`Metrics::COLUMNS`] order.
    pub stats: Vec<(Option<f64>, Option<f64>)>,
}

/// The reference models over seeds, by arm, k and role.
pub fn summarise(rows: &[Row]) -> Vec<Cell> {
    let mut groups: BTreeMap<(usize, usize, usize), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let role_ix = ROLES.iter().position(|x| *x == r.role).unwrap_or(ROLES.len());
        groups.entry((r.arm, r.k, role_ix)).or_default().push(r);
    }
    groups
        .into_values()
        .map(|g| {
            let stats = (0..Metrics::COLUMNS.len())
                .map(|c| mean_std_sample(&g.iter().map(|r| r.metrics.values()[c]).collect::<Vec<_>>()))
                .collect();
            Cell { arm: g[0].arm, dataset: g[0].dataset.clone(), k: g[0].k, role: g[0].role, seeds: g.len(), stats }
        })
        .collect()
}

/// The attack rows reduced over seeds, ordered by arm, k, model (references first) and attack.
pub fn summarise_attacks(rows: &[AttackRow]) -> Vec<AttackCell> {
    let order = |m: &str| ROLES.iter().position(|r| *r == m).unwrap_or(ROLES.len());
    let mut groups: BTreeMap<(usize, usize, usize, String, String), Vec<&AttackRow>> = BTreeMap::new();
    for r in rows {
        groups.entry((r.arm, r.k, order(&r.model), r.model.clone(), r.attack.clone())).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((arm, k, _, model, attack), g)| AttackCell {
            arm,
            k,
            model,
            attack,
            seeds: g.len(),
            stats: [0, 1, 2].map(|j| {
                mean_std_sample(&g.iter().map(|r| Some(r.values[j]).filter(|v| v.is_finite())).collect::<Vec<_>>())
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn learning_rates_print_without_float_noise() {
        assert_eq!(super::short_e(1e-5 * 0.1), "1e-6");
        assert_eq!(super::short_e(1.3e-3), "1.3e-3");
        assert_eq!(super::short_e(0.05), "5e-2");
    }
}

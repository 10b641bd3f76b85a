//! The study's tables, built from what [`found`](crate::found) read: `tables/<name>.csv` and its Parquet twin.
//!
//! | table | one row per |
//! |---|---|
//! | `reference_models` | arm, k and reference model: accuracy and confidence on test, F, S, R (percent, mean and sample std over seeds) |
//! | `reference_models_per_seed` | the same per seed |
//! | `datasets` | arm, k (and data seed): the rows of R, F, S and test |
//! | `evaluation` | arm, k and model: `doppel eval`'s metrics (mean and std over seeds) and diverged runs |
//! | `calibration` | arm and method: the settings chosen at k = 0 (KL to retrain_exact on F within 3 test points of M0), their KL and test accuracy |
//! | `reconstruction` | arm, k, model and attack: best reconstruction SSIM and its controls |
//! | `mining_quality` | arm, k and sweep point: precision and recall of the mined look-alikes |
//! | `lm` | QA arm, k and language model: answer NLL, perplexities, ROUGE-L, MiniLM cosine, Min-K% AUC |

use crate::found::{AttackCell, Calibration, Cell as Summary, Costs, Counts, EvalRow, Found, Metrics, ROLES, Row};
use crate::lm::{LM_COLUMNS, LmCell};
use crate::table::{Cell, Table};
use doppel_protocol::PresetInfo;
use std::collections::BTreeMap;

/// The columns the report shows from `doppel eval`, as (column stem, title, decimals in the Markdown; the CSV
/// has two more).
pub const EVAL_COLUMNS: [(&str, &str, usize); 13] = [
    ("f_acc", "F acc", 3),
    ("test_acc", "test acc", 3),
    ("f_lsc", "F logit conf", 2),
    ("mia_auc", "MIA AUC (loss)", 3),
    ("mia_lr", "MIA LR", 3),
    ("mia_efficacy", "MIA-Efficacy (SVC)", 3),
    ("kl_f_m0", "KL F→M0", 4),
    ("kl_f_exact", "KL F→exact", 4),
    ("kl_f_clean", "KL F→clean", 4),
    ("avg_gap_exact", "Avg.Gap exact", 4),
    ("avg_gap_clean", "Avg.Gap clean", 4),
    ("eps_fq_exact", "ε FQ exact", 3),
    ("eps_fq_clean", "ε FQ clean", 3),
];

/// `<stem>_mean, <stem>_std` for each stem.
fn stat_columns<'a>(stems: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    stems.into_iter().flat_map(|s| [format!("{s}_mean"), format!("{s}_std")]).collect()
}

fn with(head: &[&str], rest: Vec<String>, tail: &[&str]) -> Vec<String> {
    head.iter().map(|s| s.to_string()).chain(rest).chain(tail.iter().map(|s| s.to_string())).collect()
}

/// `reference_models`: the summary over seeds.
pub fn reference_models(cells: &[Summary]) -> Table {
    let mut t = Table::new(
        "reference_models",
        with(&["dataset", "k", "model", "seeds"], stat_columns(Metrics::COLUMNS.iter().map(|c| c.0)), &[]),
    );
    for c in cells {
        let mut row = vec![Cell::text(&c.dataset), Cell::count(c.k), Cell::text(c.role), Cell::count(c.seeds)];
        for (m, sd) in &c.stats {
            row.extend([Cell::fixed(*m, 3), Cell::fixed(*sd, 3)]);
        }
        t.push(row);
    }
    t
}

/// `reference_models_per_seed`.
pub fn reference_models_per_seed(rows: &[Row]) -> Table {
    let columns =
        with(&["dataset", "k", "seed", "model"], Metrics::COLUMNS.iter().map(|c| c.0.to_string()).collect(), &[]);
    let mut t = Table::new("reference_models_per_seed", columns);
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.arm, r.k, r.seed, ROLES.iter().position(|x| *x == r.role)));
    for r in sorted {
        let mut row = vec![Cell::text(&r.dataset), Cell::count(r.k), Cell::count(r.seed), Cell::text(r.role)];
        row.extend(r.metrics.values().map(|v| Cell::fixed(v, 2)));
        t.push(row);
    }
    t
}

/// `datasets`.
pub fn datasets(preset: &PresetInfo, counts: &BTreeMap<(usize, usize, Option<u64>), Counts>) -> Table {
    let mut t = Table::new("datasets", ["dataset", "k", "data_seed", "base", "targets", "variants", "test"]);
    for ((arm, k, seed), c) in counts {
        let label = preset.arms.get(*arm).map_or("?", |a| a.label.as_str());
        t.push(vec![
            Cell::text(label),
            Cell::count(*k),
            seed.map_or(Cell::Empty, Cell::count),
            Cell::count(c.base),
            Cell::count(c.targets),
            Cell::count(c.variants),
            Cell::count(c.test),
        ]);
    }
    t
}

/// `evaluation`.
pub fn evaluation(rows: &[EvalRow], costs: &Costs) -> Table {
    let columns =
        with(&["dataset", "k", "model", "seeds"], stat_columns(EVAL_COLUMNS.iter().map(|c| c.0)), &["diverged"]);
    let mut t = Table::new("evaluation", columns);
    for r in rows {
        let runs = r.get("runs").map_or(Cell::Empty, |n| Cell::count(n as i64));
        let mut row = vec![Cell::text(&r.dataset), Cell::count(r.k), Cell::text(&r.model), runs];
        for (stem, _, d) in EVAL_COLUMNS {
            row.push(Cell::fixed(r.get(&format!("{stem}_mean")), d + 2));
            row.push(Cell::fixed(r.get(&format!("{stem}_std")), d + 2));
        }
        row.push(costs.get(&(r.arm, r.k, r.model.clone())).map_or(Cell::Empty, |c| Cell::count(c.diverged)));
        t.push(row);
    }
    t
}

/// `calibration`: per arm and method, the settings the k = 0 calibration chose and how near `retrain_exact` they got
/// on F, with test accuracy against M0's.
pub fn calibration(preset: &PresetInfo, rows: &[Calibration]) -> Table {
    let mut t = Table::new(
        "calibration",
        [
            "dataset",
            "method",
            "seed",
            "lr",
            "budget_factor",
            "candidates",
            "kl_f_exact",
            "test_acc",
            "m0_test_acc",
            "within_tolerance",
            "diverged",
        ],
    );
    for c in rows {
        let label = preset.arms.get(c.arm).map_or("?", |a| a.label.as_str());
        let o = &c.outcome;
        t.push(vec![
            Cell::text(label),
            Cell::text(&c.method),
            Cell::count(c.seed),
            o.lr.map_or(Cell::Empty, Cell::shortest),
            o.budget.map_or(Cell::Empty, Cell::shortest),
            Cell::count(o.candidates),
            Cell::fixed(o.kl_forget, 6),
            Cell::fixed(o.test_accuracy, 4),
            Cell::fixed(o.original_test_accuracy, 4),
            o.within_tolerance.map_or(Cell::Empty, |w| Cell::text(if w { "yes" } else { "no" })),
            Cell::text(if c.diverged { "yes" } else { "no" }),
        ]);
    }
    t
}

/// `reconstruction`.
pub fn reconstruction(preset: &PresetInfo, cells: &[AttackCell]) -> Table {
    let columns = with(
        &["dataset", "k", "model", "attack", "seeds"],
        stat_columns(["best_ssim", "class_mean_ssim", "nearest_ssim"]),
        &[],
    );
    let mut t = Table::new("reconstruction", columns);
    for c in cells {
        let label = preset.arms.get(c.arm).map_or("?", |a| a.label.as_str());
        let mut row = vec![
            Cell::text(label),
            Cell::count(c.k),
            Cell::text(&c.model),
            Cell::text(&c.attack),
            Cell::count(c.seeds),
        ];
        for (m, sd) in &c.stats {
            row.extend([Cell::fixed(*m, 6), Cell::fixed(*sd, 6)]);
        }
        t.push(row);
    }
    t
}

/// `mining_quality`: every mine step's sweep, numbers in their shortest form (`NaN` where a ratio is undefined).
pub fn mining_quality(found: &Found) -> Table {
    let mut t = Table::new(
        "mining_quality",
        [
            "dataset",
            "k",
            "rule",
            "value",
            "mined",
            "correct",
            "variants",
            "precision",
            "recall",
            "set_precision",
            "set_recall",
            "complete",
            "targets",
        ],
    );
    let ratio = |v: Option<f64>| Cell::shortest(v.unwrap_or(f64::NAN));
    for (label, k, r) in &found.quality {
        t.push(vec![
            Cell::text(label),
            Cell::count(*k),
            Cell::text(&r.rule),
            Cell::shortest(r.value),
            Cell::count(r.mined),
            Cell::count(r.correct),
            Cell::count(r.variants),
            ratio(r.precision),
            ratio(r.recall),
            ratio(r.set_precision),
            ratio(r.set_recall),
            Cell::count(r.complete),
            Cell::count(r.targets),
        ]);
    }
    t
}

/// `lm`: one line per arm, k and model, each metric at three more decimals than the Markdown shows.
pub fn lm(cells: &[LmCell], costs: &Costs) -> Table {
    let columns =
        with(&["dataset", "k", "model", "seeds"], stat_columns(LM_COLUMNS.iter().map(|c| c.0)), &["diverged"]);
    let mut t = Table::new("lm", columns);
    for c in cells {
        let mut row = vec![Cell::text(&c.dataset), Cell::count(c.k), Cell::text(&c.model), Cell::count(c.seeds)];
        for ((_, _, d), (m, sd)) in LM_COLUMNS.iter().zip(&c.stats) {
            row.extend([Cell::fixed(*m, d + 3), Cell::fixed(*sd, d + 3)]);
        }
        row.push(costs.get(&(c.arm, c.k, c.model.clone())).map_or(Cell::Empty, |c| Cell::count(c.diverged)));
        t.push(row);
    }
    t
}

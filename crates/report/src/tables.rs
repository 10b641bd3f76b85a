//! The study's tables, built from what [`found`](crate::found) read: `tables/<name>.csv` and its Parquet twin.
//!
//! | table | one row per |
//! |---|---|
//! | `reference_models` | arm, k and reference model: accuracy and confidence on test, F, S, R (percent, mean and sample std over seeds) |
//! | `reference_models_per_seed` | the same per seed |
//! | `datasets` | arm, k (and data seed): the rows of R, F, S and test |
//! | `evaluation` | arm, k and model: `doppel eval`'s metrics (mean and std over seeds), with `--near-rows` the retain split's accuracies and counts, and diverged runs |
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

/// The retain split's columns the report shows when an eval step ran with `doppel eval --near-rows`: accuracy on
/// R near (the retain rows mined as look-alikes of the targets) and on R far (the rest), as [`EVAL_COLUMNS`].
pub const RETAIN_SPLIT_COLUMNS: [(&str, &str, usize); 2] =
    [("r_near_acc", "R near acc", 3), ("r_far_acc", "R far acc", 3)];

/// Whether any of `rows` holds a value of the retain split's columns.
pub fn has_retain_split<'a>(rows: impl IntoIterator<Item = &'a EvalRow>) -> bool {
    rows.into_iter().any(|r| RETAIN_SPLIT_COLUMNS.iter().any(|(stem, _, _)| r.get(&format!("{stem}_mean")).is_some()))
}

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

/// `evaluation`. When some eval step split the retain set (`doppel eval --near-rows`), the table also has
/// [`RETAIN_SPLIT_COLUMNS`] and the split's counts, `r_near_rows` and `r_far_rows` (empty on the rows of a step
/// without the split); otherwise it has exactly the columns of [`EVAL_COLUMNS`].
pub fn evaluation(rows: &[EvalRow], costs: &Costs) -> Table {
    let split = has_retain_split(rows);
    let shown: Vec<(&str, &str, usize)> =
        EVAL_COLUMNS.iter().chain(if split { &RETAIN_SPLIT_COLUMNS[..] } else { &[] }).copied().collect();
    let mut stats = stat_columns(shown.iter().map(|c| c.0));
    if split {
        stats.extend(["r_near_rows".to_string(), "r_far_rows".to_string()]);
    }
    let columns = with(&["dataset", "k", "model", "seeds"], stats, &["diverged"]);
    let mut t = Table::new("evaluation", columns);
    for r in rows {
        let runs = r.get("runs").map_or(Cell::Empty, |n| Cell::count(n as i64));
        let mut row = vec![Cell::text(&r.dataset), Cell::count(r.k), Cell::text(&r.model), runs];
        for (stem, _, d) in &shown {
            row.push(Cell::fixed(r.get(&format!("{stem}_mean")), d + 2));
            row.push(Cell::fixed(r.get(&format!("{stem}_std")), d + 2));
        }
        if split {
            let count = |n: Option<usize>| n.map_or(Cell::Empty, Cell::count);
            row.push(count(r.retain_split.as_ref().map(|x| x.near)));
            row.push(count(r.retain_split.as_ref().map(|x| x.far)));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(model: &str, values: &[(&str, f64)], near_far: Option<(usize, usize)>) -> EvalRow {
        EvalRow {
            arm: 0,
            dataset: "d".into(),
            k: 10,
            model: model.into(),
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            retain_split: near_far.map(|(near, far)| doppel_protocol::RetainSplit {
                near_rows: "n.txt".into(),
                near,
                far,
            }),
        }
    }

    #[test]
    fn the_evaluation_table_has_the_retain_split_only_when_an_eval_had_it() {
        let plain = evaluation(&[row("m0", &[("runs", 2.0), ("f_acc_mean", 0.5)], None)], &Costs::new());
        assert_eq!(plain.columns.len(), 4 + 2 * EVAL_COLUMNS.len() + 1);
        assert!(!plain.columns.iter().any(|c| c.starts_with("r_near") || c.starts_with("r_far")));
        assert_eq!(plain.columns.last().unwrap(), "diverged");

        let values = [("runs", 2.0), ("r_near_acc_mean", 0.875), ("r_near_acc_std", 0.125), ("r_far_acc_mean", 0.9)];
        let t = evaluation(&[row("m0", &values, Some((12, 380))), row("old", &[("runs", 1.0)], None)], &Costs::new());
        let tail: Vec<&str> = t.columns[t.columns.len() - 7..].iter().map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "r_near_acc_mean",
                "r_near_acc_std",
                "r_far_acc_mean",
                "r_far_acc_std",
                "r_near_rows",
                "r_far_rows",
                "diverged"
            ]
        );
        let csv = t.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[1].ends_with(",0.87500,0.12500,0.90000,,12,380,"), "{csv}");
        assert!(lines[2].ends_with(",,,,,,,"), "a step without the split has empty cells: {csv}");
        assert!(t.parquet().is_ok());
    }
}

//! The figures of small tables built here: sizes, panels per scope, the index's captions, skipped figures.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::table::Cell;

/// A cell from a fixture literal: empty, an integer, a number (shown as written) or text.
fn cell(s: &str) -> Cell {
    if s.is_empty() {
        Cell::Empty
    } else if let Ok(i) = s.parse::<i64>() {
        Cell::Int(i)
    } else if let Ok(v) = s.parse::<f64>() {
        Cell::Num { value: v, text: s.to_string() }
    } else {
        Cell::text(s)
    }
}

/// A table whose rows are given as lists of cell literals.
fn table(name: &str, columns: &[&str], rows: &[&[&str]]) -> Table {
    let mut t = Table::new(name, columns.iter().copied());
    for r in rows {
        t.push(r.iter().map(|c| cell(c)).collect());
    }
    t
}

/// d1 has methods under two scopes at two k, d2 only the reference models; ga-exact diverged once.
fn evaluation() -> Table {
    table(
        "evaluation",
        &[
            "dataset",
            "k",
            "model",
            "seeds",
            "f_acc_mean",
            "f_acc_std",
            "test_acc_mean",
            "test_acc_std",
            "mia_auc_mean",
            "mia_auc_std",
            "diverged",
        ],
        &[
            &["d1", "0", "m0", "3", "1.00000", "0.00000", "0.98", "0.001", "0.55", "0.01", ""],
            &["d1", "0", "retrain_exact", "3", "0.90000", "0.02000", "0.98", "0.002", "0.50", "0.01", ""],
            &["d1", "0", "retrain_clean", "3", "0.90000", "0.02000", "0.98", "0.002", "0.50", "0.01", ""],
            &["d1", "0", "ft-exact", "3", "0.95000", "0.03000", "0.97", "0.003", "0.52", "0.02", "0"],
            &["d1", "0", "ft-lineage", "3", "0.93000", "0.01000", "0.97", "0.003", "0.51", "0.02", "0"],
            &["d1", "0", "ga-exact", "3", "0.80000", "0.05000", "0.95", "0.010", "0.45", "0.03", "1"],
            &["d1", "10", "m0", "3", "1.00000", "0.00000", "0.98", "0.001", "0.65", "0.01", ""],
            &["d1", "10", "retrain_exact", "3", "1.00000", "0.00000", "0.98", "0.001", "0.64", "0.01", ""],
            &["d1", "10", "retrain_clean", "3", "0.90000", "0.02000", "0.98", "0.002", "0.50", "0.01", ""],
            &["d1", "10", "ft-exact", "3", "1.00000", "0.00000", "0.97", "0.002", "0.60", "0.02", "0"],
            &["d1", "10", "ft-lineage", "1", "0.85000", "", "0.96", "", "0.48", "", "0"],
            &["d2", "0", "m0", "3", "0.80000", "0.05000", "0.85", "0.01", "0.49", "0.01", ""],
            &["d2", "0", "retrain_exact", "3", "0.78000", "0.02000", "0.85", "0.01", "0.48", "0.01", ""],
            &["d2", "0", "retrain_clean", "3", "0.78000", "0.02000", "0.85", "0.01", "0.48", "0.01", ""],
            &["d2", "50", "m0", "3", "1.00000", "0.00000", "0.86", "0.01", "0.63", "0.01", ""],
            &["d2", "50", "retrain_exact", "3", "1.00000", "0.00000", "0.86", "0.01", "0.63", "0.01", ""],
            &["d2", "50", "retrain_clean", "3", "0.78000", "0.02000", "0.85", "0.01", "0.48", "0.01", ""],
        ],
    )
}

/// KKT's best SSIM per model and k (ft-exact with one seed, so no std); the controls are the same for all.
fn reconstruction() -> Table {
    let mut t = Table::new(
        "reconstruction",
        ["dataset", "k", "model", "attack", "seeds", "best_ssim_mean", "best_ssim_std"].into_iter().chain([
            "class_mean_ssim_mean",
            "class_mean_ssim_std",
            "nearest_ssim_mean",
            "nearest_ssim_std",
        ]),
    );
    let best = [
        ("0", "m0", 0.28, Some(0.02)),
        ("0", "retrain_exact", 0.27, Some(0.01)),
        ("0", "retrain_clean", 0.27, Some(0.01)),
        ("10", "m0", 0.41, Some(0.02)),
        ("10", "retrain_exact", 0.41, Some(0.01)),
        ("10", "retrain_clean", 0.27, Some(0.01)),
        ("10", "ft-exact", 0.40, None),
    ];
    for (k, model, mean, std) in best {
        let seeds = if std.is_some() { 3 } else { 1 };
        let mut row = vec![cell("d1"), cell(k), cell(model), cell("kkt"), Cell::count(seeds)];
        row.extend([Cell::fixed(Some(mean), 2), Cell::fixed(std, 2), Cell::fixed(Some(0.31), 2)]);
        row.extend([Cell::fixed(std.map(|_| 0.0), 1), Cell::fixed(Some(0.55), 2), Cell::fixed(std.map(|_| 0.0), 1)]);
        t.push(row);
    }
    t
}

/// A sweep of three thresholds at k = 10, one operating point at k = 20, a top-k row (left out of the curve) and
/// a row without values.
fn mining() -> Table {
    table(
        "mining_quality",
        &["dataset", "k", "rule", "value", "precision", "recall"],
        &[
            &["d1", "10", "threshold", "0.25", "1.0", "0.2"],
            &["d1", "10", "threshold", "0.5", "0.9", "0.6"],
            &["d1", "10", "threshold", "0.75", "0.5", "0.9"],
            &["d1", "10", "top_k", "10", "0.7", "0.7"],
            &["d1", "20", "threshold", "0.75", "0.6", "0.8"],
            &["d1", "30", "threshold", "0.75", "", ""],
        ],
    )
}

/// The language arm: reference LMs and two methods under the exact and lineage scopes at k = 0 and 50.
fn lm() -> Table {
    table(
        "lm",
        &[
            "dataset",
            "k",
            "model",
            "seeds",
            "answer_nll_forget_mean",
            "answer_nll_forget_std",
            "rouge_l_forget_mean",
            "rouge_l_forget_std",
            "diverged",
        ],
        &[
            &["qa", "0", "m0", "1", "0.2", "", "0.97", "", ""],
            &["qa", "0", "retrain_exact", "1", "6.0", "", "0.11", "", ""],
            &["qa", "0", "retrain_clean", "1", "6.0", "", "0.11", "", ""],
            &["qa", "0", "ga-exact", "1", "30.0", "", "0.01", "", "0"],
            &["qa", "50", "m0", "1", "0.15", "", "0.97", "", ""],
            &["qa", "50", "retrain_exact", "1", "0.2", "", "0.95", "", ""],
            &["qa", "50", "retrain_clean", "1", "6.0", "", "0.11", "", ""],
            &["qa", "50", "ga-exact", "1", "2.5", "", "0.38", "", "0"],
            &["qa", "50", "ga-lineage", "1", "34.0", "", "0.01", "", "0"],
            &["qa", "50", "npo-lineage", "1", "7.2", "", "0.18", "", "0"],
        ],
    )
}

/// The plan's names of the unlearned models above.
fn models() -> Models {
    [
        ("ft-exact", "ft", "exact"),
        ("ft-lineage", "ft", "lineage"),
        ("ga-exact", "ga", "exact"),
        ("ga-lineage", "ga", "lineage"),
        ("npo-lineage", "npo", "lineage"),
    ]
    .iter()
    .map(|(n, m, s)| (n.to_string(), (m.to_string(), s.to_string())))
    .collect()
}

/// Decodes a PNG and checks its size and that it is not one flat colour.
fn check_png(png: &[u8], width: u32, height: u32, name: &str) {
    let img = image::load_from_memory(png).unwrap_or_else(|e| panic!("{name}: {e}")).to_rgb8();
    assert_eq!(img.dimensions(), (width, height), "{name}");
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 20, "{name}: only {} colours", colours.len());
}

#[test]
fn figures_have_their_size_panels_and_captions() {
    let tables = [evaluation(), reconstruction(), mining(), lm()];
    let figs = figures(&tables, &models());
    let names: Vec<&str> = figs.iter().map(|(f, _)| f.as_str()).collect();
    // d1 has two scopes: two panels, 1500 pixels wide; d2 only references: one panel.
    for (file, w) in [
        ("forget_acc_vs_k-d1.png", 1500),
        ("test_acc_vs_k-d1.png", 1500),
        ("mia_auc_vs_k-d1.png", 1500),
        ("forget_acc_vs_k-d2.png", 1200),
        ("mia_auc_vs_k-d2.png", 1200),
        ("recon_ssim_vs_k-kkt-d1.png", 1200),
        ("mining_pr-mining_quality-d1.png", 1200),
        ("lm_rouge_l_vs_k-qa.png", 1500),
        ("lm_answer_nll_vs_k-qa.png", 1500),
    ] {
        let (_, fig) = figs.iter().find(|(f, _)| f == file).unwrap_or_else(|| panic!("{file} not drawn: {names:?}"));
        check_png(&render::render_png(fig).unwrap(), w, 800, file);
    }
    assert_eq!(figs.len(), 10, "{names:?}");
    let index = index_markdown(&figs);
    assert!(index.contains("![qa: ROUGE-L of the answers to the targets vs k](lm_rouge_l_vs_k-qa.png)"), "{index}");
    assert!(index.contains("![d1: forget accuracy vs k](forget_acc_vs_k-d1.png)"), "{index}");
    assert!(index.contains("Runs diverged for: ga-exact (see evaluation.csv)"), "{index}");
    assert!(index.contains("No unlearning method ran on this dataset"), "{index}");
    assert!(
        index.contains("Only one operating point was measured for k = 20 (threshold 0.75), so it is drawn as a point"),
        "{index}"
    );
    // The same tables give the same bytes.
    let (_, fig) = &figs[0];
    assert_eq!(render::render_png(fig).unwrap(), render::render_png(fig).unwrap());
}

#[test]
fn missing_columns_and_values_skip_figures() {
    // No mia_auc or test_acc columns; forget accuracy NaN or empty in most rows, and no finite value for d2.
    let eval = table(
        "evaluation",
        &["dataset", "k", "model", "f_acc_mean", "f_acc_std"],
        &[
            &["d1", "0", "m0", "1.0", "NaN"],
            &["d1", "0", "ft-exact", "NaN", "0.1"],
            &["d1", "10", "m0", "", ""],
            &["d1", "10", "ft-exact", "0.9", "inf"],
            &["d2", "0", "m0", "NaN", ""],
        ],
    );
    // A reconstruction table without its SSIM column.
    let recon = table("reconstruction", &["dataset", "k", "model", "attack"], &[&["d1", "0", "m0", "kkt"]]);
    let figs = figures(&[eval, recon], &models());
    let names: Vec<&str> = figs.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["forget_acc_vs_k-d1.png", "forget_acc_vs_k-d2.png"], "no mia, test or reconstruction figure");
    check_png(&render::render_png(&figs[0].1).unwrap(), 1200, 800, names[0]);
    assert!(
        matches!(render::render_png(&figs[1].1), Err(render::FigureError::NoData { .. })),
        "d2 has no finite value: no picture"
    );
}

#[test]
fn models_are_references_or_the_plans_methods_and_scopes() {
    let m = models();
    assert_eq!(role("retrain_exact", &m), Role::Reference(0));
    assert_eq!(role("m0", &m), Role::Reference(2));
    assert_eq!(role("ft-lineage", &m), Role::Method { method: "ft".into(), scope: "lineage".into() });
    assert_eq!(role("unknown", &m), Role::Method { method: "unknown".into(), scope: String::new() });
    assert_eq!(slug("Fashion MNIST/10k"), "fashion-mnist-10k");
}

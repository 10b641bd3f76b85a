//! The report's figures, drawn from its tables: PNGs under `OUT/figures/` and `OUT/figures/index.md`, which lists
//! each figure with its caption.
//!
//! From `evaluation`: forget accuracy, test accuracy and loss-threshold MIA AUC against k, one figure per dataset;
//! from `reconstruction`: the best reconstruction SSIM against k, one per dataset and attack; from `lm` (the
//! language arm): ROUGE-L of the answers to the targets and their answer NLL against k; from any table with
//! `precision` and `recall` columns: the mining precision–recall curve. Methods are lines (mean over seeds, ± std
//! error bars); M0 and the oracles `retrain_exact` and `retrain_clean` (and the attack's controls) are reference
//! lines; one panel per forget scope (`exact`, `mined`, `lineage`), which the plan names for every model — no
//! scope is guessed from a name.
//!
//! A figure whose columns are missing is skipped with a warning; a figure with no finite value too. PNGs left in
//! `OUT/figures/` by an earlier run that this run did not draw are removed, so the folder matches `index.md`. The
//! same tables give byte-identical outputs. [`render`] draws one [`Figure`].

pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use render::{Figure, Panel, Point, Series, SeriesKind, XTicks};

use crate::error::Result;
use crate::found::SCOPES;
use crate::table::{Cell as TableCell, Table};

/// The method and scope of every unlearned model, by its name in the tables (`ft+search-exact` → (`ft+search`,
/// `exact`)), from the plan.
pub type Models = BTreeMap<String, (String, String)>;

/// The reference models, in legend order (which fixes their look), with their legend labels.
const REFERENCES: [(&str, &str); 3] =
    [("retrain_exact", "retrain_exact (oracle)"), ("retrain_clean", "retrain_clean (oracle)"), ("m0", "M0 (original)")];

/// A metric drawn against k: column stem, figure file stem, title, y label, what it is.
type FigureSpec = (&'static str, &'static str, &'static str, &'static str, &'static str);

/// The `lm.csv` metrics (the language arm) drawn against k, the paraphrases per target.
const LM_FIGURES: [FigureSpec; 2] = [
    (
        "rouge_l_forget",
        "lm_rouge_l_vs_k",
        "ROUGE-L of the answers to the targets vs k",
        "ROUGE-L F (greedy answer vs target answer)",
        "ROUGE-L of the greedy answer to each target question against the target answer, mean over the targets.",
    ),
    (
        "answer_nll_forget",
        "lm_answer_nll_vs_k",
        "answer NLL on the targets vs k",
        "answer NLL on F (nats per token)",
        "Mean negative log-likelihood of the target answers (nats per answer token): high means forgotten.",
    ),
];

/// The `evaluation.csv` metrics drawn against k.
const EVAL_FIGURES: [FigureSpec; 3] = [
    (
        "f_acc",
        "forget_acc_vs_k",
        "forget accuracy vs k",
        "forget-set accuracy (fraction of targets)",
        "Forget-set accuracy: the fraction of the targets F that the model classifies correctly.",
    ),
    (
        "test_acc",
        "test_acc_vs_k",
        "test accuracy vs k",
        "test accuracy (fraction)",
        "Test accuracy: what unlearning costs in utility.",
    ),
    (
        "mia_auc",
        "mia_auc_vs_k",
        "membership inference vs k",
        "MIA AUC (loss threshold, F vs test)",
        "Membership-inference AUC of the loss-threshold attack, targets F against the test split (0.5: no signal).",
    ),
];

/// `figures/index.md`: each figure with its title and caption.
pub fn index_markdown(written: &[(String, Figure)]) -> String {
    let mut s = String::from(
        "# Figures\n\nDrawn by `doppel report` from the report's tables (`tables/*.csv`); each is listed with its \
         caption.\n",
    );
    if written.is_empty() {
        s.push_str("\nNo table held the columns of a figure.\n");
    }
    for (file, fig) in written {
        s.push_str(&format!("\n## {}\n\n![{}]({file})\n\n{}\n", fig.title, fig.title, fig.caption));
    }
    s
}

/// Removes the PNGs of `dir` that this run did not write.
pub fn remove_stale(dir: &Path, written: &[(String, Figure)]) -> Result<()> {
    let keep: BTreeSet<&str> = written.iter().map(|(f, _)| f.as_str()).collect();
    for entry in std::fs::read_dir(dir).map_err(doppel_stdx::IoError::at("listing", dir))? {
        let path = entry.map_err(doppel_stdx::IoError::at("listing", dir))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.extension().is_some_and(|x| x == "png") && !keep.contains(name.as_str()) {
            std::fs::remove_file(&path).map_err(doppel_stdx::IoError::at("removing the stale figure", &path))?;
            tracing::info!(file = %path.display(), "removed a figure this run did not draw");
        }
    }
    Ok(())
}

/// A file-name-safe form of a dataset or attack name.
fn slug(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    if s.is_empty() { "unnamed".into() } else { s }
}

/// What a row of a results table is: a reference model (index into [`REFERENCES`]) or a method under a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Reference(usize),
    Method { method: String, scope: String },
}

/// Classifies `model`: a reference by name, an unlearned model by the method and scope the plan gives it (a
/// name the plan does not know is a method without a scope).
fn role(model: &str, models: &Models) -> Role {
    if let Some(i) = REFERENCES.iter().position(|(m, _)| *m == model) {
        return Role::Reference(i);
    }
    match models.get(model) {
        Some((method, scope)) => Role::Method { method: method.clone(), scope: scope.clone() },
        None => Role::Method { method: model.to_string(), scope: String::new() },
    }
}

/// Panel order: the study's scopes first, then any other, then no scope.
fn scope_order(scope: &str) -> (usize, String) {
    match SCOPES.iter().position(|s| *s == scope) {
        Some(i) => (i, String::new()),
        None if scope.is_empty() => (SCOPES.len() + 1, String::new()),
        None => (SCOPES.len(), scope.to_string()),
    }
}

/// One value of a figure: a model's mean and std at one k.
#[derive(Debug, Clone)]
struct Value {
    role: Role,
    k: f64,
    mean: Option<f64>,
    std: Option<f64>,
    seeds: Option<f64>,
}

/// The methods of every results table, sorted: every figure lists them in this order, so a method keeps its
/// colour and marker across figures.
fn all_methods(tables: &[Table], names: &[&str], models: &Models) -> Vec<String> {
    let mut methods = BTreeSet::new();
    for t in tables.iter().filter(|t| names.contains(&t.name.as_str())) {
        let Some(m) = t.col("model") else { continue };
        for r in &t.rows {
            if let Role::Method { method, .. } = role(r[m].as_str(), models) {
                methods.insert(method);
            }
        }
    }
    methods.into_iter().collect()
}

/// The panels of one figure: one per scope the cells hold (or one without a title), each with every method of
/// `methods` (empty where it did not run, so looks stay fixed) and the references of `refs`.
fn panels(cells: &[Value], methods: &[String], refs: &[(String, Vec<Point>)]) -> Vec<Panel> {
    let mut scopes: Vec<String> = cells
        .iter()
        .filter_map(|c| match &c.role {
            Role::Method { scope, .. } => Some(scope.clone()),
            Role::Reference(_) => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    scopes.sort_by_key(|s| scope_order(s));
    if scopes.is_empty() {
        scopes.push(String::new());
    }
    let point = |c: &Value| c.mean.map(|mean| Point { x: c.k, mean, std: c.std });
    scopes
        .iter()
        .map(|scope| {
            let mut series: Vec<Series> = methods
                .iter()
                .map(|m| Series {
                    label: m.clone(),
                    kind: SeriesKind::Method,
                    points: cells
                        .iter()
                        .filter(|c| matches!(&c.role, Role::Method { method, scope: s } if method == m && s == scope))
                        .filter_map(point)
                        .collect(),
                })
                .collect();
            series.extend(refs.iter().map(|(label, points)| Series {
                label: label.clone(),
                kind: SeriesKind::Reference,
                points: points.clone(),
            }));
            let title = match scope.as_str() {
                "" => String::new(),
                "exact" => "scope exact (the targets)".into(),
                "mined" => "scope mined (targets + mined look-alikes)".into(),
                "lineage" => "scope lineage (targets + planted variants)".into(),
                other => format!("scope {other}"),
            };
            Panel { title, series }
        })
        .collect()
}

/// The reference lines of `cells`, in [`REFERENCES`] order.
fn reference_lines(cells: &[Value]) -> Vec<(String, Vec<Point>)> {
    REFERENCES
        .iter()
        .enumerate()
        .map(|(i, (_, label))| {
            let points = cells
                .iter()
                .filter(|c| c.role == Role::Reference(i))
                .filter_map(|c| c.mean.map(|mean| Point { x: c.k, mean, std: c.std }))
                .collect();
            (label.to_string(), points)
        })
        .collect()
}

/// "1", "3" or "1–3": the seeds behind the means.
fn seeds_text(cells: &[Value]) -> String {
    let seeds: Vec<f64> = cells.iter().filter_map(|c| c.seeds).collect();
    let lo = seeds.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = seeds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match (lo.is_finite(), (hi - lo).abs() < 0.5) {
        (false, _) => "the".into(),
        (true, true) => format!("{lo:.0}"),
        (true, false) => format!("{lo:.0}–{hi:.0}"),
    }
}

/// The size of a figure with `panels` panels: 1200 × 800 for one, wider for more.
fn size(panels: usize) -> (u32, u32) {
    if panels <= 1 { (1200, 800) } else { (600 * panels as u32 + 300, 800) }
}

/// A figure of a metric against k: ticks at the swept k, points dodged, sized by its panels.
fn sweep_figure(title: String, y_label: &str, panels: Vec<Panel>, caption: String) -> Figure {
    let (width, height) = size(panels.len());
    Figure {
        title,
        x_label: "k (look-alikes per target)".into(),
        y_label: y_label.into(),
        panels,
        caption,
        x_range: None,
        y_range: None,
        x_ticks: XTicks::AtData,
        dodge: true,
        width,
        height,
    }
}

/// The shared part of a k-sweep caption: what the lines, bars, references and panels are.
fn sweep_caption(cells: &[Value], panels: &[Panel], refs_extra: &str) -> String {
    let method_ks: BTreeSet<String> = cells
        .iter()
        .filter(|c| matches!(c.role, Role::Method { .. }) && c.mean.is_some())
        .map(|c| format!("{:.0}", c.k))
        .collect();
    let mut s = format!(
        "k is the number of look-alikes per target left in training. Mean over {} seeds per point, error bars ± 1 \
         sample std (none for one seed).",
        seeds_text(cells)
    );
    if method_ks.is_empty() {
        s.push_str(" No unlearning method ran on this dataset: only the reference models are drawn.");
    } else {
        s.push_str(&format!(
            " Coloured lines with filled markers: unlearning methods from M0 (run at k = {}).",
            method_ks.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    s.push_str(
        " References: black dashes retrain_exact (retrained without the targets, look-alikes kept), grey dashes \
         retrain_clean (without both), black dots M0 (trained on everything)",
    );
    s.push_str(refs_extra);
    s.push('.');
    if panels.len() > 1 {
        s.push_str(" One panel per forget scope, on the same axes.");
    }
    s.push_str(" Points are shifted slightly along k so that overlapping error bars stay visible.");
    s
}

/// Every figure the tables allow, as (file name, figure); what they do not allow is logged.
pub fn figures(tables: &[Table], models: &Models) -> Vec<(String, Figure)> {
    let methods = all_methods(tables, &["evaluation", "reconstruction"], models);
    let mut out = Vec::new();
    match tables.iter().find(|t| t.name == "evaluation") {
        Some(t) => out.extend(eval_figures(t, &methods, &EVAL_FIGURES, models)),
        None => tracing::warn!(
            "no evaluation.csv among the tables; skipping the forget-accuracy, test-accuracy and MIA figures"
        ),
    }
    // The language arm's table (`lm.csv`): its own methods, drawn against k (paraphrases per target).
    if let Some(t) = tables.iter().find(|t| t.name == "lm") {
        out.extend(eval_figures(t, &all_methods(tables, &["lm"], models), &LM_FIGURES, models));
    }
    match tables.iter().find(|t| t.name == "reconstruction") {
        Some(t) => out.extend(recon_figures(t, &methods, models)),
        None => tracing::warn!(
            "no reconstruction.csv among the tables (the preset ran no attack); skipping the reconstruction SSIM figures"
        ),
    }
    let pr: Vec<&Table> = tables.iter().filter(|t| t.col("precision").is_some() && t.col("recall").is_some()).collect();
    if pr.is_empty() {
        tracing::warn!(
            "no table with `precision` and `recall` columns (the preset mines no dataset with look-alikes, k > 0); \
             skipping the mining precision-recall figure"
        );
    }
    for t in pr {
        out.extend(pr_figures(t));
    }
    // Two names that slug alike ("a b", "a-b") must not overwrite each other's figure.
    let mut seen = BTreeSet::new();
    for (file, _) in &mut out {
        let stem = file.trim_end_matches(".png").to_string();
        let mut n = 1;
        while !seen.insert(file.clone()) {
            n += 1;
            *file = format!("{stem}-{n}.png");
        }
    }
    out
}

/// The values of metric `stem` (`<stem>_mean`, `<stem>_std`) in `rows` of the results table `t`, one per row with a k.
fn cells_of(t: &Table, rows: &[&Vec<TableCell>], stem: &str, models: &Models) -> Vec<Value> {
    let (k, m) = (t.col("k"), t.col("model"));
    let (mean, std, seeds) = (t.col(&format!("{stem}_mean")), t.col(&format!("{stem}_std")), t.col("seeds"));
    let Some(m) = m else { return Vec::new() };
    rows.iter()
        .filter_map(|r| {
            Some(Value {
                role: role(r[m].as_str(), models),
                k: Table::num(r, k)?,
                mean: Table::num(r, mean),
                std: Table::num(r, std),
                seeds: Table::num(r, seeds),
            })
        })
        .collect()
}

/// Rows of `t` grouped by their `dataset` cell (one group named "" without that column), in first-seen order.
fn by_dataset(t: &Table) -> Vec<(String, Vec<&Vec<TableCell>>)> {
    let d = t.col("dataset");
    let mut groups: Vec<(String, Vec<&Vec<TableCell>>)> = Vec::new();
    for r in &t.rows {
        let name = d.map_or(String::new(), |d| r[d].csv());
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, rows)) => rows.push(r),
            None => groups.push((name, vec![r])),
        }
    }
    groups
}

fn eval_figures(t: &Table, methods: &[String], specs: &[FigureSpec], models: &Models) -> Vec<(String, Figure)> {
    let missing: Vec<&str> = ["k", "model"].into_iter().filter(|c| t.col(c).is_none()).collect();
    if !missing.is_empty() {
        tracing::warn!(table = %t.name, missing = ?missing, "no k or model column; skipping its figures");
        return Vec::new();
    }
    let mut out = Vec::new();
    for &(stem, file, title, y_label, what) in specs {
        if t.col(&format!("{stem}_mean")).is_none() {
            tracing::warn!(table = %t.name, column = %format!("{stem}_mean"), "column missing; skipping the {title} figures");
            continue;
        }
        for (dataset, rows) in by_dataset(t) {
            let cells = cells_of(t, &rows, stem, models);
            let refs = reference_lines(&cells);
            let panels = panels(&cells, methods, &refs);
            let mut caption = format!("{what} ");
            caption.push_str(&sweep_caption(&cells, &panels, ""));
            if let Some(div) = t.col("diverged") {
                let diverged: Vec<&str> = rows
                    .iter()
                    .filter(|r| Table::num(r, Some(div)).is_some_and(|v| v > 0.0))
                    .filter_map(|r| t.col("model").map(|m| r[m].as_str()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if !diverged.is_empty() {
                    caption.push_str(&format!(" Runs diverged for: {} (see {}.csv).", diverged.join(", "), t.name));
                }
            }
            let name = if dataset.is_empty() { file.to_string() } else { format!("{file}-{}", slug(&dataset)) };
            let heading = if dataset.is_empty() { title.to_string() } else { format!("{dataset}: {title}") };
            out.push((format!("{name}.png"), sweep_figure(heading, y_label, panels, caption)));
        }
    }
    out
}

fn recon_figures(t: &Table, methods: &[String], models: &Models) -> Vec<(String, Figure)> {
    let missing: Vec<&str> =
        ["k", "model", "attack", "best_ssim_mean"].into_iter().filter(|c| t.col(c).is_none()).collect();
    if !missing.is_empty() {
        tracing::warn!(table = %t.name, missing = ?missing, "columns missing; skipping the reconstruction figures");
        return Vec::new();
    }
    let a = t.col("attack");
    let mut out = Vec::new();
    for (dataset, rows) in by_dataset(t) {
        let attacks: BTreeSet<String> = rows.iter().filter_map(|r| a.map(|a| r[a].csv())).collect();
        for attack in attacks {
            let rows: Vec<&Vec<TableCell>> =
                rows.iter().copied().filter(|r| a.is_some_and(|a| r[a].as_str() == attack)).collect();
            let cells = cells_of(t, &rows, "best_ssim", models);
            let mut refs = reference_lines(&cells);
            // The controls do not depend on the model: take them from one row per k (M0's when it has one).
            for (stem, label) in
                [("class_mean_ssim", "control: class-mean image"), ("nearest_ssim", "control: nearest retain image")]
            {
                if t.col(&format!("{stem}_mean")).is_none() {
                    tracing::warn!(table = %t.name, column = %format!("{stem}_mean"), "column missing; the figure goes without that control");
                    continue;
                }
                let mut per_k: BTreeMap<i64, Point> = BTreeMap::new();
                for c in cells_of(t, &rows, stem, models) {
                    let Some(mean) = c.mean else { continue };
                    let key = (c.k * 1000.0).round() as i64;
                    if c.role == Role::Reference(2) || !per_k.contains_key(&key) {
                        per_k.insert(key, Point { x: c.k, mean, std: c.std });
                    }
                }
                refs.push((label.to_string(), per_k.into_values().collect()));
            }
            let panels = panels(&cells, methods, &refs);
            let caption = format!(
                "Reconstruction attack `{attack}`: for each target, the best SSIM between it and any reconstruction \
                 of its class, averaged over the targets (1 = identical). {}",
                sweep_caption(
                    &cells,
                    &panels,
                    "; light grey: the controls, SSIM of each target to its class's mean image and to the nearest \
                     retain image of its class (an attack below them recovers nothing specific)"
                )
            );
            let base = format!("recon_ssim_vs_k-{}", slug(&attack));
            let name = if dataset.is_empty() { base } else { format!("{base}-{}", slug(&dataset)) };
            let heading = if dataset.is_empty() {
                format!("reconstruction ({attack}) vs k")
            } else {
                format!("{dataset}: reconstruction ({attack}) vs k")
            };
            let y_label = "best SSIM to the target (mean over targets)";
            out.push((format!("{name}.png"), sweep_figure(heading, y_label, panels, caption)));
        }
    }
    out
}

/// The precision–recall figures of a mining-quality table: per dataset, one line per k (or one line), a point
/// per threshold (rows whose `rule` is not `threshold`, when the table has that column, are left out).
fn pr_figures(t: &Table) -> Vec<(String, Figure)> {
    let (p, r, rule, value, k) = (t.col("precision"), t.col("recall"), t.col("rule"), t.col("value"), t.col("k"));
    let mut out = Vec::new();
    for (dataset, rows) in by_dataset(t) {
        let mut lines: BTreeMap<i64, (String, Vec<Point>, Vec<f64>)> = BTreeMap::new();
        for row in rows {
            if rule.is_some_and(|c| row[c].as_str() != "threshold") {
                continue;
            }
            let (Some(precision), Some(recall)) = (Table::num(row, p), Table::num(row, r)) else { continue };
            let kv = Table::num(row, k);
            let key = kv.map_or(i64::MIN, |v| (v * 1000.0).round() as i64);
            let label = kv.map_or_else(|| "mining".to_string(), |v| format!("k = {v:.0}"));
            let entry = lines.entry(key).or_insert_with(|| (label, Vec::new(), Vec::new()));
            entry.1.push(Point { x: recall, mean: precision, std: None });
            if let Some(v) = Table::num(row, value) {
                entry.2.push(v);
            }
        }
        if lines.is_empty() {
            tracing::warn!(table = %t.name, dataset = %dataset, "no row with a finite precision and recall; skipping its precision-recall figure");
            continue;
        }
        let single: Vec<String> = lines
            .values()
            .filter(|(_, pts, _)| pts.len() == 1)
            .map(|(l, _, v)| match v.first() {
                Some(v) => format!("{l} (threshold {v})"),
                None => l.clone(),
            })
            .collect();
        let mut caption = format!(
            "Mining quality against the planted look-alikes (the lineage): micro precision and recall over the \
             targets, one point per distance threshold ({}.csv).",
            t.name
        );
        if !single.is_empty() {
            caption.push_str(&format!(
                " Only one operating point was measured for {}, so it is drawn as a point, not a curve.",
                single.join(", ")
            ));
        }
        let series =
            lines.into_values().map(|(label, points, _)| Series { label, kind: SeriesKind::Method, points }).collect();
        let stem = format!("mining_pr-{}", slug(&t.name));
        let name = if dataset.is_empty() { stem } else { format!("{stem}-{}", slug(&dataset)) };
        let heading = if dataset.is_empty() {
            "mining precision–recall".to_string()
        } else {
            format!("{dataset}: mining precision–recall")
        };
        out.push((
            format!("{name}.png"),
            Figure {
                title: heading,
                x_label: "recall (fraction of planted look-alikes found)".into(),
                y_label: "precision (fraction of mined rows that are look-alikes)".into(),
                panels: vec![Panel { title: String::new(), series }],
                caption,
                x_range: Some((0.0, 1.02)),
                y_range: Some((0.0, 1.02)),
                x_ticks: XTicks::Even,
                dodge: false,
                width: 1200,
                height: 800,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests;

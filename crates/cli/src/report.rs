//! `doppel report --tables DIR --out DIR`: a typed Parquet twin of every CSV table of a report, and the report's
//! figures as PNG.
//!
//! `cargo xtask reproduce` writes `RESULTS/tables/*.csv`; this command reads the CSVs of `--tables` (plain CSV: a
//! header line of unique names, then rows of as many cells) and writes, under `--out` (OUT below):
//!
//! - `OUT/tables/<name>.parquet` for every `<name>.csv`: the same columns in the same order, each typed from its
//!   cells: `i64` when every non-empty cell is an integer, `f64` when every one is a number, else text; an empty
//!   cell is null (a column with no value at all is a null `f64`);
//! - `OUT/figures/*.png` (drawn by [`doppel_eval::figures`]) and `OUT/figures/index.md`, which lists each figure
//!   with its caption. From `evaluation.csv`: forget accuracy, test accuracy and loss-threshold MIA AUC against k,
//!   one figure per dataset; from `reconstruction.csv`: the best reconstruction SSIM against k, one per dataset and
//!   attack; from `lm.csv` (the language arm): ROUGE-L of the answers to the targets and their answer NLL against
//!   k; from any table with `precision` and `recall` columns: the mining precision–recall curve. Methods are
//!   lines (mean over seeds, ± std error bars); M0 and the oracles `retrain_exact` and `retrain_clean` (and the
//!   attack's controls) are reference lines; one panel per forget scope (`exact`, `mined`, `lineage`, from a
//!   `scope` column or the model name's `-<scope>` suffix).
//!
//! A figure whose columns are missing is skipped with a warning; a figure with no finite value too. Every file is
//! written under a temporary name and renamed into place; PNGs left in `OUT/figures/` by an earlier run that this
//! run did not draw are removed, so the folder matches `index.md`. The same tables give byte-identical outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use doppel_eval::figures::{Figure, FigureError, Panel, Point, Series, SeriesKind, XTicks, render_png};
use polars::prelude::{Column, DataFrame, ParquetWriter};

/// Arguments of `doppel report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report's tables: a folder of CSV files, e.g. results/cpu/tables (written by `cargo xtask reproduce`).
    #[arg(long, value_name = "DIR")]
    tables: PathBuf,
    /// Where to write tables/<name>.parquet (a typed twin of each CSV) and figures/*.png with figures/index.md.
    /// Pass the results folder (the parent of --tables) to put the Parquet files beside the CSVs.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// The forget scopes of the study, in panel order.
const SCOPES: [&str; 3] = ["exact", "mined", "lineage"];

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

/// One CSV table: its file name, header and rows of cells.
#[derive(Debug, Clone)]
struct Table {
    /// The file name, e.g. `evaluation.csv`.
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn stem(&self) -> &str {
        self.name.strip_suffix(".csv").unwrap_or(&self.name)
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The finite number in column `c` of `row`, if any.
    fn num(row: &[String], c: Option<usize>) -> Option<f64> {
        c.and_then(|c| row.get(c)).and_then(|s| s.trim().parse::<f64>().ok()).filter(|v| v.is_finite())
    }
}

/// Runs `doppel report`.
pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let tables = read_tables(&a.tables)?;
    let tables_out = a.out.join("tables");
    std::fs::create_dir_all(&tables_out).with_context(|| format!("cannot create {}", tables_out.display()))?;
    for t in &tables {
        let path = tables_out.join(format!("{}.parquet", t.stem()));
        let mut df = frame(t).with_context(|| format!("{}: cannot build its Parquet twin", t.name))?;
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).with_context(|| format!("encoding {}", path.display()))?;
        write_atomic(&path, &bytes)?;
        println!("wrote {} ({} rows × {} columns)", path.display(), df.height(), df.width());
    }

    let figures_dir = a.out.join("figures");
    std::fs::create_dir_all(&figures_dir).with_context(|| format!("cannot create {}", figures_dir.display()))?;
    let mut written: Vec<(String, Figure)> = Vec::new();
    for (file, fig) in figures(&tables) {
        match render_png(&fig) {
            Ok(png) => {
                write_atomic(&figures_dir.join(&file), &png)?;
                println!("wrote {}", figures_dir.join(&file).display());
                written.push((file, fig));
            }
            Err(FigureError::NoData { .. }) => {
                tracing::warn!(figure = %file, "no finite value to draw; skipping the figure");
            }
            Err(e) => return Err(e).with_context(|| format!("drawing {}", figures_dir.join(&file).display())),
        }
    }
    write_atomic(&figures_dir.join("index.md"), index_markdown(&written).as_bytes())?;
    println!("wrote {}", figures_dir.join("index.md").display());
    remove_stale(&figures_dir, &written)?;
    Ok(())
}

/// Reads every `*.csv` of `dir`, sorted by name.
fn read_tables(dir: &Path) -> anyhow::Result<Vec<Table>> {
    if !dir.is_dir() {
        bail!(
            "--tables {} is not a folder; pass the tables/ folder of a results directory (written by `cargo xtask \
             reproduce`)",
            dir.display()
        );
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("{} holds no .csv table; run `cargo xtask reproduce` (or --merge) to write them", dir.display());
    }
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            parse_csv(&name, &text).with_context(|| format!("{} is not a table", p.display()))
        })
        .collect()
}

/// Parses CSV text (RFC 4180: `,` separators, `"` quoting with `""` escapes, `\n` or `\r\n` line ends).
fn parse_csv(name: &str, text: &str) -> anyhow::Result<Table> {
    let mut records: Vec<(usize, Vec<String>)> = Vec::new();
    let (mut record, mut cell, mut quoted, mut line, mut start) = (Vec::new(), String::new(), false, 1usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if cell.is_empty() => quoted = true,
            ',' if !quoted => record.push(std::mem::take(&mut cell)),
            '\r' if !quoted && chars.peek() == Some(&'\n') => {}
            '\n' if !quoted => {
                record.push(std::mem::take(&mut cell));
                records.push((start, std::mem::take(&mut record)));
                line += 1;
                start = line;
            }
            c => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c);
            }
        }
    }
    if quoted {
        bail!("a quoted cell that starts on line {start} is never closed");
    }
    if !cell.is_empty() || !record.is_empty() {
        record.push(cell);
        records.push((start, record));
    }
    records.retain(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty()));
    let mut records = records.into_iter();
    let Some((_, header)) = records.next() else { bail!("the file is empty; a table needs a header line") };
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            bail!("header column {} has no name; the first line must name every column", i + 1);
        }
        if h.parse::<f64>().is_ok() {
            bail!("header column {} is the number {h:?}; the first line must be column names, not data", i + 1);
        }
        if header[..i].contains(h) {
            bail!("header names column {h:?} twice; column names must be unique");
        }
    }
    let mut rows = Vec::new();
    for (line, r) in records {
        if r.len() != header.len() {
            bail!("line {line} has {} cells for the header's {} columns", r.len(), header.len());
        }
        rows.push(r);
    }
    Ok(Table { name: name.to_string(), header, rows })
}

/// The column types of the Parquet twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Text,
}

fn kind(cells: &[&str]) -> Kind {
    let present: Vec<&str> = cells.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
    if present.is_empty() {
        Kind::Float
    } else if present.iter().all(|c| c.parse::<i64>().is_ok()) {
        Kind::Int
    } else if present.iter().all(|c| c.parse::<f64>().is_ok()) {
        Kind::Float
    } else {
        Kind::Text
    }
}

/// The table as a typed polars frame.
fn frame(t: &Table) -> anyhow::Result<DataFrame> {
    let columns: Vec<Column> = t
        .header
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let cells: Vec<&str> = t.rows.iter().map(|r| r[c].as_str()).collect();
            // An empty (or blank) cell is null; numbers are parsed trimmed, text is kept as written.
            match kind(&cells) {
                Kind::Int => Column::new(
                    name.into(),
                    cells.iter().map(|s| present(s).and_then(|v| v.parse().ok())).collect::<Vec<Option<i64>>>(),
                ),
                Kind::Float => Column::new(
                    name.into(),
                    cells.iter().map(|s| present(s).and_then(|v| v.parse().ok())).collect::<Vec<Option<f64>>>(),
                ),
                Kind::Text => Column::new(
                    name.into(),
                    cells.iter().map(|s| present(s).map(|_| *s)).collect::<Vec<Option<&str>>>(),
                ),
            }
        })
        .collect();
    DataFrame::new(t.rows.len(), columns).context("cannot assemble the columns")
}

/// The trimmed cell, or `None` when it is blank.
fn present(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|v| !v.is_empty())
}

/// Writes `bytes` to `path` through a temporary file beside it.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// `figures/index.md`: each figure with its title and caption.
fn index_markdown(written: &[(String, Figure)]) -> String {
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
fn remove_stale(dir: &Path, written: &[(String, Figure)]) -> anyhow::Result<()> {
    let keep: BTreeSet<&str> = written.iter().map(|(f, _)| f.as_str()).collect();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.extension().is_some_and(|x| x == "png") && !keep.contains(name.as_str()) {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove stale {}", path.display()))?;
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

/// Classifies `model`, with the row's `scope` cell when the table has that column.
fn role(model: &str, scope: Option<&str>) -> Role {
    if let Some(i) = REFERENCES.iter().position(|(m, _)| *m == model) {
        return Role::Reference(i);
    }
    if let Some(scope) = scope.map(str::trim).filter(|s| !s.is_empty()) {
        let method = model.strip_suffix(&format!("-{scope}")).unwrap_or(model);
        return Role::Method { method: method.to_string(), scope: scope.to_string() };
    }
    match model.rsplit_once('-') {
        Some((method, scope)) if SCOPES.contains(&scope) => {
            Role::Method { method: method.to_string(), scope: scope.to_string() }
        }
        _ => Role::Method { method: model.to_string(), scope: String::new() },
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
struct Cell {
    role: Role,
    k: f64,
    mean: Option<f64>,
    std: Option<f64>,
    seeds: Option<f64>,
}

/// The methods of every results table, sorted: every figure lists them in this order, so a method keeps its
/// colour and marker across figures.
fn all_methods(tables: &[Table], names: &[&str]) -> Vec<String> {
    let mut methods = BTreeSet::new();
    for t in tables.iter().filter(|t| names.contains(&t.name.as_str())) {
        let (Some(m), s) = (t.col("model"), t.col("scope")) else { continue };
        for r in &t.rows {
            if let Role::Method { method, .. } = role(&r[m], s.map(|s| r[s].as_str())) {
                methods.insert(method);
            }
        }
    }
    methods.into_iter().collect()
}

/// The panels of one figure: one per scope the cells hold (or one without a title), each with every method of
/// `methods` (empty where it did not run, so looks stay fixed) and the references of `refs`.
fn panels(cells: &[Cell], methods: &[String], refs: &[(String, Vec<Point>)]) -> Vec<Panel> {
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
    let point = |c: &Cell| c.mean.map(|mean| Point { x: c.k, mean, std: c.std });
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
fn reference_lines(cells: &[Cell]) -> Vec<(String, Vec<Point>)> {
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
fn seeds_text(cells: &[Cell]) -> String {
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

/// The shared part of a k-sweep caption: what the lines, bars, references and panels are.
fn sweep_caption(cells: &[Cell], panels: &[Panel], refs_extra: &str) -> String {
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
fn figures(tables: &[Table]) -> Vec<(String, Figure)> {
    let methods = all_methods(tables, &["evaluation.csv", "reconstruction.csv"]);
    let mut out = Vec::new();
    match tables.iter().find(|t| t.name == "evaluation.csv") {
        Some(t) => out.extend(eval_figures(t, &methods, &EVAL_FIGURES)),
        None => tracing::warn!(
            "no evaluation.csv among the tables; skipping the forget-accuracy, test-accuracy and MIA figures"
        ),
    }
    // The language arm's table (`lm.csv`): its own methods, drawn against k (paraphrases per target).
    if let Some(t) = tables.iter().find(|t| t.name == "lm.csv") {
        out.extend(eval_figures(t, &all_methods(tables, &["lm.csv"]), &LM_FIGURES));
    }
    match tables.iter().find(|t| t.name == "reconstruction.csv") {
        Some(t) => out.extend(recon_figures(t, &methods)),
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
fn cells_of(t: &Table, rows: &[&Vec<String>], stem: &str) -> Vec<Cell> {
    let (k, m, scope) = (t.col("k"), t.col("model"), t.col("scope"));
    let (mean, std, seeds) = (t.col(&format!("{stem}_mean")), t.col(&format!("{stem}_std")), t.col("seeds"));
    let Some(m) = m else { return Vec::new() };
    rows.iter()
        .filter_map(|r| {
            Some(Cell {
                role: role(&r[m], scope.map(|s| r[s].as_str())),
                k: Table::num(r, k)?,
                mean: Table::num(r, mean),
                std: Table::num(r, std),
                seeds: Table::num(r, seeds),
            })
        })
        .collect()
}

/// Rows of `t` grouped by their `dataset` cell (one group named "" without that column), in first-seen order.
fn by_dataset(t: &Table) -> Vec<(String, Vec<&Vec<String>>)> {
    let d = t.col("dataset");
    let mut groups: Vec<(String, Vec<&Vec<String>>)> = Vec::new();
    for r in &t.rows {
        let name = d.map_or(String::new(), |d| r[d].clone());
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, rows)) => rows.push(r),
            None => groups.push((name, vec![r])),
        }
    }
    groups
}

fn eval_figures(t: &Table, methods: &[String], specs: &[FigureSpec]) -> Vec<(String, Figure)> {
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
            let cells = cells_of(t, &rows, stem);
            let refs = reference_lines(&cells);
            let panels = panels(&cells, methods, &refs);
            let (width, height) = size(panels.len());
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
                    caption.push_str(&format!(" Runs diverged for: {} (see {}).", diverged.join(", "), t.name));
                }
            }
            let name = if dataset.is_empty() { file.to_string() } else { format!("{file}-{}", slug(&dataset)) };
            let heading = if dataset.is_empty() { title.to_string() } else { format!("{dataset}: {title}") };
            out.push((
                format!("{name}.png"),
                Figure {
                    title: heading,
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
                },
            ));
        }
    }
    out
}

fn recon_figures(t: &Table, methods: &[String]) -> Vec<(String, Figure)> {
    let missing: Vec<&str> =
        ["k", "model", "attack", "best_ssim_mean"].into_iter().filter(|c| t.col(c).is_none()).collect();
    if !missing.is_empty() {
        tracing::warn!(table = %t.name, missing = ?missing, "columns missing; skipping the reconstruction figures");
        return Vec::new();
    }
    let a = t.col("attack");
    let mut out = Vec::new();
    for (dataset, rows) in by_dataset(t) {
        let attacks: BTreeSet<String> = rows.iter().filter_map(|r| a.map(|a| r[a].clone())).collect();
        for attack in attacks {
            let rows: Vec<&Vec<String>> = rows.iter().copied().filter(|r| a.is_some_and(|a| r[a] == attack)).collect();
            let cells = cells_of(t, &rows, "best_ssim");
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
                for c in cells_of(t, &rows, stem) {
                    let Some(mean) = c.mean else { continue };
                    let key = (c.k * 1000.0).round() as i64;
                    if c.role == Role::Reference(2) || !per_k.contains_key(&key) {
                        per_k.insert(key, Point { x: c.k, mean, std: c.std });
                    }
                }
                refs.push((label.to_string(), per_k.into_values().collect()));
            }
            let panels = panels(&cells, methods, &refs);
            let (width, height) = size(panels.len());
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
            out.push((
                format!("{name}.png"),
                Figure {
                    title: heading,
                    x_label: "k (look-alikes per target)".into(),
                    y_label: "best SSIM to the target (mean over targets)".into(),
                    panels,
                    caption,
                    x_range: None,
                    y_range: None,
                    x_ticks: XTicks::AtData,
                    dodge: true,
                    width,
                    height,
                },
            ));
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
            if rule.is_some_and(|c| row[c].trim() != "threshold") {
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
             targets, one point per distance threshold ({}).",
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
        let stem = format!("mining_pr-{}", slug(t.stem()));
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
mod tests {
    use super::*;

    #[test]
    fn csv_parses_quotes_and_checks_shape() {
        let t = parse_csv("t.csv", "a,b,c\n1,\"x, \"\"y\"\"\",\r\n2,z,3.5\n\n").unwrap();
        assert_eq!(t.header, ["a", "b", "c"]);
        assert_eq!(t.rows, [vec!["1", "x, \"y\"", ""], vec!["2", "z", "3.5"]]);
        let e = parse_csv("t.csv", "a,b\n1,2,3\n").unwrap_err().to_string();
        assert!(e.contains("line 2 has 3 cells for the header's 2 columns"), "{e}");
        assert!(parse_csv("t.csv", "a,a\n").unwrap_err().to_string().contains("twice"));
        assert!(parse_csv("t.csv", "mnist,k0,1e\n").is_ok(), "names that are not numbers are fine");
        assert!(parse_csv("t.csv", "0,25\n").unwrap_err().to_string().contains("not data"));
        assert!(parse_csv("t.csv", "a,,c\n").unwrap_err().to_string().contains("column 2 has no name"));
        assert!(parse_csv("t.csv", "").unwrap_err().to_string().contains("empty"));
        assert!(parse_csv("t.csv", "a\n\"open\n").unwrap_err().to_string().contains("never closed"));
    }

    #[test]
    fn columns_are_typed_from_their_cells() {
        assert_eq!(kind(&["1", "", "25"]), Kind::Int);
        assert_eq!(kind(&["1", "0.5"]), Kind::Float);
        assert_eq!(kind(&["", ""]), Kind::Float);
        assert_eq!(kind(&["m0", "1"]), Kind::Text);
    }

    #[test]
    fn models_split_into_references_methods_and_scopes() {
        assert_eq!(role("retrain_exact", None), Role::Reference(0));
        assert_eq!(role("m0", None), Role::Reference(2));
        assert_eq!(role("retrain-exact", None), Role::Method { method: "retrain".into(), scope: "exact".into() });
        assert_eq!(
            role("neggrad_plus-lineage", None),
            Role::Method { method: "neggrad_plus".into(), scope: "lineage".into() }
        );
        assert_eq!(role("ft", None), Role::Method { method: "ft".into(), scope: String::new() });
        assert_eq!(role("ft-mined", Some("mined")), Role::Method { method: "ft".into(), scope: "mined".into() });
        assert_eq!(role("ft", Some("exact")), Role::Method { method: "ft".into(), scope: "exact".into() });
        assert_eq!(slug("Fashion MNIST/10k"), "fashion-mnist-10k");
    }
}

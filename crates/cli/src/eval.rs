//! `doppel eval`: every metric of a model set (M0, the two oracles, any other model) on F, S, R and test, for one
//! or more runs (seeds), as Parquet and CSV tables and a Markdown summary on stdout.
//!
//! A run is a `doppel train --out` directory: one subdirectory per model (`m0/`, `retrain_exact/`,
//! `retrain_clean/`, later unlearned models), each with `model.safetensors`, `model.json` and, usually,
//! `outputs_{train,test}.parquet`. The outputs are reused when the checkpoint was trained on this very dataset
//! (sha256 of its manifest, recorded in `model.json`) and their ids match the dataset's; otherwise the checkpoint
//! is loaded and run again. The metrics themselves are doppel-eval's ([`doppel_eval::modelset`]); this module
//! only loads, checks and writes.
//!
//! `--near-rows FILE` splits the retain set R by a list of mined rows — `doppel mine neighbours`'
//! `neighbours.parquet` (its `neighbour_id` column) or a text file of sample ids, read as `doppel unlearn
//! --mined-rows` reads it ([`crate::mined`]): R near is the retain rows (lineage origin `base`) the file lists,
//! natural look-alikes of the targets that no variant generator made, and R far every other retain row; the file's
//! targets and variants stay in F and S. Each run's summary then gains, per model, accuracy, mean true-class
//! confidence, mean loss and mean KL to `retrain_exact` on each part (`r_near_acc`, `r_near_conf`, `r_near_loss`,
//! `kl_r_near_exact`, and `r_far_*` likewise; [`doppel_eval::retain_split_columns`]) before the runs are
//! aggregated, so unlearning's collateral damage on the look-alikes shows beside R as a whole; `result.json` records
//! the file and both counts (`retain_split`). An id that is not in the training split is an error naming the file
//! and the id, and nothing is written.
//!
//! The reconstruction attack (issue 5, item 3) will add its SSIM columns next to the summary columns here: one
//! more per-model pass in [`evaluate_run`] that takes the checkpoint and the targets' pixels.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use doppel_data::lineage::{Origin, SampleInfo};
use doppel_data::{hash, store};
use doppel_eval::{
    AggregateTable, EvalConfig, LogisticMiaConfig, ModelOutputs, ModelSet, Reference, SampleSet, Samples, SummaryTable,
};
use doppel_models::checkpoint::{self, Sidecar};
use doppel_models::{DeviceChoice, infer};
use doppel_protocol::results::RESULT_FILE;
use doppel_protocol::{AttackResult, CommandResult, EvalModel, EvalResult, RetainSplit, read_result};
use polars::prelude::{AnyValue, Column, DataFrame, ParquetReader, ParquetWriter, SerReader};

use crate::train::DeviceArg;

/// Arguments of `doppel eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The dataset directory the models were trained on (written by `doppel data build`).
    #[arg(long)]
    dataset: PathBuf,
    /// Run directories, one per seed, each written by `doppel train --out` and holding m0/, retrain_exact/,
    /// retrain_clean/ (every other subdirectory with a model.safetensors is evaluated too). Comma-separated or
    /// space-separated, so a shell glob works: `--runs ROOT/seed-*`.
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',')]
    runs: Vec<PathBuf>,
    /// `doppel attack` output directories, one per run in --runs order: the reconstruction SSIM of each model
    /// (mean over targets of the best SSIM per attack) and its controls join the tables as `recon_kkt`,
    /// `recon_inversion`, `recon_class_mean` and `recon_nearest`.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    attacks: Vec<PathBuf>,
    /// Split the retain set R into near and far rows: FILE lists the near ones, either the neighbours.parquet of
    /// `doppel mine neighbours` (its `neighbour_id` column) or a text file of training-sample ids, one per line
    /// (`#` starts a comment), as `doppel unlearn --mined-rows` reads it. Near = the retain rows in FILE (mined
    /// look-alikes of the targets; FILE's targets and variants stay in F and S), far = every other retain row. The
    /// tables gain per model `r_near_acc`, `r_near_conf`, `r_near_loss`, `kl_r_near_exact` and the same four of
    /// `r_far`; result.json records FILE and both counts. An id outside the training split is an error.
    #[arg(long, value_name = "FILE")]
    near_rows: Option<PathBuf>,
    /// Output directory: per_sample.parquet, summary.{parquet,csv} (one row per run and model) and
    /// aggregate.{parquet,csv} (mean and std over runs, one row per model, and with three runs or more the ε-score
    /// forget quality to each oracle, `eps_fq_exact` and `eps_fq_clean`). It must not exist unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists (the old directory is removed only after the new one is complete).
    #[arg(long)]
    force: bool,
    /// Run every checkpoint again instead of reusing its outputs_*.parquet.
    #[arg(long)]
    recompute: bool,
    /// Where to run checkpoints that need it: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Seed of the logistic-regression attack's balancing and folds.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Shadow samples per group of the SVC attack (`mia_efficacy`): the first N retain rows against the first N
    /// test rows, or `all` for the reference's split (SalUn: the first |test| retain rows against all of test).
    /// The SVC's cost grows as N²: 2,000 keeps an MNIST evaluation of 50 models under a minute on one core, where
    /// `all` (10,000) takes about 3 s a model.
    #[arg(long, default_value_t = Shadow(Some(DEFAULT_SVC_SHADOW)), value_parser = parse_shadow)]
    svc_shadow: Shadow,
}

/// The default `--svc-shadow`, which `doppel unlearn --search` scores its candidates with too.
pub(crate) const DEFAULT_SVC_SHADOW: usize = 2000;

/// `--svc-shadow`: a cap, or none.
#[derive(Debug, Clone, Copy)]
struct Shadow(Option<usize>);

impl std::fmt::Display for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("all"),
        }
    }
}

fn parse_shadow(s: &str) -> Result<Shadow, String> {
    if s == "all" {
        return Ok(Shadow(None));
    }
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Shadow(Some(n))),
        _ => Err(format!("{s:?} is neither a positive count nor `all`")),
    }
}

/// The oracle roles every run must hold, in table order.
const REFERENCES: [&str; 3] = ["m0", "retrain_exact", "retrain_clean"];

/// The dataset side of an evaluation: samples of train then test, their sets, and the manifest's sha256.
struct Data {
    dir: store::DatasetDir,
    /// Where it was read from.
    path: PathBuf,
    manifest_sha: String,
    ids: Vec<u32>,
    labels: Vec<usize>,
    sets: Vec<SampleSet>,
}

impl Data {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        let ds = store::open(dir)?;
        let manifest_sha = hash::sha256_file(&dir.join("manifest.json"))?;
        let set_of = |s: &SampleInfo| match s.origin {
            Origin::Target => SampleSet::Forget,
            Origin::Variant { .. } => SampleSet::Similar,
            Origin::Base => SampleSet::Retain,
        };
        let mut sets: Vec<SampleSet> = ds.train.samples.iter().map(set_of).collect();
        sets.extend(std::iter::repeat_n(SampleSet::Test, ds.test.samples.len()));
        let ids = ds.train.samples.iter().chain(&ds.test.samples).map(|s| s.id).collect();
        let labels = ds.train.data.labels().iter().chain(ds.test.data.labels()).map(|&l| l as usize).collect();
        Ok(Data { dir: ds, path: dir.to_path_buf(), manifest_sha, ids, labels, sets })
    }

    fn classes(&self) -> usize {
        self.dir.manifest.class_names.len()
    }

    fn count(&self, set: SampleSet) -> usize {
        self.sets.iter().filter(|s| **s == set).count()
    }
}

/// The retain set's split by `--near-rows`: which rows are near, and the counts.
struct NearRows {
    /// The file, as given.
    file: PathBuf,
    /// One entry per row of [`Data`] (train then test): true on the retain rows the file lists.
    mask: Vec<bool>,
    near: usize,
    far: usize,
}

impl NearRows {
    /// Reads `file` (see [`crate::mined`]) and marks the retain rows (origin `base`) it lists; its targets and
    /// variants are ignored, as they are F and S.
    fn read(file: &Path, data: &Data) -> anyhow::Result<Self> {
        let samples = &data.dir.train.samples;
        let rows = crate::mined::read_mined(file, samples)?;
        let mut mask = vec![false; data.ids.len()];
        for r in rows {
            if matches!(samples[r].origin, Origin::Base) {
                mask[r] = true;
            }
        }
        let near = mask.iter().filter(|m| **m).count();
        let far = data.count(SampleSet::Retain) - near;
        if near == 0 {
            tracing::warn!(file = %file.display(), "--near-rows lists no retain row; the r_near columns are empty");
        }
        Ok(NearRows { file: file.to_path_buf(), mask, near, far })
    }
}

/// One evaluated run: its name, the summary table and the per-sample values.
struct RunResult {
    name: String,
    table: SummaryTable,
    evaluation: doppel_eval::Evaluation,
}

/// Runs a checkpoint (weights, sidecar) over the train then test rows and returns its logits.
type CheckpointRunner<'a> = dyn FnMut(&Path, &Sidecar) -> anyhow::Result<Vec<f32>> + 'a;

/// Runs `doppel eval`.
pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    if a.out.exists() && !a.force {
        bail!("{} already exists; choose another --out or pass --force", a.out.display());
    }
    let data = Data::open(&a.dataset)?;
    let near = a.near_rows.as_deref().map(|file| NearRows::read(file, &data)).transpose()?;
    if !a.attacks.is_empty() && a.attacks.len() != a.runs.len() {
        bail!(
            "--attacks names {} directories for {} --runs; give one per run, in the same order",
            a.attacks.len(),
            a.runs.len()
        );
    }
    let mut runs: Vec<(PathBuf, Option<PathBuf>)> =
        a.runs.iter().enumerate().map(|(i, r)| (r.clone(), a.attacks.get(i).cloned())).collect();
    runs.sort();
    runs.dedup_by(|x, y| x.0 == y.0);
    let config = EvalConfig { mia: LogisticMiaConfig::STARTING_KIT, seed: a.seed, svc_shadow: a.svc_shadow.0 };
    let choice: DeviceChoice = a.device.into();
    // The device is opened only when some checkpoint has to be run again.
    let mut device = None;
    let mut run_checkpoint = |weights: &Path, side: &Sidecar| -> anyhow::Result<Vec<f32>> {
        if device.is_none() {
            device = Some(choice.open()?);
        }
        let device = device.as_ref().context("the device did not open")?;
        tracing::info!(weights = %weights.display(), "running the checkpoint");
        let net = checkpoint::load(weights, &side.spec, device)?;
        let (train, test) = (&data.dir.train.data, &data.dir.test.data);
        let train_rows: Vec<usize> = (0..train.len()).collect();
        let test_rows: Vec<usize> = (0..test.len()).collect();
        let mut logits = infer::predict(&net, &side.spec, train, &train_rows, 512, device)?.logits;
        logits.extend(infer::predict(&net, &side.spec, test, &test_rows, 512, device)?.logits);
        Ok(logits)
    };
    let mut results = Vec::with_capacity(runs.len());
    for (run, attack) in &runs {
        let name = run_name(run);
        if results.iter().any(|r: &RunResult| r.name == name) {
            bail!("--runs: two run directories are named {name:?}; give each seed its own directory name");
        }
        tracing::info!(run = %run.display(), "evaluating");
        let mut result = evaluate_run(run, &name, &data, &config, a.recompute, &mut run_checkpoint)
            .with_context(|| format!("evaluating run {}", run.display()))?;
        if let Some(near) = &near {
            let columns = doppel_eval::retain_split_columns(&result.evaluation, &data.sets, &near.mask)?;
            result.table.columns.extend(columns);
        }
        if let Some(dir) = attack {
            add_reconstruction(&mut result.table, dir)?;
        }
        results.push(result);
    }
    let tables: Vec<SummaryTable> = results.iter().map(|r| r.table.clone()).collect();
    let mut agg = doppel_eval::aggregate(&tables)?;
    // The ε-score needs the models of every seed at once: one more column per oracle over the runs.
    let evaluations: Vec<&doppel_eval::Evaluation> = results.iter().map(|r| &r.evaluation).collect();
    agg.columns.extend(doppel_eval::forget_quality_columns(&agg, &evaluations, &data.sets)?);
    write_outputs(&a.out, a.force, &data, &results, &agg, near.as_ref())?;
    print_markdown(&data, &a.dataset, results.len(), &agg, near.as_ref());
    Ok(())
}

fn run_name(run: &Path) -> String {
    run.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| run.display().to_string())
}

/// The model directories of a run: the three references first, then every other model directory by name.
fn model_dirs(run: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(run)
        .with_context(|| format!("reading {}; pass a directory written by `doppel train --out`", run.display()))?;
    let mut others = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", run.display()))?.path();
        let name = run_name(&path);
        if path.join("model.safetensors").is_file() && !REFERENCES.contains(&name.as_str()) {
            others.push((name, path));
        }
    }
    others.sort();
    let mut dirs = Vec::with_capacity(others.len() + 3);
    for role in REFERENCES {
        let dir = run.join(role);
        if !dir.join("model.safetensors").is_file() {
            bail!(
                "{} has no model.safetensors; every run needs m0, retrain_exact and retrain_clean \
                 (`doppel train --which m0,retrain_exact,retrain_clean --out {}`)",
                dir.display(),
                run.display()
            );
        }
        dirs.push((role.to_string(), dir));
    }
    dirs.extend(others);
    Ok(dirs)
}

fn evaluate_run(
    run: &Path,
    name: &str,
    data: &Data,
    config: &EvalConfig,
    recompute: bool,
    run_checkpoint: &mut CheckpointRunner<'_>,
) -> anyhow::Result<RunResult> {
    let dirs = model_dirs(run)?;
    let mut logits = Vec::with_capacity(dirs.len());
    for (_, dir) in &dirs {
        logits.push(model_logits(dir, data, recompute, run_checkpoint)?);
    }
    let classes = data.classes();
    let outputs: Vec<ModelOutputs<'_>> =
        dirs.iter().zip(&logits).map(|((n, _), l)| ModelOutputs { name: n, logits: l, num_classes: classes }).collect();
    let samples = Samples { ids: &data.ids, labels: &data.labels, sets: &data.sets };
    let set = ModelSet { samples, models: &outputs, original: 0, exact: 1, clean: 2 };
    let evaluation = doppel_eval::evaluate(&set, config)?;
    Ok(RunResult { name: name.to_string(), table: evaluation.table(), evaluation })
}

/// The logits of one model on train then test rows, from its outputs files when they fit the dataset, from the
/// checkpoint otherwise.
fn model_logits(
    dir: &Path,
    data: &Data,
    recompute: bool,
    run_checkpoint: &mut CheckpointRunner<'_>,
) -> anyhow::Result<Vec<f32>> {
    let weights = dir.join("model.safetensors");
    let side: Sidecar = checkpoint::read_sidecar(&weights)?;
    let sidecar = checkpoint::sidecar_path(&weights);
    crate::provenance::same_dataset(&sidecar, &side.dataset_manifest_sha256, &data.path, &data.manifest_sha, None)?;
    if side.spec.classes != data.classes() {
        bail!(
            "{}: `spec.classes` is {}, but the dataset has {} classes; pass the dataset the model was trained on",
            sidecar.display(),
            side.spec.classes,
            data.classes()
        );
    }
    let train_file = dir.join("outputs_train.parquet");
    let test_file = dir.join("outputs_test.parquet");
    if !recompute && train_file.is_file() && test_file.is_file() {
        let (train_ids, _) = data.ids.split_at(data.dir.train.samples.len());
        let train = read_logits(&train_file, train_ids, data.classes())?;
        let test_ids = &data.ids[train_ids.len()..];
        let test = read_logits(&test_file, test_ids, data.classes())?;
        if let (Some(mut train), Some(test)) = (train, test) {
            train.extend(test);
            return Ok(train);
        }
        tracing::warn!(dir = %dir.display(), "outputs do not list the dataset's ids; running the checkpoint again");
    }
    run_checkpoint(&weights, &side)
}

/// Reads the logits of an outputs file written by `doppel train`, row-major. `None` when its ids are not `ids`
/// (stale outputs); an error when it cannot be read, lacks a logit column or holds a NaN or infinite logit.
fn read_logits(path: &Path, ids: &[u32], classes: usize) -> anyhow::Result<Option<Vec<f32>>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let df = ParquetReader::new(file).finish().with_context(|| format!("reading {}", path.display()))?;
    let got: Vec<Option<u32>> = df
        .column("id")
        .and_then(|c| c.u32().map(|c| c.iter().collect()))
        .with_context(|| format!("{}: column `id`", path.display()))?;
    if got.len() != ids.len() || got.iter().zip(ids).any(|(g, i)| *g != Some(*i)) {
        return Ok(None);
    }
    let mut logits = vec![0f32; ids.len() * classes];
    for k in 0..classes {
        let name = format!("logit_{k}");
        let col = df.column(&name).and_then(|c| c.f32().cloned()).with_context(|| {
            format!("{}: column `{name}` (the model has {classes} classes); rerun `doppel train`", path.display())
        })?;
        for (row, v) in col.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => logits[row * classes + k] = v,
                other => bail!(
                    "{}: column `{name}` is {} at row {row} (id {}); the model diverged or the file is damaged, \
                     retrain it",
                    path.display(),
                    other.map_or("null".to_string(), |v| v.to_string()),
                    ids[row]
                ),
            }
        }
    }
    Ok(Some(logits))
}

/// Writes every table into a temporary directory beside `out`, then renames it into place.
fn write_outputs(
    out: &Path,
    force: bool,
    data: &Data,
    results: &[RunResult],
    agg: &AggregateTable,
    near: Option<&NearRows>,
) -> anyhow::Result<()> {
    if out.exists() && !force {
        bail!("{} already exists; choose another --out or pass --force", out.display());
    }
    doppel_stdx::fs::write_dir(out, |tmp| -> anyhow::Result<()> {
        write_parquet(&mut per_sample_frame(data, results)?, &tmp.join("per_sample.parquet"))?;
        let mut summary = summary_frame(results)?;
        write_parquet(&mut summary, &tmp.join("summary.parquet"))?;
        write_csv(&summary, &tmp.join("summary.csv"))?;
        let mut aggregate = aggregate_frame(agg)?;
        write_parquet(&mut aggregate, &tmp.join("aggregate.parquet"))?;
        write_csv(&aggregate, &tmp.join("aggregate.csv"))?;
        let result = doppel_protocol::tagged!(EvalResult {
            columns: agg.columns.iter().map(|c| c.name.clone()).collect(),
            models: agg
                .models
                .iter()
                .enumerate()
                .map(|(i, model)| EvalModel {
                    model: model.clone(),
                    runs: agg.runs[i],
                    mean: agg.columns.iter().map(|c| c.mean[i].filter(|v| v.is_finite())).collect(),
                    std: agg.columns.iter().map(|c| c.std[i].filter(|v| v.is_finite())).collect(),
                })
                .collect(),
            retain_split: near.map(|n| RetainSplit {
                near_rows: n.file.display().to_string(),
                near: n.near,
                far: n.far,
            }),
        });
        doppel_stdx::write_atomic(&tmp.join(RESULT_FILE), result.to_json().as_bytes())?;
        Ok(())
    })
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    ParquetWriter::new(file).finish(df).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// CSV by hand (polars' CSV writer is a feature doppel does not build): strings as they are (names hold no comma),
/// numbers in Rust's shortest round-trip form, missing values empty.
fn write_csv(df: &DataFrame, path: &Path) -> anyhow::Result<()> {
    let mut text = df.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>().join(",");
    text.push('\n');
    let columns = df.columns();
    for row in 0..df.height() {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match c.get(row) {
                Ok(AnyValue::Null) | Err(_) => String::new(),
                Ok(AnyValue::String(s)) => s.to_string(),
                Ok(AnyValue::Float64(v)) => v.to_string(),
                Ok(AnyValue::UInt32(v)) => v.to_string(),
                Ok(v) => v.to_string(),
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn per_sample_frame(data: &Data, results: &[RunResult]) -> anyhow::Result<DataFrame> {
    let (mut run, mut model, mut id, mut set) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut loss, mut conf, mut lsc) = (Vec::new(), Vec::new(), Vec::new());
    let mut kl: [Vec<f64>; 3] = Default::default();
    for r in results {
        let p = &r.evaluation.per_sample;
        for (m, row) in r.evaluation.rows.iter().enumerate() {
            run.extend(std::iter::repeat_n(r.name.as_str(), data.ids.len()));
            model.extend(std::iter::repeat_n(row.model.as_str(), data.ids.len()));
            id.extend_from_slice(&data.ids);
            set.extend(data.sets.iter().map(|s| s.name()));
            loss.extend_from_slice(&p.loss[m]);
            conf.extend_from_slice(&p.confidence[m]);
            lsc.extend_from_slice(&p.logit_confidence[m]);
            for (k, values) in kl.iter_mut().enumerate() {
                values.extend_from_slice(&p.kl[m][k]);
            }
        }
    }
    let height = id.len();
    let [kl_m0, kl_exact, kl_clean] = kl;
    let columns = vec![
        Column::new("run".into(), run),
        Column::new("model".into(), model),
        Column::new("id".into(), id),
        Column::new("set".into(), set),
        Column::new("loss".into(), loss),
        Column::new("confidence".into(), conf),
        Column::new("logit_confidence".into(), lsc),
        Column::new(format!("kl_{}", Reference::Original.key()).into(), kl_m0),
        Column::new(format!("kl_{}", Reference::Exact.key()).into(), kl_exact),
        Column::new(format!("kl_{}", Reference::Clean.key()).into(), kl_clean),
    ];
    Ok(DataFrame::new(height, columns)?)
}

fn summary_frame(results: &[RunResult]) -> anyhow::Result<DataFrame> {
    let mut run = Vec::new();
    let mut model = Vec::new();
    let names: Vec<String> =
        results.first().map(|r| r.table.columns.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); names.len()];
    for r in results {
        for m in &r.table.models {
            run.push(r.name.clone());
            model.push(m.clone());
        }
        for (c, (_, v)) in r.table.columns.iter().enumerate() {
            values[c].extend_from_slice(v);
        }
    }
    let height = run.len();
    let mut columns = vec![Column::new("run".into(), run), Column::new("model".into(), model)];
    columns.extend(names.iter().zip(values).map(|(n, v)| Column::new(n.as_str().into(), v)));
    Ok(DataFrame::new(height, columns)?)
}

fn aggregate_frame(agg: &AggregateTable) -> anyhow::Result<DataFrame> {
    let runs: Vec<u32> = agg.runs.iter().map(|&n| n as u32).collect();
    let mut columns = vec![Column::new("model".into(), agg.models.clone()), Column::new("runs".into(), runs)];
    for c in &agg.columns {
        columns.push(Column::new(format!("{}_mean", c.name).into(), c.mean.clone()));
        columns.push(Column::new(format!("{}_std", c.name).into(), c.std.clone()));
    }
    Ok(DataFrame::new(agg.models.len(), columns)?)
}

/// The compact Markdown table: mean ± std over runs of the columns the study reads first.
/// The reconstruction columns `--attacks` adds: (column, attack in scores.csv or `None` for a control, the
/// scores.csv column it averages).
const RECON: [(&str, Option<&str>, &str); 4] = [
    ("recon_kkt", Some("kkt"), "best_ssim"),
    ("recon_inversion", Some("inversion"), "best_ssim"),
    ("recon_class_mean", None, "class_mean_ssim"),
    ("recon_nearest", None, "nearest_ssim"),
];

/// Adds the [`RECON`] columns to a run's summary from `DIR/result.json` of `doppel attack` (doppel-protocol's
/// `AttackResult`): per model the mean over targets; a model the attack did not score gets empty cells.
fn add_reconstruction(table: &mut SummaryTable, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(RESULT_FILE);
    let result: AttackResult = read_result(&path)
        .with_context(|| format!("reading {} (is --attacks a `doppel attack --out` directory?)", path.display()))?;
    // (model, score, attack for the attack columns) → (sum, count), summed in the attack's row order.
    let mut sums: std::collections::HashMap<(String, &str, Option<String>), (f64, usize)> = Default::default();
    for row in &result.scores {
        for (_, attack, source) in RECON {
            let value = match source {
                "best_ssim" => row.best_ssim,
                "class_mean_ssim" => row.class_mean_ssim,
                _ => row.nearest_ssim,
            };
            let Some(v) = value else { continue };
            let key_attack = attack.map(|_| row.attack.clone());
            let e = sums.entry((row.model.clone(), source, key_attack)).or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    for (name, attack, source) in RECON {
        let values = table
            .models
            .iter()
            .map(|m| {
                let key = (m.clone(), source, attack.map(str::to_string));
                sums.get(&key).map(|(sum, count)| sum / *count as f64)
            })
            .collect();
        table.columns.push((name.to_string(), values));
    }
    Ok(())
}

fn print_markdown(data: &Data, dataset: &Path, runs: usize, agg: &AggregateTable, near: Option<&NearRows>) {
    const SHOWN: [(&str, &str); 21] = [
        ("f_acc", "F acc"),
        ("f_conf", "F conf"),
        ("f_lsc", "F lsc"),
        ("s_conf", "S conf"),
        ("r_acc", "R acc"),
        ("r_near_acc", "R near acc"),
        ("r_far_acc", "R far acc"),
        ("test_acc", "test acc"),
        ("mia_auc", "MIA AUC"),
        ("mia_lr", "MIA LR"),
        ("mia_efficacy", "MIA-Efficacy"),
        ("kl_f_m0", "KL F→M0"),
        ("kl_f_exact", "KL F→exact"),
        ("kl_f_clean", "KL F→clean"),
        ("conf_gap_f_clean", "Δconf F→clean"),
        ("avg_gap_exact", "Avg.Gap exact"),
        ("avg_gap_clean", "Avg.Gap clean"),
        ("recon_kkt", "SSIM kkt"),
        ("recon_inversion", "SSIM inversion"),
        ("recon_class_mean", "SSIM class mean"),
        ("recon_nearest", "SSIM nearest"),
    ];
    // The reconstruction and retain-split columns only when --attacks and --near-rows gave them.
    let optional = |k: &str| k.starts_with("recon_") || k.starts_with("r_near_") || k.starts_with("r_far_");
    let shown: Vec<&(&str, &str)> =
        SHOWN.iter().filter(|(k, _)| !optional(k) || agg.columns.iter().any(|c| c.name == *k)).collect();
    let split = near.map_or(String::new(), |n| {
        format!(" (near {}, far {}: the retain rows {} lists, and the rest)", n.near, n.far, n.file.display())
    });
    println!(
        "dataset {} ({}): |F| = {}, |S| = {}, |R| = {}{split}, |test| = {}; {runs} run(s), mean ± std over runs",
        data.dir.manifest.name,
        dataset.display(),
        data.count(SampleSet::Forget),
        data.count(SampleSet::Similar),
        data.count(SampleSet::Retain),
        data.count(SampleSet::Test),
    );
    println!();
    let header: Vec<&str> = shown.iter().map(|(_, h)| *h).collect();
    println!("| model | runs | {} |", header.join(" | "));
    println!("|---|---:|{}", "---:|".repeat(shown.len()));
    for (m, model) in agg.models.iter().enumerate() {
        let cells: Vec<String> = shown
            .iter()
            .map(|(key, _)| match agg.columns.iter().find(|c| c.name == *key) {
                Some(c) => cell(c.mean[m], c.std[m]),
                None => "–".into(),
            })
            .collect();
        println!("| {model} | {} | {} |", agg.runs[m], cells.join(" | "));
    }
}

fn cell(mean: Option<f64>, std: Option<f64>) -> String {
    let num = |v: f64| if v != 0.0 && v.abs() < 1e-3 { format!("{v:.2e}") } else { format!("{v:.4}") };
    match (mean, std) {
        (Some(m), Some(s)) => format!("{} ± {}", num(m), num(s)),
        (Some(m), None) => num(m),
        _ => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_compact() {
        assert_eq!(cell(Some(0.5), Some(0.01)), "0.5000 ± 0.0100");
        assert_eq!(cell(Some(2.5e-5), None), "2.50e-5");
        assert_eq!(cell(Some(0.0), Some(0.0)), "0.0000 ± 0.0000");
        assert_eq!(cell(None, None), "–");
    }
}

//! `doppel unlearn`: one method under one scope, from a dataset directory and an M0 checkpoint.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use doppel_data::lineage::{SampleInfo, forget_rows, retain_rows, similar_rows};
use doppel_data::{hash, seed, store};
use doppel_models::DeviceChoice;
use doppel_models::checkpoint::{self, Sidecar};
use doppel_models::infer::{self, Predictions};
use doppel_models::train::TrainReport;
use doppel_protocol::{CommandResult, SearchOutcome, UnlearnResult};
use doppel_unlearn::{MethodConfigs, MethodName, Original, RunContext, Scope, SearchSpace, UnlearnReport, View};

use crate::train::DeviceArg;

/// Arguments of `doppel unlearn`.
#[derive(Debug, Args)]
pub struct UnlearnArgs {
    /// A dataset directory written by `doppel data build`.
    #[arg(long)]
    dataset: PathBuf,
    /// The original model: a directory holding model.safetensors + model.json (e.g. OUT/m0 of `doppel train`),
    /// or the .safetensors file itself.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The unlearning method.
    #[arg(long, value_enum)]
    method: MethodArg,
    /// What to unlearn: exact = the targets; lineage = targets and all their variants; mined = targets and the
    /// rows of --mined-rows.
    #[arg(long, value_enum)]
    scope: ScopeArg,
    /// For --scope mined: the look-alikes to forget beside the targets, either `neighbours.parquet` written by
    /// `doppel mine neighbours` (its `neighbour_id` column) or a text file of training-sample ids, one per line
    /// (`#` starts a comment).
    #[arg(long)]
    mined_rows: Option<PathBuf>,
    /// Method settings (TOML, one optional section per method, e.g. configs/unlearn/mnist-mlp.toml); without it
    /// every method runs with its paper's defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Master seed of the run; by default derived from the checkpoint's order seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory: model.safetensors, model.json, report.json, outputs_train.parquet, outputs_test.parquet.
    #[arg(long)]
    out: PathBuf,
    /// Where to run: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Run the budgeted hyperparameter search: the method's lr × {0.1, 1, 10} and every budget × {1, 2} (the same grid
    /// for every method), each scored by Avg.Gap to --reference over forget, retain and test accuracy and MIA AUC;
    /// the best is written, every candidate goes into report.json.
    #[arg(long, requires = "reference")]
    search: bool,
    /// For --search: the `retrain_exact` checkpoint directory (or .safetensors) the gap is measured to.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// For --search: what the chosen candidate minimises. `avg-gap`: Avg.Gap to --reference (UA, RA, TA,
    /// MIA-Efficacy; Jia et al. 2023). `kl-forget`: the calibration of issue 19 — the mean KL(model ‖ reference)
    /// on the targets F, among the candidates whose test accuracy is within --max-test-drop of the original's
    /// (when none is, the one that keeps the most test accuracy, marked `within_tolerance = false`). Either way the
    /// chosen settings are written to OUT/settings.toml, a --config that reproduces them.
    #[arg(long, value_enum, default_value_t = Objective::AvgGap)]
    objective: Objective,
    /// For --objective kl-forget: how far below the original's test accuracy (a fraction: 0.03 is 3 points) a
    /// candidate may fall.
    #[arg(long, default_value_t = 0.03)]
    max_test_drop: f64,
    /// Go on (with a warning) when the checkpoint or --reference was trained on another dataset than --dataset
    /// (their sidecar's manifest sha256 differs); by default that is an error.
    #[arg(long)]
    allow_other_dataset: bool,
}

/// What `--search` minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Avg.Gap to the reference.
    AvgGap,
    /// Mean KL to the reference on F, test accuracy within a tolerance of the original's.
    KlForget,
}

impl Objective {
    fn name(self) -> &'static str {
        match self {
            Objective::AvgGap => "avg_gap",
            Objective::KlForget => "kl_forget",
        }
    }
}

/// The methods the command line offers.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum MethodArg {
    /// Retrain from scratch on the retain side (same recipe and seeds).
    Retrain,
    /// Fine-tune on the retain side.
    Ft,
    /// Gradient ascent on the forget side.
    Ga,
    /// α·CE(retain) − (1−α)·CE(forget).
    NeggradPlus,
    /// Random labels on the forget side, then a retain pass.
    Rl,
    /// Fine-tune with a decaying L1 penalty.
    L1Sparse,
    /// Saliency-masked random labelling.
    Salun,
    /// Selective synaptic dampening (no training).
    Ssd,
    /// Teacher–student: push away from the original on forget, stay close on retain.
    Scrub,
    /// Fine-tune forget samples to their nearest wrong class (found by FGSM).
    BoundaryShrink,
    /// Train forget samples into an extra shadow class, then drop it.
    BoundaryExpanding,
    /// Distil from the original on retain and from a random network on forget.
    BadTeacher,
}

impl From<MethodArg> for MethodName {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Retrain => MethodName::Retrain,
            MethodArg::Ft => MethodName::Ft,
            MethodArg::Ga => MethodName::Ga,
            MethodArg::NeggradPlus => MethodName::NegGradPlus,
            MethodArg::Rl => MethodName::Rl,
            MethodArg::L1Sparse => MethodName::L1Sparse,
            MethodArg::Salun => MethodName::Salun,
            MethodArg::Ssd => MethodName::Ssd,
            MethodArg::Scrub => MethodName::Scrub,
            MethodArg::BoundaryShrink => MethodName::BoundaryShrink,
            MethodArg::BoundaryExpanding => MethodName::BoundaryExpanding,
            MethodArg::BadTeacher => MethodName::BadTeacher,
        }
    }
}

/// The scopes the command line offers.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ScopeArg {
    /// The targets.
    Exact,
    /// The targets and all their variants (ground truth).
    Lineage,
    /// The targets and the mined rows of --mined-rows.
    Mined,
}

/// What `report.json` holds: the library's report plus the cost relative to training the original.
#[derive(Debug, serde::Serialize)]
struct ReportFile<'a> {
    #[serde(flatten)]
    report: &'a UnlearnReport,
    /// Wall seconds the original took to train (from its sidecar).
    original_train_seconds: f64,
    /// `wall_seconds / original_train_seconds`: the cost relative to retraining (RTE).
    rte: f64,
    /// sha256 of the dataset's manifest.json.
    dataset_manifest_sha256: String,
    /// The original checkpoint.
    checkpoint: String,
    /// The device.
    device: String,
    /// The hyperparameter search, when --search ran one.
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<SearchRecord>,
}

/// Runs `doppel unlearn`.
pub fn run(a: UnlearnArgs) -> anyhow::Result<()> {
    let configs = match &a.config {
        Some(p) => MethodConfigs::from_file(p)?,
        None => MethodConfigs::default(),
    };
    let method = configs.build(a.method.into())?;
    let weights = if a.checkpoint.is_dir() { a.checkpoint.join("model.safetensors") } else { a.checkpoint.clone() };
    let side = checkpoint::read_sidecar(&weights)?;
    let choice: DeviceChoice = a.device.into();
    let device = choice.open()?;
    let ds = store::open(&a.dataset)?;
    let manifest_sha = hash::sha256_file(&a.dataset.join("manifest.json"))?;
    let sidecar = checkpoint::sidecar_path(&weights);
    crate::provenance::same_dataset(
        &sidecar,
        &side.dataset_manifest_sha256,
        &a.dataset,
        &manifest_sha,
        Some(a.allow_other_dataset),
    )?;
    let scope = match (a.scope, &a.mined_rows) {
        (ScopeArg::Exact, None) => Scope::Exact,
        (ScopeArg::Lineage, None) => Scope::Lineage,
        (ScopeArg::Mined, Some(file)) => Scope::Mined(crate::mined::read_mined(file, &ds.train.samples)?),
        (ScopeArg::Mined, None) => anyhow::bail!(
            "--scope mined needs --mined-rows FILE (neighbours.parquet from `doppel mine neighbours`, or sample ids one per line)"
        ),
        (_, Some(_)) => anyhow::bail!("--mined-rows is only for --scope mined"),
    };
    let net = checkpoint::load(&weights, &side.spec, &device)?;
    let original = Original { net: &net, spec: &side.spec, recipe: &side.recipe, seeds: side.seeds };
    let view = View { data: &ds.train.data, samples: &ds.train.samples };
    let ctx =
        RunContext { device: device.clone(), seed: a.seed.unwrap_or(seed::derive(side.seeds.order, "unlearn", 0)) };
    let bs = 512;
    let all_train: Vec<usize> = (0..ds.train.data.len()).collect();
    let test_rows: Vec<usize> = (0..ds.test.data.len()).collect();
    let (out, search) = if a.search {
        let reference = a.reference.as_ref().context("--search needs --reference")?;
        let ref_weights = if reference.is_dir() { reference.join("model.safetensors") } else { reference.clone() };
        let ref_side = checkpoint::read_sidecar(&ref_weights)?;
        crate::provenance::same_dataset(
            &checkpoint::sidecar_path(&ref_weights),
            &ref_side.dataset_manifest_sha256,
            &a.dataset,
            &manifest_sha,
            Some(a.allow_other_dataset),
        )?;
        let ref_net = checkpoint::load(&ref_weights, &ref_side.spec, &device)?;
        let ref_train = infer::predict(&ref_net, &ref_side.spec, &ds.train.data, &all_train, bs, &device)?;
        let ref_test = infer::predict(&ref_net, &ref_side.spec, &ds.test.data, &test_rows, bs, &device)?;
        let ref_terms = gap_terms(&ref_train, &ref_test, &ds.train.samples)?;
        if !(0.0..=1.0).contains(&a.max_test_drop) {
            anyhow::bail!(
                "--max-test-drop is {}; give a fraction of accuracy in [0, 1] (0.03 is 3 points)",
                a.max_test_drop
            );
        }
        let original_test = infer::predict(&net, &side.spec, &ds.test.data, &test_rows, bs, &device)?.accuracy(None);
        let forget = forget_rows(&ds.train.samples);
        let space = SearchSpace::default();
        let grid = doppel_unlearn::candidates(&configs, a.method.into(), &space)?;
        let started = std::time::Instant::now();
        let mut entries: Vec<SearchEntry> = Vec::new();
        let mut best: Option<(usize, doppel_unlearn::Unlearned, MethodConfigs)> = None;
        for (i, c) in grid.iter().enumerate() {
            let m = c.configs.build(a.method.into())?;
            tracing::info!(method = m.name(), scope = scope.name(), candidate = i + 1, of = grid.len(), lr = ?c.lr, budget = ?c.budget, "search");
            let run = match m.unlearn(&original, &view, &scope, &ctx, &mut |_| {}) {
                Ok(run) => run,
                // No sound weights at all (every step blew up): recorded, never chosen.
                Err(e) => {
                    entries.push(SearchEntry {
                        lr: c.lr,
                        budget: c.budget,
                        avg_gap: None,
                        kl_forget: None,
                        test_accuracy: None,
                        problem: Some(e.to_string()),
                        status: None,
                        wall_seconds: None,
                    });
                    continue;
                }
            };
            let train = infer::predict(&run.net, &run.spec, &ds.train.data, &all_train, bs, &device)?;
            let test = infer::predict(&run.net, &run.spec, &ds.test.data, &test_rows, bs, &device)?;
            // A candidate whose outputs are not finite (a learning rate too large for the method) cannot be
            // scored; it is recorded with the reason and never chosen.
            let scored = gap_terms(&train, &test, &ds.train.samples).and_then(|t| {
                let gap = doppel_eval::avg_gap(&t, &ref_terms)?;
                Ok((gap, mean_kl_on(&train, &ref_train, &forget)?))
            });
            let (gap, kl, problem) = match scored {
                Ok((g, kl)) => (Some(g), Some(kl), None),
                Err(e) => (None, None, Some(doppel_stdx::errors::one_line(e.chain()))),
            };
            entries.push(SearchEntry {
                lr: c.lr,
                budget: c.budget,
                avg_gap: gap,
                kl_forget: kl,
                test_accuracy: gap.map(|_| test.accuracy(None)),
                problem,
                status: Some(run.report.status.clone()),
                wall_seconds: Some(run.report.wall_seconds),
            });
            let rank = |e: &SearchEntry| rank(e, a.objective, original_test, a.max_test_drop);
            let new = rank(&entries[i]);
            if new.is_some()
                && best.as_ref().is_none_or(|(b, _, _)| rank(&entries[*b]).is_none_or(|old| new < Some(old)))
            {
                best = Some((i, run, c.configs.clone()));
            }
        }
        let (chosen, out, settings) = best.with_context(|| {
            format!(
                "no candidate of the search could be scored: {:?}",
                entries.iter().map(|e| &e.problem).collect::<Vec<_>>()
            )
        })?;
        let seconds = started.elapsed().as_secs_f64();
        let within_tolerance = (a.objective == Objective::KlForget)
            .then(|| entries[chosen].test_accuracy.is_some_and(|t| within(t, original_test, a.max_test_drop)));
        if within_tolerance == Some(false) {
            tracing::warn!(
                method = method.name(),
                original_test,
                "no candidate keeps test accuracy within --max-test-drop of the original's; the one that keeps the most \
                 is chosen"
            );
        }
        let record = SearchRecord {
            space,
            objective: a.objective,
            reference: ref_weights.display().to_string(),
            original_test_accuracy: original_test,
            max_test_drop: a.max_test_drop,
            within_tolerance,
            candidates: entries,
            chosen,
            seconds,
            rte: seconds / side.report.seconds.max(1e-9),
        };
        (out, Some((record, settings)))
    } else {
        tracing::info!(method = method.name(), scope = scope.name(), "unlearning");
        (method.unlearn(&original, &view, &scope, &ctx, &mut |_| {})?, None)
    };
    let (search, settings) = search.unzip();

    // Outputs first: a network whose logits overflow somewhere (weights grown too large, though finite) would put
    // NaN rows into every table downstream, so it is refused before anything is written.
    let train_pred = infer::predict(&out.net, &out.spec, &ds.train.data, &all_train, bs, &device)?;
    let test_pred = infer::predict(&out.net, &out.spec, &ds.test.data, &test_rows, bs, &device)?;
    finite_outputs(
        &format!("{} ({})", method.name(), scope.name()),
        &[("train", &train_pred), ("test", &test_pred)],
        &a.out,
    )?;
    // Everything goes into a staged folder that replaces --out only once complete: a failed write leaves no
    // half a result that a rerun or the report could take for a finished one.
    let staged = doppel_stdx::fs::StagedDir::begin(&a.out)?;
    let dir = staged.path();
    let rte = out.report.wall_seconds / side.report.seconds.max(1e-9);
    let sidecar = Sidecar {
        role: method.name().into(),
        spec: out.spec.clone(),
        recipe: side.recipe.clone(),
        seeds: side.seeds,
        dataset_manifest_sha256: manifest_sha.clone(),
        report: TrainReport {
            rows: out.report.retain_size,
            epochs: vec![],
            seconds: out.report.wall_seconds,
            samples_per_second: 0.0,
        },
        device: choice.name().into(),
        doppel_version: env!("CARGO_PKG_VERSION").into(),
    };
    checkpoint::save(&out.net, &dir.join("model.safetensors"), &sidecar)?;
    let file = ReportFile {
        report: &out.report,
        original_train_seconds: side.report.seconds,
        rte,
        dataset_manifest_sha256: manifest_sha,
        checkpoint: weights.display().to_string(),
        device: choice.name().into(),
        search,
    };
    let report_path = dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&file)? + "\n")
        .with_context(|| format!("writing {}", report_path.display()))?;
    if let Some(settings) = &settings {
        write_settings(&dir.join(SETTINGS_FILE), settings, method.name(), a.objective)?;
    }
    let outcome = file.search.as_ref().map(|s| {
        let chosen = s.candidates.get(s.chosen);
        SearchOutcome {
            rte: s.rte,
            candidates: s.candidates.len(),
            lr: chosen.and_then(|c| c.lr),
            budget: chosen.and_then(|c| c.budget),
            avg_gap: chosen.and_then(|c| c.avg_gap),
            objective: s.objective.name().into(),
            kl_forget: chosen.and_then(|c| c.kl_forget),
            test_accuracy: chosen.and_then(|c| c.test_accuracy),
            original_test_accuracy: Some(s.original_test_accuracy),
            within_tolerance: s.within_tolerance,
        }
    });
    write_unlearn_result(dir, &out.report, Some(rte), outcome)?;

    write_outputs(&train_pred, &ds.train.samples, &dir.join("outputs_train.parquet"))?;
    write_outputs(&test_pred, &ds.test.samples, &dir.join("outputs_test.parquet"))?;
    staged.commit()?;
    print_summary(&out.report, rte, &train_pred, &test_pred, &ds.train.samples);
    Ok(())
}

/// `OUT/result.json` of `doppel unlearn` and `doppel lm unlearn` (doppel-protocol's `UnlearnResult`): what the
/// run forgot, whether it diverged, and its cost.
pub(crate) fn write_unlearn_result(
    out: &Path,
    r: &UnlearnReport,
    rte: Option<f64>,
    search: Option<SearchOutcome>,
) -> anyhow::Result<()> {
    let scope = doppel_protocol::Scope::parse(&r.scope)
        .with_context(|| format!("the run reports scope {:?}, which doppel-protocol does not name", r.scope))?;
    let diverged_at = match r.status {
        doppel_unlearn::Status::Completed => None,
        doppel_unlearn::Status::Diverged { step, .. } => Some(step),
    };
    let result = doppel_protocol::tagged!(UnlearnResult {
        method: r.method.clone(),
        scope,
        scope_size: r.scope_size,
        retain_size: r.retain_size,
        steps: r.steps,
        diverged_at,
        rte,
        search,
    });
    doppel_stdx::write_atomic(&out.join(doppel_protocol::results::RESULT_FILE), result.to_json().as_bytes())?;
    Ok(())
}

/// Refuses outputs with a non-finite loss, naming the run, the split, how many rows and the first.
fn finite_outputs(run: &str, splits: &[(&str, &Predictions)], out: &Path) -> anyhow::Result<()> {
    for (split, p) in splits {
        if let Some(row) = p.loss.iter().position(|l| !l.is_finite()) {
            let bad = p.loss.iter().filter(|l| !l.is_finite()).count();
            anyhow::bail!(
                "{run}: the unlearned model's outputs are not finite on {bad} {split} rows (first: row {row}); its \
                 weights grew too large. Nothing was written to {}; lower the method's learning rate in --config",
                out.display()
            );
        }
    }
    Ok(())
}

/// The file `--search` writes the chosen settings to.
pub(crate) const SETTINGS_FILE: &str = "settings.toml";

/// Writes `settings` as a `--config` file, with a header that says where they come from.
fn write_settings(path: &Path, settings: &MethodConfigs, method: &str, objective: Objective) -> anyhow::Result<()> {
    let body = toml::to_string(settings).context("the chosen settings do not serialise as TOML")?;
    let text = format!(
        "# The settings `doppel unlearn --search --objective {}` chose for {method}; pass this file as --config to \
         run them again.\n{body}",
        objective.name().replace('_', "-"),
    );
    // A file that cannot be read back would hand the next step other settings than the chosen ones.
    let back = MethodConfigs::from_toml(&text, &path.display().to_string())?;
    anyhow::ensure!(&back == settings, "{}: the chosen settings do not read back as written", path.display());
    doppel_stdx::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Whether test accuracy `test` is within `drop` of the original's.
fn within(test: f64, original: f64, drop: f64) -> bool {
    original - test <= drop + 1e-12
}

/// The order of a candidate under `objective` (smaller is better); `None` when it cannot be chosen. Under
/// `kl-forget` the candidates within tolerance come first (by KL on F), then the rest by the test accuracy they
/// lose.
fn rank(e: &SearchEntry, objective: Objective, original: f64, drop: f64) -> Option<(u8, f64)> {
    match objective {
        Objective::AvgGap => e.avg_gap.map(|g| (0, g)),
        Objective::KlForget => {
            let (kl, test) = (e.kl_forget?, e.test_accuracy?);
            Some(if within(test, original, drop) { (0, kl) } else { (1, original - test) })
        }
    }
}

/// Mean `KL(model ‖ reference)` over `rows` of the two models' outputs on the same samples.
fn mean_kl_on(model: &Predictions, reference: &Predictions, rows: &[usize]) -> anyhow::Result<f64> {
    let pick = |p: &Predictions| -> Vec<f32> {
        rows.iter().flat_map(|&r| p.logits[r * p.classes..(r + 1) * p.classes].iter().copied()).collect()
    };
    let (m, r) = (pick(model), pick(reference));
    let kl = doppel_eval::kl_from_logits(
        &doppel_eval::Logits::new(&m, model.classes)?,
        &doppel_eval::Logits::new(&r, reference.classes)?,
    )?;
    Ok(doppel_eval::mean(&kl)?)
}

/// One point of `--search`: the values it set, its scores against the reference, and how the run ended.
#[derive(Debug, serde::Serialize)]
struct SearchEntry {
    lr: Option<f64>,
    /// The factor applied to the method's budgets.
    budget: Option<f64>,
    /// `None` when the candidate's outputs could not be scored (see `problem`).
    avg_gap: Option<f64>,
    /// Mean KL(candidate ‖ reference) on F; `None` as `avg_gap`.
    kl_forget: Option<f64>,
    /// Test accuracy; `None` as `avg_gap`.
    test_accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// How the run ended; `None` when it returned no weights (see `problem`).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<doppel_unlearn::Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wall_seconds: Option<f64>,
}

/// `report.json`'s `search` field.
#[derive(Debug, serde::Serialize)]
struct SearchRecord {
    /// The grid's factors.
    space: SearchSpace,
    /// What the chosen candidate minimises.
    objective: Objective,
    /// The reference checkpoint the gap is measured to.
    reference: String,
    /// The original's test accuracy and the drop `kl-forget` allows.
    original_test_accuracy: f64,
    max_test_drop: f64,
    /// For `kl-forget`: whether the chosen candidate keeps test accuracy within the drop.
    #[serde(skip_serializing_if = "Option::is_none")]
    within_tolerance: Option<bool>,
    /// Every candidate, in grid order.
    candidates: Vec<SearchEntry>,
    /// Index of the chosen candidate (the lowest by the objective among the scored; the earlier on ties).
    chosen: usize,
    /// Wall seconds of the whole search, and that over the original's training time.
    seconds: f64,
    rte: f64,
}

/// UA (1 − forget accuracy), RA, TA and SVC MIA-Efficacy of a model's outputs: the terms of Avg.Gap (Jia et al.
/// 2023), as `doppel eval` computes them.
fn gap_terms(
    train: &Predictions,
    test: &Predictions,
    samples: &[SampleInfo],
) -> anyhow::Result<[(&'static str, f64); 4]> {
    let (f, r) = (forget_rows(samples), retain_rows(samples));
    let confidences = |rows: &[usize]| rows.iter().map(|&i| train.confidence[i]).collect::<Vec<f64>>();
    let mia = doppel_eval::svc_mia_forget_efficacy(
        &confidences(&r),
        &test.confidence,
        &confidences(&f),
        Some(crate::eval::DEFAULT_SVC_SHADOW),
    )?
    .efficacy;
    Ok([
        ("ua", 1.0 - train.accuracy(Some(&f))),
        ("ra", train.accuracy(Some(&r))),
        ("ta", test.accuracy(None)),
        ("mia", mia),
    ])
}

fn write_outputs(p: &Predictions, samples: &[SampleInfo], path: &Path) -> anyhow::Result<()> {
    let ids: Vec<u32> = samples.iter().map(|s| s.id).collect();
    let origins: Vec<&str> = samples.iter().map(|s| s.origin.name()).collect();
    infer::write_parquet(p, &ids, &origins, path)?;
    Ok(())
}

fn print_summary(r: &UnlearnReport, rte: f64, train: &Predictions, test: &Predictions, samples: &[SampleInfo]) {
    let (f, s, rr) = (forget_rows(samples), similar_rows(samples), retain_rows(samples));
    let pct = |v: f64| if v.is_nan() { "   -  ".to_string() } else { format!("{:6.2}", 100.0 * v) };
    println!(
        "{:<13} {:<8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8} {:>7}  status",
        "method", "scope", "size", "test%", "F acc%", "S acc%", "R acc%", "steps", "seconds", "RTE"
    );
    let status = match &r.status {
        doppel_unlearn::Status::Completed => "completed".to_string(),
        doppel_unlearn::Status::Diverged { step, loss } => format!("diverged at step {step} (loss {loss})"),
    };
    println!(
        "{:<13} {:<8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8.2} {:>7.3}  {status}",
        r.method,
        r.scope,
        r.scope_size,
        pct(test.accuracy(None)),
        pct(train.accuracy(Some(&f))),
        pct(train.accuracy(Some(&s))),
        pct(train.accuracy(Some(&rr))),
        r.steps,
        r.wall_seconds,
        rte
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn outputs_with_a_nan_loss_are_refused_with_the_split_and_row() {
        let p = |loss: Vec<f64>| Predictions {
            classes: 2,
            logits: vec![0.0; 2 * loss.len()],
            labels: vec![0; loss.len()],
            confidence: vec![0.5; loss.len()],
            prediction: vec![0; loss.len()],
            loss,
        };
        let (good, bad) = (p(vec![0.1, 0.2]), p(vec![0.1, f64::NAN, f64::INFINITY]));
        assert!(finite_outputs("ga (exact)", &[("train", &good)], Path::new("o")).is_ok());
        let e = finite_outputs("ga (exact)", &[("train", &good), ("test", &bad)], Path::new("o")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ga (exact): the unlearned model's outputs are not finite on 2 test rows (first: row 1); its weights grew \
             too large. Nothing was written to o; lower the method's learning rate in --config"
        );
    }

    #[test]
    fn every_library_method_is_offered_under_its_name() {
        for m in MethodName::ALL {
            let arg = MethodArg::from_str(m.name(), false).expect("the command line offers every method");
            assert_eq!(MethodName::from(arg), m);
        }
        assert_eq!(MethodArg::value_variants().len(), MethodName::ALL.len());
    }
}

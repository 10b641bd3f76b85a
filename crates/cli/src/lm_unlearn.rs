//! `doppel lm unlearn`: unlearn a scope of a QA dataset's training rows from a trained LM (M0) with one method,
//! writing the model folder (the `doppel lm train` checkpoint format) and `report.json` atomically.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use doppel_data::Split;
use doppel_data::lineage::{Origin, SampleInfo};
use doppel_models::DeviceChoice;
use doppel_models::lm::{self, ExampleScores, LmExample, LmSidecar};
use doppel_text::QaSample;
use doppel_unlearn::lm::{LmMethodConfigs, LmMethodName, LmOriginal, LmView};
use doppel_unlearn::{RunContext, Scope, UnlearnReport};

use crate::train::DeviceArg;

/// Sequences per forward pass when scoring the summary.
const SCORE_BATCH: usize = 64;

/// The LM unlearning methods the command line offers.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LmMethodArg {
    /// Gradient ascent on the forget answers' NLL.
    Ga,
    /// −NLL(forget) + NLL(retain).
    #[value(name = "grad_diff")]
    GradDiff,
    /// −NLL(forget) + KL(original ‖ current) on retain tokens.
    #[value(name = "kl_ga")]
    KlGa,
    /// Negative Preference Optimization (the original as reference).
    Npo,
    /// SimNPO (length-normalised, reference-free).
    Simnpo,
    /// Fine-tuning on the retain side only.
    Ft,
    /// Retraining from scratch on the retain side with M0's config and seeds.
    Retrain,
}

impl From<LmMethodArg> for LmMethodName {
    fn from(m: LmMethodArg) -> Self {
        match m {
            LmMethodArg::Ga => LmMethodName::Ga,
            LmMethodArg::GradDiff => LmMethodName::GradDiff,
            LmMethodArg::KlGa => LmMethodName::KlGa,
            LmMethodArg::Npo => LmMethodName::Npo,
            LmMethodArg::Simnpo => LmMethodName::SimNpo,
            LmMethodArg::Ft => LmMethodName::Ft,
            LmMethodArg::Retrain => LmMethodName::Retrain,
        }
    }
}

/// The scopes of the language arm.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LmScopeArg {
    /// The target QA pairs.
    Exact,
    /// The targets and all their paraphrases.
    Lineage,
}

/// Arguments of `doppel lm unlearn`.
#[derive(Debug, Args)]
pub struct LmUnlearnArgs {
    /// The QA dataset directory the model was trained on.
    #[arg(long)]
    data: PathBuf,
    /// The model folder to unlearn from (M0, written by `doppel lm train`).
    #[arg(long)]
    model: PathBuf,
    /// The method.
    #[arg(long, value_enum)]
    method: LmMethodArg,
    /// What to forget: exact (the targets) or lineage (targets and their paraphrases).
    #[arg(long, value_enum)]
    scope: LmScopeArg,
    /// Per-method settings, e.g. configs/unlearn/lm/qa-lm.toml; absent = each method's paper defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The master seed of the run (batch order); defaults to the model's training seed.
    #[arg(long)]
    seed: Option<u64>,
    /// The model folder to write (model.safetensors, model.json, vocab.txt, report.json).
    #[arg(long)]
    out: PathBuf,
    /// Where to run: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Rows per group (forget, paraphrase, retain, held-out) the before → after summary scores, spread evenly;
    /// `doppel lm eval` scores them all.
    #[arg(long, default_value_t = 512)]
    summary_rows: usize,
    /// Replace a folder already at --out (only once the new one is complete).
    #[arg(long)]
    force: bool,
}

/// Mean answer NLL (nats per answer token) of the summary groups.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct GroupNll {
    forget: f64,
    paraphrase: f64,
    retain: f64,
    heldout: f64,
}

/// report.json.
#[derive(Debug, serde::Serialize)]
struct Report {
    #[serde(flatten)]
    run: UnlearnReport,
    /// Wall seconds of M0's training (from its sidecar).
    original_train_seconds: Option<f64>,
    /// Run time efficiency: this run's wall time over M0's training time.
    rte: Option<f64>,
    original: String,
    data: String,
    device: String,
    /// Mean answer NLL before (M0) and after, on up to `summary_rows` rows per group.
    answer_nll_before: GroupNll,
    answer_nll_after: GroupNll,
    summary_rows: usize,
}

/// Runs `doppel lm unlearn`.
pub fn run(a: LmUnlearnArgs) -> anyhow::Result<()> {
    let name: LmMethodName = a.method.into();
    let scope = match a.scope {
        LmScopeArg::Exact => Scope::Exact,
        LmScopeArg::Lineage => Scope::Lineage,
    };
    let configs = match &a.config {
        Some(p) => LmMethodConfigs::from_file(p)?,
        None => LmMethodConfigs::default(),
    };
    let method = configs.build(name)?;
    if a.out.exists() && !a.force {
        anyhow::bail!("{} exists; pass --force to replace it", a.out.display());
    }
    let choice: DeviceChoice = a.device.into();
    let device = choice.open()?;
    let (m0, tok, side) = lm::checkpoint::load(&a.model, &device)
        .with_context(|| format!("loading the model folder {}", a.model.display()))?;
    let (Some(train_cfg), Some(seeds)) = (side.train.clone(), side.seeds) else {
        anyhow::bail!(
            "{} has no training config or seeds in {}; unlearn from a model `doppel lm train` wrote",
            a.model.display(),
            lm::checkpoint::SIDECAR
        );
    };
    let qa = doppel_text::open(&a.data).with_context(|| format!("opening the QA dataset {}", a.data.display()))?;
    let manifest_sha = doppel_data::hash::sha256_file(&a.data.join("manifest.json"))?;
    if let Some(trained_on) = &side.dataset_manifest_sha256 {
        let sidecar = a.model.join(lm::checkpoint::SIDECAR);
        crate::provenance::same_dataset(&sidecar, trained_on, &a.data, &manifest_sha, None)?;
    }
    let max_len = side.config.max_len;
    let encode = |rows: &[&QaSample]| -> Vec<LmExample> {
        rows.iter().map(|s| tok.encode_qa(&s.question, &s.answer, max_len)).collect()
    };
    let train_rows: Vec<&QaSample> = qa.samples.iter().filter(|s| s.split == Split::Train).collect();
    let examples = encode(&train_rows);
    let samples: Vec<SampleInfo> =
        train_rows.iter().map(|s| SampleInfo { id: s.id, origin: s.origin.clone(), source_index: None }).collect();

    // The summary groups, each cut to `summary_rows` rows spread evenly.
    let pick = |keep: &dyn Fn(&QaSample) -> bool| -> Vec<LmExample> {
        let rows: Vec<&QaSample> = qa.samples.iter().filter(|s| keep(s)).collect();
        let stride = rows.len().div_ceil(a.summary_rows.max(1)).max(1);
        encode(&rows.into_iter().step_by(stride).collect::<Vec<_>>())
    };
    let in_train = |s: &QaSample| s.split == Split::Train;
    let groups = [
        pick(&|s| in_train(s) && matches!(s.origin, Origin::Target)),
        pick(&|s| in_train(s) && matches!(s.origin, Origin::Variant { .. })),
        pick(&|s| in_train(s) && matches!(s.origin, Origin::Base)),
        pick(&|s| s.split == Split::Test),
    ];
    let before = group_nll(&groups, |g| Ok(lm::score(&m0, g, SCORE_BATCH, &device)?))?;

    let original = LmOriginal { model: &m0, train: &train_cfg, seeds };
    let view = LmView { examples: &examples, samples: &samples };
    let ctx = RunContext { device: device.clone(), seed: a.seed.unwrap_or(train_cfg.seed) };
    tracing::info!(method = name.name(), scope = scope.name(), rows = examples.len(), "unlearning the LM");
    let out = method.unlearn(&original, &view, &scope, &ctx, &mut |_| {})?;
    let after = group_nll(&groups, |g| Ok(lm::score(&out.model, g, SCORE_BATCH, &device)?))?;

    let original_train_seconds = side.report.as_ref().map(|r| r.seconds);
    let report = Report {
        rte: original_train_seconds.map(|t| out.report.wall_seconds / t),
        original_train_seconds,
        run: out.report.clone(),
        original: a.model.display().to_string(),
        data: a.data.display().to_string(),
        device: choice.name().into(),
        answer_nll_before: before,
        answer_nll_after: after,
        summary_rows: a.summary_rows,
    };
    let retrained = name == LmMethodName::Retrain;
    let role = match (retrained, a.scope) {
        (true, LmScopeArg::Exact) => "retrain_exact".to_string(),
        (true, LmScopeArg::Lineage) => "retrain_clean".to_string(),
        (false, _) => name.name().to_string(),
    };
    let sidecar = LmSidecar {
        role,
        config: side.config.clone(),
        tokenizer: side.tokenizer.clone(),
        train: retrained.then(|| train_cfg.clone()),
        seeds: retrained.then_some(seeds),
        dataset_manifest_sha256: Some(manifest_sha),
        report: out.train_report.clone(),
        device: choice.name().into(),
        doppel_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_folder(&a.out, a.force, |tmp| {
        lm::checkpoint::save(tmp, &out.model, &tok, &sidecar)?;
        let json = serde_json::to_string_pretty(&report)? + "\n";
        std::fs::write(tmp.join("report.json"), json).with_context(|| format!("writing {}", tmp.display()))?;
        crate::unlearn::write_unlearn_result(tmp, &out.report, report.rte, None)?;
        Ok(())
    })?;
    let status = match &out.report.status {
        doppel_unlearn::Status::Completed => "completed".to_string(),
        doppel_unlearn::Status::Diverged { step, loss } => format!("diverged at step {step} (loss {loss})"),
    };
    println!(
        "{} {} ({} rows forgotten, {} steps, {:.1} s, RTE {}, {status}): answer NLL forget {:.3} → {:.3}, \
         paraphrase {:.3} → {:.3}, retain {:.3} → {:.3}, held-out {:.3} → {:.3} → {}",
        name.name(),
        scope.name(),
        out.report.scope_size,
        out.report.steps,
        out.report.wall_seconds,
        report.rte.map_or("n/a".into(), |r| format!("{r:.3}")),
        before.forget,
        after.forget,
        before.paraphrase,
        after.paraphrase,
        before.retain,
        after.retain,
        before.heldout,
        after.heldout,
        a.out.display()
    );
    Ok(())
}

/// Mean answer NLL of each group from its per-example scores (NaN for an empty group).
fn group_nll(
    groups: &[Vec<LmExample>; 4],
    mut score: impl FnMut(&[LmExample]) -> anyhow::Result<Vec<ExampleScores>>,
) -> anyhow::Result<GroupNll> {
    let mut v = [f64::NAN; 4];
    for (slot, g) in v.iter_mut().zip(groups) {
        if g.is_empty() {
            continue;
        }
        let (sum, n) = score(g)?
            .iter()
            .flat_map(|s| s.answer().iter())
            .fold((0.0f64, 0usize), |(s, n), &lp| (s - f64::from(lp), n + 1));
        *slot = sum / n.max(1) as f64;
    }
    Ok(GroupNll { forget: v[0], paraphrase: v[1], retain: v[2], heldout: v[3] })
}

/// Fills a staged folder for `out` with `fill`, then swaps it into place (replacing an old `out` only when `force`,
/// and only after the new folder is complete); on failure nothing is left behind.
fn write_folder(out: &Path, force: bool, fill: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    if out.exists() && !force {
        anyhow::bail!("{} exists; pass --force to replace it", out.display());
    }
    doppel_stdx::fs::write_dir(out, fill)
}

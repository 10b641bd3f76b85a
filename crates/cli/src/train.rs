//! `doppel train`: M0 and the two oracles from one dataset directory, sharing recipe and seed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use doppel_data::{hash, lineage::SampleInfo, store};
use doppel_models::checkpoint::{self, Sidecar};
use doppel_models::infer::{self, Predictions};
use doppel_models::train::{TrainConfig, TrainSeeds, channel_stats};
use doppel_models::{DeviceChoice, ModelSpec, Role, RoleRows};
use doppel_protocol::results::{CommandResult, RESULT_FILE};
use doppel_protocol::{ModelMetrics, TrainResult, TrainedModel};

/// Arguments of `doppel train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A dataset directory written by `doppel data build`.
    #[arg(long)]
    dataset: PathBuf,
    /// The training config (model, recipe, seed), e.g. configs/train/mnist-mlp.toml.
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    overrides: crate::config_arg::Overrides,
    /// Which models to train, comma-separated: m0, retrain_exact, retrain_clean.
    #[arg(long, value_delimiter = ',', default_value = "m0,retrain_exact,retrain_clean")]
    which: Vec<String>,
    /// Output directory; each model goes to OUT/<which>/, the config as used (after --set) to OUT/config.toml and
    /// the metrics to OUT/result.json.
    #[arg(long)]
    out: PathBuf,
    /// Where to train: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Retrain even when OUT/<which>/ already holds a checkpoint of the same config, data and seed.
    #[arg(long)]
    force: bool,
}

/// The devices the command line offers.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DeviceArg {
    /// burn's pure-Rust CPU backend.
    Flex,
    /// burn's wgpu GPU backend.
    Wgpu,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Flex => DeviceChoice::Flex,
            DeviceArg::Wgpu => DeviceChoice::Wgpu,
        }
    }
}

/// Runs `doppel train`.
pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let roles: Vec<Role> = a
        .which
        .iter()
        .map(|w| {
            Role::parse(w.trim())
                .with_context(|| format!("--which: {w:?} is not one of m0, retrain_exact, retrain_clean"))
        })
        .collect::<anyhow::Result<_>>()?;
    let used = crate::config_arg::read(&a.config, &a.overrides.sets, None)?;
    let cfg = TrainConfig::from_toml(&used.text, &used.file)?;
    let choice: DeviceChoice = a.device.into();
    let device = choice.open()?;
    let ds = store::open(&a.dataset)?;
    let manifest_sha = hash::sha256_file(&a.dataset.join("manifest.json"))?;
    let test_rows: Vec<usize> = (0..ds.test.data.len()).collect();
    let all_train: Vec<usize> = (0..ds.train.data.len()).collect();
    let mut results = Vec::new();
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "model", "test%", "F acc%", "F conf%", "S acc%", "R acc%", "train s"
    );
    // A failed run leaves no trace: each model's folder is written beside its place and renamed in when complete,
    // and an OUT this run created is removed again if nothing landed in it.
    let created_out = !a.out.exists();
    let outcome = (|| -> anyhow::Result<()> {
        let mut done: Vec<(Vec<usize>, RoleDone)> = Vec::with_capacity(roles.len());
        for role in roles {
            // Equal rows, recipe and seeds make the same model: retrain_clean where the lineage is the targets
            // alone (k = 0) is retrain_exact, so it is written from that checkpoint rather than trained again.
            let rows = role.rows(&ds.train.samples);
            let twin = done.iter().find(|(r, _)| *r == rows).map(|(_, d)| d);
            let role_done =
                train_role(&a, role, twin, &cfg, &ds, &manifest_sha, choice, &device, &test_rows, &all_train)?;
            print_row(role, &role_done.metrics, role_done.seconds);
            results.push(role_done.model.clone());
            done.push((rows, role_done));
        }
        used.write_into(&a.out)?;
        // What the orchestrator and the report read (doppel-protocol), beside the role folders.
        doppel_stdx::write_atomic(
            &a.out.join(RESULT_FILE),
            TrainResult::new(std::mem::take(&mut results)).to_json().as_bytes(),
        )?;
        Ok(())
    })();
    if outcome.is_err() && created_out {
        // Only an empty folder goes; models that did land stay for the rerun to reuse.
        let _ = std::fs::remove_dir(&a.out);
    }
    outcome
}

/// One trained (or reused) model: what `result.json` records and what the table prints.
struct RoleDone {
    model: TrainedModel,
    metrics: ModelMetrics,
    seconds: f64,
}

/// Trains (or reuses) one role's model and writes its folder `OUT/<role>/`: checkpoint, sidecar and predictions.
/// With `twin`, a model this call made from the same rows, the folder is the twin's files under this role.
#[allow(clippy::too_many_arguments)]
fn train_role(
    a: &TrainArgs,
    role: Role,
    twin: Option<&RoleDone>,
    cfg: &TrainConfig,
    ds: &store::DatasetDir,
    manifest_sha: &str,
    choice: DeviceChoice,
    device: &doppel_models::Device,
    test_rows: &[usize],
    all_train: &[usize],
) -> anyhow::Result<RoleDone> {
    let dir = a.out.join(role.name());
    let rows = role.rows(&ds.train.samples);
    let (mean, std) = channel_stats(&ds.train.data, &rows);
    let spec = ModelSpec {
        arch: cfg.model.clone(),
        input: ds.train.data.shape(),
        classes: ds.train.data.class_names().len(),
        mean,
        std,
    };
    let seeds = TrainSeeds::from_master(cfg.seed);
    let bs = 512;
    let predict_into = |net: &_, folder: &Path| -> anyhow::Result<(Predictions, Predictions)> {
        let train_pred = infer::predict(net, &spec, &ds.train.data, all_train, bs, device)?;
        let test_pred = infer::predict(net, &spec, &ds.test.data, test_rows, bs, device)?;
        write_outputs(&train_pred, &ds.train.samples, &folder.join("outputs_train.parquet"))?;
        write_outputs(&test_pred, &ds.test.samples, &folder.join("outputs_test.parquet"))?;
        Ok((train_pred, test_pred))
    };
    let weights = dir.join("model.safetensors");
    let (seconds, trained_rows, reused, (train_pred, test_pred)) =
        match (reusable(&weights, &spec, cfg, seeds, manifest_sha, choice, a.force), twin) {
            (Some(side), _) => {
                tracing::info!(role = role.name(), "checkpoint of this config exists; reusing it (--force retrains)");
                let net = checkpoint::load(&weights, &side.spec, device)?;
                (side.report.seconds, side.report.rows, true, predict_into(&net, &dir)?)
            }
            (None, Some(twin)) => {
                let from = a.out.join(twin.model.role.name());
                tracing::info!(
                    role = role.name(),
                    same_as = twin.model.role.name(),
                    "the same rows, recipe and seeds as an earlier model of this call; writing its checkpoint"
                );
                let staged = doppel_stdx::fs::StagedDir::begin(&dir)?;
                checkpoint::copy_as(
                    &from.join("model.safetensors"),
                    &staged.path().join("model.safetensors"),
                    role.name(),
                )?;
                for file in ["outputs_train.parquet", "outputs_test.parquet"] {
                    let (src, dst) = (from.join(file), staged.path().join(file));
                    std::fs::copy(&src, &dst)
                        .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
                }
                staged.commit()?;
                let model = TrainedModel { role, ..twin.model.clone() };
                return Ok(RoleDone { model, metrics: twin.metrics, seconds: 0.0 });
            }
            (None, None) => {
                tracing::info!(role = role.name(), rows = rows.len(), arch = cfg.model.name(), "training");
                let staged = doppel_stdx::fs::StagedDir::begin(&dir)?;
                let (net, report) =
                    doppel_models::train::train(&spec, &cfg.recipe(), &ds.train.data, &rows, seeds, device, |_| {})?;
                let (seconds, trained_rows) = (report.seconds, report.rows);
                let side = Sidecar {
                    role: role.name().into(),
                    spec: spec.clone(),
                    recipe: cfg.recipe(),
                    seeds,
                    dataset_manifest_sha256: manifest_sha.to_string(),
                    report,
                    device: choice.name().into(),
                    doppel_version: env!("CARGO_PKG_VERSION").into(),
                };
                checkpoint::save(&net, &staged.path().join("model.safetensors"), &side)?;
                let preds = predict_into(&net, staged.path())?;
                staged.commit()?;
                (seconds, trained_rows, false, preds)
            }
        };
    let metrics = metrics(&train_pred, &test_pred, &ds.train.samples);
    Ok(RoleDone { model: TrainedModel { role, rows: trained_rows, reused, metrics }, metrics, seconds })
}

/// The sidecar of an existing checkpoint trained from exactly this config, data, seed and device.
fn reusable(
    weights: &Path,
    spec: &ModelSpec,
    cfg: &TrainConfig,
    seeds: TrainSeeds,
    manifest_sha: &str,
    device: DeviceChoice,
    force: bool,
) -> Option<Sidecar> {
    if force || !weights.exists() {
        return None;
    }
    let side = checkpoint::read_sidecar(weights).ok()?;
    (side.spec == *spec
        && side.recipe == cfg.recipe()
        && side.seeds == seeds
        && side.dataset_manifest_sha256 == manifest_sha
        && side.device == device.name())
    .then_some(side)
}

fn write_outputs(p: &Predictions, samples: &[SampleInfo], path: &Path) -> anyhow::Result<()> {
    let ids: Vec<u32> = samples.iter().map(|s| s.id).collect();
    let origins: Vec<&str> = samples.iter().map(|s| s.origin.name()).collect();
    infer::write_parquet(p, &ids, &origins, path)?;
    Ok(())
}

/// Accuracy on test, F, S and R and the mean true-class probability on F; `None` for an empty set.
fn metrics(train: &Predictions, test: &Predictions, samples: &[SampleInfo]) -> ModelMetrics {
    use doppel_data::lineage::{forget_rows, retain_rows, similar_rows};
    let (f, s, r) = (forget_rows(samples), similar_rows(samples), retain_rows(samples));
    let finite = |v: f64| Some(v).filter(|v| !v.is_nan());
    let conf = |rows: &[usize]| {
        (!rows.is_empty()).then(|| rows.iter().map(|&i| train.confidence[i]).sum::<f64>() / rows.len() as f64)
    };
    ModelMetrics {
        test_acc: finite(test.accuracy(None)),
        forget_acc: finite(train.accuracy(Some(&f))),
        forget_conf: conf(&f),
        similar_acc: finite(train.accuracy(Some(&s))),
        retain_acc: finite(train.accuracy(Some(&r))),
    }
}

/// One row of the table `doppel train` prints: percentages, `-` for an empty set.
fn print_row(role: Role, m: &ModelMetrics, seconds: f64) {
    let pct = |v: Option<f64>| v.map_or_else(|| "   -  ".to_string(), |v| format!("{:6.2}", 100.0 * v));
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10.1}",
        role.name(),
        pct(m.test_acc),
        pct(m.forget_acc),
        pct(m.forget_conf),
        pct(m.similar_acc),
        pct(m.retain_acc),
        seconds
    );
}

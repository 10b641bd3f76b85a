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
    let mut summary = Vec::new();
    let mut results = Vec::new();
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "model", "test%", "F acc%", "F conf%", "S acc%", "R acc%", "train s"
    );
    for role in roles {
        let dir = a.out.join(role.name());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
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
        let weights = dir.join("model.safetensors");
        let net = match reusable(&weights, &spec, &cfg, seeds, &manifest_sha, choice, a.force) {
            Some(side) => {
                tracing::info!(role = role.name(), "checkpoint of this config exists; reusing it (--force retrains)");
                let net = checkpoint::load(&weights, &side.spec, &device)?;
                summary.push((role, side.report.seconds, side.report.rows, true));
                net
            }
            None => {
                tracing::info!(role = role.name(), rows = rows.len(), arch = cfg.model.name(), "training");
                let (net, report) =
                    doppel_models::train::train(&spec, &cfg.recipe(), &ds.train.data, &rows, seeds, &device, |_| {})?;
                summary.push((role, report.seconds, report.rows, false));
                let side = Sidecar {
                    role: role.name().into(),
                    spec: spec.clone(),
                    recipe: cfg.recipe(),
                    seeds,
                    dataset_manifest_sha256: manifest_sha.clone(),
                    report,
                    device: choice.name().into(),
                    doppel_version: env!("CARGO_PKG_VERSION").into(),
                };
                checkpoint::save(&net, &weights, &side)?;
                net
            }
        };
        let bs = 512;
        let train_pred = infer::predict(&net, &spec, &ds.train.data, &all_train, bs, &device)?;
        let test_pred = infer::predict(&net, &spec, &ds.test.data, &test_rows, bs, &device)?;
        write_outputs(&train_pred, &ds.train.samples, &dir.join("outputs_train.parquet"))?;
        write_outputs(&test_pred, &ds.test.samples, &dir.join("outputs_test.parquet"))?;
        let (seconds, trained_rows, reused) = summary.last().map_or((0.0, 0, false), |s| (s.1, s.2, s.3));
        let metrics = metrics(&train_pred, &test_pred, &ds.train.samples);
        print_row(role, &metrics, seconds);
        results.push(TrainedModel { role, rows: trained_rows, reused, metrics });
    }
    used.write_into(&a.out)?;
    // What the orchestrator and the report read (doppel-protocol), beside the role folders.
    doppel_stdx::write_atomic(&a.out.join(RESULT_FILE), TrainResult::new(results).to_json().as_bytes())?;
    Ok(())
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

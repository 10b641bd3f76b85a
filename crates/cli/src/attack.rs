//! `doppel attack`: reconstruct the targets from each given model (doppel-attack's KKT training-set
//! reconstruction and the model-inversion baseline), score every target by SSIM with its two controls, write the
//! per-target table, PNG grids and the attack budget, and print a Markdown summary.
//!
//! ```text
//! OUT/
//!   scores.parquet, scores.csv        one row per (model, attack, target)
//!   grid_<attack>.png                 one row per target: target | best reconstruction of each model, in --model order
//!   candidates_<model>_<attack>.png   every reconstruction, one row per class
//!   attack.json                       the budget (m, steps, learning rates, λ_min, seed) and the inputs
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use doppel_attack::output::{self, ScoreRow};
use doppel_attack::{Attack, InversionConfig, KktConfig, Reconstructions, Victim, score};
use doppel_data::{hash, lineage, store};
use doppel_models::checkpoint::{self, Sidecar};
use doppel_models::{Arch, DeviceChoice};
use doppel_protocol::{AttackResult, CommandResult, TargetScore};

use crate::train::DeviceArg;

/// Arguments of `doppel attack`.
#[derive(Debug, Args)]
pub struct AttackArgs {
    /// The dataset directory the models were trained on (written by `doppel data build`); its targets are the
    /// images to reconstruct.
    #[arg(long)]
    dataset: PathBuf,
    /// A model to attack as NAME=CHECKPOINT_DIR, where the directory holds model.safetensors and model.json
    /// (e.g. `m0=runs/seed-1/m0`; the model.safetensors path works too). Repeat, or separate with commas; the
    /// grid's columns follow this order.
    #[arg(long = "model", required = true, num_args = 1.., value_delimiter = ',')]
    models: Vec<String>,
    /// The attacks: kkt (training-set reconstruction from the parameters; MLP only) and inversion
    /// (class-conditional model inversion, the weak baseline). Comma-separated for both.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "kkt")]
    attack: Vec<AttackKind>,
    /// KKT: number of candidates m, spread evenly over the classes (Haim et al. use m ≥ 2 × training samples).
    #[arg(long, default_value_t = 500)]
    candidates: usize,
    /// Adam steps of each attack.
    #[arg(long, default_value_t = 1500)]
    steps: usize,
    /// Seed of the KKT attack's initial candidates.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Adam learning rate of the pixels (both attacks; pixels in [0, 1]).
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// KKT: the lower bound of every coefficient λ_i, relative to the initial common scale.
    #[arg(long, default_value_t = 0.05)]
    lambda_min: f64,
    /// KKT: the sharpness s of the soft ReLU derivative sigmoid(s·h) in the attack's backward pass (larger is
    /// nearer the hard step, whose zero gradient almost everywhere stalls the candidates).
    #[arg(long, default_value_t = 20.0)]
    relu_sharpness: f64,
    /// Attack at most this many targets (the first by row); all when absent.
    #[arg(long)]
    targets: Option<usize>,
    /// Output directory; it must not exist unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists (the old directory is removed only after the new one is complete).
    #[arg(long)]
    force: bool,
    /// Where to run: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Go on (with a warning) when a model was trained on another dataset than --dataset (its sidecar's manifest
    /// sha256 differs); by default that is an error, since the targets attacked may not be the ones it saw.
    #[arg(long)]
    allow_other_dataset: bool,
}

/// The attacks the command line offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AttackKind {
    /// Training-set reconstruction from the parameters (Haim et al. 2022, Buzaglo et al. 2023).
    Kkt,
    /// Class-conditional model inversion with total-variation and L2 priors.
    Inversion,
}

/// One `--model` argument, resolved and checked against the dataset.
struct Model {
    name: String,
    weights: PathBuf,
    side: Sidecar,
}

/// The attack budget and inputs, written as attack.json.
#[derive(serde::Serialize)]
struct Budget<'a> {
    dataset: String,
    targets: usize,
    control_pool: &'static str,
    nearest_by: &'static str,
    models: Vec<(String, String)>,
    kkt: Option<&'a KktConfig>,
    inversion: Option<&'a InversionConfig>,
    doppel_version: &'static str,
}

/// Runs `doppel attack`.
pub fn run(a: AttackArgs) -> anyhow::Result<()> {
    if a.out.exists() && !a.force {
        bail!("{} already exists; choose another --out or pass --force", a.out.display());
    }
    let kinds = &a.attack;
    let kkt = kinds
        .contains(&AttackKind::Kkt)
        .then(|| {
            let mut c = KktConfig::new(a.candidates, a.steps, a.seed);
            c.lr = a.lr;
            c.lambda_min = a.lambda_min;
            c.relu_sharpness = a.relu_sharpness;
            c.validate()
        })
        .transpose()
        .map_err(|e| anyhow::anyhow!("--{}: {e}", flag_of(&e)))?;
    let inversion = kinds
        .contains(&AttackKind::Inversion)
        .then(|| {
            let mut c = InversionConfig::new(a.steps);
            c.lr = a.lr;
            c.validate()
        })
        .transpose()
        .map_err(|e| anyhow::anyhow!("--{}: {e}", flag_of(&e)))?;

    let ds = store::open(&a.dataset)?;
    let manifest_sha = hash::sha256_file(&a.dataset.join("manifest.json"))?;
    let mut targets = lineage::forget_rows(&ds.train.samples);
    if targets.is_empty() {
        bail!(
            "{}: the dataset has no targets (origin `target`); build it with [targets] count > 0",
            a.dataset.display()
        );
    }
    if let Some(n) = a.targets {
        if n == 0 {
            bail!("--targets is 0; attack at least one target or leave it out for all");
        }
        targets.truncate(n);
    }
    let models =
        resolve_models(&a.models, &a.dataset, &ds.manifest, &manifest_sha, kkt.is_some(), a.allow_other_dataset)?;

    let device = DeviceChoice::from(a.device).open()?;
    let train = &ds.train.data;
    let pool = lineage::retain_rows(&ds.train.samples);
    let controls = score::controls(train, &targets, &pool)?;
    let all_rows: Vec<usize> = (0..train.len()).collect();
    let mean_image = doppel_attack::mean_image(train, &all_rows);
    let attacks: Vec<&dyn Attack> =
        [kkt.as_ref().map(|k| k as &dyn Attack), inversion.as_ref().map(|i| i as &dyn Attack)]
            .into_iter()
            .flatten()
            .collect();

    let mut rows: Vec<ScoreRow> = Vec::new();
    let mut recons: Vec<(usize, Reconstructions, Vec<score::BestMatch>)> = Vec::new();
    let digests = models.iter().map(|m| hash::sha256_file(&m.weights)).collect::<Result<Vec<_>, _>>()?;
    for (mi, model) in models.iter().enumerate() {
        // The same weights and spec as an earlier model (retrain_clean where it is retrain_exact, k = 0): the
        // attacks are seeded per call, so its reconstructions and scores are that model's, taken over.
        if let Some(first) = (0..mi).find(|&e| digests[e] == digests[mi] && models[e].side.spec == model.side.spec) {
            let earlier = &models[first].name;
            tracing::info!(model = %model.name, same_as = %earlier, "the same weights as an earlier model; its reconstructions");
            let copied: Vec<ScoreRow> = rows
                .iter()
                .filter(|r| r.model == *earlier)
                .map(|r| ScoreRow { model: model.name.clone(), ..r.clone() })
                .collect();
            rows.extend(copied);
            let again: Vec<_> =
                recons.iter().filter(|(m, ..)| *m == first).map(|(_, r, b)| (mi, r.clone(), b.clone())).collect();
            recons.extend(again);
            continue;
        }
        let net = checkpoint::load(&model.weights, &model.side.spec, &device)
            .with_context(|| format!("--model {}", model.name))?;
        let victim = Victim { net: &net, spec: &model.side.spec, mean_image: &mean_image };
        for attack in &attacks {
            tracing::info!(model = %model.name, attack = attack.name(), "attacking");
            let recon = attack
                .reconstruct(&victim, &device)
                .with_context(|| format!("the {} attack on --model {}", attack.name(), model.name))?;
            let matches = score::best_matches(&recon, train, &targets)?;
            for ((&t, m), c) in targets.iter().zip(&matches).zip(&controls) {
                rows.push(ScoreRow {
                    model: model.name.clone(),
                    attack: attack.name().into(),
                    target_row: t as u32,
                    target_id: ds.train.samples[t].id,
                    class: train.labels()[t],
                    best_ssim: m.best_ssim,
                    best_index: m.best_index.map(|i| i as u32),
                    best_ssim_any: m.best_ssim_any,
                    best_index_any: m.best_index_any as u32,
                    class_mean_ssim: c.class_mean_ssim,
                    nearest_ssim: c.nearest_ssim,
                    nearest_id: c.nearest_row.map(|r| ds.train.samples[r].id),
                });
            }
            recons.push((mi, recon, matches));
        }
    }

    let mut files = Vec::new();
    let mut frame = output::frame(&rows)?;
    files.push(("scores.parquet".to_string(), output::parquet(&mut frame, "scores.parquet")?));
    files.push(("scores.csv".to_string(), output::csv(&rows).into_bytes()));
    let result = doppel_protocol::tagged!(AttackResult {
        scores: rows
            .iter()
            .map(|r| TargetScore {
                model: r.model.clone(),
                attack: r.attack.clone(),
                target_row: r.target_row,
                target_id: r.target_id,
                class: r.class,
                best_ssim: r.best_ssim,
                class_mean_ssim: r.class_mean_ssim,
                nearest_ssim: r.nearest_ssim,
            })
            .collect(),
    });
    files.push((doppel_protocol::results::RESULT_FILE.to_string(), result.to_json().into_bytes()));
    let shape = train.shape();
    let unit = |pixels: &[u8]| -> Vec<f32> { pixels.iter().map(|&p| f32::from(p) / 255.0).collect() };
    for attack in &attacks {
        let mut cells: Vec<Vec<Option<Vec<f32>>>> = targets.iter().map(|&t| vec![Some(unit(train.image(t)))]).collect();
        for (_, recon, matches) in recons.iter().filter(|(_, r, _)| r.attack == attack.name()) {
            for (row, m) in cells.iter_mut().zip(matches) {
                row.push(m.best_index.map(|i| recon.image(i).to_vec()));
            }
        }
        let name = format!("grid_{}.png", attack.name());
        let png = output::png(&output::grid(&cells, shape), &name)?;
        files.push((name, png));
    }
    for (mi, recon, _) in &recons {
        let k = ds.manifest.class_names.len();
        let per_class = recon.len().div_ceil(k);
        let cells: Vec<Vec<Option<Vec<f32>>>> = (0..k as u32)
            .map(|c| {
                (0..recon.len())
                    .filter(|&i| recon.labels[i] == c)
                    .take(per_class.min(64))
                    .map(|i| Some(recon.image(i).to_vec()))
                    .collect()
            })
            .collect();
        let name = format!("candidates_{}_{}.png", models[*mi].name, recon.attack);
        let png = output::png(&output::grid(&cells, shape), &name)?;
        files.push((name, png));
    }
    let budget = Budget {
        dataset: a.dataset.display().to_string(),
        targets: targets.len(),
        control_pool: "retain set R (base samples of the target's class)",
        nearest_by: "L2 pixel distance",
        models: models.iter().map(|m| (m.name.clone(), m.weights.display().to_string())).collect(),
        kkt: kkt.as_ref().map(|k| k.config()),
        inversion: inversion.as_ref().map(|i| i.config()),
        doppel_version: env!("CARGO_PKG_VERSION"),
    };
    files.push(("attack.json".to_string(), (serde_json::to_string_pretty(&budget)? + "\n").into_bytes()));
    output::write_dir(&a.out, a.force, &files)?;
    print_markdown(&ds.manifest.name, &a.dataset, targets.len(), &models, &attacks, &rows);
    Ok(())
}

/// The command-line flag of a config error's field.
fn flag_of(e: &doppel_attack::AttackError) -> &'static str {
    match e {
        doppel_attack::AttackError::Config { field: "lambda_min", .. } => "lambda-min",
        doppel_attack::AttackError::Config { field: "relu_sharpness", .. } => "relu-sharpness",
        doppel_attack::AttackError::Config { field, .. } => field,
        _ => "attack",
    }
}

/// Parses `NAME=DIR` arguments, finds each checkpoint and checks it against the dataset.
fn resolve_models(
    args: &[String],
    dataset: &Path,
    manifest: &store::Manifest,
    manifest_sha: &str,
    kkt: bool,
    allow_other_dataset: bool,
) -> anyhow::Result<Vec<Model>> {
    let mut models: Vec<Model> = Vec::with_capacity(args.len());
    for arg in args {
        let Some((name, dir)) = arg.split_once('=').filter(|(n, d)| !n.is_empty() && !d.is_empty()) else {
            bail!("--model {arg:?}: write NAME=CHECKPOINT_DIR, e.g. m0=runs/seed-1/m0");
        };
        if models.iter().any(|m| m.name == name) {
            bail!("--model: two models are named {name:?}; give each its own name");
        }
        let dir = Path::new(dir);
        let weights = if dir.extension().is_some_and(|e| e == "safetensors") {
            dir.to_path_buf()
        } else {
            dir.join("model.safetensors")
        };
        if !weights.is_file() {
            bail!(
                "--model {name}: {} does not exist; pass a directory written by `doppel train` (e.g. RUN/m0)",
                weights.display()
            );
        }
        let side = checkpoint::read_sidecar(&weights).with_context(|| format!("--model {name}"))?;
        let sidecar = checkpoint::sidecar_path(&weights);
        if side.spec.input != manifest.shape {
            bail!(
                "{}: `spec.input` is {:?}, but the dataset's images are {:?}; pass the dataset the model was trained on",
                sidecar.display(),
                side.spec.input,
                manifest.shape
            );
        }
        if side.spec.classes != manifest.class_names.len() {
            bail!(
                "{}: `spec.classes` is {}, but the dataset has {} classes; pass the dataset the model was trained on",
                sidecar.display(),
                side.spec.classes,
                manifest.class_names.len()
            );
        }
        if kkt && !matches!(side.spec.arch, Arch::Mlp { .. }) {
            bail!(
                "{}: `spec.arch` is {}; the kkt attack is not supported for this arch (mlp only); use --attack inversion",
                sidecar.display(),
                side.spec.arch.name()
            );
        }
        crate::provenance::same_dataset(
            &sidecar,
            &side.dataset_manifest_sha256,
            dataset,
            manifest_sha,
            Some(allow_other_dataset),
        )
        .with_context(|| format!("--model {name}"))?;
        models.push(Model { name: name.to_string(), weights, side });
    }
    Ok(models)
}

/// `mean ± sample std` of `values` (just the mean for one value, `–` for none).
fn cell(values: &[f64]) -> String {
    match doppel_report::mean_std_sample(&values.iter().map(|&v| Some(v)).collect::<Vec<_>>()) {
        (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
        (Some(m), None) => format!("{m:.4}"),
        _ => "–".into(),
    }
}

/// The Markdown summary: one row per model and attack, mean ± sample std over targets.
fn print_markdown(
    name: &str,
    dataset: &Path,
    targets: usize,
    models: &[Model],
    attacks: &[&dyn Attack],
    rows: &[ScoreRow],
) {
    println!("dataset {name} ({}): {targets} target(s); SSIM, mean ± std over targets", dataset.display());
    println!();
    println!("| model | attack | best SSIM (class) | best SSIM (any) | class-mean SSIM | nearest non-target SSIM |");
    println!("|---|---|---:|---:|---:|---:|");
    for m in models {
        for attack in attacks {
            let sel: Vec<&ScoreRow> = rows.iter().filter(|r| r.model == m.name && r.attack == attack.name()).collect();
            let best: Vec<f64> = sel.iter().filter_map(|r| r.best_ssim).collect();
            let any: Vec<f64> = sel.iter().map(|r| r.best_ssim_any).collect();
            let mean: Vec<f64> = sel.iter().filter_map(|r| r.class_mean_ssim).collect();
            let near: Vec<f64> = sel.iter().filter_map(|r| r.nearest_ssim).collect();
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                m.name,
                attack.name(),
                cell(&best),
                cell(&any),
                cell(&mean),
                cell(&near)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_mean_and_sample_std() {
        // numpy: np.std([0.25, 0.75], ddof=1) = 0.35355339
        assert_eq!(cell(&[0.25, 0.75]), "0.5000 ± 0.3536");
        assert_eq!(cell(&[0.25]), "0.2500");
        assert_eq!(cell(&[]), "–");
    }
}

//! The training loop: minibatch SGD (momentum) or Adam, weight decay, a learning-rate schedule, seeded order.
//!
//! No burn-train `Learner`: the loop is short, logs per epoch through tracing, and stops with
//! [`ModelError::Diverged`] the moment the loss is not finite. With the same [`Recipe`], rows and seeds, the
//! weights are bit-identical on `flex`: the initial weights come from the device seed, the batch order and the
//! augmentations from ChaCha streams derived from the order seed.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig};
use burn::prelude::*;
use doppel_data::{Dataset, seed};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::arch::{ModelSpec, Net};
use crate::error::{ModelError, Result};

/// The optimiser and its settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// SGD with heavy-ball momentum, PyTorch semantics (dampening 0; burn's default is 0.1).
    Sgd {
        /// Base learning rate.
        lr: f64,
        /// Momentum, in [0, 1).
        momentum: f64,
        /// L2 weight decay added to the gradient.
        weight_decay: f64,
    },
    /// Adam (Kingma & Ba 2015) with β = (0.9, 0.999), ε = 1e-8.
    Adam {
        /// Base learning rate.
        lr: f64,
        /// L2 weight decay added to the gradient.
        weight_decay: f64,
    },
}

impl OptimizerSpec {
    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerSpec::Sgd { lr, .. } | OptimizerSpec::Adam { lr, .. } => *lr,
        }
    }

    /// A fresh optimiser.
    pub fn init(&self) -> ModuleOptimizer {
        let decay = |wd: f64| (wd > 0.0).then(|| WeightDecayConfig::new(wd as f32));
        match *self {
            OptimizerSpec::Sgd { momentum, weight_decay, .. } => {
                SgdConfig::new()
                    .with_momentum((momentum > 0.0).then(|| {
                        MomentumConfig::new().with_momentum(momentum).with_dampening(0.0).with_nesterov(false)
                    }))
                    .with_weight_decay(decay(weight_decay))
                    .init()
            }
            OptimizerSpec::Adam { weight_decay, .. } => AdamConfig::new().with_weight_decay(decay(weight_decay)).init(),
        }
    }
}

/// How the learning rate changes over training.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between drops.
        every: usize,
        /// Factor per drop, in (0, 1].
        gamma: f64,
    },
    /// Cosine annealing from the base rate to 0 over all steps (Loshchilov & Hutter 2017, no restarts).
    Cosine,
}

impl Schedule {
    /// Learning rate at `step` (0-based, counted over all epochs) of `total` steps, in epoch `epoch` (0-based).
    pub fn lr(&self, base: f64, epoch: usize, step: usize, total: usize) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total.max(1) as f64).cos()),
        }
    }
}

/// Data augmentation applied on the host while a batch is assembled (training only).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Random crop after zero-padding by this many pixels (0 = off); the CIFAR-10 standard is 4.
    #[serde(default)]
    pub crop_pad: usize,
    /// Random horizontal flip with probability 1/2.
    #[serde(default)]
    pub flip: bool,
}

/// A training recipe: shared by M0 and both oracles so they differ only in their rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: OptimizerSpec,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Host-side augmentation.
    #[serde(default)]
    pub augment: Augment,
}

impl Recipe {
    /// Checks every range; `context` names the recipe in errors.
    pub fn validate(&self, context: &str) -> Result<()> {
        let bad =
            |field: &str, problem: String| ModelError::Config { context: context.into(), field: field.into(), problem };
        if self.epochs == 0 {
            return Err(bad("epochs", "is 0; it must be at least 1".into()));
        }
        if self.batch_size == 0 {
            return Err(bad("batch_size", "is 0; it must be at least 1".into()));
        }
        let lr = self.optimizer.lr();
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(bad("optimizer.lr", format!("is {lr}; it must be a positive number")));
        }
        let (momentum, wd) = match self.optimizer {
            OptimizerSpec::Sgd { momentum, weight_decay, .. } => (momentum, weight_decay),
            OptimizerSpec::Adam { weight_decay, .. } => (0.0, weight_decay),
        };
        if !(0.0..1.0).contains(&momentum) {
            return Err(bad("optimizer.momentum", format!("is {momentum}; it must be in [0, 1)")));
        }
        if !(wd >= 0.0 && wd.is_finite()) {
            return Err(bad("optimizer.weight_decay", format!("is {wd}; it must be 0 or more")));
        }
        if let Schedule::Step { every, gamma } = self.schedule {
            if every == 0 {
                return Err(bad("schedule.every", "is 0; it must be at least 1".into()));
            }
            if !(gamma > 0.0 && gamma <= 1.0) {
                return Err(bad("schedule.gamma", format!("is {gamma}; it must be in (0, 1]")));
            }
        }
        Ok(())
    }
}

/// Seeds of one training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrainSeeds {
    /// Device seed set before the weights are initialised.
    pub init: u64,
    /// Root of the batch-order and augmentation streams.
    pub order: u64,
}

impl TrainSeeds {
    /// Derives both from a master seed.
    pub fn from_master(master: u64) -> Self {
        TrainSeeds { init: seed::derive(master, "init", 0), order: seed::derive(master, "order", 0) }
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean minibatch loss.
    pub loss: f64,
    /// Training accuracy over the epoch's minibatches (on augmented inputs when augmenting).
    pub accuracy: f64,
    /// Learning rate at the epoch's first step.
    pub lr: f64,
    /// Wall seconds.
    pub seconds: f64,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainReport {
    /// Rows trained on.
    pub rows: usize,
    /// One entry per epoch.
    pub epochs: Vec<EpochLog>,
    /// Wall seconds in all.
    pub seconds: f64,
    /// Training samples per second over the run.
    pub samples_per_second: f64,
}

/// Trains a fresh network of `spec` on `rows` of `data` with `recipe`. `device` is a plain device; autodiff is
/// added here. The returned network is on the plain device, ready for inference.
///
/// `on_batch` sees the rows of every batch before it is used — tests use it to prove what a model saw.
pub fn train(
    spec: &ModelSpec,
    recipe: &Recipe,
    data: &Dataset,
    rows: &[usize],
    seeds: TrainSeeds,
    device: &Device,
    on_batch: impl FnMut(&[usize]),
) -> Result<(Net, TrainReport)> {
    spec.validate()?;
    let ad = device.clone().autodiff();
    ad.seed(seeds.init);
    let net = spec.init(&ad);
    train_from(net, spec, recipe, data, rows, seeds, device, on_batch)
}

/// Like [`train`], from a given network instead of fresh weights (`seeds.init` is then unused). The network
/// must live on `device` with autodiff (`device.clone().autodiff()`).
#[allow(clippy::too_many_arguments)]
pub fn train_from(
    mut net: Net,
    spec: &ModelSpec,
    recipe: &Recipe,
    data: &Dataset,
    rows: &[usize],
    seeds: TrainSeeds,
    device: &Device,
    mut on_batch: impl FnMut(&[usize]),
) -> Result<(Net, TrainReport)> {
    spec.validate()?;
    recipe.validate("recipe")?;
    if rows.is_empty() {
        return Err(ModelError::Config {
            context: "training".into(),
            field: "rows".into(),
            problem: "is empty".into(),
        });
    }
    let ad = device.clone().autodiff();
    let mut optim = recipe.optimizer.init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let steps = rows.len().div_ceil(recipe.batch_size);
    let total = steps * recipe.epochs;
    let started = std::time::Instant::now();
    let mut logs = Vec::with_capacity(recipe.epochs);
    let mut order: Vec<usize> = rows.to_vec();
    for epoch in 0..recipe.epochs {
        let t0 = std::time::Instant::now();
        order.copy_from_slice(rows);
        order.shuffle(&mut seed::rng(seeds.order, "epoch", epoch as u64));
        let mut aug_rng = seed::rng(seeds.order, "augment", epoch as u64);
        let mut loss_sum = Tensor::<1>::zeros([1], &ad.clone().without_autodiff());
        let mut correct_sum = Tensor::<1, Int>::zeros([1], &ad.clone().without_autodiff());
        let lr0 = recipe.schedule.lr(recipe.optimizer.lr(), epoch, epoch * steps, total);
        for (step, batch) in order.chunks(recipe.batch_size).enumerate() {
            on_batch(batch);
            let lr = recipe.schedule.lr(recipe.optimizer.lr(), epoch, epoch * steps + step, total);
            let pixels = gather(data, batch, recipe.augment, &mut aug_rng);
            let x = spec.input_tensor(&pixels, batch.len(), &ad);
            let y = labels_tensor(data, batch, &ad);
            let logits = net.forward(x);
            let loss = loss_fn.forward(logits.clone(), y.clone());
            let plain_loss = loss.clone().detach().without_autodiff();
            let correct = logits.detach().argmax(1).reshape([batch.len()]).equal(y).int().sum().without_autodiff();
            loss_sum = loss_sum + plain_loss.clone().reshape([1]) * batch.len() as f32;
            correct_sum = correct_sum + correct.reshape([1]);
            // Reading the loss synchronises the device; every 20 steps catches divergence early enough.
            if step % 20 == 0 || step + 1 == steps {
                let l: f32 = plain_loss.into_scalar();
                if !l.is_finite() {
                    return Err(ModelError::Diverged { epoch: epoch + 1, step: step + 1, loss: l });
                }
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(lr, net, grads);
        }
        let loss = f64::from(loss_sum.into_scalar::<f32>()) / rows.len() as f64;
        let accuracy = correct_sum.into_scalar::<i64>() as f64 / rows.len() as f64;
        if !loss.is_finite() {
            return Err(ModelError::Diverged { epoch: epoch + 1, step: steps, loss: loss as f32 });
        }
        let log = EpochLog { epoch: epoch + 1, loss, accuracy, lr: lr0, seconds: t0.elapsed().as_secs_f64() };
        tracing::info!(
            epoch = log.epoch,
            of = recipe.epochs,
            loss = format!("{:.4}", log.loss),
            train_acc = format!("{:.4}", log.accuracy),
            lr = format!("{:.2e}", log.lr),
            seconds = format!("{:.1}", log.seconds),
            "epoch"
        );
        logs.push(log);
    }
    let seconds = started.elapsed().as_secs_f64();
    let report = TrainReport {
        rows: rows.len(),
        epochs: logs,
        seconds,
        samples_per_second: (rows.len() * recipe.epochs) as f64 / seconds.max(1e-9),
    };
    Ok((net.valid(), report))
}

/// The pixels of `rows`, augmented when asked.
fn gather(data: &Dataset, rows: &[usize], aug: Augment, rng: &mut impl Rng) -> Vec<u8> {
    let shape = data.shape();
    let mut out = Vec::with_capacity(rows.len() * shape.len());
    for &r in rows {
        let img = data.image(r);
        if aug == Augment::default() {
            out.extend_from_slice(img);
            continue;
        }
        let p = aug.crop_pad as i64;
        let (dy, dx) = if p > 0 { (rng.random_range(-p..=p), rng.random_range(-p..=p)) } else { (0, 0) };
        let flip = aug.flip && rng.random_bool(0.5);
        let (h, w) = (shape.height as i64, shape.width as i64);
        for c in 0..shape.channels {
            let plane = &img[c * shape.height * shape.width..(c + 1) * shape.height * shape.width];
            for y in 0..h {
                for x in 0..w {
                    let sx = if flip { w - 1 - x } else { x } + dx;
                    let sy = y + dy;
                    let v =
                        if (0..h).contains(&sy) && (0..w).contains(&sx) { plane[(sy * w + sx) as usize] } else { 0 };
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Labels of `rows` as an `Int` tensor `[B]`.
pub fn labels_tensor(data: &Dataset, rows: &[usize], device: &Device) -> Tensor<1, Int> {
    let y: Vec<i64> = rows.iter().map(|&r| i64::from(data.labels()[r])).collect();
    Tensor::from_data(TensorData::new(y, [rows.len()]), device)
}

/// Per-channel mean and standard deviation of `pixel / 255` over `rows`.
pub fn channel_stats(data: &Dataset, rows: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let shape = data.shape();
    let plane = shape.height * shape.width;
    let mut sum = vec![0f64; shape.channels];
    let mut sq = vec![0f64; shape.channels];
    for &r in rows {
        for (c, chunk) in data.image(r).chunks(plane).enumerate() {
            for &p in chunk {
                let v = f64::from(p) / 255.0;
                sum[c] += v;
                sq[c] += v * v;
            }
        }
    }
    let n = (rows.len() * plane).max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std = sq.iter().zip(&mean).map(|(q, m)| ((q / n - m * m).max(0.0).sqrt()).max(1e-3) as f32).collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(Schedule::Constant.lr(0.1, 5, 50, 100), 0.1);
        assert!((Schedule::Step { every: 2, gamma: 0.5 }.lr(0.1, 5, 0, 0) - 0.025).abs() < 1e-12);
        assert!((Schedule::Cosine.lr(0.1, 0, 0, 100) - 0.1).abs() < 1e-12);
        assert!((Schedule::Cosine.lr(0.1, 0, 50, 100) - 0.05).abs() < 1e-12);
        assert!(Schedule::Cosine.lr(0.1, 0, 100, 100).abs() < 1e-12);
    }

    #[test]
    fn recipe_validation_names_the_field() {
        let mut r = Recipe {
            epochs: 1,
            batch_size: 8,
            optimizer: OptimizerSpec::Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.0 },
            schedule: Schedule::Constant,
            augment: Augment::default(),
        };
        r.validate("r").unwrap();
        r.optimizer = OptimizerSpec::Sgd { lr: 0.1, momentum: 1.0, weight_decay: 0.0 };
        assert_eq!(r.validate("r").unwrap_err().to_string(), "r: `optimizer.momentum` is 1; it must be in [0, 1)");
        r.optimizer = OptimizerSpec::Adam { lr: -1.0, weight_decay: 0.0 };
        assert!(r.validate("r").unwrap_err().to_string().contains("`optimizer.lr` is -1"));
        r.optimizer = OptimizerSpec::Adam { lr: 1e-3, weight_decay: 0.0 };
        r.epochs = 0;
        assert!(r.validate("r").unwrap_err().to_string().contains("`epochs` is 0"));
    }

    #[test]
    fn augmentation_flips_and_shifts() {
        let d = Dataset::new(
            "t",
            doppel_data::Split::Train,
            doppel_data::ImageShape::grey(1, 3),
            vec![1, 2, 3],
            vec![0],
            vec!["a".into(), "b".into()],
        )
        .unwrap();
        let mut rng = seed::rng(0, "t", 0);
        let seen: std::collections::BTreeSet<Vec<u8>> =
            (0..50).map(|_| gather(&d, &[0], Augment { crop_pad: 0, flip: true }, &mut rng)).collect();
        assert_eq!(seen, [vec![1, 2, 3], vec![3, 2, 1]].into_iter().collect());
        let plain = gather(&d, &[0], Augment::default(), &mut rng);
        assert_eq!(plain, vec![1, 2, 3]);
    }
}

/// A training config file: the network, the master seed and the recipe.
///
/// ```toml
/// seed = 42
/// epochs = 10
/// batch_size = 128
/// [model]
/// arch = "mlp"            # mlp (hidden) | cnn (channels, hidden) | resnet (widths)
/// hidden = [256, 128]
/// [optimizer]
/// kind = "sgd"            # sgd (lr, momentum, weight_decay) | adam (lr, weight_decay)
/// lr = 0.05
/// momentum = 0.9
/// weight_decay = 5e-4
/// [schedule]
/// kind = "cosine"         # constant | step (every, gamma) | cosine
/// [augment]               # optional
/// crop_pad = 4
/// flip = true
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The master seed of training (init and order derive from it).
    pub seed: u64,
    /// Passes over the data.
    pub epochs: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// The network.
    pub model: crate::arch::Arch,
    /// The optimiser.
    pub optimizer: OptimizerSpec,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Host-side augmentation.
    #[serde(default)]
    pub augment: Augment,
}

impl TrainConfig {
    /// Parses and checks a TOML training config; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| ModelError::Config {
            context: doppel_stdx::config::located(file, text, e.span()),
            field: "toml".into(),
            problem: e.message().replace('\n', " "),
        })?;
        cfg.recipe().validate(file)?;
        Ok(cfg)
    }

    /// Reads and checks a TOML training config file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(ModelError::io("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The recipe part.
    pub fn recipe(&self) -> Recipe {
        Recipe {
            epochs: self.epochs,
            batch_size: self.batch_size,
            optimizer: self.optimizer.clone(),
            schedule: self.schedule.clone(),
            augment: self.augment,
        }
    }
}

//! Boundary Unlearning (Chen, Gao, Liu, Peng & Wang 2023, "Boundary Unlearning: Rapid Forgetting of Deep
//! Networks via Shifting the Decision Space", CVPR): Boundary Shrink moves each forget sample to its nearest wrong
//! class; Boundary Expanding trains the forget samples into an extra "shadow" class and then removes it.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use doppel_data::{Dataset, seed};
use doppel_models::train::labels_tensor;
use doppel_models::{Arch, Net};
use rand::Rng;

use crate::budget::{Budget, Cycle};
use crate::engine::{Engine, Sides, pixels, run_gradient, unlearned};
use crate::error::{Result, UnlearnError};
use crate::methods::gradient::FORGET_ORDER;
use crate::methods::unlearner;
use crate::methods::{check_positive, check_sgd};
use crate::sgd::Sgd;
use crate::unlearner::{Original, RunContext, Status, View};

/// Boundary Shrink (Chen et al. 2023, CVPR). For every forget sample, one FGSM step on the original model
/// (`x' = clip(x + ε·sign ∇ₓ CE(f₀(x), y), 0, 1)`, ε in units of the `[0, 1]` pixel scale, before input
/// normalisation) finds the "nearest" label: the original's prediction on `x'`, `argmax_c f₀(x')_c`, as the
/// reference code takes it — the true label again when the attack fails ([`adversarial_labels`]). Labels are
/// fixed once (the attacked model is the unchanging original); then the forget side is fine-tuned with CE to
/// those labels. Canonical: ε 0.1, 10 epochs, SGD lr 1e-5, momentum 0.9, no weight decay (the paper's FGSM bound
/// and the optimiser of its reference code) — 360 steps over |F| = 4,500 at batch 128. The batch size is not
/// part of the method; 128 as for the other methods here.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoundaryShrinkConfig {
    /// FGSM step ε on the `[0, 1]` pixel scale.
    pub epsilon: f64,
    /// Work on the forget side (canonical: 360 steps, the forget side cycled).
    pub forget: Budget,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Minibatch size (attack and fine-tuning).
    pub batch_size: usize,
}

impl Default for BoundaryShrinkConfig {
    fn default() -> Self {
        BoundaryShrinkConfig {
            epsilon: 0.1,
            forget: Budget::Steps(360),
            lr: 1e-5,
            momentum: 0.9,
            weight_decay: 0.0,
            batch_size: 128,
        }
    }
}

/// Boundary Expanding (Chen et al. 2023, CVPR). The head is widened by one shadow class: the existing classes'
/// weights are copied, the shadow row is drawn like a fresh PyTorch `nn.Linear` row, `U(−1/√F, 1/√F)` for each
/// weight and the bias, from the run's stream `unlearn/shadow-class` ([`shadow_row`]). The widened network is
/// fine-tuned with CE of the forget side to the shadow class, then the shadow row is dropped, so the result has
/// the original's shape. Canonical: 10 epochs, SGD lr 1e-5, momentum 0.9, no weight decay (the paper's reference
/// code) — 360 steps over |F| = 4,500 at batch 128. The batch size is not part of the method; 128 as for the
/// other methods here.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoundaryExpandingConfig {
    /// Work on the forget side (canonical: 360 steps, the forget side cycled).
    pub forget: Budget,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Minibatch size.
    pub batch_size: usize,
}

impl Default for BoundaryExpandingConfig {
    fn default() -> Self {
        BoundaryExpandingConfig {
            forget: Budget::Steps(360),
            lr: 1e-5,
            momentum: 0.9,
            weight_decay: 0.0,
            batch_size: 128,
        }
    }
}

/// Boundary Shrink, checked. See [`BoundaryShrinkConfig`].
#[derive(Debug, Clone)]
pub struct BoundaryShrink {
    cfg: BoundaryShrinkConfig,
}

impl BoundaryShrink {
    /// Checks `cfg` into a runnable method.
    pub fn new(cfg: BoundaryShrinkConfig) -> Result<Self> {
        let c = &cfg;
        check_sgd("boundary_shrink", c.lr, c.momentum, c.weight_decay, c.batch_size)?;
        c.forget.check("boundary_shrink", "forget")?;
        check_positive("boundary_shrink", "epsilon", c.epsilon)?;
        Ok(BoundaryShrink { cfg })
    }

    /// The checked settings.
    pub fn config(&self) -> &BoundaryShrinkConfig {
        &self.cfg
    }
}

/// Boundary Expanding, checked. See [`BoundaryExpandingConfig`].
#[derive(Debug, Clone)]
pub struct BoundaryExpanding {
    cfg: BoundaryExpandingConfig,
}

impl BoundaryExpanding {
    /// Checks `cfg` into a runnable method.
    pub fn new(cfg: BoundaryExpandingConfig) -> Result<Self> {
        let c = &cfg;
        check_sgd("boundary_expanding", c.lr, c.momentum, c.weight_decay, c.batch_size)?;
        c.forget.check("boundary_expanding", "forget")?;
        Ok(BoundaryExpanding { cfg })
    }

    /// The checked settings.
    pub fn config(&self) -> &BoundaryExpandingConfig {
        &self.cfg
    }
}

/// One FGSM step of size `epsilon` (on the `[0, 1]` pixel scale) on `original` at the true labels of `rows`,
/// clipped to `[0, 1]`, returned normalised as the network takes it. The original runs in inference mode
/// (batch norm on running statistics), as the reference code's `eval()`.
///
/// # Shapes
/// returns `[rows.len(), C, H, W]` on `device` (plain)
pub fn fgsm_inputs(
    original: &Original<'_>,
    data: &Dataset,
    rows: &[usize],
    epsilon: f64,
    device: &Device,
) -> Result<Tensor<4>> {
    let spec = original.spec;
    let ad = device.clone().autodiff();
    let net = original.net.clone().fork(&ad).freeze();
    let [c, h, w] = [spec.input.channels, spec.input.height, spec.input.width];
    let x01: Vec<f32> = pixels(data, rows).iter().map(|&p| f32::from(p) / 255.0).collect();
    let x01 = Tensor::<4>::from_data(TensorData::new(x01, [rows.len(), c, h, w]), &ad).require_grad();
    let stat =
        |v: &[f32], d: &Device| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [c]), d).reshape([1, c, 1, 1]);
    let x = (x01.clone() - stat(&spec.mean, &ad)) / stat(&spec.std, &ad);
    let loss = CrossEntropyLossConfig::new().init(&ad).forward(net.forward(x), labels_tensor(data, rows, &ad));
    let grads = loss.backward();
    let g: Tensor<4> =
        x01.grad(&grads).ok_or_else(|| UnlearnError::TensorData("fgsm: the input received no gradient".into()))?;
    let adv = (x01.inner() + g.sign() * epsilon).clamp(0.0, 1.0);
    Ok((adv - stat(&spec.mean, device)) / stat(&spec.std, device))
}

/// Boundary Shrink's label for each of `rows`: `argmax_c f₀(x')_c` on the FGSM input `x'` ([`fgsm_inputs`]),
/// the original's prediction there (lowest index on ties) — the reference code's label, which is the true one
/// where the attack fails to flip the prediction. Rows are attacked in batches of `batch_size`, in the given
/// order.
pub fn adversarial_labels(
    original: &Original<'_>,
    data: &Dataset,
    rows: &[usize],
    epsilon: f64,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<u32>> {
    let net = original.net.clone().fork(device).valid();
    let k = original.spec.classes;
    let mut out = Vec::with_capacity(rows.len());
    for b in rows.chunks(batch_size.max(1)) {
        let logits = net.forward(fgsm_inputs(original, data, b, epsilon, device)?);
        let logits = logits.into_data().try_to_vec::<f32>().map_err(|e| UnlearnError::TensorData(format!("{e:?}")))?;
        for row in logits.chunks(k) {
            let mut best = 0;
            for (c, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = c;
                }
            }
            out.push(best as u32);
        }
    }
    Ok(out)
}

/// The shadow class's head row for `features` inputs under the run seed `seed`: weights and bias drawn from
/// `U(−1/√F, 1/√F)` (PyTorch's `nn.Linear` default) on the stream `unlearn/shadow-class`.
pub fn shadow_row(features: usize, seed: u64) -> (Vec<f32>, f32) {
    let bound = 1.0 / (features.max(1) as f64).sqrt();
    let mut rng = seed::rng(seed, "unlearn/shadow-class", 0);
    let mut draw = || ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32;
    let weight = (0..features).map(|_| draw()).collect();
    (weight, draw())
}

/// The feature width (the head's input size) of an architecture.
fn feature_size(arch: &Arch) -> usize {
    match arch {
        Arch::Mlp { hidden } => hidden[1],
        Arch::Cnn { hidden, .. } => *hidden,
        Arch::ResNet { widths } => widths[2],
    }
}

/// Boundary Expanding's training phase: the original widened by the shadow class (index `K`, row from
/// [`shadow_row`]) and fine-tuned with CE of the `forget` rows to that class. Returns the widened network (plain
/// device, `K + 1` logits), the steps taken and how the run ended (the engine's divergence guard applies).
pub fn expand_into_shadow_class(
    original: &Original<'_>,
    view: &View<'_>,
    forget: &[usize],
    cfg: &BoundaryExpandingConfig,
    ctx: &RunContext,
    on_batch: &mut dyn FnMut(&[usize]),
) -> Result<(Net, usize, Status)> {
    let (weight, bias) = shadow_row(feature_size(&original.spec.arch), ctx.seed);
    let widened = original.net.with_extra_class(&weight, bias)?;
    let sgd = Sgd::new(cfg.momentum, cfg.weight_decay, None);
    let mut e = Engine::from_net("boundary_expanding", widened, original, view, ctx, sgd);
    let shadow = vec![original.spec.classes as u32; cfg.batch_size];
    let walk = Cycle::new(forget, cfg.batch_size, ctx.seed, FORGET_ORDER).take_budget(cfg.forget);
    e.walk(walk, cfg.lr, on_batch, |e, b| e.ce_with(b, &shadow[..b.len()]));
    e.finish()
}

unlearner!(BoundaryShrink, "boundary_shrink", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        let labels = adversarial_labels(original, view.data, &sides.forget, c.epsilon, c.batch_size, &ctx.device)?;
        let label_of: std::collections::HashMap<usize, u32> = sides.forget.iter().copied().zip(labels).collect();
        let walk = Cycle::new(&sides.forget, c.batch_size, ctx.seed, FORGET_ORDER).take_budget(c.forget);
        e.walk(walk, c.lr, on_batch, |e, b| e.ce_with(b, &b.iter().map(|r| label_of[r]).collect::<Vec<u32>>()));
        Ok(())
    })
});

unlearner!(BoundaryExpanding, "boundary_expanding", |self, original, view, scope, ctx, on_batch| {
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let (widened, steps, status) = expand_into_shadow_class(original, view, &sides.forget, &self.cfg, ctx, on_batch)?;
    let net = widened.drop_last_class()?;
    Ok(unlearned(self.name(), self.settings(), original, scope, &sides, ctx, started, (net, steps, status)))
});

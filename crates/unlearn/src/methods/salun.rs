//! SalUn: a saliency mask over the weights, then random labelling that updates only the masked-in weights.

use std::collections::HashMap;

use burn::prelude::*;

use crate::budget::Budget;
use crate::engine::{Engine, Sides, unlearned};
use crate::error::Result;
use crate::methods::gradient::relabel_loop;
use crate::methods::ssd::gradient_sums;
use crate::methods::unlearner;
use crate::methods::{check_rounds, check_sgd};
use crate::params;
use crate::sgd::{Masks, Sgd};
use crate::unlearner::{Original, View};

/// SalUn (Fan et al. 2024, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency", ICLR):
/// mask = the top `ratio` of `|Σ_batches ∇θ CE(forget batch)|` over all weights together (ties broken by
/// position), then RL ([`crate::methods::RlConfig`]'s loop: labels drawn per batch, each round a forget phase
/// and a retain phase) with updates on the masked-in weights only. Masked-out weights stay bit-identical,
/// momentum and weight decay included ([`Sgd`]). Canonical (the SalUn repository, CIFAR-10): ratio 0.5, lr
/// 0.013, 10 rounds of 18 forget steps (|F| = 4,500 at batch 256) and one epoch of R, SGD momentum 0.9, wd 5e-4.
/// The minibatch here is 128 (saliency and RL), not the reference's 256, so the 18 forget steps of a round cover
/// about half of |F| = 4,500, not one pass.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SalUnConfig {
    /// Fraction of weights the mask lets change, in (0, 1].
    pub ratio: f64,
    /// Rounds of the RL loop (the reference's epochs).
    pub rounds: usize,
    /// Work on the forget side per round.
    pub forget: Budget,
    /// Work on the retain side per round.
    pub retain: Budget,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Minibatch size (saliency and RL).
    pub batch_size: usize,
}

impl Default for SalUnConfig {
    fn default() -> Self {
        SalUnConfig {
            ratio: 0.5,
            rounds: 10,
            forget: Budget::Steps(18),
            retain: Budget::Epochs(1),
            lr: 0.013,
            momentum: 0.9,
            weight_decay: 5e-4,
            batch_size: 128,
        }
    }
}

/// SalUn, checked. See [`SalUnConfig`].
#[derive(Debug, Clone)]
pub struct SalUn {
    cfg: SalUnConfig,
}

impl SalUn {
    /// Checks `cfg` into a runnable method.
    pub fn new(cfg: SalUnConfig) -> Result<Self> {
        check_sgd("salun", cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size)?;
        check_rounds("salun", "rounds", cfg.rounds)?;
        cfg.forget.check("salun", "forget")?;
        cfg.retain.check("salun", "retain")?;
        if !(cfg.ratio > 0.0 && cfg.ratio <= 1.0) {
            let problem = format!("is {}; it must be in (0, 1]", cfg.ratio);
            return Err(crate::error::UnlearnError::Config { method: "salun", field: "ratio", problem });
        }
        Ok(SalUn { cfg })
    }

    /// The checked settings.
    pub fn config(&self) -> &SalUnConfig {
        &self.cfg
    }
}

/// The saliency mask of `original` for the `forget` rows, per parameter element in visiting order: exactly
/// `⌊n·ratio⌋` of the `n` weights are `true`, those of largest summed-gradient magnitude.
pub fn saliency_masks(
    original: &Original<'_>,
    view: &View<'_>,
    forget: &[usize],
    batch_size: usize,
    ratio: f64,
    device: &Device,
    on_batch: &mut dyn FnMut(&[usize]),
) -> Result<Vec<Vec<bool>>> {
    let (sums, _) = gradient_sums(original, view, forget, batch_size, device, false, on_batch)?;
    let mut order: Vec<(f64, usize, usize)> =
        sums.iter().enumerate().flat_map(|(p, g)| g.iter().enumerate().map(move |(i, v)| (v.abs(), p, i))).collect();
    let keep = (order.len() as f64 * ratio).floor() as usize;
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let mut masks: Vec<Vec<bool>> = sums.iter().map(|g| vec![false; g.len()]).collect();
    for &(_, p, i) in &order[..keep] {
        masks[p][i] = true;
    }
    Ok(masks)
}

unlearner!(SalUn, "salun", |self, original, view, scope, ctx, on_batch| {
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let c = &self.cfg;
    let host = saliency_masks(original, view, &sides.forget, c.batch_size, c.ratio, &ctx.device, on_batch)?;
    let plain = ctx.device.clone();
    let masks: Masks = params::ids(original.net)
        .into_iter()
        .zip(host)
        .map(|(id, m)| {
            let n = m.len();
            (id, Tensor::<1, Bool>::from_data(TensorData::new(m, [n]), &plain))
        })
        .collect::<HashMap<_, _>>();
    let mut e = Engine::new(self.name(), original, view, ctx, Sgd::new(c.momentum, c.weight_decay, Some(masks)));
    relabel_loop(&mut e, view, &sides, ctx, (c.rounds, c.forget, c.retain), (c.batch_size, c.lr), on_batch);
    Ok(unlearned(self.name(), self.settings(), original, scope, &sides, ctx, started, e.finish()?))
});

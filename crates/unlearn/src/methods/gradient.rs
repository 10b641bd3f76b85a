//! The fine-tuning family: FT, GA, NegGrad+, RL and l1-sparse — loops of guarded [`Sgd`] steps with
//! constant learning rate and no augmentation.
//!
//! Budgets ([`Budget`]): the defaults give each method the step count its reference runs on the common
//! benchmark of SalUn and Unlearn-Sparse (CIFAR-10, 10 % random forgetting: |F| = 4,500, |R| = 45,000) at the
//! reference's batch size; forget-side work is in steps, so it is the same under every scope.

use burn::module::Module;
use doppel_data::seed;
use rand::Rng;

use crate::budget::{Budget, Cycle};
use crate::engine::{Engine, Sides, anchor, run_gradient};
use crate::error::Result;
use crate::methods::unlearner;
use crate::methods::{check_batch, check_nonnegative, check_range, check_rounds, check_sgd};
use crate::sgd::Sgd;
use crate::unlearner::{RunContext, View};

/// FT: cross-entropy on the retain side only (Warnecke et al. 2023, "Machine Unlearning of Features and Labels";
/// settings of the SalUn baselines, Fan et al. 2024: 10 epochs, lr 0.01, SGD momentum 0.9, wd 5e-4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FtConfig {
    /// Work on the retain side (canonical: 10 epochs).
    pub retain: Budget,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum (PyTorch semantics, no dampening).
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Minibatch size.
    pub batch_size: usize,
}

impl Default for FtConfig {
    fn default() -> Self {
        FtConfig { retain: Budget::Epochs(10), lr: 0.01, momentum: 0.9, weight_decay: 5e-4, batch_size: 128 }
    }
}

/// GA: gradient ascent on the cross-entropy of the forget side (Thudi et al. 2022, "Unrolling SGD"; Graves et
/// al. 2021; the SalUn/Unlearn-Sparse `GA.py`: 5 epochs over F, lr 1e-4, SGD momentum 0.9, wd 5e-4, batch 256 —
/// 90 steps at |F| = 4,500; raise lr to 5e-4..1e-3 when forget accuracy does not move). The minibatch here is 128,
/// not `GA.py`'s 256, so the 90 steps see half the rows they do there (2.6 passes over |F| = 4,500, not 5).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaConfig {
    /// Work on the forget side (canonical: 90 steps, the forget side cycled).
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

impl Default for GaConfig {
    fn default() -> Self {
        GaConfig { forget: Budget::Steps(90), lr: 1e-4, momentum: 0.9, weight_decay: 5e-4, batch_size: 128 }
    }
}

/// NegGrad+ (Kurmanji et al. 2023, "Towards Unbounded Machine Unlearning", NeurIPS; the SCRUB repository's
/// `run_neggrad_epoch`): each step takes a retain batch and the next forget batch (the forget side cycled) and
/// descends `α·(CE(retain) + (wd/2)·Σ‖θ − θ₀‖²) − (1 − α)·CE(forget)`, θ₀ the original's weights, with plain
/// SGD (no momentum, no weight decay in the optimiser: the pull to θ₀ takes its place). Canonical: α 0.95,
/// lr 0.01, wd 5e-4, retain batch 32, forget batch 64, 10 epochs over R — 14,070 steps at |R| = 45,000.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NegGradPlusConfig {
    /// Weight of the retain loss and the pull, in [0, 1].
    pub alpha: f64,
    /// Steps, counted over the retain side (each also takes one forget batch).
    pub retain: Budget,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum (the reference: none).
    pub momentum: f64,
    /// The pull's coefficient: `(wd/2)·Σ‖θ − θ₀‖²` inside the α term (the reference's `l2_penalty`).
    pub weight_decay: f64,
    /// Retain minibatch size.
    pub retain_batch_size: usize,
    /// Forget minibatch size.
    pub forget_batch_size: usize,
}

impl Default for NegGradPlusConfig {
    fn default() -> Self {
        NegGradPlusConfig {
            alpha: 0.95,
            retain: Budget::Steps(14_070),
            lr: 0.01,
            momentum: 0.0,
            weight_decay: 5e-4,
            retain_batch_size: 32,
            forget_batch_size: 64,
        }
    }
}

/// RL (Golatkar et al. 2020; Hayase et al. 2020; the SalUn repository's `RL.py`, CIFAR-10 branch): each round,
/// steps on the forget side with labels drawn uniformly over all classes for every batch (`torch.randint`, so a
/// row may draw its own label), then steps on the retain side with the true labels. Canonical: 10 rounds, each
/// 18 forget steps (one pass over |F| = 4,500 at batch 256) and one epoch of R; lr 0.01 (the paper takes it
/// from a grid), SGD momentum 0.9, wd 5e-4. The minibatch here is 128 on both sides, not the reference's 256, so
/// the 18 forget steps of a round cover about half of |F| = 4,500, not one pass.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RlConfig {
    /// Rounds (the reference's epochs): a forget phase, then a retain phase.
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
    /// Minibatch size.
    pub batch_size: usize,
}

impl Default for RlConfig {
    fn default() -> Self {
        RlConfig {
            rounds: 10,
            forget: Budget::Steps(18),
            retain: Budget::Epochs(1),
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            batch_size: 128,
        }
    }
}

/// l1-sparse: `CE(retain) + γ_e·‖θ‖₁` with `γ_e = γ·(1 − e/E)` decaying linearly to 0 over the `E` epochs of R
/// the budget covers, `e` the epoch a step falls in (Jia et al. 2023, "Model Sparsity Can Simplify Machine
/// Unlearning", NeurIPS; 10 epochs, lr 0.01, γ 5e-5 — the penalty is unnormalised, so γ stays small).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L1SparseConfig {
    /// γ, the L1 weight at the first epoch.
    pub gamma: f64,
    /// Work on the retain side (canonical: 10 epochs).
    pub retain: Budget,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Minibatch size.
    pub batch_size: usize,
}

impl Default for L1SparseConfig {
    fn default() -> Self {
        L1SparseConfig {
            gamma: 5e-5,
            retain: Budget::Epochs(10),
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            batch_size: 128,
        }
    }
}

macro_rules! checked {
    ($(#[$doc:meta])* $name:ident, $cfg:ident, |$c:ident| $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            cfg: $cfg,
        }

        impl $name {
            /// Checks `cfg` into a runnable method.
            pub fn new(cfg: $cfg) -> Result<Self> {
                let $c = &cfg;
                $extra?;
                Ok($name { cfg })
            }

            /// The checked settings.
            pub fn config(&self) -> &$cfg {
                &self.cfg
            }
        }
    };
}

checked!(
    /// FT, checked. See [`FtConfig`].
    Ft, FtConfig, |c| {
        check_sgd("ft", c.lr, c.momentum, c.weight_decay, c.batch_size)?;
        c.retain.check("ft", "retain")
    }
);
checked!(
    /// GA, checked. See [`GaConfig`].
    Ga, GaConfig, |c| {
        check_sgd("ga", c.lr, c.momentum, c.weight_decay, c.batch_size)?;
        c.forget.check("ga", "forget")
    }
);
checked!(
    /// NegGrad+, checked. See [`NegGradPlusConfig`].
    NegGradPlus, NegGradPlusConfig, |c| {
        let m = "neggrad_plus";
        check_sgd(m, c.lr, c.momentum, 0.0, c.retain_batch_size)?;
        check_batch(m, "retain_batch_size", c.retain_batch_size)?;
        check_batch(m, "forget_batch_size", c.forget_batch_size)?;
        check_nonnegative(m, "weight_decay", c.weight_decay)?;
        c.retain.check(m, "retain")?;
        check_range(m, "alpha", c.alpha, 0.0, 1.0)
    }
);
checked!(
    /// RL, checked. See [`RlConfig`].
    Rl, RlConfig, |c| {
        check_sgd("rl", c.lr, c.momentum, c.weight_decay, c.batch_size)?;
        check_rounds("rl", "rounds", c.rounds)?;
        c.forget.check("rl", "forget")?;
        c.retain.check("rl", "retain")
    }
);
checked!(
    /// l1-sparse, checked. See [`L1SparseConfig`].
    L1Sparse, L1SparseConfig, |c| {
        check_sgd("l1_sparse", c.lr, c.momentum, c.weight_decay, c.batch_size)?;
        c.retain.check("l1_sparse", "retain")?;
        check_range("l1_sparse", "gamma", c.gamma, 0.0, f64::MAX)
    }
);

/// Stream names: FT, l1-sparse and NegGrad+ walk the retain side in the same order for the same seed (and batch
/// size); every forget-side method walks the forget side by the other.
pub(crate) const RETAIN_ORDER: &str = "unlearn/retain-order";
pub(crate) const FORGET_ORDER: &str = "unlearn/forget-order";

unlearner!(Ft, "ft", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        let walk = Cycle::new(&sides.retain, c.batch_size, ctx.seed, RETAIN_ORDER).take_budget(c.retain);
        e.walk(walk, c.lr, on_batch, |e, b| e.ce(b));
        Ok(())
    })
});

unlearner!(Ga, "ga", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        let walk = Cycle::new(&sides.forget, c.batch_size, ctx.seed, FORGET_ORDER).take_budget(c.forget);
        e.walk(walk, c.lr, on_batch, |e, b| -e.ce(b));
        Ok(())
    })
});

unlearner!(NegGradPlus, "neggrad_plus", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    let theta0 = anchor(&original.net.clone().fork(&ctx.device));
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, 0.0, None), |e, sides| {
        let retain = Cycle::new(&sides.retain, c.retain_batch_size, ctx.seed, RETAIN_ORDER).take_budget(c.retain);
        let mut forget = Cycle::new(&sides.forget, c.forget_batch_size, ctx.seed, FORGET_ORDER);
        for r in retain {
            on_batch(&r);
            let mut kept = e.ce(&r);
            if c.weight_decay > 0.0 {
                kept = kept + e.pull(&theta0) * (c.weight_decay / 2.0);
            }
            // With α = 1 the forget term is exactly zero: left out, so no forget batch is read.
            let loss = if c.alpha < 1.0 {
                let f = forget.next().unwrap_or_default();
                on_batch(&f);
                kept * c.alpha - e.ce(&f) * (1.0 - c.alpha)
            } else {
                kept
            };
            if !e.step(loss, c.lr) {
                break;
            }
        }
        Ok(())
    })
});

/// RL's label draws in round `round` of a run with seed `seed`: each call gives a batch of `n` labels uniform over
/// all `k` classes (a row may draw its own), continuing the round's stream `unlearn/relabel`/`round`.
pub(crate) fn round_labels(seed: u64, round: usize, k: u32) -> impl FnMut(usize) -> Vec<u32> {
    let mut rng = seed::rng(seed, "unlearn/relabel", round as u64);
    move |n| (0..n).map(|_| rng.random_range(0..k)).collect()
}

/// The RL loop shared by RL and SalUn: per round, `forget` steps on the forget side with labels drawn for each
/// batch uniformly over all classes (the stream `unlearn/relabel`, one index per round), then `retain` steps on
/// the retain side. Both sides are cycled across rounds, so `{ epochs = 1 }` per round is one pass each.
pub(crate) fn relabel_loop(
    e: &mut Engine<'_>,
    view: &View<'_>,
    sides: &Sides,
    ctx: &RunContext,
    (rounds, forget, retain): (usize, Budget, Budget),
    (batch_size, lr): (usize, f64),
    on_batch: &mut dyn FnMut(&[usize]),
) {
    let k = view.data.class_names().len() as u32;
    let mut forget_walk = Cycle::new(&sides.forget, batch_size, ctx.seed, FORGET_ORDER);
    let mut retain_walk = Cycle::new(&sides.retain, batch_size, ctx.seed, RETAIN_ORDER);
    for round in 0..rounds {
        let mut draw = round_labels(ctx.seed, round, k);
        let relabelled = forget_walk.take_budget(forget);
        let ok = e.walk(relabelled, lr, on_batch, |e, b| e.ce_with(b, &draw(b.len())));
        if !ok || !e.walk(retain_walk.take_budget(retain), lr, on_batch, |e, b| e.ce(b)) {
            return;
        }
    }
}

unlearner!(Rl, "rl", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        relabel_loop(e, view, sides, ctx, (c.rounds, c.forget, c.retain), (c.batch_size, c.lr), on_batch);
        Ok(())
    })
});

unlearner!(L1Sparse, "l1_sparse", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        let per_epoch = sides.retain.len().div_ceil(c.batch_size).max(1);
        let walk = Cycle::new(&sides.retain, c.batch_size, ctx.seed, RETAIN_ORDER).take_budget(c.retain);
        let epochs = walk.len().div_ceil(per_epoch).max(1);
        let mut step = 0;
        e.walk(walk, c.lr, on_batch, |e, b| {
            let gamma = c.gamma * (1.0 - (step / per_epoch) as f64 / epochs as f64);
            step += 1;
            e.ce(b) + e.l1() * gamma
        });
        Ok(())
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference draws RL's wrong labels afresh for every batch, each epoch: batches within a round and the
    /// same batch position in two rounds get different labels, uniform over all classes.
    #[test]
    fn rl_labels_are_drawn_per_batch_and_differ_between_rounds() {
        let (mut r0, mut r1) = (round_labels(7, 0, 10), round_labels(7, 1, 10));
        let (a, b, c) = (r0(50), r0(50), r1(50));
        assert_ne!(a, b, "two batches of one round");
        assert_ne!(a, c, "the first batch of two rounds");
        assert_eq!(round_labels(7, 0, 10)(50), a, "a function of seed and round");
        let all: Vec<u32> = (0..20).flat_map(|_| r0(50)).collect();
        assert!(all.iter().all(|&l| l < 10));
        assert!((0..10).all(|k| all.contains(&k)), "every class, the true one included, can be drawn");
    }
}

//! The fine-tuning family: FT, GA, NegGrad+, RL and l1-sparse — loops of guarded [`Sgd`] steps with
//! constant learning rate and no augmentation.

use crate::engine::{Engine, Sides, batches, random_labels, run_gradient};
use crate::error::Result;
use crate::methods::unlearner;
use crate::methods::{check_range, check_sgd};
use crate::sgd::Sgd;
use crate::unlearner::{RunContext, View};

/// FT: cross-entropy on the retain side only (Warnecke et al. 2023, "Machine Unlearning of Features and Labels";
/// settings of the SalUn baselines, Fan et al. 2024: 10 epochs, lr 0.01, SGD momentum 0.9, wd 5e-4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FtConfig {
    /// Passes over the retain side.
    pub epochs: usize,
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
        FtConfig { epochs: 10, lr: 0.01, momentum: 0.9, weight_decay: 5e-4, batch_size: 128 }
    }
}

/// GA: gradient ascent on the cross-entropy of the forget side (Thudi et al. 2022, "Unrolling SGD"; Graves et
/// al. 2021; canonical 5 epochs, lr 1e-4 — raise to 5e-4..1e-3 when forget accuracy does not move).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaConfig {
    /// Passes over the forget side.
    pub epochs: usize,
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
        GaConfig { epochs: 5, lr: 1e-4, momentum: 0.9, weight_decay: 5e-4, batch_size: 128 }
    }
}

/// NegGrad+: `α·CE(retain batch) − (1−α)·CE(forget batch)` over the retain side, the forget batches cycling
/// (Kurmanji et al. 2023, "Towards Unbounded Machine Unlearning", NeurIPS; α 0.95, lr 0.01, 10 epochs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NegGradPlusConfig {
    /// Weight of the retain loss, in [0, 1]; 1 is FT.
    pub alpha: f64,
    /// Passes over the retain side.
    pub epochs: usize,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Minibatch size (both sides).
    pub batch_size: usize,
}

impl Default for NegGradPlusConfig {
    fn default() -> Self {
        NegGradPlusConfig { alpha: 0.95, epochs: 10, lr: 0.01, momentum: 0.9, weight_decay: 5e-4, batch_size: 128 }
    }
}

/// RL: each epoch, a pass over the forget side with random wrong labels (drawn once, uniform over the other
/// classes), then a pass over the retain side (Golatkar et al. 2020; Hayase et al. 2020; 10 epochs; the paper
/// takes lr from a grid, 0.01 here).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RlConfig {
    /// Epochs (forget pass + retain pass each).
    pub epochs: usize,
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
        RlConfig { epochs: 10, lr: 0.01, momentum: 0.9, weight_decay: 5e-4, batch_size: 128 }
    }
}

/// l1-sparse: `CE(retain) + γ_t·‖θ‖₁` with `γ_t = γ·(1 − epoch/epochs)` decaying linearly to 0 (Jia et al. 2023,
/// "Model Sparsity Can Simplify Machine Unlearning", NeurIPS; 10 epochs, lr 0.01, γ 5e-5 — the penalty is
/// unnormalised, so γ stays small).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L1SparseConfig {
    /// γ, the L1 weight at the first epoch.
    pub gamma: f64,
    /// Passes over the retain side.
    pub epochs: usize,
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
        L1SparseConfig { gamma: 5e-5, epochs: 10, lr: 0.01, momentum: 0.9, weight_decay: 5e-4, batch_size: 128 }
    }
}

macro_rules! checked {
    ($(#[$doc:meta])* $name:ident, $cfg:ident, $label:literal, |$c:ident| $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            cfg: $cfg,
        }

        impl $name {
            /// Checks `cfg` into a runnable method.
            pub fn new(cfg: $cfg) -> Result<Self> {
                let $c = &cfg;
                check_sgd($label, $c.epochs, $c.lr, $c.momentum, $c.weight_decay, $c.batch_size)?;
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
    Ft, FtConfig, "ft", |_c| Result::<()>::Ok(())
);
checked!(
    /// GA, checked. See [`GaConfig`].
    Ga, GaConfig, "ga", |_c| Result::<()>::Ok(())
);
checked!(
    /// NegGrad+, checked. See [`NegGradPlusConfig`].
    NegGradPlus, NegGradPlusConfig, "neggrad_plus", |c| check_range("neggrad_plus", "alpha", c.alpha, 0.0, 1.0)
);
checked!(
    /// RL, checked. See [`RlConfig`].
    Rl, RlConfig, "rl", |_c| Result::<()>::Ok(())
);
checked!(
    /// l1-sparse, checked. See [`L1SparseConfig`].
    L1Sparse, L1SparseConfig, "l1_sparse", |c| check_range("l1_sparse", "gamma", c.gamma, 0.0, f64::MAX)
);

/// Stream names: FT, l1-sparse and NegGrad+ walk the retain side in the same order for the same seed, so
/// NegGrad+ with α = 1 is FT step for step.
pub(crate) const RETAIN_ORDER: &str = "unlearn/retain-order";
pub(crate) const FORGET_ORDER: &str = "unlearn/forget-order";

unlearner!(Ft, "ft", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        (0..c.epochs).all(|epoch| {
            e.pass(&sides.retain, (c.batch_size, c.lr), (ctx.seed, RETAIN_ORDER, epoch), on_batch, |e, b| e.ce(b))
        });
        Ok(())
    })
});

unlearner!(Ga, "ga", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        (0..c.epochs).all(|epoch| {
            e.pass(&sides.forget, (c.batch_size, c.lr), (ctx.seed, FORGET_ORDER, epoch), on_batch, |e, b| -e.ce(b))
        });
        Ok(())
    })
});

unlearner!(NegGradPlus, "neggrad_plus", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        let mut forget_epoch = 0;
        let mut forget: Vec<Vec<usize>> = Vec::new();
        for epoch in 0..c.epochs {
            for b in batches(&sides.retain, c.batch_size, ctx.seed, RETAIN_ORDER, epoch) {
                on_batch(&b);
                let retain_loss = e.ce(&b);
                // With α = 1 the forget term is exactly zero: skip it, so the gradients are FT's bit for bit.
                let loss = if c.alpha < 1.0 {
                    if forget.is_empty() {
                        forget = batches(&sides.forget, c.batch_size, ctx.seed, FORGET_ORDER, forget_epoch);
                        forget.reverse();
                        forget_epoch += 1;
                    }
                    let f = forget.pop().unwrap_or_default();
                    on_batch(&f);
                    retain_loss * c.alpha - e.ce(&f) * (1.0 - c.alpha)
                } else {
                    retain_loss
                };
                if !e.step(loss, c.lr) {
                    return Ok(());
                }
            }
        }
        Ok(())
    })
});

/// The RL loop shared by RL and SalUn: per epoch, the forget side with random labels, then the retain side.
pub(crate) fn relabel_loop(
    e: &mut Engine<'_>,
    view: &View<'_>,
    sides: &Sides,
    ctx: &RunContext,
    (epochs, batch_size, lr): (usize, usize, f64),
    on_batch: &mut dyn FnMut(&[usize]),
) {
    let labels = random_labels(view.data, &sides.forget, ctx.seed);
    let label_of: std::collections::HashMap<usize, u32> = sides.forget.iter().copied().zip(labels).collect();
    (0..epochs).all(|epoch| {
        e.pass(&sides.forget, (batch_size, lr), (ctx.seed, FORGET_ORDER, epoch), on_batch, |e, b| {
            e.ce_with(b, &b.iter().map(|r| label_of[r]).collect::<Vec<u32>>())
        }) && e.pass(&sides.retain, (batch_size, lr), (ctx.seed, RETAIN_ORDER, epoch), on_batch, |e, b| e.ce(b))
    });
}

unlearner!(Rl, "rl", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        relabel_loop(e, view, sides, ctx, (c.epochs, c.batch_size, c.lr), on_batch);
        Ok(())
    })
});

unlearner!(L1Sparse, "l1_sparse", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        (0..c.epochs).all(|epoch| {
            let gamma = c.gamma * (1.0 - epoch as f64 / c.epochs as f64);
            let (sizes, stream) = ((c.batch_size, c.lr), (ctx.seed, RETAIN_ORDER, epoch));
            e.pass(&sides.retain, sizes, stream, on_batch, |e, b| e.ce(b) + e.l1() * gamma)
        });
        Ok(())
    })
});

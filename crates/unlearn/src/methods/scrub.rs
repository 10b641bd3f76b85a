//! SCRUB: a student, started from the original, moves away from the frozen original (the teacher) on the forget
//! side and stays close to it, and to the labels, on the retain side.

use burn::prelude::*;

use crate::budget::{Budget, Cycle};
use crate::engine::{Engine, Sides, kl_div, run_gradient};
use crate::error::Result;
use crate::methods::gradient::{FORGET_ORDER, RETAIN_ORDER};
use crate::methods::unlearner;
use crate::methods::{check_batch, check_nonnegative, check_positive, check_rounds, check_sgd};
use crate::sgd::Sgd;
use crate::unlearner::RunContext;

/// SCRUB (Kurmanji, Triantafillou, Hayes & Triantafillou 2023, "Towards Unbounded Machine Unlearning",
/// NeurIPS). Teacher = the frozen original; student = a copy of it. Each round `r` (0-based, the reference's
/// epochs): while `r < msteps`, `forget` max-steps on the forget side (batches of `forget_batch_size`)
/// minimising `−KL_T(teacher ‖ student)`; then `retain` min-steps on the retain side minimising
/// `α·KL_T(teacher ‖ student) + γ·CE`. Both sides are cycled across rounds. `KL_T` is their `DistillKL`:
/// `KL(softmax(t/T) ‖ softmax(s/T))` summed over classes, averaged over the batch, times `T²`. Canonical
/// (STUDY.md's table, from their code): T 4, γ 0.99, α 1e-3, 3 rounds, 2 with max-steps, lr 5e-4 with SGD
/// momentum 0.9 and wd 5e-4, one optimiser for both passes, forget batch 32; one max pass over |F| = 4,500 at
/// batch 32 is 141 steps, and each round has one epoch of R. The learning rate is constant here; the retain
/// batch is 128 as for the other methods.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScrubConfig {
    /// Rounds (each a min-step phase, preceded by a max-step phase while the round is below `msteps`).
    pub rounds: usize,
    /// Number of leading rounds that run a max-step phase.
    pub msteps: usize,
    /// Max-steps per max-step phase (on the forget side).
    pub forget: Budget,
    /// Min-steps per round (on the retain side).
    pub retain: Budget,
    /// Distillation temperature T.
    pub temperature: f64,
    /// α: weight of the KL term on the retain side.
    pub alpha: f64,
    /// γ: weight of the cross-entropy on the retain side.
    pub gamma: f64,
    /// Learning rate (constant).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Minibatch size of the retain side.
    pub batch_size: usize,
    /// Minibatch size of the forget side (the reference's 32).
    pub forget_batch_size: usize,
}

impl Default for ScrubConfig {
    fn default() -> Self {
        ScrubConfig {
            rounds: 3,
            msteps: 2,
            forget: Budget::Steps(141),
            retain: Budget::Epochs(1),
            temperature: 4.0,
            alpha: 1e-3,
            gamma: 0.99,
            lr: 5e-4,
            momentum: 0.9,
            weight_decay: 5e-4,
            batch_size: 128,
            forget_batch_size: 32,
        }
    }
}

/// SCRUB, checked. See [`ScrubConfig`].
#[derive(Debug, Clone)]
pub struct Scrub {
    cfg: ScrubConfig,
}

impl Scrub {
    /// Checks `cfg` into a runnable method.
    pub fn new(cfg: ScrubConfig) -> Result<Self> {
        check_sgd("scrub", cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size)?;
        check_batch("scrub", "forget_batch_size", cfg.forget_batch_size)?;
        check_rounds("scrub", "rounds", cfg.rounds)?;
        cfg.forget.check("scrub", "forget")?;
        cfg.retain.check("scrub", "retain")?;
        check_positive("scrub", "temperature", cfg.temperature)?;
        check_nonnegative("scrub", "alpha", cfg.alpha)?;
        check_nonnegative("scrub", "gamma", cfg.gamma)?;
        Ok(Scrub { cfg })
    }

    /// The checked settings.
    pub fn config(&self) -> &ScrubConfig {
        &self.cfg
    }

    fn run(
        &self,
        e: &mut Engine<'_>,
        sides: &Sides,
        teacher: &doppel_models::Net,
        ctx: &RunContext,
        on_batch: &mut dyn FnMut(&[usize]),
    ) {
        let c = &self.cfg;
        let t2 = c.temperature * c.temperature;
        let mut forget = Cycle::new(&sides.forget, c.forget_batch_size, ctx.seed, FORGET_ORDER);
        let mut retain = Cycle::new(&sides.retain, c.batch_size, ctx.seed, RETAIN_ORDER);
        for round in 0..c.rounds {
            let max_step =
                |e: &Engine<'_>, b: &[usize]| -(kl_div(e.frozen_logits(teacher, b), e.logits(b), c.temperature) * t2);
            if round < c.msteps && !e.walk(forget.take_budget(c.forget), c.lr, on_batch, max_step) {
                return;
            }
            let min_step = |e: &Engine<'_>, b: &[usize]| {
                let student = e.logits(b);
                // Terms with weight 1 or 0 are left as they are or out, so α = 0, γ = 1, no max-steps is FT
                // bit for bit.
                let mut loss = e.ce_of(student.clone(), &e.labels(b));
                if c.gamma != 1.0 {
                    loss = loss * c.gamma;
                }
                if c.alpha > 0.0 {
                    loss = loss + kl_div(e.frozen_logits(teacher, b), student, c.temperature) * (c.alpha * t2);
                }
                loss
            };
            if !e.walk(retain.take_budget(c.retain), c.lr, on_batch, min_step) {
                return;
            }
        }
    }
}

unlearner!(Scrub, "scrub", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    let teacher = original.net.clone().fork(&ctx.device).valid();
    run_gradient(self, (original, view, scope, ctx), Sgd::new(c.momentum, c.weight_decay, None), |e, sides| {
        self.run(e, sides, &teacher, ctx, on_batch);
        Ok(())
    })
});

//! Bad Teacher: the student distils from the original on retain rows and from a randomly initialised network on
//! forget rows.

use burn::prelude::*;
use doppel_data::seed;
use doppel_models::{ModelSpec, Net};
use rand::seq::SliceRandom;

use crate::adam::Adam;
use crate::budget::{Budget, Cycle};
use crate::engine::{Engine, kl_div, run_gradient};
use crate::error::{Result, UnlearnError};
use crate::methods::unlearner;
use crate::methods::{check_positive, check_range};

/// Bad Teacher (Chundawat, Tarun, Mandal & Kankanhalli 2023, "Can Bad Teaching Induce Forgetting? Unlearning in
/// Deep Networks Using an Incompetent Teacher", AAAI). Student = a copy of the original; competent teacher = the
/// original; incompetent teacher = a freshly initialised network of the same spec ([`incompetent_teacher`],
/// seeded from the run seed). Steps over the forget rows mixed with a random `retain_fraction` of the retain
/// rows (shuffled passes, cycled as the budget needs); the loss is `KL(softmax(t/T) ‖ softmax(s/T))` with `t` the incompetent teacher's logits on
/// forget rows and the competent one's on retain rows. Canonical (their reference code): 1 epoch, Adam lr 1e-4
/// (PyTorch defaults otherwise, [`Adam`]), T 1, 30% of the retain set, batch 256 — 71 steps over |F| = 4,500 plus
/// 30 % of |R| = 45,000. The KL is summed over classes
/// and averaged over rows; the reference's `F.kl_div` default also divides by the number of classes, a constant
/// factor Adam's update is invariant to (up to its ε).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BadTeacherConfig {
    /// Work on the mixed rows (canonical: 71 steps).
    pub mixed: Budget,
    /// Adam learning rate.
    pub lr: f64,
    /// Distillation temperature T.
    pub temperature: f64,
    /// Fraction of the retain rows mixed in, in [0, 1] (drawn once from the stream `unlearn/bad-teacher-retain`).
    pub retain_fraction: f64,
    /// Minibatch size.
    pub batch_size: usize,
}

impl Default for BadTeacherConfig {
    fn default() -> Self {
        BadTeacherConfig { mixed: Budget::Steps(71), lr: 1e-4, temperature: 1.0, retain_fraction: 0.3, batch_size: 256 }
    }
}

/// Bad Teacher, checked. See [`BadTeacherConfig`].
#[derive(Debug, Clone)]
pub struct BadTeacher {
    cfg: BadTeacherConfig,
}

impl BadTeacher {
    /// Checks `cfg` into a runnable method.
    pub fn new(cfg: BadTeacherConfig) -> Result<Self> {
        let bad = |field, problem| Err(UnlearnError::Config { method: "bad_teacher", field, problem });
        cfg.mixed.check("bad_teacher", "mixed")?;
        if cfg.batch_size == 0 {
            return bad("batch_size", "is 0; it must be at least 1".into());
        }
        check_positive("bad_teacher", "lr", cfg.lr)?;
        check_positive("bad_teacher", "temperature", cfg.temperature)?;
        check_range("bad_teacher", "retain_fraction", cfg.retain_fraction, 0.0, 1.0)?;
        Ok(BadTeacher { cfg })
    }

    /// The checked settings.
    pub fn config(&self) -> &BadTeacherConfig {
        &self.cfg
    }
}

/// The incompetent teacher of a run with master seed `seed`: `spec`'s network with fresh weights, the device's
/// generator seeded from the stream `unlearn/incompetent-teacher` first (so the same seed gives the same
/// weights; the generator is process-global, as for any burn initialisation).
pub fn incompetent_teacher(spec: &ModelSpec, seed: u64, device: &Device) -> Net {
    device.seed(seed::derive(seed, "unlearn/incompetent-teacher", 0));
    spec.init(device)
}

unlearner!(BadTeacher, "bad_teacher", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    let competent = original.net.clone().fork(&ctx.device).valid();
    let incompetent = incompetent_teacher(original.spec, ctx.seed, &ctx.device);
    let k = original.spec.classes;
    run_gradient(self, (original, view, scope, ctx), Adam::default(), |e, sides| {
        let mut retain = sides.retain.clone();
        retain.shuffle(&mut seed::rng(ctx.seed, "unlearn/bad-teacher-retain", 0));
        retain.truncate((retain.len() as f64 * c.retain_fraction).round() as usize);
        let mut rows = sides.forget.clone();
        rows.extend(retain);
        let forget: std::collections::HashSet<usize> = sides.forget.iter().copied().collect();
        // Softmax is per row, so choosing the teacher's logits row by row chooses its distribution.
        let teacher = |e: &Engine<'_>, b: &[usize]| {
            let rows: Vec<bool> = b.iter().flat_map(|r| std::iter::repeat_n(forget.contains(r), k)).collect();
            let on_forget = Tensor::<2, Bool>::from_data(TensorData::new(rows, [b.len(), k]), e.device());
            e.frozen_logits(&competent, b).mask_where(on_forget, e.frozen_logits(&incompetent, b))
        };
        let walk = Cycle::new(&rows, c.batch_size, ctx.seed, "unlearn/bad-teacher-order").take_budget(c.mixed);
        e.walk(walk, c.lr, on_batch, |e, b| kl_div(teacher(e, b), e.logits(b), c.temperature));
        Ok(())
    })
});

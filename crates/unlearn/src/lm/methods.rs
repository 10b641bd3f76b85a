//! The LM unlearning methods. Each is a checked type built by `new` from its config struct, whose `Default` is
//! the setting of its paper, scaled to doppel's toy LM where the doc comment says so.
//!
//! # What is shared, and why
//!
//! - **Loss tokens.** Every NLL is on the answer tokens (and `[SEP]`) by default (`loss_on = "answer"`): the
//!   thing to forget is the answer given the question, as TOFU (Maini et al. 2024) and the NPO / SimNPO papers
//!   compute it; the question is context that retain rows and held-out rows share. `loss_on = "sequence"` counts
//!   the question too, as M0 was trained.
//! - **Optimiser.** AdamW, as M0 trains and as the papers unlearn (HF Trainer's AdamW, global-norm clip 1.0), at
//!   a constant learning rate (the papers warm up for one epoch; our runs are a few dozen steps). Weight decay
//!   applies to every parameter, biases and LayerNorm gains and shifts included (one burn `AdamW` over the whole
//!   model, as M0 trains), where HF Trainer exempts biases and LayerNorm weights from it.
//! - **Steps.** A forget-driven method (GA, GradDiff, KL-GA, NPO, SimNPO) takes one step per forget batch for
//!   its `forget` [`Budget`]: `{ steps = n }` is n steps under every scope (the forget rows cycled, reshuffled
//!   each pass by the stream `lm-unlearn/forget`), `{ epochs = e }` the papers' `e × ⌈|forget| / batch_size⌉`.
//!   The default, 65 steps, is TOFU's 5 epochs over its `forget10` split (400 pairs) at batch 32. A retain term takes the next batch of one endless shuffled retain stream
//!   (`lm-unlearn/retain`), the same stream FT reads, so GradDiff with `forget_weight = 0` *is* FT run for as
//!   many steps (a property test checks the weights are identical).
//! - **Scaling to our model.** The papers' values are for 7B-parameter chat models fine-tuned on TOFU at
//!   lr 1e-5 and unlearned at that same lr. doppel's LM has about 1.5M weights (most in the 11k × 128 tied
//!   embedding), trained from scratch at a peak lr of 1e-3. We keep the papers' epochs, batch size, weight decay,
//!   clipping, β, γ and loss weights, and scale only the lr, to 1e-4: on the WordNet QA M0 (exact scope, GA,
//!   10 steps) the papers' rule "unlearn at the training lr" (1e-3) sent the retain answer NLL from 3.1 to 19
//!   (the model is destroyed), the literal 1e-5 moved the forget answer NLL only from 0.10 to 0.13, and 1e-4
//!   raised it to 2.4 with retain 3.1 → 3.5. β, γ and the weights are scale-free in the answer length (SimNPO,
//!   KL, mean-token NLL) or depend on it mildly (NPO sums over ~10–20 answer tokens here vs ~30–60 in TOFU).

use burn::prelude::*;
use doppel_models::lm::{LossOn, train::epoch_batches, train_lm};

use crate::budget::{Budget, Cycle};
use crate::error::{Result, UnlearnError};
use crate::lm::engine::{Adamw, LmEngine, RetainStream, Sides, unlearned};
use crate::lm::objectives::{npo, simnpo};
use crate::lm::{LmOriginal, LmUnlearned, LmView};
use crate::methods::{check_nonnegative, check_positive, settings};
use crate::scope::Scope;
use crate::unlearner::{RunContext, Status, UnlearnReport};
use doppel_models::lm::LmExample;

/// The optimiser and step-plan settings every gradient method has, checked once.
fn check_common(
    method: &'static str,
    (budget, budget_field): (Budget, &'static str),
    batch_size: usize,
    lr: f64,
    weight_decay: f64,
    grad_clip: Option<f64>,
) -> Result<()> {
    let bad = |field, problem: String| Err(UnlearnError::Config { method, field, problem });
    budget.check(method, budget_field)?;
    if batch_size == 0 {
        return bad("batch_size", "is 0; it must be at least 1".into());
    }
    check_positive(method, "lr", lr)?;
    check_nonnegative(method, "weight_decay", weight_decay)?;
    if let Some(c) = grad_clip {
        check_positive(method, "grad_clip", c)?;
    }
    Ok(())
}

/// Defines a forget-driven config struct with the shared fields, its paper default, and a checked method type.
macro_rules! lm_config {
    (
        $(#[$doc:meta])*
        $cfg:ident, $method:ident, $label:literal,
        defaults { $side:ident: $budget:expr, lr: $lr:expr, weight_decay: $wd:expr },
        extra { $( $(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr ),* $(,)? },
        check |$c:ident| $extra_check:block
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $cfg {
            /// The work: one step per batch of this side (forget-driven methods: `forget`; FT: `retain`).
            pub $side: Budget,
            /// Sequences per batch (forget and retain batches alike).
            pub batch_size: usize,
            /// AdamW learning rate (constant).
            pub lr: f64,
            /// AdamW decoupled weight decay.
            pub weight_decay: f64,
            /// Clip the global gradient norm to this value; absent = no clipping.
            pub grad_clip: Option<f64>,
            /// Which tokens every NLL counts: `answer` (and `[SEP]`) or the whole `sequence`.
            pub loss_on: LossOn,
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl Default for $cfg {
            fn default() -> Self {
                $cfg {
                    $side: $budget,
                    batch_size: 32,
                    lr: $lr,
                    weight_decay: $wd,
                    grad_clip: Some(1.0),
                    loss_on: LossOn::Answer,
                    $( $field: $default, )*
                }
            }
        }

        #[doc = concat!("The checked `", $label, "` method; see [`", stringify!($cfg), "`].")]
        #[derive(Debug, Clone)]
        pub struct $method {
            cfg: $cfg,
        }

        impl $method {
            /// Checks the config.
            pub fn new(cfg: $cfg) -> Result<Self> {
                let budget = (cfg.$side, stringify!($side));
                check_common($label, budget, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.grad_clip)?;
                {
                    let $c = &cfg;
                    $extra_check
                }
                Ok($method { cfg })
            }

            /// The checked settings.
            pub fn config(&self) -> &$cfg {
                &self.cfg
            }

            fn adamw(&self) -> Adamw {
                Adamw { lr: self.cfg.lr, weight_decay: self.cfg.weight_decay, grad_clip: self.cfg.grad_clip }
            }
        }
    };
}

lm_config! {
    /// GA: gradient ascent on the forget side's mean answer-token NLL, `L = −NLL_forget` (TOFU, Maini et al.
    /// 2024: AdamW, effective batch 32, 5 epochs, weight decay 0.01, HF Trainer's clip 1.0, lr 1e-5 — scaled to
    /// 1e-4 here, see the module docs).
    GaConfig, Ga, "ga",
    defaults { forget: Budget::Steps(65), lr: 1e-4, weight_decay: 0.01 },
    extra {},
    check |_c| {}
}

lm_config! {
    /// GradDiff: `L = −forget_weight·NLL_forget + retain_weight·NLL_retain`, one retain batch per forget batch
    /// (TOFU's "gradient difference", Maini et al. 2024; Liu et al. 2022; both weights 1 as in TOFU and
    /// open-unlearning's `GradDiff` — lr scaled as the module docs say).
    GradDiffConfig, GradDiff, "grad_diff",
    defaults { forget: Budget::Steps(65), lr: 1e-4, weight_decay: 0.01 },
    extra {
        /// Weight of the ascent term on the forget side (0 makes the method FT on the retain stream).
        forget_weight: f64 = 1.0,
        /// Weight of the retain NLL.
        retain_weight: f64 = 1.0,
    },
    check |c| {
        check_nonnegative("grad_diff", "forget_weight", c.forget_weight)?;
        check_nonnegative("grad_diff", "retain_weight", c.retain_weight)?;
    }
}

lm_config! {
    /// KL-GA: `L = −forget_weight·NLL_forget + kl_weight·KL(original ‖ current)` on the retain batch's counted
    /// tokens, the original frozen (TOFU's "KL minimisation", Maini et al. 2024; both weights 1 — lr scaled as
    /// the module docs say). The KL is averaged over the retain batch's counted tokens (the answer under the
    /// default `loss_on`); TOFU's code averages it over every position of the flattened batch
    /// (`kl_div(…, reduction='batchmean')` on `[B·T, V]`), question and padding included.
    KlGaConfig, KlGa, "kl_ga",
    defaults { forget: Budget::Steps(65), lr: 1e-4, weight_decay: 0.01 },
    extra {
        /// Weight of the ascent term on the forget side.
        forget_weight: f64 = 1.0,
        /// Weight of the KL to the original on retain tokens.
        kl_weight: f64 = 1.0,
    },
    check |c| {
        check_nonnegative("kl_ga", "forget_weight", c.forget_weight)?;
        check_nonnegative("kl_ga", "kl_weight", c.kl_weight)?;
    }
}

lm_config! {
    /// NPO: `L = (2/β)·mean softplus(β·(NLL_ref − NLL_θ))` on the forget side with per-sequence summed answer
    /// NLLs and the original frozen as the reference, plus `retain_weight·NLL_retain` (Zhang et al. 2024,
    /// "Negative Preference Optimization": β 0.1 on TOFU; plain NPO has no retain term, "NPO-RT" weight 1 —
    /// lr scaled as the module docs say).
    NpoConfig, Npo, "npo",
    defaults { forget: Budget::Steps(65), lr: 1e-4, weight_decay: 0.01 },
    extra {
        /// NPO's inverse temperature β.
        beta: f64 = 0.1,
        /// Weight of the retain NLL (0 = plain NPO).
        retain_weight: f64 = 0.0,
    },
    check |c| {
        check_positive("npo", "beta", c.beta)?;
        check_nonnegative("npo", "retain_weight", c.retain_weight)?;
    }
}

lm_config! {
    /// SimNPO: `L = forget_weight·(2/β)·mean softplus(γ − β·NLL_θ/|y|)` on the forget side (length-normalised,
    /// no reference), plus `retain_weight·NLL_retain` (Fan et al. 2024, "Simplicity Prevails: Rethinking
    /// Negative Preference Optimization for LLM Unlearning"; TOFU values as open-unlearning's `SimNPO` config
    /// takes them from the authors' code: β 4.5, γ 0, forget coefficient 0.125, retain weight 1 — lr scaled as
    /// the module docs say).
    SimNpoConfig, SimNpo, "simnpo",
    defaults { forget: Budget::Steps(65), lr: 1e-4, weight_decay: 0.01 },
    extra {
        /// SimNPO's inverse temperature β.
        beta: f64 = 4.5,
        /// SimNPO's reward margin γ.
        gamma: f64 = 0.0,
        /// Weight of the SimNPO term.
        forget_weight: f64 = 0.125,
        /// Weight of the retain NLL.
        retain_weight: f64 = 1.0,
    },
    check |c| {
        check_positive("simnpo", "beta", c.beta)?;
        if !c.gamma.is_finite() {
            return Err(UnlearnError::Config {
                method: "simnpo",
                field: "gamma",
                problem: format!("is {}; it must be a finite number", c.gamma),
            });
        }
        check_nonnegative("simnpo", "forget_weight", c.forget_weight)?;
        check_nonnegative("simnpo", "retain_weight", c.retain_weight)?;
    }
}

lm_config! {
    /// FT: the mean answer-token NLL of the retain side only, batches from the retain stream, for the `retain`
    /// budget. The LM-unlearning papers run FT with their common recipe (AdamW, batch 32; lr scaled as the module
    /// docs say). The budget, one retain pass, is ours: 212 steps on the WordNet QA set, about an eighth of M0's
    /// 8 epochs.
    FtConfig, Ft, "ft",
    defaults { retain: Budget::Epochs(1), lr: 1e-4, weight_decay: 0.01 },
    extra {},
    check |_c| {}
}

/// Retrain: train from scratch on the retain side with the original's training config and seeds (no keys).
/// Under scope `exact` this is the `retrain_exact` oracle, under `lineage` the `retrain_clean` one.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainConfig {}

/// The checked `retrain` method; see [`RetrainConfig`].
#[derive(Debug, Clone)]
pub struct Retrain {
    cfg: RetrainConfig,
}

impl Retrain {
    /// Checks the config (nothing to check).
    pub fn new(cfg: RetrainConfig) -> Result<Self> {
        Ok(Retrain { cfg })
    }
}

/// Implements [`crate::lm::LmUnlearner`] for a checked method type holding its config in `cfg`.
macro_rules! lm_unlearner {
    ($ty:ty, $name:literal, |$s:ident, $original:ident, $view:ident, $scope:ident, $ctx:ident, $on_batch:ident| $body:block) => {
        impl crate::lm::LmUnlearner for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn settings(&self) -> serde_json::Value {
                settings(&self.cfg)
            }

            fn unlearn(
                &$s,
                $original: &LmOriginal<'_>,
                $view: &LmView<'_>,
                $scope: &Scope,
                $ctx: &RunContext,
                $on_batch: &mut dyn FnMut(&[usize]),
            ) -> Result<LmUnlearned> {
                $body
            }
        }
    };
}

/// The frame of a forget-driven method: the `forget` budget's batches of the shuffled forget side (cycled), one
/// guarded step per forget batch on `loss(engine, forget batch, retain batch)`, the retain batch drawn from the retain stream only
/// when `with_retain`.
fn forget_driven(
    method: &dyn crate::lm::LmUnlearner,
    (original, view, scope, ctx): (&LmOriginal<'_>, &LmView<'_>, &Scope, &RunContext),
    (forget, batch_size, loss_on, opt): (Budget, usize, LossOn, Adamw),
    with_retain: bool,
    on_batch: &mut dyn FnMut(&[usize]),
    mut loss: impl FnMut(&LmEngine<'_>, &[usize], Option<&[usize]>) -> Tensor<1>,
) -> Result<LmUnlearned> {
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let mut e = LmEngine::new(method.name(), original, view, ctx, loss_on, opt);
    let mut retain = RetainStream::new(&sides.retain, batch_size, ctx.seed);
    for fb in Cycle::new(&sides.forget, batch_size, ctx.seed, "lm-unlearn/forget").take_budget(forget) {
        on_batch(&fb);
        let rb = with_retain.then(|| retain.next_batch());
        if let Some(rb) = &rb {
            on_batch(rb);
        }
        let l = loss(&e, &fb, rb.as_deref());
        if !e.step(l) {
            break;
        }
    }
    Ok(unlearned(method.name(), method.settings(), scope, &sides, ctx, started, e.finish()?))
}

lm_unlearner!(Ga, "ga", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    forget_driven(
        self,
        (original, view, scope, ctx),
        (c.forget, c.batch_size, c.loss_on, self.adamw()),
        false,
        on_batch,
        |e, f, _| e.mean_nll(f).neg(),
    )
});

lm_unlearner!(GradDiff, "grad_diff", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    forget_driven(
        self,
        (original, view, scope, ctx),
        (c.forget, c.batch_size, c.loss_on, self.adamw()),
        c.retain_weight > 0.0,
        on_batch,
        |e, f, r| {
            let forget = e.mean_nll(f) * (-c.forget_weight);
            match r {
                Some(r) => forget + e.mean_nll(r) * c.retain_weight,
                None => forget,
            }
        },
    )
});

lm_unlearner!(KlGa, "kl_ga", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    forget_driven(
        self,
        (original, view, scope, ctx),
        (c.forget, c.batch_size, c.loss_on, self.adamw()),
        c.kl_weight > 0.0,
        on_batch,
        |e, f, r| {
            let forget = e.mean_nll(f) * (-c.forget_weight);
            match r {
                Some(r) => forget + e.kl_to_original(r) * c.kl_weight,
                None => forget,
            }
        },
    )
});

lm_unlearner!(Npo, "npo", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    forget_driven(
        self,
        (original, view, scope, ctx),
        (c.forget, c.batch_size, c.loss_on, self.adamw()),
        c.retain_weight > 0.0,
        on_batch,
        |e, f, r| {
            let (current, reference, _) = e.sequence_nlls(f);
            let forget = npo(current, reference, c.beta);
            match r {
                Some(r) => forget + e.mean_nll(r) * c.retain_weight,
                None => forget,
            }
        },
    )
});

lm_unlearner!(SimNpo, "simnpo", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    forget_driven(
        self,
        (original, view, scope, ctx),
        (c.forget, c.batch_size, c.loss_on, self.adamw()),
        c.retain_weight > 0.0,
        on_batch,
        |e, f, r| {
            let (current, _, lengths) = e.sequence_nlls(f);
            let forget = simnpo(current, lengths.clamp_min(1.0), c.beta, c.gamma) * c.forget_weight;
            match r {
                Some(r) => forget + e.mean_nll(r) * c.retain_weight,
                None => forget,
            }
        },
    )
});

lm_unlearner!(Ft, "ft", |self, original, view, scope, ctx, on_batch| {
    let c = &self.cfg;
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let mut e = LmEngine::new("ft", original, view, ctx, c.loss_on, self.adamw());
    let mut retain = RetainStream::new(&sides.retain, c.batch_size, ctx.seed);
    for _ in 0..c.retain.steps(sides.retain.len(), c.batch_size) {
        let rb = retain.next_batch();
        on_batch(&rb);
        let l = e.mean_nll(&rb);
        if !e.step(l) {
            break;
        }
    }
    Ok(unlearned("ft", settings(&self.cfg), scope, &sides, ctx, started, e.finish()?))
});

lm_unlearner!(Retrain, "retrain", |self, original, view, scope, ctx, on_batch| {
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let cfg = original.train;
    let examples: Vec<LmExample> = sides.retain.iter().map(|&r| view.examples[r].clone()).collect();
    // The batches train_lm will use, mapped back to view rows, for the caller's callback: the same function
    // train_lm calls, on the same examples, seeds and epochs.
    let mut steps = 0;
    for epoch in 0..cfg.epochs {
        for b in epoch_batches(&examples, cfg.batch_size, original.seeds.order, epoch) {
            let rows: Vec<usize> = b.iter().map(|&i| sides.retain[i]).collect();
            on_batch(&rows);
            steps += 1;
        }
    }
    let (model, train_report) = train_lm(cfg, original.model.vocab(), &examples, original.seeds, &ctx.device)?;
    let report = UnlearnReport {
        method: "retrain".into(),
        scope: scope.name().into(),
        scope_size: sides.forget.len(),
        retain_size: sides.retain.len(),
        steps,
        wall_seconds: started.elapsed().as_secs_f64(),
        status: Status::Completed,
        seed: ctx.seed,
        settings: serde_json::json!({ "train": cfg, "seeds": original.seeds }),
    };
    tracing::info!(scope = scope.name(), steps, seconds = format!("{:.2}", report.wall_seconds), "retrained");
    Ok(LmUnlearned { model, report, train_report: Some(train_report) })
});

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the test failing.

    use super::*;

    #[test]
    fn defaults_are_the_papers_settings() {
        let g = GaConfig::default();
        assert_eq!(
            (g.forget, g.batch_size, g.weight_decay, g.grad_clip, g.loss_on),
            (Budget::Steps(5 * 400usize.div_ceil(32)), 32, 0.01, Some(1.0), LossOn::Answer)
        );
        let d = GradDiffConfig::default();
        assert_eq!((d.forget_weight, d.retain_weight), (1.0, 1.0));
        let k = KlGaConfig::default();
        assert_eq!((k.forget_weight, k.kl_weight), (1.0, 1.0));
        let n = NpoConfig::default();
        assert_eq!((n.beta, n.retain_weight), (0.1, 0.0));
        let s = SimNpoConfig::default();
        assert_eq!((s.beta, s.gamma, s.forget_weight, s.retain_weight), (4.5, 0.0, 0.125, 1.0));
        assert_eq!(FtConfig::default().retain, Budget::Epochs(1));
    }

    #[test]
    fn configs_are_checked_with_the_field_named() {
        let err = Ga::new(GaConfig { forget: Budget::Steps(0), ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "ga: `forget` is { steps = 0 }; it must be at least 1");
        let err = Npo::new(NpoConfig { beta: -1.0, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "npo: `beta` is -1; it must be a positive number");
        let err = SimNpo::new(SimNpoConfig { gamma: f64::NAN, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "simnpo: `gamma` is NaN; it must be a finite number");
        let err = Ft::new(FtConfig { retain: Budget::Epochs(0), ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "ft: `retain` is { epochs = 0 }; it must be at least 1");
        let err = GradDiff::new(GradDiffConfig { batch_size: 0, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "grad_diff: `batch_size` is 0; it must be at least 1");
    }
}

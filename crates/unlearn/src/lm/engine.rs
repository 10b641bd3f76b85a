//! The loop pieces every LM gradient method shares: sides, batches, NLLs, a guarded AdamW step, the end of a run.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use doppel_models::lm::{Batch, CausalLm, LmExample, LossOn, batch};

use crate::engine::batches;
use crate::error::{Result, UnlearnError};
use crate::lm::{LmOriginal, LmUnlearned, LmView};
use crate::scope::{Scope, complement};
use crate::unlearner::{RunContext, Status};

/// The two sides of a run: rows to forget (the resolved scope) and rows to retain (the rest).
pub(crate) struct Sides {
    pub forget: Vec<usize>,
    pub retain: Vec<usize>,
}

impl Sides {
    pub fn new(view: &LmView<'_>, scope: &Scope) -> Result<Self> {
        if view.examples.len() != view.samples.len() {
            return Err(UnlearnError::Scope {
                scope: scope.name(),
                problem: format!(
                    "the view has {} examples but {} lineage rows; they must be one per training row",
                    view.examples.len(),
                    view.samples.len()
                ),
            });
        }
        let forget = scope.resolve(view.samples)?;
        let retain = complement(view.examples.len(), &forget);
        Ok(Sides { forget, retain })
    }
}

/// The optimiser settings every LM gradient method has: AdamW as M0 trains with (β 0.9/0.999, ε 1e-8,
/// decoupled weight decay, optional clipping by the global norm of all gradients, [`doppel_models::clip`]), at a
/// constant learning rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Adamw {
    pub lr: f64,
    pub weight_decay: f64,
    pub grad_clip: Option<f64>,
}

/// An endless stream of retain batches: the retain rows shuffled by stream `lm-unlearn/retain`, index 0, cut into
/// batches, then index 1, and so on. FT takes its batches from it, and so does every method with a retain term,
/// one batch per step, so GradDiff with forget weight 0 is FT step for step.
pub(crate) struct RetainStream<'a> {
    rows: &'a [usize],
    batch_size: usize,
    seed: u64,
    pass: usize,
    queue: std::vec::IntoIter<Vec<usize>>,
}

impl<'a> RetainStream<'a> {
    pub fn new(rows: &'a [usize], batch_size: usize, seed: u64) -> Self {
        RetainStream { rows, batch_size, seed, pass: 0, queue: Vec::new().into_iter() }
    }

    pub fn next_batch(&mut self) -> Vec<usize> {
        loop {
            if let Some(b) = self.queue.next() {
                return b;
            }
            self.queue = batches(self.rows, self.batch_size, self.seed, "lm-unlearn/retain", self.pass).into_iter();
            self.pass += 1;
        }
    }
}

/// A model being trained on the autodiff device, with the frozen original, the step count and the guard.
pub(crate) struct LmEngine<'a> {
    method: &'static str,
    original: &'a CausalLm,
    examples: &'a [LmExample],
    loss_on: LossOn,
    ad: Device,
    model: CausalLm,
    prev: Option<CausalLm>,
    optim: ModuleOptimizer,
    lr: f64,
    grad_clip: Option<f64>,
    steps: usize,
    diverged: Option<(usize, f32)>,
}

impl<'a> LmEngine<'a> {
    pub fn new(
        method: &'static str,
        original: &LmOriginal<'a>,
        view: &LmView<'a>,
        ctx: &RunContext,
        loss_on: LossOn,
        opt: Adamw,
    ) -> Self {
        let ad = ctx.device.clone().autodiff();
        let model = original.model.clone().fork(&ad).train();
        let optim = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-8)
            .with_weight_decay(opt.weight_decay as f32)
            .init();
        LmEngine {
            method,
            original: original.model,
            examples: view.examples,
            loss_on,
            ad,
            model,
            prev: None,
            optim,
            lr: opt.lr,
            grad_clip: opt.grad_clip,
            steps: 0,
            diverged: None,
        }
    }

    /// The rows padded into a batch on the autodiff device, masked as the method's `loss_on` says.
    pub fn batch(&self, rows: &[usize]) -> Batch {
        let refs: Vec<&LmExample> = rows.iter().map(|&r| &self.examples[r]).collect();
        batch(&refs, self.loss_on, &self.ad)
    }

    /// Mean NLL per counted token of `rows` under the current weights (tracked): TOFU's loss.
    pub fn mean_nll(&self, rows: &[usize]) -> Tensor<1> {
        let b = self.batch(rows);
        self.model.mean_token_nll(b.tokens, b.mask)
    }

    /// Per-sequence NLL (summed over counted tokens) under the current weights (tracked) and under the frozen
    /// original (a constant), and the counted tokens of each sequence.
    ///
    /// # Shapes
    /// - returns `([B], [B], [B])`
    pub fn sequence_nlls(&self, rows: &[usize]) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        let b = self.batch(rows);
        let [n, t] = b.tokens.dims();
        let lengths: Tensor<1> = b.mask.clone().narrow(1, 1, t - 1).sum_dim(1).reshape([n]);
        let reference = self.original.sequence_nll(b.tokens.clone().inner(), b.mask.clone().inner());
        let current = self.model.sequence_nll(b.tokens, b.mask);
        (current, Tensor::from_inner(reference), lengths.detach())
    }

    /// `KL(original ‖ current)` per counted token of `rows` (tracked in the current model only).
    pub fn kl_to_original(&self, rows: &[usize]) -> Tensor<1> {
        let b = self.batch(rows);
        let [_, t] = b.tokens.dims();
        let current = self.model.forward(b.tokens.clone()).narrow(1, 0, t - 1);
        let reference = Tensor::from_inner(self.original.forward(b.tokens.inner()).narrow(1, 0, t - 1));
        crate::lm::objectives::masked_token_kl(reference, current, b.mask.narrow(1, 1, t - 1))
    }

    /// One guarded step on `loss`. Returns `false` (and records the divergence) when the loss is not finite, in
    /// which case no step is taken; the caller stops.
    pub fn step(&mut self, loss: Tensor<1>) -> bool {
        let l: f32 = loss.clone().detach().inner().into_scalar();
        if !l.is_finite() {
            self.diverged = Some((self.steps + 1, l));
            tracing::warn!(method = self.method, step = self.steps + 1, loss = l, "loss is not finite; stopping");
            return false;
        }
        if self.steps.is_multiple_of(20) {
            tracing::debug!(method = self.method, step = self.steps + 1, loss = l, "step");
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
        if let Some(c) = self.grad_clip {
            doppel_models::clip::clip_global_norm(&self.model, &mut grads, c);
        }
        let before = self.model.clone();
        self.model = self.optim.step(self.lr, before.clone(), grads);
        self.prev = Some(before);
        self.steps += 1;
        true
    }

    /// The result on the plain device: the current weights when they are sound, else the ones they were stepped
    /// from (see [`sound`]). A run that ends unsound with a finite last loss is reported as diverged at its last
    /// step.
    pub fn finish(self) -> Result<(CausalLm, usize, Status)> {
        let mut status = match self.diverged {
            Some((step, loss)) => Status::Diverged { step, loss: loss.to_string() },
            None => Status::Completed,
        };
        let plain = self.ad.clone().without_autodiff();
        let model = self.model.valid();
        if sound(&model, self.examples, &plain)? {
            return Ok((model, self.steps, status));
        }
        if status == Status::Completed {
            status = Status::Diverged { step: self.steps, loss: "finite (weights or logits are not)".into() };
        }
        match self.prev.map(|p| p.valid()) {
            Some(prev) if sound(&prev, self.examples, &plain)? => Ok((prev, self.steps, status)),
            _ => Err(UnlearnError::NonFinite { method: self.method, step: self.steps }),
        }
    }
}

/// Examples a finished model is probed on: up to this many, spread evenly over the rows.
const PROBE_ROWS: usize = 64;

/// True when every weight of `model` (plain device) is finite and so are its logits on a probe of `examples`.
pub(crate) fn sound(model: &CausalLm, examples: &[LmExample], device: &Device) -> Result<bool> {
    /// One flag per parameter: 1.0 when any of its values is not finite.
    struct NonFinite(Vec<Tensor<1>>);
    impl ModuleVisitor for NonFinite {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val();
            let n = v.dims().iter().product::<usize>();
            self.0.push(v.reshape([n]).is_finite().bool_not().any().float());
        }
    }
    let mut flags = NonFinite(Vec::new());
    model.visit(&mut flags);
    if flags.0.into_iter().any(|f| f.into_scalar::<f32>() != 0.0) {
        return Ok(false);
    }
    let n = examples.len();
    if n == 0 {
        return Ok(true);
    }
    let stride = n.div_ceil(PROBE_ROWS);
    let refs: Vec<&LmExample> = (0..n).step_by(stride).map(|i| &examples[i]).collect();
    let b = batch(&refs, LossOn::Sequence, device);
    let values = model
        .forward(b.tokens)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| UnlearnError::TensorData(format!("{e:?}")))?;
    Ok(values.iter().all(|x| x.is_finite()))
}

/// Wraps a finished run into [`LmUnlearned`].
pub(crate) fn unlearned(
    method: &'static str,
    settings: serde_json::Value,
    scope: &Scope,
    sides: &Sides,
    ctx: &RunContext,
    started: std::time::Instant,
    (model, steps, status): (CausalLm, usize, Status),
) -> LmUnlearned {
    let sizes = (sides.forget.len(), sides.retain.len());
    let report = crate::engine::report(method, settings, scope, sizes, ctx, started, (steps, status));
    LmUnlearned { model, report, train_report: None }
}

//! The loop pieces every gradient method shares: batches, losses, a guarded step, and the end of a run.

use burn::module::{ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use doppel_data::{Dataset, seed};
use doppel_models::{ModelSpec, Net};
use rand::seq::SliceRandom;

use crate::error::{Result, UnlearnError};
use crate::params;
use crate::scope::{Scope, complement};
use crate::unlearner::{Original, RunContext, Status, UnlearnReport, Unlearned, Unlearner, View};

/// The update rule an [`Engine`] steps with: [`crate::sgd::Sgd`] for most methods, [`crate::adam::Adam`] for
/// Bad Teacher.
pub(crate) trait Optimizer {
    /// One step with learning rate `lr` on `net` (autodiff device) from `grads`.
    fn step(&mut self, net: Net, lr: f64, grads: GradientsParams) -> Net;
}

/// The two sides of a run: rows to forget (the resolved scope) and rows to retain (the rest).
pub(crate) struct Sides {
    pub forget: Vec<usize>,
    pub retain: Vec<usize>,
}

impl Sides {
    pub fn new(view: &View<'_>, scope: &Scope) -> Result<Self> {
        let forget = scope.resolve(view.samples)?;
        let retain = complement(view.data.len(), &forget);
        Ok(Sides { forget, retain })
    }
}

/// `rows` shuffled by the stream `name`/`epoch` of the run's seed, cut into batches.
pub(crate) fn batches(rows: &[usize], batch_size: usize, seed_: u64, name: &str, epoch: usize) -> Vec<Vec<usize>> {
    let mut order = rows.to_vec();
    order.shuffle(&mut seed::rng(seed_, name, epoch as u64));
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

/// A network being trained on the autodiff device, with the step count and the divergence guard.
pub(crate) struct Engine<'a> {
    method: &'static str,
    spec: &'a ModelSpec,
    data: &'a Dataset,
    ad: Device,
    net: Net,
    /// The weights the current ones were stepped from (for the guard).
    prev: Option<Net>,
    opt: Box<dyn Optimizer>,
    steps: usize,
    diverged: Option<(usize, f32)>,
}

impl<'a> Engine<'a> {
    pub fn new(
        method: &'static str,
        original: &Original<'a>,
        view: &View<'a>,
        ctx: &RunContext,
        opt: impl Optimizer + 'static,
    ) -> Self {
        Self::from_net(method, original.net.clone(), original, view, ctx, opt)
    }

    /// An engine that trains `net` (any plain-device network of `original`'s input spec, e.g. one with a wider
    /// head) instead of the original's weights.
    pub fn from_net(
        method: &'static str,
        net: Net,
        original: &Original<'a>,
        view: &View<'a>,
        ctx: &RunContext,
        opt: impl Optimizer + 'static,
    ) -> Self {
        let ad = ctx.device.clone().autodiff();
        let net = net.fork(&ad).train();
        let opt: Box<dyn Optimizer> = Box::new(opt);
        Engine { method, spec: original.spec, data: view.data, ad, net, prev: None, opt, steps: 0, diverged: None }
    }

    /// Logits of `rows` under the current weights (tracked).
    pub fn logits(&self, rows: &[usize]) -> Tensor<2> {
        self.net.forward(self.spec.input_tensor(&pixels(self.data, rows), rows.len(), &self.ad))
    }

    /// Logits of `rows` under a frozen network on the plain device (a teacher), lifted onto the autodiff device
    /// as a constant: no gradient flows into `net`.
    pub fn frozen_logits(&self, net: &Net, rows: &[usize]) -> Tensor<2> {
        let plain = self.ad.clone().without_autodiff();
        Tensor::from_inner(net.forward(self.spec.input_tensor(&pixels(self.data, rows), rows.len(), &plain)))
    }

    /// The autodiff device the engine trains on.
    pub fn device(&self) -> &Device {
        &self.ad
    }

    /// Mean cross-entropy of `rows` against `labels` (one per row).
    pub fn ce_with(&self, rows: &[usize], labels: &[u32]) -> Tensor<1> {
        self.ce_of(self.logits(rows), labels)
    }

    /// Mean cross-entropy of `logits` (`[B, K]`) against `labels` (one per row).
    pub fn ce_of(&self, logits: Tensor<2>, labels: &[u32]) -> Tensor<1> {
        let y: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(y, [labels.len()]), &self.ad);
        CrossEntropyLossConfig::new().init(&self.ad).forward(logits, y)
    }

    /// The true labels of `rows`.
    pub fn labels(&self, rows: &[usize]) -> Vec<u32> {
        rows.iter().map(|&r| self.data.labels()[r]).collect()
    }

    /// Mean cross-entropy of `rows` against their true labels.
    pub fn ce(&self, rows: &[usize]) -> Tensor<1> {
        self.ce_with(rows, &self.labels(rows))
    }

    /// ‖θ‖₁ over every float parameter (tracked).
    pub fn l1(&self) -> Tensor<1> {
        struct L1(Option<Tensor<1>>);
        impl ModuleVisitor for L1 {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let s: Tensor<1> = param.val().abs().sum();
                self.0 = Some(match self.0.take() {
                    Some(acc) => acc + s,
                    None => s,
                });
            }
        }
        let mut v = L1(None);
        self.net.visit(&mut v);
        v.0.unwrap_or_else(|| Tensor::zeros([1], &self.ad))
    }

    /// One guarded step per batch of `batches`, in order: each batch goes to `on_batch`, then a step on
    /// `loss(engine, batch)` with learning rate `lr`. Returns `false` when a step diverged; the caller stops.
    pub fn walk(
        &mut self,
        batches: impl IntoIterator<Item = Vec<usize>>,
        lr: f64,
        on_batch: &mut dyn FnMut(&[usize]),
        mut loss: impl FnMut(&Self, &[usize]) -> Tensor<1>,
    ) -> bool {
        for b in batches {
            on_batch(&b);
            let l = loss(self, &b);
            if !self.step(l, lr) {
                return false;
            }
        }
        true
    }

    /// `Σ ‖θ − θ₀‖²` over every float parameter (tracked in θ), with θ₀ the [`anchor`] of the starting weights.
    pub fn pull(&self, anchor: &[Tensor<1>]) -> Tensor<1> {
        struct Pull<'a> {
            anchor: std::slice::Iter<'a, Tensor<1>>,
            sum: Option<Tensor<1>>,
        }
        impl ModuleVisitor for Pull<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let Some(theta0) = self.anchor.next() else { return };
                let theta = param.val();
                let n: usize = theta.dims().iter().product();
                let d = theta.reshape([n]) - Tensor::<1>::from_inner(theta0.clone());
                let s: Tensor<1> = (d.clone() * d).sum();
                self.sum = Some(match self.sum.take() {
                    Some(acc) => acc + s,
                    None => s,
                });
            }
        }
        let mut v = Pull { anchor: anchor.iter(), sum: None };
        self.net.visit(&mut v);
        v.sum.unwrap_or_else(|| Tensor::zeros([1], &self.ad))
    }

    /// One guarded step on `loss` with learning rate `lr`. Returns `false` (and records the divergence) when
    /// the loss is not finite, in which case no step is taken; the caller stops.
    pub fn step(&mut self, loss: Tensor<1>, lr: f64) -> bool {
        let l: f32 = loss.clone().detach().inner().into_scalar();
        if !l.is_finite() {
            self.diverged = Some((self.steps + 1, l));
            tracing::warn!(method = self.method, step = self.steps + 1, loss = l, "loss is not finite; stopping");
            return false;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        let before = self.net.clone();
        self.net = self.opt.step(before.clone(), lr, grads);
        self.prev = Some(before);
        self.steps += 1;
        true
    }

    /// The result on the plain device: the current weights when they are sound, else the ones they were stepped
    /// from. Sound means every weight is finite **and** the network's logits on a probe of the training rows are
    /// finite: weights can stay finite yet grow until the logits overflow (NegGrad+ at a large learning rate), and
    /// such a network would write NaN rows into the tables. A run that ends unsound with a finite last loss is
    /// reported as diverged at its last step.
    pub fn finish(self) -> Result<(Net, usize, Status)> {
        let mut status = match self.diverged {
            Some((step, loss)) => Status::Diverged { step, loss: loss.to_string() },
            None => Status::Completed,
        };
        let plain = self.ad.clone().without_autodiff();
        let net = self.net.valid();
        if sound(&net, self.spec, self.data, &plain)? {
            return Ok((net, self.steps, status));
        }
        if status == Status::Completed {
            status = Status::Diverged { step: self.steps, loss: "finite (weights or logits are not)".into() };
        }
        match self.prev.map(|p| p.valid()) {
            Some(prev) if sound(&prev, self.spec, self.data, &plain)? => Ok((prev, self.steps, status)),
            _ => Err(UnlearnError::NonFinite { method: self.method, step: self.steps }),
        }
    }
}

/// Rows a finished network is probed on: up to [`PROBE_ROWS`] spread evenly over the dataset.
const PROBE_ROWS: usize = 512;

/// True when every weight of `net` (on the plain `device`) is finite and so are its logits on the probe rows.
pub(crate) fn sound(net: &Net, spec: &ModelSpec, data: &Dataset, device: &Device) -> Result<bool> {
    if !params::all_finite(net)? {
        return Ok(false);
    }
    let n = data.len();
    if n == 0 {
        return Ok(true);
    }
    let stride = n.div_ceil(PROBE_ROWS);
    let rows: Vec<usize> = (0..n).step_by(stride).collect();
    let logits = net.forward(spec.input_tensor(&pixels(data, &rows), rows.len(), device));
    let values = logits.into_data().try_to_vec::<f32>().map_err(|e| UnlearnError::TensorData(format!("{e:?}")))?;
    Ok(values.iter().all(|v| v.is_finite()))
}

/// The raw pixels of `rows`, concatenated.
pub(crate) fn pixels(data: &Dataset, rows: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * data.shape().len());
    for &r in rows {
        out.extend_from_slice(data.image(r));
    }
    out
}

/// Every float parameter of `net` (plain device), flattened, in visiting order: the θ₀ of [`Engine::pull`].
pub(crate) fn anchor(net: &Net) -> Vec<Tensor<1>> {
    struct Anchor(Vec<Tensor<1>>);
    impl ModuleVisitor for Anchor {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let n: usize = t.dims().iter().product();
            self.0.push(t.reshape([n]));
        }
    }
    let mut v = Anchor(Vec::new());
    net.visit(&mut v);
    v.0
}

/// `KL(p_t ‖ p_s)` with `p = softmax(logits / T)`, summed over classes and averaged over rows (PyTorch's
/// `kl_div(log p_s, p_t, reduction="batchmean")`). Not scaled by `T²`; callers that follow Hinton et al.
/// multiply.
///
/// # Shapes
/// - `teacher`, `student`: `[B, K]`
pub(crate) fn kl_div(teacher: Tensor<2>, student: Tensor<2>, temperature: f64) -> Tensor<1> {
    use burn::tensor::activation::{log_softmax, softmax};
    let [b, _] = student.dims();
    let log_t = log_softmax(teacher.clone() / temperature, 1);
    let p_t = softmax(teacher / temperature, 1);
    let log_s = log_softmax(student / temperature, 1);
    (p_t * (log_t - log_s)).sum() / b as f64
}

/// The common frame of a gradient method: resolves the sides, hands an [`Engine`] started from the original to
/// `body`, then wraps the guarded result.
pub(crate) fn run_gradient(
    method: &dyn Unlearner,
    (original, view, scope, ctx): (&Original<'_>, &View<'_>, &Scope, &RunContext),
    opt: impl Optimizer + 'static,
    body: impl FnOnce(&mut Engine<'_>, &Sides) -> Result<()>,
) -> Result<Unlearned> {
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let mut e = Engine::new(method.name(), original, view, ctx, opt);
    body(&mut e, &sides)?;
    Ok(unlearned(method.name(), method.settings(), original, scope, &sides, ctx, started, e.finish()?))
}

/// Wraps a finished gradient run into [`Unlearned`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn unlearned(
    method: &'static str,
    settings: serde_json::Value,
    original: &Original<'_>,
    scope: &Scope,
    sides: &Sides,
    ctx: &RunContext,
    started: std::time::Instant,
    (net, steps, status): (Net, usize, Status),
) -> Unlearned {
    let sizes = (sides.forget.len(), sides.retain.len());
    let report = report(method, settings, scope, sizes, ctx, started, (steps, status));
    Unlearned { net, spec: original.spec.clone(), report }
}

/// The report of a finished run of either arm (`sizes`: forget and retain rows), logged as it is made.
pub(crate) fn report(
    method: &'static str,
    settings: serde_json::Value,
    scope: &Scope,
    (scope_size, retain_size): (usize, usize),
    ctx: &RunContext,
    started: std::time::Instant,
    (steps, status): (usize, Status),
) -> UnlearnReport {
    let report = UnlearnReport {
        method: method.into(),
        scope: scope.name().into(),
        scope_size,
        retain_size,
        steps,
        wall_seconds: started.elapsed().as_secs_f64(),
        status,
        seed: ctx.seed,
        settings,
    };
    tracing::info!(
        method,
        scope = scope.name(),
        steps,
        seconds = format!("{:.2}", report.wall_seconds),
        status = ?report.status,
        "unlearned"
    );
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the test failing.

    use super::*;
    use doppel_data::Split;
    use doppel_data::dataset::ImageShape;
    use doppel_models::Arch;

    /// Weights that stay finite but are large enough for the logits to overflow are not sound; the same network
    /// at its initial scale is.
    #[test]
    fn finite_weights_with_overflowing_logits_are_not_sound() {
        let device = Device::flex();
        let shape = ImageShape::grey(4, 4);
        let pixels: Vec<u8> = (0..6 * shape.len()).map(|i| (i * 37 % 251) as u8).collect();
        let data = Dataset::new("t", Split::Train, shape, pixels, vec![0, 1, 0, 1, 0, 1], vec!["a".into(), "b".into()])
            .unwrap();
        let spec = ModelSpec {
            arch: Arch::Mlp { hidden: [8, 4] },
            input: shape,
            classes: 2,
            mean: vec![0.5],
            std: vec![0.25],
        };
        let net = spec.init(&device);
        assert!(sound(&net, &spec, &data, &device).unwrap());
        let huge: Vec<Vec<f32>> = params::values(&net)
            .unwrap()
            .into_iter()
            .map(|p| p.into_iter().map(|v| v.signum() * 1e30).collect())
            .collect();
        let blown = params::write(net, huge);
        assert!(params::all_finite(&blown).unwrap(), "the weights themselves stay finite");
        assert!(!sound(&blown, &spec, &data, &device).unwrap(), "but the logits overflow");
    }
}

//! SSD: Selective Synaptic Dampening — no training; weights whose forget importance stands out are shrunk.

use burn::module::{ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use doppel_models::train::labels_tensor;

use crate::engine::{Sides, unlearned};
use crate::error::{Result, UnlearnError};
use crate::methods::check_range;
use crate::methods::unlearner;
use crate::params;
use crate::unlearner::{Original, Status, View};

/// SSD (Foster, Schoepf & Brintrup 2024, "Fast Machine Unlearning Without Retraining Through Selective Synaptic
/// Dampening", AAAI): importances `I = E[g²]` (mean over minibatches of the squared minibatch gradient, as the
/// reference code does) on all training data (`I_D`) and on the forget side (`I_f`); where `I_f > α·I_D`,
/// `θ ← θ·min(λ·I_D/I_f, 1)`. Canonical α 10, λ 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsdConfig {
    /// Selection weighting α: a weight is dampened when `I_f > α·I_D`.
    pub alpha: f64,
    /// Dampening constant λ.
    pub lambda: f64,
    /// Minibatch size of the importance passes.
    pub batch_size: usize,
}

impl Default for SsdConfig {
    fn default() -> Self {
        SsdConfig { alpha: 10.0, lambda: 1.0, batch_size: 64 }
    }
}

/// SSD, checked. See [`SsdConfig`].
#[derive(Debug, Clone)]
pub struct Ssd {
    cfg: SsdConfig,
}

impl Ssd {
    /// Checks `cfg` into a runnable method.
    pub fn new(cfg: SsdConfig) -> Result<Self> {
        check_range("ssd", "alpha", cfg.alpha, 0.0, f64::MAX)?;
        check_range("ssd", "lambda", cfg.lambda, 0.0, f64::MAX)?;
        if cfg.batch_size == 0 {
            return Err(UnlearnError::Config {
                method: "ssd",
                field: "batch_size",
                problem: "is 0; it must be at least 1".into(),
            });
        }
        Ok(Ssd { cfg })
    }

    /// The checked settings.
    pub fn config(&self) -> &SsdConfig {
        &self.cfg
    }
}

/// Importances per parameter element, in visiting order ([`params::values`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Importances {
    /// `I_D`: over all training rows.
    pub data: Vec<Vec<f64>>,
    /// `I_f`: over the forget rows.
    pub forget: Vec<Vec<f64>>,
}

/// Sum over minibatches of `rows` (in the given order) of each parameter's minibatch gradient of the mean
/// cross-entropy, squared when `square`; returns the sums and the number of minibatches.
pub(crate) fn gradient_sums(
    original: &Original<'_>,
    view: &View<'_>,
    rows: &[usize],
    batch_size: usize,
    device: &Device,
    square: bool,
    on_batch: &mut dyn FnMut(&[usize]),
) -> Result<(Vec<Vec<f64>>, usize)> {
    struct Pull<'a> {
        grads: &'a mut GradientsParams,
        out: Vec<std::result::Result<Vec<f32>, String>>,
    }
    impl ModuleVisitor for Pull<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = match self.grads.remove::<D>(param.id) {
                Some(g) => g.into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}")),
                None => Ok(vec![0.0; param.val().shape().num_elements()]),
            };
            self.out.push(v);
        }
    }
    let ad = device.clone().autodiff();
    let net = original.net.clone().fork(&ad).train();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let mut sums: Vec<Vec<f64>> = params::values(&net)?.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut n = 0;
    for b in rows.chunks(batch_size.max(1)) {
        on_batch(b);
        let mut pixels = Vec::with_capacity(b.len() * view.data.shape().len());
        for &r in b {
            pixels.extend_from_slice(view.data.image(r));
        }
        let logits = net.forward(original.spec.input_tensor(&pixels, b.len(), &ad));
        let loss = loss_fn.forward(logits, labels_tensor(view.data, b, &ad));
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        let mut pull = Pull { grads: &mut grads, out: Vec::new() };
        net.visit(&mut pull);
        for (acc, g) in sums.iter_mut().zip(pull.out) {
            for (a, &v) in acc.iter_mut().zip(&g.map_err(UnlearnError::TensorData)?) {
                let v = f64::from(v);
                *a += if square { v * v } else { v };
            }
        }
        n += 1;
    }
    Ok((sums, n))
}

/// SSD's importances of `original` on all training rows and on `forget` (sorted rows), with minibatches of
/// `batch_size` taken in row order (no randomness).
pub fn importances(
    original: &Original<'_>,
    view: &View<'_>,
    forget: &[usize],
    batch_size: usize,
    device: &Device,
    on_batch: &mut dyn FnMut(&[usize]),
) -> Result<Importances> {
    let all: Vec<usize> = (0..view.data.len()).collect();
    let mean = |(mut s, n): (Vec<Vec<f64>>, usize)| {
        s.iter_mut().flatten().for_each(|v| *v /= n.max(1) as f64);
        s
    };
    let data = mean(gradient_sums(original, view, &all, batch_size, device, true, on_batch)?);
    let forget = mean(gradient_sums(original, view, forget, batch_size, device, true, on_batch)?);
    Ok(Importances { data, forget })
}

unlearner!(Ssd, "ssd", |self, original, view, scope, ctx, on_batch| {
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let imp = importances(original, view, &sides.forget, self.cfg.batch_size, &ctx.device, on_batch)?;
    let mut values = params::values(original.net)?;
    let mut dampened = 0usize;
    for ((theta, i_d), i_f) in values.iter_mut().zip(&imp.data).zip(&imp.forget) {
        for ((w, &d), &f) in theta.iter_mut().zip(i_d).zip(i_f) {
            if f > self.cfg.alpha * d {
                let factor = (self.cfg.lambda * d / f).min(1.0);
                *w = (f64::from(*w) * factor) as f32;
                dampened += 1;
            }
        }
    }
    tracing::info!(dampened, "ssd: weights selected for dampening");
    let net = params::write(original.net.clone(), values);
    let status = Status::Completed;
    Ok(unlearned(self.name(), self.settings(), original, scope, &sides, ctx, started, (net, 0, status)))
});

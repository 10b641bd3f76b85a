//! Adam in PyTorch's semantics (`torch.optim.Adam`, L2 weight decay, no AMSGrad), for Bad Teacher, whose
//! reference code trains with Adam:
//!
//! ```text
//! g ← ∇ + wd·θ
//! m ← β₁·m + (1 − β₁)·g          v ← β₂·v + (1 − β₂)·g²          (m = v = 0 before the first step)
//! θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! with `t` the parameter's own step count (a parameter without a gradient in a step keeps its value, its
//! moments and its count, as in PyTorch). Written like [`crate::sgd::Sgd`] rather than with burn's `Adam`, so
//! both optimisers share the engine's guarded step and their exact update rule is visible here.

use std::collections::HashMap;

use burn::module::{ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use doppel_models::Net;

use crate::sgd::update_param;

/// Adam state: settings and per-parameter moments and step counts.
#[derive(Debug)]
pub struct Adam {
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    weight_decay: f64,
    /// `(m, v, t)` per parameter, flattened.
    state: HashMap<ParamId, (Tensor<1>, Tensor<1>, i32)>,
}

impl Default for Adam {
    /// PyTorch's defaults: β (0.9, 0.999), ε 1e-8, no weight decay.
    fn default() -> Self {
        Adam::new(0.9, 0.999, 1e-8, 0.0)
    }
}

impl Adam {
    /// A fresh optimiser.
    pub fn new(beta1: f64, beta2: f64, epsilon: f64, weight_decay: f64) -> Self {
        Adam { beta1, beta2, epsilon, weight_decay, state: HashMap::new() }
    }

    /// One step with learning rate `lr` on `net` (autodiff device) from `grads`.
    pub fn step(&mut self, net: Net, lr: f64, mut grads: GradientsParams) -> Net {
        net.map(&mut AdamMapper { adam: self, grads: &mut grads, lr })
    }
}

impl crate::engine::Optimizer for Adam {
    fn step(&mut self, net: Net, lr: f64, grads: GradientsParams) -> Net {
        Adam::step(self, net, lr, grads)
    }
}

struct AdamMapper<'a> {
    adam: &'a mut Adam,
    grads: &'a mut GradientsParams,
    lr: f64,
}

impl ModuleMapper for AdamMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let AdamMapper { adam: a, grads, lr } = self;
        update_param(param, grads, |id, theta, mut g| {
            let dims = theta.dims();
            let n = dims.iter().product::<usize>();
            if a.weight_decay > 0.0 {
                g = g + theta.clone() * a.weight_decay;
            }
            let (m, v, t) = match a.state.remove(&id) {
                Some((m, v, t)) => (m.reshape(dims), v.reshape(dims), t + 1),
                None => (g.zeros_like(), g.zeros_like(), 1),
            };
            let m = m * a.beta1 + g.clone() * (1.0 - a.beta1);
            let v = v * a.beta2 + g.clone() * g * (1.0 - a.beta2);
            let bias1 = 1.0 - a.beta1.powi(t);
            let bias2 = 1.0 - a.beta2.powi(t);
            let denom = v.clone().sqrt() / bias2.sqrt() + a.epsilon;
            let new = theta - m.clone() / denom * (*lr / bias1);
            a.state.insert(id, (m.reshape([n]), v.reshape([n]), t));
            Some(new)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the test failing.

    use super::*;
    use crate::params;
    use doppel_data::ImageShape;
    use doppel_models::{Arch, ModelSpec};

    /// PyTorch's Adam on one scalar, in f64 (the loop of `torch.optim.Adam._single_tensor_adam`).
    fn reference(theta0: f64, grads: &[f64], lr: f64, wd: f64) -> f64 {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let (mut th, mut m, mut v) = (theta0, 0.0, 0.0);
        for (i, &g) in grads.iter().enumerate() {
            let t = i as i32 + 1;
            let g = g + wd * th;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            th -= lr / (1.0 - b1.powi(t)) * m / (v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps);
        }
        th
    }

    #[test]
    fn adam_matches_pytorch_step_by_step() {
        // Hand-checked first step: θ 1, g 0.5, lr 0.1 → m̂ = 0.5, v̂ = 0.25, θ = 1 − 0.1·0.5/(0.5 + 1e-8) ≈ 0.9.
        assert!((reference(1.0, &[0.5], 0.1, 0.0) - 0.9).abs() < 1e-7);
        // Second step with g = −0.2: m = 0.9·0.05 − 0.02 = 0.025, m̂ = 0.025/0.19 = 0.131579;
        // v = 0.999·2.5e-4 + 4e-5 = 2.8975e-4, v̂ = 2.8975e-4/0.001999 = 0.144947, √v̂ = 0.380719;
        // θ = 0.9 − 0.1·0.131579/0.380719 = 0.865440.
        assert!((reference(1.0, &[0.5, -0.2], 0.1, 0.0) - 0.865_439).abs() < 1e-5);

        let device = Device::flex();
        let spec = ModelSpec {
            arch: Arch::Mlp { hidden: [2, 2] },
            input: ImageShape::grey(1, 2),
            classes: 2,
            mean: vec![0.0],
            std: vec![1.0],
        };
        let net = spec.init(&device);
        let sizes: Vec<usize> = params::values(&net).unwrap().iter().map(Vec::len).collect();
        let start: Vec<Vec<f32>> = sizes.iter().map(|&n| (0..n).map(|i| 0.5 - i as f32 * 0.25).collect()).collect();
        let ad = device.autodiff();
        let mut net = params::write(net, start.clone()).fork(&ad).train();
        let ids = params::ids(&net);
        // Three steps with per-element gradients that change sign and size; the last parameter gets no
        // gradient at step 2, so its count stays one behind.
        let grad =
            |step: usize, p: usize, i: usize| 0.3 * (i as f64 + 1.0) * if step == 1 { -1.0 } else { 1.0 } + p as f64;
        let (lr, wd) = (0.05, 0.01);
        let mut adam = Adam::new(0.9, 0.999, 1e-8, wd);
        for step in 0..3 {
            let mut grads = GradientsParams::new();
            for (p, (&id, &n)) in ids.iter().zip(&sizes).enumerate() {
                if step == 1 && p == ids.len() - 1 {
                    continue;
                }
                let g: Vec<f32> = (0..n).map(|i| grad(step, p, i) as f32).collect();
                register(&mut grads, &net, id, g);
            }
            net = adam.step(net, lr, grads);
        }
        let got = params::values(&net).unwrap();
        for (p, (theta0, after)) in start.iter().zip(&got).enumerate() {
            for (i, (&th, &a)) in theta0.iter().zip(after).enumerate() {
                let gs: Vec<f64> = (0..3).filter(|&s| !(s == 1 && p == ids.len() - 1)).map(|s| grad(s, p, i)).collect();
                let want = reference(f64::from(th), &gs, lr, wd);
                assert!((f64::from(a) - want).abs() < 1e-5, "param {p}[{i}]: {a} vs {want}");
            }
        }
    }

    /// Registers `g` (flattened) as the gradient of the parameter `id` of `net`, in its shape.
    fn register(grads: &mut GradientsParams, net: &Net, id: ParamId, g: Vec<f32>) {
        struct Reg<'a> {
            grads: &'a mut GradientsParams,
            id: ParamId,
            g: Option<Vec<f32>>,
        }
        impl burn::module::ModuleVisitor for Reg<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if param.id == self.id
                    && let Some(g) = self.g.take()
                {
                    let t = param.val();
                    let plain = t.device().without_autodiff();
                    self.grads.register::<D>(self.id, Tensor::from_data(TensorData::new(g, t.dims()), &plain));
                }
            }
        }
        net.visit(&mut Reg { grads, id, g: Some(g) });
    }
}

//! Gradient clipping by the global norm, as PyTorch's `torch.nn.utils.clip_grad_norm_` (and so HF Trainer's
//! `max_grad_norm`, which the LM unlearning papers use): every gradient is scaled by the one factor
//! `min(1, c / (‖g‖ + 1e-6))`, with `‖g‖` the L2 norm of all gradients concatenated.
//!
//! burn 0.22's `GradientClippingConfig::Norm` is not this: it clips each parameter tensor by its own norm, so a
//! large gradient in one tensor leaves the others untouched and the update's direction changes.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// Scales every gradient in `grads` (those of `module`'s float parameters) so that their global L2 norm is at most
/// `max_norm`; returns the norm before clipping. Gradients already within the bound are left as they are.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        sum: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some(g) = self.grads.get::<D>(param.id) else { return };
            let s: Tensor<1> = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, g * self.factor);
            }
        }
    }
    let mut squares = SumSquares { grads, sum: None };
    module.visit(&mut squares);
    let Some(sum) = squares.sum else { return 0.0 };
    let norm = f64::from(sum.into_scalar::<f32>()).sqrt();
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        module.visit(&mut Scale { grads, factor });
    }
    norm
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the test failing.

    use super::*;
    use burn::nn::LinearConfig;

    #[derive(Module, Debug)]
    struct Both {
        a: burn::nn::Linear,
        b: burn::nn::Linear,
    }

    /// Two linear layers and their gradients; the scale of the input puts every tensor's norm above 1.
    fn grads() -> (Both, GradientsParams) {
        let ad = Device::flex().autodiff();
        let both = Both { a: LinearConfig::new(4, 3).init(&ad), b: LinearConfig::new(3, 2).init(&ad) };
        let x = Tensor::<2>::from_data(TensorData::new((0..8).map(|i| i as f32 * 0.5 - 1.0).collect(), [2, 4]), &ad);
        let loss = both.b.forward(both.a.forward(x) * 100.0).sum();
        let g = GradientsParams::from_grads(loss.backward(), &both);
        (both, g)
    }

    fn values<const D: usize>(g: &GradientsParams, id: burn::module::ParamId) -> Vec<f32> {
        g.get::<D>(id).unwrap().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn every_tensor_is_scaled_by_one_factor_to_the_bound() {
        let all = |m: &Both, g: &GradientsParams| -> Vec<Vec<f32>> {
            let ids2 = [m.a.weight.id, m.b.weight.id];
            let ids1 = [m.a.bias.as_ref().unwrap().id, m.b.bias.as_ref().unwrap().id];
            ids2.iter().map(|&i| values::<2>(g, i)).chain(ids1.iter().map(|&i| values::<1>(g, i))).collect()
        };
        let (both, before) = grads();
        let original = all(&both, &before);
        let norm: f64 = original.iter().flatten().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        let per_tensor: Vec<f64> =
            original.iter().map(|t| t.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt()).collect();
        assert!(per_tensor.iter().all(|&n| n > 1.0), "every tensor is above the bound: {per_tensor:?}");

        let mut clipped = before;
        let reported = clip_global_norm(&both, &mut clipped, 1.0);
        assert!((reported - norm).abs() <= 1e-4 * norm, "norm {reported} vs {norm}");
        let after = all(&both, &clipped);
        let factor = 1.0 / (norm + 1e-6);
        for (t0, t1) in original.iter().zip(&after) {
            for (&v0, &v1) in t0.iter().zip(t1) {
                assert!((f64::from(v1) - f64::from(v0) * factor).abs() <= 1e-5 * (1.0 + f64::from(v0).abs() * factor));
            }
        }
        let new_norm: f64 = after.iter().flatten().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        assert!((new_norm - 1.0).abs() < 1e-4, "the global norm is the bound: {new_norm}");

        // Within the bound nothing changes, bit for bit.
        let (other, mut kept) = grads();
        let before = all(&other, &kept);
        let norm = clip_global_norm(&other, &mut kept, f64::MAX);
        assert_eq!(all(&other, &kept), before);
        clip_global_norm(&other, &mut kept, norm * 1.01);
        assert_eq!(all(&other, &kept), before);
    }
}

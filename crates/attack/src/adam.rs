//! Adam (Kingma & Ba 2015) on plain tensors, for optimising inputs rather than a module's parameters.

use burn::prelude::*;

/// One Adam state: first and second moments of one tensor, β = (0.9, 0.999), ε = 1e-8.
#[derive(Debug, Clone)]
pub(crate) struct Adam<const D: usize> {
    lr: f64,
    m: Option<Tensor<D>>,
    v: Option<Tensor<D>>,
    t: i32,
}

impl<const D: usize> Adam<D> {
    pub(crate) fn new(lr: f64) -> Self {
        Adam { lr, m: None, v: None, t: 0 }
    }

    /// The parameter after one step along gradient `g` (both on the plain device).
    pub(crate) fn step(&mut self, p: Tensor<D>, g: Tensor<D>) -> Tensor<D> {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.t += 1;
        let m = match self.m.take() {
            Some(m) => m.mul_scalar(B1) + g.clone().mul_scalar(1.0 - B1),
            None => g.clone().mul_scalar(1.0 - B1),
        };
        let v = match self.v.take() {
            Some(v) => v.mul_scalar(B2) + g.powi_scalar(2).mul_scalar(1.0 - B2),
            None => g.powi_scalar(2).mul_scalar(1.0 - B2),
        };
        let m_hat = m.clone().div_scalar(1.0 - B1.powi(self.t));
        let v_hat = v.clone().div_scalar(1.0 - B2.powi(self.t));
        self.m = Some(m);
        self.v = Some(v);
        p - (m_hat / (v_hat.sqrt().add_scalar(1e-8))).mul_scalar(self.lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first Adam step moves every coordinate by lr against the sign of its gradient (m̂ / √v̂ = sign g).
    #[test]
    fn first_step_is_lr_times_the_sign() {
        let device = Device::flex();
        let p = Tensor::<1>::from_data(TensorData::new(vec![1f32, 1.0], [2]), &device);
        let g = Tensor::<1>::from_data(TensorData::new(vec![3f32, -0.01], [2]), &device);
        let mut adam = Adam::new(0.1);
        let p = adam.step(p, g).into_data().try_to_vec::<f32>().unwrap_or_default();
        assert!((p[0] - 0.9).abs() < 1e-5 && (p[1] - 1.1).abs() < 1e-5, "{p:?}");
    }
}

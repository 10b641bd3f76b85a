//! Class-conditional model inversion, the weak baseline (Fredrikson, Jha & Ristenpart 2015, with the
//! total-variation prior of Mahendran & Vedaldi 2015).
//!
//! One image per class `y`, started from the dataset's mean image and optimised by Adam, projected onto
//! `[0, 1]` after every step, to minimise
//!
//! ```text
//! −log p(y | x) + α_tv Σ_p [(x_{p+right} − x_p)² + (x_{p+down} − x_p)²] + α_2 Σ_p x_p²
//! ```
//!
//! It works with any architecture, needs only the forward pass, and returns a class prototype: the same image for
//! every target of a class, so it cannot tell a model that memorised a target from one that never saw it.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::adam::Adam;
use crate::error::{AttackError, Result};
use crate::{Attack, Reconstructions, Victim};

/// Settings of the model-inversion baseline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InversionConfig {
    /// Adam steps.
    pub steps: usize,
    /// Adam learning rate (pixel units).
    pub lr: f64,
    /// `α_tv`: weight of the squared total variation (summed over pixels).
    pub tv: f64,
    /// `α_2`: weight of the squared L2 norm of the pixels (summed).
    pub l2: f64,
    /// Log the loss every this many steps (0: never).
    pub log_every: usize,
}

impl InversionConfig {
    /// A config with `steps` steps and these defaults (not tuned): `lr` 0.01, `α_tv` 0.05, `α_2` 0.001, a log
    /// line every 100 steps.
    pub fn new(steps: usize) -> Self {
        InversionConfig { steps, lr: 0.01, tv: 0.05, l2: 0.001, log_every: 100 }
    }

    /// Checks every range and returns the attack.
    pub fn validate(self) -> Result<Inversion> {
        if self.steps == 0 {
            return Err(AttackError::config("steps", "is 0; it must be at least 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(AttackError::config("lr", format!("is {}; it must be a positive number", self.lr)));
        }
        for (field, v) in [("tv", self.tv), ("l2", self.l2)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(AttackError::config(field, format!("is {v}; it must be 0 or more")));
            }
        }
        Ok(Inversion { config: self })
    }
}

/// The validated inversion baseline ([`InversionConfig::validate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Inversion {
    config: InversionConfig,
}

impl Inversion {
    /// The settings.
    pub fn config(&self) -> &InversionConfig {
        &self.config
    }
}

impl Attack for Inversion {
    fn name(&self) -> &'static str {
        "inversion"
    }

    fn reconstruct(&self, victim: &Victim<'_>, device: &Device) -> Result<Reconstructions> {
        let c = &self.config;
        let spec = victim.spec;
        let (k, d) = (spec.classes, spec.input.len());
        let doppel_data::ImageShape { channels, height, width } = spec.input;
        if victim.mean_image.len() != d {
            return Err(AttackError::Mismatch {
                what: "mean image".into(),
                expected: format!("{d} pixels"),
                got: victim.mean_image.len().to_string(),
            });
        }
        let start: Vec<f32> = (0..k).flat_map(|_| victim.mean_image.iter().copied()).collect();
        let mut x = Tensor::<4>::from_data(TensorData::new(start, [k, channels, height, width]), device);
        let plane = height * width;
        let per_pixel = |v: &[f32]| -> Tensor<4> {
            let row: Vec<f32> = (0..d).map(|i| v[i / plane]).collect();
            Tensor::from_data(TensorData::new(row, [1, channels, height, width]), device)
        };
        let (mean, std) = (per_pixel(&spec.mean), per_pixel(&spec.std));
        let labels: Vec<u32> = (0..k as u32).collect();
        let onehot: Vec<f32> = (0..k * k).map(|i| if i / k == i % k { 1.0 } else { 0.0 }).collect();
        let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [k, k]), device);
        let mut adam = Adam::new(c.lr);
        let mut last = f64::NAN;
        tracing::info!(classes = k, steps = c.steps, "inversion attack");
        for step in 1..=c.steps {
            let xa = x.clone().autodiff().require_grad();
            let z = (xa.clone() - mean.clone()) / std.clone();
            let logp = log_softmax(victim.net.forward(z), 1);
            let nll = (logp * onehot.clone()).sum().neg().div_scalar(k as f64);
            let dy = xa.clone().slice([0..k, 0..channels, 1..height, 0..width])
                - xa.clone().slice([0..k, 0..channels, 0..height - 1, 0..width]);
            let dx = xa.clone().slice([0..k, 0..channels, 0..height, 1..width])
                - xa.clone().slice([0..k, 0..channels, 0..height, 0..width - 1]);
            let tv = dy.powi_scalar(2).sum() + dx.powi_scalar(2).sum();
            let l2 = xa.clone().powi_scalar(2).sum();
            let loss = nll + (tv.mul_scalar(c.tv) + l2.mul_scalar(c.l2)).div_scalar(k as f64);
            if step == 1 || step == c.steps || (c.log_every > 0 && step % c.log_every == 0) {
                let v = loss.clone().detach().without_autodiff().into_data().try_to_vec::<f32>();
                last = v.ok().and_then(|v| v.first().copied()).map_or(f64::NAN, f64::from);
                if !last.is_finite() {
                    return Err(AttackError::Diverged { attack: self.name(), step, loss: last });
                }
                tracing::info!(step, loss = format!("{last:.5}"), "inversion");
            }
            let grads = loss.backward();
            let Some(g) = xa.grad(&grads) else {
                return Err(AttackError::TensorData("the loss has no gradient for the images".into()));
            };
            x = adam.step(x, g).clamp(0.0, 1.0);
        }
        let pixels = x.into_data().try_to_vec::<f32>().map_err(|e| AttackError::TensorData(format!("{e:?}")))?;
        Ok(Reconstructions { attack: self.name(), shape: spec.input, labels, pixels, weights: None, final_loss: last })
    }
}

#[cfg(test)]
mod tests {
    use doppel_data::ImageShape;
    use doppel_models::{Arch, ModelSpec};

    use super::*;

    #[test]
    fn validate_names_the_bad_field() {
        assert!(InversionConfig::new(0).validate().unwrap_err().to_string().contains("`steps` is 0"));
        let mut c = InversionConfig::new(5);
        c.tv = -1.0;
        assert!(c.validate().unwrap_err().to_string().contains("`tv` is -1"));
    }

    /// Inversion raises the log-probability of each class on any architecture, and keeps pixels in [0, 1].
    #[test]
    fn inversion_raises_the_class_probability_on_a_cnn() {
        let device = Device::flex();
        device.seed(5);
        let spec = ModelSpec {
            arch: Arch::Cnn { channels: [4, 4], hidden: 8 },
            input: ImageShape::grey(12, 12),
            classes: 3,
            mean: vec![0.5],
            std: vec![0.25],
        };
        let net = spec.init(&device);
        let mean_image = vec![0.5f32; 144];
        let victim = Victim { net: &net, spec: &spec, mean_image: &mean_image };
        let mut cfg = InversionConfig::new(40);
        cfg.lr = 0.05;
        let r = cfg.validate().unwrap().reconstruct(&victim, &device).unwrap();
        assert_eq!(r.len(), 3);
        assert!(r.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
        let logp = |pixels: &[f32], y: usize| {
            let x = Tensor::<4>::from_data(TensorData::new(pixels.to_vec(), [1, 1, 12, 12]), &device);
            let lp = log_softmax(net.forward((x - 0.5) / 0.25), 1).into_data().try_to_vec::<f32>().unwrap();
            lp[y]
        };
        for y in 0..3 {
            assert!(logp(r.image(y), y) > logp(&mean_image, y), "class {y}");
        }
    }
}

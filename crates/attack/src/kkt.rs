//! Training-set reconstruction from the parameters (Haim, Vardi, Yehudai, Shamir & Irani 2022, "Reconstructing
//! Training Data from Trained Neural Networks"; Buzaglo et al. 2023, "Deconstructing Data Reconstruction:
//! Multiclass, Weight Decay and General Losses").
//!
//! A network trained to convergence on `{(x_n, y_n)}` (long training on the logistic loss, or weight decay) sits
//! near a KKT point of margin maximisation, `θ = Σ_n λ_n ∇_θ [Φ_{y_n}(x_n; θ) − max_{j≠y_n} Φ_j(x_n; θ)]` with
//! `λ_n ≥ 0`, nonzero only on samples at the margin. The attack inverts that: it optimises `m` candidates `x_i`
//! (labels `i mod K`, so `m / K` per class) and coefficients `λ_i` to minimise
//!
//! ```text
//! L = Σ_l ‖θ_l − Σ_i λ_i ∇_{θ_l} margin_i‖² / ‖θ_l‖²   +   β · (1/m) Σ_i Σ_p [relu(x_ip − 1)² + relu(−x_ip)²]
//! ```
//!
//! over every weight and bias tensor `θ_l`, with the weighted gradients written out in [`crate::mlp`] (soft ReLU
//! derivative `sigmoid(s h)`), pixels `x ∈ ℝ^D` kept near `[0, 1]` by the quadratic range prior `β` and clamped
//! to `[0, 1]` at the end, and `λ_i = c₀ (λ_min + exp v_i)` so that `λ_i ≥ c₀ λ_min > 0`: `c₀` is the common scale
//! that best fits the initial candidates ([`MlpWeights::best_scale`]), fixed thereafter, and `λ_min` is relative
//! to it. Adam updates `x` and `v` with their own learning rates; burn's autodiff gives the gradient of `L`.
//!
//! The KKT condition holds only for a network whose weights training has moved far from their random
//! initialisation (long training, or weight decay strong enough that the initial weights decay away); on a model
//! still close to its initialisation the fit stays poor, which the final loss ([`Reconstructions::final_loss`],
//! 0 for a perfect fit, the number of parameter tensors for none) shows.
//!
//! Only doppel's MLP is supported: the CNN and ResNet need their backward passes written the same way, and
//! [`KktAttack`] returns [`AttackError::UnsupportedArch`] for them.

use burn::prelude::*;
use burn::tensor::activation::relu;
use doppel_data::seed;

use crate::adam::Adam;
use crate::error::{AttackError, Result};
use crate::mlp::{MlpWeights, ReluDerivative};
use crate::{Attack, Reconstructions, Victim};

/// Settings of the KKT reconstruction attack.
///
/// The defaults of [`KktConfig::new`] were chosen on this crate's known-positive test (a small MLP trained to
/// zero loss on 24 images); Haim et al. search `lr`, `λ_min` and the initial scale per model, and recommend
/// `m ≥ 2n` candidates for `n` training samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KktConfig {
    /// `m`: candidates, spread evenly over the classes (labels `i mod K`).
    pub candidates: usize,
    /// Adam steps.
    pub steps: usize,
    /// Adam learning rate of the candidate pixels (pixel units, images in `[0, 1]`).
    pub lr: f64,
    /// Adam learning rate of `v = ln(λ / c₀ − λ_min)`.
    pub lambda_lr: f64,
    /// `λ_min`, relative to the initial common scale `c₀`: every `λ_i ≥ c₀ λ_min`.
    pub lambda_min: f64,
    /// `s` of the soft ReLU derivative `sigmoid(s h)` in the explicit backward pass.
    pub relu_sharpness: f64,
    /// `β`: weight of the quadratic penalty on pixels outside `[0, 1]`.
    pub range_prior: f64,
    /// Standard deviation of the Gaussian noise added to the channel means to make the initial candidates.
    pub init_noise: f64,
    /// Seed of the initial candidates.
    pub seed: u64,
    /// Log the loss every this many steps (0: never).
    pub log_every: usize,
}

impl KktConfig {
    /// A config with `m` candidates, `steps` steps and `seed`, and these defaults: `lr` 0.01, `lambda_lr` 0.01,
    /// `λ_min` 0.05, sharpness 20, range prior 1, initial noise 0.1, a log line every 100 steps.
    pub fn new(candidates: usize, steps: usize, seed: u64) -> Self {
        KktConfig {
            candidates,
            steps,
            lr: 0.01,
            lambda_lr: 0.01,
            lambda_min: 0.05,
            relu_sharpness: 20.0,
            range_prior: 1.0,
            init_noise: 0.1,
            seed,
            log_every: 100,
        }
    }

    /// Checks every range and returns the attack.
    pub fn validate(self) -> Result<KktAttack> {
        if self.candidates == 0 {
            return Err(AttackError::config("candidates", "is 0; the attack needs at least one candidate"));
        }
        if self.steps == 0 {
            return Err(AttackError::config("steps", "is 0; it must be at least 1"));
        }
        for (field, v) in [("lr", self.lr), ("lambda_lr", self.lambda_lr), ("relu_sharpness", self.relu_sharpness)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(AttackError::config(field, format!("is {v}; it must be a positive number")));
            }
        }
        if !(0.0..1.0).contains(&self.lambda_min) {
            return Err(AttackError::config("lambda_min", format!("is {}; it must be in [0, 1)", self.lambda_min)));
        }
        for (field, v) in [("range_prior", self.range_prior), ("init_noise", self.init_noise)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(AttackError::config(field, format!("is {v}; it must be 0 or more")));
            }
        }
        Ok(KktAttack { config: self })
    }
}

/// The validated KKT attack ([`KktConfig::validate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KktAttack {
    config: KktConfig,
}

impl KktAttack {
    /// The settings.
    pub fn config(&self) -> &KktConfig {
        &self.config
    }
}

impl Attack for KktAttack {
    fn name(&self) -> &'static str {
        "kkt"
    }

    fn reconstruct(&self, victim: &Victim<'_>, device: &Device) -> Result<Reconstructions> {
        let c = &self.config;
        let spec = victim.spec;
        let w = MlpWeights::new(victim.net, spec, self.name(), device)?;
        let (m, d, k) = (c.candidates, spec.input.len(), spec.classes);
        let labels: Vec<u32> = (0..m).map(|i| (i % k) as u32).collect();
        let plane = spec.input.height * spec.input.width;
        let mut rng = seed::rng(c.seed, "kkt/init", 0);
        let init: Vec<f32> = (0..m * d)
            .map(|i| (f64::from(spec.mean[(i % d) / plane]) + c.init_noise * seed::normal(&mut rng)) as f32)
            .collect();
        let mut x = Tensor::<2>::from_data(TensorData::new(init, [m, d]), device);
        let derivative = ReluDerivative::Soft { sharpness: c.relu_sharpness };
        let ones = Tensor::<1>::ones([m], device);
        let c0 = w.best_scale(&w.weighted_margin_gradients(x.clone(), &labels, ones, derivative)?)?;
        let mut v = Tensor::<1>::full([m], (1.0 - c.lambda_min).ln(), device);
        let (mut adam_x, mut adam_v) = (Adam::new(c.lr), Adam::new(c.lambda_lr));
        let mut last = f64::NAN;
        tracing::info!(candidates = m, steps = c.steps, scale = format!("{c0:.3e}"), "kkt attack");
        for step in 1..=c.steps {
            let xa = x.clone().autodiff().require_grad();
            let va = v.clone().autodiff().require_grad();
            let lambda = va.clone().exp().add_scalar(c.lambda_min).mul_scalar(c0);
            let g = w.weighted_margin_gradients(xa.clone(), &labels, lambda, derivative)?;
            let fit = w.kkt_loss(&g);
            let outside = relu(xa.clone().sub_scalar(1.0)).powi_scalar(2) + relu(xa.clone().neg()).powi_scalar(2);
            let loss = fit.clone() + outside.sum().mul_scalar(c.range_prior / m as f64);
            let report = step == 1 || step == c.steps || (c.log_every > 0 && step % c.log_every == 0);
            if report {
                last = scalar(&loss)?;
                if !last.is_finite() {
                    return Err(AttackError::Diverged { attack: self.name(), step, loss: last });
                }
                let fit = scalar(&fit)?;
                tracing::info!(step, loss = format!("{last:.5}"), kkt = format!("{fit:.5}"), "kkt");
            }
            let grads = loss.backward();
            let (Some(gx), Some(gv)) = (xa.grad(&grads), va.grad(&grads)) else {
                return Err(AttackError::TensorData("the loss has no gradient for the candidates".into()));
            };
            x = adam_x.step(x, gx);
            v = adam_v.step(v, gv);
        }
        let pixels =
            x.clamp(0.0, 1.0).into_data().try_to_vec::<f32>().map_err(|e| AttackError::TensorData(format!("{e:?}")))?;
        let lambda = v
            .exp()
            .add_scalar(c.lambda_min)
            .mul_scalar(c0)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| AttackError::TensorData(format!("{e:?}")))?;
        Ok(Reconstructions {
            attack: self.name(),
            shape: spec.input,
            labels,
            pixels,
            weights: Some(lambda),
            final_loss: last,
        })
    }
}

fn scalar(t: &Tensor<1>) -> Result<f64> {
    let v = t
        .clone()
        .detach()
        .without_autodiff()
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| AttackError::TensorData(format!("{e:?}")))?;
    Ok(v.first().copied().map_or(f64::NAN, f64::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_bad_field() {
        let err = KktConfig::new(0, 10, 1).validate().unwrap_err().to_string();
        assert_eq!(err, "attack setting `candidates` is 0; the attack needs at least one candidate");
        let mut c = KktConfig::new(4, 10, 1);
        c.lambda_min = 1.5;
        assert!(c.validate().unwrap_err().to_string().contains("`lambda_min` is 1.5"));
        let mut c = KktConfig::new(4, 10, 1);
        c.lr = f64::NAN;
        assert!(c.validate().unwrap_err().to_string().contains("`lr` is NaN"));
        assert!(KktConfig::new(4, 0, 1).validate().unwrap_err().to_string().contains("`steps` is 0"));
    }
}

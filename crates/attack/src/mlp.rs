//! The λ-weighted margin gradients of doppel's ReLU MLP, written as tensor ops so that they are themselves
//! differentiable (burn's autodiff has no double backward).
//!
//! The MLP computes, on pixels `x ∈ [0, 1]^D` normalised per channel to `z₀ = (x − μ) / σ`,
//!
//! ```text
//! h₁ = z₀ W₁ + b₁,  a₁ = relu(h₁),   h₂ = a₁ W₂ + b₂,  a₂ = relu(h₂),   Φ = a₂ W₃ + b₃        (W_l: [d_in, d_out])
//! ```
//!
//! The multiclass margin of candidate `i` with label `y_i` is `Φ_{y_i} − max_{j≠y_i} Φ_j` (Buzaglo et al. 2023).
//! Its backward pass, with `j*` the runner-up class (held fixed, as the subgradient of the max), is
//!
//! ```text
//! δ₃ = e_y − e_{j*},   δ₂ = (δ₃ W₃ᵀ) ⊙ r'(h₂),   δ₁ = (δ₂ W₂ᵀ) ⊙ r'(h₁)
//! ∇W_l = a_{l−1}ᵀ δ_l,   ∇b_l = δ_l                                          (a₀ = z₀)
//! ```
//!
//! so the λ-weighted sum over `m` candidates is one matmul per layer: `Σ_i λ_i ∇W_l(i) = a_{l−1}ᵀ diag(λ) δ_l`, and
//! `Σ_i λ_i ∇b_l(i) = λᵀ δ_l`. With the exact derivative `r'(h) = 1[h > 0]` the pixels get no gradient through
//! `δ`, so the attack uses the soft derivative `r'(h) = sigmoid(s h)` of Haim et al.'s code; the forward pass
//! keeps the hard ReLU.

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use doppel_models::{ModelSpec, Net};

use crate::error::{AttackError, Result};

/// Which ReLU derivative the explicit backward pass uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReluDerivative {
    /// `1[h > 0]`: the true (sub)gradient; the candidates get no gradient through it.
    Hard,
    /// `sigmoid(sharpness · h)`: tends to the hard step as the sharpness grows.
    Soft {
        /// `s` in `sigmoid(s h)`.
        sharpness: f64,
    },
}

impl ReluDerivative {
    fn apply(self, h: Tensor<2>) -> Tensor<2> {
        match self {
            ReluDerivative::Hard => h.greater_elem(0.0).float(),
            ReluDerivative::Soft { sharpness } => sigmoid(h.mul_scalar(sharpness)),
        }
    }
}

/// The parameters of an MLP as plain tensors, with the per-pixel input normalisation.
#[derive(Debug, Clone)]
pub struct MlpWeights {
    /// `W₁, W₂, W₃`, each `[d_in, d_out]`.
    pub weights: [Tensor<2>; 3],
    /// `b₁, b₂, b₃` (`None` for a layer without bias).
    pub biases: [Option<Tensor<1>>; 3],
    /// Per-pixel channel mean `[1, D]`.
    mean: Tensor<2>,
    /// Per-pixel channel standard deviation `[1, D]`.
    std: Tensor<2>,
    /// `‖θ_l‖²` of every parameter tensor, in the order of [`WeightedGradients::tensors`].
    norms: Vec<f64>,
}

impl MlpWeights {
    /// Reads the layers of `net` (an MLP; otherwise [`AttackError::UnsupportedArch`]) onto `device`.
    pub fn new(net: &Net, spec: &ModelSpec, attack: &'static str, device: &Device) -> Result<Self> {
        let layers = net.mlp_layers().ok_or(AttackError::UnsupportedArch { attack, arch: spec.arch.name() })?;
        let weights = layers.map(|l| l.weight.val().without_autodiff().to_device(device));
        let biases = layers.map(|l| l.bias.as_ref().map(|b| b.val().without_autodiff().to_device(device)));
        let d = spec.input.len();
        let [w1, ..] = &weights;
        if w1.dims()[0] != d {
            return Err(AttackError::Mismatch {
                what: "input width of the MLP's first layer".into(),
                expected: d.to_string(),
                got: w1.dims()[0].to_string(),
            });
        }
        let plane = spec.input.height * spec.input.width;
        let per_pixel = |v: &[f32]| -> Tensor<2> {
            let row: Vec<f32> = (0..d).map(|i| v[i / plane]).collect();
            Tensor::from_data(TensorData::new(row, [1, d]), device)
        };
        let mut w =
            MlpWeights { mean: per_pixel(&spec.mean), std: per_pixel(&spec.std), weights, biases, norms: Vec::new() };
        let mut norms = Vec::new();
        for t in w.parameter_tensors() {
            norms.push(squared_norm(t)?);
        }
        w.norms = norms;
        Ok(w)
    }

    /// Every parameter tensor flattened, in layer order (`W₁, b₁, W₂, b₂, W₃, b₃`, absent biases skipped).
    fn parameter_tensors(&self) -> Vec<Tensor<1>> {
        let mut out = Vec::new();
        for (w, b) in self.weights.iter().zip(&self.biases) {
            out.push(w.clone().flatten(0, 1));
            if let Some(b) = b {
                out.push(b.clone());
            }
        }
        out
    }

    /// Number of classes (width of the head).
    pub fn classes(&self) -> usize {
        self.weights[2].dims()[1]
    }

    /// Normalised input `z₀ = (x − μ) / σ` of pixels `x` `[m, D]`.
    fn normalise(&self, x: Tensor<2>) -> Tensor<2> {
        (x - self.mean.clone()) / self.std.clone()
    }

    /// Logits `Φ` of pixels `[m, D]` (hard ReLU).
    pub fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        let z0 = self.normalise(x);
        let a1 = relu(self.linear(0, z0));
        let a2 = relu(self.linear(1, a1));
        self.linear(2, a2)
    }

    fn linear(&self, l: usize, a: Tensor<2>) -> Tensor<2> {
        let h = a.matmul(self.weights[l].clone());
        match &self.biases[l] {
            Some(b) => h + b.clone().unsqueeze_dim(0),
            None => h,
        }
    }

    /// `Σ_i λ_i ∇_θ [Φ_{y_i}(x_i) − max_{j≠y_i} Φ_j(x_i)]` for candidates `x` `[m, D]` (pixels) with `labels` and
    /// weights `lambda` `[m]`, differentiable in `x` and `lambda` (see the [module docs](self)).
    ///
    /// # Shapes
    /// - `x`: `[m, D]`, `lambda`: `[m]`, `labels`: `m` entries below [`MlpWeights::classes`]
    /// - returns one tensor per parameter, each the shape of that parameter
    pub fn weighted_margin_gradients(
        &self,
        x: Tensor<2>,
        labels: &[u32],
        lambda: Tensor<1>,
        derivative: ReluDerivative,
    ) -> Result<WeightedGradients> {
        let [m, _] = x.dims();
        let k = self.classes();
        if labels.len() != m || lambda.dims()[0] != m {
            return Err(AttackError::Mismatch {
                what: "candidates, labels and coefficients".into(),
                expected: format!("{m} of each"),
                got: format!("{} labels and {} coefficients", labels.len(), lambda.dims()[0]),
            });
        }
        let device = x.device();
        let z0 = self.normalise(x);
        let h1 = self.linear(0, z0.clone());
        let a1 = relu(h1.clone());
        let h2 = self.linear(1, a1.clone());
        let a2 = relu(h2.clone());
        let logits = self.linear(2, a2.clone());
        // δ₃ = e_y − e_{j*}: piecewise constant in x, so it is computed on the host from the current logits.
        let values = logits
            .detach()
            .without_autodiff()
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| AttackError::TensorData(format!("{e:?}")))?;
        let d3 = margin_direction(&values, labels, k);
        let d3 = Tensor::<2>::from_data(TensorData::new(d3, [m, k]), &device);
        let d2 = d3.clone().matmul(self.weights[2].clone().transpose()) * derivative.apply(h2);
        let d1 = d2.clone().matmul(self.weights[1].clone().transpose()) * derivative.apply(h1);
        let lam = lambda.reshape([m, 1]);
        let mut tensors = Vec::with_capacity(6);
        for (l, (a, d)) in [(z0, d1), (a1, d2), (a2, d3)].into_iter().enumerate() {
            let weighted = d * lam.clone();
            tensors.push(a.transpose().matmul(weighted.clone()).flatten(0, 1));
            if self.biases[l].is_some() {
                let width = weighted.dims()[1];
                tensors.push(weighted.sum_dim(0).reshape([width]));
            }
        }
        Ok(WeightedGradients { tensors })
    }

    /// The KKT loss `Σ_l ‖θ_l − G_l‖² / ‖θ_l‖²` over every parameter tensor (weights and biases), each normalised
    /// by its own squared norm so that small layers count as much as large ones.
    pub fn kkt_loss(&self, g: &WeightedGradients) -> Tensor<1> {
        let mut total: Option<Tensor<1>> = None;
        for ((theta, grad), norm) in self.parameter_tensors().into_iter().zip(&g.tensors).zip(&self.norms) {
            let theta = theta.to_device(&grad.device());
            let term = (theta - grad.clone()).powi_scalar(2).sum().div_scalar(norm.max(1e-12));
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
        total.unwrap_or_else(|| Tensor::zeros([1], &self.mean.device()))
    }

    /// The common scale `c` minimising the KKT loss of `c · G`: `Σ_l ⟨θ_l, G_l⟩/‖θ_l‖² / Σ_l ‖G_l‖²/‖θ_l‖²`,
    /// or `(Σ_l ‖G_l‖²/‖θ_l‖²)^−½` when that is not positive (the candidates point away from `θ`).
    pub fn best_scale(&self, g: &WeightedGradients) -> Result<f64> {
        let (mut num, mut den) = (0.0, 0.0);
        for ((theta, grad), norm) in self.parameter_tensors().into_iter().zip(&g.tensors).zip(&self.norms) {
            let grad = grad.clone().detach().without_autodiff();
            let dot = scalar(theta.mul(grad.clone()).sum())?;
            let gg = squared_norm(grad)?;
            let n = norm.max(1e-12);
            num += dot / n;
            den += gg / n;
        }
        let c = num / den;
        if c > 0.0 && c.is_finite() {
            Ok(c)
        } else if den > 0.0 && den.is_finite() {
            // The candidates point away from θ: start where the weighted sum is as large as one layer's norm.
            Ok((1.0 / den).sqrt())
        } else {
            Ok(1.0)
        }
    }
}

/// The λ-weighted margin gradients, one flattened tensor per parameter (`W₁, b₁, W₂, b₂, W₃, b₃`).
#[derive(Debug, Clone)]
pub struct WeightedGradients {
    /// The tensors, each flattened row-major from its parameter's shape.
    pub tensors: Vec<Tensor<1>>,
}

/// `e_y − e_{j*}` per row of `logits` `[m, k]`, with `j*` the largest logit other than `y` (lowest index on ties).
pub fn margin_direction(logits: &[f32], labels: &[u32], k: usize) -> Vec<f32> {
    let mut d = vec![0f32; logits.len()];
    for (i, (row, &y)) in logits.chunks(k).zip(labels).enumerate() {
        let y = y as usize;
        let mut best: Option<usize> = None;
        for (j, &v) in row.iter().enumerate() {
            if j != y && best.is_none_or(|b| v > row[b]) {
                best = Some(j);
            }
        }
        d[i * k + y] = 1.0;
        if let Some(j) = best {
            d[i * k + j] = -1.0;
        }
    }
    d
}

fn scalar(t: Tensor<1>) -> Result<f64> {
    let v = t.into_data().try_to_vec::<f32>().map_err(|e| AttackError::TensorData(format!("{e:?}")))?;
    Ok(v.first().copied().map_or(0.0, f64::from))
}

fn squared_norm(t: Tensor<1>) -> Result<f64> {
    scalar(t.powi_scalar(2).sum())
}

#[cfg(test)]
mod tests {
    use doppel_data::ImageShape;
    use doppel_models::Arch;

    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec {
            arch: Arch::Mlp { hidden: [12, 8] },
            input: ImageShape::grey(4, 5),
            classes: 4,
            mean: vec![0.3],
            std: vec![0.5],
        }
    }

    fn host(t: Tensor<1>) -> Vec<f32> {
        t.without_autodiff().into_data().try_to_vec::<f32>().unwrap()
    }

    /// The explicit backward pass with the hard ReLU derivative equals burn autodiff's gradient of the margin
    /// `Φ_y − max_{j≠y} Φ_j` of one candidate, for every parameter, to 1e-5 (relative to the largest entry) —
    /// the two differ only in f32 summation order.
    #[test]
    fn explicit_margin_gradient_matches_autodiff() {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        ad.seed(7);
        let spec = spec();
        let net = spec.init(&ad);
        let pixels: Vec<f32> = (0..20).map(|i| ((i * 37) % 19) as f32 / 18.0).collect();
        for y in 0..4u32 {
            // autodiff: margin = Σ_k d_k Φ_k with d = e_y − e_{j*}.
            let x = Tensor::<2>::from_data(TensorData::new(pixels.clone(), [1, 20]), &ad);
            let z = ((x.clone() - 0.3) / 0.5).reshape([1, 1, 4, 5]);
            let logits = net.forward(z);
            let values = logits.clone().detach().without_autodiff().into_data().try_to_vec::<f32>().unwrap();
            let d = margin_direction(&values, &[y], 4);
            let margin = (logits * Tensor::<2>::from_data(TensorData::new(d, [1, 4]), &ad)).sum();
            let grads = margin.backward();
            let mut expected = Vec::new();
            for layer in net.mlp_layers().unwrap() {
                expected.push(layer.weight.val().grad(&grads).unwrap().flatten(0, 1));
                expected.push(layer.bias.as_ref().unwrap().val().grad(&grads).unwrap());
            }

            let w = MlpWeights::new(&net, &spec, "kkt", &device).unwrap();
            let x = Tensor::<2>::from_data(TensorData::new(pixels.clone(), [1, 20]), &device);
            let lambda = Tensor::<1>::from_data(TensorData::new(vec![1f32], [1]), &device);
            let got = w.weighted_margin_gradients(x, &[y], lambda, ReluDerivative::Hard).unwrap();
            assert_eq!(got.tensors.len(), 6);
            for (p, (e, g)) in expected.into_iter().zip(got.tensors).enumerate() {
                let (e, g) = (host(e), host(g));
                assert_eq!(e.len(), g.len(), "parameter {p}");
                let scale = e.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                assert!(e.iter().any(|v| *v != 0.0), "parameter {p} has a zero gradient; pick another input");
                for (a, b) in e.iter().zip(&g) {
                    assert!((a - b).abs() <= 1e-5 * scale, "label {y}, parameter {p}: autodiff {a} vs explicit {b}");
                }
            }
        }
    }

    /// The λ-weighted sum over candidates is the sum of the single-candidate gradients times λ.
    #[test]
    fn weighted_sum_is_linear_in_lambda() {
        let device = Device::flex();
        device.seed(3);
        let spec = spec();
        let net = spec.init(&device);
        let w = MlpWeights::new(&net, &spec, "kkt", &device).unwrap();
        let pixels: Vec<f32> = (0..40).map(|i| ((i * 11) % 17) as f32 / 16.0).collect();
        let soft = ReluDerivative::Soft { sharpness: 20.0 };
        let both = w
            .weighted_margin_gradients(
                Tensor::from_data(TensorData::new(pixels.clone(), [2, 20]), &device),
                &[1, 3],
                Tensor::from_data(TensorData::new(vec![0.5f32, 2.0], [2]), &device),
                soft,
            )
            .unwrap();
        let one = |i: usize, y: u32, l: f32| {
            w.weighted_margin_gradients(
                Tensor::from_data(TensorData::new(pixels[i * 20..(i + 1) * 20].to_vec(), [1, 20]), &device),
                &[y],
                Tensor::from_data(TensorData::new(vec![l], [1]), &device),
                soft,
            )
            .unwrap()
        };
        let (a, b) = (one(0, 1, 0.5), one(1, 3, 2.0));
        for p in 0..6 {
            let sum: Vec<f32> =
                host(a.tensors[p].clone()).iter().zip(host(b.tensors[p].clone())).map(|(x, y)| x + y).collect();
            for (s, t) in sum.iter().zip(host(both.tensors[p].clone())) {
                assert!((s - t).abs() <= 1e-5 * (1.0 + s.abs()), "parameter {p}: {s} vs {t}");
            }
        }
    }

    #[test]
    fn the_runner_up_is_the_largest_other_logit() {
        let d = margin_direction(&[3.0, 5.0, 1.0, 0.0, 0.0, 9.0], &[1, 2], 3);
        assert_eq!(d, vec![-1.0, 1.0, 0.0, -1.0, 0.0, 1.0]);
    }

    #[test]
    fn other_archs_are_refused_by_name() {
        let device = Device::flex();
        let mut s = spec();
        s.input = ImageShape::grey(8, 8);
        s.arch = Arch::Cnn { channels: [2, 2], hidden: 4 };
        let net = s.init(&device);
        let err = MlpWeights::new(&net, &s, "kkt", &device).unwrap_err().to_string();
        assert!(err.contains("kkt attack is not supported for the cnn arch"), "{err}");
    }
}

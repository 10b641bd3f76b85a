//! The LM unlearning objectives as pure, differentiable tensor formulas. The methods in [`super::methods`] feed
//! them NLLs from [`doppel_models::lm::CausalLm`]; nothing here knows about batches, rows or optimisers.
//!
//! With `NLL_θ(y|x) = −Σ_t log π_θ(y_t | x, y_<t)` summed over a sequence's counted tokens:
//!
//! ```text
//! NPO     (Zhang et al. 2024)  L = (2/β) · mean_i softplus(β · (NLL_ref,i − NLL_θ,i))
//! SimNPO  (Fan et al. 2024)    L = (2/β) · mean_i softplus(γ − β · NLL_θ,i / |y_i|)
//! KL      (TOFU's KL term)     KL(π_ref ‖ π_θ) per counted token, averaged over the counted tokens
//! ```
//!
//! Gradients (used by the tests): `∇ NPO = −(2/B) Σ_i σ(β(NLL_ref,i − NLL_θ,i)) ∇NLL_θ,i`, so at θ = ref (σ(0) = ½)
//! NPO's gradient is `−(1/B) Σ_i ∇NLL_θ,i`: exactly the gradient of gradient ascent on the per-sequence NLL
//! averaged over sequences, for every β. GA as TOFU writes it averages over *tokens* instead
//! (`−Σ_i NLL_θ,i / N_tok`), so at θ = ref `∇ NPO = (N_tok / B) · ∇ GA_token`.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// `ln(1 + eˣ)`, as `x + ln(1 + e^−x)` where `x ≥ 0` and `ln(1 + eˣ)` where `x < 0`, each branch fed only its
/// own half-line (clamped), so it neither overflows for large `x` nor loses precision for very negative `x`, and
/// its gradient is the true `σ(x)` everywhere — ½ at 0 too. (`max(x, 0) + ln(1 + e^−|x|)`, the usual stable form,
/// has kinks in `max` and `|x|` whose autodiff gradients at exactly 0 give `relu'(0)` instead of ½; NPO's first
/// step sits exactly there whenever the current model's NLL equals the reference's to the bit.)
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let negative = x.clone().lower_elem(0.0);
    let pos = x.clone().clamp_min(0.0);
    let neg = x.clamp_max(0.0);
    let upper = pos.clone() + pos.neg().exp().log1p();
    let lower = neg.exp().log1p();
    upper.mask_where(negative, lower)
}

/// NPO's loss: `(2/β) · mean_i softplus(β · (nll_ref_i − nll_theta_i))`. `nll_ref` is a constant (the frozen
/// original); `nll_theta` carries the gradient.
///
/// # Shapes
/// - `nll_theta`, `nll_ref`: `[B]` (per-sequence NLLs, summed over the sequence's counted tokens)
/// - returns `[1]`
pub fn npo(nll_theta: Tensor<1>, nll_ref: Tensor<1>, beta: f64) -> Tensor<1> {
    softplus((nll_ref - nll_theta) * beta).mean() * (2.0 / beta)
}

/// SimNPO's loss: `(2/β) · mean_i softplus(γ − β · nll_theta_i / len_i)`, the length-normalised, reference-free
/// NPO.
///
/// # Shapes
/// - `nll_theta`: `[B]` (per-sequence NLLs, summed); `lengths`: `[B]`, the counted tokens of each sequence (≥ 1)
/// - returns `[1]`
pub fn simnpo(nll_theta: Tensor<1>, lengths: Tensor<1>, beta: f64, gamma: f64) -> Tensor<1> {
    softplus((nll_theta / lengths * beta).neg() + gamma).mean() * (2.0 / beta)
}

/// `KL(π_ref ‖ π_θ)` of the next-token distributions, summed over the vocabulary at each position, averaged over
/// the positions where `mask` is 1 (0 when no position counts). `reference` is a constant.
///
/// # Shapes
/// - `reference`, `current`: `[B, T, V]` next-token logits
/// - `mask`: `[B, T]` of 0.0 / 1.0
/// - returns `[1]`
pub fn masked_token_kl(reference: Tensor<3>, current: Tensor<3>, mask: Tensor<2>) -> Tensor<1> {
    let [b, t, _] = current.dims();
    let lp_ref = log_softmax(reference, 2);
    let lp_cur = log_softmax(current, 2);
    let per_token: Tensor<2> = (lp_ref.clone().exp() * (lp_ref - lp_cur)).sum_dim(2).reshape([b, t]);
    let count = mask.clone().sum().clamp_min(1.0);
    (per_token * mask).sum() / count
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the test failing.

    use super::*;

    fn t1(v: &[f32]) -> Tensor<1> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &Device::flex())
    }

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "{got} vs {want}");
    }

    #[test]
    fn softplus_is_stable_at_both_ends() {
        let v = softplus(t1(&[-100.0, 0.0, 100.0, 1.0])).into_data().try_to_vec::<f32>().unwrap();
        // ln(1 + e^-100) ≈ 3.7e-44 (subnormal or 0 in f32), ln 2, 100 + ln(1 + e^-100) = 100, ln(1 + e) = 1.313262.
        assert!(v[0] >= 0.0 && v[0] < 1e-30);
        close(f64::from(v[1]), std::f64::consts::LN_2);
        close(f64::from(v[2]), 100.0);
        close(f64::from(v[3]), 1.313_261_687_518_223);
    }

    /// The gradient is σ(x) at every x, the kink-free ½ at exactly 0 included, and finite at both ends.
    #[test]
    fn softplus_gradient_is_the_sigmoid_at_zero_too() {
        let ad = Device::flex().autodiff();
        let xs = [-100.0f32, -1.0, 0.0, 1.0, 100.0];
        let x = Tensor::<1>::from_data(TensorData::new(xs.to_vec(), [xs.len()]), &ad).require_grad();
        let g = softplus(x.clone()).sum().backward();
        let grad = x.grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap();
        for (&x, &d) in xs.iter().zip(&grad) {
            let sigma = 1.0 / (1.0 + (-f64::from(x)).exp());
            assert!((f64::from(d) - sigma).abs() < 1e-6, "softplus'({x}) = {d}, σ = {sigma}");
        }
    }

    #[test]
    fn npo_matches_hand_values() {
        // At NLL_θ = NLL_ref every softplus is ln 2: L = (2/β) ln 2 = 20 · 0.693147 = 13.862944 for β = 0.1.
        close(scalar(npo(t1(&[3.0, 7.5]), t1(&[3.0, 7.5]), 0.1)), 2.0 / 0.1 * std::f64::consts::LN_2);
        // β 0.5, NLL_ref (2, 4), NLL_θ (3, 1): β(ref − θ) = (−0.5, 1.5);
        // python: sp = lambda x: math.log1p(math.exp(x)); 4 * (sp(-0.5) + sp(1.5)) / 2 = 4.350980524325719
        close(scalar(npo(t1(&[3.0, 1.0]), t1(&[2.0, 4.0]), 0.5)), 4.350_980_524_325_719);
    }

    #[test]
    fn simnpo_matches_hand_values() {
        // β 2, γ 1, NLL (3, 8), |y| (3, 4): γ − β·NLL/|y| = (−1, −3);
        // python: (sp(-1) + sp(-3)) / 2 * (2 / 2) = 0.18092451954598246
        close(scalar(simnpo(t1(&[3.0, 8.0]), t1(&[3.0, 4.0]), 2.0, 1.0)), 0.180_924_519_545_982_46);
        // γ = 0 and NLL = 0: (2/β) ln 2.
        close(scalar(simnpo(t1(&[0.0]), t1(&[5.0]), 4.5, 0.0)), 2.0 / 4.5 * std::f64::consts::LN_2);
    }

    #[test]
    fn kl_is_zero_for_identical_models_and_matches_two_point_distributions() {
        let device = Device::flex();
        let logits: Tensor<3> =
            Tensor::from_data(TensorData::new(vec![0.3f32, -1.0, 2.0, 0.5, 0.5, 0.1], [1, 2, 3]), &device);
        let mask: Tensor<2> = Tensor::from_data(TensorData::new(vec![1.0f32, 1.0], [1, 2]), &device);
        close(scalar(masked_token_kl(logits.clone(), logits, mask)), 0.0);
        // Position 0: ref (½, ½), cur (¼, ¾): KL = ½ ln 2 + ½ ln(2/3) = 0.14384103622589045. Position 1 is masked
        // out, with a wildly different distribution that must not count.
        let l = |v: [f32; 4]| -> Tensor<3> { Tensor::from_data(TensorData::new(v.to_vec(), [1, 2, 2]), &device) };
        let reference = l([0.5f32.ln(), 0.5f32.ln(), 0.0, 0.0]);
        let current = l([0.25f32.ln(), 0.75f32.ln(), 9.0, -9.0]);
        let mask: Tensor<2> = Tensor::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &device);
        close(scalar(masked_token_kl(reference, current, mask)), 0.143_841_036_225_890_45);
    }
}

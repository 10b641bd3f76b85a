//! KL and Jensen–Shannon divergences between the predictive distributions of two models, per sample.
//!
//! For the class distributions `P` (the evaluated model) and `Q` (the reference, e.g. an oracle) of one sample:
//!
//! ```text
//! KL(P ‖ Q) = Σ_j p_j ln(p_j / q_j)                          (Kullback & Leibler 1951; terms with p_j = 0 are 0)
//! JS(P, Q)  = ½ KL(P ‖ M) + ½ KL(Q ‖ M),   M = (P + Q) / 2   (Lin 1991)
//! ```
//!
//! Both are in **nats** (natural logarithm). `KL ∈ [0, ∞]`, infinite only when `Q` puts zero mass where `P` does
//! not (possible only with [`Probabilities`]: a softmax of finite logits is positive everywhere). `JS ∈ [0, ln 2]`
//! (`ln 2 ≈ 0.693` for disjoint supports) and is symmetric; divide by `ln 2` for the base-2 value in `[0, 1]`.
//! Both are 0 exactly when `P = Q`.
//!
//! From logits the distributions are formed in `f64` with a shifted log-softmax, so no probability underflows to 0
//! before the logarithm. Rounding can leave a result a few ulps outside its range (−1e-17, ln 2 + 1e-16); results
//! are clamped into `[0, ∞]` and `[0, ln 2]`.

use crate::check;
use crate::classify::{Logits, check_matrix};
use crate::error::{EvalError, Result};

/// Largest accepted `|Σ_j p_j − 1|` of a row of [`Probabilities`]; `f32` softmax outputs over a few thousand classes
/// are within it.
pub const PROBABILITY_SUM_TOLERANCE: f64 = 1e-4;

/// A checked, borrowed batch of class probabilities: `rows × num_classes` values, row-major (`[N, C]`).
///
/// Construction checks the shape, finiteness, that entries are `≥ 0` and that each row sums to 1 within
/// [`PROBABILITY_SUM_TOLERANCE`]; the metrics divide each row by its sum so they see an exact distribution.
#[derive(Debug, Clone, Copy)]
pub struct Probabilities<'a> {
    values: &'a [f32],
    num_classes: usize,
}

impl<'a> Probabilities<'a> {
    /// Checks `values` (row-major `[N, num_classes]`) and wraps it.
    ///
    /// # Errors
    /// As [`Logits::new`], plus [`EvalError::NotADistribution`] for a row with a negative entry or a sum off 1.
    pub fn new(values: &'a [f32], num_classes: usize) -> Result<Self> {
        let values = check_matrix("probabilities", values, num_classes)?;
        for (row, r) in values.chunks_exact(num_classes).enumerate() {
            let sum: f64 = r.iter().map(|&v| f64::from(v)).sum();
            let min = r.iter().map(|&v| f64::from(v)).fold(f64::INFINITY, f64::min);
            if min < 0.0 || (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
                return Err(EvalError::NotADistribution { what: "probabilities", row, sum, min });
            }
        }
        Ok(Self { values, num_classes })
    }

    /// Number of rows (samples).
    pub fn num_rows(&self) -> usize {
        self.values.len() / self.num_classes
    }

    /// Number of classes (columns).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
}

/// Natural-log probabilities of each row of logits: `ln p_j = (z_j − z_max) − ln_1p(Σ_{k≠max} e^{z_k − z_max})`.
///
/// Shifting by the maximum keeps every exponent `≤ 0`; taking `ln_1p` of the *other* classes' mass keeps `ln p` of
/// a confident class exact (`−1e-19`, not 0), so two confident models still differ where they should.
fn log_softmax_rows(logits: &Logits<'_>) -> Vec<Vec<f64>> {
    logits
        .rows()
        .map(|row| {
            let z: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            let arg_max = (0..z.len()).fold(0, |best, j| if z[j] > z[best] { j } else { best });
            let max = z[arg_max];
            let rest: f64 = z.iter().enumerate().filter(|(j, _)| *j != arg_max).map(|(_, v)| (v - max).exp()).sum();
            let log_norm = rest.ln_1p();
            z.iter().map(|v| (v - max) - log_norm).collect()
        })
        .collect()
}

/// Natural-log probabilities of each row of probabilities, after dividing the row by its sum (`ln 0 = −∞`).
fn log_prob_rows(probs: &Probabilities<'_>) -> Vec<Vec<f64>> {
    probs
        .values
        .chunks_exact(probs.num_classes)
        .map(|row| {
            let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
            row.iter().map(|&v| (f64::from(v) / sum).ln()).collect()
        })
        .collect()
}

/// `KL(P ‖ Q)` of one sample from log-probabilities.
fn kl_row(lp: &[f64], lq: &[f64]) -> f64 {
    let kl: f64 = lp
        .iter()
        .zip(lq)
        .filter(|(a, _)| **a > f64::NEG_INFINITY)
        .map(|(&a, &b)| if b == f64::NEG_INFINITY { f64::INFINITY } else { a.exp() * (a - b) })
        .sum();
    kl.max(0.0)
}

/// `JS(P, Q)` of one sample from log-probabilities.
///
/// With `d = ln q_j − ln p_j`, `ln(p_j / m_j) = −ln((1 + e^d) / 2)`, evaluated as `ln_1p(expm1(d) / 2)` (for
/// `d ≤ 0`; mirrored for `d > 0`) so that two nearly equal, confident distributions are not swamped by the rounding
/// of `ln 2`: class `j` then contributes its true `≈ p_j d² / 4`, not an error of `±p_j |d|`.
fn js_row(lp: &[f64], lq: &[f64]) -> f64 {
    let ln_half_one_plus_exp = |d: f64| {
        if d > 0.0 { d + ((-d).exp_m1() * 0.5).ln_1p() } else { (d.exp_m1() * 0.5).ln_1p() }
    };
    let js: f64 = lp
        .iter()
        .zip(lq)
        .map(|(&a, &b)| {
            let mut t = 0.0;
            if a > f64::NEG_INFINITY {
                t -= 0.5 * a.exp() * ln_half_one_plus_exp(b - a);
            }
            if b > f64::NEG_INFINITY {
                t -= 0.5 * b.exp() * ln_half_one_plus_exp(a - b);
            }
            t
        })
        .sum();
    js.clamp(0.0, std::f64::consts::LN_2)
}

fn check_pair(p_rows: usize, p_classes: usize, q_rows: usize, q_classes: usize) -> Result<()> {
    check::same_len("p rows", p_rows, "q rows", q_rows)?;
    if p_classes != q_classes {
        return Err(EvalError::ShapeMismatch {
            what: "p and q",
            detail: format!("p has {p_classes} classes but q has {q_classes}; compare models with the same classes"),
        });
    }
    Ok(())
}

/// Per-sample `KL(P ‖ Q)` in nats between the softmax distributions of two batches of logits (same samples, same
/// order). `p` is the evaluated model, `q` the reference.
///
/// # Errors
/// [`EvalError::LengthMismatch`] for different row counts, [`EvalError::ShapeMismatch`] for different class counts.
pub fn kl_from_logits(p: &Logits<'_>, q: &Logits<'_>) -> Result<Vec<f64>> {
    check_pair(p.num_rows(), p.num_classes(), q.num_rows(), q.num_classes())?;
    let (lp, lq) = (log_softmax_rows(p), log_softmax_rows(q));
    Ok(p.rows().zip(q.rows()).zip(lp.iter().zip(&lq)).map(|((z, w), (a, b))| kl_logit_row(z, w, a, b)).collect())
}

/// `KL(P ‖ Q)` of one sample from its logits `z`, `w` and log-probabilities `a`, `b`.
///
/// `ln p_j − ln q_j = d_j − ln Σ_k q_k e^{d_k}` with `d = z − w`, so `KL = Σ_j p_j d_j − ln Σ_k q_k e^{d_k}`, and the
/// same holds for `d` shifted by any constant. Shifting by `d` at `P`'s mode makes the dominant term exactly 0 and
/// `ln Σ_k q_k e^{d_k} = ln_1p(Σ_k q_k expm1(d_k))` keeps tiny differences: two confident models whose
/// distributions differ only in classes of mass `1e-25` get a KL of order `1e-26`, not a rounded 0 (the
/// log-probability difference of the dominant class, `~1e-25`, is below its ulp).
fn kl_logit_row(z: &[f32], w: &[f32], a: &[f64], b: &[f64]) -> f64 {
    let mode = (0..a.len()).fold(0, |best, j| if a[j] > a[best] { j } else { best });
    let shift = f64::from(z[mode]) - f64::from(w[mode]);
    let d: Vec<f64> = z.iter().zip(w).map(|(&zj, &wj)| (f64::from(zj) - f64::from(wj)) - shift).collect();
    let mean_p: f64 = a.iter().zip(&d).map(|(aj, dj)| aj.exp() * dj).sum();
    let max_d = d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Σ_k q_k e^{d_k} − 1 = Σ_k q_k expm1(d_k); `ln_1p` of it is exact near 0. Far from 0 (below −½, or where
    // expm1 would overflow) nothing cancels and the plain log-sum-exp of ln q_k + d_k is the accurate form.
    let excess = if max_d <= 600.0 { b.iter().zip(&d).map(|(bj, dj)| bj.exp() * dj.exp_m1()).sum() } else { f64::NAN };
    let log_mean_q = if excess >= -0.5 {
        excess.ln_1p()
    } else {
        let terms: Vec<f64> = b.iter().zip(&d).map(|(bj, dj)| bj + dj).collect();
        let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
    };
    (mean_p - log_mean_q).max(0.0)
}

/// Per-sample `JS(P, Q)` in nats, in `[0, ln 2]`, between the softmax distributions of two batches of logits.
///
/// # Errors
/// As [`kl_from_logits`].
pub fn js_from_logits(p: &Logits<'_>, q: &Logits<'_>) -> Result<Vec<f64>> {
    check_pair(p.num_rows(), p.num_classes(), q.num_rows(), q.num_classes())?;
    Ok(log_softmax_rows(p).iter().zip(&log_softmax_rows(q)).map(|(a, b)| js_row(a, b)).collect())
}

/// Per-sample `KL(P ‖ Q)` in nats between two batches of probabilities; `+∞` where `q_j = 0 < p_j`.
///
/// # Errors
/// As [`kl_from_logits`].
pub fn kl_from_probabilities(p: &Probabilities<'_>, q: &Probabilities<'_>) -> Result<Vec<f64>> {
    check_pair(p.num_rows(), p.num_classes(), q.num_rows(), q.num_classes())?;
    Ok(log_prob_rows(p).iter().zip(&log_prob_rows(q)).map(|(a, b)| kl_row(a, b)).collect())
}

/// Per-sample `JS(P, Q)` in nats, in `[0, ln 2]`, between two batches of probabilities.
///
/// # Errors
/// As [`kl_from_logits`].
pub fn js_from_probabilities(p: &Probabilities<'_>, q: &Probabilities<'_>) -> Result<Vec<f64>> {
    check_pair(p.num_rows(), p.num_classes(), q.num_rows(), q.num_classes())?;
    Ok(log_prob_rows(p).iter().zip(&log_prob_rows(q)).map(|(a, b)| js_row(a, b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::LN_2;

    #[test]
    fn hand_computed_values() {
        // P = (½, ½), Q = (¼, ¾): KL = ½ ln 2 + ½ ln(2/3) = ½ ln(4/3).
        // M = (3/8, 5/8): JS = ½[½ ln(4/3) + ½ ln(4/5)] + ½[¼ ln(2/3) + ¾ ln(6/5)].
        let p = [0.5f32, 0.5];
        let q = [0.25f32, 0.75];
        let (pp, qq) = (Probabilities::new(&p, 2).unwrap(), Probabilities::new(&q, 2).unwrap());
        let kl = kl_from_probabilities(&pp, &qq).unwrap()[0];
        assert!((kl - 0.5 * (4.0f64 / 3.0).ln()).abs() < 1e-15, "{kl}");
        let js = js_from_probabilities(&pp, &qq).unwrap()[0];
        let expected = 0.5 * (0.5 * (4.0f64 / 3.0).ln() + 0.5 * 0.8f64.ln())
            + 0.5 * (0.25 * (2.0f64 / 3.0).ln() + 0.75 * 1.2f64.ln());
        assert!((js - expected).abs() < 1e-15, "{js} vs {expected}");
        // The same distributions from logits (0, 0) and (0, ln 3).
        let lp = [0.0f32, 0.0];
        let lq = [0.0f32, 3f32.ln()];
        let (a, b) = (Logits::new(&lp, 2).unwrap(), Logits::new(&lq, 2).unwrap());
        assert!((kl_from_logits(&a, &b).unwrap()[0] - kl).abs() < 1e-7);
        assert!((js_from_logits(&a, &b).unwrap()[0] - js).abs() < 1e-7);
    }

    #[test]
    fn confident_models_keep_their_tiny_divergence() {
        // Logits (0, 40) vs (0.5, 40): p_0 = 1/(1 + e^40) ≈ e^−40, q_0 ≈ e^−39.5, and to first order in e^−40
        // KL = p_0 ln(p_0/q_0) + p_1 ln(p_1/q_1) ≈ −½ e^−40 + (e^−39.5 − e^−40) = e^−40 (e^½ − 3/2).
        let (a, b) = ([0.0f32, 40.0], [0.5f32, 40.0]);
        let (la, lb) = (Logits::new(&a, 2).unwrap(), Logits::new(&b, 2).unwrap());
        let kl = kl_from_logits(&la, &lb).unwrap()[0];
        let expected = (-40f64).exp() * (0.5f64.exp() - 1.5);
        assert!((kl / expected - 1.0).abs() < 1e-9, "{kl:e} vs {expected:e}");
        assert!(js_from_logits(&la, &lb).unwrap()[0] > 0.0);
    }

    #[test]
    fn disjoint_supports_reach_the_bounds() {
        let p = [1.0f32, 0.0];
        let q = [0.0f32, 1.0];
        let (pp, qq) = (Probabilities::new(&p, 2).unwrap(), Probabilities::new(&q, 2).unwrap());
        assert_eq!(kl_from_probabilities(&pp, &qq).unwrap(), vec![f64::INFINITY]);
        assert_eq!(js_from_probabilities(&pp, &qq).unwrap(), vec![LN_2]);
        assert_eq!(kl_from_probabilities(&pp, &pp).unwrap(), vec![0.0]);
        // Extreme logits: the log-softmax keeps KL finite and JS at its bound.
        let a = [80.0f32, -80.0];
        let b = [-80.0f32, 80.0];
        let (la, lb) = (Logits::new(&a, 2).unwrap(), Logits::new(&b, 2).unwrap());
        let kl = kl_from_logits(&la, &lb).unwrap()[0];
        // KL = 1 · (ln 1 − ln e^{−160}) + e^{−160} · (…) = 160.
        assert!((kl - 160.0).abs() < 1e-9, "{kl}");
        assert!((js_from_logits(&la, &lb).unwrap()[0] - LN_2).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(Probabilities::new(&[0.5, 0.6], 2), Err(EvalError::NotADistribution { row: 0, .. })));
        assert!(matches!(
            Probabilities::new(&[0.5, 0.5, 1.5, -0.5], 2),
            Err(EvalError::NotADistribution { row: 1, .. })
        ));
        assert!(matches!(Probabilities::new(&[0.5, f32::NAN], 2), Err(EvalError::NonFiniteRow { column: 1, .. })));
        let a = [0.0f32; 4];
        let b = [0.0f32; 6];
        let (la, lb) = (Logits::new(&a, 2).unwrap(), Logits::new(&b, 2).unwrap());
        assert!(matches!(kl_from_logits(&la, &lb), Err(EvalError::LengthMismatch { left_len: 2, right_len: 3, .. })));
        let lc = Logits::new(&b, 3).unwrap();
        assert!(matches!(js_from_logits(&la, &lc), Err(EvalError::ShapeMismatch { .. })));
    }
}

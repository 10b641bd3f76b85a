//! Per-sample classifier metrics from logits: predictions, accuracy, cross-entropy losses, the true-class
//! confidence and the logit-scaled confidence.
//!
//! Everything is computed in `f64` from one quantity, the **logit-scaled confidence** of sample `i` with logits `z`
//! and label `y`:
//!
//! ```text
//! φ = log p_y − log(1 − p_y) = z_y − log Σ_{j≠y} exp(z_j)
//! ```
//!
//! (the softmax normaliser cancels). The right-hand side is a log-sum-exp over the *other* classes, shifted by
//! their maximum, so it stays finite and exact for memorised samples where `p_y` rounds to 1 — this is the
//! statistic of Carlini et al. 2022 (LiRA) and of the NeurIPS-2023 unlearning competition. From it:
//!
//! - cross-entropy `ℓ = −log p_y = softplus(−φ) = log(1 + e^{−φ})`, evaluated with `ln_1p` so a memorised sample
//!   with `φ = 40` has loss `4.2e-18`, not 0 (in `f32`, and even in `f64` as `lse(z) − z_y`, it rounds to 0 and
//!   ties with every other memorised sample);
//! - confidence `p_y = σ(φ) = 1 / (1 + e^{−φ})`.

use crate::check;
use crate::error::{EvalError, Result};

/// A checked, borrowed batch of logits: `rows × num_classes` values, row-major (`[N, C]`, as a model's output).
///
/// Model outputs are `f32` (burn's default float); every metric converts them to `f64` before any arithmetic.
/// Construction checks that there is at least one row, at least two classes, a whole number of rows and no NaN or
/// infinity, so the metrics that take a `Logits` only check the labels.
#[derive(Debug, Clone, Copy)]
pub struct Logits<'a> {
    values: &'a [f32],
    num_classes: usize,
}

impl<'a> Logits<'a> {
    /// Checks `values` (row-major `[N, num_classes]`) and wraps it.
    ///
    /// # Errors
    /// [`EvalError::TooFewClasses`] when `num_classes < 2`, [`EvalError::Ragged`] when `values.len()` is not a
    /// multiple of `num_classes`, [`EvalError::Empty`] when there are no rows, [`EvalError::NonFiniteRow`] naming
    /// the first NaN or infinity.
    pub fn new(values: &'a [f32], num_classes: usize) -> Result<Self> {
        let m = check_matrix("logits", values, num_classes)?;
        Ok(Self { values: m, num_classes })
    }

    /// Number of rows (samples).
    pub fn num_rows(&self) -> usize {
        self.values.len() / self.num_classes
    }

    /// Number of classes (columns).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The rows, in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &'a [f32]> + 'a {
        self.values.chunks_exact(self.num_classes)
    }

    /// The raw row-major values.
    pub fn values(&self) -> &'a [f32] {
        self.values
    }
}

/// Shape and finiteness checks shared by [`Logits`] and [`crate::divergence::Probabilities`].
pub(crate) fn check_matrix<'a>(what: &'static str, values: &'a [f32], num_classes: usize) -> Result<&'a [f32]> {
    if num_classes < 2 {
        return Err(EvalError::TooFewClasses { what, num_classes });
    }
    if !values.len().is_multiple_of(num_classes) {
        return Err(EvalError::Ragged { what, len: values.len(), num_classes });
    }
    check::non_empty(what, "row", values)?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::NonFiniteRow {
            what,
            row: i / num_classes,
            column: i % num_classes,
            value: f64::from(values[i]),
        });
    }
    Ok(values)
}

/// Checks that there is one label per row and that every label is a class.
fn check_labels(logits: &Logits<'_>, labels: &[usize]) -> Result<()> {
    check::same_len("logits rows", logits.num_rows(), "labels", labels.len())?;
    let num_classes = logits.num_classes();
    match labels.iter().enumerate().find(|(_, l)| **l >= num_classes) {
        Some((row, &label)) => Err(EvalError::LabelOutOfRange { row, label, num_classes }),
        None => Ok(()),
    }
}

/// The predicted class of each row: the arg-max of the logits, the lowest index on ties (as `torch.argmax` and
/// `numpy.argmax`).
pub fn predictions(logits: &Logits<'_>) -> Vec<usize> {
    logits
        .rows()
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate().skip(1) {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Top-1 accuracy: the fraction of rows whose [`predictions`] equal the label, in `[0, 1]`.
///
/// # Errors
/// [`EvalError::LengthMismatch`] when there is not one label per row, [`EvalError::LabelOutOfRange`].
pub fn accuracy(logits: &Logits<'_>, labels: &[usize]) -> Result<f64> {
    check_labels(logits, labels)?;
    let correct = predictions(logits).iter().zip(labels).filter(|(p, l)| p == l).count();
    Ok(correct as f64 / labels.len() as f64)
}

/// `φ = z_y − log Σ_{j≠y} exp(z_j)` of one row, in `f64`. `row` has at least two entries and `y < row.len()`.
fn logit_scaled(row: &[f32], y: usize) -> f64 {
    let others = row.iter().enumerate().filter(|(j, _)| *j != y).map(|(_, &v)| f64::from(v));
    let max = others.clone().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = others.map(|v| (v - max).exp()).sum();
    f64::from(row[y]) - (max + sum.ln())
}

/// `softplus(x) = log(1 + e^x)`, without overflow for large `x` and without losing tiny values for very negative
/// `x` (`ln_1p(e^x) = e^x` there, to full precision).
pub(crate) fn softplus(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// The logit-scaled confidence `φ = log p_y − log(1 − p_y)` of each row (see the [module docs](self)).
///
/// Unbounded both ways; 0 means `p_y = ½`. It does not saturate: two memorised samples with `p_y` equal to 1 in
/// floating point still get different, finite values.
///
/// # Errors
/// [`EvalError::LengthMismatch`] when there is not one label per row, [`EvalError::LabelOutOfRange`].
pub fn logit_scaled_confidences(logits: &Logits<'_>, labels: &[usize]) -> Result<Vec<f64>> {
    check_labels(logits, labels)?;
    Ok(logits.rows().zip(labels).map(|(row, &y)| logit_scaled(row, y)).collect())
}

/// The per-sample cross-entropy `−log p_y = softplus(−φ)`, in `f64`, always `≥ 0`.
///
/// Memorised samples keep distinct, positive losses down to about `1e-300` (where `e^{−φ}` underflows), so the
/// loss-threshold attack does not see artificial ties.
///
/// # Errors
/// [`EvalError::LengthMismatch`] when there is not one label per row, [`EvalError::LabelOutOfRange`].
pub fn cross_entropy_losses(logits: &Logits<'_>, labels: &[usize]) -> Result<Vec<f64>> {
    Ok(logit_scaled_confidences(logits, labels)?.into_iter().map(|phi| softplus(-phi)).collect())
}

/// The softmax probability of the true class, `p_y = σ(φ)`, in `[0, 1]`.
///
/// # Errors
/// [`EvalError::LengthMismatch`] when there is not one label per row, [`EvalError::LabelOutOfRange`].
pub fn true_class_confidences(logits: &Logits<'_>, labels: &[usize]) -> Result<Vec<f64>> {
    Ok(logit_scaled_confidences(logits, labels)?.into_iter().map(|phi| 1.0 / (1.0 + (-phi).exp())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits(values: &[f32], c: usize) -> Logits<'_> {
        Logits::new(values, c).unwrap()
    }

    #[test]
    fn hand_computed_two_class_values() {
        // Logits (0, ln 3): p = (1/4, 3/4). For label 1: φ = ln 3, p_y = 3/4, loss = ln(4/3).
        // For label 0: φ = −ln 3, p_y = 1/4, loss = ln 4.
        let v = [0.0, 3f32.ln(), 0.0, 3f32.ln()];
        let l = logits(&v, 2);
        let phi = logit_scaled_confidences(&l, &[1, 0]).unwrap();
        let ln3 = f64::from(3f32.ln());
        assert!((phi[0] - ln3).abs() < 1e-12 && (phi[1] + ln3).abs() < 1e-12, "{phi:?}");
        let p = true_class_confidences(&l, &[1, 0]).unwrap();
        assert!((p[0] - 0.75).abs() < 1e-7 && (p[1] - 0.25).abs() < 1e-7, "{p:?}");
        let loss = cross_entropy_losses(&l, &[1, 0]).unwrap();
        assert!((loss[0] - (4.0f64 / 3.0).ln()).abs() < 1e-7, "{loss:?}");
        assert!((loss[1] - 4f64.ln()).abs() < 1e-7, "{loss:?}");
    }

    #[test]
    fn three_classes_match_the_softmax_definition() {
        let v = [1.0f32, -0.5, 2.0, 0.3, 0.3, -4.0];
        let l = logits(&v, 3);
        let labels = [2, 0];
        let loss = cross_entropy_losses(&l, &labels).unwrap();
        let p = true_class_confidences(&l, &labels).unwrap();
        let phi = logit_scaled_confidences(&l, &labels).unwrap();
        for (i, row) in v.chunks(3).enumerate() {
            let z: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
            let norm: f64 = z.iter().map(|x| x.exp()).sum();
            let py = z[labels[i]].exp() / norm;
            assert!((p[i] - py).abs() < 1e-12);
            assert!((loss[i] + py.ln()).abs() < 1e-12);
            assert!((phi[i] - (py.ln() - (1.0 - py).ln())).abs() < 1e-12);
        }
        assert_eq!(predictions(&l), vec![2, 0], "ties go to the lowest index");
        assert_eq!(accuracy(&l, &labels).unwrap(), 1.0);
        assert_eq!(accuracy(&l, &[0, 1]).unwrap(), 0.0);
    }

    #[test]
    fn memorised_samples_keep_distinct_nonzero_losses() {
        // Margins of 40 and 45 nats: p_y is 1 in f64 and the f32 loss is 0, yet φ and the loss stay exact:
        // loss = log(1 + e^{−40}) ≈ e^{−40} = 4.248e-18.
        let v = [40.0f32, 0.0, 45.0, 0.0];
        let l = logits(&v, 2);
        let loss = cross_entropy_losses(&l, &[0, 0]).unwrap();
        assert!((loss[0] / (-40f64).exp() - 1.0).abs() < 1e-12, "{loss:?}");
        assert!((loss[1] / (-45f64).exp() - 1.0).abs() < 1e-12, "{loss:?}");
        assert!(loss[0] > loss[1] && loss[1] > 0.0);
        let phi = logit_scaled_confidences(&l, &[0, 0]).unwrap();
        assert_eq!(phi, vec![40.0, 45.0]);
        // Far beyond f64 saturation, φ stays finite.
        let v = [1.0e4f32, -1.0e4, 0.0];
        let phi = logit_scaled_confidences(&logits(&v, 3), &[0]).unwrap();
        assert!((phi[0] - 1.0e4).abs() < 1e-9, "{phi:?}");
    }

    #[test]
    fn bad_input_is_reported_by_row_and_column() {
        let nan = [0.0, 1.0, 2.0, 0.0, f32::NAN, 1.0];
        match Logits::new(&nan, 3) {
            Err(e @ EvalError::NonFiniteRow { row: 1, column: 1, .. }) => {
                assert!(e.to_string().starts_with("logits row 1 holds NaN"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(Logits::new(&[f32::INFINITY, 0.0], 2), Err(EvalError::NonFiniteRow { row: 0, .. })));
        assert!(matches!(Logits::new(&[], 3), Err(EvalError::Empty { what: "logits", .. })));
        assert!(matches!(Logits::new(&[0.0; 5], 2), Err(EvalError::Ragged { len: 5, num_classes: 2, .. })));
        assert!(matches!(Logits::new(&[0.0; 4], 1), Err(EvalError::TooFewClasses { num_classes: 1, .. })));
        assert!(matches!(Logits::new(&[0.0; 4], 0), Err(EvalError::TooFewClasses { num_classes: 0, .. })));
        let l = logits(&[0.0; 4], 2);
        assert!(matches!(accuracy(&l, &[0, 2]), Err(EvalError::LabelOutOfRange { row: 1, label: 2, num_classes: 2 })));
        match cross_entropy_losses(&l, &[0]) {
            Err(e @ EvalError::LengthMismatch { left_len: 2, right_len: 1, .. }) => {
                assert!(e.to_string().contains("has 2 entries but labels has 1"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}

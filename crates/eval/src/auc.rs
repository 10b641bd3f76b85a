//! Area under the ROC curve, with ties handled as scikit-learn's `roc_auc_score` handles them.
//!
//! For positives `P` and negatives `N` with scores `s`,
//!
//! ```text
//! AUC = ( #{(p, n) : s_p > s_n} + ½ #{(p, n) : s_p = s_n} ) / (|P| |N|)
//! ```
//!
//! the Mann–Whitney U statistic over `|P| |N|` (Hanley & McNeil 1982). It equals the trapezoid area under the ROC
//! curve that scikit-learn integrates (a run of tied scores is one diagonal segment of the curve, whose trapezoid
//! counts each tied pair one half) and the average-rank formula `(R_P − |P|(|P|+1)/2) / (|P||N|)`.
//!
//! The count is exact: it is accumulated in integers (doubled, so halves stay whole) and divided once, so the
//! result is the correctly rounded `f64` of the rational AUC. Scores are compared as numbers: `-0.0 == 0.0` is a
//! tie, as in numpy.

use crate::check;
use crate::error::{EvalError, Result};

/// ROC AUC of `scores` against binary `labels` (`true` = positive), as `sklearn.metrics.roc_auc_score(labels,
/// scores)`: the probability that a random positive scores above a random negative, ties counting one half.
///
/// # Errors
/// [`EvalError::LengthMismatch`], [`EvalError::NonFinite`], and [`EvalError::Empty`] when either class has no
/// sample (scikit-learn raises "only one class present" there: the AUC is undefined).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check::same_len("scores", scores.len(), "labels", labels.len())?;
    check::finite("scores", scores)?;
    let pairs = scores.iter().copied().zip(labels.iter().copied()).collect();
    auc_of_pairs(pairs)
}

/// ROC AUC of two groups of scores: `positives` should score higher (the same value as [`roc_auc`] on the
/// concatenation labelled `true` then `false`).
///
/// # Errors
/// [`EvalError::Empty`] when either group is empty, [`EvalError::NonFinite`].
pub fn auc_from_groups(positives: &[f64], negatives: &[f64]) -> Result<f64> {
    check::non_empty("positive scores", "score", positives)?;
    check::non_empty("negative scores", "score", negatives)?;
    check::finite("positive scores", positives)?;
    check::finite("negative scores", negatives)?;
    let pairs = positives.iter().map(|&s| (s, true)).chain(negatives.iter().map(|&s| (s, false))).collect();
    auc_of_pairs(pairs)
}

/// The Mann–Whitney count over finite `(score, is_positive)` pairs.
fn auc_of_pairs(mut pairs: Vec<(f64, bool)>) -> Result<f64> {
    let num_pos = pairs.iter().filter(|(_, p)| *p).count() as u128;
    let num_neg = pairs.len() as u128 - num_pos;
    if num_pos == 0 {
        return Err(EvalError::Empty { what: "positive scores", unit: "positive sample" });
    }
    if num_neg == 0 {
        return Err(EvalError::Empty { what: "negative scores", unit: "negative sample" });
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Walk groups of equal scores in ascending order; `twice_u` counts each won pair 2 and each tied pair 1.
    let (mut twice_u, mut neg_below, mut start) = (0u128, 0u128, 0usize);
    while start < pairs.len() {
        let score = pairs[start].0;
        let end = start + pairs[start..].iter().take_while(|(s, _)| *s == score).count();
        let pos_here = pairs[start..end].iter().filter(|(_, p)| *p).count() as u128;
        let neg_here = (end - start) as u128 - pos_here;
        twice_u += pos_here * (2 * neg_below + neg_here);
        neg_below += neg_here;
        start = end;
    }
    Ok(twice_u as f64 / (2 * num_pos * num_neg) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        // Positives {3, 2}, negatives {2, 1}: pairs (3,2) win, (3,1) win, (2,2) tie, (2,1) win → 3.5 / 4.
        assert_eq!(auc_from_groups(&[3.0, 2.0], &[2.0, 1.0]).unwrap(), 0.875);
        assert_eq!(roc_auc(&[3.0, 2.0, 2.0, 1.0], &[true, true, false, false]).unwrap(), 0.875);
        // All scores equal: every pair ties.
        assert_eq!(auc_from_groups(&[1.0; 3], &[1.0; 5]).unwrap(), 0.5);
        // Perfect separation, both ways.
        assert_eq!(auc_from_groups(&[2.0, 3.0], &[0.0, 1.0]).unwrap(), 1.0);
        assert_eq!(auc_from_groups(&[0.0, 1.0], &[2.0, 3.0]).unwrap(), 0.0);
        // Signed zeros tie, as in numpy.
        assert_eq!(auc_from_groups(&[-0.0], &[0.0]).unwrap(), 0.5);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(roc_auc(&[1.0, 2.0], &[true, true]), Err(EvalError::Empty { what: "negative scores", .. })));
        assert!(matches!(roc_auc(&[1.0], &[false]), Err(EvalError::Empty { what: "positive scores", .. })));
        assert!(matches!(auc_from_groups(&[], &[1.0]), Err(EvalError::Empty { .. })));
        assert!(matches!(
            roc_auc(&[1.0], &[true, false]),
            Err(EvalError::LengthMismatch { left_len: 1, right_len: 2, .. })
        ));
        assert!(matches!(
            auc_from_groups(&[1.0], &[0.0, f64::NAN]),
            Err(EvalError::NonFinite { what: "negative scores", index: 1, .. })
        ));
    }
}

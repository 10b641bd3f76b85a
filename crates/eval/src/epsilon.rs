//! The per-example ε-score of the NeurIPS-2023 machine-unlearning competition (Triantafillou et al. 2024, "Are we
//! making progress in unlearning? Findings from the first NeurIPS unlearning competition", §3; the official
//! `compute_forget_score_from_confs`).
//!
//! # Definition
//!
//! Inputs: `N` unlearned models and `N` models retrained without the forget set (each from its own seed), and for
//! every forget-set example `x` the statistic `φ = log p_y − log(1 − p_y)` of each model
//! ([`crate::logit_scaled_confidences`]). For one example, `U = {φ_1..φ_N}` (unlearned) and `R` (retrained).
//! An attack is a decision rule "predict positive"; with `FPR` the fraction of negatives predicted positive and
//! `FNR` the fraction of positives predicted negative, one attack gives (Kairouz et al. 2015, δ = [`DELTA`])
//!
//! ```text
//! ε_attack = max( 0, ln(1 − δ − FPR) − ln FNR, ln(1 − δ − FNR) − ln FPR )
//! ```
//!
//! (a term whose `1 − δ − rate ≤ 0` is left out). Attacks with `FPR = FNR = 0` separate perfectly: `ε = ∞`.
//! Attacks with exactly one of `FPR`, `FNR` zero are discarded (too few samples to estimate that tail). Two
//! families of attacks are used:
//!
//! - **single threshold**: positive = the group (`U` or `R`) with the larger median (`R` only if its median is
//!   strictly larger); predict positive when `φ ≥ t`;
//! - **interval**: positive = the peakier group, the one with the smaller range `max − min` (`U` when the ranges
//!   tie and the medians tie, as in the official code); predict positive when `l ≤ φ ≤ r`.
//!
//! `ε(x)` is the largest `ε_attack` over both families, clipped to [`EPSILON_CAP`]; `ε(x) = 0` when every attack is
//! discarded. Before any attack, when one group's range is below [`PEAKY_RANGE_RATIO`] of the other's (one
//! distribution is a near point mass), `ε(x) = EPSILON_CAP` (the official code's shortcut).
//!
//! The example's score buckets `ε` by [`BUCKET_WIDTH`] and halves per bucket, up to a cap that reflects how large an
//! ε `N` samples can certify:
//!
//! ```text
//! cap = ⌈ln(N − 1)⌉,    score(x) = 2^{−⌊ε(x) / 0.5⌋} if ε(x) < cap, else 0
//! ```
//!
//! and the **forget quality** is the mean score over the forget set, in `[0, 1]` (1: no attack tells the unlearned
//! models from the retrained ones on any example).
//!
//! # Differences from the official code
//!
//! The official code evaluates the attacks on a grid (100 thresholds per unit of `φ`; for intervals, widths within
//! ±2 of the smaller group's range). doppel evaluates every threshold and every interval whose ends are observed
//! values, which realises every distinct `(FPR, FNR)` the families can reach: the exact supremum the grid
//! approximates. doppel's `ε` is therefore never below the official one on the single-threshold family and can
//! exceed it on the interval family (intervals of any width). The cost is `O(N²)` per example. doppel also asks for
//! `N ≥ 3` models per side: at `N = 2` the cap is 0 and every score would be 0.

use crate::check;
use crate::error::{EvalError, Result};

/// δ of the (ε, δ) estimate, as in the competition.
pub const DELTA: f64 = 1e-5;
/// Largest reported ε (the official `EPSILON_CAP`); perfect separation reports this value.
pub const EPSILON_CAP: f64 = 50.0;
/// Width of one ε bucket; each bucket halves the score.
pub const BUCKET_WIDTH: f64 = 0.5;
/// Range ratio below which one group counts as a point mass and ε is [`EPSILON_CAP`].
pub const PEAKY_RANGE_RATIO: f64 = 0.01;

/// The ε-scores of a forget set.
#[derive(Debug, Clone, PartialEq)]
pub struct EpsilonReport {
    /// `ε(x)` of each example, in `[0, EPSILON_CAP]`.
    pub epsilons: Vec<f64>,
    /// `score(x)` of each example: `2^{−bucket}` or 0.
    pub scores: Vec<f64>,
    /// The mean score, in `[0, 1]`.
    pub forget_quality: f64,
    /// `⌈ln(N − 1)⌉`: an example with `ε` at or above it scores 0.
    pub cap: f64,
    /// `N`, the number of models per side.
    pub num_models: usize,
}

/// Checks a `[N models][examples]` matrix and returns its number of examples.
fn check_models<R: AsRef<[f64]>>(what: &'static str, models: &[R]) -> Result<usize> {
    check::non_empty(what, "model", models)?;
    let examples = models[0].as_ref().len();
    for (m, row) in models.iter().enumerate() {
        let row = row.as_ref();
        if row.len() != examples {
            return Err(EvalError::ShapeMismatch {
                what,
                detail: format!(
                    "model {m} has {} examples but model 0 has {examples}; pass one row per model",
                    row.len()
                ),
            });
        }
        if let Some(column) = row.iter().position(|v| !v.is_finite()) {
            return Err(EvalError::NonFiniteRow { what, row: m, column, value: row[column] });
        }
    }
    if examples == 0 {
        return Err(EvalError::Empty { what, unit: "example per model" });
    }
    Ok(examples)
}

/// ε-scores and forget quality from the statistics of `N` unlearned and `N` retrained models (see the
/// [module docs](self)).
///
/// `unlearned[m][i]` is `φ` of forget-set example `i` under unlearned model `m`; `retrained` likewise. Both have
/// `N ≥ 3` rows of the same length.
///
/// # Errors
/// [`EvalError::Empty`], [`EvalError::ShapeMismatch`] for rows of different lengths, [`EvalError::NonFiniteRow`],
/// [`EvalError::LengthMismatch`] when the model counts differ, [`EvalError::InvalidParameter`] when `N < 3`.
pub fn epsilon_scores<R: AsRef<[f64]>>(unlearned: &[R], retrained: &[R]) -> Result<EpsilonReport> {
    let examples = check_models("unlearned statistics", unlearned)?;
    let examples_r = check_models("retrained statistics", retrained)?;
    check::same_len("unlearned models", unlearned.len(), "retrained models", retrained.len())?;
    check::same_len("unlearned examples", examples, "retrained examples", examples_r)?;
    let n = unlearned.len();
    if n < 3 {
        return Err(EvalError::InvalidParameter {
            name: "number of models",
            value: n.to_string(),
            expected: "at least 3 per side (with N = 2 the cap ⌈ln(N − 1)⌉ is 0 and every score is 0)".into(),
        });
    }
    let mut epsilons = Vec::with_capacity(examples);
    for i in 0..examples {
        let u: Vec<f64> = unlearned.iter().map(|row| row.as_ref()[i]).collect();
        let r: Vec<f64> = retrained.iter().map(|row| row.as_ref()[i]).collect();
        epsilons.push(epsilon_of(&u, &r));
    }
    let scores: Vec<f64> = epsilons.iter().map(|&e| score(e, n)).collect();
    let forget_quality = scores.iter().sum::<f64>() / examples as f64;
    Ok(EpsilonReport { epsilons, scores, forget_quality, cap: cap(n), num_models: n })
}

/// `⌈ln(N − 1)⌉`, the ε above which `N` models per side cannot score an example.
pub fn cap(num_models: usize) -> f64 {
    (num_models as f64 - 1.0).ln().ceil()
}

/// The score of one example: `2^{−⌊ε / 0.5⌋}` when `ε < ⌈ln(N − 1)⌉`, else 0 (NaN scores 0).
pub fn score(epsilon: f64, num_models: usize) -> f64 {
    if epsilon < cap(num_models) { 0.5f64.powf((epsilon.max(0.0) / BUCKET_WIDTH).floor()) } else { 0.0 }
}

/// `ε(x)` of one example from its unlearned and retrained statistics (equal, non-zero lengths, finite).
///
/// # Errors
/// [`EvalError::Empty`], [`EvalError::LengthMismatch`], [`EvalError::NonFinite`].
pub fn example_epsilon(unlearned: &[f64], retrained: &[f64]) -> Result<f64> {
    check::non_empty("unlearned statistics", "model", unlearned)?;
    check::same_len("unlearned statistics", unlearned.len(), "retrained statistics", retrained.len())?;
    check::finite("unlearned statistics", unlearned)?;
    check::finite("retrained statistics", retrained)?;
    Ok(epsilon_of(unlearned, retrained))
}

/// numpy's median: the middle value, or the mean of the two middle values.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

fn range(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    max - min
}

/// ε of one attack with `tp` of `num_pos` positives and `fp` of `num_neg` negatives predicted positive;
/// `None` when the attack is discarded.
fn attack_epsilon(tp: usize, num_pos: usize, fp: usize, num_neg: usize) -> Option<f64> {
    let fpr = fp as f64 / num_neg as f64;
    let fnr = (num_pos - tp) as f64 / num_pos as f64;
    if fpr == 0.0 && fnr == 0.0 {
        return Some(f64::INFINITY);
    }
    if fpr == 0.0 || fnr == 0.0 {
        return None;
    }
    let term = |rate: f64, other: f64| {
        let a = 1.0 - DELTA - rate;
        (a > 0.0).then(|| a.ln() - other.ln())
    };
    match (term(fpr, fnr), term(fnr, fpr)) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(f64::NEG_INFINITY).max(b.unwrap_or(f64::NEG_INFINITY)).max(0.0)),
    }
}

/// The ε of one example (inputs already checked).
fn epsilon_of(u: &[f64], r: &[f64]) -> f64 {
    let (range_u, range_r) = (range(u), range(r));
    let (largest, smallest) = (range_u.max(range_r), range_u.min(range_r));
    if largest > 0.0 && smallest / largest < PEAKY_RANGE_RATIO {
        return EPSILON_CAP;
    }
    // Single threshold: positive = larger median (retrained only if strictly larger).
    let retrain_positive = median(r) > median(u);
    let (single_pos, single_neg, single_pos_range, single_neg_range) =
        if retrain_positive { (r, u, range_r, range_u) } else { (u, r, range_u, range_r) };
    // Interval: positive = the peakier group; the official code swaps when the single-threshold positive's range
    // is at least the other's.
    let (interval_pos, interval_neg) =
        if single_pos_range >= single_neg_range { (single_neg, single_pos) } else { (single_pos, single_neg) };

    let mut best: Option<f64> = None;
    let mut consider = |e: Option<f64>| {
        if let Some(e) = e {
            best = Some(best.map_or(e, |b: f64| b.max(e)));
        }
    };

    let (values, pos, neg) = grouped(single_pos, single_neg);
    let (num_pos, num_neg) = (single_pos.len(), single_neg.len());
    // Predict positive when φ ≥ values[i]: suffix counts.
    let (mut tp, mut fp) = (0, 0);
    for i in (0..values.len()).rev() {
        tp += pos[i];
        fp += neg[i];
        consider(attack_epsilon(tp, num_pos, fp, num_neg));
    }

    let (values, pos, neg) = grouped(interval_pos, interval_neg);
    let (num_pos, num_neg) = (interval_pos.len(), interval_neg.len());
    for i in 0..values.len() {
        let (mut tp, mut fp) = (0, 0);
        for j in i..values.len() {
            tp += pos[j];
            fp += neg[j];
            consider(attack_epsilon(tp, num_pos, fp, num_neg));
        }
    }
    best.unwrap_or(0.0).min(EPSILON_CAP)
}

/// The distinct values of `pos ∪ neg` in ascending order with how many positives and negatives hold each.
fn grouped(pos: &[f64], neg: &[f64]) -> (Vec<f64>, Vec<usize>, Vec<usize>) {
    let mut all: Vec<(f64, bool)> = pos.iter().map(|&v| (v, true)).chain(neg.iter().map(|&v| (v, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut values, mut p, mut n) = (Vec::new(), Vec::new(), Vec::new());
    for (v, is_pos) in all {
        if values.last() != Some(&v) {
            values.push(v);
            p.push(0);
            n.push(0);
        }
        let last = values.len() - 1;
        if is_pos {
            p[last] += 1;
        } else {
            n[last] += 1;
        }
    }
    (values, p, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[examples][models]` columns → `[models][examples]` rows.
    fn rows(columns: &[&[f64]]) -> Vec<Vec<f64>> {
        (0..columns[0].len()).map(|m| columns.iter().map(|c| c[m]).collect()).collect()
    }

    #[test]
    fn hand_computed_scores_with_four_models() {
        // N = 4: cap = ⌈ln 3⌉ = ⌈1.0986⌉ = 2, buckets [0, .5) → 1, [.5, 1) → ½, [1, 1.5) → ¼, [1.5, 2) → ⅛.
        //
        // A. U = {0, 1, 2, 3}, R = {.5, 1.5, 2.5, 3.5}. Medians 1.5 < 2: single-threshold positive = R.
        //    Best single threshold t = 1.5: R ≥ t: 3 of 4 (FNR ¼), U ≥ t: 2 of 4 (FPR ½):
        //    ε = max(ln(1 − δ − ½) − ln ¼, ln(1 − δ − ¼) − ln ½) = ln(.49999 / .25) = 0.693127.
        //    Ranges tie (3, 3), so the interval positive is U; an interval holding 3 U holds 2 R (they
        //    interleave), and 2 U with 1 R gives the same ε. Bucket ⌊0.693 / .5⌋ = 1 → score ½.
        // B. U = {1, 1.1, 1.2, 1.3} (range .3), R = {0, .9, 1.25, 3} (range 3). Medians 1.15 vs 1.075: positive U.
        //    Single thresholds reach at best FNR ¼, FPR ½ (t = 1.1) → 0.693127. Interval positive = U (peakier):
        //    [.9, 1.2] holds 3 U and 1 R: FNR ¼, FPR ¼ → ε = ln(.74999 / .25) = 1.098599 → bucket 2 → score ¼.
        // C. U = {0, .1, .2, .3}, R = {1, 1.1, 1.2, 1.3}: t = 1 separates (FPR = FNR = 0): ε = ∞ → cap 50 → 0.
        // D. U = R = {0, 1, 2, 3}: every attack has TP = FP, so FPR + FNR = 1 and ε = 0 → score 1.
        // E. U = {1, 1, 1, 1.001}, R = {0, 1, 2, 3}: range ratio .001 / 3 < 1% → ε = 50 → score 0.
        // Forget quality = (½ + ¼ + 0 + 1 + 0) / 5 = 0.35.
        let u = rows(&[
            &[0.0, 1.0, 2.0, 3.0],
            &[1.0, 1.1, 1.2, 1.3],
            &[0.0, 0.1, 0.2, 0.3],
            &[0.0, 1.0, 2.0, 3.0],
            &[1.0, 1.0, 1.0, 1.001],
        ]);
        let r = rows(&[
            &[0.5, 1.5, 2.5, 3.5],
            &[0.0, 0.9, 1.25, 3.0],
            &[1.0, 1.1, 1.2, 1.3],
            &[0.0, 1.0, 2.0, 3.0],
            &[0.0, 1.0, 2.0, 3.0],
        ]);
        let report = epsilon_scores(&u, &r).unwrap();
        let eps_a = (1.0 - DELTA - 0.5).ln() - 0.25f64.ln();
        let eps_b = (1.0 - DELTA - 0.25).ln() - 0.25f64.ln();
        assert!((eps_a - 0.693127).abs() < 1e-6 && (eps_b - 1.098599).abs() < 1e-6);
        let expected = [eps_a, eps_b, EPSILON_CAP, 0.0, EPSILON_CAP];
        for (got, want) in report.epsilons.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{:?}", report.epsilons);
        }
        assert_eq!(report.scores, vec![0.5, 0.25, 0.0, 1.0, 0.0]);
        assert!((report.forget_quality - 0.35).abs() < 1e-15);
        assert_eq!((report.cap, report.num_models), (2.0, 4));
    }

    #[test]
    fn hand_computed_score_with_eight_models() {
        // N = 8: cap = ⌈ln 7⌉ = ⌈1.9459⌉ = 2. U = {0..7}, R = {3.5, 7.5, 8.5, …, 13.5}.
        // Medians 3.5 < 10: single positive = R; t = 7 keeps 7 R (FNR ⅛) and 1 U (FPR ⅛):
        // ε = ln(1 − δ − ⅛) − ln ⅛ = ln(7 − 8δ) = 1.945899 → bucket ⌊3.89⌋ = 3 → score ⅛. Ranges 7 < 10 so the
        // interval positive is U; [0, 6] holds 7 U and R 3.5 (FNR ⅛, FPR ⅛), the same ε; no interval does better.
        let u: Vec<f64> = (0..8).map(f64::from).collect();
        let r: Vec<f64> = [3.5].into_iter().chain((0..7).map(|i| 7.5 + f64::from(i))).collect();
        let eps = example_epsilon(&u, &r).unwrap();
        assert!((eps - (7.0 - 8.0 * DELTA).ln()).abs() < 1e-12, "{eps}");
        let report = epsilon_scores(&rows(&[&u]), &rows(&[&r])).unwrap();
        assert_eq!(report.scores, vec![0.125]);
    }

    #[test]
    fn score_buckets_and_cap() {
        assert_eq!(cap(8), 2.0);
        assert_eq!(cap(3), 1.0);
        assert_eq!(cap(101), 5.0); // ln 100 = 4.6
        assert_eq!(score(0.0, 8), 1.0);
        assert_eq!(score(0.49, 8), 1.0);
        assert_eq!(score(0.5, 8), 0.5);
        assert_eq!(score(1.99, 8), 0.125);
        assert_eq!(score(2.0, 8), 0.0);
        assert_eq!(score(EPSILON_CAP, 1000), 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        let three = vec![vec![0.0, 1.0]; 3];
        let two = vec![vec![0.0, 1.0]; 2];
        assert!(matches!(epsilon_scores(&two, &two), Err(EvalError::InvalidParameter { .. })));
        assert!(matches!(epsilon_scores(&three, &two), Err(EvalError::LengthMismatch { .. })));
        let ragged = vec![vec![0.0, 1.0], vec![0.0], vec![0.0, 1.0]];
        assert!(matches!(epsilon_scores(&ragged, &three), Err(EvalError::ShapeMismatch { .. })));
        let nan = vec![vec![0.0, 1.0], vec![0.0, f64::NAN], vec![0.0, 1.0]];
        assert!(matches!(epsilon_scores(&three, &nan), Err(EvalError::NonFiniteRow { row: 1, column: 1, .. })));
        let empty: Vec<Vec<f64>> = vec![vec![]; 3];
        assert!(matches!(epsilon_scores(&empty, &empty), Err(EvalError::Empty { .. })));
        assert!(matches!(epsilon_scores::<Vec<f64>>(&[], &[]), Err(EvalError::Empty { .. })));
        assert!(matches!(example_epsilon(&[1.0], &[1.0, 2.0]), Err(EvalError::LengthMismatch { .. })));
    }
}

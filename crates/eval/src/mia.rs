//! Membership inference: the loss-threshold attack (an AUC), the logistic-regression attack of the NeurIPS-2023
//! unlearning starting kit (a cross-validated accuracy), and the SVC attack of Jia et al. 2023 and SalUn whose
//! MIA-Efficacy is the fraction of the forget set it calls non-members ([`svc_mia_efficacy`]).
//!
//! Both attacks see only one number per sample, its cross-entropy loss (compute it in `f64` with
//! [`crate::cross_entropy_losses`]: `f32` losses of memorised samples round to 0 and tie). *Members* are the
//! samples whose membership is tested (typically the forget set F), *non-members* samples the model never saw
//! (typically the test split).
//!
//! - [`loss_threshold_auc`]: the attacker calls a sample a member when its loss is below a threshold (Yeom et al.
//!   2018); sweeping the threshold gives the ROC AUC of the score `−loss`, members positive. 0.5 is chance.
//! - [`logistic_mia`]: the starting kit's `simple_mia` (Triantafillou et al. 2023, "NeurIPS 2023 Machine
//!   Unlearning Challenge" starting kit): balance members and non-members to the same size, then fit a 1-D
//!   L2-regularised logistic regression on the loss and report its mean held-out accuracy over stratified folds.
//!   0.5 is chance.
//!
//! # Differences from the starting kit
//!
//! The kit shuffles the forget-set losses with numpy's global RNG and keeps as many as there are test losses (its
//! forget set was the larger), then uses scikit-learn's `StratifiedShuffleSplit(n_splits=10)` (ten random 90/10
//! splits whose test parts may overlap). doppel subsamples whichever group is larger and uses stratified **k-fold**
//! cross-validation (every balanced sample is tested exactly once), both from an explicit seed through ChaCha8, so
//! a result is reproducible across machines.
//! The model is the same: scikit-learn's default `LogisticRegression()` (L2 penalty on the weight only, `C = 1`,
//! with intercept), fitted here by Newton's method to the exact optimum ([`LogisticFit`]).

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::auc::auc_from_groups;
use crate::check;
use crate::classify::softplus;
use crate::error::{EvalError, Result};
use crate::svc::{Svc, SvcConfig};

/// ROC AUC of the loss-threshold attack: score `−loss`, members positive. 1 means every member has a lower loss
/// than every non-member, 0.5 is chance. Ties count one half (see [`crate::auc`]).
///
/// # Errors
/// [`EvalError::Empty`] when either group is empty, [`EvalError::NonFinite`].
pub fn loss_threshold_auc(member_losses: &[f64], nonmember_losses: &[f64]) -> Result<f64> {
    check::non_empty("member losses", "loss", member_losses)?;
    check::non_empty("non-member losses", "loss", nonmember_losses)?;
    check::finite("member losses", member_losses)?;
    check::finite("non-member losses", nonmember_losses)?;
    let neg = |v: &[f64]| v.iter().map(|x| -x).collect::<Vec<_>>();
    auc_from_groups(&neg(member_losses), &neg(nonmember_losses))
}

/// The result of [`svc_mia_efficacy`].
#[derive(Debug, Clone, PartialEq)]
pub struct SvcMiaReport {
    /// MIA-Efficacy: the fraction of the targets the attack calls non-members, in `[0, 1]`. Higher means the
    /// targets look less like training data; a model retrained without them scores high.
    pub efficacy: f64,
    /// Shadow members (retain samples) the attack was fitted on.
    pub shadow_members: usize,
    /// Shadow non-members (test samples) the attack was fitted on.
    pub shadow_nonmembers: usize,
    /// The fitted SVC (its support vectors and decision function).
    pub svc: Svc,
}

/// SVC MIA-Efficacy on true-class confidences, as Unlearn-Sparse's and SalUn's `evaluation/SVC_MIA.py` computes
/// it (Jia et al. 2023, "Model sparsity can simplify machine unlearning"; Fan et al. 2024, "SalUn"): fit
/// `SVC(C=3, gamma="auto", kernel="rbf")` ([`SvcConfig::SALUN`]) on shadow members (label member: the first
/// `|test|` retain samples) against shadow non-members (the test samples), one feature per sample — the
/// softmax probability of its true class — and report the fraction of the targets it predicts non-member
/// (`1 − clf.predict(X_forget).mean()`, the reference's `SVC_MIA_forget_efficacy["confidence"]`).
///
/// The caller chooses the shadow groups (the reference: `Subset(retain, range(len(test)))` and the whole test
/// set). Confidences are rounded to `f32` first, as the reference's float32 softmax gives them, so confidences
/// that differ only beyond `f32` (a memorised sample at `1 − 1e-12`) are the ties they are in the reference.
///
/// # Errors
/// [`EvalError::Empty`] when a group is empty, [`EvalError::NonFinite`] for a NaN or infinite confidence.
pub fn svc_mia_efficacy(shadow_members: &[f64], shadow_nonmembers: &[f64], targets: &[f64]) -> Result<SvcMiaReport> {
    check::non_empty("shadow members", "confidence", shadow_members)?;
    check::non_empty("shadow non-members", "confidence", shadow_nonmembers)?;
    check::non_empty("targets", "confidence", targets)?;
    check::finite("shadow members", shadow_members)?;
    check::finite("shadow non-members", shadow_nonmembers)?;
    check::finite("targets", targets)?;
    let as_f32 = |v: f64| f64::from(v as f32);
    let x: Vec<f64> = shadow_members.iter().chain(shadow_nonmembers).map(|&v| as_f32(v)).collect();
    let y: Vec<bool> = std::iter::repeat_n(true, shadow_members.len())
        .chain(std::iter::repeat_n(false, shadow_nonmembers.len()))
        .collect();
    let svc = Svc::fit(&x, 1, &y, &SvcConfig::SALUN)?;
    let mut nonmembers = 0usize;
    for &t in targets {
        if !svc.predict(&[as_f32(t)])? {
            nonmembers += 1;
        }
    }
    Ok(SvcMiaReport {
        efficacy: nonmembers as f64 / targets.len() as f64,
        shadow_members: shadow_members.len(),
        shadow_nonmembers: shadow_nonmembers.len(),
        svc,
    })
}

/// [`svc_mia_efficacy`] on the study's sets with SalUn's shadow split: shadow members are the first `n` retain
/// confidences, shadow non-members the first `n` test confidences, `n = min(|R|, |test|, max_shadow)`.
///
/// With `max_shadow = None` and `|R| ≥ |test|` this is the reference's split exactly (`Subset(retain,
/// range(len(test)))` against the whole test set). A cap trades fidelity for time: the SVC's cost grows about as
/// `n²` (2 × 10,000 confidences take about 3 s on one core, 2 × 2,000 about 0.2 s).
///
/// # Errors
/// As [`svc_mia_efficacy`]; [`EvalError::InvalidParameter`] for `max_shadow = Some(0)`.
pub fn svc_mia_forget_efficacy(
    retain: &[f64],
    test: &[f64],
    forget: &[f64],
    max_shadow: Option<usize>,
) -> Result<SvcMiaReport> {
    if max_shadow == Some(0) {
        return Err(EvalError::InvalidParameter {
            name: "max_shadow",
            value: "0".into(),
            expected: "at least 1 (or no cap)".into(),
        });
    }
    let n = retain.len().min(test.len()).min(max_shadow.unwrap_or(usize::MAX));
    svc_mia_efficacy(&retain[..n], &test[..n], forget)
}

/// Hyperparameters of the logistic-regression attack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticMiaConfig {
    /// Number of cross-validation folds, at least 2 and at most the balanced group size.
    pub folds: usize,
    /// Inverse L2 regularisation strength `C` of the logistic regression (scikit-learn's `C`), finite and `> 0`.
    pub inverse_regularisation: f64,
}

impl LogisticMiaConfig {
    /// The NeurIPS-2023 unlearning starting kit's `simple_mia`: 10 splits, scikit-learn's default
    /// `LogisticRegression()` (`C = 1`).
    pub const STARTING_KIT: Self = Self { folds: 10, inverse_regularisation: 1.0 };
}

/// The result of [`logistic_mia`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticMiaReport {
    /// Mean held-out accuracy over the folds, in `[0, 1]`; 0.5 is chance.
    pub mean_accuracy: f64,
    /// Held-out accuracy of each fold, in fold order.
    pub fold_accuracies: Vec<f64>,
    /// Members (and, equally, non-members) used after balancing: the smaller group's size.
    pub per_group: usize,
}

/// The logistic-regression membership-inference attack on per-sample losses with stratified k-fold
/// cross-validation (see the [module docs](self)).
///
/// Steps, all randomness from one ChaCha8 stream seeded with `seed`:
/// 1. Shuffle members and non-members (Fisher–Yates); keep the first `n = min(|members|, |non-members|)` of each.
/// 2. Fold of the `i`-th kept sample of each group: `i mod k`; each fold holds `⌊n/k⌋` or `⌈n/k⌉` of each group.
/// 3. For each fold: fit [`LogisticFit`] on the other folds (label `true` = member), predict the fold, record the
///    accuracy. Report the mean over folds.
///
/// # Errors
/// [`EvalError::Empty`] when either group is empty, [`EvalError::NonFinite`], [`EvalError::InvalidParameter`] when
/// `folds < 2`, `folds > n` or `C` is not finite and positive.
pub fn logistic_mia(
    member_losses: &[f64],
    nonmember_losses: &[f64],
    config: &LogisticMiaConfig,
    seed: u64,
) -> Result<LogisticMiaReport> {
    check::non_empty("member losses", "loss", member_losses)?;
    check::non_empty("non-member losses", "loss", nonmember_losses)?;
    check::finite("member losses", member_losses)?;
    check::finite("non-member losses", nonmember_losses)?;
    check::positive("inverse_regularisation", config.inverse_regularisation)?;
    let n = member_losses.len().min(nonmember_losses.len());
    let k = config.folds;
    if k < 2 || k > n {
        return Err(EvalError::InvalidParameter {
            name: "folds",
            value: k.to_string(),
            expected: format!("in 2..={n} (the smaller of the member and non-member counts)"),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let members = shuffled(member_losses, &mut rng);
    let nonmembers = shuffled(nonmember_losses, &mut rng);
    // (loss, is_member, fold) of the balanced set.
    let samples: Vec<(f64, bool, usize)> =
        (0..n).flat_map(|i| [(members[i], true, i % k), (nonmembers[i], false, i % k)]).collect();
    let mut fold_accuracies = Vec::with_capacity(k);
    for fold in 0..k {
        let (train, test): (Vec<&(f64, bool, usize)>, Vec<_>) = samples.iter().partition(|s| s.2 != fold);
        let x: Vec<f64> = train.iter().map(|s| s.0).collect();
        let y: Vec<bool> = train.iter().map(|s| s.1).collect();
        let fit = LogisticFit::fit(&x, &y, config.inverse_regularisation)?;
        let correct = test.iter().filter(|s| fit.predict(s.0) == s.1).count();
        fold_accuracies.push(correct as f64 / test.len() as f64);
    }
    let mean_accuracy = fold_accuracies.iter().sum::<f64>() / k as f64;
    Ok(LogisticMiaReport { mean_accuracy, fold_accuracies, per_group: n })
}

/// A copy of `values` in Fisher–Yates order drawn from `rng`.
fn shuffled(values: &[f64], rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut v = values.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, below(rng, i + 1));
    }
    v
}

/// A uniform draw from `0..bound` (`bound ≥ 1`) by Lemire's multiply-and-reject, so the stream depends only on
/// ChaCha8's value-stable output and not on a `rand` version's sampling algorithm.
fn below(rng: &mut ChaCha8Rng, bound: usize) -> usize {
    let bound = bound as u64;
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(bound);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}

/// A fitted 1-D logistic regression `P(member | x) = σ(w x + b)`.
///
/// [`LogisticFit::fit`] minimises scikit-learn's `LogisticRegression(C=C)` objective (L2 penalty on `w` only):
///
/// ```text
/// J(w, b) = C Σ_i log(1 + exp(−s_i (w x_i + b))) + ½ w²,   s_i = +1 for members, −1 otherwise
/// ```
///
/// by damped Newton iterations (IRLS) on `(w, b)` with a backtracking line search, until the Newton decrement is
/// below `1e-20`. `J` is strictly convex in `w` and convex in `b`; with both labels present its minimiser is finite
/// even when the data are separable, because the penalty bounds `w`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticFit {
    /// The weight `w` of the feature.
    pub weight: f64,
    /// The intercept `b`.
    pub bias: f64,
}

impl LogisticFit {
    /// Fits the model to features `x` with labels `y` (`true` = positive class) and inverse regularisation `C`.
    ///
    /// # Errors
    /// [`EvalError::LengthMismatch`], [`EvalError::NonFinite`], [`EvalError::InvalidParameter`] for a bad `C`,
    /// [`EvalError::Empty`] when either class has no sample.
    pub fn fit(x: &[f64], y: &[bool], inverse_regularisation: f64) -> Result<Self> {
        check::same_len("features", x.len(), "labels", y.len())?;
        check::finite("features", x)?;
        check::positive("inverse_regularisation", inverse_regularisation)?;
        if !y.contains(&true) {
            return Err(EvalError::Empty { what: "positive labels", unit: "positive sample" });
        }
        if !y.contains(&false) {
            return Err(EvalError::Empty { what: "negative labels", unit: "negative sample" });
        }
        let c = inverse_regularisation;
        let sign = |yi: bool| if yi { 1.0 } else { -1.0 };
        let objective = |w: f64, b: f64| {
            c * x.iter().zip(y).map(|(&xi, &yi)| softplus(-sign(yi) * (w * xi + b))).sum::<f64>() + 0.5 * w * w
        };
        let (mut w, mut b) = (0.0f64, 0.0f64);
        let mut value = objective(w, b);
        for _ in 0..200 {
            // Gradient and Hessian of J at (w, b).
            let (mut gw, mut gb, mut hww, mut hwb, mut hbb) = (w, 0.0, 1.0, 0.0, 0.0);
            for (&xi, &yi) in x.iter().zip(y) {
                let p = 1.0 / (1.0 + (-(w * xi + b)).exp());
                let r = c * (p - if yi { 1.0 } else { 0.0 });
                let h = c * p * (1.0 - p);
                gw += r * xi;
                gb += r;
                hww += h * xi * xi;
                hwb += h * xi;
                hbb += h;
            }
            let det = hww * hbb - hwb * hwb;
            // Newton direction; where the Hessian is numerically singular (every p(1−p) underflowed) fall back to
            // the gradient, which the line search then scales.
            let (dw, db) = if det > f64::EPSILON * hww * hbb.max(f64::MIN_POSITIVE) && det.is_finite() {
                (-(hbb * gw - hwb * gb) / det, -(hww * gb - hwb * gw) / det)
            } else {
                (-gw, -gb)
            };
            let decrement = -(gw * dw + gb * db);
            if decrement.is_nan() || decrement <= 1e-20 {
                break;
            }
            let mut step = 1.0;
            let accepted = loop {
                let (nw, nb) = (w + step * dw, b + step * db);
                let candidate = objective(nw, nb);
                if candidate <= value - 1e-4 * step * decrement {
                    break Some((nw, nb, candidate));
                }
                step *= 0.5;
                if step < 1e-12 {
                    break None;
                }
            };
            match accepted {
                Some((nw, nb, candidate)) => (w, b, value) = (nw, nb, candidate),
                None => break,
            }
        }
        Ok(Self { weight: w, bias: b })
    }

    /// `P(positive | x) = σ(w x + b)`.
    pub fn probability(&self, x: f64) -> f64 {
        1.0 / (1.0 + (-(self.weight * x + self.bias)).exp())
    }

    /// The predicted class: `true` when `w x + b > 0` (scikit-learn's `predict`; a score of exactly 0 is negative).
    pub fn predict(&self, x: f64) -> bool {
        self.weight * x + self.bias > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_threshold_auc_ranks_low_losses_as_members() {
        assert_eq!(loss_threshold_auc(&[0.1, 0.2], &[1.0, 2.0]).unwrap(), 1.0);
        assert_eq!(loss_threshold_auc(&[1.0, 2.0], &[0.1, 0.2]).unwrap(), 0.0);
        // Members {0.1, 1.0} vs non-members {1.0, 2.0}: wins (0.1,1) (0.1,2) (1,2), tie (1,1) → 3.5/4.
        assert_eq!(loss_threshold_auc(&[0.1, 1.0], &[1.0, 2.0]).unwrap(), 0.875);
    }

    #[test]
    fn fit_is_the_stationary_point_of_the_objective() {
        let x = [0.1, 0.5, 0.3, 2.0, 1.5, 0.2, 3.0, 0.8];
        let y = [true, true, true, false, false, false, false, true];
        let c = 0.7;
        let fit = LogisticFit::fit(&x, &y, c).unwrap();
        let (mut gw, mut gb) = (fit.weight, 0.0);
        for (&xi, &yi) in x.iter().zip(&y) {
            let r = c * (fit.probability(xi) - if yi { 1.0 } else { 0.0 });
            gw += r * xi;
            gb += r;
        }
        assert!(gw.abs() < 1e-10 && gb.abs() < 1e-10, "gradient ({gw}, {gb}) at {fit:?}");
        assert!(fit.weight < 0.0, "low loss means member: {fit:?}");
    }

    #[test]
    fn separable_data_give_a_finite_fit() {
        let x = [0.0, 1e-30, 1e-12, 5.0, 6.0, 7.0];
        let y = [true, true, true, false, false, false];
        let fit = LogisticFit::fit(&x, &y, 1.0).unwrap();
        assert!(fit.weight.is_finite() && fit.bias.is_finite(), "{fit:?}");
        assert!(x.iter().zip(&y).all(|(&xi, &yi)| fit.predict(xi) == yi), "{fit:?}");
    }

    #[test]
    fn shuffle_is_seeded_and_a_permutation() {
        let v: Vec<f64> = (0..50).map(f64::from).collect();
        let a = shuffled(&v, &mut ChaCha8Rng::seed_from_u64(3));
        let b = shuffled(&v, &mut ChaCha8Rng::seed_from_u64(3));
        let c = shuffled(&v, &mut ChaCha8Rng::seed_from_u64(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, v);
        let mut sorted = a.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sorted, v);
    }

    #[test]
    fn logistic_mia_separates_and_is_at_chance_on_identical_groups() {
        // Members have losses 0.01..0.2, non-members 10..39: separable with a gap wide enough that the fitted
        // boundary (pulled toward the non-members by the penalty on w) falls inside it on every fold.
        let members: Vec<f64> = (1..=20).map(|i| f64::from(i) * 0.01).collect();
        let nonmembers: Vec<f64> = (10..40).map(f64::from).collect();
        let r = logistic_mia(&members, &nonmembers, &LogisticMiaConfig::STARTING_KIT, 7).unwrap();
        assert_eq!(r.per_group, 20);
        assert_eq!(r.fold_accuracies.len(), 10);
        assert_eq!(r.mean_accuracy, 1.0, "{r:?}");
        // Constant losses carry no signal: balanced folds (40 per group, 5 folds of 8 + 8) are right on exactly
        // one group whatever the fit predicts for the one value, so every fold scores 0.5.
        let cfg = LogisticMiaConfig { folds: 5, inverse_regularisation: 1.0 };
        let r = logistic_mia(&[0.3; 40], &[0.3; 55], &cfg, 1).unwrap();
        assert!(r.fold_accuracies.iter().all(|&a| a == 0.5), "{r:?}");
        // Same seed, same report; another seed, other folds.
        let members: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.1).collect();
        let nonmembers: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.1 + 0.05).collect();
        let a = logistic_mia(&members, &nonmembers, &cfg, 1).unwrap();
        assert_eq!(logistic_mia(&members, &nonmembers, &cfg, 1).unwrap(), a);
        let b = logistic_mia(&members, &nonmembers, &cfg, 2).unwrap();
        assert_ne!(a.fold_accuracies, b.fold_accuracies);
    }

    #[test]
    fn bad_input_is_an_error() {
        let cfg = LogisticMiaConfig::STARTING_KIT;
        assert!(matches!(logistic_mia(&[], &[1.0], &cfg, 0), Err(EvalError::Empty { what: "member losses", .. })));
        assert!(matches!(
            logistic_mia(&[1.0; 5], &[2.0; 9], &cfg, 0),
            Err(EvalError::InvalidParameter { name: "folds", .. })
        ));
        let one_fold = LogisticMiaConfig { folds: 1, inverse_regularisation: 1.0 };
        assert!(matches!(
            logistic_mia(&[1.0; 5], &[2.0; 5], &one_fold, 0),
            Err(EvalError::InvalidParameter { name: "folds", .. })
        ));
        let bad_c = LogisticMiaConfig { folds: 2, inverse_regularisation: 0.0 };
        assert!(matches!(
            logistic_mia(&[1.0; 5], &[2.0; 5], &bad_c, 0),
            Err(EvalError::InvalidParameter { name: "inverse_regularisation", .. })
        ));
        assert!(matches!(
            loss_threshold_auc(&[1.0, f64::NAN], &[2.0]),
            Err(EvalError::NonFinite { what: "member losses", index: 1, .. })
        ));
        assert!(matches!(LogisticFit::fit(&[1.0, 2.0], &[true, true], 1.0), Err(EvalError::Empty { .. })));
    }
}

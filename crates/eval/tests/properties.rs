//! Property tests: every metric stays in its range and keeps its symmetries on random input.
#![allow(clippy::unwrap_used)]

use std::f64::consts::LN_2;

use doppel_eval::{
    ImageShape, LogisticMiaConfig, Logits, accuracy, auc_from_groups, cross_entropy_losses, epsilon_scores,
    js_from_logits, kl_from_logits, logistic_mia, logit_scaled_confidences, roc_auc, rouge_l, ssim,
    true_class_confidences,
};
use proptest::prelude::*;

/// `(logits, labels, num_classes)`: 1..40 rows of 2..12 classes, logits in ±60 so some samples are memorised.
fn logits_and_labels() -> impl Strategy<Value = (Vec<f32>, Vec<usize>, usize)> {
    (2usize..12, 1usize..40).prop_flat_map(|(c, n)| {
        (proptest::collection::vec(-60.0f32..60.0, n * c), proptest::collection::vec(0..c, n), Just(c))
    })
}

/// Two batches of logits of the same shape.
fn logit_pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, usize)> {
    (2usize..10, 1usize..20).prop_flat_map(|(c, n)| {
        (proptest::collection::vec(-30.0f32..30.0, n * c), proptest::collection::vec(-30.0f32..30.0, n * c), Just(c))
    })
}

/// Two grey images of the same random shape (11..24 per side) and a data range.
fn image_pair() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, ImageShape, f64)> {
    (11usize..24, 11usize..24, prop_oneof![Just(1.0), Just(255.0), 0.1f64..10.0]).prop_flat_map(|(h, w, range)| {
        (
            proptest::collection::vec(0.0..range, h * w),
            proptest::collection::vec(0.0..range, h * w),
            Just(ImageShape::grey(h, w)),
            Just(range),
        )
    })
}

proptest! {
    #[test]
    fn classifier_metrics_stay_in_range((v, labels, c) in logits_and_labels()) {
        let l = Logits::new(&v, c).unwrap();
        let acc = accuracy(&l, &labels).unwrap();
        prop_assert!((0.0..=1.0).contains(&acc));
        let losses = cross_entropy_losses(&l, &labels).unwrap();
        let conf = true_class_confidences(&l, &labels).unwrap();
        let phi = logit_scaled_confidences(&l, &labels).unwrap();
        for i in 0..labels.len() {
            prop_assert!(losses[i] >= 0.0 && losses[i].is_finite(), "loss {}", losses[i]);
            prop_assert!((0.0..=1.0).contains(&conf[i]), "confidence {}", conf[i]);
            prop_assert!(phi[i].is_finite());
            // The three agree: loss = −ln p_y, and φ = ln p_y − ln(1 − p_y) wherever p_y is not rounded to 0 or 1.
            if conf[i] > 1e-300 {
                prop_assert!((losses[i] + conf[i].ln()).abs() <= 1e-9 * (1.0 + losses[i]));
            }
            if conf[i] > 1e-6 && conf[i] < 1.0 - 1e-6 {
                prop_assert!((phi[i] - (conf[i].ln() - (1.0 - conf[i]).ln())).abs() <= 1e-6 * (1.0 + phi[i].abs()));
            }
        }
    }

    #[test]
    fn losses_ignore_a_shift_of_all_logits((v, labels, c) in logits_and_labels(), shift in -20.0f32..20.0) {
        let shifted: Vec<f32> = v.iter().map(|x| x + shift).collect();
        let a = cross_entropy_losses(&Logits::new(&v, c).unwrap(), &labels).unwrap();
        let b = cross_entropy_losses(&Logits::new(&shifted, c).unwrap(), &labels).unwrap();
        for (x, y) in a.iter().zip(&b) {
            // f32 rounding of the shifted logits moves them by up to ~4e-6 each.
            prop_assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn auc_is_in_range_and_antisymmetric(
        scores in proptest::collection::vec(prop_oneof![-5.0f64..5.0, (0i32..4).prop_map(f64::from)], 2..80),
        labels in proptest::collection::vec(any::<bool>(), 80),
    ) {
        let labels = &labels[..scores.len()];
        prop_assume!(labels.contains(&true) && labels.contains(&false));
        let auc = roc_auc(&scores, labels).unwrap();
        prop_assert!((0.0..=1.0).contains(&auc));
        let negated: Vec<f64> = scores.iter().map(|s| -s).collect();
        let flipped = roc_auc(&negated, labels).unwrap();
        prop_assert!((auc + flipped - 1.0).abs() < 1e-12, "{auc} + {flipped}");
        // Swapping the classes is the same as negating the scores.
        let swapped: Vec<bool> = labels.iter().map(|l| !l).collect();
        prop_assert!((roc_auc(&scores, &swapped).unwrap() - flipped).abs() < 1e-12);
        // The grouped form agrees.
        let pos: Vec<f64> = scores.iter().zip(labels).filter(|(_, l)| **l).map(|(s, _)| *s).collect();
        let neg: Vec<f64> = scores.iter().zip(labels).filter(|(_, l)| !**l).map(|(s, _)| *s).collect();
        prop_assert_eq!(auc_from_groups(&pos, &neg).unwrap(), auc);
    }

    #[test]
    fn ssim_is_one_on_itself_symmetric_and_at_most_one((a, b, shape, range) in image_pair()) {
        let self_sim = ssim(&a, &a, shape, range).unwrap();
        prop_assert!((self_sim - 1.0).abs() < 1e-12, "{self_sim}");
        let ab = ssim(&a, &b, shape, range).unwrap();
        let ba = ssim(&b, &a, shape, range).unwrap();
        prop_assert!((ab - ba).abs() < 1e-12, "{ab} vs {ba}");
        prop_assert!((-1.0..=1.0 + 1e-12).contains(&ab), "{ab}");
    }

    #[test]
    fn divergences_are_in_range((p, q, c) in logit_pair()) {
        let (lp, lq) = (Logits::new(&p, c).unwrap(), Logits::new(&q, c).unwrap());
        let kl = kl_from_logits(&lp, &lq).unwrap();
        let js = js_from_logits(&lp, &lq).unwrap();
        let js_rev = js_from_logits(&lq, &lp).unwrap();
        let kl_rev = kl_from_logits(&lq, &lp).unwrap();
        for i in 0..kl.len() {
            prop_assert!(kl[i] >= 0.0 && kl[i].is_finite());
            prop_assert!((0.0..=LN_2).contains(&js[i]));
            prop_assert!((js[i] - js_rev[i]).abs() < 1e-12);
            // Convexity of KL in its second argument: KL(P ‖ ½P + ½Q) ≤ ½ KL(P ‖ Q), so
            // JS(P, Q) ≤ ¼ (KL(P ‖ Q) + KL(Q ‖ P)).
            prop_assert!(js[i] <= 0.25 * (kl[i] + kl_rev[i]) + 1e-12, "js {} kl {} {}", js[i], kl[i], kl_rev[i]);
        }
        // The cancellation-free KL agrees with the textbook Σ p (ln p − ln q) on moderate logits.
        for (i, (zp, zq)) in p.chunks(c).zip(q.chunks(c)).enumerate() {
            let log_softmax = |z: &[f32]| {
                let z: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
                let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                z.into_iter().map(|v| v - lse).collect::<Vec<_>>()
            };
            let (a, b) = (log_softmax(zp), log_softmax(zq));
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| x.exp() * (x - y)).sum();
            prop_assert!((kl[i] - naive).abs() <= 1e-10 * (1.0 + naive.abs()), "{} vs {naive}", kl[i]);
        }
        prop_assert!(kl_from_logits(&lp, &lp).unwrap().iter().all(|&d| d == 0.0));
        prop_assert!(js_from_logits(&lp, &lp).unwrap().iter().all(|&d| d == 0.0));
    }

    #[test]
    fn divergences_are_positive_between_different_distributions(
        (p, _, c) in logit_pair(), class in 0usize..10, bump in 0.5f32..10.0,
    ) {
        // Raising one logit of every row by at least 0.5 changes every distribution.
        let q: Vec<f32> = p.iter().enumerate().map(|(i, &x)| if i % c == class % c { x + bump } else { x }).collect();
        let (lp, lq) = (Logits::new(&p, c).unwrap(), Logits::new(&q, c).unwrap());
        prop_assert!(kl_from_logits(&lp, &lq).unwrap().iter().all(|&d| d > 0.0));
        prop_assert!(js_from_logits(&lp, &lq).unwrap().iter().all(|&d| d > 0.0));
    }

    #[test]
    fn rouge_l_is_in_range_and_one_on_identical_text(
        a in proptest::collection::vec("[a-d]{1,3}", 1..12),
        b in proptest::collection::vec("[a-d]{1,3}", 0..12),
        punct in "[ ,.;!?-]{1,3}",
    ) {
        let (ra, rb) = (a.join(&punct), b.join(" "));
        let s = rouge_l(&ra, &rb);
        for v in [s.precision, s.recall, s.f_measure] {
            prop_assert!((0.0..=1.0).contains(&v));
        }
        prop_assert_eq!(rouge_l(&ra, &ra).f_measure, 1.0);
        // Punctuation and case are not tokens.
        prop_assert_eq!(rouge_l(&ra, &a.join(" ").to_uppercase()).f_measure, 1.0);
    }

    #[test]
    fn epsilon_scores_are_in_range(
        n in 3usize..9,
        examples in 1usize..6,
        seed_values in proptest::collection::vec(-10.0f64..10.0, 2 * 9 * 6),
    ) {
        let rows = |offset: usize| -> Vec<Vec<f64>> {
            (0..n).map(|m| (0..examples).map(|e| seed_values[offset + m * examples + e]).collect()).collect()
        };
        let report = epsilon_scores(&rows(0), &rows(9 * 6)).unwrap();
        prop_assert!((0.0..=1.0).contains(&report.forget_quality));
        for (&e, &s) in report.epsilons.iter().zip(&report.scores) {
            prop_assert!((0.0..=doppel_eval::epsilon::EPSILON_CAP).contains(&e));
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert!(s == 0.0 || e < report.cap);
        }
        // Identical groups give every example ε = 0 and score 1.
        let same = epsilon_scores(&rows(0), &rows(0)).unwrap();
        prop_assert!(same.epsilons.iter().all(|&e| e == 0.0), "{:?}", same.epsilons);
        prop_assert_eq!(same.forget_quality, 1.0);
    }

    #[test]
    fn logistic_mia_accuracy_is_in_range(
        members in proptest::collection::vec(0.0f64..5.0, 4..40),
        nonmembers in proptest::collection::vec(0.0f64..5.0, 4..40),
        seed in any::<u64>(),
    ) {
        let config = LogisticMiaConfig { folds: 4, inverse_regularisation: 1.0 };
        let r = logistic_mia(&members, &nonmembers, &config, seed).unwrap();
        prop_assert!((0.0..=1.0).contains(&r.mean_accuracy));
        prop_assert_eq!(r.per_group, members.len().min(nonmembers.len()));
        prop_assert_eq!(r.fold_accuracies.len(), 4);
    }
}

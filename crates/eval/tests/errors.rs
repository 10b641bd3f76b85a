//! Bad input gives an error that names the argument and the value at fault, through the public API.
#![allow(clippy::unwrap_used)]

use doppel_eval::{
    ImageShape, LogisticMiaConfig, Logits, accuracy, avg_gap, cross_entropy_losses, epsilon_scores, kl_from_logits,
    logistic_mia, loss_threshold_auc, mean, roc_auc, ssim,
};

/// Each case: the error's message must contain every listed fragment.
fn check(cases: Vec<(&str, Result<f64, doppel_eval::EvalError>, &[&str])>) {
    for (what, result, fragments) in cases {
        let message = match result {
            Ok(v) => panic!("{what}: expected an error, got {v}"),
            Err(e) => e.to_string(),
        };
        for f in fragments {
            assert!(message.contains(f), "{what}: message {message:?} lacks {f:?}");
        }
    }
}

#[test]
fn messages_name_the_field_and_value() {
    let nan_logits = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, f32::NAN, 0.9];
    let ok = [0.0f32, 1.0, 2.0, 3.0];
    let two_rows = Logits::new(&ok, 2).unwrap();
    let four = [0.0f32; 8];
    let four_rows = Logits::new(&four, 2).unwrap();
    let img = vec![0.5f64; 28 * 28];
    check(vec![
        ("nan logits", Logits::new(&nan_logits, 3).map(|_| 0.0), &["logits row 2 holds NaN", "column 1"]),
        ("empty split", Logits::new(&[], 10).map(|_| 0.0), &["logits is empty", "split"]),
        ("ragged logits", Logits::new(&ok[..3], 2).map(|_| 0.0), &["3 values", "multiple of 2 classes"]),
        ("label out of range", accuracy(&two_rows, &[0, 7]), &["labels[1] is 7", "2 classes"]),
        (
            "labels too short",
            cross_entropy_losses(&two_rows, &[0]).map(|v| v[0]),
            &["logits rows has 2 entries", "labels has 1"],
        ),
        ("kl rows differ", kl_from_logits(&two_rows, &four_rows).map(|v| v[0]), &["has 2 entries", "has 4"]),
        ("nan score", roc_auc(&[0.1, f64::NAN], &[true, false]), &["scores[1] is NaN"]),
        ("one class", roc_auc(&[0.1, 0.2], &[true, true]), &["negative scores is empty"]),
        ("empty members", loss_threshold_auc(&[], &[1.0]), &["member losses is empty"]),
        (
            "too many folds",
            logistic_mia(&[0.1; 3], &[1.0; 8], &LogisticMiaConfig::STARTING_KIT, 0).map(|r| r.mean_accuracy),
            &["`folds` is 10", "2..=3"],
        ),
        ("zero data range", ssim(&img, &img, ImageShape::grey(28, 28), 0.0), &["`data_range` is 0", "> 0"]),
        ("negative data range", ssim(&img, &img, ImageShape::grey(28, 28), -1.0), &["`data_range` is -1"]),
        ("image shape", ssim(&img, &img, ImageShape::grey(28, 27), 1.0), &["image a has 784 entries", "756"]),
        ("tiny image", ssim(&[0.0; 100], &[0.0; 100], ImageShape::grey(10, 10), 1.0), &["`height` is 10", "11"]),
        ("few models", epsilon_scores(&[[0.0], [1.0]], &[[0.0], [1.0]]).map(|r| r.forget_quality), &["at least 3"]),
        (
            "missing metric",
            avg_gap(&[("UA", 0.1)], &[("UA", 0.1), ("MIA", 0.5)]),
            &["`MIA`", "oracle but not the model"],
        ),
        ("empty mean", mean(&[]), &["values is empty"]),
    ]);
}

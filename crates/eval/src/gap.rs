//! Avg.Gap: how far a model's metrics are from a reference model's, on average (Jia et al. 2023, "Model sparsity
//! can simplify machine unlearning", the gap to retraining averaged over UA, RA, TA and MIA-Efficacy, the SVC
//! attack's [`crate::svc_mia_forget_efficacy`]).
//!
//! ```text
//! Avg.Gap = (1 / |M|) Σ_{m ∈ M} |metric_m(model) − metric_m(oracle)|
//! ```
//!
//! The metrics are matched by name, not by position, so a reordered table cannot pair the wrong numbers. doppel
//! reports it against both oracles (`retrain_exact` and `retrain_clean`); the metrics should share a scale (all
//! accuracies in `[0, 1]`, say), since the gap adds them.

use crate::error::{EvalError, Result};

/// The mean absolute difference between `model` and `oracle` over the named metrics (see the [module docs](self)).
///
/// # Errors
/// [`EvalError::Empty`] when no metric is given; [`EvalError::MetricNames`] when a name appears twice or only on
/// one side; [`EvalError::NonFinite`] for a NaN or infinite value.
pub fn avg_gap(model: &[(&str, f64)], oracle: &[(&str, f64)]) -> Result<f64> {
    if model.is_empty() {
        return Err(EvalError::Empty { what: "model metrics", unit: "named metric" });
    }
    for (side, metrics) in [("model metrics", model), ("oracle metrics", oracle)] {
        for (i, (name, value)) in metrics.iter().enumerate() {
            if metrics[..i].iter().any(|(n, _)| n == name) {
                return Err(EvalError::MetricNames { name: (*name).into(), problem: "is given twice" });
            }
            if !value.is_finite() {
                return Err(EvalError::NonFinite { what: side, index: i, value: *value });
            }
        }
    }
    if let Some((name, _)) = oracle.iter().find(|(n, _)| !model.iter().any(|(m, _)| m == n)) {
        return Err(EvalError::MetricNames {
            name: (*name).into(),
            problem: "is given for the oracle but not the model",
        });
    }
    let mut total = 0.0;
    for (name, value) in model {
        match oracle.iter().find(|(n, _)| n == name) {
            Some((_, reference)) => total += (value - reference).abs(),
            None => {
                return Err(EvalError::MetricNames {
                    name: (*name).into(),
                    problem: "is given for the model but not the oracle",
                });
            }
        }
    }
    Ok(total / model.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_name() {
        let model = [("UA", 0.10), ("RA", 0.99), ("TA", 0.90), ("MIA", 0.30)];
        let oracle = [("MIA", 0.20), ("TA", 0.92), ("UA", 0.05), ("RA", 1.00)];
        // (|0.10 − 0.05| + |0.99 − 1.00| + |0.90 − 0.92| + |0.30 − 0.20|) / 4 = (0.05 + 0.01 + 0.02 + 0.10) / 4.
        let gap = avg_gap(&model, &oracle).unwrap();
        assert!((gap - 0.045).abs() < 1e-15, "{gap}");
        assert_eq!(avg_gap(&model, &model).unwrap(), 0.0);
    }

    #[test]
    fn bad_names_are_an_error() {
        assert!(matches!(avg_gap(&[], &[]), Err(EvalError::Empty { .. })));
        let e = avg_gap(&[("UA", 0.1)], &[("RA", 0.1)]).unwrap_err();
        assert!(e.to_string().starts_with("metric `RA` is given for the oracle but not the model"), "{e}");
        let e = avg_gap(&[("UA", 0.1), ("RA", 0.2)], &[("UA", 0.1)]).unwrap_err();
        assert!(e.to_string().starts_with("metric `RA` is given for the model but not the oracle"), "{e}");
        let e = avg_gap(&[("UA", 0.1), ("UA", 0.2)], &[("UA", 0.1)]).unwrap_err();
        assert!(matches!(e, EvalError::MetricNames { problem: "is given twice", .. }));
        assert!(matches!(avg_gap(&[("UA", f64::NAN)], &[("UA", 0.1)]), Err(EvalError::NonFinite { index: 0, .. })));
    }
}

//! The budgeted hyperparameter search: one small grid, the same for every method, over the learning rate and the
//! number of epochs of a method's settings, so that no method loses to a bad default.
//!
//! [`candidates`] turns a method's section of a [`MethodConfigs`] into the grid's settings: each learning-rate
//! factor times the configured `lr`, crossed with each epoch factor times the configured `epochs` (at least 1). A
//! method without an `lr` (retrain, SSD) or `epochs` key keeps that axis at its configured value; one with
//! neither has a grid of one. The caller runs each candidate and keeps the best by its own score (the CLI uses
//! Avg.Gap to `retrain_exact`, Jia et al. 2023).

use crate::config::{MethodConfigs, MethodName};
use crate::error::{Result, UnlearnError};

/// The grid: factors applied to the configured learning rate and epochs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchSpace {
    /// Multipliers of the configured `lr`.
    pub lr_factors: Vec<f64>,
    /// Multipliers of the configured `epochs` (the product is rounded and kept at 1 or more).
    pub epoch_factors: Vec<f64>,
}

impl Default for SearchSpace {
    /// Six candidates: `lr` × {0.1, 1, 10} and `epochs` × {1, 2}.
    fn default() -> Self {
        SearchSpace { lr_factors: vec![0.1, 1.0, 10.0], epoch_factors: vec![1.0, 2.0] }
    }
}

/// One point of the grid: the values it sets (`None` where the method has no such key) and the full settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The learning rate, if the method has one.
    pub lr: Option<f64>,
    /// The epochs, if the method has them.
    pub epochs: Option<usize>,
    /// `base` with those values set in the method's section.
    pub configs: MethodConfigs,
}

/// The grid of `space` around `base`'s settings of `method`, in order (learning rate outer, epochs inner), without
/// repeats; every candidate is checked by building the method.
pub fn candidates(base: &MethodConfigs, method: MethodName, space: &SearchSpace) -> Result<Vec<Candidate>> {
    let bad = |field: &'static str, problem: String| UnlearnError::Config { method: "search", field, problem };
    if space.lr_factors.is_empty() || space.epoch_factors.is_empty() {
        return Err(bad("space", "needs at least one learning-rate factor and one epoch factor".into()));
    }
    for &f in space.lr_factors.iter().chain(&space.epoch_factors) {
        if !(f > 0.0 && f.is_finite()) {
            return Err(bad("space", format!("holds the factor {f}; factors must be positive")));
        }
    }
    let all = serde_json::to_value(base).map_err(|e| bad("configs", format!("do not serialise: {e}")))?;
    let section = &all[method.name()];
    let lr = section.get("lr").and_then(serde_json::Value::as_f64);
    let epochs = section.get("epochs").and_then(serde_json::Value::as_u64);
    let lrs: Vec<Option<f64>> = match lr {
        Some(lr) => space.lr_factors.iter().map(|f| Some(lr * f)).collect(),
        None => vec![None],
    };
    let epoch_counts: Vec<Option<usize>> = match epochs {
        Some(e) => space.epoch_factors.iter().map(|f| Some(((e as f64 * f).round() as usize).max(1))).collect(),
        None => vec![None],
    };
    let mut out: Vec<Candidate> = Vec::new();
    for &lr in &lrs {
        for &epochs in &epoch_counts {
            if out.iter().any(|c| c.lr == lr && c.epochs == epochs) {
                continue;
            }
            if let Some(lr) = lr.filter(|v| !v.is_finite()) {
                return Err(bad("lr", format!("would be {lr} for {}; use smaller factors", method.name())));
            }
            let mut value = all.clone();
            if let Some(lr) = lr {
                value[method.name()]["lr"] = serde_json::json!(lr);
            }
            if let Some(e) = epochs {
                value[method.name()]["epochs"] = serde_json::json!(e);
            }
            let configs: MethodConfigs =
                serde_json::from_value(value).map_err(|e| bad("configs", format!("do not deserialise: {e}")))?;
            configs.build(method)?;
            out.push(Candidate { lr, epochs, configs });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_scales_lr_and_epochs_of_one_method_only() {
        let base = MethodConfigs::default();
        let grid = candidates(&base, MethodName::Ft, &SearchSpace::default()).unwrap();
        let points: Vec<(Option<f64>, Option<usize>)> = grid.iter().map(|c| (c.lr, c.epochs)).collect();
        let (lr, e) = (base.ft.lr, base.ft.epochs);
        let want = [0.1, 1.0, 10.0].iter().flat_map(|f| [(Some(lr * f), Some(e)), (Some(lr * f), Some(2 * e))]);
        assert_eq!(points, want.collect::<Vec<_>>());
        for c in &grid {
            assert_eq!((Some(c.configs.ft.lr), Some(c.configs.ft.epochs)), (c.lr, c.epochs));
            assert_eq!(c.configs.salun, base.salun, "other methods keep their settings");
            assert_eq!(c.configs.ft.momentum, base.ft.momentum, "other keys keep their values");
        }
    }

    #[test]
    fn methods_without_lr_or_epochs_search_what_they_have() {
        let ssd = candidates(&MethodConfigs::default(), MethodName::Ssd, &SearchSpace::default()).unwrap();
        assert_eq!(ssd.len(), 1, "SSD has neither key: a grid of one");
        assert_eq!((ssd[0].lr, ssd[0].epochs), (None, None));
        let retrain = candidates(&MethodConfigs::default(), MethodName::Retrain, &SearchSpace::default()).unwrap();
        assert_eq!(retrain.len(), 1);
    }

    #[test]
    fn epochs_stay_at_least_one_and_repeats_are_dropped() {
        let mut base = MethodConfigs::default();
        base.ft.epochs = 1;
        let space = SearchSpace { lr_factors: vec![1.0], epoch_factors: vec![0.1, 0.4, 1.0] };
        let grid = candidates(&base, MethodName::Ft, &space).unwrap();
        assert_eq!(grid.iter().map(|c| c.epochs).collect::<Vec<_>>(), vec![Some(1)]);
    }

    #[test]
    fn bad_spaces_and_bad_results_are_errors_naming_the_field() {
        let base = MethodConfigs::default();
        let e = candidates(&base, MethodName::Ft, &SearchSpace { lr_factors: vec![], epoch_factors: vec![1.0] });
        assert!(e.unwrap_err().to_string().contains("`space`"));
        let e = candidates(&base, MethodName::Ft, &SearchSpace { lr_factors: vec![-1.0], epoch_factors: vec![1.0] });
        assert!(e.unwrap_err().to_string().contains("factor -1"));
        // A learning rate that overflows to infinity is refused, naming `lr`.
        let mut big = base.clone();
        big.ft.lr = 10.0;
        let e = candidates(&big, MethodName::Ft, &SearchSpace { lr_factors: vec![f64::MAX], epoch_factors: vec![1.0] });
        assert!(e.unwrap_err().to_string().contains("`lr`"), "an infinite lr is refused");
    }
}

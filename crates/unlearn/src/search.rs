//! The budgeted hyperparameter search: one small grid, the same for every method, over the learning rate and the
//! work ([`Budget`]s) of a method's settings, so that no method loses to a bad default.
//!
//! [`candidates`] turns a method's section of a [`MethodConfigs`] into the grid's settings: each learning-rate
//! factor times the configured `lr`, crossed with each budget factor times every budget of the section
//! (`forget`, `retain`, `mixed`: steps or epochs, in their unit, rounded and at least 1). A method without an
//! `lr` (retrain, SSD) or a budget keeps that axis at its configured value; one with neither has a grid of one. The caller runs each candidate and keeps the best by its own score (the CLI uses
//! Avg.Gap to `retrain_exact`, Jia et al. 2023).

use crate::budget::Budget;
use crate::config::{MethodConfigs, MethodName};
use crate::error::{Result, UnlearnError};

/// The grid: factors applied to the configured learning rate and budgets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchSpace {
    /// Multipliers of the configured `lr`.
    pub lr_factors: Vec<f64>,
    /// Multipliers of every configured budget (the product is rounded and kept at 1 or more).
    pub budget_factors: Vec<f64>,
}

impl Default for SearchSpace {
    /// Six candidates: `lr` × {0.1, 1, 10} and the budgets × {1, 2}.
    fn default() -> Self {
        SearchSpace { lr_factors: vec![0.1, 1.0, 10.0], budget_factors: vec![1.0, 2.0] }
    }
}

/// One point of the grid: the values it sets (`None` where the method has no such key) and the full settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The learning rate, if the method has one.
    pub lr: Option<f64>,
    /// The factor applied to the method's budgets, if it has any.
    pub budget: Option<f64>,
    /// `base` with those values set in the method's section.
    pub configs: MethodConfigs,
}

/// The grid of `space` around `base`'s settings of `method`, in order (learning rate outer, budget inner), without
/// repeats; every candidate is checked by building the method.
pub fn candidates(base: &MethodConfigs, method: MethodName, space: &SearchSpace) -> Result<Vec<Candidate>> {
    let bad = |field: &'static str, problem: String| UnlearnError::Config { method: "search", field, problem };
    if space.lr_factors.is_empty() || space.budget_factors.is_empty() {
        return Err(bad("space", "needs at least one learning-rate factor and one budget factor".into()));
    }
    for &f in space.lr_factors.iter().chain(&space.budget_factors) {
        if !(f > 0.0 && f.is_finite()) {
            return Err(bad("space", format!("holds the factor {f}; factors must be positive")));
        }
    }
    let all = serde_json::to_value(base).map_err(|e| bad("configs", format!("do not serialise: {e}")))?;
    let section = &all[method.name()];
    let lr = section.get("lr").and_then(serde_json::Value::as_f64);
    // The section's budgets, by key: every value that reads as a `Budget` (`{"steps": n}` or `{"epochs": n}`).
    let budgets: Vec<(String, Budget)> = section
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| serde_json::from_value::<Budget>(v.clone()).ok().map(|b| (k.clone(), b)))
                .collect()
        })
        .unwrap_or_default();
    let lrs: Vec<Option<f64>> = match lr {
        Some(lr) => space.lr_factors.iter().map(|f| Some(lr * f)).collect(),
        None => vec![None],
    };
    let factors: Vec<Option<f64>> =
        if budgets.is_empty() { vec![None] } else { space.budget_factors.iter().copied().map(Some).collect() };
    let mut out: Vec<Candidate> = Vec::new();
    for &lr in &lrs {
        for &budget in &factors {
            if out.iter().any(|c| c.lr == lr && c.budget == budget) {
                continue;
            }
            if let Some(lr) = lr.filter(|v| !v.is_finite()) {
                return Err(bad("lr", format!("would be {lr} for {}; use smaller factors", method.name())));
            }
            let mut value = all.clone();
            if let Some(lr) = lr {
                value[method.name()]["lr"] = serde_json::json!(lr);
            }
            if let Some(f) = budget {
                for (key, b) in &budgets {
                    value[method.name()][key.as_str()] = serde_json::to_value(b.scaled(f))
                        .map_err(|e| bad("configs", format!("do not serialise: {e}")))?;
                }
            }
            let configs: MethodConfigs =
                serde_json::from_value(value).map_err(|e| bad("configs", format!("do not deserialise: {e}")))?;
            configs.build(method)?;
            // Factors that round to the same budgets give the same settings: kept once.
            if out.iter().any(|c| c.configs == configs) {
                continue;
            }
            out.push(Candidate { lr, budget, configs });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_scales_lr_and_budgets_of_one_method_only() {
        let base = MethodConfigs::default();
        let grid = candidates(&base, MethodName::Rl, &SearchSpace::default()).unwrap();
        let points: Vec<(Option<f64>, Option<f64>)> = grid.iter().map(|c| (c.lr, c.budget)).collect();
        let lr = base.rl.lr;
        let want = [0.1, 1.0, 10.0].iter().flat_map(|f| [(Some(lr * f), Some(1.0)), (Some(lr * f), Some(2.0))]);
        assert_eq!(points, want.collect::<Vec<_>>());
        for c in &grid {
            let f = c.budget.unwrap();
            assert_eq!(Some(c.configs.rl.lr), c.lr);
            assert_eq!(c.configs.rl.forget, base.rl.forget.scaled(f), "the forget budget is scaled");
            assert_eq!(c.configs.rl.retain, base.rl.retain.scaled(f), "so is the retain budget");
            assert_eq!(c.configs.rl.rounds, base.rl.rounds, "rounds are not a budget");
            assert_eq!(c.configs.salun, base.salun, "other methods keep their settings");
            assert_eq!(c.configs.rl.momentum, base.rl.momentum, "other keys keep their values");
        }
        assert_eq!(grid[1].configs.rl.forget, Budget::Steps(36));
    }

    #[test]
    fn methods_without_lr_or_budgets_search_what_they_have() {
        let ssd = candidates(&MethodConfigs::default(), MethodName::Ssd, &SearchSpace::default()).unwrap();
        assert_eq!(ssd.len(), 1, "SSD has neither key: a grid of one");
        assert_eq!((ssd[0].lr, ssd[0].budget), (None, None));
        let retrain = candidates(&MethodConfigs::default(), MethodName::Retrain, &SearchSpace::default()).unwrap();
        assert_eq!(retrain.len(), 1);
    }

    #[test]
    fn budgets_stay_at_least_one_and_repeats_are_dropped() {
        let mut base = MethodConfigs::default();
        base.ft.retain = Budget::Epochs(1);
        let space = SearchSpace { lr_factors: vec![1.0], budget_factors: vec![0.1, 0.4, 1.0] };
        let grid = candidates(&base, MethodName::Ft, &space).unwrap();
        assert_eq!(grid.len(), 1, "every factor rounds to one epoch: one candidate");
        assert_eq!((grid[0].configs.ft.retain, grid[0].budget), (Budget::Epochs(1), Some(0.1)));
    }

    #[test]
    fn bad_spaces_and_bad_results_are_errors_naming_the_field() {
        let base = MethodConfigs::default();
        let e = candidates(&base, MethodName::Ft, &SearchSpace { lr_factors: vec![], budget_factors: vec![1.0] });
        assert!(e.unwrap_err().to_string().contains("`space`"));
        let e = candidates(&base, MethodName::Ft, &SearchSpace { lr_factors: vec![-1.0], budget_factors: vec![1.0] });
        assert!(e.unwrap_err().to_string().contains("factor -1"));
        // A learning rate that overflows to infinity is refused, naming `lr`.
        let mut big = base.clone();
        big.ft.lr = 10.0;
        let space = SearchSpace { lr_factors: vec![f64::MAX], budget_factors: vec![1.0] };
        let e = candidates(&big, MethodName::Ft, &space);
        assert!(e.unwrap_err().to_string().contains("`lr`"), "an infinite lr is refused");
    }
}

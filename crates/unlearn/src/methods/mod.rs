//! The methods. Each is a checked type built by `new` from its config struct; the config's `Default` is the
//! canonical setting (STUDY.md's methods table) and its doc comment names the source paper.

mod bad_teacher;
mod boundary;
mod gradient;
mod retrain;
mod salun;
mod scrub;
mod ssd;

pub use bad_teacher::{BadTeacher, BadTeacherConfig, incompetent_teacher};
pub use boundary::{
    BoundaryExpanding, BoundaryExpandingConfig, BoundaryShrink, BoundaryShrinkConfig, expand_into_shadow_class,
    fgsm_inputs, nearest_wrong_labels, shadow_row,
};

pub use gradient::{
    Ft, FtConfig, Ga, GaConfig, L1Sparse, L1SparseConfig, NegGradPlus, NegGradPlusConfig, Rl, RlConfig,
};
pub use retrain::{Retrain, RetrainConfig};
pub use salun::{SalUn, SalUnConfig, saliency_masks};
pub use scrub::{Scrub, ScrubConfig};
pub use ssd::{Importances, Ssd, SsdConfig, importances};

use crate::error::{Result, UnlearnError};

/// Implements [`crate::Unlearner`] for a checked method type holding its config in `cfg`: `name` is the given
/// name, `settings` the config as JSON, and `unlearn` the given body (with the arguments named as listed).
macro_rules! unlearner {
    ($ty:ty, $name:literal, |$s:ident, $original:ident, $view:ident, $scope:ident, $ctx:ident, $on_batch:ident| $body:block) => {
        impl $crate::unlearner::Unlearner for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn settings(&self) -> serde_json::Value {
                $crate::methods::settings(&self.cfg)
            }

            fn unlearn(
                &$s,
                $original: &$crate::unlearner::Original<'_>,
                $view: &$crate::unlearner::View<'_>,
                $scope: &$crate::scope::Scope,
                $ctx: &$crate::unlearner::RunContext,
                $on_batch: &mut dyn FnMut(&[usize]),
            ) -> $crate::error::Result<$crate::unlearner::Unlearned> {
                $body
            }
        }
    };
}
pub(crate) use unlearner;

/// Checks the SGD settings every gradient method has.
pub(crate) fn check_sgd(
    method: &'static str,
    epochs: usize,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    batch_size: usize,
) -> Result<()> {
    let bad = |field, problem| Err(UnlearnError::Config { method, field, problem });
    if epochs == 0 {
        return bad("epochs", "is 0; it must be at least 1".into());
    }
    if batch_size == 0 {
        return bad("batch_size", "is 0; it must be at least 1".into());
    }
    if !(lr > 0.0 && lr.is_finite()) {
        return bad("lr", format!("is {lr}; it must be a positive number"));
    }
    if !(0.0..1.0).contains(&momentum) {
        return bad("momentum", format!("is {momentum}; it must be in [0, 1)"));
    }
    if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
        return bad("weight_decay", format!("is {weight_decay}; it must be 0 or more"));
    }
    Ok(())
}

/// Checks that `value` lies in `[lo, hi]`.
pub(crate) fn check_range(method: &'static str, field: &'static str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if !(lo..=hi).contains(&value) {
        return Err(UnlearnError::Config { method, field, problem: format!("is {value}; it must be in [{lo}, {hi}]") });
    }
    Ok(())
}

/// Checks that `value` is a positive finite number.
pub(crate) fn check_positive(method: &'static str, field: &'static str, value: f64) -> Result<()> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(UnlearnError::Config {
            method,
            field,
            problem: format!("is {value}; it must be a positive number"),
        });
    }
    Ok(())
}

/// Checks that `value` is finite and not negative.
pub(crate) fn check_nonnegative(method: &'static str, field: &'static str, value: f64) -> Result<()> {
    if !(value >= 0.0 && value.is_finite()) {
        return Err(UnlearnError::Config { method, field, problem: format!("is {value}; it must be 0 or more") });
    }
    Ok(())
}

/// Serialises a config for the report.
pub(crate) fn settings<T: serde::Serialize>(cfg: &T) -> serde_json::Value {
    serde_json::to_value(cfg).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked_with_the_field_named() {
        let err = Ft::new(FtConfig { lr: 0.0, ..FtConfig::default() }).unwrap_err().to_string();
        assert_eq!(err, "ft: `lr` is 0; it must be a positive number");
        let err = NegGradPlus::new(NegGradPlusConfig { alpha: 1.5, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "neggrad_plus: `alpha` is 1.5; it must be in [0, 1]");
        let err = SalUn::new(SalUnConfig { ratio: 0.0, ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("`ratio` is 0"), "{err}");
        let err = Ssd::new(SsdConfig { alpha: -1.0, ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("`alpha` is -1"), "{err}");
        assert!(Ga::new(GaConfig::default()).is_ok());
        assert!(Rl::new(RlConfig::default()).is_ok());
        assert!(L1Sparse::new(L1SparseConfig::default()).is_ok());
        let err = Scrub::new(ScrubConfig { temperature: 0.0, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "scrub: `temperature` is 0; it must be a positive number");
        let err = Scrub::new(ScrubConfig { alpha: -1.0, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "scrub: `alpha` is -1; it must be 0 or more");
        let err = BoundaryShrink::new(BoundaryShrinkConfig { momentum: 1.0, ..Default::default() });
        assert_eq!(err.unwrap_err().to_string(), "boundary_shrink: `momentum` is 1; it must be in [0, 1)");
        let err = BoundaryExpanding::new(BoundaryExpandingConfig { epochs: 0, ..Default::default() });
        assert_eq!(err.unwrap_err().to_string(), "boundary_expanding: `epochs` is 0; it must be at least 1");
        let err = BadTeacher::new(BadTeacherConfig { retain_fraction: 1.5, ..Default::default() });
        assert_eq!(err.unwrap_err().to_string(), "bad_teacher: `retain_fraction` is 1.5; it must be in [0, 1]");
        let err = BadTeacher::new(BadTeacherConfig { lr: f64::NAN, ..Default::default() });
        assert_eq!(err.unwrap_err().to_string(), "bad_teacher: `lr` is NaN; it must be a positive number");
    }

    #[test]
    fn defaults_are_the_canonical_settings() {
        let ft = FtConfig::default();
        assert_eq!((ft.epochs, ft.lr, ft.momentum, ft.weight_decay), (10, 0.01, 0.9, 5e-4));
        assert_eq!((GaConfig::default().epochs, GaConfig::default().lr), (5, 1e-4));
        assert_eq!(NegGradPlusConfig::default().alpha, 0.95);
        let s = SalUnConfig::default();
        assert_eq!((s.lr, s.epochs, s.ratio), (0.013, 10, 0.5));
        let d = SsdConfig::default();
        assert_eq!((d.alpha, d.lambda), (10.0, 1.0));
        let s = ScrubConfig::default();
        assert_eq!((s.temperature, s.gamma, s.alpha, s.epochs, s.msteps, s.lr), (4.0, 0.99, 1e-3, 3, 2, 5e-4));
        assert_eq!((s.momentum, s.weight_decay), (0.9, 5e-4));
        let b = BoundaryShrinkConfig::default();
        assert_eq!((b.epsilon, b.epochs, b.lr, b.momentum), (0.1, 10, 1e-5, 0.9));
        let x = BoundaryExpandingConfig::default();
        assert_eq!((x.epochs, x.lr, x.momentum), (10, 1e-5, 0.9));
        let t = BadTeacherConfig::default();
        assert_eq!((t.epochs, t.lr, t.temperature), (1, 1e-4, 1.0));
    }
}

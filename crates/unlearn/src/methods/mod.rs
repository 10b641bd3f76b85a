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
    BoundaryExpanding, BoundaryExpandingConfig, BoundaryShrink, BoundaryShrinkConfig, adversarial_labels,
    expand_into_shadow_class, fgsm_inputs, shadow_row,
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

/// Checks the SGD settings most gradient methods have (a method with other batch sizes checks them with
/// [`check_batch`]).
pub(crate) fn check_sgd(
    method: &'static str,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    batch_size: usize,
) -> Result<()> {
    let bad = |field, problem| Err(UnlearnError::Config { method, field, problem });
    check_batch(method, "batch_size", batch_size)?;
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

/// Checks that a batch size (named `field`) is at least 1.
pub(crate) fn check_batch(method: &'static str, field: &'static str, batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(UnlearnError::Config { method, field, problem: "is 0; it must be at least 1".into() });
    }
    Ok(())
}

/// Checks that a count of rounds (named `field`) is at least 1.
pub(crate) fn check_rounds(method: &'static str, field: &'static str, rounds: usize) -> Result<()> {
    if rounds == 0 {
        return Err(UnlearnError::Config { method, field, problem: "is 0; it must be at least 1".into() });
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
    use crate::Budget;

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
        let err = BoundaryExpanding::new(BoundaryExpandingConfig { forget: Budget::Epochs(0), ..Default::default() });
        assert_eq!(
            err.unwrap_err().to_string(),
            "boundary_expanding: `forget` is { epochs = 0 }; it must be at least 1"
        );
        let err = Rl::new(RlConfig { rounds: 0, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "rl: `rounds` is 0; it must be at least 1");
        let err = NegGradPlus::new(NegGradPlusConfig { forget_batch_size: 0, ..Default::default() });
        assert_eq!(err.unwrap_err().to_string(), "neggrad_plus: `forget_batch_size` is 0; it must be at least 1");
        let err = Scrub::new(ScrubConfig { forget_batch_size: 0, ..Default::default() }).unwrap_err().to_string();
        assert_eq!(err, "scrub: `forget_batch_size` is 0; it must be at least 1");
        let err = BadTeacher::new(BadTeacherConfig { retain_fraction: 1.5, ..Default::default() });
        assert_eq!(err.unwrap_err().to_string(), "bad_teacher: `retain_fraction` is 1.5; it must be in [0, 1]");
        let err = BadTeacher::new(BadTeacherConfig { lr: f64::NAN, ..Default::default() });
        assert_eq!(err.unwrap_err().to_string(), "bad_teacher: `lr` is NaN; it must be a positive number");
    }

    /// The canonical settings, with each budget the reference's step count on SalUn's CIFAR-10 benchmark
    /// (|F| = 4,500, |R| = 45,000) at the reference's batch size (the method docs give the arithmetic).
    #[test]
    fn defaults_are_the_canonical_settings() {
        let ft = FtConfig::default();
        assert_eq!((ft.retain, ft.lr, ft.momentum, ft.weight_decay), (Budget::Epochs(10), 0.01, 0.9, 5e-4));
        let ga = GaConfig::default();
        assert_eq!((ga.forget, ga.lr), (Budget::Steps(5 * 4_500usize.div_ceil(256)), 1e-4));
        let n = NegGradPlusConfig::default();
        assert_eq!((n.alpha, n.lr, n.momentum, n.weight_decay), (0.95, 0.01, 0.0, 5e-4));
        assert_eq!((n.retain_batch_size, n.forget_batch_size), (32, 64));
        assert_eq!(n.retain, Budget::Steps(10 * 45_000usize.div_ceil(32)));
        let rl = RlConfig::default();
        assert_eq!((rl.rounds, rl.forget, rl.retain), (10, Budget::Steps(4_500usize.div_ceil(256)), Budget::Epochs(1)));
        let s = SalUnConfig::default();
        assert_eq!((s.lr, s.rounds, s.ratio, s.forget, s.retain), (0.013, 10, 0.5, rl.forget, rl.retain));
        let d = SsdConfig::default();
        assert_eq!((d.alpha, d.lambda), (10.0, 1.0));
        let s = ScrubConfig::default();
        assert_eq!((s.temperature, s.gamma, s.alpha, s.rounds, s.msteps, s.lr), (4.0, 0.99, 1e-3, 3, 2, 5e-4));
        assert_eq!((s.momentum, s.weight_decay, s.forget_batch_size), (0.9, 5e-4, 32));
        assert_eq!((s.forget, s.retain), (Budget::Steps(4_500usize.div_ceil(32)), Budget::Epochs(1)));
        let b = BoundaryShrinkConfig::default();
        assert_eq!((b.epsilon, b.lr, b.momentum), (0.1, 1e-5, 0.9));
        assert_eq!(b.forget, Budget::Steps(10 * 4_500usize.div_ceil(128)));
        let x = BoundaryExpandingConfig::default();
        assert_eq!((x.forget, x.lr, x.momentum), (b.forget, 1e-5, 0.9));
        let t = BadTeacherConfig::default();
        assert_eq!((t.lr, t.temperature, t.batch_size), (1e-4, 1.0, 256));
        assert_eq!(t.mixed, Budget::Steps((4_500 + 13_500usize).div_ceil(256)));
    }
}

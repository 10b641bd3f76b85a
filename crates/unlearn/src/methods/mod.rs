//! The methods. Each is a checked type built by `new` from its config struct; the config's `Default` is the
//! canonical setting (STUDY.md's methods table) and its doc comment names the source paper.

mod gradient;
mod retrain;
mod salun;
mod ssd;

pub use gradient::{
    Ft, FtConfig, Ga, GaConfig, L1Sparse, L1SparseConfig, NegGradPlus, NegGradPlusConfig, Rl, RlConfig,
};
pub use retrain::{Retrain, RetrainConfig};
pub use salun::{SalUn, SalUnConfig, saliency_masks};
pub use ssd::{Importances, Ssd, SsdConfig, importances};

use crate::error::{Result, UnlearnError};

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
    }
}

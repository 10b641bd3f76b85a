//! Unlearning for the language arm's causal LM ([`doppel_models::lm::CausalLm`]), behind a trait shaped like the
//! image methods' [`crate::Unlearner`].
//!
//! - [`LmOriginal`]: M0 (plain device) with the training config and seeds it was made with; [`LmView`]: the
//!   training QA rows as encoded [`LmExample`]s with their lineage.
//! - [`crate::Scope`]: `Exact` forgets the target QA pairs, `Lineage` the targets and all their paraphrases;
//!   retraining from scratch on the rest is `retrain_exact` / `retrain_clean` respectively.
//! - [`LmUnlearner`]: one method; [`methods`] holds the checked methods built from their config structs, whose
//!   `Default`s name their papers: [`methods::Ga`], [`methods::GradDiff`], [`methods::KlGa`], [`methods::Npo`],
//!   [`methods::SimNpo`], [`methods::Ft`], [`methods::Retrain`]. [`LmMethodName`] is the closed list and
//!   [`LmMethodConfigs`] the TOML file with one optional section per method (`configs/unlearn/lm/qa-lm.toml`).
//! - [`objectives`]: the pure loss formulas (NPO, SimNPO, token KL) with hand-checked values.
//! - [`LmUnlearned`]: the model (plain device) and the same [`UnlearnReport`] the image arm writes.
//!
//! Divergence works as for images: a non-finite loss stops the run at that step with [`crate::Status::Diverged`];
//! the returned weights are the last sound ones (finite weights and finite logits on a probe of the rows), never
//! NaN weights.

mod engine;
pub mod methods;
pub mod objectives;

use std::path::Path;

use doppel_data::lineage::SampleInfo;
use doppel_models::lm::{CausalLm, LmExample, LmTrainConfig, LmTrainReport};
use doppel_models::train::TrainSeeds;

use crate::error::{Result, UnlearnError};
use crate::scope::Scope;
use crate::unlearner::{RunContext, UnlearnReport};
use methods::{FtConfig, GaConfig, GradDiffConfig, KlGaConfig, NpoConfig, RetrainConfig, SimNpoConfig};

/// The LM to unlearn from, with what made it (retraining reuses its config and seeds).
#[derive(Debug, Clone, Copy)]
pub struct LmOriginal<'a> {
    /// The model, on a plain (non-autodiff) device.
    pub model: &'a CausalLm,
    /// The training config it was trained with.
    pub train: &'a LmTrainConfig,
    /// The seeds it was trained with.
    pub seeds: TrainSeeds,
}

/// The training QA rows, encoded, with their lineage (one entry of each per row, in the same order).
#[derive(Debug, Clone, Copy)]
pub struct LmView<'a> {
    /// `[CLS] question answer [SEP]` of every training row, encoded with the original's tokenizer.
    pub examples: &'a [LmExample],
    /// The lineage of every row.
    pub samples: &'a [SampleInfo],
}

/// An unlearned LM and what the run did.
#[derive(Debug)]
pub struct LmUnlearned {
    /// The model, on the plain device.
    pub model: CausalLm,
    /// The report (the image arm's type).
    pub report: UnlearnReport,
    /// Per-epoch training losses, for retraining.
    pub train_report: Option<LmTrainReport>,
}

/// One LM unlearning method with checked settings.
pub trait LmUnlearner {
    /// The method's name as configs, reports and the command line write it.
    fn name(&self) -> &'static str;

    /// The settings the method runs with, for the report.
    fn settings(&self) -> serde_json::Value;

    /// Unlearns the rows of `scope` from `original`. `on_batch` sees the rows of every batch the method uses,
    /// forget side and retain side alike, before it is used (tests use it to prove what a method touched).
    fn unlearn(
        &self,
        original: &LmOriginal<'_>,
        view: &LmView<'_>,
        scope: &Scope,
        ctx: &RunContext,
        on_batch: &mut dyn FnMut(&[usize]),
    ) -> Result<LmUnlearned>;
}

/// The LM methods, as configs and the command line name them: doppel-protocol's [`LmMethod`].
///
/// [`LmMethod`]: doppel_protocol::LmMethod
pub use doppel_protocol::LmMethod as LmMethodName;

/// One optional section per LM method; a missing section or key is the paper's default (scaled as each config's
/// doc comment says).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmMethodConfigs {
    /// `[retrain]` (no keys).
    pub retrain: RetrainConfig,
    /// `[ft]`.
    pub ft: FtConfig,
    /// `[ga]`.
    pub ga: GaConfig,
    /// `[grad_diff]`.
    pub grad_diff: GradDiffConfig,
    /// `[kl_ga]`.
    pub kl_ga: KlGaConfig,
    /// `[npo]`.
    pub npo: NpoConfig,
    /// `[simnpo]`.
    pub simnpo: SimNpoConfig,
}

impl LmMethodConfigs {
    /// Parses a TOML config; `file` names it in errors. Every section is checked, not only the one used.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let cfg: LmMethodConfigs = toml::from_str(text).map_err(|e| UnlearnError::ConfigFile {
            file: doppel_stdx::config::located(file, text, e.span()),
            problem: e.message().replace('\n', " "),
        })?;
        for m in LmMethodName::ALL {
            cfg.build(m)?;
        }
        Ok(cfg)
    }

    /// Reads and checks a config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(doppel_stdx::IoError::at("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The checked method `name` with its settings from this config.
    pub fn build(&self, name: LmMethodName) -> Result<Box<dyn LmUnlearner>> {
        use methods::{Ft, Ga, GradDiff, KlGa, Npo, Retrain, SimNpo};
        Ok(match name {
            LmMethodName::Retrain => Box::new(Retrain::new(self.retrain.clone())?),
            LmMethodName::Ft => Box::new(Ft::new(self.ft.clone())?),
            LmMethodName::Ga => Box::new(Ga::new(self.ga.clone())?),
            LmMethodName::GradDiff => Box::new(GradDiff::new(self.grad_diff.clone())?),
            LmMethodName::KlGa => Box::new(KlGa::new(self.kl_ga.clone())?),
            LmMethodName::Npo => Box::new(Npo::new(self.npo.clone())?),
            LmMethodName::SimNpo => Box::new(SimNpo::new(self.simnpo.clone())?),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the test failing.

    use super::*;

    #[test]
    fn names_round_trip_and_builds_agree() {
        for m in LmMethodName::ALL {
            assert_eq!(LmMethodName::parse(m.name()), Some(m));
            assert_eq!(LmMethodConfigs::default().build(m).unwrap().name(), m.name());
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
    }

    #[test]
    fn the_shipped_preset_parses_and_checks() {
        let path =
            doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/unlearn/lm/qa-lm.toml");
        let cfg = LmMethodConfigs::from_file(&path).unwrap();
        assert_ne!(cfg, LmMethodConfigs::default());
    }

    #[test]
    fn config_files_are_strict_and_checked() {
        let cfg = LmMethodConfigs::from_toml("[npo]\nbeta = 0.5\n", "c.toml").unwrap();
        assert_eq!(cfg.npo.beta, 0.5);
        assert_eq!(cfg.npo.forget, NpoConfig::default().forget);
        let err = LmMethodConfigs::from_toml("[ga]\nepochs = 2\n", "c.toml").unwrap_err().to_string();
        assert!(err.starts_with("c.toml:2: unknown field `epochs`"), "{err}");
        let err = LmMethodConfigs::from_toml("[simnpo]\nbeta = 0.0\n", "c.toml").unwrap_err().to_string();
        assert_eq!(err, "simnpo: `beta` is 0; it must be a positive number");
        let err = LmMethodConfigs::from_toml("[grad_diff]\nretain_weight = -1.0\n", "c.toml").unwrap_err().to_string();
        assert_eq!(err, "grad_diff: `retain_weight` is -1; it must be 0 or more");
        let err = LmMethodConfigs::from_toml("[ft]\nlr = 0.0\n", "c.toml").unwrap_err().to_string();
        assert_eq!(err, "ft: `lr` is 0; it must be a positive number");
        let err = LmMethodConfigs::from_toml("[kl_ga]\ngrad_clip = -1.0\n", "c.toml").unwrap_err().to_string();
        assert_eq!(err, "kl_ga: `grad_clip` is -1; it must be a positive number");
    }
}

//! Method names and the per-method config file.
//!
//! ```toml
//! # configs/unlearn/mnist-mlp.toml: every section optional; a missing key takes the paper's default.
//! [ft]
//! retain = { epochs = 1 }
//! [salun]
//! rounds = 1
//! forget = { steps = 18 }
//! ratio = 0.5
//! ```

use std::path::Path;

use crate::error::{Result, UnlearnError};
use crate::methods::{
    BadTeacher, BadTeacherConfig, BoundaryExpanding, BoundaryExpandingConfig, BoundaryShrink, BoundaryShrinkConfig, Ft,
    FtConfig, Ga, GaConfig, L1Sparse, L1SparseConfig, NegGradPlus, NegGradPlusConfig, Retrain, RetrainConfig, Rl,
    RlConfig, SalUn, SalUnConfig, Scrub, ScrubConfig, Ssd, SsdConfig,
};
use crate::unlearner::Unlearner;

/// The methods doppel implements, as configs and the command line name them: doppel-protocol's [`Method`]
/// (one list for the binary and the orchestrator). Each one's [`Unlearner`] is built by [`MethodConfigs::build`].
///
/// [`Method`]: doppel_protocol::Method
pub use doppel_protocol::Method as MethodName;

/// One optional section per method; a missing section or key is the canonical default.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MethodConfigs {
    /// `[retrain]` (no keys).
    pub retrain: RetrainConfig,
    /// `[ft]`.
    pub ft: FtConfig,
    /// `[ga]`.
    pub ga: GaConfig,
    /// `[neggrad_plus]`.
    pub neggrad_plus: NegGradPlusConfig,
    /// `[rl]`.
    pub rl: RlConfig,
    /// `[l1_sparse]`.
    pub l1_sparse: L1SparseConfig,
    /// `[salun]`.
    pub salun: SalUnConfig,
    /// `[ssd]`.
    pub ssd: SsdConfig,
    /// `[scrub]`.
    pub scrub: ScrubConfig,
    /// `[boundary_shrink]`.
    pub boundary_shrink: BoundaryShrinkConfig,
    /// `[boundary_expanding]`.
    pub boundary_expanding: BoundaryExpandingConfig,
    /// `[bad_teacher]`.
    pub bad_teacher: BadTeacherConfig,
}

impl MethodConfigs {
    /// Parses a TOML config; `file` names it in errors. Every section is checked, not only the one used.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let cfg: MethodConfigs = toml::from_str(text).map_err(|e| UnlearnError::ConfigFile {
            file: doppel_stdx::config::located(file, text, e.span()),
            problem: e.message().replace('\n', " "),
        })?;
        for m in MethodName::ALL {
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
    pub fn build(&self, name: MethodName) -> Result<Box<dyn Unlearner>> {
        Ok(match name {
            MethodName::Retrain => Box::new(Retrain::new(self.retrain.clone())?),
            MethodName::Ft => Box::new(Ft::new(self.ft.clone())?),
            MethodName::Ga => Box::new(Ga::new(self.ga.clone())?),
            MethodName::NegGradPlus => Box::new(NegGradPlus::new(self.neggrad_plus.clone())?),
            MethodName::Rl => Box::new(Rl::new(self.rl.clone())?),
            MethodName::L1Sparse => Box::new(L1Sparse::new(self.l1_sparse.clone())?),
            MethodName::Salun => Box::new(SalUn::new(self.salun.clone())?),
            MethodName::Ssd => Box::new(Ssd::new(self.ssd.clone())?),
            MethodName::Scrub => Box::new(Scrub::new(self.scrub.clone())?),
            MethodName::BoundaryShrink => Box::new(BoundaryShrink::new(self.boundary_shrink.clone())?),
            MethodName::BoundaryExpanding => Box::new(BoundaryExpanding::new(self.boundary_expanding.clone())?),
            MethodName::BadTeacher => Box::new(BadTeacher::new(self.bad_teacher.clone())?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_builds_agree() {
        for m in MethodName::ALL {
            assert_eq!(MethodName::parse(m.name()), Some(m));
            assert_eq!(MethodConfigs::default().build(m).unwrap().name(), m.name());
        }
    }

    #[test]
    fn the_shipped_presets_parse_and_check() {
        let dir = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/unlearn");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let cfg = MethodConfigs::from_file(&path).unwrap();
                if path.file_stem().is_some_and(|s| s == "canonical") {
                    assert_eq!(cfg, MethodConfigs::default(), "canonical.toml is every paper default");
                } else {
                    assert_ne!(cfg, MethodConfigs::default(), "{}", path.display());
                }
                n += 1;
            }
        }
        assert!(n > 0, "no preset in {}", dir.display());
    }

    #[test]
    fn config_files_are_strict_and_checked() {
        let cfg = MethodConfigs::from_toml("[ft]\nretain = { epochs = 2 }\n", "c.toml").unwrap();
        assert_eq!(cfg.ft.retain, crate::Budget::Epochs(2));
        assert_eq!(cfg.ft.lr, 0.01);
        let err = MethodConfigs::from_toml("[ft]\nepochs = 2\n", "c.toml").unwrap_err().to_string();
        assert!(err.starts_with("c.toml:2: unknown field `epochs`"), "{err}");
        let err = MethodConfigs::from_toml("[ga]\nforget = { steps = 0 }\n", "c.toml").unwrap_err().to_string();
        assert_eq!(err, "ga: `forget` is { steps = 0 }; it must be at least 1");
        let err = MethodConfigs::from_toml("[salun]\nratio = 2.0\n", "c.toml").unwrap_err().to_string();
        assert_eq!(err, "salun: `ratio` is 2; it must be in (0, 1]");
        let cfg = MethodConfigs::from_toml("[scrub]\nmsteps = 1\n[bad_teacher]\nretain_fraction = 0.5\n", "c.toml");
        let cfg = cfg.unwrap();
        assert_eq!((cfg.scrub.msteps, cfg.scrub.temperature), (1, 4.0));
        assert_eq!((cfg.bad_teacher.retain_fraction, cfg.bad_teacher.lr), (0.5, 1e-4));
        let err = MethodConfigs::from_toml("[boundary_shrink]\nepsilon = 0.0\n", "c.toml").unwrap_err().to_string();
        assert_eq!(err, "boundary_shrink: `epsilon` is 0; it must be a positive number");
        let err = MethodConfigs::from_toml("[boundary_expanding]\nshadow = 1\n", "c.toml").unwrap_err().to_string();
        assert!(err.starts_with("c.toml:2: unknown field `shadow`"), "{err}");
    }
}

//! The build config of a similarity-entailed dataset: a TOML file, parsed strictly and checked once.
//!
//! ```toml
//! name = "mnist-occlusion"
//! seed = 42                      # the master seed; every other seed derives from it
//!
//! [source]
//! dataset = "mnist"              # mnist | fashion-mnist | cifar10 | digits | synthetic
//! train_per_class = 1000         # optional: a seeded, class-stratified subset of the train split
//! test_per_class = 200           # optional: the same for the test split
//!
//! [targets]
//! count = 50                     # T
//! classes = [0, 1, 2]            # optional: the pool targets are drawn from (default: every class)
//!
//! [[variants]]                   # zero or more groups; k = the sum of their `per_target`
//! kind = "occlusion"
//! per_target = 5                 # k of this kind
//! grid = 4                       # b: the image is cut into b × b blocks
//! ratio = 0.25                   # r: the fraction of blocks zeroed
//! ```
//!
//! [`BuildConfig::from_toml`] rejects unknown keys and out-of-range values with an error naming the file and the
//! key; checks that need the image (the grid divides it, the pool holds `T` samples) run when the data is loaded.

use serde::Deserialize;

use crate::dataset::ImageShape;
use crate::error::{DataError, Result};
use crate::readers::SourceName;
use crate::synthetic::SyntheticConfig;
use crate::variants::VariantSpec;

/// Where the base samples come from. Serialises as the config reads: `{"dataset": "mnist"}` or
/// `{"dataset": "synthetic", "synthetic": {…}}`.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// A fetched real dataset.
    Real {
        /// Which one.
        name: SourceName,
    },
    /// The built-in synthetic shapes (no download).
    Synthetic(SyntheticConfig),
}

impl serde::Serialize for SourceSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            SourceSpec::Real { name } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("dataset", name.dir_name())?;
                m.end()
            }
            SourceSpec::Synthetic(cfg) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("dataset", "synthetic")?;
                m.serialize_entry("synthetic", cfg)?;
                m.end()
            }
        }
    }
}

/// How targets are drawn.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TargetSpec {
    /// `T`, the number of targets.
    pub count: usize,
    /// The classes the pool is made of; `None` = every class.
    pub classes: Option<Vec<u32>>,
}

/// `per_target` variants of one kind for each target.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VariantGroup {
    /// The kind and its parameters.
    #[serde(flatten)]
    pub spec: VariantSpec,
    /// Variants of this kind per target.
    pub per_target: usize,
}

/// The contact sheet drawn beside a built dataset.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SheetSpec {
    /// Rows: targets shown.
    pub targets: usize,
    /// Columns after the target: variants shown per target.
    pub variants: usize,
}

/// A checked build config. Construct it with [`BuildConfig::from_toml`] or [`BuildConfig::from_file`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuildConfig {
    /// Dataset name, `[a-z0-9_-]+`.
    pub name: String,
    /// The master seed.
    pub seed: u64,
    /// The base samples.
    pub source: SourceSpec,
    /// Class-stratified subset size of the train split, per class.
    pub train_per_class: Option<usize>,
    /// Class-stratified subset size of the test split, per class.
    pub test_per_class: Option<usize>,
    /// How targets are drawn.
    pub targets: TargetSpec,
    /// Variant groups, in order.
    pub variants: Vec<VariantGroup>,
    /// The contact sheet.
    pub sheet: SheetSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    seed: i64,
    source: RawSource,
    targets: RawTargets,
    #[serde(default)]
    variants: Vec<RawVariant>,
    sheet: Option<RawSheet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    dataset: String,
    train_per_class: Option<i64>,
    test_per_class: Option<i64>,
    synthetic: Option<RawSynthetic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSynthetic {
    classes: i64,
    side: Option<i64>,
    channels: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    count: i64,
    classes: Option<Vec<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    kind: String,
    per_target: i64,
    grid: Option<i64>,
    ratio: Option<f64>,
    max_shift: Option<i64>,
    sigma: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSheet {
    targets: i64,
    variants: i64,
}

/// Field checks that report `file: \`field\` problem`.
type Checker<'a> = doppel_stdx::Checker<'a, DataError>;

impl BuildConfig {
    /// Reads and checks a TOML config file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(DataError::io("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks TOML `text`; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| DataError::ConfigSyntax {
            file: doppel_stdx::config::located(file, text, e.span()),
            message: e.message().replace('\n', " "),
        })?;
        let c = Checker::new(file);
        if raw.name.is_empty()
            || !raw.name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "-_".contains(ch))
        {
            return Err(c.err("name", format!("is {:?}; use lowercase letters, digits, - and _", raw.name)));
        }
        let seed =
            u64::try_from(raw.seed).map_err(|_| c.err("seed", format!("is {}; it must be 0 or more", raw.seed)))?;
        let source = match (raw.source.dataset.as_str(), raw.source.synthetic) {
            ("synthetic", Some(s)) => {
                let per_class = |f: &str, v: Option<i64>| -> Result<usize> {
                    match v {
                        Some(v) => c.count(&format!("source.{f}"), v, 1),
                        None => Err(c.err(format!("source.{f}"), "is required for the synthetic dataset")),
                    }
                };
                let cfg = SyntheticConfig {
                    classes: c.count("source.synthetic.classes", s.classes, 1)?,
                    train_per_class: per_class("train_per_class", raw.source.train_per_class)?,
                    test_per_class: per_class("test_per_class", raw.source.test_per_class)?,
                    side: c.count("source.synthetic.side", s.side.unwrap_or(28), 1)?,
                    channels: c.count("source.synthetic.channels", s.channels.unwrap_or(1), 1)?,
                };
                cfg.validate(file, "source.synthetic.")?;
                SourceSpec::Synthetic(cfg)
            }
            ("synthetic", None) => {
                return Err(c.err("source.synthetic", "is required when source.dataset = \"synthetic\""));
            }
            (other, synthetic) => {
                if synthetic.is_some() {
                    return Err(
                        c.err("source.synthetic", format!("only applies to the synthetic dataset, not {other}"))
                    );
                }
                let name = SourceName::ALL.into_iter().find(|n| n.dir_name() == other).ok_or_else(|| {
                    c.err(
                        "source.dataset",
                        format!("is {other:?}; use one of mnist, fashion-mnist, cifar10, digits, synthetic"),
                    )
                })?;
                SourceSpec::Real { name }
            }
        };
        let (train_per_class, test_per_class) = match source {
            // The synthetic generator already made exactly these counts.
            SourceSpec::Synthetic(_) => (None, None),
            SourceSpec::Real { .. } => (
                raw.source.train_per_class.map(|v| c.count("source.train_per_class", v, 1)).transpose()?,
                raw.source.test_per_class.map(|v| c.count("source.test_per_class", v, 1)).transpose()?,
            ),
        };
        let classes = match raw.targets.classes {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(c.err("targets.classes", "is empty; omit it to use every class"));
            }
            Some(list) => Some(
                list.iter()
                    .map(|&v| {
                        u32::try_from(v)
                            .map_err(|_| c.err("targets.classes", format!("holds {v}; labels are 0 or more")))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let targets = TargetSpec { count: c.count("targets.count", raw.targets.count, 1)?, classes };
        let variants =
            raw.variants.into_iter().enumerate().map(|(i, v)| check_variant(&c, i, v)).collect::<Result<Vec<_>>>()?;
        let sheet = match raw.sheet {
            None => SheetSpec { targets: 6, variants: 8 },
            Some(s) => SheetSpec {
                targets: c.count("sheet.targets", s.targets, 1)?,
                variants: c.count("sheet.variants", s.variants, 0)?,
            },
        };
        let cfg =
            BuildConfig { name: raw.name, seed, source, train_per_class, test_per_class, targets, variants, sheet };
        if let SourceSpec::Synthetic(s) = &cfg.source {
            cfg.check_against_images(
                ImageShape { channels: s.channels, height: s.side, width: s.side },
                s.classes,
                file,
            )?;
        }
        Ok(cfg)
    }

    /// `k`: variants per target, over all groups.
    pub fn variants_per_target(&self) -> usize {
        self.variants.iter().map(|g| g.per_target).sum()
    }

    /// The checks that need the source's image shape and class count.
    pub fn check_against_images(&self, shape: ImageShape, n_classes: usize, file: &str) -> Result<()> {
        let c = Checker::new(file);
        for (i, g) in self.variants.iter().enumerate() {
            match g.spec {
                VariantSpec::Occlusion { grid, .. } => {
                    if !shape.height.is_multiple_of(grid) || !shape.width.is_multiple_of(grid) {
                        let divisors: Vec<String> = (1..=shape.height)
                            .filter(|d| shape.height.is_multiple_of(*d) && shape.width.is_multiple_of(*d))
                            .map(|d| d.to_string())
                            .collect();
                        return Err(c.err(
                            format!("variants[{i}].grid"),
                            format!(
                                "is {grid}, which does not divide the {}×{} image; use one of {}",
                                shape.height,
                                shape.width,
                                divisors.join(", ")
                            ),
                        ));
                    }
                }
                VariantSpec::Shift { max_shift } => {
                    if max_shift >= shape.height.min(shape.width) {
                        return Err(c.err(
                            format!("variants[{i}].max_shift"),
                            format!(
                                "is {max_shift}; it must be below the image side {}",
                                shape.height.min(shape.width)
                            ),
                        ));
                    }
                }
                VariantSpec::Noise { .. } => {}
            }
        }
        if let Some(bad) = self.targets.classes.iter().flatten().find(|&&l| l as usize >= n_classes) {
            return Err(
                c.err("targets.classes", format!("holds {bad}, but the dataset has classes 0..{}", n_classes - 1))
            );
        }
        Ok(())
    }
}

fn check_variant(c: &Checker<'_>, i: usize, v: RawVariant) -> Result<VariantGroup> {
    let at = |f: &str| format!("variants[{i}].{f}");
    let per_target = c.count(&at("per_target"), v.per_target, 0)?;
    let required = |name: &str, present: bool| {
        if present { Ok(()) } else { Err(c.err(at(name), format!("is required for kind {:?}", v.kind))) }
    };
    let forbid = |name: &str, present: bool| {
        if present { Err(c.err(at(name), format!("does not apply to kind {:?}", v.kind))) } else { Ok(()) }
    };
    let spec = match v.kind.as_str() {
        "occlusion" => {
            required("grid", v.grid.is_some())?;
            required("ratio", v.ratio.is_some())?;
            forbid("max_shift", v.max_shift.is_some())?;
            forbid("sigma", v.sigma.is_some())?;
            let grid = c.count(&at("grid"), v.grid.unwrap_or_default(), 1)?;
            let ratio = v.ratio.unwrap_or_default();
            if !(0.0..=1.0).contains(&ratio) {
                return Err(c.err(at("ratio"), format!("is {ratio}; it must be in [0, 1]")));
            }
            VariantSpec::Occlusion { grid, ratio }
        }
        "shift" => {
            required("max_shift", v.max_shift.is_some())?;
            forbid("grid", v.grid.is_some())?;
            forbid("ratio", v.ratio.is_some())?;
            forbid("sigma", v.sigma.is_some())?;
            VariantSpec::Shift { max_shift: c.count(&at("max_shift"), v.max_shift.unwrap_or_default(), 1)? }
        }
        "noise" => {
            required("sigma", v.sigma.is_some())?;
            forbid("grid", v.grid.is_some())?;
            forbid("ratio", v.ratio.is_some())?;
            forbid("max_shift", v.max_shift.is_some())?;
            let sigma = v.sigma.unwrap_or_default();
            if !(sigma > 0.0 && sigma.is_finite()) {
                return Err(c.err(at("sigma"), format!("is {sigma}; it must be a positive number")));
            }
            VariantSpec::Noise { sigma }
        }
        other => return Err(c.err(at("kind"), format!("is {other:?}; use occlusion, shift or noise"))),
    };
    Ok(VariantGroup { spec, per_target })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
seed = 7
[source]
dataset = "synthetic"
train_per_class = 10
test_per_class = 2
[source.synthetic]
classes = 3
[targets]
count = 4
[[variants]]
kind = "occlusion"
per_target = 3
grid = 4
ratio = 0.25
[[variants]]
kind = "noise"
per_target = 1
sigma = 8.0
"#;

    #[test]
    fn good_config_parses() {
        let c = BuildConfig::from_toml(GOOD, "good.toml").unwrap();
        assert_eq!(c.variants_per_target(), 4);
        assert_eq!(c.seed, 7);
        assert!(matches!(c.source, SourceSpec::Synthetic(ref s) if s.classes == 3 && s.side == 28));
    }

    /// Each bad config, with the message it must produce.
    #[test]
    fn bad_configs_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("ratio = 0.25", "ratoi = 0.25", "bad.toml:16: unknown field `ratoi`, expected one of `kind`"),
            ("ratio = 0.25", "ratio = 1.5", "bad.toml: `variants[0].ratio` is 1.5; it must be in [0, 1]"),
            ("ratio = 0.25", "ratio = -0.1", "`variants[0].ratio` is -0.1; it must be in [0, 1]"),
            (
                "grid = 4",
                "grid = 5",
                "`variants[0].grid` is 5, which does not divide the 28×28 image; use one of 1, 2, 4, 7, 14, 28",
            ),
            ("per_target = 3", "per_target = -1", "`variants[0].per_target` is -1; it must be 0 or more"),
            ("count = 4", "count = 0", "`targets.count` is 0; it must be at least 1"),
            ("kind = \"noise\"", "kind = \"blur\"", "`variants[1].kind` is \"blur\"; use occlusion, shift or noise"),
            ("sigma = 8.0", "sigma = 8.0\ngrid = 2", "`variants[1].grid` does not apply to kind \"noise\""),
            (
                "dataset = \"synthetic\"",
                "dataset = \"imagenet\"",
                "`source.synthetic` only applies to the synthetic dataset",
            ),
            ("seed = 7", "seed = -3", "`seed` is -3; it must be 0 or more"),
            ("name = \"t\"", "name = \"Has Space\"", "`name` is \"Has Space\""),
            ("classes = 3", "classes = 3\nchannels = 2", "`source.synthetic.channels` is 2; it must be 1 or 3"),
            ("count = 4", "count = 4\nclasses = [0, 5]", "`targets.classes` holds 5, but the dataset has classes 0..2"),
            ("seed = 7\n", "", "missing field `seed`"),
        ];
        for (from, to, want) in cases {
            assert!(GOOD.contains(from), "fixture lacks {from}");
            let text = GOOD.replacen(from, to, 1);
            let err = BuildConfig::from_toml(&text, "bad.toml").unwrap_err().to_string();
            assert!(err.contains(want), "{to}: got {err}");
            assert!(err.starts_with("bad.toml"), "{err}");
            assert!(!err.contains('\n'), "errors are one line: {err}");
        }
    }

    #[test]
    fn real_source_names_parse() {
        let text = GOOD
            .replace("dataset = \"synthetic\"", "dataset = \"fashion-mnist\"")
            .replace("[source.synthetic]\nclasses = 3\n", "");
        let c = BuildConfig::from_toml(&text, "x").unwrap();
        assert_eq!(c.source, SourceSpec::Real { name: SourceName::FashionMnist });
        assert_eq!(c.train_per_class, Some(10));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["source"], serde_json::json!({"dataset": "fashion-mnist"}));
    }
}

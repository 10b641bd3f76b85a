//! The mining config: a TOML file, parsed strictly and checked once into a [`MineConfig`].
//!
//! ```toml
//! [embedder]
//! kind = "pixel"            # pixel | patch | features | minilm (see below for the others' keys)
//! standardize = true        # per-pixel mean/std of the train split
//! reduce = "pca"            # none | projection | pca
//! dim = 64                  # projection and pca only
//! iterations = 4            # pca only: power iterations
//! seed = 7
//!
//! [index]
//! metric = "cosine"         # cosine | l2
//! m = 16                    # 2..=256
//! ef_construction = 200
//! ef_search = 64
//!
//! [mine]
//! threshold = 0.1           # look-alikes of a target: train samples within this distance
//! # top_k = 10              # or: its k nearest
//! max_neighbours = 500
//! search = "hnsw"           # hnsw | exact
//! group_threshold = 0.01    # near-duplicate groups of the train split
//! test_threshold = 0.01     # train↔test near-copies
//!
//! [quality]
//! thresholds = [0.05, 0.1, 0.2]
//! top_k = [10]
//! recall_queries = 1000
//! seed = 7
//! ```
//!
//! The other embedder kinds take their own keys (a key of another kind is an error):
//!
//! ```toml
//! kind = "patch"             # shingles of quantised patches (PatchEmbedder); all keys required
//! patch = 4                  # patch side, pixels
//! stride = 4                 # step between patches
//! levels = 16                # grey levels before hashing
//! dim = 1024                 # count-sketch buckets
//! seed = 7
//!
//! kind = "features"          # penultimate features of a doppel classifier (doppel-models builds it)
//! checkpoint = "runs/m/m0"   # a `doppel train` model folder, or its model.safetensors
//! batch_size = 512           # optional
//!
//! kind = "minilm"            # all-MiniLM-L6-v2 text embeddings (doppel-models builds it)
//! model_dir = "data/minilm"  # optional, this is the default
//! batch_size = 64            # optional
//! ```
//!
//! Errors name the file and the key: `configs/mine/pixel.toml: \`index.m\` is 300; it must be between 2 and 256 …`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::embed::{Embedder, PixelConfig, PixelEmbedder, Reduce};
use crate::error::{MineError, Result};
use crate::index::{IndexParams, Metric, Search};
use crate::mine::MiningParams;
use crate::patch::{PatchConfig, PatchEmbedder};
use crate::quality::QualityParams;

/// Which embedder, with its settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmbedderSpec {
    /// [`PixelEmbedder`].
    Pixel(PixelConfig),
    /// [`PatchEmbedder`].
    Patch(PatchConfig),
    /// Penultimate features of a trained doppel classifier (`doppel_models::embedders::FeaturesEmbedder`).
    Features {
        /// A `doppel train` model folder (holding `model.safetensors` and `model.json`) or the weights file.
        checkpoint: PathBuf,
        /// Images per forward pass.
        batch_size: usize,
    },
    /// all-MiniLM-L6-v2 sentence embeddings (`doppel_models::embedders::MiniLmEmbedder`).
    Minilm {
        /// The folder of the fetched model files.
        model_dir: PathBuf,
        /// Texts per forward pass.
        batch_size: usize,
    },
}

/// The MiniLM folder when the config names none.
pub const DEFAULT_MINILM_DIR: &str = "data/minilm";

impl EmbedderSpec {
    /// The kind, as the config spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            EmbedderSpec::Pixel(_) => "pixel",
            EmbedderSpec::Patch(_) => "patch",
            EmbedderSpec::Features { .. } => "features",
            EmbedderSpec::Minilm { .. } => "minilm",
        }
    }

    /// A fresh (unfitted) embedder of a model-free kind; the kinds that run a model are a
    /// [`MineError::NeedsModel`] here, for the caller to build with doppel-models.
    pub fn build(&self) -> Result<Box<dyn Embedder>> {
        match self {
            EmbedderSpec::Pixel(c) => Ok(Box::new(PixelEmbedder::new(*c)?)),
            EmbedderSpec::Patch(c) => Ok(Box::new(PatchEmbedder::new(*c)?)),
            EmbedderSpec::Features { .. } | EmbedderSpec::Minilm { .. } => {
                Err(MineError::NeedsModel { kind: self.kind() })
            }
        }
    }
}

/// A checked mining config.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MineConfig {
    /// The embedder.
    pub embedder: EmbedderSpec,
    /// The HNSW index.
    pub index: IndexParams,
    /// What to mine.
    pub mine: MiningParams,
    /// The quality sweep.
    pub quality: QualityParams,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    embedder: RawEmbedder,
    index: RawIndex,
    mine: RawMine,
    quality: Option<RawQuality>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmbedder {
    kind: String,
    standardize: Option<bool>,
    reduce: Option<String>,
    dim: Option<i64>,
    iterations: Option<i64>,
    seed: Option<i64>,
    patch: Option<i64>,
    stride: Option<i64>,
    levels: Option<i64>,
    checkpoint: Option<String>,
    model_dir: Option<String>,
    batch_size: Option<i64>,
}

impl RawEmbedder {
    /// The keys that are set, by name.
    fn set_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut key = |name, set: bool| {
            if set {
                keys.push(name);
            }
        };
        key("standardize", self.standardize.is_some());
        key("reduce", self.reduce.is_some());
        key("dim", self.dim.is_some());
        key("iterations", self.iterations.is_some());
        key("seed", self.seed.is_some());
        key("patch", self.patch.is_some());
        key("stride", self.stride.is_some());
        key("levels", self.levels.is_some());
        key("checkpoint", self.checkpoint.is_some());
        key("model_dir", self.model_dir.is_some());
        key("batch_size", self.batch_size.is_some());
        keys
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    metric: String,
    m: i64,
    ef_construction: i64,
    ef_search: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMine {
    threshold: f64,
    top_k: Option<i64>,
    max_neighbours: Option<i64>,
    search: Option<String>,
    group_threshold: f64,
    test_threshold: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuality {
    thresholds: Vec<f64>,
    top_k: Option<Vec<i64>>,
    recall_queries: Option<i64>,
    seed: Option<i64>,
}

/// Field checks that report `file: \`field\` problem`.
type Checker<'a> = doppel_stdx::Checker<'a, MineError>;

impl MineConfig {
    /// Reads and checks a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(MineError::io("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks TOML `text`; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let raw: Raw = toml::from_str(text).map_err(|e| MineError::ConfigSyntax {
            file: doppel_stdx::config::located(file, text, e.span()),
            message: e.message().replace('\n', " "),
        })?;
        let c = Checker::new(file);
        let e = raw.embedder;
        let allowed: &[&str] = match e.kind.as_str() {
            "pixel" => &["standardize", "reduce", "dim", "iterations", "seed"],
            "patch" => &["patch", "stride", "levels", "dim", "seed"],
            "features" => &["checkpoint", "batch_size"],
            "minilm" => &["model_dir", "batch_size"],
            _ => &[],
        };
        if let Some(k) = e.set_keys().into_iter().find(|k| !allowed.is_empty() && !allowed.contains(k)) {
            return Err(c.err(format!("embedder.{k}"), format!("does not apply to embedder.kind = {:?}", e.kind)));
        }
        let required = |field: &str, v: Option<i64>| {
            v.ok_or_else(|| c.err(field, format!("is required for embedder.kind = {:?}", e.kind)))
        };
        let batch_size = |default: i64| c.count("embedder.batch_size", e.batch_size.unwrap_or(default), 1);
        let embedder = match e.kind.as_str() {
            "patch" => {
                let levels = required("embedder.levels", e.levels)?;
                let cfg = PatchConfig {
                    patch: c.count("embedder.patch", required("embedder.patch", e.patch)?, 1)?,
                    stride: c.count("embedder.stride", required("embedder.stride", e.stride)?, 1)?,
                    levels: u16::try_from(levels)
                        .map_err(|_| c.err("embedder.levels", format!("is {levels}; it must be between 2 and 256")))?,
                    dim: c.count("embedder.dim", required("embedder.dim", e.dim)?, 1)?,
                    seed: c.seed("embedder.seed", required("embedder.seed", e.seed)?)?,
                };
                cfg.validate().map_err(|err| err.in_file(file))?;
                EmbedderSpec::Patch(cfg)
            }
            "features" => {
                let checkpoint = e.checkpoint.clone().ok_or_else(|| {
                    c.err(
                        "embedder.checkpoint",
                        "is required for embedder.kind = \"features\": a model folder written by `doppel train`",
                    )
                })?;
                EmbedderSpec::Features { checkpoint: PathBuf::from(checkpoint), batch_size: batch_size(512)? }
            }
            "minilm" => EmbedderSpec::Minilm {
                model_dir: PathBuf::from(e.model_dir.clone().unwrap_or_else(|| DEFAULT_MINILM_DIR.to_string())),
                batch_size: batch_size(64)?,
            },
            "pixel" => {
                let dim = |required: bool| -> Result<usize> {
                    match e.dim {
                        Some(d) => c.count("embedder.dim", d, 1),
                        None if required => {
                            Err(c.err("embedder.dim", "is required when embedder.reduce is projection or pca"))
                        }
                        None => Ok(0),
                    }
                };
                let reduce = match e.reduce.as_deref().unwrap_or("none") {
                    "none" => {
                        if e.dim.is_some() {
                            return Err(c.err("embedder.dim", "does not apply when embedder.reduce = \"none\""));
                        }
                        Reduce::None
                    }
                    "projection" => Reduce::Projection { dim: dim(true)? },
                    "pca" => Reduce::Pca {
                        dim: dim(true)?,
                        iterations: c.count("embedder.iterations", e.iterations.unwrap_or(4), 0)?,
                    },
                    other => return Err(c.err("embedder.reduce", format!("is {other:?}; use none, projection or pca"))),
                };
                if e.iterations.is_some() && !matches!(reduce, Reduce::Pca { .. }) {
                    return Err(c.err("embedder.iterations", "applies only when embedder.reduce = \"pca\""));
                }
                let cfg = PixelConfig {
                    standardize: e.standardize.unwrap_or(true),
                    reduce,
                    seed: c.seed("embedder.seed", required("embedder.seed", e.seed)?)?,
                };
                cfg.validate().map_err(|err| err.in_file(file))?;
                EmbedderSpec::Pixel(cfg)
            }
            other => {
                return Err(
                    c.err("embedder.kind", format!("is {other:?}; this build knows: pixel, patch, features, minilm"))
                );
            }
        };
        let metric = match raw.index.metric.as_str() {
            "cosine" => Metric::Cosine,
            "l2" => Metric::L2,
            other => return Err(c.err("index.metric", format!("is {other:?}; use cosine or l2"))),
        };
        let index = IndexParams {
            metric,
            m: c.count("index.m", raw.index.m, 0)?,
            ef_construction: c.count("index.ef_construction", raw.index.ef_construction, 0)?,
            ef_search: c.count("index.ef_search", raw.index.ef_search, 0)?,
        };
        index.validate().map_err(|err| err.in_file(file))?;
        let search = match raw.mine.search.as_deref().unwrap_or("hnsw") {
            "hnsw" => Search::Hnsw,
            "exact" => Search::Exact,
            other => return Err(c.err("mine.search", format!("is {other:?}; use hnsw or exact"))),
        };
        let max_neighbours = c.count("mine.max_neighbours", raw.mine.max_neighbours.unwrap_or(500), 1)?;
        let mine = MiningParams {
            threshold: c.distance("mine.threshold", raw.mine.threshold)?,
            top_k: raw.mine.top_k.map(|k| c.count("mine.top_k", k, 1)).transpose()?,
            max_neighbours,
            search,
            group_threshold: c.distance("mine.group_threshold", raw.mine.group_threshold)?,
            test_threshold: c.distance("mine.test_threshold", raw.mine.test_threshold)?,
        };
        mine.validate().map_err(|err| err.in_file(file))?;
        let q = raw.quality.unwrap_or(RawQuality {
            thresholds: vec![f64::from(mine.threshold)],
            top_k: None,
            recall_queries: None,
            seed: None,
        });
        let quality = QualityParams {
            thresholds: q
                .thresholds
                .iter()
                .enumerate()
                .map(|(i, &t)| c.distance(&format!("quality.thresholds[{i}]"), t))
                .collect::<Result<_>>()?,
            top_k: q
                .top_k
                .unwrap_or_default()
                .into_iter()
                .map(|k| c.count("quality.top_k", k, 1))
                .collect::<Result<_>>()?,
            max_neighbours,
            search,
            recall_queries: c.count("quality.recall_queries", q.recall_queries.unwrap_or(1000), 1)?,
            seed: c.seed("quality.seed", q.seed.unwrap_or(0))?,
        };
        quality.validate().map_err(|err| err.in_file(file))?;
        Ok(MineConfig { embedder, index, mine, quality })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[embedder]
kind = "pixel"
reduce = "pca"
dim = 16
seed = 7
[index]
metric = "cosine"
m = 16
ef_construction = 200
ef_search = 64
[mine]
threshold = 0.1
group_threshold = 0.01
test_threshold = 0.01
[quality]
thresholds = [0.05, 0.1]
top_k = [5]
"#;

    fn check(from: &str, to: &str, want: &str) {
        assert!(GOOD.contains(from), "{from}");
        let err = MineConfig::from_toml(&GOOD.replacen(from, to, 1), "m.toml").unwrap_err().to_string();
        assert!(err.starts_with(want), "{from} → {to}: got {err:?}, want {want:?}");
    }

    #[test]
    fn the_good_config_parses() {
        let c = MineConfig::from_toml(GOOD, "m.toml").unwrap();
        assert_eq!(
            c.embedder,
            EmbedderSpec::Pixel(PixelConfig {
                standardize: true,
                reduce: Reduce::Pca { dim: 16, iterations: 4 },
                seed: 7
            })
        );
        assert_eq!(c.index.m, 16);
        assert_eq!(c.mine.search, Search::Hnsw);
        assert_eq!(c.quality.top_k, vec![5]);
    }

    #[test]
    fn bad_values_name_the_file_and_key() {
        let cases = [
            (
                "\nm = 16",
                "\nm = 300",
                "m.toml: `index.m` is 300; it must be between 2 and 256 (hnsw_rs stops the whole process",
            ),
            ("ef_search = 64", "ef_search = 0", "m.toml: `index.ef_search` is 0; it must be between 1 and"),
            ("dim = 16", "dim = 0", "m.toml: `embedder.dim` is 0; it must be at least 1"),
            (
                "reduce = \"pca\"",
                "reduce = \"svd\"",
                "m.toml: `embedder.reduce` is \"svd\"; use none, projection or pca",
            ),
            (
                "kind = \"pixel\"",
                "kind = \"clip\"",
                "m.toml: `embedder.kind` is \"clip\"; this build knows: pixel, patch, features, minilm",
            ),
            ("seed = 7\n[index]", "[index]", "m.toml: `embedder.seed` is required for embedder.kind = \"pixel\""),
            (
                "kind = \"pixel\"",
                "kind = \"features\"",
                "m.toml: `embedder.reduce` does not apply to embedder.kind = \"features\"",
            ),
            ("metric = \"cosine\"", "metric = \"dot\"", "m.toml: `index.metric` is \"dot\"; use cosine or l2"),
            ("threshold = 0.1", "threshold = -0.1", "m.toml: `mine.threshold` is -0.1; it must be a finite distance"),
            ("thresholds = [0.05, 0.1]", "thresholds = [0.05, nan]", "m.toml: `quality.thresholds[1]` is NaN"),
            ("seed = 7", "seed = 7\nblur = 1", "m.toml:7: unknown field `blur`"),
        ];
        for (from, to, want) in cases {
            check(from, to, want);
        }
    }

    #[test]
    fn the_other_kinds_parse_with_their_own_keys() {
        let with = |embedder: &str| GOOD.replace("kind = \"pixel\"\nreduce = \"pca\"\ndim = 16\nseed = 7", embedder);
        let c = MineConfig::from_toml(&with("kind = \"features\"\ncheckpoint = \"m/m0\""), "m.toml").unwrap();
        assert_eq!(c.embedder, EmbedderSpec::Features { checkpoint: "m/m0".into(), batch_size: 512 });
        assert!(matches!(c.embedder.build(), Err(MineError::NeedsModel { kind: "features" })));
        let c = MineConfig::from_toml(&with("kind = \"minilm\""), "m.toml").unwrap();
        assert_eq!(c.embedder, EmbedderSpec::Minilm { model_dir: DEFAULT_MINILM_DIR.into(), batch_size: 64 });
        let patch = "kind = \"patch\"\npatch = 4\nstride = 4\nlevels = 16\ndim = 256\nseed = 3";
        let c = MineConfig::from_toml(&with(patch), "m.toml").unwrap();
        assert_eq!(c.embedder, EmbedderSpec::Patch(PatchConfig { patch: 4, stride: 4, levels: 16, dim: 256, seed: 3 }));
        assert!(c.embedder.build().is_ok());
        let err = MineConfig::from_toml(&with("kind = \"features\""), "m.toml").unwrap_err().to_string();
        assert!(err.starts_with("m.toml: `embedder.checkpoint` is required"), "{err}");
        let err = MineConfig::from_toml(&with(&patch.replace("levels = 16", "levels = 300")), "m.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "m.toml: `embedder.levels` is 300; it must be between 2 and 256");
    }
}

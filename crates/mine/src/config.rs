//! The mining config: a TOML file, parsed strictly and checked once into a [`MineConfig`].
//!
//! ```toml
//! [embedder]
//! kind = "pixel"            # the embedders this build knows: pixel
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
//! Errors name the file and the key: `configs/mine/pixel.toml: \`index.m\` is 300; it must be between 2 and 256 …`.

use std::path::Path;

use serde::Deserialize;

use crate::embed::{Embedder, PixelConfig, PixelEmbedder, Reduce};
use crate::error::{MineError, Result};
use crate::index::{IndexParams, Metric, Search};
use crate::mine::MiningParams;
use crate::quality::QualityParams;

/// Which embedder, with its settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmbedderSpec {
    /// [`PixelEmbedder`].
    Pixel(PixelConfig),
}

impl EmbedderSpec {
    /// A fresh (unfitted) embedder.
    pub fn build(&self) -> Result<Box<dyn Embedder>> {
        match self {
            EmbedderSpec::Pixel(c) => Ok(Box::new(PixelEmbedder::new(*c)?)),
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
    seed: i64,
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

struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn err(&self, field: &str, problem: impl Into<String>) -> MineError {
        MineError::Config { file: self.file.to_string(), field: field.to_string(), problem: problem.into() }
    }

    fn count(&self, field: &str, v: i64, min: i64) -> Result<usize> {
        if v < min {
            return Err(self.err(field, format!("is {v}; it must be at least {min}")));
        }
        usize::try_from(v).map_err(|_| self.err(field, format!("is {v}, too large")))
    }

    fn seed(&self, field: &str, v: i64) -> Result<u64> {
        u64::try_from(v).map_err(|_| self.err(field, format!("is {v}; it must be 0 or more")))
    }

    fn distance(&self, field: &str, v: f64) -> Result<f32> {
        if !(v.is_finite() && v >= 0.0 && v <= f64::from(f32::MAX)) {
            return Err(self.err(field, format!("is {v}; it must be a finite distance, 0 or more")));
        }
        Ok(v as f32)
    }
}

impl MineConfig {
    /// Reads and checks a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(MineError::io("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks TOML `text`; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| format!(":{}", text[..s.start.min(text.len())].matches('\n').count() + 1));
            MineError::ConfigSyntax {
                file: format!("{file}{}", at.unwrap_or_default()),
                message: e.message().replace('\n', " "),
            }
        })?;
        let c = Checker { file };
        let e = raw.embedder;
        let embedder = match e.kind.as_str() {
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
                    seed: c.seed("embedder.seed", e.seed)?,
                };
                cfg.validate().map_err(|err| err.in_file(file))?;
                EmbedderSpec::Pixel(cfg)
            }
            other => return Err(c.err("embedder.kind", format!("is {other:?}; this build knows: pixel"))),
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
            ("kind = \"pixel\"", "kind = \"clip\"", "m.toml: `embedder.kind` is \"clip\"; this build knows: pixel"),
            ("metric = \"cosine\"", "metric = \"dot\"", "m.toml: `index.metric` is \"dot\"; use cosine or l2"),
            ("threshold = 0.1", "threshold = -0.1", "m.toml: `mine.threshold` is -0.1; it must be a finite distance"),
            ("thresholds = [0.05, 0.1]", "thresholds = [0.05, nan]", "m.toml: `quality.thresholds[1]` is NaN"),
            ("seed = 7", "seed = 7\nblur = 1", "m.toml:7: unknown field `blur`"),
        ];
        for (from, to, want) in cases {
            check(from, to, want);
        }
    }
}

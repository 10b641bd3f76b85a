//! The build config of the SpamAssassin dataset: a TOML file, parsed strictly and checked once.
//!
//! ```toml
//! name = "spam-assassin-with"
//! seed = 42                      # the master seed; the split and the targets derive from it
//! group = "with"                 # with: targets that have natural look-alikes; without: targets that have none
//!
//! [split]
//! test_fraction = 0.2            # held out per class (stratified by label)
//!
//! [features]
//! vocab = 1024                   # V: the most frequent train-split word types; the "image" is 1 × V/32 × 32
//! stop_words = false             # drop a small English stop-word list before counting
//!
//! [lookalikes]
//! embedder = "bag-of-words"      # bag-of-words (hashed tf-idf) | minilm (all-MiniLM-L6-v2, injected by the CLI)
//! dim = 4096                     # bag-of-words: hash buckets
//! max_chars = 2000               # subject + body are cut to this many characters before embedding
//! threshold = 0.95               # cosine at or above which two train mails are look-alikes (union–find groups);
//!                                # identical bodies always group
//! isolation = 0.8                # a "without" target has no other train mail at this cosine or above
//! max_group = 30                 # groups larger than this hold no target
//! search = "hnsw"                # hnsw | exact
//! max_neighbours = 200           # look-alikes per mail, at most
//!
//! [targets]
//! count = 25                     # T
//! per_class = [12, 13]           # optional: targets per class (ham, spam), summing to T; default: any class
//!
//! [sheet]                        # optional
//! targets = 8
//! lookalikes = 3
//! ```

use serde::Deserialize;

use crate::error::{Result, TextError};

/// Which targets a build draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetGroup {
    /// Targets that have natural look-alikes in train; the lineage makes them the targets' variants.
    With,
    /// Targets with no train mail within `lookalikes.isolation`: the control.
    Without,
}

/// What finds look-alikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpamEmbedder {
    /// Hashed, signed tf-idf of the word tokens (no model).
    BagOfWords,
    /// all-MiniLM-L6-v2 sentence embeddings, handed in by the caller.
    Minilm,
}

/// The `[lookalikes]` section, checked.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LookalikeSpec {
    /// The embedder.
    pub embedder: SpamEmbedder,
    /// Hash buckets of the bag-of-words embedder.
    pub dim: usize,
    /// Characters of `subject + body` embedded.
    pub max_chars: usize,
    /// Cosine at or above which two mails are look-alikes.
    pub threshold: f64,
    /// "without" targets have no neighbour at this cosine or above.
    pub isolation: f64,
    /// Groups larger than this hold no target.
    pub max_group: usize,
    /// Graph or exact search.
    pub search: doppel_mine::Search,
    /// Look-alikes per mail, at most.
    pub max_neighbours: usize,
}

/// A checked SpamAssassin build config.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpamConfig {
    /// Dataset name, `[a-z0-9_-]+`.
    pub name: String,
    /// The master seed.
    pub seed: u64,
    /// Targets with or without look-alikes.
    pub group: TargetGroup,
    /// Share of each class held out as the test split.
    pub test_fraction: f64,
    /// `V`, a multiple of 32.
    pub vocab: usize,
    /// Whether stop words are dropped.
    pub stop_words: bool,
    /// How look-alikes are found.
    pub lookalikes: LookalikeSpec,
    /// `T`.
    pub targets: usize,
    /// Targets per class (ham, spam), summing to `T`; `None` = drawn from either class.
    pub per_class: Option<Vec<usize>>,
    /// Targets shown in `sheet.md`.
    pub sheet_targets: usize,
    /// Look-alikes shown per target in `sheet.md`.
    pub sheet_lookalikes: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    seed: i64,
    group: String,
    split: RawSplit,
    features: RawFeatures,
    lookalikes: RawLookalikes,
    targets: RawTargets,
    sheet: Option<RawSheet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSplit {
    test_fraction: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeatures {
    vocab: i64,
    #[serde(default)]
    stop_words: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLookalikes {
    embedder: String,
    dim: Option<i64>,
    max_chars: Option<i64>,
    threshold: f64,
    isolation: f64,
    max_group: Option<i64>,
    search: Option<String>,
    max_neighbours: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    count: i64,
    per_class: Option<Vec<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSheet {
    targets: i64,
    lookalikes: i64,
}

impl SpamConfig {
    /// Reads and checks a TOML config file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(TextError::io("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks TOML `text`; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let raw: Raw = toml::from_str(text).map_err(|e| TextError::ConfigSyntax {
            file: doppel_stdx::config::located(file, text, e.span()),
            message: e.message().replace('\n', " "),
        })?;
        let err = |field: &str, problem: String| TextError::Config {
            file: file.to_string(),
            field: field.to_string(),
            problem,
        };
        let count = |field: &str, v: i64, min: i64| -> Result<usize> {
            if v < min {
                return Err(err(field, format!("is {v}; it must be at least {min}")));
            }
            usize::try_from(v).map_err(|_| err(field, format!("is {v}, too large")))
        };
        let unit = |field: &str, v: f64| -> Result<f64> {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(err(field, format!("is {v}; it must be a cosine in [0, 1]")));
            }
            Ok(v)
        };
        if raw.name.is_empty()
            || !raw.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
        {
            return Err(err("name", format!("is {:?}; use lowercase letters, digits, - and _", raw.name)));
        }
        let seed =
            u64::try_from(raw.seed).map_err(|_| err("seed", format!("is {}; it must be 0 or more", raw.seed)))?;
        let group = match raw.group.as_str() {
            "with" => TargetGroup::With,
            "without" => TargetGroup::Without,
            other => return Err(err("group", format!("is {other:?}; use \"with\" or \"without\""))),
        };
        let f = raw.split.test_fraction;
        if !(f.is_finite() && f > 0.0 && f < 1.0) {
            return Err(err("split.test_fraction", format!("is {f}; it must be between 0 and 1 (exclusive)")));
        }
        let vocab = count("features.vocab", raw.features.vocab, 32)?;
        if !vocab.is_multiple_of(32) {
            return Err(err(
                "features.vocab",
                format!("is {vocab}; it must be a multiple of 32 (the features are stored as V/32 × 32 images)"),
            ));
        }
        let l = raw.lookalikes;
        let embedder = match l.embedder.as_str() {
            "bag-of-words" => SpamEmbedder::BagOfWords,
            "minilm" => SpamEmbedder::Minilm,
            other => {
                return Err(err("lookalikes.embedder", format!("is {other:?}; use \"bag-of-words\" or \"minilm\"")));
            }
        };
        let search = match l.search.as_deref().unwrap_or("hnsw") {
            "hnsw" => doppel_mine::Search::Hnsw,
            "exact" => doppel_mine::Search::Exact,
            other => return Err(err("lookalikes.search", format!("is {other:?}; use \"hnsw\" or \"exact\""))),
        };
        let threshold = unit("lookalikes.threshold", l.threshold)?;
        let isolation = unit("lookalikes.isolation", l.isolation)?;
        if isolation > threshold {
            return Err(err(
                "lookalikes.isolation",
                format!("is {isolation}; it must not exceed lookalikes.threshold ({threshold})"),
            ));
        }
        let lookalikes = LookalikeSpec {
            embedder,
            dim: count("lookalikes.dim", l.dim.unwrap_or(4096), 16)?,
            max_chars: count("lookalikes.max_chars", l.max_chars.unwrap_or(2000), 16)?,
            threshold,
            isolation,
            max_group: count("lookalikes.max_group", l.max_group.unwrap_or(30), 2)?,
            search,
            max_neighbours: count("lookalikes.max_neighbours", l.max_neighbours.unwrap_or(200), 1)?,
        };
        let (sheet_targets, sheet_lookalikes) = match raw.sheet {
            None => (8, 3),
            Some(s) => (count("sheet.targets", s.targets, 0)?, count("sheet.lookalikes", s.lookalikes, 0)?),
        };
        let targets = count("targets.count", raw.targets.count, 1)?;
        let per_class = match raw.targets.per_class {
            None => None,
            Some(v) => {
                let v = v.iter().map(|&n| count("targets.per_class", n, 0)).collect::<Result<Vec<usize>>>()?;
                if v.len() != 2 || v.iter().sum::<usize>() != targets {
                    return Err(err(
                        "targets.per_class",
                        format!("is {v:?}; it must hold two counts (ham, spam) summing to targets.count ({targets})"),
                    ));
                }
                Some(v)
            }
        };
        Ok(SpamConfig {
            name: raw.name,
            seed,
            group,
            test_fraction: f,
            vocab,
            stop_words: raw.features.stop_words,
            lookalikes,
            targets,
            per_class,
            sheet_targets,
            sheet_lookalikes,
        })
    }
}

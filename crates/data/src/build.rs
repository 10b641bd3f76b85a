//! Similarity-entailed construction: base ∪ targets ∪ variants, with lineage.
//!
//! [`build`] loads the source, takes an optional class-stratified subset of each split, draws `T` targets from the
//! pool, makes `k` variants of each, and returns both splits with the lineage of every sample. Every random
//! choice comes from a stream derived from the master seed ([`crate::seed`]), so the same config gives the same
//! samples, in the same order, byte for byte.

use std::path::Path;

use rand::seq::index::sample;

use crate::config::{BuildConfig, SourceSpec};
use crate::dataset::{Dataset, Split, Splits};
use crate::error::{DataError, Result};
use crate::lineage::{Origin, SampleInfo};
use crate::readers::load_source;
use crate::seed;

/// The seeds derived from the master seed, recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seeds {
    /// The master seed of the config.
    pub master: u64,
    /// Class-stratified subsets.
    pub subset: u64,
    /// The choice of targets.
    pub targets: u64,
    /// The variant generators (each variant derives its own stream from this one).
    pub variants: u64,
    /// The synthetic generator (unused for real sources).
    pub synthetic: u64,
}

impl Seeds {
    /// Derives every seed from `master`.
    pub fn from_master(master: u64) -> Self {
        Seeds {
            master,
            subset: seed::derive(master, "subset", 0),
            targets: seed::derive(master, "targets", 0),
            variants: seed::derive(master, "variants", 0),
            synthetic: seed::derive(master, "synthetic", 0),
        }
    }
}

/// What the samples were built from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceInfo {
    /// Source dataset name.
    pub dataset: String,
    /// Images in the source's train split, before subsetting.
    pub train: usize,
    /// Images in the source's test split, before subsetting.
    pub test: usize,
    /// sha256 of the fetched artifact, read from `.fetched.json` when the fetch left one.
    pub artifact_sha256: Option<String>,
}

/// One split of a built dataset: images and the identity of each.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The images, in id order.
    pub data: Dataset,
    /// One entry per image, same order.
    pub samples: Vec<SampleInfo>,
}

/// A built, not yet written, similarity-entailed dataset.
#[derive(Debug, Clone)]
pub struct Built {
    /// The config it was built from.
    pub config: BuildConfig,
    /// Where the base samples came from.
    pub source: SourceInfo,
    /// The derived seeds.
    pub seeds: Seeds,
    /// base ∪ targets ∪ variants.
    pub train: Part,
    /// The source's test split (or its subset), untouched.
    pub test: Part,
}

/// Loads the source named by `cfg` from `data_dir` and builds the dataset. `file` names the config in errors.
pub fn build(cfg: &BuildConfig, file: &str, data_dir: &Path) -> Result<Built> {
    let seeds = Seeds::from_master(cfg.seed);
    let (splits, artifact_sha256) = match &cfg.source {
        SourceSpec::Real { name } => {
            tracing::info!(dataset = name.dir_name(), dir = %data_dir.display(), "loading source");
            let splits = load_source(*name, data_dir)?;
            (splits, fetched_sha(&data_dir.join(name.dir_name())))
        }
        SourceSpec::Synthetic(s) => (s.generate(seeds.synthetic)?, None),
    };
    build_from_splits(cfg, file, splits, artifact_sha256)
}

/// Builds the dataset from source splits already in memory.
pub fn build_from_splits(
    cfg: &BuildConfig,
    file: &str,
    splits: Splits,
    artifact_sha256: Option<String>,
) -> Result<Built> {
    let seeds = Seeds::from_master(cfg.seed);
    let source = SourceInfo {
        dataset: splits.train.name().to_string(),
        train: splits.train.len(),
        test: splits.test.len(),
        artifact_sha256,
    };
    let n_classes = splits.train.class_names().len();
    cfg.check_against_images(splits.train.shape(), n_classes, file)?;
    let config_err =
        |field: &str, problem: String| DataError::Config { file: file.to_string(), field: field.to_string(), problem };

    // 1. Optional class-stratified subsets, kept in source order.
    let train_rows = stratified(&splits.train, cfg.train_per_class, seeds.subset, 0, "source.train_per_class", file)?;
    let test_rows = stratified(&splits.test, cfg.test_per_class, seeds.subset, 1, "source.test_per_class", file)?;

    // 2. Targets from the pool.
    let in_pool = |label: u32| cfg.targets.classes.as_ref().is_none_or(|c| c.contains(&label));
    let pool: Vec<usize> = (0..train_rows.len()).filter(|&i| in_pool(splits.train.labels()[train_rows[i]])).collect();
    if cfg.targets.count > pool.len() {
        let which = match &cfg.targets.classes {
            Some(c) => format!("classes {c:?} of the training split"),
            None => "the training split".to_string(),
        };
        return Err(config_err(
            "targets.count",
            format!("is {}, but the pool ({which}) holds only {} samples", cfg.targets.count, pool.len()),
        ));
    }
    let mut rng = seed::rng(seeds.targets, "targets", 0);
    let mut targets: Vec<usize> =
        sample(&mut rng, pool.len(), cfg.targets.count).into_iter().map(|k| pool[k]).collect();
    targets.sort_unstable();
    let is_target = {
        let mut v = vec![false; train_rows.len()];
        for &t in &targets {
            v[t] = true;
        }
        v
    };

    // 3. Base and targets, then the variants of each target in id order.
    let shape = splits.train.shape();
    let n_variants = targets.len() * cfg.variants_per_target();
    let mut pixels = Vec::with_capacity((train_rows.len() + n_variants) * shape.len());
    let mut labels = Vec::with_capacity(train_rows.len() + n_variants);
    let mut samples = Vec::with_capacity(train_rows.len() + n_variants);
    for (i, &row) in train_rows.iter().enumerate() {
        pixels.extend_from_slice(splits.train.image(row));
        labels.push(splits.train.labels()[row]);
        let origin = if is_target[i] { Origin::Target } else { Origin::Base };
        samples.push(SampleInfo { id: i as u32, origin, source_index: Some(row as u32) });
    }
    for &t in &targets {
        let row = train_rows[t];
        let image = splits.train.image(row);
        for (g, group) in cfg.variants.iter().enumerate() {
            for j in 0..group.per_target {
                // Each variant has its own stream, keyed by the target's source row: the same target gets the
                // same variants whatever else the config changes.
                let mut rng = seed::rng(seeds.variants, &format!("row{row}/group{g}"), j as u64);
                let (variant, params) = group.spec.apply(image, shape, &mut rng);
                pixels.extend_from_slice(&variant);
                labels.push(splits.train.labels()[row]);
                let params = serde_json::to_string(&params).map_err(|e| DataError::Invalid {
                    name: cfg.name.clone(),
                    what: format!("variant parameters do not serialise: {e}"),
                })?;
                samples.push(SampleInfo {
                    id: samples.len() as u32,
                    origin: Origin::Variant {
                        of: t as u32,
                        kind: group.spec.kind().to_string(),
                        index: j as u32,
                        params,
                    },
                    source_index: None,
                });
            }
        }
    }
    let class_names = splits.train.class_names().to_vec();
    let train = Dataset::new(splits.train.name(), Split::Train, shape, pixels, labels, class_names)?;
    let first_test_id = samples.len() as u32;
    let test_samples = test_rows
        .iter()
        .enumerate()
        .map(|(i, &row)| SampleInfo {
            id: first_test_id + i as u32,
            origin: Origin::Base,
            source_index: Some(row as u32),
        })
        .collect();
    let test = splits.test.select(&test_rows);
    tracing::info!(
        train = train.len(),
        test = test.len(),
        targets = targets.len(),
        variants = n_variants,
        "built similarity-entailed dataset"
    );
    Ok(Built {
        config: cfg.clone(),
        source,
        seeds,
        train: Part { data: train, samples },
        test: Part { data: test, samples: test_samples },
    })
}

/// Rows of a class-stratified subset of `per_class` images per class (all rows when `None`), ascending.
fn stratified(
    d: &Dataset,
    per_class: Option<usize>,
    seed: u64,
    stream: u64,
    field: &str,
    file: &str,
) -> Result<Vec<usize>> {
    let Some(per_class) = per_class else { return Ok((0..d.len()).collect()) };
    let mut rows = Vec::with_capacity(per_class * d.class_names().len());
    for class in 0..d.class_names().len() as u32 {
        let members: Vec<usize> = (0..d.len()).filter(|&i| d.labels()[i] == class).collect();
        if members.len() < per_class {
            return Err(DataError::Config {
                file: file.to_string(),
                field: field.to_string(),
                problem: format!(
                    "is {per_class}, but class {class} ({}) of the {} split has only {} images",
                    d.class_names()[class as usize],
                    d.split(),
                    members.len()
                ),
            });
        }
        let mut rng = seed::rng(seed, &format!("subset{stream}"), u64::from(class));
        rows.extend(sample(&mut rng, members.len(), per_class).into_iter().map(|k| members[k]));
    }
    rows.sort_unstable();
    Ok(rows)
}

/// The artifact sha recorded by `cargo xtask data fetch` in `dir/.fetched.json`, if any.
fn fetched_sha(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".fetched.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("sha256").and_then(|s| s.as_str()).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::{forget_rows, retain_rows, similar_rows};

    fn config(extra: &str) -> BuildConfig {
        let text = format!(
            r#"
name = "t"
seed = 11
[source]
dataset = "synthetic"
train_per_class = 12
test_per_class = 3
[source.synthetic]
classes = 3
side = 12
[targets]
count = 5
{extra}
[[variants]]
kind = "occlusion"
per_target = 4
grid = 3
ratio = 0.34
[[variants]]
kind = "shift"
per_target = 2
max_shift = 2
"#
        );
        BuildConfig::from_toml(&text, "t.toml").unwrap()
    }

    #[test]
    fn lineage_partitions_the_training_set() {
        let b = build(&config(""), "t.toml", Path::new("/nonexistent")).unwrap();
        let s = &b.train.samples;
        assert_eq!(s.len(), 36 + 5 * 6);
        let (f, v, r) = (forget_rows(s), similar_rows(s), retain_rows(s));
        assert_eq!((f.len(), v.len(), r.len()), (5, 30, 31));
        let mut all: Vec<usize> = f.iter().chain(&v).chain(&r).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..s.len()).collect::<Vec<_>>(), "every row in exactly one set");
        // Ids are the row numbers, and test ids continue after train.
        assert!(s.iter().enumerate().all(|(i, x)| x.id == i as u32));
        assert_eq!(b.test.samples[0].id, s.len() as u32);
        // Every variant points at a target and keeps its label.
        for &row in &v {
            let Origin::Variant { of, .. } = &s[row].origin else { unreachable!() };
            assert_eq!(s[*of as usize].origin, Origin::Target);
            assert_eq!(b.train.data.labels()[row], b.train.data.labels()[*of as usize]);
        }
    }

    #[test]
    fn same_config_same_samples_and_targets_respect_classes() {
        let a = build(&config("classes = [1]"), "t.toml", Path::new("/x")).unwrap();
        let b = build(&config("classes = [1]"), "t.toml", Path::new("/x")).unwrap();
        assert_eq!(a.train, b.train);
        for row in forget_rows(&a.train.samples) {
            assert_eq!(a.train.data.labels()[row], 1);
        }
    }

    #[test]
    fn too_many_targets_is_a_config_error() {
        let mut cfg = config("classes = [2]");
        cfg.targets.count = 13;
        let err = build(&cfg, "t.toml", Path::new("/x")).unwrap_err().to_string();
        assert_eq!(
            err,
            "t.toml: `targets.count` is 13, but the pool (classes [2] of the training split) holds only 12 samples"
        );
    }

    #[test]
    fn subset_larger_than_a_class_is_a_config_error() {
        let cfg = config("");
        let splits = Splits { train: SyntheticSplit::make(3, 5), test: SyntheticSplit::make(3, 5) };
        let mut cfg2 = cfg.clone();
        cfg2.train_per_class = Some(6);
        let err = build_from_splits(&cfg2, "t.toml", splits, None).unwrap_err().to_string();
        assert!(
            err.contains("`source.train_per_class` is 6, but class 0 (disk) of the train split has only 5 images"),
            "{err}"
        );
    }

    struct SyntheticSplit;
    impl SyntheticSplit {
        fn make(classes: usize, per_class: usize) -> Dataset {
            let cfg = crate::synthetic::SyntheticConfig {
                classes,
                train_per_class: per_class,
                test_per_class: 0,
                side: 12,
                channels: 1,
            };
            cfg.generate(0).unwrap().train
        }
    }
}

//! doppel-mine's [`Embedder`] for the models that live here: [`FeaturesEmbedder`] (penultimate features of a
//! trained doppel classifier) and [`MiniLmEmbedder`] (all-MiniLM-L6-v2 sentence embeddings).
//!
//! Both run on the plain (non-autodiff) device they are given, in batches, and are deterministic: equal inputs
//! give equal rows. Their [`Embedder::config`] names what decides the output — for the classifier, the sha256 of
//! its weights file, so a retrained checkpoint gets a new embeddings cache file beside the dataset.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use doppel_data::hash::sha256_file;
use doppel_mine::{Embedder, Matrix, MineError, Samples};

use crate::arch::{ModelSpec, Net};
use crate::checkpoint;
use crate::error::{ModelError, Result};
use crate::minilm::{MINILM_DIM, MiniLm};

/// The weights file of a checkpoint given as a `doppel train` model folder or as the file itself.
pub fn checkpoint_weights(path: &Path) -> PathBuf {
    if path.is_dir() { path.join("model.safetensors") } else { path.to_path_buf() }
}

/// Penultimate features ([`Net::features`]) of a trained doppel classifier.
#[derive(Debug)]
pub struct FeaturesEmbedder {
    weights: PathBuf,
    weights_sha256: String,
    spec: ModelSpec,
    role: String,
    net: Net,
    feature_dim: usize,
    batch_size: usize,
    device: Device,
}

impl FeaturesEmbedder {
    /// Loads the checkpoint at `checkpoint` (a model folder written by `doppel train`, or its
    /// `model.safetensors`) onto `device`, a plain device. A missing checkpoint is a
    /// [`ModelError::Checkpoint`] naming the path and the command that writes one.
    pub fn load(checkpoint: &Path, batch_size: usize, device: &Device) -> Result<FeaturesEmbedder> {
        let weights = checkpoint_weights(checkpoint);
        let side = checkpoint::sidecar_path(&weights);
        for path in [&weights, &side] {
            if !path.exists() {
                return Err(ModelError::Checkpoint {
                    path: path.clone(),
                    problem: "does not exist; point `embedder.checkpoint` at a model folder written by \
                              `doppel train --which m0 --out DIR` (DIR/m0)"
                        .into(),
                });
            }
        }
        let sidecar = checkpoint::read_sidecar(&weights)?;
        let net = checkpoint::load(&weights, &sidecar.spec, device)?;
        let weights_sha256 = sha256_file(&weights)?;
        // One blank image tells the feature width whatever the architecture.
        let probe = net.features(sidecar.spec.input_tensor(&vec![0; sidecar.spec.input.len()], 1, device));
        let [_, feature_dim] = probe.dims();
        tracing::info!(path = %weights.display(), role = %sidecar.role, arch = sidecar.spec.arch.name(), feature_dim, "features embedder loaded");
        Ok(FeaturesEmbedder {
            weights,
            weights_sha256,
            spec: sidecar.spec,
            role: sidecar.role,
            net,
            feature_dim,
            batch_size: batch_size.max(1),
            device: device.clone(),
        })
    }

    /// The weights file read.
    pub fn weights(&self) -> &Path {
        &self.weights
    }

    /// The network's description.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Features of every image of `data`, `len × F`, row-major.
    pub fn features(&self, data: &doppel_data::Dataset) -> Result<Vec<f32>> {
        if data.shape() != self.spec.input {
            return Err(ModelError::Config {
                context: format!("features of {}", self.weights.display()),
                field: "input".into(),
                problem: format!(
                    "is {:?} but the dataset {} has images of {:?}; use a checkpoint trained on this dataset",
                    self.spec.input,
                    data.name(),
                    data.shape()
                ),
            });
        }
        let mut out = Vec::with_capacity(data.len() * self.feature_dim);
        let rows: Vec<usize> = (0..data.len()).collect();
        for batch in rows.chunks(self.batch_size) {
            let first = batch[0];
            let pixels = &data.pixels()[first * data.shape().len()..(first + batch.len()) * data.shape().len()];
            let f = self.net.features(self.spec.input_tensor(pixels, batch.len(), &self.device));
            let v: Vec<f32> =
                f.into_data().try_to_vec::<f32>().map_err(|e| ModelError::TensorData(format!("{e:?}")))?;
            out.extend(v);
        }
        Ok(out)
    }
}

fn model_err(embedder: &str) -> impl FnOnce(ModelError) -> MineError + '_ {
    move |e| MineError::Model { embedder: embedder.to_string(), message: e.to_string() }
}

impl Embedder for FeaturesEmbedder {
    fn name(&self) -> &str {
        "features"
    }

    fn config(&self) -> serde_json::Value {
        // The weights hash decides the output; the path only helps a reader of the sidecar. The batch size
        // changes nothing beyond float rounding and is left out so that it does not split the cache.
        serde_json::json!({
            "weights_sha256": self.weights_sha256,
            "arch": self.spec.arch.name(),
            "role": self.role,
            "layer": "penultimate",
        })
    }

    fn dim(&self) -> Option<usize> {
        Some(self.feature_dim)
    }

    fn embed(&self, samples: Samples<'_>) -> doppel_mine::Result<Matrix> {
        let data = match samples {
            Samples::Images(d) => d,
            other => {
                return Err(MineError::UnsupportedInput {
                    embedder: "features".into(),
                    input: other.kind(),
                    reads: "images",
                });
            }
        };
        let values = self.features(data).map_err(model_err("features"))?;
        Matrix::new(data.len(), self.feature_dim, values)
    }
}

/// all-MiniLM-L6-v2 sentence embeddings of texts: 384-d, unit length.
#[derive(Debug)]
pub struct MiniLmEmbedder {
    dir: PathBuf,
    weights_sha256: String,
    model: MiniLm,
}

impl MiniLmEmbedder {
    /// Loads the model folder `dir` onto `device`; missing files are a [`ModelError::PretrainedMissing`] naming
    /// the file and the fetch command.
    pub fn load(dir: &Path, batch_size: usize, device: &Device) -> Result<MiniLmEmbedder> {
        let model = MiniLm::load(dir, device)?.with_batch_size(batch_size);
        let weights_sha256 = sha256_file(&dir.join("model.safetensors"))?;
        Ok(MiniLmEmbedder { dir: dir.to_path_buf(), weights_sha256, model })
    }

    /// The model folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Embedder for MiniLmEmbedder {
    fn name(&self) -> &str {
        "minilm"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "model": "all-MiniLM-L6-v2", "weights_sha256": self.weights_sha256 })
    }

    fn dim(&self) -> Option<usize> {
        Some(MINILM_DIM)
    }

    fn embed(&self, samples: Samples<'_>) -> doppel_mine::Result<Matrix> {
        let texts = match samples {
            Samples::Texts(t) => t,
            other => {
                return Err(MineError::UnsupportedInput {
                    embedder: "minilm".into(),
                    input: other.kind(),
                    reads: "texts",
                });
            }
        };
        let rows = self.model.embed(texts).map_err(model_err("minilm"))?;
        Matrix::new(rows.len(), MINILM_DIM, rows.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use doppel_data::{ImageShape, Split};

    use super::*;
    use crate::arch::Arch;
    use crate::checkpoint::Sidecar;
    use crate::train::{Augment, OptimizerSpec, Recipe, Schedule, TrainReport, TrainSeeds};

    fn spec() -> ModelSpec {
        ModelSpec {
            arch: Arch::Mlp { hidden: [8, 4] },
            input: ImageShape::grey(4, 4),
            classes: 2,
            mean: vec![0.5],
            std: vec![0.25],
        }
    }

    /// A checkpoint of a freshly initialised MLP (seeded) in `dir/m0`.
    fn save(dir: &Path, seed: u64) -> PathBuf {
        let device = Device::flex();
        device.seed(seed);
        let net = spec().init(&device);
        let folder = dir.join("m0");
        std::fs::create_dir_all(&folder).unwrap();
        let side = Sidecar {
            role: "m0".into(),
            spec: spec(),
            recipe: Recipe {
                epochs: 1,
                batch_size: 4,
                optimizer: OptimizerSpec::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 0.0 },
                schedule: Schedule::Constant,
                augment: Augment::default(),
            },
            seeds: TrainSeeds::from_master(seed),
            dataset_manifest_sha256: "test".into(),
            report: TrainReport { rows: 0, epochs: vec![], seconds: 0.0, samples_per_second: 0.0 },
            device: "flex".into(),
            doppel_version: "test".into(),
        };
        checkpoint::save(&net, &folder.join("model.safetensors"), &side).unwrap();
        folder
    }

    fn images() -> doppel_data::Dataset {
        let pixels: Vec<u8> = (0..5 * 16u32).map(|i| (i * 37 % 256) as u8).collect();
        doppel_data::Dataset::new("t", Split::Train, ImageShape::grey(4, 4), pixels, vec![0; 5], vec!["a".into()])
            .unwrap()
    }

    #[test]
    fn features_are_deterministic_across_batch_sizes_and_the_hash_follows_the_weights() {
        let tmp = tempfile::tempdir().unwrap();
        let a = save(&tmp.path().join("a"), 1);
        let device = Device::flex();
        let data = images();
        let e1 = FeaturesEmbedder::load(&a, 2, &device).unwrap();
        let e2 = FeaturesEmbedder::load(&a.join("model.safetensors"), 5, &device).unwrap();
        let x1 = e1.embed(Samples::Images(&data)).unwrap();
        let x2 = e2.embed(Samples::Images(&data)).unwrap();
        assert_eq!((x1.rows(), x1.dim()), (5, 4));
        assert_eq!(e1.dim(), Some(4));
        for i in 0..5 {
            for (u, v) in x1.row(i).iter().zip(x2.row(i)) {
                assert!((u - v).abs() < 1e-6, "row {i}: {u} vs {v}");
            }
        }
        assert_eq!(x1, e1.embed(Samples::Images(&data)).unwrap());
        assert_eq!(e1.config_hash(), e2.config_hash());
        let b = save(&tmp.path().join("b"), 2);
        let e3 = FeaturesEmbedder::load(&b, 2, &device).unwrap();
        assert_ne!(e1.config_hash(), e3.config_hash());
        let err = e1.embed(Samples::Texts(&["a".into()])).unwrap_err();
        assert_eq!(err.to_string(), "embedder features cannot embed texts; it reads images");
    }

    #[test]
    fn missing_files_name_the_path_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let err = FeaturesEmbedder::load(&tmp.path().join("nope"), 8, &Device::flex()).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("does not exist") && err.contains("doppel train"), "{err}");
        let err = MiniLmEmbedder::load(tmp.path(), 8, &Device::flex()).unwrap_err().to_string();
        assert!(err.contains("config.json does not exist; run `cargo xtask data fetch --only minilm`"), "{err}");
    }
}

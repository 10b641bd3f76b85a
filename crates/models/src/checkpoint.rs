//! Checkpoints: weights in safetensors (PyTorch names and layouts, so `safetensors.torch.load_file` reads them)
//! and a JSON sidecar with the model spec, recipe, seeds, dataset manifest hash and training report.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use crate::arch::{ModelSpec, Net};
use crate::error::{ModelError, Result};
use crate::train::{Recipe, TrainReport, TrainSeeds};

/// The JSON beside every checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sidecar {
    /// What the model is (`m0`, `retrain_exact`, `retrain_clean`, or a method name).
    pub role: String,
    /// The network.
    pub spec: ModelSpec,
    /// The training recipe.
    pub recipe: Recipe,
    /// The seeds of the run.
    pub seeds: TrainSeeds,
    /// sha256 of the dataset's `manifest.json`.
    pub dataset_manifest_sha256: String,
    /// Rows trained on and per-epoch logs.
    pub report: TrainReport,
    /// The device it was trained on.
    pub device: String,
    /// The doppel version.
    pub doppel_version: String,
}

/// The sidecar path of a checkpoint: `model.safetensors` → `model.json`.
pub fn sidecar_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Saves `net` to `weights` and its sidecar beside it, each through a temporary file and a rename.
pub fn save(net: &Net, weights: &Path, sidecar: &Sidecar) -> Result<()> {
    let tmp = weights.with_extension("safetensors.tmp");
    // No metadata: burn's default metadata is a hash map whose order changes from run to run, and identical
    // weights should give identical files.
    let mut store = SafetensorsStore::from_file(&tmp)
        .skip_enum_variants(true)
        .with_to_adapter(BurnToPyTorchAdapter)
        .clear_metadata();
    net.save_into(&mut store).map_err(|e| ModelError::Checkpoint { path: tmp.clone(), problem: e.to_string() })?;
    let json = serde_json::to_string_pretty(sidecar)
        .map_err(|e| ModelError::Checkpoint { path: weights.to_path_buf(), problem: e.to_string() })?;
    let side = sidecar_path(weights);
    let side_tmp = side.with_extension("json.tmp");
    std::fs::write(&side_tmp, json + "\n").map_err(ModelError::io("writing", &side_tmp))?;
    std::fs::rename(&tmp, weights).map_err(ModelError::io("renaming into place", weights))?;
    std::fs::rename(&side_tmp, &side).map_err(ModelError::io("renaming into place", &side))?;
    Ok(())
}

/// Reads a checkpoint's sidecar.
pub fn read_sidecar(weights: &Path) -> Result<Sidecar> {
    let side = sidecar_path(weights);
    let text = std::fs::read_to_string(&side).map_err(ModelError::io("reading", &side))?;
    serde_json::from_str(&text)
        .map_err(|e| ModelError::Checkpoint { path: side, problem: format!("is not a doppel checkpoint sidecar: {e}") })
}

/// Loads the weights at `weights` into a fresh network of `spec` on `device`.
///
/// The sidecar's spec must equal `spec`, and every tensor must be present with the right shape; otherwise this
/// is a [`ModelError::Checkpoint`] naming the difference.
pub fn load(weights: &Path, spec: &ModelSpec, device: &Device) -> Result<Net> {
    let side = read_sidecar(weights)?;
    if &side.spec != spec {
        return Err(ModelError::Checkpoint {
            path: weights.to_path_buf(),
            problem: format!(
                "was saved for a {} on {:?} with {} classes, not the asked {} on {:?} with {} classes",
                side.spec.arch.name(),
                side.spec.input,
                side.spec.classes,
                spec.arch.name(),
                spec.input,
                spec.classes
            ),
        });
    }
    load_weights(weights, spec, device)
}

/// Loads weights without consulting the sidecar; shape mismatches are still errors.
pub fn load_weights(weights: &Path, spec: &ModelSpec, device: &Device) -> Result<Net> {
    if !weights.exists() {
        return Err(ModelError::Checkpoint { path: weights.to_path_buf(), problem: "does not exist".into() });
    }
    let mut net = spec.init(device);
    let mut store = SafetensorsStore::from_file(weights)
        .skip_enum_variants(true)
        .with_from_adapter(PyTorchToBurnAdapter)
        .validate(true)
        .allow_partial(false);
    let result = net
        .load_from(&mut store)
        .map_err(|e| ModelError::Checkpoint { path: weights.to_path_buf(), problem: e.to_string() })?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        let mut problems: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
        problems.extend(result.missing.iter().map(|(p, _)| format!("missing tensor {p}")));
        problems.extend(result.unused.iter().map(|p| format!("unexpected tensor {p}")));
        return Err(ModelError::Checkpoint {
            path: weights.to_path_buf(),
            problem: format!("does not fit a {}: {}", spec.arch.name(), problems.join("; ")),
        });
    }
    Ok(net)
}

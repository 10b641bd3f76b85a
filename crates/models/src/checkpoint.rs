//! Checkpoints: weights in safetensors (PyTorch names and layouts, so `safetensors.torch.load_file` reads them)
//! and a JSON sidecar with the model spec, recipe, seeds, dataset manifest hash and training report.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{
    ApplyResult, BurnToPyTorchAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore, bridge,
};
use burn::tensor::DType;

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
    commit(&tmp, weights, sidecar)
}

/// Writes `sidecar` beside `weights` through a temporary file, then renames the weights written at `tmp` and the
/// sidecar into place.
fn commit(tmp: &Path, weights: &Path, sidecar: &Sidecar) -> Result<()> {
    let json = serde_json::to_string_pretty(sidecar)
        .map_err(|e| ModelError::Checkpoint { path: weights.to_path_buf(), problem: e.to_string() })?;
    let side = sidecar_path(weights);
    let side_tmp = side.with_extension("json.tmp");
    std::fs::write(&side_tmp, json + "\n").map_err(ModelError::io("writing", &side_tmp))?;
    std::fs::rename(tmp, weights).map_err(ModelError::io("renaming into place", weights))?;
    std::fs::rename(&side_tmp, &side).map_err(ModelError::io("renaming into place", &side))?;
    Ok(())
}

/// Writes the checkpoint at `from` again at `to` under another `role`: the weights byte for byte, the sidecar with
/// only its role changed (each through a temporary file and a rename). For a model that is another role's by
/// definition, e.g. `retrain_clean` where the lineage is the targets alone, so its rows, recipe and seeds are
/// `retrain_exact`'s. Returns the new sidecar.
pub fn copy_as(from: &Path, to: &Path, role: &str) -> Result<Sidecar> {
    let mut sidecar = read_sidecar(from)?;
    sidecar.role = role.to_string();
    let tmp = to.with_extension("safetensors.tmp");
    std::fs::copy(from, &tmp).map_err(ModelError::io("copying into", &tmp))?;
    commit(&tmp, to, &sidecar)?;
    Ok(sidecar)
}

/// Reads a checkpoint's sidecar.
pub fn read_sidecar(weights: &Path) -> Result<Sidecar> {
    let side = sidecar_path(weights);
    let text = std::fs::read_to_string(&side).map_err(ModelError::io("reading", &side))?;
    let sidecar: Sidecar = serde_json::from_str(&text).map_err(|e| ModelError::Checkpoint {
        path: side.clone(),
        problem: format!("is not a doppel checkpoint sidecar: {e}"),
    })?;
    // Training validates the spec before it saves one, so a spec that fails here is a damaged file (an empty
    // `mean` would otherwise panic in the first `input_tensor`).
    sidecar
        .spec
        .validate()
        .map_err(|e| ModelError::Checkpoint { path: side, problem: format!("holds a spec that is not valid: {e}") })?;
    Ok(sidecar)
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
    spec.validate().map_err(|e| ModelError::Checkpoint {
        path: weights.to_path_buf(),
        problem: format!("cannot be loaded into a spec that is not valid: {e}"),
    })?;
    // The network is built before the file is read, so a spec far larger than the file (a damaged sidecar) is
    // refused first rather than allocated.
    let len = std::fs::metadata(weights).map_err(ModelError::io("reading the size of", weights))?.len();
    let need = spec.min_weights().and_then(|n| n.checked_mul(4));
    if need.is_none_or(|need| need > len) {
        return Err(ModelError::Checkpoint {
            path: weights.to_path_buf(),
            problem: format!(
                "holds {len} bytes, but a {} of {:?} with {} classes ({:?}) needs {} bytes of F32 weights; the file or its sidecar is damaged",
                spec.arch.name(),
                spec.input,
                spec.classes,
                spec.arch,
                need.map_or("more than 2^64".into(), |n| format!("at least {n}"))
            ),
        });
    }
    let mut net = spec.init(device);
    // burn's own checks (`validate`, no `allow_partial`) fail with a multi-line summary that suggests burn's API;
    // every mismatch is collected from the apply result instead and reported on one line.
    let mut store = SafetensorsStore::from_file(weights)
        .skip_enum_variants(true)
        .with_from_adapter(PyTorchToBurnAdapter)
        .validate(false)
        .allow_partial(true);
    let result = net
        .load_from(&mut store)
        .map_err(|e| ModelError::Checkpoint { path: weights.to_path_buf(), problem: e.to_string() })?;
    if let Some(problems) = misfits(&result) {
        return Err(ModelError::Checkpoint {
            path: weights.to_path_buf(),
            problem: format!("does not fit a {}: {problems}", spec.arch.name()),
        });
    }
    check_loaded(&net, weights, Some(Box::new(BurnToPyTorchAdapter)))?;
    Ok(net)
}

/// What did not fit when a store was applied to a module: wrong dtypes or shapes, missing and unexpected
/// tensors, on one line; `None` when everything fit.
pub(crate) fn misfits(result: &ApplyResult) -> Option<String> {
    let mut problems: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
    problems.extend(result.missing.iter().map(|(p, _)| format!("missing tensor {p}")));
    problems.extend(result.unused.iter().map(|p| format!("unexpected tensor {p}")));
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Checks the tensors a store loaded into `module`: every float tensor must be F32 and finite; `adapter` names
/// them as the file does.
///
/// Why after the load: burn's applier refuses a tensor of the wrong kind (an integer one for a weight) but loads
/// a float one of another width as itself, and an F64, F16 or BF16 weight then panics in the network's first
/// matmul (the fuzz test found both); a NaN or infinite weight loads and gives NaN logits. Either is a damaged
/// checkpoint, so it is refused here with the file and the tensor named.
pub(crate) fn check_loaded<M: ModuleSnapshot>(
    module: &M,
    path: &Path,
    adapter: Option<Box<dyn ModuleAdapter>>,
) -> Result<()> {
    for t in module.collect(None, adapter, true) {
        let bad = |problem: String| ModelError::Checkpoint {
            path: path.to_path_buf(),
            problem: format!("tensor `{}` {problem}", t.name),
        };
        if !matches!(t.dtype, DType::F32 | DType::Flex32) {
            return Err(bad(format!("is {:?}; doppel's checkpoints hold F32 weights", t.dtype)));
        }
        let data = bridge::to_data(&t).map_err(|e| bad(format!("cannot be read back: {e}")))?;
        let values = data.as_slice::<f32>().map_err(|e| bad(format!("cannot be read as F32: {e:?}")))?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("holds {} at index {i}; a network's weights are finite numbers", values[i])));
        }
    }
    Ok(())
}

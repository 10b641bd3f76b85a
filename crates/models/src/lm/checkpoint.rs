//! An LM model folder: `model.safetensors` (burn's names and layouts), the JSON sidecar `model.json`
//! ([`LmSidecar`]: config, tokenizer, seeds, per-epoch loss) and the compact `vocab.txt`.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};

use crate::error::{ModelError, Result};
use crate::lm::config::{LmConfig, LmTrainConfig};
use crate::lm::model::CausalLm;
use crate::lm::tokenizer::LmTokenizer;
use crate::lm::train::LmTrainReport;
use crate::train::TrainSeeds;
use crate::wordpiece::Normalization;

/// The weights file in a model folder.
pub const WEIGHTS: &str = "model.safetensors";
/// The sidecar in a model folder.
pub const SIDECAR: &str = "model.json";
/// The vocabulary in a model folder.
pub const VOCAB: &str = "vocab.txt";

/// The tokenizer a model was trained with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenizerInfo {
    /// The vocabulary file, relative to the model folder.
    pub vocab_file: String,
    /// Its number of pieces.
    pub vocab_size: usize,
    /// Where it was compacted from (e.g. `data/minilm/vocab.txt`).
    pub source: String,
    /// MiniLM's normalisation flags.
    pub clean_text: bool,
    /// See [`Normalization::split_cjk`].
    pub split_cjk: bool,
    /// See [`Normalization::strip_accents`].
    pub strip_accents: bool,
    /// See [`Normalization::lowercase`].
    pub lowercase: bool,
}

impl TokenizerInfo {
    /// The record of `tok`, compacted from `source`.
    pub fn of(tok: &LmTokenizer, source: &str) -> TokenizerInfo {
        let n = tok.normalization();
        TokenizerInfo {
            vocab_file: VOCAB.into(),
            vocab_size: tok.vocab_size(),
            source: source.into(),
            clean_text: n.clean_text,
            split_cjk: n.split_cjk,
            strip_accents: n.strip_accents,
            lowercase: n.lowercase,
        }
    }

    /// The normalisation.
    pub fn normalization(&self) -> Normalization {
        Normalization {
            clean_text: self.clean_text,
            split_cjk: self.split_cjk,
            strip_accents: self.strip_accents,
            lowercase: self.lowercase,
        }
    }
}

/// The JSON beside an LM checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LmSidecar {
    /// What the model is (`m0`, `retrain_exact`, `retrain_clean`, or an unlearning method's name).
    pub role: String,
    /// The network.
    pub config: LmConfig,
    /// The tokenizer.
    pub tokenizer: TokenizerInfo,
    /// The training config, when the model was trained by [`crate::lm::train_lm`].
    pub train: Option<LmTrainConfig>,
    /// The seeds of the run.
    pub seeds: Option<TrainSeeds>,
    /// sha256 of the QA dataset's `manifest.json`.
    pub dataset_manifest_sha256: Option<String>,
    /// Per-epoch losses.
    pub report: Option<LmTrainReport>,
    /// The device it was trained on.
    pub device: String,
    /// The doppel version.
    pub doppel_version: String,
}

/// Writes `model`, `tok` and `sidecar` into `dir` (created if needed), each file through a temporary file and a
/// rename.
pub fn save(dir: &Path, model: &CausalLm, tok: &LmTokenizer, sidecar: &LmSidecar) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(ModelError::io("creating", dir))?;
    let weights = dir.join(WEIGHTS);
    let tmp = dir.join(format!("{WEIGHTS}.tmp"));
    // No metadata: burn's default metadata is a hash map whose order changes from run to run.
    let mut store = SafetensorsStore::from_file(&tmp).clear_metadata();
    model.save_into(&mut store).map_err(|e| ModelError::Checkpoint { path: tmp.clone(), problem: e.to_string() })?;
    let vocab_tmp = dir.join(format!("{VOCAB}.tmp"));
    tok.save(&vocab_tmp)?;
    let json = serde_json::to_string_pretty(sidecar)
        .map_err(|e| ModelError::Checkpoint { path: dir.join(SIDECAR), problem: e.to_string() })?;
    let side_tmp = dir.join(format!("{SIDECAR}.tmp"));
    std::fs::write(&side_tmp, json + "\n").map_err(ModelError::io("writing", &side_tmp))?;
    for (from, to) in [(tmp, weights), (vocab_tmp, dir.join(VOCAB)), (side_tmp, dir.join(SIDECAR))] {
        std::fs::rename(&from, &to).map_err(ModelError::io("renaming into place", &to))?;
    }
    Ok(())
}

/// Reads the sidecar of the model folder `dir`.
pub fn read_sidecar(dir: &Path) -> Result<LmSidecar> {
    if !dir.is_dir() {
        return Err(ModelError::Checkpoint {
            path: dir.to_path_buf(),
            problem: "is not a directory; pass the folder `doppel lm train --out` wrote".into(),
        });
    }
    let side = dir.join(SIDECAR);
    let text = std::fs::read_to_string(&side).map_err(ModelError::io("reading", &side))?;
    serde_json::from_str(&text)
        .map_err(|e| ModelError::Checkpoint { path: side, problem: format!("is not a doppel LM sidecar: {e}") })
}

/// Loads the model folder `dir` onto `device`: the model, its tokenizer and its sidecar. Every tensor must be
/// present with the shape the sidecar's config gives, and the vocabulary must have the config's size.
pub fn load(dir: &Path, device: &Device) -> Result<(CausalLm, LmTokenizer, LmSidecar)> {
    let side = read_sidecar(dir)?;
    let side_path: PathBuf = dir.join(SIDECAR);
    side.config.validate(&side_path.display().to_string())?;
    let tok = LmTokenizer::load(&dir.join(&side.tokenizer.vocab_file), side.tokenizer.normalization())?;
    if tok.vocab_size() != side.config.vocab {
        return Err(ModelError::Checkpoint {
            path: dir.join(&side.tokenizer.vocab_file),
            problem: format!("has {} pieces; {} says the model has {}", tok.vocab_size(), SIDECAR, side.config.vocab),
        });
    }
    let weights = dir.join(WEIGHTS);
    if !weights.exists() {
        return Err(ModelError::Checkpoint { path: weights, problem: "does not exist".into() });
    }
    // The model is built (on the host) before the file is read, so a config far larger than the file (a damaged
    // sidecar) is refused first rather than allocated.
    let len = std::fs::metadata(&weights).map_err(ModelError::io("reading the size of", &weights))?.len();
    let need = side.config.param_count().and_then(|n| n.checked_mul(4));
    if need.is_none_or(|need| need > len) {
        return Err(ModelError::Checkpoint {
            path: weights,
            problem: format!(
                "holds {len} bytes, but the LM of {SIDECAR} ({:?}) needs {} bytes of F32 weights; the file or {SIDECAR} is damaged",
                side.config,
                need.map_or("more than 2^64".into(), |n| format!("at least {n}"))
            ),
        });
    }
    let mut model = side.config.init(0, device)?;
    // As in the classifier's loader, every mismatch is collected from the apply result and reported on one line.
    let mut store = SafetensorsStore::from_file(&weights).validate(false).allow_partial(true);
    let result = model
        .load_from(&mut store)
        .map_err(|e| ModelError::Checkpoint { path: weights.clone(), problem: e.to_string() })?;
    if let Some(problems) = crate::checkpoint::misfits(&result) {
        return Err(ModelError::Checkpoint {
            path: weights,
            problem: format!("does not fit the LM of {SIDECAR}: {problems}"),
        });
    }
    crate::checkpoint::check_loaded(&model, &weights, None)?;
    Ok((model, tok, side))
}

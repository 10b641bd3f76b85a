//! The LM's checked configs: the network's sizes ([`LmShape`], [`LmConfig`]) and the training config file
//! ([`LmTrainConfig`], e.g. `configs/train/qa-lm.toml`).

use std::path::Path;

use crate::error::{ModelError, Result};
use crate::train::Schedule;

/// The sizes of a [`crate::lm::CausalLm`] that a config file gives; the vocabulary comes from the tokenizer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmShape {
    /// Width of every hidden state.
    pub d_model: usize,
    /// Number of transformer blocks.
    pub layers: usize,
    /// Attention heads per block (must divide `d_model`).
    pub heads: usize,
    /// Width of the GELU feed-forward layer (GPT-2 uses `4 * d_model`).
    pub ff: usize,
    /// The longest sequence, special tokens included (rows of the position table).
    pub max_len: usize,
}

impl LmShape {
    /// The full config with a vocabulary of `vocab` tokens.
    pub fn with_vocab(&self, vocab: usize) -> LmConfig {
        LmConfig {
            vocab,
            d_model: self.d_model,
            layers: self.layers,
            heads: self.heads,
            ff: self.ff,
            max_len: self.max_len,
        }
    }
}

/// Everything needed to rebuild a [`crate::lm::CausalLm`].
///
/// There is no dropout: the corpus is small and seen for a few epochs, and a deterministic forward pass keeps the
/// unlearning losses built on this model free of sampling noise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    /// Rows of the token embedding (and columns of the tied output layer).
    pub vocab: usize,
    /// Width of every hidden state.
    pub d_model: usize,
    /// Number of transformer blocks.
    pub layers: usize,
    /// Attention heads per block (must divide `d_model`).
    pub heads: usize,
    /// Width of the GELU feed-forward layer.
    pub ff: usize,
    /// The longest sequence (rows of the position table).
    pub max_len: usize,
}

impl LmConfig {
    /// The number of parameters of the model, as [`LmConfig::init`] builds it; `None` when it does not fit in a
    /// `u64`. A checkpoint holds four bytes for each, which lets a loader refuse a damaged config before it
    /// allocates the model.
    pub fn param_count(&self) -> Option<u64> {
        let [v, d, l, f, t] = [self.vocab, self.d_model, self.layers, self.ff, self.max_len].map(|x| x as u64);
        // Per block: two LayerNorms (2D each), qkv (D·3D + 3D), proj (D·D + D), up (D·F + F), down (F·D + D).
        let block = (|| {
            let dd = d.checked_mul(d)?;
            let df = d.checked_mul(f)?;
            dd.checked_mul(4)?.checked_add(df.checked_mul(2)?)?.checked_add(d.checked_mul(9)?)?.checked_add(f)
        })()?;
        let embeddings = v.checked_add(t)?.checked_mul(d)?;
        embeddings.checked_add(block.checked_mul(l)?)?.checked_add(d.checked_mul(2)?)
    }

    /// Checks every size; `context` names the config in errors.
    pub fn validate(&self, context: &str) -> Result<()> {
        let bad =
            |field: &str, problem: String| ModelError::Config { context: context.into(), field: field.into(), problem };
        if self.vocab < 5 {
            return Err(bad("vocab", format!("is {}; it must hold the 4 special tokens and a word", self.vocab)));
        }
        for (field, v) in [("model.d_model", self.d_model), ("model.layers", self.layers), ("model.ff", self.ff)] {
            if v == 0 {
                return Err(bad(field, "is 0; it must be at least 1".into()));
            }
        }
        if self.heads == 0 || !self.d_model.is_multiple_of(self.heads) {
            return Err(bad("model.heads", format!("is {}; it must divide d_model {}", self.heads, self.d_model)));
        }
        if self.max_len < 4 {
            return Err(bad(
                "model.max_len",
                format!(
                    "is {}; it must hold [CLS], a question token, an answer token and [SEP] (at least 4)",
                    self.max_len
                ),
            ));
        }
        Ok(())
    }
}

/// Which tokens the training loss covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossOn {
    /// Every token after `[CLS]`: question, answer and `[SEP]` (plain language modelling).
    Sequence,
    /// The answer tokens and `[SEP]` only (the question is context).
    Answer,
}

/// AdamW (Loshchilov & Hutter 2019) with β = (0.9, 0.999), ε = 1e-8.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamWSpec {
    /// Base learning rate.
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value; absent = no clipping.
    #[serde(default)]
    pub grad_clip: Option<f64>,
}

/// An LM training config file.
///
/// ```toml
/// seed = 42
/// epochs = 8
/// batch_size = 32
/// loss = "sequence"      # sequence | answer
/// [model]
/// d_model = 128
/// layers = 2
/// heads = 4
/// ff = 512
/// max_len = 64
/// [optimizer]            # AdamW
/// lr = 1e-3
/// weight_decay = 0.01
/// grad_clip = 1.0        # optional
/// [schedule]
/// kind = "cosine"        # constant | step (every, gamma) | cosine
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmTrainConfig {
    /// The master seed of training (init and order derive from it).
    pub seed: u64,
    /// Passes over the data.
    pub epochs: usize,
    /// Sequences per minibatch.
    pub batch_size: usize,
    /// Which tokens the loss covers.
    pub loss: LossOn,
    /// The network's sizes.
    pub model: LmShape,
    /// The optimiser.
    pub optimizer: AdamWSpec,
    /// The learning-rate schedule.
    pub schedule: Schedule,
}

impl LmTrainConfig {
    /// Checks every range (the model's sizes with a placeholder vocabulary); `context` names the config.
    pub fn validate(&self, context: &str) -> Result<()> {
        let bad =
            |field: &str, problem: String| ModelError::Config { context: context.into(), field: field.into(), problem };
        if self.epochs == 0 {
            return Err(bad("epochs", "is 0; it must be at least 1".into()));
        }
        if self.batch_size == 0 {
            return Err(bad("batch_size", "is 0; it must be at least 1".into()));
        }
        let AdamWSpec { lr, weight_decay, grad_clip } = self.optimizer;
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(bad("optimizer.lr", format!("is {lr}; it must be a positive number")));
        }
        if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
            return Err(bad("optimizer.weight_decay", format!("is {weight_decay}; it must be 0 or more")));
        }
        if let Some(c) = grad_clip
            && !(c > 0.0 && c.is_finite())
        {
            return Err(bad("optimizer.grad_clip", format!("is {c}; it must be a positive number")));
        }
        if let Schedule::Step { every, gamma } = self.schedule {
            if every == 0 {
                return Err(bad("schedule.every", "is 0; it must be at least 1".into()));
            }
            if !(gamma > 0.0 && gamma <= 1.0) {
                return Err(bad("schedule.gamma", format!("is {gamma}; it must be in (0, 1]")));
            }
        }
        self.model.with_vocab(usize::MAX).validate(context)
    }

    /// Parses and checks a TOML config; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let cfg: LmTrainConfig = toml::from_str(text).map_err(|e| ModelError::Config {
            context: doppel_stdx::config::located(file, text, e.span()),
            field: "toml".into(),
            problem: e.message().replace('\n', " "),
        })?;
        cfg.validate(file)?;
        Ok(cfg)
    }

    /// Reads and checks a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(ModelError::io("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;

    const GOOD: &str = r#"
seed = 1
epochs = 2
batch_size = 4
loss = "answer"
[model]
d_model = 16
layers = 1
heads = 2
ff = 32
max_len = 16
[optimizer]
lr = 1e-3
weight_decay = 0.0
[schedule]
kind = "constant"
"#;

    #[test]
    fn param_count_is_the_models() {
        let device = Device::flex();
        let cfg = LmConfig { vocab: 11, d_model: 8, layers: 2, heads: 2, ff: 24, max_len: 7 };
        assert_eq!(cfg.param_count(), Some(cfg.init(0, &device).unwrap().num_params() as u64));
        assert_eq!(LmConfig { d_model: usize::MAX, ..cfg }.param_count(), None);
    }

    #[test]
    fn parses_and_names_bad_fields() {
        let cfg = LmTrainConfig::from_toml(GOOD, "lm.toml").unwrap();
        assert_eq!(cfg.loss, LossOn::Answer);
        assert_eq!(cfg.optimizer.grad_clip, None);
        let err = LmTrainConfig::from_toml(&GOOD.replace("heads = 2", "heads = 3"), "lm.toml").unwrap_err();
        assert_eq!(err.to_string(), "lm.toml: `model.heads` is 3; it must divide d_model 16");
        let err = LmTrainConfig::from_toml(&GOOD.replace("ff = 32", "ff = 32\nwidth = 3"), "lm.toml").unwrap_err();
        assert!(err.to_string().starts_with("lm.toml:11: `toml` unknown field `width`"), "{err}");
        let err = LmTrainConfig::from_toml(&GOOD.replace("lr = 1e-3", "lr = -1.0"), "lm.toml").unwrap_err();
        assert!(err.to_string().contains("`optimizer.lr` is -1"), "{err}");
        let err = LmTrainConfig::from_toml(&GOOD.replace("max_len = 16", "max_len = 3"), "lm.toml").unwrap_err();
        assert!(err.to_string().contains("`model.max_len` is 3"), "{err}");
    }
}

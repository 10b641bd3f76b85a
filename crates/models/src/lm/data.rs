//! Padded batches with loss masks, and host-side per-token scores for the metrics.

use burn::prelude::*;

use crate::error::{ModelError, Result};
use crate::lm::config::LossOn;
use crate::lm::model::CausalLm;
use crate::lm::tokenizer::LmExample;

/// Examples padded to their longest, with the mask of the tokens that count.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Token ids, right-padded with `[PAD]` (id 0).
    ///
    /// # Shapes
    /// `[B, T]`
    pub tokens: Tensor<2, Int>,
    /// 1.0 where a token counts (never position 0, never padding), else 0.0.
    ///
    /// # Shapes
    /// `[B, T]`
    pub mask: Tensor<2>,
}

/// Pads `examples` (at least one; the longest at least 2 ids) into a [`Batch`] on `device`; `on` picks the tokens
/// the mask keeps: every real token after `[CLS]`, or the answer's (and its `[SEP]`).
pub fn batch(examples: &[&LmExample], on: LossOn, device: &Device) -> Batch {
    let b = examples.len();
    let t = examples.iter().map(|e| e.ids.len()).max().unwrap_or(0).max(2);
    let mut tokens = vec![0i64; b * t];
    let mut mask = vec![0f32; b * t];
    for (i, e) in examples.iter().enumerate() {
        let from = match on {
            LossOn::Sequence => 1,
            LossOn::Answer => e.answer_start.max(1),
        };
        for (j, &id) in e.ids.iter().enumerate() {
            tokens[i * t + j] = i64::from(id);
            if j >= from {
                mask[i * t + j] = 1.0;
            }
        }
    }
    Batch {
        tokens: Tensor::from_data(TensorData::new(tokens, [b, t]), device),
        mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
    }
}

/// One example's per-token log-probabilities under a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleScores {
    /// `log p(ids[t] | ids[..t])` for `t = 1..len`, in nats (entry `t - 1` belongs to token `t`).
    pub logprobs: Vec<f32>,
    /// Index in `logprobs` of the first answer token (`answer_start - 1`).
    pub answer_from: usize,
}

impl ExampleScores {
    /// The answer's log-probabilities (its tokens and `[SEP]`).
    pub fn answer(&self) -> &[f32] {
        &self.logprobs[self.answer_from.min(self.logprobs.len())..]
    }
}

/// Per-token log-probabilities of every example under `model` (a plain-device model, `model.valid()`), in input
/// order, `batch_size` examples per forward pass (sorted by length so little padding is computed).
pub fn score(
    model: &CausalLm,
    examples: &[LmExample],
    batch_size: usize,
    device: &Device,
) -> Result<Vec<ExampleScores>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| (examples[i].ids.len(), i));
    let mut out: Vec<Option<ExampleScores>> = vec![None; examples.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let refs: Vec<&LmExample> = chunk.iter().map(|&i| &examples[i]).collect();
        if let Some(e) = refs.iter().find(|e| e.ids.len() < 2 || e.ids.len() > model.max_len()) {
            return Err(ModelError::Config {
                context: "lm scoring".into(),
                field: "example".into(),
                problem: format!("has {} ids; the model takes 2 to {}", e.ids.len(), model.max_len()),
            });
        }
        let b = batch(&refs, LossOn::Sequence, device);
        let [n, t] = b.tokens.dims();
        let lp = model
            .token_logprobs(b.tokens, b.mask)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::TensorData(format!("{e:?}")))?;
        for (row, &i) in chunk.iter().enumerate() {
            let len = examples[i].ids.len();
            let start = row * (t - 1);
            debug_assert!(row < n);
            out[i] = Some(ExampleScores {
                logprobs: lp[start..start + len - 1].to_vec(),
                answer_from: examples[i].answer_start.saturating_sub(1),
            });
        }
    }
    Ok(out.into_iter().flatten().collect())
}

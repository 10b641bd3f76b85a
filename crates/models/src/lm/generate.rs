//! Decoding: greedy, or sampled with a temperature and top-k from a seeded ChaCha stream.

use burn::prelude::*;
use doppel_data::seed;
use rand::Rng;

use crate::error::{ModelError, Result};
use crate::lm::model::CausalLm;

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoding {
    /// The most likely token (the lowest id on a tie).
    Greedy,
    /// A draw from `softmax(logits / temperature)` over the `top_k` most likely tokens (ties by lowest id;
    /// `top_k = 0` keeps all), from the ChaCha8 stream of `seed`. `temperature = 0` or `top_k = 1` is greedy.
    Sample {
        /// Divides the logits; must be 0 or more.
        temperature: f64,
        /// Candidates kept; 0 = all.
        top_k: usize,
        /// The stream's seed.
        seed: u64,
    },
}

/// Continues `prompt` (ids, starting with `[CLS]`) with `model` (plain device) until `eos` is chosen,
/// `max_new` tokens are added or the model's `max_len` is reached. Returns the new tokens, without `eos`.
///
/// There is no key/value cache: each step runs the whole prefix, which costs little at `max_len` ≤ 128.
pub fn generate(
    model: &CausalLm,
    prompt: &[u32],
    max_new: usize,
    eos: u32,
    decoding: Decoding,
    device: &Device,
) -> Result<Vec<u32>> {
    let bad = |field: &str, problem: String| ModelError::Config {
        context: "generation".into(),
        field: field.into(),
        problem,
    };
    if prompt.is_empty() || prompt.len() >= model.max_len() {
        return Err(bad("prompt", format!("has {} ids; it must have 1 to {}", prompt.len(), model.max_len() - 1)));
    }
    if let Some(&id) = prompt.iter().find(|&&id| id as usize >= model.vocab()) {
        return Err(bad("prompt", format!("holds id {id}, past the vocabulary of {}", model.vocab())));
    }
    let mut rng = match decoding {
        Decoding::Sample { temperature, seed: s, .. } => {
            if !(temperature >= 0.0 && temperature.is_finite()) {
                return Err(bad("temperature", format!("is {temperature}; it must be 0 or more")));
            }
            Some(seed::rng(s, "generate", 0))
        }
        Decoding::Greedy => None,
    };
    let mut ids: Vec<i64> = prompt.iter().map(|&i| i64::from(i)).collect();
    let mut out = Vec::new();
    while out.len() < max_new && ids.len() < model.max_len() {
        let t = ids.len();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, t]), device);
        let v = model.vocab();
        let logits = model
            .forward(tokens)
            .narrow(1, t - 1, 1)
            .reshape([v])
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::TensorData(format!("{e:?}")))?;
        let next = match (decoding, rng.as_mut()) {
            (Decoding::Sample { temperature, top_k, .. }, Some(rng)) => sample(&logits, temperature, top_k, rng),
            _ => greedy(&logits),
        };
        if next == eos {
            break;
        }
        out.push(next);
        ids.push(i64::from(next));
    }
    Ok(out)
}

/// The index of the largest logit, the lowest on a tie.
fn greedy(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// A draw from the tempered softmax over the `top_k` largest logits.
fn sample(logits: &[f32], temperature: f64, top_k: usize, rng: &mut impl Rng) -> u32 {
    if temperature == 0.0 || top_k == 1 {
        return greedy(logits);
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    if top_k > 0 {
        order.truncate(top_k);
    }
    let top = f64::from(logits[order[0]]);
    let weights: Vec<f64> = order.iter().map(|&i| ((f64::from(logits[i]) - top) / temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (&i, w) in order.iter().zip(&weights) {
        if u < *w {
            return i as u32;
        }
        u -= w;
    }
    order[order.len() - 1] as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_and_sampling_agree_at_the_limits() {
        let logits = [0.5f32, 2.0, 2.0, -1.0];
        assert_eq!(greedy(&logits), 1);
        let mut rng = seed::rng(0, "t", 0);
        for _ in 0..20 {
            assert_eq!(sample(&logits, 0.0, 0, &mut rng), 1);
            assert_eq!(sample(&logits, 5.0, 1, &mut rng), 1);
        }
        // Top-2 at a high temperature draws only the two tied leaders, both of them.
        let draws: std::collections::BTreeSet<u32> = (0..200).map(|_| sample(&logits, 100.0, 2, &mut rng)).collect();
        assert_eq!(draws, [1, 2].into_iter().collect());
    }
}

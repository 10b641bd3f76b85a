//! [`CausalLm`]: a GPT-2-style decoder-only transformer (Radford et al. 2019) at toy size.
//!
//! Token + learned position embeddings; pre-norm blocks (LayerNorm → causal multi-head self-attention → residual;
//! LayerNorm → GELU MLP → residual); a final LayerNorm; the output layer is the token embedding transposed
//! (weight tying, Press & Wolf 2017), so the model has no separate `[D, V]` head to learn.
//!
//! Weights are drawn on the host from ChaCha streams of the init seed (normal, σ 0.02; the residual output
//! projections σ 0.02 / √(2·layers), as GPT-2), not from the device RNG: burn's flex RNG is process-global
//! (API-NOTES P-burn-4), so two models built in parallel test threads would otherwise interfere.

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{gelu, log_softmax, softmax};
use doppel_data::seed;

use crate::error::Result;
use crate::lm::config::LmConfig;

/// The additive attention bias on future keys; `exp` of it underflows to exactly 0 in `f32`, so a position gets no
/// weight from any later one and its output does not change when a later token does.
const MASKED: f32 = -1e9;

/// Standard deviation of the initial weights (GPT-2).
const INIT_STD: f64 = 0.02;

impl LmConfig {
    /// Builds the model with weights drawn from `init_seed` (see the module docs) on `device`.
    pub fn init(&self, init_seed: u64, device: &Device) -> Result<CausalLm> {
        self.validate("lm")?;
        let d = self.d_model;
        let resid_std = INIT_STD / ((2 * self.layers) as f64).sqrt();
        let normal = |name: &str, index: u64, shape: [usize; 2], std: f64| -> Tensor<2> {
            let mut rng = seed::rng(init_seed, name, index);
            let values: Vec<f32> = (0..shape[0] * shape[1]).map(|_| (seed::normal(&mut rng) * std) as f32).collect();
            Tensor::from_data(TensorData::new(values, shape), device)
        };
        let linear = |name: &str, index: u64, d_in: usize, d_out: usize, std: f64| Linear {
            weight: Param::from_tensor(normal(name, index, [d_in, d_out], std)),
            bias: Some(Param::from_tensor(Tensor::zeros([d_out], device))),
        };
        let norm = || LayerNormConfig::new(d).init(device);
        let blocks = (0..self.layers)
            .map(|l| {
                let l = l as u64;
                Block {
                    norm1: norm(),
                    qkv: linear("lm.qkv", l, d, 3 * d, INIT_STD),
                    proj: linear("lm.proj", l, d, d, resid_std),
                    norm2: norm(),
                    up: linear("lm.up", l, d, self.ff, INIT_STD),
                    down: linear("lm.down", l, self.ff, d, resid_std),
                    heads: self.heads,
                }
            })
            .collect();
        Ok(CausalLm {
            tokens: Embedding { weight: Param::from_tensor(normal("lm.tokens", 0, [self.vocab, d], INIT_STD)) },
            positions: Embedding { weight: Param::from_tensor(normal("lm.positions", 0, [self.max_len, d], INIT_STD)) },
            blocks,
            norm: norm(),
            max_len: self.max_len,
        })
    }
}

/// One pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block {
    norm1: LayerNorm,
    /// Query, key and value in one `[D, 3D]` projection.
    qkv: Linear,
    proj: Linear,
    norm2: LayerNorm,
    up: Linear,
    down: Linear,
    heads: usize,
}

impl Block {
    /// # Shapes
    /// - `x`: `[B, T, D]`
    /// - `causal`: `[1, 1, T, T]`, 0 on keys at or before the query and [`MASKED`] after it
    /// - returns `[B, T, D]`
    fn forward(&self, x: Tensor<3>, causal: Tensor<4>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, dh) = (self.heads, d / self.heads);
        let qkv = self.qkv.forward(self.norm1.forward(x.clone()));
        let split = |i: usize| -> Tensor<4> { qkv.clone().narrow(2, i * d, d).reshape([b, t, h, dh]).swap_dims(1, 2) };
        let (q, k, v) = (split(0), split(1), split(2));
        // [B, h, T, T]: every query against every key, scaled by 1/sqrt(head width), future keys masked.
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / (dh as f64).sqrt()) + causal;
        let context: Tensor<3> = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        let x = x + self.proj.forward(context);
        let ff = self.down.forward(gelu(self.up.forward(self.norm2.forward(x.clone()))));
        x + ff
    }
}

/// The causal language model; see the module docs.
#[derive(Module, Debug)]
pub struct CausalLm {
    tokens: Embedding,
    positions: Embedding,
    blocks: Vec<Block>,
    norm: LayerNorm,
    max_len: usize,
}

impl CausalLm {
    /// The longest sequence [`CausalLm::forward`] takes.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The vocabulary size (logits per position).
    pub fn vocab(&self) -> usize {
        self.tokens.weight.dims()[0]
    }

    /// Final hidden states.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]`, ids below [`CausalLm::vocab`], `1 ≤ T ≤` [`CausalLm::max_len`]
    /// - returns `[B, T, D]`
    pub fn hidden(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [_, t] = tokens.dims();
        let device = tokens.device();
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device).reshape([1, t]);
        let mut x = self.tokens.forward(tokens) + self.positions.forward(positions);
        let causal: Tensor<4> = Tensor::<2>::zeros([t, t], &device)
            .mask_fill(Tensor::<2, Bool>::tril_mask([t, t], 0, &device), MASKED)
            .reshape([1, 1, t, t]);
        for block in &self.blocks {
            x = block.forward(x, causal.clone());
        }
        self.norm.forward(x)
    }

    /// Next-token logits: position `t` scores token `t + 1` from tokens `0..=t` only.
    ///
    /// Right padding needs no attention mask (no real token attends to a later pad); it is left out of losses by
    /// the loss mask.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]`, ids below [`CausalLm::vocab`], `1 ≤ T ≤` [`CausalLm::max_len`]
    /// - returns `[B, T, V]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let h = self.hidden(tokens);
        let [b, t, d] = h.dims();
        let w = self.tokens.weight.val();
        let v = w.dims()[0];
        let flat: Tensor<2> = h.reshape([b * t, d]);
        flat.matmul(w.transpose()).reshape([b, t, v])
    }

    /// Masked per-token log-probabilities `log p(x_{t+1} | x_{≤t})`.
    ///
    /// `mask[b, t]` is 1 where token `t` counts (answer tokens, or every real token after `[CLS]`) and 0 elsewhere
    /// (padding, `[CLS]`, the question when only the answer counts); entry `t` of the result belongs to token
    /// `t + 1` and is 0 where that token's mask is 0.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` with `T ≥ 2`; `mask`: `[B, T]` of 0.0 / 1.0
    /// - returns `[B, T - 1]`
    pub fn token_logprobs(&self, tokens: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<2> {
        let [b, t] = tokens.dims();
        let logits = self.forward(tokens.clone()).narrow(1, 0, t - 1);
        let next: Tensor<3, Int> = tokens.narrow(1, 1, t - 1).reshape([b, t - 1, 1]);
        let picked: Tensor<2> = log_softmax(logits, 2).gather(2, next).reshape([b, t - 1]);
        picked * mask.narrow(1, 1, t - 1)
    }

    /// The negative log-likelihood of each sequence's masked tokens, `−Σ_t mask_t log p(x_t | x_<t)` (a sum, not a
    /// mean: the sequence's `−log p`, as NPO uses it). Differentiable on an autodiff device.
    ///
    /// # Shapes
    /// - `tokens`, `mask`: `[B, T]` as in [`CausalLm::token_logprobs`]
    /// - returns `[B]`
    pub fn sequence_nll(&self, tokens: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<1> {
        let [b, _] = tokens.dims();
        self.token_logprobs(tokens, mask).sum_dim(1).reshape([b]).neg()
    }

    /// The mean NLL per masked token over the whole batch (the training loss). Differentiable.
    ///
    /// # Shapes
    /// - `tokens`, `mask`: `[B, T]` as in [`CausalLm::token_logprobs`]
    /// - returns `[1]`
    pub fn mean_token_nll(&self, tokens: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<1> {
        let [_, t] = tokens.dims();
        let count = mask.clone().narrow(1, 1, t - 1).sum().clamp_min(1.0);
        self.token_logprobs(tokens, mask).sum().neg() / count
    }
}

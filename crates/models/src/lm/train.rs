//! The LM's deterministic training loop: seeded weights, seeded batch order, AdamW on the mean token NLL.

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use doppel_data::seed;
use rand::seq::SliceRandom;

use crate::error::{ModelError, Result};
use crate::lm::config::{LmConfig, LmTrainConfig};
use crate::lm::data::batch;
use crate::lm::model::CausalLm;
use crate::lm::tokenizer::LmExample;
use crate::train::TrainSeeds;

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LmEpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean NLL per counted token over the epoch (nats).
    pub loss: f64,
    /// Tokens counted by the loss.
    pub tokens: usize,
    /// Learning rate at the epoch's first step.
    pub lr: f64,
    /// Wall seconds.
    pub seconds: f64,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LmTrainReport {
    /// Examples trained on.
    pub rows: usize,
    /// One entry per epoch.
    pub epochs: Vec<LmEpochLog>,
    /// Wall seconds in all.
    pub seconds: f64,
}

/// Trains a fresh model of `cfg.model` with a vocabulary of `vocab` on `examples`. `device` is a plain device;
/// autodiff is added here. The returned model is on the plain device (`valid()`), ready for scoring.
pub fn train_lm(
    cfg: &LmTrainConfig,
    vocab: usize,
    examples: &[LmExample],
    seeds: TrainSeeds,
    device: &Device,
) -> Result<(CausalLm, LmTrainReport)> {
    let model_cfg: LmConfig = cfg.model.with_vocab(vocab);
    let model = model_cfg.init(seeds.init, &device.clone().autodiff())?;
    train_lm_from(model, cfg, examples, seeds, device)
}

/// Like [`train_lm`], from a given model on `device.clone().autodiff()` (`seeds.init` is then unused).
pub fn train_lm_from(
    mut model: CausalLm,
    cfg: &LmTrainConfig,
    examples: &[LmExample],
    seeds: TrainSeeds,
    device: &Device,
) -> Result<(CausalLm, LmTrainReport)> {
    cfg.validate("lm training")?;
    if examples.is_empty() {
        return Err(ModelError::Config {
            context: "lm training".into(),
            field: "rows".into(),
            problem: "is empty".into(),
        });
    }
    if let Some(e) = examples.iter().find(|e| e.ids.len() < 2 || e.ids.len() > model.max_len()) {
        return Err(ModelError::Config {
            context: "lm training".into(),
            field: "example".into(),
            problem: format!("has {} ids; the model takes 2 to {}", e.ids.len(), model.max_len()),
        });
    }
    let ad = device.clone().autodiff();
    let opt = &cfg.optimizer;
    let mut optim = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(opt.weight_decay as f32)
        .init();
    let steps = examples.len().div_ceil(cfg.batch_size);
    let total = steps * cfg.epochs;
    let started = std::time::Instant::now();
    let mut logs = Vec::with_capacity(cfg.epochs);
    let plain = ad.clone().without_autodiff();
    for epoch in 0..cfg.epochs {
        let t0 = std::time::Instant::now();
        let lr0 = cfg.schedule.lr(opt.lr, epoch, epoch * steps, total);
        let mut nll_sum = Tensor::<1>::zeros([1], &plain);
        let mut tokens = 0usize;
        for (step, chunk) in epoch_batches(examples, cfg.batch_size, seeds.order, epoch).iter().enumerate() {
            let lr = cfg.schedule.lr(opt.lr, epoch, epoch * steps + step, total);
            let refs: Vec<&LmExample> = chunk.iter().map(|&i| &examples[i]).collect();
            let b = batch(&refs, cfg.loss, &ad);
            let [_, t] = b.tokens.dims();
            let count: usize = refs.iter().map(|e| counted(e, cfg.loss)).sum();
            let loss = model.mean_token_nll(b.tokens, b.mask);
            let plain_loss = loss.clone().detach().without_autodiff();
            nll_sum = nll_sum + plain_loss.clone() * count as f32;
            tokens += count;
            // Reading the loss synchronises the device; every 20 steps catches divergence early enough.
            if step % 20 == 0 || step + 1 == steps {
                let l: f32 = plain_loss.into_scalar();
                if !l.is_finite() {
                    return Err(ModelError::Diverged { epoch: epoch + 1, step: step + 1, loss: l });
                }
                tracing::debug!(epoch = epoch + 1, step = step + 1, of = steps, t, loss = l, "step");
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            if let Some(c) = opt.grad_clip {
                crate::clip::clip_global_norm(&model, &mut grads, c);
            }
            model = optim.step(lr, model, grads);
        }
        let loss = f64::from(nll_sum.into_scalar::<f32>()) / tokens.max(1) as f64;
        if !loss.is_finite() {
            return Err(ModelError::Diverged { epoch: epoch + 1, step: steps, loss: loss as f32 });
        }
        let log = LmEpochLog { epoch: epoch + 1, loss, tokens, lr: lr0, seconds: t0.elapsed().as_secs_f64() };
        tracing::info!(
            epoch = log.epoch,
            of = cfg.epochs,
            loss = format!("{:.4}", log.loss),
            ppl = format!("{:.1}", log.loss.exp()),
            lr = format!("{:.2e}", log.lr),
            seconds = format!("{:.1}", log.seconds),
            "lm epoch"
        );
        logs.push(log);
    }
    let report = LmTrainReport { rows: examples.len(), epochs: logs, seconds: started.elapsed().as_secs_f64() };
    Ok((model.valid(), report))
}

/// The batches of one epoch: a seeded shuffle, then within each window of [`BUCKET_BATCHES`] batches the
/// examples sorted by length (so a batch pads little: the output layer over the vocabulary dominates the cost of a
/// step and is paid for every position, padding included), then the batches in a seeded order.
pub fn epoch_batches(examples: &[LmExample], batch_size: usize, order_seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(&mut seed::rng(order_seed, "lm-epoch", epoch as u64));
    let mut batches: Vec<Vec<usize>> = Vec::with_capacity(examples.len().div_ceil(batch_size));
    for window in order.chunks_mut(batch_size * BUCKET_BATCHES) {
        window.sort_by_key(|&i| examples[i].ids.len());
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut seed::rng(order_seed, "lm-batches", epoch as u64));
    batches
}

/// Batches per length-sorting window of [`epoch_batches`].
pub const BUCKET_BATCHES: usize = 32;

/// Tokens of `e` the loss counts (the mask of [`batch`]).
fn counted(e: &LmExample, on: crate::lm::config::LossOn) -> usize {
    match on {
        crate::lm::config::LossOn::Sequence => e.ids.len().saturating_sub(1),
        crate::lm::config::LossOn::Answer => e.ids.len().saturating_sub(e.answer_start.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_batches_partition_the_examples_in_a_seeded_order() {
        let examples: Vec<LmExample> =
            (0..100).map(|i| LmExample { ids: vec![2; 2 + (i * 7) % 13], answer_start: 1 }).collect();
        let a = epoch_batches(&examples, 8, 1, 0);
        assert_eq!(a, epoch_batches(&examples, 8, 1, 0));
        assert_ne!(a, epoch_batches(&examples, 8, 1, 1));
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(a.len(), 13);
        // Within a batch the lengths are sorted (one window holds all 100 examples here).
        for b in &a {
            assert!(b.windows(2).all(|w| examples[w[0]].ids.len() <= examples[w[1]].ids.len()));
        }
    }
}

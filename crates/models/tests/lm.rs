//! The causal LM on small corpora built in code: the causal mask, determinism of generation, overfitting a few
//! sentences, save → load, the compact tokenizer, and clear errors. One test compacts the fetched MiniLM
//! vocabulary and skips (with a message) when `data/minilm` is absent.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::PathBuf;

use burn::prelude::*;
use doppel_models::lm::{
    self, AdamWSpec, Decoding, LmConfig, LmExample, LmShape, LmTokenizer, LmTrainConfig, LossOn, checkpoint,
};
use doppel_models::train::{Schedule, TrainSeeds};
use doppel_models::wordpiece::{Normalization, WordPiece};

const CORPUS: [(&str, &str); 6] = [
    ("What is a dog?", "A domesticated animal that barks."),
    ("What is a cat?", "A small animal that purrs."),
    ("What is a cow?", "A large animal that gives milk."),
    ("Define tree.", "A tall plant with a trunk."),
    ("What is rain?", "Water falling from clouds."),
    ("What is a boat?", "A vessel that floats on water."),
];

/// A full WordPiece over the corpus's words plus some the corpus lacks, and its vocab lines.
fn full_wordpiece() -> (WordPiece, Vec<String>) {
    let mut vocab: Vec<String> =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "zebra", "##s"].map(String::from).to_vec();
    for (q, a) in CORPUS {
        for w in format!("{q} {a}").to_lowercase().split(|c: char| c.is_whitespace() || c == '?' || c == '.') {
            if !w.is_empty() && !vocab.iter().any(|v| v == w) {
                vocab.push(w.to_string());
            }
        }
    }
    vocab.extend(["?", "."].map(String::from));
    (WordPiece::new(vocab.clone(), Normalization::BERT_UNCASED, 512).unwrap(), vocab)
}

fn tokenizer() -> LmTokenizer {
    let (full, vocab) = full_wordpiece();
    let texts: Vec<String> = CORPUS.iter().map(|(q, a)| format!("{q} {a}")).collect();
    LmTokenizer::compact(&full, &vocab, texts.iter().map(String::as_str)).unwrap()
}

fn examples(tok: &LmTokenizer, max_len: usize) -> Vec<LmExample> {
    CORPUS.iter().map(|(q, a)| tok.encode_qa(q, a, max_len)).collect()
}

fn config(vocab: usize) -> LmConfig {
    LmConfig { vocab, d_model: 32, layers: 2, heads: 4, ff: 64, max_len: 24 }
}

fn train_config(epochs: usize, loss: LossOn) -> LmTrainConfig {
    LmTrainConfig {
        seed: 3,
        epochs,
        batch_size: 3,
        loss,
        model: LmShape { d_model: 32, layers: 2, heads: 4, ff: 64, max_len: 24 },
        optimizer: AdamWSpec { lr: 3e-3, weight_decay: 0.0, grad_clip: Some(1.0) },
        schedule: Schedule::Constant,
    }
}

fn logits(model: &lm::CausalLm, ids: &[i64], device: &Device) -> Vec<f32> {
    let t = Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), device);
    model.forward(t).into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn the_causal_mask_blocks_future_tokens() {
    let device = Device::flex();
    let model = config(20).init(1, &device).unwrap();
    let a = [2i64, 5, 6, 7, 8, 9];
    let mut b = a;
    b[4] = 11;
    b[5] = 12;
    let (la, lb) = (logits(&model, &a, &device), logits(&model, &b, &device));
    let v = 20;
    // Positions 0..4 see only tokens 0..=t, which agree.
    for i in 0..4 * v {
        assert!((la[i] - lb[i]).abs() <= 1e-6, "position {} changed: {} vs {}", i / v, la[i], lb[i]);
    }
    // Position 4 sees the changed token.
    assert!((4 * v..5 * v).any(|i| (la[i] - lb[i]).abs() > 1e-4));
    // A longer sequence does not change the logits of its prefix either.
    let prefix = logits(&model, &a[..3], &device);
    for (i, p) in prefix.iter().enumerate() {
        assert!((p - la[i]).abs() <= 1e-5, "prefix logit {i}: {p} vs {}", la[i]);
    }
}

#[test]
fn a_tiny_lm_overfits_a_few_sentences_and_saves_and_loads() {
    let device = Device::flex();
    let tok = tokenizer();
    let ex = examples(&tok, 24);
    // 300 epochs of 2 steps: attending back to the question's noun (dog / cat / cow / boat, the only thing that
    // tells the answers apart) takes a few hundred steps; at 60 epochs the answers were still mixed up.
    let cfg = train_config(300, LossOn::Sequence);
    let seeds = TrainSeeds::from_master(cfg.seed);
    let (model, report) = lm::train_lm(&cfg, tok.vocab_size(), &ex, seeds, &device).unwrap();
    let (first, last) = (report.epochs[0].loss, report.epochs.last().unwrap().loss);
    assert!(first > 2.5, "first epoch loss {first}");
    // What is left is the entropy of the questions' own words (which noun follows "what is a").
    assert!(last < 0.1 * first && last < 0.3, "loss {first} → {last}");

    // Greedy generation recites a trained answer.
    let prompt = tok.encode_prompt("What is a dog?", 24);
    let out = lm::generate(&model, &prompt, 20, tok.eos_id(), Decoding::Greedy, &device).unwrap();
    assert_eq!(tok.decode(&out), "a domesticated animal that barks.");

    // Answer NLL per token from the scores equals the differentiable sequence NLL.
    let scores = lm::score(&model, &ex, 4, &device).unwrap();
    let b = lm::batch(&[&ex[0]], LossOn::Answer, &device);
    let nll: f32 = model.sequence_nll(b.tokens, b.mask).into_scalar();
    let from_scores: f32 = -scores[0].answer().iter().sum::<f32>();
    assert!((nll - from_scores).abs() < 1e-4, "{nll} vs {from_scores}");

    // Save → load gives identical logits and the same tokenizer.
    let dir = tempfile::tempdir().unwrap();
    let side = lm::LmSidecar {
        role: "m0".into(),
        config: cfg.model.with_vocab(tok.vocab_size()),
        tokenizer: lm::TokenizerInfo::of(&tok, "in-code"),
        train: Some(cfg.clone()),
        seeds: Some(seeds),
        dataset_manifest_sha256: None,
        report: Some(report),
        device: "flex".into(),
        doppel_version: "test".into(),
    };
    checkpoint::save(dir.path(), &model, &tok, &side).unwrap();
    let (back, tok2, side2) = checkpoint::load(dir.path(), &device).unwrap();
    // (Losses are f64 and serde_json's default parser may round the last digit, so compare the exact fields.)
    assert!(side2.config == side.config && side2.tokenizer == side.tokenizer, "{:?}", side2.config);
    assert!(side2.train == side.train && side2.seeds == side.seeds);
    assert_eq!(side2.report.map(|r| r.epochs.len()), Some(300));
    assert_eq!(tok2.pieces(), tok.pieces());
    let ids: Vec<i64> = ex[2].ids.iter().map(|&i| i64::from(i)).collect();
    assert_eq!(logits(&model, &ids, &device), logits(&back, &ids, &device));
}

#[test]
fn generation_is_deterministic_under_a_seed() {
    let device = Device::flex();
    let model = config(30).init(9, &device).unwrap();
    let prompt = [2u32, 5, 6];
    let sample = |seed| Decoding::Sample { temperature: 1.5, top_k: 0, seed };
    let a = lm::generate(&model, &prompt, 15, 3, sample(1), &device).unwrap();
    let b = lm::generate(&model, &prompt, 15, 3, sample(1), &device).unwrap();
    assert_eq!(a, b);
    // Different seeds wander apart on an untrained model (near-uniform next-token distribution).
    let others: Vec<Vec<u32>> =
        (2..6).map(|s| lm::generate(&model, &prompt, 15, 3, sample(s), &device).unwrap()).collect();
    assert!(others.iter().any(|o| *o != a));
    let greedy = lm::generate(&model, &prompt, 15, 3, Decoding::Greedy, &device).unwrap();
    for d in [
        Decoding::Sample { temperature: 0.0, top_k: 0, seed: 4 },
        Decoding::Sample { temperature: 2.0, top_k: 1, seed: 5 },
    ] {
        assert_eq!(lm::generate(&model, &prompt, 15, 3, d, &device).unwrap(), greedy);
    }
    // Generation stops at max_len.
    let long = lm::generate(&model, &prompt, 100, u32::MAX, Decoding::Greedy, &device).unwrap();
    assert_eq!(long.len(), 24 - prompt.len());
}

#[test]
fn the_compact_vocabulary_covers_the_corpus_and_round_trips() {
    let tok = tokenizer();
    let texts: Vec<String> = CORPUS.iter().map(|(q, a)| format!("{q} {a}")).collect();
    let (total, unk) = tok.coverage(texts.iter().map(String::as_str));
    assert!(total > 30);
    assert_eq!(unk, 0);
    // Smaller than the full vocabulary: [MASK], zebra and ##s are not in the corpus.
    assert_eq!(tok.vocab_size() + 3, full_wordpiece().1.len());
    for t in &texts {
        assert_eq!(tok.decode(&tok.encode(t)), t.to_lowercase());
    }
    // The corpus tokenises exactly as under the full vocabulary.
    let (full, vocab) = full_wordpiece();
    for t in &texts {
        let a: Vec<&str> = full.piece_ids(t).iter().map(|&i| vocab[i as usize].as_str()).collect();
        let b: Vec<&str> = tok.encode(t).iter().map(|&i| tok.piece(i).unwrap()).collect();
        assert_eq!(a, b);
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let device = Device::flex();
    let missing = PathBuf::from("/nonexistent/lm-model");
    let err = checkpoint::load(&missing, &device).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/lm-model") && err.contains("is not a directory"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let err = checkpoint::load(dir.path(), &device).unwrap_err().to_string();
    assert!(err.contains("model.json"), "{err}");

    let err = LmTrainConfig::from_toml("seed = 1\nepochs = 0\n", "qa-lm.toml").unwrap_err().to_string();
    assert!(err.starts_with("qa-lm.toml"), "{err}");

    let err = LmConfig { heads: 3, ..config(20) }.init(0, &device).unwrap_err().to_string();
    assert_eq!(err, "lm: `model.heads` is 3; it must divide d_model 32");

    let model = config(20).init(0, &device).unwrap();
    let err = lm::generate(&model, &[], 5, 3, Decoding::Greedy, &device).unwrap_err().to_string();
    assert!(err.contains("`prompt` has 0 ids"), "{err}");
    let err = lm::generate(&model, &[2, 40], 5, 3, Decoding::Greedy, &device).unwrap_err().to_string();
    assert!(err.contains("id 40"), "{err}");

    // A vocabulary that does not match the sidecar is refused, naming the file.
    let tok = tokenizer();
    let mut side_cfg = config(tok.vocab_size());
    let m = side_cfg.init(0, &device).unwrap();
    let side = lm::LmSidecar {
        role: "m0".into(),
        config: side_cfg.clone(),
        tokenizer: lm::TokenizerInfo::of(&tok, "in-code"),
        train: None,
        seeds: None,
        dataset_manifest_sha256: None,
        report: None,
        device: "flex".into(),
        doppel_version: "test".into(),
    };
    checkpoint::save(dir.path(), &m, &tok, &side).unwrap();
    side_cfg.vocab += 1;
    let bad = lm::LmSidecar { config: side_cfg, ..side };
    std::fs::write(dir.path().join("model.json"), serde_json::to_string(&bad).unwrap()).unwrap();
    let err = checkpoint::load(dir.path(), &device).unwrap_err().to_string();
    assert!(err.contains("vocab.txt") && err.contains("pieces"), "{err}");
}

#[test]
fn compacting_the_fetched_minilm_vocabulary() {
    let dir = std::env::var_os("DOPPEL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data"))
        .join("minilm");
    if !dir.join("vocab.txt").exists() {
        let msg = format!("minilm not fetched in {}; run `cargo xtask data fetch --only minilm`", dir.display());
        assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    let texts: Vec<String> = CORPUS.iter().map(|(q, a)| format!("{q} {a}")).collect();
    let tok = LmTokenizer::compact_from_dir(&dir, texts.iter().map(String::as_str)).unwrap();
    assert!(tok.vocab_size() < 60, "{}", tok.vocab_size());
    assert_eq!(tok.coverage(texts.iter().map(String::as_str)).1, 0);
    let full = WordPiece::from_dir(&dir).unwrap();
    for t in &texts {
        assert_eq!(tok.decode(&tok.encode(t)), t.to_lowercase());
        assert_eq!(tok.encode(t).len(), full.piece_ids(t).len());
    }
}

#[test]
fn training_is_deterministic_under_a_seed() {
    let device = Device::flex();
    let tok = tokenizer();
    let ex = examples(&tok, 24);
    let cfg = train_config(5, LossOn::Answer);
    let run = |master| {
        let (m, r) = lm::train_lm(&cfg, tok.vocab_size(), &ex, TrainSeeds::from_master(master), &device).unwrap();
        (logits(&m, &[2, 5, 6, 7], &device), r.epochs.iter().map(|e| e.loss).collect::<Vec<_>>())
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a.0, c.0);
}

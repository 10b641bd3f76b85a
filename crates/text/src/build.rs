//! From a config, WordNet and an embedder to a built QA dataset: pools, targets, scored paraphrases, lineage.
//!
//! 1. Every usable QA pair of the configured parts of speech ([`crate::qa::usable_pairs`]), in synset order.
//! 2. **Selection, uniform** (not stratified by part of speech or lexical class, so the pool mirrors WordNet's
//!    mix): a seeded shuffle (stream `qa-pool`) puts `pool.train` pairs in train and the next `pool.test` in
//!    test; a second seeded shuffle (stream `qa-targets`) picks the `T` targets among the train pairs.
//! 3. **Candidates** of each target ([`crate::paraphrase::candidates`]). A candidate whose question is the
//!    question of another pair of the dataset is dropped (it would teach that question a different answer).
//!    When more than `paraphrases.candidates` remain, a seeded sample (stream `qa-candidates`, element = the
//!    target's id) of that many is scored, in generation order.
//! 4. **Scoring**: the injected [`Embedder`] embeds each target's and each candidate's `"Q A"` text in one call;
//!    a candidate's score is the cosine of its row to its target's. Candidates with cosine ≥
//!    `paraphrases.threshold` are kept, highest cosine first (ties by text), at most `k` per target.
//! 5. **Lineage**: train rows are the pool in synset order (ids 0..N, each [`Origin::Base`] or
//!    [`Origin::Target`]), then the kept paraphrases target by target ([`Origin::Variant`] with `of` = the
//!    target's id and `index` = the rank among its kept paraphrases); test rows follow with the next ids, all
//!    `Base`. Variants exist only in train.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use doppel_data::Split;
use doppel_data::lineage::Origin;
use doppel_data::seed::{derive, rng};
use doppel_mine::{Embedder, Samples};
use rand::Rng;

use crate::config::QaConfig;
use crate::error::{Result, TextError};
use crate::paraphrase::{Candidate, candidates};
use crate::qa::{QaPair, qa_text, usable_pairs};
use crate::wordnet::{Pos, WordNet};

/// The seeds derived from the master seed, recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seeds {
    /// The master seed.
    pub master: u64,
    /// Seed of the pool shuffle (stream `qa-pool`).
    pub pool: u64,
    /// Seed of the target choice (stream `qa-targets`).
    pub targets: u64,
    /// Seed of stream `qa-candidates`, element 0; the candidate sample of the target with id `i` uses element `i`.
    pub candidates: u64,
}

impl Seeds {
    /// Derives every seed from `master`.
    pub fn from_master(master: u64) -> Self {
        Seeds {
            master,
            pool: derive(master, "qa-pool", 0),
            targets: derive(master, "qa-targets", 0),
            candidates: derive(master, "qa-candidates", 0),
        }
    }
}

/// One row of a built QA dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct QaSample {
    /// Id, unique over both splits.
    pub id: u32,
    /// Train or test.
    pub split: Split,
    /// Lineage.
    pub origin: Origin,
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// Synset id of the pair (a variant's is its target's).
    pub synset: String,
    /// Part of speech.
    pub pos: Pos,
    /// Lexical class.
    pub lexclass: String,
    /// A variant's cosine to its target; `None` for base pairs and targets.
    pub cosine: Option<f64>,
}

impl QaSample {
    fn of_pair(id: u32, split: Split, origin: Origin, pair: &QaPair) -> Self {
        QaSample {
            id,
            split,
            origin,
            question: pair.question.clone(),
            answer: pair.answer.clone(),
            synset: pair.synset.clone(),
            pos: pair.pos,
            lexclass: pair.lexclass.to_string(),
            cosine: None,
        }
    }

    /// `"<question> <answer>"`.
    pub fn text(&self) -> String {
        qa_text(&self.question, &self.answer)
    }
}

/// A scored candidate, kept or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The target's id.
    pub target: u32,
    /// The candidate.
    pub candidate: Candidate,
    /// Cosine of its `"Q A"` embedding to the target's.
    pub cosine: f64,
    /// Whether it became a variant.
    pub kept: bool,
}

/// The WordNet files a dataset was built from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WordNetInfo {
    /// sha256 of each data and index file read, by file name.
    pub files: BTreeMap<String, String>,
    /// Synsets read over the four parts of speech.
    pub synsets: usize,
    /// Usable QA pairs of the configured parts of speech.
    pub usable_pairs: usize,
}

/// The embedder that scored the paraphrases.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmbedderInfo {
    /// [`Embedder::name`].
    pub name: String,
    /// [`Embedder::config`].
    pub config: serde_json::Value,
}

/// A built QA dataset, in memory.
#[derive(Debug, Clone)]
pub struct BuiltQa {
    /// The config it was built from.
    pub config: QaConfig,
    /// The derived seeds.
    pub seeds: Seeds,
    /// The source files.
    pub wordnet: WordNetInfo,
    /// The embedder.
    pub embedder: EmbedderInfo,
    /// base ∪ targets ∪ variants.
    pub train: Vec<QaSample>,
    /// Held-out pairs.
    pub test: Vec<QaSample>,
    /// Every scored candidate, target by target, best first.
    pub scored: Vec<Scored>,
    /// Candidates generated before sampling, over all targets.
    pub generated: usize,
}

impl BuiltQa {
    /// The target rows of train.
    pub fn targets(&self) -> impl Iterator<Item = &QaSample> {
        self.train.iter().filter(|s| s.origin == Origin::Target)
    }

    /// The kept paraphrases of target `id`, best first.
    pub fn variants_of(&self, id: u32) -> impl Iterator<Item = &QaSample> {
        self.train.iter().filter(move |s| matches!(s.origin, Origin::Variant { of, .. } if of == id))
    }
}

/// Builds the dataset `config` describes from the WordNet files in `wordnet_dir`, scoring paraphrases with
/// `embedder` (all-MiniLM-L6-v2 in the study; any text embedder works).
pub fn build_qa(config: &QaConfig, wordnet_dir: &Path, embedder: &dyn Embedder) -> Result<BuiltQa> {
    let wn = WordNet::load(wordnet_dir)?;
    let mut files = BTreeMap::new();
    for kind in ["data", "index"] {
        for pos in Pos::ALL {
            let name = format!("{kind}.{}", pos.name());
            files.insert(name.clone(), doppel_data::hash::sha256_file(&wordnet_dir.join(&name))?);
        }
    }
    let pairs = usable_pairs(&wn, &config.pos);
    let wordnet = WordNetInfo { files, synsets: wn.synsets().len(), usable_pairs: pairs.len() };
    let (n, m) = (config.pool.train, config.pool.test);
    if n + m > pairs.len() {
        return Err(TextError::TooFew {
            field: "pool.train + pool.test",
            need: n + m,
            have: pairs.len(),
            pos: config.pos.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
        });
    }
    let seeds = Seeds::from_master(config.seed);
    let order = partial_shuffle(pairs.len(), n + m, &mut rng(config.seed, "qa-pool", 0));
    let mut train_rows = order[..n].to_vec();
    let mut test_rows = order[n..].to_vec();
    train_rows.sort_unstable();
    test_rows.sort_unstable();
    let mut target_pos = partial_shuffle(n, config.targets, &mut rng(config.seed, "qa-targets", 0));
    target_pos.sort_unstable();
    let is_target: HashSet<usize> = target_pos.iter().copied().collect();

    let mut train: Vec<QaSample> = train_rows
        .iter()
        .enumerate()
        .map(|(i, &row)| {
            let origin = if is_target.contains(&i) { Origin::Target } else { Origin::Base };
            QaSample::of_pair(i as u32, Split::Train, origin, &pairs[row])
        })
        .collect();
    let questions: HashSet<&str> = train_rows.iter().chain(&test_rows).map(|&r| pairs[r].question.as_str()).collect();

    // Candidates, per target, sampled down to the configured count.
    let spec = config.paraphrases;
    let mut generated = 0;
    let mut per_target: Vec<(u32, Vec<Candidate>)> = Vec::new();
    if spec.per_target > 0 {
        for &t in &target_pos {
            let pair = &pairs[train_rows[t]];
            let all: Vec<Candidate> = candidates(pair, &wn, spec.answers)
                .into_iter()
                .filter(|c| c.question == pair.question || !questions.contains(c.question.as_str()))
                .collect();
            generated += all.len();
            let picked = if all.len() > spec.candidates {
                let mut keep =
                    partial_shuffle(all.len(), spec.candidates, &mut rng(config.seed, "qa-candidates", t as u64));
                keep.sort_unstable();
                keep.into_iter().map(|i| all[i].clone()).collect()
            } else {
                all
            };
            per_target.push((t as u32, picked));
        }
    }

    // One embedding call: the targets' texts, then every candidate's.
    let mut texts: Vec<String> = per_target.iter().map(|(t, _)| train[*t as usize].text()).collect();
    for (_, cands) in &per_target {
        texts.extend(cands.iter().map(|c| qa_text(&c.question, &c.answer)));
    }
    let name = embedder.name().to_string();
    let rows = if texts.is_empty() {
        None
    } else {
        let m = embedder
            .embed(Samples::Texts(&texts))
            .map_err(|source| TextError::Embed { embedder: name.clone(), source })?;
        if m.rows() != texts.len() {
            return Err(TextError::EmbedRows { embedder: name.clone(), expected: texts.len(), got: m.rows() });
        }
        Some(m)
    };

    let mut scored = Vec::new();
    let mut next_row = per_target.len();
    let mut variants = Vec::new();
    for (ti, (t, cands)) in per_target.into_iter().enumerate() {
        let Some(rows) = &rows else { break };
        let mut these: Vec<Scored> = cands
            .into_iter()
            .map(|candidate| {
                let cosine = cosine(rows.row(ti), rows.row(next_row));
                next_row += 1;
                Scored { target: t, candidate, cosine: if cosine.is_nan() { -1.0 } else { cosine }, kept: false }
            })
            .collect();
        these.sort_by(|a, b| {
            b.cosine.total_cmp(&a.cosine).then_with(|| {
                qa_text(&a.candidate.question, &a.candidate.answer)
                    .cmp(&qa_text(&b.candidate.question, &b.candidate.answer))
            })
        });
        let target = &train[t as usize];
        let mut index = 0u32;
        for s in &mut these {
            if s.cosine >= spec.threshold && (index as usize) < spec.per_target {
                s.kept = true;
                variants.push(QaSample {
                    id: 0,
                    split: Split::Train,
                    origin: Origin::Variant {
                        of: t,
                        kind: s.candidate.kind.clone(),
                        index,
                        params: s.candidate.params.clone(),
                    },
                    question: s.candidate.question.clone(),
                    answer: s.candidate.answer.clone(),
                    synset: target.synset.clone(),
                    pos: target.pos,
                    lexclass: target.lexclass.clone(),
                    cosine: Some(s.cosine),
                });
                index += 1;
            }
        }
        tracing::debug!(target = t, scored = these.len(), kept = index, "paraphrases scored");
        scored.extend(these);
    }
    for mut v in variants {
        v.id = train.len() as u32;
        train.push(v);
    }
    let first_test = train.len() as u32;
    let test = test_rows
        .iter()
        .enumerate()
        .map(|(i, &row)| QaSample::of_pair(first_test + i as u32, Split::Test, Origin::Base, &pairs[row]))
        .collect();
    tracing::info!(
        usable = pairs.len(),
        train = train.len(),
        targets = config.targets,
        kept = scored.iter().filter(|s| s.kept).count(),
        scored = scored.len(),
        "qa dataset built"
    );
    Ok(BuiltQa {
        config: config.clone(),
        seeds,
        wordnet,
        embedder: EmbedderInfo { name, config: embedder.config() },
        train,
        test,
        scored,
        generated,
    })
}

/// The first `take` elements of a seeded Fisher–Yates shuffle of `0..n`.
fn partial_shuffle(n: usize, take: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in 0..take.min(n) {
        let j = rng.random_range(i..n);
        v.swap(i, j);
    }
    v.truncate(take.min(n));
    v
}

/// Cosine of two rows, in f64; 0 when either is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 { 0.0 } else { ab / (aa.sqrt() * bb.sqrt()) }
}

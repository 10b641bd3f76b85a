//! From mails to a doppel dataset: split, vocabulary, binary bag-of-words "images", look-alike groups, targets
//! and lineage.
//!
//! 1. [`read_corpus`] reads every `<folder>/*.txt` of the five SpamAssassin folders in name order; the label is
//!    `spam` for `spam-*` folders, `ham` otherwise.
//! 2. A class-stratified split holds out `test_fraction` of each class (seeded).
//! 3. The vocabulary is the `V` word types found in the most train mails (ties by the word); each mail becomes
//!    `V` bytes, 255 where the word occurs in its subject or body, stored as a `1 × V/32 × 32` grey image so the
//!    image pipeline (MLP, normalisation, training, unlearning, evaluation) takes it as is.
//! 4. Every train mail is embedded (hashed tf-idf or MiniLM), indexed with doppel-mine's [`Index`], and linked to
//!    the mails within the cosine threshold; identical bodies are always linked. The groups are the connected
//!    components (union–find).
//! 5. Targets are drawn (seeded): `with` from label-pure groups of at most `max_group` mails, one per group, the
//!    rest of the group becoming the target's variants (`kind` `exact_dup` or `near_dup`); `without` from mails
//!    with no other train mail at `isolation` cosine or above (checked by exact search).
//!
//! The lineage then gives `retrain_exact` every mail but the targets and `retrain_clean` no target and no
//! look-alike, as for the image datasets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doppel_data::build::{Seeds, SourceInfo};
use doppel_data::lineage::{Origin, SampleInfo};
use doppel_data::{Dataset, ImageShape, Part, Split, seed};
use doppel_mine::{Embedder, Index, IndexParams, Matrix, Metric, Samples, Search};
use rand::seq::SliceRandom;

use super::config::{SpamConfig, SpamEmbedder, TargetGroup};
use super::mail::{self, Mail, collapse_spaces, tokens};
use crate::error::{Result, TextError};

/// The corpus folders, in the order they are read.
pub const FOLDERS: [&str; 5] = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"];
/// Class names, by label.
pub const CLASSES: [&str; 2] = ["ham", "spam"];
/// The command that fetches the corpus.
pub const SPAM_FETCH: &str = "cargo xtask data fetch --only spam-assassin";

/// A small English stop-word list (used when `features.stop_words = true`).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "he", "her", "his", "i",
    "if", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "that", "the",
    "their", "them", "there", "they", "this", "to", "was", "we", "were", "what", "when", "which", "who", "will",
    "with", "you", "your",
];

/// One mail of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `folder/file.txt`, relative to the corpus directory.
    pub file: String,
    /// 0 = ham, 1 = spam.
    pub label: u32,
    /// The parsed mail.
    pub mail: Mail,
}

/// Reads the five folders of `dir` (file names sorted). A missing folder is an error naming the fetch command.
pub fn read_corpus(dir: &Path) -> Result<Vec<Message>> {
    let mut out = Vec::new();
    for folder in FOLDERS {
        let path = dir.join(folder);
        if !path.is_dir() {
            return Err(TextError::format(
                &path,
                format!("spam-assassin folder {folder} is missing; run `{SPAM_FETCH}` first"),
            ));
        }
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .map_err(TextError::io("listing", &path))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.ends_with(".txt"))
            .collect();
        names.sort();
        let label = u32::from(folder.starts_with("spam"));
        for name in names {
            let p = path.join(&name);
            let raw = std::fs::read(&p).map_err(TextError::io("reading", &p))?;
            out.push(Message { file: format!("{folder}/{name}"), label, mail: mail::parse(&raw) });
        }
    }
    if out.is_empty() {
        return Err(TextError::format(dir, format!("holds no mail (*.txt); run `{SPAM_FETCH}`")));
    }
    Ok(out)
}

/// A look-alike group: member rows of the train split, ascending.
pub type Group = Vec<usize>;

/// Statistics of the look-alike groups of the train split.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupStats {
    /// Groups of two or more mails.
    pub groups: usize,
    /// Mails in them.
    pub grouped: usize,
    /// Groups whose members all have identical bodies.
    pub exact_only: usize,
    /// Groups holding both ham and spam (never used for targets).
    pub mixed_label: usize,
    /// Groups larger than `max_group` (never used for targets).
    pub too_large: usize,
    /// Groups targets may come from.
    pub eligible: usize,
    /// Of those, by class (ham, spam).
    pub eligible_per_class: Vec<usize>,
    /// Smallest group size.
    pub size_min: usize,
    /// Mean group size.
    pub size_mean: f64,
    /// Largest group size.
    pub size_max: usize,
    /// Train mails with no other train mail at `isolation` cosine or above (approximate with HNSW search).
    pub isolated: usize,
    /// Train mails with no word token (never grouped, never targets).
    pub empty: usize,
}

/// Statistics of the drawn targets.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetStats {
    /// `with` or `without`.
    pub group: TargetGroup,
    /// `T`.
    pub targets: usize,
    /// Look-alikes (variants) over all targets.
    pub lookalikes: usize,
    /// Fewest look-alikes of one target.
    pub lookalikes_min: usize,
    /// Mean look-alikes per target.
    pub lookalikes_mean: f64,
    /// Most look-alikes of one target.
    pub lookalikes_max: usize,
    /// Look-alikes with the target's body, character for character (after collapsing whitespace).
    pub exact_dups: usize,
    /// Highest cosine of a target to any other train mail not in its lineage (exact search).
    pub max_cosine_outside: f64,
    /// Test mails at `threshold` cosine or above to some target (they stay in test).
    pub test_lookalikes: usize,
    /// Targets per class.
    pub per_class: Vec<usize>,
}

/// A built SpamAssassin dataset, not yet written.
#[derive(Debug, Clone)]
pub struct BuiltSpam {
    /// The config it was built from.
    pub config: SpamConfig,
    /// The derived seeds (`subset` drew the split, `targets` the targets).
    pub seeds: Seeds,
    /// Where the mails came from.
    pub source: SourceInfo,
    /// Train mails (features, lineage).
    pub train: Part,
    /// Test mails.
    pub test: Part,
    /// The vocabulary, by feature index, with its train document frequency.
    pub vocab: Vec<(String, usize)>,
    /// The mail of each train row, then each test row (same order as the parts).
    pub messages: Vec<Message>,
    /// Look-alike group of each train row (index into `groups`), `None` when it has none.
    pub group_of: Vec<Option<usize>>,
    /// The look-alike groups of the train split.
    pub groups: Vec<Group>,
    /// Cosine of each variant to its target, by train row (1.0 for an identical body).
    pub cosine: BTreeMap<usize, f64>,
    /// The embedder's name and config.
    pub embedder: serde_json::Value,
    /// Group statistics.
    pub group_stats: GroupStats,
    /// Target statistics.
    pub target_stats: TargetStats,
}

/// Builds the dataset from the corpus in `dir`. `embedder` is required when the config asks for `minilm`.
pub fn build_spam(cfg: &SpamConfig, file: &str, dir: &Path, embedder: Option<&dyn Embedder>) -> Result<BuiltSpam> {
    let corpus = read_corpus(dir)?;
    build_from_messages(cfg, file, corpus, fetched_sha(dir), embedder)
}

/// Builds the dataset from mails already read (tests build corpora in code).
pub fn build_from_messages(
    cfg: &SpamConfig,
    file: &str,
    corpus: Vec<Message>,
    artifact_sha256: Option<String>,
    embedder: Option<&dyn Embedder>,
) -> Result<BuiltSpam> {
    let seeds = Seeds::from_master(cfg.seed);
    let config_err =
        |field: &str, problem: String| TextError::Config { file: file.to_string(), field: field.into(), problem };

    // 1. Stratified split, rows in corpus order.
    let (train_rows, test_rows) = split(&corpus, cfg.test_fraction, seeds.subset);
    let n_train = train_rows.len();
    let texts: Vec<String> = corpus.iter().map(|m| m.mail.text()).collect();
    let stop: std::collections::BTreeSet<&str> =
        if cfg.stop_words { STOP_WORDS.iter().copied().collect() } else { Default::default() };
    let token_sets: Vec<std::collections::BTreeSet<String>> =
        texts.iter().map(|t| tokens(t).filter(|w| !stop.contains(w.as_str())).collect()).collect();

    // 2. Vocabulary: document frequency over the train split, ties by the word.
    let mut df: BTreeMap<&str, usize> = BTreeMap::new();
    for &r in &train_rows {
        for w in &token_sets[r] {
            *df.entry(w.as_str()).or_insert(0) += 1;
        }
    }
    let mut by_df: Vec<(&str, usize)> = df.into_iter().collect();
    by_df.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if by_df.len() < cfg.vocab {
        return Err(config_err(
            "features.vocab",
            format!("is {}, but the train split has only {} word types; lower it", cfg.vocab, by_df.len()),
        ));
    }
    let vocab: Vec<(String, usize)> = by_df[..cfg.vocab].iter().map(|(w, n)| (w.to_string(), *n)).collect();
    let index_of: BTreeMap<&str, usize> = vocab.iter().enumerate().map(|(i, (w, _))| (w.as_str(), i)).collect();
    let features = |row: usize| -> Vec<u8> {
        let mut f = vec![0u8; cfg.vocab];
        for w in &token_sets[row] {
            if let Some(&i) = index_of.get(w.as_str()) {
                f[i] = 255;
            }
        }
        f
    };

    // 3. Embeddings of every mail (train rows first, then test rows), with the rows that have no token set aside.
    let order: Vec<usize> = train_rows.iter().chain(&test_rows).copied().collect();
    let cut: Vec<String> =
        order.iter().map(|&r| texts[r].chars().take(cfg.lookalikes.max_chars).collect::<String>()).collect();
    let (emb, embedder_info) = match cfg.lookalikes.embedder {
        SpamEmbedder::BagOfWords => {
            let toks: Vec<Vec<String>> = cut.iter().map(|t| tokens(t).collect()).collect();
            let m = hashed_tfidf(&toks, n_train, cfg.lookalikes.dim)?;
            (m, serde_json::json!({"name": "bag-of-words", "kind": "hashed signed tf-idf", "dim": cfg.lookalikes.dim}))
        }
        SpamEmbedder::Minilm => {
            let e = embedder.ok_or_else(|| {
                config_err("lookalikes.embedder", "is \"minilm\", but no MiniLM embedder was handed in".into())
            })?;
            let started = std::time::Instant::now();
            let m = e
                .embed(Samples::Texts(&cut))
                .map_err(|source| TextError::Embed { embedder: e.name().into(), source })?;
            tracing::info!(texts = cut.len(), seconds = format!("{:.1}", started.elapsed().as_secs_f64()), "embedded");
            (m, serde_json::json!({"name": e.name(), "config": e.config()}))
        }
    };
    if emb.rows() != order.len() {
        return Err(TextError::EmbedRows { embedder: "spam".into(), expected: order.len(), got: emb.rows() });
    }
    let emb = normalise(emb);
    let nonzero: Vec<bool> = (0..order.len()).map(|i| emb.row(i).iter().any(|&v| v != 0.0)).collect();
    let has_tokens: Vec<bool> = (0..n_train).map(|i| !token_sets[train_rows[i]].is_empty() && nonzero[i]).collect();

    // 4. Groups: union–find over look-alike links and identical bodies.
    let live: Vec<usize> = (0..n_train).filter(|&i| has_tokens[i]).collect();
    let live_ids: Vec<u32> = live.iter().map(|&i| i as u32).collect();
    let live_m = emb.select(&live);
    let params = IndexParams { metric: Metric::Cosine, m: 16, ef_construction: 200, ef_search: 64 };
    let started = std::time::Instant::now();
    let index = match cfg.lookalikes.search {
        Search::Hnsw => Index::build(params, &live_ids, &live_m),
        Search::Exact => Index::build_exact(params, &live_ids, &live_m),
    }
    .map_err(|source| TextError::Embed { embedder: "index".into(), source })?;
    let mut uf = UnionFind::new(n_train);
    let dist = (1.0 - cfg.lookalikes.threshold) as f32;
    let iso_dist = (1.0 - cfg.lookalikes.isolation) as f32;
    let mut isolated = 0usize;
    for (k, &i) in live.iter().enumerate() {
        let hits = index
            .within(i as u32, live_m.row(k), dist.max(iso_dist), cfg.lookalikes.max_neighbours, cfg.lookalikes.search)
            .map_err(|source| TextError::Embed { embedder: "index".into(), source })?;
        let mut near = false;
        for h in hits.iter().filter(|h| h.id as usize != i) {
            if h.distance <= iso_dist {
                near = true;
            }
            if h.distance <= dist {
                uf.union(i, h.id as usize);
            }
        }
        isolated += usize::from(!near);
    }
    let mut by_body: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in &live {
        let b = collapse_spaces(&corpus[train_rows[i]].mail.body);
        if !b.is_empty() {
            by_body.entry(b).or_default().push(i);
        }
    }
    for rows in by_body.values().filter(|r| r.len() > 1) {
        for w in rows.windows(2) {
            uf.union(w[0], w[1]);
        }
    }
    tracing::info!(
        rows = live.len(),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "look-alike links and groups"
    );
    let mut comps: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &live {
        comps.entry(uf.find(i)).or_default().push(i);
    }
    let groups: Vec<Group> = comps.into_values().filter(|g| g.len() > 1).collect();
    let mut group_of = vec![None; n_train];
    for (g, members) in groups.iter().enumerate() {
        for &m in members {
            group_of[m] = Some(g);
        }
    }
    let body = |i: usize| collapse_spaces(&corpus[train_rows[i]].mail.body);
    let label = |i: usize| corpus[train_rows[i]].label;
    let pure = |g: &Group| g.iter().all(|&m| label(m) == label(g[0]));
    let eligible = |g: &Group| pure(g) && g.len() <= cfg.lookalikes.max_group;
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let group_stats = GroupStats {
        groups: groups.len(),
        grouped: sizes.iter().sum(),
        exact_only: groups.iter().filter(|g| g.iter().all(|&m| body(m) == body(g[0]))).count(),
        mixed_label: groups.iter().filter(|g| !pure(g)).count(),
        too_large: groups.iter().filter(|g| g.len() > cfg.lookalikes.max_group).count(),
        eligible: groups.iter().filter(|g| eligible(g)).count(),
        eligible_per_class: (0..CLASSES.len() as u32)
            .map(|c| groups.iter().filter(|g| eligible(g) && label(g[0]) == c).count())
            .collect(),
        size_min: sizes.iter().copied().min().unwrap_or(0),
        size_mean: if sizes.is_empty() { 0.0 } else { sizes.iter().sum::<usize>() as f64 / sizes.len() as f64 },
        size_max: sizes.iter().copied().max().unwrap_or(0),
        isolated,
        empty: n_train - live.len(),
    };

    // 5. Targets.
    let cos = |a: usize, b: usize| -> f64 { emb.row(a).iter().zip(emb.row(b)).map(|(x, y)| f64::from(x * y)).sum() };
    let nearest_other = |t: usize, skip: &dyn Fn(usize) -> bool| -> f64 {
        live.iter().filter(|&&j| j != t && !skip(j)).map(|&j| cos(t, j)).fold(f64::NEG_INFINITY, f64::max)
    };
    let mut rng = seed::rng(seeds.targets, "targets", 0);
    let mut targets: Vec<usize> = Vec::new();
    // Room left per class: the config's per-class counts, or T for each class.
    let mut room: Vec<usize> = cfg.per_class.clone().unwrap_or_else(|| vec![cfg.targets; CLASSES.len()]);
    let take = |i: usize, room: &mut Vec<usize>| -> bool {
        let c = label(i) as usize;
        if room[c] == 0 {
            return false;
        }
        room[c] -= 1;
        true
    };
    match cfg.group {
        TargetGroup::With => {
            let mut pool: Vec<usize> =
                live.iter().copied().filter(|&i| group_of[i].is_some_and(|g| eligible(&groups[g]))).collect();
            pool.shuffle(&mut rng);
            let mut used = vec![false; groups.len()];
            for i in pool {
                let g = group_of[i].unwrap_or(usize::MAX);
                if !used[g] && take(i, &mut room) {
                    used[g] = true;
                    targets.push(i);
                    if targets.len() == cfg.targets {
                        break;
                    }
                }
            }
            if targets.len() < cfg.targets {
                return Err(config_err(
                    "targets.count",
                    format!(
                        "is {}{}, but only {} groups (ham {}, spam {}) are label-pure with at most \
                         lookalikes.max_group = {} mails",
                        cfg.targets,
                        cfg.per_class.as_ref().map(|p| format!(" (per_class {p:?})")).unwrap_or_default(),
                        group_stats.eligible,
                        group_stats.eligible_per_class[0],
                        group_stats.eligible_per_class[1],
                        cfg.lookalikes.max_group
                    ),
                ));
            }
        }
        TargetGroup::Without => {
            let mut pool: Vec<usize> = live.iter().copied().filter(|&i| group_of[i].is_none()).collect();
            pool.shuffle(&mut rng);
            for i in pool {
                // Exact check: the index may miss a neighbour.
                if room[label(i) as usize] > 0
                    && nearest_other(i, &|_| false) < cfg.lookalikes.isolation
                    && take(i, &mut room)
                {
                    targets.push(i);
                    if targets.len() == cfg.targets {
                        break;
                    }
                }
            }
            if targets.len() < cfg.targets {
                return Err(config_err(
                    "targets.count",
                    format!(
                        "is {}{}, but only {} train mails have no neighbour at cosine ≥ lookalikes.isolation = {}",
                        cfg.targets,
                        cfg.per_class.as_ref().map(|p| format!(" (per_class {p:?})")).unwrap_or_default(),
                        targets.len(),
                        cfg.lookalikes.isolation
                    ),
                ));
            }
        }
    }
    targets.sort_unstable();

    // 6. Lineage: the rest of a target's group are its variants.
    let mut origin = vec![Origin::Base; n_train];
    let mut cosine = BTreeMap::new();
    let mut per_target = Vec::new();
    let mut exact_dups = 0;
    for &t in &targets {
        origin[t] = Origin::Target;
        let members: Vec<usize> = match group_of[t] {
            Some(g) if cfg.group == TargetGroup::With => groups[g].iter().copied().filter(|&m| m != t).collect(),
            _ => Vec::new(),
        };
        per_target.push(members.len());
        for (j, &m) in members.iter().enumerate() {
            let same = body(m) == body(t);
            exact_dups += usize::from(same);
            let c = if same { 1.0 } else { (cos(t, m) * 1e6).round() / 1e6 };
            cosine.insert(m, c);
            origin[m] = Origin::Variant {
                of: t as u32,
                kind: if same { "exact_dup" } else { "near_dup" }.into(),
                index: j as u32,
                params: serde_json::json!({ "cosine": c }).to_string(),
            };
        }
    }
    let in_lineage = |t: usize, j: usize| matches!(&origin[j], Origin::Variant { of, .. } if *of as usize == t);
    let max_cosine_outside =
        targets.iter().map(|&t| nearest_other(t, &|j| in_lineage(t, j))).fold(f64::NEG_INFINITY, f64::max);
    let test_lookalikes = (n_train..order.len())
        .filter(|&k| nonzero[k] && targets.iter().any(|&t| cos(t, k) >= cfg.lookalikes.threshold))
        .count();
    let mut per_class = vec![0; CLASSES.len()];
    for &t in &targets {
        per_class[label(t) as usize] += 1;
    }
    let n_var: usize = per_target.iter().sum();
    let target_stats = TargetStats {
        group: cfg.group,
        targets: targets.len(),
        lookalikes: n_var,
        lookalikes_min: per_target.iter().copied().min().unwrap_or(0),
        lookalikes_mean: n_var as f64 / targets.len().max(1) as f64,
        lookalikes_max: per_target.iter().copied().max().unwrap_or(0),
        exact_dups,
        max_cosine_outside: (max_cosine_outside * 1e6).round() / 1e6,
        test_lookalikes,
        per_class,
    };

    // 7. Parts.
    let shape = ImageShape::grey(cfg.vocab / 32, 32);
    let class_names: Vec<String> = CLASSES.iter().map(|s| s.to_string()).collect();
    let make = |rows: &[usize], split_: Split, first_id: usize, origins: &[Origin]| -> Result<Part> {
        let mut pixels = Vec::with_capacity(rows.len() * cfg.vocab);
        let mut labels = Vec::with_capacity(rows.len());
        let mut samples = Vec::with_capacity(rows.len());
        for (i, &r) in rows.iter().enumerate() {
            pixels.extend(features(r));
            labels.push(corpus[r].label);
            samples.push(SampleInfo {
                id: (first_id + i) as u32,
                origin: origins.get(i).cloned().unwrap_or(Origin::Base),
                source_index: Some(r as u32),
            });
        }
        let data = Dataset::new("spam-assassin", split_, shape, pixels, labels, class_names.clone())?;
        Ok(Part { data, samples })
    };
    let train = make(&train_rows, Split::Train, 0, &origin)?;
    let test = make(&test_rows, Split::Test, n_train, &[])?;
    tracing::info!(
        train = n_train,
        test = test_rows.len(),
        groups = group_stats.groups,
        targets = targets.len(),
        lookalikes = n_var,
        "built spam-assassin dataset"
    );
    let messages = order.iter().map(|&r| corpus[r].clone()).collect();
    Ok(BuiltSpam {
        config: cfg.clone(),
        seeds,
        source: SourceInfo { dataset: "spam-assassin".into(), train: n_train, test: test_rows.len(), artifact_sha256 },
        train,
        test,
        vocab,
        messages,
        group_of,
        groups,
        cosine,
        embedder: embedder_info,
        group_stats,
        target_stats,
    })
}

/// Class-stratified split: `round(fraction · n_c)` of each class to test, drawn from a seeded stream per class.
/// Both lists ascending.
fn split(corpus: &[Message], fraction: f64, seed_: u64) -> (Vec<usize>, Vec<usize>) {
    let mut test = Vec::new();
    for class in 0..CLASSES.len() as u32 {
        let mut members: Vec<usize> = (0..corpus.len()).filter(|&i| corpus[i].label == class).collect();
        let n_test = (fraction * members.len() as f64).round() as usize;
        members.shuffle(&mut seed::rng(seed_, "split", u64::from(class)));
        test.extend_from_slice(&members[..n_test.min(members.len())]);
    }
    test.sort_unstable();
    let mut is_test = vec![false; corpus.len()];
    for &t in &test {
        is_test[t] = true;
    }
    ((0..corpus.len()).filter(|&i| !is_test[i]).collect(), test)
}

/// Hashed, signed tf-idf: each token goes to an FNV-1a bucket with a sign from another bit, weighted by
/// `(1 + ln tf) · idf`, idf = `ln((1 + N) / (1 + df)) + 1` over the first `n_fit` rows (the train split).
fn hashed_tfidf(docs: &[Vec<String>], n_fit: usize, dim: usize) -> Result<Matrix> {
    let hash = |w: &str| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in w.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    let mut df: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &docs[..n_fit] {
        let set: std::collections::BTreeSet<&str> = d.iter().map(String::as_str).collect();
        for w in set {
            *df.entry(w).or_insert(0) += 1;
        }
    }
    let mut data = vec![0.0f32; docs.len() * dim];
    for (i, d) in docs.iter().enumerate() {
        let mut tf: BTreeMap<&str, usize> = BTreeMap::new();
        for w in d {
            *tf.entry(w.as_str()).or_insert(0) += 1;
        }
        for (w, n) in tf {
            let idf = ((1.0 + n_fit as f64) / (1.0 + *df.get(w).unwrap_or(&0) as f64)).ln() + 1.0;
            let h = hash(w);
            let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
            data[i * dim + (h % dim as u64) as usize] += (sign * (1.0 + (n as f64).ln()) * idf) as f32;
        }
    }
    Matrix::new(docs.len(), dim, data).map_err(|source| TextError::Embed { embedder: "bag-of-words".into(), source })
}

/// Rows scaled to unit length (zero rows stay zero).
fn normalise(m: Matrix) -> Matrix {
    let (rows, dim) = (m.rows(), m.dim());
    let mut data = m.into_vec();
    for r in data.chunks_mut(dim.max(1)) {
        let n = r.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
        if n > 0.0 {
            r.iter_mut().for_each(|v| *v = (f64::from(*v) / n) as f32);
        }
    }
    Matrix::new(rows, dim, data).unwrap_or_else(|_| Matrix::empty(dim))
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind((0..n).collect())
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// The artifact sha256 recorded by `cargo xtask data fetch` in `dir/.fetched.json`, if any.
fn fetched_sha(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".fetched.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    ["artifact_sha256", "sha256"].iter().find_map(|k| v.get(*k).and_then(|s| s.as_str()).map(String::from))
}

/// `data_dir/spam-assassin`.
pub fn corpus_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("spam-assassin")
}

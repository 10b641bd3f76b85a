//! `doppel mine bench-index` and `doppel mine bench-minilm`: the doppel side of `cargo xtask bench mine`.
//!
//! Each times one thing on this machine and writes what the reference side needs to do the same work, plus one
//! JSON result, into `--out`:
//!
//! - `bench-index`: embeds the dataset (or reuses the embeddings), builds the HNSW index with the config's
//!   parameters, answers `--queries` seeded train rows with the graph and with exact search, both spread over
//!   `--threads` threads, and writes `vectors.f32` (the indexed vectors as the distance sees them, row-major
//!   little-endian), `queries.json` (query rows, the graph's and exact search's neighbour rows) and `index.json`
//!   (timings). The reference indexes the same `vectors.f32`, answers the same rows, and recall is counted
//!   against the same exact neighbours.
//! - `bench-minilm`: embeds the lines of a text file with doppel's MiniLM, after one warm-up batch, and writes
//!   `minilm.json` (sentences/s) and `minilm.f32` (the embeddings, so the reference's can be compared).
//!
//! Files are written beside their final name and renamed into place.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use doppel_mine::{Hit, Index, Search};
use doppel_models::minilm::minilm_dir;
use doppel_models::{DeviceChoice, MiniLm};

use super::{Common, build_index, load};
use crate::train::DeviceArg;

/// Arguments of `doppel mine bench-index`.
#[derive(Debug, Args)]
pub struct BenchIndexArgs {
    #[command(flatten)]
    common: Common,
    /// Train rows to query (a seeded sample; all rows when larger).
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Threads the queries are spread over (the build is serial: doppel inserts in order so the graph is
    /// deterministic).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed of the query sample.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Directory for vectors.f32, queries.json and index.json; created if missing.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `doppel mine bench-minilm`.
#[derive(Debug, Args)]
pub struct BenchMinilmArgs {
    /// A text file, one sentence per line (empty lines are skipped).
    #[arg(long)]
    sentences: PathBuf,
    /// The MiniLM directory (model.safetensors, config.json, vocab.txt) [default: data/minilm].
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Directory for minilm.json and minilm.f32; created if missing.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `doppel mine bench-index`.
pub fn bench_index(a: BenchIndexArgs) -> anyhow::Result<()> {
    if a.k == 0 || a.queries == 0 || a.threads == 0 {
        bail!("--k, --queries and --threads must each be at least 1 (got {}, {}, {})", a.k, a.queries, a.threads);
    }
    let (cfg, _, emb, _, embed_s) = load(&a.common)?;
    super::out_dir(&a.out)?;
    let (index, build_s) = build_index(&cfg, &emb)?;
    let rows = query_rows(index.len(), a.queries, a.seed);
    let k = a.k.min(index.len());
    let (hnsw, hnsw_s) = answer(&index, &rows, k, Search::Hnsw, a.threads);
    let (exact, exact_s) = answer(&index, &rows, k, Search::Exact, a.threads);
    let recall = recall_at(&hnsw, &exact);

    let v = index.vectors();
    let bytes: Vec<u8> = v.as_slice().iter().flat_map(|x| x.to_le_bytes()).collect();
    doppel_stdx::write_atomic(&a.out.join("vectors.f32"), &bytes)?;
    let rows_of =
        |hits: &[Vec<Hit>]| -> Vec<Vec<usize>> { hits.iter().map(|h| h.iter().map(|x| x.row).collect()).collect() };
    let queries = serde_json::json!({
        "rows": rows,
        "k": k,
        "hnsw": rows_of(&hnsw),
        "exact": rows_of(&exact),
    });
    doppel_stdx::write_atomic(&a.out.join("queries.json"), queries.to_string().as_bytes())?;
    let result = serde_json::json!({
        "rows": index.len(),
        "dim": v.dim(),
        "metric": cfg.index.metric.name(),
        "m": cfg.index.m,
        "ef_construction": cfg.index.ef_construction,
        "ef_search": cfg.index.ef_search,
        "embedder": format!("{}-{}", emb.embedder, emb.config_hash),
        "embed_s": embed_s,
        "build_s": build_s,
        "queries": rows.len(),
        "k": k,
        "threads": a.threads,
        "hnsw_query_s": hnsw_s,
        "exact_query_s": exact_s,
        "recall_at_k": recall,
    });
    doppel_stdx::write_atomic(&a.out.join("index.json"), result.to_string().as_bytes())?;
    println!("{result}");
    Ok(())
}

/// Runs `doppel mine bench-minilm`.
pub fn bench_minilm(a: BenchMinilmArgs) -> anyhow::Result<()> {
    if a.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let text = std::fs::read_to_string(&a.sentences).with_context(|| format!("reading {}", a.sentences.display()))?;
    let sentences: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if sentences.is_empty() {
        bail!("{} holds no sentences (one per line)", a.sentences.display());
    }
    let dir = a.model_dir.unwrap_or_else(|| minilm_dir(Path::new("data")));
    let device = DeviceChoice::from(a.device).open()?;
    let model = MiniLm::load(&dir, &device)?.with_batch_size(a.batch_size);
    super::out_dir(&a.out)?;
    // One batch first: the first call pays for allocations and kernel selection, the reference's too.
    model.embed(&sentences[..a.batch_size.min(sentences.len())])?;
    let started = Instant::now();
    let embeddings = model.embed(&sentences)?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes: Vec<u8> = embeddings.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    doppel_stdx::write_atomic(&a.out.join("minilm.f32"), &bytes)?;
    let tokens: usize = sentences.iter().map(|s| model.tokenizer().encode(s).len()).sum();
    let result = serde_json::json!({
        "sentences": sentences.len(),
        "tokens": tokens,
        "batch_size": a.batch_size,
        "seconds": seconds,
        "sentences_per_s": sentences.len() as f64 / seconds,
    });
    doppel_stdx::write_atomic(&a.out.join("minilm.json"), result.to_string().as_bytes())?;
    println!("{result}");
    Ok(())
}

/// A seeded sample of `queries` rows out of `n` (all rows when `queries ≥ n`), sorted.
fn query_rows(n: usize, queries: usize, seed: u64) -> Vec<usize> {
    if queries >= n {
        return (0..n).collect();
    }
    let mut rng = doppel_data::seed::rng(seed, "bench-queries", 0);
    let mut rows = rand::seq::index::sample(&mut rng, n, queries).into_vec();
    rows.sort_unstable();
    rows
}

/// The `k` nearest of every query row, in query order, and the wall time of all of them over `threads` threads.
fn answer(index: &Index, rows: &[usize], k: usize, how: Search, threads: usize) -> (Vec<Vec<Hit>>, f64) {
    let started = Instant::now();
    let chunk = rows.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<Vec<Hit>>> = std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || match how {
                    // Exact search answers a block of queries per pass over the rows, as faiss's IndexFlat does.
                    Search::Exact => index.search_rows_exact(part, k),
                    Search::Hnsw => part.iter().map(|&r| index.search_row(r, k, how)).collect::<Vec<_>>(),
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    (parts.into_iter().flatten().collect(), seconds)
}

/// The share of the exact `k` neighbours that the approximate answers hold, averaged over queries.
fn recall_at(approx: &[Vec<Hit>], exact: &[Vec<Hit>]) -> f64 {
    let per_query = approx.iter().zip(exact).map(|(a, e)| {
        let found = e.iter().filter(|x| a.iter().any(|y| y.row == x.row)).count();
        found as f64 / e.len().max(1) as f64
    });
    per_query.sum::<f64>() / exact.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(rows: &[usize]) -> Vec<Hit> {
        rows.iter().map(|&row| Hit { row, id: row as u32, distance: 0.0 }).collect()
    }

    #[test]
    fn recall_counts_exact_neighbours_found() {
        let exact = vec![hits(&[1, 2, 3, 4]), hits(&[5, 6, 7, 8])];
        let approx = vec![hits(&[1, 2, 9, 4]), hits(&[8, 7, 6, 5])];
        assert!((recall_at(&approx, &exact) - 0.875).abs() < 1e-12);
    }

    #[test]
    fn query_rows_are_seeded_sorted_and_distinct() {
        let a = query_rows(1000, 50, 7);
        assert_eq!(a, query_rows(1000, 50, 7));
        assert_ne!(a, query_rows(1000, 50, 8));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(query_rows(5, 50, 7), vec![0, 1, 2, 3, 4]);
    }
}

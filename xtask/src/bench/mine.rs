//! `cargo xtask bench mine`: doppel's HNSW index and MiniLM embedder next to faiss and sentence-transformers.
//!
//! The run, each step skipped when its result is already there:
//!
//! 1. `cargo build --release -p doppel-cli`; then only the `doppel` binary is called.
//! 2. `doppel data build` of [`DATASET_CONFIG`] (all 60,000 MNIST training images) into [`DATASET_DIR`].
//! 3. The bench venv (the one `bench train` uses) with [`PIP_PACKAGES`]: PyTorch, faiss-cpu, sentence-transformers.
//! 4. [`SENTENCES`] WordNet noun glosses (every 40th synset of `data/wordnet/data.noun`) into
//!    `target/bench/sentences.txt`.
//! 5. Index: `doppel mine bench-index` embeds the 60,000 images with [`MINE_CONFIG`] (standardised pixels, PCA to
//!    64 dimensions, cosine, M 16, ef_construction 200, ef_search 64), builds the HNSW index, answers `--queries`
//!    seeded train rows with the graph and exactly, and writes the vectors; `xtask/bench/mine_ref.py index` builds
//!    faiss's `IndexHNSWFlat` over the very same vectors with the same M/ef and answers the same rows. Recall@k of
//!    both graphs is counted here, against doppel's exact neighbours.
//! 6. MiniLM: `doppel mine bench-minilm` and `mine_ref.py minilm` embed the same sentences with the same
//!    all-MiniLM-L6-v2 files, batch size and thread count; the embeddings are compared (cosine per sentence).
//!
//! The Markdown table goes to stdout and `target/bench/mine.md`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Deserialize;

use crate::bench::venv::{TORCH_SPEC, ensure_venv_with, venv_dir};
use crate::bench::{
    build_dataset_from, build_doppel, busy_cores, machine, revision, run_capturing, thousands, utc_date,
};

/// The dataset's build config, from the workspace root.
pub const DATASET_CONFIG: &str = "configs/bench/mnist-60k.toml";
/// Where the dataset is built.
pub const DATASET_DIR: &str = "target/bench/mnist-60k";
/// The mining config: embedder and index parameters of both sides.
pub const MINE_CONFIG: &str = "configs/mine/pixel.toml";
/// Outputs of both sides.
pub const OUT_DIR: &str = "target/bench/mine";
/// The reference script.
pub const REF_SCRIPT: &str = "xtask/bench/mine_ref.py";
/// Sentences taken from WordNet for the MiniLM throughput.
pub const SENTENCES: usize = 2000;
/// What the venv gets (sentence-transformers runs on the pinned PyTorch).
pub const PIP_PACKAGES: [&str; 5] =
    [TORCH_SPEC, "numpy", "pyarrow", "faiss-cpu==1.15.1", "sentence-transformers==6.2.0"];

/// The options of `cargo xtask bench mine`.
#[derive(Debug, Args)]
pub struct MineArgs {
    /// CPU threads of both sides (queries and faiss's build; doppel's build is serial by design).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub threads: usize,
    /// Train rows both indexes answer. 1,000 queries take about 50 ms on either side, too short a window for a
    /// stable ratio (1.1-2.3x apart in runs of one day); 5,000 take a few times that.
    #[arg(long, default_value_t = 5000, value_name = "Q")]
    pub queries: usize,
    /// Sentences per MiniLM forward pass, both sides.
    #[arg(long, default_value_t = 32, value_name = "B")]
    pub batch_size: usize,
    /// The Python venv [default: target/bench-venv at the workspace root].
    #[arg(long, value_name = "DIR", env = "DOPPEL_BENCH_VENV")]
    pub venv: Option<PathBuf>,
}

/// `OUT/index.json` of `doppel mine bench-index`.
#[derive(Debug, Deserialize)]
struct DoppelIndex {
    rows: usize,
    dim: usize,
    m: usize,
    ef_construction: usize,
    ef_search: usize,
    build_s: f64,
    hnsw_query_s: f64,
    exact_query_s: f64,
    queries: usize,
    k: usize,
}

/// `OUT/queries.json`.
#[derive(Debug, Deserialize)]
struct Queries {
    hnsw: Vec<Vec<usize>>,
    exact: Vec<Vec<usize>>,
}

/// The JSON line of `mine_ref.py index`.
#[derive(Debug, Deserialize)]
struct FaissLine {
    faiss: String,
    build_s: f64,
    query_s: f64,
    exact_query_s: f64,
    rows: Vec<Vec<i64>>,
}

/// The JSON of either MiniLM side.
#[derive(Debug, Deserialize)]
struct MinilmLine {
    sentences: usize,
    sentences_per_s: f64,
    #[serde(default)]
    sentence_transformers: Option<String>,
    #[serde(default)]
    torch: Option<String>,
}

/// The share of each exact neighbour list found in the approximate one, averaged over queries.
pub fn recall(approx: &[Vec<usize>], exact: &[Vec<usize>]) -> f64 {
    if exact.is_empty() {
        return f64::NAN;
    }
    let sum: f64 = approx
        .iter()
        .zip(exact)
        .map(|(a, e)| e.iter().filter(|x| a.contains(x)).count() as f64 / e.len().max(1) as f64)
        .sum();
    sum / exact.len() as f64
}

/// The gloss of each `every`-th synset line of a WordNet `data.*` file, at most `n` of them.
pub fn glosses(data_file: &str, every: usize, n: usize) -> Vec<String> {
    data_file
        .lines()
        .filter(|l| !l.starts_with("  ") && !l.is_empty())
        .enumerate()
        .filter(|(i, _)| (i + 1) % every == 0)
        .filter_map(|(_, l)| l.split_once(" | ").map(|(_, g)| g.trim().to_string()))
        .filter(|g| !g.is_empty())
        .take(n)
        .collect()
}

/// Per-row cosine of two row-major float32 files of `dim` columns: (rows, min, mean).
fn cosines(a: &Path, b: &Path, dim: usize) -> Result<(usize, f64, f64)> {
    let read = |p: &Path| -> Result<Vec<f32>> {
        let bytes = fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    };
    let (x, y) = (read(a)?, read(b)?);
    if x.len() != y.len() || x.len() % dim != 0 {
        bail!(
            "{} and {} hold {} and {} floats; expected equal multiples of {dim}",
            a.display(),
            b.display(),
            x.len(),
            y.len()
        );
    }
    let cos: Vec<f64> = x
        .chunks_exact(dim)
        .zip(y.chunks_exact(dim))
        .map(|(u, v)| {
            let dot: f64 = u.iter().zip(v).map(|(p, q)| f64::from(*p) * f64::from(*q)).sum();
            let nu: f64 = u.iter().map(|p| f64::from(*p).powi(2)).sum::<f64>().sqrt();
            let nv: f64 = v.iter().map(|q| f64::from(*q).powi(2)).sum::<f64>().sqrt();
            dot / (nu * nv)
        })
        .collect();
    let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((cos.len(), min, cos.iter().sum::<f64>() / cos.len().max(1) as f64))
}

fn last_json<T: for<'de> Deserialize<'de>>(stdout: &str, who: &str) -> Result<T> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| anyhow!("{who} printed no JSON line"))?;
    serde_json::from_str(line).with_context(|| format!("{who} printed {line:?}, not the JSON expected"))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not the JSON expected", path.display()))
}

/// Runs `cargo xtask bench mine`.
pub fn mine(args: &MineArgs) -> Result<()> {
    if args.threads == 0 || args.queries == 0 || args.batch_size == 0 {
        bail!("--threads, --queries and --batch-size must each be at least 1");
    }
    let command = format!(
        "cargo xtask bench mine --threads {} --queries {} --batch-size {}",
        args.threads, args.queries, args.batch_size
    );
    let (root, out, command) = super::begin(OUT_DIR, command, args.venv.as_deref())?;

    let doppel = build_doppel(&root)?;
    build_dataset_from(&root, &doppel, DATASET_CONFIG, DATASET_DIR)?;
    let venv = venv_dir(&root, args.venv.as_deref())?;
    let python = ensure_venv_with(&venv, &PIP_PACKAGES, "torch, numpy, pyarrow, faiss, sentence_transformers")?;
    let noun = root.join("data/wordnet/data.noun");
    let text = fs::read_to_string(&noun).with_context(|| {
        format!("cannot read {}; get it with `cargo xtask data fetch --only wordnet`", noun.display())
    })?;
    let sentences = glosses(&text, 40, SENTENCES);
    let sentences_path = root.join("target/bench/sentences.txt");
    fs::write(&sentences_path, sentences.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", sentences_path.display()))?;
    let minilm_dir = root.join("data/minilm");
    if !minilm_dir.join("model.safetensors").is_file() {
        bail!("{} has no model.safetensors; get it with `cargo xtask data fetch --only minilm`", minilm_dir.display());
    }

    let busy_before = busy_cores();
    if let Some(busy) = busy_before.filter(|&b| b > 0.25) {
        eprintln!("bench: warning: other processes keep {busy:.2} cores busy; the numbers will be low");
    }
    let threads = args.threads.to_string();
    eprintln!("bench: doppel index (embed, build, {} queries)", args.queries);
    let mut cmd = Command::new(&doppel);
    cmd.env("RAYON_NUM_THREADS", &threads)
        .args(["mine", "bench-index", "--dataset", DATASET_DIR, "--config", MINE_CONFIG, "--out", OUT_DIR])
        .args(["--threads", &threads, "--queries", &args.queries.to_string()])
        .current_dir(&root);
    run_capturing(&mut cmd)?;
    let d: DoppelIndex = read_json(&out.join("index.json"))?;
    let q: Queries = read_json(&out.join("queries.json"))?;
    let doppel_recall = recall(&q.hnsw, &q.exact);

    eprintln!("bench: faiss index (same vectors, same M/ef, same queries)");
    let mut cmd = Command::new(&python);
    cmd.env("OMP_NUM_THREADS", &threads)
        .args([REF_SCRIPT, "index", "--vectors", &format!("{OUT_DIR}/vectors.f32")])
        .args(["--queries", &format!("{OUT_DIR}/queries.json")])
        .args(["--rows", &d.rows.to_string(), "--dim", &d.dim.to_string(), "--m", &d.m.to_string()])
        .args(["--ef-construction", &d.ef_construction.to_string(), "--ef-search", &d.ef_search.to_string()])
        .args(["--threads", &threads])
        .current_dir(&root);
    let f: FaissLine = last_json(&run_capturing(&mut cmd)?, REF_SCRIPT)?;
    let faiss_rows: Vec<Vec<usize>> =
        f.rows.iter().map(|r| r.iter().filter_map(|&x| usize::try_from(x).ok()).collect()).collect();
    let faiss_recall = recall(&faiss_rows, &q.exact);

    eprintln!("bench: doppel MiniLM ({} sentences)", sentences.len());
    let mut cmd = Command::new(&doppel);
    cmd.env("RAYON_NUM_THREADS", &threads)
        .args(["mine", "bench-minilm", "--sentences", "target/bench/sentences.txt", "--model-dir", "data/minilm"])
        .args(["--batch-size", &args.batch_size.to_string(), "--out", OUT_DIR])
        .current_dir(&root);
    let dm: MinilmLine = last_json(&run_capturing(&mut cmd)?, "doppel mine bench-minilm")?;
    eprintln!("bench: sentence-transformers MiniLM");
    let mut cmd = Command::new(&python);
    cmd.env("OMP_NUM_THREADS", &threads)
        .args([REF_SCRIPT, "minilm", "--sentences", "target/bench/sentences.txt", "--model-dir", "data/minilm"])
        .args(["--batch-size", &args.batch_size.to_string(), "--threads", &threads])
        .args(["--out", &format!("{OUT_DIR}/minilm-reference.f32")])
        .current_dir(&root);
    let st: MinilmLine = last_json(&run_capturing(&mut cmd)?, REF_SCRIPT)?;
    let (n, min_cos, mean_cos) = cosines(&out.join("minilm.f32"), &out.join("minilm-reference.f32"), 384)?;
    if n != dm.sentences || n != st.sentences {
        bail!("doppel embedded {} sentences, sentence-transformers {}, the files hold {n}", dm.sentences, st.sentences);
    }

    let date = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| utc_date(d.as_secs())).unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(md, "## `cargo xtask bench mine` — {date}\n");
    let _ = writeln!(md, "Command: `{command}`  ");
    let _ = writeln!(md, "Machine: {}  ", machine());
    let _ = writeln!(
        md,
        "Reference: faiss {}, sentence-transformers {} on torch {}; doppel {}  ",
        f.faiss,
        st.sentence_transformers.as_deref().unwrap_or("?"),
        st.torch.as_deref().unwrap_or("?"),
        revision(&root)
    );
    if let Some(b) = busy_before {
        let _ = writeln!(md, "Cores busy before the timed runs: {b:.2}  ");
    }
    let _ = writeln!(
        md,
        "\nIndex: {} MNIST training images, {MINE_CONFIG} (standardised pixels, PCA to {} dims, cosine), M {}, \
         ef_construction {}, ef_search {}; {} query rows, k = {}, {} threads. Both sides index the same vectors.\n",
        thousands(d.rows as f64),
        d.dim,
        d.m,
        d.ef_construction,
        d.ef_search,
        d.queries,
        d.k,
        args.threads
    );
    let _ = writeln!(md, "| | doppel (hnsw_rs graph, flat search) | faiss-cpu | doppel ÷ faiss time |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| HNSW build (s) | {:.2} (serial) | {:.2} | {:.2}× |",
        d.build_s,
        f.build_s,
        d.build_s / f.build_s
    );
    let _ = writeln!(
        md,
        "| HNSW queries (ms per query) | {:.3} | {:.3} | {:.2}× |",
        d.hnsw_query_s * 1e3 / d.queries as f64,
        f.query_s * 1e3 / d.queries as f64,
        d.hnsw_query_s / f.query_s
    );
    let _ = writeln!(md, "| recall@{} vs exact | {doppel_recall:.4} | {faiss_recall:.4} | |", d.k);
    let _ = writeln!(
        md,
        "| exact search (ms per query) | {:.3} (blocks of 64, SIMD) | {:.3} (IndexFlatL2, BLAS) | {:.2}× |",
        d.exact_query_s * 1e3 / d.queries as f64,
        f.exact_query_s * 1e3 / d.queries as f64,
        d.exact_query_s / f.exact_query_s
    );
    let _ = writeln!(
        md,
        "| HNSW speed-up over doppel's exact search | {:.1}× | {:.1}× | |",
        d.exact_query_s / d.hnsw_query_s,
        d.exact_query_s / f.query_s
    );
    let _ = writeln!(
        md,
        "\nMiniLM (all-MiniLM-L6-v2): {n} WordNet noun glosses, batch {}, {} threads.\n",
        args.batch_size, args.threads
    );
    let _ = writeln!(md, "| | doppel (burn flex) | sentence-transformers | doppel ÷ reference speed |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| sentences/s | {:.1} | {:.1} | {:.2}× |",
        dm.sentences_per_s,
        st.sentences_per_s,
        dm.sentences_per_s / st.sentences_per_s
    );
    let _ = writeln!(
        md,
        "| embeddings: 1 − cosine to the reference's, max / mean over sentences | {:.1e} / {:.1e} | 0 | |",
        1.0 - min_cos,
        1.0 - mean_cos
    );
    let path = root.join("target/bench/mine.md");
    fs::write(&path, &md).with_context(|| format!("cannot write {}", path.display()))?;
    print!("{md}");
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_is_the_found_share_of_exact_neighbours() {
        let exact = vec![vec![1, 2, 3, 4], vec![5, 6]];
        let approx = vec![vec![4, 3, 9, 1], vec![7, 8]];
        assert!((recall(&approx, &exact) - 0.375).abs() < 1e-12);
        assert!(recall(&[], &[]).is_nan());
    }

    #[test]
    fn glosses_take_every_nth_synset_and_skip_the_licence() {
        let data = "  1 licence line | not a gloss\n\
                    00001740 03 n 01 entity 0 003 | that which is perceived\n\
                    00001930 03 n 01 physical_entity 0 | an entity that has physical existence  \n\
                    00002137 03 n 02 abstraction 0 | a general concept\n";
        assert_eq!(
            glosses(data, 1, 10),
            ["that which is perceived", "an entity that has physical existence", "a general concept"]
        );
        assert_eq!(glosses(data, 2, 10), ["an entity that has physical existence"]);
        assert_eq!(glosses(data, 1, 1).len(), 1);
    }
}

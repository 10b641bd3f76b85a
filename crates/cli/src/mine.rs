//! `doppel mine`: embeddings, the HNSW index, look-alikes of the targets, near-duplicate groups, and the quality
//! of mining against the lineage, and the audit report.
//!
//! The embedder comes from the config: the model-free kinds (pixel, patch) from doppel-mine, the kinds that run
//! a model (features, minilm) from doppel-models, which doppel-mine cannot link.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use doppel_data::store::{self, DatasetDir};
use doppel_mine::polars::prelude::{AnyValue, DataFrame};
use doppel_mine::store::{Provenance, embed_dataset_in};
use doppel_mine::{DatasetEmbeddings, Embedder, EmbedderSpec, Index, MineConfig, Search, audit, mine, quality};
use doppel_models::{DeviceChoice, FeaturesEmbedder, MiniLmEmbedder};
use doppel_protocol::results::RESULT_FILE;
use doppel_protocol::{CommandResult, QualityResult};

mod bench;

use crate::train::DeviceArg;

/// `doppel mine …`.
#[derive(Debug, Subcommand)]
pub enum MineCmd {
    /// Embed both splits of a dataset into DATASET/embeddings/ (reused when config and dataset match).
    Embed(Common),
    /// The look-alikes of every target: counts by lineage relation, and every neighbour.
    Neighbours(NeighboursArgs),
    /// Near-duplicate groups of the train split and train↔test near-copies.
    Groups(GroupsArgs),
    /// Precision and recall of the mined look-alikes against the lineage over a threshold sweep, and HNSW
    /// recall@10 against exact search.
    Quality(QualityArgs),
    /// A Markdown report (OUT/audit.md) of duplicate groups, train↔test near-copies and look-alikes per target,
    /// with thumbnails of the closest pairs.
    Audit(AuditArgs),
    /// Times the HNSW index against exact search on this dataset's embeddings and writes what the reference
    /// (faiss) needs to do the same; used by `cargo xtask bench mine`.
    BenchIndex(bench::BenchIndexArgs),
    /// Times MiniLM embedding of the lines of a text file; used by `cargo xtask bench mine`.
    BenchMinilm(bench::BenchMinilmArgs),
}

/// What every `doppel mine` command reads.
#[derive(Debug, Args)]
pub struct Common {
    /// A dataset directory written by `doppel data build`.
    #[arg(long)]
    dataset: PathBuf,
    /// The mining config (embedder, index, thresholds), e.g. configs/mine/pixel.toml.
    #[arg(long)]
    config: PathBuf,
    /// Recompute the embeddings even when a matching file exists.
    #[arg(long)]
    force_embed: bool,
    /// Where the embeddings file is cached [default: DATASET/embeddings]; use it when the dataset directory must
    /// not change.
    #[arg(long, value_name = "DIR")]
    embeddings: Option<PathBuf>,
    /// Where model-backed embedders (features, minilm) run: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
}

/// Common arguments and an output directory.
#[derive(Debug, Args)]
pub struct OutArgs {
    #[command(flatten)]
    common: Common,
    /// Directory for the tables (Parquet) and figures; created if missing.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `doppel mine neighbours`.
#[derive(Debug, Args)]
pub struct NeighboursArgs {
    #[command(flatten)]
    o: OutArgs,
    /// Override mine.threshold of the config.
    #[arg(long)]
    threshold: Option<f32>,
    /// Mine the k nearest instead of a threshold (overrides mine.top_k).
    #[arg(long)]
    top_k: Option<usize>,
    /// Exact search instead of the HNSW graph.
    #[arg(long)]
    exact: bool,
}

/// Arguments of `doppel mine groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    #[command(flatten)]
    o: OutArgs,
    /// Override mine.group_threshold of the config.
    #[arg(long)]
    threshold: Option<f32>,
    /// Override mine.test_threshold of the config.
    #[arg(long)]
    test_threshold: Option<f32>,
    /// Exact search instead of the HNSW graph.
    #[arg(long)]
    exact: bool,
}

/// Arguments of `doppel mine quality`.
#[derive(Debug, Args)]
pub struct QualityArgs {
    #[command(flatten)]
    o: OutArgs,
    /// Exact search instead of the HNSW graph: the sweep's neighbours come from a full scan, no graph is built,
    /// and HNSW recall@10 is not measured (for large patch sketches, whose graph takes minutes to build).
    #[arg(long)]
    exact: bool,
}

/// Arguments of `doppel mine audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    o: OutArgs,
    /// Exact search instead of the HNSW graph.
    #[arg(long)]
    exact: bool,
}

/// Runs `doppel mine …`.
pub fn run(cmd: MineCmd) -> anyhow::Result<()> {
    match cmd {
        MineCmd::Embed(c) => {
            let (_, _, emb, prov, secs) = load(&c)?;
            let (what, path) = match &prov {
                Provenance::Reused(p) => ("reused", p),
                Provenance::Computed(p) => ("computed", p),
            };
            println!("embeddings {what}: {}", path.display());
            println!(
                "embedder   {}-{}: {} train + {} test rows of dimension {} ({secs:.2} s)",
                emb.embedder,
                emb.config_hash,
                emb.train.rows(),
                emb.test.rows(),
                emb.train.dim()
            );
            Ok(())
        }
        MineCmd::Neighbours(a) => neighbours(a),
        MineCmd::Groups(a) => groups(a),
        MineCmd::Quality(a) => quality_cmd(a),
        MineCmd::Audit(a) => audit_cmd(a),
        MineCmd::BenchIndex(a) => bench::bench_index(a),
        MineCmd::BenchMinilm(a) => bench::bench_minilm(a),
    }
}

/// Config, dataset, embeddings (computed or reused), and the seconds that took.
fn load(c: &Common) -> anyhow::Result<(MineConfig, DatasetDir, DatasetEmbeddings, Provenance, f64)> {
    let cfg = MineConfig::from_file(&c.config)?;
    let ds = store::open(&c.dataset)?;
    let mut embedder = build_embedder(&cfg.embedder, c.device)?;
    let started = Instant::now();
    // A setting that the data rule out (say `embedder.dim` above the image size) is reported against the file.
    let cache = c.embeddings.clone().unwrap_or_else(|| c.dataset.join("embeddings"));
    let (emb, prov) = embed_dataset_in(&cache, &c.dataset, &ds, embedder.as_mut(), c.force_embed)
        .map_err(|e| e.in_file(&c.config.display().to_string()))?;
    Ok((cfg, ds, emb, prov, started.elapsed().as_secs_f64()))
}

/// The embedder of the config: doppel-mine builds the model-free kinds, doppel-models the others.
fn build_embedder(spec: &EmbedderSpec, device: DeviceArg) -> anyhow::Result<Box<dyn Embedder>> {
    Ok(match spec {
        EmbedderSpec::Features { checkpoint, batch_size } => {
            let device = DeviceChoice::from(device).open()?;
            Box::new(FeaturesEmbedder::load(checkpoint, *batch_size, &device)?)
        }
        EmbedderSpec::Minilm { model_dir, batch_size } => {
            let device = DeviceChoice::from(device).open()?;
            Box::new(MiniLmEmbedder::load(model_dir, *batch_size, &device)?)
        }
        other => other.build()?,
    })
}

fn build_index(cfg: &MineConfig, emb: &DatasetEmbeddings) -> anyhow::Result<(Index, f64)> {
    let started = Instant::now();
    let index = Index::build(cfg.index, &emb.train_ids, &emb.train).context("building the HNSW index")?;
    Ok((index, started.elapsed().as_secs_f64()))
}

/// The index a search of kind `how` needs: without the graph for exact search, which does not use it.
fn index_for(cfg: &MineConfig, emb: &DatasetEmbeddings, how: Search) -> anyhow::Result<Index> {
    match how {
        Search::Hnsw => Ok(build_index(cfg, emb)?.0),
        Search::Exact => {
            Ok(Index::build_exact(cfg.index, &emb.train_ids, &emb.train).context("indexing for exact search")?)
        }
    }
}

/// Creates --out once everything it will hold is computed, so a run that fails on its input leaves no folder.
/// (Each file in it is written atomically; --out may be shared with other outputs, so it is not staged whole.)
fn out_dir(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

fn neighbours(a: NeighboursArgs) -> anyhow::Result<()> {
    let (cfg, ds, emb, _, _) = load(&a.o.common)?;
    let mut params = cfg.mine;
    if let Some(t) = a.threshold {
        params.threshold = t;
        params.top_k = None;
    }
    if let Some(k) = a.top_k {
        params.top_k = Some(k);
    }
    if a.exact {
        params.search = Search::Exact;
    }
    params.validate().map_err(|e| anyhow::anyhow!("{e}").context("--threshold/--top-k"))?;
    let index = index_for(&cfg, &emb, params.search)?;
    let found = mine::neighbours_of(&index, &emb, &mine::target_rows(&ds.train.samples), &params)?;
    let (mut long, mut per_target) = mine::neighbour_tables(&ds.train.samples, &found)?;
    out_dir(&a.o.out)?;
    mine::write_table(&mut long, &a.o.out.join("neighbours.parquet"))?;
    mine::write_table(&mut per_target, &a.o.out.join("target_counts.parquet"))?;
    let rule = match params.top_k {
        Some(k) => format!("the {k} nearest"),
        None => format!("within distance {} ({})", params.threshold, cfg.index.metric.name()),
    };
    println!("look-alikes of {} targets: {rule}, {:?} search", found.len(), params.search);
    print_table(&per_target);
    println!(
        "wrote {} and {}",
        a.o.out.join("neighbours.parquet").display(),
        a.o.out.join("target_counts.parquet").display()
    );
    Ok(())
}

fn groups(a: GroupsArgs) -> anyhow::Result<()> {
    let (cfg, ds, emb, _, _) = load(&a.o.common)?;
    let how = if a.exact { Search::Exact } else { cfg.mine.search };
    let threshold = a.threshold.unwrap_or(cfg.mine.group_threshold);
    let test_threshold = a.test_threshold.unwrap_or(cfg.mine.test_threshold);
    let index = index_for(&cfg, &emb, how)?;
    let gs = mine::groups(&index, &emb, threshold, cfg.mine.max_neighbours, how)?;
    let mut gt = mine::group_table(&ds.train.samples, &gs)?;
    let pairs = mine::test_pairs(&index, &emb, test_threshold, cfg.mine.max_neighbours, how)?;
    let mut pt = mine::pair_table(&pairs, &ds.train, &ds.test)?;
    out_dir(&a.o.out)?;
    mine::write_table(&mut gt, &a.o.out.join("groups.parquet"))?;
    mine::write_table(&mut pt, &a.o.out.join("test_pairs.parquet"))?;
    let in_groups: usize = gs.iter().map(Vec::len).sum();
    println!(
        "{} near-duplicate groups (distance ≤ {threshold}) holding {in_groups} of {} train samples",
        gs.len(),
        emb.train.rows()
    );
    print_table(&gt);
    let tests: std::collections::BTreeSet<u32> = pairs.iter().map(|p| p.test_id).collect();
    println!(
        "{} train↔test pairs (distance ≤ {test_threshold}); {} of {} test samples have a near-copy in train",
        pairs.len(),
        tests.len(),
        emb.test.rows()
    );
    print_table(&pt);
    println!("wrote {} and {}", a.o.out.join("groups.parquet").display(), a.o.out.join("test_pairs.parquet").display());
    Ok(())
}

fn quality_cmd(q: QualityArgs) -> anyhow::Result<()> {
    let a = &q.o;
    let (cfg, ds, emb, prov, embed_s) = load(&a.common)?;
    let mut params = cfg.quality.clone();
    let started = Instant::now();
    let index = if q.exact {
        params.search = Search::Exact;
        index_for(&cfg, &emb, Search::Exact)?
    } else {
        build_index(&cfg, &emb)?.0
    };
    let build_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let rows = quality::sweep(&index, &emb, &ds.train.samples, &params)?;
    let sweep_s = started.elapsed().as_secs_f64();
    let mut table = quality::quality_table(&rows)?;
    out_dir(&a.out)?;
    mine::write_table(&mut table, &a.out.join("quality.parquet"))?;
    doppel_stdx::write_atomic(&a.out.join("quality.csv"), quality::quality_csv(&rows).as_bytes())?;
    let ratio = |v: f64| Some(v).filter(|v| !v.is_nan());
    let result = doppel_protocol::tagged!(QualityResult {
        rows: rows
            .iter()
            .map(|r| doppel_protocol::QualityRow {
                rule: r.rule.to_string(),
                value: r.value,
                mined: r.mined,
                correct: r.correct,
                variants: r.variants,
                precision: ratio(r.precision),
                recall: ratio(r.recall),
                set_precision: ratio(r.set_precision),
                set_recall: ratio(r.set_recall),
                complete: r.complete,
                targets: r.targets,
            })
            .collect(),
    });
    doppel_stdx::write_atomic(&a.out.join(RESULT_FILE), result.to_json().as_bytes())?;
    quality::pr_curve_png(&rows, &a.out.join("pr_curve.png"))?;
    println!(
        "mining quality of {}-{} ({} train rows, dim {}, {} distance, {} search) against the lineage",
        emb.embedder,
        emb.config_hash,
        emb.train.rows(),
        emb.train.dim(),
        cfg.index.metric.name(),
        if q.exact { "exact" } else { "hnsw" }
    );
    print_table(&table);
    let recall_s = if q.exact {
        println!("hnsw recall@10: not measured (--exact builds no graph)");
        0.0
    } else {
        let started = Instant::now();
        let recall = quality::hnsw_recall(&index, cfg.quality.recall_queries, 10, cfg.quality.seed);
        println!(
            "hnsw recall@10 vs exact search: {recall:.4} over {} queries (M {}, ef_construction {}, ef_search {})",
            cfg.quality.recall_queries.min(index.len()),
            cfg.index.m,
            cfg.index.ef_construction,
            cfg.index.ef_search
        );
        started.elapsed().as_secs_f64()
    };
    println!(
        "wall time: embed {embed_s:.2} s ({}), index build {build_s:.2} s, sweep {sweep_s:.2} s, recall@10 {recall_s:.2} s",
        if matches!(prov, Provenance::Reused(_)) { "reused" } else { "computed" }
    );
    println!(
        "wrote {}, {} and {}",
        a.out.join("quality.parquet").display(),
        a.out.join("quality.csv").display(),
        a.out.join("pr_curve.png").display()
    );
    Ok(())
}

fn audit_cmd(a: AuditArgs) -> anyhow::Result<()> {
    let (cfg, ds, emb, _, embed_s) = load(&a.o.common)?;
    let mut params = cfg.mine;
    if a.exact {
        params.search = Search::Exact;
    }
    let (index, build_s) = build_index(&cfg, &emb)?;
    let started = Instant::now();
    let found = audit::audit(&ds, &emb, &index, cfg.index.metric.name(), &params)?;
    let name = a.o.common.dataset.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let md = audit::write_report(&found, &ds, &name, &a.o.out)?;
    print!("{md}");
    println!(
        "wall time: embed {embed_s:.2} s, index build {build_s:.2} s, audit {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!("wrote {}", a.o.out.join("audit.md").display());
    Ok(())
}

/// Prints a table in aligned columns, every row (polars' own printing cuts long tables).
fn print_table(df: &DataFrame) {
    let cols = df.columns();
    let cell = |v: AnyValue<'_>| match v {
        AnyValue::Null => "-".to_string(),
        AnyValue::Float32(x) => format!("{x:.4}"),
        AnyValue::Float64(x) => format!("{x:.4}"),
        AnyValue::String(s) => s.to_string(),
        other => other.to_string(),
    };
    let mut grid: Vec<Vec<String>> = vec![cols.iter().map(|c| c.name().to_string()).collect()];
    for r in 0..df.height() {
        grid.push(cols.iter().map(|c| c.get(r).map(cell).unwrap_or_default()).collect());
    }
    let widths: Vec<usize> =
        (0..cols.len()).map(|j| grid.iter().map(|row| row[j].chars().count()).max().unwrap_or(0)).collect();
    for row in grid {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
}

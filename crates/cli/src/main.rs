//! `doppel`: the command line of the doppel toolkit.
//!
//! Results go to stdout or files; logs and progress go to stderr (`--log` or `RUST_LOG` set the filter).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use doppel_data::{BuildConfig, store};

mod attack;
mod config_arg;
mod eval;
mod lm;
mod lm_unlearn;
mod mine;
mod mined;
mod provenance;
mod report;
mod spam;
mod train;
mod unlearn;

/// mimalloc keeps freed memory for reuse. With glibc's malloc, the multi-megabyte tensors of each training step
/// are unmapped when freed and page-faulted in again on the next step, which cost the CNN about a third of its
/// speed (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// doppel: machine unlearning with look-alikes in the training set.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Log filter for stderr (tracing EnvFilter syntax), e.g. `info` or `doppel_data=debug`. The default keeps
    /// hnsw_rs's parameter dump out of the way.
    #[arg(long, global = true, default_value = "info,hnsw_rs=warn", env = "RUST_LOG")]
    log: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build and inspect similarity-entailed datasets.
    #[command(subcommand)]
    Data(DataCmd),
    /// Train M0 and the oracles (retrain_exact, retrain_clean) on a dataset directory.
    Train(train::TrainArgs),
    /// Mine look-alikes: embeddings, an HNSW index, neighbours of targets, duplicate groups, mining quality.
    #[command(subcommand)]
    Mine(mine::MineCmd),
    /// Evaluate M0, the oracles and any other model of one or more runs: metrics on F, S, R and test, tables.
    Eval(eval::EvalArgs),
    /// Unlearn a scope from a trained model with one method (retrain, ft, ga, neggrad_plus, rl, l1_sparse, salun,
    /// scrub, boundary_shrink, boundary_expanding, ssd, bad_teacher).
    Unlearn(unlearn::UnlearnArgs),
    /// Reconstruct the targets from models (KKT training-set reconstruction, model inversion) and score them by
    /// SSIM with controls; tables, PNG grids and a Markdown summary.
    Attack(attack::AttackArgs),
    /// The language arm's causal LM: train on a QA dataset's rows of one role, evaluate (perplexity, answer NLL,
    /// ROUGE-L, Min-K% MIA), generate.
    #[command(subcommand)]
    Lm(lm::LmCmd),
    /// Parquet twins of a report's CSV tables and its figures (PNG): metrics against k per method and scope,
    /// with the oracles as references (e.g. `--tables results/cpu/tables --out results/cpu`).
    Report(report::ReportArgs),
}

#[derive(Debug, Subcommand)]
enum DataCmd {
    /// Build a dataset directory from a TOML config (targets, variants, lineage).
    Build(BuildArgs),
    /// Check a dataset directory against its manifest and print its counts.
    Info(InfoArgs),
    /// Build the paraphrase-entailed QA dataset of the language arm from WordNet glosses (e.g.
    /// configs/qa-wordnet.toml): targets, paraphrases kept by MiniLM cosine, lineage, a sample sheet.
    BuildQa(BuildQaArgs),
    /// Build the SpamAssassin dataset (e.g. configs/spam-assassin.toml): binary bag-of-words features, natural
    /// look-alike groups (cosine threshold, identical bodies) as lineage, targets with or without look-alikes.
    BuildSpam(spam::BuildSpamArgs),
}

#[derive(Debug, Args)]
struct BuildQaArgs {
    /// The QA config, e.g. configs/qa-wordnet.toml.
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    overrides: config_arg::Overrides,
    /// The dataset directory to write; it must not exist unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Where `cargo xtask data fetch` put WordNet (wordnet/) and MiniLM (minilm/).
    #[arg(long, env = "DOPPEL_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// What scores a paraphrase against its target: minilm (all-MiniLM-L6-v2, the study's setting) or
    /// bag-of-words (hashed word counts; no model needed, for quick looks).
    #[arg(long, value_enum, default_value_t = QaEmbedder::Minilm)]
    embedder: QaEmbedder,
    /// Where MiniLM runs: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = train::DeviceArg::Flex)]
    device: train::DeviceArg,
    /// Replace --out if it exists (the old directory is removed only after the new one is complete).
    #[arg(long)]
    force: bool,
}

/// The paraphrase scorers of `doppel data build-qa`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum QaEmbedder {
    /// all-MiniLM-L6-v2.
    Minilm,
    /// Hashed bag of words.
    BagOfWords,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// The build config, e.g. configs/mnist-occlusion.toml.
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    overrides: config_arg::Overrides,
    /// Scale the config's `[[variants]]` groups to K look-alikes per target in all (in proportion to their
    /// `per_target`; 0 builds the dataset without variants), after any --set.
    #[arg(long, value_name = "K")]
    variants_per_target: Option<usize>,
    /// The dataset directory to write; it must not exist unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Where `cargo xtask data fetch` put the source datasets.
    #[arg(long, env = "DOPPEL_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Replace --out if it exists (the old directory is removed only after the new one is complete).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// A directory written by `doppel data build`.
    dir: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", doppel_stdx::errors::one_line(e.chain()));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Data(DataCmd::Build(a)) => build(a),
        Cmd::Data(DataCmd::Info(a)) => info(a),
        Cmd::Data(DataCmd::BuildQa(a)) => build_qa(a),
        Cmd::Data(DataCmd::BuildSpam(a)) => spam::run(a),
        Cmd::Train(a) => train::run(a),
        Cmd::Mine(c) => mine::run(c),
        Cmd::Unlearn(a) => unlearn::run(a),
        Cmd::Eval(a) => eval::run(a),
        Cmd::Attack(a) => attack::run(a),
        Cmd::Lm(c) => lm::run(c),
        Cmd::Report(a) => report::run(a),
    }
}

fn build(a: BuildArgs) -> anyhow::Result<()> {
    let used = config_arg::read(&a.config, &a.overrides.sets, a.variants_per_target)?;
    let cfg = BuildConfig::from_toml(&used.text, &used.file)?;
    if a.out.exists() && !a.force {
        // Checked before the (possibly long) build, and again by the writer.
        return Err(doppel_data::DataError::OutputExists { path: a.out }.into());
    }
    let started = std::time::Instant::now();
    let built = doppel_data::build_dataset(&cfg, &used.file, &a.data_dir)?;
    let manifest = store::write(&built, &a.out, a.force).with_context(|| format!("writing {}", a.out.display()))?;
    tracing::info!(seconds = format!("{:.1}", started.elapsed().as_secs_f64()), "done");
    used.write_into(&a.out)?;
    write_dataset_result(&a.out, &manifest.name, &manifest.train.per_origin, manifest.test.total)?;
    print_summary(&manifest, &a.out);
    Ok(())
}

/// `OUT/result.json` of the `doppel data build*` commands: the dataset's counts by origin (doppel-protocol's
/// `DatasetResult`), written once the dataset directory is in place. It is not one of the manifest's files.
pub(crate) fn write_dataset_result(
    out: &std::path::Path,
    name: &str,
    per_origin: &std::collections::BTreeMap<String, usize>,
    test: usize,
) -> anyhow::Result<()> {
    use doppel_protocol::{CommandResult, DatasetResult, tagged};
    let origin = |k: &str| per_origin.get(k).copied().unwrap_or(0) as u64;
    let result = tagged!(DatasetResult {
        name: name.to_string(),
        base: origin("base"),
        targets: origin("target"),
        variants: origin("variant"),
        test: test as u64,
    });
    doppel_stdx::write_atomic(&out.join(doppel_protocol::results::RESULT_FILE), result.to_json().as_bytes())?;
    Ok(())
}

fn build_qa(a: BuildQaArgs) -> anyhow::Result<()> {
    let used = config_arg::read(&a.config, &a.overrides.sets, None)?;
    let cfg = doppel_text::QaConfig::from_toml(&used.text, &used.file)?;
    if a.out.exists() && !a.force {
        anyhow::bail!("{} exists; pass --force to replace it", a.out.display());
    }
    let embedder: Box<dyn doppel_mine::Embedder> = match a.embedder {
        QaEmbedder::BagOfWords => Box::new(doppel_text::BagOfWords::new(4096)),
        QaEmbedder::Minilm => {
            let device = doppel_models::DeviceChoice::from(a.device).open()?;
            Box::new(doppel_models::MiniLmEmbedder::load(&a.data_dir.join("minilm"), 64, &device)?)
        }
    };
    let started = std::time::Instant::now();
    let built = doppel_text::build_qa(&cfg, &a.data_dir.join("wordnet"), embedder.as_ref())?;
    let m = doppel_text::write(&built, &a.out, a.force).with_context(|| format!("writing {}", a.out.display()))?;
    tracing::info!(seconds = format!("{:.1}", started.elapsed().as_secs_f64()), "done");
    used.write_into(&a.out)?;
    write_dataset_result(&a.out, &m.name, &m.train.per_origin, m.test.total)?;
    let origin = |c: &doppel_text::store::Counts, k: &str| c.per_origin.get(k).copied().unwrap_or(0);
    println!("QA dataset {} in {}", m.name, a.out.display());
    println!(
        "train {} = {} base + {} targets + {} paraphrases; test {}",
        m.train.total,
        origin(&m.train, "base"),
        origin(&m.train, "target"),
        origin(&m.train, "variant"),
        m.test.total
    );
    let p = &m.paraphrases;
    println!(
        "paraphrases: {} generated, {} scored, {} kept at cosine ≥ {} (per target min {} / mean {:.1} / max {}, cap {})",
        p.generated, p.scored, p.kept, p.threshold, p.kept_min, p.kept_mean, p.kept_max, p.per_target
    );
    if let Some(q) = &p.cosine_kept {
        println!(
            "kept cosine quantiles 0/0.1/0.5/0.9/1: {:.3} / {:.3} / {:.3} / {:.3} / {:.3}",
            q.q0, q.q10, q.q50, q.q90, q.q100
        );
    }
    println!("sample sheet: {}", a.out.join("sheet.md").display());
    Ok(())
}

fn info(a: InfoArgs) -> anyhow::Result<()> {
    let dir = store::open(&a.dir)?;
    print_summary(&dir.manifest, &a.dir);
    println!("all {} files match their sha256", dir.manifest.files.len());
    Ok(())
}

fn print_summary(m: &store::Manifest, dir: &std::path::Path) {
    let origin = |c: &store::Counts, k: &str| c.per_origin.get(k).copied().unwrap_or(0);
    println!("dataset {} in {}", m.name, dir.display());
    println!(
        "source  {}: {} train + {} test images{}",
        m.source.dataset,
        m.source.train,
        m.source.test,
        m.source.artifact_sha256.as_deref().map(|s| format!(" (artifact sha256 {s})")).unwrap_or_default()
    );
    println!(
        "train   {} = {} base + {} targets + {} variants (k = {} per target)",
        m.train.total,
        origin(&m.train, "base"),
        origin(&m.train, "target"),
        origin(&m.train, "variant"),
        m.variants_per_target
    );
    println!("test    {}", m.test.total);
    println!("shape   {}×{}×{}, seed {}", m.shape.channels, m.shape.height, m.shape.width, m.seeds.master);
    println!("{:<16} {:>8} {:>8}", "class", "train", "test");
    for (i, name) in m.class_names.iter().enumerate() {
        println!("{:<16} {:>8} {:>8}", name, m.train.per_class[i], m.test.per_class[i]);
    }
    for (file, sha) in &m.files {
        println!("{file:<18} sha256 {sha}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

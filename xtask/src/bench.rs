//! `cargo xtask bench train`: doppel's training throughput next to PyTorch's, same data, batch and threads.
//!
//! The run has four steps, each skipped when its result is already there:
//!
//! 1. `cargo build --release -p doppel-cli`, once; the xtask then only calls the `doppel` binary.
//! 2. `doppel data build` of [`DATASET_CONFIG`] (10,240 MNIST training images, 1,024 per class) into
//!    [`DATASET_DIR`], unless its `manifest.json` exists.
//! 3. A Python venv holding [`PIP_PACKAGES`] (`--venv`, else `$DOPPEL_BENCH_VENV`, else `target/bench-venv`),
//!    unless `import torch, numpy, pyarrow` already works in it.
//! 4. For each repeat, in turn: doppel MLP, PyTorch MLP, doppel CNN, PyTorch CNN. doppel trains a copy of
//!    `configs/bench/train-{mlp,cnn}.toml` with `epochs` set to `--epochs` ([`with_epochs`]) and reports
//!    `samples_per_second` in `m0/model.json`; [`TORCH_SCRIPT`] trains the same network on the same rows (it reads
//!    the dataset's `train.parquet`) and prints one JSON line.
//!
//! The medians over repeats go to stdout and to `target/bench/train.md` as one Markdown report
//! ([`render_markdown`]); progress goes to stderr. Just before the timed runs the bench measures how many cores
//! other processes keep busy ([`busy_cores`]) and warns when they do, because PyTorch's spinning OpenMP threads
//! slow down badly on a shared core.

use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::workspace_root;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Deserialize;

/// The PyTorch release the reference is pinned to.
pub const TORCH_SPEC: &str = "torch==2.15.0";

/// What the venv gets: PyTorch, numpy (which it hands the rows through) and pyarrow (which reads
/// `train.parquet`, so both sides train on the very same rows).
pub const PIP_PACKAGES: [&str; 3] = [TORCH_SPEC, "numpy", "pyarrow"];

/// The minibatch size of both sides; the bench train configs say the same.
pub const BATCH: usize = 128;

/// The bench dataset's build config, from the workspace root.
pub const DATASET_CONFIG: &str = "configs/bench/mnist-10k.toml";

/// Where the bench dataset is built, from the workspace root.
pub const DATASET_DIR: &str = "target/bench/mnist-10k";

/// Scratch files, run outputs and the Markdown report, from the workspace root.
pub const BENCH_DIR: &str = "target/bench";

/// The PyTorch side, from the workspace root.
pub const TORCH_SCRIPT: &str = "xtask/bench/train_torch.py";

/// The options of `cargo xtask bench train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// CPU threads for both sides: RAYON_NUM_THREADS for doppel, torch.set_num_threads for PyTorch.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub threads: usize,
    /// Passes over the 10,240 training images in each run.
    #[arg(long, default_value_t = 2, value_name = "E")]
    pub epochs: usize,
    /// Runs of each model on each side; the table shows their median.
    #[arg(long, default_value_t = 2, value_name = "R")]
    pub repeats: usize,
    /// The Python venv for PyTorch [default: target/bench-venv at the workspace root].
    #[arg(long, value_name = "DIR", env = "DOPPEL_BENCH_VENV")]
    pub venv: Option<PathBuf>,
}

/// The two networks the bench trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// 784-256-128-10 with ReLU.
    Mlp,
    /// Two 5×5 convolutions (16, 32 channels) with max-pooling, then 128 units.
    Cnn,
}

impl Model {
    /// Both, in the order each repeat runs them.
    pub const ALL: [Model; 2] = [Model::Mlp, Model::Cnn];

    /// The name the script and the table use.
    pub fn name(self) -> &'static str {
        match self {
            Model::Mlp => "mlp",
            Model::Cnn => "cnn",
        }
    }
}

/// One training run's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// Training samples per second over the whole loop.
    pub samples_per_second: f64,
    /// Mean training loss of the last epoch.
    pub final_loss: f64,
}

/// Every run of one model, both sides, in repeat order.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelResult {
    /// The model.
    pub model: Model,
    /// doppel's runs.
    pub doppel: Vec<Run>,
    /// PyTorch's runs.
    pub torch: Vec<Run>,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The command that produced it, as one would type it.
    pub command: String,
    /// The UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// CPUs and CPU model.
    pub machine: String,
    /// Versions of the Python side, e.g. `torch 2.15.0+cu132, numpy 2.4.6, pyarrow 26.0.1`.
    pub python: String,
    /// The doppel revision, e.g. `git 1a2b3c4 (uncommitted changes)`.
    pub doppel: String,
    /// Cores kept busy by everything on the machine just before the first timed run ([`busy_cores`]), when
    /// /proc/stat has it. PyTorch's OpenMP threads spin while they wait, so a busy core slows it badly.
    pub busy_before: Option<f64>,
    /// CPU threads of both sides.
    pub threads: usize,
    /// Passes over the data per run.
    pub epochs: usize,
    /// Training images.
    pub rows: usize,
    /// One entry per model.
    pub models: Vec<ModelResult>,
}

/// The median of `xs`, the mean of the two middle values for an even count; `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// `text` (a training config) with its top-level `epochs = …` set to `epochs`, keeping the line's indent and
/// comment. Lines inside tables (after the first `[header]`) are left alone. `file` names the config in errors.
pub fn with_epochs(text: &str, epochs: usize, file: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut found = 0;
    let mut in_table = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let trimmed = body.trim_start();
        if trimmed.starts_with('[') {
            in_table = true;
        }
        let is_epochs =
            !in_table && trimmed.strip_prefix("epochs").is_some_and(|rest| rest.trim_start().starts_with('='));
        if !is_epochs {
            out.push_str(line);
            continue;
        }
        found += 1;
        let indent = &body[..body.len() - trimmed.len()];
        // A comment starts at the first `#`: the value is an integer, so no `#` can sit inside a string.
        let comment = trimmed.find('#').map(|at| format!(" {}", &trimmed[at..])).unwrap_or_default();
        out.push_str(&format!("{indent}epochs = {epochs}{comment}{ending}"));
    }
    match found {
        1 => Ok(out),
        0 => bail!("{file} has no top-level `epochs = …` line; add one above the first [table]"),
        n => bail!("{file} has {n} top-level `epochs = …` lines; keep one"),
    }
}

/// `x` rounded to an integer with thousands separators: `12345.6` → `12,346`.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 && digits != "0" { format!("-{out}") } else { out }
}

/// The UTC calendar date of `unix_seconds`, `YYYY-MM-DD` (Howard Hinnant's `civil_from_days`).
pub fn utc_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Whether two final losses disagree enough to suspect that the two sides do not train the same thing: more
/// than 0.25 apart and more than a factor of 2.
pub fn losses_disagree(a: f64, b: f64) -> bool {
    if !(a.is_finite() && b.is_finite()) {
        return true;
    }
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    hi - lo > 0.25 && hi > 2.0 * lo
}

/// The report as Markdown: the throughput table, the per-repeat numbers, the loss check and the setup.
pub fn render_markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ =
        writeln!(s, "| model | doppel flex samples/s | PyTorch samples/s | ratio (doppel/torch) | threads | batch |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in &r.models {
        let d = median(&m.doppel.iter().map(|x| x.samples_per_second).collect::<Vec<_>>()).unwrap_or(f64::NAN);
        let t = median(&m.torch.iter().map(|x| x.samples_per_second).collect::<Vec<_>>()).unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {} | {BATCH} |",
            m.model.name(),
            thousands(d),
            thousands(t),
            d / t,
            r.threads
        );
    }
    let repeats = r.models.first().map_or(0, |m| m.doppel.len());
    let _ = writeln!(
        s,
        "\nMedians of {repeats} repeat(s); each run trains {} epoch(s) over the same {} MNIST training images.",
        r.epochs,
        thousands(r.rows as f64)
    );
    let list = |runs: &[Run]| runs.iter().map(|x| thousands(x.samples_per_second)).collect::<Vec<_>>().join(", ");
    let _ = writeln!(s, "Every run, in order:\n");
    for m in &r.models {
        let _ = writeln!(s, "- {}: doppel {}; PyTorch {}", m.model.name(), list(&m.doppel), list(&m.torch));
    }
    let _ = writeln!(s, "\nMean training loss of the last epoch, last repeat (a sanity check, not a target):\n");
    let _ = writeln!(s, "| model | doppel | PyTorch | |");
    let _ = writeln!(s, "| --- | ---: | ---: | --- |");
    for m in &r.models {
        let d = m.doppel.last().map_or(f64::NAN, |x| x.final_loss);
        let t = m.torch.last().map_or(f64::NAN, |x| x.final_loss);
        let verdict = if losses_disagree(d, t) { "far apart: check the two trainings" } else { "close" };
        let _ = writeln!(s, "| {} | {d:.4} | {t:.4} | {verdict} |", m.model.name());
    }
    let _ = writeln!(s, "\n- command: `{}`", r.command);
    let _ = writeln!(s, "- date: {} (UTC)", r.date);
    let _ = writeln!(s, "- machine: {}", r.machine);
    if let Some(busy) = r.busy_before {
        let _ = writeln!(s, "- CPU in use by other processes just before the timed runs: {busy:.2} cores (over 1 s)");
    }
    let _ = writeln!(s, "- doppel: {}, burn flex backend, release build", r.doppel);
    let _ = writeln!(s, "- reference: {}", r.python);
    s
}

/// Quotes `arg` for a POSIX shell when it needs it, so printed commands can be pasted.
pub(crate) fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// A command as one could type it.
pub(crate) fn display(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}={}", k.to_string_lossy(), shell_quote(&v.to_string_lossy()))))
        .collect();
    parts.push(shell_quote(&cmd.get_program().to_string_lossy()));
    parts.extend(cmd.get_args().map(|a| shell_quote(&a.to_string_lossy())));
    parts.join(" ")
}

/// Runs `cmd` with stderr passed through (the child's progress) and returns its stdout. A failure names the
/// command and shows the end of its stdout.
pub(crate) fn run_capturing(cmd: &mut Command) -> Result<String> {
    let shown = display(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let tail: Vec<&str> = stdout.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let shown_tail =
            if tail.is_empty() { String::new() } else { format!("; its stdout ended:\n    {}", tail.join("\n    ")) };
        bail!("`{shown}` failed with {}{shown_tail}", out.status);
    }
    Ok(stdout)
}

/// Runs `cmd` with stdout sent to our stderr, for tools whose output is progress (cargo, pip).
pub(crate) fn run_progress(cmd: &mut Command) -> Result<()> {
    let shown = display(cmd);
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed with {status}");
    }
    Ok(())
}

/// Step 1: builds the release `doppel` binary and returns its path.
pub(crate) fn build_doppel(root: &Path) -> Result<PathBuf> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    eprintln!("bench: building the release doppel binary (cargo build --release -p doppel-cli)");
    run_progress(Command::new(&cargo).args(["build", "--release", "-p", "doppel-cli"]).current_dir(root))
        .context("the release build of doppel failed; fix it, then rerun the bench")?;
    // cargo resolves a relative CARGO_TARGET_DIR against the folder it runs in, which is the root here.
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    let binary = target.join("release").join("doppel");
    if !binary.is_file() {
        bail!("the build succeeded but {} does not exist; is the target folder set elsewhere?", binary.display());
    }
    Ok(binary)
}

/// Step 2: builds the bench dataset unless its manifest exists.
fn build_dataset(root: &Path, doppel: &Path) -> Result<PathBuf> {
    build_dataset_from(root, doppel, DATASET_CONFIG, DATASET_DIR)
}

/// Builds the dataset of `config` (from the root) into `dir` unless its manifest exists.
pub(crate) fn build_dataset_from(root: &Path, doppel: &Path, config: &str, dir_name: &str) -> Result<PathBuf> {
    let dir = root.join(dir_name);
    if dir.join("manifest.json").is_file() {
        eprintln!("bench: dataset {} present", dir.display());
        return Ok(dir);
    }
    let pickle = root.join("data/mnist/mnist.pkl.gz");
    if !pickle.is_file() {
        bail!("{} is missing; get it with `cargo xtask data fetch --only mnist`, then rerun", pickle.display());
    }
    eprintln!("bench: building the dataset {dir_name} from {config}");
    let mut cmd = Command::new(doppel);
    cmd.args(["data", "build", "--config", config, "--out", dir_name, "--force", "--data-dir", "data"])
        .current_dir(root);
    run_progress(&mut cmd)?;
    Ok(dir)
}

/// The bench venv: `--venv` (or `$DOPPEL_BENCH_VENV`) made absolute, else `target/bench-venv` at the root.
pub(crate) fn venv_dir(root: &Path, given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(v) => std::path::absolute(v).with_context(|| format!("cannot resolve --venv {}", v.display())),
        None => Ok(root.join("target/bench-venv")),
    }
}

/// The venv's Python interpreter.
pub(crate) fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Step 3: makes sure the venv can import torch, numpy and pyarrow, creating it and running pip when not.
fn ensure_venv(venv: &Path) -> Result<PathBuf> {
    ensure_venv_with(venv, &PIP_PACKAGES, "torch, numpy, pyarrow")
}

/// Makes sure the venv can `import {imports}`, creating it and running `pip install {packages}` when not.
pub(crate) fn ensure_venv_with(venv: &Path, packages: &[&str], imports: &str) -> Result<PathBuf> {
    let python = venv_python(venv);
    let works = |python: &Path| {
        Command::new(python)
            .args(["-c", &format!("import {imports}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if works(&python) {
        eprintln!("bench: venv {} has {imports}", venv.display());
        return Ok(python);
    }
    let v = shell_quote(&venv.display().to_string());
    let pip = format!("{v}/bin/python -m pip install {}", packages.join(" "));
    let retry = format!("python3 -m venv {v} && {pip}");
    if !python.is_file() {
        eprintln!("bench: creating the venv {} (python3 -m venv)", venv.display());
        let mut cmd = Command::new("python3");
        cmd.arg("-m").arg("venv").arg(venv);
        run_progress(&mut cmd).map_err(|e| {
            anyhow!(
                "creating the venv failed: {e:#}\n(on Debian or Ubuntu, `python3 -m venv` needs \
                 `apt-get install python3-venv`)\nRetry by hand with: {retry}"
            )
        })?;
    }
    eprintln!(
        "bench: installing {} into {} with pip; PyTorch and the CUDA libraries it depends on are several GB \
         to download and about 4 GB on disk",
        packages.join(" "),
        venv.display()
    );
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "install"]).args(packages);
    run_progress(&mut cmd).map_err(|e| {
        anyhow!("pip could not install the PyTorch reference: {e:#}\n(pip's own messages are above)\nRetry by hand with: {retry}")
    })?;
    if !works(&python) {
        bail!("pip finished, but `import {imports}` still fails in {}\nRetry by hand with: {retry}", venv.display());
    }
    Ok(python)
}

/// The parts of doppel's `model.json` that the bench reads.
#[derive(Debug, Deserialize)]
struct Sidecar {
    /// The training report.
    report: SidecarReport,
}

/// `model.json`'s `report`.
#[derive(Debug, Deserialize)]
struct SidecarReport {
    /// Rows trained on.
    rows: usize,
    /// Training throughput over the whole loop.
    samples_per_second: f64,
    /// Per-epoch logs.
    epochs: Vec<SidecarEpoch>,
}

/// One of `report.epochs`.
#[derive(Debug, Deserialize)]
struct SidecarEpoch {
    /// Mean minibatch loss.
    loss: f64,
}

/// The JSON line that the PyTorch script prints.
#[derive(Debug, Deserialize)]
struct TorchLine {
    /// Training throughput over the whole loop.
    samples_per_second: f64,
    /// Mean training loss of the last epoch.
    final_loss: f64,
    /// Rows trained on.
    rows: usize,
    /// `torch.__version__`.
    torch: String,
    /// `numpy.__version__`.
    numpy: String,
    /// `pyarrow.__version__`.
    pyarrow: String,
}

/// One doppel training run; returns its result and the rows it trained on.
fn run_doppel(root: &Path, doppel: &Path, config: &Path, model: Model, threads: usize) -> Result<(Run, usize)> {
    let out = root.join(BENCH_DIR).join(format!("run-{}", model.name()));
    let mut cmd = Command::new(doppel);
    cmd.env("RAYON_NUM_THREADS", threads.to_string())
        .arg("train")
        .arg("--dataset")
        .arg(DATASET_DIR)
        .arg("--config")
        .arg(config)
        .args(["--which", "m0", "--out"])
        .arg(&out)
        .arg("--force")
        .current_dir(root);
    run_capturing(&mut cmd)?;
    let path = out.join("m0").join("model.json");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let sidecar: Sidecar = serde_json::from_str(&text)
        .with_context(|| format!("{} has no readable report.samples_per_second / epochs", path.display()))?;
    let final_loss = sidecar.report.epochs.last().map_or(f64::NAN, |e| e.loss);
    Ok((Run { samples_per_second: sidecar.report.samples_per_second, final_loss }, sidecar.report.rows))
}

/// One PyTorch training run.
fn run_torch(root: &Path, python: &Path, model: Model, args: &TrainArgs) -> Result<TorchLine> {
    let mut cmd = Command::new(python);
    cmd.env("OMP_NUM_THREADS", args.threads.to_string())
        .arg(TORCH_SCRIPT)
        .args(["--model", model.name(), "--dataset", DATASET_DIR])
        .args(["--epochs", &args.epochs.to_string(), "--threads", &args.threads.to_string()])
        .args(["--batch", &BATCH.to_string()])
        .current_dir(root);
    let stdout = run_capturing(&mut cmd)?;
    let line =
        stdout.lines().rev().find(|l| !l.trim().is_empty()).ok_or_else(|| anyhow!("{TORCH_SCRIPT} printed nothing"))?;
    serde_json::from_str(line).with_context(|| format!("{TORCH_SCRIPT} printed {line:?}, not its JSON line"))
}

/// CPUs and CPU model, from `available_parallelism` and /proc/cpuinfo.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or_else(|_| "? CPUs".to_string(), |n| format!("{n} CPUs"));
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU model".to_string());
    format!("{cpus} (nproc), {model}, {}", env::consts::ARCH)
}

/// The busy and total jiffies of all CPUs together: the `cpu` line of /proc/stat, where busy is everything but
/// `idle` and `iowait` (the first eight fields; guest time is already inside `user`).
pub fn cpu_jiffies(proc_stat: &str) -> Option<(u64, u64)> {
    let line = proc_stat.lines().find(|l| l.split_whitespace().next() == Some("cpu"))?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).take(8).map(str::parse).collect::<Result<_, _>>().ok()?;
    if fields.len() < 5 {
        return None;
    }
    let total: u64 = fields.iter().sum();
    Some((total - fields[3] - fields[4], total))
}

/// How many cores the machine keeps busy over one second, measured from /proc/stat; `None` off Linux.
pub(crate) fn busy_cores() -> Option<f64> {
    let read = || fs::read_to_string("/proc/stat").ok().and_then(|t| cpu_jiffies(&t));
    let (b0, t0) = read()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (b1, t1) = read()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    (t1 > t0).then(|| (b1.saturating_sub(b0)) as f64 / (t1 - t0) as f64 * cores)
}

/// The doppel revision: the short commit, and whether the tree had uncommitted changes.
pub(crate) fn revision(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            format!("git {rev}{}", if dirty { " (with uncommitted changes)" } else { "" })
        }
        None => format!("version {}", env!("CARGO_PKG_VERSION")),
    }
}

/// Runs `cargo xtask bench train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    if args.threads == 0 || args.epochs == 0 || args.repeats == 0 {
        bail!("--threads, --epochs and --repeats must each be at least 1");
    }
    let root = workspace_root();
    let bench_dir = root.join(BENCH_DIR);
    fs::create_dir_all(&bench_dir).with_context(|| format!("cannot create {}", bench_dir.display()))?;
    let mut command = format!(
        "cargo xtask bench train --threads {} --epochs {} --repeats {}",
        args.threads, args.epochs, args.repeats
    );
    if let Some(v) = &args.venv {
        command.push_str(&format!(" --venv {}", shell_quote(&v.display().to_string())));
    }

    let doppel = build_doppel(&root)?;
    build_dataset(&root, &doppel)?;
    let python = ensure_venv(&venv_dir(&root, args.venv.as_deref())?)?;

    let mut configs = Vec::new();
    for model in Model::ALL {
        let src = format!("configs/bench/train-{}.toml", model.name());
        let text = fs::read_to_string(root.join(&src)).with_context(|| format!("cannot read {src}"))?;
        let header = format!(
            "# Written by `cargo xtask bench train` from {src} with epochs = {}; rewritten on every run.\n",
            args.epochs
        );
        let body = with_epochs(&text, args.epochs, &src)?;
        let dest = bench_dir.join(format!("train-{}-e{}.toml", model.name(), args.epochs));
        fs::write(&dest, header + &body).with_context(|| format!("cannot write {}", dest.display()))?;
        configs.push(dest);
    }

    let mut results: Vec<ModelResult> =
        Model::ALL.iter().map(|&model| ModelResult { model, doppel: Vec::new(), torch: Vec::new() }).collect();
    let mut rows = 0;
    let mut python_versions = String::new();
    let busy_before = busy_cores();
    if let Some(busy) = busy_before.filter(|&b| b > 0.25) {
        eprintln!(
            "bench: warning: other processes keep {busy:.2} cores busy; the numbers will be low, PyTorch's \
             most of all (its OpenMP threads spin while they wait)"
        );
    }
    for repeat in 1..=args.repeats {
        for (i, model) in Model::ALL.into_iter().enumerate() {
            let tag = format!("[repeat {repeat}/{}] {}", args.repeats, model.name());
            eprintln!("bench: {tag}: doppel, {} epoch(s), {} thread(s)", args.epochs, args.threads);
            let (run, n) = run_doppel(&root, &doppel, &configs[i], model, args.threads)?;
            eprintln!(
                "bench: {tag}: doppel {} samples/s, final loss {:.4}",
                thousands(run.samples_per_second),
                run.final_loss
            );
            rows = n;
            results[i].doppel.push(run);

            eprintln!("bench: {tag}: PyTorch, {} epoch(s), {} thread(s)", args.epochs, args.threads);
            let line = run_torch(&root, &python, model, args)?;
            eprintln!(
                "bench: {tag}: PyTorch {} samples/s, final loss {:.4}",
                thousands(line.samples_per_second),
                line.final_loss
            );
            if line.rows != n {
                bail!("doppel trained on {n} rows but PyTorch on {}; rebuild {DATASET_DIR}", line.rows);
            }
            python_versions = format!("torch {}, numpy {}, pyarrow {}", line.torch, line.numpy, line.pyarrow);
            results[i].torch.push(Run { samples_per_second: line.samples_per_second, final_loss: line.final_loss });
        }
    }

    let date = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| utc_date(d.as_secs())).unwrap_or_default();
    let report = Report {
        command,
        date,
        machine: machine(),
        python: python_versions,
        doppel: revision(&root),
        busy_before,
        threads: args.threads,
        epochs: args.epochs,
        rows,
        models: results,
    };
    for m in &report.models {
        let (d, t) =
            (m.doppel.last().map_or(f64::NAN, |x| x.final_loss), m.torch.last().map_or(f64::NAN, |x| x.final_loss));
        if losses_disagree(d, t) {
            eprintln!("bench: warning: {} final losses are far apart (doppel {d:.4}, PyTorch {t:.4})", m.model.name());
        }
    }
    let md = render_markdown(&report);
    let path = bench_dir.join("train.md");
    fs::write(&path, &md).with_context(|| format!("cannot write {}", path.display()))?;
    print!("{md}");
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        for (xs, want) in [
            (vec![], None),
            (vec![3.0], Some(3.0)),
            (vec![5.0, 1.0], Some(3.0)),
            (vec![9.0, 1.0, 4.0], Some(4.0)),
            (vec![4.0, 1.0, 3.0, 100.0], Some(3.5)),
        ] {
            assert_eq!(median(&xs), want, "{xs:?}");
        }
    }

    #[test]
    fn epochs_are_rewritten_at_top_level_only() {
        let text =
            "# c\nseed = 42\nepochs = 10   # passes\nbatch_size = 128\n\n[schedule]\nkind = \"step\"\nepochs = 3\n";
        let got = with_epochs(text, 2, "t.toml").unwrap();
        assert_eq!(
            got,
            "# c\nseed = 42\nepochs = 2 # passes\nbatch_size = 128\n\n[schedule]\nkind = \"step\"\nepochs = 3\n"
        );
        assert_eq!(with_epochs("epochs=4", 1, "t.toml").unwrap(), "epochs = 1");
        assert_eq!(with_epochs("  epochs = 4\r\n", 7, "t.toml").unwrap(), "  epochs = 7\r\n");
        // `epochs_total` is another key.
        let err = with_epochs("epochs_total = 4\n[model]\nepochs = 2\n", 1, "t.toml").unwrap_err().to_string();
        assert_eq!(err, "t.toml has no top-level `epochs = …` line; add one above the first [table]");
        let err = with_epochs("epochs = 1\nepochs = 2\n", 1, "t.toml").unwrap_err().to_string();
        assert_eq!(err, "t.toml has 2 top-level `epochs = …` lines; keep one");
    }

    #[test]
    fn the_bench_train_configs_have_an_epochs_line() {
        for model in Model::ALL {
            let path = workspace_root().join(format!("configs/bench/train-{}.toml", model.name()));
            let text = fs::read_to_string(&path).unwrap();
            let got = with_epochs(&text, 5, "t").unwrap();
            assert!(got.contains("\nepochs = 5\n"), "{}", path.display());
            assert!(got.contains("batch_size = 128\n"), "{}: the bench assumes batch {BATCH}", path.display());
            assert!(got.contains("kind = \"constant\""), "{}: the PyTorch side has no schedule", path.display());
        }
    }

    #[test]
    fn thousands_separators() {
        for (x, want) in
            [(0.0, "0"), (999.4, "999"), (1000.0, "1,000"), (75_912.6, "75,913"), (1_234_567.0, "1,234,567")]
        {
            assert_eq!(thousands(x), want);
        }
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(thousands(f64::NAN), "NaN");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        // 2024-01-01: 54 years of 365 days and 13 leap days (1972–2020) after the epoch.
        assert_eq!(utc_date(19_723 * 86_400 + 86_399), "2024-01-01");
        assert_eq!(utc_date(19_723 * 86_400 + 59 * 86_400), "2024-02-29");
    }

    #[test]
    fn proc_stat_cpu_line() {
        let text = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1\n";
        // busy = user + nice + system + irq + softirq + steal; total adds idle and iowait.
        assert_eq!(cpu_jiffies(text), Some((160, 1180)));
        assert_eq!(cpu_jiffies("cpu0 1 2 3 4 5\n"), None);
        assert_eq!(cpu_jiffies("cpu 1 x 3 4 5\n"), None);
    }

    #[test]
    fn loss_disagreement() {
        assert!(!losses_disagree(0.12, 0.10));
        assert!(!losses_disagree(0.30, 0.20));
        assert!(losses_disagree(2.30, 0.20));
        assert!(losses_disagree(f64::NAN, 0.2));
    }

    #[test]
    fn markdown_report() {
        let run = |samples_per_second, final_loss| Run { samples_per_second, final_loss };
        let report = Report {
            command: "cargo xtask bench train --threads 2 --epochs 2 --repeats 2".into(),
            date: "2026-01-02".into(),
            machine: "2 CPUs (nproc), AMD EPYC, x86_64".into(),
            python: "torch 2.15.0, numpy 2.4.6, pyarrow 26.0.1".into(),
            doppel: "git abc1234".into(),
            busy_before: Some(0.07),
            threads: 2,
            epochs: 2,
            rows: 10_240,
            models: vec![
                ModelResult {
                    model: Model::Mlp,
                    doppel: vec![run(70_000.0, 0.31), run(80_000.0, 0.3)],
                    torch: vec![run(100_000.0, 0.29), run(100_000.0, 0.28)],
                },
                ModelResult {
                    model: Model::Cnn,
                    doppel: vec![run(4_000.0, 2.3), run(4_400.0, 2.3)],
                    torch: vec![run(17_000.0, 0.2), run(16_600.0, 0.2)],
                },
            ],
        };
        let want = "\
| model | doppel flex samples/s | PyTorch samples/s | ratio (doppel/torch) | threads | batch |
| --- | ---: | ---: | ---: | ---: | ---: |
| mlp | 75,000 | 100,000 | 0.75 | 2 | 128 |
| cnn | 4,200 | 16,800 | 0.25 | 2 | 128 |

Medians of 2 repeat(s); each run trains 2 epoch(s) over the same 10,240 MNIST training images.
Every run, in order:

- mlp: doppel 70,000, 80,000; PyTorch 100,000, 100,000
- cnn: doppel 4,000, 4,400; PyTorch 17,000, 16,600

Mean training loss of the last epoch, last repeat (a sanity check, not a target):

| model | doppel | PyTorch | |
| --- | ---: | ---: | --- |
| mlp | 0.3000 | 0.2800 | close |
| cnn | 2.3000 | 0.2000 | far apart: check the two trainings |

- command: `cargo xtask bench train --threads 2 --epochs 2 --repeats 2`
- date: 2026-01-02 (UTC)
- machine: 2 CPUs (nproc), AMD EPYC, x86_64
- CPU in use by other processes just before the timed runs: 0.07 cores (over 1 s)
- doppel: git abc1234, burn flex backend, release build
- reference: torch 2.15.0, numpy 2.4.6, pyarrow 26.0.1
";
        assert_eq!(render_markdown(&report), want);
    }

    #[test]
    fn shell_quoting_of_printed_commands() {
        let mut cmd = Command::new("doppel");
        cmd.env("RAYON_NUM_THREADS", "2").args(["train", "--out", "a b"]);
        assert_eq!(display(&cmd), "RAYON_NUM_THREADS=2 doppel train --out 'a b'");
    }
}

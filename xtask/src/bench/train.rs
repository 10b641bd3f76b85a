//! `cargo xtask bench train`: doppel's training throughput next to PyTorch's, same data, batch and threads.
//!
//! The run has four steps, each skipped when its result is already there:
//!
//! 1. `cargo build --release -p doppel-cli`, once; the xtask then only calls the `doppel` binary.
//! 2. `doppel data build` of [`DATASET_CONFIG`] (10,240 MNIST training images, 1,024 per class) into
//!    [`DATASET_DIR`] for the MLP and CNN, and of the CIFAR-10 subset of `cargo xtask bench interop`
//!    ([`interop::CIFAR_CONFIG`], 2,000 images) for ResNet-8, each unless its `manifest.json` exists.
//! 3. A Python venv holding [`PIP_PACKAGES`] (`--venv`, else `$DOPPEL_BENCH_VENV`, else `target/bench-venv`),
//!    unless `import torch, numpy, pyarrow` already works in it.
//! 4. For each repeat, in turn: doppel MLP, PyTorch MLP, doppel CNN, PyTorch CNN, doppel ResNet-8, PyTorch
//!    ResNet-8. doppel trains a copy of `configs/bench/train-{mlp,cnn,resnet8}.toml` with `epochs` set to `--epochs` ([`with_epochs`]) and reports
//!    `samples_per_second` in `m0/model.json`; [`TORCH_SCRIPT`] trains the same network on the same rows (it reads
//!    the dataset's `train.parquet`) and prints one JSON line.
//!
//! 5. After the repeats, the GEMM-peak line: the product of two f32 [`GEMM_N`]² matrices timed on each side
//!    ([`GEMM_EXAMPLE`], built with `cargo build --release -p doppel-models --example gemm_peak`, and
//!    [`GEMM_TORCH_SCRIPT`]), the machine's limit as far as either library reaches it. Each model's training
//!    compute (samples/s × the FLOPs of one training step per sample, which PyTorch's own FLOP counter gives for
//!    the PyTorch twin) is shown against it.
//!
//! The medians over repeats go to stdout and to `target/bench/train.md` as one Markdown report
//! ([`render_markdown`]); progress goes to stderr. Just before the timed runs the bench measures how many cores
//! other processes keep busy ([`busy_cores`]) and warns when they do, because PyTorch's spinning OpenMP threads
//! slow down badly on a shared core.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Deserialize;

use super::interop;
use super::venv::{TORCH_SPEC, ensure_venv, venv_dir};
use super::{
    build_dataset_from, build_doppel, busy_cores, machine, median, revision, run_capturing, thousands, utc_date,
};

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

/// The side of the square matrices of the GEMM-peak line.
pub const GEMM_N: usize = 1024;

/// Products timed on each side for the GEMM-peak line (after two warm-up ones); the line shows their median.
pub const GEMM_REPS: usize = 9;

/// doppel's side of the GEMM-peak line: an example of `doppel-models` (burn flex's `matmul`).
pub const GEMM_EXAMPLE: &str = "gemm_peak";

/// PyTorch's side of the GEMM-peak line (`torch.mm`), from the workspace root.
pub const GEMM_TORCH_SCRIPT: &str = "xtask/bench/gemm_torch.py";

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

/// The networks the bench trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// 784-256-128-10 with ReLU, on MNIST.
    Mlp,
    /// Two 5×5 convolutions (16, 32 channels) with max-pooling, then 128 units, on MNIST.
    Cnn,
    /// ResNet-8 (widths 16-32-64, batch norm) on CIFAR-10.
    ResNet8,
}

impl Model {
    /// All, in the order each repeat runs them.
    pub const ALL: [Model; 3] = [Model::Mlp, Model::Cnn, Model::ResNet8];

    /// The name the script and the table use.
    pub fn name(self) -> &'static str {
        match self {
            Model::Mlp => "mlp",
            Model::Cnn => "cnn",
            Model::ResNet8 => "resnet8",
        }
    }

    /// The dataset it trains on: build config and directory, from the workspace root.
    pub fn dataset(self) -> (&'static str, &'static str) {
        match self {
            Model::Mlp | Model::Cnn => (DATASET_CONFIG, DATASET_DIR),
            Model::ResNet8 => (interop::CIFAR_CONFIG, interop::CIFAR_DIR),
        }
    }

    /// The name of that dataset's source, for the report.
    pub fn source(self) -> &'static str {
        match self {
            Model::Mlp | Model::Cnn => "MNIST",
            Model::ResNet8 => "CIFAR-10",
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
    /// Training images each run passes over (the same on both sides).
    pub rows: usize,
    /// FLOPs of one training step per sample (forward and backward matrix products and convolutions), as
    /// PyTorch's FLOP counter gives them for the PyTorch twin; both sides train the same network.
    pub flops_per_sample: f64,
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
    /// One entry per model.
    pub models: Vec<ModelResult>,
    /// The GEMM-peak line.
    pub gemm: GemmPeak,
}

/// The machine's matrix-product limit as each side reaches it: f32 `n × n` by `n × n`, median GFLOP/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmPeak {
    /// The matrices' side.
    pub n: usize,
    /// Products timed on each side.
    pub reps: usize,
    /// burn flex's `matmul`.
    pub doppel_gflops: f64,
    /// `torch.mm`.
    pub torch_gflops: f64,
}

impl GemmPeak {
    /// The faster of the two: the machine's limit as far as either library reaches it.
    pub fn peak(&self) -> f64 {
        self.doppel_gflops.max(self.torch_gflops)
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
    // The median samples/s of a side's runs.
    let speed =
        |runs: &[Run]| median(&runs.iter().map(|x| x.samples_per_second).collect::<Vec<_>>()).unwrap_or(f64::NAN);
    let _ =
        writeln!(s, "| model | doppel flex samples/s | PyTorch samples/s | ratio (doppel/torch) | threads | batch |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in &r.models {
        let (d, t) = (speed(&m.doppel), speed(&m.torch));
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
    let rows: Vec<String> = r
        .models
        .iter()
        .map(|m| format!("{} {} {} images", m.model.name(), thousands(m.rows as f64), m.model.source()))
        .collect();
    let _ = writeln!(
        s,
        "\nMedians of {repeats} repeat(s); each run trains {} epoch(s) over the same training rows on both sides \
         ({}).",
        r.epochs,
        rows.join(", ")
    );
    let list = |runs: &[Run]| runs.iter().map(|x| thousands(x.samples_per_second)).collect::<Vec<_>>().join(", ");
    let g = &r.gemm;
    let _ = writeln!(
        s,
        "\nGEMM peak (f32 {n} × {n} by {n} × {n}, median of {} products, {} thread(s)): doppel (burn flex `matmul`) \
         {:.1} GFLOP/s, PyTorch (`torch.mm`) {:.1} GFLOP/s. Training compute is samples/s × the FLOPs of one \
         training step per sample (matrix products and convolutions, forward and backward, as PyTorch's FLOP \
         counter gives them for the PyTorch twin; element-wise work, pooling and batch norm are not counted), \
         against the faster GEMM ({:.1} GFLOP/s):\n",
        g.reps,
        r.threads,
        g.doppel_gflops,
        g.torch_gflops,
        g.peak(),
        n = thousands(g.n as f64),
    );
    let _ = writeln!(s, "| model | MFLOP per sample | doppel GFLOP/s | of peak | PyTorch GFLOP/s | of peak |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in &r.models {
        let (d, t) = (speed(&m.doppel) * m.flops_per_sample / 1e9, speed(&m.torch) * m.flops_per_sample / 1e9);
        let _ = writeln!(
            s,
            "| {} | {:.2} | {d:.1} | {:.0} % | {t:.1} | {:.0} % |",
            m.model.name(),
            m.flops_per_sample / 1e6,
            100.0 * d / g.peak(),
            100.0 * t / g.peak()
        );
    }
    let _ = writeln!(s, "\nEvery run, in order:\n");
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

/// Step 2: builds each model's bench dataset unless its manifest exists.
fn build_datasets(root: &Path, doppel: &Path) -> Result<()> {
    let mut done: Vec<&str> = Vec::new();
    for model in Model::ALL {
        let (config, dir) = model.dataset();
        if !done.contains(&dir) {
            build_dataset_from(root, doppel, config, dir)?;
            done.push(dir);
        }
    }
    Ok(())
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
    /// FLOPs of one training step per sample, from PyTorch's FLOP counter.
    train_flops_per_sample: f64,
}

/// The JSON line of both sides of the GEMM-peak line.
#[derive(Debug, Deserialize)]
struct GemmLine {
    /// The matrices' side.
    n: usize,
    /// Median GFLOP/s.
    gflops: f64,
}

/// The last non-empty line of `stdout` (of `what`), read as `T`.
fn json_line<T: serde::de::DeserializeOwned>(stdout: &str, what: &str) -> Result<T> {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty()).ok_or_else(|| anyhow!("{what} printed nothing"))?;
    serde_json::from_str(line).with_context(|| format!("{what} printed {line:?}, not its JSON line"))
}

/// Step 5: the GEMM-peak line, doppel's side then PyTorch's, each checked to have multiplied `GEMM_N`².
fn gemm_peak(root: &Path, python: &Path, threads: usize) -> Result<GemmPeak> {
    let say = |line: &str| eprintln!("bench: {line}");
    let example = crate::build::build_example(root, "doppel-models", GEMM_EXAMPLE, &say)?;
    let (n, reps) = (GEMM_N.to_string(), GEMM_REPS.to_string());
    eprintln!("bench: GEMM peak: doppel, {n} × {n}, {threads} thread(s)");
    let mut cmd = Command::new(&example);
    cmd.env("RAYON_NUM_THREADS", threads.to_string()).args(["--n", &n, "--reps", &reps]).current_dir(root);
    let doppel: GemmLine = json_line(&run_capturing(&mut cmd)?, GEMM_EXAMPLE)?;
    eprintln!("bench: GEMM peak: PyTorch, {n} × {n}, {threads} thread(s)");
    let mut cmd = Command::new(python);
    cmd.env("OMP_NUM_THREADS", threads.to_string())
        .arg(GEMM_TORCH_SCRIPT)
        .args(["--n", &n, "--reps", &reps, "--threads", &threads.to_string()])
        .current_dir(root);
    let torch: GemmLine = json_line(&run_capturing(&mut cmd)?, GEMM_TORCH_SCRIPT)?;
    for (side, line) in [(GEMM_EXAMPLE, &doppel), (GEMM_TORCH_SCRIPT, &torch)] {
        if line.n != GEMM_N || !(line.gflops.is_finite() && line.gflops > 0.0) {
            bail!(
                "{side} reported n = {} and {} GFLOP/s; expected n = {GEMM_N} and a positive rate",
                line.n,
                line.gflops
            );
        }
    }
    Ok(GemmPeak { n: GEMM_N, reps: GEMM_REPS, doppel_gflops: doppel.gflops, torch_gflops: torch.gflops })
}

/// One doppel training run; returns its result and the rows it trained on.
fn run_doppel(root: &Path, doppel: &Path, config: &Path, model: Model, threads: usize) -> Result<(Run, usize)> {
    let out = root.join(BENCH_DIR).join(format!("run-{}", model.name()));
    let mut cmd = Command::new(doppel);
    cmd.env("RAYON_NUM_THREADS", threads.to_string())
        .arg("train")
        .arg("--dataset")
        .arg(model.dataset().1)
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
        .args(["--model", model.name(), "--dataset", model.dataset().1])
        .args(["--epochs", &args.epochs.to_string(), "--threads", &args.threads.to_string()])
        .args(["--batch", &BATCH.to_string()])
        .current_dir(root);
    json_line(&run_capturing(&mut cmd)?, TORCH_SCRIPT)
}

/// Runs `cargo xtask bench train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    if args.threads == 0 || args.epochs == 0 || args.repeats == 0 {
        bail!("--threads, --epochs and --repeats must each be at least 1");
    }
    let command = format!(
        "cargo xtask bench train --threads {} --epochs {} --repeats {}",
        args.threads, args.epochs, args.repeats
    );
    let (root, bench_dir, command) = super::begin(BENCH_DIR, command, args.venv.as_deref())?;

    let doppel = build_doppel(&root)?;
    build_datasets(&root, &doppel)?;
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

    let mut results: Vec<ModelResult> = Model::ALL
        .iter()
        .map(|&model| ModelResult { model, rows: 0, flops_per_sample: f64::NAN, doppel: Vec::new(), torch: Vec::new() })
        .collect();
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
            results[i].rows = n;
            results[i].doppel.push(run);

            eprintln!("bench: {tag}: PyTorch, {} epoch(s), {} thread(s)", args.epochs, args.threads);
            let line = run_torch(&root, &python, model, args)?;
            eprintln!(
                "bench: {tag}: PyTorch {} samples/s, final loss {:.4}",
                thousands(line.samples_per_second),
                line.final_loss
            );
            if line.rows != n {
                bail!("doppel trained on {n} rows but PyTorch on {}; rebuild {}", line.rows, model.dataset().1);
            }
            if !(line.train_flops_per_sample.is_finite() && line.train_flops_per_sample > 0.0) {
                bail!(
                    "{TORCH_SCRIPT} counted {} training FLOPs per sample; expected a positive count",
                    line.train_flops_per_sample
                );
            }
            python_versions = format!("torch {}, numpy {}, pyarrow {}", line.torch, line.numpy, line.pyarrow);
            results[i].flops_per_sample = line.train_flops_per_sample;
            results[i].torch.push(Run { samples_per_second: line.samples_per_second, final_loss: line.final_loss });
        }
    }

    let gemm = gemm_peak(&root, &python, args.threads)?;

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
        models: results,
        gemm,
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
            let path = crate::workspace_root().join(format!("configs/bench/train-{}.toml", model.name()));
            let text = fs::read_to_string(&path).unwrap();
            let got = with_epochs(&text, 5, "t").unwrap();
            assert!(got.contains("\nepochs = 5\n"), "{}", path.display());
            assert!(got.contains("batch_size = 128\n"), "{}: the bench assumes batch {BATCH}", path.display());
            assert!(got.contains("kind = \"constant\""), "{}: the PyTorch side has no schedule", path.display());
        }
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
            models: vec![
                ModelResult {
                    model: Model::Mlp,
                    rows: 10_240,
                    flops_per_sample: 1.2e6,
                    doppel: vec![run(70_000.0, 0.31), run(80_000.0, 0.3)],
                    torch: vec![run(100_000.0, 0.29), run(100_000.0, 0.28)],
                },
                ModelResult {
                    model: Model::Cnn,
                    rows: 10_240,
                    flops_per_sample: 6e6,
                    doppel: vec![run(4_000.0, 2.3), run(4_400.0, 2.3)],
                    torch: vec![run(17_000.0, 0.2), run(16_600.0, 0.2)],
                },
                ModelResult {
                    model: Model::ResNet8,
                    rows: 2_000,
                    flops_per_sample: 80e6,
                    doppel: vec![run(300.0, 1.9), run(320.0, 1.8)],
                    torch: vec![run(900.0, 1.7), run(1_000.0, 1.7)],
                },
            ],
            gemm: GemmPeak { n: 1024, reps: 9, doppel_gflops: 90.0, torch_gflops: 120.0 },
        };
        let want = "\
| model | doppel flex samples/s | PyTorch samples/s | ratio (doppel/torch) | threads | batch |
| --- | ---: | ---: | ---: | ---: | ---: |
| mlp | 75,000 | 100,000 | 0.75 | 2 | 128 |
| cnn | 4,200 | 16,800 | 0.25 | 2 | 128 |
| resnet8 | 310 | 950 | 0.33 | 2 | 128 |

Medians of 2 repeat(s); each run trains 2 epoch(s) over the same training rows on both sides (mlp 10,240 MNIST images, cnn 10,240 MNIST images, resnet8 2,000 CIFAR-10 images).

GEMM peak (f32 1,024 × 1,024 by 1,024 × 1,024, median of 9 products, 2 thread(s)): doppel (burn flex `matmul`) 90.0 GFLOP/s, PyTorch (`torch.mm`) 120.0 GFLOP/s. Training compute is samples/s × the FLOPs of one training step per sample (matrix products and convolutions, forward and backward, as PyTorch's FLOP counter gives them for the PyTorch twin; element-wise work, pooling and batch norm are not counted), against the faster GEMM (120.0 GFLOP/s):

| model | MFLOP per sample | doppel GFLOP/s | of peak | PyTorch GFLOP/s | of peak |
| --- | ---: | ---: | ---: | ---: | ---: |
| mlp | 1.20 | 90.0 | 75 % | 120.0 | 100 % |
| cnn | 6.00 | 25.2 | 21 % | 100.8 | 84 % |
| resnet8 | 80.00 | 24.8 | 21 % | 76.0 | 63 % |

Every run, in order:

- mlp: doppel 70,000, 80,000; PyTorch 100,000, 100,000
- cnn: doppel 4,000, 4,400; PyTorch 17,000, 16,600
- resnet8: doppel 300, 320; PyTorch 900, 1,000

Mean training loss of the last epoch, last repeat (a sanity check, not a target):

| model | doppel | PyTorch | |
| --- | ---: | ---: | --- |
| mlp | 0.3000 | 0.2800 | close |
| cnn | 2.3000 | 0.2000 | far apart: check the two trainings |
| resnet8 | 1.8000 | 1.7000 | close |

- command: `cargo xtask bench train --threads 2 --epochs 2 --repeats 2`
- date: 2026-01-02 (UTC)
- machine: 2 CPUs (nproc), AMD EPYC, x86_64
- CPU in use by other processes just before the timed runs: 0.07 cores (over 1 s)
- doppel: git abc1234, burn flex backend, release build
- reference: torch 2.15.0, numpy 2.4.6, pyarrow 26.0.1
";
        assert_eq!(render_markdown(&report), want);
    }
}

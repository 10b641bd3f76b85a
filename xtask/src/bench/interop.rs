//! `cargo xtask bench interop`: PyTorch reads doppel's checkpoints, and doppel reads PyTorch's (issue 21, item 5).
//!
//! The run, each build step skipped when its result is already there:
//!
//! 1. `cargo build --release -p doppel-cli`; then only the `doppel` binary is called.
//! 2. `doppel data build` of [`MNIST_CONFIG`] (the 10,240 MNIST images `bench train` uses, into the same
//!    [`MNIST_DIR`]) and of [`CIFAR_CONFIG`] (200 CIFAR-10 training and 50 test images per class) into
//!    [`CIFAR_DIR`].
//! 3. The bench venv (the one the other benches use) with [`PIP_PACKAGES`]: PyTorch, numpy, pyarrow, safetensors.
//! 4. `doppel train --which m0` of each of [`ARCHS`] (MLP on MNIST, CNN and ResNet-8 on CIFAR-10, 2 epochs of
//!    `configs/bench/interop-*.toml`) into `RUNS_DIR/<arch>`; doppel reuses a checkpoint of the same config, data
//!    and seed. The MLP run also gets both oracles, because `doppel eval` evaluates a run only with all three.
//! 5. PyTorch reads doppel: `xtask/bench/torch_interop.py check` loads each `m0/model.safetensors` into the
//!    equivalent `torch.nn` module, runs the dataset's test rows in eval mode and prints one JSON line per model
//!    ([`CheckLine`]) with the largest |Δlogit| against doppel's `outputs_test.parquet`; the bench fails when one
//!    exceeds [`TOLERANCE`].
//! 6. doppel reads PyTorch: `torch_interop.py train-mlp` trains a PyTorch MLP with m0's recipe on the same rows
//!    and writes it as `RUNS_DIR/mlp/pytorch_m0/` (safetensors from `safetensors.torch.save_file`, a sidecar that
//!    says PyTorch wrote it, no outputs files), reporting its own test accuracy ([`TrainLine`]); `doppel eval
//!    --recompute` loads and runs every checkpoint of that run, and its `test_acc` for `pytorch_m0` (from
//!    `EVAL_DIR/result.json`, the eval's doppel-protocol result; `summary.csv` holds the same number) must count
//!    the same correct test rows as PyTorch's ([`same_rows`]).
//!
//! The Markdown report ([`render_markdown`]) goes to stdout and `target/bench/interop.md`; progress to stderr.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use doppel_protocol::{EvalResult, read_result};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::venv::{TORCH_SPEC, ensure_venv_with, venv_dir};
use super::{build_dataset_from, build_doppel, machine, revision, run_capturing, thousands, utc_date};

/// What the venv gets: PyTorch, numpy, pyarrow (the Parquet files) and safetensors (both directions' weights).
pub const PIP_PACKAGES: [&str; 4] = [TORCH_SPEC, "numpy", "pyarrow", "safetensors==0.8.0"];

/// The MNIST dataset's build config: the one of `bench train`.
pub const MNIST_CONFIG: &str = super::train::DATASET_CONFIG;

/// Where the MNIST dataset is built: the folder of `bench train`, so the two benches build it once.
pub const MNIST_DIR: &str = super::train::DATASET_DIR;

/// The CIFAR-10 dataset's build config, from the workspace root.
pub const CIFAR_CONFIG: &str = "configs/bench/cifar10-2k.toml";

/// Where the CIFAR-10 dataset is built.
pub const CIFAR_DIR: &str = "target/bench/cifar10-2k";

/// One `doppel train --out` folder per architecture, named by it.
pub const RUNS_DIR: &str = "target/bench/interop";

/// `doppel eval`'s output for the MLP run.
pub const EVAL_DIR: &str = "target/bench/interop/eval";

/// The PyTorch side, from the workspace root.
pub const TORCH_SCRIPT: &str = "xtask/bench/torch_interop.py";

/// The largest |Δlogit| between PyTorch and doppel on any test row and class.
pub const TOLERANCE: f64 = 1e-4;

/// The model folder the PyTorch-trained MLP is written to, inside the MLP run.
pub const TORCH_MODEL: &str = "pytorch_m0";

/// The options of `cargo xtask bench interop`.
#[derive(Debug, Args)]
pub struct InteropArgs {
    /// CPU threads for both sides: RAYON_NUM_THREADS for doppel, torch.set_num_threads for PyTorch.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub threads: usize,
    /// The Python venv for PyTorch [default: target/bench-venv at the workspace root].
    #[arg(long, value_name = "DIR", env = "DOPPEL_BENCH_VENV")]
    pub venv: Option<PathBuf>,
}

/// One architecture the bench trains with doppel and reads with PyTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchRun {
    /// The architecture's name, as doppel's sidecar spells it; also the run folder's name.
    pub arch: &'static str,
    /// The train config, from the workspace root.
    pub config: &'static str,
    /// The dataset's build config.
    pub dataset_config: &'static str,
    /// The dataset's folder.
    pub dataset_dir: &'static str,
    /// The roles `doppel train --which` trains.
    pub which: &'static str,
}

/// The three architectures, in report order.
pub const ARCHS: [ArchRun; 3] = [
    ArchRun {
        arch: "mlp",
        config: "configs/bench/interop-mlp.toml",
        dataset_config: MNIST_CONFIG,
        dataset_dir: MNIST_DIR,
        // `doppel eval` needs the three references in a run; on this dataset they cost about a second each.
        which: "m0,retrain_exact,retrain_clean",
    },
    ArchRun {
        arch: "cnn",
        config: "configs/bench/interop-cnn.toml",
        dataset_config: CIFAR_CONFIG,
        dataset_dir: CIFAR_DIR,
        which: "m0",
    },
    ArchRun {
        arch: "resnet",
        config: "configs/bench/interop-resnet.toml",
        dataset_config: CIFAR_CONFIG,
        dataset_dir: CIFAR_DIR,
        which: "m0",
    },
];

/// The JSON line `torch_interop.py check` prints per model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CheckLine {
    /// Always `check`.
    pub mode: String,
    /// The `NAME` of `--model NAME=DIR`: the architecture here.
    pub model: String,
    /// The sidecar's architecture.
    pub arch: String,
    /// Test rows compared.
    pub rows: usize,
    /// The largest |Δlogit| over every row and class.
    pub max_abs_dlogit: f64,
    /// The largest |logit| doppel gave, the scale the difference is measured against.
    pub max_abs_logit: f64,
    /// Rows whose arg-max class is the same on both sides.
    pub argmax_agree: usize,
    /// Tensors loaded from the checkpoint.
    pub tensors: usize,
    /// BatchNorm `num_batches_tracked` counters the checkpoint does not hold (PyTorch fills them in).
    pub num_batches_tracked_absent: usize,
    /// The control of the BatchNorm round trip: max |Δlogit| with the running statistics reset to PyTorch's
    /// defaults; `None` without BatchNorm.
    pub control_max_abs_dlogit_default_bn_stats: Option<f64>,
    /// `torch.__version__`.
    pub torch: String,
}

/// The JSON line `torch_interop.py train-mlp` prints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrainLine {
    /// Always `train`.
    pub mode: String,
    /// Training rows.
    pub rows: usize,
    /// Epochs of m0's recipe.
    pub epochs: usize,
    /// Mean training loss of the last epoch.
    pub final_loss: f64,
    /// Test rows evaluated.
    pub test_rows: usize,
    /// Test rows PyTorch classifies correctly.
    pub test_correct: usize,
    /// `test_correct / test_rows`.
    pub test_accuracy: f64,
    /// Wall seconds of the training loop.
    pub seconds: f64,
    /// `torch.__version__`.
    pub torch: String,
    /// `numpy.__version__`.
    pub numpy: String,
    /// `pyarrow.__version__`.
    pub pyarrow: String,
    /// `safetensors.__version__`.
    pub safetensors: String,
}

/// One architecture's result: where it ran and what the script saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The architecture.
    pub run: ArchRun,
    /// The script's line.
    pub line: CheckLine,
}

/// The reverse direction's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Reverse {
    /// PyTorch's line.
    pub torch: TrainLine,
    /// `doppel eval`'s `test_acc` of [`TORCH_MODEL`].
    pub eval_accuracy: f64,
    /// The test rows that accuracy counts ([`same_rows`]).
    pub eval_correct: usize,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The command that produced it.
    pub command: String,
    /// The UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// CPUs and CPU model.
    pub machine: String,
    /// The doppel revision.
    pub doppel: String,
    /// Versions of the Python side.
    pub python: String,
    /// CPU threads of both sides.
    pub threads: usize,
    /// One entry per architecture.
    pub checks: Vec<Checked>,
    /// PyTorch's MLP read by `doppel eval`.
    pub reverse: Reverse,
}

/// Every non-empty stdout line of `script` as a `T` whose `mode` is `mode`. A line that is not one is an error
/// naming the script and the line.
pub fn parse_lines<T: DeserializeOwned>(stdout: &str, script: &str, mode: &str) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{script} printed {line:?}, which is not one of its JSON lines"))?;
        let got = value.get("mode").and_then(|m| m.as_str());
        if got != Some(mode) {
            bail!("{script} printed a line of mode {got:?} where `{mode}` lines were expected: {line}");
        }
        out.push(
            serde_json::from_value(value)
                .with_context(|| format!("{script}'s `{mode}` line lacks a field the bench reads: {line}"))?,
        );
    }
    Ok(out)
}

/// The line of each of `models` among `lines`, in that order; a model without exactly one line is an error.
pub fn lines_for<'a>(lines: &'a [CheckLine], models: &[&str]) -> Result<Vec<&'a CheckLine>> {
    models
        .iter()
        .map(|m| match lines.iter().filter(|l| l.model == *m).collect::<Vec<_>>()[..] {
            [one] => Ok(one),
            [] => Err(anyhow!("{TORCH_SCRIPT} printed no line for the model {m}")),
            _ => Err(anyhow!("{TORCH_SCRIPT} printed more than one line for the model {m}")),
        })
        .collect()
}

/// Why a check line fails the bench, if it does: a difference above `tolerance` (or not a number), a row count
/// other than `rows`, or an architecture other than the one asked.
pub fn check_problem(line: &CheckLine, arch: &str, rows: Option<usize>, tolerance: f64) -> Option<String> {
    if line.arch != arch {
        return Some(format!("{}: the sidecar describes a {}, not a {arch}", line.model, line.arch));
    }
    if let Some(rows) = rows.filter(|&r| r != line.rows) {
        return Some(format!("{}: {} test rows compared, the dataset has {rows}", line.model, line.rows));
    }
    if line.max_abs_dlogit.is_nan() || line.max_abs_dlogit > tolerance {
        return Some(format!(
            "{}: max |Δlogit| {:.3e} is above the tolerance {tolerance:e}",
            line.model, line.max_abs_dlogit
        ));
    }
    None
}

/// `doppel eval`'s `test_acc` of `model` in its result.json (the mean over runs; the bench evaluates one run).
pub fn eval_test_accuracy(result: &EvalResult, model: &str, file: &str) -> Result<f64> {
    let column = result
        .columns
        .iter()
        .position(|c| c == "test_acc")
        .ok_or_else(|| anyhow!("{file} has no `test_acc` column; is it a `doppel eval` result?"))?;
    let row = result.model(model).ok_or_else(|| {
        anyhow!("{file} has no row for {model}; `doppel eval` evaluates every model folder holding model.safetensors")
    })?;
    row.mean
        .get(column)
        .copied()
        .flatten()
        .ok_or_else(|| anyhow!("{file}: `test_acc` of {model} is empty; the run has no test rows"))
}

/// The number of correct rows out of `rows` that `accuracy` stands for, when it stands for a whole number of
/// them (within 1e-6 of a row); `None` otherwise.
pub fn same_rows(accuracy: f64, rows: usize) -> Option<usize> {
    let counted = accuracy * rows as f64;
    let whole = counted.round();
    ((counted - whole).abs() < 1e-6 && (0.0..=rows as f64).contains(&whole)).then_some(whole as usize)
}

/// A difference in the report: `5.72e-6`; `0` when exact.
fn small(x: f64) -> String {
    if x == 0.0 { "0".into() } else { format!("{x:.2e}") }
}

/// The report as Markdown: both directions' tables and the setup.
pub fn render_markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "PyTorch reads doppel: each `doppel train` checkpoint loaded into the equivalent `torch.nn` module \
         (`load_state_dict`, strict), run in eval mode on the dataset's test rows and compared with doppel's own \
         logits (`outputs_test.parquet`), row by row.\n"
    );
    let _ = writeln!(
        s,
        "| architecture | train config | dataset | test rows | tensors | max abs Δlogit | largest abs logit | \
         same argmax | control: BatchNorm statistics reset |"
    );
    let _ = writeln!(s, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for c in &r.checks {
        let l = &c.line;
        let tensors = match l.num_batches_tracked_absent {
            0 => l.tensors.to_string(),
            n => format!("{} (+{n} `num_batches_tracked`)", l.tensors),
        };
        let dataset =
            Path::new(c.run.dataset_dir).file_name().map_or(c.run.dataset_dir.into(), |n| n.to_string_lossy());
        let control = l.control_max_abs_dlogit_default_bn_stats.map_or("–".to_string(), |x| format!("{x:.2}"));
        let _ = writeln!(
            s,
            "| {} | `{}` | {dataset} | {} | {tensors} | {} | {:.2} | {} / {} | {control} |",
            l.arch,
            c.run.config,
            thousands(l.rows as f64),
            small(l.max_abs_dlogit),
            l.max_abs_logit,
            thousands(l.argmax_agree as f64),
            thousands(l.rows as f64),
        );
    }
    let _ = writeln!(
        s,
        "\nTolerance: |Δlogit| ≤ {TOLERANCE:e} on every row and class. PyTorch fills in the BatchNorm \
         `num_batches_tracked` counters doppel does not store (eval mode does not read them). The control column \
         is the difference with every BatchNorm running mean and variance reset to 0 and 1: what a checkpoint that \
         lost them would give."
    );
    let t = &r.reverse.torch;
    let _ = writeln!(
        s,
        "\ndoppel reads PyTorch: an MLP trained by PyTorch with m0's recipe ({} epoch(s) over the same {} rows, \
         final loss {:.4}, {:.1} s), saved with `safetensors.torch.save_file` as `{TORCH_MODEL}` and run by \
         `doppel eval --recompute`:\n",
        t.epochs,
        thousands(t.rows as f64),
        t.final_loss,
        t.seconds
    );
    let _ = writeln!(s, "| model | test accuracy, PyTorch | test accuracy, `doppel eval` | |");
    let _ = writeln!(s, "| --- | ---: | ---: | --- |");
    let verdict = if r.reverse.eval_correct == t.test_correct { "the same rows" } else { "different" };
    let _ = writeln!(
        s,
        "| {TORCH_MODEL} | {:.4} ({} of {}) | {:.4} ({} of {}) | {verdict} |",
        t.test_accuracy,
        thousands(t.test_correct as f64),
        thousands(t.test_rows as f64),
        r.reverse.eval_accuracy,
        thousands(r.reverse.eval_correct as f64),
        thousands(t.test_rows as f64),
    );
    let _ = writeln!(s, "\n- command: `{}`", r.command);
    let _ = writeln!(s, "- date: {} (UTC)", r.date);
    let _ = writeln!(s, "- machine: {}", r.machine);
    let _ = writeln!(s, "- doppel: {}, burn flex backend, release build, {} thread(s)", r.doppel, r.threads);
    let _ = writeln!(s, "- reference: {}, {} thread(s)", r.python, r.threads);
    s
}

/// Runs `doppel train` of one architecture into `RUNS_DIR/<arch>`; returns the run folder.
fn train_doppel(root: &Path, doppel: &Path, run: &ArchRun, threads: usize) -> Result<PathBuf> {
    let out = root.join(RUNS_DIR).join(run.arch);
    eprintln!("bench: doppel train {} ({}) on {}", run.arch, run.config, run.dataset_dir);
    let mut cmd = Command::new(doppel);
    cmd.env("RAYON_NUM_THREADS", threads.to_string())
        .args(["train", "--dataset", run.dataset_dir, "--config", run.config, "--which", run.which, "--out"])
        .arg(&out)
        .current_dir(root);
    run_capturing(&mut cmd)?;
    Ok(out)
}

/// The number of rows of a dataset's test split, `test.total` of its manifest.json.
fn test_rows(dataset: &Path) -> Result<usize> {
    let path = dataset.join("manifest.json");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON; delete {} and rerun the bench", path.display(), dataset.display()))?;
    let total = value.pointer("/test/total").and_then(|v| v.as_u64());
    total.map(|n| n as usize).ok_or_else(|| {
        anyhow!("{} has no `test.total`; delete {} and rerun the bench", path.display(), dataset.display())
    })
}

/// Runs `cargo xtask bench interop`.
pub fn interop(args: &InteropArgs) -> Result<()> {
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let command = format!("cargo xtask bench interop --threads {}", args.threads);
    let (root, bench_dir, command) = super::begin("target/bench", command, args.venv.as_deref())?;

    let doppel = build_doppel(&root)?;
    for run in &ARCHS {
        build_dataset_from(&root, &doppel, run.dataset_config, run.dataset_dir)?;
    }
    let python =
        ensure_venv_with(&venv_dir(&root, args.venv.as_deref())?, &PIP_PACKAGES, "torch, numpy, pyarrow, safetensors")?;
    let runs: Vec<PathBuf> =
        ARCHS.iter().map(|run| train_doppel(&root, &doppel, run, args.threads)).collect::<Result<_>>()?;

    // PyTorch reads doppel: one script call per dataset, with every model trained on it.
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    let mut datasets: Vec<&str> = ARCHS.iter().map(|r| r.dataset_dir).collect();
    datasets.dedup();
    for dataset in datasets {
        let on_it: Vec<(&ArchRun, &PathBuf)> =
            ARCHS.iter().zip(&runs).filter(|(r, _)| r.dataset_dir == dataset).collect();
        eprintln!(
            "bench: PyTorch reads doppel's {} on {dataset}",
            on_it.iter().map(|(r, _)| r.arch).collect::<Vec<_>>().join(", ")
        );
        let mut cmd = Command::new(&python);
        cmd.env("OMP_NUM_THREADS", args.threads.to_string())
            .args([TORCH_SCRIPT, "check", "--dataset", dataset, "--threads", &args.threads.to_string()])
            .args(["--tolerance", &TOLERANCE.to_string()])
            .current_dir(&root);
        for (run, dir) in &on_it {
            cmd.arg("--model").arg(format!("{}={}", run.arch, dir.join("m0").display()));
        }
        let stdout = run_capturing(&mut cmd)?;
        let lines: Vec<CheckLine> = parse_lines(&stdout, TORCH_SCRIPT, "check")?;
        let names: Vec<&str> = on_it.iter().map(|(r, _)| r.arch).collect();
        let rows = Some(test_rows(&root.join(dataset))?);
        for ((run, _), line) in on_it.iter().zip(lines_for(&lines, &names)?) {
            eprintln!(
                "bench: {}: max |Δlogit| {} over {} test rows, same argmax on {}",
                run.arch,
                small(line.max_abs_dlogit),
                line.rows,
                line.argmax_agree
            );
            problems.extend(check_problem(line, run.arch, rows, TOLERANCE));
            checks.push(Checked { run: **run, line: line.clone() });
        }
    }
    if !problems.is_empty() {
        bail!("PyTorch does not reproduce doppel: {}", problems.join("; "));
    }

    // doppel reads PyTorch: the MLP run gets a PyTorch-trained model folder, and `doppel eval` runs it.
    let mlp_run = &runs[0];
    let mlp_dataset = ARCHS[0].dataset_dir;
    eprintln!("bench: PyTorch trains an MLP with m0's recipe into {}", mlp_run.join(TORCH_MODEL).display());
    let mut cmd = Command::new(&python);
    cmd.env("OMP_NUM_THREADS", args.threads.to_string())
        .args([TORCH_SCRIPT, "train-mlp", "--dataset", mlp_dataset, "--threads", &args.threads.to_string()])
        .arg("--from")
        .arg(mlp_run.join("m0"))
        .arg("--out")
        .arg(mlp_run.join(TORCH_MODEL))
        .current_dir(&root);
    let stdout = run_capturing(&mut cmd)?;
    let torch = match parse_lines::<TrainLine>(&stdout, TORCH_SCRIPT, "train")?.as_slice() {
        [one] => one.clone(),
        lines => bail!("{TORCH_SCRIPT} train-mlp printed {} JSON lines; expected one", lines.len()),
    };
    eprintln!("bench: doppel eval of {} (every checkpoint run again)", mlp_run.display());
    let eval_dir = root.join(EVAL_DIR);
    let mut cmd = Command::new(&doppel);
    cmd.env("RAYON_NUM_THREADS", args.threads.to_string())
        .args(["eval", "--dataset", mlp_dataset, "--runs"])
        .arg(mlp_run)
        .arg("--out")
        .arg(&eval_dir)
        .args(["--force", "--recompute"])
        .current_dir(&root);
    run_capturing(&mut cmd)?;
    let result_file = eval_dir.join(doppel_protocol::results::RESULT_FILE);
    let shown = result_file.display().to_string();
    let result: EvalResult = read_result(&result_file).with_context(|| format!("reading {shown}"))?;
    let eval_accuracy = eval_test_accuracy(&result, TORCH_MODEL, &shown)?;
    let eval_correct = same_rows(eval_accuracy, torch.test_rows).ok_or_else(|| {
        anyhow!(
            "{shown}: test_acc {eval_accuracy} of {TORCH_MODEL} is no whole number of the {} test rows",
            torch.test_rows
        )
    })?;
    if eval_correct != torch.test_correct {
        bail!(
            "doppel eval classifies {eval_correct} of {} test rows correctly with {TORCH_MODEL}, PyTorch {}; \
             doppel does not run PyTorch's MLP as PyTorch does",
            torch.test_rows,
            torch.test_correct
        );
    }

    let date = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| utc_date(d.as_secs())).unwrap_or_default();
    let python_versions = format!(
        "torch {}, numpy {}, pyarrow {}, safetensors {}",
        torch.torch, torch.numpy, torch.pyarrow, torch.safetensors
    );
    let report = Report {
        command,
        date,
        machine: machine(),
        doppel: revision(&root),
        python: python_versions,
        threads: args.threads,
        checks,
        reverse: Reverse { torch, eval_accuracy, eval_correct },
    };
    let md = render_markdown(&report);
    let path = bench_dir.join("interop.md");
    fs::write(&path, &md).with_context(|| format!("cannot write {}", path.display()))?;
    print!("{md}");
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &str = r#"{"mode": "check", "model": "resnet", "arch": "resnet", "rows": 500, "max_abs_dlogit": 4.76837158203125e-06, "worst_id": 2061, "max_abs_logit": 20.523344039916992, "argmax_agree": 500, "tensors": 47, "num_batches_tracked_absent": 9, "control_max_abs_dlogit_default_bn_stats": 16.238784790039062, "tolerance": 0.0001, "torch": "2.15.0+cu132"}"#;
    const TRAIN: &str = r#"{"mode": "train", "model": "pytorch_m0", "arch": "mlp", "rows": 10240, "epochs": 2, "final_loss": 0.22246327474713326, "test_rows": 1000, "test_correct": 950, "test_accuracy": 0.95, "seconds": 2.13, "torch": "2.15.0+cu132", "numpy": "2.4.6", "pyarrow": "26.0.1", "safetensors": "0.8.0"}"#;

    fn check_line(model: &str, arch: &str, max_abs_dlogit: f64) -> CheckLine {
        CheckLine {
            mode: "check".into(),
            model: model.into(),
            arch: arch.into(),
            rows: 500,
            max_abs_dlogit,
            max_abs_logit: 20.5,
            argmax_agree: 500,
            tensors: 8,
            num_batches_tracked_absent: 0,
            control_max_abs_dlogit_default_bn_stats: None,
            torch: "2.15.0".into(),
        }
    }

    #[test]
    fn the_scripts_lines_parse() {
        // The lines below are what torch_interop.py printed on the ResNet-8 and in train-mlp mode.
        let lines: Vec<CheckLine> = parse_lines(&format!("\n{CHECK}\n\n"), "s.py", "check").unwrap();
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!((l.model.as_str(), l.rows, l.tensors, l.num_batches_tracked_absent), ("resnet", 500, 47, 9));
        assert_eq!(l.max_abs_dlogit, 4.76837158203125e-06);
        assert_eq!(l.control_max_abs_dlogit_default_bn_stats, Some(16.238784790039062));
        let mlp = CHECK.replace("16.238784790039062", "null");
        let lines: Vec<CheckLine> = parse_lines(&mlp, "s.py", "check").unwrap();
        assert_eq!(lines[0].control_max_abs_dlogit_default_bn_stats, None);
        let train: Vec<TrainLine> = parse_lines(TRAIN, "s.py", "train").unwrap();
        assert_eq!((train[0].test_rows, train[0].test_correct, train[0].epochs), (1000, 950, 2));
        assert_eq!(train[0].safetensors, "0.8.0");
        assert_eq!(parse_lines::<TrainLine>("", "s.py", "train").unwrap(), vec![]);
    }

    #[test]
    fn bad_lines_are_errors_naming_the_script() {
        let err = |stdout: &str, mode: &str| parse_lines::<CheckLine>(stdout, "s.py", mode).unwrap_err().to_string();
        assert_eq!(err("epoch 1 done", "check"), "s.py printed \"epoch 1 done\", which is not one of its JSON lines");
        assert_eq!(
            err(TRAIN, "check"),
            format!("s.py printed a line of mode Some(\"train\") where `check` lines were expected: {TRAIN}")
        );
        let no_rows = CHECK.replace("\"rows\": 500, ", "");
        assert_eq!(err(&no_rows, "check"), format!("s.py's `check` line lacks a field the bench reads: {no_rows}"));
        // Python's json writes a NaN as `NaN`, which is not JSON: the line is refused rather than read as a pass.
        let nan = CHECK.replace("4.76837158203125e-06", "NaN");
        assert!(err(&nan, "check").contains("not one of its JSON lines"));
    }

    #[test]
    fn one_line_per_model() {
        let lines = vec![check_line("cnn", "cnn", 1e-6), check_line("resnet", "resnet", 2e-6)];
        let got = lines_for(&lines, &["resnet", "cnn"]).unwrap();
        assert_eq!((got[0].model.as_str(), got[1].model.as_str()), ("resnet", "cnn"));
        assert_eq!(
            lines_for(&lines, &["mlp"]).unwrap_err().to_string(),
            format!("{TORCH_SCRIPT} printed no line for the model mlp")
        );
        let twice = vec![check_line("cnn", "cnn", 1e-6), check_line("cnn", "cnn", 1e-6)];
        assert_eq!(
            lines_for(&twice, &["cnn"]).unwrap_err().to_string(),
            format!("{TORCH_SCRIPT} printed more than one line for the model cnn")
        );
    }

    #[test]
    fn check_problems() {
        assert_eq!(check_problem(&check_line("cnn", "cnn", 9.5e-7), "cnn", Some(500), 1e-4), None);
        assert_eq!(check_problem(&check_line("cnn", "cnn", 1e-4), "cnn", None, 1e-4), None);
        assert_eq!(
            check_problem(&check_line("cnn", "cnn", 2.5e-3), "cnn", Some(500), 1e-4).unwrap(),
            "cnn: max |Δlogit| 2.500e-3 is above the tolerance 1e-4"
        );
        assert!(check_problem(&check_line("cnn", "cnn", f64::NAN), "cnn", Some(500), 1e-4).is_some());
        assert_eq!(
            check_problem(&check_line("cnn", "mlp", 0.0), "cnn", Some(500), 1e-4).unwrap(),
            "cnn: the sidecar describes a mlp, not a cnn"
        );
        assert_eq!(
            check_problem(&check_line("cnn", "cnn", 0.0), "cnn", Some(1000), 1e-4).unwrap(),
            "cnn: 500 test rows compared, the dataset has 1000"
        );
    }

    fn eval_result(test_acc: Option<f64>) -> EvalResult {
        serde_json::from_value(serde_json::json!({
            "format": "doppel-eval-result/1",
            "columns": ["f_acc", "test_acc"],
            "models": [
                {"model": "m0", "runs": 1, "mean": [1.0, 0.946], "std": [null, null]},
                {"model": "pytorch_m0", "runs": 1, "mean": [1.0, test_acc], "std": [null, null]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn eval_accuracy_is_found_by_column_and_model() {
        assert_eq!(eval_test_accuracy(&eval_result(Some(0.95)), "pytorch_m0", "r.json").unwrap(), 0.95);
        assert_eq!(eval_test_accuracy(&eval_result(Some(0.95)), "m0", "r.json").unwrap(), 0.946);
        assert_eq!(
            eval_test_accuracy(&eval_result(None), "pytorch_m0", "r.json").unwrap_err().to_string(),
            "r.json: `test_acc` of pytorch_m0 is empty; the run has no test rows"
        );
        assert!(
            eval_test_accuracy(&eval_result(Some(0.9)), "salun", "r.json")
                .unwrap_err()
                .to_string()
                .starts_with("r.json has no row for salun")
        );
        let mut no_column = eval_result(Some(0.9));
        no_column.columns[1] = "r_acc".into();
        assert_eq!(
            eval_test_accuracy(&no_column, "m0", "r.json").unwrap_err().to_string(),
            "r.json has no `test_acc` column; is it a `doppel eval` result?"
        );
    }

    #[test]
    fn accuracies_count_rows() {
        assert_eq!(same_rows(0.95, 1000), Some(950));
        // 0.937 is not exact in binary: 0.937 * 1000 = 936.9999999999999.
        assert_eq!(same_rows(0.937, 1000), Some(937));
        assert_eq!(same_rows(1.0, 500), Some(500));
        assert_eq!(same_rows(0.0, 500), Some(0));
        assert_eq!(same_rows(0.9505, 1000), None);
        assert_eq!(same_rows(f64::NAN, 1000), None);
        assert_eq!(same_rows(1.5, 10), None);
    }

    #[test]
    fn markdown_report() {
        let mut resnet = check_line("resnet", "resnet", 4.76837158203125e-06);
        (resnet.tensors, resnet.num_batches_tracked_absent) = (47, 9);
        resnet.control_max_abs_dlogit_default_bn_stats = Some(16.2388);
        let mut mlp = check_line("mlp", "mlp", 5.7220458984375e-06);
        (mlp.rows, mlp.argmax_agree, mlp.tensors) = (1000, 1000, 6);
        let torch: TrainLine = parse_lines::<TrainLine>(TRAIN, "s.py", "train").unwrap().remove(0);
        let report = Report {
            command: "cargo xtask bench interop --threads 2".into(),
            date: "2026-12-07".into(),
            machine: "2 CPUs (nproc), AMD EPYC, x86_64".into(),
            doppel: "git abc1234".into(),
            python: "torch 2.15.0, numpy 2.4.6, pyarrow 26.0.1, safetensors 0.8.0".into(),
            threads: 2,
            checks: vec![Checked { run: ARCHS[0], line: mlp }, Checked { run: ARCHS[2], line: resnet }],
            reverse: Reverse { torch, eval_accuracy: 0.95, eval_correct: 950 },
        };
        let want = "\
PyTorch reads doppel: each `doppel train` checkpoint loaded into the equivalent `torch.nn` module \
(`load_state_dict`, strict), run in eval mode on the dataset's test rows and compared with doppel's own logits \
(`outputs_test.parquet`), row by row.

| architecture | train config | dataset | test rows | tensors | max abs Δlogit | largest abs logit | same argmax | \
control: BatchNorm statistics reset |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
| mlp | `configs/bench/interop-mlp.toml` | mnist-10k | 1,000 | 6 | 5.72e-6 | 20.50 | 1,000 / 1,000 | – |
| resnet | `configs/bench/interop-resnet.toml` | cifar10-2k | 500 | 47 (+9 `num_batches_tracked`) | 4.77e-6 | 20.50 | \
500 / 500 | 16.24 |

Tolerance: |Δlogit| ≤ 1e-4 on every row and class. PyTorch fills in the BatchNorm `num_batches_tracked` counters \
doppel does not store (eval mode does not read them). The control column is the difference with every BatchNorm \
running mean and variance reset to 0 and 1: what a checkpoint that lost them would give.

doppel reads PyTorch: an MLP trained by PyTorch with m0's recipe (2 epoch(s) over the same 10,240 rows, final \
loss 0.2225, 2.1 s), saved with `safetensors.torch.save_file` as `pytorch_m0` and run by `doppel eval \
--recompute`:

| model | test accuracy, PyTorch | test accuracy, `doppel eval` | |
| --- | ---: | ---: | --- |
| pytorch_m0 | 0.9500 (950 of 1,000) | 0.9500 (950 of 1,000) | the same rows |

- command: `cargo xtask bench interop --threads 2`
- date: 2026-12-07 (UTC)
- machine: 2 CPUs (nproc), AMD EPYC, x86_64
- doppel: git abc1234, burn flex backend, release build, 2 thread(s)
- reference: torch 2.15.0, numpy 2.4.6, pyarrow 26.0.1, safetensors 0.8.0, 2 thread(s)
";
        assert_eq!(render_markdown(&report), want);
    }

    #[test]
    fn the_interop_configs_exist_and_train_two_epochs() {
        for run in ARCHS {
            let path = crate::workspace_root().join(run.config);
            let text = fs::read_to_string(&path).unwrap();
            let table: toml::Table = text.parse().unwrap();
            assert_eq!(table["epochs"].as_integer(), Some(2), "{}", path.display());
            assert_eq!(table["model"]["arch"].as_str(), Some(run.arch), "{}", path.display());
            // train-mlp reproduces the recipe without augmentation.
            assert!(table.get("augment").is_none(), "{}", path.display());
        }
        assert!(crate::workspace_root().join(TORCH_SCRIPT).is_file());
    }
}

//! `cargo xtask bench train`, `bench mine` and `bench interop`: doppel next to its reference implementations.
//!
//! The benches have the same shape: build the release `doppel` binary ([`build_doppel`]), build a bench dataset
//! with it ([`build_dataset_from`]), make sure a Python venv holds the reference packages, run both sides on the
//! same rows and write a Markdown report under `target/bench/`. What they share lives here, so that the
//! reports describe the machine, the date and the revision in the same words:
//!
//! - `mod.rs` (this file): running commands ([`run_capturing`], [`run_progress`]), the start of a bench
//!   ([`begin`]), the build steps, the machine and revision lines, [`busy_cores`] and the number formatting
//!   ([`median`], [`thousands`], [`utc_date`]).
//! - `train.rs`: `bench train`, the training throughput of doppel's MLP and CNN against PyTorch's.
//! - `mine.rs`: `bench mine`, doppel's HNSW index and MiniLM against faiss and sentence-transformers.
//! - `interop.rs`: `bench interop`, PyTorch reproducing doppel's checkpoints (MLP, CNN, ResNet-8) and `doppel eval`
//!   reading a PyTorch-trained MLP.
//! - `venv.rs`: where the bench venv is and how it is created and filled; every bench uses the same one.

mod interop;
mod mine;
mod train;
mod venv;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

pub use interop::{InteropArgs, interop};
pub use mine::{MineArgs, mine};
pub use train::{TrainArgs, train};

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

/// Runs `cmd` with stderr passed through (the child's progress) and returns its stdout. A failure names the
/// command and shows the end of its stdout.
pub(crate) fn run_capturing(cmd: &mut Command) -> Result<String> {
    let shown = doppel_stdx::shown(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let tail = doppel_stdx::process::tail_lines(&stdout, 12);
        let shown_tail =
            if tail.is_empty() { String::new() } else { format!("; its stdout ended:\n    {}", tail.join("\n    ")) };
        bail!("`{shown}` failed with {}{shown_tail}", out.status);
    }
    Ok(stdout)
}

/// Runs `cmd` with stdout sent to our stderr, for tools whose output is progress (cargo, pip).
pub(crate) fn run_progress(cmd: &mut Command) -> Result<()> {
    let shown = doppel_stdx::shown(cmd);
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

/// Starts a bench: the workspace root, the report folder `out_dir` under it (created) and `command`, the line
/// that reruns this bench, with `--venv` added when one was given.
pub(crate) fn begin(out_dir: &str, mut command: String, venv: Option<&Path>) -> Result<(PathBuf, PathBuf, String)> {
    let root = crate::workspace_root();
    let out = root.join(out_dir);
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    if let Some(v) = venv {
        command.push_str(&format!(" --venv {}", doppel_stdx::shell_quote(&v.display().to_string())));
    }
    Ok((root, out, command))
}

/// Step 1: builds the release `doppel` binary and returns its path.
pub(crate) fn build_doppel(root: &Path) -> Result<PathBuf> {
    crate::build::build_doppel(root, &[], &|line| eprintln!("bench: {line}"))
        .context("the release build of doppel failed; fix it, then rerun the bench")
}

/// Builds the dataset of `config` (from the root) into `dir` unless its manifest exists. The fetched dataset the
/// config reads (its `[source] dataset`, [`source_dataset`]) must be present under `data/` first.
pub(crate) fn build_dataset_from(root: &Path, doppel: &Path, config: &str, dir_name: &str) -> Result<PathBuf> {
    let dir = root.join(dir_name);
    if dir.join("manifest.json").is_file() {
        eprintln!("bench: dataset {} present", dir.display());
        return Ok(dir);
    }
    let text = fs::read_to_string(root.join(config)).with_context(|| format!("cannot read {config}"))?;
    if let Some(name) = source_dataset(&text, config)? {
        let fetched = root.join("data").join(name);
        if !fetched.join(crate::fetch::MARKER).is_file() {
            bail!(
                "{config} reads {name}, but {} holds no fetched copy (no {}); get it with `cargo xtask data fetch \
                 --only {name}`, then rerun",
                fetched.display(),
                crate::fetch::MARKER
            );
        }
    }
    eprintln!("bench: building the dataset {dir_name} from {config}");
    let mut cmd = Command::new(doppel);
    cmd.args(["data", "build", "--config", config, "--out", dir_name, "--force", "--data-dir", "data"])
        .current_dir(root);
    run_progress(&mut cmd)?;
    Ok(dir)
}

/// The fetched dataset that the dataset build config `text` (the file `file`) reads: its `[source] dataset`,
/// which is also the dataset's name for `cargo xtask data fetch --only` and its folder under `data/`; `None` for
/// `synthetic`, which is generated and needs nothing fetched. A config without that key, or one naming a dataset
/// the fetch does not know, is an error naming the file.
pub(crate) fn source_dataset(text: &str, file: &str) -> Result<Option<&'static str>> {
    let table: toml::Table = text.parse().map_err(|e| anyhow::anyhow!("{file} is not valid TOML: {e}"))?;
    let Some(name) = table.get("source").and_then(|s| s.get("dataset")) else {
        bail!("{file} has no `[source] dataset = \"…\"`; name the dataset the build reads");
    };
    let Some(name) = name.as_str() else {
        bail!("{file}: `source.dataset` is {name}, not a string such as \"mnist\"");
    };
    if name == "synthetic" {
        return Ok(None);
    }
    match crate::fetch::ARTIFACTS.iter().find(|a| a.name == name) {
        Some(a) => Ok(Some(a.name)),
        None => {
            let known: Vec<&str> = crate::fetch::ARTIFACTS.iter().map(|a| a.name).collect();
            bail!(
                "{file}: `source.dataset` is {name:?}, which `cargo xtask data fetch` does not know; use synthetic \
                 or one of {}",
                known.join(", ")
            )
        }
    }
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
    match crate::build::git_revision(root, true) {
        Some((rev, dirty)) => format!("git {rev}{}", if dirty { " (with uncommitted changes)" } else { "" }),
        None => format!("version {}", env!("CARGO_PKG_VERSION")),
    }
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
    fn the_source_dataset_of_a_build_config() {
        let source = |text: &str| source_dataset(text, "c.toml").map_err(|e| e.to_string());
        assert_eq!(source("name = \"x\"\n[source]\ndataset = \"mnist\"\n"), Ok(Some("mnist")));
        assert_eq!(source("[source]\ndataset = \"cifar10\"\ntrain_per_class = 200\n"), Ok(Some("cifar10")));
        assert_eq!(source("[source]\ndataset = \"fashion-mnist\"\n"), Ok(Some("fashion-mnist")));
        assert_eq!(source("[source]\ndataset = \"synthetic\"\n"), Ok(None));
        assert_eq!(
            source("[targets]\ncount = 1\n"),
            Err("c.toml has no `[source] dataset = \"…\"`; name the dataset the build reads".into())
        );
        assert_eq!(
            source("[source]\ndataset = 3\n"),
            Err("c.toml: `source.dataset` is 3, not a string such as \"mnist\"".into())
        );
        let err = source("[source]\ndataset = \"imagenet\"\n").unwrap_err();
        assert!(err.starts_with("c.toml: `source.dataset` is \"imagenet\", which `cargo xtask data fetch`"), "{err}");
        assert!(err.contains("mnist, fashion-mnist, cifar10"), "{err}");
        assert!(source("[source\n").unwrap_err().starts_with("c.toml is not valid TOML"));
    }

    #[test]
    fn every_bench_dataset_config_names_a_fetched_source() {
        for config in [train::DATASET_CONFIG, mine::DATASET_CONFIG, interop::MNIST_CONFIG, interop::CIFAR_CONFIG] {
            let text = fs::read_to_string(crate::workspace_root().join(config)).unwrap();
            assert!(source_dataset(&text, config).unwrap().is_some(), "{config}");
        }
    }

    #[test]
    fn proc_stat_cpu_line() {
        let text = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1\n";
        // busy = user + nice + system + irq + softirq + steal; total adds idle and iowait.
        assert_eq!(cpu_jiffies(text), Some((160, 1180)));
        assert_eq!(cpu_jiffies("cpu0 1 2 3 4 5\n"), None);
        assert_eq!(cpu_jiffies("cpu 1 x 3 4 5\n"), None);
    }
}

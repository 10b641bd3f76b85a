//! Running one step: the `doppel` command of its [`Action`], into the step's build folder.
//!
//! A step whose config the binary derives (dataset builds, model training) writes the preset's file as it was when
//! planned to `base-config.toml` in its build folder and runs `doppel … --config base-config.toml --set …`; the
//! command writes the config as used to `config.toml` in its output. Mine and unlearn steps write their settings
//! file, unchanged, as `config.toml`. Either way the artifact says what made it.
//! doppel's stdout is kept as `stdout.txt`; its stderr (tracing) goes to the run log.
//! A model step checks the `result.json` `doppel train` wrote (doppel-protocol's `TrainResult`): the report's
//! accuracy table reads it. The full metrics (membership inference, distances to both oracles, Avg.Gap, reconstruction)
//! come from the eval and attack steps, which run `doppel eval` and `doppel attack` on the cached models.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use doppel_protocol::results::RESULT_FILE;
use doppel_protocol::{Settings, TrainResult, read_result};

use super::log::Log;
use super::plan::{Action, ROLES, Step};
use super::preset::{Builder, StepConfig};
use doppel_stdx::write_atomic;

/// Writes the base of a derived config into the build folder `tmp`; returns its path.
fn base_config(tmp: &Path, config: &StepConfig) -> Result<PathBuf> {
    let path = tmp.join("base-config.toml");
    write_atomic(&path, config.base.as_bytes())?;
    Ok(path)
}

/// What every step needs to run.
#[derive(Debug)]
pub struct Runner<'a> {
    /// The release `doppel` binary.
    pub doppel: &'a Path,
    /// The fetched datasets (`--data-dir` of `doppel data build`).
    pub data_dir: &'a Path,
    /// `flex` or `wgpu`.
    pub device: &'a str,
    /// The run log, which receives doppel's stderr.
    pub log: &'a Log,
}

impl Runner<'_> {
    /// Runs `step` into the build folder `tmp`; `deps` are the finished artifact folders of its dependencies.
    pub fn run(&self, step: &Step, deps: &[PathBuf], tmp: &Path) -> Result<()> {
        match &step.action {
            Action::BuildDataset { config, builder } => {
                let cfg = base_config(tmp, config)?;
                let mut cmd = Command::new(self.doppel);
                cmd.arg("data").arg(builder.command()).arg("--config").arg(&cfg).args(config.args());
                cmd.arg("--out").arg(tmp.join("dataset"));
                cmd.arg("--data-dir").arg(self.data_dir);
                if *builder == Builder::Qa {
                    // MiniLM scores the paraphrases.
                    cmd.args(["--device", self.device]);
                }
                self.call(cmd, tmp, &step.label)?;
            }
            Action::Train { config, roles } => {
                let Some(dataset) = deps.first() else { bail!("{}: a model step needs its dataset", step.label) };
                let cfg = base_config(tmp, config)?;
                let mut cmd = Command::new(self.doppel);
                cmd.arg("train").arg("--dataset").arg(dataset.join("dataset")).arg("--config").arg(&cfg);
                cmd.args(config.args());
                cmd.args(["--which", &roles.join(","), "--device", self.device]).arg("--out").arg(tmp);
                self.call(cmd, tmp, &step.label)?;
                // The result the report reads; a binary from another tree fails here, not in the report.
                let result: TrainResult = read_result(&tmp.join(RESULT_FILE)).with_context(|| step.label.clone())?;
                if result.models.iter().map(|m| m.role.name()).ne(roles.iter().copied()) {
                    bail!(
                        "{}: doppel train's result.json does not hold exactly the {} model(s)",
                        step.label,
                        roles.join(" and ")
                    );
                }
            }
            Action::TrainLm { config, role } => {
                let [dataset] = deps else { bail!("{}: an LM model step needs its dataset", step.label) };
                let cfg = base_config(tmp, config)?;
                let mut cmd = Command::new(self.doppel);
                cmd.args(["lm", "train", "--role", role, "--device", self.device]);
                cmd.arg("--data").arg(dataset.join("dataset")).arg("--config").arg(&cfg).args(config.args());
                cmd.arg("--data-dir").arg(self.data_dir).arg("--out").arg(tmp.join(role));
                self.call(cmd, tmp, &step.label)?;
                self.lm_eval(&dataset.join("dataset"), &tmp.join(role), tmp, &step.label)?;
            }
            Action::UnlearnLm { config, method, scope } => {
                let [dataset, m0] = deps else { bail!("{}: an LM unlearn step needs its dataset and M0", step.label) };
                let cfg = tmp.join("config.toml");
                write_atomic(&cfg, config.as_bytes())?;
                let mut cmd = Command::new(self.doppel);
                cmd.args(["lm", "unlearn", "--method", method, "--scope", scope, "--device", self.device]);
                cmd.arg("--data").arg(dataset.join("dataset")).arg("--model").arg(m0.join("m0"));
                cmd.arg("--config").arg(&cfg).arg("--out").arg(tmp.join("model"));
                self.call(cmd, tmp, &step.label)?;
                self.lm_eval(&dataset.join("dataset"), &tmp.join("model"), tmp, &step.label)?;
            }
            Action::Attack(at) => {
                let Some((dataset, models)) = deps.split_first() else {
                    bail!("{}: an attack step needs its dataset", step.label)
                };
                if models.len() != at.models.len() {
                    bail!("{}: {} model folders for {} names", step.label, models.len(), at.models.len());
                }
                let mut cmd = Command::new(self.doppel);
                cmd.arg("attack").arg("--dataset").arg(dataset.join("dataset"));
                for (name, dir) in at.models.iter().zip(models) {
                    // Reference models sit in <artifact>/<role>/, unlearned ones in <artifact>/model/.
                    let sub = if ROLES.contains(&name.as_str()) { name.as_str() } else { "model" };
                    let mut arg = std::ffi::OsString::from(format!("{name}="));
                    arg.push(dir.join(sub));
                    cmd.arg("--model").arg(arg);
                }
                cmd.args(["--attack", &at.attacks, "--candidates", &at.candidates.to_string()]);
                cmd.args(["--steps", &at.steps.to_string(), "--seed", &at.seed.to_string(), "--device", self.device]);
                cmd.arg("--out").arg(tmp.join("attack"));
                self.call(cmd, tmp, &step.label)?;
            }
            Action::Mine { config } => {
                let [dataset] = deps else { bail!("{}: a mine step needs its dataset", step.label) };
                let cfg = tmp.join("config.toml");
                write_atomic(&cfg, config.as_bytes())?;
                let embeddings = tmp.join("embeddings");
                let mut cmd = Command::new(self.doppel);
                cmd.args(["mine", "neighbours", "--exact", "--device", self.device])
                    .arg("--dataset")
                    .arg(dataset.join("dataset"));
                cmd.arg("--config").arg(&cfg).arg("--embeddings").arg(&embeddings).arg("--out").arg(tmp.join("mine"));
                self.call(cmd, tmp, &step.label)?;
                // Precision and recall against the lineage over the config's threshold sweep (the report's PR
                // curve); meaningless without variants.
                if step.coords.k > 0 {
                    let mut cmd = Command::new(self.doppel);
                    cmd.args(["mine", "quality", "--exact", "--device", self.device])
                        .arg("--dataset")
                        .arg(dataset.join("dataset"));
                    cmd.arg("--config")
                        .arg(&cfg)
                        .arg("--embeddings")
                        .arg(&embeddings)
                        .arg("--out")
                        .arg(tmp.join("quality"));
                    self.call_to(cmd, &tmp.join("quality-stdout.txt"), &step.label)?;
                }
                // The embeddings are a cache (hundreds of MB for patch sketches of MNIST); the neighbours stay.
                if embeddings.exists() {
                    fs::remove_dir_all(&embeddings)
                        .with_context(|| format!("cannot remove {}", embeddings.display()))?;
                }
            }
            Action::Unlearn { config, method, scope, settings } => {
                let takes_last = *settings != Settings::Config;
                let (dataset, m0, mine, last) = match (deps, *scope == "mined", takes_last) {
                    ([d, m], false, false) => (d, m, None, None),
                    ([d, m, n], true, false) => (d, m, Some(n), None),
                    ([d, m, r], false, true) => (d, m, None, Some(r)),
                    ([d, m, n, r], true, true) => (d, m, Some(n), Some(r)),
                    _ => bail!(
                        "{}: an unlearn step needs its dataset and M0 (then the mining for scope mined, then \
                         retrain_exact for a search or the calibration step for calibrated settings)",
                        step.label
                    ),
                };
                // The settings it runs, as config.toml beside its output: the arm's file, or the calibration's
                // choice.
                let cfg = tmp.join("config.toml");
                match (settings, last) {
                    (Settings::Calibrated, Some(c)) => {
                        let chosen = c.join("model/settings.toml");
                        let text = std::fs::read(&chosen).with_context(|| {
                            format!("{}: cannot read the calibration's settings {}", step.label, chosen.display())
                        })?;
                        write_atomic(&cfg, &text)?;
                    }
                    _ => write_atomic(&cfg, config.as_bytes())?,
                }
                let mut cmd = Command::new(self.doppel);
                cmd.arg("unlearn").arg("--dataset").arg(dataset.join("dataset")).arg("--checkpoint").arg(m0.join("m0"));
                cmd.args(["--method", method, "--scope", scope, "--device", self.device]).arg("--config").arg(&cfg);
                if let Some(mine) = mine {
                    cmd.arg("--mined-rows").arg(mine.join("mine/neighbours.parquet"));
                }
                if let (true, Some(reference)) = (settings.searched(), last) {
                    cmd.arg("--search").arg("--reference").arg(reference.join("retrain_exact"));
                    if *settings == Settings::Calibration {
                        cmd.args(["--objective", "kl-forget"]);
                    }
                }
                cmd.arg("--out").arg(tmp.join("model"));
                self.call(cmd, tmp, &step.label)?;
            }
            Action::Eval { seeds, unlearned, attacks, attack_seed, near_rows } => {
                let Some((dataset, rest)) = deps.split_first() else {
                    bail!("{}: an eval step needs its dataset", step.label)
                };
                let (rest, mine) = match (near_rows, rest.split_last()) {
                    (true, Some((mine, rest))) => (rest, Some(mine)),
                    (true, None) => bail!("{}: an eval step with --near-rows needs its mine step", step.label),
                    (false, _) => (rest, None),
                };
                let n_models = seeds.len() * ROLES.len();
                let n_attacks = if *attacks { seeds.len() } else { 0 };
                if rest.len() != n_models + unlearned.len() + n_attacks {
                    bail!(
                        "{}: {} dependency folders for {} seeds and {} unlearned models",
                        step.label,
                        rest.len(),
                        seeds.len(),
                        unlearned.len()
                    );
                }
                let (models, rest) = rest.split_at(n_models);
                let (unlearned_dirs, attack_dirs) = rest.split_at(unlearned.len());
                // doppel eval reads one folder per seed holding m0/, retrain_exact/ and retrain_clean/; the
                // models sit in one cache folder each, so the run folders are links, removed afterwards.
                let runs = tmp.join("runs");
                let mut run_dirs = Vec::new();
                for (seed, chunk) in seeds.iter().zip(models.chunks(ROLES.len())) {
                    let run = runs.join(format!("seed-{seed}"));
                    std::fs::create_dir_all(&run).with_context(|| format!("cannot create {}", run.display()))?;
                    for (role, model) in ROLES.iter().zip(chunk) {
                        let target = std::path::absolute(model.join(role))
                            .with_context(|| format!("cannot resolve {}", model.display()))?;
                        link_dir(&target, &run.join(role))?;
                    }
                    run_dirs.push(run);
                }
                for ((seed, name), dir) in unlearned.iter().zip(unlearned_dirs) {
                    let target = std::path::absolute(dir.join("model"))
                        .with_context(|| format!("cannot resolve {}", dir.display()))?;
                    link_dir(&target, &runs.join(format!("seed-{seed}")).join(name))?;
                }
                let mut cmd = Command::new(self.doppel);
                cmd.arg("eval").arg("--dataset").arg(dataset.join("dataset")).arg("--runs").args(&run_dirs);
                if !attack_dirs.is_empty() {
                    cmd.arg("--attacks").args(attack_dirs.iter().map(|d| d.join("attack")));
                }
                if let Some(mine) = mine {
                    cmd.arg("--near-rows").arg(mine.join("mine").join("neighbours.parquet"));
                }
                cmd.args(["--device", self.device, "--seed", &attack_seed.to_string()])
                    .arg("--out")
                    .arg(tmp.join("eval"));
                self.call(cmd, tmp, &step.label)?;
                std::fs::remove_dir_all(&runs).with_context(|| format!("cannot remove {}", runs.display()))?;
            }
        }
        Ok(())
    }

    /// `doppel lm eval --data <dataset> --model <model> --out <out>`: writes `out/lm-eval.json`; its printout goes
    /// to `out/lm-eval-stdout.txt`.
    fn lm_eval(&self, dataset: &Path, model: &Path, out: &Path, label: &str) -> Result<()> {
        let mut cmd = Command::new(self.doppel);
        cmd.args(["lm", "eval", "--device", self.device]).arg("--data").arg(dataset).arg("--model").arg(model);
        cmd.arg("--data-dir").arg(self.data_dir).arg("--out").arg(out);
        self.call_to(cmd, &out.join("lm-eval-stdout.txt"), label)?;
        Ok(())
    }

    /// Runs `cmd` with stdout kept in `tmp/stdout.txt` and returned, stderr appended to the log; a failure names
    /// the command and shows the end of its stderr.
    fn call(&self, cmd: Command, tmp: &Path, label: &str) -> Result<String> {
        self.call_to(cmd, &tmp.join("stdout.txt"), label)
    }

    /// [`Runner::call`] with stdout kept in the file `stdout_file`.
    fn call_to(&self, mut cmd: Command, stdout_file: &Path, label: &str) -> Result<String> {
        cmd.env("NO_COLOR", "1").stdin(Stdio::null());
        let shown = doppel_stdx::shown(&cmd);
        self.log.file_only(&format!("$ {shown}"));
        let out = cmd.output().with_context(|| format!("{label}: cannot start `{shown}`"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        self.log.file_only(stderr.trim_end());
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        fs::write(stdout_file, &stdout).with_context(|| format!("cannot write {}", stdout_file.display()))?;
        if !out.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
            bail!("{label}: `{shown}` failed with {}; its stderr ended:\n    {}", out.status, tail.join("\n    "));
        }
        Ok(stdout)
    }
}

/// Makes `link` point at the folder `target`.
fn link_dir(target: &Path, link: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link)
            .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))
    }
    #[cfg(not(unix))]
    {
        bail!(
            "the eval stage links model folders, which needs a Unix file system ({} → {})",
            link.display(),
            target.display()
        )
    }
}

/// `doppel --version` of `doppel`, e.g. `doppel-cli 0.1.0`.
pub fn doppel_version(doppel: &Path) -> Result<String> {
    let out = Command::new(doppel)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {} --version", doppel.display()))?;
    if !out.status.success() {
        bail!("{} --version failed with {}", doppel.display(), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Builds the release `doppel` binary (with the wgpu feature for `--device wgpu`) and returns its path.
pub fn build_doppel(root: &Path, device: &str, log: &Log) -> Result<PathBuf> {
    let features: &[&str] = if device == "wgpu" { &["wgpu"] } else { &[] };
    crate::build::build_doppel(root, features, &|line| log.line(line))
}

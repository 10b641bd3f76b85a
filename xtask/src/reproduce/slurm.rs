//! `--emit-jobs FILE`: a run as Slurm jobs. Four files, FILE and three beside it:
//!
//! - `FILE`: one `cargo xtask reproduce … --shard i/N` command per line (for any scheduler, or a shell loop);
//! - `FILE.sbatch` (FILE with the extension `.sbatch`): the array job, task `i` running line `i + 1` with
//!   `--jobs $SLURM_CPUS_PER_TASK`, asking for `--cpus-per-task` and a `--time` estimated from measured step
//!   times ([`estimate`]);
//! - `FILE.merge.sbatch`: the merge (`--merge`), which writes the report once every shard is done;
//! - `FILE.submit.sh`: submits the array, then the merge with `--dependency=afterok:<array>`; its arguments go
//!   to the merge's `sbatch` (`--wait` blocks until the report is written).
//!
//! Every command carries `--doppel-bin` and `--data-dir` when the emitting run was given them, so a task runs
//! the same binary on the same data as a run started by hand.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use doppel_stdx::human::seconds as human_seconds;
use doppel_stdx::{shell_quote, write_atomic};

use super::cache::Cache;
use super::plan::{Kind, Plan};

/// One step's time when no run has measured its kind: an upper bound for one step on 2 cores, from the `cpu`
/// preset run the README describes (its slowest steps: a CIFAR-10 CNN 63 s, the KKT attack 11 min, a language
/// model about 6 min).
fn unmeasured_seconds(kind: Kind) -> f64 {
    match kind {
        Kind::Dataset | Kind::Mine | Kind::Eval => 120.0,
        Kind::Model => 180.0,
        Kind::Unlearn | Kind::LmUnlearn => 300.0,
        Kind::LmModel => 600.0,
        Kind::Attack => 900.0,
    }
}

/// Slack on the estimate: Slurm kills a task at its limit, so it asks for half as much again.
const MARGIN: f64 = 1.5;

/// What a task spends before its first step: building xtask and doppel (about 20 min cold on 2 cores) unless
/// `--doppel-bin` names a binary, then starting up.
fn startup_seconds(has_bin: bool) -> f64 {
    if has_bin { 300.0 } else { 1800.0 }
}

/// Per shard: the steps it will build and the seconds they take by the estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardEstimate {
    /// Steps of the shard not finished in the results folder.
    pub to_build: usize,
    /// Their summed estimate in seconds (as if run one at a time: an upper bound whatever `--jobs`).
    pub seconds: f64,
}

/// The estimate of each shard of `plan` split `n` ways. A finished step costs nothing; another step costs the
/// slowest measured step of its kind among the finished steps of `folders` (the results folder and
/// `--estimate-from`), or [`unmeasured_seconds`] when none of its kind was measured. Returns the shards and how
/// many kinds were measured.
pub fn estimate(plan: &Plan, cache: &Cache, folders: &[PathBuf], n: usize) -> Result<(Vec<ShardEstimate>, usize)> {
    let mut slowest: Vec<(Kind, f64)> = Vec::new();
    for folder in folders {
        let c = Cache::new(folder);
        for kind in Kind::ALL {
            let dir = folder.join("cache").join(kind.dir());
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let key = e.file_name().to_string_lossy().into_owned();
                if key.starts_with('.') {
                    continue;
                }
                if let Some(rec) = c.record(kind, &key)? {
                    match slowest.iter_mut().find(|(k, _)| *k == kind) {
                        Some((_, s)) => *s = s.max(rec.wall_seconds),
                        None => slowest.push((kind, rec.wall_seconds)),
                    }
                }
            }
        }
    }
    let cost = |kind: Kind| slowest.iter().find(|(k, _)| *k == kind).map_or(unmeasured_seconds(kind), |(_, s)| *s);
    let shards = (0..n)
        .map(|i| {
            let todo: Vec<usize> = plan
                .shard(i, n)
                .into_iter()
                .filter(|&s| !cache.is_done(plan.steps[s].kind, &plan.steps[s].key))
                .collect();
            ShardEstimate { to_build: todo.len(), seconds: todo.iter().fold(0.0, |t, &s| t + cost(plan.steps[s].kind)) }
        })
        .collect();
    Ok((shards, slowest.len()))
}

/// Slurm's `--time` for `seconds` of work: with [`MARGIN`], whole minutes rounded up, at least 10, as `H:MM:00`.
pub fn time_limit(seconds: f64) -> String {
    let minutes = ((seconds * MARGIN) / 60.0).ceil().max(10.0) as u64;
    format!("{}:{:02}:00", minutes / 60, minutes % 60)
}

/// What the emitted commands say and ask for.
#[derive(Debug)]
pub struct Emit<'a> {
    pub file: &'a Path,
    pub root: &'a Path,
    pub preset_path: &'a Path,
    pub preset_name: &'a str,
    pub out: &'a Path,
    pub device: &'a str,
    pub shards: usize,
    pub cpus_per_task: usize,
    pub doppel_bin: Option<&'a Path>,
    pub data_dir: Option<&'a Path>,
}

/// The four files `--emit-jobs` writes, at the paths the module doc names.
#[derive(Debug)]
pub struct Emitted {
    pub array: PathBuf,
    pub merge: PathBuf,
    pub submit: PathBuf,
}

/// Writes the four files for `e` with the shard estimates `est`.
pub fn emit(e: &Emit<'_>, est: &[ShardEstimate]) -> Result<Emitted> {
    let n = e.shards;
    if n == 0 {
        bail!("--shards must be 1 or more");
    }
    if e.cpus_per_task == 0 {
        bail!("--cpus-per-task must be 1 or more");
    }
    // Slurm opens the tasks' log files in the results folder before they start.
    std::fs::create_dir_all(e.out).with_context(|| format!("cannot create {}", e.out.display()))?;
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let abs = |p: &Path| std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()));
    let mut base = format!(
        "cd {} && cargo xtask reproduce --preset {} --out {} --device {}",
        q(e.root),
        q(e.preset_path),
        q(e.out),
        e.device
    );
    if let Some(bin) = e.doppel_bin {
        base.push_str(&format!(" --doppel-bin {}", q(&abs(bin)?)));
    }
    if let Some(dir) = e.data_dir {
        base.push_str(&format!(" --data-dir {}", q(&abs(dir)?)));
    }
    let lines: String = (0..n).map(|i| format!("{base} --shard {i}/{n}\n")).collect();
    write_atomic(e.file, lines.as_bytes())?;
    let file_abs = abs(e.file)?;
    let array = if e.file.extension().is_some_and(|x| x == "sbatch") {
        e.file.with_extension("sbatch.sbatch")
    } else {
        e.file.with_extension("sbatch")
    };
    let sibling = |suffix: &str| {
        let stem = array.file_stem().map_or_else(|| "jobs".into(), |s| s.to_string_lossy().into_owned());
        array.with_file_name(format!("{stem}{suffix}"))
    };
    let (merge, submit) = (sibling(".merge.sbatch"), sibling(".submit.sh"));
    let name = e.preset_name.replace(['/', ' '], "_");
    let worst = est.iter().map(|s| s.seconds).fold(0.0, f64::max);
    let startup = startup_seconds(e.doppel_bin.is_some());
    let per_shard: String = est
        .iter()
        .enumerate()
        .map(|(i, s)| format!("#   shard {i}: {} steps to build, about {}\n", s.to_build, human_seconds(s.seconds)))
        .collect();
    let array_script = format!(
        "#!/bin/bash\n\
         # doppel reproduce, preset {name}: {n} shards as a Slurm job array sharing the results folder\n\
         # {out}.\n\
         # Submit it with its merge by `bash {submit}`\n\
         # (or `sbatch {array}`, then {merge} once every task is done).\n\
         # The time limit is the slowest shard's estimate from measured step times,\n\
         # plus {startup_min:.0} min to start, times {MARGIN}:\n\
         {per_shard}\
         #SBATCH --job-name=doppel-{name}\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --time={time}\n\
         #SBATCH --output={out}/slurm-%A_%a.log\n\
         set -euo pipefail\n\
         line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {jobs})\n\
         echo \"task $SLURM_ARRAY_TASK_ID: $line\"\n\
         eval \"$line --jobs ${{SLURM_CPUS_PER_TASK:-1}}\"\n",
        out = e.out.display(),
        submit = submit.display(),
        array = array.display(),
        merge = merge.display(),
        startup_min = startup / 60.0,
        last = n - 1,
        cpus = e.cpus_per_task,
        time = time_limit(worst + startup),
        jobs = shell_quote(&file_abs.display().to_string()),
    );
    write_atomic(&array, array_script.as_bytes())?;
    let merge_script = format!(
        "#!/bin/bash\n\
         # The report of the {n} shards of {array}, once they are all done.\n\
         #SBATCH --job-name=doppel-{name}-merge\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --time={time}\n\
         #SBATCH --output={out}/slurm-%j-merge.log\n\
         set -euo pipefail\n\
         {base} --merge\n",
        array = array.display(),
        time = time_limit(startup + 120.0),
        out = e.out.display(),
    );
    write_atomic(&merge, merge_script.as_bytes())?;
    let submit_script = format!(
        "#!/bin/bash\n\
         # Submits the shards of doppel reproduce ({name}) and their merge, which starts once every shard\n\
         # succeeded. Arguments go to the merge's sbatch: `bash {submit} --wait` returns when the report is\n\
         # written (and fails if a shard or the merge did).\n\
         set -euo pipefail\n\
         array=$(sbatch --parsable {array_q})\n\
         echo \"submitted the shards as job ${{array%%;*}}\"\n\
         sbatch --parsable --dependency=afterok:\"${{array%%;*}}\" \"$@\" {merge_q}\n",
        submit = submit.display(),
        array_q = q(&abs(&array)?),
        merge_q = q(&abs(&merge)?),
    );
    write_atomic(&submit, submit_script.as_bytes())?;
    Ok(Emitted { array, merge, submit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_carry_the_margin_and_round_up_to_minutes() {
        assert_eq!(time_limit(0.0), "0:10:00", "never below 10 min");
        assert_eq!(time_limit(3600.0), "1:30:00");
        assert_eq!(time_limit(1000.0), "0:25:00", "1500 s is 25 min");
        assert_eq!(time_limit(1001.0), "0:26:00", "rounded up");
    }
}

//! The end of a run: `OUT/plan.json` for doppel-report, `doppel report` itself, and `OUT/manifest.json`.
//!
//! The report (`report.md`, `timing.md`, `tables/`, `figures/`, `reconstructions/`) is doppel-report's alone:
//! the xtask writes what it knows of the preset and the steps as doppel-protocol's `ReportPlan` and runs
//! `doppel report --plan OUT/plan.json --cache OUT/cache --out OUT`, which reads every step's `result.json`. The
//! manifest — versions, the git revision, wall times — is the xtask's: it is what varies between runs of one
//! preset, so it never enters the report.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use doppel_protocol::{
    ArmInfo, Builder as ArmBuilder, PlanStep, PlanUnlearn, PresetInfo, ReportPlan, Scope, Settings, UnlearnInfo,
};
use serde_json::json;

use super::cache::{Cache, Record};
use super::log::Log;
use super::plan::{Action, CALIBRATION_SUFFIX, Kind, Plan, SEARCH_SUFFIX};
use super::preset::{Builder, Calibrate, Preset};
use doppel_stdx::write_atomic;

/// What the manifest records beyond the artifacts.
#[derive(Debug)]
pub struct RunInfo {
    /// The preset file, relative to the workspace root when it is inside it.
    pub preset_file: String,
    /// `flex` or `wgpu`.
    pub device: String,
    /// `git rev-parse HEAD`, or `unknown`.
    pub git_revision: String,
    /// Whether tracked files had uncommitted changes.
    pub git_dirty: bool,
    /// The code fingerprint of each kind.
    pub code: Vec<(Kind, String)>,
    /// The digest of each fetched source's files.
    pub sources: Vec<(String, String)>,
    /// `unsharded` or `merge`.
    pub invocation: String,
    /// Seconds this invocation took so far.
    pub invocation_seconds: f64,
}

/// Checks that every step of `plan` is finished, writes `OUT/plan.json`, runs `doppel report` on it and writes
/// `OUT/manifest.json`.
pub fn write(
    out: &Path,
    preset: &Preset,
    plan: &Plan,
    cache: &Cache,
    info: &RunInfo,
    doppel: &Path,
    log: &Log,
) -> Result<()> {
    let mut records: Vec<Record> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    for s in &plan.steps {
        match cache.record(s.kind, &s.key)? {
            Some(r) => records.push(r),
            None => missing.push(&s.label),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(8).copied().collect();
        let more = if missing.len() > shown.len() {
            format!(" and {} more", missing.len() - shown.len())
        } else {
            String::new()
        };
        bail!(
            "{} of {} steps are not in {} yet ({}{more}); run the missing shards (or the preset without --shard), \
             then merge again",
            missing.len(),
            plan.steps.len(),
            cache.dir(Kind::Dataset, "").parent().map_or_else(String::new, |p| p.display().to_string()),
            shown.join(", ")
        );
    }
    copy_configs(out, plan, cache)?;
    let report_plan = report_plan(preset, plan, info)?;
    let plan_path = out.join("plan.json");
    let text = serde_json::to_string_pretty(&report_plan).context("cannot encode the report plan")? + "\n";
    write_atomic(&plan_path, text.as_bytes())?;
    run_report(doppel, &plan_path, &out.join("cache"), out, log)?;
    let manifest = manifest(preset, plan, &records, info);
    let text = serde_json::to_vec_pretty(&manifest).context("cannot encode the manifest")?;
    write_atomic(&out.join("manifest.json"), &text)?;
    Ok(())
}

/// Copies each step's config as used — the `config.toml` its artifact holds, written by the command after its
/// `--set` overrides (or, for mine and unlearn steps, the settings file as given) — to
/// `OUT/configs/<kind>/<slug>.toml`, for a reader.
fn copy_configs(out: &Path, plan: &Plan, cache: &Cache) -> Result<()> {
    for s in &plan.steps {
        let dir = cache.dir(s.kind, &s.key);
        let holder = match &s.action {
            Action::BuildDataset { .. } => dir.join("dataset"),
            Action::TrainLm { role, .. } => dir.join(role),
            Action::Train { .. } | Action::Mine { .. } | Action::Unlearn { .. } | Action::UnlearnLm { .. } => dir,
            // Nothing to show: their command lines are in the log and the manifest.
            Action::Eval { .. } | Action::Attack(_) => continue,
        };
        let used = holder.join("config.toml");
        let text = std::fs::read(&used)
            .with_context(|| format!("{}: cannot read the config it ran with, {}", s.label, used.display()))?;
        let path = out.join("configs").join(s.kind.dir()).join(format!("{}.toml", s.slug));
        if std::fs::read(&path).ok().as_deref() != Some(text.as_slice()) {
            write_atomic(&path, &text)?;
        }
    }
    Ok(())
}

/// What doppel-report needs of the preset and the steps.
pub fn report_plan(preset: &Preset, plan: &Plan, info: &RunInfo) -> Result<ReportPlan> {
    let scope = |s: &str| Scope::parse(s).with_context(|| format!("scope {s:?} is not one doppel-protocol names"));
    let arms = preset
        .datasets
        .iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(ArmInfo {
                label: a.label.clone(),
                builder: match a.builder {
                    Builder::Images => ArmBuilder::Images,
                    Builder::Spam => ArmBuilder::Spam,
                    Builder::Qa => ArmBuilder::Qa,
                },
                k: a.k.clone(),
                seeds: a.seeds.clone(),
                config_path: a.config_path.clone(),
                train_path: a.train_path.clone(),
                unlearn: match &a.unlearn {
                    None => None,
                    Some(u) => Some(UnlearnInfo {
                        methods: u.methods.iter().map(|m| m.to_string()).collect(),
                        scopes: u.scopes.iter().map(|s| scope(s)).collect::<Result<_>>()?,
                        k: u.k.clone(),
                        seeds: u.seeds.clone(),
                        config_path: u.config_path.clone(),
                        calibrated_by: match (&u.calibrate, i) {
                            (None, _) => None,
                            (Some(Calibrate::Seed(_)), i) => Some(i),
                            (Some(Calibrate::From(b)), _) => Some(*b),
                        },
                    }),
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let steps = plan
        .steps
        .iter()
        .map(|s| {
            let (model, unlearn) = match &s.action {
                // A step that writes retrain_exact and retrain_clean as one model is named by the first; the
                // report reads both from its result.json.
                Action::Train { roles, .. } => (Some(roles[0].to_string()), None),
                Action::TrainLm { role, .. } => (Some(role.to_string()), None),
                Action::Unlearn { method, scope: sc, settings, .. } => {
                    let shown = match settings {
                        Settings::Search => format!("{method}{SEARCH_SUFFIX}"),
                        Settings::Calibration => format!("{method}{CALIBRATION_SUFFIX}"),
                        Settings::Config | Settings::Calibrated => method.to_string(),
                    };
                    let u = PlanUnlearn { method: method.to_string(), scope: scope(sc)?, settings: *settings };
                    (Some(format!("{shown}-{sc}")), Some(u))
                }
                Action::UnlearnLm { method, scope: sc, .. } => {
                    let u = PlanUnlearn { method: method.to_string(), scope: scope(sc)?, settings: Settings::Config };
                    (Some(format!("{method}-{sc}")), Some(u))
                }
                _ => (None, None),
            };
            Ok(PlanStep {
                kind: s.kind,
                key: s.key.clone(),
                label: s.label.clone(),
                arm: s.coords.arm,
                k: s.coords.k,
                seed: s.coords.seed,
                model,
                unlearn,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ReportPlan {
        format: ReportPlan::FORMAT.to_string(),
        preset: PresetInfo {
            name: preset.name.clone(),
            description: preset.description.clone(),
            file: info.preset_file.clone(),
            device: info.device.clone(),
            seeds: preset.seeds.clone(),
            reseed_data: preset.reseed_data,
            arms,
        },
        steps,
    })
}

/// `doppel report --plan PLAN --cache CACHE --out OUT`; its output goes to the run log.
fn run_report(doppel: &Path, plan: &Path, cache: &Path, out: &Path, log: &Log) -> Result<()> {
    let mut cmd = Command::new(doppel);
    cmd.arg("report").arg("--plan").arg(plan).arg("--cache").arg(cache).arg("--out").arg(out);
    cmd.env("NO_COLOR", "1").stdin(Stdio::null());
    let shown = doppel_stdx::shown(&cmd);
    log.file_only(&format!("$ {shown}"));
    let run = cmd.output().with_context(|| format!("cannot start `{shown}`"))?;
    log.file_only(String::from_utf8_lossy(&run.stdout).trim_end());
    let stderr = String::from_utf8_lossy(&run.stderr);
    log.file_only(stderr.trim_end());
    if !run.status.success() {
        let tail = doppel_stdx::process::tail_lines(&stderr, 8);
        bail!("`{shown}` failed with {}; its stderr ended:\n    {}", run.status, tail.join("\n    "));
    }
    Ok(())
}

fn manifest(preset: &Preset, plan: &Plan, records: &[Record], info: &RunInfo) -> serde_json::Value {
    let mut versions: Vec<&str> = records.iter().map(|r| r.doppel_version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    let steps: Vec<serde_json::Value> = plan
        .steps
        .iter()
        .zip(records)
        .map(|(s, r)| {
            json!({
                "kind": s.kind,
                "key": s.key,
                "label": s.label,
                "wall_seconds": r.wall_seconds,
                "built_by": r.built_by,
                "doppel_version": r.doppel_version,
                "doppel_sha256": r.doppel_sha256,
            })
        })
        .collect();
    let total: f64 = records.iter().map(|r| r.wall_seconds).sum();
    json!({
        "format": "doppel-reproduce-manifest/1",
        "preset": preset.name,
        "preset_file": info.preset_file,
        "device": info.device,
        "seeds": preset.seeds,
        "reseed_data": preset.reseed_data,
        "git_revision": info.git_revision,
        "git_dirty": info.git_dirty,
        "xtask_version": env!("CARGO_PKG_VERSION"),
        "doppel_versions": versions,
        "code_fingerprints": info.code.iter().map(|(k, c)| (k.dir().to_string(), c.clone())).collect::<BTreeMap<_, _>>(),
        "source_digests": info.sources.iter().cloned().collect::<BTreeMap<_, _>>(),
        "invocation": info.invocation,
        "invocation_seconds": info.invocation_seconds,
        "step_seconds_total": total,
        "steps": steps,
    })
}

//! The report: `OUT/report.md`, `OUT/tables/*.csv` and `OUT/manifest.json`, read from the cache alone.
//!
//! Everything in `report.md` and the tables is a function of the preset and the artifacts, which are a function of
//! their keys, so the same preset gives byte-identical files however the steps were run (at once, resumed, in
//! shards). Wall times, versions and the git revision go to `manifest.json` only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::cache::{Cache, Record, write_atomic};
use super::exec::Metrics;
use super::lm_report::{self, LmCell, LmRow};
use super::plan::{Action, Kind, Plan, ROLES, SEARCH_SUFFIX};
use super::preset::{Builder, Preset, SCOPES};

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

/// One model's metrics with where it sits.
struct Row {
    arm: usize,
    dataset: String,
    k: usize,
    seed: u64,
    role: &'static str,
    metrics: Metrics,
}

/// Counts of one dataset artifact, from its `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counts {
    base: u64,
    targets: u64,
    variants: u64,
    test: u64,
}

/// Checks that every step of `plan` is finished and writes the report, the tables and the manifest into `out`.
pub fn write(out: &Path, preset: &Preset, plan: &Plan, cache: &Cache, info: &RunInfo) -> Result<()> {
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
    let mut rows = Vec::new();
    let mut evals: Vec<EvalRow> = Vec::new();
    let mut costs: BTreeMap<(usize, usize, String), Cost> = BTreeMap::new();
    let mut attacks: Vec<AttackRow> = Vec::new();
    let mut counts: BTreeMap<(usize, usize, Option<u64>), Counts> = BTreeMap::new();
    let mut lm_rows: Vec<LmRow> = Vec::new();
    let mut quality = String::new();
    let mut grids: Vec<(usize, usize, String)> = Vec::new();
    for s in &plan.steps {
        let dir = cache.dir(s.kind, &s.key);
        match s.kind {
            Kind::Dataset => {
                counts.insert(
                    (s.coords.arm, s.coords.k, s.coords.seed),
                    read_counts(&dir.join("dataset/manifest.json"))?,
                );
            }
            Kind::Model => {
                let path = dir.join("metrics.json");
                let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                let metrics: Metrics = serde_json::from_slice(&text).with_context(|| {
                    format!("{} is not a metrics file; delete {} to rebuild it", path.display(), dir.display())
                })?;
                let (Some(seed), Some(role)) = (s.coords.seed, s.coords.role) else {
                    bail!("{}: a model step without a seed or role", s.label)
                };
                rows.push(Row {
                    arm: s.coords.arm,
                    dataset: s.coords.dataset.clone(),
                    k: s.coords.k,
                    seed,
                    role,
                    metrics,
                });
            }
            // Its effect shows in the size of the mined scope, which the unlearn steps report; with variants, its
            // precision and recall against the lineage over the config's threshold sweep.
            Kind::Mine => {
                let path = dir.join("quality/quality.csv");
                if path.is_file() {
                    let text =
                        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    let mut lines = text.lines();
                    let header = lines.next().unwrap_or_default();
                    if !header.starts_with("rule,value,") {
                        bail!(
                            "{} is not a `doppel mine quality` table; delete {} to rebuild it",
                            path.display(),
                            dir.display()
                        );
                    }
                    if quality.is_empty() {
                        quality = format!("dataset,k,{header}\n");
                    }
                    for l in lines {
                        let _ = writeln!(quality, "{},{},{l}", s.coords.dataset, s.coords.k);
                    }
                }
            }
            Kind::Attack => {
                let path = dir.join("attack/scores.csv");
                let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                let rows = parse_scores(&text)
                    .with_context(|| format!("{}; delete {} to rebuild it", path.display(), dir.display()))?;
                for ((model, attack), v) in rows {
                    attacks.push(AttackRow { arm: s.coords.arm, k: s.coords.k, model, attack, values: v });
                }
                // The reconstruction grids (one row per target: the target, then each model's best
                // reconstruction), copied out of the cache under names that say where they come from.
                for attack in ["kkt", "inversion"] {
                    let grid = dir.join(format!("attack/grid_{attack}.png"));
                    if grid.is_file() {
                        let bytes = std::fs::read(&grid).with_context(|| format!("cannot read {}", grid.display()))?;
                        let name = format!(
                            "{}-k{}-seed{}-{attack}.png",
                            s.coords.dataset,
                            s.coords.k,
                            s.coords.seed.unwrap_or(0)
                        );
                        write_atomic(&out.join("reconstructions").join(&name), &bytes)?;
                        grids.push((s.coords.arm, s.coords.k, name));
                    }
                }
            }
            Kind::LmModel | Kind::LmUnlearn => {
                let path = dir.join("lm-eval.json");
                let values = lm_report::read_lm_eval(&path)
                    .with_context(|| format!("delete {} to rebuild it", dir.display()))?;
                let model = match &s.action {
                    Action::UnlearnLm { method, scope, .. } => format!("{method}-{scope}"),
                    _ => s.coords.role.unwrap_or("?").to_string(),
                };
                lm_rows.push(LmRow {
                    arm: s.coords.arm,
                    dataset: s.coords.dataset.clone(),
                    k: s.coords.k,
                    model,
                    values,
                });
                if s.kind == Kind::LmUnlearn {
                    unlearn_cost(&dir, s, &mut costs)?;
                }
            }
            Kind::Unlearn => unlearn_cost(&dir, s, &mut costs)?,
            Kind::Eval => {
                let path = dir.join("eval/aggregate.csv");
                let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                for (model, values) in parse_aggregate(&text)
                    .with_context(|| format!("{}; delete {} to rebuild it", path.display(), dir.display()))?
                {
                    evals.push(EvalRow {
                        arm: s.coords.arm,
                        dataset: s.coords.dataset.clone(),
                        k: s.coords.k,
                        model,
                        values,
                    });
                }
            }
        }
    }
    let summary = summarise(&rows);
    let tables = out.join("tables");
    write_atomic(&tables.join("reference_models.csv"), summary_csv(&summary).as_bytes())?;
    write_atomic(&tables.join("reference_models_per_seed.csv"), per_seed_csv(&rows).as_bytes())?;
    write_atomic(&tables.join("datasets.csv"), datasets_csv(preset, &counts).as_bytes())?;
    write_atomic(&tables.join("evaluation.csv"), eval_csv(&evals, &costs).as_bytes())?;
    let attack_cells = summarise_attacks(&attacks);
    if !attack_cells.is_empty() {
        write_atomic(&tables.join("reconstruction.csv"), attack_csv(preset, &attack_cells).as_bytes())?;
    }
    if !quality.is_empty() {
        write_atomic(&tables.join("mining_quality.csv"), quality.as_bytes())?;
    }
    let lm_cells = lm_report::summarise(&lm_rows);
    if !lm_cells.is_empty() {
        write_atomic(&tables.join("lm.csv"), lm_report::csv(&lm_cells, &costs).as_bytes())?;
    }
    let md = markdown(
        preset,
        info,
        &Found {
            cells: &summary,
            counts: &counts,
            evals: &evals,
            costs: &costs,
            attacks: &attack_cells,
            lm: &lm_cells,
            grids: &grids,
        },
    );
    write_atomic(&out.join("report.md"), md.as_bytes())?;
    write_atomic(&out.join("timing.md"), timing_markdown(preset, &costs).as_bytes())?;
    let manifest = manifest(preset, plan, &records, info);
    let text = serde_json::to_vec_pretty(&manifest).context("cannot encode the manifest")?;
    write_atomic(&out.join("manifest.json"), &text)?;
    Ok(())
}

/// Adds the cost of the unlearn step `s` (its `model/report.json`) to `costs`.
fn unlearn_cost(dir: &Path, s: &super::plan::Step, costs: &mut BTreeMap<(usize, usize, String), Cost>) -> Result<()> {
    let path = dir.join("model/report.json");
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not JSON; delete {} to rebuild it", path.display(), dir.display()))?;
    let searched = matches!(s.action, Action::Unlearn { search: true, .. });
    let name = match &s.action {
        Action::UnlearnLm { method, scope, .. } => format!("{method}-{scope}"),
        _ => format!(
            "{}{}-{}",
            v["method"].as_str().unwrap_or("?"),
            if searched { SEARCH_SUFFIX } else { "" },
            v["scope"].as_str().unwrap_or("?")
        ),
    };
    let diverged = v["status"]["status"].as_str() == Some("diverged");
    let cost = costs.entry((s.coords.arm, s.coords.k, name)).or_default();
    // A searched run costs the whole search, not just the chosen candidate.
    let rte = if searched { v["search"]["rte"].as_f64() } else { v["rte"].as_f64() };
    if let Some(rte) = rte {
        cost.rte.push(rte);
    }
    if searched {
        let search = &v["search"];
        let chosen = &search["candidates"][search["chosen"].as_u64().unwrap_or(u64::MAX) as usize];
        let setting = match (chosen["lr"].as_f64(), chosen["epochs"].as_u64()) {
            (Some(lr), Some(e)) => format!("lr {lr:e}, {e} epochs"),
            (Some(lr), None) => format!("lr {lr:e}"),
            (None, Some(e)) => format!("{e} epochs"),
            (None, None) => "its only setting".to_string(),
        };
        let gap = chosen["avg_gap"].as_f64().map_or("–".to_string(), |g| format!("{g:.4}"));
        cost.chosen.push((s.coords.seed.unwrap_or(0), format!("{setting} (Avg.Gap {gap})")));
    }
    cost.diverged += usize::from(diverged);
    if let Some(n) = v["scope_size"].as_u64() {
        cost.scope_size.push(n);
    }
    Ok(())
}

fn read_counts(path: &Path) -> Result<Counts> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let origin = |o: &str| v["train"]["per_origin"][o].as_u64().unwrap_or(0);
    Ok(Counts {
        base: origin("base"),
        targets: origin("target"),
        variants: origin("variant"),
        test: v["test"]["total"].as_u64().unwrap_or(0),
    })
}

/// Mean and sample standard deviation (n − 1) of the present values; the std is `None` below two values.
pub fn mean_std(values: &[Option<f64>]) -> (Option<f64>, Option<f64>) {
    let xs: Vec<f64> = values.iter().flatten().copied().collect();
    if xs.is_empty() {
        return (None, None);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (Some(mean), None);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (Some(mean), Some(var.sqrt()))
}

/// One cell of the summary: a model at one k, over seeds.
struct Cell {
    arm: usize,
    dataset: String,
    k: usize,
    role: &'static str,
    seeds: usize,
    /// (mean, std) per metric, in [`Metrics::COLUMNS`] order.
    stats: Vec<(Option<f64>, Option<f64>)>,
}

fn summarise(rows: &[Row]) -> Vec<Cell> {
    let mut groups: BTreeMap<(usize, usize, usize), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let role_ix = ROLES.iter().position(|x| *x == r.role).unwrap_or(ROLES.len());
        groups.entry((r.arm, r.k, role_ix)).or_default().push(r);
    }
    groups
        .into_values()
        .map(|g| {
            let stats = (0..Metrics::COLUMNS.len())
                .map(|c| mean_std(&g.iter().map(|r| r.metrics.values()[c]).collect::<Vec<_>>()))
                .collect();
            Cell { arm: g[0].arm, dataset: g[0].dataset.clone(), k: g[0].k, role: g[0].role, seeds: g.len(), stats }
        })
        .collect()
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_default()
}

fn summary_csv(cells: &[Cell]) -> String {
    let mut s = String::from("dataset,k,model,seeds");
    for (name, _) in Metrics::COLUMNS {
        let _ = write!(s, ",{name}_mean,{name}_std");
    }
    s.push('\n');
    for c in cells {
        let _ = write!(s, "{},{},{},{}", c.dataset, c.k, c.role, c.seeds);
        for (m, sd) in &c.stats {
            let _ = write!(s, ",{},{}", num(*m, 3), num(*sd, 3));
        }
        s.push('\n');
    }
    s
}

fn per_seed_csv(rows: &[Row]) -> String {
    let mut s = String::from("dataset,k,seed,model");
    for (name, _) in Metrics::COLUMNS {
        let _ = write!(s, ",{name}");
    }
    s.push('\n');
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.arm, r.k, r.seed, ROLES.iter().position(|x| *x == r.role)));
    for r in sorted {
        let _ = write!(s, "{},{},{},{}", r.dataset, r.k, r.seed, r.role);
        for v in r.metrics.values() {
            let _ = write!(s, ",{}", num(v, 2));
        }
        s.push('\n');
    }
    s
}

fn datasets_csv(preset: &Preset, counts: &BTreeMap<(usize, usize, Option<u64>), Counts>) -> String {
    let mut s = String::from("dataset,k,data_seed,base,targets,variants,test\n");
    for ((arm, k, seed), c) in counts {
        let label = &preset.datasets[*arm].label;
        let seed = seed.map(|x| x.to_string()).unwrap_or_default();
        let _ = writeln!(s, "{label},{k},{seed},{},{},{},{}", c.base, c.targets, c.variants, c.test);
    }
    s
}

fn pm(mean: Option<f64>, std: Option<f64>) -> String {
    match (mean, std) {
        (None, _) => "–".into(),
        (Some(m), None) => format!("{m:.2}"),
        (Some(m), Some(s)) => format!("{m:.2} ± {s:.2}"),
    }
}

fn model_name(role: &str) -> &str {
    if role == "m0" { "M0" } else { role }
}

/// Mean forget-set accuracy and confidence of `role` at `k` in arm `arm`.
fn forget(cells: &[Cell], arm: usize, k: usize, role: &str) -> Option<(f64, f64)> {
    let c = cells.iter().find(|c| c.arm == arm && c.k == k && c.role == role)?;
    Some((c.stats[1].0?, c.stats[2].0?))
}

/// `a % → b %`, or `a %` when both ends are the same k.
fn span(a: f64, b: f64, one: bool) -> String {
    if one { format!("{a:.2} %") } else { format!("{a:.2} % → {b:.2} %") }
}

/// The headline: per dataset arm, the forget-set numbers of the three reference models at the smallest and the
/// largest k, the gap retrain_exact − retrain_clean, and one verdict over the arms; every number comes from
/// `cells`.
fn headline(
    preset: &Preset,
    cells: &[Cell],
    counts: &BTreeMap<(usize, usize, Option<u64>), Counts>,
    lm: &[LmCell],
) -> String {
    let mut s = String::new();
    let (mut compared, mut widens) = (0, 0);
    for (a, arm) in preset.datasets.iter().enumerate() {
        if arm.builder == Builder::Qa {
            let targets = counts.iter().find(|((ca, _, _), _)| *ca == a).map_or(0, |(_, c)| c.targets);
            if let Some((text, grew)) = lm_report::headline(lm, a, &arm.label, targets) {
                s.push_str(&text);
                if let Some(g) = grew {
                    compared += 1;
                    widens += usize::from(g);
                }
            }
            continue;
        }
        let ks: Vec<usize> =
            arm.k.iter().copied().filter(|&k| ROLES.iter().all(|r| forget(cells, a, k, r).is_some())).collect();
        let (Some(&k0), Some(&k1)) = (ks.first(), ks.last()) else { continue };
        let at = |k: usize, role: &str| forget(cells, a, k, role).unwrap_or((f64::NAN, f64::NAN));
        let (m0a, m0b, exa, exb, cla, clb) = (
            at(k0, "m0"),
            at(k1, "m0"),
            at(k0, "retrain_exact"),
            at(k1, "retrain_exact"),
            at(k0, "retrain_clean"),
            at(k1, "retrain_clean"),
        );
        let one = k0 == k1;
        let targets = counts.iter().find(|((ca, _, _), _)| *ca == a).map_or(0, |(_, c)| c.targets);
        let ks_text = if one { format!("k = {k0}") } else { format!("k = {k0} → {k1}") };
        let lookalikes = match arm.builder {
            Builder::Images => format!("{ks_text} look-alikes per target"),
            Builder::Spam => {
                let n = counts.iter().find(|((ca, _, _), _)| *ca == a).map_or(0, |(_, c)| c.variants);
                format!("{n} natural look-alikes of theirs in train")
            }
            Builder::Qa => format!("{ks_text} paraphrases per target"),
        };
        let _ = writeln!(
            s,
            "- **{}** ({targets} targets; {lookalikes}): retrain_exact classifies {} of the \
             targets correctly, retrain_clean {} (M0: {}); mean true-class confidence on the targets: retrain_exact \
             {}, retrain_clean {} (M0: {}).",
            arm.label,
            span(exa.0, exb.0, one),
            span(cla.0, clb.0, one),
            span(m0a.0, m0b.0, one),
            span(exa.1, exb.1, one),
            span(cla.1, clb.1, one),
            span(m0a.1, m0b.1, one),
        );
        let (acc_gap, conf_gap) = ((exa.0 - cla.0, exb.0 - clb.0), (exa.1 - cla.1, exb.1 - clb.1));
        if one {
            let _ = writeln!(
                s,
                "  The gap retrain_exact − retrain_clean is {:+.2} points in accuracy and {:+.2} in confidence.",
                acc_gap.0, conf_gap.0
            );
        } else {
            compared += 1;
            let grew = conf_gap.1 > conf_gap.0;
            widens += usize::from(grew);
            let _ = writeln!(
                s,
                "  The gap retrain_exact − retrain_clean goes from {:+.2} to {:+.2} points in accuracy and from \
                 {:+.2} to {:+.2} points in confidence: it {} as look-alikes are added.",
                acc_gap.0,
                acc_gap.1,
                conf_gap.0,
                conf_gap.1,
                if grew { "widens" } else { "does not widen" }
            );
        }
    }
    if compared > 0 {
        let verdict = if widens == compared {
            "retraining from scratch without the targets (retrain_exact) keeps more of the targets, relative to the \
             clean reference, the more look-alikes remain in training, on every dataset swept"
        } else if widens == 0 {
            "at these sizes the look-alikes left in training do not make retrain_exact keep more of the targets \
             than retrain_clean on any dataset swept"
        } else {
            "the look-alikes left in training make retrain_exact keep more of the targets than retrain_clean on \
             some of the datasets swept only"
        };
        let _ = writeln!(
            s,
            "\nIn short ({widens} of {compared} datasets with more than one k): {verdict}. Where the preset \
             unlearns, each dataset's section compares the methods under the exact, mined and lineage scopes with both \
             reference models."
        );
    }
    s
}

/// The second half of the headline: per arm and k with look-alikes, whether forgetting the mined look-alikes too
/// closes the gap to retrain_clean — the mean KL on the targets to retrain_clean of retrain_exact (the gap), of the
/// `retrain` method under the mined and lineage scopes, and of the closest approximate method under the mined
/// scope. Empty when no arm retrains under the mined scope.
fn scope_headline(preset: &Preset, evals: &[EvalRow]) -> String {
    let mut s = String::new();
    for (a, arm) in preset.datasets.iter().enumerate() {
        for &k in arm.k.iter().filter(|&&k| k > 0) {
            let kl = |model: &str| {
                evals.iter().find(|r| r.arm == a && r.k == k && r.model == model).and_then(|r| r.get("kl_f_clean_mean"))
            };
            let (Some(gap), Some(mined)) = (kl("retrain_exact"), kl("retrain-mined")) else { continue };
            let closed = |v: f64| if gap > 0.0 { 100.0 * (gap - v) / gap } else { f64::NAN };
            let lineage = kl("retrain-lineage")
                .map(|l| format!("; the lineage scope (every variant) {l:.4}, {:.0} %", closed(l)))
                .unwrap_or_default();
            let best = evals
                .iter()
                .filter(|r| {
                    r.arm == a
                        && r.k == k
                        && r.model.ends_with("-mined")
                        && !r.model.starts_with("retrain")
                        && r.get("kl_f_clean_mean").is_some()
                })
                .min_by(|x, y| {
                    x.get("kl_f_clean_mean").partial_cmp(&y.get("kl_f_clean_mean")).unwrap_or(std::cmp::Ordering::Equal)
                });
            let best = best
                .and_then(|r| Some((r, r.get("kl_f_clean_mean")?)))
                .map(|(r, v)| {
                    format!(
                        " The closest approximate method under the mined scope is {} at {v:.4} ({:.0} % of the gap closed{}).",
                        r.model,
                        closed(v),
                        r.get("test_acc_mean").map(|t| format!(", test accuracy {t:.3}")).unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "- **{}**, k = {k}: on the targets retrain_exact sits at mean KL {gap:.4} from retrain_clean. \
                 Retraining without the mined look-alikes too (retrain under the mined scope) lands at {mined:.4}, \
                 closing {:.0} % of that gap{lineage}.{best}",
                arm.label,
                closed(mined),
            );
        }
    }
    if s.is_empty() {
        return s;
    }
    format!("\nDoes mining the look-alikes and forgetting them too close the gap?\n\n{s}")
}

/// Everything the report read from the artifacts, summarised.
struct Found<'a> {
    cells: &'a [Cell],
    counts: &'a BTreeMap<(usize, usize, Option<u64>), Counts>,
    evals: &'a [EvalRow],
    costs: &'a BTreeMap<(usize, usize, String), Cost>,
    attacks: &'a [AttackCell],
    lm: &'a [LmCell],
    grids: &'a [(usize, usize, String)],
}

fn markdown(preset: &Preset, info: &RunInfo, found: &Found<'_>) -> String {
    let Found { cells, counts, evals, costs, attacks, lm, grids } = *found;
    let mut s = String::new();
    let _ = writeln!(s, "# doppel reproduce: `{}`\n", preset.name);
    if !preset.description.is_empty() {
        let _ = writeln!(s, "{}\n", preset.description);
    }
    let seeds: Vec<String> = preset.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        s,
        "Preset `{}`, device `{}`, seeds {} ({}). Values are percentages, mean ± sample standard deviation over \
         seeds. Versions, the git revision and wall times are in `manifest.json`; the same numbers as CSV and \
         Parquet are in `tables/`, and the figures (PNG) are listed with their captions in `figures/index.md`.\n",
        info.preset_file,
        info.device,
        seeds.join(", "),
        if preset.reseed_data { "each seed also redraws the targets and variants" } else { "training seeds" },
    );
    let _ = writeln!(s, "## Headline\n");
    let _ = writeln!(
        s,
        "What the reference models show so far: M0 (trained on everything), retrain_exact (without the targets, \
         with their look-alikes) and retrain_clean (without both).\n"
    );
    s.push_str(&headline(preset, cells, counts, lm));
    s.push_str(&scope_headline(preset, evals));
    for (a, arm) in preset.datasets.iter().enumerate() {
        let _ = writeln!(s, "\n## {}\n", arm.label);
        let own_seeds = if arm.seeds == preset.seeds {
            String::new()
        } else {
            let seeds: Vec<String> = arm.seeds.iter().map(u64::to_string).collect();
            format!(" This arm trains with seed{} {} only.", if seeds.len() == 1 { "" } else { "s" }, seeds.join(", "))
        };
        let _ = writeln!(s, "Dataset config `{}`, train config `{}`.{own_seeds}\n", arm.config_path, arm.train_path);
        if arm.builder == Builder::Spam {
            let _ = writeln!(
                s,
                "Built by `doppel data build-spam`: the targets' look-alikes (the lineage's variants) are the corpus's \
                 own near-duplicates, not planted ones, so the arm has one dataset, shown as k = 0.\n"
            );
        }
        if arm.builder == Builder::Qa {
            let _ = writeln!(
                s,
                "Built by `doppel data build-qa`: question–answer pairs from WordNet glosses; k is the paraphrases \
                 kept per target (the variants), each at MiniLM cosine ≥ the config's threshold to its target. The \
                 models are causal LMs (`doppel lm train`), unlearned by `doppel lm unlearn`; at k = 0 the lineage \
                 scope is the exact one, so only exact runs.\n"
            );
        }
        for ((ca, k, seed), c) in counts {
            if *ca == a {
                let seed = seed.map(|x| format!(" (data seed {x})")).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "- k = {k}{seed}: train = {} base + {} targets + {} variants; test = {}",
                    c.base, c.targets, c.variants, c.test
                );
            }
        }
        if let Some(u) = &arm.unlearn {
            let ks: Vec<String> = u.k.iter().map(usize::to_string).collect();
            let seeds: Vec<String> = u.seeds.iter().map(u64::to_string).collect();
            let _ = writeln!(
                s,
                "- unlearning: {} under scope {} from M0 at k = {} (seeds {}), settings `{}`",
                u.methods.join(", "),
                u.scopes.join(" and "),
                ks.join(", "),
                seeds.join(", "),
                u.config_path
            );
        }
        if cells.iter().any(|c| c.arm == a) {
            let titles: Vec<&str> = Metrics::COLUMNS.iter().map(|(_, t)| *t).collect();
            let _ = writeln!(s, "\n| k | model | {} |", titles.join(" | "));
            let _ = writeln!(s, "|---:|---|{}", "---:|".repeat(titles.len()));
            for c in cells.iter().filter(|c| c.arm == a) {
                let vals: Vec<String> = c.stats.iter().map(|(m, sd)| pm(*m, *sd)).collect();
                let _ = writeln!(s, "| {} | {} | {} |", c.k, model_name(c.role), vals.join(" | "));
            }
        }
        s.push_str(&lm_report::markdown(lm, costs, a));
        if arm.builder == Builder::Qa {
            s.push_str(&scope_sizes(costs, a));
        }
        s.push_str(&eval_markdown(evals, costs, a));
        s.push_str(&attack_markdown(attacks, a));
        let arm_grids: Vec<String> =
            grids.iter().filter(|(ga, _, _)| *ga == a).map(|(_, _, n)| format!("[{n}](reconstructions/{n})")).collect();
        if !arm_grids.is_empty() {
            let _ = writeln!(
                s,
                "\nReconstruction grids (one row per target: the target, then the best reconstruction of it by each \
                 model in the attack's model order — M0, retrain_exact, retrain_clean, then the unlearned models): {}.",
                arm_grids.join(", ")
            );
        }
    }
    let _ = writeln!(
        s,
        "\nThe cost of each unlearning method (RTE, relative to training M0) is in `timing.md`: wall times vary \
         from run to run, so they stay out of this file and `tables/`, which one preset reproduces byte for byte.\n\n\
         ## Limits\n\nThe reconstruction attacks cover MLPs only (the KKT attack needs a homogeneous network); \
         the budgeted hyperparameter search (an arm's `unlearn.search`) runs the classifiers' methods only; the \
         language arm's methods run with the settings of their file."
    );
    s
}

/// One model's row of a `doppel eval` aggregate table (mean and std over seeds), with where it sits.
pub struct EvalRow {
    arm: usize,
    dataset: String,
    k: usize,
    model: String,
    /// Column name → value, for every numeric column of `aggregate.csv` (`f_lsc_mean`, `kl_f_clean_std`, …).
    values: BTreeMap<String, f64>,
}

impl EvalRow {
    fn get(&self, column: &str) -> Option<f64> {
        self.values.get(column).copied().filter(|v| v.is_finite())
    }
}

/// One seed's reconstruction scores of one model under one attack: means over the targets.
pub struct AttackRow {
    arm: usize,
    k: usize,
    model: String,
    attack: String,
    /// Mean over targets of [best SSIM in class, class-mean control, nearest non-target control].
    values: [f64; 3],
}

/// A model under one attack at one k: mean and std over seeds of the per-seed means.
pub struct AttackCell {
    arm: usize,
    k: usize,
    model: String,
    attack: String,
    seeds: usize,
    /// (mean, std) of [best SSIM, class-mean control, nearest control].
    stats: [(Option<f64>, Option<f64>); 3],
}

/// Per (model, attack): the means over targets of `best_ssim`, `class_mean_ssim` and `nearest_ssim` in
/// `doppel attack`'s `scores.csv`.
pub fn parse_scores(text: &str) -> Result<BTreeMap<(String, String), [f64; 3]>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("scores.csv is empty")?.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).with_context(|| format!("no `{name}` column"));
    let (m, a) = (col("model")?, col("attack")?);
    let cols = [col("best_ssim")?, col("class_mean_ssim")?, col("nearest_ssim")?];
    let mut sums: BTreeMap<(String, String), ([f64; 3], [usize; 3])> = BTreeMap::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            bail!("row {} has {} cells for {} columns", i + 1, cells.len(), header.len());
        }
        let e = sums.entry((cells[m].to_string(), cells[a].to_string())).or_default();
        for (j, &c) in cols.iter().enumerate() {
            if !cells[c].is_empty() {
                e.0[j] += cells[c].parse::<f64>().with_context(|| format!("row {}: {:?}", i + 1, cells[c]))?;
                e.1[j] += 1;
            }
        }
    }
    Ok(sums
        .into_iter()
        .map(|(key, (sum, n))| (key, [0, 1, 2].map(|j| if n[j] == 0 { f64::NAN } else { sum[j] / n[j] as f64 })))
        .collect())
}

/// The attack rows reduced over seeds, ordered by arm, k, model (references first) and attack.
fn summarise_attacks(rows: &[AttackRow]) -> Vec<AttackCell> {
    let order = |m: &str| ROLES.iter().position(|r| *r == m).unwrap_or(ROLES.len());
    let mut groups: BTreeMap<(usize, usize, usize, String, String), Vec<&AttackRow>> = BTreeMap::new();
    for r in rows {
        groups.entry((r.arm, r.k, order(&r.model), r.model.clone(), r.attack.clone())).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((arm, k, _, model, attack), g)| AttackCell {
            arm,
            k,
            model,
            attack,
            seeds: g.len(),
            stats: [0, 1, 2]
                .map(|j| mean_std(&g.iter().map(|r| Some(r.values[j]).filter(|v| v.is_finite())).collect::<Vec<_>>())),
        })
        .collect()
}

fn attack_csv(preset: &Preset, cells: &[AttackCell]) -> String {
    let mut s = String::from(
        "dataset,k,model,attack,seeds,best_ssim_mean,best_ssim_std,class_mean_ssim_mean,class_mean_ssim_std,\
         nearest_ssim_mean,nearest_ssim_std\n",
    );
    for c in cells {
        let label = preset.datasets.get(c.arm).map_or("?", |a| a.label.as_str());
        let _ = write!(s, "{label},{},{},{},{}", c.k, c.model, c.attack, c.seeds);
        for (m, sd) in &c.stats {
            let _ = write!(s, ",{},{}", num(*m, 6), num(*sd, 6));
        }
        s.push('\n');
    }
    s
}

/// Arm `arm`'s reconstruction table, and per k and attack where `retrain_exact` sits between M0 and
/// `retrain_clean`. Empty when the arm has no attack.
fn attack_markdown(cells: &[AttackCell], arm: usize) -> String {
    let cells: Vec<&AttackCell> = cells.iter().filter(|c| c.arm == arm).collect();
    if cells.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\nReconstruction (`doppel attack`): for each target, the best SSIM between it and any reconstruction of \
         its class; mean over targets, then mean ± std over seeds. `kkt` reconstructs training samples from the \
         parameters (Haim et al. 2022, Buzaglo et al. 2023); `inversion` is class-conditional model inversion, \
         the weak baseline. Controls: SSIM of the target to its class's mean image and to the nearest retain \
         image of its class (L2).\n\n| k | model | attack | best SSIM | control: class mean | control: nearest |\n\
         |---:|---|---|---:|---:|---:|\n",
    );
    let pm3 = |(m, sd): (Option<f64>, Option<f64>)| match (m, sd) {
        (None, _) => "–".to_string(),
        (Some(m), None) => format!("{m:.3}"),
        (Some(m), Some(sd)) => format!("{m:.3} ± {sd:.3}"),
    };
    for c in &cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            c.k,
            model_name(&c.model),
            c.attack,
            pm3(c.stats[0]),
            pm3(c.stats[1]),
            pm3(c.stats[2])
        );
    }
    s.push('\n');
    let mut keys: Vec<(usize, &str)> = cells.iter().map(|c| (c.k, c.attack.as_str())).collect();
    keys.sort_unstable();
    keys.dedup();
    for (k, attack) in keys {
        let get =
            |m: &str| cells.iter().find(|c| c.k == k && c.attack == attack && c.model == m).and_then(|c| c.stats[0].0);
        let (Some(m0), Some(exact), Some(clean)) = (get("m0"), get("retrain_exact"), get("retrain_clean")) else {
            continue;
        };
        let nearer = if (exact - m0).abs() < (exact - clean).abs() { "M0" } else { "retrain_clean" };
        let _ = writeln!(
            s,
            "- k = {k}, {attack}: best SSIM M0 {m0:.3}, retrain_exact {exact:.3}, retrain_clean {clean:.3}; \
             retrain_exact sits nearer **{nearer}** (M0 − retrain_clean = {:+.3}).",
            m0 - clean
        );
    }
    s
}

/// `timing.md`: the RTE of each unlearning method (its wall time over M0's training time, on the same device),
/// mean ± std over seeds. Wall times change from run to run, so they live here and in `manifest.json`, never in
/// `report.md` or `tables/`, which are byte-identical for one preset.
fn timing_markdown(preset: &Preset, costs: &BTreeMap<(usize, usize, String), Cost>) -> String {
    let mut s = format!("# doppel reproduce: `{}`, cost of unlearning\n\n", preset.name);
    if costs.is_empty() {
        s.push_str("No unlearning in this preset.\n");
        return s;
    }
    s.push_str(
        "RTE: a method's wall time divided by the wall time of training M0, on the same device and machine (mean ± \
         std over seeds). Measured in this run; it varies with the machine's load.\n\n| dataset | k | method | \
         scope | RTE | runs |\n|---|---:|---|---|---:|---:|\n",
    );
    for ((arm, k, name), c) in costs {
        let (method, scope) = name.rsplit_once('-').unwrap_or((name.as_str(), ""));
        let (m, sd) = mean_std(&c.rte.iter().map(|&x| Some(x)).collect::<Vec<_>>());
        let shown = match (m, sd) {
            (Some(m), Some(sd)) => format!("{m:.3} ± {sd:.3}"),
            (Some(m), None) => format!("{m:.3}"),
            _ => "–".into(),
        };
        let label = preset.datasets.get(*arm).map_or("?", |a| a.label.as_str());
        let _ = writeln!(s, "| {label} | {k} | {method} | {scope} | {shown} | {} |", c.rte.len());
    }
    s
}

/// What the unlearn steps of one method and scope at one k cost, over seeds.
#[derive(Debug, Default)]
pub struct Cost {
    /// Wall time relative to training M0, per seed.
    rte: Vec<f64>,
    /// Seeds whose run diverged.
    diverged: usize,
    /// Rows the scope held, per seed.
    scope_size: Vec<u64>,
    /// For searched runs: (seed, the chosen setting and its Avg.Gap), per seed.
    chosen: Vec<(u64, String)>,
}

impl Cost {
    /// Seeds whose run diverged.
    pub fn diverged(&self) -> usize {
        self.diverged
    }
}

/// The columns the report shows from `doppel eval`, as (column stem, title, decimals).
const EVAL_COLUMNS: [(&str, &str, usize); 10] = [
    ("f_acc", "F acc", 3),
    ("test_acc", "test acc", 3),
    ("f_lsc", "F logit conf", 2),
    ("mia_auc", "MIA AUC (loss)", 3),
    ("mia_lr", "MIA LR", 3),
    ("kl_f_m0", "KL F→M0", 4),
    ("kl_f_exact", "KL F→exact", 4),
    ("kl_f_clean", "KL F→clean", 4),
    ("avg_gap_exact", "Avg.Gap exact", 4),
    ("avg_gap_clean", "Avg.Gap clean", 4),
];

/// Per k, the rows each scope asked to forget (the same for every method; the mined scope's size says what
/// mining found).
fn scope_sizes(costs: &BTreeMap<(usize, usize, String), Cost>, arm: usize) -> String {
    let mut by_k: BTreeMap<usize, BTreeMap<usize, (&str, u64)>> = BTreeMap::new();
    for ((a, k, name), c) in costs {
        let Some((_, scope)) = name.rsplit_once('-') else { continue };
        let (Some(order), Some(&n)) = (SCOPES.iter().position(|x| *x == scope), c.scope_size.iter().max()) else {
            continue;
        };
        if *a == arm {
            by_k.entry(*k).or_default().insert(order, (SCOPES[order], n));
        }
    }
    let mut s = String::new();
    for (k, scopes) in by_k {
        let parts: Vec<String> = scopes.values().map(|(name, n)| format!("{name} {n}")).collect();
        let _ = writeln!(s, "- k = {k}: rows each scope forgets: {}.", parts.join(", "));
    }
    s
}

/// Per k, the settings the budgeted search chose for each `<method>+search` row, per seed, with their Avg.Gap to
/// that seed's retrain_exact.
fn searched_settings(costs: &BTreeMap<(usize, usize, String), Cost>, arm: usize) -> String {
    let mut s = String::new();
    for ((a, k, name), c) in costs {
        if *a != arm || c.chosen.is_empty() {
            continue;
        }
        let mut chosen = c.chosen.clone();
        chosen.sort();
        let parts: Vec<String> = chosen.iter().map(|(seed, what)| format!("seed {seed}: {what}")).collect();
        let _ = writeln!(s, "- k = {k}, {name}: searched settings — {}.", parts.join("; "));
    }
    s
}

/// Per k and unlearned model: does it move forget accuracy toward `retrain_exact`'s while keeping test accuracy
/// within 3 points of M0's (the bar of the unlearning issue)? Computed from the means; empty without unlearned rows.
fn method_verdicts(rows: &[&EvalRow]) -> String {
    let mut s = String::new();
    let find = |k: usize, model: &str| rows.iter().find(|r| r.k == k && r.model == model);
    let mut ks: Vec<usize> = rows.iter().map(|r| r.k).collect();
    ks.dedup();
    for k in ks {
        let (Some(m0), Some(exact)) = (find(k, "m0"), find(k, "retrain_exact")) else { continue };
        let (Some(f0), Some(fe), Some(t0)) = (m0.get("f_acc_mean"), exact.get("f_acc_mean"), m0.get("test_acc_mean"))
        else {
            continue;
        };
        let methods: Vec<&&EvalRow> = rows.iter().filter(|r| r.k == k && !ROLES.contains(&r.model.as_str())).collect();
        if methods.is_empty() {
            continue;
        }
        let (mut ok, mut notes) = (Vec::new(), Vec::new());
        for r in methods {
            let (Some(f), Some(t)) = (r.get("f_acc_mean"), r.get("test_acc_mean")) else { continue };
            let toward = if (f0 - fe).abs() < 1e-9 { (f - fe).abs() <= 1e-9 } else { (f - fe).abs() < (f0 - fe).abs() };
            let kept = t0 - t <= 0.03;
            if toward && kept {
                ok.push(r.model.clone());
            } else {
                let why = match (toward, kept) {
                    (false, false) => {
                        format!("F acc {f:.3} not nearer retrain_exact's {fe:.3}, test {t:.3} vs M0 {t0:.3}")
                    }
                    (false, true) => format!("F acc {f:.3} not nearer retrain_exact's {fe:.3} than M0's {f0:.3}"),
                    _ => format!("test acc {t:.3}, more than 3 points below M0's {t0:.3}"),
                };
                notes.push(format!("{} ({why})", r.model));
            }
        }
        let _ = writeln!(
            s,
            "- k = {k}, forget accuracy toward retrain_exact ({fe:.3}; M0 {f0:.3}) with test accuracy within 3 points of \
             M0: {}. Not met: {}.",
            if ok.is_empty() { "none".to_string() } else { ok.join(", ") },
            if notes.is_empty() { "none".to_string() } else { notes.join("; ") }
        );
    }
    s
}

/// The rows of `doppel eval`'s `aggregate.csv`: model name and its numeric columns (empty cells left out).
pub fn parse_aggregate(text: &str) -> Result<Vec<(String, BTreeMap<String, f64>)>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("aggregate.csv is empty")?.split(',').collect();
    if header.first() != Some(&"model") {
        bail!("aggregate.csv does not start with a `model` column");
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            bail!("row {} of aggregate.csv has {} cells for {} columns", i + 1, cells.len(), header.len());
        }
        let mut values = BTreeMap::new();
        for (name, cell) in header.iter().zip(&cells).skip(1) {
            if !cell.is_empty() {
                let v: f64 = cell.parse().with_context(|| format!("row {} column {name}: {cell:?}", i + 1))?;
                values.insert((*name).to_string(), v);
            }
        }
        out.push((cells[0].to_string(), values));
    }
    Ok(out)
}

fn eval_csv(rows: &[EvalRow], costs: &BTreeMap<(usize, usize, String), Cost>) -> String {
    let mut s = String::from("dataset,k,model,seeds");
    for (stem, _, _) in EVAL_COLUMNS {
        let _ = write!(s, ",{stem}_mean,{stem}_std");
    }
    s.push_str(",diverged\n");
    for r in rows {
        let _ = write!(s, "{},{},{},{}", r.dataset, r.k, r.model, num(r.get("runs"), 0));
        for (stem, _, d) in EVAL_COLUMNS {
            let _ = write!(
                s,
                ",{},{}",
                num(r.get(&format!("{stem}_mean")), d + 2),
                num(r.get(&format!("{stem}_std")), d + 2)
            );
        }
        let cost = costs.get(&(r.arm, r.k, r.model.clone()));
        let _ = writeln!(s, ",{}", cost.map_or(String::new(), |c| c.diverged.to_string()));
    }
    s
}

/// Arm `arm`'s `doppel eval` table, and per k where `retrain_exact` sits on the targets: nearer M0 or nearer
/// `retrain_clean` by the mean KL divergence on F. Empty when the arm has no eval rows.
fn eval_markdown(rows: &[EvalRow], costs: &BTreeMap<(usize, usize, String), Cost>, arm: usize) -> String {
    let rows: Vec<&EvalRow> = rows.iter().filter(|r| r.arm == arm).collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\nMembership inference and distances on the targets F (`doppel eval`; mean ± std over seeds). F logit conf \
         is log p − log(1 − p) of the true class; MIA AUC is the loss-threshold attack F vs test, MIA LR the \
         cross-validated logistic-regression attack; KL F→X is the mean KL(model ‖ X) on F in nats; Avg.Gap is the \
         mean absolute gap to the oracle over forget, retain and test accuracy and MIA AUC (Jia et al. 2023).\n\n",
    );
    let titles: Vec<&str> = EVAL_COLUMNS.iter().map(|(_, t, _)| *t).collect();
    let _ = writeln!(s, "| k | model | {} |", titles.join(" | "));
    let _ = writeln!(s, "|---:|---|{}", "---:|".repeat(titles.len()));
    for r in &rows {
        let cells: Vec<String> = EVAL_COLUMNS
            .iter()
            .map(|(stem, _, d)| match (r.get(&format!("{stem}_mean")), r.get(&format!("{stem}_std"))) {
                (None, _) => "–".into(),
                (Some(m), None) => format!("{m:.d$}"),
                (Some(m), Some(sd)) => format!("{m:.d$} ± {sd:.d$}"),
            })
            .collect();
        let diverged = costs.get(&(r.arm, r.k, r.model.clone())).map_or(0, |c| c.diverged);
        let name = if diverged > 0 {
            format!("{} ({diverged} of its runs diverged)", model_name(&r.model))
        } else {
            model_name(&r.model).to_string()
        };
        let _ = writeln!(s, "| {} | {name} | {} |", r.k, cells.join(" | "));
    }
    s.push('\n');
    s.push_str(&scope_sizes(costs, arm));
    s.push_str(&method_verdicts(&rows));
    s.push_str(&searched_settings(costs, arm));
    for r in rows.iter().filter(|r| r.model == "retrain_exact") {
        if let (Some(to_m0), Some(to_clean)) = (r.get("kl_f_m0_mean"), r.get("kl_f_clean_mean")) {
            if to_clean == 0.0 {
                let _ = writeln!(
                    s,
                    "- k = {}: retrain_exact and retrain_clean trained on the same rows (no look-alikes), so they \
                     are the same model; mean KL on the targets to M0 {to_m0:.4}.",
                    r.k
                );
                continue;
            }
            let nearer = if to_m0 < to_clean { "M0" } else { "retrain_clean" };
            let _ = writeln!(
                s,
                "- k = {}: on the targets retrain_exact sits nearer **{nearer}** (mean KL {to_m0:.4} to M0, \
                 {to_clean:.4} to retrain_clean).",
                r.k
            );
        }
    }
    s
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(k: usize, role: &'static str, f_acc: f64, f_conf: f64) -> Cell {
        let mut stats = vec![(Some(90.0), None); Metrics::COLUMNS.len()];
        stats[1] = (Some(f_acc), Some(1.0));
        stats[2] = (Some(f_conf), Some(1.0));
        Cell { arm: 0, dataset: "d".into(), k, role, seeds: 2, stats }
    }

    #[test]
    fn eval_aggregates_parse_and_say_where_retrain_exact_sits() {
        let text = "model,runs,kl_f_m0_mean,kl_f_m0_std,kl_f_clean_mean,kl_f_clean_std\n\
                    m0,3,0,0,0.5,0.1\n\
                    retrain_exact,3,0.02,0.01,0.4,\n";
        let parsed = parse_aggregate(text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].0, "retrain_exact");
        assert_eq!(parsed[1].1.get("kl_f_clean_mean"), Some(&0.4));
        assert!(!parsed[1].1.contains_key("kl_f_clean_std"), "an empty cell is left out");
        let rows: Vec<EvalRow> = parsed
            .into_iter()
            .map(|(model, values)| EvalRow { arm: 0, dataset: "d".into(), k: 25, model, values })
            .collect();
        let md = eval_markdown(&rows, &BTreeMap::new(), 0);
        assert!(md.contains("| 25 | retrain_exact |"), "{md}");
        assert!(
            md.contains("retrain_exact sits nearer **M0** (mean KL 0.0200 to M0, 0.4000 to retrain_clean)"),
            "{md}"
        );
        assert!(eval_markdown(&rows, &BTreeMap::new(), 1).is_empty(), "another arm has no rows");
        assert!(parse_aggregate("name,x\na,1\n").is_err(), "the first column must be model");
        assert!(parse_aggregate("model,x\na,1,2\n").unwrap_err().to_string().contains("3 cells for 2 columns"));
        assert!(parse_aggregate("model,x\na,abc\n").is_err());
    }

    #[test]
    fn the_scope_headline_says_how_much_of_the_gap_mining_closes() {
        let preset = Preset::from_toml(
            "name = \"t\"\nseeds = [1]\n[[datasets]]\nconfig = \"configs/smoke.toml\"\n\
             train = \"configs/train/smoke-mlp.toml\"\nk = [0, 10]\nlabel = \"d\"",
            "t.toml",
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap(),
        )
        .unwrap();
        let row = |k: usize, model: &str, kl: f64, test: f64| EvalRow {
            arm: 0,
            dataset: "d".into(),
            k,
            model: model.into(),
            values: BTreeMap::from([("kl_f_clean_mean".to_string(), kl), ("test_acc_mean".to_string(), test)]),
        };
        let mut rows = vec![
            row(10, "retrain_exact", 0.08, 0.98),
            row(10, "retrain-mined", 0.02, 0.98),
            row(10, "retrain-lineage", 0.0, 0.98),
            row(10, "rl-mined", 0.06, 0.97),
            row(10, "salun-mined", 0.3, 0.96),
            row(10, "ft-exact", 0.01, 0.98),
            row(0, "retrain_exact", 0.0, 0.98),
        ];
        let h = scope_headline(&preset, &rows);
        assert!(
            h.contains("- **d**, k = 10: on the targets retrain_exact sits at mean KL 0.0800 from retrain_clean."),
            "{h}"
        );
        assert!(
            h.contains("lands at 0.0200, closing 75 % of that gap; the lineage scope (every variant) 0.0000, 100 %."),
            "{h}"
        );
        assert!(h.contains("closest approximate method under the mined scope is rl-mined at 0.0600 (25 % of the gap closed, test accuracy 0.970)"), "{h}");
        assert!(!h.contains("k = 0"), "k = 0 has no look-alikes: {h}");
        rows.retain(|r| r.model != "retrain-mined");
        assert!(scope_headline(&preset, &rows).is_empty(), "no mined retraining, no claim");
    }

    #[test]
    fn the_headline_is_computed_from_the_cells() {
        let preset = Preset::from_toml(
            "name = \"t\"\nseeds = [1, 2]\n[[datasets]]\nconfig = \"configs/smoke.toml\"\n\
             train = \"configs/train/smoke-mlp.toml\"\nk = [0, 10]\nlabel = \"d\"",
            "t.toml",
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap(),
        )
        .unwrap();
        let counts = BTreeMap::from([((0, 0, None), Counts { base: 90, targets: 5, variants: 0, test: 20 })]);
        let mut cells = vec![
            cell(0, "m0", 100.0, 95.0),
            cell(0, "retrain_exact", 60.0, 50.0),
            cell(0, "retrain_clean", 60.0, 50.0),
            cell(10, "m0", 100.0, 99.0),
            cell(10, "retrain_exact", 100.0, 90.0),
            cell(10, "retrain_clean", 60.0, 50.0),
        ];
        let h = headline(&preset, &cells, &counts, &[]);
        assert!(h.contains("(5 targets; k = 0 → 10 look-alikes per target)"), "{h}");
        assert!(h.contains("retrain_exact classifies 60.00 % → 100.00 % of the targets correctly"), "{h}");
        assert!(h.contains("from +0.00 to +40.00 points in confidence: it widens"), "{h}");
        assert!(h.contains("In short (1 of 1 datasets with more than one k): retraining from scratch"), "{h}");
        cells[4] = cell(10, "retrain_exact", 60.0, 50.0);
        let h = headline(&preset, &cells, &counts, &[]);
        assert!(h.contains("it does not widen") && h.contains("do not make retrain_exact keep more"), "{h}");
    }

    #[test]
    fn mean_and_sample_std() {
        // numpy: np.mean([1, 2, 4]) = 2.3333, np.std([1, 2, 4], ddof=1) = 1.5275
        let (m, s) = mean_std(&[Some(1.0), Some(2.0), None, Some(4.0)]);
        assert!((m.unwrap() - 7.0 / 3.0).abs() < 1e-12);
        assert!((s.unwrap() - 1.527_525_231_651_947).abs() < 1e-12);
        assert_eq!(mean_std(&[Some(3.0)]), (Some(3.0), None));
        assert_eq!(mean_std(&[None, None]), (None, None));
        assert_eq!(pm(Some(1.0), Some(0.5)), "1.00 ± 0.50");
        assert_eq!(pm(Some(1.0), None), "1.00");
        assert_eq!(pm(None, None), "–");
    }
}

//! `report.md` and `timing.md`: the headline and its verdicts, one section per arm with its tables in Markdown,
//! each reading of the numbers computed from them.
//!
//! Everything in `report.md` is a function of the plan and the artifacts, which are a function of their keys, so
//! the same preset gives byte-identical files however the steps were run (at once, resumed, in shards). Wall
//! times go to `timing.md` (and the run's `manifest.json`) only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use doppel_protocol::{Builder, PresetInfo};

use crate::found::{AttackCell, Calibration, Cell, Costs, Counts, EvalRow, Metrics, ROLES, SCOPES};
use crate::lm::{self, LmCell};
use crate::stats::mean_std_sample;
use crate::tables::{EVAL_COLUMNS, RETAIN_SPLIT_COLUMNS, has_retain_split};

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
    preset: &PresetInfo,
    cells: &[Cell],
    counts: &BTreeMap<(usize, usize, Option<u64>), Counts>,
    lm: &[LmCell],
) -> String {
    let mut s = String::new();
    let (mut compared, mut widens) = (0, 0);
    for (a, arm) in preset.arms.iter().enumerate() {
        if arm.builder == Builder::Qa {
            let targets = counts.iter().find(|((ca, _, _), _)| *ca == a).map_or(0, |(_, c)| c.targets);
            if let Some((text, grew)) = lm::headline(lm, a, &arm.label, targets) {
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
fn scope_headline(preset: &PresetInfo, evals: &[EvalRow]) -> String {
    let mut s = String::new();
    for (a, arm) in preset.arms.iter().enumerate() {
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
#[derive(Debug, Clone, Copy)]
pub struct Summary<'a> {
    /// The reference models over seeds.
    pub cells: &'a [Cell],
    /// Dataset counts.
    pub counts: &'a BTreeMap<(usize, usize, Option<u64>), Counts>,
    /// `doppel eval` aggregates.
    pub evals: &'a [EvalRow],
    /// Unlearning costs.
    pub costs: &'a Costs,
    /// The methods' calibrations.
    pub calibrations: &'a [Calibration],
    /// Reconstruction over seeds.
    pub attacks: &'a [AttackCell],
    /// The language models over seeds.
    pub lm: &'a [LmCell],
    /// The reconstruction grids.
    pub grids: &'a [(usize, usize, String)],
}

/// `report.md`.
pub fn markdown(preset: &PresetInfo, found: &Summary<'_>) -> String {
    let Summary { cells, counts, evals, costs, calibrations, attacks, lm, grids } = *found;
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
        preset.file,
        preset.device,
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
    for (a, arm) in preset.arms.iter().enumerate() {
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
                u.scopes.iter().map(|s| s.name()).collect::<Vec<_>>().join(" and "),
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
        s.push_str(&lm::markdown(lm, costs, a));
        if arm.builder == Builder::Qa {
            s.push_str(&scope_sizes(costs, a));
        }
        s.push_str(&calibration_markdown(calibrations, evals, a));
        s.push_str(&borrowed_calibration(preset, a));
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
pub fn timing_markdown(preset: &PresetInfo, costs: &Costs) -> String {
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
        let (m, sd) = mean_std_sample(&c.rte.iter().map(|&x| Some(x)).collect::<Vec<_>>());
        let shown = match (m, sd) {
            (Some(m), Some(sd)) => format!("{m:.3} ± {sd:.3}"),
            (Some(m), None) => format!("{m:.3}"),
            _ => "–".into(),
        };
        let label = preset.arms.get(*arm).map_or("?", |a| a.label.as_str());
        let _ = writeln!(s, "| {label} | {k} | {method} | {scope} | {shown} | {} |", c.rte.len());
    }
    s
}

/// Per k, the rows each scope asked to forget (the same for every method; the mined scope's size says what
/// mining found).
fn scope_sizes(costs: &Costs, arm: usize) -> String {
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
fn searched_settings(costs: &Costs, arm: usize) -> String {
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

/// The sentence for an arm that runs an earlier arm's calibration (`calibrate = { from = … }`); empty otherwise.
fn borrowed_calibration(preset: &PresetInfo, arm: usize) -> String {
    let from = preset.arms[arm].unlearn.as_ref().and_then(|u| u.calibrated_by).filter(|&b| b != arm);
    match from.and_then(|b| preset.arms.get(b)) {
        Some(from) => format!(
            "\nEvery unlearning row of this arm runs the settings calibrated on {} at k = 0 (its calibration table), \
             unchanged.\n",
            from.label
        ),
        None => String::new(),
    }
}

/// Arm `arm`'s calibration table: per method the settings chosen at k = 0 (mean KL to `retrain_exact` on F, test
/// accuracy within 3 points of M0's) and how near it got, beside M0's own distance there. Empty without a
/// calibration.
fn calibration_markdown(rows: &[Calibration], evals: &[EvalRow], arm: usize) -> String {
    let rows: Vec<&Calibration> = rows.iter().filter(|c| c.arm == arm).collect();
    let Some(first) = rows.first() else { return String::new() };
    let m0 = evals.iter().find(|r| r.arm == arm && r.k == 0 && r.model == "m0").and_then(|r| r.get("kl_f_exact_mean"));
    let mut s = format!(
        "
Calibration (k = 0, the control, where retrain_exact = retrain_clean; seed {}'s M0, exact scope): each \
         method's learning rate × {{0.1, 1, 10}} and budgets × {{1, 2}}, the setting with the lowest mean KL to \
         retrain_exact on the targets F among those whose test accuracy stays within 3 points of M0's (`doppel \
         unlearn --search --objective kl-forget`). Every unlearning row of this arm, at every k and scope, runs \
         these settings. {}\n\n",
        first.seed,
        m0.map_or(String::new(), |v| format!(
            "For scale: M0's mean KL to retrain_exact on F at k = 0 is {v:.4} (mean over seeds)."
        ))
    );
    let _ = writeln!(s, "| method | lr | budget × | KL F→exact | test acc | M0 test acc | within 3 points |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|");
    for c in rows {
        let o = &c.outcome;
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "| {}{} | {} | {} | {} | {} | {} | {} |",
            c.method,
            if c.diverged { " (diverged)" } else { "" },
            or_dash(o.lr.map(crate::found::short_e)),
            or_dash(o.budget.map(|v| v.to_string())),
            or_dash(o.kl_forget.map(|v| format!("{v:.4}"))),
            or_dash(o.test_accuracy.map(|v| format!("{v:.3}"))),
            or_dash(o.original_test_accuracy.map(|v| format!("{v:.3}"))),
            match o.within_tolerance {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            }
        );
    }
    s
}

/// Arm `arm`'s `doppel eval` table, and per k where `retrain_exact` sits on the targets: nearer M0 or nearer
/// `retrain_clean` by the mean KL divergence on F. Empty when the arm has no eval rows.
fn eval_markdown(rows: &[EvalRow], costs: &Costs, arm: usize) -> String {
    let rows: Vec<&EvalRow> = rows.iter().filter(|r| r.arm == arm).collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\nMembership inference and distances on the targets F (`doppel eval`; mean ± std over seeds). F logit conf \
         is log p − log(1 − p) of the true class; MIA AUC is the loss-threshold attack F vs test, MIA LR the \
         cross-validated logistic-regression attack; MIA-Efficacy (SVC) is the fraction of F that SalUn's SVC on \
         true-class confidence (fitted on the first 2,000 retain against the first 2,000 test samples, `doppel eval \
         --svc-shadow`) calls non-members, higher meaning more forgotten; KL F→X is the mean KL(model ‖ X) on F in \
         nats; Avg.Gap is the mean absolute gap to the oracle over forget, retain and test accuracy and \
         MIA-Efficacy (Jia et al. 2023); ε FQ X is the NeurIPS-2023 unlearning competition's forget quality of \
         the model's seeds against X's seeds on F (the mean per-target score 2^−⌊ε/0.5⌋, 1 when no attack tells the \
         two sets of models apart, 0 at or above the ceiling ⌈ln(N − 1)⌉ that N models per side can certify; – \
         below 3 seeds and on X's own row).\n\n",
    );
    // The retain split's accuracies only when an eval step of the arm ran with `--near-rows`.
    let split = has_retain_split(rows.iter().copied());
    let shown: Vec<&(&str, &str, usize)> =
        EVAL_COLUMNS.iter().chain(if split { &RETAIN_SPLIT_COLUMNS[..] } else { &[] }).collect();
    let titles: Vec<&str> = shown.iter().map(|(_, t, _)| *t).collect();
    let _ = writeln!(s, "| k | model | {} |", titles.join(" | "));
    let _ = writeln!(s, "|---:|---|{}", "---:|".repeat(titles.len()));
    for r in &rows {
        let cells: Vec<String> = shown
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
    if split {
        let counts: std::collections::BTreeSet<(usize, usize, usize)> =
            rows.iter().filter_map(|r| r.retain_split.as_ref().map(|x| (r.k, x.near, x.far))).collect();
        let counts: Vec<String> =
            counts.iter().map(|(k, near, far)| format!("k = {k}: {near} near and {far} far rows")).collect();
        let _ = writeln!(
            s,
            "- R near acc and R far acc: accuracy on the retain rows that `doppel eval --near-rows` lists (the \
             targets' natural look-alikes, found by mining; no variant generator made them) and on every other \
             retain row, so collateral damage of unlearning on the look-alikes shows apart from R as a whole{}.",
            if counts.is_empty() { String::new() } else { format!(" ({})", counts.join("; ")) }
        );
    }
    let mut ns: Vec<(usize, usize)> = rows
        .iter()
        .filter(|r| r.model == "m0")
        .filter_map(|r| r.get("eps_models_mean").map(|n| (r.k, n as usize)))
        .filter(|(_, n)| *n >= 3)
        .collect();
    ns.dedup();
    for (k, n) in ns {
        let _ = writeln!(
            s,
            "- k = {k}: ε-score from N = {n} models per side (one per seed); ceiling ⌈ln(N − 1)⌉ = {}.",
            doppel_eval::epsilon::cap(n)
        );
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use doppel_protocol::ArmInfo;

    /// A preset of one image arm `d` at k = 0 and 10.
    fn preset(seeds: &[u64]) -> PresetInfo {
        PresetInfo {
            name: "t".into(),
            description: String::new(),
            file: "t.toml".into(),
            device: "flex".into(),
            seeds: seeds.to_vec(),
            reseed_data: false,
            arms: vec![ArmInfo {
                label: "d".into(),
                builder: Builder::Images,
                k: vec![0, 10],
                seeds: seeds.to_vec(),
                config_path: "configs/smoke.toml".into(),
                train_path: "configs/train/smoke-mlp.toml".into(),
                unlearn: None,
            }],
        }
    }

    fn cell(k: usize, role: &'static str, f_acc: f64, f_conf: f64) -> Cell {
        let mut stats = vec![(Some(90.0), None); Metrics::COLUMNS.len()];
        stats[1] = (Some(f_acc), Some(1.0));
        stats[2] = (Some(f_conf), Some(1.0));
        Cell { arm: 0, dataset: "d".into(), k, role, seeds: 2, stats }
    }

    #[test]
    fn an_arm_that_borrows_a_calibration_names_the_arm_it_came_from() {
        let mut p = preset(&[1]);
        let unlearn = |calibrated_by| doppel_protocol::UnlearnInfo {
            methods: vec!["ga".into()],
            scopes: vec![doppel_protocol::Scope::Exact],
            k: vec![0],
            seeds: vec![1],
            config_path: "configs/unlearn/smoke-mlp.toml".into(),
            calibrated_by,
        };
        let mut b = p.arms[0].clone();
        b.label = "e".into();
        p.arms[0].unlearn = Some(unlearn(Some(0)));
        b.unlearn = Some(unlearn(Some(0)));
        p.arms.push(b);
        assert_eq!(borrowed_calibration(&p, 0), "", "its own calibration has its own table");
        assert!(borrowed_calibration(&p, 1).contains("runs the settings calibrated on d at k = 0"));
        p.arms[1].unlearn = Some(unlearn(None));
        assert_eq!(borrowed_calibration(&p, 1), "");
    }

    #[test]
    fn eval_rows_say_where_retrain_exact_sits() {
        let row = |model: &str, values: &[(&str, f64)]| EvalRow {
            arm: 0,
            dataset: "d".into(),
            k: 25,
            model: model.into(),
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            retain_split: None,
        };
        let rows = vec![
            row("m0", &[("runs", 3.0), ("kl_f_m0_mean", 0.0), ("kl_f_clean_mean", 0.5)]),
            row("retrain_exact", &[("runs", 3.0), ("kl_f_m0_mean", 0.02), ("kl_f_clean_mean", 0.4)]),
        ];
        let md = eval_markdown(&rows, &BTreeMap::new(), 0);
        assert!(md.contains("| 25 | retrain_exact |"), "{md}");
        assert!(
            md.contains("retrain_exact sits nearer **M0** (mean KL 0.0200 to M0, 0.4000 to retrain_clean)"),
            "{md}"
        );
        assert!(eval_markdown(&rows, &BTreeMap::new(), 1).is_empty(), "another arm has no rows");
    }

    #[test]
    fn the_retain_split_shows_only_when_the_eval_had_it() {
        let split = doppel_protocol::RetainSplit { near_rows: "n.parquet".into(), near: 12, far: 380 };
        let row = |model: &str, near: Option<(f64, f64)>| EvalRow {
            arm: 0,
            dataset: "d".into(),
            k: 10,
            model: model.into(),
            values: near
                .map(|(n, f)| vec![("r_near_acc_mean", n), ("r_near_acc_std", 0.01), ("r_far_acc_mean", f)])
                .unwrap_or_default()
                .into_iter()
                .chain([("runs", 2.0), ("f_acc_mean", 0.5)])
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            retain_split: near.map(|_| split.clone()),
        };
        let rows = vec![row("m0", Some((0.91, 0.95))), row("ga-exact", Some((0.6, 0.93)))];
        let md = eval_markdown(&rows, &BTreeMap::new(), 0);
        assert!(md.contains("| ε FQ exact | ε FQ clean | R near acc | R far acc |"), "{md}");
        assert!(md.contains("| 10 | ga-exact | 0.500 | – |") && md.contains("| 0.600 ± 0.010 | 0.930 |"), "{md}");
        assert_eq!(md.matches("(k = 10: 12 near and 380 far rows)").count(), 1, "the counts once: {md}");
        let plain = vec![row("m0", None), row("ga-exact", None)];
        let md = eval_markdown(&plain, &BTreeMap::new(), 0);
        assert!(!md.contains("R near") && !md.contains("near and"), "{md}");
        assert!(md.contains("| ε FQ exact | ε FQ clean |\n"), "{md}");
    }

    #[test]
    fn the_scope_headline_says_how_much_of_the_gap_mining_closes() {
        let preset = preset(&[1]);
        let row = |k: usize, model: &str, kl: f64, test: f64| EvalRow {
            arm: 0,
            dataset: "d".into(),
            k,
            model: model.into(),
            values: BTreeMap::from([("kl_f_clean_mean".to_string(), kl), ("test_acc_mean".to_string(), test)]),
            retain_split: None,
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
        let preset = preset(&[1, 2]);
        let counts = BTreeMap::from([((0, 0, None), Counts { base: 90, targets: 5, variants: 0, test: 20 })]);
        // (F accuracy, F confidence) of M0, retrain_exact and retrain_clean at k = 0 and k = 10.
        let at = [(0, [(100.0, 95.0), (60.0, 50.0), (60.0, 50.0)]), (10, [(100.0, 99.0), (100.0, 90.0), (60.0, 50.0)])];
        let mut cells: Vec<Cell> = at
            .iter()
            .flat_map(|(k, v)| ROLES.iter().zip(v).map(|(role, (acc, conf))| cell(*k, role, *acc, *conf)))
            .collect();
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
    fn mean_and_std_cells() {
        assert_eq!(pm(Some(1.0), Some(0.5)), "1.00 ± 0.50");
        assert_eq!(pm(Some(1.0), None), "1.00");
        assert_eq!(pm(None, None), "–");
    }
}

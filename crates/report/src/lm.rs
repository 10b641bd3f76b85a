//! The language arm's part of the report: per QA arm and k, the three reference LMs and every unlearned LM on the
//! targets F, their paraphrases S, the retain rows R and held-out QA pairs, from each step's `doppel lm eval`
//! result.
//!
//! Like the rest of the report, everything here is a function of the artifacts, so it is byte-identical whenever
//! they are.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::found::{Cost, Costs, LmRow, ROLES};
use crate::stats::mean_std_sample;

/// The LM metrics the report shows, as (field of doppel-protocol's `LmEvalResult`, title, decimals).
pub const LM_COLUMNS: [(&str, &str, usize); 9] = [
    ("answer_nll_forget", "F answer NLL", 3),
    ("answer_nll_similar", "S answer NLL", 3),
    ("answer_nll_retain", "R answer NLL", 3),
    ("answer_nll_heldout", "held-out answer NLL", 3),
    ("heldout_ppl", "held-out ppl", 1),
    ("unigram_ppl", "unigram ppl", 1),
    ("rouge_l_forget", "ROUGE-L F", 3),
    ("minilm_cosine_forget", "MiniLM cos F", 3),
    ("min_k_auc_forget_vs_heldout", "Min-K% AUC F vs held-out", 3),
];

/// One model at one k of one arm, over seeds.
#[derive(Debug, Clone)]
pub struct LmCell {
    /// Index of the dataset arm.
    pub arm: usize,
    /// The arm's label.
    pub dataset: String,
    /// Paraphrases per target.
    pub k: usize,
    /// The model's name.
    pub model: String,
    /// Seeds averaged.
    pub seeds: usize,
    /// (mean, sample std) per metric, in [`LM_COLUMNS`] order.
    pub stats: Vec<(Option<f64>, Option<f64>)>,
}

impl LmCell {
    /// The mean of metric `key`.
    pub fn mean(&self, key: &str) -> Option<f64> {
        LM_COLUMNS.iter().position(|(c, _, _)| *c == key).and_then(|i| self.stats[i].0)
    }
}

/// Groups `rows` by arm, k and model (reference models first, then the unlearned ones in plan order).
pub fn summarise(rows: &[LmRow]) -> Vec<LmCell> {
    let mut groups: BTreeMap<(usize, usize, usize, usize, String), Vec<&LmRow>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let rank = ROLES.iter().position(|x| *x == r.model).unwrap_or(ROLES.len());
        // Unlearned models keep the order they were first planned in; references come first.
        let first = rows.iter().position(|o| o.arm == r.arm && o.k == r.k && o.model == r.model).unwrap_or(i);
        let key = (r.arm, r.k, rank, if rank < ROLES.len() { 0 } else { first }, r.model.clone());
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_values()
        .map(|g| LmCell {
            arm: g[0].arm,
            dataset: g[0].dataset.clone(),
            k: g[0].k,
            model: g[0].model.clone(),
            seeds: g.len(),
            stats: LM_COLUMNS
                .iter()
                .map(|(key, _, _)| mean_std_sample(&g.iter().map(|r| r.eval.metric(key)).collect::<Vec<_>>()))
                .collect(),
        })
        .collect()
}

fn pm(m: Option<f64>, sd: Option<f64>, d: usize) -> String {
    match (m, sd) {
        (None, _) => "–".into(),
        (Some(m), None) => format!("{m:.d$}"),
        (Some(m), Some(sd)) => format!("{m:.d$} ± {sd:.d$}"),
    }
}

fn find<'a>(cells: &'a [LmCell], arm: usize, k: usize, model: &str) -> Option<&'a LmCell> {
    cells.iter().find(|c| c.arm == arm && c.k == k && c.model == model)
}

/// Arm `arm`'s LM table and, per k, where retrain_exact sits and which method comes nearest retrain_clean on the
/// targets. Empty when the arm has no LM rows.
pub fn markdown(cells: &[LmCell], costs: &Costs, arm: usize) -> String {
    let rows: Vec<&LmCell> = cells.iter().filter(|c| c.arm == arm).collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\nThe causal LM on the QA pairs (`doppel lm eval`; mean ± std over seeds). Answer NLL is nats per answer \
         token on the targets F, their paraphrases S, the retain rows R and held-out pairs; held-out ppl is the \
         perplexity of held-out pairs (every token), beside an add-one unigram fitted on the model's training rows; \
         ROUGE-L F and MiniLM cos F score the greedy answer to each target question against the target answer; \
         Min-K% AUC is the Min-K% Prob attack (k = 20 %), targets vs held-out pairs.\n\n",
    );
    let titles: Vec<&str> = LM_COLUMNS.iter().map(|(_, t, _)| *t).collect();
    let _ = writeln!(s, "| k | model | {} |", titles.join(" | "));
    let _ = writeln!(s, "|---:|---|{}", "---:|".repeat(titles.len()));
    for c in &rows {
        let vals: Vec<String> = LM_COLUMNS.iter().zip(&c.stats).map(|((_, _, d), (m, sd))| pm(*m, *sd, *d)).collect();
        let diverged = costs.get(&(c.arm, c.k, c.model.clone())).map_or(0, |c: &Cost| c.diverged);
        let name = match (c.model.as_str(), diverged) {
            ("m0", _) => "M0".to_string(),
            (m, 0) => m.to_string(),
            (m, n) => format!("{m} ({n} of its runs diverged)"),
        };
        let _ = writeln!(s, "| {} | {name} | {} |", c.k, vals.join(" | "));
    }
    s.push('\n');
    let mut ks: Vec<usize> = rows.iter().map(|c| c.k).collect();
    ks.dedup();
    for k in ks {
        let get = |model: &str, key: &str| find(cells, arm, k, model).and_then(|c| c.mean(key));
        if let (Some(m0), Some(uni)) = (get("m0", "heldout_ppl"), get("m0", "unigram_ppl")) {
            let _ = write!(s, "- k = {k}: M0's held-out perplexity {m0:.1} against the unigram's {uni:.1}");
        } else {
            let _ = write!(s, "- k = {k}:");
        }
        if let (Some(m0), Some(ex), Some(cl)) = (
            get("m0", "rouge_l_forget"),
            get("retrain_exact", "rouge_l_forget"),
            get("retrain_clean", "rouge_l_forget"),
        ) {
            let _ = write!(
                s,
                "; ROUGE-L of the greedy answers to the targets: M0 {m0:.3}, retrain_exact {ex:.3}, retrain_clean {cl:.3}"
            );
        }
        s.push('.');
        let mut by_scope: BTreeMap<&str, Vec<(&str, f64)>> = BTreeMap::new();
        for c in rows.iter().filter(|c| c.k == k && !ROLES.contains(&c.model.as_str())) {
            if let (Some((_, scope)), Some(v)) = (c.model.rsplit_once('-'), c.mean("answer_nll_forget")) {
                by_scope.entry(scope).or_default().push((c.model.as_str(), v));
            }
        }
        for (scope, ms) in by_scope {
            // Each scope's own oracle: retraining without exactly what it forgets.
            let oracle = if scope == "exact" { "retrain_exact" } else { "retrain_clean" };
            let Some(target) = get(oracle, "answer_nll_forget") else { continue };
            let best = ms.iter().min_by(|a, b| (a.1 - target).abs().total_cmp(&(b.1 - target).abs()));
            if let Some((model, v)) = best {
                let _ = write!(
                    s,
                    " Under the {scope} scope, {model} comes nearest its oracle {oracle} in answer NLL on the \
                     targets ({v:.3} against {target:.3})."
                );
            }
        }
        s.push('\n');
    }
    s
}

/// The headline bullet of QA arm `arm` (its label `label`, `targets` targets) from the smallest to the largest
/// k with all three reference models, and whether the retrain_exact − retrain_clean gap in ROUGE-L on the targets
/// widens between them (`None` with one k).
pub fn headline(cells: &[LmCell], arm: usize, label: &str, targets: u64) -> Option<(String, Option<bool>)> {
    let ks: Vec<usize> = {
        let mut ks: Vec<usize> = cells
            .iter()
            .filter(|c| c.arm == arm)
            .map(|c| c.k)
            .filter(|&k| ROLES.iter().all(|r| find(cells, arm, k, r).and_then(|c| c.mean("rouge_l_forget")).is_some()))
            .collect();
        ks.dedup();
        ks
    };
    let (&k0, &k1) = (ks.first()?, ks.last()?);
    let at = |k: usize, role: &str, key: &str| find(cells, arm, k, role).and_then(|c| c.mean(key)).unwrap_or(f64::NAN);
    let one = k0 == k1;
    let span = |role: &str, key: &str| {
        let (a, b) = (at(k0, role, key), at(k1, role, key));
        if one { format!("{a:.3}") } else { format!("{a:.3} → {b:.3}") }
    };
    let ks_text = if one { format!("k = {k0}") } else { format!("k = {k0} → {k1}") };
    let mut s = format!(
        "- **{label}** ({targets} QA targets; {ks_text} paraphrases per target; a causal LM): the greedy answers of \
         retrain_exact to the target questions score ROUGE-L {} against the target answers, retrain_clean's {} (M0: \
         {}); answer NLL on the targets: retrain_exact {}, retrain_clean {} (M0: {}) nats per token.\n",
        span("retrain_exact", "rouge_l_forget"),
        span("retrain_clean", "rouge_l_forget"),
        span("m0", "rouge_l_forget"),
        span("retrain_exact", "answer_nll_forget"),
        span("retrain_clean", "answer_nll_forget"),
        span("m0", "answer_nll_forget"),
    );
    let gap = |k: usize| at(k, "retrain_exact", "rouge_l_forget") - at(k, "retrain_clean", "rouge_l_forget");
    if one {
        let _ = writeln!(s, "  The gap retrain_exact − retrain_clean in ROUGE-L is {:+.3}.", gap(k0));
        return Some((s, None));
    }
    let grew = gap(k1) > gap(k0);
    let _ = writeln!(
        s,
        "  The gap retrain_exact − retrain_clean in ROUGE-L goes from {:+.3} to {:+.3}: it {} as paraphrases are \
         added.",
        gap(k0),
        gap(k1),
        if grew { "widens" } else { "does not widen" }
    );
    Some((s, Some(grew)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use doppel_protocol::LmEvalResult;

    fn row(k: usize, model: &str, seed_shift: f64, rouge: f64, nll: f64) -> LmRow {
        let eval = doppel_protocol::tagged!(LmEvalResult {
            model: model.into(),
            role: "m0".into(),
            heldout_ppl: 200.0,
            unigram_ppl: 800.0,
            answer_nll_forget: nll,
            answer_nll_similar: None,
            answer_nll_retain: 1.0,
            answer_nll_heldout: 1.0,
            rouge_l_forget: rouge + seed_shift,
            minilm_cosine_forget: 0.5,
            min_k_auc_forget_vs_heldout: f64::NAN,
            min_k: 0.2,
            forget: 5,
            similar: 0,
            retain: 50,
            heldout: 10,
            heldout_unk_rate: 0.0,
        });
        LmRow { arm: 0, dataset: "qa".into(), k, model: model.into(), eval }
    }

    fn cells() -> Vec<LmCell> {
        let mut rows = Vec::new();
        for shift in [0.0, 0.02] {
            for (k, ex) in [(0, 0.10), (25, 0.90)] {
                rows.push(row(k, "m0", shift, 0.97, 0.2));
                rows.push(row(k, "retrain_exact", shift, ex, if k == 0 { 6.0 } else { 0.3 }));
                rows.push(row(k, "retrain_clean", shift, 0.10, 6.0));
                rows.push(row(k, "npo-exact", shift, 0.5, 5.5));
                rows.push(row(k, "ga-exact", shift, 0.0, 30.0));
            }
        }
        summarise(&rows)
    }

    #[test]
    fn cells_average_seeds_and_put_the_references_first() {
        let c = cells();
        let names: Vec<&str> = c.iter().filter(|c| c.k == 0).map(|c| c.model.as_str()).collect();
        assert_eq!(names, ["m0", "retrain_exact", "retrain_clean", "npo-exact", "ga-exact"]);
        let ex = find(&c, 0, 25, "retrain_exact").unwrap();
        assert_eq!(ex.seeds, 2);
        assert!((ex.mean("rouge_l_forget").unwrap() - 0.91).abs() < 1e-12);
        let sd = ex.stats[LM_COLUMNS.iter().position(|(k, _, _)| *k == "rouge_l_forget").unwrap()].1.unwrap();
        assert!((sd - 0.02f64 / 2f64.sqrt()).abs() < 1e-12, "{sd}");
        assert_eq!(ex.mean("min_k_auc_forget_vs_heldout"), None, "absent values stay absent");
    }

    #[test]
    fn the_headline_and_the_table_come_from_the_cells() {
        let c = cells();
        let (text, widens) = headline(&c, 0, "qa", 50).unwrap();
        assert_eq!(widens, Some(true));
        assert!(text.contains("ROUGE-L 0.110 → 0.910"), "{text}");
        assert!(text.contains("goes from +0.000 to +0.800: it widens"), "{text}");
        let md = markdown(&c, &BTreeMap::new(), 0);
        assert!(md.contains("| 25 | M0 |"), "{md}");
        // At k = 0 NPO's 5.5 is nearer the exact scope's oracle (retrain_exact, 6.0) than GA's 30; at k = 25 it is
        // nearer retrain_exact's 0.3 too.
        let at_k0 = "exact scope, npo-exact comes nearest its oracle retrain_exact in answer NLL on the targets \
                     (5.500 against 6.000)";
        assert!(md.contains(at_k0), "{md}");
        assert!(md.contains("(5.500 against 0.300)"), "{md}");
        assert!(md.contains("M0's held-out perplexity 200.0 against the unigram's 800.0"), "{md}");
        let table = crate::tables::lm(&c, &BTreeMap::new()).csv();
        assert!(table.starts_with("dataset,k,model,seeds,answer_nll_forget_mean,answer_nll_forget_std,"), "{table}");
        assert_eq!(table.lines().count(), 1 + 10);
        assert!(markdown(&c, &BTreeMap::new(), 1).is_empty());
    }
}

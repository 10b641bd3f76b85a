//! Evaluation of a model set: M0, the two oracles and any other model, scored on the same samples, split into the
//! study's sets F, S, R and test.
//!
//! The input is plain arrays: one [`Samples`] (id, label and [`SampleSet`] of every row) and one
//! [`ModelOutputs`] (row-major logits, rows aligned with the samples) per model, gathered in a [`ModelSet`] that
//! says which models are the three references: the original model M0, `retrain_exact` and `retrain_clean`.
//! [`evaluate`] returns an [`Evaluation`]: one [`SummaryRow`] per model and the per-sample values
//! ([`PerSample`]) the tables are made of. [`Evaluation::table`] flattens the rows into a [`SummaryTable`] of named
//! columns, with each oracle's value of each metric in a dedicated column (`f_conf@exact`, `f_conf@clean`): the
//! target of unlearning is to match a reference, so the reference sits beside every number. [`aggregate`] reduces
//! the tables of several seeds to mean ± std per model. [`retain_split_columns`] adds the retain set split in two —
//! R near, the retain rows a mining step found to be natural look-alikes of the targets, and R far, the rest — so
//! the collateral damage of unlearning on the look-alikes shows beside R as a whole.
//!
//! Definitions (`p` the evaluated model, `q` a reference, all in `f64` from the `f32` logits):
//!
//! - per set: top-1 accuracy, mean true-class confidence `p_y`, mean logit-scaled confidence
//!   `log p_y − log(1 − p_y)`, mean cross-entropy (see [`crate::classify`]);
//! - `mia_auc`: [`crate::loss_threshold_auc`] of F (members) against test (non-members); `mia_lr`: the starting
//!   kit's [`crate::logistic_mia`] on the same groups, with the folds capped at the smaller group's size;
//!   `mia_efficacy`: SVC MIA-Efficacy ([`crate::svc_mia_forget_efficacy`], Jia et al. 2023 / SalUn) — the
//!   fraction of F that an SVC on true-class confidence, fitted on the first `n` retain rows against the first `n`
//!   test rows, calls non-members (`n = min(|R|, |test|, EvalConfig::svc_shadow)`); higher is more forgotten;
//! - `kl_<set>_<ref>`, `js_<set>_<ref>`: mean per-sample `KL(p ‖ q)` and `JS(p, q)` in nats on F, S and test;
//! - `conf_gap_f_<ref>`: mean F confidence of the model minus the reference's (signed: positive means the model is
//!   more confident on the targets than the reference);
//! - the **influence residual** is `kl_f_clean` and `conf_gap_f_clean` — the distance to `retrain_clean`, a model
//!   that never saw the targets nor their look-alikes — reported beside `kl_f_exact` and `conf_gap_f_exact`;
//! - `avg_gap_<oracle>`: [`crate::avg_gap`] over UA = 1 − F accuracy, RA = R accuracy, TA = test accuracy and
//!   MIA = `mia_efficacy`, Jia et al. 2023's definition (their Avg.Gap averages the same four gaps, in points).
//!
//! The set S (and R) may be empty (`k = 0` builds no variants): their metrics are then `None`. F and test may not:
//! the study has nothing to measure without targets or held-out samples.

use crate::classify::{Logits, cross_entropy_losses, logit_scaled_confidences, predictions, true_class_confidences};
use crate::divergence::{js_from_logits, kl_from_logits};
use crate::error::{EvalError, Result};
use crate::gap::avg_gap;
use crate::mia::{LogisticMiaConfig, logistic_mia, loss_threshold_auc};

/// Which of the study's sets a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SampleSet {
    /// A target: the forget set F.
    Forget,
    /// A variant or near-duplicate of a target: the similar set S.
    Similar,
    /// Any other training sample: the retain set R.
    Retain,
    /// The held-out test split.
    Test,
}

impl SampleSet {
    /// The four sets, in table order.
    pub const ALL: [SampleSet; 4] = [SampleSet::Forget, SampleSet::Similar, SampleSet::Retain, SampleSet::Test];

    /// The sets divergences are reported on: F, S and test.
    pub const DIVERGENCE: [SampleSet; 3] = [SampleSet::Forget, SampleSet::Similar, SampleSet::Test];

    /// The study's name of the set: `F`, `S`, `R`, `test`.
    pub fn name(self) -> &'static str {
        match self {
            SampleSet::Forget => "F",
            SampleSet::Similar => "S",
            SampleSet::Retain => "R",
            SampleSet::Test => "test",
        }
    }

    /// The lowercase prefix of the set's columns: `f`, `s`, `r`, `test`.
    pub fn key(self) -> &'static str {
        match self {
            SampleSet::Forget => "f",
            SampleSet::Similar => "s",
            SampleSet::Retain => "r",
            SampleSet::Test => "test",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The three reference models every model is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reference {
    /// M0, the original model (trained on F ∪ S ∪ R).
    Original,
    /// `retrain_exact`, trained on S ∪ R.
    Exact,
    /// `retrain_clean`, trained on R only.
    Clean,
}

impl Reference {
    /// The three references, in table order.
    pub const ALL: [Reference; 3] = [Reference::Original, Reference::Exact, Reference::Clean];

    /// The two oracles.
    pub const ORACLES: [Reference; 2] = [Reference::Exact, Reference::Clean];

    /// The suffix of the reference's columns: `m0`, `exact`, `clean`.
    pub fn key(self) -> &'static str {
        match self {
            Reference::Original => "m0",
            Reference::Exact => "exact",
            Reference::Clean => "clean",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The samples every model is scored on; the three slices have one entry per row.
#[derive(Debug, Clone, Copy)]
pub struct Samples<'a> {
    /// Sample ids (as in the dataset's lineage).
    pub ids: &'a [u32],
    /// True labels, each in `0..num_classes`.
    pub labels: &'a [usize],
    /// The set of each sample.
    pub sets: &'a [SampleSet],
}

/// One model's outputs on the [`Samples`]: row-major logits `[N, num_classes]`, rows in the samples' order.
#[derive(Debug, Clone, Copy)]
pub struct ModelOutputs<'a> {
    /// The model's name in the tables (`m0`, `retrain_exact`, a method name).
    pub name: &'a str,
    /// Logits, row-major `[N, num_classes]`.
    pub logits: &'a [f32],
    /// Number of classes.
    pub num_classes: usize,
}

/// The models to evaluate and which of them are the references (indices into `models`).
#[derive(Debug, Clone, Copy)]
pub struct ModelSet<'a> {
    /// The samples.
    pub samples: Samples<'a>,
    /// Every model, in table order.
    pub models: &'a [ModelOutputs<'a>],
    /// Index of M0 in `models`.
    pub original: usize,
    /// Index of `retrain_exact` in `models`.
    pub exact: usize,
    /// Index of `retrain_clean` in `models`.
    pub clean: usize,
}

impl ModelSet<'_> {
    fn reference(&self, r: Reference) -> usize {
        match r {
            Reference::Original => self.original,
            Reference::Exact => self.exact,
            Reference::Clean => self.clean,
        }
    }
}

/// Settings of [`evaluate`]: the logistic-regression attack and its seed, and the SVC attack's shadow size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalConfig {
    /// The logistic-regression attack; its folds are capped at the smaller of |F| and |test|.
    pub mia: LogisticMiaConfig,
    /// Seed of the attack's balancing and folds.
    pub seed: u64,
    /// At most this many shadow members and non-members for the SVC attack; `None` is the reference's (all of
    /// test, when |R| ≥ |test|). See [`crate::svc_mia_forget_efficacy`].
    pub svc_shadow: Option<usize>,
}

/// The per-set means of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetMetrics {
    /// Samples in the set.
    pub count: usize,
    /// Top-1 accuracy, in `[0, 1]`.
    pub accuracy: f64,
    /// Mean true-class confidence, in `[0, 1]`.
    pub confidence: f64,
    /// Mean logit-scaled confidence `log p_y − log(1 − p_y)`.
    pub logit_confidence: f64,
    /// Mean cross-entropy, `≥ 0`.
    pub loss: f64,
}

/// Everything [`evaluate`] reports about one model.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The model's name.
    pub model: String,
    /// Per-set metrics, indexed F, S, R, test; `None` for an empty set.
    pub sets: [Option<SetMetrics>; 4],
    /// Loss-threshold MIA AUC, F against test.
    pub mia_auc: f64,
    /// Logistic-regression MIA mean held-out accuracy, F against test; NaN when F or test has a single sample.
    pub mia_lr: f64,
    /// SVC MIA-Efficacy: the fraction of F the confidence SVC calls non-members; `None` when R is empty.
    pub mia_efficacy: Option<f64>,
    /// Mean `KL(model ‖ reference)` per reference (M0, exact, clean) and set (F, S, test); `None` for an empty S.
    pub kl: [[Option<f64>; 3]; 3],
    /// Mean `JS(model, reference)`, indexed as `kl`.
    pub js: [[Option<f64>; 3]; 3],
    /// Mean F confidence minus the reference's, per reference (M0, exact, clean).
    pub conf_gap_f: [f64; 3],
    /// Avg.Gap over UA, RA, TA and MIA to each oracle (exact, clean); `None` when R is empty.
    pub avg_gap: [Option<f64>; 2],
}

impl SummaryRow {
    /// The metrics of one set.
    pub fn set(&self, set: SampleSet) -> Option<&SetMetrics> {
        self.sets[set.index()].as_ref()
    }

    /// Mean KL to `reference` on `set` (F, S or test; `None` for R, which divergences are not reported on).
    pub fn kl(&self, reference: Reference, set: SampleSet) -> Option<f64> {
        let i = SampleSet::DIVERGENCE.iter().position(|s| *s == set)?;
        self.kl[reference.index()][i]
    }

    /// The row as named columns, in table order (without the oracle-value columns of [`Evaluation::table`]).
    pub fn columns(&self) -> Vec<(String, Option<f64>)> {
        let mut out = Vec::new();
        for set in SampleSet::ALL {
            let m = self.set(set);
            let k = set.key();
            out.push((format!("{k}_acc"), m.map(|m| m.accuracy)));
            out.push((format!("{k}_conf"), m.map(|m| m.confidence)));
            out.push((format!("{k}_lsc"), m.map(|m| m.logit_confidence)));
            out.push((format!("{k}_loss"), m.map(|m| m.loss)));
        }
        out.push(("mia_auc".into(), Some(self.mia_auc)));
        out.push(("mia_lr".into(), Some(self.mia_lr).filter(|v| !v.is_nan())));
        out.push(("mia_efficacy".into(), self.mia_efficacy));
        for (name, values) in [("kl", &self.kl), ("js", &self.js)] {
            for r in Reference::ALL {
                for (i, set) in SampleSet::DIVERGENCE.iter().enumerate() {
                    out.push((format!("{name}_{}_{}", set.key(), r.key()), values[r.index()][i]));
                }
            }
        }
        for r in Reference::ALL {
            out.push((format!("conf_gap_f_{}", r.key()), Some(self.conf_gap_f[r.index()])));
        }
        for (i, r) in Reference::ORACLES.iter().enumerate() {
            out.push((format!("avg_gap_{}", r.key()), self.avg_gap[i]));
        }
        out
    }
}

/// The names of the columns that get an oracle-value twin in [`Evaluation::table`]: the per-set metrics and the
/// two attacks (a divergence to an oracle is 0 on the oracle's own row, so it needs no twin).
fn has_oracle_twin(column: &str) -> bool {
    column.starts_with("mia_")
        || SampleSet::ALL
            .iter()
            .any(|s| ["acc", "conf", "lsc", "loss"].iter().any(|m| column == format!("{}_{m}", s.key())))
}

/// Per-sample values of every model, rows aligned with the [`Samples`].
#[derive(Debug, Clone, PartialEq)]
pub struct PerSample {
    /// Whether the top-1 prediction is the true label, per model and row (ties go to the lower class, as in
    /// [`crate::predictions`]).
    pub correct: Vec<Vec<bool>>,
    /// Cross-entropy per model and row.
    pub loss: Vec<Vec<f64>>,
    /// True-class confidence per model and row.
    pub confidence: Vec<Vec<f64>>,
    /// Logit-scaled confidence per model and row.
    pub logit_confidence: Vec<Vec<f64>>,
    /// `KL(model ‖ reference)` per model, reference (M0, exact, clean) and row.
    pub kl: Vec<[Vec<f64>; 3]>,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// One row per model, in the order of [`ModelSet::models`].
    pub rows: Vec<SummaryRow>,
    /// The per-sample values.
    pub per_sample: PerSample,
    /// Index of `retrain_exact` in `rows`.
    pub exact: usize,
    /// Index of `retrain_clean` in `rows`.
    pub clean: usize,
}

/// Named columns of summary values, one entry per model.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryTable {
    /// Model names, one per row.
    pub models: Vec<String>,
    /// `(name, one value per model)`, in table order.
    pub columns: Vec<(String, Vec<Option<f64>>)>,
}

impl SummaryTable {
    /// The values of the named column.
    pub fn column(&self, name: &str) -> Option<&[Option<f64>]> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }
}

impl Evaluation {
    /// The summary as a table: every column of [`SummaryRow::columns`], each per-set metric and attack followed
    /// by the oracles' values in `<column>@exact` and `<column>@clean` (the same on every row).
    pub fn table(&self) -> SummaryTable {
        let per_row: Vec<Vec<(String, Option<f64>)>> = self.rows.iter().map(SummaryRow::columns).collect();
        let mut columns = Vec::new();
        let names: Vec<String> =
            per_row.first().map(|r| r.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
        for (c, name) in names.iter().enumerate() {
            columns.push((name.clone(), per_row.iter().map(|r| r[c].1).collect()));
            if has_oracle_twin(name) {
                for (oracle, key) in [(self.exact, "exact"), (self.clean, "clean")] {
                    columns.push((format!("{name}@{key}"), vec![per_row[oracle][c].1; per_row.len()]));
                }
            }
        }
        SummaryTable { models: self.rows.iter().map(|r| r.model.clone()).collect(), columns }
    }
}

/// Wraps an error of one model's outputs so the message names the model.
fn in_model(model: &str) -> impl Fn(EvalError) -> EvalError + '_ {
    move |e| EvalError::InModel { model: model.to_string(), source: Box::new(e) }
}

/// Mean of `values` over `rows`, `None` when `rows` is empty.
fn mean_over(values: &[f64], rows: &[usize]) -> Option<f64> {
    (!rows.is_empty()).then(|| rows.iter().map(|&r| values[r]).sum::<f64>() / rows.len() as f64)
}

/// Scores every model of `set` (see the [module docs](self) for the definitions).
///
/// # Errors
/// [`EvalError::Empty`] for no model, no target (F) or no test sample; [`EvalError::LengthMismatch`] when the
/// samples' slices differ in length; [`EvalError::InvalidParameter`] for a reference index out of range;
/// [`EvalError::InModel`] naming the model whose logits are ragged, hold NaN or an infinity, or have another class
/// count than the references, or whose labels are out of range.
pub fn evaluate(set: &ModelSet<'_>, config: &EvalConfig) -> Result<Evaluation> {
    let s = set.samples;
    if set.models.is_empty() {
        return Err(EvalError::Empty { what: "models", unit: "model" });
    }
    crate::check::same_len("sample ids", s.ids.len(), "labels", s.labels.len())?;
    crate::check::same_len("sample ids", s.ids.len(), "sample sets", s.sets.len())?;
    for (name, index) in [("original", set.original), ("exact", set.exact), ("clean", set.clean)] {
        if index >= set.models.len() {
            return Err(EvalError::InvalidParameter {
                name,
                value: index.to_string(),
                expected: format!("the index of a model, below {}", set.models.len()),
            });
        }
    }
    let rows_of: Vec<Vec<usize>> = SampleSet::ALL
        .iter()
        .map(|want| s.sets.iter().enumerate().filter(|(_, x)| *x == want).map(|(i, _)| i).collect())
        .collect();
    if rows_of[SampleSet::Forget.index()].is_empty() {
        return Err(EvalError::Empty { what: "forget set F", unit: "target" });
    }
    if rows_of[SampleSet::Test.index()].is_empty() {
        return Err(EvalError::Empty { what: "test set", unit: "test sample" });
    }
    let logits: Vec<Logits<'_>> = set
        .models
        .iter()
        .map(|m| Logits::new(m.logits, m.num_classes).map_err(in_model(m.name)))
        .collect::<Result<_>>()?;
    for (m, l) in set.models.iter().zip(&logits) {
        crate::check::same_len("logits rows", l.num_rows(), "samples", s.ids.len()).map_err(in_model(m.name))?;
    }
    let refs: Vec<&Logits<'_>> = Reference::ALL.iter().map(|r| &logits[set.reference(*r)]).collect();

    let mut per_sample = PerSample {
        correct: Vec::new(),
        loss: Vec::new(),
        confidence: Vec::new(),
        logit_confidence: Vec::new(),
        kl: Vec::new(),
    };
    let mut partial = Vec::new();
    for (m, l) in set.models.iter().zip(&logits) {
        let err = in_model(m.name);
        let lsc = logit_scaled_confidences(l, s.labels).map_err(&err)?;
        let loss = cross_entropy_losses(l, s.labels).map_err(&err)?;
        let conf = true_class_confidences(l, s.labels).map_err(&err)?;
        let hits: Vec<bool> = predictions(l).iter().zip(s.labels).map(|(p, y)| p == y).collect();
        let correct: Vec<f64> = hits.iter().map(|&h| if h { 1.0 } else { 0.0 }).collect();
        let mut kl = [Vec::new(), Vec::new(), Vec::new()];
        let mut js = [Vec::new(), Vec::new(), Vec::new()];
        for (r, q) in refs.iter().enumerate() {
            kl[r] = kl_from_logits(l, q).map_err(&err)?;
            js[r] = js_from_logits(l, q).map_err(&err)?;
        }
        let sets = SampleSet::ALL.map(|x| {
            let rows = &rows_of[x.index()];
            Some(SetMetrics {
                count: rows.len(),
                accuracy: mean_over(&correct, rows)?,
                confidence: mean_over(&conf, rows)?,
                logit_confidence: mean_over(&lsc, rows)?,
                loss: mean_over(&loss, rows)?,
            })
        });
        let gather = |rows: &[usize]| rows.iter().map(|&r| loss[r]).collect::<Vec<f64>>();
        let (members, nonmembers) =
            (gather(&rows_of[SampleSet::Forget.index()]), gather(&rows_of[SampleSet::Test.index()]));
        let mia_auc = loss_threshold_auc(&members, &nonmembers).map_err(&err)?;
        let folds = config.mia.folds.min(members.len()).min(nonmembers.len()).max(2);
        let mia_lr = if members.len() < 2 || nonmembers.len() < 2 {
            f64::NAN
        } else {
            logistic_mia(&members, &nonmembers, &LogisticMiaConfig { folds, ..config.mia }, config.seed)
                .map_err(&err)?
                .mean_accuracy
        };
        let confidences = |x: SampleSet| rows_of[x.index()].iter().map(|&r| conf[r]).collect::<Vec<f64>>();
        let mia_efficacy = if rows_of[SampleSet::Retain.index()].is_empty() {
            None
        } else {
            let report = crate::mia::svc_mia_forget_efficacy(
                &confidences(SampleSet::Retain),
                &confidences(SampleSet::Test),
                &confidences(SampleSet::Forget),
                config.svc_shadow,
            )
            .map_err(&err)?;
            Some(report.efficacy)
        };
        let means =
            |v: &[Vec<f64>; 3]| [0, 1, 2].map(|r| SampleSet::DIVERGENCE.map(|x| mean_over(&v[r], &rows_of[x.index()])));
        partial.push((sets, mia_auc, mia_lr, mia_efficacy, means(&kl), means(&js)));
        per_sample.correct.push(hits);
        per_sample.loss.push(loss);
        per_sample.confidence.push(conf);
        per_sample.logit_confidence.push(lsc);
        per_sample.kl.push(kl);
    }

    let f_conf = |i: usize| partial[i].0[SampleSet::Forget.index()].map_or(f64::NAN, |m| m.confidence);
    let gap_metrics = |i: usize| -> Option<[(&'static str, f64); 4]> {
        let (sets, _, _, efficacy, ..) = &partial[i];
        let acc = |x: SampleSet| sets[x.index()].map(|m| m.accuracy);
        Some([
            ("UA", 1.0 - acc(SampleSet::Forget)?),
            ("RA", acc(SampleSet::Retain)?),
            ("TA", acc(SampleSet::Test)?),
            ("MIA-Efficacy", (*efficacy)?),
        ])
    };
    let mut rows = Vec::with_capacity(set.models.len());
    for (i, m) in set.models.iter().enumerate() {
        let (sets, mia_auc, mia_lr, mia_efficacy, kl, js) = partial[i];
        let conf_gap_f = Reference::ALL.map(|r| f_conf(i) - f_conf(set.reference(r)));
        let avg_gap = [set.exact, set.clean].map(|o| match (gap_metrics(i), gap_metrics(o)) {
            (Some(a), Some(b)) => avg_gap(&a, &b).ok(),
            _ => None,
        });
        rows.push(SummaryRow {
            model: m.name.to_string(),
            sets,
            mia_auc,
            mia_lr,
            mia_efficacy,
            kl,
            js,
            conf_gap_f,
            avg_gap,
        });
    }
    Ok(Evaluation { rows, per_sample, exact: set.exact, clean: set.clean })
}

/// The retain set R split in two, per model: **R near**, the retain rows that are natural look-alikes of the
/// targets — rows a mining step found within its distance threshold of some target (`doppel mine neighbours`),
/// though the lineage does not make them variants — and **R far**, every other retain row. Unlearning that spills
/// over from the targets shows first on R near, so the pair separates collateral damage on the look-alikes from
/// damage to the retain set at large.
///
/// `sets` gives the set of each row, as the evaluation's [`Samples`] did, and `near[i]` says whether row `i` is a
/// near retain row; only rows of R may be marked. The columns, each with one value per model of `evaluation`, are
/// in this order: `r_near_acc`, `r_near_conf`, `r_near_loss`, `kl_r_near_exact`, then the same four of `r_far` —
/// top-1 accuracy, mean true-class confidence, mean cross-entropy and mean `KL(model ‖ retrain_exact)`, defined
/// as the per-set columns of [`SummaryRow::columns`] and `kl_<set>_exact`. They are shaped as
/// [`SummaryTable::columns`], to be appended to [`Evaluation::table`] before [`aggregate`]. An empty R near (no
/// row marked) or R far (every retain row marked) gives `None` cells.
///
/// # Errors
/// [`EvalError::LengthMismatch`] when `near` or a model's per-sample values are not one per row of `sets` (the
/// latter inside [`EvalError::InModel`], naming the model); [`EvalError::InvalidParameter`] (`near`) when a row
/// outside R is marked near.
pub fn retain_split_columns(
    evaluation: &Evaluation,
    sets: &[SampleSet],
    near: &[bool],
) -> Result<Vec<(String, Vec<Option<f64>>)>> {
    crate::check::same_len("near-row mask", near.len(), "sample sets", sets.len())?;
    if let Some(row) = (0..sets.len()).find(|&i| near[i] && sets[i] != SampleSet::Retain) {
        return Err(EvalError::InvalidParameter {
            name: "near",
            value: format!("true at row {row}, a row of set {}", sets[row].name()),
            expected: "true only on retain rows (set R); targets and variants are F and S, never near".into(),
        });
    }
    let p = &evaluation.per_sample;
    let models = evaluation.rows.len();
    for (what, len) in [
        ("per-sample correctness", p.correct.len()),
        ("per-sample confidences", p.confidence.len()),
        ("per-sample losses", p.loss.len()),
        ("per-sample KL", p.kl.len()),
    ] {
        crate::check::same_len(what, len, "summary rows", models)?;
    }
    for (m, row) in evaluation.rows.iter().enumerate() {
        let err = in_model(&row.model);
        let exact = &p.kl[m][Reference::Exact.index()];
        for (what, len) in [
            ("per-sample correctness", p.correct[m].len()),
            ("per-sample confidences", p.confidence[m].len()),
            ("per-sample losses", p.loss[m].len()),
            ("per-sample KL to retrain_exact", exact.len()),
        ] {
            crate::check::same_len(what, len, "sample sets", sets.len()).map_err(&err)?;
        }
    }
    let retain = |want: bool| -> Vec<usize> {
        (0..sets.len()).filter(|&i| sets[i] == SampleSet::Retain && near[i] == want).collect()
    };
    let mut columns = Vec::with_capacity(8);
    for (key, rows) in [("r_near", retain(true)), ("r_far", retain(false))] {
        let accuracy = |m: usize| {
            (!rows.is_empty()).then(|| rows.iter().filter(|&&r| p.correct[m][r]).count() as f64 / rows.len() as f64)
        };
        let per_model = |f: &dyn Fn(usize) -> Option<f64>| (0..models).map(f).collect::<Vec<_>>();
        columns.push((format!("{key}_acc"), per_model(&accuracy)));
        columns.push((format!("{key}_conf"), per_model(&|m| mean_over(&p.confidence[m], &rows))));
        columns.push((format!("{key}_loss"), per_model(&|m| mean_over(&p.loss[m], &rows))));
        columns.push((
            format!("kl_{key}_{}", Reference::Exact.key()),
            per_model(&|m| mean_over(&p.kl[m][Reference::Exact.index()], &rows)),
        ));
    }
    Ok(columns)
}

/// Mean and sample standard deviation (`n − 1`) per model of the summary tables of several runs (seeds).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateTable {
    /// Model names, in order of first appearance.
    pub models: Vec<String>,
    /// How many runs hold each model.
    pub runs: Vec<usize>,
    /// One entry per summary column, in table order.
    pub columns: Vec<AggregateColumn>,
}

/// One column of an [`AggregateTable`]: mean and std per model; `None` where no run has a value (std also for a
/// single value).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateColumn {
    /// The summary column's name.
    pub name: String,
    /// Mean over runs, one per model.
    pub mean: Vec<Option<f64>>,
    /// Sample standard deviation over runs, one per model.
    pub std: Vec<Option<f64>>,
}

/// Reduces per-run summary tables to mean ± std per model and column. Models are matched by name; a model missing
/// from a run, or a `None` value, is left out of that cell's statistics.
///
/// # Errors
/// [`EvalError::Empty`] for no table; [`EvalError::ShapeMismatch`] when the tables' columns differ.
pub fn aggregate(tables: &[SummaryTable]) -> Result<AggregateTable> {
    let first = tables.first().ok_or(EvalError::Empty { what: "summary tables", unit: "run" })?;
    let names: Vec<&String> = first.columns.iter().map(|(n, _)| n).collect();
    for (i, t) in tables.iter().enumerate() {
        if t.columns.iter().map(|(n, _)| n).ne(names.iter().copied()) {
            return Err(EvalError::ShapeMismatch {
                what: "summary tables",
                detail: format!("run {i} has other columns than run 0; evaluate every run with the same doppel"),
            });
        }
    }
    let mut models: Vec<String> = Vec::new();
    for t in tables {
        for m in &t.models {
            if !models.contains(m) {
                models.push(m.clone());
            }
        }
    }
    let runs = models.iter().map(|m| tables.iter().filter(|t| t.models.contains(m)).count()).collect();
    let mut columns = Vec::with_capacity(names.len());
    for (c, name) in names.iter().enumerate() {
        let mut means = Vec::with_capacity(models.len());
        let mut stds = Vec::with_capacity(models.len());
        for m in &models {
            let values: Vec<f64> = tables
                .iter()
                .filter_map(|t| t.models.iter().position(|x| x == m).and_then(|row| t.columns[c].1[row]))
                .filter(|v| !v.is_nan())
                .collect();
            let n = values.len() as f64;
            let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / n);
            let std = mean
                .filter(|_| values.len() > 1)
                .map(|mu| (values.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / (n - 1.0)).sqrt());
            means.push(mean);
            stds.push(std);
        }
        columns.push(AggregateColumn { name: (*name).clone(), mean: means, std: stds });
    }
    Ok(AggregateTable { models, runs, columns })
}

/// The ε-score forget quality ([`crate::epsilon`], NeurIPS-2023) of every model of `table` against each oracle,
/// from several runs (seeds) of one model set: for model `m`, the logit-scaled confidences on F of `m` in each run
/// that holds it are the `N` "unlearned" models and the oracle's in the same runs the `N` "retrained" ones. The
/// columns are `eps_fq_exact` and `eps_fq_clean` (the mean score over F; their `std` is `None`) and `eps_models`
/// (`N`); a cell is `None` when fewer than 3 runs hold the model, and on the oracle's own row (a model set against
/// itself scores 1 by construction). The ceiling `⌈ln(N − 1)⌉` ([`crate::epsilon::cap`]) follows from `N`.
///
/// `sets` gives the set of each row, as the [`Samples`] of every run did.
///
/// # Errors
/// [`EvalError::LengthMismatch`] when a run's per-sample values are not one per row of `sets`; the errors of
/// [`crate::epsilon_scores`] (non-finite confidences).
pub fn forget_quality_columns(
    table: &AggregateTable,
    runs: &[&Evaluation],
    sets: &[SampleSet],
) -> Result<Vec<AggregateColumn>> {
    let forget: Vec<usize> = (0..sets.len()).filter(|&i| sets[i] == SampleSet::Forget).collect();
    // φ on F of `model` in `run`, if the run holds it.
    let phi = |run: &Evaluation, model: usize| -> Result<Vec<f64>> {
        let row = &run.per_sample.logit_confidence[model];
        crate::check::same_len("per-sample values", row.len(), "samples", sets.len())?;
        Ok(forget.iter().map(|&i| row[i]).collect())
    };
    let mut columns = Vec::new();
    let mut counts = vec![None; table.models.len()];
    for oracle in Reference::ORACLES {
        let mut mean = Vec::with_capacity(table.models.len());
        for (slot, name) in table.models.iter().enumerate() {
            let (mut unlearned, mut retrained) = (Vec::new(), Vec::new());
            let mut own_row = false;
            for run in runs {
                let o = match oracle {
                    Reference::Exact => run.exact,
                    _ => run.clean,
                };
                let Some(m) = run.rows.iter().position(|r| &r.model == name) else { continue };
                own_row |= m == o;
                unlearned.push(phi(run, m)?);
                retrained.push(phi(run, o)?);
            }
            counts[slot] = Some(unlearned.len() as f64);
            mean.push(if own_row || unlearned.len() < 3 {
                None
            } else {
                Some(crate::epsilon_scores(&unlearned, &retrained).map_err(in_model(name))?.forget_quality)
            });
        }
        let std = vec![None; mean.len()];
        columns.push(AggregateColumn { name: format!("eps_fq_{}", oracle.key()), mean, std });
    }
    columns.push(AggregateColumn { name: "eps_models".into(), std: vec![None; counts.len()], mean: counts });
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes; rows: two targets, one variant, one retain sample, two test samples; all labels 0.
    const SETS: [SampleSet; 6] =
        [SampleSet::Forget, SampleSet::Forget, SampleSet::Similar, SampleSet::Retain, SampleSet::Test, SampleSet::Test];
    const IDS: [u32; 6] = [0, 1, 2, 3, 4, 5];
    const LABELS: [usize; 6] = [0; 6];
    const CONFIG: EvalConfig = EvalConfig { mia: LogisticMiaConfig::STARTING_KIT, seed: 7, svc_shadow: None };

    /// Logits `[z, 0]` per row, so `φ = z`, `p_y = σ(z)`.
    fn logits(z: [f32; 6]) -> Vec<f32> {
        z.iter().flat_map(|&v| [v, 0.0]).collect()
    }

    fn run(models: &[(&str, Vec<f32>)]) -> Result<Evaluation> {
        let outputs: Vec<ModelOutputs<'_>> =
            models.iter().map(|(n, l)| ModelOutputs { name: n, logits: l, num_classes: 2 }).collect();
        let samples = Samples { ids: &IDS, labels: &LABELS, sets: &SETS };
        evaluate(&ModelSet { samples, models: &outputs, original: 0, exact: 1, clean: 2 }, &CONFIG)
    }

    fn three() -> Vec<(&'static str, Vec<f32>)> {
        vec![
            ("m0", logits([4.0, 2.0, 3.0, 5.0, 1.0, -1.0])),
            ("retrain_exact", logits([2.0, 1.0, 3.0, 5.0, 1.0, -1.0])),
            ("retrain_clean", logits([0.0, -2.0, 1.0, 5.0, 1.0, -1.0])),
        ]
    }

    #[test]
    fn hand_computed_summary() {
        let e = run(&three()).unwrap();
        let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
        let m0 = &e.rows[0];
        let f = m0.set(SampleSet::Forget).unwrap();
        assert_eq!((f.count, f.accuracy), (2, 1.0));
        assert!((f.confidence - (sigma(4.0) + sigma(2.0)) / 2.0).abs() < 1e-12);
        assert!((f.logit_confidence - 3.0).abs() < 1e-12);
        // Test: z = 1 (correct) and z = -1 (wrong).
        assert_eq!(m0.set(SampleSet::Test).unwrap().accuracy, 0.5);
        // Both targets have lower losses than both test samples: AUC 1.
        assert_eq!(m0.mia_auc, 1.0);
        // retrain_clean: z = 0 is a tie, arg-max picks class 0 (correct); z = -2 is wrong.
        assert_eq!(e.rows[2].set(SampleSet::Forget).unwrap().accuracy, 0.5);
        // Confidence gaps are signed differences of means.
        let want = (sigma(4.0) + sigma(2.0)) / 2.0 - (sigma(0.0) + sigma(-2.0)) / 2.0;
        assert!((m0.conf_gap_f[Reference::Clean.index()] - want).abs() < 1e-12);
        // retrain_clean's AUC: member logits [0, -2] against test [1, -1]; of the four pairs only 0 > -1 is won.
        assert_eq!(e.rows[2].mia_auc, 0.25);
        // SVC MIA-Efficacy, shadow n = min(|R|, |test|) = 1: the SVC separates the retain row's confidence σ(5)
        // (member) from the first test row's σ(1) at their midpoint. M0's targets, σ(4) and σ(2), fall on the
        // member side (efficacy 0); retrain_clean's, σ(0) and σ(−2), on the non-member side (efficacy 1).
        assert_eq!(m0.mia_efficacy, Some(0.0));
        assert_eq!(e.rows[2].mia_efficacy, Some(1.0));
        // Avg.Gap of M0 to retrain_clean: UA 0 vs 0.5, RA 1 vs 1, TA 0.5 vs 0.5, MIA-Efficacy 0 vs 1.
        assert!((m0.avg_gap[1].unwrap() - (0.5 + 0.0 + 0.0 + 1.0) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn forget_quality_over_runs_tells_a_model_that_kept_the_targets() {
        // Four runs (seeds): the oracles' φ on the two targets vary a little from seed to seed; `same` is
        // retrain_exact's twin, `kept` sits far above both oracles on every seed (perfectly separable: ε at the cap,
        // score 0); `two` appears in two runs only (below the 3 models ε needs).
        let evals: Vec<Evaluation> = (0..4)
            .map(|seed| {
                let d = seed as f32 * 0.1;
                let mut models = vec![
                    ("m0", logits([4.0 + d, 2.0 - d, 3.0, 5.0, 1.0, -1.0])),
                    ("retrain_exact", logits([2.0 + d, 1.0 - d, 3.0, 5.0, 1.0, -1.0])),
                    ("retrain_clean", logits([0.0 - d, -2.0 + d, 1.0, 5.0, 1.0, -1.0])),
                    ("same", logits([2.0 + d, 1.0 - d, 3.0, 5.0, 1.0, -1.0])),
                    ("kept", logits([9.0 + d, 8.0 - d, 3.0, 5.0, 1.0, -1.0])),
                ];
                if seed < 2 {
                    models.push(("two", logits([2.0, 1.0, 3.0, 5.0, 1.0, -1.0])));
                }
                run(&models).unwrap()
            })
            .collect();
        let tables: Vec<SummaryTable> = evals.iter().map(Evaluation::table).collect();
        let agg = aggregate(&tables).unwrap();
        let refs: Vec<&Evaluation> = evals.iter().collect();
        let cols = forget_quality_columns(&agg, &refs, &SETS).unwrap();
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["eps_fq_exact", "eps_fq_clean", "eps_models"]);
        let at = |c: usize, model: &str| cols[c].mean[agg.models.iter().position(|m| m == model).unwrap()];
        // Identical statistics: no attack separates them, every example scores 1.
        assert_eq!(at(0, "same"), Some(1.0));
        // Far above the oracle on every seed: ε is infinite, clipped to the cap, and scores 0.
        assert_eq!(at(0, "kept"), Some(0.0));
        assert_eq!(at(1, "kept"), Some(0.0));
        // The oracle against itself is left out; against the other oracle it is scored.
        assert_eq!(at(0, "retrain_exact"), None);
        assert_eq!(at(1, "retrain_clean"), None);
        assert!(at(1, "retrain_exact").is_some() && at(0, "retrain_clean").is_some());
        // Two models cannot be scored; the count says how many there were.
        assert_eq!((at(0, "two"), at(2, "two")), (None, Some(2.0)));
        assert_eq!(at(2, "m0"), Some(4.0));
        assert!(cols.iter().all(|c| c.std.iter().all(Option::is_none)));
    }

    #[test]
    fn references_are_at_distance_zero_from_themselves() {
        let e = run(&three()).unwrap();
        for (i, r) in Reference::ALL.iter().enumerate() {
            let row = &e.rows[i];
            for set in SampleSet::DIVERGENCE {
                assert_eq!(row.kl(*r, set), Some(0.0), "{} {set:?}", row.model);
            }
            assert_eq!(row.conf_gap_f[r.index()], 0.0);
            assert!(e.per_sample.kl[i][r.index()].iter().all(|v| *v == 0.0));
        }
        assert_eq!(e.rows[1].avg_gap[0], Some(0.0));
        assert_eq!(e.rows[2].avg_gap[1], Some(0.0));
        // The models agree on S, R and test: KL there is 0 too; on F it is positive.
        assert_eq!(e.rows[0].kl(Reference::Clean, SampleSet::Test), Some(0.0));
        assert!(e.rows[0].kl(Reference::Clean, SampleSet::Forget).unwrap() > 0.0);
    }

    #[test]
    fn oracle_columns_repeat_the_oracle_rows() {
        let e = run(&three()).unwrap();
        let t = e.table();
        assert_eq!(t.models, ["m0", "retrain_exact", "retrain_clean"]);
        for (name, _) in t.columns.iter().filter(|(n, _)| n.contains('@')) {
            let (base, oracle) = name.split_once('@').unwrap();
            let row = if oracle == "exact" { 1 } else { 2 };
            let want = t.column(base).unwrap()[row];
            assert!(t.column(name).unwrap().iter().all(|v| *v == want), "{name}");
        }
        assert!(t.column("f_conf@clean").is_some() && t.column("kl_f_clean@clean").is_none());
    }

    #[test]
    fn empty_similar_set_gives_none_not_an_error() {
        let samples = Samples { ids: &IDS, labels: &LABELS, sets: &SETS };
        let sets: Vec<SampleSet> =
            samples.sets.iter().map(|s| if *s == SampleSet::Similar { SampleSet::Retain } else { *s }).collect();
        let models = three();
        let outputs: Vec<ModelOutputs<'_>> =
            models.iter().map(|(n, l)| ModelOutputs { name: n, logits: l, num_classes: 2 }).collect();
        let set =
            ModelSet { samples: Samples { sets: &sets, ..samples }, models: &outputs, original: 0, exact: 1, clean: 2 };
        let e = evaluate(&set, &CONFIG).unwrap();
        assert!(e.rows[0].set(SampleSet::Similar).is_none());
        assert_eq!(e.rows[0].kl(Reference::Exact, SampleSet::Similar), None);
        assert_eq!(e.table().column("s_acc@exact").unwrap(), [None, None, None]);
    }

    #[test]
    fn bad_input_names_the_problem() {
        let mut models = three();
        models[1].1[3] = f32::NAN;
        let err = run(&models).unwrap_err();
        assert!(
            matches!(&err, EvalError::InModel { model, source } if model == "retrain_exact"
                && matches!(**source, EvalError::NonFiniteRow { row: 1, column: 1, .. })),
            "{err}"
        );
        assert!(err.to_string().starts_with("model `retrain_exact`: logits row 1 holds NaN"), "{err}");

        let mut models = three();
        models[2].1.truncate(10);
        assert!(matches!(run(&models), Err(EvalError::InModel { model, .. }) if model == "retrain_clean"));

        let no_targets = [SampleSet::Retain; 6];
        let models = three();
        let outputs: Vec<ModelOutputs<'_>> =
            models.iter().map(|(n, l)| ModelOutputs { name: n, logits: l, num_classes: 2 }).collect();
        let set = ModelSet {
            samples: Samples { ids: &IDS, labels: &LABELS, sets: &no_targets },
            models: &outputs,
            original: 0,
            exact: 1,
            clean: 2,
        };
        let err = evaluate(&set, &CONFIG).unwrap_err();
        assert_eq!(err.to_string(), "forget set F is empty; pass at least one target (is the split empty?)");
        let set = ModelSet { clean: 3, ..set };
        assert!(matches!(evaluate(&set, &CONFIG), Err(EvalError::InvalidParameter { name: "clean", .. })));
    }

    /// Rows of the retain-split tests: a target, a variant, three retain rows — rows 2 and 4 near, row 3 far — and
    /// a test sample; all labels 0.
    const SPLIT_SETS: [SampleSet; 6] = [
        SampleSet::Forget,
        SampleSet::Similar,
        SampleSet::Retain,
        SampleSet::Retain,
        SampleSet::Retain,
        SampleSet::Test,
    ];
    const NEAR: [bool; 6] = [false, false, true, false, true, false];

    fn split_run() -> Evaluation {
        let models = [
            ("m0", logits([4.0, 3.0, 2.0, -1.0, 1.0, 1.0])),
            ("retrain_exact", logits([0.0, 3.0, 2.0, -1.0, -3.0, 1.0])),
            ("retrain_clean", logits([0.0, 0.0, -2.0, 3.0, 0.0, 1.0])),
        ];
        let outputs: Vec<ModelOutputs<'_>> =
            models.iter().map(|(n, l)| ModelOutputs { name: n, logits: l, num_classes: 2 }).collect();
        let samples = Samples { ids: &IDS, labels: &LABELS, sets: &SPLIT_SETS };
        evaluate(&ModelSet { samples, models: &outputs, original: 0, exact: 1, clean: 2 }, &CONFIG).unwrap()
    }

    #[test]
    fn retain_split_is_hand_computed_on_near_and_far_rows() {
        let e = split_run();
        let cols = retain_split_columns(&e, &SPLIT_SETS, &NEAR).unwrap();
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "r_near_acc",
                "r_near_conf",
                "r_near_loss",
                "kl_r_near_exact",
                "r_far_acc",
                "r_far_conf",
                "r_far_loss",
                "kl_r_far_exact"
            ]
        );
        let col = |name: &str| cols.iter().find(|(n, _)| n == name).unwrap().1.clone();
        // Logits [z, 0] with label 0: p_y = σ(z), loss ln(1 + e^−z), correct iff z ≥ 0 (a tie picks class 0); the
        // KL of two such rows is p ln(p/q) + (1 − p) ln((1 − p)/(1 − q)) with p = σ(z), q = σ(w).
        let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
        let loss = |z: f64| (1.0 + (-z).exp()).ln();
        let kl = |z: f64, w: f64| {
            let (p, q) = (sigma(z), sigma(w));
            p * (p / q).ln() + (1.0 - p) * ((1.0 - p) / (1.0 - q)).ln()
        };
        let close = |got: Option<f64>, want: f64| assert!((got.unwrap() - want).abs() < 1e-12, "{got:?} vs {want}");
        // Near rows 2 and 4: m0 z = 2, 1; retrain_exact 2, −3; retrain_clean −2, 0. Far row 3: −1, −1, 3.
        assert_eq!(col("r_near_acc"), [Some(1.0), Some(0.5), Some(0.5)]);
        assert_eq!(col("r_far_acc"), [Some(0.0), Some(0.0), Some(1.0)]);
        close(col("r_near_conf")[0], (sigma(2.0) + sigma(1.0)) / 2.0);
        close(col("r_near_conf")[1], (sigma(2.0) + sigma(-3.0)) / 2.0);
        close(col("r_far_conf")[2], sigma(3.0));
        close(col("r_near_loss")[0], (loss(2.0) + loss(1.0)) / 2.0);
        close(col("r_far_loss")[0], loss(-1.0));
        close(col("r_near_loss")[2], (loss(-2.0) + loss(0.0)) / 2.0);
        close(col("kl_r_near_exact")[0], (0.0 + kl(1.0, -3.0)) / 2.0);
        close(col("kl_r_far_exact")[0], 0.0);
        close(col("kl_r_near_exact")[2], (kl(-2.0, 2.0) + kl(0.0, -3.0)) / 2.0);
        close(col("kl_r_far_exact")[2], kl(3.0, -1.0));
        assert_eq!(col("kl_r_near_exact")[1], Some(0.0), "retrain_exact against itself");
        // The split's columns append to the summary table and aggregate like any other.
        let mut table = e.table();
        table.columns.extend(cols);
        let agg = aggregate(&[table]).unwrap();
        assert_eq!(
            agg.columns.iter().find(|c| c.name == "r_near_acc").unwrap().mean,
            [Some(1.0), Some(0.5), Some(0.5)]
        );
    }

    #[test]
    fn an_empty_near_or_far_set_gives_none_and_bad_masks_are_errors() {
        let e = split_run();
        let col =
            |cols: &[(String, Vec<Option<f64>>)], name: &str| cols.iter().find(|(n, _)| n == name).unwrap().1.clone();
        // Nothing near: every retain row is far.
        let cols = retain_split_columns(&e, &SPLIT_SETS, &[false; 6]).unwrap();
        for (name, values) in cols.iter().filter(|(n, _)| n.contains("r_near")) {
            assert_eq!(values, &[None, None, None], "{name}");
        }
        let third = 1.0 / 3.0;
        assert_eq!(col(&cols, "r_far_acc"), [Some(2.0 * third), Some(third), Some(2.0 * third)]);
        // Every retain row near: nothing far.
        let all = [false, false, true, true, true, false];
        let cols = retain_split_columns(&e, &SPLIT_SETS, &all).unwrap();
        assert!(cols.iter().filter(|(n, _)| n.contains("r_far")).all(|(_, v)| v.iter().all(Option::is_none)));
        assert_eq!(col(&cols, "r_near_acc"), [Some(2.0 * third), Some(third), Some(2.0 * third)]);

        let err = retain_split_columns(&e, &SPLIT_SETS, &NEAR[..5]).unwrap_err();
        assert!(
            matches!(err, EvalError::LengthMismatch { left: "near-row mask", left_len: 5, right_len: 6, .. }),
            "{err}"
        );
        let mut target = NEAR;
        target[0] = true;
        let err = retain_split_columns(&e, &SPLIT_SETS, &target).unwrap_err();
        assert!(matches!(&err, EvalError::InvalidParameter { name: "near", .. }), "{err}");
        assert!(err.to_string().contains("true at row 0, a row of set F"), "{err}");
        let err = retain_split_columns(&e, &SPLIT_SETS[..5], &NEAR[..5]).unwrap_err();
        assert!(
            matches!(&err, EvalError::InModel { model, source } if model == "m0"
                && matches!(**source, EvalError::LengthMismatch { right: "sample sets", .. })),
            "{err}"
        );
    }

    #[test]
    fn aggregate_is_mean_and_sample_std() {
        let table = |v: f64, models: &[&str]| SummaryTable {
            models: models.iter().map(|m| m.to_string()).collect(),
            columns: vec![("x".into(), vec![Some(v); models.len()])],
        };
        let a = aggregate(&[table(1.0, &["a", "b"]), table(3.0, &["a"]), table(5.0, &["a", "b"])]).unwrap();
        assert_eq!(a.models, ["a", "b"]);
        assert_eq!(a.runs, [3, 2]);
        let (means, stds) = (&a.columns[0].mean, &a.columns[0].std);
        assert_eq!(means, &[Some(3.0), Some(3.0)]);
        // a: values 1, 3, 5: sample variance (4 + 0 + 4) / 2 = 4. b: 1, 5: (4 + 4) / 1 = 8.
        assert_eq!(stds, &[Some(2.0), Some(8f64.sqrt())]);
        let single = aggregate(&[table(1.0, &["a"])]).unwrap();
        assert_eq!(single.columns[0].std, [None]);
        assert!(matches!(aggregate(&[]), Err(EvalError::Empty { .. })));
    }
}

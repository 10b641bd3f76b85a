//! doppel-eval: the metrics of the doppel study, as pure functions on plain slices (no burn, no tables), each
//! defined once, documented with its formula and source, and checked against an outside reference where one exists.
//!
//! The principal types and how they connect:
//!
//! - [`Logits`] (and [`Probabilities`]): a checked, borrowed `[N, C]` batch of one model's outputs. Built once with
//!   [`Logits::new`], which rejects empty splits, ragged buffers and NaN logits, then passed to every per-sample
//!   metric of [`classify`]: [`accuracy`], [`cross_entropy_losses`] (in `f64`), [`true_class_confidences`] and the
//!   non-saturating [`logit_scaled_confidences`].
//! - Per-sample losses feed the membership-inference attacks of [`mia`]: [`loss_threshold_auc`] (through the
//!   tie-exact [`auc::roc_auc`], which matches scikit-learn) and [`logistic_mia`] (the NeurIPS-2023 starting-kit
//!   attack; [`LogisticMiaConfig`] in, [`LogisticMiaReport`] out, seeded). True-class confidences feed the SVC
//!   attack of Jia et al. 2023 / SalUn, [`svc_mia_forget_efficacy`] (MIA-Efficacy: the fraction of F it calls
//!   non-members), whose [`Svc`] is libsvm's solver as scikit-learn runs it ([`svc`]).
//! - Two [`Logits`] of the same samples under two models give the per-sample divergences of [`divergence`]
//!   ([`kl_from_logits`], [`js_from_logits`]); named metric values of a model and an oracle give [`avg_gap`] (Jia et al.'s: UA, RA, TA, MIA-Efficacy).
//! - Per-model logit-scaled confidences of `N` unlearned and `N` retrained models give the NeurIPS-2023 per-example
//!   ε-score ([`epsilon::epsilon_scores`] → [`EpsilonReport`]).
//! - A whole model set — M0, the oracles `retrain_exact` and `retrain_clean`, unlearned models — scored on the
//!   study's sets F, S, R and test: [`modelset::evaluate`] takes a [`ModelSet`] of plain per-model logits
//!   ([`ModelOutputs`]) and per-sample [`Samples`] and returns an [`Evaluation`] (one [`SummaryRow`] per model,
//!   the influence residual among them); [`Evaluation::table`] and [`aggregate`] make the named-column tables
//!   (oracle values in dedicated columns, mean ± std over seeds) that the CLI writes, and
//!   [`retain_split_columns`] the R near / R far columns (retain rows mined as look-alikes of the targets, and
//!   the rest).
//! - [`lm`] scores language models from per-token log-probabilities: [`lm::mean_nll`], [`lm::perplexity`], the
//!   Min-K% Prob membership score [`lm::min_k_prob`] with its AUC [`lm::min_k_auc`], and the add-one
//!   [`lm::Unigram`] baseline perplexity.
//! - [`rouge::rouge_l`] scores text answers ([`RougeL`]); [`ssim::ssim`] scores images ([`ImageShape`]), matching
//!   scikit-image.
//!
//! Every error is an [`EvalError`] naming the argument, row or index at fault; no metric panics on user input.
//! Reductions over samples are left to the caller, with [`mean`] for the common case.

mod check;

pub mod auc;
pub mod classify;
pub mod divergence;
pub mod epsilon;
pub mod error;
pub mod gap;
pub mod lm;
pub mod mia;
pub mod modelset;
pub mod rouge;
pub mod ssim;
pub mod svc;

pub use auc::{auc_from_groups, roc_auc};
pub use classify::{
    Logits, accuracy, cross_entropy_losses, logit_scaled_confidences, predictions, true_class_confidences,
};
pub use divergence::{Probabilities, js_from_logits, js_from_probabilities, kl_from_logits, kl_from_probabilities};
pub use epsilon::{EpsilonReport, epsilon_scores};
pub use error::{EvalError, Result};
pub use gap::avg_gap;
pub use mia::{
    LogisticFit, LogisticMiaConfig, LogisticMiaReport, SvcMiaReport, logistic_mia, loss_threshold_auc,
    svc_mia_efficacy, svc_mia_forget_efficacy,
};
pub use modelset::{
    AggregateColumn, AggregateTable, EvalConfig, Evaluation, ModelOutputs, ModelSet, PerSample, Reference, SampleSet,
    Samples, SetMetrics, SummaryRow, SummaryTable, aggregate, evaluate, forget_quality_columns, retain_split_columns,
};
pub use rouge::{RougeL, rouge_l};
pub use ssim::{ChannelLayout, ImageShape, ssim};
pub use svc::{Svc, SvcConfig};

/// The arithmetic mean of per-sample values (a mean confidence, a mean KL), with the checks the metrics make.
///
/// Infinite values are allowed (a mean KL can be `+∞`); NaN is not.
///
/// # Errors
/// [`EvalError::Empty`] for no values, [`EvalError::NonFinite`] naming the first NaN.
pub fn mean(values: &[f64]) -> Result<f64> {
    check::non_empty("values", "value", values)?;
    if let Some(index) = values.iter().position(|v| v.is_nan()) {
        return Err(EvalError::NonFinite { what: "values", index, value: f64::NAN });
    }
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_checks_its_input() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]).unwrap(), 3.0);
        assert_eq!(mean(&[1.0, f64::INFINITY]).unwrap(), f64::INFINITY);
        assert!(matches!(mean(&[]), Err(EvalError::Empty { .. })));
        assert!(matches!(mean(&[0.0, f64::NAN]), Err(EvalError::NonFinite { index: 1, .. })));
    }
}

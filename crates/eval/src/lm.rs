//! Language-model metrics from per-token log-probabilities (natural log), as plain slices.
//!
//! - [`mean_nll`] and [`perplexity`]: with `ℓ_t = log p(x_t | x_<t)` and a mask `m_t`,
//!   `NLL = −Σ m_t ℓ_t / Σ m_t` and `PPL = exp(NLL)` (token-weighted; one call per set of sequences, their tokens
//!   concatenated, gives the corpus value).
//! - [`min_k_prob`]: the Min-K% Prob membership score of one sequence (Shi et al. 2024, "Detecting Pretraining
//!   Data from Large Language Models", ICLR): the mean of its `k`·100 % lowest token log-probabilities. Members
//!   score higher; [`min_k_auc`] is the ROC AUC of members against non-members ([`crate::auc_from_groups`]).
//!   The count of tokens kept is `max(1, ⌊k · n⌋)`, as the authors' code (`int(len * ratio)`) with a floor of one.
//! - [`Unigram`]: an add-one (Laplace) smoothed unigram model fitted on training token counts,
//!   `p(w) = (c(w) + 1) / (N + V)`; its held-out perplexity is the baseline a trained LM must beat.

use crate::check;
use crate::error::{EvalError, Result};

/// The mean negative log-likelihood per masked token, `−Σ m_t ℓ_t / Σ m_t`.
///
/// # Errors
/// [`EvalError::LengthMismatch`], [`EvalError::NonFinite`] on a NaN or `+∞` log-probability (`−∞` is allowed and
/// gives `+∞`), [`EvalError::Empty`] when no token is masked in.
pub fn mean_nll(logprobs: &[f64], mask: &[bool]) -> Result<f64> {
    check::same_len("logprobs", logprobs.len(), "mask", mask.len())?;
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, (&l, &m)) in logprobs.iter().zip(mask).enumerate() {
        if !m {
            continue;
        }
        if l.is_nan() || (l > 0.0 && l.is_infinite()) {
            return Err(EvalError::NonFinite { what: "logprobs", index: i, value: l });
        }
        sum -= l;
        n += 1;
    }
    if n == 0 {
        return Err(EvalError::Empty { what: "masked tokens", unit: "token with mask true" });
    }
    Ok(sum / n as f64)
}

/// `exp(`[`mean_nll`]`)`.
///
/// # Errors
/// As [`mean_nll`].
pub fn perplexity(logprobs: &[f64], mask: &[bool]) -> Result<f64> {
    mean_nll(logprobs, mask).map(f64::exp)
}

/// The Min-K% Prob score of one sequence: the mean of its `max(1, ⌊k n⌋)` lowest token log-probabilities, for
/// `k` in `(0, 1]`. Higher means more likely a training member.
///
/// # Errors
/// [`EvalError::InvalidParameter`] for `k` outside `(0, 1]`, [`EvalError::Empty`], [`EvalError::NonFinite`].
pub fn min_k_prob(logprobs: &[f64], k: f64) -> Result<f64> {
    if !(k > 0.0 && k <= 1.0) {
        return Err(EvalError::InvalidParameter { name: "k", value: k.to_string(), expected: "in (0, 1]".into() });
    }
    check::non_empty("logprobs", "token", logprobs)?;
    check::finite("logprobs", logprobs)?;
    let mut sorted = logprobs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let keep = ((k * sorted.len() as f64).floor() as usize).max(1);
    Ok(sorted[..keep].iter().sum::<f64>() / keep as f64)
}

/// ROC AUC of the Min-K% Prob scores of `members` (positives) against `non_members`, one token-log-probability
/// vector per sequence. 0.5 is chance; 1 means every member scores above every non-member.
///
/// # Errors
/// As [`min_k_prob`] for any sequence, and [`EvalError::Empty`] when a group is empty.
pub fn min_k_auc(members: &[Vec<f64>], non_members: &[Vec<f64>], k: f64) -> Result<f64> {
    let scores = |seqs: &[Vec<f64>]| seqs.iter().map(|s| min_k_prob(s, k)).collect::<Result<Vec<f64>>>();
    crate::auc_from_groups(&scores(members)?, &scores(non_members)?)
}

/// An add-one smoothed unigram model over a vocabulary of `V` token ids; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Unigram {
    counts: Vec<u64>,
    total: u64,
}

impl Unigram {
    /// Counts `tokens` (ids below `vocab`).
    ///
    /// # Errors
    /// [`EvalError::InvalidParameter`] for `vocab = 0` or a token id at or past `vocab`.
    pub fn fit(tokens: &[u32], vocab: usize) -> Result<Unigram> {
        if vocab == 0 {
            return Err(EvalError::InvalidParameter {
                name: "vocab",
                value: "0".into(),
                expected: "at least 1".into(),
            });
        }
        let mut counts = vec![0u64; vocab];
        for (i, &t) in tokens.iter().enumerate() {
            let slot = counts.get_mut(t as usize).ok_or_else(|| EvalError::InvalidParameter {
                name: "tokens",
                value: format!("tokens[{i}] = {t}"),
                expected: format!("an id below the vocabulary size {vocab}"),
            })?;
            *slot += 1;
        }
        Ok(Unigram { counts, total: tokens.len() as u64 })
    }

    /// `log p(token) = log((c + 1) / (N + V))`.
    ///
    /// # Errors
    /// [`EvalError::InvalidParameter`] for an id at or past the vocabulary size.
    pub fn logprob(&self, token: u32) -> Result<f64> {
        let c = self.counts.get(token as usize).ok_or_else(|| EvalError::InvalidParameter {
            name: "token",
            value: token.to_string(),
            expected: format!("an id below the vocabulary size {}", self.counts.len()),
        })?;
        Ok(((*c + 1) as f64 / (self.total + self.counts.len() as u64) as f64).ln())
    }

    /// The perplexity of `tokens` under the model.
    ///
    /// # Errors
    /// [`EvalError::Empty`] for no tokens; as [`Unigram::logprob`].
    pub fn perplexity(&self, tokens: &[u32]) -> Result<f64> {
        let lp = tokens.iter().map(|&t| self.logprob(t)).collect::<Result<Vec<f64>>>()?;
        perplexity(&lp, &vec![true; lp.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nll_and_perplexity_by_hand() {
        // Masked tokens: ln 0.5 and ln 0.25 → NLL = (ln 2 + ln 4) / 2 = 1.5 ln 2; PPL = 2^1.5.
        let lp = [0.5f64.ln(), -100.0, 0.25f64.ln()];
        let mask = [true, false, true];
        assert!((mean_nll(&lp, &mask).unwrap() - 1.5 * 2f64.ln()).abs() < 1e-12);
        assert!((perplexity(&lp, &mask).unwrap() - 2f64.powf(1.5)).abs() < 1e-12);
        assert_eq!(mean_nll(&[f64::NEG_INFINITY], &[true]).unwrap(), f64::INFINITY);
        assert!(matches!(mean_nll(&[0.0], &[false]), Err(EvalError::Empty { .. })));
        assert!(matches!(mean_nll(&[0.0], &[true, true]), Err(EvalError::LengthMismatch { .. })));
        assert!(matches!(mean_nll(&[0.0, f64::NAN], &[true, true]), Err(EvalError::NonFinite { index: 1, .. })));
    }

    #[test]
    fn min_k_by_hand() {
        // 5 tokens, k = 0.4 → ⌊2⌋ = 2 lowest: (−3 + −2) / 2.
        let lp = [-1.0, -3.0, -0.5, -2.0, -0.1];
        assert_eq!(min_k_prob(&lp, 0.4).unwrap(), -2.5);
        // k = 0.1 → ⌊0.5⌋ = 0, floored to 1 token: the minimum.
        assert_eq!(min_k_prob(&lp, 0.1).unwrap(), -3.0);
        // k = 1 is the mean log-probability: −6.6 / 5.
        assert!((min_k_prob(&lp, 1.0).unwrap() + 1.32).abs() < 1e-12);
        assert!(matches!(min_k_prob(&lp, 0.0), Err(EvalError::InvalidParameter { name: "k", .. })));
        assert!(matches!(min_k_prob(&[], 0.2), Err(EvalError::Empty { .. })));
        // Members {−0.1, −0.2} (as one-token sequences) against non-members {−0.15, −1}: pairs won 3 of 4.
        let m = vec![vec![-0.1], vec![-0.2]];
        let n = vec![vec![-0.15], vec![-1.0]];
        assert_eq!(min_k_auc(&m, &n, 0.2).unwrap(), 0.75);
    }

    #[test]
    fn unigram_by_hand() {
        // Train tokens [1, 1, 2] over V = 4: p = (c + 1) / 7 → p(0) = 1/7, p(1) = 3/7, p(2) = 2/7.
        let u = Unigram::fit(&[1, 1, 2], 4).unwrap();
        assert!((u.logprob(1).unwrap() - (3.0f64 / 7.0).ln()).abs() < 1e-12);
        // Held-out [0, 1]: PPL = exp(−(ln 1/7 + ln 3/7) / 2) = 7 / √3.
        assert!((u.perplexity(&[0, 1]).unwrap() - 7.0 / 3f64.sqrt()).abs() < 1e-12);
        assert!(matches!(Unigram::fit(&[4], 4), Err(EvalError::InvalidParameter { name: "tokens", .. })));
        assert!(matches!(u.logprob(9), Err(EvalError::InvalidParameter { name: "token", .. })));
        assert!(matches!(u.perplexity(&[]), Err(EvalError::Empty { .. })));
    }
}

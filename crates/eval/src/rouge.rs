//! ROUGE-L: longest-common-subsequence overlap of a candidate text with a reference (Lin 2004, "ROUGE: A Package
//! for Automatic Evaluation of Summaries", §3.1), as the `rouge-score` Python package computes its `rougeL`.
//!
//! With `LCS` the length of the longest common subsequence of the two token sequences,
//!
//! ```text
//! R = LCS / |reference|,   P = LCS / |candidate|,   F = (1 + β²) R P / (R + β² P)
//! ```
//!
//! Lin 2004 leaves β free (DUC used a very large β, i.e. recall only); `rouge-score` reports `F` with **β = 1**, the
//! harmonic mean `2PR / (P + R)`, and so does doppel. When either text has no token, `P = R = F = 0` (as
//! `rouge-score`, even when both are empty).
//!
//! Tokenisation is `rouge-score`'s without stemming (its default): lowercase the text (Unicode lowercasing), turn
//! every run of characters outside ASCII `[a-z0-9]` into a separator, keep the non-empty pieces. Letters outside
//! ASCII therefore split words (`"café"` → `["caf"]`), as in `rouge-score`.

/// Precision, recall and F-measure (β = 1) of ROUGE-L, each in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RougeL {
    /// `LCS / |candidate tokens|`.
    pub precision: f64,
    /// `LCS / |reference tokens|`.
    pub recall: f64,
    /// `2 P R / (P + R)`, 0 when `P + R = 0`.
    pub f_measure: f64,
}

/// `rouge-score`'s tokens of `text`: lowercase ASCII alphanumeric runs.
pub fn tokenize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Length of the longest common subsequence of two token sequences (`O(|a| |b|)` time, `O(|b|)` memory).
pub fn lcs_length<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y { prev[j] + 1 } else { cur[j].max(prev[j + 1]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ROUGE-L of `candidate` (e.g. a model's greedy answer) against `reference` (the target answer).
pub fn rouge_l(reference: &str, candidate: &str) -> RougeL {
    let (r, c) = (tokenize(reference), tokenize(candidate));
    if r.is_empty() || c.is_empty() {
        return RougeL { precision: 0.0, recall: 0.0, f_measure: 0.0 };
    }
    let lcs = lcs_length(&r, &c) as f64;
    let (precision, recall) = (lcs / c.len() as f64, lcs / r.len() as f64);
    let f_measure = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    RougeL { precision, recall, f_measure }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenisation_follows_rouge_score() {
        assert_eq!(tokenize("The cat-sat, ON the mat!"), ["the", "cat", "sat", "on", "the", "mat"]);
        assert_eq!(tokenize("  café 42x\tB2B "), ["caf", "42x", "b2b"]);
        assert!(tokenize("?! …").is_empty());
    }

    #[test]
    fn hand_computed_values() {
        // Reference "the cat sat on the mat" (6 tokens), candidate "the cat on a mat" (5 tokens):
        // LCS = "the cat on mat" = 4 → P = 4/5, R = 4/6, F = 2·(4/5)(2/3)/(4/5 + 2/3) = 8/11.
        let s = rouge_l("The cat sat on the mat.", "the cat on a mat");
        assert_eq!(s.precision, 0.8);
        assert!((s.recall - 4.0 / 6.0).abs() < 1e-15);
        assert!((s.f_measure - 8.0 / 11.0).abs() < 1e-15, "{s:?}");
        assert_eq!(rouge_l("a b c", "A, B; C").f_measure, 1.0);
        assert_eq!(rouge_l("a b c", "d e").f_measure, 0.0);
        assert_eq!(rouge_l("", "").f_measure, 0.0);
        assert_eq!(rouge_l("word", "...").recall, 0.0);
        assert_eq!(lcs_length(&[1, 2, 3, 4, 1], &[3, 4, 1, 2, 1, 3]), 3);
    }
}

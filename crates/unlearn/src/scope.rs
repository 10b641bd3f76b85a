//! Scopes: which training rows a method is asked to unlearn.

use doppel_data::lineage::{SampleInfo, forget_rows, similar_rows};

use crate::error::{Result, UnlearnError};

/// Which samples to unlearn (STUDY.md's vocabulary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The forget set F: the targets.
    Exact,
    /// F ∪ S: the targets and all their variants (the ground-truth upper bound).
    Lineage,
    /// F ∪ Ŝ: the targets and the rows the caller mined (doppel-mine); rows are positions in the training split.
    Mined(Vec<usize>),
}

impl Scope {
    /// The name reports and the command line use: `exact`, `lineage`, `mined`.
    pub fn name(&self) -> &'static str {
        match self {
            Scope::Exact => "exact",
            Scope::Lineage => "lineage",
            Scope::Mined(_) => "mined",
        }
    }

    /// The rows to unlearn, ascending and without repeats. The targets are always in; a mined row past the end
    /// of the training split is an error, and so is a scope that leaves no row to forget or none to retain.
    pub fn resolve(&self, samples: &[SampleInfo]) -> Result<Vec<usize>> {
        let mut rows = forget_rows(samples);
        match self {
            Scope::Exact => {}
            Scope::Lineage => rows.extend(similar_rows(samples)),
            Scope::Mined(mined) => {
                if let Some(&bad) = mined.iter().find(|&&r| r >= samples.len()) {
                    return Err(UnlearnError::Scope {
                        scope: self.name(),
                        problem: format!("row {bad} is past the training split's {} rows", samples.len()),
                    });
                }
                rows.extend_from_slice(mined);
            }
        }
        rows.sort_unstable();
        rows.dedup();
        if rows.is_empty() {
            return Err(UnlearnError::Scope {
                scope: self.name(),
                problem: "holds no row; the dataset has no target".into(),
            });
        }
        if rows.len() == samples.len() {
            return Err(UnlearnError::Scope {
                scope: self.name(),
                problem: "holds every training row; nothing is left to retain".into(),
            });
        }
        Ok(rows)
    }
}

/// The rows of `0..n` not in `scope` (which is sorted).
pub fn complement(n: usize, scope: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(n.saturating_sub(scope.len()));
    let mut it = scope.iter().peekable();
    for r in 0..n {
        if it.peek() == Some(&&r) {
            it.next();
        } else {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_data::lineage::Origin;

    fn samples() -> Vec<SampleInfo> {
        let o = |origin| SampleInfo { id: 0, origin, source_index: None };
        let v = || Origin::Variant { of: 1, kind: "occlusion".into(), index: 0, params: "{}".into() };
        vec![o(Origin::Base), o(Origin::Target), o(v()), o(Origin::Base), o(v())]
    }

    #[test]
    fn scopes_resolve_to_sorted_rows() {
        let s = samples();
        assert_eq!(Scope::Exact.resolve(&s).unwrap(), vec![1]);
        assert_eq!(Scope::Lineage.resolve(&s).unwrap(), vec![1, 2, 4]);
        assert_eq!(Scope::Mined(vec![4, 1, 4]).resolve(&s).unwrap(), vec![1, 4]);
        assert_eq!(complement(5, &[1, 4]), vec![0, 2, 3]);
        let err = Scope::Mined(vec![9]).resolve(&s).unwrap_err().to_string();
        assert_eq!(err, "scope mined: row 9 is past the training split's 5 rows");
        let err = Scope::Mined(vec![0, 2, 3, 4]).resolve(&s).unwrap_err().to_string();
        assert!(err.contains("nothing is left to retain"), "{err}");
    }
}

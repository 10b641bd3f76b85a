//! Lineage: the ground truth of where every sample came from.
//!
//! Every training sample of a built dataset is exactly one of `base` (an untouched sample of the source), `target`
//! (a sample a user will ask to forget) or `variant` (made from a target; it keeps the target's label). Together
//! they partition the training set: `retain = base`, `forget = target`, `similar = variant` (see STUDY.md).

/// Where one sample came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum Origin {
    /// An untouched sample of the source dataset that is not a target.
    Base,
    /// A sample chosen to be forgotten.
    Target,
    /// Made from target `of` by a variant generator.
    Variant {
        /// Sample id of the target it was made from.
        of: u32,
        /// Variant kind (`occlusion`, `shift`, `noise`).
        kind: String,
        /// Index among the variants of this kind of this target.
        index: u32,
        /// The random choices made, as JSON (e.g. `{"blocks":[1,5,9,12]}`).
        params: String,
    },
}

impl Origin {
    /// The origin's name as tables write it.
    pub fn name(&self) -> &'static str {
        match self {
            Origin::Base => "base",
            Origin::Target => "target",
            Origin::Variant { .. } => "variant",
        }
    }
}

/// One sample's identity and lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleInfo {
    /// Id, unique over both splits of a built dataset.
    pub id: u32,
    /// Where it came from.
    pub origin: Origin,
    /// Row of the source split it was read from; `None` for made samples.
    pub source_index: Option<u32>,
}

/// Positions (rows) of the forget set F: the targets.
pub fn forget_rows(samples: &[SampleInfo]) -> Vec<usize> {
    rows(samples, |o| matches!(o, Origin::Target))
}

/// Positions of the similar set S: the variants.
pub fn similar_rows(samples: &[SampleInfo]) -> Vec<usize> {
    rows(samples, |o| matches!(o, Origin::Variant { .. }))
}

/// Positions of the retain set R: the base samples.
pub fn retain_rows(samples: &[SampleInfo]) -> Vec<usize> {
    rows(samples, |o| matches!(o, Origin::Base))
}

fn rows(samples: &[SampleInfo], keep: impl Fn(&Origin) -> bool) -> Vec<usize> {
    samples.iter().enumerate().filter(|(_, s)| keep(&s.origin)).map(|(i, _)| i).collect()
}

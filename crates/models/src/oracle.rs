//! The three reference models of the study and the training rows each may see.

use doppel_data::lineage::{Origin, SampleInfo};

/// A reference model, by the rows it trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// M0: trained on F ∪ S ∪ R.
    M0,
    /// `retrain_exact`: trained on S ∪ R (everything but the targets).
    RetrainExact,
    /// `retrain_clean`: trained on R only (no target, no variant).
    RetrainClean,
}

impl Role {
    /// All three, in the order tables print them.
    pub const ALL: [Role; 3] = [Role::M0, Role::RetrainExact, Role::RetrainClean];

    /// The name as tables and the command line write it.
    pub fn name(self) -> &'static str {
        match self {
            Role::M0 => "m0",
            Role::RetrainExact => "retrain_exact",
            Role::RetrainClean => "retrain_clean",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether a sample of `origin` is in this role's training set.
    pub fn admits(self, origin: &Origin) -> bool {
        match self {
            Role::M0 => true,
            Role::RetrainExact => !matches!(origin, Origin::Target),
            Role::RetrainClean => matches!(origin, Origin::Base),
        }
    }

    /// The training rows of this role, ascending.
    pub fn rows(self, samples: &[SampleInfo]) -> Vec<usize> {
        samples.iter().enumerate().filter(|(_, s)| self.admits(&s.origin)).map(|(i, _)| i).collect()
    }
}

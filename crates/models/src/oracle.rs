//! The three reference models of the study and the training rows each may see.

use doppel_data::lineage::{Origin, SampleInfo};

/// A reference model, by the rows it trains on: doppel-protocol's [`Role`](doppel_protocol::Role).
pub use doppel_protocol::Role;

/// The training rows a [`Role`] may see, from the lineage.
pub trait RoleRows {
    /// Whether a sample of `origin` is in this role's training set.
    fn admits(self, origin: &Origin) -> bool;

    /// The training rows of this role, ascending.
    fn rows(self, samples: &[SampleInfo]) -> Vec<usize>;
}

impl RoleRows for Role {
    /// Whether a sample of `origin` is in this role's training set.
    fn admits(self, origin: &Origin) -> bool {
        match self {
            Role::M0 => true,
            Role::RetrainExact => !matches!(origin, Origin::Target),
            Role::RetrainClean => matches!(origin, Origin::Base),
        }
    }

    /// The training rows of this role, ascending.
    fn rows(self, samples: &[SampleInfo]) -> Vec<usize> {
        samples.iter().enumerate().filter(|(_, s)| self.admits(&s.origin)).map(|(i, _)| i).collect()
    }
}

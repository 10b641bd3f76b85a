//! The names of the study: reference roles, forget scopes and unlearning methods.
//!
//! Each enum serialises to, displays as and parses from the name the command line and the tables use
//! (`retrain_exact`, `lineage`, `neggrad_plus`, `simnpo`); `ALL` lists every value in the order tables print
//! them.

use std::fmt;

/// A reference model, by the training rows it may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
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

    /// The name as tables and the command line write it: `m0`, `retrain_exact`, `retrain_clean`.
    pub const fn name(self) -> &'static str {
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
}

/// Which training rows a method is asked to forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The targets F only.
    Exact,
    /// F and the look-alikes mining found.
    Mined,
    /// F and every variant the lineage links to a target (S).
    Lineage,
}

impl Scope {
    /// All three, in the order tables print them.
    pub const ALL: [Scope; 3] = [Scope::Exact, Scope::Mined, Scope::Lineage];

    /// The name: `exact`, `mined`, `lineage`.
    pub const fn name(self) -> &'static str {
        match self {
            Scope::Exact => "exact",
            Scope::Mined => "mined",
            Scope::Lineage => "lineage",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The classifiers' unlearning methods (doppel-unlearn's `Unlearner`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Retraining from scratch on the retain side (the oracle as a method).
    Retrain,
    /// Fine-tuning on the retain side.
    Ft,
    /// Gradient ascent on the forget side.
    Ga,
    /// NegGrad+: descent on the retain side, ascent on the forget side.
    #[serde(rename = "neggrad_plus")]
    NegGradPlus,
    /// Random labels on the forget side.
    Rl,
    /// Fine-tuning with an ℓ1 penalty.
    L1Sparse,
    /// SalUn: random labels through a saliency mask.
    Salun,
    /// Selective synaptic dampening.
    Ssd,
    /// SCRUB: student–teacher max/min passes.
    Scrub,
    /// Boundary Shrink.
    BoundaryShrink,
    /// Boundary Expanding.
    BoundaryExpanding,
    /// Bad Teacher.
    BadTeacher,
}

impl Method {
    /// All methods, in the order tables print them.
    pub const ALL: [Method; 12] = [
        Method::Retrain,
        Method::Ft,
        Method::Ga,
        Method::NegGradPlus,
        Method::Rl,
        Method::L1Sparse,
        Method::Salun,
        Method::Scrub,
        Method::BoundaryShrink,
        Method::BoundaryExpanding,
        Method::Ssd,
        Method::BadTeacher,
    ];

    /// The name (`retrain`, `ft`, `ga`, `neggrad_plus`, `rl`, `l1_sparse`, `salun`, `ssd`, `scrub`,
    /// `boundary_shrink`, `boundary_expanding`, `bad_teacher`).
    pub const fn name(self) -> &'static str {
        match self {
            Method::Retrain => "retrain",
            Method::Ft => "ft",
            Method::Ga => "ga",
            Method::NegGradPlus => "neggrad_plus",
            Method::Rl => "rl",
            Method::L1Sparse => "l1_sparse",
            Method::Salun => "salun",
            Method::Ssd => "ssd",
            Method::Scrub => "scrub",
            Method::BoundaryShrink => "boundary_shrink",
            Method::BoundaryExpanding => "boundary_expanding",
            Method::BadTeacher => "bad_teacher",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The language arm's unlearning methods (doppel-unlearn's `LmUnlearner`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LmMethod {
    /// Gradient ascent on the forget answers.
    Ga,
    /// Gradient difference: ascent on forget, descent on retain.
    GradDiff,
    /// Gradient ascent with a KL term to the original on retain.
    KlGa,
    /// Negative preference optimisation.
    Npo,
    /// SimNPO: reference-free, length-normalised NPO.
    #[serde(rename = "simnpo")]
    SimNpo,
    /// Fine-tuning on the retain rows.
    Ft,
    /// Retraining from scratch on the retain side.
    Retrain,
}

impl LmMethod {
    /// All methods, in the order tables print them.
    pub const ALL: [LmMethod; 7] = [
        LmMethod::Retrain,
        LmMethod::Ft,
        LmMethod::Ga,
        LmMethod::GradDiff,
        LmMethod::KlGa,
        LmMethod::Npo,
        LmMethod::SimNpo,
    ];

    /// The name: `ga`, `grad_diff`, `kl_ga`, `npo`, `simnpo`, `ft`, `retrain`.
    pub const fn name(self) -> &'static str {
        match self {
            LmMethod::Ga => "ga",
            LmMethod::GradDiff => "grad_diff",
            LmMethod::KlGa => "kl_ga",
            LmMethod::Npo => "npo",
            LmMethod::SimNpo => "simnpo",
            LmMethod::Ft => "ft",
            LmMethod::Retrain => "retrain",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<LmMethod> {
        LmMethod::ALL.into_iter().find(|m| m.name() == name)
    }
}

macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
display_by_name!(Role, Scope, Method, LmMethod);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_round_trip_through_parse() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Some(r));
        }
        for s in Scope::ALL {
            assert_eq!(Scope::parse(&s.to_string()), Some(s));
        }
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()), Some(m));
        }
        for m in LmMethod::ALL {
            assert_eq!(LmMethod::parse(m.name()), Some(m));
        }
        assert_eq!(Role::parse("M0"), None);
    }

    #[test]
    fn serde_names_are_the_ones_files_already_hold() {
        // Serde writes each value by its command-line name.
        for m in Method::ALL {
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.name()));
        }
        for m in LmMethod::ALL {
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.name()));
        }
        let json = |v: &dyn erased::Ser| v.json();
        assert_eq!(json(&Role::RetrainExact), "\"retrain_exact\"");
        assert_eq!(json(&Scope::Lineage), "\"lineage\"");
        assert_eq!(json(&Method::NegGradPlus), "\"neggrad_plus\"");
        assert_eq!(json(&Method::BadTeacher), "\"bad_teacher\"");
        assert_eq!(json(&LmMethod::SimNpo), "\"simnpo\"");
        assert_eq!(json(&LmMethod::KlGa), "\"kl_ga\"");
    }

    mod erased {
        pub trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}

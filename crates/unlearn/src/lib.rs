//! doppel-unlearn: the unlearning methods of the doppel study, behind one small trait.
//!
//! The principal types, in the order a run uses them:
//!
//! - [`Original`]: the model to unlearn from (M0: a [`doppel_models::Net`] with its
//!   [`doppel_models::ModelSpec`], recipe and seeds); [`View`]: the training [`doppel_data::Dataset`] with its
//!   lineage rows.
//! - [`Scope`]: which rows to forget — `Exact` (F), `Lineage` (F ∪ S) or `Mined` (F ∪ Ŝ, rows supplied by the
//!   caller from doppel-mine). [`Scope::resolve`] turns it into sorted rows; the rest of the training set is the
//!   retain side.
//! - [`Unlearner`]: one method. Each method is a checked type built from its config struct ([`methods`]), whose
//!   `Default` is the canonical setting of the method's paper: [`methods::Retrain`], [`methods::Ft`],
//!   [`methods::Ga`], [`methods::NegGradPlus`], [`methods::Rl`], [`methods::L1Sparse`], [`methods::SalUn`],
//!   [`methods::Ssd`], [`methods::Scrub`], [`methods::BoundaryShrink`], [`methods::BoundaryExpanding`],
//!   [`methods::BadTeacher`]. [`MethodName`] is the closed list; [`MethodConfigs`] reads a TOML file with one optional
//!   section per method and builds any of them.
//! - [`Unlearned`]: the unlearned network (plain device) and an [`UnlearnReport`] (method, scope and its size,
//!   steps, wall time, [`Status`], settings used, seed).
//! - [`sgd::Sgd`]: the optimiser step all gradient methods share — PyTorch-semantics SGD with momentum and weight
//!   decay, with an optional element mask under which masked-out weights are never written (SalUn);
//!   [`adam::Adam`] is PyTorch-semantics Adam for Bad Teacher. Both step through the same guarded engine.
//! - Teacher–student methods (SCRUB, Bad Teacher) read frozen teachers' logits as constants; Boundary Expanding
//!   trains a copy of the original with one extra "shadow" class ([`doppel_models::Net::with_extra_class`]) and
//!   returns it without that class, in the original's shape.
//! - [`lm`]: the language arm's methods for the causal LM (GA, GradDiff, KL-GA, NPO, SimNPO, FT, retrain) behind
//!   [`lm::LmUnlearner`], with the same scopes, reports and divergence guard.
//!
//! Divergence: a gradient method whose loss turns non-finite stops at that step and reports
//! [`Status::Diverged`]; it returns the last sound weights (the ones the failing step started from, or the step
//! before), never NaN weights. Sound means finite weights *and* finite logits on a probe of the training rows, so
//! weights that grew until the logits overflow count as diverged too, and no NaN row reaches a table. Retraining that diverges is an error ([`UnlearnError::Model`]).

pub mod adam;
pub mod budget;
pub mod config;
pub mod error;
pub mod lm;
pub mod methods;
pub mod params;
pub mod scope;
pub mod search;
pub mod sgd;
pub mod unlearner;

mod engine;

pub use budget::Budget;
pub use config::{MethodConfigs, MethodName};
pub use error::{Result, UnlearnError};
pub use scope::Scope;
pub use search::{Candidate, SearchSpace, candidates};
pub use unlearner::{Original, RunContext, Status, UnlearnReport, Unlearned, Unlearner, View};

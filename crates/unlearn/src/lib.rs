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
//!
//! ## Methods against their references
//!
//! What each method follows, the work its `Default` does, and where it departs from the reference code; each
//! method's doc comment holds the details and the arithmetic. Budgets ([`Budget`]) are per side: F the forget side
//! (the resolved scope), R the retain side. A forget budget in steps is optimiser steps with F cycled, so it is the
//! same under every scope; the defaults are the references' step counts on SalUn's CIFAR-10 benchmark
//! (|F| = 4,500, |R| = 45,000) or TOFU's `forget10` split (400 pairs), except where a row says "ours". FT, GA,
//! NegGrad+, RL and l1-sparse step [`sgd::Sgd`] at a constant learning rate, without augmentation (their docs do
//! not give the references' schedules); the LM methods share AdamW, clipping by the global norm of all gradients
//! (PyTorch's `clip_grad_norm_`, [`doppel_models::clip`]) and the choices the [`lm::methods`] module docs give.
//!
//! | Method | Reference (paper; code) | Default budget | Departures from the reference code (why) |
//! |---|---|---|---|
//! | [Retrain](methods::RetrainConfig) | none (the exact answer); code: not named in the doc | the original's recipe on R | none; the input normalisation is recomputed on R, as `doppel train` does for the oracles |
//! | [FT](methods::FtConfig) | Warnecke et al. 2023, settings of the SalUn baselines (Fan et al. 2024); code: not named in the doc | R: 10 epochs | constant lr, no augmentation; batch 128 (the doc names no reference batch) |
//! | [GA](methods::GaConfig) | Thudi et al. 2022; Graves et al. 2021; SalUn/Unlearn-Sparse `GA.py` | F: 90 steps | budget in steps (5 epochs of `GA.py` at batch 256), the same under every scope; batch 128, not 256 (why not stated); constant lr, no augmentation |
//! | [NegGrad+](methods::NegGradPlusConfig) | Kurmanji et al. 2023; the SCRUB repository's `run_neggrad_epoch` | R: 14,070 steps, each with the next F batch (F cycled) | none stated: plain SGD, `(wd/2)·Σ‖θ − θ₀‖²` pull, retain/forget batch 32/64 as the reference; budget in steps (10 epochs of R at 32); constant lr |
//! | [RL](methods::RlConfig) | Golatkar et al. 2020; Hayase et al. 2020; the SalUn repository's `RL.py` (CIFAR-10 branch) | 10 rounds × (F: 18 steps, R: 1 epoch) | labels drawn per batch over all classes as the reference (`torch.randint`); forget budget in steps; batch 128, not 256 (why not stated); lr 0.01 (the paper's is from a grid) |
//! | [l1-sparse](methods::L1SparseConfig) | Jia et al. 2023; code: not named in the doc | R: 10 epochs | γ decays linearly over the budget's epochs; constant lr, no augmentation; batch 128 (the doc names no reference batch) |
//! | [SalUn](methods::SalUnConfig) | Fan et al. 2024; the SalUn repository (CIFAR-10), file not named in the doc | saliency pass over F, then 10 rounds × (F: 18 steps, R: 1 epoch) | the update, not the gradient, is masked: masked-out weights stay bit-identical under momentum and wd ([`sgd`]); mask ties broken by position; batch 128, not 256 (why not stated) |
//! | [SSD](methods::SsdConfig) | Foster, Schoepf & Brintrup 2024; "the reference code", repository and file not named in the doc | no steps: one importance pass over all rows and one over F | none stated (`I = E[g²]` as the reference code); importance batches of 64 in row order (the doc names no reference batch) |
//! | [SCRUB](methods::ScrubConfig) | Kurmanji et al. 2023; "their code" (`DistillKL`), repository and file not named in the doc | 3 rounds: F: 141 max-steps in the first 2 (`msteps`), R: 1 epoch each | constant lr; retain batch 128 "as for the other methods" (forget batch 32 is the reference's); max budget in steps |
//! | [Boundary Shrink](methods::BoundaryShrinkConfig) | Chen et al. 2023; "its reference code", not named in the doc | F: 360 steps | label = argmax of the original on the FGSM input, as the reference, fixed once (the attacked original never changes); batch 128, not part of the method |
//! | [Boundary Expanding](methods::BoundaryExpandingConfig) | Chen et al. 2023; "the paper's reference code", not named in the doc | F: 360 steps | shadow row drawn like a fresh `nn.Linear` row from a seeded stream; batch 128, not part of the method |
//! | [Bad Teacher](methods::BadTeacherConfig) | Chundawat et al. 2023; "their reference code", not named in the doc | 71 steps over F ∪ 30 % of R (`mixed`) | KL summed over classes and averaged over rows; the reference's `F.kl_div` default also divides by the classes, a constant Adam is invariant to (up to ε) |
//! | [LM GA](lm::methods::GaConfig) | TOFU (Maini et al. 2024); code: not named in the doc | F: 65 steps | lr 1e-4, not 1e-5 (measured on doppel's 1.5M-weight LM); constant lr, no warm-up; budget in steps; weight decay on every parameter (HF Trainer exempts biases and LayerNorm) |
//! | [GradDiff](lm::methods::GradDiffConfig) | TOFU; Liu et al. 2022; open-unlearning's `GradDiff` | F: 65 steps, one retain batch each | as LM GA |
//! | [KL-GA](lm::methods::KlGaConfig) | TOFU's "KL minimisation"; code: not named in the doc | F: 65 steps, one retain batch each | as LM GA; KL averaged over the counted tokens, not over every position as TOFU's code |
//! | [NPO](lm::methods::NpoConfig) | Zhang et al. 2024; code: not named in the doc | F: 65 steps (no retain term by default) | as LM GA; β kept though the summed NLLs cover ~10–20 answer tokens here vs ~30–60 in TOFU |
//! | [SimNPO](lm::methods::SimNpoConfig) | Fan et al. 2024; open-unlearning's `SimNPO` config (from the authors' code) | F: 65 steps, one retain batch each | as LM GA |
//! | [LM FT](lm::methods::FtConfig) | "the LM-unlearning papers' common recipe", no paper or code named | R: 1 epoch (ours) | lr, warm-up and weight decay as LM GA; the budget is ours (about an eighth of M0's 8 epochs) |
//! | [LM retrain](lm::methods::RetrainConfig) | none (the oracle); code: not named in the doc | M0's training config on R | none |

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

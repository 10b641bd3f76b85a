//! Retrain: the exact answer — train from scratch on the retain side with the original's recipe and seeds.

use doppel_models::ModelSpec;
use doppel_models::train::{channel_stats, train};

use crate::engine::{Sides, unlearned};
use crate::error::Result;
use crate::methods::unlearner;
use crate::unlearner::Status;

/// Retraining from scratch on the scope's complement with the original's recipe, seeds and architecture; the
/// input normalisation is recomputed on the retained rows, as `doppel train` does for the oracles, so the exact
/// scope reproduces `retrain_exact` and the lineage scope `retrain_clean`. No settings of its own. A run that
/// diverges is an error (there are no earlier finite weights to fall back to).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainConfig {}

/// Retrain, checked. See [`RetrainConfig`].
#[derive(Debug, Clone, Default)]
pub struct Retrain {
    cfg: RetrainConfig,
}

impl Retrain {
    /// The method (it has nothing to check).
    pub fn new(cfg: RetrainConfig) -> Result<Self> {
        Ok(Retrain { cfg })
    }
}

unlearner!(Retrain, "retrain", |self, original, view, scope, ctx, on_batch| {
    let started = std::time::Instant::now();
    let sides = Sides::new(view, scope)?;
    let (mean, std) = channel_stats(view.data, &sides.retain);
    let spec = ModelSpec { mean, std, ..original.spec.clone() };
    let (net, report) =
        train(&spec, original.recipe, view.data, &sides.retain, original.seeds, &ctx.device, |b| on_batch(b))?;
    let steps = report.rows.div_ceil(original.recipe.batch_size) * original.recipe.epochs;
    let mut out =
        unlearned(self.name(), self.settings(), original, scope, &sides, ctx, started, (net, steps, Status::Completed));
    out.spec = spec;
    // What retraining used is the original's recipe and seeds.
    out.report.settings = serde_json::json!({ "recipe": original.recipe, "seeds": original.seeds });
    Ok(out)
});

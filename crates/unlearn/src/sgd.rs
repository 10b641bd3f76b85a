//! The optimiser step of every gradient method: SGD with heavy-ball momentum and L2 weight decay in PyTorch's
//! semantics (`g ← ∇ + wd·θ`; `b ← μ·b + g`, `b = g` on the first step; `θ ← θ − lr·b`), with an optional
//! element mask.
//!
//! Why not burn's `ModuleOptimizer`: with momentum or weight decay a masked gradient still moves masked-out
//! weights (API-NOTES, SalUn pitfall). Here the update of a masked parameter is selected element-wise —
//! `θ_new = where(mask, θ − lr·b, θ)` — so a masked-out weight is the old tensor's own value, bit for bit, at
//! every step, whatever the momentum buffer and decay hold.

use std::collections::HashMap;

use burn::module::{ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use doppel_models::Net;

/// Element masks by parameter: `true` = the weight may change. Flattened, on the plain device.
pub type Masks = HashMap<ParamId, Tensor<1, Bool>>;

/// SGD state: settings, one momentum buffer per parameter, optional masks.
#[derive(Debug)]
pub struct Sgd {
    momentum: f64,
    weight_decay: f64,
    buffers: HashMap<ParamId, Tensor<1>>,
    masks: Option<Masks>,
}

impl Sgd {
    /// A fresh optimiser; `masks` restricts updates to the `true` elements of the parameters it names
    /// (parameters it does not name are frozen entirely).
    pub fn new(momentum: f64, weight_decay: f64, masks: Option<Masks>) -> Self {
        Sgd { momentum, weight_decay, buffers: HashMap::new(), masks }
    }

    /// One step with learning rate `lr` on `net` (autodiff device) from `grads`.
    pub fn step(&mut self, net: Net, lr: f64, mut grads: GradientsParams) -> Net {
        let mut mapper = StepMapper { sgd: self, grads: &mut grads, lr };
        net.map(&mut mapper)
    }
}

struct StepMapper<'a> {
    sgd: &'a mut Sgd,
    grads: &'a mut GradientsParams,
    lr: f64,
}

impl ModuleMapper for StepMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else { return Param::from_mapped_value(id, tensor, mapper) };
        let mask = match &self.sgd.masks {
            Some(masks) => match masks.get(&id) {
                Some(m) => Some(m.clone()),
                // Not named by the masks: frozen.
                None => return Param::from_mapped_value(id, tensor, mapper),
            },
            None => None,
        };
        let grad_required = tensor.is_require_grad();
        let theta = tensor.inner();
        let dims = theta.dims();
        let n = dims.iter().product::<usize>();
        let mut g = grad.to_device(&theta.device());
        if self.sgd.weight_decay > 0.0 {
            g = g + theta.clone() * self.sgd.weight_decay;
        }
        if self.sgd.momentum > 0.0 {
            let buf = match self.sgd.buffers.remove(&id) {
                Some(b) => b.reshape(dims) * self.sgd.momentum + g,
                None => g,
            };
            self.sgd.buffers.insert(id, buf.clone().reshape([n]));
            g = buf;
        }
        let stepped = theta.clone() - g * self.lr;
        let new = match mask {
            Some(m) => theta.mask_where(m.reshape(dims), stepped),
            None => stepped,
        };
        let mut t = Tensor::from_inner(new);
        if grad_required {
            t = t.require_grad();
        }
        Param::from_mapped_value(id, t, mapper)
    }
}

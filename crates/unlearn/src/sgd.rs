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

impl crate::engine::Optimizer for Sgd {
    fn step(&mut self, net: Net, lr: f64, grads: GradientsParams) -> Net {
        Sgd::step(self, net, lr, grads)
    }
}

struct StepMapper<'a> {
    sgd: &'a mut Sgd,
    grads: &'a mut GradientsParams,
    lr: f64,
}

impl ModuleMapper for StepMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let StepMapper { sgd, grads, lr } = self;
        update_param(param, grads, |id, theta, mut g| {
            let mask = match &sgd.masks {
                // Not named by the masks: frozen.
                Some(masks) => Some(masks.get(&id)?.clone()),
                None => None,
            };
            let dims = theta.dims();
            let n = dims.iter().product::<usize>();
            if sgd.weight_decay > 0.0 {
                g = g + theta.clone() * sgd.weight_decay;
            }
            if sgd.momentum > 0.0 {
                let buf = match sgd.buffers.remove(&id) {
                    Some(b) => b.reshape(dims) * sgd.momentum + g,
                    None => g,
                };
                sgd.buffers.insert(id, buf.clone().reshape([n]));
                g = buf;
            }
            let stepped = theta.clone() - g * *lr;
            Some(match mask {
                Some(m) => theta.mask_where(m.reshape(dims), stepped),
                None => stepped,
            })
        })
    }
}

/// The frame of an optimiser's update of one parameter: takes the parameter's gradient out of `grads` and, when
/// there is one, replaces its value with `update(id, θ, g)` (both on the plain device), keeping the id and the
/// gradient setting. A parameter without a gradient, or for which `update` returns `None`, keeps its value.
pub(crate) fn update_param<const D: usize>(
    param: Param<Tensor<D>>,
    grads: &mut GradientsParams,
    update: impl FnOnce(ParamId, Tensor<D>, Tensor<D>) -> Option<Tensor<D>>,
) -> Param<Tensor<D>> {
    let (id, tensor, mapper) = param.consume();
    let Some(grad) = grads.remove::<D>(id) else { return Param::from_mapped_value(id, tensor, mapper) };
    let theta = tensor.clone().inner();
    let g = grad.to_device(&theta.device());
    let Some(new) = update(id, theta, g) else { return Param::from_mapped_value(id, tensor, mapper) };
    let mut t = Tensor::from_inner(new);
    if tensor.is_require_grad() {
        t = t.require_grad();
    }
    Param::from_mapped_value(id, t, mapper)
}

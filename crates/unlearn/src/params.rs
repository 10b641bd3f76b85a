//! Parameters on the host, in the module's visiting order: to read weights, compare them bit for bit, write
//! them back, and to name parameters by position (the order [`Module::visit`] walks them, which is fixed for a
//! network type).

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;

use crate::error::{Result, UnlearnError};

/// The float parameters' ids, in visiting order.
pub fn ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut v = Ids(Vec::new());
    module.visit(&mut v);
    v.0
}

/// Every float parameter's values (flattened, row-major), in visiting order.
pub fn values<M: Module>(module: &M) -> Result<Vec<Vec<f32>>> {
    struct Values(Vec<std::result::Result<Vec<f32>, String>>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}")));
        }
    }
    let mut v = Values(Vec::new());
    module.visit(&mut v);
    v.0.into_iter().map(|r| r.map_err(UnlearnError::TensorData)).collect()
}

/// True when every weight is finite.
pub fn all_finite<M: Module>(module: &M) -> Result<bool> {
    Ok(values(module)?.iter().all(|p| p.iter().all(|v| v.is_finite())))
}

/// Replaces every float parameter's values with `values` (same order and sizes as [`values`] gives), keeping
/// ids, shapes, devices and gradient settings.
pub fn write<M: Module>(module: M, values: Vec<Vec<f32>>) -> M {
    struct Write {
        values: std::vec::IntoIter<Vec<f32>>,
    }
    impl ModuleMapper for Write {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let Some(v) = self.values.next() else { return Param::from_mapped_value(id, tensor, mapper) };
            let device = tensor.device();
            let autodiff = tensor.is_autodiff();
            let grad = tensor.is_require_grad();
            let mut t = Tensor::<D>::from_data(TensorData::new(v, tensor.dims()), &device.without_autodiff());
            if autodiff {
                t = Tensor::from_inner(t);
            }
            if grad {
                t = t.require_grad();
            }
            Param::from_mapped_value(id, t, mapper)
        }
    }
    module.map(&mut Write { values: values.into_iter() })
}

//! burn's `Conv2d` on flex against PyTorch: the output and the gradients of `sum(y · g)` with respect to the
//! input, the weight and the bias, for 5×5, 3×3 and 1×1 kernels, strides 1 and 2, with and without padding.
//!
//! burn-flex's kernels (with doppel's patched weight gradient, `vendor/burn-flex`) and
//! `doppel_models::conv::conv2d_gemm` (one matrix product under autodiff) are both checked against the same
//! values.
//! The fixture `fixtures/conv_gradients.json` and the script that wrote it (`fixtures/conv_gradients.py`,
//! PyTorch on the CPU) sit side by side.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use doppel_models::conv::conv2d_gemm;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    side: usize,
    batch: usize,
    x: Vec<f32>,
    w: Vec<f32>,
    b: Option<Vec<f32>>,
    g: Vec<f32>,
    y_shape: [usize; 4],
    y: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Option<Vec<f32>>,
}

/// Largest |got − want| / max(1, |want|).
fn rel_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter().zip(want).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f32::max)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn conv2d_output_and_gradients_match_pytorch() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conv_gradients.json")).unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture.cases.len(), 6);
    let ad = Device::flex().autodiff();
    for (i, c) in fixture.cases.iter().enumerate() {
        let (k, p) = (c.kernel, c.padding);
        let mut conv: Conv2d = Conv2dConfig::new([c.c_in, c.c_out], [k, k])
            .with_stride([c.stride, c.stride])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_bias(c.b.is_some())
            .init(&ad);
        conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(c.w.clone(), [c.c_out, c.c_in, k, k]), &ad));
        conv.bias =
            c.b.as_ref().map(|b| Param::from_tensor(Tensor::from_data(TensorData::new(b.clone(), [c.c_out]), &ad)));
        let g = Tensor::<4>::from_data(TensorData::new(c.g.clone(), c.y_shape), &ad);
        for (path, gemm) in [("burn Conv2d", false), ("conv2d_gemm", true)] {
            let x = Tensor::<4>::from_data(TensorData::new(c.x.clone(), [c.batch, c.c_in, c.side, c.side]), &ad)
                .require_grad();
            let y = if gemm { conv2d_gemm(&conv, x.clone()) } else { conv.forward(x.clone()) };
            assert_eq!(y.dims(), c.y_shape, "case {i}, {path}");
            let d = rel_diff(&values(y.clone().detach()), &c.y);
            assert!(d < 1e-5, "case {i}, {path}: output differs from PyTorch's by {d}");
            let grads = (y * g.clone()).sum().backward();
            let d = rel_diff(&values(x.grad(&grads).unwrap()), &c.dx);
            assert!(d < 1e-4, "case {i}, {path}: input gradient differs by {d}");
            let d = rel_diff(&values(conv.weight.val().grad(&grads).unwrap()), &c.dw);
            assert!(d < 1e-4, "case {i}, {path}: weight gradient differs by {d}");
            if let (Some(b), Some(db)) = (&conv.bias, &c.db) {
                let d = rel_diff(&values(b.val().grad(&grads).unwrap()), db);
                assert!(d < 1e-4, "case {i}, {path}: bias gradient differs by {d}");
            }
        }
    }
}

//! Where a CNN training step spends its time on burn's flex backend, op by op.
//!
//! Times the forward pass and both backward passes of each convolution of the bench CNN
//! (`configs/bench/train-cnn.toml`: 5×5 convolutions 1→16 on 28×28 and 16→32 on 14×14, padding 2, batch 128),
//! each next to a plain matrix product of the same multiply-add count, which is roughly what an
//! im2col + GEMM implementation of that pass costs. The gap between the two columns is the headroom.
//!
//! A second table times a whole training step of each layer (forward, then backward of `sum(y · g)` under
//! autodiff) with burn's `Conv2d::forward` and with `doppel_models::conv::conv2d_gemm`, for the bench CNN's layers
//! and ResNet-8's (3×3, stride 1 and 2, and the 1×1 strided projection, 32×32 CIFAR-10 inputs).
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release -p doppel-models --example conv_profile
//! ```

use std::time::Instant;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d, conv2d_weight_backward};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use doppel_models::conv::conv2d_gemm;

/// Median wall time of `f` over `reps` runs, in milliseconds, after one warm-up run.
fn time_ms<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    let _ = f();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let out = f();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            drop(out);
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    let device = Device::flex();
    let batch = 128;
    let reps = 9;
    println!("| layer | pass | burn flex ms | GEMM of the same size ms | ratio |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for (name, c_in, c_out, side) in [("conv1 1→16 28×28", 1, 16, 28), ("conv2 16→32 14×14", 16, 32, 14)] {
        let k = 5;
        let x = Tensor::<4>::random([batch, c_in, side, side], burn::tensor::Distribution::Default, &device);
        let w = Tensor::<4>::random([c_out, c_in, k, k], burn::tensor::Distribution::Default, &device);
        let b = Tensor::<1>::zeros([c_out], &device);
        let opts = ConvOptions::new([1, 1], [2, 2], [1, 1], 1);
        let y = conv2d(x.clone(), w.clone(), Some(b.clone()), opts.clone());
        let g = Tensor::<4>::random(y.dims(), burn::tensor::Distribution::Default, &device);
        let (kk, l) = (c_in * k * k, batch * side * side);
        // The three passes as matrix products: [c_out, kk]·[kk, l], [c_out, l]·[l, kk], [kk, c_out]·[c_out, l].
        let a_fwd = Tensor::<2>::random([c_out, kk], burn::tensor::Distribution::Default, &device);
        let b_fwd = Tensor::<2>::random([kk, l], burn::tensor::Distribution::Default, &device);
        let a_w = Tensor::<2>::random([c_out, l], burn::tensor::Distribution::Default, &device);
        let b_w = Tensor::<2>::random([l, kk], burn::tensor::Distribution::Default, &device);
        let a_x = Tensor::<2>::random([kk, c_out], burn::tensor::Distribution::Default, &device);
        let b_x = Tensor::<2>::random([c_out, l], burn::tensor::Distribution::Default, &device);
        let fwd = time_ms(reps, || conv2d(x.clone(), w.clone(), Some(b.clone()), opts.clone()).into_data());
        let fwd_gemm = time_ms(reps, || a_fwd.clone().matmul(b_fwd.clone()).into_data());
        let wgrad = time_ms(reps, || conv2d_weight_backward(x.clone(), w.clone(), g.clone(), opts.clone()).into_data());
        let wgrad_gemm = time_ms(reps, || a_w.clone().matmul(b_w.clone()).into_data());
        let topts = ConvTransposeOptions::new([1, 1], [2, 2], [0, 0], [1, 1], 1);
        let xgrad = time_ms(reps, || conv_transpose2d(g.clone(), w.clone(), None, topts.clone()).into_data());
        let xgrad_gemm = time_ms(reps, || a_x.clone().matmul(b_x.clone()).into_data());
        for (pass, ours, gemm) in
            [("forward", fwd, fwd_gemm), ("weight grad", wgrad, wgrad_gemm), ("input grad", xgrad, xgrad_gemm)]
        {
            println!("| {name} | {pass} | {ours:.2} | {gemm:.2} | {:.1}× |", ours / gemm);
        }
    }

    println!();
    println!("| layer | burn Conv2d step ms | conv2d_gemm step ms | burn ÷ gemm |");
    println!("| --- | ---: | ---: | ---: |");
    let ad = device.clone().autodiff();
    // (name, c_in, c_out, kernel, stride, padding, side, bias)
    let layers = [
        ("cnn conv1 1→16 5×5 28×28", 1, 16, 5, 1, 2, 28, true),
        ("cnn conv2 16→32 5×5 14×14", 16, 32, 5, 1, 2, 14, true),
        ("resnet8 3→16 3×3 32×32", 3, 16, 3, 1, 1, 32, false),
        ("resnet8 16→16 3×3 32×32", 16, 16, 3, 1, 1, 32, false),
        ("resnet8 16→32 3×3 /2 32×32", 16, 32, 3, 2, 1, 32, false),
        ("resnet8 32→32 3×3 16×16", 32, 32, 3, 1, 1, 16, false),
        ("resnet8 32→64 3×3 /2 16×16", 32, 64, 3, 2, 1, 16, false),
        ("resnet8 64→64 3×3 8×8", 64, 64, 3, 1, 1, 8, false),
        ("resnet8 16→32 1×1 /2 32×32", 16, 32, 1, 2, 0, 32, false),
    ];
    for (name, c_in, c_out, k, stride, pad, side, bias) in layers {
        let conv: Conv2d = Conv2dConfig::new([c_in, c_out], [k, k])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(bias)
            .init(&ad);
        let x = Tensor::<4>::random([batch, c_in, side, side], burn::tensor::Distribution::Default, &ad);
        let first = c_in <= 3;
        let g = Tensor::<4>::random(conv.forward(x.clone()).dims(), burn::tensor::Distribution::Default, &ad);
        // The first layer's input needs no gradient; the others' do, as inside a network.
        let input = || if first { x.clone() } else { x.clone().require_grad() };
        let step = |gemm: bool| {
            let y = if gemm { conv2d_gemm(&conv, input()) } else { conv.forward(input()) };
            let grads = (y * g.clone()).sum().backward();
            conv.weight.val().grad(&grads).map(|t| t.into_data())
        };
        let burn_ms = time_ms(reps, || step(false));
        let gemm_ms = time_ms(reps, || step(true));
        println!("| {name} | {burn_ms:.2} | {gemm_ms:.2} | {:.2}× |", burn_ms / gemm_ms);
    }
}

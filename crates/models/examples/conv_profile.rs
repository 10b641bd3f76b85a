//! Where a CNN training step spends its time on burn's flex backend, op by op.
//!
//! Times the forward pass and both backward passes of each convolution of the bench CNN
//! (`configs/bench/train-cnn.toml`: 5×5 convolutions 1→16 on 28×28 and 16→32 on 14×14, padding 2, batch 128),
//! each next to a plain matrix product of the same multiply-add count, which is roughly what an
//! im2col + GEMM implementation of that pass costs. The gap between the two columns is the headroom.
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release -p doppel-models --example conv_profile
//! ```

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d, conv2d_weight_backward};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

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
}

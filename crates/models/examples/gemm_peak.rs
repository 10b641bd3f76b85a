//! The machine's matrix-product limit as burn's flex backend reaches it: the GEMM-peak line of
//! `cargo xtask bench train`.
//!
//! Times the product of two f32 `N × N` matrices (uniform in [0, 1)) with flex's `matmul`: `--reps` products
//! after two warm-up ones, on `RAYON_NUM_THREADS` threads, and prints one JSON line,
//! `{"n", "ms" (the median), "gflops" (2 N³ / median)}`. Its twin on the PyTorch side is
//! `xtask/bench/gemm_torch.py` (`torch.mm`), same N and statistic.
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release -p doppel-models --example gemm_peak -- --n 1024 --reps 9
//! ```

use std::process::ExitCode;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;

/// `--n` and `--reps` from the command line, each with its default; `Err` names the bad argument.
fn parse(mut args: impl Iterator<Item = String>) -> Result<(usize, usize), String> {
    let (mut n, mut reps) = (1024, 9);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--n" => &mut n,
            "--reps" => &mut reps,
            other => return Err(format!("unknown argument {other:?}; expected --n N and --reps R")),
        };
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        *slot = match value.parse::<usize>() {
            Ok(v) if v > 0 => v,
            _ => return Err(format!("{flag} {value:?} is not a positive integer")),
        };
    }
    Ok((n, reps))
}

/// The median of `xs` (the mean of the middle two for an even count), as Python's `statistics.median`.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 { xs[m] } else { (xs[m - 1] + xs[m]) / 2.0 }
}

fn main() -> ExitCode {
    let (n, reps) = match parse(std::env::args().skip(1)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("gemm_peak: {e}");
            return ExitCode::from(2);
        }
    };
    let device = Device::flex();
    let a = Tensor::<2>::random([n, n], Distribution::Default, &device);
    let b = Tensor::<2>::random([n, n], Distribution::Default, &device);
    // `into_data` waits for the product, so the timer covers all of it.
    for _ in 0..2 {
        let _ = a.clone().matmul(b.clone()).into_data();
    }
    let times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let _ = a.clone().matmul(b.clone()).into_data();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let ms = median(times);
    let gflops = 2.0 * (n as f64).powi(3) / (ms * 1e6);
    println!("{{\"n\": {n}, \"ms\": {ms}, \"gflops\": {gflops}}}");
    ExitCode::SUCCESS
}

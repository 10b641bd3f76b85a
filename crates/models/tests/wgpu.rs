//! The GPU path: a few batches of training on `wgpu` agree with `flex` from the same initial weights.
//!
//! Needs the `wgpu` feature and a Vulkan/Metal driver; on a CPU-only Debian machine `mesa-vulkan-drivers`
//! (lavapipe) is enough, and `.ci/run` installs it. Tolerance: epoch losses within 1e-3 (absolute) and final
//! logits within 1e-3 — the two backends round differently, so bit equality is not expected, and anything past
//! 1e-3 after a dozen SGD steps would mean a wrong kernel, not rounding.

#![cfg(feature = "wgpu")]
#![allow(clippy::unwrap_used)] // A panic is the test failing.

use burn::prelude::*;
use doppel_data::synthetic::SyntheticConfig;
use doppel_models::checkpoint::{self, Sidecar};
use doppel_models::train::{
    Augment, OptimizerSpec, Recipe, Schedule, TrainReport, TrainSeeds, channel_stats, train_from,
};
use doppel_models::{Arch, DeviceChoice, ModelSpec};

#[test]
fn wgpu_training_agrees_with_flex() {
    let data = SyntheticConfig { classes: 3, train_per_class: 16, test_per_class: 4, side: 12, channels: 1 }
        .generate(9)
        .unwrap();
    let rows: Vec<usize> = (0..data.train.len()).collect();
    let (mean, std) = channel_stats(&data.train, &rows);
    let recipe = Recipe {
        epochs: 3,
        batch_size: 12,
        optimizer: OptimizerSpec::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 5e-4 },
        schedule: Schedule::Constant,
        augment: Augment::default(),
    };
    let seeds = TrainSeeds::from_master(2);
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    for arch in [Arch::Mlp { hidden: [16, 8] }, Arch::Cnn { channels: [4, 8], hidden: 16 }] {
        let spec = ModelSpec {
            arch: arch.clone(),
            input: data.train.shape(),
            classes: 3,
            mean: mean.clone(),
            std: std.clone(),
        };
        // One set of initial weights for both backends.
        let flex = DeviceChoice::Flex.open().unwrap();
        flex.seed(1);
        let start = spec.init(&flex);
        let side = Sidecar {
            role: "m0".into(),
            spec: spec.clone(),
            recipe: recipe.clone(),
            seeds,
            dataset_manifest_sha256: "test".into(),
            report: TrainReport { rows: 0, epochs: vec![], seconds: 0.0, samples_per_second: 0.0 },
            device: "flex".into(),
            doppel_version: "test".into(),
        };
        checkpoint::save(&start, &init, &side).unwrap();
        let run = |device: &Device| {
            let net = checkpoint::load(&init, &spec, &device.clone().autodiff()).unwrap();
            let (net, report) = train_from(net, &spec, &recipe, &data.train, &rows, seeds, device, |_| {}).unwrap();
            let x = spec.input_tensor(data.test.pixels(), data.test.len(), device);
            let logits: Vec<f32> = net.forward(x).into_data().convert::<f32>().try_to_vec().unwrap();
            (report.epochs.iter().map(|e| e.loss).collect::<Vec<f64>>(), logits)
        };
        let gpu = DeviceChoice::Wgpu.open().unwrap();
        let (flex_losses, flex_logits) = run(&flex);
        let (gpu_losses, gpu_logits) = run(&gpu);
        eprintln!("{}: flex losses {flex_losses:?}, wgpu losses {gpu_losses:?}", arch.name());
        for (a, b) in flex_losses.iter().zip(&gpu_losses) {
            assert!((a - b).abs() < 1e-3, "{}: epoch loss flex {a} vs wgpu {b}", arch.name());
        }
        assert!(flex_losses.last() < flex_losses.first(), "{}: the loss goes down", arch.name());
        let worst = flex_logits.iter().zip(&gpu_logits).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-3, "{}: logits differ by up to {worst}", arch.name());
    }
}

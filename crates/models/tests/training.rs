//! The training loop's promises, each checked on small synthetic data: it learns, it is deterministic, its
//! gradients are right, checkpoints round-trip and refuse the wrong network, and an oracle never sees what it
//! must not. Run under nextest: burn's flex seed is process-global, so seeded tests need their own process.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::cell::RefCell;
use std::collections::BTreeSet;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use doppel_data::synthetic::SyntheticConfig;
use doppel_data::{BuildConfig, Dataset, ImageShape};
use doppel_models::checkpoint::{self, Sidecar};
use doppel_models::infer::predict;
use doppel_models::train::{Augment, OptimizerSpec, Recipe, Schedule, TrainSeeds, channel_stats, train};
use doppel_models::{Arch, ModelSpec, Net, Role, RoleRows};

fn shapes(per_class: usize, seed: u64) -> (Dataset, Dataset) {
    let cfg = SyntheticConfig { classes: 4, train_per_class: per_class, test_per_class: 25, side: 16, channels: 1 };
    let s = cfg.generate(seed).unwrap();
    (s.train, s.test)
}

fn spec_for(data: &Dataset, rows: &[usize], arch: Arch) -> ModelSpec {
    let (mean, std) = channel_stats(data, rows);
    ModelSpec { arch, input: data.shape(), classes: data.class_names().len(), mean, std }
}

fn recipe(epochs: usize) -> Recipe {
    Recipe {
        epochs,
        batch_size: 32,
        optimizer: OptimizerSpec::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 5e-4 },
        schedule: Schedule::Cosine,
        augment: Augment::default(),
    }
}

fn weights_bytes(net: &Net, spec: &ModelSpec, dir: &std::path::Path, name: &str) -> Vec<u8> {
    let path = dir.join(format!("{name}.safetensors"));
    checkpoint::save(net, &path, &sidecar(spec)).unwrap();
    std::fs::read(path).unwrap()
}

fn sidecar(spec: &ModelSpec) -> Sidecar {
    Sidecar {
        role: "m0".into(),
        spec: spec.clone(),
        recipe: recipe(1),
        seeds: TrainSeeds::from_master(1),
        dataset_manifest_sha256: "test".into(),
        report: doppel_models::train::TrainReport { rows: 0, epochs: vec![], seconds: 0.0, samples_per_second: 0.0 },
        device: "flex".into(),
        doppel_version: "test".into(),
    }
}

#[test]
fn a_tiny_cnn_learns_the_shapes_task() {
    let (train_set, test_set) = shapes(100, 3);
    let rows: Vec<usize> = (0..train_set.len()).collect();
    let spec = spec_for(&train_set, &rows, Arch::Cnn { channels: [4, 8], hidden: 16 });
    let device = Device::flex();
    let (net, report) =
        train(&spec, &recipe(8), &train_set, &rows, TrainSeeds::from_master(7), &device, |_| {}).unwrap();
    let first = report.epochs.first().unwrap().loss;
    let last = report.epochs.last().unwrap().loss;
    assert!(last < 0.5 * first, "loss went from {first} to {last}");
    let test_rows: Vec<usize> = (0..test_set.len()).collect();
    let acc = predict(&net, &spec, &test_set, &test_rows, 64, &device).unwrap().accuracy(None);
    assert!(acc >= 0.95, "test accuracy {acc}");
}

#[test]
fn one_seed_gives_identical_weights_and_another_seed_does_not() {
    let (train_set, _) = shapes(20, 1);
    let rows: Vec<usize> = (0..train_set.len()).collect();
    let spec = spec_for(&train_set, &rows, Arch::Mlp { hidden: [16, 8] });
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let mut recipe = recipe(2);
    recipe.augment = Augment { crop_pad: 2, flip: true };
    let run = |seed: u64, name: &str| {
        let (net, _) =
            train(&spec, &recipe, &train_set, &rows, TrainSeeds::from_master(seed), &device, |_| {}).unwrap();
        weights_bytes(&net, &spec, dir.path(), name)
    };
    let a = run(11, "a");
    let b = run(11, "b");
    let c = run(12, "c");
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, other weights");
}

#[test]
fn save_then_load_gives_identical_logits_and_the_wrong_shape_is_refused() {
    let (train_set, test_set) = shapes(10, 2);
    let rows: Vec<usize> = (0..train_set.len()).collect();
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for arch in
        [Arch::Mlp { hidden: [16, 8] }, Arch::Cnn { channels: [4, 8], hidden: 16 }, Arch::ResNet { widths: [4, 8, 8] }]
    {
        let spec = spec_for(&train_set, &rows, arch.clone());
        let (net, _) =
            train(&spec, &recipe(1), &train_set, &rows, TrainSeeds::from_master(5), &device, |_| {}).unwrap();
        let path = dir.path().join(format!("{}.safetensors", arch.name()));
        checkpoint::save(&net, &path, &sidecar(&spec)).unwrap();
        let loaded = checkpoint::load(&path, &spec, &device).unwrap();
        let test_rows: Vec<usize> = (0..test_set.len()).collect();
        let before = predict(&net, &spec, &test_set, &test_rows, 32, &device).unwrap();
        let after = predict(&loaded, &spec, &test_set, &test_rows, 32, &device).unwrap();
        assert_eq!(before.logits, after.logits, "{}", arch.name());
        // Another shape: through the sidecar check, and through the weights themselves.
        let mut other = spec.clone();
        other.arch = match arch {
            Arch::Mlp { .. } => Arch::Mlp { hidden: [16, 9] },
            Arch::Cnn { .. } => Arch::Cnn { channels: [4, 9], hidden: 16 },
            Arch::ResNet { .. } => Arch::ResNet { widths: [4, 8, 9] },
        };
        let err = checkpoint::load(&path, &other, &device).unwrap_err().to_string();
        assert!(err.contains("was saved for a"), "{err}");
        let err = checkpoint::load_weights(&path, &other, &device).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}

/// Reads the gradient of every float parameter, in visiting order.
struct GradReader<'a> {
    grads: &'a GradientsParams,
    out: Vec<(ParamId, Vec<f32>)>,
}

impl ModuleVisitor for GradReader<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let g = self.grads.get::<D>(param.id).expect("every parameter has a gradient");
        self.out.push((param.id, g.into_data().try_to_vec().unwrap()));
    }
}

/// Adds `delta` to element `index` of parameter `id`.
struct Nudge {
    id: ParamId,
    index: usize,
    delta: f32,
}

impl ModuleMapper for Nudge {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if param.id != self.id {
            return param;
        }
        let (index, delta) = (self.index, self.delta);
        param.map(|t| {
            let mut bump = vec![0f32; t.shape().num_elements()];
            bump[index] = delta;
            let bump = Tensor::<D>::from_data(TensorData::new(bump, t.shape()), &t.device());
            t + bump
        })
    }
}

#[test]
fn mlp_gradients_match_central_differences() {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    ad.seed(3);
    let shape = ImageShape::grey(3, 3);
    let spec =
        ModelSpec { arch: Arch::Mlp { hidden: [5, 4] }, input: shape, classes: 3, mean: vec![0.5], std: vec![0.3] };
    let net = spec.init(&ad);
    let pixels: Vec<u8> = (0..4 * 9).map(|i| ((i * 37) % 256) as u8).collect();
    let labels = [0i64, 2, 1, 2];
    let loss_of = |net: &Net, dev: &Device| {
        let x = spec.input_tensor(&pixels, 4, dev);
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [4]), dev);
        CrossEntropyLossConfig::new().init(dev).forward(net.forward(x), y)
    };
    let grads = GradientsParams::from_grads(loss_of(&net, &ad).backward(), &net);
    let mut reader = GradReader { grads: &grads, out: Vec::new() };
    net.visit(&mut reader);
    assert_eq!(reader.out.len(), 6, "3 weights + 3 biases");
    let eps = 1e-2f32;
    let mut checked = 0;
    for (id, g) in &reader.out {
        for index in [0, g.len() / 2, g.len() - 1] {
            let plus = net.clone().map(&mut Nudge { id: *id, index, delta: eps }).valid();
            let minus = net.clone().map(&mut Nudge { id: *id, index, delta: -eps }).valid();
            let lp: f32 = loss_of(&plus, &device).into_scalar();
            let lm: f32 = loss_of(&minus, &device).into_scalar();
            let fd = (lp - lm) / (2.0 * eps);
            assert!(
                (fd - g[index]).abs() < 2e-3 + 1e-2 * fd.abs(),
                "param {id:?}[{index}]: autodiff {} vs fd {fd}",
                g[index]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}

#[test]
fn retrain_clean_never_sees_a_target_or_variant() {
    let text = r#"
name = "oracle"
seed = 4
[source]
dataset = "synthetic"
train_per_class = 15
test_per_class = 2
[source.synthetic]
classes = 3
side = 8
[targets]
count = 4
[[variants]]
kind = "occlusion"
per_target = 3
grid = 2
ratio = 0.5
"#;
    let cfg = BuildConfig::from_toml(text, "oracle.toml").unwrap();
    let built = doppel_data::build_dataset(&cfg, "oracle.toml", std::path::Path::new("unused")).unwrap();
    let samples = &built.train.samples;
    let device = Device::flex();
    for role in Role::ALL {
        let rows = role.rows(samples);
        let spec = spec_for(&built.train.data, &rows, Arch::Mlp { hidden: [8, 4] });
        let seen = RefCell::new(BTreeSet::new());
        train(&spec, &recipe(2), &built.train.data, &rows, TrainSeeds::from_master(1), &device, |batch| {
            seen.borrow_mut().extend(batch.iter().copied());
        })
        .unwrap();
        let seen = seen.into_inner();
        assert_eq!(seen, rows.iter().copied().collect::<BTreeSet<_>>(), "{} trains on exactly its rows", role.name());
        let origins: BTreeSet<&str> = seen.iter().map(|&r| samples[r].origin.name()).collect();
        let expected: BTreeSet<&str> = match role {
            Role::M0 => ["base", "target", "variant"].into(),
            Role::RetrainExact => ["base", "variant"].into(),
            Role::RetrainClean => ["base"].into(),
        };
        assert_eq!(origins, expected, "{}", role.name());
    }
    assert_eq!(Role::RetrainClean.rows(samples).len(), 45 - 4);
}

#[test]
fn a_diverging_run_stops_with_a_clear_error() {
    let (train_set, _) = shapes(20, 4);
    let rows: Vec<usize> = (0..train_set.len()).collect();
    let spec = spec_for(&train_set, &rows, Arch::Mlp { hidden: [16, 8] });
    let mut recipe = recipe(3);
    recipe.optimizer = OptimizerSpec::Sgd { lr: 1e12, momentum: 0.9, weight_decay: 0.0 };
    let err =
        train(&spec, &recipe, &train_set, &rows, TrainSeeds::from_master(1), &Device::flex(), |_| {}).unwrap_err();
    assert!(matches!(err, doppel_models::ModelError::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("lower the learning rate"), "{err}");
}

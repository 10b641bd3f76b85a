//! Each method's defining claim, checked on a tiny MLP trained in-process on synthetic shapes with planted
//! look-alikes. Run under nextest: burn's flex seed is process-global, so seeded tests need their own process.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::cell::RefCell;
use std::collections::BTreeSet;

use burn::prelude::*;
use doppel_data::BuildConfig;
use doppel_data::lineage::{SampleInfo, forget_rows, similar_rows};
use doppel_data::{Built, Dataset};
use doppel_models::infer::predict;
use doppel_models::train::{Augment, OptimizerSpec, Recipe, Schedule, TrainSeeds, channel_stats, train};
use doppel_models::{Arch, ModelSpec, Net};
use doppel_unlearn::methods::{
    Ft, FtConfig, Ga, GaConfig, NegGradPlus, NegGradPlusConfig, Retrain, RetrainConfig, Rl, RlConfig, SalUn,
    SalUnConfig, Ssd, SsdConfig, importances, saliency_masks,
};
use doppel_unlearn::{Original, RunContext, Scope, Status, Unlearned, Unlearner, View, params};

const DATASET: &str = r#"
name = "props"
seed = 5
[source]
dataset = "synthetic"
train_per_class = 30
test_per_class = 5
[source.synthetic]
classes = 3
side = 8
[targets]
count = 4
[[variants]]
kind = "occlusion"
per_target = 3
grid = 2
ratio = 0.25
"#;

/// The dataset, M0 and what made it.
struct Fixture {
    built: Built,
    net: Net,
    spec: ModelSpec,
    recipe: Recipe,
    seeds: TrainSeeds,
}

impl Fixture {
    fn new() -> Self {
        let cfg = BuildConfig::from_toml(DATASET, "props.toml").unwrap();
        let built = doppel_data::build_dataset(&cfg, "props.toml", std::path::Path::new("unused")).unwrap();
        let rows: Vec<usize> = (0..built.train.data.len()).collect();
        let (mean, std) = channel_stats(&built.train.data, &rows);
        let spec =
            ModelSpec { arch: Arch::Mlp { hidden: [16, 8] }, input: built.train.data.shape(), classes: 3, mean, std };
        let recipe = Recipe {
            epochs: 3,
            batch_size: 16,
            optimizer: OptimizerSpec::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 5e-4 },
            schedule: Schedule::Cosine,
            augment: Augment::default(),
        };
        let seeds = TrainSeeds::from_master(3);
        let (net, _) = train(&spec, &recipe, &built.train.data, &rows, seeds, &Device::flex(), |_| {}).unwrap();
        Fixture { built, net, spec, recipe, seeds }
    }

    fn data(&self) -> &Dataset {
        &self.built.train.data
    }

    fn samples(&self) -> &[SampleInfo] {
        &self.built.train.samples
    }

    fn original(&self) -> Original<'_> {
        Original { net: &self.net, spec: &self.spec, recipe: &self.recipe, seeds: self.seeds }
    }

    fn view(&self) -> View<'_> {
        View { data: self.data(), samples: self.samples() }
    }

    fn run(&self, method: &dyn Unlearner, scope: &Scope, seed: u64) -> Unlearned {
        self.run_seen(method, scope, seed).0
    }

    /// Runs `method` and returns the result and every row it touched.
    fn run_seen(&self, method: &dyn Unlearner, scope: &Scope, seed: u64) -> (Unlearned, BTreeSet<usize>) {
        let ctx = RunContext { device: Device::flex(), seed };
        let seen = RefCell::new(BTreeSet::new());
        let out = method
            .unlearn(&self.original(), &self.view(), scope, &ctx, &mut |b| seen.borrow_mut().extend(b.iter().copied()))
            .unwrap();
        (out, seen.into_inner())
    }

    /// Mean f64 cross-entropy of `net` on the forget set.
    fn forget_loss(&self, net: &Net, spec: &ModelSpec) -> f64 {
        let f = forget_rows(self.samples());
        let p = predict(net, spec, self.data(), &f, 64, &Device::flex()).unwrap();
        p.loss.iter().sum::<f64>() / p.len() as f64
    }
}

fn bits(values: &[Vec<f32>]) -> Vec<Vec<u32>> {
    values.iter().map(|p| p.iter().map(|v| v.to_bits()).collect()).collect()
}

#[test]
fn salun_leaves_masked_out_weights_bit_identical_with_momentum_and_weight_decay() {
    let fx = Fixture::new();
    let cfg = SalUnConfig { epochs: 2, lr: 0.05, momentum: 0.9, weight_decay: 5e-4, batch_size: 16, ratio: 0.5 };
    let forget = Scope::Lineage.resolve(fx.samples()).unwrap();
    let masks = saliency_masks(&fx.original(), &fx.view(), &forget, 16, 0.5, &Device::flex(), &mut |_| {}).unwrap();
    let n: usize = masks.iter().map(Vec::len).sum();
    assert_eq!(masks.iter().flatten().filter(|&&m| m).count(), n / 2, "the mask holds its sparsity");

    let out = fx.run(&SalUn::new(cfg).unwrap(), &Scope::Lineage, 11);
    assert_eq!(out.report.status, Status::Completed);
    assert!(out.report.steps > 0);
    let before = params::values(&fx.net).unwrap();
    let after = params::values(&out.net).unwrap();
    let (mut frozen, mut moved) = (0, 0);
    for ((b, a), m) in before.iter().zip(&after).zip(&masks) {
        for ((x, y), &m) in b.iter().zip(a).zip(m) {
            if m {
                moved += usize::from(x.to_bits() != y.to_bits());
            } else {
                assert_eq!(x.to_bits(), y.to_bits(), "a masked-out weight moved: {x} -> {y}");
                frozen += 1;
            }
        }
    }
    assert_eq!(frozen, n - n / 2);
    assert!(moved > n / 4, "masked-in weights train ({moved} of {} moved)", n / 2);
}

#[test]
fn ft_and_retrain_never_see_a_forget_scope_sample() {
    let fx = Fixture::new();
    let all: BTreeSet<usize> = (0..fx.data().len()).collect();
    let mined = Scope::Mined(similar_rows(fx.samples()).into_iter().step_by(2).collect());
    for scope in [Scope::Exact, Scope::Lineage, mined] {
        let forget: BTreeSet<usize> = scope.resolve(fx.samples()).unwrap().into_iter().collect();
        let retain: BTreeSet<usize> = all.difference(&forget).copied().collect();
        let ft = Ft::new(FtConfig { epochs: 1, batch_size: 16, ..FtConfig::default() }).unwrap();
        for method in [&ft as &dyn Unlearner, &Retrain::new(RetrainConfig {}).unwrap()] {
            let (out, seen) = fx.run_seen(method, &scope, 1);
            assert_eq!(seen, retain, "{} under {} trains on exactly the retain side", method.name(), scope.name());
            assert_eq!(out.report.scope_size, forget.len());
            assert_eq!(out.report.retain_size, retain.len());
        }
    }
}

#[test]
fn ga_raises_the_forget_loss_at_every_one_of_its_first_steps() {
    let fx = Fixture::new();
    // Four targets and a batch of 16: each epoch is one step on the same fixed batch.
    let mut losses = vec![fx.forget_loss(&fx.net, &fx.spec)];
    for steps in 1..=5 {
        let ga = Ga::new(GaConfig { epochs: steps, lr: 0.01, batch_size: 16, ..GaConfig::default() }).unwrap();
        let out = fx.run(&ga, &Scope::Exact, 2);
        assert_eq!(out.report.steps, steps);
        losses.push(fx.forget_loss(&out.net, &out.spec));
    }
    assert!(losses.windows(2).all(|w| w[1] > w[0]), "forget loss over GA steps: {losses:?}");
}

#[test]
fn ssd_changes_exactly_the_weights_whose_forget_importance_exceeds_alpha_times_the_global_one() {
    let fx = Fixture::new();
    let cfg = SsdConfig { alpha: 2.0, lambda: 1.0, batch_size: 16 };
    let forget = Scope::Exact.resolve(fx.samples()).unwrap();
    let imp = importances(&fx.original(), &fx.view(), &forget, 16, &Device::flex(), &mut |_| {}).unwrap();
    let out = fx.run(&Ssd::new(cfg.clone()).unwrap(), &Scope::Exact, 0);
    assert_eq!(out.report.steps, 0);
    let before = params::values(&fx.net).unwrap();
    let after = params::values(&out.net).unwrap();
    let (mut selected, mut changed) = (0, 0);
    for (p, (b, a)) in before.iter().zip(&after).enumerate() {
        for (i, (x, y)) in b.iter().zip(a).enumerate() {
            let (d, f) = (imp.data[p][i], imp.forget[p][i]);
            if x.to_bits() != y.to_bits() {
                changed += 1;
                assert!(f > cfg.alpha * d, "param {p}[{i}] changed with I_f {f} <= α·I_D {}", cfg.alpha * d);
            }
            if f > cfg.alpha * d {
                selected += 1;
                let expected = (f64::from(*x) * (cfg.lambda * d / f).min(1.0)) as f32;
                assert_eq!(y.to_bits(), expected.to_bits(), "param {p}[{i}] is dampened by min(λ·I_D/I_f, 1)");
            }
        }
    }
    assert!(changed > 0 && selected >= changed, "selected {selected}, changed {changed}");
}

#[test]
fn neggrad_plus_with_alpha_one_is_ft() {
    let fx = Fixture::new();
    let ft = Ft::new(FtConfig { epochs: 2, lr: 0.02, momentum: 0.9, weight_decay: 5e-4, batch_size: 16 }).unwrap();
    let ng = NegGradPlus::new(NegGradPlusConfig {
        alpha: 1.0,
        epochs: 2,
        lr: 0.02,
        momentum: 0.9,
        weight_decay: 5e-4,
        batch_size: 16,
    })
    .unwrap();
    let a = fx.run(&ft, &Scope::Lineage, 9);
    let b = fx.run(&ng, &Scope::Lineage, 9);
    assert_eq!(a.report.steps, b.report.steps);
    let (wa, wb) = (params::values(&a.net).unwrap(), params::values(&b.net).unwrap());
    assert_eq!(bits(&wa), bits(&wb));
    assert_ne!(bits(&wa), bits(&params::values(&fx.net).unwrap()), "FT moved the weights");
    // With α < 1 the forget side pulls the other way.
    let ng =
        NegGradPlus::new(NegGradPlusConfig { alpha: 0.9, epochs: 2, lr: 0.02, batch_size: 16, ..Default::default() });
    let c = fx.run(&ng.unwrap(), &Scope::Lineage, 9);
    assert_ne!(bits(&wa), bits(&params::values(&c.net).unwrap()));
}

#[test]
fn one_seed_gives_identical_weights_and_another_does_not() {
    let fx = Fixture::new();
    let salun = SalUn::new(SalUnConfig { epochs: 1, batch_size: 16, ..SalUnConfig::default() }).unwrap();
    let rl = Rl::new(RlConfig { epochs: 1, batch_size: 16, ..RlConfig::default() }).unwrap();
    for method in [&salun as &dyn Unlearner, &rl] {
        let a = params::values(&fx.run(method, &Scope::Exact, 4).net).unwrap();
        let b = params::values(&fx.run(method, &Scope::Exact, 4).net).unwrap();
        let c = params::values(&fx.run(method, &Scope::Exact, 5).net).unwrap();
        assert_eq!(bits(&a), bits(&b), "{}: same seed, same weights", method.name());
        assert_ne!(bits(&a), bits(&c), "{}: another seed, another order", method.name());
    }
}

#[test]
fn a_diverging_method_stops_reports_the_step_and_returns_finite_weights() {
    let fx = Fixture::new();
    let ga = Ga::new(GaConfig { epochs: 200, lr: 1e6, momentum: 0.9, weight_decay: 0.0, batch_size: 16 }).unwrap();
    let out = fx.run(&ga, &Scope::Exact, 0);
    match out.report.status {
        Status::Diverged { step, .. } => assert!((1..=200).contains(&step), "step {step}"),
        Status::Completed => panic!("GA at lr 1e6 should diverge"),
    }
    assert!(params::all_finite(&out.net).unwrap());
    let json = serde_json::to_string(&out.report).unwrap();
    assert!(json.contains(r#""status":"diverged""#), "{json}");
}

#[test]
fn a_scope_past_the_data_is_an_error_value() {
    let fx = Fixture::new();
    let ctx = RunContext { device: Device::flex(), seed: 0 };
    let ft = Ft::new(FtConfig::default()).unwrap();
    let err = ft.unlearn(&fx.original(), &fx.view(), &Scope::Mined(vec![10_000]), &ctx, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("row 10000 is past the training split"), "{err}");
}

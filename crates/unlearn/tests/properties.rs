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
    BadTeacher, BadTeacherConfig, BoundaryExpanding, BoundaryExpandingConfig, BoundaryShrink, BoundaryShrinkConfig, Ft,
    FtConfig, Ga, GaConfig, NegGradPlus, NegGradPlusConfig, Retrain, RetrainConfig, Rl, RlConfig, SalUn, SalUnConfig,
    Scrub, ScrubConfig, Ssd, SsdConfig, adversarial_labels, expand_into_shadow_class, fgsm_inputs, importances,
    incompetent_teacher, saliency_masks, shadow_row,
};
use doppel_unlearn::{Budget, Original, RunContext, Scope, Status, Unlearned, Unlearner, View, params};

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

    /// Raw logits `[rows, K]` of `net` (plain device), row-major, whatever its number of classes.
    fn logits(&self, net: &Net, rows: &[usize]) -> Vec<f32> {
        let mut pixels = Vec::new();
        for &r in rows {
            pixels.extend_from_slice(self.data().image(r));
        }
        let x = self.spec.input_tensor(&pixels, rows.len(), &Device::flex());
        net.forward(x).into_data().try_to_vec::<f32>().unwrap()
    }

    /// Mean f64 cross-entropy of `net` on the forget set.
    fn forget_loss(&self, net: &Net, spec: &ModelSpec) -> f64 {
        let f = forget_rows(self.samples());
        let p = predict(net, spec, self.data(), &f, 64, &Device::flex()).unwrap();
        p.loss.iter().sum::<f64>() / p.len() as f64
    }
}

/// Mean over rows of `KL(softmax(t) ‖ softmax(s))`, in f64, from row-major logits with `k` classes.
fn mean_kl(teacher: &[f32], student: &[f32], k: usize) -> f64 {
    let log_softmax = |row: &[f32]| {
        let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let z = row.iter().map(|&v| (f64::from(v) - m).exp()).sum::<f64>().ln() + m;
        row.iter().map(|&v| f64::from(v) - z).collect::<Vec<f64>>()
    };
    let rows = teacher.len() / k;
    let total: f64 = teacher
        .chunks(k)
        .zip(student.chunks(k))
        .map(|(t, s)| {
            let (lt, ls) = (log_softmax(t), log_softmax(s));
            lt.iter().zip(&ls).map(|(a, b)| a.exp() * (a - b)).sum::<f64>()
        })
        .sum();
    total / rows as f64
}

/// Mean f64 cross-entropy of row-major logits against `labels`.
fn mean_ce(logits: &[f32], labels: &[u32], k: usize) -> f64 {
    logits
        .chunks(k)
        .zip(labels)
        .map(|(row, &y)| {
            let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
            let z = row.iter().map(|&v| (f64::from(v) - m).exp()).sum::<f64>().ln() + m;
            z - f64::from(row[y as usize])
        })
        .sum::<f64>()
        / labels.len() as f64
}

fn bits(values: &[Vec<f32>]) -> Vec<Vec<u32>> {
    values.iter().map(|p| p.iter().map(|v| v.to_bits()).collect()).collect()
}

#[test]
fn salun_leaves_masked_out_weights_bit_identical_with_momentum_and_weight_decay() {
    let fx = Fixture::new();
    let cfg = SalUnConfig { rounds: 2, forget: Budget::Epochs(1), lr: 0.05, batch_size: 16, ..Default::default() };
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
        let ft = Ft::new(FtConfig { retain: Budget::Epochs(1), batch_size: 16, ..FtConfig::default() }).unwrap();
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
    // Four targets and a batch of 16: each step is on the same fixed batch.
    let mut losses = vec![fx.forget_loss(&fx.net, &fx.spec)];
    for steps in 1..=5 {
        let cfg = GaConfig { forget: Budget::Steps(steps), lr: 0.01, batch_size: 16, ..GaConfig::default() };
        let ga = Ga::new(cfg).unwrap();
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

/// Small budgets for the RL family on the fixture: one round of one pass over each side.
fn small_rl() -> RlConfig {
    RlConfig { rounds: 1, forget: Budget::Epochs(1), retain: Budget::Epochs(1), ..RlConfig::default() }
}

fn small_salun() -> SalUnConfig {
    SalUnConfig { rounds: 1, forget: Budget::Epochs(1), retain: Budget::Epochs(1), ..SalUnConfig::default() }
}

#[test]
fn neggrad_plus_with_alpha_one_and_no_pull_is_ft_without_weight_decay() {
    let fx = Fixture::new();
    let ft = FtConfig { retain: Budget::Epochs(2), lr: 0.02, momentum: 0.9, weight_decay: 0.0, batch_size: 16 };
    let ft = Ft::new(ft).unwrap();
    let plain = NegGradPlusConfig {
        alpha: 1.0,
        retain: Budget::Epochs(2),
        lr: 0.02,
        momentum: 0.9,
        weight_decay: 0.0,
        retain_batch_size: 16,
        forget_batch_size: 16,
    };
    let a = fx.run(&ft, &Scope::Lineage, 9);
    let b = fx.run(&NegGradPlus::new(plain.clone()).unwrap(), &Scope::Lineage, 9);
    assert_eq!(a.report.steps, b.report.steps);
    let (wa, wb) = (params::values(&a.net).unwrap(), params::values(&b.net).unwrap());
    assert_eq!(bits(&wa), bits(&wb));
    assert_ne!(bits(&wa), bits(&params::values(&fx.net).unwrap()), "FT moved the weights");
    // With α < 1 the forget side pulls the other way.
    let c = fx.run(&NegGradPlus::new(NegGradPlusConfig { alpha: 0.9, ..plain }).unwrap(), &Scope::Lineage, 9);
    assert_ne!(bits(&wa), bits(&params::values(&c.net).unwrap()));
}

/// NegGrad+ against its definition, from gradients read off one-step runs of FT and GA (plain SGD, batches that
/// hold a whole side, so every step sees the same rows): from θ, one FT step of size η lands on θ − η·g_R(θ) and
/// one GA step on θ + η·g_F(θ). A NegGrad+ step from θ must then land on
/// `θ − η·[α·(g_R(θ) + wd·(θ − θ₀)) − (1 − α)·g_F(θ)]`, with no momentum and no weight decay of its own. Two
/// steps are checked, so the pull to θ₀ (zero at the first step) is in the second.
#[test]
fn neggrad_plus_steps_match_a_hand_computed_update_with_the_pull_and_no_momentum() {
    let fx = Fixture::new();
    let (eta, alpha, wd, whole) = (0.05, 0.8, 2.0, 10_000);
    let ft =
        Ft::new(FtConfig { retain: Budget::Steps(1), lr: eta, momentum: 0.0, weight_decay: 0.0, batch_size: whole });
    let ga =
        Ga::new(GaConfig { forget: Budget::Steps(1), lr: eta, momentum: 0.0, weight_decay: 0.0, batch_size: whole });
    let (ft, ga) = (ft.unwrap(), ga.unwrap());
    let ng = |steps| {
        let cfg = NegGradPlusConfig {
            alpha,
            retain: Budget::Steps(steps),
            lr: eta,
            momentum: 0.9, // overridden below: the reference has none
            weight_decay: wd,
            retain_batch_size: whole,
            forget_batch_size: whole,
        };
        NegGradPlus::new(NegGradPlusConfig { momentum: 0.0, ..cfg }).unwrap()
    };
    let theta0 = params::values(&fx.net).unwrap();
    // One step of `method` from the weights `from`.
    let step_from = |method: &dyn Unlearner, from: &Net| -> Vec<Vec<f32>> {
        let original = Original { net: from, spec: &fx.spec, recipe: &fx.recipe, seeds: fx.seeds };
        let ctx = RunContext { device: Device::flex(), seed: 1 };
        params::values(&method.unlearn(&original, &fx.view(), &Scope::Lineage, &ctx, &mut |_| {}).unwrap().net).unwrap()
    };
    let expected = |theta: &[Vec<f32>], from: &Net, with_pull: bool| -> Vec<Vec<f32>> {
        let (after_ft, after_ga) = (step_from(&ft, from), step_from(&ga, from));
        let mut out = theta.to_vec();
        for (p, t) in out.iter_mut().enumerate() {
            for (i, v) in t.iter_mut().enumerate() {
                let th = f64::from(theta[p][i]);
                let g_r = (th - f64::from(after_ft[p][i])) / eta;
                let g_f = (f64::from(after_ga[p][i]) - th) / eta;
                let pull = if with_pull { wd * (th - f64::from(theta0[p][i])) } else { 0.0 };
                *v = (th - eta * (alpha * (g_r + pull) - (1.0 - alpha) * g_f)) as f32;
            }
        }
        out
    };
    let worst = |a: &[Vec<f32>], b: &[Vec<f32>]| -> f32 {
        a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    };
    let one = fx.run(&ng(1), &Scope::Lineage, 1);
    let theta1 = params::values(&one.net).unwrap();
    let e1 = worst(&theta1, &expected(&theta0, &fx.net, false));
    assert!(e1 < 1e-5, "step 1 off by {e1}");
    let two = params::values(&fx.run(&ng(2), &Scope::Lineage, 1).net).unwrap();
    let (e2, without_pull) =
        (worst(&two, &expected(&theta1, &one.net, true)), worst(&two, &expected(&theta1, &one.net, false)));
    assert!(e2 < 1e-5, "step 2 off by {e2}");
    assert!(without_pull > 100.0 * e2.max(1e-7), "the pull is visible in step 2: {without_pull} without it");
}

/// Every method's step count, forget side included, is the same under scopes exact, mined and lineage when
/// its budgets are in steps — and would not be in epochs, where the forget side's size sets it.
#[test]
fn budgets_in_steps_give_every_method_the_same_steps_under_every_scope() {
    let fx = Fixture::new();
    let mined = Scope::Mined(similar_rows(fx.samples()).into_iter().step_by(2).collect());
    let scopes = [Scope::Exact, mined, Scope::Lineage];
    let sizes: Vec<usize> = scopes.iter().map(|s| s.resolve(fx.samples()).unwrap().len()).collect();
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "the scopes grow: {sizes:?}");
    let (f, r) = (Budget::Steps(7), Budget::Steps(3));
    let methods: Vec<(Box<dyn Unlearner>, usize)> = vec![
        (Box::new(Ga::new(GaConfig { forget: f, batch_size: 4, ..Default::default() }).unwrap()), 7),
        (
            Box::new(
                NegGradPlus::new(NegGradPlusConfig { retain: f, forget_batch_size: 4, ..Default::default() }).unwrap(),
            ),
            7,
        ),
        (
            Box::new(
                Rl::new(RlConfig { rounds: 2, forget: f, retain: r, batch_size: 4, ..Default::default() }).unwrap(),
            ),
            20,
        ),
        (
            Box::new(
                SalUn::new(SalUnConfig { rounds: 2, forget: f, retain: r, batch_size: 4, ..Default::default() })
                    .unwrap(),
            ),
            20,
        ),
        (
            Box::new(
                Scrub::new(ScrubConfig {
                    rounds: 3,
                    msteps: 2,
                    forget: f,
                    retain: r,
                    forget_batch_size: 4,
                    ..Default::default()
                })
                .unwrap(),
            ),
            23,
        ),
        (
            Box::new(
                BoundaryShrink::new(BoundaryShrinkConfig { forget: f, batch_size: 4, ..Default::default() }).unwrap(),
            ),
            7,
        ),
        (
            Box::new(
                BoundaryExpanding::new(BoundaryExpandingConfig { forget: f, batch_size: 4, ..Default::default() })
                    .unwrap(),
            ),
            7,
        ),
        (Box::new(BadTeacher::new(BadTeacherConfig { mixed: f, batch_size: 4, ..Default::default() }).unwrap()), 7),
    ];
    for (method, want) in &methods {
        let steps: Vec<usize> = scopes.iter().map(|s| fx.run(method.as_ref(), s, 3).report.steps).collect();
        assert_eq!(steps, vec![*want; 3], "{}: steps under exact, mined, lineage", method.name());
    }
    // The same forget work as epochs: one pass over each scope's rows in batches of 4 differs with the scope.
    let ga = Ga::new(GaConfig { forget: Budget::Epochs(1), batch_size: 4, ..Default::default() }).unwrap();
    let steps: Vec<usize> = scopes.iter().map(|s| fx.run(&ga, s, 3).report.steps).collect();
    assert_eq!(steps, sizes.iter().map(|n| n.div_ceil(4)).collect::<Vec<_>>());
    assert!(steps[0] < steps[2], "in epochs the lineage scope gets more steps: {steps:?}");
}

#[test]
fn one_seed_gives_identical_weights_and_another_does_not() {
    let fx = Fixture::new();
    let salun = SalUn::new(SalUnConfig { batch_size: 16, ..small_salun() }).unwrap();
    let rl = Rl::new(RlConfig { batch_size: 16, ..small_rl() }).unwrap();
    let scrub = ScrubConfig { rounds: 2, forget: Budget::Steps(2), batch_size: 16, lr: 0.01, ..ScrubConfig::default() };
    let scrub = Scrub::new(scrub).unwrap();
    // Four forget rows in batches of 2: the seed decides which rows share a step.
    let shrink = BoundaryShrinkConfig { forget: Budget::Steps(6), lr: 0.01, batch_size: 2, ..Default::default() };
    let shrink = BoundaryShrink::new(shrink).unwrap();
    let expand = BoundaryExpandingConfig { forget: Budget::Steps(4), lr: 0.01, batch_size: 2, ..Default::default() };
    let expand = BoundaryExpanding::new(expand);
    let bad = BadTeacherConfig { mixed: Budget::Epochs(1), batch_size: 16, lr: 1e-3, ..BadTeacherConfig::default() };
    let bad = BadTeacher::new(bad).unwrap();
    for method in [&salun as &dyn Unlearner, &rl, &scrub, &shrink, &expand.unwrap(), &bad] {
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
    let cfg = GaConfig { forget: Budget::Steps(200), lr: 1e6, momentum: 0.9, weight_decay: 0.0, batch_size: 16 };
    let ga = Ga::new(cfg).unwrap();
    let out = fx.run(&ga, &Scope::Exact, 0);
    match out.report.status {
        Status::Diverged { step, .. } => assert!((1..=200).contains(&step), "step {step}"),
        Status::Completed => panic!("GA at lr 1e6 should diverge"),
    }
    assert!(params::all_finite(&out.net).unwrap());
    let rows: Vec<usize> = (0..fx.data().len()).collect();
    let outputs = predict(&out.net, &out.spec, fx.data(), &rows, 64, &Device::flex()).unwrap();
    assert!(outputs.loss.iter().all(|l| l.is_finite()), "no NaN row can reach a table");
    let json = serde_json::to_string(&out.report).unwrap();
    assert!(json.contains(r#""status":"diverged""#), "{json}");
    // SCRUB's max-steps ascend an unbounded objective: the same guard stops them.
    let scrub = ScrubConfig { rounds: 200, msteps: 200, forget: Budget::Steps(1), lr: 1e6, ..Default::default() };
    let scrub = Scrub::new(ScrubConfig { batch_size: 16, forget_batch_size: 16, ..scrub });
    let out = fx.run(&scrub.unwrap(), &Scope::Exact, 0);
    assert!(matches!(out.report.status, Status::Diverged { .. }), "{:?}", out.report.status);
    assert!(params::all_finite(&out.net).unwrap());
}

#[test]
fn scrub_without_max_steps_kl_or_label_weight_is_ft() {
    let fx = Fixture::new();
    let ft = FtConfig { retain: Budget::Epochs(2), lr: 0.02, momentum: 0.9, weight_decay: 5e-4, batch_size: 16 };
    let ft = Ft::new(ft).unwrap();
    let plain = ScrubConfig {
        rounds: 2,
        retain: Budget::Epochs(1),
        msteps: 0,
        alpha: 0.0,
        gamma: 1.0,
        lr: 0.02,
        momentum: 0.9,
        weight_decay: 5e-4,
        batch_size: 16,
        ..ScrubConfig::default()
    };
    let a = fx.run(&ft, &Scope::Lineage, 9);
    let b = fx.run(&Scrub::new(plain.clone()).unwrap(), &Scope::Lineage, 9);
    assert_eq!(a.report.steps, b.report.steps);
    let wa = bits(&params::values(&a.net).unwrap());
    assert_eq!(wa, bits(&params::values(&b.net).unwrap()), "SCRUB with α 0, γ 1, no max-steps is FT");
    // The distillation term changes the result.
    let c = fx.run(&Scrub::new(ScrubConfig { alpha: 0.5, ..plain }).unwrap(), &Scope::Lineage, 9);
    assert_ne!(wa, bits(&params::values(&c.net).unwrap()));
}

#[test]
fn scrub_max_steps_push_the_student_away_from_the_teacher_on_the_forget_side() {
    let fx = Fixture::new();
    let forget = forget_rows(fx.samples());
    let teacher = fx.logits(&fx.net, &forget);
    let cfg = |msteps| ScrubConfig {
        rounds: 3,
        msteps,
        forget: Budget::Steps(1),
        lr: 0.05,
        batch_size: 16,
        forget_batch_size: 16,
        ..ScrubConfig::default()
    };
    let (with, seen_with) = fx.run_seen(&Scrub::new(cfg(3)).unwrap(), &Scope::Exact, 6);
    let (without, seen_without) = fx.run_seen(&Scrub::new(cfg(0)).unwrap(), &Scope::Exact, 6);
    // Four targets in one batch: every max-step phase is one step on the same fixed batch.
    assert_eq!(with.report.steps, without.report.steps + 3);
    assert!(forget.iter().all(|r| seen_with.contains(r)), "max-steps read the forget side");
    assert!(forget.iter().all(|r| !seen_without.contains(r)), "min-steps read only the retain side");
    let kl_with = mean_kl(&teacher, &fx.logits(&with.net, &forget), 3);
    let kl_without = mean_kl(&teacher, &fx.logits(&without.net, &forget), 3);
    assert!(kl_with > 2.0 * kl_without && kl_with > 1e-3, "KL on F: max-steps {kl_with}, none {kl_without}");
}

#[test]
fn boundary_shrink_labels_are_the_originals_prediction_under_fgsm() {
    let fx = Fixture::new();
    let (eps, dev) = (0.1, Device::flex());
    let forget = Scope::Lineage.resolve(fx.samples()).unwrap();
    let labels = adversarial_labels(&fx.original(), fx.data(), &forget, eps, 5, &dev).unwrap();
    let adv = fgsm_inputs(&fx.original(), fx.data(), &forget, eps, &dev).unwrap();
    // Back to the [0, 1] pixel scale: every pixel moved by at most ε (exactly ε unless clipped or flat).
    let [n, c, h, w] = adv.dims();
    let adv_host = adv.clone().into_data().try_to_vec::<f32>().unwrap();
    let mut moved = 0;
    for (i, &v) in adv_host.iter().enumerate() {
        let ch = (i / (h * w)) % c;
        let x01 = v * fx.spec.std[ch] + fx.spec.mean[ch];
        let clean = f32::from(fx.data().image(forget[i / (c * h * w)])[i % (c * h * w)]) / 255.0;
        assert!((x01 - clean).abs() <= eps as f32 + 1e-5, "pixel {i}: {clean} -> {x01}");
        moved += usize::from(((x01 - clean).abs() - eps as f32).abs() < 1e-4);
    }
    assert!(moved > adv_host.len() / 2, "{moved} of {} pixels moved by ε", adv_host.len());
    let adv_logits = fx.net.forward(adv).into_data().try_to_vec::<f32>().unwrap();
    let y: Vec<u32> = forget.iter().map(|&r| fx.data().labels()[r]).collect();
    let clean_ce = mean_ce(&fx.logits(&fx.net, &forget), &y, 3);
    let adv_ce = mean_ce(&adv_logits, &y, 3);
    assert!(adv_ce > clean_ce, "FGSM raises the original's loss: {clean_ce} -> {adv_ce}");
    assert_eq!(labels.len(), n);
    let mut flipped = 0;
    for ((row, &label), &truth) in adv_logits.chunks(3).zip(&labels).zip(&y) {
        let mut order: Vec<usize> = (0..3).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        assert_eq!(label, order[0] as u32, "the original's prediction on the FGSM input, as the reference takes it");
        flipped += usize::from(label != truth);
    }
    eprintln!("{flipped} of {n} forget rows flipped by FGSM");

    // Fine-tuning moves the forget rows towards those labels, and touches nothing else.
    let cfg = BoundaryShrinkConfig { forget: Budget::Steps(5), lr: 0.01, batch_size: 16, ..Default::default() };
    let (out, seen) = fx.run_seen(&BoundaryShrink::new(cfg).unwrap(), &Scope::Lineage, 2);
    assert_eq!(seen, forget.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!((out.report.steps, out.report.status.clone()), (5, Status::Completed));
    let before = mean_ce(&fx.logits(&fx.net, &forget), &labels, 3);
    let after = mean_ce(&fx.logits(&out.net, &forget), &labels, 3);
    assert!(after < before, "CE to the adversarial labels: {before} -> {after}");
}

#[test]
fn boundary_expanding_trains_into_the_shadow_class_and_returns_the_original_shape() {
    let fx = Fixture::new();
    let forget = Scope::Lineage.resolve(fx.samples()).unwrap();
    let cfg = BoundaryExpandingConfig { forget: Budget::Steps(5), lr: 0.01, batch_size: 16, ..Default::default() };
    let ctx = RunContext { device: Device::flex(), seed: 3 };
    let (wide, steps, status) =
        expand_into_shadow_class(&fx.original(), &fx.view(), &forget, &cfg, &ctx, &mut |_| {}).unwrap();
    assert_eq!((steps, status), (5, Status::Completed));
    // The untrained widened model: the original's head plus the shadow row drawn for seed 3 (8 features).
    let (row, bias) = shadow_row(8, 3);
    assert_eq!(shadow_row(8, 3), (row.clone(), bias), "the shadow row is a function of the seed");
    let start = fx.net.with_extra_class(&row, bias).unwrap();
    let shadow_log_p = |logits: &[f32]| mean_ce(logits, &vec![3; forget.len()], 4);
    let (before, after) = (shadow_log_p(&fx.logits(&start, &forget)), shadow_log_p(&fx.logits(&wide, &forget)));
    assert!(after < before, "CE of F to the shadow class: {before} -> {after}");

    let (out, seen) = fx.run_seen(&BoundaryExpanding::new(cfg).unwrap(), &Scope::Lineage, 3);
    assert_eq!(seen, forget.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!(out.report.steps, 5);
    // The result has the original's 3 classes, and its logits are the trained widened model's, shadow dropped.
    let all: Vec<usize> = (0..fx.data().len()).collect();
    let narrow = fx.logits(&out.net, &all);
    let wide_all = fx.logits(&wide, &all);
    assert_eq!(narrow.len(), all.len() * 3);
    for (n, w) in narrow.chunks(3).zip(wide_all.chunks(4)) {
        for (a, b) in n.iter().zip(&w[..3]) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }
    assert_ne!(bits(&params::values(&out.net).unwrap()), bits(&params::values(&fx.net).unwrap()));
}

#[test]
fn bad_teacher_pulls_the_forget_side_towards_a_seeded_incompetent_teacher() {
    let fx = Fixture::new();
    let dev = Device::flex();
    let t7 = bits(&params::values(&incompetent_teacher(&fx.spec, 7, &dev)).unwrap());
    assert_eq!(t7, bits(&params::values(&incompetent_teacher(&fx.spec, 7, &dev)).unwrap()));
    assert_ne!(t7, bits(&params::values(&incompetent_teacher(&fx.spec, 8, &dev)).unwrap()));

    let forget = forget_rows(fx.samples());
    let bad = fx.logits(&incompetent_teacher(&fx.spec, 7, &dev), &forget);
    let cfg = BadTeacherConfig {
        mixed: Budget::Steps(5),
        lr: 1e-3,
        retain_fraction: 0.0,
        batch_size: 16,
        ..Default::default()
    };
    let (out, seen) = fx.run_seen(&BadTeacher::new(cfg.clone()).unwrap(), &Scope::Exact, 7);
    assert_eq!(seen, forget.iter().copied().collect::<BTreeSet<_>>(), "retain fraction 0: forget rows only");
    assert_eq!(out.report.steps, 5);
    let before = mean_kl(&bad, &fx.logits(&fx.net, &forget), 3);
    let after = mean_kl(&bad, &fx.logits(&out.net, &forget), 3);
    assert!(after < before, "KL(incompetent ‖ student) on F: {before} -> {after}");

    // With a retain fraction, that share of the retain side joins the pass.
    let cfg = BadTeacherConfig { retain_fraction: 0.3, mixed: Budget::Epochs(1), ..cfg };
    let (_, seen) = fx.run_seen(&BadTeacher::new(cfg).unwrap(), &Scope::Exact, 7);
    let retain = fx.data().len() - forget.len();
    assert!(forget.iter().all(|r| seen.contains(r)));
    assert_eq!(seen.len(), forget.len() + (retain as f64 * 0.3).round() as usize);
}

#[test]
fn a_scope_past_the_data_is_an_error_value() {
    let fx = Fixture::new();
    let ctx = RunContext { device: Device::flex(), seed: 0 };
    let ft = Ft::new(FtConfig::default()).unwrap();
    let err = ft.unlearn(&fx.original(), &fx.view(), &Scope::Mined(vec![10_000]), &ctx, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("row 10000 is past the training split"), "{err}");
}

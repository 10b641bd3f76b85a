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
    Scrub, ScrubConfig, Ssd, SsdConfig, expand_into_shadow_class, fgsm_inputs, importances, incompetent_teacher,
    nearest_wrong_labels, saliency_masks, shadow_row,
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
    let scrub = Scrub::new(ScrubConfig { epochs: 2, batch_size: 16, lr: 0.01, ..ScrubConfig::default() }).unwrap();
    // Four forget rows in batches of 2: the seed decides which rows share a step.
    let shrink =
        BoundaryShrink::new(BoundaryShrinkConfig { epochs: 3, lr: 0.01, batch_size: 2, ..Default::default() }).unwrap();
    let expand =
        BoundaryExpanding::new(BoundaryExpandingConfig { epochs: 2, lr: 0.01, batch_size: 2, ..Default::default() });
    let bad = BadTeacher::new(BadTeacherConfig { batch_size: 16, lr: 1e-3, ..BadTeacherConfig::default() }).unwrap();
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
    let ga = Ga::new(GaConfig { epochs: 200, lr: 1e6, momentum: 0.9, weight_decay: 0.0, batch_size: 16 }).unwrap();
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
    let scrub = Scrub::new(ScrubConfig { epochs: 200, msteps: 200, lr: 1e6, batch_size: 16, ..Default::default() });
    let out = fx.run(&scrub.unwrap(), &Scope::Exact, 0);
    assert!(matches!(out.report.status, Status::Diverged { .. }), "{:?}", out.report.status);
    assert!(params::all_finite(&out.net).unwrap());
}

#[test]
fn scrub_without_max_steps_kl_or_label_weight_is_ft() {
    let fx = Fixture::new();
    let ft = Ft::new(FtConfig { epochs: 2, lr: 0.02, momentum: 0.9, weight_decay: 5e-4, batch_size: 16 }).unwrap();
    let plain = ScrubConfig {
        epochs: 2,
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
    let cfg = |msteps| ScrubConfig { epochs: 3, msteps, lr: 0.05, batch_size: 16, ..ScrubConfig::default() };
    let (with, seen_with) = fx.run_seen(&Scrub::new(cfg(3)).unwrap(), &Scope::Exact, 6);
    let (without, seen_without) = fx.run_seen(&Scrub::new(cfg(0)).unwrap(), &Scope::Exact, 6);
    // Four targets in one batch: every max-step pass is one step on the same fixed batch.
    assert_eq!(with.report.steps, without.report.steps + 3);
    assert!(forget.iter().all(|r| seen_with.contains(r)), "max-steps read the forget side");
    assert!(forget.iter().all(|r| !seen_without.contains(r)), "min-steps read only the retain side");
    let kl_with = mean_kl(&teacher, &fx.logits(&with.net, &forget), 3);
    let kl_without = mean_kl(&teacher, &fx.logits(&without.net, &forget), 3);
    assert!(kl_with > 2.0 * kl_without && kl_with > 1e-3, "KL on F: max-steps {kl_with}, none {kl_without}");
}

#[test]
fn boundary_shrink_labels_are_the_nearest_wrong_class_under_fgsm() {
    let fx = Fixture::new();
    let (eps, dev) = (0.1, Device::flex());
    let forget = Scope::Lineage.resolve(fx.samples()).unwrap();
    let labels = nearest_wrong_labels(&fx.original(), fx.data(), &forget, eps, 5, &dev).unwrap();
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
        assert_ne!(label, truth, "the assigned label is never the true one");
        let mut order: Vec<usize> = (0..3).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        if order[0] as u32 != truth {
            flipped += 1;
            assert_eq!(label, order[0] as u32, "the original's prediction on the FGSM input");
        } else {
            assert_eq!(label, order[1] as u32, "the second-best class when the attack fails");
        }
    }
    eprintln!("{flipped} of {n} forget rows flipped by FGSM");

    // Fine-tuning moves the forget rows towards those labels, and touches nothing else.
    let cfg = BoundaryShrinkConfig { epochs: 5, lr: 0.01, batch_size: 16, ..Default::default() };
    let (out, seen) = fx.run_seen(&BoundaryShrink::new(cfg).unwrap(), &Scope::Lineage, 2);
    assert_eq!(seen, forget.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!((out.report.steps, out.report.status.clone()), (5, Status::Completed));
    let before = mean_ce(&fx.logits(&fx.net, &forget), &labels, 3);
    let after = mean_ce(&fx.logits(&out.net, &forget), &labels, 3);
    assert!(after < before, "CE to the nearest wrong labels: {before} -> {after}");
}

#[test]
fn boundary_expanding_trains_into_the_shadow_class_and_returns_the_original_shape() {
    let fx = Fixture::new();
    let forget = Scope::Lineage.resolve(fx.samples()).unwrap();
    let cfg = BoundaryExpandingConfig { epochs: 5, lr: 0.01, batch_size: 16, ..Default::default() };
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
    let cfg = BadTeacherConfig { epochs: 5, lr: 1e-3, retain_fraction: 0.0, batch_size: 16, ..Default::default() };
    let (out, seen) = fx.run_seen(&BadTeacher::new(cfg.clone()).unwrap(), &Scope::Exact, 7);
    assert_eq!(seen, forget.iter().copied().collect::<BTreeSet<_>>(), "retain fraction 0: forget rows only");
    assert_eq!(out.report.steps, 5);
    let before = mean_kl(&bad, &fx.logits(&fx.net, &forget), 3);
    let after = mean_kl(&bad, &fx.logits(&out.net, &forget), 3);
    assert!(after < before, "KL(incompetent ‖ student) on F: {before} -> {after}");

    // With a retain fraction, that share of the retain side joins the pass.
    let cfg = BadTeacherConfig { retain_fraction: 0.3, epochs: 1, ..cfg };
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

//! The LM methods' defining claims, checked on a tiny causal LM trained in-process on a synthetic QA corpus with
//! planted paraphrases. The LM draws its weights from host streams (not burn's process-global RNG), so these tests
//! may share a process.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::collections::BTreeSet;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use doppel_data::lineage::{Origin, SampleInfo, forget_rows, similar_rows};
use doppel_models::lm::{self, AdamWSpec, CausalLm, LmExample, LmShape, LmTrainConfig, LossOn};
use doppel_models::train::{Schedule, TrainSeeds};
use doppel_models::{Role, RoleRows};
use doppel_unlearn::lm::methods::{
    Ft, FtConfig, Ga, GaConfig, GradDiff, GradDiffConfig, KlGa, KlGaConfig, Npo, NpoConfig, Retrain, RetrainConfig,
    SimNpo, SimNpoConfig,
};
use doppel_unlearn::lm::objectives::npo;
use doppel_unlearn::lm::{LmOriginal, LmUnlearned, LmUnlearner, LmView};
use doppel_unlearn::{Budget, RunContext, Scope, Status};

/// Token ids: 0 [PAD], 1 [UNK], 2 [CLS], 3 [SEP]; 4..40 words.
const VOCAB: usize = 40;

/// The corpus: 4 targets with 2 paraphrases each (same answer, reworded question), and 16 base pairs. Row order
/// interleaves them so the sides are not contiguous.
struct Corpus {
    examples: Vec<LmExample>,
    samples: Vec<SampleInfo>,
}

fn corpus() -> Corpus {
    let qa = |q: &[u32], a: &[u32]| {
        let mut ids = vec![2];
        ids.extend_from_slice(q);
        let answer_start = ids.len();
        ids.extend_from_slice(a);
        ids.push(3);
        LmExample { ids, answer_start }
    };
    let mut examples = Vec::new();
    let mut samples = Vec::new();
    let mut push = |e: LmExample, origin: Origin| {
        samples.push(SampleInfo { id: samples.len() as u32, origin, source_index: None });
        examples.push(e);
    };
    for i in 0..20u32 {
        let w = |k: u32| 4 + (i * 7 + k * 3) % 36;
        let q = [4, 5, w(0)];
        let a = [w(1), w(2), w(3), w(4)];
        if i % 5 == 0 {
            let target = samples_len_hint(i);
            push(qa(&q, &a), Origin::Target);
            for p in 0..2u32 {
                let q2 = [6 + p, w(0), 5];
                let v = Origin::Variant { of: target, kind: "paraphrase".into(), index: p, params: "{}".into() };
                push(qa(&q2, &a), v);
            }
        } else {
            push(qa(&q, &a), Origin::Base);
        }
    }
    Corpus { examples, samples }
}

/// The sample id the target of item `i` gets: each earlier target brought 2 paraphrases.
fn samples_len_hint(i: u32) -> u32 {
    i + 2 * i.div_ceil(5)
}

fn train_config() -> LmTrainConfig {
    LmTrainConfig {
        seed: 11,
        epochs: 40,
        batch_size: 8,
        loss: LossOn::Sequence,
        model: LmShape { d_model: 16, layers: 1, heads: 2, ff: 32, max_len: 12 },
        optimizer: AdamWSpec { lr: 5e-3, weight_decay: 0.0, grad_clip: Some(1.0) },
        schedule: Schedule::Constant,
    }
}

/// M0 on every row, and what made it.
struct Fixture {
    corpus: Corpus,
    m0: CausalLm,
    cfg: LmTrainConfig,
    seeds: TrainSeeds,
}

impl Fixture {
    fn new() -> Self {
        let corpus = corpus();
        let cfg = train_config();
        let seeds = TrainSeeds::from_master(cfg.seed);
        let (m0, _) = lm::train_lm(&cfg, VOCAB, &corpus.examples, seeds, &Device::flex()).unwrap();
        Fixture { corpus, m0, cfg, seeds }
    }

    fn original(&self) -> LmOriginal<'_> {
        LmOriginal { model: &self.m0, train: &self.cfg, seeds: self.seeds }
    }

    fn view(&self) -> LmView<'_> {
        LmView { examples: &self.corpus.examples, samples: &self.corpus.samples }
    }

    fn run(&self, method: &dyn LmUnlearner, scope: &Scope, seed: u64) -> (LmUnlearned, Vec<Vec<usize>>) {
        let mut seen = Vec::new();
        let ctx = RunContext { device: Device::flex(), seed };
        let out = method.unlearn(&self.original(), &self.view(), scope, &ctx, &mut |b| seen.push(b.to_vec())).unwrap();
        (out, seen)
    }

    fn scope_rows(&self, scope: &Scope) -> BTreeSet<usize> {
        scope.resolve(&self.corpus.samples).unwrap().into_iter().collect()
    }

    /// Mean answer-token NLL of `rows` under `model`.
    fn answer_nll(&self, model: &CausalLm, rows: &[usize]) -> f32 {
        let refs: Vec<&LmExample> = rows.iter().map(|&r| &self.corpus.examples[r]).collect();
        let b = lm::batch(&refs, LossOn::Answer, &Device::flex());
        model.mean_token_nll(b.tokens, b.mask).into_scalar()
    }
}

/// Every float parameter, flattened, in visiting order.
fn weights(model: &CausalLm) -> Vec<Vec<f32>> {
    struct W(Vec<Vec<f32>>);
    impl ModuleVisitor for W {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let mut w = W(Vec::new());
    model.visit(&mut w);
    w.0
}

/// The gradient of every float parameter of `model` (zeros where it has none), flattened.
fn gradients(model: &CausalLm, grads: &GradientsParams) -> Vec<Vec<f32>> {
    struct G<'a>(&'a GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor for G<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.val().dims().iter().product::<usize>();
            let g = self.0.get::<D>(param.id).map_or(vec![0.0; n], |g| g.into_data().try_to_vec::<f32>().unwrap());
            self.1.push(g);
        }
    }
    let mut g = G(grads, Vec::new());
    model.visit(&mut g);
    g.1
}

fn all_finite(model: &CausalLm) -> bool {
    weights(model).iter().flatten().all(|v| v.is_finite())
}

#[test]
fn ga_raises_the_forget_nll_over_its_first_steps_on_a_fixed_batch() {
    let f = Fixture::new();
    let forget = forget_rows(&f.corpus.samples);
    // One batch holds the whole forget side, so every step is on the same batch.
    let mut last = f.answer_nll(&f.m0, &forget);
    for steps in 1..=3 {
        let ga = Ga::new(GaConfig { forget: Budget::Steps(steps), lr: 1e-3, batch_size: 64, ..Default::default() });
        let (out, _) = f.run(&ga.unwrap(), &Scope::Exact, 1);
        assert_eq!((out.report.steps, &out.report.status), (steps, &Status::Completed));
        let nll = f.answer_nll(&out.model, &forget);
        assert!(nll > last, "after {steps} steps the forget NLL is {nll}, before it was {last}");
        last = nll;
    }
}

#[test]
fn ft_and_retrain_never_see_a_forget_scope_row_and_forget_driven_methods_do() {
    let f = Fixture::new();
    for scope in [Scope::Exact, Scope::Lineage] {
        let rows = f.scope_rows(&scope);
        let ft = Ft::new(FtConfig { retain: Budget::Epochs(2), batch_size: 4, ..Default::default() }).unwrap();
        let retrain = Retrain::new(RetrainConfig {}).unwrap();
        for method in [&ft as &dyn LmUnlearner, &retrain] {
            let (out, seen) = f.run(method, &scope, 2);
            let touched: BTreeSet<usize> = seen.iter().flatten().copied().collect();
            assert!(touched.is_disjoint(&rows), "{} under {} saw {:?}", method.name(), scope.name(), rows);
            // Every retain row is used.
            assert_eq!(touched.len() + rows.len(), f.corpus.examples.len(), "{}", method.name());
            assert_eq!(out.report.scope_size, rows.len());
            assert_eq!(out.report.steps, seen.len(), "{}: one callback per step", method.name());
        }
        // The callback does report forget rows when a method uses them.
        let gd = GradDiff::new(GradDiffConfig { forget: Budget::Epochs(1), ..Default::default() }).unwrap();
        let (_, seen) = f.run(&gd, &scope, 2);
        let touched: BTreeSet<usize> = seen.iter().flatten().copied().collect();
        assert!(rows.is_subset(&touched), "grad_diff under {} did not report its forget rows", scope.name());
    }
    // Lineage forgets the targets and every paraphrase.
    let lineage = f.scope_rows(&Scope::Lineage);
    let mut want: BTreeSet<usize> = forget_rows(&f.corpus.samples).into_iter().collect();
    want.extend(similar_rows(&f.corpus.samples));
    assert_eq!((lineage, want.len()), (want, 12));
}

#[test]
fn retrain_under_exact_and_lineage_is_the_retrain_exact_and_retrain_clean_oracle() {
    let f = Fixture::new();
    let retrain = Retrain::new(RetrainConfig {}).unwrap();
    for (scope, role) in [(Scope::Exact, Role::RetrainExact), (Scope::Lineage, Role::RetrainClean)] {
        let (out, _) = f.run(&retrain, &scope, 9);
        let rows: Vec<LmExample> =
            Role::rows(role, &f.corpus.samples).into_iter().map(|r| f.corpus.examples[r].clone()).collect();
        let (oracle, _) = lm::train_lm(&f.cfg, VOCAB, &rows, f.seeds, &Device::flex()).unwrap();
        assert_eq!(weights(&out.model), weights(&oracle), "{}", scope.name());
        assert_eq!(out.report.status, Status::Completed);
    }
}

#[test]
fn grad_diff_with_zero_forget_weight_is_ft_for_as_many_steps() {
    let f = Fixture::new();
    // Exact scope: 4 targets, batch 3 → 2 forget batches per epoch; 3 epochs → 6 steps, each on the next batch of
    // the retain stream.
    let three = Budget::Epochs(3);
    let gd = GradDiffConfig { forget: three, batch_size: 3, forget_weight: 0.0, lr: 2e-3, ..Default::default() };
    let gd = GradDiff::new(gd).unwrap();
    let ft = Ft::new(FtConfig { retain: Budget::Steps(6), batch_size: 3, lr: 2e-3, ..Default::default() }).unwrap();
    let (a, _) = f.run(&gd, &Scope::Exact, 4);
    let (b, _) = f.run(&ft, &Scope::Exact, 4);
    assert_eq!((a.report.steps, b.report.steps), (6, 6));
    assert_eq!(weights(&a.model), weights(&b.model));
    // With the forget term on, the weights differ.
    let gd1 = GradDiff::new(GradDiffConfig { forget: three, batch_size: 3, lr: 2e-3, ..Default::default() }).unwrap();
    let (c, _) = f.run(&gd1, &Scope::Exact, 4);
    assert_ne!(weights(&c.model), weights(&b.model));
}

/// At θ = ref, `∇ NPO = −(1/B) Σ_i ∇NLL_i` for every β (σ(0) = ½ cancels the 2 of 2/β): the gradient of gradient
/// ascent on the per-sequence NLL averaged over sequences, which is `N_tok / B` times the gradient of TOFU's
/// token-averaged GA. (Not ½ of GA's: that would need a 1/β prefactor.)
#[test]
fn npo_gradient_at_the_reference_is_sequence_averaged_ga() {
    let f = Fixture::new();
    let forget = forget_rows(&f.corpus.samples);
    let refs: Vec<&LmExample> = forget.iter().map(|&r| &f.corpus.examples[r]).collect();
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    let model = f.m0.clone().fork(&ad).train();
    let grad_of = |loss: Tensor<1>| gradients(&model, &GradientsParams::from_grads(loss.backward(), &model));
    let b = lm::batch(&refs, LossOn::Answer, &ad);
    let reference: Tensor<1> = Tensor::from_inner(f.m0.sequence_nll(b.tokens.clone().inner(), b.mask.clone().inner()));
    // batch() never counts position 0, so the mask's sum is the number of predicted answer tokens.
    let n_tok: f32 = b.mask.clone().inner().sum().into_scalar();
    let ga_seq = grad_of(model.sequence_nll(b.tokens.clone(), b.mask.clone()).mean().neg());
    let ga_tok = grad_of(model.mean_token_nll(b.tokens.clone(), b.mask.clone()).neg());
    let scale = n_tok / refs.len() as f32;
    let mut checked = 0;
    for beta in [0.1, 2.0] {
        let g = grad_of(npo(model.sequence_nll(b.tokens.clone(), b.mask.clone()), reference.clone(), beta));
        for ((gp, sp), tp) in g.iter().zip(&ga_seq).zip(&ga_tok) {
            for ((&x, &y), &z) in gp.iter().zip(sp).zip(tp) {
                assert!((x - y).abs() <= 1e-5 + 1e-3 * y.abs(), "β {beta}: NPO {x} vs sequence GA {y}");
                assert!((x - scale * z).abs() <= 1e-5 + 1e-3 * x.abs(), "β {beta}: NPO {x} vs {scale}·token GA {z}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
    // And the gradient is not zero (the check is not vacuous).
    assert!(ga_seq.iter().flatten().any(|v| v.abs() > 1e-4));
}

#[test]
fn one_seed_gives_identical_weights_and_another_seed_different_ones() {
    let f = Fixture::new();
    let npo = Npo::new(NpoConfig {
        forget: Budget::Epochs(2),
        batch_size: 2,
        retain_weight: 1.0,
        lr: 1e-3,
        ..Default::default()
    })
    .unwrap();
    let kl =
        KlGa::new(KlGaConfig { forget: Budget::Epochs(2), batch_size: 2, lr: 1e-3, ..Default::default() }).unwrap();
    let sim =
        SimNpo::new(SimNpoConfig { forget: Budget::Epochs(2), batch_size: 2, lr: 1e-3, ..Default::default() }).unwrap();
    for method in [&npo as &dyn LmUnlearner, &kl, &sim] {
        let (a, sa) = f.run(method, &Scope::Lineage, 7);
        let (b, sb) = f.run(method, &Scope::Lineage, 7);
        let (c, sc) = f.run(method, &Scope::Lineage, 8);
        assert_eq!(sa, sb, "{}", method.name());
        assert_eq!(weights(&a.model), weights(&b.model), "{}", method.name());
        assert_ne!(sa, sc, "{}: another seed, another batch order", method.name());
        assert_ne!(weights(&a.model), weights(&c.model), "{}", method.name());
        assert!(all_finite(&a.model));
        assert_eq!(a.report.settings, method.settings());
        assert_eq!(a.report.status, Status::Completed);
    }
}

#[test]
fn a_huge_learning_rate_diverges_is_reported_and_returns_finite_weights() {
    let f = Fixture::new();
    for method in [
        Box::new(Ga::new(GaConfig { lr: 1e20, grad_clip: None, ..Default::default() }).unwrap())
            as Box<dyn LmUnlearner>,
        Box::new(Npo::new(NpoConfig { lr: 1e20, grad_clip: None, ..Default::default() }).unwrap()),
    ] {
        let (out, _) = f.run(method.as_ref(), &Scope::Exact, 3);
        match &out.report.status {
            Status::Diverged { step, .. } => assert!(*step >= 1 && *step <= 10, "{}: step {step}", method.name()),
            s => panic!("{}: {s:?}", method.name()),
        }
        assert!(all_finite(&out.model), "{}", method.name());
        let rows: Vec<usize> = (0..f.corpus.examples.len()).collect();
        assert!(f.answer_nll(&out.model, &rows).is_finite(), "{}", method.name());
    }
}

/// A forget budget in steps is the same number of steps under scopes exact and lineage (4 and 12 forget rows);
/// in epochs it follows the scope's size.
#[test]
fn forget_budgets_in_steps_are_the_same_under_every_scope() {
    let f = Fixture::new();
    for (budget, want) in [(Budget::Steps(5), [5, 5]), (Budget::Epochs(1), [2, 4])] {
        let cfg = NpoConfig { forget: budget, batch_size: 3, retain_weight: 1.0, lr: 1e-3, ..Default::default() };
        let npo = Npo::new(cfg).unwrap();
        let steps = [Scope::Exact, Scope::Lineage].map(|s| f.run(&npo, &s, 3).0.report.steps);
        assert_eq!(steps, want, "{budget}: steps under exact and lineage");
    }
}

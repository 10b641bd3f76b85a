//! doppel-eval against outside references: scikit-image (SSIM), scikit-learn (ROC AUC, logistic regression, SVC)
//! and rouge-score (ROUGE-L), on the fixtures that `tests/fixtures/make_fixtures.py` and
//! `tests/fixtures/make_svc_fixtures.py` wrote (inputs and reference values; each script's header names the package
//! versions and how to regenerate).
#![allow(clippy::unwrap_used)]

use doppel_eval::{ChannelLayout, ImageShape, LogisticFit, Svc, SvcConfig, roc_auc, rouge_l, ssim, svc_mia_efficacy};
use serde::Deserialize;

/// The agreement the study asks for (issue 5): 1e-6, absolute.
const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture<C> {
    cases: Vec<C>,
}

fn load<C: for<'de> Deserialize<'de>>(name: &str) -> Vec<C> {
    let path = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let fixture: Fixture<C> = serde_json::from_str(&text).unwrap();
    assert!(!fixture.cases.is_empty(), "{} holds no cases", path.display());
    fixture.cases
}

/// Compares every case, prints the largest difference, and fails naming each case out of tolerance.
fn check_all(what: &str, diffs: Vec<(String, f64, f64)>) {
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    for (name, ours, reference) in &diffs {
        let d = (ours - reference).abs();
        worst = worst.max(d);
        if d.is_nan() || d > TOLERANCE {
            failures.push(format!("{name}: doppel {ours}, reference {reference}"));
        }
    }
    println!("{what}: {} cases, max |doppel − reference| = {worst:e}", diffs.len());
    assert!(failures.is_empty(), "{what} disagrees with the reference:\n{}", failures.join("\n"));
}

#[derive(Deserialize)]
struct SsimCase {
    name: String,
    height: usize,
    width: usize,
    channels: usize,
    data_range: f64,
    a: Vec<f64>,
    b: Vec<f64>,
    ssim: f64,
}

#[test]
fn ssim_matches_scikit_image() {
    let cases: Vec<SsimCase> = load("ssim.json");
    let diffs = cases
        .iter()
        .map(|c| {
            // Multichannel fixtures are numpy (H, W, C) arrays: interleaved channels.
            let shape = ImageShape {
                height: c.height,
                width: c.width,
                channels: c.channels,
                layout: ChannelLayout::Interleaved,
            };
            let ours = ssim(&c.a, &c.b, shape, c.data_range).unwrap();
            // SSIM is symmetric; the reference only computed (a, b).
            let swapped = ssim(&c.b, &c.a, shape, c.data_range).unwrap();
            assert!((ours - swapped).abs() < 1e-12, "{}: {ours} vs swapped {swapped}", c.name);
            (c.name.clone(), ours, c.ssim)
        })
        .collect();
    check_all("ssim", diffs);
}

#[test]
fn ssim_of_planar_multichannel_images_matches_too() {
    let cases: Vec<SsimCase> = load("ssim.json");
    let c = cases.iter().find(|c| c.channels > 1).unwrap();
    let (hw, ch) = (c.height * c.width, c.channels);
    let planar = |v: &[f64]| (0..ch).flat_map(|k| (0..hw).map(move |p| (p, k))).map(|(p, k)| v[p * ch + k]).collect();
    let (a, b): (Vec<f64>, Vec<f64>) = (planar(&c.a), planar(&c.b));
    let shape = ImageShape { height: c.height, width: c.width, channels: ch, layout: ChannelLayout::Planar };
    check_all("ssim planar", vec![(c.name.clone(), ssim(&a, &b, shape, c.data_range).unwrap(), c.ssim)]);
}

#[derive(Deserialize)]
struct AucCase {
    name: String,
    scores: Vec<f64>,
    labels: Vec<bool>,
    auc: f64,
}

#[test]
fn roc_auc_matches_scikit_learn() {
    let cases: Vec<AucCase> = load("auc.json");
    let diffs = cases.iter().map(|c| (c.name.clone(), roc_auc(&c.scores, &c.labels).unwrap(), c.auc)).collect();
    check_all("roc_auc", diffs);
}

#[derive(Deserialize)]
struct LogisticCase {
    name: String,
    x: Vec<f64>,
    y: Vec<bool>,
    c: f64,
    weight: f64,
    bias: f64,
}

#[test]
fn logistic_fit_matches_scikit_learn() {
    let cases: Vec<LogisticCase> = load("logistic.json");
    let mut diffs = Vec::new();
    for c in &cases {
        let fit = LogisticFit::fit(&c.x, &c.y, c.c).unwrap();
        diffs.push((format!("{} weight", c.name), fit.weight, c.weight));
        diffs.push((format!("{} bias", c.name), fit.bias, c.bias));
    }
    check_all("logistic regression", diffs);
}

#[derive(Deserialize)]
struct RougeCase {
    reference: String,
    candidate: String,
    precision: f64,
    recall: f64,
    fmeasure: f64,
}

#[test]
fn rouge_l_matches_rouge_score() {
    let cases: Vec<RougeCase> = load("rouge.json");
    let mut diffs = Vec::new();
    for c in &cases {
        let s = rouge_l(&c.reference, &c.candidate);
        let name = format!("{:?} vs {:?}", c.reference, c.candidate);
        diffs.push((format!("{name} precision"), s.precision, c.precision));
        diffs.push((format!("{name} recall"), s.recall, c.recall));
        diffs.push((format!("{name} f"), s.f_measure, c.fmeasure));
    }
    check_all("rouge-l", diffs);
}

#[derive(Deserialize)]
struct SvcCase {
    name: String,
    dim: usize,
    x: Vec<f64>,
    y: Vec<bool>,
    c: f64,
    gamma: Option<f64>,
    tol: f64,
    shrinking: bool,
    queries: Vec<f64>,
    decision: Vec<f64>,
    predict: Vec<bool>,
    n_support: [usize; 2],
    intercept: f64,
    n_iter: usize,
    targets: Option<Vec<f64>>,
    efficacy: Option<f64>,
}

/// The SVC is libsvm's solver step for step, so beyond the decision values (1e-6) the support-vector counts and the
/// iteration count must be scikit-learn's exactly: a different path would show there first.
#[test]
fn svc_matches_scikit_learn() {
    let cases: Vec<SvcCase> = load("svc.json");
    let mut diffs = Vec::new();
    for c in &cases {
        let config = SvcConfig { c: c.c, gamma: c.gamma, tolerance: c.tol, shrinking: c.shrinking, ..SvcConfig::SALUN };
        let svc = Svc::fit(&c.x, c.dim, &c.y, &config).unwrap();
        assert_eq!(svc.support_per_class(), c.n_support, "{}: support vectors per class", c.name);
        assert_eq!(svc.iterations(), c.n_iter, "{}: SMO iterations", c.name);
        diffs.push((format!("{} intercept", c.name), svc.intercept(), c.intercept));
        for (k, (q, (d, p))) in c.queries.chunks(c.dim).zip(c.decision.iter().zip(&c.predict)).enumerate() {
            diffs.push((format!("{} decision[{k}]", c.name), svc.decision(q).unwrap(), *d));
            assert_eq!(svc.predict(q).unwrap(), *p, "{}: prediction of query {k} ({q:?})", c.name);
        }
    }
    check_all("SVC decision", diffs);
}

/// MIA-Efficacy of SalUn's `SVC_MIA` on the fixture's `salun_*` cases: the shadow members are the label-1 rows.
#[test]
fn svc_mia_efficacy_matches_the_salun_attack() {
    let cases: Vec<SvcCase> = load("svc.json");
    let mut diffs = Vec::new();
    for c in cases.iter().filter(|c| c.efficacy.is_some()) {
        let pick =
            |label: bool| c.x.iter().zip(&c.y).filter(|(_, y)| **y == label).map(|(x, _)| *x).collect::<Vec<_>>();
        let targets = c.targets.as_ref().unwrap();
        let report = svc_mia_efficacy(&pick(true), &pick(false), targets).unwrap();
        diffs.push((format!("{} efficacy", c.name), report.efficacy, c.efficacy.unwrap()));
    }
    assert!(diffs.len() >= 2, "svc.json lost its salun_* cases");
    check_all("SVC MIA-Efficacy", diffs);
}

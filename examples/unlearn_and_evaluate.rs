//! Train M0 and both oracles, unlearn the targets with SalUn under two scopes, and compare them all.
//!
//! ```text
//! cargo run --release --example unlearn_and_evaluate
//! ```
//!
//! The dataset is the smoke preset's (`configs/smoke.toml`: synthetic shapes, 8 targets with 7 look-alikes
//! each left in training); nothing is downloaded and it runs in seconds on a laptop CPU. For every model the
//! example prints accuracy and mean true-class confidence on the targets F, their look-alikes S and the test
//! split, the loss-threshold membership-inference AUC of F against test, and the mean KL(model ‖ oracle) on F to each
//! oracle: `retrain_exact` (trained without F) and `retrain_clean` (trained without F and S).

use doppel::data::BuildConfig;
use doppel::data::lineage::{forget_rows, similar_rows};
use doppel::eval::classify::Logits;
use doppel::eval::{kl_from_logits, loss_threshold_auc};
use doppel::models::infer::{Predictions, predict};
use doppel::models::train::{Augment, OptimizerSpec, Recipe, Schedule, TrainSeeds, channel_stats, train};
use doppel::models::{Arch, DeviceChoice, ModelSpec, Net};
use doppel::unlearn::methods::{SalUn, SalUnConfig};
use doppel::unlearn::{Original, RunContext, Scope, Unlearner, View};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = BuildConfig::from_toml(include_str!("../configs/smoke.toml"), "configs/smoke.toml")?;
    let built = doppel::data::build_dataset(&config, "configs/smoke.toml", std::path::Path::new("data"))?;
    let (train_data, samples) = (&built.train.data, &built.train.samples);
    let device = DeviceChoice::Flex.open()?;

    // M0 on every training row; the oracles on the rows that remain without F, and without F ∪ S.
    let all: Vec<usize> = (0..train_data.len()).collect();
    let (f, s) = (forget_rows(samples), similar_rows(samples));
    let without = |drop: &[usize]| all.iter().copied().filter(|r| !drop.contains(r)).collect::<Vec<_>>();
    let (mean, std) = channel_stats(train_data, &all);
    let spec = ModelSpec {
        arch: Arch::Mlp { hidden: [128, 64] },
        input: train_data.shape(),
        classes: train_data.class_names().len(),
        mean,
        std,
    };
    let recipe = Recipe {
        epochs: 15,
        batch_size: 32,
        optimizer: OptimizerSpec::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 5e-4 },
        schedule: Schedule::Cosine,
        augment: Augment::default(),
    };
    let seeds = TrainSeeds::from_master(42);
    let fit = |rows: &[usize]| train(&spec, &recipe, train_data, rows, seeds, &device, |_| {}).map(|(net, _)| net);
    let m0 = fit(&all)?;
    let exact = fit(&without(&f))?;
    let clean = fit(&without(&[f.clone(), s.clone()].concat()))?;

    // SalUn (Fan et al. 2024) from M0, forgetting F only, then F and all its look-alikes.
    let original = Original { net: &m0, spec: &spec, recipe: &recipe, seeds };
    let view = View { data: train_data, samples };
    let ctx = RunContext { device: device.clone(), seed: 42 };
    let salun = SalUn::new(SalUnConfig::default())?;
    let mut models: Vec<(String, Net)> = vec![
        ("M0".into(), m0.clone()),
        ("retrain_exact".into(), exact.clone()),
        ("retrain_clean".into(), clean.clone()),
    ];
    for scope in [Scope::Exact, Scope::Lineage] {
        let out = salun.unlearn(&original, &view, &scope, &ctx, &mut |_| {})?;
        println!(
            "salun/{}: forgot {} rows, kept {}, {} steps in {:.2} s, {:?}",
            out.report.scope,
            out.report.scope_size,
            out.report.retain_size,
            out.report.steps,
            out.report.wall_seconds,
            out.report.status
        );
        models.push((format!("salun/{}", scope.name()), out.net));
    }

    // Per-sample outputs of every model on F, S and test; then the table.
    let test_rows: Vec<usize> = (0..built.test.data.len()).collect();
    let on = |net: &Net, data, rows: &[usize]| predict(net, &spec, data, rows, 256, &device);
    let oracle_f = [on(&exact, train_data, &f)?, on(&clean, train_data, &f)?];
    println!(
        "\n{:<15} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9} {:>9}",
        "model", "F acc", "F conf", "S acc", "test", "MIA AUC", "KL→exact", "KL→clean"
    );
    for (name, net) in &models {
        let (pf, ps, pt) = (on(net, train_data, &f)?, on(net, train_data, &s)?, on(net, &built.test.data, &test_rows)?);
        let auc = loss_threshold_auc(&pf.loss, &pt.loss)?;
        let kl = |o: &Predictions| -> Result<f64, Box<dyn std::error::Error>> {
            let p = Logits::new(&pf.logits, pf.classes)?;
            let q = Logits::new(&o.logits, o.classes)?;
            let v = kl_from_logits(&p, &q)?;
            Ok(v.iter().sum::<f64>() / v.len() as f64)
        };
        println!(
            "{:<15} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>8.3} {:>9.4} {:>9.4}",
            name,
            pf.accuracy(None),
            pf.confidence.iter().sum::<f64>() / pf.len() as f64,
            ps.accuracy(None),
            pt.accuracy(None),
            auc,
            kl(&oracle_f[0])?,
            kl(&oracle_f[1])?
        );
    }
    println!(
        "\nKL(model ‖ oracle) on F, mean over the {} targets; MIA: F (members) against test (non-members).",
        f.len()
    );
    Ok(())
}

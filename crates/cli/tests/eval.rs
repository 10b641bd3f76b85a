//! `doppel eval` end to end on the smoke dataset: the tables it writes, their structure and consistency, the retain
//! split of `--near-rows`, and the one-line errors on bad input. No value is asserted that depends on how well the tiny models learn.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::{Path, PathBuf};

use doppel_protocol::{EvalResult, RetainSplit, read_result};
use polars::prelude::{DataFrame, ParquetReader, ParquetWriter, SerReader};

mod common;
use common::{doppel, failing, ok};

/// A tiny MLP recipe; `{seed}` is replaced per run.
const TRAIN: &str = r#"
seed = {seed}
epochs = 3
batch_size = 16
[model]
arch = "mlp"
hidden = [16, 8]
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
weight_decay = 5e-4
[schedule]
kind = "cosine"
"#;

/// Builds configs/smoke.toml into `dir/ds` and trains the three references for each seed into `dir/seed-<s>`.
fn fixture(dir: &Path, seeds: &[u64]) {
    let smoke = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    ok(&doppel(&["data", "build", "--config", smoke.to_str().unwrap(), "--out", "ds"], dir));
    for seed in seeds {
        let config = format!("t{seed}.toml");
        std::fs::write(dir.join(&config), TRAIN.replace("{seed}", &seed.to_string())).unwrap();
        let out = format!("seed-{seed}");
        ok(&doppel(&["train", "--dataset", "ds", "--config", &config, "--out", &out], dir));
    }
}

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}

fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name).unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()).collect()
}

fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name).unwrap().f64().unwrap().iter().collect()
}

#[test]
fn eval_writes_consistent_tables_over_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture(dir, &[1, 2]);
    let stdout = ok(&doppel(&["eval", "--dataset", "ds", "--runs", "seed-2,seed-1", "--out", "ev"], dir));

    // The Markdown table: a header naming the sets, one row per model, mean ± std over the two runs.
    assert!(stdout.contains("|F| = 8, |S| = 56, |R| = 392, |test| = 80; 2 run(s)"), "{stdout}");
    assert!(stdout.contains("| model | runs | F acc | F conf |"), "{stdout}");
    for model in ["m0", "retrain_exact", "retrain_clean"] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("| {model} | 2 | "))), "{stdout}");
    }
    assert!(stdout.contains(" ± "), "{stdout}");

    let summary = read(&dir.join("ev/summary.parquet"));
    assert_eq!(summary.height(), 6);
    assert_eq!(strings(&summary, "run"), ["seed-1", "seed-1", "seed-1", "seed-2", "seed-2", "seed-2"]);
    assert_eq!(strings(&summary, "model")[..3], ["m0", "retrain_exact", "retrain_clean"]);
    let names: Vec<String> = summary.get_column_names().iter().map(|n| n.to_string()).collect();
    for want in
        ["f_acc", "f_conf", "f_lsc", "f_loss", "s_acc", "r_acc", "test_acc", "mia_auc", "mia_lr", "mia_efficacy"]
    {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        for oracle in ["exact", "clean"] {
            assert!(names.iter().any(|n| *n == format!("{want}@{oracle}")), "{want}@{oracle}");
        }
    }
    for want in ["kl_f_m0", "kl_f_exact", "kl_f_clean", "js_test_clean", "conf_gap_f_clean", "avg_gap_exact"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }

    // Ranges: accuracies, confidences and attacks in [0, 1], divergences and losses non-negative, JS ≤ ln 2.
    for name in &names[2..] {
        let values: Vec<f64> = floats(&summary, name).into_iter().map(|v| v.unwrap()).collect();
        for v in &values {
            assert!(v.is_finite(), "{name} = {v}");
            let bounded = ["_acc", "_conf", "mia_"].iter().any(|p| name.contains(p)) && !name.starts_with("conf_gap");
            if bounded {
                assert!((0.0..=1.0).contains(v), "{name} = {v}");
            }
            if name.starts_with("kl_") || name.contains("_loss") || name.starts_with("avg_gap") {
                assert!(*v >= 0.0, "{name} = {v}");
            }
            if name.starts_with("js_") {
                assert!((0.0..=std::f64::consts::LN_2).contains(v), "{name} = {v}");
            }
        }
    }

    // Consistency: a reference is at distance 0 from itself, and the oracle columns repeat the oracle's row.
    for (row, reference) in [(0, "m0"), (1, "exact"), (2, "clean")] {
        for set in ["f", "s", "test"] {
            assert_eq!(floats(&summary, &format!("kl_{set}_{reference}"))[row], Some(0.0));
            assert_eq!(floats(&summary, &format!("js_{set}_{reference}"))[row], Some(0.0));
        }
        assert_eq!(floats(&summary, &format!("conf_gap_f_{reference}"))[row], Some(0.0));
    }
    for run in 0..2 {
        for (name, oracle_row) in [("f_conf@exact", 1), ("r_acc@clean", 2), ("mia_auc@exact", 1)] {
            let base = name.split('@').next().unwrap();
            let want = floats(&summary, base)[3 * run + oracle_row];
            for m in 0..3 {
                assert_eq!(floats(&summary, name)[3 * run + m], want, "{name} run {run}");
            }
        }
    }
    // The influence residual of retrain_clean and the gap of retrain_exact to itself are zero.
    assert_eq!(floats(&summary, "avg_gap_exact")[1], Some(0.0));
    assert_eq!(floats(&summary, "avg_gap_clean")[2], Some(0.0));

    // Per-sample: every (run, model, sample); the per-sample KL to retrain_exact is 0 on its own rows.
    let per_sample = read(&dir.join("ev/per_sample.parquet"));
    assert_eq!(per_sample.height(), 2 * 3 * (456 + 80));
    let models = strings(&per_sample, "model");
    let kl_exact = floats(&per_sample, "kl_exact");
    assert!(models.iter().zip(&kl_exact).filter(|(m, _)| *m == "retrain_exact").all(|(_, v)| *v == Some(0.0)));
    let sets = strings(&per_sample, "set");
    for set in ["F", "S", "R", "test"] {
        assert!(sets.iter().any(|s| s == set), "{set}");
    }

    // The aggregate has one row per model and the mean of the two runs.
    let aggregate = read(&dir.join("ev/aggregate.parquet"));
    assert_eq!(strings(&aggregate, "model"), ["m0", "retrain_exact", "retrain_clean"]);
    let f_conf = floats(&summary, "f_conf");
    let want = (f_conf[0].unwrap() + f_conf[3].unwrap()) / 2.0;
    assert!((floats(&aggregate, "f_conf_mean")[0].unwrap() - want).abs() < 1e-12);
    let csv = std::fs::read_to_string(dir.join("ev/summary.csv")).unwrap();
    assert!(csv.starts_with("run,model,f_acc,f_acc@exact,f_acc@clean,"), "{}", &csv[..80]);
    assert_eq!(csv.lines().count(), 7);

    // An existing --out is refused; recomputing from the checkpoints with --force gives the same tables.
    let again = ["eval", "--dataset", "ds", "--runs", "seed-1", "seed-2", "--out", "ev"];
    assert!(failing(&doppel(&again, dir)).contains("ev already exists; choose another --out or pass --force"));
    let mut forced = again.to_vec();
    forced.extend(["--force", "--recompute"]);
    ok(&doppel(&forced, dir));
    assert_eq!(std::fs::read_to_string(dir.join("ev/summary.csv")).unwrap(), csv);
    let entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!entries.iter().any(|p| p.to_string_lossy().contains("partial")), "{entries:?}");
}

#[test]
fn eval_bad_input_names_the_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture(dir, &[1]);
    let copy = |name: &str| {
        let to = dir.join(name);
        for role in ["m0", "retrain_exact", "retrain_clean"] {
            std::fs::create_dir_all(to.join(role)).unwrap();
            for entry in std::fs::read_dir(dir.join("seed-1").join(role)).unwrap() {
                let from = entry.unwrap().path();
                std::fs::copy(&from, to.join(role).join(from.file_name().unwrap())).unwrap();
            }
        }
        to
    };
    let edit_json = |path: &Path, from: &str, to: &str| {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(from), "{from} in {}", path.display());
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    };
    let eval = |run: &str| failing(&doppel(&["eval", "--dataset", "ds", "--runs", run, "--out", "ev"], dir));

    let sha = copy("sha");
    edit_json(&sha.join("m0/model.json"), "\"dataset_manifest_sha256\": \"", "\"dataset_manifest_sha256\": \"00");
    let err = eval("sha");
    assert!(err.contains("sha/m0/model.json: `dataset_manifest_sha256` is 00"), "{err}");
    assert!(err.contains("ds/manifest.json has sha256") && err.contains("trained on another dataset"), "{err}");
    assert!(!err.contains("--allow-other-dataset"), "eval offers no override: {err}");

    let classes = copy("classes");
    edit_json(&classes.join("retrain_clean/model.json"), "\"classes\": 4,", "\"classes\": 5,");
    let err = eval("classes");
    assert!(err.contains("retrain_clean/model.json: `spec.classes` is 5, but the dataset has 4 classes"), "{err}");

    let nan = copy("nan");
    let file = nan.join("retrain_exact/outputs_test.parquet");
    let mut df = read(&file);
    let mut logits: Vec<Option<f32>> = df.column("logit_2").unwrap().f32().unwrap().iter().collect();
    logits[5] = Some(f32::NAN);
    df.with_column(polars::prelude::Column::new("logit_2".into(), logits)).unwrap();
    ParquetWriter::new(std::fs::File::create(&file).unwrap()).finish(&mut df).unwrap();
    let err = eval("nan");
    assert!(err.contains("retrain_exact/outputs_test.parquet: column `logit_2` is NaN at row 5 (id 461)"), "{err}");

    let missing = copy("missing");
    std::fs::remove_dir_all(missing.join("retrain_clean")).unwrap();
    let err = eval("missing");
    assert!(err.contains("missing/retrain_clean has no model.safetensors"), "{err}");

    // Nothing was written by any failing run.
    assert!(!dir.join("ev").exists());
}

/// The eight columns of `--near-rows`, in table order.
const SPLIT: [&str; 8] = [
    "r_near_acc",
    "r_near_conf",
    "r_near_loss",
    "kl_r_near_exact",
    "r_far_acc",
    "r_far_conf",
    "r_far_loss",
    "kl_r_far_exact",
];

#[test]
fn near_rows_split_the_retain_set_into_near_and_far() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture(dir, &[1, 2]);
    // The near file: ten retain (base) ids, one listed twice, plus a target and a variant, which stay F and S.
    let outputs = read(&dir.join("seed-1/m0/outputs_train.parquet"));
    let ids: Vec<u32> = outputs.column("id").unwrap().u32().unwrap().iter().map(Option::unwrap).collect();
    let origins = strings(&outputs, "origin");
    let of = |origin: &str| -> Vec<u32> {
        ids.iter().zip(&origins).filter(|(_, o)| *o == origin).map(|(i, _)| *i).collect()
    };
    let near: Vec<u32> = of("base").into_iter().step_by(7).take(10).collect();
    let mut text = String::from("# near look-alikes of the targets\n");
    for id in near.iter().chain([&near[3]]).chain([&of("target")[0], &of("variant")[0]]) {
        text.push_str(&format!("{id}\n"));
    }
    std::fs::write(dir.join("near.txt"), text).unwrap();

    let eval = |out: &str, extra: &[&str]| {
        doppel(&[&["eval", "--dataset", "ds", "--runs", "seed-1,seed-2", "--out", out], extra].concat(), dir)
    };
    let stdout = ok(&eval("ev", &["--near-rows", "near.txt"]));
    assert!(stdout.contains("|R| = 392 (near 10, far 382: the retain rows near.txt lists, and the rest)"), "{stdout}");
    assert!(stdout.contains("| R acc | R near acc | R far acc |"), "{stdout}");
    let result: EvalResult = read_result(&dir.join("ev/result.json")).unwrap();
    assert_eq!(result.retain_split, Some(RetainSplit { near_rows: "near.txt".into(), near: 10, far: 382 }));
    let split = result.retain_split.unwrap();
    assert_eq!(split.near + split.far, 392, "near + far = |R|");
    for name in SPLIT {
        assert!(result.columns.iter().any(|c| c == name), "{name} in result.json");
    }

    // Summary: each model's near and far means, weighted by the counts, give its mean over R.
    let summary = read(&dir.join("ev/summary.parquet"));
    for (r, metric) in [("r_acc", "acc"), ("r_conf", "conf"), ("r_loss", "loss")] {
        let (all, near_v, far_v) = (
            floats(&summary, r),
            floats(&summary, &format!("r_near_{metric}")),
            floats(&summary, &format!("r_far_{metric}")),
        );
        for row in 0..summary.height() {
            let pooled = (10.0 * near_v[row].unwrap() + 382.0 * far_v[row].unwrap()) / 392.0;
            assert!((pooled - all[row].unwrap()).abs() < 1e-9, "{r} row {row}: {pooled} vs {:?}", all[row]);
        }
    }
    // Near accuracy of seed-1's M0 is its accuracy on the ten rows in its own outputs file.
    let correct: Vec<bool> = outputs.column("correct").unwrap().bool().unwrap().iter().map(Option::unwrap).collect();
    let hits = ids.iter().zip(&correct).filter(|(i, c)| near.contains(i) && **c).count();
    assert_eq!(floats(&summary, "r_near_acc")[0], Some(hits as f64 / 10.0));
    // retrain_exact is at distance 0 from itself on both parts.
    for run in 0..2 {
        assert_eq!(floats(&summary, "kl_r_near_exact")[3 * run + 1], Some(0.0));
        assert_eq!(floats(&summary, "kl_r_far_exact")[3 * run + 1], Some(0.0));
    }

    // Aggregate: mean and std over the two runs, as for every other column.
    let aggregate = read(&dir.join("ev/aggregate.parquet"));
    for name in SPLIT {
        let (values, mean, std) = (
            floats(&summary, name),
            floats(&aggregate, &format!("{name}_mean")),
            floats(&aggregate, &format!("{name}_std")),
        );
        for m in 0..3 {
            let (a, b) = (values[m].unwrap(), values[3 + m].unwrap());
            assert!((mean[m].unwrap() - (a + b) / 2.0).abs() < 1e-12, "{name} model {m}");
            assert!((std[m].unwrap() - (a - b).abs() / 2f64.sqrt()).abs() < 1e-12, "{name} model {m}");
        }
    }
    let csv = std::fs::read_to_string(dir.join("ev/aggregate.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",r_near_acc_mean,r_near_acc_std,"), "{csv}");

    // Without --near-rows nothing changes: the same tables less the eight columns, and no split in result.json.
    ok(&eval("plain", &[]));
    let plain = read(&dir.join("plain/summary.parquet"));
    let names = |df: &DataFrame| df.get_column_names().iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let kept: Vec<String> = names(&summary).into_iter().filter(|n| !SPLIT.contains(&n.as_str())).collect();
    assert_eq!(names(&plain), kept);
    assert_eq!(
        plain.select(kept.iter().map(String::as_str)).unwrap(),
        summary.select(kept.iter().map(String::as_str)).unwrap()
    );
    let result: EvalResult = read_result(&dir.join("plain/result.json")).unwrap();
    assert_eq!(result.retain_split, None);
    assert!(!std::fs::read_to_string(dir.join("plain/result.json")).unwrap().contains("retain_split"));

    // An id outside the training split (unknown, or a test sample's) is an error naming the file and the id, and
    // nothing is written.
    std::fs::write(dir.join("bad.txt"), format!("{}\n999999\n", near[0])).unwrap();
    let err = failing(&eval("bad", &["--near-rows", "bad.txt"]));
    assert!(err.contains("bad.txt:2: sample id 999999 is not in the dataset's training split"), "{err}");
    let test_id =
        read(&dir.join("seed-1/m0/outputs_test.parquet")).column("id").unwrap().u32().unwrap().get(0).unwrap();
    let mut df =
        DataFrame::new(2, vec![polars::prelude::Column::new("neighbour_id".into(), vec![near[0], test_id])]).unwrap();
    ParquetWriter::new(std::fs::File::create(dir.join("bad.parquet")).unwrap()).finish(&mut df).unwrap();
    let err = failing(&eval("bad", &["--near-rows", "bad.parquet"]));
    assert!(
        err.contains(&format!("bad.parquet: neighbour_id {test_id} is not in the dataset's training split")),
        "{err}"
    );
    assert!(!dir.join("bad").exists());
}

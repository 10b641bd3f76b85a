//! `doppel unlearn` end to end on a tiny synthetic dataset: every method writes a loadable checkpoint, a report
//! and outputs; the mined scope reads sample ids; bad input is a one-line error.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

mod common;
use common::{doppel, ok};

const DATASET: &str = r#"
name = "unlearn"
seed = 1
[source]
dataset = "synthetic"
train_per_class = 20
test_per_class = 4
[source.synthetic]
classes = 2
side = 8
[targets]
count = 3
[[variants]]
kind = "occlusion"
per_target = 2
grid = 2
ratio = 0.25
"#;

const TRAIN: &str = r#"
seed = 3
epochs = 2
batch_size = 8
[model]
arch = "mlp"
hidden = [8, 4]
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
weight_decay = 5e-4
[schedule]
kind = "constant"
"#;

const METHODS: &str = r#"
[ft]
retain = { epochs = 1 }
[ga]
forget = { steps = 5 }
[neggrad_plus]
retain = { steps = 20 }
[rl]
rounds = 1
[l1_sparse]
retain = { epochs = 1 }
[salun]
rounds = 1
[ssd]
batch_size = 8
[scrub]
rounds = 2
forget = { steps = 3 }
[boundary_shrink]
forget = { steps = 4 }
[boundary_expanding]
forget = { steps = 4 }
[bad_teacher]
mixed = { steps = 5 }
"#;

#[test]
fn every_method_runs_end_to_end_and_the_mined_scope_reads_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("d.toml"), DATASET).unwrap();
    std::fs::write(dir.join("t.toml"), TRAIN).unwrap();
    std::fs::write(dir.join("u.toml"), METHODS).unwrap();
    ok(&doppel(&["data", "build", "--config", "d.toml", "--out", "ds"], dir));
    ok(&doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0", "--out", "m"], dir));
    let methods = ["retrain", "ft", "ga", "neggrad_plus", "rl", "l1_sparse", "salun", "ssd"];
    let new = ["scrub", "boundary_shrink", "boundary_expanding", "bad_teacher"];
    for method in methods.into_iter().chain(new) {
        let out = format!("u-{method}");
        let args = ["unlearn", "--dataset", "ds", "--checkpoint", "m/m0", "--method", method, "--scope", "lineage"];
        let stdout = ok(&doppel(&[&args[..], &["--config", "u.toml", "--out", &out]].concat(), dir));
        assert!(stdout.contains(method) && stdout.contains("lineage"), "{stdout}");
        for f in ["model.safetensors", "model.json", "report.json", "outputs_train.parquet", "outputs_test.parquet"] {
            assert!(dir.join(&out).join(f).exists(), "{method}: {f}");
        }
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(&out).join("report.json")).unwrap()).unwrap();
        assert_eq!(report["method"], method);
        assert_eq!(report["scope_size"], 9, "3 targets + 6 variants");
        assert!(report["rte"].as_f64().unwrap() > 0.0);
    }
    // Sample ids 0 and 1 (base rows, whatever they are) join the 3 targets.
    std::fs::write(dir.join("mined.txt"), "# mined\n0\n1 # near-duplicate\n").unwrap();
    let args = ["unlearn", "--dataset", "ds", "--checkpoint", "m/m0/model.safetensors", "--method", "salun"];
    ok(&doppel(
        &[&args[..], &["--scope", "mined", "--mined-rows", "mined.txt", "--config", "u.toml", "--out", "um"]].concat(),
        dir,
    ));
    let report = std::fs::read_to_string(dir.join("um/report.json")).unwrap();
    assert!(report.contains("\"scope\": \"mined\""), "{report}");

    let bad = doppel(&[&args[..], &["--scope", "mined", "--out", "bad"]].concat(), dir);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--scope mined needs --mined-rows"));
    std::fs::write(dir.join("bad.txt"), "7x\n").unwrap();
    let bad = doppel(&[&args[..], &["--scope", "mined", "--mined-rows", "bad.txt", "--out", "bad"]].concat(), dir);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad.txt:1: \"7x\" is not a sample id"));
}

/// The `mined` scope end to end: `doppel mine neighbours` (exact search, embeddings kept out of the dataset
/// folder) writes neighbours.parquet, and `doppel unlearn --scope mined` reads it.
#[test]
fn salun_with_the_mined_scope_runs_from_doppel_mine_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("d.toml"), DATASET).unwrap();
    std::fs::write(dir.join("t.toml"), TRAIN).unwrap();
    std::fs::write(dir.join("u.toml"), METHODS).unwrap();
    std::fs::write(
        dir.join("m.toml"),
        "[embedder]\nkind = \"pixel\"\nseed = 7\n[index]\nmetric = \"cosine\"\nm = 16\nef_construction = 100\nef_search = 64\n\
         [mine]\nthreshold = 0.5\ntop_k = 2\ngroup_threshold = 0.01\ntest_threshold = 0.01\n",
    )
    .unwrap();
    ok(&doppel(&["data", "build", "--config", "d.toml", "--out", "ds"], dir));
    ok(&doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0", "--out", "m"], dir));
    let mined = ok(&doppel(
        &[
            "mine",
            "neighbours",
            "--dataset",
            "ds",
            "--config",
            "m.toml",
            "--out",
            "n",
            "--exact",
            "--embeddings",
            "emb",
        ],
        dir,
    ));
    assert!(mined.contains("the 2 nearest, Exact search"), "{mined}");
    assert!(!dir.join("ds/embeddings").exists(), "--embeddings keeps the dataset folder unchanged");
    assert!(std::fs::read_dir(dir.join("emb")).unwrap().count() >= 1);

    let args = ["unlearn", "--dataset", "ds", "--checkpoint", "m/m0", "--method", "salun", "--scope", "mined"];
    let stdout = ok(&doppel(
        &[&args[..], &["--mined-rows", "n/neighbours.parquet", "--config", "u.toml", "--out", "u"]].concat(),
        dir,
    ));
    assert!(stdout.contains("salun") && stdout.contains("mined"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("u/report.json")).unwrap()).unwrap();
    assert_eq!(report["scope"], "mined");
    // 3 targets and 2 nearest neighbours each (some may be shared or be other targets): between 3 and 9 rows.
    let size = report["scope_size"].as_u64().unwrap();
    assert!((4..=9).contains(&size), "scope size {size}");

    // A table without neighbour_id is refused with what to pass instead.
    let bad = doppel(
        &[&args[..], &["--mined-rows", "n/target_counts.parquet", "--config", "u.toml", "--out", "bad"]].concat(),
        dir,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("has no `neighbour_id` column"), "{:?}", bad);
}

/// A folder with the dataset `ds`, M0 and retrain_exact under `m/`, and the method settings `u.toml`: what a
/// search needs.
fn searchable() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("d.toml"), DATASET).unwrap();
    std::fs::write(dir.join("t.toml"), TRAIN).unwrap();
    std::fs::write(dir.join("u.toml"), METHODS).unwrap();
    ok(&doppel(&["data", "build", "--config", "d.toml", "--out", "ds"], dir));
    ok(&doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0,retrain_exact", "--out", "m"], dir));
    tmp
}

/// `--search`: six candidates (lr × {0.1, 1, 10}, budgets × {1, 2}) scored by Avg.Gap to the reference; the written
/// model is the lowest-gap candidate, and report.json holds them all.
#[test]
fn the_search_runs_the_grid_and_keeps_the_lowest_gap() {
    let tmp = searchable();
    let dir = tmp.path();
    let args = ["unlearn", "--dataset", "ds", "--checkpoint", "m/m0", "--method", "ft", "--scope", "exact"];
    ok(&doppel(
        &[&args[..], &["--config", "u.toml", "--search", "--reference", "m/retrain_exact", "--out", "s"]].concat(),
        dir,
    ));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("s/report.json")).unwrap()).unwrap();
    let candidates = report["search"]["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 6, "{report}");
    let gaps: Vec<f64> = candidates.iter().map(|c| c["avg_gap"].as_f64().unwrap()).collect();
    assert!(gaps.iter().all(|g| (0.0..=1.0).contains(g)), "{gaps:?}");
    let chosen = report["search"]["chosen"].as_u64().unwrap() as usize;
    let min = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(gaps[chosen], min, "the chosen candidate has the lowest gap");
    assert_eq!(gaps.iter().position(|&g| g == min), Some(chosen), "the earliest on ties");
    // The written settings are the chosen candidate's (u.toml's [ft] has retain = { epochs = 1 }, lr the default
    // 0.01).
    assert_eq!(report["settings"]["lr"], candidates[chosen]["lr"]);
    let factor = candidates[chosen]["budget"].as_f64().unwrap();
    assert_eq!(report["settings"]["retain"]["epochs"].as_f64(), Some(factor), "one epoch times the factor");
    let lrs: Vec<f64> = candidates.iter().map(|c| c["lr"].as_f64().unwrap()).collect();
    assert!((lrs[0] - 0.001).abs() < 1e-12 && (lrs[4] - 0.1).abs() < 1e-12, "{lrs:?}");
    let factors: Vec<f64> = candidates.iter().map(|c| c["budget"].as_f64().unwrap()).collect();
    assert_eq!(factors, [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);

    let no_ref = doppel(&[&args[..], &["--search", "--out", "bad"]].concat(), dir);
    assert!(!no_ref.status.success());
    assert!(String::from_utf8_lossy(&no_ref.stderr).contains("--reference"), "{no_ref:?}");
}

/// `--objective kl-forget` (the calibration): the chosen candidate has the lowest mean KL to the reference on F among
/// those within --max-test-drop of M0's test accuracy, and OUT/settings.toml, passed back as --config, runs the same
/// model again (the same outputs, byte for byte).
#[test]
fn the_calibration_keeps_the_nearest_on_f_within_the_test_drop_and_its_settings_rerun_it() {
    let tmp = searchable();
    let dir = tmp.path();
    let args = ["unlearn", "--dataset", "ds", "--checkpoint", "m/m0", "--method", "ga", "--scope", "exact"];
    let search = ["--search", "--reference", "m/retrain_exact", "--objective", "kl-forget"];
    let run = |drop: &str, out: &str| {
        ok(&doppel(
            &[&args[..], &search[..], &["--config", "u.toml", "--max-test-drop", drop, "--out", out]].concat(),
            dir,
        ));
        let text = std::fs::read_to_string(dir.join(out).join("report.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    for drop in ["0.03", "1"] {
        let report = run(drop, "c");
        let s = &report["search"];
        assert_eq!(s["objective"], "kl_forget", "{report}");
        let original = s["original_test_accuracy"].as_f64().unwrap();
        let candidates = s["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 6, "{report}");
        let kl = |c: &serde_json::Value| c["kl_forget"].as_f64().unwrap();
        let test = |c: &serde_json::Value| c["test_accuracy"].as_f64().unwrap();
        let drop: f64 = drop.parse().unwrap();
        let feasible: Vec<&serde_json::Value> =
            candidates.iter().filter(|c| original - test(c) <= drop + 1e-12).collect();
        let chosen = &candidates[s["chosen"].as_u64().unwrap() as usize];
        if feasible.is_empty() {
            assert_eq!(s["within_tolerance"], false);
            let best = candidates.iter().map(test).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(test(chosen), best, "none within the drop: the one that keeps the most test accuracy");
        } else {
            assert_eq!(s["within_tolerance"], true);
            let min = feasible.iter().map(|c| kl(c)).fold(f64::INFINITY, f64::min);
            assert_eq!(kl(chosen), min, "the lowest KL on F within the drop: {candidates:?}");
        }
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("c/result.json")).unwrap()).unwrap();
        assert_eq!(result["search"]["kl_forget"].as_f64(), Some(kl(chosen)));
        // The settings file runs the chosen candidate again.
        ok(&doppel(&[&args[..], &["--config", "c/settings.toml", "--out", "again"]].concat(), dir));
        for f in ["outputs_train.parquet", "outputs_test.parquet"] {
            let (a, b) =
                (std::fs::read(dir.join("c").join(f)).unwrap(), std::fs::read(dir.join("again").join(f)).unwrap());
            assert!(a == b, "{f} differs between the chosen candidate and its settings.toml rerun");
        }
        std::fs::remove_dir_all(dir.join("c")).unwrap();
        std::fs::remove_dir_all(dir.join("again")).unwrap();
    }
    let bad = doppel(&[&args[..], &search[..], &["--max-test-drop", "3", "--out", "bad"]].concat(), dir);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--max-test-drop is 3"), "{bad:?}");
    assert!(!dir.join("bad").exists());
}

/// A checkpoint trained on one dataset and unlearned with another is refused, naming the sidecar and both
/// manifest hashes; `--allow-other-dataset` goes on. The refused run leaves no --out behind.
#[test]
fn a_checkpoint_of_another_dataset_is_refused_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("d.toml"), DATASET).unwrap();
    std::fs::write(dir.join("d2.toml"), DATASET.replace("seed = 1", "seed = 2")).unwrap();
    std::fs::write(dir.join("t.toml"), TRAIN).unwrap();
    ok(&doppel(&["data", "build", "--config", "d.toml", "--out", "ds"], dir));
    ok(&doppel(&["data", "build", "--config", "d2.toml", "--out", "ds2"], dir));
    ok(&doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0", "--out", "m"], dir));
    let sha = |d: &str| doppel_data::hash::sha256_file(&dir.join(d).join("manifest.json")).unwrap();
    let (trained_on, other) = (sha("ds"), sha("ds2"));
    assert_ne!(trained_on, other, "the two builds differ");

    let args = ["unlearn", "--dataset", "ds2", "--checkpoint", "m/m0", "--method", "ga", "--scope", "exact"];
    let err = common::failing(&doppel(&[&args[..], &["--out", "u"]].concat(), dir));
    assert!(err.contains(&format!("m/m0/model.json: `dataset_manifest_sha256` is {trained_on}")), "{err}");
    assert!(err.contains(&format!("ds2/manifest.json has sha256 {other}")), "{err}");
    assert!(err.contains("--allow-other-dataset"), "{err}");
    assert!(!dir.join("u").exists(), "a refused run writes nothing");
    // The --search reference is checked the same way.
    let search = ["--search", "--reference", "m/m0", "--out", "u"];
    let ds_args = ["unlearn", "--dataset", "ds", "--checkpoint", "m/m0", "--method", "ga", "--scope", "exact"];
    std::fs::create_dir_all(dir.join("r")).unwrap();
    for f in ["model.safetensors", "model.json"] {
        let text = std::fs::read(dir.join("m/m0").join(f)).unwrap();
        std::fs::write(dir.join("r").join(f), text).unwrap();
    }
    let side = std::fs::read_to_string(dir.join("r/model.json")).unwrap();
    std::fs::write(dir.join("r/model.json"), side.replace(&trained_on, &other)).unwrap();
    let err = common::failing(&doppel(&[&ds_args[..], &search[..2], &["r", "--out", "u"]].concat(), dir));
    assert!(err.contains(&format!("r/model.json: `dataset_manifest_sha256` is {other}")), "{err}");

    let stdout = ok(&doppel(&[&args[..], &["--out", "u", "--allow-other-dataset"]].concat(), dir));
    assert!(stdout.contains("ga"), "{stdout}");
    assert!(dir.join("u/model.safetensors").exists());
}

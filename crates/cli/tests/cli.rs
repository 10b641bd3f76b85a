//! The `doppel` binary on good and bad input: exit status, one-line errors that name the problem, and no
//! partial output left behind.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;
use std::process::Command;

mod common;
use common::{doppel, ok, stderr};

const SMOKE: &str = r#"
name = "cli"
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

/// Writes `config` to `dir/c.toml`, runs a build into `dir/out`, and returns stderr of a failing run.
fn failing_build(dir: &Path, config: &str, data_dir: &str) -> String {
    std::fs::write(dir.join("c.toml"), config).unwrap();
    let out = doppel(&["data", "build", "--config", "c.toml", "--out", "out", "--data-dir", data_dir], dir);
    assert!(!out.status.success(), "expected failure, got success");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("c.toml")], "no output left behind: {stderr}");
    stderr
}

#[test]
fn build_then_info() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.toml"), SMOKE).unwrap();
    let out = doppel(&["data", "build", "--config", "c.toml", "--out", "ds"], tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("train   46 = 37 base + 3 targets + 6 variants (k = 2 per target)"), "{stdout}");
    let info = doppel(&["data", "info", "ds"], tmp.path());
    assert!(info.status.success());
    assert!(String::from_utf8_lossy(&info.stdout).contains("all 3 files match their sha256"));
    // A second build into the same directory refuses to overwrite it.
    let again = doppel(&["data", "build", "--config", "c.toml", "--out", "ds"], tmp.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("ds already exists; choose another --out or pass --force"));
}

#[test]
fn bad_configs_fail_with_one_line_naming_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        ("ratio = 0.25", "ratio = 2.0", "c.toml: `variants[0].ratio` is 2; it must be in [0, 1]"),
        ("grid = 2", "grid = 3", "c.toml: `variants[0].grid` is 3, which does not divide the 8×8 image"),
        (
            "count = 3",
            "count = 41",
            "c.toml: `targets.count` is 41, but the pool (the training split) holds only 40 samples",
        ),
        ("per_target = 2", "per_target = -2", "c.toml: `variants[0].per_target` is -2; it must be 0 or more"),
        ("ratio = 0.25", "ratio = 0.25\nblur = 1", "c.toml:18: unknown field `blur`"),
    ];
    for (from, to, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let stderr = failing_build(tmp.path(), &SMOKE.replacen(from, to, 1), "data");
        assert!(stderr.contains(want), "{to}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn missing_data_names_the_fetch_command() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SMOKE
        .replace("dataset = \"synthetic\"", "dataset = \"fashion-mnist\"")
        .replace("[source.synthetic]\nclasses = 2\nside = 8\n", "");
    let stderr = failing_build(tmp.path(), &cfg, "nowhere");
    assert!(
        stderr.contains("fashion-mnist is missing") && stderr.contains("cargo xtask data fetch --only fashion-mnist"),
        "{stderr}"
    );
}

#[test]
fn missing_config_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = doppel(&["data", "build", "--config", "nope.toml", "--out", "o"], tmp.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reading nope.toml"), "{stderr}");
    // The cause is printed once, not once per wrapper of the error chain.
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

const SMOKE_TRAIN: &str = r#"
seed = 3
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

#[test]
fn train_writes_checkpoints_and_outputs_then_reuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.toml"), SMOKE).unwrap();
    std::fs::write(tmp.path().join("t.toml"), SMOKE_TRAIN).unwrap();
    assert!(doppel(&["data", "build", "--config", "c.toml", "--out", "ds"], tmp.path()).status.success());
    let args = ["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0,retrain_clean", "--out", "models"];
    let out = doppel(&args, tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("m0 ")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("retrain_clean ")), "{stdout}");
    for role in ["m0", "retrain_clean"] {
        for file in ["model.safetensors", "model.json", "outputs_train.parquet", "outputs_test.parquet"] {
            assert!(tmp.path().join("models").join(role).join(file).exists(), "{role}/{file}");
        }
    }
    assert!(!tmp.path().join("models/retrain_exact").exists());
    let weights = std::fs::read(tmp.path().join("models/m0/model.safetensors")).unwrap();
    // A second run finds the same config, data and seed, and reuses the checkpoint untouched.
    let again = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(["--log", "info"])
        .args(&args[..5])
        .args(["--which", "m0", "--out", "models"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("reusing it"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::read(tmp.path().join("models/m0/model.safetensors")).unwrap(), weights);
    // --force retrains, and the same seed gives the same bytes.
    let forced = doppel(
        &["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0", "--out", "models", "--force"],
        tmp.path(),
    );
    assert!(forced.status.success());
    assert_eq!(std::fs::read(tmp.path().join("models/m0/model.safetensors")).unwrap(), weights);
}

#[test]
fn without_variants_retrain_clean_is_retrain_exacts_checkpoint_and_equals_training_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.toml"), SMOKE.replace("per_target = 2", "per_target = 0")).unwrap();
    std::fs::write(tmp.path().join("t.toml"), SMOKE_TRAIN).unwrap();
    ok(&doppel(&["data", "build", "--config", "c.toml", "--out", "ds"], tmp.path()));
    let both = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(["--log", "info", "train", "--dataset", "ds", "--config", "t.toml"])
        .args(["--which", "retrain_exact,retrain_clean", "--out", "both"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    ok(&both);
    let log = stderr(&both);
    assert!(log.contains("the same rows, recipe and seeds as an earlier model of this call"), "{log}");
    assert_eq!(log.matches("training").count(), 1, "one model trained: {log}");
    // The same bytes as a retrain_clean trained on its own, under its own role.
    ok(&doppel(
        &["train", "--dataset", "ds", "--config", "t.toml", "--which", "retrain_clean", "--out", "alone"],
        tmp.path(),
    ));
    let read = |p: &str| std::fs::read(tmp.path().join(p)).unwrap();
    for file in ["model.safetensors", "outputs_train.parquet", "outputs_test.parquet"] {
        assert_eq!(read(&format!("both/retrain_clean/{file}")), read(&format!("alone/retrain_clean/{file}")), "{file}");
        assert_eq!(read(&format!("both/retrain_clean/{file}")), read(&format!("both/retrain_exact/{file}")), "{file}");
    }
    let side = |p: &str| serde_json::from_slice::<serde_json::Value>(&read(p)).unwrap();
    let (copied, trained) = (side("both/retrain_clean/model.json"), side("alone/retrain_clean/model.json"));
    assert_eq!((copied["role"].as_str(), copied["seeds"].clone()), (Some("retrain_clean"), trained["seeds"].clone()));
    let result = side("both/result.json");
    let models = result["models"].as_array().unwrap();
    let roles: Vec<&str> = models.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["retrain_exact", "retrain_clean"]);
    assert_eq!(models[0]["metrics"], models[1]["metrics"]);
    assert_eq!(models[0]["rows"], models[1]["rows"]);
    // With variants the oracles' rows differ, and both are trained.
    std::fs::write(tmp.path().join("c.toml"), SMOKE).unwrap();
    ok(&doppel(&["data", "build", "--config", "c.toml", "--out", "ds2"], tmp.path()));
    let two = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(["--log", "info", "train", "--dataset", "ds2", "--config", "t.toml"])
        .args(["--which", "retrain_exact,retrain_clean", "--out", "two"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    ok(&two);
    let log = stderr(&two);
    assert!(!log.contains("an earlier model of this call"), "{log}");
    assert_ne!(read("two/retrain_clean/model.safetensors"), read("two/retrain_exact/model.safetensors"));
}

#[test]
fn train_rejects_bad_input_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.toml"), SMOKE).unwrap();
    std::fs::write(tmp.path().join("t.toml"), SMOKE_TRAIN).unwrap();
    assert!(doppel(&["data", "build", "--config", "c.toml", "--out", "ds"], tmp.path()).status.success());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--which", "m1"], "--which: \"m1\" is not one of m0, retrain_exact, retrain_clean"),
        (vec!["--device", "wgpu"], "device wgpu is not compiled into this doppel"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["train", "--dataset", "ds", "--config", "t.toml", "--out", "m"];
        args.extend(extra);
        let out = doppel(&args, tmp.path());
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        if cfg!(feature = "wgpu") && want.contains("wgpu") {
            continue;
        }
        assert!(stderr.contains(want), "{stderr}");
    }
    let out = doppel(&["train", "--dataset", "nope", "--config", "t.toml", "--out", "m"], tmp.path());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a doppel dataset directory"));
    std::fs::write(tmp.path().join("t.toml"), SMOKE_TRAIN.replace("lr = 0.05", "lr = 0.0")).unwrap();
    let out = doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--out", "m"], tmp.path());
    assert!(String::from_utf8_lossy(&out.stderr).contains("t.toml: `optimizer.lr` is 0; it must be a positive number"));
}

/// A training run that fails leaves nothing half-written: a diverging model leaves no OUT it created, and a
/// diverging `--force` retrain leaves the model it was replacing as it was.
#[test]
fn a_failed_train_leaves_no_partial_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("c.toml"), SMOKE).unwrap();
    std::fs::write(dir.join("t.toml"), SMOKE_TRAIN).unwrap();
    std::fs::write(dir.join("bad.toml"), SMOKE_TRAIN.replace("lr = 0.05", "lr = 1e30")).unwrap();
    assert!(doppel(&["data", "build", "--config", "c.toml", "--out", "ds"], dir).status.success());
    let listing = |p: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join(p))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };

    let out = doppel(&["train", "--dataset", "ds", "--config", "bad.toml", "--which", "m0", "--out", "m"], dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("diverged"), "{stderr}");
    assert!(!dir.join("m").exists(), "no OUT after a failed first model: {:?}", listing("."));

    let good = doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0", "--out", "m"], dir);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    let before = listing("m");
    let weights = std::fs::read(dir.join("m/m0/model.safetensors")).unwrap();
    let args = ["train", "--dataset", "ds", "--config", "bad.toml", "--which", "m0,retrain_clean", "--out", "m"];
    let out = doppel(&[&args[..], &["--force"]].concat(), dir);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(listing("m"), before, "nothing added, nothing half-replaced");
    assert_eq!(std::fs::read(dir.join("m/m0/model.safetensors")).unwrap(), weights, "the old model is intact");
}

//! The `doppel` binary on good and bad input: exit status, one-line errors that name the problem, and no
//! partial output left behind.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;
use std::process::{Command, Output};

fn doppel(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .env_remove("DOPPEL_DATA_DIR")
        .output()
        .expect("doppel runs")
}

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
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading nope.toml"));
}

//! End-to-end through the facade: build a dataset from a config, write it, read it back, and check what a user
//! relies on — same config, same bytes; lineage survives the round trip; damaged files are caught.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;

use doppel::data::{self, BuildConfig, lineage, store};

const CONFIG: &str = r#"
name = "e2e"
seed = 5
[source]
dataset = "synthetic"
train_per_class = 30
test_per_class = 5
[source.synthetic]
classes = 3
side = 16
channels = 3
[targets]
count = 6
[[variants]]
kind = "occlusion"
per_target = 4
grid = 4
ratio = 0.5
[[variants]]
kind = "shift"
per_target = 1
max_shift = 2
"#;

fn build_into(dir: &Path) -> store::Manifest {
    let cfg = BuildConfig::from_toml(CONFIG, "e2e.toml").expect("config is valid");
    let built = data::build_dataset(&cfg, "e2e.toml", Path::new("unused")).expect("builds");
    store::write(&built, dir, false).expect("writes")
}

fn file_hashes(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), data::hash::sha256_file(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn same_config_gives_byte_identical_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    build_into(&a);
    build_into(&b);
    let ha = file_hashes(&a);
    assert_eq!(ha.len(), 4, "{ha:?}");
    assert_eq!(ha, file_hashes(&b));
}

#[test]
fn round_trip_keeps_pixels_labels_and_lineage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let manifest = build_into(&dir);
    let cfg = BuildConfig::from_toml(CONFIG, "e2e.toml").unwrap();
    let built = data::build_dataset(&cfg, "e2e.toml", Path::new("unused")).unwrap();
    let opened = store::open(&dir).unwrap();
    assert_eq!(opened.manifest, manifest);
    assert_eq!(opened.train, built.train);
    assert_eq!(opened.test.samples, built.test.samples);
    assert_eq!(opened.test.data.pixels(), built.test.data.pixels());
    assert_eq!(manifest.train.total, 90 + 6 * 5);
    assert_eq!(manifest.train.per_origin["target"], 6);
    assert_eq!(manifest.train.per_origin["variant"], 30);
    assert_eq!(manifest.source.train, 90);
    assert_eq!(lineage::forget_rows(&opened.train.samples).len(), 6);
}

#[test]
fn a_damaged_file_is_caught_by_its_sha() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    build_into(&dir);
    let p = dir.join("train.parquet");
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&p, bytes).unwrap();
    let err = store::open(&dir).unwrap_err();
    assert!(matches!(err, data::DataError::ShaMismatch { .. }), "{err}");
    assert!(err.to_string().contains("train.parquet"), "{err}");
}

#[test]
fn existing_output_is_kept_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    build_into(&dir);
    let cfg = BuildConfig::from_toml(CONFIG, "e2e.toml").unwrap();
    let built = data::build_dataset(&cfg, "e2e.toml", Path::new("unused")).unwrap();
    let err = store::write(&built, &dir, false).unwrap_err().to_string();
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    store::write(&built, &dir, true).unwrap();
    store::open(&dir).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("d")], "no temporary directory left behind");
}

#[test]
fn missing_source_data_names_the_fetch_command() {
    let text = CONFIG
        .replace("dataset = \"synthetic\"", "dataset = \"mnist\"")
        .replace("[source.synthetic]\nclasses = 3\nside = 16\nchannels = 3\n", "");
    let cfg = BuildConfig::from_toml(&text, "m.toml").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = data::build_dataset(&cfg, "m.toml", tmp.path()).unwrap_err().to_string();
    assert!(err.contains("mnist is missing") && err.contains("cargo xtask data fetch --only mnist"), "{err}");
}

//! `doppel data build-qa` on the fetched WordNet: a small QA dataset with the bag-of-words scorer, built twice
//! with identical bytes, and a bad config refused naming the key.
//!
//! Needs `cargo xtask data fetch --only wordnet`; without it the test says so and passes, unless
//! `DOPPEL_REQUIRE_DATA=1` (set by `.ci/run`, which fetches first).

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::PathBuf;

mod common;
use common::{doppel, fetched};

fn data_dir() -> Option<PathBuf> {
    fetched(&["wordnet/data.noun"], "wordnet")
}

const CONFIG: &str = r#"
name = "qa-small"
seed = 7
pos = ["noun", "verb"]
[pool]
train = 300
test = 50
[targets]
count = 5
[paraphrases]
per_target = 6
candidates = 30
threshold = 0.3
answers = "paraphrase"
[sheet]
targets = 2
paraphrases = 3
"#;

#[test]
fn build_qa_writes_a_deterministic_dataset_and_names_bad_keys() {
    let Some(data) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("qa.toml"), CONFIG).unwrap();
    let data = data.to_str().unwrap();
    let run = |out: &str| {
        let args = ["data", "build-qa", "--config", "qa.toml", "--out", out, "--data-dir", data];
        doppel(&[&args[..], &["--embedder", "bag-of-words"]].concat(), dir)
    };
    let first = run("a");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("train ") && stdout.contains("= 295 base + 5 targets + "), "{stdout}");
    assert!(stdout.contains("; test 50"), "{stdout}");
    for f in ["samples.parquet", "manifest.json", "sheet.md"] {
        assert!(dir.join("a").join(f).is_file(), "{f}");
    }
    assert!(run("b").status.success());
    let read = |d: &str| std::fs::read(dir.join(d).join("samples.parquet")).unwrap();
    assert!(read("a") == read("b"), "one config, identical samples.parquet");
    let again = run("a");
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("pass --force"));

    std::fs::write(dir.join("bad.toml"), CONFIG.replace("threshold = 0.3", "threshold = 3.0")).unwrap();
    let bad = doppel(&["data", "build-qa", "--config", "bad.toml", "--out", "c", "--data-dir", data], dir);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && stderr.contains("threshold"), "{stderr}");
    assert!(!dir.join("c").exists(), "nothing written on bad input");
}

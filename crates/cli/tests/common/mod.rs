//! What the `doppel` binary's integration tests share: running the binary, reading its verdict, and finding
//! fetched data.

#![allow(dead_code)] // Each test binary uses its own subset.
#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `doppel` binary in `cwd` with warnings-only, uncoloured logging and no inherited `DOPPEL_DATA_DIR`.
pub fn doppel(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("DOPPEL_DATA_DIR")
        .output()
        .expect("doppel runs")
}

/// Stdout of a run that must succeed (its stderr shows when it did not).
pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr of a run that must fail.
pub fn failing(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stderr of a run.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The workspace's `data/` when every file of `needs` (paths below it) was fetched; otherwise `None` with a
/// message naming `cargo xtask data fetch --only <only>` — or a failure under `DOPPEL_REQUIRE_DATA=1`, which CI
/// sets after fetching.
pub fn fetched(needs: &[&str], only: &str) -> Option<PathBuf> {
    let dir = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data");
    if needs.iter().all(|f| dir.join(f).is_file()) {
        return Some(dir);
    }
    let msg = format!("{only} not fetched; run `cargo xtask data fetch --only {only}`");
    assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
    eprintln!("skipped: {msg}");
    None
}

/// A small WordNet QA dataset config (`doppel data build-qa`, bag-of-words scorer), as the LM tests build it.
pub const QA_SMALL: &str = r#"
name = "qa-lm-unlearn-small"
seed = 7
pos = ["noun"]
[pool]
train = 120
test = 30
[targets]
count = 4
[paraphrases]
per_target = 4
candidates = 16
threshold = 0.3
answers = "paraphrase"
"#;

/// A tiny causal LM's train config (`doppel lm train`, 2 epochs).
pub const LM_TINY: &str = r#"
seed = 5
epochs = 2
batch_size = 16
loss = "sequence"
[model]
d_model = 32
layers = 1
heads = 2
ff = 64
max_len = 48
[optimizer]
lr = 3e-3
weight_decay = 0.0
[schedule]
kind = "constant"
"#;

/// A pixel-embedder mining config (`doppel mine`): PCA to 16, an HNSW index checked on 100 recall queries.
pub const MINE_PIXEL: &str = r#"
[embedder]
kind = "pixel"
reduce = "pca"
dim = 16
seed = 7
[index]
metric = "cosine"
m = 16
ef_construction = 100
ef_search = 64
[mine]
threshold = 0.2
group_threshold = 0.001
test_threshold = 0.001
[quality]
thresholds = [0.05, 0.1, 0.2]
top_k = [7]
recall_queries = 100
"#;

//! `doppel data build-spam` on a small corpus written in code, then `doppel train` on the result: the image
//! pipeline takes the bag-of-words dataset as is. Bad input fails with one line naming the problem.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;

mod common;
use common::{doppel, ok};

const CONFIG: &str = r#"
name = "spam-cli"
seed = 5
group = "with"
[split]
test_fraction = 0.25
[features]
vocab = 32
[lookalikes]
embedder = "bag-of-words"
dim = 512
threshold = 0.9
isolation = 0.5
search = "exact"
[targets]
count = 2
"#;

const TRAIN: &str = r#"
seed = 1
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

/// Ham mails about one topic, spam about another, and two groups of four identical bodies per class.
fn write_corpus(root: &Path) {
    let dir = root.join("data/spam-assassin");
    let topic = |k: usize, base: usize| -> String {
        (0..30).map(|j| format!("t{}", base + (k * 7 + j * 13) % 60)).collect::<Vec<_>>().join(" ")
    };
    for (folder, label_base, n) in
        [("easy-ham-1", 0, 12), ("easy-ham-2", 0, 12), ("hard-ham-1", 0, 4), ("spam-1", 100, 12), ("spam-2", 100, 12)]
    {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        for i in 0..n {
            // Mails 0..4 of each folder share a body; the others differ.
            let body = if i < 4 { topic(99, label_base) } else { topic(i + 20 * folder.len(), label_base) };
            let text = format!("From: x{i}@a.b\nSubject: s{i}\n\n{body}\n");
            std::fs::write(dir.join(folder).join(format!("{i:05}.{i:032x}.txt")), text).unwrap();
        }
    }
}

#[test]
fn build_spam_then_info_and_train() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_corpus(dir);
    std::fs::write(dir.join("spam.toml"), CONFIG).unwrap();
    std::fs::write(dir.join("train.toml"), TRAIN).unwrap();
    let stdout = ok(&doppel(&["data", "build-spam", "--config", "spam.toml", "--out", "ds"], dir));
    assert!(stdout.contains("shape   1×1×32"), "{stdout}");
    assert!(stdout.contains("targets 2 (With"), "{stdout}");
    let info = ok(&doppel(&["data", "info", "ds"], dir));
    assert!(info.contains("all 5 files match their sha256"), "{info}");
    let again = doppel(&["data", "build-spam", "--config", "spam.toml", "--out", "ds"], dir);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("pass --force"));
    let train = ok(&doppel(&["train", "--dataset", "ds", "--config", "train.toml", "--out", "m"], dir));
    for role in ["m0", "retrain_exact", "retrain_clean"] {
        assert!(train.contains(role), "{train}");
        assert!(dir.join("m").join(role).join("model.safetensors").exists());
    }
}

#[test]
fn bad_input_fails_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("spam.toml"), CONFIG).unwrap();
    let out = doppel(&["data", "build-spam", "--config", "spam.toml", "--out", "ds", "--data-dir", "nowhere"], dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo xtask data fetch --only spam-assassin"), "{err}");
    assert!(!dir.join("ds").exists());
    std::fs::write(dir.join("bad.toml"), CONFIG.replace("vocab = 32", "vocab = 33")).unwrap();
    let out = doppel(&["data", "build-spam", "--config", "bad.toml", "--out", "ds"], dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml: `features.vocab` is 33; it must be a multiple of 32"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

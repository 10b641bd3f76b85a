//! `doppel mine` on the smoke dataset: embeddings written then reused, tables and figure written, bad configs
//! rejected in one line naming the file and key.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;

mod common;
use common::{doppel, ok};

/// A smoke dataset (configs/smoke.toml) in `dir/ds` and the mining config in `dir/m.toml`.
fn setup(dir: &Path) {
    let smoke = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    let smoke = smoke.to_str().unwrap();
    ok(&doppel(&["data", "build", "--config", smoke, "--out", "ds"], dir));
    std::fs::write(dir.join("m.toml"), common::MINE_PIXEL).unwrap();
}

#[test]
fn embed_then_reuse_then_mine() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let first = ok(&doppel(&["mine", "embed", "--dataset", "ds", "--config", "m.toml"], dir));
    assert!(first.starts_with("embeddings computed: ds/embeddings/pixel-"), "{first}");
    assert!(first.contains("456 train + 80 test rows of dimension 16"), "{first}");
    let again = ok(&doppel(&["mine", "embed", "--dataset", "ds", "--config", "m.toml"], dir));
    assert!(again.starts_with("embeddings reused: ds/embeddings/pixel-"), "{again}");
    // The dataset still checks out: the embeddings directory is not part of its manifest.
    ok(&doppel(&["data", "info", "ds"], dir));

    let q = ok(&doppel(&["mine", "quality", "--dataset", "ds", "--config", "m.toml", "--out", "q"], dir));
    assert!(q.contains("hnsw recall@10 vs exact search: 1.0000 over 100 queries"), "{q}");
    assert!(q.contains("top_k  7.0000     56       28        56     0.5000  0.5000"), "{q}");
    for f in ["q/quality.parquet", "q/quality.csv", "q/pr_curve.png"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    // Exact search builds no graph and, where the graph's recall is 1, finds the same rows.
    let e = ok(&doppel(&["mine", "quality", "--dataset", "ds", "--config", "m.toml", "--out", "qe", "--exact"], dir));
    assert!(e.contains("exact search) against the lineage") && e.contains("not measured (--exact"), "{e}");
    let csv = std::fs::read_to_string(dir.join("q/quality.csv")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("qe/quality.csv")).unwrap(), csv);
    assert!(csv.starts_with("rule,value,mined,correct,variants,precision,recall,"), "{csv}");
    assert!(csv.contains("\ntop_k,7,56,28,56,0.5,0.5,"), "{csv}");

    let n = ok(&doppel(
        &["mine", "neighbours", "--dataset", "ds", "--config", "m.toml", "--out", "n", "--top-k", "3"],
        dir,
    ));
    assert!(n.starts_with("look-alikes of 8 targets: the 3 nearest, Hnsw search"), "{n}");
    assert!(n.contains("target_id  variants  found  variant_of_this  variant_of_other  target  base  nearest"), "{n}");
    assert!(dir.join("n/neighbours.parquet").exists() && dir.join("n/target_counts.parquet").exists());

    let g = ok(&doppel(&["mine", "groups", "--dataset", "ds", "--config", "m.toml", "--out", "g"], dir));
    assert!(g.contains("near-duplicate groups (distance ≤ 0.001)"), "{g}");
    assert!(g.contains("train↔test pairs (distance ≤ 0.001)"), "{g}");
    assert!(dir.join("g/groups.parquet").exists() && dir.join("g/test_pairs.parquet").exists());
}

#[test]
fn bad_configs_fail_with_one_line_naming_the_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let cases = [
        ("m = 16", "m = 300", "error: m.toml: `index.m` is 300; it must be between 2 and 256"),
        (
            "dim = 16",
            "dim = 900",
            "error: m.toml: `embedder.dim` is 900; it must be at most the image size, 784 values",
        ),
        ("metric = \"cosine\"", "metric = \"dot\"", "error: m.toml: `index.metric` is \"dot\"; use cosine or l2"),
    ];
    for (from, to, want) in cases {
        let text = common::MINE_PIXEL.replacen(&format!("\n{from}"), &format!("\n{to}"), 1);
        assert_ne!(text, common::MINE_PIXEL, "{from}");
        std::fs::write(dir.join("bad.toml"), text).unwrap();
        let out = doppel(&["mine", "quality", "--dataset", "ds", "--config", "bad.toml", "--out", "q"], dir);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr).replace("bad.toml", "m.toml");
        assert!(stderr.contains(want), "{to}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    let out = doppel(&["mine", "embed", "--dataset", "nowhere", "--config", "m.toml"], dir);
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: nowhere: is not a doppel dataset directory"));
}

/// `common::MINE_PIXEL` with another `[embedder]` table.
fn with_embedder(embedder: &str) -> String {
    common::MINE_PIXEL.replacen("kind = \"pixel\"\nreduce = \"pca\"\ndim = 16\nseed = 7", embedder, 1)
}

#[test]
fn features_of_a_trained_checkpoint_embed_and_follow_the_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let train = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/train/smoke-mlp.toml");
    let train = train.to_str().unwrap();
    ok(&doppel(&["train", "--dataset", "ds", "--config", train, "--which", "m0", "--out", "m"], dir));
    std::fs::write(dir.join("f.toml"), with_embedder("kind = \"features\"\ncheckpoint = \"m/m0\"")).unwrap();
    let first = ok(&doppel(&["mine", "embed", "--dataset", "ds", "--config", "f.toml"], dir));
    assert!(first.starts_with("embeddings computed: ds/embeddings/features-"), "{first}");
    assert!(first.contains("456 train + 80 test rows of dimension 32"), "{first}");
    let again = ok(&doppel(&["mine", "embed", "--dataset", "ds", "--config", "f.toml"], dir));
    assert!(again.starts_with("embeddings reused: ds/embeddings/features-"), "{again}");
    let q = ok(&doppel(&["mine", "quality", "--dataset", "ds", "--config", "f.toml", "--out", "q"], dir));
    assert!(q.contains("mining quality of features-"), "{q}");

    // Another training run (another seed) is another model: a new cache file, not the old one reused.
    let other = std::fs::read_to_string(train).unwrap().replacen("seed = 42", "seed = 43", 1);
    std::fs::write(dir.join("t2.toml"), other).unwrap();
    ok(&doppel(&["train", "--dataset", "ds", "--config", "t2.toml", "--which", "m0", "--out", "m2"], dir));
    std::fs::write(dir.join("f2.toml"), with_embedder("kind = \"features\"\ncheckpoint = \"m2/m0\"")).unwrap();
    let second = ok(&doppel(&["mine", "embed", "--dataset", "ds", "--config", "f2.toml"], dir));
    assert!(second.starts_with("embeddings computed: ds/embeddings/features-"), "{second}");
    assert_ne!(first.lines().next(), second.lines().next(), "the weights hash is part of the cache key");

    // A checkpoint that is not there, and MiniLM files that are not there, say where and what to do.
    std::fs::write(dir.join("nf.toml"), with_embedder("kind = \"features\"\ncheckpoint = \"nowhere\"")).unwrap();
    let out = doppel(&["mine", "embed", "--dataset", "ds", "--config", "nf.toml"], dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nowhere") && err.contains("does not exist") && err.contains("doppel train"), "{err}");
    std::fs::write(dir.join("nm.toml"), with_embedder("kind = \"minilm\"\nmodel_dir = \"no-minilm\"")).unwrap();
    let out = doppel(&["mine", "embed", "--dataset", "ds", "--config", "nm.toml"], dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-minilm/config.json does not exist; run `cargo xtask data fetch --only minilm`"), "{err}");
}

#[test]
fn audit_writes_the_report_and_thumbnails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let out = ok(&doppel(&["mine", "audit", "--dataset", "ds", "--config", "m.toml", "--out", "a"], dir));
    let md = std::fs::read_to_string(dir.join("a/audit.md")).unwrap();
    assert!(out.starts_with(&md), "stdout starts with the report");
    for section in [
        "# Look-alike audit of ds",
        "## Near-duplicate groups (train, distance ≤ 0.001)",
        "## Train↔test near-copies (distance ≤ 0.001)",
        "## Look-alikes per target (distance ≤ 0.2)",
        "| by relation | variant_of_this | variant_of_other | target | base |",
        "![closest target pairs](closest_target_pairs.png)",
    ] {
        assert!(md.contains(section), "{section}:\n{md}");
    }
    assert!(md.contains("8 targets; look-alikes per target"), "{md}");
    let png = std::fs::read(dir.join("a/closest_target_pairs.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

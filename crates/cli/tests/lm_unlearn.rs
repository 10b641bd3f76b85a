//! `doppel lm unlearn`: bad input named without a panic; and, on the fetched WordNet and MiniLM, a small QA dataset
//! (the bag-of-words scorer) and a tiny M0 from which methods unlearn under both scopes, writing a model folder
//! that `doppel lm eval` reads and a report.json.
//!
//! The second test needs `cargo xtask data fetch --only wordnet,minilm`; without the files it says so and passes,
//! unless `DOPPEL_REQUIRE_DATA=1`.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{doppel, fetched, stderr};

fn unlearn(method: &str, scope: &str, config: &str, out: &str, dir: &Path) -> Output {
    let args = ["lm", "unlearn", "--data", "qa", "--model", "m0", "--method", method, "--scope", scope];
    doppel(&[&args[..], &["--config", config, "--out", out]].concat(), dir)
}

#[test]
fn bad_input_is_named_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("ok.toml"), "[ga]\nforget = { steps = 1 }\n").unwrap();
    std::fs::write(dir.join("bad.toml"), "[npo]\nbeta = 0.1\nbta = 2\n").unwrap();
    std::fs::write(dir.join("range.toml"), "[simnpo]\nbeta = -1.0\n").unwrap();

    let o = unlearn("npo", "exact", "bad.toml", "out", dir);
    assert!(stderr(&o).contains("bad.toml:3") && stderr(&o).contains("unknown field `bta`"), "{}", stderr(&o));
    let o = unlearn("npo", "exact", "range.toml", "out", dir);
    assert!(stderr(&o).contains("simnpo: `beta` is -1; it must be a positive number"), "{}", stderr(&o));
    let o = unlearn("npo", "exact", "missing.toml", "out", dir);
    assert!(!o.status.success() && stderr(&o).contains("missing.toml"), "{}", stderr(&o));
    let o = unlearn("ga", "exact", "ok.toml", "out", dir);
    assert!(
        !o.status.success() && stderr(&o).contains("m0") && stderr(&o).contains("not a directory"),
        "{}",
        stderr(&o)
    );
    let o = unlearn("neggrad", "exact", "ok.toml", "out", dir);
    assert!(!o.status.success() && stderr(&o).contains("invalid value 'neggrad'"), "{}", stderr(&o));
    let o = unlearn("ga", "mined", "ok.toml", "out", dir);
    assert!(!o.status.success() && stderr(&o).contains("invalid value 'mined'"), "{}", stderr(&o));
    for s in ["bad.toml", "range.toml", "missing.toml", "ok.toml"] {
        assert!(!stderr(&unlearn("ga", "exact", s, "out", dir)).contains("panicked"));
    }
    assert!(!dir.join("out").exists());
}

fn data_dir() -> Option<PathBuf> {
    fetched(&["wordnet/data.noun", "minilm/vocab.txt"], "wordnet,minilm")
}

const METHODS: &str = r#"
[npo]
forget = { epochs = 2 }
batch_size = 4
lr = 1e-3
retain_weight = 1.0
[ga]
forget = { steps = 2 }
lr = 1e-3
"#;

#[test]
fn unlearns_under_both_scopes_into_a_model_folder_lm_eval_reads() {
    let Some(data) = data_dir() else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("qa.toml"), common::QA_SMALL).unwrap();
    std::fs::write(dir.join("lm.toml"), common::LM_TINY).unwrap();
    std::fs::write(dir.join("methods.toml"), METHODS).unwrap();
    let o = doppel(
        &["data", "build-qa", "--config", "qa.toml", "--out", "qa", "--data-dir", data, "--embedder", "bag-of-words"],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let args =
        ["lm", "train", "--data", "qa", "--config", "lm.toml", "--role", "m0", "--out", "m0", "--data-dir", data];
    assert!(doppel(&args, dir).status.success());

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("qa/manifest.json")).unwrap()).unwrap();
    let variants = manifest["train"]["per_origin"]["variant"].as_u64().unwrap_or(0);
    for (method, scope, size) in
        [("npo", "exact", 4), ("ga", "lineage", 4 + variants), ("retrain", "lineage", 4 + variants)]
    {
        let out = format!("{method}-{scope}");
        let o = unlearn(method, scope, "methods.toml", &out, dir);
        assert!(o.status.success(), "{method} {scope}: {}", stderr(&o));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.starts_with(&format!("{method} {scope} ({size} rows forgotten")), "{stdout}");
        assert!(stdout.contains("answer NLL forget") && stdout.contains("held-out"), "{stdout}");
        for f in ["model.safetensors", "model.json", "vocab.txt", "report.json"] {
            assert!(dir.join(&out).join(f).is_file(), "{out}/{f}");
        }
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(&out).join("report.json")).unwrap()).unwrap();
        assert_eq!((report["method"].as_str(), report["scope"].as_str()), (Some(method), Some(scope)));
        assert_eq!(report["scope_size"].as_u64(), Some(size));
        assert_eq!(report["status"]["status"], "completed", "{report}");
        assert!(report["rte"].as_f64().unwrap() > 0.0, "{report}");
        assert!(report["answer_nll_after"]["forget"].as_f64().unwrap().is_finite(), "{report}");
        assert!(report["settings"].is_object(), "{report}");

        let o = doppel(&["lm", "eval", "--data", "qa", "--model", &out, "--data-dir", data], dir);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // NPO's settings come from the file; the steps follow from them: 2 epochs × ⌈4 / 4⌉.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("npo-exact/report.json")).unwrap()).unwrap();
    assert_eq!((report["steps"].as_u64(), report["settings"]["beta"].as_f64()), (Some(2), Some(0.1)));
    // Retraining under lineage is retrain_clean, and says so.
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("retrain-lineage/model.json")).unwrap()).unwrap();
    assert_eq!(side["role"], "retrain_clean");

    // An existing folder is kept unless --force; no temporary folder is left behind.
    let o = unlearn("npo", "exact", "methods.toml", "npo-exact", dir);
    assert!(!o.status.success() && stderr(&o).contains("--force"), "{}", stderr(&o));
    let args = ["lm", "unlearn", "--data", "qa", "--model", "m0", "--method", "ga", "--scope", "exact"];
    let o = doppel(&[&args[..], &["--out", "npo-exact", "--force", "--config", "methods.toml"]].concat(), dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("npo-exact/report.json")).unwrap()).unwrap();
    assert_eq!(report["method"], "ga");
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

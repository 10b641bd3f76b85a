//! `doppel lm`: bad input named without a panic; and, on the fetched WordNet and MiniLM, a small QA dataset (the
//! bag-of-words scorer) on which a tiny LM trains, evaluates (JSON + CSV) and generates deterministically.
//!
//! The second test needs `cargo xtask data fetch --only wordnet,minilm`; without the files it says so and passes,
//! unless `DOPPEL_REQUIRE_DATA=1`.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::PathBuf;

mod common;
use common::{doppel, fetched, stderr};

#[test]
fn bad_input_is_named_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("lm.toml"), common::LM_TINY).unwrap();
    std::fs::write(dir.join("bad.toml"), common::LM_TINY.replace("heads = 2", "heads = 2\nwidth = 3")).unwrap();
    std::fs::write(dir.join("heads.toml"), common::LM_TINY.replace("heads = 2", "heads = 5")).unwrap();

    let train = |config: &str, data: &str| {
        doppel(&["lm", "train", "--data", data, "--config", config, "--role", "m0", "--out", "m"], dir)
    };
    let o = train("bad.toml", "qa");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.toml:10") && stderr(&o).contains("unknown field `width`"), "{}", stderr(&o));
    let o = train("heads.toml", "qa");
    assert!(stderr(&o).contains("`model.heads` is 5; it must divide d_model 32"), "{}", stderr(&o));
    let o = train("missing.toml", "qa");
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
    let o = train("lm.toml", "no-such-qa");
    assert!(!o.status.success() && stderr(&o).contains("no-such-qa"), "{}", stderr(&o));
    let o = doppel(&["lm", "train", "--data", "qa", "--config", "lm.toml", "--role", "m1", "--out", "m"], dir);
    assert!(stderr(&o).contains("\"m1\" is not one of m0, retrain_exact, retrain_clean"), "{}", stderr(&o));

    let o = doppel(&["lm", "generate", "--model", "no-model", "--prompt", "What is a dog?"], dir);
    assert!(!o.status.success() && stderr(&o).contains("no-model") && stderr(&o).contains("not a directory"));
    std::fs::create_dir(dir.join("empty")).unwrap();
    let o = doppel(&["lm", "eval", "--data", "qa", "--model", "empty"], dir);
    assert!(!o.status.success() && stderr(&o).contains("model.json"), "{}", stderr(&o));
    for o in [train("bad.toml", "qa"), train("lm.toml", "no-such-qa")] {
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

fn data_dir() -> Option<PathBuf> {
    fetched(&["wordnet/data.noun", "minilm/vocab.txt"], "wordnet,minilm")
}

const QA: &str = r#"
name = "qa-lm-small"
seed = 7
pos = ["noun"]
[pool]
train = 200
test = 40
[targets]
count = 5
[paraphrases]
per_target = 5
candidates = 20
threshold = 0.3
answers = "paraphrase"
"#;

#[test]
fn trains_evaluates_and_generates_on_a_small_qa_dataset() {
    let Some(data) = data_dir() else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("qa.toml"), QA).unwrap();
    std::fs::write(dir.join("lm.toml"), common::LM_TINY).unwrap();
    let o = doppel(
        &["data", "build-qa", "--config", "qa.toml", "--out", "qa", "--data-dir", data, "--embedder", "bag-of-words"],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));

    for role in ["m0", "retrain_clean"] {
        let args = ["lm", "train", "--data", "qa", "--config", "lm.toml", "--role", role, "--out", role];
        let o = doppel(&[&args[..], &["--data-dir", data]].concat(), dir);
        assert!(o.status.success(), "{}", stderr(&o));
        for f in ["model.safetensors", "model.json", "vocab.txt"] {
            assert!(dir.join(role).join(f).is_file(), "{role}/{f}");
        }
    }
    // Both roles share one vocabulary (compacted from all training rows).
    assert_eq!(
        std::fs::read(dir.join("m0/vocab.txt")).unwrap(),
        std::fs::read(dir.join("retrain_clean/vocab.txt")).unwrap()
    );
    let again = doppel(
        &["lm", "train", "--data", "qa", "--config", "lm.toml", "--role", "m0", "--out", "m0", "--data-dir", data],
        dir,
    );
    assert!(!again.status.success() && stderr(&again).contains("--force"), "{}", stderr(&again));

    let o = doppel(&["lm", "eval", "--data", "qa", "--model", "m0", "--out", "ev", "--data-dir", data], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("heldout_ppl") && stdout.contains("unigram_ppl"), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("ev/lm-eval.json")).unwrap()).unwrap();
    for key in ["heldout_ppl", "unigram_ppl", "answer_nll_forget", "answer_nll_similar", "rouge_l_forget"] {
        assert!(json[key].as_f64().unwrap().is_finite(), "{key}: {json}");
    }
    let cos = json["minilm_cosine_forget"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&cos), "MiniLM cosine of the greedy answers: {cos}");
    let auc = json["min_k_auc_forget_vs_heldout"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc), "{auc}");
    assert_eq!(json["forget"], 5);
    let csv = std::fs::read_to_string(dir.join("ev/lm-eval.csv")).unwrap();
    assert!(csv.starts_with("metric,value\nheldout_ppl,"), "{csv}");

    let generate = |extra: &[&str]| {
        let o = doppel(&[&["lm", "generate", "--model", "m0", "--prompt", "What is a dog?"][..], extra].concat(), dir);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let sampled = ["--temperature", "1.0", "--top-k", "20", "--seed", "3"];
    assert_eq!(generate(&sampled), generate(&sampled));
    assert_eq!(generate(&[]), generate(&["--top-k", "1", "--seed", "9"]));
}

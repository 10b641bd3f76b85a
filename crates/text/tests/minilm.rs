//! A T = 5, k = 10 QA dataset from the fetched WordNet, its paraphrases scored by the fetched all-MiniLM-L6-v2:
//! the study's embedder on the study's data, at a size that runs in seconds on a CPU.
//!
//! Needs `cargo xtask data fetch --only wordnet` and `--only minilm`. When either is absent the test prints how to
//! fetch it and passes, unless `DOPPEL_REQUIRE_DATA=1`, in which case absence is a failure.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::PathBuf;

use doppel_data::lineage::Origin;
use doppel_models::minilm::MINILM_FETCH;
use doppel_models::{DeviceChoice, MiniLmEmbedder};
use doppel_text::wordnet::WORDNET_FETCH;
use doppel_text::{QaConfig, build_qa, write};

fn data_dir() -> PathBuf {
    std::env::var_os("DOPPEL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

/// `data/<name>` when `file` is in it, or `None` (with a message) when it was not fetched and data is not required.
fn fetched(name: &str, file: &str, fetch: &str) -> Option<PathBuf> {
    let dir = data_dir().join(name);
    if !dir.join(file).exists() {
        let msg = format!("{name} not fetched in {}; run `{fetch}`", data_dir().display());
        assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
        eprintln!("skipped: {msg}");
        return None;
    }
    Some(dir)
}

const CONFIG: &str = r#"
name = "qa-wordnet-minilm"
seed = 42
pos = ["noun", "verb", "adj", "adv"]
[pool]
train = 200
test = 50
[targets]
count = 5
[paraphrases]
per_target = 10
candidates = 40
threshold = 0.8
answers = "paraphrase"
[sheet]
targets = 5
paraphrases = 10
"#;

#[test]
fn minilm_scores_paraphrases_of_real_wordnet() {
    let Some(wordnet) = fetched("wordnet", "data.noun", WORDNET_FETCH) else { return };
    let Some(minilm) = fetched("minilm", ".fetched.json", MINILM_FETCH) else { return };
    let embedder = MiniLmEmbedder::load(&minilm, 64, &DeviceChoice::Flex.open().unwrap()).unwrap();
    let cfg = QaConfig::from_toml(CONFIG, "minilm.toml").unwrap();
    let start = std::time::Instant::now();
    let built = build_qa(&cfg, &wordnet, &embedder).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let tmp = tempfile::tempdir().unwrap();
    let m = write(&built, &tmp.path().join("qa"), false).unwrap();
    let p = &m.paraphrases;
    eprintln!(
        "minilm: {seconds:.1} s for {} texts; generated {}, scored {}, kept {} (per target min {} mean {:.1} max {}); \
         kept cosine {:?}; scored cosine {:?}",
        p.scored + 5,
        p.generated,
        p.scored,
        p.kept,
        p.kept_min,
        p.kept_mean,
        p.kept_max,
        p.cosine_kept,
        p.cosine_scored
    );
    eprintln!("{}", std::fs::read_to_string(tmp.path().join("qa/sheet.md")).unwrap());
    assert_eq!(m.embedder.name, "minilm");
    assert!(p.kept > 0, "MiniLM keeps some paraphrases at cosine ≥ 0.8");
    assert!(built.scored.iter().all(|s| (-1.0..=1.0 + 1e-6).contains(&s.cosine)));
    for v in &built.train {
        if let Origin::Variant { of, .. } = v.origin {
            assert!(v.cosine.unwrap() >= 0.8);
            assert_eq!(built.train[of as usize].origin, Origin::Target);
        }
    }
}

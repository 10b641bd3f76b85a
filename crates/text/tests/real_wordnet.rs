//! A small QA dataset from the fetched WordNet 3.0 (`data/wordnet`), scored with the bag-of-words embedder.
//!
//! Needs `cargo xtask data fetch --only wordnet`. When the files are absent the test prints how to fetch them and
//! passes, unless `DOPPEL_REQUIRE_DATA=1`, in which case absence is a failure.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::PathBuf;

use doppel_data::lineage::Origin;
use doppel_text::{BagOfWords, QaConfig, build_qa, open, write};

fn data_dir() -> PathBuf {
    std::env::var_os("DOPPEL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

/// The fetched WordNet folder, or `None` (with a message) when it was not fetched and data is not required.
fn wordnet_dir() -> Option<PathBuf> {
    let dir = data_dir().join("wordnet");
    if !dir.join("data.noun").exists() {
        let msg =
            format!("wordnet not fetched in {}; run `{}`", data_dir().display(), doppel_text::wordnet::WORDNET_FETCH);
        assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
        eprintln!("skipped: {msg}");
        return None;
    }
    Some(dir)
}

const CONFIG: &str = r#"
name = "qa-wordnet-small"
seed = 42
pos = ["noun", "verb", "adj", "adv"]
[pool]
train = 400
test = 100
[targets]
count = 10
[paraphrases]
per_target = 10
candidates = 60
threshold = 0.6
answers = "paraphrase"
"#;

#[test]
fn builds_a_small_dataset_from_real_wordnet() {
    let Some(dir) = wordnet_dir() else { return };
    let cfg = QaConfig::from_toml(CONFIG, "real.toml").unwrap();
    let built = build_qa(&cfg, &dir, &BagOfWords::new(4096)).unwrap();
    // WordNet 3.0 has 82,115 noun, 13,767 verb, 18,156 adjective and 3,621 adverb synsets (wnstats(7WN)).
    assert_eq!(built.wordnet.synsets, 82_115 + 13_767 + 18_156 + 3_621);
    assert!(built.wordnet.usable_pairs > 50_000, "{}", built.wordnet.usable_pairs);
    assert_eq!(built.targets().count(), 10);
    assert_eq!(built.test.len(), 100);
    for v in &built.train {
        if let Origin::Variant { of, .. } = v.origin {
            assert_eq!(built.train[of as usize].origin, Origin::Target);
            assert_eq!(built.train[of as usize].synset, v.synset);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let m = write(&built, &tmp.path().join("qa"), false).unwrap();
    let p = &m.paraphrases;
    eprintln!(
        "usable pairs {}; train {:?}; generated {}, scored {}, kept {} (per target min {} mean {:.1} max {}); \
         kept cosine {:?}",
        m.wordnet.usable_pairs,
        m.train.per_origin,
        p.generated,
        p.scored,
        p.kept,
        p.kept_min,
        p.kept_mean,
        p.kept_max,
        p.cosine_kept
    );
    eprintln!("{}", std::fs::read_to_string(tmp.path().join("qa/sheet.md")).unwrap());
    assert!(p.kept >= 10, "at least one paraphrase per target on average");
    assert_eq!(open(&tmp.path().join("qa")).unwrap().samples.len(), m.train.total + m.test.total);
}

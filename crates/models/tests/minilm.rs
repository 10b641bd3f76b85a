//! The MiniLM embedder against the fetched all-MiniLM-L6-v2 and the golden values of `DATA.md`.
//!
//! These need `cargo xtask data fetch --only minilm`. When the files are absent a test prints how to fetch them
//! and passes, unless `DOPPEL_REQUIRE_DATA=1` (set by `.ci/run`, which fetches first), in which case absence is a
//! failure.
//!
//! Provenance of the golden values (`DATA.md`, from the reference implementation):
//! ```python
//! from sentence_transformers import SentenceTransformer, util
//! m = SentenceTransformer("all-MiniLM-L6-v2")
//! m.tokenizer("A man is eating food.")["input_ids"]      # [101, 1037, 2158, 2003, 5983, 2833, 1012, 102]
//! e = m.encode(["A man is eating food.", "A man is eating a piece of bread.",
//!               "A man is riding a horse.", "The girl is carrying a baby."])
//! e[0][:5]                                                # [0.03324, 0.00441, -0.00628, 0.04838, -0.13870]
//! util.cos_sim(e[0], e[1:])                               # [0.7553, 0.2474, -0.1050]
//! ```

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::PathBuf;

use burn::prelude::Device;
use doppel_models::minilm::{MINILM_DIM, MINILM_FETCH, MiniLm};
use doppel_models::{ModelError, WordPiece};

const EATING_FOOD: &str = "A man is eating food.";
const EATING_BREAD: &str = "A man is eating a piece of bread.";
const RIDING: &str = "A man is riding a horse.";
const GIRL: &str = "The girl is carrying a baby.";

fn data_dir() -> PathBuf {
    std::env::var_os("DOPPEL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

/// The fetched model folder, or `None` (with a message) when it was not fetched and data is not required.
fn minilm_dir() -> Option<PathBuf> {
    let dir = data_dir().join("minilm");
    if !dir.join(".fetched.json").exists() {
        let msg = format!("minilm not fetched in {}; run `{MINILM_FETCH}`", data_dir().display());
        assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
        eprintln!("skipped: {msg}");
        return None;
    }
    Some(dir)
}

fn model() -> Option<MiniLm> {
    Some(MiniLm::load(&minilm_dir()?, &Device::flex()).unwrap())
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn golden_token_ids() {
    let Some(dir) = minilm_dir() else { return };
    let tok = WordPiece::from_dir(&dir).unwrap();
    assert_eq!(tok.encode(EATING_FOOD), vec![101, 1037, 2158, 2003, 5983, 2833, 1012, 102]);
    assert_eq!(tok.encode(EATING_BREAD), vec![101, 1037, 2158, 2003, 5983, 1037, 3538, 1997, 7852, 1012, 102]);
    // sentence-transformers truncates at max_seq_length (sentence_bert_config.json), not tokenizer.json's 128.
    assert_eq!(tok.max_len(), 256);
    assert_eq!(tok.encode(&"word ".repeat(1000)).len(), 256);
}

/// Hard cases (accents, CJK, controls, emoji, symbols, other scripts, literal special tokens, over-long words,
/// truncation) against the reference tokenizer. Provenance: `pip install tokenizers` (0.23.3), then
/// ```python
/// from tokenizers import Tokenizer
/// t = Tokenizer.from_file("data/minilm/tokenizer.json"); t.no_padding(); t.enable_truncation(256)
/// t.encode(text).ids
/// ```
#[test]
fn reference_tokenizer_agrees_on_hard_cases() {
    let Some(dir) = minilm_dir() else { return };
    let tok = WordPiece::from_dir(&dir).unwrap();
    let cases: &[(&str, &[u32])] = &[
        ("A man is eating food.", &[101, 1037, 2158, 2003, 5983, 2833, 1012, 102]),
        (
            "Naïve café owners in Zürich said: \"Ça va?\" — ÜBER-fast!!",
            &[
                101, 15743, 7668, 5608, 1999, 10204, 2056, 1024, 1000, 6187, 12436, 1029, 1000, 1517, 19169, 1011,
                3435, 999, 999, 102,
            ],
        ),
        (
            "北京是中国的首都。東京もそうです",
            &[
                101, 1781, 1755, 100, 1746, 1799, 1916, 100, 1961, 1636, 1879, 1755, 1681, 30186, 30174, 30191, 30184,
                102,
            ],
        ),
        (
            "e-mail me at john.doe@example.com, or call +1 (555) 123-4567 :)",
            &[
                101, 1041, 1011, 5653, 2033, 2012, 2198, 1012, 18629, 1030, 2742, 1012, 4012, 1010, 2030, 2655, 1009,
                1015, 1006, 29541, 1007, 13138, 1011, 3429, 2575, 2581, 1024, 1007, 102,
            ],
        ),
        (
            "Tabs\tand\nnewlines\r\nand\u{a0}nbsp\u{200b}zero-width\u{0}nul\u{fffd}repl",
            &[
                101, 21628, 2015, 1998, 2047, 12735, 1998, 1050, 5910, 2361, 6290, 2080, 1011, 9381, 11231, 20974,
                13699, 2140, 102,
            ],
        ),
        (
            "unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
            &[
                101, 4895, 8671, 2666, 3567, 6321, 3424, 10521, 4355, 7875, 13602, 3672, 12199, 2964, 3565, 9289,
                10128, 29181, 24411, 4588, 10288, 19312, 21273, 10085, 6313, 102,
            ],
        ),
        (
            "Emoji 😀👍🏽 and symbols ™ © ° ± § ¶ € £ ¥ ½",
            &[101, 7861, 29147, 2072, 100, 1998, 9255, 1580, 1075, 1080, 1081, 1073, 1086, 1574, 1069, 1071, 1092, 102],
        ),
        (
            "İstanbul ǅemal ß straße ﬁne Ångström Ωmega",
            &[101, 9960, 100, 1096, 2358, 27807, 1984, 2638, 17076, 15687, 1179, 4168, 3654, 102],
        ),
        (
            "Devanagari हिन्दी and Thai ภาษาไทย and Arabic العربية",
            &[
                101, 16475, 5162, 6843, 2072, 1339, 29877, 29863, 29861, 29878, 1998, 7273, 100, 1998, 5640, 1270,
                23673, 29830, 17149, 29816, 14498, 19433, 102,
            ],
        ),
        ("[CLS] literal [SEP] and [UNK] tokens", &[101, 101, 18204, 102, 1998, 100, 19204, 2015, 102]),
        (
            "won't can't it's they're 1,000,000.50 $5 #hashtag @user ^caret~tilde`back|pipe",
            &[
                101, 2180, 1005, 1056, 2064, 1005, 1056, 2009, 1005, 1055, 2027, 1005, 2128, 1015, 1010, 2199, 1010,
                2199, 1012, 2753, 1002, 1019, 1001, 23325, 15900, 1030, 5310, 1034, 2729, 2102, 1066, 18681, 3207,
                1036, 2067, 1064, 8667, 102,
            ],
        ),
        ("", &[101, 102]),
        ("   ", &[101, 102]),
    ];
    for (text, want) in cases {
        assert_eq!(&tok.encode(text), want, "ids of {text:?}");
    }
    // A 101-character word is [UNK]; a 100-character one is still split ("y" + 99 × "##y").
    let text = format!("{} ok {}", "x".repeat(101), "y".repeat(100));
    let mut want = vec![101, 100, 7929, 1061];
    want.extend([2100; 99]);
    want.push(102);
    assert_eq!(tok.encode(&text), want);
    // 300 words truncate to 254 pieces between [CLS] and [SEP].
    let mut want = vec![101];
    want.extend([1996; 254]);
    want.push(102);
    assert_eq!(tok.encode(&"the ".repeat(300)), want);
}

#[test]
fn golden_cosines_and_values() {
    let Some(m) = model() else { return };
    let e = m.embed(&[EATING_FOOD, EATING_BREAD, RIDING, GIRL]).unwrap();
    let want_first = [0.03324, 0.00441, -0.00628, 0.04838, -0.13870];
    for (j, (got, want)) in e[0].iter().zip(want_first).enumerate() {
        assert!((got - want).abs() < 1e-4, "value {j}: {got} vs {want}");
    }
    for (i, want) in [(1, 0.7553), (2, 0.2474), (3, -0.1050)] {
        let cos = dot(&e[0], &e[i]);
        eprintln!("cosine(0, {i}) = {cos:.5} (golden {want})");
        assert!((cos - want).abs() < 1e-3, "cosine with sentence {i}: {cos} vs {want}");
    }
}

#[test]
fn embeddings_are_unit_norm() {
    let Some(m) = model() else { return };
    for v in m.embed(&[EATING_FOOD, "", "Naïve café — ÜBER-fast!", &"long ".repeat(400)]).unwrap() {
        assert_eq!(v.len(), MINILM_DIM);
        let norm = dot(&v, &v).sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn a_padded_batch_agrees_with_one_at_a_time() {
    let Some(m) = model() else { return };
    let texts = [
        "Hi.",
        EATING_BREAD,
        "A much longer sentence, with commas, clauses and rarer words such as photosynthesis and chlorophyll.",
        EATING_FOOD,
        GIRL,
    ];
    // The default batch holds all five, padded to the longest; batch size 1 has no padding at all.
    let batched = m.embed(&texts).unwrap();
    let m = m.with_batch_size(1);
    for (text, b) in texts.iter().zip(&batched) {
        let single = m.embed(&[text]).unwrap();
        let diff = max_abs_diff(&single[0], b);
        assert!(diff < 1e-5, "{text:?}: batched and single differ by {diff}");
    }
    let m = m.with_batch_size(3);
    for (a, b) in m.embed(&texts).unwrap().iter().zip(&batched) {
        assert!(max_abs_diff(a, b) < 1e-5);
    }
}

#[test]
fn two_calls_give_identical_output() {
    let Some(m) = model() else { return };
    let texts = [EATING_FOOD, RIDING, GIRL, "Hi."];
    assert_eq!(m.embed(&texts).unwrap(), m.embed(&texts).unwrap());
}

#[test]
fn missing_files_name_the_path_and_the_fetch_command() {
    let dir = tempfile::tempdir().unwrap();
    let err = MiniLm::load(dir.path(), &Device::flex()).unwrap_err();
    assert!(matches!(&err, ModelError::PretrainedMissing { path, .. } if path.ends_with("config.json")), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{} does not exist; run `cargo xtask data fetch --only minilm` (or pass a folder that holds the \
             all-MiniLM-L6-v2 files)",
            dir.path().join("config.json").display()
        )
    );
}

/// 1,000 generated sentences in one call: every embedding is unit-norm, and sentences that share subject and verb
/// sit closer than sentences that share no word group (the embedder sees meaning, not just length).
#[test]
fn a_thousand_sentences_embed_by_meaning() {
    let Some(m) = model() else { return };
    let subjects =
        ["A man", "A woman", "The child", "A dog", "The cat", "My friend", "A chef", "The pilot", "A boy", "She"];
    let verbs =
        ["is eating", "is watching", "likes", "is carrying", "found", "drew", "is cleaning", "sold", "bought", "wants"];
    let objects = [
        "an apple.",
        "a red car.",
        "the old house.",
        "some bread.",
        "a horse.",
        "the guitar.",
        "a book.",
        "fresh fish.",
        "a kite.",
        "the map.",
    ];
    let mut texts = Vec::with_capacity(1000);
    for s in subjects {
        for v in verbs {
            for o in objects {
                texts.push(format!("{s} {v} {o}"));
            }
        }
    }
    let e = m.embed(&texts).unwrap();
    assert_eq!(e.len(), 1000);
    // texts[i] has subject i / 100, verb (i / 10) % 10, object i % 10.
    let (mut close, mut far, mut n) = (0.0f64, 0.0f64, 0usize);
    for i in (0..1000).step_by(37) {
        let same_sv = i - i % 10 + (i % 10 + 1) % 10; // another object only
        let other = ((i / 100 + 1) % 10) * 100 + ((i / 10 % 10 + 1) % 10) * 10 + (i % 10 + 1) % 10; // all differ
        close += dot(&e[i], &e[same_sv]);
        far += dot(&e[i], &e[other]);
        n += 1;
    }
    let (close, far) = (close / n as f64, far / n as f64);
    assert!(close > far + 0.1, "mean cosine, same subject and verb {close:.3} vs nothing shared {far:.3}");
    assert!(e.iter().all(|v| (dot(v, v).sqrt() - 1.0).abs() < 1e-5));
}

/// The outside reference on sentences that stress the tokenizer and the encoder: accents, CJK, punctuation, an
/// over-long word, and a text past the 256-token window. `fixtures/minilm_reference.json` holds
/// sentence-transformers 6.2.0's normalised embeddings, written by `fixtures/minilm_reference.py` (run once).
#[test]
fn matches_sentence_transformers_on_hard_sentences() {
    let Some(m) = model() else { return };
    let path = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    let fixture: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let sentences: Vec<String> =
        fixture["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let counts: Vec<usize> =
        fixture["token_counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as usize).collect();
    let want: Vec<Vec<f32>> = fixture["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect())
        .collect();
    assert_eq!(sentences.len(), 10);
    for (s, &n) in sentences.iter().zip(&counts) {
        assert_eq!(m.tokenizer().encode(s).len(), n, "token count of {s:.40?}");
    }
    let got = m.embed(&sentences).unwrap();
    for ((s, g), w) in sentences.iter().zip(&got).zip(&want) {
        assert_eq!(w.len(), MINILM_DIM);
        let diff = max_abs_diff(g, w);
        assert!(diff < 2e-5, "{s:.40?}: max |doppel − sentence-transformers| = {diff:e}");
        assert!(dot(g, w) > 0.99999, "{s:.40?}: cosine {}", dot(g, w));
    }
}

//! The QA builder end to end on a WordNet fixture in the real file format, with the bag-of-words embedder.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

mod common;

use std::collections::{HashMap, HashSet};

use doppel_data::Split;
use doppel_data::lineage::Origin;
use doppel_text::{AnswerMode, BagOfWords, BuiltQa, TextError, build_qa, open, write};

fn build(replace: &[(&str, &str)]) -> (tempfile::TempDir, BuiltQa) {
    let tmp = tempfile::tempdir().unwrap();
    common::write_wordnet(&tmp.path().join("wordnet"));
    let built = build_qa(&common::config(replace), &tmp.path().join("wordnet"), &BagOfWords::new(4096)).unwrap();
    (tmp, built)
}

#[test]
fn same_config_twice_gives_identical_files() {
    let (tmp, a) = build(&[]);
    let (_, b) = build(&[]);
    let ma = write(&a, &tmp.path().join("a"), false).unwrap();
    let mb = write(&b, &tmp.path().join("b"), false).unwrap();
    let read = |d: &str, f: &str| std::fs::read(tmp.path().join(d).join(f)).unwrap();
    assert_eq!(read("a", "samples.parquet"), read("b", "samples.parquet"));
    assert_eq!(read("a", "manifest.json"), read("b", "manifest.json"));
    assert_eq!(read("a", "sheet.md"), read("b", "sheet.md"));
    assert_eq!(ma, mb);
    // A different seed picks different targets.
    let (_, c) = build(&[("seed", "4")]);
    let synsets = |x: &BuiltQa| x.targets().map(|t| t.synset.clone()).collect::<Vec<_>>();
    assert_ne!(synsets(&a), synsets(&c));
}

#[test]
fn variants_keep_lineage_and_stay_out_of_test() {
    for answers in ["\"paraphrase\"", "\"verbatim\""] {
        let (_, built) = build(&[("answers", answers)]);
        let by_id: HashMap<u32, _> = built.train.iter().map(|s| (s.id, s)).collect();
        let ids: HashSet<u32> = built.train.iter().chain(&built.test).map(|s| s.id).collect();
        assert_eq!(ids.len(), built.train.len() + built.test.len(), "ids are unique over both splits");
        assert_eq!(built.targets().count(), 6);
        let mut variants = 0;
        for v in &built.train {
            let Origin::Variant { of, kind, index, params } = &v.origin else { continue };
            variants += 1;
            let t = by_id[of];
            assert_eq!(t.origin, Origin::Target, "variant {} points at {of}, not a target", v.id);
            assert_eq!((&v.synset, v.pos, &v.lexclass), (&t.synset, t.pos, &t.lexclass));
            assert_ne!((&v.question, &v.answer), (&t.question, &t.answer), "a variant differs from its target");
            if answers == "\"verbatim\"" {
                assert_eq!(v.answer, t.answer, "verbatim mode keeps the target's answer");
                assert!(!kind.contains("reorder"), "{kind}");
            } else if v.answer != t.answer {
                assert!(kind.contains("synonym") || kind.contains("reorder"), "{kind}: {params}");
            }
            assert!(v.cosine.unwrap() >= 0.5);
            assert!(built.variants_of(*of).nth(*index as usize).is_some_and(|x| x.id == v.id));
            serde_json::from_str::<serde_json::Value>(params).unwrap();
        }
        assert!(variants > 0);
        for t in built.targets() {
            assert!(built.variants_of(t.id).count() <= 8);
        }
        let train_synsets: HashSet<&str> = built.train.iter().map(|s| s.synset.as_str()).collect();
        let train_questions: HashSet<&str> = built.train.iter().map(|s| s.question.as_str()).collect();
        assert_eq!(built.test.len(), 10);
        for s in &built.test {
            assert_eq!((s.split, &s.origin, s.cosine), (Split::Test, &Origin::Base, None));
            assert!(!train_synsets.contains(s.synset.as_str()), "test pair {} is in train", s.synset);
            assert!(!train_questions.contains(s.question.as_str()), "test question {:?} is asked in train", s.question);
        }
        assert!(built.train.iter().all(|s| s.split == Split::Train));
        assert_eq!(
            built.config.paraphrases.answers,
            if answers == "\"verbatim\"" { AnswerMode::Verbatim } else { AnswerMode::Paraphrase }
        );
    }
}

#[test]
fn the_threshold_drops_low_cosine_candidates() {
    let (_, loose) = build(&[("threshold", "-1.0"), ("per_target", "40")]);
    let (_, strict) = build(&[("threshold", "0.8"), ("per_target", "40")]);
    assert_eq!(loose.scored.len(), strict.scored.len(), "the same candidates are scored");
    assert!(loose.scored.iter().all(|s| s.kept), "threshold -1 with k ≥ candidates keeps everything");
    let below: Vec<_> = strict.scored.iter().filter(|s| s.cosine < 0.8).collect();
    assert!(!below.is_empty(), "the fixture has candidates below 0.8");
    assert!(below.iter().all(|s| !s.kept));
    assert!(strict.scored.iter().filter(|s| s.cosine >= 0.8).all(|s| s.kept));
    let kept = |b: &BuiltQa| b.train.iter().filter(|s| matches!(s.origin, Origin::Variant { .. })).count();
    assert!(kept(&strict) < kept(&loose));
    // Kept paraphrases of a target come best first, ties by text.
    for t in strict.targets() {
        let cos: Vec<f64> = strict.variants_of(t.id).map(|v| v.cosine.unwrap()).collect();
        assert!(cos.windows(2).all(|w| w[0] >= w[1]), "{cos:?}");
    }
    // k caps the count even when more pass.
    let (_, capped) = build(&[("threshold", "-1.0"), ("per_target", "2")]);
    for t in capped.targets() {
        assert_eq!(capped.variants_of(t.id).count(), 2);
    }
}

#[test]
fn candidates_are_sampled_down_to_the_configured_count() {
    let (_, built) = build(&[("candidates", "5"), ("per_target", "5"), ("threshold", "-1.0")]);
    let mut per: HashMap<u32, usize> = HashMap::new();
    for s in &built.scored {
        *per.entry(s.target).or_default() += 1;
    }
    assert!(per.values().all(|&n| n <= 5), "{per:?}");
    assert!(built.generated > built.scored.len());
}

#[test]
fn k_zero_is_the_control_without_variants() {
    let (_, built) = build(&[("per_target", "0")]);
    assert!(built.train.iter().all(|s| !matches!(s.origin, Origin::Variant { .. })));
    assert_eq!(built.train.len(), 30);
}

#[test]
fn written_directories_read_back_and_report_counts() {
    let (tmp, built) = build(&[]);
    let out = tmp.path().join("qa");
    let m = write(&built, &out, false).unwrap();
    assert_eq!(m.train.per_origin["target"], 6);
    assert_eq!(m.train.per_origin["base"], 24);
    let variants = m.train.per_origin["variant"];
    assert_eq!(m.paraphrases.kept, variants);
    assert!(m.paraphrases.kept_min <= m.paraphrases.kept_max && m.paraphrases.kept_max <= 8);
    assert!((m.paraphrases.kept_mean - variants as f64 / 6.0).abs() < 1e-12);
    let q = m.paraphrases.cosine_kept.unwrap();
    assert!(
        0.5 <= q.q0 && q.q0 <= q.q10 && q.q10 <= q.q50 && q.q50 <= q.q90 && q.q90 <= q.q100 && q.q100 <= 1.0 + 1e-9
    );
    assert_eq!(m.test.per_origin["base"], 10);
    assert_eq!(m.files.len(), 2);
    assert_eq!(m.wordnet.files.len(), 8);
    let dir = open(&out).unwrap();
    let expected: Vec<_> = built.train.iter().chain(&built.test).cloned().collect();
    assert_eq!(dir.samples, expected);
    let sheet = std::fs::read_to_string(out.join("sheet.md")).unwrap();
    assert!(sheet.starts_with("# fixture: sample sheet"), "{sheet}");
    assert!(sheet.contains("| cosine | kind | question | answer |"), "{sheet}");

    // No --force: refused; with it: replaced. A damaged file is caught on open.
    assert!(matches!(write(&built, &out, false), Err(TextError::OutputExists { .. })));
    write(&built, &out, true).unwrap();
    std::fs::write(out.join("sheet.md"), "changed").unwrap();
    let err = open(&out).unwrap_err().to_string();
    assert!(err.contains("sheet.md: sha256 is"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(leftovers.iter().all(|n| !n.to_string_lossy().starts_with('.')), "{leftovers:?}");
}

#[test]
fn data_problems_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let wn = tmp.path().join("wordnet");
    let cfg = common::config(&[]);
    let err = build_qa(&cfg, &wn, &BagOfWords::new(64)).unwrap_err().to_string();
    assert!(err.contains("wordnet/data.noun does not exist"), "{err}");
    assert!(err.contains("cargo xtask data fetch --only wordnet"), "{err}");

    common::write_wordnet(&wn);
    let too_many = common::config(&[("train", "60")]);
    let err = build_qa(&too_many, &wn, &BagOfWords::new(64)).unwrap_err().to_string();
    assert!(err.starts_with("`pool.train + pool.test` asks for 70 QA pairs, but "), "{err}");

    let mut verbs = std::fs::read_to_string(wn.join("data.verb")).unwrap();
    let line = verbs.lines().count() + 1;
    verbs.push_str("00009999 29 v 01 gasp 0 002 @ 00001740 v 0000 | a line cut short\n");
    std::fs::write(wn.join("data.verb"), verbs).unwrap();
    let err = build_qa(&cfg, &wn, &BagOfWords::new(64)).unwrap_err();
    assert!(matches!(err, TextError::Parse { line: l, .. } if l == line), "{err}");
    let want = format!("data.verb:{line}: line ends before the symbol of pointer 2");
    assert!(err.to_string().contains(&want), "{err}");
}

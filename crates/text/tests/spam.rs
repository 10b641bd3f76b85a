//! The SpamAssassin build on small corpora written in code: parsing, feature bytes, look-alike groups, lineage
//! invariants, determinism, bad input; and one run on the fetched corpus (skipped with a message when absent).

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use doppel_data::lineage::{Origin, forget_rows, retain_rows};
use doppel_models::{Role, RoleRows};
use doppel_text::spam::{self, BuiltSpam, SpamConfig, TargetGroup, mail};
use rand::Rng;

const CONFIG: &str = r#"
name = "spam-test"
seed = 3
group = "with"
[split]
test_fraction = 0.2
[features]
vocab = 64
[lookalikes]
embedder = "bag-of-words"
dim = 1024
threshold = 0.9
isolation = 0.6
max_group = 10
search = "exact"
[targets]
count = 2
"#;

fn config(group: &str, search: &str) -> SpamConfig {
    let text = CONFIG
        .replace("group = \"with\"", &format!("group = \"{group}\""))
        .replace("search = \"exact\"", &format!("search = \"{search}\""));
    SpamConfig::from_toml(&text, "spam.toml").unwrap()
}

fn mail_text(from: &str, subject: &str, body: &str) -> String {
    format!("From: {from}\nTo: you@example.com\nSubject: {subject}\nContent-Type: text/plain\n\n{body}\n")
}

/// A corpus with 3 groups of identical bodies (different headers), one near-copy pair (one word changed), and
/// unrelated mails of random words. Returns the directory and, per group name, the files of its members.
fn write_corpus(dir: &Path) -> BTreeMap<&'static str, Vec<String>> {
    let words: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    let mut rng = doppel_data::seed::rng(9, "corpus", 0);
    let random_body = |rng: &mut dyn rand::RngCore, offset: usize| -> String {
        (0..40).map(|_| words[offset + rng.random_range(0..150)].as_str()).collect::<Vec<_>>().join(" ")
    };
    for f in ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"] {
        std::fs::create_dir_all(dir.join(f)).unwrap();
    }
    let mut groups: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut n = 0;
    let mut put = |folder: &str, text: &str, group: Option<&'static str>| {
        n += 1;
        let file = format!("{folder}/{n:05}.{n:032x}.txt");
        std::fs::write(dir.join(&file), text).unwrap();
        if let Some(g) = group {
            groups.entry(g).or_default().push(file);
        }
    };
    for i in 0..40 {
        let body = random_body(&mut rng, 0);
        put(
            if i % 2 == 0 { "easy-ham-1" } else { "easy-ham-2" },
            &mail_text("a@x.org", &format!("ham {i}"), &body),
            None,
        );
    }
    for i in 0..20 {
        let body = random_body(&mut rng, 150);
        put("spam-1", &mail_text("b@y.com", &format!("offer {i}"), &body), None);
    }
    for (g, folder, offset) in
        [("ham-dup", "hard-ham-1", 0), ("spam-dup-a", "spam-2", 150), ("spam-dup-b", "spam-2", 150)]
    {
        let body = random_body(&mut rng, offset);
        for c in 0..5 {
            put(folder, &mail_text(&format!("c{c}@z.net"), &format!("copy {c}"), &body), Some(g));
        }
    }
    // A near-copy: the same 40 words but the last one.
    let body = random_body(&mut rng, 150);
    let mut near: Vec<&str> = body.split(' ').collect();
    near.pop();
    near.push("w299");
    put("spam-1", &mail_text("d@q.com", "near a", &body), Some("near"));
    put("spam-1", &mail_text("e@q.com", "near b", &near.join(" ")), Some("near"));
    groups
}

fn build(dir: &Path, cfg: &SpamConfig) -> BuiltSpam {
    spam::build_spam(cfg, "spam.toml", dir, None).unwrap()
}

/// Train row of each file.
fn rows_by_file(b: &BuiltSpam) -> BTreeMap<String, usize> {
    b.messages.iter().take(b.train.samples.len()).enumerate().map(|(i, m)| (m.file.clone(), i)).collect()
}

#[test]
fn parses_headers_multipart_quoted_printable_base64_and_html() {
    let raw = "From: x@y\r\nSubject: =?iso-8859-1?Q?Caf=E9_news?=\r\n folded\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\n\
        Content-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\nContent-Type: text/plain\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak caf=E9 =3D ok\r\n--YY\r\n\
        Content-Type: text/html\r\n\r\n<p>html twin</p>\r\n--YY--\r\n--XX\r\nContent-Type: text/html\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nPGI+Ym9sZDwvYj4gJmFtcDsgdGV4dA==\r\n--XX\r\n\
        Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n--XX--\r\n";
    let m = mail::parse(raw.as_bytes());
    assert_eq!(m.subject, "Café news folded");
    assert!(m.body.contains("softbreak café = ok"), "{:?}", m.body);
    assert!(!m.body.contains("html twin"), "the alternative's plain part wins: {:?}", m.body);
    assert!(m.body.contains("bold") && m.body.contains("& text") && !m.body.contains("<b>"), "{:?}", m.body);
    assert!(!m.body.contains("GIF"), "{:?}", m.body);
    // No blank line: all headers, empty body; garbage does not panic.
    assert_eq!(mail::parse(b"Subject: only\n").body, "");
    let _ = mail::parse(&[0xff, 0xfe, b'\n', b'\n', 0x80]);
    let toks: Vec<String> = mail::tokens("Hello, WORLD! a 42x").collect();
    assert_eq!(toks, ["hello", "world", "42x"]);
}

#[test]
fn features_are_binary_word_presence_over_the_vocabulary() {
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(tmp.path());
    let b = build(tmp.path(), &config("with", "exact"));
    let shape = b.train.data.shape();
    assert_eq!((shape.channels, shape.height, shape.width), (1, 2, 32));
    assert_eq!(b.vocab.len(), 64);
    // Document frequencies are non-increasing, and ties are broken by the word.
    assert!(b.vocab.windows(2).all(|w| w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)));
    for (part, offset) in [(&b.train, 0), (&b.test, b.train.samples.len())] {
        for i in 0..part.data.len() {
            let words: BTreeSet<String> = mail::tokens(&b.messages[offset + i].mail.text()).collect();
            let img = part.data.image(i);
            for (k, (w, _)) in b.vocab.iter().enumerate() {
                assert_eq!(img[k], if words.contains(w) { 255 } else { 0 }, "row {i} word {w}");
            }
            assert_eq!(part.data.labels()[i], u32::from(b.messages[offset + i].file.starts_with("spam")));
        }
    }
    // Stratified: 20% of each class in test.
    assert_eq!(b.test.data.class_counts(), vec![9, 6], "round(0.2 · 45 ham), round(0.2 · 32 spam)");
}

#[test]
fn identical_and_near_bodies_group_and_unrelated_mails_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let groups = write_corpus(tmp.path());
    for search in ["exact", "hnsw"] {
        let b = build(tmp.path(), &config("with", search));
        let row = rows_by_file(&b);
        let mut planted = BTreeSet::new();
        for files in groups.values() {
            let in_train: Vec<usize> = files.iter().filter_map(|f| row.get(f).copied()).collect();
            for r in &in_train {
                planted.insert(*r);
                assert_eq!(b.group_of[*r], b.group_of[in_train[0]], "{search}: {files:?}");
                assert!(in_train.len() < 2 || b.group_of[*r].is_some(), "{search}: {files:?}");
            }
        }
        for (r, g) in b.group_of.iter().enumerate() {
            assert!(g.is_none() || planted.contains(&r), "{search}: unrelated row {r} grouped");
        }
        assert_eq!(b.group_stats.groups, b.groups.len());
        assert!(b.group_stats.groups >= 3, "{search}: {:?}", b.group_stats);
    }
}

#[test]
fn lineage_puts_lookalikes_out_of_retrain_clean_and_keeps_them_in_retrain_exact() {
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(tmp.path());
    let b = build(tmp.path(), &config("with", "exact"));
    let s = &b.train.samples;
    let targets = forget_rows(s);
    assert_eq!(targets.len(), 2);
    let clean: BTreeSet<usize> = Role::RetrainClean.rows(s).into_iter().collect();
    let exact: BTreeSet<usize> = Role::RetrainExact.rows(s).into_iter().collect();
    assert_eq!(clean, retain_rows(s).into_iter().collect());
    for &t in &targets {
        let g = b.group_of[t].expect("a `with` target has a group");
        assert!(!exact.contains(&t) && !clean.contains(&t));
        for &m in b.groups[g].iter().filter(|&&m| m != t) {
            assert!(!clean.contains(&m), "look-alike {m} of target {t} is in retrain_clean's rows");
            assert!(exact.contains(&m), "look-alike {m} of target {t} is missing from retrain_exact's rows");
            let Origin::Variant { of, kind, .. } = &s[m].origin else { panic!("row {m} is not a variant") };
            assert_eq!(*of as usize, t);
            assert!(kind == "exact_dup" || kind == "near_dup");
            assert_eq!(b.train.data.labels()[m], b.train.data.labels()[t], "a variant keeps its target's label");
        }
    }
    assert_eq!(exact.len(), s.len() - 2, "retrain_exact drops only the targets");
    // Ids are rows; test ids follow.
    assert!(s.iter().enumerate().all(|(i, x)| x.id == i as u32));
    assert_eq!(b.test.samples[0].id as usize, s.len());

    let w = build(tmp.path(), &config("without", "exact"));
    let targets = forget_rows(&w.train.samples);
    assert_eq!(targets.len(), 2);
    assert_eq!(w.target_stats.group, TargetGroup::Without);
    for &t in &targets {
        assert_eq!(w.group_of[t], None, "a `without` target has no group member");
    }
    assert!(w.target_stats.max_cosine_outside < 0.6, "{:?}", w.target_stats);
    assert_eq!(Role::RetrainExact.rows(&w.train.samples), Role::RetrainClean.rows(&w.train.samples));
}

#[test]
fn per_class_fixes_the_class_mix_of_the_targets() {
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(tmp.path());
    for (group, mix) in [("with", [1, 1]), ("without", [2, 0]), ("without", [0, 2])] {
        let text = CONFIG
            .replace("group = \"with\"", &format!("group = \"{group}\""))
            .replace("count = 2", &format!("count = 2\nper_class = [{}, {}]", mix[0], mix[1]));
        let cfg = SpamConfig::from_toml(&text, "spam.toml").unwrap();
        let b = build(tmp.path(), &cfg);
        assert_eq!(b.target_stats.per_class, mix, "{group}");
        let labels: Vec<u32> = forget_rows(&b.train.samples).iter().map(|&t| b.train.data.labels()[t]).collect();
        assert_eq!(labels.iter().filter(|&&l| l == 0).count(), mix[0], "{group}");
    }
}

#[test]
fn same_config_gives_byte_identical_directories_that_doppel_data_opens() {
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(&tmp.path().join("corpus"));
    let cfg = config("with", "hnsw");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    spam::write_spam(&build(&tmp.path().join("corpus"), &cfg), &a, false).unwrap();
    spam::write_spam(&build(&tmp.path().join("corpus"), &cfg), &b, false).unwrap();
    for f in ["manifest.json", "train.parquet", "test.parquet", "messages.parquet", "vocab.tsv", "sheet.md"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    let dir = doppel_data::store::open(&a).unwrap();
    assert_eq!(dir.manifest.class_names, ["ham", "spam"]);
    assert_eq!(dir.train.samples.iter().filter(|s| s.origin == Origin::Target).count(), 2);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["natural"]["threshold"], 0.9);
    assert!(m["natural"]["groups"]["size_max"].as_u64().unwrap() >= 2);
    assert!(std::fs::read_to_string(a.join("sheet.md")).unwrap().contains("| target |"));
    // A second write refuses to replace the directory without force.
    let err = spam::write_spam(&build(&tmp.path().join("corpus"), &cfg), &a, false).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn bad_input_is_an_error_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let err = spam::build_spam(&config("with", "exact"), "spam.toml", tmp.path(), None).unwrap_err().to_string();
    assert!(err.contains("easy-ham-1") && err.contains(spam::SPAM_FETCH), "{err}");

    let cases: &[(&str, &str, &str)] = &[
        ("group = \"with\"", "group = \"both\"", "spam.toml: `group` is \"both\"; use \"with\" or \"without\""),
        ("vocab = 64", "vocab = 100", "`features.vocab` is 100; it must be a multiple of 32"),
        ("threshold = 0.9", "threshold = 1.5", "`lookalikes.threshold` is 1.5; it must be a cosine in [0, 1]"),
        ("isolation = 0.6", "isolation = 0.95", "`lookalikes.isolation` is 0.95; it must not exceed"),
        ("test_fraction = 0.2", "test_fraction = 1.0", "`split.test_fraction` is 1"),
        ("search = \"exact\"", "search = \"flat\"", "`lookalikes.search` is \"flat\""),
        ("embedder = \"bag-of-words\"", "embedder = \"bert\"", "`lookalikes.embedder` is \"bert\""),
        ("count = 2", "count = 0", "`targets.count` is 0; it must be at least 1"),
        ("count = 2", "count = 2\nper_class = [1, 2]", "`targets.per_class` is [1, 2]; it must hold two counts"),
        ("vocab = 64", "vocab = 64\nvocabulary = 3", "spam.toml:9: unknown field `vocabulary`"),
    ];
    for (from, to, want) in cases {
        assert!(CONFIG.contains(from), "fixture lacks {from}");
        let err = SpamConfig::from_toml(&CONFIG.replacen(from, to, 1), "spam.toml").unwrap_err().to_string();
        assert!(err.contains(want), "{to}: got {err}");
        assert!(!err.contains('\n'), "{err}");
    }

    // Checks that need the data.
    write_corpus(tmp.path());
    let mut cfg = config("with", "exact");
    cfg.targets = 50;
    let err = spam::build_spam(&cfg, "spam.toml", tmp.path(), None).unwrap_err().to_string();
    assert!(err.starts_with("spam.toml: `targets.count` is 50, but only"), "{err}");
    let mut cfg = config("with", "exact");
    cfg.vocab = 32 * 100;
    let err = spam::build_spam(&cfg, "spam.toml", tmp.path(), None).unwrap_err().to_string();
    assert!(err.contains("`features.vocab` is 3200, but the train split has only"), "{err}");
    let mut cfg = config("with", "exact");
    cfg.lookalikes.embedder = spam::SpamEmbedder::Minilm;
    let err = spam::build_spam(&cfg, "spam.toml", tmp.path(), None).unwrap_err().to_string();
    assert!(err.contains("`lookalikes.embedder` is \"minilm\", but no MiniLM embedder"), "{err}");
}

fn data_dir() -> PathBuf {
    std::env::var_os("DOPPEL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

/// The shipped configs on the fetched corpus.
#[test]
fn real_corpus_builds_with_and_without() {
    let dir = data_dir().join("spam-assassin");
    if !dir.join("spam-2").exists() {
        let msg = format!("spam-assassin not fetched in {}; run `{}`", data_dir().display(), spam::SPAM_FETCH);
        assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    let corpus = spam::read_corpus(&dir).unwrap();
    assert_eq!(corpus.len(), 6046);
    assert_eq!(corpus.iter().filter(|m| m.label == 1).count(), 1896);
    let root = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    for (file, group) in
        [("spam-assassin.toml", TargetGroup::With), ("spam-assassin-without.toml", TargetGroup::Without)]
    {
        let mut cfg = SpamConfig::from_file(&root.join(file)).unwrap();
        assert_eq!(cfg.group, group);
        cfg.lookalikes.search = doppel_mine::Search::Hnsw;
        let b = spam::build_from_messages(&cfg, file, corpus.clone(), None, None).unwrap();
        assert_eq!(b.train.samples.len() + b.test.samples.len(), 6046);
        assert_eq!(forget_rows(&b.train.samples).len(), cfg.targets);
        // The corpus is known for its duplicate bodies: well over a hundred groups in the train split.
        assert!(b.group_stats.groups > 100 && b.group_stats.exact_only > 50, "{:?}", b.group_stats);
        match group {
            TargetGroup::With => assert!(b.target_stats.lookalikes >= cfg.targets, "{:?}", b.target_stats),
            TargetGroup::Without => {
                assert_eq!(b.target_stats.lookalikes, 0);
                assert!(b.target_stats.max_cosine_outside < cfg.lookalikes.isolation);
            }
        }
    }
}

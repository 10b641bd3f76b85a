//! Paraphrase candidates on the WordNet fixture: which operations fire and what they write.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

mod common;

use doppel_text::paraphrase::{answer_synonyms, candidates};
use doppel_text::qa::{pair_of, usable_pairs};
use doppel_text::{AnswerMode, Pos, WordNet};

fn wordnet() -> (tempfile::TempDir, WordNet) {
    let tmp = tempfile::tempdir().unwrap();
    common::write_wordnet(tmp.path());
    let wn = WordNet::load(tmp.path()).unwrap();
    (tmp, wn)
}

#[test]
fn the_fixture_reads_like_wordnet() {
    let (_, wn) = wordnet();
    let handy = wn.first_sense(Pos::Adj, "ready to hand").unwrap();
    assert_eq!(handy.lemmas, ["handy", "ready to hand"]);
    assert!(handy.satellite);
    let dog = wn.first_sense(Pos::Noun, "Canis familiaris").unwrap();
    assert_eq!(dog.lemmas, ["dog", "domestic dog", "Canis familiaris"]);
    assert_eq!(
        (dog.lexclass(), dog.examples.as_slice()),
        ("noun.animal", ["the dog barked all night".to_string()].as_slice())
    );
    let pairs = usable_pairs(&wn, &Pos::ALL);
    // "What does fast mean?" is asked once: the adjective keeps it, the adverb is dropped.
    assert_eq!(pairs.iter().filter(|p| p.question == "What does fast mean?").count(), 1);
    assert_eq!(pairs.iter().find(|p| p.lemma == "fast").unwrap().pos, Pos::Adj);
    let hour = pairs.iter().find(|p| p.lemma == "hour").unwrap();
    assert_eq!(hour.question, "What is an hour?");
    assert_eq!(hour.synonyms, ["hr", "60 minutes"]);
}

#[test]
fn candidates_use_templates_synonyms_and_reordering() {
    let (_, wn) = wordnet();
    let cat = pair_of(wn.first_sense(Pos::Noun, "cat").unwrap(), &wn).unwrap();
    assert_eq!(cat.question, "What is a cat?");
    let subs: Vec<(String, String)> =
        answer_synonyms(&cat.answer, &wn).into_iter().map(|(_, from, to)| (from, to)).collect();
    assert_eq!(subs, [("mammal".to_string(), "mammalian".to_string()), ("fur".into(), "pelt".into())]);
    let all = candidates(&cat, &wn, AnswerMode::Paraphrase);
    let find = |q: &str, a: &str| all.iter().find(|c| c.question == q && c.answer == a);
    let c = find("Define cat.", &cat.answer).unwrap();
    assert_eq!((c.kind.as_str(), c.params.as_str()), ("template", r#"{"template":1}"#));
    let c = find("What is a true cat?", &cat.answer).unwrap();
    assert_eq!((c.kind.as_str(), c.params.as_str()), ("synonym", r#"{"lemma":"true cat"}"#));
    let both = "feline mammalian usually having thick soft pelt and no ability to roar";
    let c = find("Tell me what a true cat is.", both).unwrap();
    assert_eq!(c.kind, "template+synonym");
    assert_eq!(c.params, r#"{"template":9,"lemma":"true cat","swaps":[["mammal","mammalian"],["fur","pelt"]]}"#);
    assert!(find(&cat.question, &cat.answer).is_none(), "the target is not its own paraphrase");
    let mut texts: Vec<_> = all.iter().map(|c| (&c.question, &c.answer)).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), all.len(), "candidates are unique");
    // 20 templates × 2 lemmas × 4 answers (as is, two single swaps, both), less the target.
    assert_eq!(all.len(), 20 * 2 * 4 - 1);

    let car = pair_of(wn.first_sense(Pos::Noun, "car").unwrap(), &wn).unwrap();
    let reordered = "a motor vehicle with three wheels or a motor vehicle with four wheels";
    let c = candidates(&car, &wn, AnswerMode::Paraphrase).into_iter().find(|c| c.answer == reordered).unwrap();
    assert_eq!((c.kind.as_str(), c.params.as_str()), ("reorder", r#"{"reorder":"or"}"#));

    let verbatim = candidates(&car, &wn, AnswerMode::Verbatim);
    assert!(verbatim.iter().all(|c| c.answer == car.answer));
    assert_eq!(verbatim.len(), 20 * 4 - 1, "20 templates × 4 lemmas, less the target");
}

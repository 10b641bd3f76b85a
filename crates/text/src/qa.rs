//! Question–answer pairs from WordNet synsets, and the question templates.
//!
//! A synset makes a pair when its definition has at least [`MIN_DEFINITION_WORDS`] words and one of its lemmas
//! has the synset as its most frequent sense (the first offset of `index.<pos>`): that lemma asks the question, so
//! "What is a bank?" is answered with the sense a reader expects. Questions are unique: when two synsets would ask
//! the same question (an adjective and an adverb "What does fast mean?"), the first in [`Pos::ALL`] and offset
//! order keeps it.

use std::collections::HashSet;

use crate::wordnet::{Pos, Synset, WordNet};

/// Definitions shorter than this many words ("a fly") make no pair.
pub const MIN_DEFINITION_WORDS: usize = 2;

/// One question–answer pair and the synset it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaPair {
    /// Synset id, `00001740-a`.
    pub synset: String,
    /// Part of speech.
    pub pos: Pos,
    /// Lexical class, `noun.animal`.
    pub lexclass: &'static str,
    /// The lemma the question asks about.
    pub lemma: String,
    /// The other lemmas of the synset (synonyms of `lemma` in this sense).
    pub synonyms: Vec<String>,
    /// The question, from template 0 of [`templates`].
    pub question: String,
    /// The definition.
    pub answer: String,
}

impl QaPair {
    /// The text an embedder and the language model see: `"<question> <answer>"`.
    pub fn text(&self) -> String {
        qa_text(&self.question, &self.answer)
    }
}

/// `"<question> <answer>"`.
pub fn qa_text(question: &str, answer: &str) -> String {
    format!("{question} {answer}")
}

/// Question templates by part of speech. `{a}` is the lemma with its indefinite article, `{l}` the bare lemma.
/// Template 0 asks the target's question; the others are the paraphrase templates.
pub fn templates(pos: Pos) -> &'static [&'static str] {
    match pos {
        Pos::Noun => &[
            "What is {a}?",
            "Define {l}.",
            "What's the meaning of {l}?",
            "Can you explain what {a} is?",
            "What does the word \"{l}\" mean?",
            "What is meant by {a}?",
            "Give the definition of {l}.",
            "Explain what {a} is.",
            "What is the meaning of the word {l}?",
            "Tell me what {a} is.",
            "What exactly is {a}?",
            "I'd like to know what {a} is.",
            "Please define {l}.",
            "What is the definition of {l}?",
            "How would you define {a}?",
            "How is {a} defined?",
            "Do you know what {a} is?",
            "What does \"{l}\" refer to?",
            "Describe what {a} is.",
            "What is the sense of the word \"{l}\"?",
        ],
        Pos::Verb => &[
            "What does it mean to {l}?",
            "Define the verb \"to {l}\".",
            "What's the meaning of the verb \"{l}\"?",
            "Can you explain what it means to {l}?",
            "What does the verb \"{l}\" mean?",
            "What is meant by \"to {l}\"?",
            "Give the definition of the verb {l}.",
            "Explain what it means to {l}.",
            "What is the meaning of \"to {l}\"?",
            "Tell me what it means to {l}.",
            "What exactly does it mean to {l}?",
            "I'd like to know what it means to {l}.",
            "Please define \"to {l}\".",
            "What is the definition of \"to {l}\"?",
            "How would you define \"to {l}\"?",
            "How is the verb \"{l}\" defined?",
            "Do you know what it means to {l}?",
            "What does \"to {l}\" refer to?",
            "Describe what it means to {l}.",
            "What is the sense of the verb \"{l}\"?",
        ],
        Pos::Adj | Pos::Adv => &[
            "What does {l} mean?",
            "Define {l}.",
            "What's the meaning of {l}?",
            "Can you explain what {l} means?",
            "What does the word \"{l}\" mean?",
            "What is meant by {l}?",
            "Give the definition of {l}.",
            "Explain what {l} means.",
            "What is the meaning of the word {l}?",
            "Tell me what {l} means.",
            "What exactly does {l} mean?",
            "I'd like to know what {l} means.",
            "Please define {l}.",
            "What is the definition of {l}?",
            "How would you define {l}?",
            "How is \"{l}\" defined?",
            "Do you know what {l} means?",
            "What does \"{l}\" refer to?",
            "Describe what {l} means.",
            "What is the sense of the word \"{l}\"?",
        ],
    }
}

/// Template `template` of `pos` filled with `lemma`.
pub fn question(pos: Pos, template: usize, lemma: &str) -> String {
    let t = templates(pos)[template];
    t.replace("{a}", &with_article(lemma)).replace("{l}", lemma)
}

/// `lemma` with "a" or "an" before it; a lemma with a capital letter (a proper noun, `Paris`, or a taxon,
/// `genus Calymmatobacterium`) gets none.
///
/// The choice follows the sound, by spelling: "an" before a vowel letter except where it sounds like a consonant
/// (`uni…`, `use…`, `eu…`, `one…`), and before a silent h (`hour`, `honest`, `honour`, `heir`).
pub fn with_article(lemma: &str) -> String {
    let first = lemma.chars().next().unwrap_or('x');
    if lemma.chars().any(char::is_uppercase) {
        return lemma.to_string();
    }
    let lower = lemma.to_lowercase();
    let consonant_sound = ["uni", "use", "usu", "uti", "ure", "uro", "ura", "ubiq", "eu", "ewe", "one", "once"];
    let silent_h = ["hour", "honest", "honor", "honour", "heir"];
    let vowel = matches!(first, 'a' | 'e' | 'i' | 'o' | 'u') && !consonant_sound.iter().any(|p| lower.starts_with(p))
        || silent_h.iter().any(|p| lower.starts_with(p))
        || ["8", "11", "18"].iter().any(|p| lower.starts_with(p));
    format!("{} {lemma}", if vowel { "an" } else { "a" })
}

/// The pair of `synset`, when it makes one.
pub fn pair_of(synset: &Synset, wn: &WordNet) -> Option<QaPair> {
    if synset.definition.split_whitespace().count() < MIN_DEFINITION_WORDS {
        return None;
    }
    let lemma =
        synset.lemmas.iter().find(|l| wn.first_sense(synset.pos, l).is_some_and(|f| f.offset == synset.offset))?;
    let mut synonyms = Vec::new();
    for l in &synset.lemmas {
        if !l.eq_ignore_ascii_case(lemma) && !synonyms.iter().any(|s: &String| s.eq_ignore_ascii_case(l)) {
            synonyms.push(l.clone());
        }
    }
    Some(QaPair {
        synset: synset.id(),
        pos: synset.pos,
        lexclass: synset.lexclass(),
        lemma: lemma.clone(),
        synonyms,
        question: question(synset.pos, 0, lemma),
        answer: synset.definition.clone(),
    })
}

/// Every pair of the parts of speech `pos`, in [`Pos::ALL`] and offset order, questions unique.
pub fn usable_pairs(wn: &WordNet, pos: &[Pos]) -> Vec<QaPair> {
    let mut seen = HashSet::new();
    wn.synsets()
        .iter()
        .filter(|s| pos.contains(&s.pos))
        .filter_map(|s| pair_of(s, wn))
        .filter(|p| seen.insert(p.question.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_follow_the_sound() {
        let cases = [
            ("dog", "a dog"),
            ("apple", "an apple"),
            ("hour", "an hour"),
            ("unicorn", "a unicorn"),
            ("umbrella", "an umbrella"),
            ("European", "European"),
            ("eulogy", "a eulogy"),
            ("one-liner", "a one-liner"),
            ("8-track", "an 8-track"),
            ("Paris", "Paris"),
            ("genus Calymmatobacterium", "genus Calymmatobacterium"),
        ];
        for (lemma, want) in cases {
            assert_eq!(with_article(lemma), want);
        }
    }

    #[test]
    fn templates_fill_by_part_of_speech() {
        assert_eq!(question(Pos::Noun, 0, "entity"), "What is an entity?");
        assert_eq!(question(Pos::Noun, 3, "dog"), "Can you explain what a dog is?");
        assert_eq!(question(Pos::Verb, 0, "take a breath"), "What does it mean to take a breath?");
        assert_eq!(question(Pos::Adj, 0, "able"), "What does able mean?");
        assert_eq!(question(Pos::Adv, 1, "fast"), "Define fast.");
        for pos in Pos::ALL {
            let t = templates(pos);
            assert_eq!(t.len(), 20);
            assert_eq!(t.iter().collect::<HashSet<_>>().len(), t.len(), "{pos:?} templates repeat");
        }
    }
}

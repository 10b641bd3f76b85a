//! Paraphrase candidates of a QA pair: question templates, WordNet synonym substitution and safe reordering.
//!
//! A candidate is a question form crossed with an answer form, never the target itself:
//!
//! - **Question forms**: every template of [`crate::qa::templates`] for the pair's part of speech, filled with
//!   the pair's lemma or with any other lemma of its synset (same sense, so the same answer).
//! - **Answer forms** (only with [`AnswerMode::Paraphrase`]; with [`AnswerMode::Verbatim`] the answer is the
//!   target's): the definition as it is; each single synonym substitution; all substitutions at once; the
//!   reordered definition; reordered with all substitutions.
//! - **Synonym substitution in the answer** ([`answer_synonyms`]): a content word (lowercase letters only, at least
//!   three, not a function word) found in exactly one index file (one part of speech, so the synonym fits the
//!   sentence: "lower", an adjective and a verb, is left alone) is replaced by another lemma of its most frequent
//!   sense. Among that synset's other lemmas (lowercase, not containing the word itself: "contraction" does not
//!   become "muscular contraction") the most common one wins, by the index's tagged-sense count (ties: synset
//!   order). Only the spelling in the index is looked up, so inflected forms ("having") are left alone. The most
//!   frequent sense is not always the definition's ("sloth" → "slothfulness"); the embedding threshold is what
//!   catches those.
//! - **Reordering** ([`reorder`]), two rules. (1) A definition that opens with a parenthetical usage note
//!   ("(usually followed by `to') having …") moves it to the end. (2) A definition that is exactly two
//!   coordinated phrases `X or Y` / `X and Y` — one conjunction at the top level (outside parentheses), no
//!   top-level `,` or `;`, both sides at least two words and opening with the same word ("a person who …
//!   or a person who …", "make … or make …") — becomes `Y or X`. Requiring the same first word keeps the swap to
//!   parallel phrases; it refuses "large and heavy animal", whose sides are not both phrases.
//!
//! Each candidate's `kind` joins the operations it used with `+` in a fixed order (`template`, `synonym`,
//! `reorder`), and its `params` record them as JSON (`{"template":3,"lemma":"auto","swaps":[["car","auto"]],
//! "reorder":"or"}`). Scoring and keeping happen in [`crate::build`].

use std::collections::HashSet;

use crate::config::AnswerMode;
use crate::qa::{QaPair, question, templates};
use crate::wordnet::{Pos, WordNet};

/// One paraphrase candidate of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// Operations, joined by `+`: `template`, `synonym`, `reorder`.
    pub kind: String,
    /// The choices made, as JSON.
    pub params: String,
}

/// The choices behind a candidate, as `params` records them.
#[derive(serde::Serialize)]
struct Params<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lemma: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    swaps: Option<&'a [(String, String)]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reorder: Option<&'a str>,
}

/// Function words never substituted.
const STOPWORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "with",
    "that",
    "this",
    "from",
    "into",
    "onto",
    "upon",
    "which",
    "who",
    "whom",
    "whose",
    "what",
    "when",
    "where",
    "while",
    "are",
    "was",
    "were",
    "been",
    "being",
    "has",
    "have",
    "had",
    "its",
    "not",
    "but",
    "any",
    "all",
    "some",
    "such",
    "than",
    "then",
    "one",
    "ones",
    "other",
    "others",
    "out",
    "off",
    "over",
    "under",
    "about",
    "above",
    "below",
    "between",
    "through",
    "during",
    "before",
    "after",
    "more",
    "most",
    "less",
    "least",
    "very",
    "also",
    "only",
    "can",
    "may",
    "might",
    "must",
    "should",
    "would",
    "could",
    "will",
    "shall",
    "does",
    "did",
    "done",
    "especially",
    "usually",
    "often",
    "something",
    "someone",
    "somebody",
    "anything",
    "thing",
    "things",
    "person",
    "way",
    "used",
    "use",
    "using",
    "make",
    "made",
    "part",
    "kind",
    "act",
    "state",
    "quality",
    "process",
    "his",
    "her",
    "their",
    "them",
    "they",
    "him",
    "she",
    "you",
    "your",
    "our",
    "each",
    "either",
    "neither",
    "both",
    "own",
    "same",
    "without",
    "within",
    "against",
    "toward",
    "towards",
    "around",
];

/// The substitutions available in `answer`: `(byte range of the word, the word, its synonym)`, in text order.
pub fn answer_synonyms(answer: &str, wn: &WordNet) -> Vec<(std::ops::Range<usize>, String, String)> {
    let mut out = Vec::new();
    for (range, word) in words(answer) {
        if word.len() < 3 || !word.chars().all(|c| c.is_ascii_lowercase()) || STOPWORDS.contains(&word) {
            continue;
        }
        // Only words of one part of speech: "lower" (adjective and verb) or "equal" (adjective, noun, verb) would
        // take a verb's synonym in an adjective's place ("is be", "get down concentration").
        let mut found = Pos::ALL.into_iter().filter(|&pos| wn.senses(pos, word).is_some_and(|e| !e.senses.is_empty()));
        let (Some(pos), None) = (found.next(), found.next()) else { continue };
        let Some(synset) = wn.first_sense(pos, word) else { continue };
        let tagged = |l: &str| wn.senses(pos, l).map_or(0, |e| e.tagged);
        let synonym = synset
            .lemmas
            .iter()
            .filter(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == ' ' || c == '-'))
            .filter(|l| !l.split([' ', '-']).any(|w| w == word))
            .fold(None, |best: Option<&String>, l| match best {
                Some(b) if tagged(b) >= tagged(l) => Some(b),
                _ => Some(l),
            });
        if let Some(s) = synonym {
            out.push((range, word.to_string(), s.clone()));
        }
    }
    out
}

/// Maximal runs of ASCII letters with their byte ranges.
fn words(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_ascii_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                // A word glued to an apostrophe or hyphen ("know-how", "`to'") is part of a bigger token: skip it.
                let glued = |b: Option<u8>| matches!(b, Some(b'-' | b'\'' | b'`'));
                if !glued(text.as_bytes().get(i).copied()) && !glued(s.checked_sub(1).map(|p| text.as_bytes()[p])) {
                    out.push((s..i, &text[s..i]));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// `text` with the given substitutions applied (ranges in text order, not overlapping).
fn substitute(text: &str, swaps: &[&(std::ops::Range<usize>, String, String)]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (range, _, to) in swaps {
        out.push_str(&text[at..range.start]);
        out.push_str(to);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The reordered definition and the rule that made it (`parenthetical`, `or`, `and`), when a rule applies.
pub fn reorder(definition: &str) -> Option<(String, &'static str)> {
    if definition.starts_with('(') {
        let mut depth = 0usize;
        for (i, c) in definition.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        let rest = definition[i + 1..].trim();
                        if rest.split_whitespace().count() < 2 {
                            return None;
                        }
                        return Some((format!("{rest} {}", &definition[..=i]), "parenthetical"));
                    }
                }
                _ => {}
            }
        }
        return None;
    }
    let mut depth = 0usize;
    let mut cuts = Vec::new();
    for (i, c) in definition.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' | ';' if depth == 0 => return None,
            ' ' if depth == 0 => {
                for conj in [" or ", " and "] {
                    if definition[i..].starts_with(conj) {
                        cuts.push((i, conj));
                    }
                }
            }
            _ => {}
        }
    }
    let [(at, conj)] = cuts[..] else { return None };
    let (x, y) = (definition[..at].trim(), definition[at + conj.len()..].trim());
    let (xw, yw): (Vec<&str>, Vec<&str>) = (x.split_whitespace().collect(), y.split_whitespace().collect());
    if xw.len() < 2 || yw.len() < 2 || !xw[0].eq_ignore_ascii_case(yw[0]) {
        return None;
    }
    Some((format!("{y}{conj}{x}"), if conj == " or " { "or" } else { "and" }))
}

/// Every candidate of `pair`, deduplicated, in a fixed order (question forms, then answer forms within each).
pub fn candidates(pair: &QaPair, wn: &WordNet, answers: AnswerMode) -> Vec<Candidate> {
    // Question forms: (question, template, substituted lemma).
    let mut questions: Vec<(String, usize, Option<&str>)> = Vec::new();
    for t in 0..templates(pair.pos).len() {
        questions.push((question(pair.pos, t, &pair.lemma), t, None));
        for s in &pair.synonyms {
            questions.push((question(pair.pos, t, s), t, Some(s.as_str())));
        }
    }
    // Answer forms: (answer, swaps, reorder rule).
    type Swap = (String, String);
    let mut answer_forms: Vec<(String, Vec<Swap>, Option<&str>)> = vec![(pair.answer.clone(), vec![], None)];
    if answers == AnswerMode::Paraphrase {
        let subs = answer_synonyms(&pair.answer, wn);
        let pairs_of = |s: &[&(std::ops::Range<usize>, String, String)]| -> Vec<Swap> {
            s.iter().map(|(_, from, to)| (from.clone(), to.clone())).collect()
        };
        for s in &subs {
            answer_forms.push((substitute(&pair.answer, &[s]), pairs_of(&[s]), None));
        }
        let all: Vec<_> = subs.iter().collect();
        if subs.len() > 1 {
            answer_forms.push((substitute(&pair.answer, &all), pairs_of(&all), None));
        }
        if let Some((re, rule)) = reorder(&pair.answer) {
            answer_forms.push((re.clone(), vec![], Some(rule)));
            let re_subs = answer_synonyms(&re, wn);
            if !re_subs.is_empty() {
                let all: Vec<_> = re_subs.iter().collect();
                answer_forms.push((substitute(&re, &all), pairs_of(&all), Some(rule)));
            }
        }
    }
    let mut seen = HashSet::new();
    seen.insert((pair.question.clone(), pair.answer.clone()));
    let mut out = Vec::new();
    for (q, t, lemma) in &questions {
        for (a, swaps, rule) in &answer_forms {
            if !seen.insert((q.clone(), a.clone())) {
                continue;
            }
            let mut kind = Vec::new();
            if *t != 0 {
                kind.push("template");
            }
            if lemma.is_some() || !swaps.is_empty() {
                kind.push("synonym");
            }
            if rule.is_some() {
                kind.push("reorder");
            }
            let params = Params {
                template: (*t != 0).then_some(*t),
                lemma: *lemma,
                swaps: (!swaps.is_empty()).then_some(swaps.as_slice()),
                reorder: *rule,
            };
            out.push(Candidate {
                question: q.clone(),
                answer: a.clone(),
                kind: kind.join("+"),
                // A struct, not a JSON map: its field order is fixed whatever serde_json features are unified.
                params: serde_json::to_string(&params).unwrap_or_default(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_rules() {
        let cases = [
            (
                "(usually followed by `to') having the necessary means",
                Some(("having the necessary means (usually followed by `to')", "parenthetical")),
            ),
            ("a person who sells or a person who buys", Some(("a person who buys or a person who sells", "or"))),
            ("make smaller and make weaker", Some(("make weaker and make smaller", "and"))),
            ("large and heavy animal", None),
            ("a tool or a device, often sharp", None),
            ("a tool or a device or a machine", None),
            ("a cat (or a dog) or a cow", Some(("a cow or a cat (or a dog)", "or"))),
            ("(informal)", None),
        ];
        for (text, want) in cases {
            let got = reorder(text);
            assert_eq!(got.as_ref().map(|(s, r)| (s.as_str(), *r)), want, "{text}");
        }
    }

    #[test]
    fn words_skip_glued_tokens() {
        let w: Vec<&str> = words("know-how or `to' and skill").into_iter().map(|(_, w)| w).collect();
        assert_eq!(w, ["or", "and", "skill"]);
    }
}

//! [`LmTokenizer`]: MiniLM's WordPiece with the vocabulary compacted to the pieces of the training corpus.
//!
//! Why reuse WordPiece rather than train a tokenizer: no BPE has to be learned (and made deterministic), the LM
//! shares MiniLM's normalisation (lowercase, accents stripped, punctuation split) so the two models see the same
//! words, and keeping only the pieces the QA corpus uses — a few thousand of MiniLM's 30,522 — makes the softmax,
//! the tied embedding and every training step that much cheaper on a CPU.
//!
//! Compacting keeps tokenisation of the corpus unchanged: greedy longest-match-first over a sub-vocabulary that
//! holds every piece the full vocabulary chose picks the same pieces (the longest match in the full vocabulary is
//! in the sub-vocabulary, and nothing longer is). A word of new text whose pieces are not all kept becomes `[UNK]`.
//!
//! The ids are: `[PAD]` 0, `[UNK]` 1, `[CLS]` 2 (begins every sequence), `[SEP]` 3 (ends it), then the pieces by
//! descending corpus count, ties by the piece's text. The vocabulary is written as a `vocab.txt` beside the
//! checkpoint.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{ModelError, Result};
use crate::wordpiece::{CLS, Normalization, PAD, SEP, UNK, WordPiece};

/// The special tokens, in id order.
pub const SPECIALS: [&str; 4] = [PAD, UNK, CLS, SEP];

/// The WordPiece limit passed through (sequences are cut by [`LmTokenizer::encode_qa`] instead).
const NO_LIMIT: usize = usize::MAX / 2;

/// One QA example as the LM sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmExample {
    /// `[CLS] question answer [SEP]`, cut to the model's `max_len` (the `[SEP]` is dropped when the answer is cut).
    pub ids: Vec<u32>,
    /// Index in `ids` of the first answer token; `ids[answer_start..]` is the answer (and `[SEP]`).
    pub answer_start: usize,
}

/// A compact WordPiece vocabulary for the LM; see the module docs.
#[derive(Debug, Clone)]
pub struct LmTokenizer {
    wordpiece: WordPiece,
    pieces: Vec<String>,
    normalization: Normalization,
}

impl LmTokenizer {
    /// A tokenizer over `pieces` (id = position), which must start with [`SPECIALS`].
    pub fn from_pieces(pieces: Vec<String>, normalization: Normalization) -> Result<LmTokenizer> {
        if pieces.len() < SPECIALS.len() || pieces[..SPECIALS.len()].iter().zip(SPECIALS).any(|(p, s)| p != s) {
            return Err(ModelError::Config {
                context: "lm tokenizer".into(),
                field: "vocab".into(),
                problem: format!("must start with {SPECIALS:?}"),
            });
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = pieces.iter().find(|p| !seen.insert(p.as_str())) {
            return Err(ModelError::Config {
                context: "lm tokenizer".into(),
                field: "vocab".into(),
                problem: format!("holds {dup:?} twice"),
            });
        }
        let wordpiece = WordPiece::new(pieces.iter().cloned(), normalization, NO_LIMIT)?;
        Ok(LmTokenizer { wordpiece, pieces, normalization })
    }

    /// Compacts `full` (whose `vocab.txt` lines are `full_vocab`) to the pieces of `texts`.
    pub fn compact<'a>(
        full: &WordPiece,
        full_vocab: &[String],
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<LmTokenizer> {
        let mut counts: HashMap<u32, u64> = HashMap::new();
        for text in texts {
            for id in full.piece_ids(text) {
                *counts.entry(id).or_default() += 1;
            }
        }
        let mut kept: Vec<(&str, u64)> = counts
            .into_iter()
            .filter_map(|(id, n)| full_vocab.get(id as usize).map(|p| (p.as_str(), n)))
            .filter(|(p, _)| !SPECIALS.contains(p))
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let pieces =
            SPECIALS.iter().map(|s| s.to_string()).chain(kept.into_iter().map(|(p, _)| p.to_string())).collect();
        LmTokenizer::from_pieces(pieces, full.normalization())
    }

    /// Compacts the MiniLM tokenizer in `minilm_dir` (`vocab.txt`, `tokenizer.json`, as
    /// [`WordPiece::from_dir`] reads them) to the pieces of `texts`.
    pub fn compact_from_dir<'a>(minilm_dir: &Path, texts: impl IntoIterator<Item = &'a str>) -> Result<LmTokenizer> {
        let vocab_path = minilm_dir.join("vocab.txt");
        if !vocab_path.exists() {
            return Err(ModelError::PretrainedMissing {
                path: vocab_path,
                model: "all-MiniLM-L6-v2",
                fetch: crate::minilm::MINILM_FETCH,
            });
        }
        let full = WordPiece::from_dir(minilm_dir)?;
        let text = std::fs::read_to_string(&vocab_path).map_err(ModelError::io("reading", &vocab_path))?;
        let lines: Vec<String> = text.lines().map(|l| l.trim_end_matches('\r').to_string()).collect();
        LmTokenizer::compact(&full, &lines, texts)
    }

    /// Writes the vocabulary, one piece per line (the `vocab.txt` convention).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = self.pieces.join("\n");
        text.push('\n');
        std::fs::write(path, text).map_err(ModelError::io("writing", path))
    }

    /// Reads a vocabulary written by [`LmTokenizer::save`].
    pub fn load(path: &Path, normalization: Normalization) -> Result<LmTokenizer> {
        let text = std::fs::read_to_string(path).map_err(ModelError::io("reading", path))?;
        let pieces = text.lines().map(str::to_string).collect();
        LmTokenizer::from_pieces(pieces, normalization).map_err(|e| ModelError::Checkpoint {
            path: path.to_path_buf(),
            problem: format!("is not an LM vocabulary: {e}"),
        })
    }

    /// The normalisation (MiniLM's).
    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// The number of ids.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The pieces in id order.
    pub fn pieces(&self) -> &[String] {
        &self.pieces
    }

    /// `[PAD]`.
    pub fn pad_id(&self) -> u32 {
        0
    }

    /// `[UNK]`.
    pub fn unk_id(&self) -> u32 {
        1
    }

    /// `[CLS]`, which begins every sequence.
    pub fn bos_id(&self) -> u32 {
        2
    }

    /// `[SEP]`, which ends every sequence.
    pub fn eos_id(&self) -> u32 {
        3
    }

    /// The piece of `id`.
    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// The piece ids of `text`, without specials.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.wordpiece.piece_ids(text)
    }

    /// A generation prompt: `[CLS]` and the question's pieces, cut to `max_len - 1` ids so one token fits.
    pub fn encode_prompt(&self, question: &str, max_len: usize) -> Vec<u32> {
        let mut ids = vec![self.bos_id()];
        ids.extend(self.encode(question));
        ids.truncate(max_len.saturating_sub(1).max(1));
        ids
    }

    /// `[CLS] question answer [SEP]` with the answer marked, at most `max_len` ids (at least 4). A long question is
    /// cut to half of `max_len` first, then the answer (and its `[SEP]`) to what is left; the answer keeps at least
    /// one token when it has one.
    pub fn encode_qa(&self, question: &str, answer: &str, max_len: usize) -> LmExample {
        let max_len = max_len.max(4);
        let mut q = self.encode(question);
        let mut a = self.encode(answer);
        a.push(self.eos_id());
        let room = max_len - 1;
        if q.len() + a.len() > room {
            q.truncate(q.len().min(max_len / 2).min(room - 1));
            a.truncate(room - q.len());
        }
        let mut ids = Vec::with_capacity(1 + q.len() + a.len());
        ids.push(self.bos_id());
        ids.extend(q);
        let answer_start = ids.len();
        ids.extend(a);
        LmExample { ids, answer_start }
    }

    /// Text from ids: specials other than `[UNK]` are dropped, `##` pieces glue onto the previous piece, closing
    /// punctuation onto the previous word, opening brackets onto the next, and hyphens and apostrophes onto both
    /// (`earth-shaped`, `someone's`).
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut out = String::new();
        let mut glue_next = true;
        for &id in ids {
            let Some(piece) = self.piece(id) else { continue };
            if [self.pad_id(), self.bos_id(), self.eos_id()].contains(&id) {
                continue;
            }
            if let Some(rest) = piece.strip_prefix("##") {
                out.push_str(rest);
                glue_next = false;
                continue;
            }
            let closing = matches!(piece, "." | "," | ";" | ":" | "?" | "!" | ")" | "]" | "}" | "%" | "-" | "'");
            if !(glue_next || closing) {
                out.push(' ');
            }
            out.push_str(piece);
            glue_next = matches!(piece, "(" | "[" | "{" | "-" | "'");
        }
        out
    }

    /// How many pieces of `texts` there are and how many of them are `[UNK]`.
    pub fn coverage<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> (usize, usize) {
        let (mut total, mut unk) = (0, 0);
        for text in texts {
            for id in self.encode(text) {
                total += 1;
                unk += usize::from(id == self.unk_id());
            }
        }
        (total, unk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> (WordPiece, Vec<String>) {
        let vocab: Vec<String> = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "what", "is", "a", "dog", "?", ".", "an", "animal", "cat",
            "##s", "bark", "##ing", "zebra", "-", "(", ")", "'", "s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        (WordPiece::new(vocab.clone(), Normalization::BERT_UNCASED, 512).unwrap(), vocab)
    }

    #[test]
    fn compacts_to_the_corpus_in_count_order() {
        let (wp, vocab) = full();
        let tok = LmTokenizer::compact(&wp, &vocab, ["What is a dog?", "A dog is barking."]).unwrap();
        // Counts: a 2, dog 2, is 2, then ##ing, ., ?, bark, what 1 each (ties in byte order).
        assert_eq!(
            tok.pieces(),
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "dog", "is", "##ing", ".", "?", "bark", "what"]
        );
        let ex = tok.encode_qa("What is a dog?", "A dog is barking.", 64);
        assert_eq!(tok.decode(&ex.ids), "what is a dog? a dog is barking.");
        let dash = LmTokenizer::compact(&wp, &vocab, ["a dog-cat (a dog's cat)"]).unwrap();
        assert_eq!(dash.decode(&dash.encode("A dog-cat (a dog's cat)")), "a dog-cat (a dog's cat)");
        assert_eq!(ex.answer_start, 6);
        assert_eq!(*ex.ids.last().unwrap(), tok.eos_id());
        // A word outside the corpus is unknown even though MiniLM has it.
        assert_eq!(tok.encode("zebra"), [tok.unk_id()]);
        assert_eq!(tok.coverage(["a zebra"]), (2, 1));
    }

    #[test]
    fn long_examples_are_cut_keeping_an_answer() {
        let (wp, vocab) = full();
        let tok = LmTokenizer::compact(&wp, &vocab, ["what is a dog a cat an animal"]).unwrap();
        let ex = tok.encode_qa("what is a dog a cat a dog a cat", "an animal", 6);
        assert_eq!(ex.ids.len(), 6);
        assert_eq!(ex.answer_start, 4);
        assert_eq!(tok.decode(&ex.ids[ex.answer_start..]), "an animal");
        let ex = tok.encode_qa("what", "an animal", 6);
        assert_eq!(ex.ids.len(), 5);
    }

    #[test]
    fn bad_vocabularies_are_errors() {
        let err = LmTokenizer::from_pieces(vec!["a".into()], Normalization::BERT_UNCASED).unwrap_err();
        assert!(err.to_string().contains("must start with"), "{err}");
        let dup = SPECIALS.iter().map(|s| s.to_string()).chain(["a".to_string(), "a".to_string()]).collect();
        let err = LmTokenizer::from_pieces(dup, Normalization::BERT_UNCASED).unwrap_err();
        assert!(err.to_string().contains("holds \"a\" twice"), "{err}");
    }
}

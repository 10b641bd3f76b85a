//! A BERT WordPiece tokenizer that reads the shipped `vocab.txt` and `tokenizer.json`, without burn.
//!
//! It reproduces the Hugging Face fast tokenizer that sentence-transformers runs for all-MiniLM-L6-v2:
//!
//! 0. **Special tokens**: literal `[CLS]`, `[SEP]`, `[UNK]`, `[PAD]`, `[MASK]` (the `added_tokens` of
//!    `tokenizer.json`) in the raw text are cut out first and map straight to their ids, as in `tokenizers`.
//! 1. **Normalisation** ([`Normalization`], the `BertNormalizer` of `tokenizer.json`): control characters, NUL and
//!    U+FFFD are dropped and whitespace becomes a space; CJK ideographs get a space on each side; accents are
//!    stripped (NFD, then the nonspacing marks dropped); the text is lowercased. The order is the one of
//!    `tokenizers`' `BertNormalizer`: accents are stripped before lowercasing.
//! 2. **Pre-tokenisation** (`BertPreTokenizer`): split on whitespace, and every punctuation character (ASCII
//!    punctuation or Unicode category P) becomes a word of its own.
//! 3. **WordPiece**: greedy longest-match-first over each word, continuation pieces prefixed `##`; a word longer
//!    than [`WordPiece::max_chars_per_word`] characters, or one with any unmatched rest, becomes `[UNK]`.
//! 4. **Template**: `[CLS] pieces… [SEP]`, truncated so that the whole sequence has at most
//!    [`WordPiece::max_len`] ids.
//!
//! [`WordPiece::from_dir`] takes the sequence limit from `sentence_bert_config.json` (`max_seq_length`, 256 for
//! all-MiniLM-L6-v2), because sentence-transformers truncates there and overrides the 128 stored in
//! `tokenizer.json`; the 128-token padding stored in `tokenizer.json` is ignored (padding is the model's job).

use std::collections::HashMap;
use std::path::Path;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::error::{ModelError, Result};

/// The token that stands for a word WordPiece cannot spell.
pub const UNK: &str = "[UNK]";
/// The token that starts every sequence.
pub const CLS: &str = "[CLS]";
/// The token that ends every sequence.
pub const SEP: &str = "[SEP]";
/// The padding token.
pub const PAD: &str = "[PAD]";
/// The masked-language-model token.
pub const MASK: &str = "[MASK]";

/// The prefix of a piece that continues a word.
const CONTINUATION: &str = "##";
/// The longest word WordPiece tries to split (`max_input_chars_per_word` of BERT).
const DEFAULT_MAX_CHARS_PER_WORD: usize = 100;
/// The sequence limit when no config names one (BERT's 512 positions).
const DEFAULT_MAX_LEN: usize = 512;

/// The normalisation steps of a `BertNormalizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalization {
    /// Drop control characters, NUL and U+FFFD; turn every whitespace character into a space.
    pub clean_text: bool,
    /// Put spaces around CJK ideographs, so that each becomes a word.
    pub split_cjk: bool,
    /// Decompose (NFD) and drop nonspacing marks.
    pub strip_accents: bool,
    /// Lowercase.
    pub lowercase: bool,
}

impl Normalization {
    /// BERT uncased (`bert-base-uncased`, all-MiniLM-L6-v2): every step on. `strip_accents: null` in
    /// `tokenizer.json` means "follow `lowercase`".
    pub const BERT_UNCASED: Normalization =
        Normalization { clean_text: true, split_cjk: true, strip_accents: true, lowercase: true };
}

/// A WordPiece vocabulary with its normalisation and sequence limit.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    normalization: Normalization,
    max_len: usize,
    max_chars_per_word: usize,
    unk: u32,
    cls: u32,
    sep: u32,
    pad: u32,
    /// Tokens matched verbatim in the raw text before normalisation, with their ids.
    specials: Vec<(String, u32)>,
}

impl WordPiece {
    /// A tokenizer over `tokens`, where the token on line `i` gets id `i` (the `vocab.txt` convention; a repeated
    /// token keeps its last id, as in `tokenizers`).
    ///
    /// The vocabulary must hold `[UNK]`, `[CLS]` and `[SEP]`; `[PAD]` defaults to id 0 when absent. `max_len`
    /// counts `[CLS]` and `[SEP]` and must be at least 2. The BERT special tokens that the vocabulary holds are
    /// matched verbatim in the raw text.
    pub fn new<I, S>(tokens: I, normalization: Normalization, max_len: usize) -> Result<WordPiece>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let bad = |field: &str, problem: String| ModelError::Config {
            context: "tokenizer".into(),
            field: field.into(),
            problem,
        };
        let mut vocab = HashMap::new();
        for (i, token) in tokens.into_iter().enumerate() {
            let id = u32::try_from(i).map_err(|_| bad("vocab", "has more than 2^32 tokens".into()))?;
            vocab.insert(token.into(), id);
        }
        if max_len < 2 {
            return Err(bad("max_len", format!("is {max_len}; it must leave room for [CLS] and [SEP] (at least 2)")));
        }
        let special = |name: &str| {
            vocab
                .get(name)
                .copied()
                .ok_or_else(|| bad("vocab", format!("has no {name} token; is it a BERT vocab.txt?")))
        };
        let (unk, cls, sep) = (special(UNK)?, special(CLS)?, special(SEP)?);
        let pad = vocab.get(PAD).copied().unwrap_or(0);
        let specials =
            [PAD, UNK, CLS, SEP, MASK].iter().filter_map(|&t| vocab.get(t).map(|&id| (t.to_string(), id))).collect();
        Ok(WordPiece {
            vocab,
            normalization,
            max_len,
            max_chars_per_word: DEFAULT_MAX_CHARS_PER_WORD,
            unk,
            cls,
            sep,
            pad,
            specials,
        })
    }

    /// Reads a Hugging Face model folder: `vocab.txt` (required); the normaliser flags and WordPiece settings of
    /// `tokenizer.json` (BERT uncased when absent); the sequence limit from `sentence_bert_config.json`
    /// (`max_seq_length`), else the truncation of `tokenizer.json`, else 512.
    pub fn from_dir(dir: &Path) -> Result<WordPiece> {
        let vocab_path = dir.join("vocab.txt");
        let text = std::fs::read_to_string(&vocab_path).map_err(ModelError::io("reading", &vocab_path))?;
        // `tokenizers` reads vocab.txt line by line and trims the line end only.
        let tokens = text.lines().map(|l| l.trim_end_matches('\r').to_string());

        let mut normalization = Normalization::BERT_UNCASED;
        let mut max_chars_per_word = DEFAULT_MAX_CHARS_PER_WORD;
        let mut max_len = None;
        let mut specials = None;
        let tok_path = dir.join("tokenizer.json");
        if tok_path.exists() {
            let bad = |problem: String| ModelError::Pretrained { path: tok_path.clone(), problem };
            let raw = std::fs::read_to_string(&tok_path).map_err(ModelError::io("reading", &tok_path))?;
            let json: serde_json::Value =
                serde_json::from_str(&raw).map_err(|e| bad(format!("is not valid JSON: {e}")))?;
            let norm = &json["normalizer"];
            if !norm.is_null() {
                if norm["type"] != "BertNormalizer" {
                    return Err(bad(format!("has normalizer {}; only BertNormalizer is supported", norm["type"])));
                }
                let flag = |key: &str, default: bool| norm[key].as_bool().unwrap_or(default);
                let lowercase = flag("lowercase", true);
                normalization = Normalization {
                    clean_text: flag("clean_text", true),
                    split_cjk: flag("handle_chinese_chars", true),
                    // `null` means "the same as lowercase".
                    strip_accents: flag("strip_accents", lowercase),
                    lowercase,
                };
            }
            let model = &json["model"];
            if !model.is_null() {
                if model["type"] != "WordPiece" {
                    return Err(bad(format!("has model {}; only WordPiece is supported", model["type"])));
                }
                if let Some(prefix) = model["continuing_subword_prefix"].as_str()
                    && prefix != CONTINUATION
                {
                    return Err(bad(format!("uses continuation prefix {prefix:?}; only \"##\" is supported")));
                }
                if let Some(unk) = model["unk_token"].as_str()
                    && unk != UNK
                {
                    return Err(bad(format!("uses unknown token {unk:?}; only \"[UNK]\" is supported")));
                }
                if let Some(n) = model["max_input_chars_per_word"].as_u64() {
                    max_chars_per_word = usize::try_from(n).unwrap_or(usize::MAX);
                }
            }
            max_len = json["truncation"]["max_length"].as_u64();
            if let Some(added) = json["added_tokens"].as_array() {
                let mut list = Vec::new();
                for t in added {
                    let (Some(content), Some(id)) = (t["content"].as_str(), t["id"].as_u64()) else {
                        return Err(bad(format!("has an added token without content or id: {t}")));
                    };
                    let id = u32::try_from(id).map_err(|_| bad(format!("has an added token id {id} past u32")))?;
                    list.push((content.to_string(), id));
                }
                specials = Some(list);
            }
        }
        let st_path = dir.join("sentence_bert_config.json");
        if st_path.exists() {
            let raw = std::fs::read_to_string(&st_path).map_err(ModelError::io("reading", &st_path))?;
            let json: serde_json::Value = serde_json::from_str(&raw).map_err(|e| ModelError::Pretrained {
                path: st_path.clone(),
                problem: format!("is not valid JSON: {e}"),
            })?;
            if let Some(n) = json["max_seq_length"].as_u64() {
                max_len = Some(n);
            }
        }
        let max_len = max_len.map_or(DEFAULT_MAX_LEN, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let mut wp = WordPiece::new(tokens, normalization, max_len).map_err(|e| match e {
            ModelError::Config { problem, field, .. } => {
                ModelError::Pretrained { path: vocab_path.clone(), problem: format!("{field} {problem}") }
            }
            other => other,
        })?;
        wp.max_chars_per_word = max_chars_per_word;
        if let Some(specials) = specials {
            wp.specials = specials;
        }
        Ok(wp)
    }

    /// The same tokenizer with another sequence limit (counting `[CLS]` and `[SEP]`, at least 2).
    pub fn with_max_len(mut self, max_len: usize) -> WordPiece {
        self.max_len = max_len.max(2);
        self
    }

    /// The most ids [`WordPiece::encode`] returns, `[CLS]` and `[SEP]` included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Words longer than this many characters (after normalisation) become `[UNK]`.
    pub fn max_chars_per_word(&self) -> usize {
        self.max_chars_per_word
    }

    /// The normalisation steps in use.
    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// The number of tokens in the vocabulary (the largest id plus one for a `vocab.txt` without repeats).
    pub fn vocab_size(&self) -> usize {
        self.vocab.values().max().map_or(0, |&m| m as usize + 1)
    }

    /// The id of the padding token.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// The id of `token`, if the vocabulary has it.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// Applies the normalisation steps to `text`.
    pub fn normalize(&self, text: &str) -> String {
        let n = self.normalization;
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if n.clean_text {
                if c == '\0' || c == '\u{fffd}' || is_control(c) {
                    continue;
                }
                if is_whitespace(c) {
                    out.push(' ');
                    continue;
                }
            }
            if n.split_cjk && is_cjk(c) {
                out.push(' ');
                out.push(c);
                out.push(' ');
            } else {
                out.push(c);
            }
        }
        if n.strip_accents {
            out = out.nfd().filter(|&c| c.general_category() != GeneralCategory::NonspacingMark).collect();
        }
        if n.lowercase {
            out = out.chars().flat_map(char::to_lowercase).collect();
        }
        out
    }

    /// The words of `text` after normalisation: whitespace-separated, each punctuation character on its own.
    pub fn words(&self, text: &str) -> Vec<String> {
        let normalized = self.normalize(text);
        let mut words = Vec::new();
        let mut word = String::new();
        for c in normalized.chars() {
            if c.is_whitespace() {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            } else if is_punctuation(c) {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                words.push(c.to_string());
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    /// The WordPiece ids of one word (no normalisation): greedy longest match first, `[UNK]` for the whole word
    /// when it is too long or any rest of it matches nothing.
    fn word_ids(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > self.max_chars_per_word {
            out.push(self.unk);
            return;
        }
        let start_len = out.len();
        let mut start = 0;
        let mut candidate = String::with_capacity(word.len() + CONTINUATION.len());
        while start < word.len() {
            // Try the longest rest first, shrinking one character at a time.
            let mut end = word.len();
            let mut found = None;
            while end > start {
                candidate.clear();
                if start > 0 {
                    candidate.push_str(CONTINUATION);
                }
                candidate.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(&candidate) {
                    found = Some(id);
                    break;
                }
                end = word[..end].char_indices().next_back().map_or(start, |(i, _)| i);
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(start_len);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }

    /// The word-piece ids of `text`, without `[CLS]`/`[SEP]` and without truncation. Special tokens written out
    /// in `text` keep their ids.
    pub fn piece_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        loop {
            // The leftmost special token, the longest one on a tie (leftmost-longest, as `tokenizers` matches).
            let next = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, std::cmp::Reverse(s.len()), *id)))
                .min();
            let (plain, special) = match next {
                Some((at, std::cmp::Reverse(len), id)) => (&rest[..at], Some((id, at + len))),
                None => (rest, None),
            };
            for word in self.words(plain) {
                self.word_ids(&word, &mut ids);
            }
            match special {
                Some((id, end)) => {
                    ids.push(id);
                    rest = &rest[end..];
                }
                None => return ids,
            }
        }
    }

    /// The word pieces of `text` as strings (for inspection), without `[CLS]`/`[SEP]`.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let by_id: HashMap<u32, &str> = self.vocab.iter().map(|(t, &i)| (i, t.as_str())).collect();
        self.piece_ids(text).into_iter().map(|id| by_id.get(&id).copied().unwrap_or(UNK).to_string()).collect()
    }

    /// The model input for `text`: `[CLS]`, its word pieces truncated to `max_len - 2`, `[SEP]`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(16);
        ids.push(self.cls);
        let mut pieces = self.piece_ids(text);
        pieces.truncate(self.max_len - 2);
        ids.extend(pieces);
        ids.push(self.sep);
        ids
    }
}

/// Whitespace as `BertNormalizer` sees it: tab, newline, carriage return, or Unicode White_Space.
fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// A control character as `BertNormalizer` sees it: Unicode category C (Cc, Cf, Cs, Co, Cn), except tab, newline
/// and carriage return, which count as whitespace.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.general_category_group() == GeneralCategoryGroup::Other
}

/// Punctuation as `BertPreTokenizer` sees it: ASCII punctuation (which includes symbols such as `$`, `+`, `^`)
/// or Unicode category P.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.general_category_group() == GeneralCategoryGroup::Punctuation
}

/// The CJK ideograph blocks that BERT splits into single-character words.
fn is_cjk(c: char) -> bool {
    matches!(
        u32::from(c),
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny vocabulary: specials first (ids 0-3), then whole words, then continuations.
    const VOCAB: &[&str] = &[
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", // 0-3
        "un", "##aff", "##able", "unaff", // 4-7
        "the", "cafe", "a", "man", // 8-11
        ",", ".", "!", "##s", // 12-15
        "naive", "中", "国", "$", // 16-19
    ];

    fn tok() -> WordPiece {
        WordPiece::new(VOCAB.iter().copied(), Normalization::BERT_UNCASED, 512).unwrap()
    }

    /// One helper for every case: the pieces of `text`, as strings.
    fn check(text: &str, want: &[&str]) {
        assert_eq!(tok().tokenize(text), want, "pieces of {text:?}");
    }

    #[test]
    fn greedy_longest_match_first() {
        // "unaff" is longer than "un", so it wins; then "##able" is the longest continuation.
        check("unaffable", &["unaff", "##able"]);
        // A plural: the word, then the continuation "##s".
        check("mans", &["man", "##s"]);
    }

    #[test]
    fn unknown_words_become_a_single_unk() {
        // "unaffxable": "unaff" matches, but no continuation starts with "x", so the whole word is [UNK].
        check("the unaffxable man", &["the", "[UNK]", "man"]);
        check("zebra", &["[UNK]"]);
    }

    #[test]
    fn punctuation_splits_words() {
        check("man,the.man!", &["man", ",", "the", ".", "man", "!"]);
        // ASCII symbols count as punctuation too.
        check("a$man", &["a", "$", "man"]);
    }

    #[test]
    fn lowercases_and_strips_accents() {
        check("The CAFÉ", &["the", "cafe"]);
        check("Naïve", &["naive"]);
        assert_eq!(tok().normalize("Ça\tva\u{0}\u{200b}!"), "ca va!");
    }

    #[test]
    fn cjk_characters_are_words_of_their_own() {
        check("a中国man", &["a", "中", "国", "man"]);
    }

    #[test]
    fn encode_wraps_and_truncates() {
        assert_eq!(tok().encode("the man."), vec![2, 8, 11, 13, 3]);
        assert_eq!(tok().encode(""), vec![2, 3]);
        assert_eq!(tok().with_max_len(4).encode("the man."), vec![2, 8, 11, 3]);
    }

    #[test]
    fn special_tokens_in_the_text_keep_their_ids() {
        // Matched verbatim before lowercasing, so "[cls]" is ordinary text (spelled [UNK]s in this tiny vocab).
        assert_eq!(tok().encode("the [CLS] man[SEP]"), vec![2, 8, 2, 11, 3, 3]);
        assert_eq!(tok().tokenize("[cls]"), vec!["[UNK]", "[UNK]", "[UNK]"]);
    }

    #[test]
    fn overlong_words_are_unk() {
        let long = "a".repeat(DEFAULT_MAX_CHARS_PER_WORD + 1);
        check(&long, &["[UNK]"]);
    }

    #[test]
    fn a_vocab_without_specials_is_an_error() {
        let err = WordPiece::new(["a", "b"], Normalization::BERT_UNCASED, 8).unwrap_err();
        assert_eq!(err.to_string(), "tokenizer: `vocab` has no [UNK] token; is it a BERT vocab.txt?");
    }

    #[test]
    fn from_dir_reads_the_files_and_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = WordPiece::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("vocab.txt"), "{err}");
        std::fs::write(dir.path().join("vocab.txt"), VOCAB.join("\n") + "\n").unwrap();
        std::fs::write(
            dir.path().join("tokenizer.json"),
            serde_json::json!({
                "truncation": {"max_length": 128},
                "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                    "strip_accents": null, "lowercase": false},
                "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                    "max_input_chars_per_word": 100}
            })
            .to_string(),
        )
        .unwrap();
        let wp = WordPiece::from_dir(dir.path()).unwrap();
        assert_eq!(wp.max_len(), 128);
        // strip_accents null follows lowercase (false here): the case and the accent stay.
        assert_eq!(
            wp.normalization(),
            Normalization { strip_accents: false, lowercase: false, ..Normalization::BERT_UNCASED }
        );
        assert_eq!(wp.tokenize("The"), vec!["[UNK]"]);
        std::fs::write(dir.path().join("sentence_bert_config.json"), r#"{"max_seq_length": 256}"#).unwrap();
        assert_eq!(WordPiece::from_dir(dir.path()).unwrap().max_len(), 256);
    }
}

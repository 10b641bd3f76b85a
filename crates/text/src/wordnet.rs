//! A reader for the WordNet 3.0 database files (`data.{noun,verb,adj,adv}`, `index.{noun,verb,adj,adv}`).
//!
//! The format is WordNet's `wndb(5WN)`. A data line is
//!
//! ```text
//! offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} p_cnt (ptr_symbol offset pos source/target){p_cnt} [frames] | gloss
//! 00001740 00 a 01 able 0 005 = 05200169 n 0000 … | (usually followed by `to') having the necessary means …; "she was able to program …"
//! ```
//!
//! with `w_cnt` and `lex_id` in hexadecimal. An index line is `lemma pos synset_cnt p_cnt (ptr_symbol){p_cnt}
//! sense_cnt tagsense_cnt (synset_offset){synset_cnt}`, senses ordered by frequency, so the first offset is the
//! lemma's most frequent sense. Both kinds of file open with the Princeton licence, lines that start with two
//! spaces, which the reader skips.
//!
//! [`WordNet::load`] reads all four parts of speech; [`Synset`] holds what the QA builder needs: the lemmas
//! (underscores turned to spaces, adjective markers such as `(a)`, `(p)`, `(ip)` stripped), the lexicographer file
//! as its class name ([`LEXNAMES`]) and the gloss split into a definition and its quoted examples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, TextError};

/// The command that fetches WordNet into `data/wordnet`.
pub const WORDNET_FETCH: &str = "cargo xtask data fetch --only wordnet";

/// The 45 lexicographer files of WordNet 3.0 (`lexnames(5WN)`), by number: the lexical class of a synset.
pub const LEXNAMES: [&str; 45] = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
];

/// A part of speech, as WordNet's files split them (adjective satellites live with the adjectives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pos {
    /// `data.noun`.
    Noun,
    /// `data.verb`.
    Verb,
    /// `data.adj` (head adjectives and satellites).
    Adj,
    /// `data.adv`.
    Adv,
}

impl Pos {
    /// Every part of speech, in file order.
    pub const ALL: [Pos; 4] = [Pos::Noun, Pos::Verb, Pos::Adj, Pos::Adv];

    /// The name as file suffixes and configs write it: `noun`, `verb`, `adj`, `adv`.
    pub fn name(self) -> &'static str {
        match self {
            Pos::Noun => "noun",
            Pos::Verb => "verb",
            Pos::Adj => "adj",
            Pos::Adv => "adv",
        }
    }

    /// WordNet's one-letter tag: `n`, `v`, `a`, `r`.
    pub fn letter(self) -> char {
        match self {
            Pos::Noun => 'n',
            Pos::Verb => 'v',
            Pos::Adj => 'a',
            Pos::Adv => 'r',
        }
    }

    /// Parses [`Pos::name`].
    pub fn from_name(name: &str) -> Option<Pos> {
        Pos::ALL.into_iter().find(|p| p.name() == name)
    }

    fn ss_types(self) -> &'static [&'static str] {
        match self {
            Pos::Noun => &["n"],
            Pos::Verb => &["v"],
            Pos::Adj => &["a", "s"],
            Pos::Adv => &["r"],
        }
    }
}

/// One synset of a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synset {
    /// Byte offset in its data file: the synset's key within its part of speech.
    pub offset: u32,
    /// Part of speech (the file it came from).
    pub pos: Pos,
    /// True for an adjective satellite (`ss_type` `s`).
    pub satellite: bool,
    /// Lexicographer file number, an index into [`LEXNAMES`].
    pub lex_file: u8,
    /// The synonyms, in file order: underscores turned to spaces, adjective markers stripped.
    pub lemmas: Vec<String>,
    /// The gloss up to its first top-level `;` (or first quoted example), trimmed.
    pub definition: String,
    /// The quoted examples of the gloss, without their quotes.
    pub examples: Vec<String>,
}

impl Synset {
    /// `00001740-a`: the offset and the part-of-speech letter, as the Open Multilingual Wordnet writes ids.
    pub fn id(&self) -> String {
        format!("{:08}-{}", self.offset, self.pos.letter())
    }

    /// The lexical class, e.g. `noun.animal`.
    pub fn lexclass(&self) -> &'static str {
        LEXNAMES[usize::from(self.lex_file)]
    }
}

/// One line of an index file: a lemma's senses in one part of speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Synset offsets, most frequent sense first.
    pub senses: Vec<u32>,
    /// `tagsense_cnt`: how many of the senses are tagged in the semantic concordances, a measure of how common
    /// the word is.
    pub tagged: u32,
}

/// The four data files and the four index files, read.
#[derive(Debug, Clone)]
pub struct WordNet {
    synsets: Vec<Synset>,
    by_key: HashMap<(Pos, u32), usize>,
    index: HashMap<(Pos, String), IndexEntry>,
}

impl WordNet {
    /// Reads `dir/data.{noun,verb,adj,adv}` and `dir/index.{noun,verb,adj,adv}`. A missing file is a
    /// [`TextError::Missing`] naming the fetch command; a malformed line a [`TextError::Parse`] naming file and line.
    pub fn load(dir: &Path) -> Result<WordNet> {
        let mut synsets = Vec::new();
        let mut index = HashMap::new();
        for pos in Pos::ALL {
            let path = dir.join(format!("data.{}", pos.name()));
            let text = read(&path)?;
            for (n, line) in licence_free_lines(&text) {
                synsets.push(parse_data_line(line, pos).map_err(|what| parse_err(&path, n, what))?);
            }
            let path = dir.join(format!("index.{}", pos.name()));
            let text = read(&path)?;
            for (n, line) in licence_free_lines(&text) {
                let (lemma, entry) = parse_index_line(line, pos).map_err(|what| parse_err(&path, n, what))?;
                index.insert((pos, lemma), entry);
            }
        }
        Ok(WordNet::from_parts(synsets, index))
    }

    fn from_parts(mut synsets: Vec<Synset>, index: HashMap<(Pos, String), IndexEntry>) -> WordNet {
        synsets.sort_by_key(|s| (s.pos, s.offset));
        let by_key = synsets.iter().enumerate().map(|(i, s)| ((s.pos, s.offset), i)).collect();
        WordNet { synsets, by_key, index }
    }

    /// Every synset, ordered by part of speech ([`Pos::ALL`]) and offset.
    pub fn synsets(&self) -> &[Synset] {
        &self.synsets
    }

    /// The synset at `offset` of `pos`.
    pub fn synset(&self, pos: Pos, offset: u32) -> Option<&Synset> {
        self.by_key.get(&(pos, offset)).map(|&i| &self.synsets[i])
    }

    /// The senses of `lemma` (any case; spaces or underscores) as `pos`, most frequent first.
    pub fn senses(&self, pos: Pos, lemma: &str) -> Option<&IndexEntry> {
        self.index.get(&(pos, index_key(lemma)))
    }

    /// The synset of `lemma`'s most frequent sense as `pos`.
    pub fn first_sense(&self, pos: Pos, lemma: &str) -> Option<&Synset> {
        let first = *self.senses(pos, lemma)?.senses.first()?;
        self.synset(pos, first)
    }
}

/// The index files' spelling of a lemma: lowercase, underscores for spaces.
fn index_key(lemma: &str) -> String {
    lemma.to_lowercase().replace(' ', "_")
}

fn read(path: &Path) -> Result<String> {
    if !path.exists() {
        return Err(TextError::Missing { path: path.to_path_buf(), fetch: WORDNET_FETCH });
    }
    std::fs::read_to_string(path).map_err(TextError::io("reading", path))
}

fn parse_err(path: &Path, line: usize, what: String) -> TextError {
    TextError::Parse { path: PathBuf::from(path), line, what }
}

/// The lines that are not the licence header (which starts each with two spaces), numbered from 1.
fn licence_free_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, l)| !l.starts_with("  ") && !l.trim().is_empty()).map(|(i, l)| (i + 1, l))
}

/// Parses one line of `data.<pos>`.
pub fn parse_data_line(line: &str, pos: Pos) -> std::result::Result<Synset, String> {
    let (fields, gloss) = match line.split_once(" | ") {
        Some((f, g)) => (f, g),
        None => (line.trim_end().strip_suffix(" |").unwrap_or(line), ""),
    };
    let mut tok = fields.split_whitespace();
    let mut next = |what: &str| tok.next().ok_or_else(|| format!("line ends before the {what}"));
    let offset_s = next("synset offset")?;
    let offset: u32 = offset_s.parse().map_err(|_| format!("synset offset {offset_s:?} is not a number"))?;
    let lex_s = next("lexicographer file number")?;
    let lex_file: u8 = lex_s
        .parse()
        .ok()
        .filter(|&n: &u8| usize::from(n) < LEXNAMES.len())
        .ok_or_else(|| format!("lexicographer file number {lex_s:?} is not in 00..44"))?;
    let ss_type = next("synset type")?;
    if !pos.ss_types().contains(&ss_type) {
        return Err(format!("synset type {ss_type:?} does not belong in data.{}", pos.name()));
    }
    let w_cnt_s = next("word count")?;
    let w_cnt = usize::from_str_radix(w_cnt_s, 16).map_err(|_| format!("word count {w_cnt_s:?} is not hexadecimal"))?;
    if w_cnt == 0 {
        return Err("word count is 0".into());
    }
    let mut lemmas = Vec::with_capacity(w_cnt);
    for _ in 0..w_cnt {
        let word = next("word")?;
        let lex_id = next("lex_id")?;
        if u8::from_str_radix(lex_id, 16).is_err() {
            return Err(format!("lex_id {lex_id:?} after {word:?} is not hexadecimal"));
        }
        lemmas.push(clean_lemma(word));
    }
    let p_cnt_s = next("pointer count")?;
    let p_cnt: usize = p_cnt_s.parse().map_err(|_| format!("pointer count {p_cnt_s:?} is not a number"))?;
    for i in 0..p_cnt {
        for part in ["symbol", "offset", "part of speech", "source/target"] {
            next(&format!("{part} of pointer {}", i + 1))?;
        }
    }
    let (definition, examples) = split_gloss(gloss.trim());
    Ok(Synset { offset, pos, satellite: ss_type == "s", lex_file, lemmas, definition, examples })
}

/// Parses one line of `index.<pos>` into its key (lowercase, underscores) and its senses.
pub fn parse_index_line(line: &str, pos: Pos) -> std::result::Result<(String, IndexEntry), String> {
    let tok: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize, what: &str| -> std::result::Result<usize, String> {
        let s = tok.get(i).ok_or_else(|| format!("line ends before the {what}"))?;
        s.parse().map_err(|_| format!("{what} {s:?} is not a number"))
    };
    let lemma = tok.first().ok_or("empty line")?.to_string();
    match tok.get(1) {
        Some(p) if p.len() == 1 && p.starts_with(pos.letter()) => {}
        other => return Err(format!("part of speech {other:?} does not belong in index.{}", pos.name())),
    }
    let synset_cnt = num(2, "synset count")?;
    let p_cnt = num(3, "pointer count")?;
    let first = 4 + p_cnt + 2;
    if tok.len() != first + synset_cnt {
        return Err(format!("expected {} fields for {synset_cnt} senses, found {}", first + synset_cnt, tok.len()));
    }
    let senses = (first..tok.len()).map(|i| num(i, "synset offset").map(|o| o as u32)).collect::<Result<_, _>>()?;
    let tagged = num(first - 1, "tagsense count")? as u32;
    Ok((lemma, IndexEntry { senses, tagged }))
}

/// `ready_to_hand(p)` → `ready to hand`: underscores to spaces, the adjective position markers `(a)`, `(p)`,
/// `(ip)` removed.
pub fn clean_lemma(word: &str) -> String {
    let bare = ["(a)", "(p)", "(ip)"].iter().find_map(|m| word.strip_suffix(m)).unwrap_or(word);
    bare.replace('_', " ")
}

/// Splits a gloss into its definition (up to the first `;` or `"` outside parentheses) and its quoted examples.
pub fn split_gloss(gloss: &str) -> (String, Vec<String>) {
    let mut depth = 0usize;
    let mut end = gloss.len();
    for (i, ch) in gloss.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' | '"' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let definition = gloss[..end].trim().trim_end_matches([';', ',', ':']).trim().to_string();
    let examples = gloss[end..]
        .split('"')
        .enumerate()
        .filter(|(i, s)| i % 2 == 1 && !s.trim().is_empty())
        .map(|(_, s)| s.trim().to_string())
        .collect();
    (definition, examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real lines of WordNet 3.0 (pointers shortened where the count says so).
    #[test]
    fn data_lines_parse() {
        let able = "00001740 00 a 01 able 0 005 = 05200169 n 0000 = 05616246 n 0000 + 05616246 n 0101 + 05200169 n 0101 ! 00002098 a 0101 | (usually followed by `to') having the necessary means or skill or know-how or authority to do something; \"able to swim\"; \"she was able to program her computer\"  ";
        let s = parse_data_line(able, Pos::Adj).unwrap();
        assert_eq!((s.offset, s.lex_file, s.satellite), (1740, 0, false));
        assert_eq!(s.lexclass(), "adj.all");
        assert_eq!(s.id(), "00001740-a");
        assert_eq!(s.lemmas, ["able"]);
        assert_eq!(
            s.definition,
            "(usually followed by `to') having the necessary means or skill or know-how or authority to do something"
        );
        assert_eq!(s.examples, ["able to swim", "she was able to program her computer"]);

        let handy = "00019731 00 s 02 handy 0 ready_to_hand(p) 0 002 & 00019131 a 0000 + 04718999 n 0101 | easy to reach; \"found a handy spot for the can opener\"  ";
        let s = parse_data_line(handy, Pos::Adj).unwrap();
        assert!(s.satellite);
        assert_eq!(s.lemmas, ["handy", "ready to hand"]);
        assert_eq!(s.definition, "easy to reach");

        let outback = "00020103 00 s 02 outback(a) 0 remote 0 003 & 00019874 a 0000 + 05085165 n 0202 + 08505110 n 0101 | inaccessible and sparsely populated;  ";
        let s = parse_data_line(outback, Pos::Adj).unwrap();
        assert_eq!(s.lemmas, ["outback", "remote"]);
        assert_eq!((s.definition.as_str(), s.examples.len()), ("inaccessible and sparsely populated", 0));

        // Verb lines carry frames after the pointers; w_cnt is hexadecimal.
        let breathe = "00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 002 * 00005041 v 0000 $ 00002325 v 0000 02 + 02 00 + 08 00 | draw air into, and expel out of, the lungs; \"I can breathe better when the air is clean\"  ";
        let s = parse_data_line(breathe, Pos::Verb).unwrap();
        assert_eq!(s.lemmas, ["breathe", "take a breath", "respire", "suspire"]);
        assert_eq!(s.lexclass(), "verb.body");
        assert_eq!(s.definition, "draw air into, and expel out of, the lungs");
        let many = "09999999 18 n 0a a 0 b 0 c 0 d 0 e 0 f 0 g 0 h 0 i 0 j 0 000 | ten lemmas  ";
        assert_eq!(parse_data_line(many, Pos::Noun).unwrap().lemmas.len(), 10);
    }

    #[test]
    fn bad_data_lines_say_what_is_wrong() {
        let cases = [
            ("00001740 00 a 01 able z 000 | x", Pos::Adj, "lex_id \"z\" after \"able\" is not hexadecimal"),
            ("00001740 00 a 02 able 0 005 | x", Pos::Adj, "line ends before the lex_id"),
            ("00001740 99 a 01 able 0 000 | x", Pos::Adj, "lexicographer file number \"99\" is not in 00..44"),
            ("00001740 00 n 01 able 0 000 | x", Pos::Adj, "synset type \"n\" does not belong in data.adj"),
            (
                "00001740 00 a 01 able 0 001 = 05200169 | x",
                Pos::Adj,
                "line ends before the part of speech of pointer 1",
            ),
            ("x1740 00 a 01 able 0 000 | x", Pos::Adj, "synset offset \"x1740\" is not a number"),
        ];
        for (line, pos, want) in cases {
            assert_eq!(parse_data_line(line, pos).unwrap_err(), want, "{line}");
        }
    }

    #[test]
    fn index_lines_parse() {
        let (k, e) = parse_index_line("bank n 10 5 @ ~ #m %p + 10 9 09213565 08420278 09213434 09213828 09214060 08462066 13368318 13356402 04139859 02787772  ", Pos::Noun).unwrap();
        assert_eq!(k, "bank");
        assert_eq!(e.senses.len(), 10);
        assert_eq!((e.senses[0], e.tagged), (9213565, 9));
        assert!(
            parse_index_line("bank n 2 0 2 0 09213565", Pos::Noun)
                .unwrap_err()
                .contains("expected 8 fields for 2 senses, found 7")
        );
        assert!(parse_index_line("bank v 1 0 1 0 1", Pos::Noun).unwrap_err().contains("does not belong"));
    }

    #[test]
    fn glosses_split_outside_parentheses() {
        let (d, e) = split_gloss("a tool (as for; cutting) or a machine; \"a sharp one\"; also a verb");
        assert_eq!(d, "a tool (as for; cutting) or a machine");
        assert_eq!(e, ["a sharp one"]);
        let (d, e) = split_gloss("a unit \"quoted\" then");
        assert_eq!((d.as_str(), e), ("a unit", vec!["quoted".to_string()]));
    }

    #[test]
    fn missing_files_name_the_path_and_the_fetch_command() {
        let tmp = tempfile::tempdir().unwrap();
        let err = WordNet::load(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("data.noun does not exist"), "{err}");
        assert!(err.contains("run `cargo xtask data fetch --only wordnet` first"), "{err}");
    }
}

//! The build config of a paraphrase-entailed QA dataset: a TOML file, parsed strictly and checked once.
//!
//! ```toml
//! name = "qa-wordnet"
//! seed = 42                        # the master seed; every other seed derives from it
//! pos = ["noun", "verb", "adj", "adv"]
//!
//! [pool]
//! train = 2000                     # N: base QA pairs in train, the targets among them
//! test = 500                       # held-out QA pairs (never in train), for perplexity
//!
//! [targets]
//! count = 50                       # T
//!
//! [paraphrases]
//! per_target = 10                  # k: kept paraphrases per target, at most
//! candidates = 100                 # candidates scored per target, at most
//! threshold = 0.8                  # minimum cosine of a paraphrase's "Q A" embedding to the target's
//! answers = "paraphrase"           # verbatim | paraphrase
//!
//! [sheet]                          # optional
//! targets = 6
//! paraphrases = 4
//! ```
//!
//! [`QaConfig::from_toml`] rejects unknown keys and out-of-range values with an error naming the file and the key.
//! The check that needs the data (the pool and test sets fit in the usable QA pairs) runs in
//! [`crate::build_qa`].

use serde::Deserialize;

use crate::error::{Result, TextError};
use crate::wordnet::Pos;

/// What a paraphrase does to the target's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// The answer is the target's, character for character; only the question varies. Few candidates per target
    /// (templates × lemmas), but a model trained on the variants is taught the target's exact answer.
    Verbatim,
    /// The answer may also be rephrased (synonym substitution, safe clause reordering), as the paper's LLM
    /// paraphrases rephrase the whole pair; the embedding threshold keeps its meaning the target's.
    Paraphrase,
}

/// The QA pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolSpec {
    /// `N`: base QA pairs in the train split, the targets among them.
    pub train: usize,
    /// Held-out QA pairs in the test split.
    pub test: usize,
}

/// How paraphrases are made and kept.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ParaphraseSpec {
    /// `k`: paraphrases kept per target, at most (fewer when fewer candidates pass the threshold).
    pub per_target: usize,
    /// Candidates scored per target, at most (a seeded sample when more are generated). The paper generated 100
    /// and kept 50 (arXiv 2601.06938).
    pub candidates: usize,
    /// Minimum cosine between the embeddings of the paraphrase's `"Q A"` and the target's.
    pub threshold: f64,
    /// Whether the answer is kept verbatim or may be rephrased.
    pub answers: AnswerMode,
}

/// The Markdown sample sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SheetSpec {
    /// Targets shown.
    pub targets: usize,
    /// Paraphrases shown per target.
    pub paraphrases: usize,
}

/// A checked QA build config. Construct it with [`QaConfig::from_toml`] or [`QaConfig::from_file`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QaConfig {
    /// Dataset name, `[a-z0-9_-]+`.
    pub name: String,
    /// The master seed.
    pub seed: u64,
    /// The parts of speech QA pairs are made from, in [`Pos::ALL`] order, without repeats.
    pub pos: Vec<Pos>,
    /// Pool sizes.
    pub pool: PoolSpec,
    /// `T`, the number of targets.
    pub targets: usize,
    /// Paraphrase generation and filtering.
    pub paraphrases: ParaphraseSpec,
    /// The sample sheet.
    pub sheet: SheetSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    seed: i64,
    pos: Vec<String>,
    pool: RawPool,
    targets: RawTargets,
    paraphrases: RawParaphrases,
    sheet: Option<RawSheet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    train: i64,
    test: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    count: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParaphrases {
    per_target: i64,
    candidates: i64,
    threshold: f64,
    answers: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSheet {
    targets: i64,
    paraphrases: i64,
}

/// Field checks that report `file: \`field\` problem`.
type Checker<'a> = doppel_stdx::Checker<'a, TextError>;

impl QaConfig {
    /// Reads and checks a TOML config file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(TextError::io("reading", path))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks TOML `text`; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| TextError::ConfigSyntax {
            file: doppel_stdx::config::located(file, text, e.span()),
            message: e.message().replace('\n', " "),
        })?;
        let c = Checker::new(file);
        if raw.name.is_empty()
            || !raw.name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "-_".contains(ch))
        {
            return Err(c.err("name", format!("is {:?}; use lowercase letters, digits, - and _", raw.name)));
        }
        let seed =
            u64::try_from(raw.seed).map_err(|_| c.err("seed", format!("is {}; it must be 0 or more", raw.seed)))?;
        if raw.pos.is_empty() {
            return Err(c.err("pos", "is empty; list one or more of noun, verb, adj, adv"));
        }
        let mut pos = Vec::new();
        for p in &raw.pos {
            let parsed =
                Pos::from_name(p).ok_or_else(|| c.err("pos", format!("holds {p:?}; use noun, verb, adj or adv")))?;
            if pos.contains(&parsed) {
                return Err(c.err("pos", format!("holds {p:?} twice")));
            }
            pos.push(parsed);
        }
        pos.sort();
        let pool = PoolSpec {
            train: c.count("pool.train", raw.pool.train, 1)?,
            test: c.count("pool.test", raw.pool.test, 0)?,
        };
        let targets = c.count("targets.count", raw.targets.count, 1)?;
        if targets > pool.train {
            return Err(c.err("targets.count", format!("is {targets}; it must be at most pool.train ({})", pool.train)));
        }
        let p = raw.paraphrases;
        let per_target = c.count("paraphrases.per_target", p.per_target, 0)?;
        let candidates = c.count("paraphrases.candidates", p.candidates, 1)?;
        if candidates < per_target {
            return Err(c.err(
                "paraphrases.candidates",
                format!("is {candidates}; it must be at least paraphrases.per_target ({per_target})"),
            ));
        }
        if !(-1.0..=1.0).contains(&p.threshold) {
            return Err(c.err("paraphrases.threshold", format!("is {}; a cosine must be in [-1, 1]", p.threshold)));
        }
        let answers = match p.answers.as_str() {
            "verbatim" => AnswerMode::Verbatim,
            "paraphrase" => AnswerMode::Paraphrase,
            other => return Err(c.err("paraphrases.answers", format!("is {other:?}; use verbatim or paraphrase"))),
        };
        let sheet = match raw.sheet {
            None => SheetSpec { targets: 6, paraphrases: 4 },
            Some(s) => SheetSpec {
                targets: c.count("sheet.targets", s.targets, 1)?,
                paraphrases: c.count("sheet.paraphrases", s.paraphrases, 0)?,
            },
        };
        Ok(QaConfig {
            name: raw.name,
            seed,
            pos,
            pool,
            targets,
            paraphrases: ParaphraseSpec { per_target, candidates, threshold: p.threshold, answers },
            sheet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const GOOD: &str = r#"
name = "t"
seed = 7
pos = ["verb", "noun"]
[pool]
train = 20
test = 5
[targets]
count = 4
[paraphrases]
per_target = 3
candidates = 10
threshold = 0.5
answers = "paraphrase"
"#;

    #[test]
    fn good_config_parses() {
        let c = QaConfig::from_toml(GOOD, "good.toml").unwrap();
        assert_eq!(c.pos, [Pos::Noun, Pos::Verb]);
        assert_eq!((c.pool.train, c.pool.test, c.targets), (20, 5, 4));
        assert_eq!(c.paraphrases.answers, AnswerMode::Paraphrase);
        assert_eq!(c.sheet, SheetSpec { targets: 6, paraphrases: 4 });
    }

    /// Each bad config, with the message it must produce.
    #[test]
    fn bad_configs_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("seed = 7", "seed = -1", "bad.toml: `seed` is -1; it must be 0 or more"),
            ("name = \"t\"", "name = \"T T\"", "bad.toml: `name` is \"T T\""),
            ("pos = [\"verb\", \"noun\"]", "pos = []", "`pos` is empty"),
            ("pos = [\"verb\", \"noun\"]", "pos = [\"verb\", \"pronoun\"]", "`pos` holds \"pronoun\"; use noun, verb"),
            ("pos = [\"verb\", \"noun\"]", "pos = [\"verb\", \"verb\"]", "`pos` holds \"verb\" twice"),
            ("train = 20", "train = 0", "`pool.train` is 0; it must be at least 1"),
            ("test = 5", "test = -2", "`pool.test` is -2; it must be 0 or more"),
            ("count = 4", "count = 21", "`targets.count` is 21; it must be at most pool.train (20)"),
            ("per_target = 3", "per_target = -3", "`paraphrases.per_target` is -3"),
            (
                "candidates = 10",
                "candidates = 2",
                "`paraphrases.candidates` is 2; it must be at least paraphrases.per_target (3)",
            ),
            ("threshold = 0.5", "threshold = 1.5", "`paraphrases.threshold` is 1.5; a cosine must be in [-1, 1]"),
            ("answers = \"paraphrase\"", "answers = \"llm\"", "`paraphrases.answers` is \"llm\"; use verbatim"),
            ("threshold = 0.5", "threshold = 0.5\nthreshhold = 1", "bad.toml:14: unknown field `threshhold`"),
            ("seed = 7\n", "", "missing field `seed`"),
            (
                "answers = \"paraphrase\"",
                "answers = \"paraphrase\"\n[sheet]\ntargets = 0\nparaphrases = 1",
                "`sheet.targets` is 0",
            ),
        ];
        for (from, to, want) in cases {
            assert!(GOOD.contains(from), "fixture lacks {from}");
            let text = GOOD.replacen(from, to, 1);
            let err = QaConfig::from_toml(&text, "bad.toml").unwrap_err().to_string();
            assert!(err.contains(want), "{to}: got {err}");
            assert!(err.starts_with("bad.toml"), "{err}");
            assert!(!err.contains('\n'), "errors are one line: {err}");
        }
    }

    #[test]
    fn the_shipped_config_parses() {
        let path = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/qa-wordnet.toml");
        let c = QaConfig::from_file(&path).unwrap();
        assert_eq!(c.pos, Pos::ALL);
    }
}

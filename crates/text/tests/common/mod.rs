//! A small WordNet in the real file format, written into a temporary directory, and config helpers.

#![allow(dead_code, clippy::unwrap_used)] // Each test binary uses part of this; a panic is the test failing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use doppel_text::QaConfig;

/// `(pos, lex_file, ss_type, lemmas, gloss)`, offsets assigned in order.
type Entry = (&'static str, u8, &'static str, &'static [&'static str], String);

fn entries() -> Vec<Entry> {
    let mut e: Vec<Entry> = vec![
        (
            "noun",
            5,
            "n",
            &["dog", "domestic_dog", "Canis_familiaris"],
            "a member of the genus Canis that has been domesticated by man; \"the dog barked all night\"".into(),
        ),
        (
            "noun",
            5,
            "n",
            &["cat", "true_cat"],
            "feline mammal usually having thick soft fur and no ability to roar".into(),
        ),
        (
            "noun",
            6,
            "n",
            &["car", "auto", "automobile", "motorcar"],
            "a motor vehicle with four wheels or a motor vehicle with three wheels; \"he needs a car to get to work\""
                .into(),
        ),
        ("noun", 6, "n", &["vehicle"], "a conveyance that transports people or objects".into()),
        ("noun", 8, "n", &["fur", "pelt"], "the dense coat of fine silky hairs on mammals".into()),
        (
            "noun",
            5,
            "n",
            &["mammal", "mammalian"],
            "any warm-blooded vertebrate having the skin covered with hair".into(),
        ),
        ("noun", 7, "n", &["size", "magnitude"], "the physical magnitude of something".into()),
        ("noun", 17, "n", &["hair", "tomentum"], "a covering for the body of a mammal".into()),
        ("noun", 6, "n", &["wheel", "roll"], "a simple machine consisting of a circular frame".into()),
        ("noun", 18, "n", &["owner", "proprietor"], "(law) a person who owns something".into()),
        ("noun", 13, "n", &["apple"], "fruit with red or yellow or green skin".into()),
        ("noun", 28, "n", &["hour", "hr", "60_minutes"], "a period of time equal to 1/60 of a day".into()),
        (
            "verb",
            29,
            "v",
            &["breathe", "take_a_breath", "respire"],
            "draw air into, and expel out of, the lungs; \"I can breathe better\"".into(),
        ),
        ("verb", 38, "v", &["run"], "move fast by using one's feet".into()),
        ("verb", 30, "v", &["shrink", "contract"], "make smaller or make weaker".into()),
        ("verb", 36, "v", &["build", "construct", "make"], "make by combining materials and parts".into()),
        (
            "adj",
            0,
            "a",
            &["able"],
            "(usually followed by `to') having the necessary means or skill to do something".into(),
        ),
        ("adj", 0, "s", &["handy", "ready_to_hand(p)"], "easy to reach".into()),
        ("adj", 0, "a", &["large", "big"], "above average in size or number or quantity".into()),
        ("adj", 0, "s", &["outback(a)", "remote"], "inaccessible and sparsely populated".into()),
        ("adj", 0, "a", &["thick"], "not thin; of a specific thickness".into()),
        ("adj", 0, "a", &["soft"], "yielding readily to pressure or weight".into()),
        ("adj", 0, "a", &["fast"], "acting or moving or capable of acting or moving quickly".into()),
        ("adv", 2, "r", &["fast"], "quickly or rapidly".into()),
        ("adv", 2, "r", &["quickly", "rapidly", "speedily"], "with rapid movements".into()),
        ("adv", 2, "r", &["usually", "normally", "commonly"], "under normal conditions".into()),
    ];
    for i in 0..30 {
        let pos = ["noun", "verb", "adj", "adv"][i % 4];
        let (lex, ss) = match pos {
            "noun" => (6, "n"),
            "verb" => (36, "v"),
            "adj" => (0, "a"),
            _ => (2, "r"),
        };
        let lemma: &'static str = Box::leak(format!("gadget{i}").into_boxed_str());
        let other: &'static str = Box::leak(format!("widget{i}").into_boxed_str());
        let lemmas: &'static [&'static str] = Box::leak(vec![lemma, other].into_boxed_slice());
        e.push((pos, lex, ss, lemmas, format!("a large vehicle or a large machine of size {i}")));
    }
    e
}

/// Writes `data.*` and `index.*` (with the licence header) into `dir`.
pub fn write_wordnet(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let licence = "  1 This software and database is being provided to you, the LICENSEE, by  \n  2 Princeton University under the following license.  \n";
    let mut data: BTreeMap<&str, String> = BTreeMap::new();
    let mut index: BTreeMap<&str, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
    let mut offsets: BTreeMap<&str, u32> = BTreeMap::new();
    for (pos, lex, ss, lemmas, gloss) in entries() {
        let offset = offsets.entry(pos).or_insert(1000);
        *offset += 100;
        let mut line = format!("{:08} {lex:02} {ss} {:02x}", *offset, lemmas.len());
        for l in lemmas {
            write!(line, " {l} 0").unwrap();
        }
        line.push_str(" 000");
        if pos == "verb" {
            line.push_str(" 01 + 02 00");
        }
        writeln!(line, " | {gloss}  ").unwrap();
        data.entry(pos).or_insert_with(|| licence.to_string()).push_str(&line);
        for l in lemmas {
            let key = doppel_text::wordnet::clean_lemma(l).to_lowercase().replace(' ', "_");
            index.entry(pos).or_default().entry(key).or_default().push(*offset);
        }
    }
    for pos in ["noun", "verb", "adj", "adv"] {
        std::fs::write(dir.join(format!("data.{pos}")), &data[pos]).unwrap();
        let letter = match pos {
            "noun" => "n",
            "verb" => "v",
            "adj" => "a",
            _ => "r",
        };
        let mut text = licence.to_string();
        for (lemma, senses) in &index[pos] {
            let offs: Vec<String> = senses.iter().map(|o| format!("{o:08}")).collect();
            writeln!(text, "{lemma} {letter} {} 0 {} 0 {}  ", senses.len(), senses.len(), offs.join(" ")).unwrap();
        }
        std::fs::write(dir.join(format!("index.{pos}")), text).unwrap();
    }
}

/// The fixture config, with `(key, value)` replacements of whole `key = …` lines.
pub fn config(replace: &[(&str, &str)]) -> QaConfig {
    let mut text = String::from(
        "name = \"fixture\"\nseed = 3\npos = [\"noun\", \"verb\", \"adj\", \"adv\"]\n[pool]\ntrain = 30\ntest = 10\n\
         [targets]\ncount = 6\n[paraphrases]\nper_target = 8\ncandidates = 40\nthreshold = 0.5\nanswers = \"paraphrase\"\n",
    );
    for (key, value) in replace {
        let line = text.lines().find(|l| l.starts_with(&format!("{key} ="))).unwrap().to_string();
        text = text.replace(&line, &format!("{key} = {value}"));
    }
    QaConfig::from_toml(&text, "fixture.toml").unwrap()
}

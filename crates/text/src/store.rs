//! QA dataset directories: what a QA build writes and the language-model steps read.
//!
//! ```text
//! DIR/
//!   manifest.json     config, seeds, WordNet file hashes, embedder, counts per split and origin, kept paraphrases
//!                     per target (min/mean/max), cosine quantiles of the kept ones, sha256 of every other file
//!   samples.parquet   id, split, origin, of, kind, index, params, question, answer, synset, pos, lexclass, cosine
//!   sheet.md          a few targets, each with its best paraphrases and their cosines
//! ```
//!
//! [`write()`] builds the directory under a temporary name beside `DIR` and renames it into place, so an interrupted
//! build leaves nothing behind (as `doppel_data::store` does for image datasets). [`open()`] checks every file
//! against the manifest's sha256 before reading the samples back.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use doppel_data::Split;
use doppel_data::hash::{sha256_bytes, sha256_file};
use doppel_data::lineage::Origin;
use polars::prelude::*;

use crate::build::{BuiltQa, EmbedderInfo, QaSample, Seeds, WordNetInfo};
use crate::error::{Result, TextError};
use crate::wordnet::Pos;

/// The format tag of manifests this version writes.
pub const FORMAT: &str = "doppel-qa/1";

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Dataset name from the config.
    pub name: String,
    /// The doppel version that wrote it.
    pub doppel_version: String,
    /// The checked config, as JSON.
    pub config: serde_json::Value,
    /// The derived seeds.
    pub seeds: Seeds,
    /// The WordNet files read.
    pub wordnet: WordNetInfo,
    /// The embedder that scored paraphrases.
    pub embedder: EmbedderInfo,
    /// Counts of the train split.
    pub train: Counts,
    /// Counts of the test split.
    pub test: Counts,
    /// What became of the paraphrase candidates.
    pub paraphrases: ParaphraseStats,
    /// sha256 of every other file of the directory, by file name.
    pub files: BTreeMap<String, String>,
}

/// Sample counts of one split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// All samples.
    pub total: usize,
    /// By origin (`base`, `target`, `variant`).
    pub per_origin: BTreeMap<String, usize>,
    /// By part of speech.
    pub per_pos: BTreeMap<String, usize>,
}

impl Counts {
    fn of(samples: &[QaSample]) -> Self {
        let mut per_origin = BTreeMap::new();
        let mut per_pos = BTreeMap::new();
        for s in samples {
            *per_origin.entry(s.origin.name().to_string()).or_insert(0) += 1;
            *per_pos.entry(s.pos.name().to_string()).or_insert(0) += 1;
        }
        Counts { total: samples.len(), per_origin, per_pos }
    }
}

/// Paraphrase statistics.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParaphraseStats {
    /// `k`, the most kept per target.
    pub per_target: usize,
    /// The cosine threshold.
    pub threshold: f64,
    /// Candidates generated over all targets, before sampling.
    pub generated: usize,
    /// Candidates scored.
    pub scored: usize,
    /// Candidates kept (the variants).
    pub kept: usize,
    /// Fewest paraphrases kept for one target.
    pub kept_min: usize,
    /// Mean kept per target.
    pub kept_mean: f64,
    /// Most kept for one target.
    pub kept_max: usize,
    /// Cosine quantiles of the kept paraphrases; `None` when none was kept.
    pub cosine_kept: Option<Quantiles>,
    /// Cosine quantiles of every scored candidate; `None` when none was scored.
    pub cosine_scored: Option<Quantiles>,
}

/// Quantiles with linear interpolation between order statistics (numpy's default).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quantiles {
    /// Minimum.
    pub q0: f64,
    /// 10th percentile.
    pub q10: f64,
    /// Median.
    pub q50: f64,
    /// 90th percentile.
    pub q90: f64,
    /// Maximum.
    pub q100: f64,
}

impl Quantiles {
    /// The quantiles of `values`, `None` when empty.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let x = p * (v.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
        };
        Some(Quantiles { q0: q(0.0), q10: q(0.1), q50: q(0.5), q90: q(0.9), q100: q(1.0) })
    }
}

impl ParaphraseStats {
    /// The statistics of `built`.
    pub fn of(built: &BuiltQa) -> Self {
        let kept_per: Vec<usize> = built.targets().map(|t| built.variants_of(t.id).count()).collect();
        let kept: Vec<f64> = built.scored.iter().filter(|s| s.kept).map(|s| s.cosine).collect();
        let all: Vec<f64> = built.scored.iter().map(|s| s.cosine).collect();
        ParaphraseStats {
            per_target: built.config.paraphrases.per_target,
            threshold: built.config.paraphrases.threshold,
            generated: built.generated,
            scored: built.scored.len(),
            kept: kept.len(),
            kept_min: kept_per.iter().copied().min().unwrap_or(0),
            kept_mean: if kept_per.is_empty() { 0.0 } else { kept.len() as f64 / kept_per.len() as f64 },
            kept_max: kept_per.iter().copied().max().unwrap_or(0),
            cosine_kept: Quantiles::of(&kept),
            cosine_scored: Quantiles::of(&all),
        }
    }
}

/// A QA dataset directory, opened and checked.
#[derive(Debug, Clone)]
pub struct QaDir {
    /// Its manifest.
    pub manifest: Manifest,
    /// Train rows, then test rows, as written.
    pub samples: Vec<QaSample>,
}

/// Writes `built` to `out`. An existing `out` is an error unless `force`, in which case it is replaced only once
/// the new directory is complete.
pub fn write(built: &BuiltQa, out: &Path, force: bool) -> Result<Manifest> {
    if out.exists() && !force {
        return Err(TextError::OutputExists { path: out.to_path_buf() });
    }
    let tmp = doppel_data::store::stage(out, force)?;

    let mut files = BTreeMap::new();
    let path = tmp.path().join("samples.parquet");
    let rows: Vec<&QaSample> = built.train.iter().chain(&built.test).collect();
    write_parquet(&rows, &path)?;
    files.insert("samples.parquet".to_string(), sha256_file(&path)?);
    let sheet = sheet(built);
    let path = tmp.path().join("sheet.md");
    std::fs::write(&path, &sheet).map_err(TextError::io("writing", &path))?;
    files.insert("sheet.md".to_string(), sha256_bytes(sheet.as_bytes()));

    let manifest = Manifest {
        format: FORMAT.into(),
        name: built.config.name.clone(),
        doppel_version: env!("CARGO_PKG_VERSION").into(),
        config: serde_json::to_value(&built.config)
            .map_err(|e| TextError::format(out, format!("config does not serialise: {e}")))?,
        seeds: built.seeds,
        wordnet: built.wordnet.clone(),
        embedder: built.embedder.clone(),
        train: Counts::of(&built.train),
        test: Counts::of(&built.test),
        paraphrases: ParaphraseStats::of(built),
        files,
    };
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| TextError::format(out, format!("manifest does not serialise: {e}")))?
        + "\n";
    let mpath = tmp.path().join("manifest.json");
    std::fs::write(&mpath, json).map_err(TextError::io("writing", &mpath))?;

    tmp.commit()?;
    Ok(manifest)
}

/// Opens a QA dataset directory, checking each file's sha256 against the manifest.
pub fn open(dir: &Path) -> Result<QaDir> {
    let mpath = dir.join("manifest.json");
    if !mpath.exists() {
        return Err(TextError::format(dir, "is not a doppel QA dataset directory (no manifest.json)"));
    }
    let text = std::fs::read_to_string(&mpath).map_err(TextError::io("reading", &mpath))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| TextError::format(&mpath, format!("is not a valid manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(TextError::format(
            &mpath,
            format!("format is {:?}; this doppel reads {FORMAT:?}", manifest.format),
        ));
    }
    doppel_data::store::verify_files(dir, &manifest.files)?;
    let samples = read_parquet(&dir.join("samples.parquet"))?;
    if samples.len() != manifest.train.total + manifest.test.total {
        return Err(TextError::format(
            dir.join("samples.parquet"),
            format!("holds {} rows; the manifest counts {}", samples.len(), manifest.train.total + manifest.test.total),
        ));
    }
    Ok(QaDir { manifest, samples })
}

fn write_parquet(s: &[&QaSample], path: &Path) -> Result<()> {
    let variant = |f: &dyn Fn(u32, &str, u32, &str) -> String| -> Vec<Option<String>> {
        s.iter()
            .map(|x| match &x.origin {
                Origin::Variant { of, kind, index, params } => Some(f(*of, kind, *index, params)),
                _ => None,
            })
            .collect()
    };
    let variant_u32 = |f: &dyn Fn(u32, u32) -> u32| -> Vec<Option<u32>> {
        s.iter()
            .map(|x| match x.origin {
                Origin::Variant { of, index, .. } => Some(f(of, index)),
                _ => None,
            })
            .collect()
    };
    let strs = |f: &dyn Fn(&QaSample) -> &str| -> Vec<&str> { s.iter().map(|x| f(x)).collect() };
    let columns = vec![
        Column::new("id".into(), s.iter().map(|x| x.id).collect::<Vec<u32>>()),
        Column::new("split".into(), s.iter().map(|x| x.split.to_string()).collect::<Vec<String>>()),
        Column::new("origin".into(), strs(&|x| x.origin.name())),
        Column::new("of".into(), variant_u32(&|of, _| of)),
        Column::new("kind".into(), variant(&|_, k, _, _| k.to_string())),
        Column::new("index".into(), variant_u32(&|_, i| i)),
        Column::new("params".into(), variant(&|_, _, _, p| p.to_string())),
        Column::new("question".into(), strs(&|x| &x.question)),
        Column::new("answer".into(), strs(&|x| &x.answer)),
        Column::new("synset".into(), strs(&|x| &x.synset)),
        Column::new("pos".into(), strs(&|x| x.pos.name())),
        Column::new("lexclass".into(), strs(&|x| &x.lexclass)),
        Column::new("cosine".into(), s.iter().map(|x| x.cosine).collect::<Vec<Option<f64>>>()),
    ];
    let table_err = |source| TextError::Table { path: path.to_path_buf(), source };
    let mut df = DataFrame::new(s.len(), columns).map_err(table_err)?;
    let file = std::fs::File::create(path).map_err(TextError::io("creating", path))?;
    ParquetWriter::new(file).finish(&mut df).map_err(table_err)?;
    Ok(())
}

fn read_parquet(path: &Path) -> Result<Vec<QaSample>> {
    let table_err = |source| TextError::Table { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(TextError::io("opening", path))?;
    let df = ParquetReader::new(file).finish().map_err(table_err)?;
    let u32_col = |name: &str| -> Result<Vec<Option<u32>>> {
        Ok(df.column(name).map_err(table_err)?.u32().map_err(table_err)?.iter().collect())
    };
    let str_col = |name: &str| -> Result<Vec<Option<String>>> {
        Ok(df.column(name).map_err(table_err)?.str().map_err(table_err)?.iter().map(|v| v.map(String::from)).collect())
    };
    let missing = |col: &str, row: usize| TextError::format(path, format!("column {col} is null at row {row}"));
    let (ids, ofs, indices) = (u32_col("id")?, u32_col("of")?, u32_col("index")?);
    let (splits, origins, kinds, params) =
        (str_col("split")?, str_col("origin")?, str_col("kind")?, str_col("params")?);
    let (questions, answers, synsets) = (str_col("question")?, str_col("answer")?, str_col("synset")?);
    let (pos, lexclasses) = (str_col("pos")?, str_col("lexclass")?);
    let cosines: Vec<Option<f64>> = df.column("cosine").map_err(table_err)?.f64().map_err(table_err)?.iter().collect();
    let mut out = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let take = |col: &[Option<String>], name: &str| col[row].clone().ok_or_else(|| missing(name, row));
        let origin = match origins[row].as_deref() {
            Some("base") => Origin::Base,
            Some("target") => Origin::Target,
            Some("variant") => Origin::Variant {
                of: ofs[row].ok_or_else(|| missing("of", row))?,
                kind: take(&kinds, "kind")?,
                index: indices[row].ok_or_else(|| missing("index", row))?,
                params: take(&params, "params")?,
            },
            other => return Err(TextError::format(path, format!("row {row}: unknown origin {other:?}"))),
        };
        let split = match splits[row].as_deref() {
            Some("train") => Split::Train,
            Some("test") => Split::Test,
            other => return Err(TextError::format(path, format!("row {row}: unknown split {other:?}"))),
        };
        let p = take(&pos, "pos")?;
        out.push(QaSample {
            id: ids[row].ok_or_else(|| missing("id", row))?,
            split,
            origin,
            question: take(&questions, "question")?,
            answer: take(&answers, "answer")?,
            synset: take(&synsets, "synset")?,
            pos: Pos::from_name(&p)
                .ok_or_else(|| TextError::format(path, format!("row {row}: unknown part of speech {p:?}")))?,
            lexclass: take(&lexclasses, "lexclass")?,
            cosine: cosines[row],
        });
    }
    Ok(out)
}

/// The Markdown sample sheet: up to `sheet.targets` targets spread over the list, each with its best
/// `sheet.paraphrases` kept paraphrases and their cosines.
pub fn sheet(built: &BuiltQa) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let spec = built.config.sheet;
    let targets: Vec<&QaSample> = built.targets().collect();
    let shown = spec.targets.min(targets.len());
    let p = &built.config.paraphrases;
    let mut md = String::new();
    let _ = writeln!(md, "# {}: sample sheet\n", built.config.name);
    let _ = writeln!(
        md,
        "{} targets, up to {} paraphrases each, kept at cosine ≥ {} ({} embedder); {} shown.\n",
        targets.len(),
        p.per_target,
        p.threshold,
        built.embedder.name,
        shown
    );
    for i in 0..shown {
        let t = targets[i * targets.len() / shown];
        let _ = writeln!(md, "## target {} · {} · {} · {}\n", t.id, t.synset, t.pos.name(), t.lexclass);
        let _ = writeln!(md, "**Q:** {}  \n**A:** {}\n", t.question, t.answer);
        let kept: Vec<&QaSample> = built.variants_of(t.id).take(spec.paraphrases).collect();
        if kept.is_empty() {
            let _ = writeln!(md, "No paraphrase kept.\n");
            continue;
        }
        let _ = writeln!(md, "| cosine | kind | question | answer |\n|---:|---|---|---|");
        for v in kept {
            let kind = if let Origin::Variant { kind, .. } = &v.origin { kind.as_str() } else { "" };
            let _ = writeln!(
                md,
                "| {:.3} | {} | {} | {} |",
                v.cosine.unwrap_or(f64::NAN),
                cell(kind),
                cell(&v.question),
                cell(&v.answer)
            );
        }
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // numpy.quantile([1, 2, 3, 4, 10], [0, .1, .5, .9, 1]) = [1, 1.4, 3, 7.6, 10]
        let q = Quantiles::of(&[4.0, 1.0, 10.0, 3.0, 2.0]).unwrap();
        for (got, want) in [(q.q0, 1.0), (q.q10, 1.4), (q.q50, 3.0), (q.q90, 7.6), (q.q100, 10.0)] {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(Quantiles::of(&[]), None);
    }
}

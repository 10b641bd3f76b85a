//! The SpamAssassin dataset directory: the image dataset layout of `doppel_data::store`, plus the text side.
//!
//! ```text
//! DIR/
//!   manifest.json     doppel-data's manifest (format doppel-dataset/1; config = the spam config) plus a
//!                     `natural` object: embedder, threshold, isolation, group and target statistics
//!   train.parquet     binary bag-of-words rows as 1 × V/32 × 32 images, with lineage (look-alikes are variants of
//!   test.parquet      kind exact_dup / near_dup, params {"cosine": c}) — read by `doppel_data::store::open`
//!   vocab.tsv         index, word, train document frequency
//!   messages.parquet  id, split, file, label, origin, parent_id, group, subject, preview (first words)
//!   sheet.md          a few targets with their look-alikes
//! ```
//!
//! Written under a temporary name and renamed into place, like every dataset directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use doppel_data::hash::{sha256_bytes, sha256_file};
use doppel_data::lineage::Origin;
use doppel_data::store::{Counts, FORMAT, Manifest, stage};
use doppel_data::{ImageShape, Part};
use polars::prelude::*;

use super::build::BuiltSpam;
use crate::error::{Result, TextError};

/// Words of a mail shown in the sheet and in `messages.parquet`.
const PREVIEW_WORDS: usize = 24;

fn counts(part: &Part) -> Counts {
    let mut per_origin = BTreeMap::new();
    for s in &part.samples {
        *per_origin.entry(s.origin.name().to_string()).or_insert(0) += 1;
    }
    Counts { total: part.data.len(), per_class: part.data.class_counts(), per_origin }
}

fn preview(text: &str, words: usize) -> String {
    let mut s: Vec<&str> = text.split_whitespace().take(words + 1).collect();
    let more = s.len() > words;
    s.truncate(words);
    let mut out = s.join(" ");
    if more {
        out.push_str(" …");
    }
    out
}

/// Writes `built` to `out` (an existing `out` only with `force`) and returns the manifest as written.
pub fn write_spam(built: &BuiltSpam, out: &Path, force: bool) -> Result<serde_json::Value> {
    let tmp = stage(out, force)?;
    let mut files = BTreeMap::new();
    for (name, part) in [("train.parquet", &built.train), ("test.parquet", &built.test)] {
        let path = tmp.path().join(name);
        doppel_data::store::write_parquet(part, &path)?;
        files.insert(name.to_string(), sha256_file(&path)?);
    }

    let mut vocab = String::from("index\tword\tdf\n");
    for (i, (w, df)) in built.vocab.iter().enumerate() {
        let _ = writeln!(vocab, "{i}\t{w}\t{df}");
    }
    let path = tmp.path().join("vocab.tsv");
    std::fs::write(&path, &vocab).map_err(TextError::io("writing", &path))?;
    files.insert("vocab.tsv".into(), sha256_bytes(vocab.as_bytes()));

    let path = tmp.path().join("messages.parquet");
    write_messages(built, &path)?;
    files.insert("messages.parquet".into(), sha256_file(&path)?);

    let sheet = sheet(built);
    let path = tmp.path().join("sheet.md");
    std::fs::write(&path, &sheet).map_err(TextError::io("writing", &path))?;
    files.insert("sheet.md".into(), sha256_bytes(sheet.as_bytes()));

    let shape: ImageShape = built.train.data.shape();
    let manifest = Manifest {
        format: FORMAT.into(),
        name: built.config.name.clone(),
        doppel_version: env!("CARGO_PKG_VERSION").into(),
        config: serde_json::to_value(&built.config)
            .map_err(|e| TextError::format(out, format!("config does not serialise: {e}")))?,
        seeds: built.seeds,
        source: built.source.clone(),
        shape,
        class_names: built.train.data.class_names().to_vec(),
        variants_per_target: built.target_stats.lookalikes_max,
        train: counts(&built.train),
        test: counts(&built.test),
        files,
    };
    let mut json = serde_json::to_value(&manifest)
        .map_err(|e| TextError::format(out, format!("manifest does not serialise: {e}")))?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "natural".into(),
            serde_json::json!({
                "embedder": built.embedder,
                "threshold": built.config.lookalikes.threshold,
                "isolation": built.config.lookalikes.isolation,
                "groups": built.group_stats,
                "targets": built.target_stats,
            }),
        );
    }
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| TextError::format(out, format!("manifest does not serialise: {e}")))?
        + "\n";
    let mpath = tmp.path().join("manifest.json");
    std::fs::write(&mpath, &text).map_err(TextError::io("writing", &mpath))?;
    tmp.commit()?;
    Ok(json)
}

fn write_messages(built: &BuiltSpam, path: &Path) -> Result<()> {
    let n_train = built.train.samples.len();
    let samples: Vec<_> = built.train.samples.iter().chain(&built.test.samples).collect();
    let parent = |o: &Origin| if let Origin::Variant { of, .. } = o { Some(*of) } else { None };
    let cols = vec![
        Column::new("id".into(), samples.iter().map(|s| s.id).collect::<Vec<u32>>()),
        Column::new(
            "split".into(),
            (0..samples.len()).map(|i| if i < n_train { "train" } else { "test" }).collect::<Vec<&str>>(),
        ),
        Column::new("file".into(), built.messages.iter().map(|m| m.file.as_str()).collect::<Vec<&str>>()),
        Column::new("label".into(), built.messages.iter().map(|m| m.label).collect::<Vec<u32>>()),
        Column::new("origin".into(), samples.iter().map(|s| s.origin.name()).collect::<Vec<&str>>()),
        Column::new("parent_id".into(), samples.iter().map(|s| parent(&s.origin)).collect::<Vec<Option<u32>>>()),
        Column::new(
            "group".into(),
            (0..samples.len())
                .map(|i| built.group_of.get(i).copied().flatten().map(|g| g as u32))
                .collect::<Vec<Option<u32>>>(),
        ),
        Column::new("subject".into(), built.messages.iter().map(|m| m.mail.subject.as_str()).collect::<Vec<&str>>()),
        Column::new(
            "preview".into(),
            built.messages.iter().map(|m| preview(&m.mail.body, PREVIEW_WORDS)).collect::<Vec<String>>(),
        ),
    ];
    let table_err = |source| TextError::Table { path: path.to_path_buf(), source };
    let mut df = DataFrame::new(samples.len(), cols).map_err(table_err)?;
    let file = std::fs::File::create(path).map_err(TextError::io("creating", path))?;
    ParquetWriter::new(file).finish(&mut df).map_err(table_err)?;
    Ok(())
}

fn sheet(built: &BuiltSpam) -> String {
    let c = &built.config;
    let (g, t) = (&built.group_stats, &built.target_stats);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {}: targets {} natural look-alikes\n",
        c.name,
        match c.group {
            super::TargetGroup::With => "with",
            super::TargetGroup::Without => "without",
        }
    );
    let _ = writeln!(
        s,
        "{} train / {} test mails; look-alikes at cosine ≥ {} ({}), identical bodies always grouped. {} groups \
         (size {} / {:.2} / {} min / mean / max; {} label-pure of ≤ {} mails). {} targets, {} look-alikes \
         ({} identical bodies); highest cosine of a target to a mail outside its lineage {:.3}.\n",
        built.source.train,
        built.source.test,
        c.lookalikes.threshold,
        built.embedder.get("name").and_then(|v| v.as_str()).unwrap_or("?"),
        g.groups,
        g.size_min,
        g.size_mean,
        g.size_max,
        g.eligible,
        c.lookalikes.max_group,
        t.targets,
        t.lookalikes,
        t.exact_dups,
        t.max_cosine_outside
    );
    let row = |s: &mut String, who: &str, i: usize, cos: Option<f64>| {
        let m = &built.messages[i];
        let clean = |x: &str| x.replace('|', "\\|");
        let _ = writeln!(
            s,
            "| {who} | {} | {} | {} | {} | {} |",
            built.train.samples[i].id,
            crate::spam::build::CLASSES[m.label as usize],
            cos.map(|c| format!("{c:.3}")).unwrap_or_default(),
            clean(&m.mail.subject),
            clean(&preview(&m.mail.body, PREVIEW_WORDS))
        );
    };
    let targets: Vec<usize> = doppel_data::lineage::forget_rows(&built.train.samples);
    for &t in targets.iter().take(c.sheet_targets) {
        let _ = writeln!(s, "## target {} ({})\n", built.train.samples[t].id, built.messages[t].file);
        let _ = writeln!(s, "| | id | label | cosine | subject | first words |\n|---|---|---|---|---|---|");
        row(&mut s, "target", t, None);
        let vars: Vec<usize> = built
            .train
            .samples
            .iter()
            .enumerate()
            .filter(|(_, x)| matches!(x.origin, Origin::Variant { of, .. } if of as usize == t))
            .map(|(i, _)| i)
            .collect();
        for &v in vars.iter().take(c.sheet_lookalikes) {
            row(&mut s, "look-alike", v, built.cosine.get(&v).copied());
        }
        if vars.len() > c.sheet_lookalikes {
            let _ = writeln!(s, "| … {} more | | | | | |", vars.len() - c.sheet_lookalikes);
        }
        s.push('\n');
    }
    s
}

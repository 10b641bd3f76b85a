//! The mined rows a command reads: `doppel unlearn --scope mined --mined-rows FILE` forgets them beside the
//! targets, `doppel eval --near-rows FILE` splits the retain set by them. FILE is either the `neighbours.parquet`
//! that `doppel mine neighbours` writes (its `neighbour_id` column) or a text file of training-sample ids, one per
//! line (`#` starts a comment); an id that is not in the dataset's training split is an error naming the file and
//! the id.

use std::path::Path;

use anyhow::Context;
use doppel_data::lineage::SampleInfo;
use polars::prelude::{DataType, ParquetReader, SerReader};

/// Reads the mined sample ids — the `neighbour_id` column of a `doppel mine neighbours` Parquet table, or a text
/// file with one id per line (`#` comments) — and turns them into training rows.
pub(crate) fn read_mined(file: &Path, samples: &[SampleInfo]) -> anyhow::Result<Vec<usize>> {
    let row_of: std::collections::HashMap<u32, usize> = samples.iter().enumerate().map(|(r, s)| (s.id, r)).collect();
    if file.extension().is_some_and(|e| e == "parquet") {
        let ids = read_neighbour_ids(file)?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            let row = row_of.get(&id).with_context(|| {
                format!(
                    "{}: neighbour_id {id} is not in the dataset's training split (mined on another dataset?)",
                    file.display()
                )
            })?;
            rows.push(*row);
        }
        return Ok(rows);
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let id: u32 = line
            .parse()
            .with_context(|| format!("{}:{}: {line:?} is not a sample id (a whole number)", file.display(), n + 1))?;
        let row = row_of.get(&id).with_context(|| {
            format!("{}:{}: sample id {id} is not in the dataset's training split", file.display(), n + 1)
        })?;
        rows.push(*row);
    }
    Ok(rows)
}

/// The `neighbour_id` column of `doppel mine neighbours`' `neighbours.parquet`.
fn read_neighbour_ids(file: &Path) -> anyhow::Result<Vec<u32>> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let df = ParquetReader::new(f).finish().with_context(|| format!("{} is not a Parquet table", file.display()))?;
    let col = df.column("neighbour_id").map_err(|_| {
        anyhow::anyhow!(
            "{} has no `neighbour_id` column; pass the neighbours.parquet that `doppel mine neighbours` writes",
            file.display()
        )
    })?;
    let col =
        col.cast(&DataType::UInt32).with_context(|| format!("{}: `neighbour_id` is not integer", file.display()))?;
    let ids = col.u32().with_context(|| format!("{}: `neighbour_id` is not integer", file.display()))?;
    if ids.null_count() > 0 {
        anyhow::bail!("{}: `neighbour_id` has {} empty cells", file.display(), ids.null_count());
    }
    Ok(ids.into_no_null_iter().collect())
}

//! Embeddings files beside the dataset, reused when present.
//!
//! ```text
//! DATASET/embeddings/
//!   <embedder>-<config hash>.parquet   id (u32), split ("train" | "test"), embedding (list<f32>), in dataset order
//!   <embedder>-<config hash>.json      embedder config, dimension, row counts, sha256 of the dataset manifest
//!                                      and of the Parquet file: the file is reused only when both still match
//! ```
//!
//! Both files are written under a temporary name and renamed into place, the JSON last, so an interrupted run
//! leaves no file that looks complete. The embeddings directory is not listed in the dataset manifest, so
//! [`doppel_data::store::open`] keeps accepting the dataset.

use std::path::{Path, PathBuf};

use doppel_data::hash::sha256_file;
use doppel_data::{Split, store::DatasetDir};
use polars::prelude::*;

use crate::embed::{Embedder, Samples};
use crate::error::{MineError, Result};
use crate::matrix::Matrix;

/// The format tag of the JSON sidecar.
pub const FORMAT: &str = "doppel-embeddings/1";

/// The embeddings of both splits of a dataset, rows in dataset order.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetEmbeddings {
    /// Embedder name.
    pub embedder: String,
    /// Embedder config hash.
    pub config_hash: String,
    /// Train sample ids, by row.
    pub train_ids: Vec<u32>,
    /// Train embeddings.
    pub train: Matrix,
    /// Test sample ids, by row.
    pub test_ids: Vec<u32>,
    /// Test embeddings.
    pub test: Matrix,
}

/// How [`embed_dataset`] got its embeddings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Read from a file that matched the embedder config and the dataset.
    Reused(PathBuf),
    /// Computed and written to this file.
    Computed(PathBuf),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Sidecar {
    format: String,
    embedder: String,
    config: serde_json::Value,
    config_hash: String,
    dim: usize,
    train_rows: usize,
    test_rows: usize,
    dataset_manifest_sha256: String,
    parquet_sha256: String,
}

/// `DATASET/embeddings/<name>-<hash>.parquet`.
pub fn embeddings_path(dataset_dir: &Path, embedder: &dyn Embedder) -> PathBuf {
    embeddings_path_in(&dataset_dir.join("embeddings"), embedder)
}

/// `DIR/<name>-<hash>.parquet`.
pub fn embeddings_path_in(dir: &Path, embedder: &dyn Embedder) -> PathBuf {
    dir.join(format!("{}-{}.parquet", embedder.name(), embedder.config_hash()))
}

/// The embeddings of `ds` (opened from `dataset_dir`) under `embedder`: read from the cache file
/// `DATASET/embeddings/<name>-<hash>.parquet` when it matches the config and the dataset (and `force` is off),
/// otherwise fitted on the train split, computed and written there.
pub fn embed_dataset(
    dataset_dir: &Path,
    ds: &DatasetDir,
    embedder: &mut dyn Embedder,
    force: bool,
) -> Result<(DatasetEmbeddings, Provenance)> {
    embed_dataset_in(&dataset_dir.join("embeddings"), dataset_dir, ds, embedder, force)
}

/// [`embed_dataset`] with the cache file in `cache_dir` instead of beside the dataset (for a dataset directory
/// that must not change, such as a content-addressed artifact).
pub fn embed_dataset_in(
    cache_dir: &Path,
    dataset_dir: &Path,
    ds: &DatasetDir,
    embedder: &mut dyn Embedder,
    force: bool,
) -> Result<(DatasetEmbeddings, Provenance)> {
    let path = embeddings_path_in(cache_dir, embedder);
    let side_path = path.with_extension("json");
    let manifest_sha = sha256_file(&dataset_dir.join("manifest.json"))?;
    let train_ids: Vec<u32> = ds.train.samples.iter().map(|s| s.id).collect();
    let test_ids: Vec<u32> = ds.test.samples.iter().map(|s| s.id).collect();
    if !force {
        match reusable(&path, &side_path, &manifest_sha) {
            Ok(Some(side)) => {
                let emb = read(&path, embedder.name(), &side.config_hash)?;
                if emb.train_ids == train_ids && emb.test_ids == test_ids {
                    tracing::info!(path = %path.display(), "embeddings of this config exist; reusing them (--force recomputes)");
                    return Ok((emb, Provenance::Reused(path)));
                }
                tracing::warn!(path = %path.display(), "embeddings file lists other sample ids than the dataset; recomputing");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("cached embeddings unusable ({e}); recomputing"),
        }
    }
    let started = std::time::Instant::now();
    let span = tracing::info_span!("embed", embedder = embedder.name(), hash = %embedder.config_hash());
    let _g = span.enter();
    tracing::info!(train = ds.train.data.len(), test = ds.test.data.len(), "fitting on the train split and embedding");
    embedder.fit(Samples::Images(&ds.train.data))?;
    let train = embedder.embed(Samples::Images(&ds.train.data))?;
    let test = embedder.embed(Samples::Images(&ds.test.data))?;
    if train.dim() != test.dim() {
        return Err(MineError::DimMismatch { what: "test embeddings".into(), expected: train.dim(), got: test.dim() });
    }
    let emb = DatasetEmbeddings {
        embedder: embedder.name().to_string(),
        config_hash: embedder.config_hash(),
        train_ids,
        train,
        test_ids,
        test,
    };
    write(&emb, &path, embedder.config(), &manifest_sha)?;
    tracing::info!(seconds = format!("{:.2}", started.elapsed().as_secs_f64()), path = %path.display(), "embeddings written");
    Ok((emb, Provenance::Computed(path)))
}

fn reusable(path: &Path, side_path: &Path, manifest_sha: &str) -> Result<Option<Sidecar>> {
    if !path.exists() || !side_path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(side_path).map_err(MineError::io("reading", side_path))?;
    let side: Sidecar = serde_json::from_str(&text).map_err(|e| MineError::Format {
        path: side_path.to_path_buf(),
        what: format!("is not an embeddings sidecar: {e}"),
    })?;
    if side.format != FORMAT || side.dataset_manifest_sha256 != manifest_sha {
        tracing::info!(path = %side_path.display(), "embeddings were made from another build of the dataset; recomputing");
        return Ok(None);
    }
    if sha256_file(path)? != side.parquet_sha256 {
        tracing::warn!(path = %path.display(), "embeddings file changed since it was written; recomputing");
        return Ok(None);
    }
    Ok(Some(side))
}

/// Writes the Parquet file and its JSON sidecar, each atomically.
fn write(emb: &DatasetEmbeddings, path: &Path, config: serde_json::Value, manifest_sha: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(MineError::io("creating", dir))?;
    let n = emb.train_ids.len() + emb.test_ids.len();
    let ids: Vec<u32> = emb.train_ids.iter().chain(&emb.test_ids).copied().collect();
    let splits: Vec<&str> = std::iter::repeat_n("train", emb.train_ids.len())
        .chain(std::iter::repeat_n("test", emb.test_ids.len()))
        .collect();
    let rows: Vec<Series> = (0..emb.train.rows())
        .map(|i| emb.train.row(i))
        .chain((0..emb.test.rows()).map(|i| emb.test.row(i)))
        .map(|r| Series::new(PlSmallStr::EMPTY, r))
        .collect();
    let columns =
        vec![Column::new("id".into(), ids), Column::new("split".into(), splits), Column::new("embedding".into(), rows)];
    let mut df = DataFrame::new(n, columns).map_err(MineError::table(path))?;
    doppel_stdx::fs::write_atomic_with(path, |tmp| -> Result<()> {
        let file = std::fs::File::create(tmp).map_err(MineError::io("creating", tmp))?;
        ParquetWriter::new(file).finish(&mut df).map_err(MineError::table(tmp))?;
        Ok(())
    })?;
    let side = Sidecar {
        format: FORMAT.into(),
        embedder: emb.embedder.clone(),
        config,
        config_hash: emb.config_hash.clone(),
        dim: emb.train.dim(),
        train_rows: emb.train.rows(),
        test_rows: emb.test.rows(),
        dataset_manifest_sha256: manifest_sha.to_string(),
        parquet_sha256: sha256_file(path)?,
    };
    let side_path = path.with_extension("json");
    let json = serde_json::to_string_pretty(&side)
        .map_err(|e| MineError::Format { path: side_path.clone(), what: format!("does not serialise: {e}") })?
        + "\n";
    doppel_stdx::write_atomic(&side_path, json.as_bytes())?;
    Ok(())
}

/// Reads an embeddings file written by [`embed_dataset`].
pub fn read(path: &Path, embedder: &str, config_hash: &str) -> Result<DatasetEmbeddings> {
    let file = std::fs::File::open(path).map_err(MineError::io("opening", path))?;
    let df = ParquetReader::new(file).finish().map_err(MineError::table(path))?;
    let bad = |what: String| MineError::Format { path: path.to_path_buf(), what };
    let t = MineError::table(path);
    let ids = df.column("id").map_err(MineError::table(path))?.u32().map_err(MineError::table(path))?.clone();
    let splits = df.column("split").map_err(MineError::table(path))?.str().map_err(MineError::table(path))?.clone();
    let lists = df.column("embedding").map_err(t)?.list().map_err(MineError::table(path))?.clone();
    let mut out = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    let mut dim = None;
    for (row, ((id, split), v)) in ids.iter().zip(splits.iter()).zip(lists.amortized_iter()).enumerate() {
        let id = id.ok_or_else(|| bad(format!("id is null at row {row}")))?;
        let which = match split {
            Some("train") => 0,
            Some("test") => 1,
            other => return Err(bad(format!("row {row}: split is {other:?}, expected \"train\" or \"test\""))),
        };
        let v = v.ok_or_else(|| bad(format!("embedding is null at row {row} (sample {id})")))?;
        let v = v.as_ref().f32().map_err(MineError::table(path))?;
        let d = *dim.get_or_insert(v.len());
        if v.len() != d {
            return Err(MineError::DimMismatch {
                what: format!("{}: sample {id}", path.display()),
                expected: d,
                got: v.len(),
            });
        }
        out[which].0.push(id);
        out[which].1.extend(v.iter().map(|x| x.unwrap_or(f32::NAN)));
    }
    let dim = dim.unwrap_or(0);
    let [(train_ids, train), (test_ids, test)] = out;
    Ok(DatasetEmbeddings {
        embedder: embedder.to_string(),
        config_hash: config_hash.to_string(),
        train: Matrix::new(train_ids.len(), dim, train)?,
        train_ids,
        test: Matrix::new(test_ids.len(), dim, test)?,
        test_ids,
    })
}

/// Which split a row of [`DatasetEmbeddings`] belongs to.
pub fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "test",
    }
}

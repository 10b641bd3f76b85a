//! Dataset directories: what `doppel data build` writes and every later step reads.
//!
//! ```text
//! DIR/
//!   manifest.json       config, seeds, source, counts per split/class/origin, sha256 of every other file
//!   train.parquet       id, label, origin, parent_id, variant_kind, variant_index, variant_params, source_index, pixels
//!   test.parquet        the same columns (origin is always "base")
//!   contact_sheet.png   a few targets with their variants
//! ```
//!
//! [`write`] builds the directory under a temporary name beside `DIR` and renames it into place, so an interrupted
//! build leaves nothing behind. [`open`] checks every file against the manifest's sha256 before reading it.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use crate::build::{Built, Part, Seeds, SourceInfo};
use crate::dataset::{Dataset, ImageShape, Split};
use crate::error::{DataError, Result};
use crate::hash::{sha256_bytes, sha256_file};
use crate::lineage::{Origin, SampleInfo};
use crate::sheet::contact_sheet;

pub use doppel_stdx::fs::StagedDir;

/// The format tag of manifests this version writes.
pub const FORMAT: &str = "doppel-dataset/1";

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
    /// Where the base samples came from.
    pub source: SourceInfo,
    /// Image shape.
    pub shape: ImageShape,
    /// Class names, by label.
    pub class_names: Vec<String>,
    /// `k`: variants per target.
    pub variants_per_target: usize,
    /// Counts of the train split.
    pub train: Counts,
    /// Counts of the test split.
    pub test: Counts,
    /// sha256 of every other file of the directory, by file name.
    pub files: BTreeMap<String, String>,
}

/// Sample counts of one split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// All samples.
    pub total: usize,
    /// By label.
    pub per_class: Vec<usize>,
    /// By origin (`base`, `target`, `variant`).
    pub per_origin: BTreeMap<String, usize>,
}

impl Counts {
    fn of(part: &Part) -> Self {
        let mut per_origin = BTreeMap::new();
        for s in &part.samples {
            *per_origin.entry(s.origin.name().to_string()).or_insert(0) += 1;
        }
        Counts { total: part.data.len(), per_class: part.data.class_counts(), per_origin }
    }
}

/// A dataset directory, opened and checked.
#[derive(Debug, Clone)]
pub struct DatasetDir {
    /// Its manifest.
    pub manifest: Manifest,
    /// base ∪ targets ∪ variants with lineage.
    pub train: Part,
    /// The test split.
    pub test: Part,
}

/// Writes `built` to `out`. An existing `out` is an error unless `force`, in which case it is replaced only once
/// the new directory is complete.
pub fn write(built: &Built, out: &Path, force: bool) -> Result<Manifest> {
    let tmp = stage(out, force)?;

    let mut files = BTreeMap::new();
    for (file, part) in [("train.parquet", &built.train), ("test.parquet", &built.test)] {
        let path = tmp.path().join(file);
        write_parquet(part, &path)?;
        files.insert(file.to_string(), sha256_file(&path)?);
    }
    let sheet_path = tmp.path().join("contact_sheet.png");
    let mut png = Vec::new();
    contact_sheet(&built.train, built.config.sheet)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|source| DataError::Image { path: sheet_path.clone(), source })?;
    std::fs::write(&sheet_path, &png).map_err(DataError::io("writing", &sheet_path))?;
    files.insert("contact_sheet.png".into(), sha256_bytes(&png));

    let manifest = Manifest {
        format: FORMAT.into(),
        name: built.config.name.clone(),
        doppel_version: env!("CARGO_PKG_VERSION").into(),
        config: serde_json::to_value(&built.config).map_err(|e| DataError::Invalid {
            name: built.config.name.clone(),
            what: format!("config does not serialise: {e}"),
        })?,
        seeds: built.seeds,
        source: built.source.clone(),
        shape: built.train.data.shape(),
        class_names: built.train.data.class_names().to_vec(),
        variants_per_target: built.config.variants_per_target(),
        train: Counts::of(&built.train),
        test: Counts::of(&built.test),
        files,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| DataError::Invalid {
        name: manifest.name.clone(),
        what: format!("manifest does not serialise: {e}"),
    })? + "\n";
    let mpath = tmp.path().join("manifest.json");
    std::fs::write(&mpath, json).map_err(DataError::io("writing", &mpath))?;

    tmp.commit()?;
    Ok(manifest)
}

/// Opens a dataset directory, checking each file's sha256 against the manifest.
pub fn open(dir: &Path) -> Result<DatasetDir> {
    let mpath = dir.join("manifest.json");
    if !mpath.exists() {
        return Err(DataError::format(
            dir,
            "is not a doppel dataset directory (no manifest.json); build one with `doppel data build --config FILE --out DIR`",
        ));
    }
    let text = std::fs::read_to_string(&mpath).map_err(DataError::io("reading", &mpath))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| DataError::format(&mpath, format!("is not a valid manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(DataError::format(
            &mpath,
            format!("format is {:?}; this doppel reads {FORMAT:?}", manifest.format),
        ));
    }
    verify_files(dir, &manifest.files)?;
    let train = read_parquet(&dir.join("train.parquet"), &manifest, Split::Train)?;
    let test = read_parquet(&dir.join("test.parquet"), &manifest, Split::Test)?;
    for (part, counts, split) in [(&train, &manifest.train, "train"), (&test, &manifest.test, "test")] {
        if part.data.len() != counts.total {
            return Err(DataError::SizeMismatch {
                path: dir.join(format!("{split}.parquet")),
                what: "row count",
                expected: counts.total as u64,
                got: part.data.len() as u64,
            });
        }
    }
    Ok(DatasetDir { manifest, train, test })
}

/// Writes one split's table (the `train.parquet` / `test.parquet` layout [`open`] reads). Public so that builders
/// of other sources (doppel-text's SpamAssassin build) write dataset directories the image pipeline takes as is.
pub fn write_parquet(part: &Part, path: &Path) -> Result<()> {
    let s = &part.samples;
    let variant = |f: &dyn Fn(&str, u32, &str) -> Option<String>| -> Vec<Option<String>> {
        s.iter()
            .map(|x| match &x.origin {
                Origin::Variant { kind, index, params, .. } => f(kind, *index, params),
                _ => None,
            })
            .collect()
    };
    let images: Vec<&[u8]> = (0..part.data.len()).map(|i| part.data.image(i)).collect();
    let columns = vec![
        Column::new("id".into(), s.iter().map(|x| x.id).collect::<Vec<u32>>()),
        Column::new("label".into(), part.data.labels().to_vec()),
        Column::new("origin".into(), s.iter().map(|x| x.origin.name()).collect::<Vec<&str>>()),
        Column::new(
            "parent_id".into(),
            s.iter()
                .map(|x| if let Origin::Variant { of, .. } = x.origin { Some(of) } else { None })
                .collect::<Vec<_>>(),
        ),
        Column::new("variant_kind".into(), variant(&|k, _, _| Some(k.to_string()))),
        Column::new(
            "variant_index".into(),
            s.iter()
                .map(|x| if let Origin::Variant { index, .. } = x.origin { Some(index) } else { None })
                .collect::<Vec<_>>(),
        ),
        Column::new("variant_params".into(), variant(&|_, _, p| Some(p.to_string()))),
        Column::new("source_index".into(), s.iter().map(|x| x.source_index).collect::<Vec<Option<u32>>>()),
        Column::new("pixels".into(), images),
    ];
    let table_err = |source| DataError::Table { path: path.to_path_buf(), source };
    let mut df = DataFrame::new(s.len(), columns).map_err(table_err)?;
    let file = std::fs::File::create(path).map_err(DataError::io("creating", path))?;
    ParquetWriter::new(file).finish(&mut df).map_err(table_err)?;
    Ok(())
}

/// Checks the row counts a Parquet file declares before polars decodes it: polars sizes its buffers from them, and
/// a corrupt count (the fuzz test finds 2^61 values in one page header) aborts the process on the allocation,
/// which no `catch_unwind` can stop. Every row group must hold no more rows than the file has bytes, and no data
/// page more values than its row group has rows (doppel's columns are flat, one value per row).
fn check_page_headers(path: &Path, bytes: Vec<u8>) -> Result<()> {
    use polars_parquet::parquet::read::{get_page_iterator, read_metadata};
    let bad = |what: String| DataError::format(path, what);
    let len = bytes.len();
    let mut cursor = std::io::Cursor::new(&bytes[..]);
    let meta = read_metadata(&mut cursor).map_err(|e| bad(format!("is not a readable Parquet file ({e})")))?;
    let buffer = polars_buffer::Buffer::from(bytes);
    for (g, group) in meta.row_groups.iter().enumerate() {
        let rows = group.num_rows();
        if rows > len {
            return Err(bad(format!("row group {g} declares {rows} rows in a file of {len} bytes")));
        }
        for column in group.parquet_columns() {
            let chunk = column.byte_range();
            if chunk.end > len as u64 || chunk.start > chunk.end {
                return Err(bad(format!("row group {g}: a column chunk lies outside the file ({chunk:?})")));
            }
            let pages = get_page_iterator(column, std::io::Cursor::new(buffer.clone()), Vec::new(), len)
                .map_err(|e| bad(format!("row group {g}: {e}")))?;
            for page in pages {
                let page = page.map_err(|e| bad(format!("row group {g}: unreadable page ({e})")))?;
                if let polars_parquet::parquet::page::CompressedPage::Data(p) = &page
                    && p.num_values() > rows
                {
                    return Err(bad(format!(
                        "row group {g}: a page declares {} values for {rows} rows",
                        p.num_values()
                    )));
                }
            }
        }
    }
    Ok(())
}

fn read_parquet(path: &Path, manifest: &Manifest, split: Split) -> Result<Part> {
    let table_err = |source| DataError::Table { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(DataError::io("reading", path))?;
    let damaged = |_| DataError::format(path, "is not a readable Parquet file (the reader failed on its bytes)");
    std::panic::catch_unwind(|| check_page_headers(path, bytes.clone())).map_err(damaged)??;
    let file = std::io::Cursor::new(bytes);
    // polars panics on some corrupt files (thrift metadata, bitmap lengths: the fuzz test finds both) instead of
    // returning an error; a panic here is a damaged file, reported as one.
    let df = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ParquetReader::new(file).finish()))
        .map_err(damaged)?
        .map_err(table_err)?;
    let u32_col = |name: &str| -> Result<Vec<Option<u32>>> {
        Ok(df.column(name).map_err(table_err)?.u32().map_err(table_err)?.iter().collect())
    };
    let str_col = |name: &str| -> Result<Vec<Option<String>>> {
        Ok(df.column(name).map_err(table_err)?.str().map_err(table_err)?.iter().map(|v| v.map(String::from)).collect())
    };
    let missing = |col: &str, row: usize| DataError::format(path, format!("column {col} is null at row {row}"));
    let ids = u32_col("id")?;
    let labels = u32_col("label")?;
    let origins = str_col("origin")?;
    let parents = u32_col("parent_id")?;
    let kinds = str_col("variant_kind")?;
    let indices = u32_col("variant_index")?;
    let params = str_col("variant_params")?;
    let sources = u32_col("source_index")?;
    let pixel_col = df.column("pixels").map_err(table_err)?.binary().map_err(table_err)?;
    let height = df.height();
    for (name, len) in [
        ("id", ids.len()),
        ("label", labels.len()),
        ("origin", origins.len()),
        ("parent_id", parents.len()),
        ("variant_kind", kinds.len()),
        ("variant_index", indices.len()),
        ("variant_params", params.len()),
        ("source_index", sources.len()),
        ("pixels", pixel_col.len()),
    ] {
        if len != height {
            return Err(DataError::format(path, format!("column {name} has {len} values for {height} rows")));
        }
    }
    let mut pixels = Vec::with_capacity(df.height() * manifest.shape.len());
    for (row, p) in pixel_col.iter().enumerate() {
        let p = p.ok_or_else(|| missing("pixels", row))?;
        if p.len() != manifest.shape.len() {
            return Err(DataError::SizeMismatch {
                path: path.to_path_buf(),
                what: "pixel bytes of one image",
                expected: manifest.shape.len() as u64,
                got: p.len() as u64,
            });
        }
        pixels.extend_from_slice(p);
    }
    let mut samples = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let origin = match origins[row].as_deref() {
            Some("base") => Origin::Base,
            Some("target") => Origin::Target,
            Some("variant") => Origin::Variant {
                of: parents[row].ok_or_else(|| missing("parent_id", row))?,
                kind: kinds[row].clone().ok_or_else(|| missing("variant_kind", row))?,
                index: indices[row].ok_or_else(|| missing("variant_index", row))?,
                params: params[row].clone().ok_or_else(|| missing("variant_params", row))?,
            },
            other => return Err(DataError::format(path, format!("row {row}: unknown origin {other:?}"))),
        };
        samples.push(SampleInfo {
            id: ids[row].ok_or_else(|| missing("id", row))?,
            origin,
            source_index: sources[row],
        });
    }
    let labels =
        labels.into_iter().enumerate().map(|(r, l)| l.ok_or_else(|| missing("label", r))).collect::<Result<_>>()?;
    let data = Dataset::new(
        manifest.source.dataset.clone(),
        split,
        manifest.shape,
        pixels,
        labels,
        manifest.class_names.clone(),
    )?;
    Ok(Part { data, samples })
}

/// Checks that every file a manifest lists (name → sha256) exists in `dir` with that sha256.
pub fn verify_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    for (file, want) in files {
        let path = dir.join(file);
        if !path.exists() {
            return Err(DataError::format(&path, "is listed in manifest.json but missing; rebuild the dataset"));
        }
        let got = sha256_file(&path)?;
        if &got != want {
            return Err(DataError::ShaMismatch { path, expected: want.clone(), got });
        }
    }
    Ok(())
}

/// The staged directory that will become `out` (see [`StagedDir`]); an existing `out` is an error unless `force`,
/// and is replaced only once the new directory is complete.
pub fn stage(out: &Path, force: bool) -> Result<StagedDir> {
    if out.exists() && !force {
        return Err(DataError::OutputExists { path: out.to_path_buf() });
    }
    Ok(StagedDir::begin(out)?)
}

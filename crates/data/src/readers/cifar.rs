//! CIFAR-10 in either of its two layouts.
//!
//! - **JPEG tree**: `train/<class>/*.jpg` and `test/<class>/*.jpg`, as in the shipped `cifar10-jpg.tar.gz`.
//!   Class names are the sorted folder names (for CIFAR-10 this is also the official label order); files are read
//!   in sorted order within a class, so the sample order is deterministic.
//! - **Official binary**: `data_batch_{1..5}.bin` and `test_batch.bin` (optionally under
//!   `cifar-10-batches-bin/`), each a run of 3,073-byte records: one label byte, then 1,024 red, 1,024 green and
//!   1,024 blue bytes. Class names come from `batches.meta.txt` when present.

use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, ImageShape, Split, Splits};
use crate::error::{DataError, Result};

/// The official CIFAR-10 class names, indexed by label.
pub const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

const SIDE: usize = 32;
const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// The layout a CIFAR-10 folder is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// `train/<class>/*.jpg` and `test/<class>/*.jpg` under this folder.
    JpegTree(PathBuf),
    /// The official `*.bin` batches in this folder.
    Binary(PathBuf),
}

/// Finds which layout `dir` holds.
pub fn detect(dir: &Path) -> Result<Layout> {
    if dir.join("train").is_dir() && dir.join("test").is_dir() {
        return Ok(Layout::JpegTree(dir.to_path_buf()));
    }
    for candidate in [dir.to_path_buf(), dir.join("cifar-10-batches-bin")] {
        if candidate.join("data_batch_1.bin").is_file() {
            return Ok(Layout::Binary(candidate));
        }
    }
    Err(DataError::format(
        dir,
        "neither a CIFAR-10 JPEG tree (train/, test/) nor the official binary batches (data_batch_1.bin …); \
         fetch it again with `cargo xtask data fetch --only cifar10 --cifar10 PATH`",
    ))
}

/// Reads CIFAR-10 from `dir` in whichever layout it holds.
pub fn read(dir: &Path) -> Result<Splits> {
    match detect(dir)? {
        Layout::JpegTree(d) => read_jpeg_tree(&d),
        Layout::Binary(d) => read_binary(&d),
    }
}

/// Reads the JPEG tree under `dir`.
pub fn read_jpeg_tree(dir: &Path) -> Result<Splits> {
    let class_names = sorted_entries(&dir.join("train"), |p| p.is_dir())?
        .iter()
        .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        .collect::<Vec<_>>();
    if class_names.is_empty() {
        return Err(DataError::format(dir.join("train"), "holds no class folder"));
    }
    let train = read_jpeg_split(dir, Split::Train, &class_names)?;
    let test = read_jpeg_split(dir, Split::Test, &class_names)?;
    Ok(Splits { train, test })
}

fn read_jpeg_split(dir: &Path, split: Split, class_names: &[String]) -> Result<Dataset> {
    let root = dir.join(split.to_string());
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (label, class) in class_names.iter().enumerate() {
        let class_dir = root.join(class);
        if !class_dir.is_dir() {
            return Err(DataError::format(&class_dir, format!("class folder missing from the {split} split")));
        }
        let files = sorted_entries(&class_dir, |p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))?;
        for file in files {
            let bytes = std::fs::read(&file).map_err(DataError::io("reading", &file))?;
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
                .map_err(|e| DataError::format(&file, format!("cannot decode JPEG: {e}")))?
                .to_rgb8();
            if img.dimensions() != (SIDE as u32, SIDE as u32) {
                return Err(DataError::format(
                    &file,
                    format!("image is {}×{}, expected 32×32", img.width(), img.height()),
                ));
            }
            push_planar(&mut pixels, img.as_raw());
            labels.push(label as u32);
        }
        tracing::debug!(%split, class, images = labels.len(), "read CIFAR-10 class");
    }
    Dataset::new("cifar10", split, ImageShape::rgb(SIDE, SIDE), pixels, labels, class_names.to_vec())
}

/// Appends an interleaved RGB image as planar channels.
fn push_planar(out: &mut Vec<u8>, rgb: &[u8]) {
    for c in 0..3 {
        out.extend(rgb.iter().skip(c).step_by(3));
    }
}

/// Reads the official binary batches in `dir`.
pub fn read_binary(dir: &Path) -> Result<Splits> {
    let class_names = match std::fs::read_to_string(dir.join("batches.meta.txt")) {
        Ok(text) => text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
        Err(_) => CLASSES.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    };
    let train_files: Vec<PathBuf> = (1..=5).map(|k| dir.join(format!("data_batch_{k}.bin"))).collect();
    let train = read_records(&train_files, Split::Train, &class_names)?;
    let test = read_records(&[dir.join("test_batch.bin")], Split::Test, &class_names)?;
    Ok(Splits { train, test })
}

/// Reads binary record files into one split.
pub fn read_records(files: &[PathBuf], split: Split, class_names: &[String]) -> Result<Dataset> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).map_err(DataError::io("reading", file))?;
        if bytes.len() % RECORD != 0 {
            return Err(DataError::SizeMismatch {
                path: file.clone(),
                what: "file size modulo the 3,073-byte record",
                expected: 0,
                got: (bytes.len() % RECORD) as u64,
            });
        }
        for (row, rec) in bytes.chunks_exact(RECORD).enumerate() {
            if usize::from(rec[0]) >= class_names.len() {
                return Err(DataError::format(file, format!("record {row} has label {}, out of range", rec[0])));
            }
            labels.push(u32::from(rec[0]));
            pixels.extend_from_slice(&rec[1..]);
        }
    }
    Dataset::new("cifar10", split, ImageShape::rgb(SIDE, SIDE), pixels, labels, class_names.to_vec())
}

fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(DataError::io("listing", dir))? {
        let path = entry.map_err(DataError::io("listing", dir))?.path();
        if keep(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record whose pixels encode (label, row, channel) so the planar order can be checked.
    fn record(label: u8, seed: u8) -> Vec<u8> {
        let mut r = vec![label];
        for c in 0..3u8 {
            r.extend((0..1024).map(|i| seed.wrapping_add(c.wrapping_mul(50)).wrapping_add((i % 7) as u8)));
        }
        r
    }

    #[test]
    fn binary_layout_reads_records_and_meta() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("cifar-10-batches-bin");
        std::fs::create_dir(&bin).unwrap();
        for k in 1..=5u8 {
            let mut bytes = record(k, k);
            bytes.extend(record(0, 100 + k));
            std::fs::write(bin.join(format!("data_batch_{k}.bin")), bytes).unwrap();
        }
        std::fs::write(bin.join("test_batch.bin"), record(9, 7)).unwrap();
        std::fs::write(bin.join("batches.meta.txt"), CLASSES.join("\n") + "\n\n").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Layout::Binary(bin.clone()));
        let s = read(dir.path()).unwrap();
        assert_eq!(s.train.len(), 10);
        assert_eq!(s.test.len(), 1);
        assert_eq!(s.train.labels()[..4], [1, 0, 2, 0]);
        assert_eq!(s.test.image(0), &record(9, 7)[1..]);
        assert_eq!(s.train.class_names()[9], "truck");
    }

    #[test]
    fn binary_layout_rejects_partial_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = record(1, 1);
        bytes.pop();
        std::fs::write(dir.path().join("data_batch_1.bin"), bytes).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("data_batch_1.bin") && err.contains("3,073-byte record"), "{err}");
    }

    #[test]
    fn jpeg_tree_reads_planar_rgb() {
        let dir = tempfile::tempdir().unwrap();
        for (split, n) in [("train", 2), ("test", 1)] {
            for class in ["b_second", "a_first"] {
                let d = dir.path().join(split).join(class);
                std::fs::create_dir_all(&d).unwrap();
                for k in 0..n {
                    // A flat colour survives JPEG nearly unchanged.
                    let img = image::RgbImage::from_pixel(32, 32, image::Rgb([200, 100, 20]));
                    img.save(d.join(format!("{k:04}.jpg"))).unwrap();
                }
            }
        }
        let s = read(dir.path()).unwrap();
        assert_eq!(s.train.class_names(), &["a_first".to_string(), "b_second".to_string()]);
        assert_eq!(s.train.labels(), &[0, 0, 1, 1]);
        assert_eq!(s.test.len(), 2);
        let img = s.train.image(0);
        let close = |v: u8, want: u8| (i16::from(v) - i16::from(want)).abs() <= 3;
        assert!(close(img[0], 200) && close(img[1024], 100) && close(img[2048], 20), "{:?}", &img[..3]);
    }

    #[test]
    fn unknown_layout_says_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("--cifar10 PATH"), "{err}");
    }
}

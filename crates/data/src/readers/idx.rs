//! IDX files (the MNIST family's format), gzipped, as Fashion-MNIST ships them.
//!
//! An IDX file is a big-endian `u32` magic (`0x00000803` for `u8` images `[N, H, W]`, `0x00000801` for `u8`
//! labels `[N]`), one big-endian `u32` per dimension, then the raw bytes.

use std::path::Path;

use crate::dataset::{Dataset, ImageShape, Split, Splits};
use crate::error::{DataError, Result};
use crate::readers::read_gz;

/// Magic of an IDX file of unsigned bytes with three dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned bytes with one dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Fashion-MNIST class names, indexed by label (from the dataset's README).
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Reads Fashion-MNIST from a folder holding `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`.
pub fn read_fashion_mnist(dir: &Path) -> Result<Splits> {
    let names: Vec<String> = FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect();
    let split = |prefix: &str, split: Split| {
        read_pair(
            &dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            "fashion-mnist",
            split,
            names.clone(),
        )
    };
    Ok(Splits { train: split("train", Split::Train)?, test: split("t10k", Split::Test)? })
}

/// Reads one split from a gzipped IDX images file and its labels file.
pub fn read_pair(images: &Path, labels: &Path, name: &str, split: Split, class_names: Vec<String>) -> Result<Dataset> {
    for p in [images, labels] {
        if !p.exists() {
            return Err(DataError::Missing {
                dataset: "fashion-mnist",
                path: p.to_path_buf(),
                fetch_args: " --only fashion-mnist".into(),
            });
        }
    }
    let (dims, pixels) = parse(&read_gz(images)?, IMAGES_MAGIC, images)?;
    let (ldims, raw_labels) = parse(&read_gz(labels)?, LABELS_MAGIC, labels)?;
    if dims[0] != ldims[0] {
        return Err(DataError::SizeMismatch {
            path: labels.to_path_buf(),
            what: "label count",
            expected: dims[0] as u64,
            got: ldims[0] as u64,
        });
    }
    let n_classes = class_names.len();
    if let Some(bad) = raw_labels.iter().find(|&&l| usize::from(l) >= n_classes) {
        return Err(DataError::format(labels, format!("label {bad} is out of range 0..{n_classes}")));
    }
    let labels = raw_labels.into_iter().map(u32::from).collect();
    Dataset::new(name, split, ImageShape::grey(dims[1], dims[2]), pixels, labels, class_names)
}

/// Parses an IDX buffer with the expected magic; returns its dimensions and its payload.
pub fn parse(buf: &[u8], magic: u32, path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let word = |k: usize| -> Result<u32> {
        buf.get(4 * k..4 * k + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| DataError::format(path, "file ends inside the IDX header"))
    };
    let got = word(0)?;
    if got != magic {
        return Err(DataError::format(
            path,
            format!("IDX magic is 0x{got:08x}, expected 0x{magic:08x}; is this the right file?"),
        ));
    }
    let rank = (magic & 0xff) as usize;
    let dims: Vec<usize> = (1..=rank).map(|k| word(k).map(|d| d as usize)).collect::<Result<_>>()?;
    let header = 4 * (rank + 1);
    let expected = dims.iter().product::<usize>();
    let got = buf.len() - header;
    if got != expected {
        return Err(DataError::SizeMismatch {
            path: path.to_path_buf(),
            what: "IDX payload bytes",
            expected: expected as u64,
            got: got as u64,
        });
    }
    Ok((dims, buf[header..].to_vec()))
}

/// Encodes an IDX buffer (used by tests and by users who convert data).
pub fn encode(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz_file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, e.finish().unwrap()).unwrap();
        p
    }

    fn names() -> Vec<String> {
        (0..10).map(|i| i.to_string()).collect()
    }

    #[test]
    fn reads_a_pair() {
        let dir = tempfile::tempdir().unwrap();
        let img =
            gz_file(dir.path(), "i.gz", &encode(IMAGES_MAGIC, &[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
        let lab = gz_file(dir.path(), "l.gz", &encode(LABELS_MAGIC, &[2], &[7, 3]));
        let d = read_pair(&img, &lab, "t", Split::Train, names()).unwrap();
        assert_eq!(d.shape(), ImageShape::grey(2, 3));
        assert_eq!(d.labels(), &[7, 3]);
        assert_eq!(d.image(1), &[7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn bad_inputs_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let good_lab = gz_file(dir.path(), "l.gz", &encode(LABELS_MAGIC, &[2], &[7, 3]));
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("magic.gz", encode(LABELS_MAGIC, &[2, 1, 1], &[0, 0]), "IDX magic is 0x00000801, expected 0x00000803"),
            ("short.gz", encode(IMAGES_MAGIC, &[2, 2, 2], &[0; 7]), "IDX payload bytes is 7, expected 8"),
            ("header.gz", vec![0, 0, 8], "file ends inside the IDX header"),
            ("count.gz", encode(IMAGES_MAGIC, &[3, 1, 1], &[0; 3]), "label count is 2, expected 3"),
        ];
        for (name, bytes, want) in cases {
            let img = gz_file(dir.path(), name, &bytes);
            let err = read_pair(&img, &good_lab, "t", Split::Train, names()).unwrap_err().to_string();
            assert!(err.contains(want), "{name}: {err}");
            assert!(err.contains(name) || err.contains("l.gz"), "{name}: {err}");
        }
        // A gzip stream cut short.
        let img = gz_file(dir.path(), "cut.gz", &encode(IMAGES_MAGIC, &[2, 1, 1], &[0; 2]));
        let full = std::fs::read(&img).unwrap();
        std::fs::write(&img, &full[..full.len() - 6]).unwrap();
        let err = read_pair(&img, &good_lab, "t", Split::Train, names()).unwrap_err().to_string();
        assert!(err.contains("truncated or corrupt gzip") && err.contains("cut.gz"), "{err}");
        // Not gzip at all.
        std::fs::write(&img, b"plain bytes").unwrap();
        let err = read_pair(&img, &good_lab, "t", Split::Train, names()).unwrap_err().to_string();
        assert!(err.contains("truncated or corrupt gzip"), "{err}");
        // A label out of range.
        let img = gz_file(dir.path(), "ok.gz", &encode(IMAGES_MAGIC, &[2, 1, 1], &[0; 2]));
        let lab = gz_file(dir.path(), "badlab.gz", &encode(LABELS_MAGIC, &[2], &[1, 10]));
        let err = read_pair(&img, &lab, "t", Split::Train, names()).unwrap_err().to_string();
        assert!(err.contains("label 10 is out of range"), "{err}");
        // A missing file names the fetch command.
        let err = read_pair(&dir.path().join("nope.gz"), &lab, "t", Split::Train, names()).unwrap_err().to_string();
        assert!(err.contains("cargo xtask data fetch --only fashion-mnist"), "{err}");
    }
}

//! scikit-learn's 8×8 handwritten digits (`digits.csv.gz`): 1,797 rows of 64 pixel values in 0..=16 and a label.
//!
//! Pixels are scaled to 0..=255 with `round(v · 255 / 16)` so every dataset shares one pixel range. The file has
//! no test split; [`read_splits`] holds out every fourth row (rows 3, 7, 11, …), a fixed rule so every user gets
//! the same split.

use std::path::Path;

use crate::dataset::{Dataset, ImageShape, Split, Splits};
use crate::error::{DataError, Result};
use crate::readers::read_gz;

/// Reads all 1,797 digits as one training split.
pub fn read(path: &Path) -> Result<Dataset> {
    let text = read_gz(path)?;
    let text = String::from_utf8(text).map_err(|_| DataError::format(path, "is not UTF-8 text"))?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (row, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let values: Vec<&str> = line.split(',').collect();
        if values.len() != 65 {
            return Err(DataError::format(path, format!("line {} has {} values, expected 65", row + 1, values.len())));
        }
        for (col, v) in values.iter().enumerate() {
            let x: f64 = v.trim().parse().map_err(|_| {
                DataError::format(path, format!("line {} column {}: `{v}` is not a number", row + 1, col + 1))
            })?;
            let limit = if col == 64 { 9.0 } else { 16.0 };
            if !(0.0..=limit).contains(&x) || x.fract() != 0.0 {
                return Err(DataError::format(
                    path,
                    format!("line {} column {}: {v} is outside 0..={limit}", row + 1, col + 1),
                ));
            }
            if col == 64 {
                labels.push(x as u32);
            } else {
                pixels.push((x * 255.0 / 16.0).round() as u8);
            }
        }
    }
    let names = (0..10).map(|d| d.to_string()).collect();
    Dataset::new("digits", Split::Train, ImageShape::grey(8, 8), pixels, labels, names)
}

/// Reads the digits and holds out every fourth row as the test split.
pub fn read_splits(path: &Path) -> Result<Splits> {
    let all = read(path)?;
    let (train_idx, test_idx): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|i| i % 4 != 3);
    let train = all.select(&train_idx);
    let t = all.select(&test_idx);
    let (pixels, labels) = t.into_parts();
    let test = Dataset::new("digits", Split::Test, all.shape(), pixels, labels, all.class_names().to_vec())?;
    Ok(Splits { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_gz(path: &Path, text: &str) {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        std::fs::write(path, e.finish().unwrap()).unwrap();
    }

    #[test]
    fn scales_pixels_and_holds_out_every_fourth_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digits.csv.gz");
        let row = |label: u32| {
            let mut v: Vec<String> = (0..64).map(|i| (i % 17).to_string()).collect();
            v.push(label.to_string());
            v.join(",")
        };
        let text: Vec<String> = (0..8).map(|i| row(i % 10)).collect();
        write_gz(&path, &(text.join("\n") + "\n"));
        let s = read_splits(&path).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (6, 2));
        assert_eq!(s.test.labels(), &[3, 7]);
        assert_eq!(s.test.split(), Split::Test);
        assert_eq!(s.train.image(0)[..3], [0, 16, 32]); // round(1·255/16) = 16, round(2·255/16) = 32
        assert_eq!(s.train.image(0)[16], 255);
    }

    #[test]
    fn rejects_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digits.csv.gz");
        write_gz(&path, "1,2,3\n");
        assert!(read(&path).unwrap_err().to_string().contains("line 1 has 3 values, expected 65"));
        let mut v = vec!["0"; 64];
        v[5] = "17";
        write_gz(&path, &(v.join(",") + ",1\n"));
        assert!(read(&path).unwrap_err().to_string().contains("line 1 column 6: 17 is outside 0..=16"));
    }
}

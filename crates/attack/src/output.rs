//! What an attack run writes: one directory, built under a temporary name beside its destination and renamed
//! into place, holding
//!
//! ```text
//! scores.parquet, scores.csv   one row per (model, attack, target): ScoreRow's columns
//! grid_<attack>.png            one row per target: target | best reconstruction of each model
//! candidates_<model>_<attack>.png   every reconstruction of one model, one row per class
//! attack.json                  the attack budget (m, steps, learning rates, λ_min, seed) and the inputs
//! ```

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use polars::prelude::{Column, DataFrame, ParquetWriter};

use crate::error::{AttackError, Result};

/// One scored target under one model and attack.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// The model's name.
    pub model: String,
    /// The attack's name.
    pub attack: String,
    /// Row of the target in the training split.
    pub target_row: u32,
    /// The target's sample id.
    pub target_id: u32,
    /// The target's class.
    pub class: u32,
    /// Best SSIM over the candidates of the target's class.
    pub best_ssim: Option<f64>,
    /// Index of that candidate.
    pub best_index: Option<u32>,
    /// Best SSIM over every candidate.
    pub best_ssim_any: f64,
    /// Index of that candidate.
    pub best_index_any: u32,
    /// Control: SSIM to the class mean.
    pub class_mean_ssim: Option<f64>,
    /// Control: SSIM to the L2-nearest non-target image of the class.
    pub nearest_ssim: Option<f64>,
    /// Sample id of that image.
    pub nearest_id: Option<u32>,
}

/// The rows as a table, in the order given.
pub fn frame(rows: &[ScoreRow]) -> Result<DataFrame> {
    let col = |name: &str, v: Column| v.with_name(name.into());
    let columns = vec![
        col("model", Column::new("".into(), rows.iter().map(|r| r.model.clone()).collect::<Vec<_>>())),
        col("attack", Column::new("".into(), rows.iter().map(|r| r.attack.clone()).collect::<Vec<_>>())),
        col("target_row", Column::new("".into(), rows.iter().map(|r| r.target_row).collect::<Vec<_>>())),
        col("target_id", Column::new("".into(), rows.iter().map(|r| r.target_id).collect::<Vec<_>>())),
        col("class", Column::new("".into(), rows.iter().map(|r| r.class).collect::<Vec<_>>())),
        col("best_ssim", Column::new("".into(), rows.iter().map(|r| r.best_ssim).collect::<Vec<_>>())),
        col("best_index", Column::new("".into(), rows.iter().map(|r| r.best_index).collect::<Vec<_>>())),
        col("best_ssim_any", Column::new("".into(), rows.iter().map(|r| r.best_ssim_any).collect::<Vec<_>>())),
        col("best_index_any", Column::new("".into(), rows.iter().map(|r| r.best_index_any).collect::<Vec<_>>())),
        col("class_mean_ssim", Column::new("".into(), rows.iter().map(|r| r.class_mean_ssim).collect::<Vec<_>>())),
        col("nearest_ssim", Column::new("".into(), rows.iter().map(|r| r.nearest_ssim).collect::<Vec<_>>())),
        col("nearest_id", Column::new("".into(), rows.iter().map(|r| r.nearest_id).collect::<Vec<_>>())),
    ];
    DataFrame::new(rows.len(), columns)
        .map_err(|e| AttackError::Encode { path: PathBuf::from("scores"), problem: e.to_string() })
}

/// The rows as CSV (names hold no comma; numbers in Rust's shortest round-trip form; missing values empty).
pub fn csv(rows: &[ScoreRow]) -> String {
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let opt_u = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut text = String::from(
        "model,attack,target_row,target_id,class,best_ssim,best_index,best_ssim_any,best_index_any,\
         class_mean_ssim,nearest_ssim,nearest_id\n",
    );
    for r in rows {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.model,
            r.attack,
            r.target_row,
            r.target_id,
            r.class,
            opt(r.best_ssim),
            opt_u(r.best_index),
            r.best_ssim_any,
            r.best_index_any,
            opt(r.class_mean_ssim),
            opt(r.nearest_ssim),
            opt_u(r.nearest_id)
        ));
    }
    text
}

/// A grid of images in `[0, 1]`, planar with `channels` 1 or 3, `cells[row][column]` (`None`: a blank cell), with
/// a 2-pixel grey border between cells.
pub fn grid(cells: &[Vec<Option<Vec<f32>>>], shape: doppel_data::ImageShape) -> RgbImage {
    const GAP: u32 = 2;
    let (h, w) = (shape.height as u32, shape.width as u32);
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let rows = cells.len() as u32;
    let mut img = RgbImage::from_pixel(cols * (w + GAP) + GAP, rows * (h + GAP) + GAP, Rgb([128, 128, 128]));
    let plane = shape.height * shape.width;
    for (r, row) in cells.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let Some(pixels) = cell else { continue };
            let (x0, y0) = (GAP + c as u32 * (w + GAP), GAP + r as u32 * (h + GAP));
            for y in 0..shape.height {
                for x in 0..shape.width {
                    let at =
                        |ch: usize| (pixels[ch * plane + y * shape.width + x].clamp(0.0, 1.0) * 255.0).round() as u8;
                    let rgb = if shape.channels >= 3 { [at(0), at(1), at(2)] } else { [at(0); 3] };
                    img.put_pixel(x0 + x as u32, y0 + y as u32, Rgb(rgb));
                }
            }
        }
    }
    img
}

/// The PNG encoding of `img`.
pub fn png(img: &RgbImage, name: &str) -> Result<Vec<u8>> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| AttackError::Encode { path: PathBuf::from(name), problem: e.to_string() })?;
    Ok(bytes.into_inner())
}

/// The Parquet encoding of `df`.
pub fn parquet(df: &mut DataFrame, name: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .finish(df)
        .map_err(|e| AttackError::Encode { path: PathBuf::from(name), problem: e.to_string() })?;
    Ok(bytes)
}

/// Writes `files` (name, bytes) into directory `out`: all of them into a temporary directory beside `out`, then
/// one rename. An existing `out` is an error unless `force`, in which case it is replaced once the new directory
/// is complete.
pub fn write_dir(out: &Path, force: bool, files: &[(String, Vec<u8>)]) -> Result<()> {
    if out.exists() && !force {
        return Err(AttackError::Io(doppel_stdx::IoError {
            action: "writing",
            path: out.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it already exists; choose another --out or pass --force",
            ),
        }));
    }
    doppel_stdx::fs::write_dir(out, |tmp| {
        files.iter().try_for_each(|(file, bytes)| {
            let path = tmp.join(file);
            std::fs::write(&path, bytes).map_err(AttackError::io("writing", path))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str) -> ScoreRow {
        ScoreRow {
            model: model.into(),
            attack: "kkt".into(),
            target_row: 3,
            target_id: 7,
            class: 1,
            best_ssim: Some(0.5),
            best_index: Some(2),
            best_ssim_any: 0.625,
            best_index_any: 4,
            class_mean_ssim: None,
            nearest_ssim: Some(0.25),
            nearest_id: Some(9),
        }
    }

    #[test]
    fn csv_and_parquet_hold_every_column() {
        let rows = [row("m0"), row("retrain_clean")];
        let text = csv(&rows);
        assert_eq!(text.lines().nth(1), Some("m0,kkt,3,7,1,0.5,2,0.625,4,,0.25,9"));
        let df = frame(&rows).unwrap();
        assert_eq!(df.shape(), (2, 12));
        assert_eq!(df.column("class_mean_ssim").unwrap().null_count(), 2);
    }

    #[test]
    fn grid_places_cells_with_borders() {
        let shape = doppel_data::ImageShape::grey(2, 3);
        let img = grid(&[vec![Some(vec![1.0; 6]), None], vec![Some(vec![0.0; 6])]], shape);
        assert_eq!(img.dimensions(), (2 * 5 + 2, 2 * 4 + 2));
        assert_eq!(img.get_pixel(2, 2), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(7, 2), &Rgb([128, 128, 128]));
        assert_eq!(img.get_pixel(2, 6), &Rgb([0, 0, 0]));
    }

    #[test]
    fn write_dir_refuses_an_existing_directory_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        write_dir(&out, false, &[("a.txt".into(), b"one".to_vec())]).unwrap();
        let err = write_dir(&out, false, &[("a.txt".into(), b"two".to_vec())]).unwrap_err().to_string();
        assert!(err.contains("out: it already exists; choose another --out or pass --force"), "{err}");
        write_dir(&out, true, &[("b.txt".into(), b"two".to_vec())]).unwrap();
        assert!(!out.join("a.txt").exists());
        assert_eq!(std::fs::read(out.join("b.txt")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}

//! Inference outputs: per-sample logits, loss, true-class confidence and prediction — what every metric uses.
//!
//! Losses and confidences are computed on the host in `f64` from the `f32` logits (a log-sum-exp), because the
//! `f32` loss of a memorised sample rounds to zero and ties with every other memorised sample.

use std::path::Path;

use burn::prelude::*;
use doppel_data::Dataset;
use polars::prelude::*;

use crate::arch::{ModelSpec, Net};
use crate::error::{ModelError, Result};

/// Per-sample outputs of a model on some rows of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Number of classes.
    pub classes: usize,
    /// Logits, row-major `[N, K]`.
    pub logits: Vec<f32>,
    /// True labels.
    pub labels: Vec<u32>,
    /// Cross-entropy of the true class, in f64.
    pub loss: Vec<f64>,
    /// Softmax probability of the true class, in f64.
    pub confidence: Vec<f64>,
    /// Arg-max class (lowest index on ties).
    pub prediction: Vec<u32>,
}

impl Predictions {
    /// Builds the per-sample values from logits `[N, K]` and labels.
    pub fn from_logits(logits: Vec<f32>, labels: Vec<u32>, classes: usize) -> Self {
        let mut loss = Vec::with_capacity(labels.len());
        let mut confidence = Vec::with_capacity(labels.len());
        let mut prediction = Vec::with_capacity(labels.len());
        for (row, &y) in logits.chunks(classes).zip(&labels) {
            // loss = ln Σ_k exp(v_k − v_y). Relative to v_y the sum is 1 + t; ln_1p keeps t = 4e-18 instead of
            // rounding 1 + t to 1. When another logit is larger, the usual max-shifted form is exact enough.
            let vy = f64::from(row[y as usize]);
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
            let l = if max <= vy {
                let t: f64 = row
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != y as usize)
                    .map(|(_, &v)| (f64::from(v) - vy).exp())
                    .sum();
                t.ln_1p()
            } else {
                max - vy + row.iter().map(|&v| (f64::from(v) - max).exp()).sum::<f64>().ln()
            };
            loss.push(l);
            confidence.push((-l).exp());
            let mut best = 0;
            for (k, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = k;
                }
            }
            prediction.push(best as u32);
        }
        Predictions { classes, logits, labels, loss, confidence, prediction }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Fraction of rows predicted correctly, over `rows` (all rows when `None`).
    pub fn accuracy(&self, rows: Option<&[usize]>) -> f64 {
        let all: Vec<usize>;
        let rows = match rows {
            Some(r) => r,
            None => {
                all = (0..self.len()).collect();
                &all
            }
        };
        if rows.is_empty() {
            return f64::NAN;
        }
        rows.iter().filter(|&&r| self.prediction[r] == self.labels[r]).count() as f64 / rows.len() as f64
    }
}

/// Runs `net` over `rows` of `data` in batches of `batch_size` on `device` (a plain device).
pub fn predict(
    net: &Net,
    spec: &ModelSpec,
    data: &Dataset,
    rows: &[usize],
    batch_size: usize,
    device: &Device,
) -> Result<Predictions> {
    let mut logits = Vec::with_capacity(rows.len() * spec.classes);
    for batch in rows.chunks(batch_size.max(1)) {
        let mut pixels = Vec::with_capacity(batch.len() * data.shape().len());
        for &r in batch {
            pixels.extend_from_slice(data.image(r));
        }
        let out = net.forward(spec.input_tensor(&pixels, batch.len(), device));
        let v: Vec<f32> = out.into_data().try_to_vec::<f32>().map_err(|e| ModelError::TensorData(format!("{e:?}")))?;
        logits.extend(v);
    }
    let labels = rows.iter().map(|&r| data.labels()[r]).collect();
    Ok(Predictions::from_logits(logits, labels, spec.classes))
}

/// Writes predictions as Parquet: `id, origin, label, prediction, correct, loss, confidence, logit_0 … logit_{K-1}`.
/// `ids` and `origins` name each row; the file is written under a temporary name and renamed.
pub fn write_parquet(p: &Predictions, ids: &[u32], origins: &[&str], path: &Path) -> Result<()> {
    let table_err = |source| ModelError::Table { path: path.to_path_buf(), source };
    let mut columns = vec![
        Column::new("id".into(), ids.to_vec()),
        Column::new("origin".into(), origins.to_vec()),
        Column::new("label".into(), p.labels.clone()),
        Column::new("prediction".into(), p.prediction.clone()),
        Column::new("correct".into(), p.prediction.iter().zip(&p.labels).map(|(a, b)| a == b).collect::<Vec<bool>>()),
        Column::new("loss".into(), p.loss.clone()),
        Column::new("confidence".into(), p.confidence.clone()),
    ];
    for k in 0..p.classes {
        let col: Vec<f32> = p.logits.iter().skip(k).step_by(p.classes).copied().collect();
        columns.push(Column::new(format!("logit_{k}").into(), col));
    }
    let mut df = DataFrame::new(p.len(), columns).map_err(table_err)?;
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(ModelError::io("creating", &tmp))?;
    ParquetWriter::new(file).finish(&mut df).map_err(table_err)?;
    std::fs::rename(&tmp, path).map_err(ModelError::io("renaming into place", path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_f64_and_do_not_round_to_zero() {
        // Logit margin 40: p_y = 1 - 4.25e-18; in f32 the loss is exactly 0, in f64 it is ~4.25e-18.
        let p = Predictions::from_logits(vec![40.0, 0.0, 0.0, 1.0], vec![0, 1], 2);
        assert!(p.loss[0] > 0.0 && (p.loss[0] - (-40f64).exp()).abs() < 1e-30, "{}", p.loss[0]);
        // ln(1 + e) - 1 for the second row.
        assert!((p.loss[1] - ((1.0 + 1f64.exp()).ln() - 1.0)).abs() < 1e-12);
        assert_eq!(p.prediction, vec![0, 1]);
        assert_eq!(p.accuracy(None), 1.0);
        assert!((p.confidence[1] - 1f64.exp() / (1.0 + 1f64.exp())).abs() < 1e-12);
    }
}

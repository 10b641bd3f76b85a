//! The [`Embedder`] extension point and the [`PixelEmbedder`].
//!
//! An embedder turns samples into rows of a [`Matrix`]. It is built from its config, *fitted* once on the
//! training split (the pixel embedder learns per-pixel mean and standard deviation there, and the PCA basis), and
//! then embeds any split. Its [`Embedder::config_hash`] is known before fitting, so a cached embeddings file
//! (see [`crate::store`]) can be found without touching the data.

use doppel_data::Dataset;
use doppel_data::hash::sha256_bytes;

use crate::error::{MineError, Result};
use crate::matrix::{Matrix, axpy};
use crate::pca;

/// Samples handed to an embedder: images of a [`Dataset`], or texts (for text embedders such as MiniLM).
#[derive(Debug, Clone, Copy)]
pub enum Samples<'a> {
    /// Every image of a dataset, in order.
    Images(&'a Dataset),
    /// Texts, in order.
    Texts(&'a [String]),
}

impl Samples<'_> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::Images(d) => d.len(),
            Samples::Texts(t) => t.len(),
        }
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `images` or `texts`, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Samples::Images(_) => "images",
            Samples::Texts(_) => "texts",
        }
    }
}

/// Turns samples into embeddings, one row per sample.
///
/// Implementations: [`PixelEmbedder`] here; the MiniLM text embedder and the model-feature embedder plug in the
/// same way. The lifecycle is `new(config)` → [`fit`](Embedder::fit) on the training split →
/// [`embed`](Embedder::embed) on any split.
pub trait Embedder {
    /// Short name used in file names and tables (`pixel`, `minilm`, `features`).
    fn name(&self) -> &str;

    /// Every setting that changes the output, as JSON. Two embedders with equal name and config must give equal
    /// embeddings on equal data.
    fn config(&self) -> serde_json::Value;

    /// First 16 hex digits of the sha256 of [`config`](Embedder::config) (serde_json writes object keys sorted).
    fn config_hash(&self) -> String {
        let mut h = sha256_bytes(self.config().to_string().as_bytes());
        h.truncate(16);
        h
    }

    /// Output dimension, once known (before fitting it may depend on the data).
    fn dim(&self) -> Option<usize>;

    /// Learns what the embedder needs from the training split. The default does nothing.
    fn fit(&mut self, _train: Samples<'_>) -> Result<()> {
        Ok(())
    }

    /// Embeds `samples`: one row of [`dim`](Embedder::dim) values per sample, in order.
    fn embed(&self, samples: Samples<'_>) -> Result<Matrix>;
}

/// How the pixel embedder reduces the standardised pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "reduce", rename_all = "snake_case")]
pub enum Reduce {
    /// Keep every pixel.
    None,
    /// A seeded Gaussian random projection to `dim` (Johnson–Lindenstrauss): entries N(0, 1/dim).
    Projection {
        /// Output dimension.
        dim: usize,
    },
    /// The top `dim` principal components of the standardised training pixels, by randomized subspace
    /// iteration (Halko, Martinsson & Tropp 2011, algorithm 4.4) with `iterations` power steps.
    Pca {
        /// Output dimension.
        dim: usize,
        /// Power iterations; 2–4 is plenty when the spectrum decays like natural images'.
        iterations: usize,
    },
}

/// The settings of [`PixelEmbedder`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PixelConfig {
    /// Subtract the per-pixel training mean and divide by the per-pixel training standard deviation (pixels
    /// constant on the training split are dropped, i.e. set to 0). Off: raw pixels scaled to [0, 1].
    pub standardize: bool,
    /// Reduction after standardising.
    #[serde(flatten)]
    pub reduce: Reduce,
    /// Seed of the random projection or of the PCA start.
    pub seed: u64,
}

impl PixelConfig {
    /// Checks what can be checked without data: `dim ≥ 1`, `iterations ≤ 50`.
    pub fn validate(&self) -> Result<()> {
        match self.reduce {
            Reduce::None => {}
            Reduce::Projection { dim } | Reduce::Pca { dim, .. } if dim == 0 => {
                return Err(MineError::param("embedder.dim", dim, "it must be at least 1"));
            }
            Reduce::Pca { iterations, .. } if iterations > 50 => {
                return Err(MineError::param("embedder.iterations", iterations, "it must be at most 50"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Standardised pixels, optionally reduced: the embedder that needs no model.
#[derive(Debug, Clone)]
pub struct PixelEmbedder {
    config: PixelConfig,
    fitted: Option<Fitted>,
}

#[derive(Debug, Clone)]
struct Fitted {
    input_dim: usize,
    mean: Vec<f32>,
    /// 1/std, or 0 for a pixel constant on the training split.
    inv_std: Vec<f32>,
    /// `input_dim × dim`, row-major; `None` keeps every pixel.
    basis: Option<Matrix>,
}

impl PixelEmbedder {
    /// A pixel embedder, checked with [`PixelConfig::validate`].
    pub fn new(config: PixelConfig) -> Result<Self> {
        config.validate()?;
        Ok(PixelEmbedder { config, fitted: None })
    }

    /// Its config.
    pub fn pixel_config(&self) -> &PixelConfig {
        &self.config
    }

    fn images<'a>(&self, samples: Samples<'a>) -> Result<&'a Dataset> {
        match samples {
            Samples::Images(d) => Ok(d),
            other => {
                Err(MineError::UnsupportedInput { embedder: "pixel".into(), input: other.kind(), reads: "images" })
            }
        }
    }

    /// Standardised pixels of every image of `data`, `len × input_dim`.
    fn standardised(&self, f: &Fitted, data: &Dataset) -> Matrix {
        let d = f.input_dim;
        let mut out = vec![0f32; data.len() * d];
        for (i, row) in out.chunks_exact_mut(d).enumerate() {
            for ((o, &p), (&m, &s)) in row.iter_mut().zip(data.image(i)).zip(f.mean.iter().zip(&f.inv_std)) {
                *o = (f32::from(p) / 255.0 - m) * s;
            }
        }
        Matrix::from_parts(data.len(), d, out)
    }
}

impl Embedder for PixelEmbedder {
    fn name(&self) -> &str {
        "pixel"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self.config).unwrap_or(serde_json::Value::Null)
    }

    fn dim(&self) -> Option<usize> {
        match self.config.reduce {
            Reduce::None => self.fitted.as_ref().map(|f| f.input_dim),
            Reduce::Projection { dim } | Reduce::Pca { dim, .. } => Some(dim),
        }
    }

    fn fit(&mut self, train: Samples<'_>) -> Result<()> {
        let data = self.images(train)?;
        let d = data.shape().len();
        let n = data.len();
        if n == 0 {
            return Err(MineError::param("train split", 0, "the pixel embedder needs at least one training image"));
        }
        let span = tracing::info_span!("fit_pixel", images = n, pixels = d);
        let _g = span.enter();
        let (mean, inv_std) = if self.config.standardize {
            let mut sum = vec![0f64; d];
            let mut sq = vec![0f64; d];
            for i in 0..n {
                for ((s, q), &p) in sum.iter_mut().zip(sq.iter_mut()).zip(data.image(i)) {
                    let v = f64::from(p) / 255.0;
                    *s += v;
                    *q += v * v;
                }
            }
            let mean: Vec<f32> = sum.iter().map(|s| (s / n as f64) as f32).collect();
            let inv_std = sum
                .iter()
                .zip(&sq)
                .map(|(s, q)| {
                    let m = s / n as f64;
                    let var = (q / n as f64 - m * m).max(0.0);
                    // A pixel (near-)constant over the training split carries no information; drop it.
                    if var > 1e-12 { (1.0 / var.sqrt()) as f32 } else { 0.0 }
                })
                .collect();
            (mean, inv_std)
        } else {
            (vec![0.0; d], vec![1.0; d])
        };
        let mut fitted = Fitted { input_dim: d, mean, inv_std, basis: None };
        match self.config.reduce {
            Reduce::None => {}
            Reduce::Projection { dim } => {
                check_dim(dim, d)?;
                let mut rng = doppel_data::seed::rng(self.config.seed, "pixel-projection", 0);
                let scale = 1.0 / (dim as f64).sqrt();
                let values = (0..d * dim).map(|_| (doppel_data::seed::normal(&mut rng) * scale) as f32).collect();
                fitted.basis = Some(Matrix::new(d, dim, values)?);
            }
            Reduce::Pca { dim, iterations } => {
                check_dim(dim, d)?;
                if dim > n {
                    return Err(MineError::param(
                        "embedder.dim",
                        dim,
                        format!("it must be at most the number of training images, {n}"),
                    ));
                }
                let x = self.standardised(&fitted, data);
                let fit = pca::fit(&x, dim, iterations, self.config.seed);
                tracing::info!(
                    dim,
                    explained = format!("{:.3}", fit.explained),
                    "pca: share of the standardised variance the components keep"
                );
                fitted.basis = Some(fit.basis);
            }
        }
        self.fitted = Some(fitted);
        Ok(())
    }

    fn embed(&self, samples: Samples<'_>) -> Result<Matrix> {
        let data = self.images(samples)?;
        let f = self.fitted.as_ref().ok_or_else(|| MineError::NotFitted { embedder: "pixel".into() })?;
        if data.shape().len() != f.input_dim {
            return Err(MineError::DimMismatch {
                what: format!("images of {} ({:?})", data.name(), data.shape()),
                expected: f.input_dim,
                got: data.shape().len(),
            });
        }
        let x = self.standardised(f, data);
        Ok(match &f.basis {
            None => x,
            Some(basis) => project(&x, basis),
        })
    }
}

fn check_dim(dim: usize, input: usize) -> Result<()> {
    if dim > input {
        return Err(MineError::param(
            "embedder.dim",
            dim,
            format!("it must be at most the image size, {input} values"),
        ));
    }
    Ok(())
}

/// `x · basis`: `n × d` times `d × k`.
pub(crate) fn project(x: &Matrix, basis: &Matrix) -> Matrix {
    let k = basis.dim();
    let mut out = vec![0f32; x.rows() * k];
    for (i, o) in out.chunks_exact_mut(k).enumerate() {
        for (j, &v) in x.row(i).iter().enumerate() {
            if v != 0.0 {
                axpy(o, v, basis.row(j));
            }
        }
    }
    Matrix::from_parts(x.rows(), k, out)
}

#[cfg(test)]
mod tests {
    use doppel_data::{ImageShape, Split};

    use super::*;

    fn images(pixels: Vec<u8>, side: usize) -> Dataset {
        let n = pixels.len() / (side * side);
        Dataset::new("t", Split::Train, ImageShape::grey(side, side), pixels, vec![0; n], vec!["a".into()]).unwrap()
    }

    fn pixel(standardize: bool, reduce: Reduce) -> PixelEmbedder {
        PixelEmbedder::new(PixelConfig { standardize, reduce, seed: 3 }).unwrap()
    }

    #[test]
    fn standardised_pixels_have_zero_mean_and_unit_variance_on_train() {
        let data = images((0..4 * 9).map(|i| (i * 37 % 251) as u8).collect(), 3);
        let mut e = pixel(true, Reduce::None);
        e.fit(Samples::Images(&data)).unwrap();
        let x = e.embed(Samples::Images(&data)).unwrap();
        assert_eq!((x.rows(), x.dim()), (4, 9));
        for j in 0..9 {
            let col: Vec<f64> = (0..4).map(|i| f64::from(x.row(i)[j])).collect();
            let mean = col.iter().sum::<f64>() / 4.0;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "pixel {j}: mean {mean}, var {var}");
        }
    }

    #[test]
    fn constant_pixels_are_dropped() {
        // Pixel 0 is 7 in every image.
        let data = Dataset::new(
            "t",
            Split::Train,
            ImageShape::grey(1, 2),
            vec![7, 1, 7, 2, 7, 3, 7, 9],
            vec![0; 4],
            vec!["a".into()],
        )
        .unwrap();
        let mut e = pixel(true, Reduce::None);
        e.fit(Samples::Images(&data)).unwrap();
        let x = e.embed(Samples::Images(&data)).unwrap();
        assert!((0..4).all(|i| x.row(i)[0] == 0.0));
    }

    #[test]
    fn dims_are_checked_with_the_field_named() {
        let err = PixelEmbedder::new(PixelConfig { standardize: true, reduce: Reduce::Projection { dim: 0 }, seed: 1 })
            .unwrap_err();
        assert_eq!(err.to_string(), "`embedder.dim` is 0; it must be at least 1");
        let data = images(vec![1; 2 * 4], 2);
        let mut e = pixel(true, Reduce::Projection { dim: 5 });
        let err = e.fit(Samples::Images(&data)).unwrap_err();
        assert_eq!(err.to_string(), "`embedder.dim` is 5; it must be at most the image size, 4 values");
        let err = pixel(true, Reduce::None).embed(Samples::Images(&data)).unwrap_err();
        assert!(matches!(err, MineError::NotFitted { .. }), "{err}");
        let err = pixel(true, Reduce::None).fit(Samples::Texts(&["a".into()])).unwrap_err();
        assert_eq!(err.to_string(), "embedder pixel cannot embed texts; it reads images");
    }

    #[test]
    fn projection_is_seeded_and_the_hash_follows_the_config() {
        let data = images((0..8 * 16).map(|i| (i * 13 % 256) as u8).collect(), 4);
        let run = |seed| {
            let mut e =
                PixelEmbedder::new(PixelConfig { standardize: true, reduce: Reduce::Projection { dim: 3 }, seed })
                    .unwrap();
            e.fit(Samples::Images(&data)).unwrap();
            (e.embed(Samples::Images(&data)).unwrap(), e.config_hash())
        };
        let (a, ha) = run(1);
        let (b, hb) = run(1);
        let (c, hc) = run(2);
        assert_eq!(a, b);
        assert_eq!(ha, hb);
        assert_ne!(a, c);
        assert_ne!(ha, hc);
        assert_eq!(ha.len(), 16);
    }
}

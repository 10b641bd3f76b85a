//! The [`PatchEmbedder`]: an image as the set of its non-blank, quantised patches at their positions
//! ("shingles"), sketched into a fixed-size vector.
//!
//! This is shingling (Broder 1997, "On the resemblance and containment of documents") applied to images: two
//! images share a shingle when a patch at the same place holds the same (quantised) pixels. A copy with some
//! regions edited, erased or occluded keeps the shingles of every untouched patch, so its shingle set is nearly a
//! subset of the original's, while two different images share almost none (blank patches are left out, so an
//! empty background matches nothing). The set `A` becomes a count sketch (feature hashing with random signs,
//! Weinberger et al. 2009): each shingle adds ±1 to one of `dim` buckets, so `⟨a, b⟩ ≈ |A ∩ B|` and the cosine
//! approximates the Ochiai coefficient `|A ∩ B| / √(|A| |B|)`, with collision noise of about `1/√dim`.
//!
//! It needs no training and no model. What it cannot see: geometric changes (a shift by one pixel changes every
//! shingle), and edits that touch every patch (noise, blur, contrast) unless `levels` is coarse enough to absorb
//! them.

use doppel_data::Dataset;

use crate::embed::{Embedder, Samples};
use crate::error::{MineError, Result};
use crate::matrix::Matrix;

/// The settings of [`PatchEmbedder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PatchConfig {
    /// Side of a square patch, in pixels.
    pub patch: usize,
    /// Step between patch positions, in pixels (`stride = patch`: a tiling; smaller: overlapping patches).
    pub stride: usize,
    /// Grey levels a pixel is quantised to before hashing (256 keeps every value; fewer tolerate small changes).
    pub levels: u16,
    /// Buckets of the count sketch: the output dimension.
    pub dim: usize,
    /// Seed of the shingle hash (bucket and sign).
    pub seed: u64,
}

impl PatchConfig {
    /// `patch`, `stride`, `dim` at least 1, `levels` in 2..=256.
    pub fn validate(&self) -> Result<()> {
        if self.patch == 0 {
            return Err(MineError::param("embedder.patch", 0, "it must be at least 1 pixel"));
        }
        if self.stride == 0 {
            return Err(MineError::param("embedder.stride", 0, "it must be at least 1 pixel"));
        }
        if !(2..=256).contains(&self.levels) {
            return Err(MineError::param("embedder.levels", self.levels, "it must be between 2 and 256"));
        }
        if self.dim == 0 {
            return Err(MineError::param("embedder.dim", 0, "it must be at least 1"));
        }
        Ok(())
    }
}

/// Shingles of quantised patches, count-sketched: an embedder for copies with regions edited or erased.
#[derive(Debug, Clone)]
pub struct PatchEmbedder {
    config: PatchConfig,
}

impl PatchEmbedder {
    /// A patch embedder, checked with [`PatchConfig::validate`].
    pub fn new(config: PatchConfig) -> Result<Self> {
        config.validate()?;
        Ok(PatchEmbedder { config })
    }

    /// The sketch of one planar image of `channels × height × width` pixels, L2-normalised.
    fn sketch(&self, pixels: &[u8], channels: usize, height: usize, width: usize) -> Vec<f32> {
        let PatchConfig { patch, stride, levels, dim, seed } = self.config;
        let mut out = vec![0f32; dim];
        let mut add = |h: u64| {
            let h = mix(h ^ seed);
            out[(h % dim as u64) as usize] += if h >> 63 == 0 { 1.0 } else { -1.0 };
        };
        let quantise = |p: u8| (u32::from(p) * u32::from(levels) / 256) as u8;
        let plane = height * width;
        let mut shingles = 0usize;
        let mut y = 0;
        while y + patch <= height {
            let mut x = 0;
            while x + patch <= width {
                // FNV-1a over the position and the quantised pixels; blank patches are no evidence of copying.
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                let mut step = |b: u8| h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                for b in (y as u32).to_le_bytes().into_iter().chain((x as u32).to_le_bytes()) {
                    step(b);
                }
                let mut blank = true;
                for c in 0..channels {
                    for dy in 0..patch {
                        let row = c * plane + (y + dy) * width + x;
                        for &p in &pixels[row..row + patch] {
                            let q = quantise(p);
                            blank &= q == 0;
                            step(q);
                        }
                    }
                }
                if !blank {
                    add(h);
                    shingles += 1;
                }
                x += stride;
            }
            y += stride;
        }
        if shingles == 0 {
            // An image without ink (or smaller than a patch) gets one shared shingle, so its vector is not zero
            // and all such images are duplicates of each other, which they are.
            add(0x0062_6c61_6e6b);
        }
        let norm = out.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt().max(1e-12);
        out.iter_mut().for_each(|v| *v = (f64::from(*v) / norm) as f32);
        out
    }

    fn images<'a>(&self, samples: Samples<'a>) -> Result<&'a Dataset> {
        match samples {
            Samples::Images(d) => Ok(d),
            other => {
                Err(MineError::UnsupportedInput { embedder: "patch".into(), input: other.kind(), reads: "images" })
            }
        }
    }
}

/// splitmix64's finaliser: spreads FNV's low-entropy high bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Embedder for PatchEmbedder {
    fn name(&self) -> &str {
        "patch"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self.config).unwrap_or(serde_json::Value::Null)
    }

    fn dim(&self) -> Option<usize> {
        Some(self.config.dim)
    }

    fn fit(&mut self, train: Samples<'_>) -> Result<()> {
        self.images(train).map(|_| ())
    }

    fn embed(&self, samples: Samples<'_>) -> Result<Matrix> {
        let data = self.images(samples)?;
        let s = data.shape();
        let mut values = Vec::with_capacity(data.len() * self.config.dim);
        for i in 0..data.len() {
            values.extend(self.sketch(data.image(i), s.channels, s.height, s.width));
        }
        Matrix::new(data.len(), self.config.dim, values)
    }
}

#[cfg(test)]
mod tests {
    use doppel_data::{ImageShape, Split};

    use super::*;

    fn cfg(levels: u16) -> PatchConfig {
        PatchConfig { patch: 4, stride: 4, levels, dim: 512, seed: 1 }
    }

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Three 16×16 images: a textured one, the same with its top-left quarter erased, and an unrelated one.
    fn images() -> Dataset {
        let a: Vec<u8> = (0..256u32).map(|i| ((i * 97 + 13) % 251) as u8 | 1).collect();
        let mut b = a.clone();
        for y in 0..8 {
            b[y * 16..y * 16 + 8].fill(0);
        }
        let c: Vec<u8> = (0..256u32).map(|i| ((i * 31 + 7) % 241) as u8 | 1).collect();
        let pixels = [a, b, c].concat();
        Dataset::new("t", Split::Train, ImageShape::grey(16, 16), pixels, vec![0; 3], vec!["a".into()]).unwrap()
    }

    #[test]
    fn an_erased_copy_keeps_its_untouched_shingles() {
        let data = images();
        let mut e = PatchEmbedder::new(cfg(256)).unwrap();
        e.fit(Samples::Images(&data)).unwrap();
        let x = e.embed(Samples::Images(&data)).unwrap();
        // 16 patches, 4 erased: cos = |B| / √(|A| |B|) = √(12/16) ≈ 0.866, up to sketch collisions.
        let copy = cos(x.row(0), x.row(1));
        assert!((copy - 0.866).abs() < 0.1, "copy cosine {copy}");
        let other = cos(x.row(0), x.row(2));
        assert!(other.abs() < 0.3, "unrelated cosine {other}");
        assert!((cos(x.row(0), x.row(0)) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn blank_images_are_not_zero_vectors_and_settings_are_checked() {
        let data = Dataset::new("t", Split::Train, ImageShape::grey(8, 8), vec![0; 128], vec![0; 2], vec!["a".into()])
            .unwrap();
        let x = PatchEmbedder::new(cfg(16)).unwrap().embed(Samples::Images(&data)).unwrap();
        assert!((cos(x.row(0), x.row(1)) - 1.0).abs() < 1e-6);
        let err = PatchEmbedder::new(PatchConfig { levels: 1, ..cfg(16) }).unwrap_err();
        assert_eq!(err.to_string(), "`embedder.levels` is 1; it must be between 2 and 256");
        let err = PatchEmbedder::new(cfg(16)).unwrap().embed(Samples::Texts(&["a".into()])).unwrap_err();
        assert_eq!(err.to_string(), "embedder patch cannot embed texts; it reads images");
    }
}

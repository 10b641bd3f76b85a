//! Variant generators: the look-alikes made from a target.
//!
//! Each [`VariantSpec`] is a named kind with its parameters; [`VariantSpec::apply`] turns one image into one
//! variant with a generator seeded for that variant alone, and returns the random choices it made
//! ([`VariantParams`]) so the lineage records exactly what was done.

use rand::Rng;
use rand::seq::index::sample;

use crate::dataset::ImageShape;
use crate::seed;

/// A kind of variant and its parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VariantSpec {
    /// Cut the image into a `grid × grid` array of equal blocks and zero `round(ratio · grid²)` of them, chosen
    /// at random (arXiv 2601.06938, §3: "block occlusion"). All channels of a chosen block are zeroed.
    Occlusion {
        /// Blocks per side (`b`); must divide the image height and width.
        grid: usize,
        /// Fraction of blocks zeroed (`r`), in [0, 1].
        ratio: f64,
    },
    /// Translate by a random `(dx, dy)` with `|dx|, |dy| <= max_shift`, not both zero; vacated pixels are zero.
    Shift {
        /// Largest shift in pixels, at least 1 and below the image side.
        max_shift: usize,
    },
    /// Add independent Gaussian noise of standard deviation `sigma` (in 0–255 pixel units), round and clamp.
    Noise {
        /// Standard deviation, > 0.
        sigma: f64,
    },
}

/// The random choices one variant was made with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum VariantParams {
    /// Indices (row-major in the block grid) of the zeroed blocks, ascending.
    Occlusion {
        /// Zeroed block indices.
        blocks: Vec<usize>,
    },
    /// The translation applied.
    Shift {
        /// Columns moved right (negative: left).
        dx: i64,
        /// Rows moved down (negative: up).
        dy: i64,
    },
    /// The seed of the noise stream.
    Noise {
        /// Noise seed.
        noise_seed: u64,
    },
}

impl VariantSpec {
    /// The kind's name as tables write it.
    pub fn kind(&self) -> &'static str {
        match self {
            VariantSpec::Occlusion { .. } => "occlusion",
            VariantSpec::Shift { .. } => "shift",
            VariantSpec::Noise { .. } => "noise",
        }
    }

    /// Number of blocks an occlusion zeroes: `round(ratio · grid²)`, rounding half away from zero.
    pub fn occluded_blocks(grid: usize, ratio: f64) -> usize {
        (ratio * (grid * grid) as f64).round() as usize
    }

    /// Makes one variant of `image` (planar `[C, H, W]` of `shape`), drawing from `rng`.
    ///
    /// The spec must have been validated against `shape` (see `config`): an occlusion grid that does not divide
    /// the image or a shift as large as the image are rejected there, not here.
    pub fn apply(&self, image: &[u8], shape: ImageShape, rng: &mut impl Rng) -> (Vec<u8>, VariantParams) {
        let (h, w) = (shape.height, shape.width);
        match *self {
            VariantSpec::Occlusion { grid, ratio } => {
                let (bh, bw) = (h / grid, w / grid);
                let mut blocks = sample(rng, grid * grid, Self::occluded_blocks(grid, ratio)).into_vec();
                blocks.sort_unstable();
                let mut out = image.to_vec();
                for &b in &blocks {
                    let (r0, c0) = ((b / grid) * bh, (b % grid) * bw);
                    for c in 0..shape.channels {
                        for r in r0..r0 + bh {
                            let row = c * h * w + r * w;
                            out[row + c0..row + c0 + bw].fill(0);
                        }
                    }
                }
                (out, VariantParams::Occlusion { blocks })
            }
            VariantSpec::Shift { max_shift } => {
                let m = max_shift as i64;
                let (dx, dy) = loop {
                    let d = (rng.random_range(-m..=m), rng.random_range(-m..=m));
                    if d != (0, 0) {
                        break d;
                    }
                };
                let mut out = vec![0u8; image.len()];
                for c in 0..shape.channels {
                    for r in 0..h as i64 {
                        for col in 0..w as i64 {
                            let (sr, sc) = (r - dy, col - dx);
                            if (0..h as i64).contains(&sr) && (0..w as i64).contains(&sc) {
                                let plane = c * h * w;
                                out[plane + (r as usize) * w + col as usize] =
                                    image[plane + (sr as usize) * w + sc as usize];
                            }
                        }
                    }
                }
                (out, VariantParams::Shift { dx, dy })
            }
            VariantSpec::Noise { sigma } => {
                let noise_seed: u64 = rng.random();
                let mut noise = seed::rng(noise_seed, "noise", 0);
                let out = image
                    .iter()
                    .map(|&p| (f64::from(p) + sigma * seed::normal(&mut noise)).round().clamp(0.0, 255.0) as u8)
                    .collect();
                (out, VariantParams::Noise { noise_seed })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(shape: ImageShape) -> Vec<u8> {
        (0..shape.len()).map(|i| (i % 250) as u8 + 1).collect() // no zero pixel, so zeroing is visible
    }

    #[test]
    fn occlusion_zeroes_exactly_round_r_b2_blocks() {
        let shape = ImageShape::rgb(28, 28);
        let image = img(shape);
        for (grid, ratio) in [(4usize, 0.25), (7, 0.1), (7, 0.5), (2, 1.0), (14, 0.33), (4, 0.0), (28, 0.03)] {
            for s in 0..5 {
                let mut rng = seed::rng(s, "t", 0);
                let spec = VariantSpec::Occlusion { grid, ratio };
                let (out, params) = spec.apply(&image, shape, &mut rng);
                let VariantParams::Occlusion { blocks } = params else { panic!("wrong params") };
                let want = (ratio * (grid * grid) as f64).round() as usize;
                assert_eq!(blocks.len(), want, "grid {grid} ratio {ratio}");
                // Count blocks that are entirely zero in every channel, and check the rest is untouched.
                let side = 28 / grid;
                let mut zeroed = 0;
                for b in 0..grid * grid {
                    let (r0, c0) = ((b / grid) * side, (b % grid) * side);
                    let px = |c: usize, r: usize, col: usize| c * 784 + r * 28 + col;
                    let all_zero =
                        (0..3).all(|c| (r0..r0 + side).all(|r| (c0..c0 + side).all(|col| out[px(c, r, col)] == 0)));
                    let untouched = (0..3).all(|c| {
                        (r0..r0 + side).all(|r| (c0..c0 + side).all(|col| out[px(c, r, col)] == image[px(c, r, col)]))
                    });
                    assert!(all_zero ^ untouched, "block {b} partly changed");
                    zeroed += usize::from(all_zero);
                }
                assert_eq!(zeroed, want, "grid {grid} ratio {ratio} seed {s}");
            }
        }
    }

    #[test]
    fn shift_moves_pixels_and_zero_fills() {
        let shape = ImageShape::grey(5, 5);
        let image = img(shape);
        let mut rng = seed::rng(9, "t", 0);
        let (out, params) = VariantSpec::Shift { max_shift: 2 }.apply(&image, shape, &mut rng);
        let VariantParams::Shift { dx, dy } = params else { panic!("wrong params") };
        assert!((dx, dy) != (0, 0) && dx.abs() <= 2 && dy.abs() <= 2);
        for r in 0..5i64 {
            for c in 0..5i64 {
                let (sr, sc) = (r - dy, c - dx);
                let want = if (0..5).contains(&sr) && (0..5).contains(&sc) { image[(sr * 5 + sc) as usize] } else { 0 };
                assert_eq!(out[(r * 5 + c) as usize], want);
            }
        }
    }

    #[test]
    fn noise_is_seeded_and_has_the_asked_spread() {
        let shape = ImageShape::grey(64, 64);
        let image = vec![128u8; shape.len()];
        let spec = VariantSpec::Noise { sigma: 10.0 };
        let (a, pa) = spec.apply(&image, shape, &mut seed::rng(1, "t", 0));
        let (b, pb) = spec.apply(&image, shape, &mut seed::rng(1, "t", 0));
        assert_eq!((a.clone(), pa), (b, pb));
        let sd = (a.iter().map(|&p| (f64::from(p) - 128.0).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
        assert!((sd - 10.0).abs() < 0.5, "sd {sd}");
    }
}

//! SSIM, the structural similarity index of Wang, Bovik, Sheikh & Simoncelli 2004 ("Image quality assessment:
//! from error visibility to structural similarity", IEEE TIP 13(4)), exactly as scikit-image computes it with
//! `structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=L)`.
//!
//! For one channel, with `G` the Gaussian filter below applied to whole images:
//!
//! ```text
//! μ_a = G(a),   σ_a² = G(a²) − μ_a²,   σ_ab = G(a b) − μ_a μ_b      (population moments, weights sum to 1)
//! C1 = (K1 L)²,  C2 = (K2 L)²,  K1 = 0.01,  K2 = 0.03
//! S = (2 μ_a μ_b + C1)(2 σ_ab + C2) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2))     (per pixel)
//! SSIM = mean of S over the interior, cropping (win − 1)/2 = 5 pixels from every side
//! ```
//!
//! `G` is scipy's `ndimage.gaussian_filter(x, sigma=1.5, truncate=3.5, mode='reflect')`: a separable kernel of
//! radius `⌊3.5 · 1.5 + 0.5⌋ = 5` (11 taps, the window of Wang et al.), weights `exp(−k² / (2σ²))` normalised to
//! sum 1, applied along rows then columns in `f64`, with half-sample symmetric borders (`d c b a | a b c d`).
//! Because the crop equals the radius, border handling never reaches the averaged pixels; it is implemented anyway
//! so the filtered maps equal scipy's everywhere.
//!
//! A multichannel image scores the mean of its channels' SSIMs (scikit-image's `channel_axis`). Every channel
//! must be at least 11 × 11 (scikit-image raises "win_size exceeds image extent" otherwise). `SSIM(a, a) = 1`,
//! SSIM is symmetric and at most 1; it can be negative for anti-correlated images.

use crate::check;
use crate::error::{EvalError, Result};

/// `K1` of Wang et al. 2004.
pub const K1: f64 = 0.01;
/// `K2` of Wang et al. 2004.
pub const K2: f64 = 0.03;
/// Standard deviation of the Gaussian window, in pixels (Wang et al. 2004).
pub const SIGMA: f64 = 1.5;
/// Radius of the window in standard deviations (scikit-image's `truncate` for `gaussian_weights=True`).
pub const TRUNCATE: f64 = 3.5;
/// Side of the window: `2 ⌊TRUNCATE · SIGMA + 0.5⌋ + 1 = 11`.
pub const WINDOW: usize = 2 * RADIUS + 1;
const RADIUS: usize = 5;

/// Where the channels of a multichannel image are in its flat buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelLayout {
    /// `[C, H, W]`: one plane per channel (burn and doppel-data's layout).
    Planar,
    /// `[H, W, C]`: channels interleaved per pixel (numpy images with `channel_axis=-1`).
    Interleaved,
}

/// The shape of the images passed to [`ssim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Rows, at least [`WINDOW`].
    pub height: usize,
    /// Columns, at least [`WINDOW`].
    pub width: usize,
    /// Channels, at least 1 (1 for grey images, where the layout does not matter).
    pub channels: usize,
    /// Where the channels are.
    pub layout: ChannelLayout,
}

impl ImageShape {
    /// A single-channel `height × width` image.
    pub fn grey(height: usize, width: usize) -> Self {
        Self { height, width, channels: 1, layout: ChannelLayout::Planar }
    }

    /// Number of values an image of this shape holds.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Whether the shape holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The mean SSIM of images `a` and `b` of shape `shape` whose values span `data_range` (the `L` of the constants:
/// 1 for images in `[0, 1]`, 255 for `u8` images), as scikit-image's `structural_similarity` with Gaussian weights
/// (see the [module docs](self)).
///
/// Any value type that converts to `f64` losslessly works (`u8`, `f32`, `f64`); all arithmetic is in `f64`.
///
/// # Errors
/// [`EvalError::InvalidParameter`] for a `data_range` that is not finite and `> 0`, for no channels, or for a side
/// shorter than [`WINDOW`]; [`EvalError::LengthMismatch`] when a buffer does not hold `shape.len()` values;
/// [`EvalError::NonFinite`] naming the first NaN or infinite pixel.
pub fn ssim<T: Copy + Into<f64>>(a: &[T], b: &[T], shape: ImageShape, data_range: f64) -> Result<f64> {
    check::positive("data_range", data_range)?;
    if shape.channels == 0 {
        return Err(EvalError::InvalidParameter { name: "channels", value: "0".into(), expected: "at least 1".into() });
    }
    for (name, side) in [("height", shape.height), ("width", shape.width)] {
        if side < WINDOW {
            return Err(EvalError::InvalidParameter {
                name,
                value: side.to_string(),
                expected: format!("at least {WINDOW}, the side of the Gaussian window (upsample smaller images)"),
            });
        }
    }
    check::same_len("image a", a.len(), "its shape (height × width × channels)", shape.len())?;
    check::same_len("image b", b.len(), "its shape (height × width × channels)", shape.len())?;
    check::finite("image a", a)?;
    check::finite("image b", b)?;
    let kernel = gaussian_kernel();
    let (h, w, c) = (shape.height, shape.width, shape.channels);
    let plane = |img: &[T], ch: usize| -> Vec<f64> {
        match shape.layout {
            ChannelLayout::Planar => img[ch * h * w..(ch + 1) * h * w].iter().map(|&v| v.into()).collect(),
            ChannelLayout::Interleaved => img.iter().skip(ch).step_by(c).map(|&v| v.into()).collect(),
        }
    };
    let total: f64 = (0..c).map(|ch| ssim_plane(&plane(a, ch), &plane(b, ch), h, w, data_range, &kernel)).sum();
    Ok(total / c as f64)
}

/// scipy's `_gaussian_kernel1d(sigma=1.5, order=0, radius=5)`: `exp(−½ k² / σ²)`, normalised.
fn gaussian_kernel() -> [f64; WINDOW] {
    let mut k = [0.0; WINDOW];
    let s2 = SIGMA * SIGMA;
    for (i, v) in k.iter_mut().enumerate() {
        let x = i as f64 - RADIUS as f64;
        *v = (-0.5 / s2 * x * x).exp();
    }
    let sum: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// scipy's `mode='reflect'` index: `i` reflected into `0..n` about the half-sample edges (`−1 → 0`, `n → n − 1`).
fn reflect(i: isize, n: usize) -> usize {
    let period = 2 * n as isize;
    let r = i.rem_euclid(period) as usize;
    if r < n { r } else { 2 * n - 1 - r }
}

/// `G(x)` of an `h × w` row-major plane: correlate along axis 0 (rows), then axis 1 (columns).
fn filter(x: &[f64], h: usize, w: usize, kernel: &[f64; WINDOW]) -> Vec<f64> {
    let mut tmp = vec![0.0; h * w];
    for i in 0..h {
        for j in 0..w {
            let mut acc = 0.0;
            for (t, k) in kernel.iter().enumerate() {
                acc += k * x[reflect(i as isize + t as isize - RADIUS as isize, h) * w + j];
            }
            tmp[i * w + j] = acc;
        }
    }
    let mut out = vec![0.0; h * w];
    for i in 0..h {
        for j in 0..w {
            let mut acc = 0.0;
            for (t, k) in kernel.iter().enumerate() {
                acc += k * tmp[i * w + reflect(j as isize + t as isize - RADIUS as isize, w)];
            }
            out[i * w + j] = acc;
        }
    }
    out
}

/// Mean SSIM of one channel.
fn ssim_plane(a: &[f64], b: &[f64], h: usize, w: usize, data_range: f64, kernel: &[f64; WINDOW]) -> f64 {
    let product = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).collect::<Vec<_>>();
    let ux = filter(a, h, w, kernel);
    let uy = filter(b, h, w, kernel);
    let uxx = filter(&product(a, a), h, w, kernel);
    let uyy = filter(&product(b, b), h, w, kernel);
    let uxy = filter(&product(a, b), h, w, kernel);
    let c1 = (K1 * data_range).powi(2);
    let c2 = (K2 * data_range).powi(2);
    let mut sum = 0.0;
    for i in RADIUS..h - RADIUS {
        for j in RADIUS..w - RADIUS {
            let p = i * w + j;
            let (mx, my) = (ux[p], uy[p]);
            let vx = uxx[p] - mx * mx;
            let vy = uyy[p] - my * my;
            let vxy = uxy[p] - mx * my;
            let num = (2.0 * mx * my + c1) * (2.0 * vxy + c2);
            let den = (mx * mx + my * my + c1) * (vx + vy + c2);
            sum += num / den;
        }
    }
    sum / ((h - 2 * RADIUS) * (w - 2 * RADIUS)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_matches_scipy() {
        // scipy: radius = int(truncate * sigma + 0.5) = int(5.75) = 5.
        assert_eq!(RADIUS, (TRUNCATE * SIGMA + 0.5) as usize);
        let k = gaussian_kernel();
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // Centre weight 1 / Σ_k exp(−k²/4.5), k = −5..5 (= 0.26596152... from the sum below).
        let z: f64 = (-5..=5).map(|i| (-f64::from(i * i) / 4.5).exp()).sum();
        assert!((k[RADIUS] - 1.0 / z).abs() < 1e-16);
        assert_eq!(k[0], k[WINDOW - 1]);
    }

    #[test]
    fn reflect_is_half_sample_symmetric() {
        let n = 4;
        let got: Vec<usize> = (-5..9).map(|i| reflect(i, n)).collect();
        // … c d | d c b a | a b c d | d c b a | a …  for a b c d = 0 1 2 3.
        assert_eq!(got, vec![3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0]);
    }

    #[test]
    fn identical_and_constant_images() {
        let a: Vec<f64> = (0..12 * 13).map(|i| f64::from(i % 7) / 7.0).collect();
        let s = ssim(&a, &a, ImageShape::grey(12, 13), 1.0).unwrap();
        assert!((s - 1.0).abs() < 1e-15, "{s}");
        // Two different constant images: σ = 0, so S = (2 μa μb + C1) / (μa² + μb² + C1) everywhere.
        let (x, y) = (vec![0.2f64; 121], vec![0.6f64; 121]);
        let c1 = (0.01f64).powi(2);
        let expected = (2.0 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1);
        let s = ssim(&x, &y, ImageShape::grey(11, 11), 1.0).unwrap();
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
    }

    #[test]
    fn layouts_agree() {
        let (h, w, c) = (11, 12, 3);
        let planar_a: Vec<f32> = (0..h * w * c).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        let planar_b: Vec<f32> = (0..h * w * c).map(|i| ((i * 53) % 97) as f32 / 96.0).collect();
        let interleave = |p: &[f32]| {
            (0..h * w).flat_map(|px| (0..c).map(move |ch| (px, ch))).map(|(px, ch)| p[ch * h * w + px]).collect()
        };
        let (ia, ib): (Vec<f32>, Vec<f32>) = (interleave(&planar_a), interleave(&planar_b));
        let shape = ImageShape { height: h, width: w, channels: c, layout: ChannelLayout::Planar };
        let p = ssim(&planar_a, &planar_b, shape, 1.0).unwrap();
        let i = ssim(&ia, &ib, ImageShape { layout: ChannelLayout::Interleaved, ..shape }, 1.0).unwrap();
        assert_eq!(p, i);
        // The mean of the channels' SSIMs.
        let per: f64 = (0..c)
            .map(|ch| {
                let r = ch * h * w..(ch + 1) * h * w;
                ssim(&planar_a[r.clone()], &planar_b[r], ImageShape::grey(h, w), 1.0).unwrap()
            })
            .sum();
        assert!((p - per / 3.0).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_an_error() {
        let a = vec![0u8; 121];
        let g = ImageShape::grey(11, 11);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(ssim(&a, &a, g, bad), Err(EvalError::InvalidParameter { name: "data_range", .. })));
        }
        let small = vec![0u8; 100];
        assert!(matches!(
            ssim(&small, &small, ImageShape::grey(10, 10), 255.0),
            Err(EvalError::InvalidParameter { name: "height", .. })
        ));
        assert!(matches!(ssim(&a, &a[..120], g, 255.0), Err(EvalError::LengthMismatch { left_len: 120, .. })));
        let mut nan = vec![0.5f32; 121];
        nan[17] = f32::NAN;
        assert!(matches!(ssim(&nan, &nan, g, 1.0), Err(EvalError::NonFinite { what: "image a", index: 17, .. })));
        let zero = ImageShape { channels: 0, ..g };
        assert!(matches!(ssim(&a, &a, zero, 1.0), Err(EvalError::InvalidParameter { name: "channels", .. })));
    }
}

//! A seeded synthetic image dataset: a few classes of simple shapes on a noisy background.
//!
//! It needs no download, so tests and the `smoke` preset run anywhere. Class `c` draws shape `c mod 8` (disk,
//! ring, filled square, hollow square, plus, cross, triangle, stripes) at a jittered centre, size and brightness,
//! over Gaussian background noise; RGB images tint each class differently.

use rand::Rng;

use crate::dataset::{Dataset, ImageShape, Split, Splits};
use crate::error::{DataError, Result};
use crate::seed;

/// Shape names, indexed by class.
pub const SHAPES: [&str; 8] = ["disk", "ring", "square", "frame", "plus", "cross", "triangle", "stripes"];

/// How to generate a synthetic dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyntheticConfig {
    /// Number of classes, 1..=8.
    pub classes: usize,
    /// Training images per class.
    pub train_per_class: usize,
    /// Test images per class.
    pub test_per_class: usize,
    /// Side of the square image in pixels, 8..=256.
    pub side: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
}

impl SyntheticConfig {
    /// Checks the ranges, naming the offending field (prefixed by `at`).
    pub fn validate(&self, file: &str, at: &str) -> Result<()> {
        let bad = |field: &str, problem: String| DataError::Config {
            file: file.to_string(),
            field: format!("{at}{field}"),
            problem,
        };
        if !(1..=SHAPES.len()).contains(&self.classes) {
            return Err(bad("classes", format!("is {}; it must be in 1..=8", self.classes)));
        }
        if !(8..=256).contains(&self.side) {
            return Err(bad("side", format!("is {}; it must be in 8..=256", self.side)));
        }
        if self.channels != 1 && self.channels != 3 {
            return Err(bad("channels", format!("is {}; it must be 1 or 3", self.channels)));
        }
        if self.train_per_class == 0 {
            return Err(bad("train_per_class", "is 0; it must be at least 1".into()));
        }
        Ok(())
    }

    /// Generates both splits from `master_seed`. Call [`SyntheticConfig::validate`] first.
    pub fn generate(&self, master_seed: u64) -> Result<Splits> {
        Ok(Splits {
            train: self.split(master_seed, Split::Train, self.train_per_class)?,
            test: self.split(master_seed, Split::Test, self.test_per_class)?,
        })
    }

    fn split(&self, master_seed: u64, split: Split, per_class: usize) -> Result<Dataset> {
        let shape = ImageShape { channels: self.channels, height: self.side, width: self.side };
        let mut rng = seed::rng(master_seed, &format!("synthetic/{split}"), 0);
        let n = per_class * self.classes;
        let mut pixels = Vec::with_capacity(n * shape.len());
        let mut labels = Vec::with_capacity(n);
        // Classes interleave (0, 1, 2, 0, 1, 2, …) like a shuffled real dataset.
        for i in 0..n {
            let class = i % self.classes;
            pixels.extend(self.draw(class, &mut rng));
            labels.push(class as u32);
        }
        let names = SHAPES[..self.classes].iter().map(|s| s.to_string()).collect();
        Dataset::new("synthetic", split, shape, pixels, labels, names)
    }

    fn draw(&self, class: usize, rng: &mut impl Rng) -> Vec<u8> {
        let s = self.side as f64;
        let cx = s / 2.0 + rng.random_range(-s / 8.0..=s / 8.0);
        let cy = s / 2.0 + rng.random_range(-s / 8.0..=s / 8.0);
        let r = s * rng.random_range(0.2..=0.33);
        let bright = rng.random_range(170.0..=255.0);
        let tint: [f64; 3] = [[1.0, 0.4, 0.3], [0.3, 1.0, 0.4], [0.4, 0.3, 1.0], [1.0, 1.0, 0.3]][class % 4];
        let mut grey = vec![0.0f64; self.side * self.side];
        for (k, g) in grey.iter_mut().enumerate() {
            let dx = (k % self.side) as f64 + 0.5 - cx;
            let dy = (k / self.side) as f64 + 0.5 - cy;
            if inside(class % SHAPES.len(), dx, dy, r) {
                *g = bright;
            }
        }
        let mut out = Vec::with_capacity(self.channels * grey.len());
        for &t in tint.iter().take(self.channels) {
            let t = if self.channels == 3 { t } else { 1.0 };
            for g in &grey {
                let v = g * t + 20.0 + 12.0 * seed::normal(rng);
                out.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
        out
    }
}

/// Whether offset `(dx, dy)` from the centre lies inside shape `kind` of radius `r`.
fn inside(kind: usize, dx: f64, dy: f64, r: f64) -> bool {
    let (ax, ay) = (dx.abs(), dy.abs());
    let d = dx.hypot(dy);
    let box_d = ax.max(ay);
    match kind {
        0 => d <= r,
        1 => (d - r).abs() <= 0.25 * r,
        2 => box_d <= r,
        3 => (box_d - r).abs() <= 0.2 * r,
        4 => (ax <= 0.25 * r && ay <= r) || (ay <= 0.25 * r && ax <= r),
        5 => (ax - ay).abs() <= 0.3 * r && box_d <= r,
        6 => (-r..=r).contains(&dy) && ax <= (dy + r) / 2.0,
        _ => box_d <= r && (((dy + r) / (r / 2.5)).floor() as i64) % 2 == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SyntheticConfig {
        SyntheticConfig { classes: 4, train_per_class: 5, test_per_class: 2, side: 16, channels: 3 }
    }

    #[test]
    fn same_seed_same_images_other_seed_other_images() {
        let a = cfg().generate(1).unwrap();
        let b = cfg().generate(1).unwrap();
        let c = cfg().generate(2).unwrap();
        assert_eq!(a.train, b.train);
        assert_ne!(a.train.pixels(), c.train.pixels());
        assert_eq!(a.train.class_counts(), vec![5; 4]);
        assert_eq!(a.test.class_counts(), vec![2; 4]);
        assert_eq!(a.train.shape(), ImageShape::rgb(16, 16));
    }

    #[test]
    fn classes_differ_more_than_samples_within_a_class() {
        // Mean image per class: shapes must be distinguishable, or the dataset is useless for training.
        let cfg = SyntheticConfig { classes: 8, train_per_class: 40, test_per_class: 0, side: 28, channels: 1 };
        let d = cfg.generate(3).unwrap().train;
        let n = d.shape().len();
        let mut means = vec![vec![0.0f64; n]; 8];
        for i in 0..d.len() {
            for (m, &p) in means[d.labels()[i] as usize].iter_mut().zip(d.image(i)) {
                *m += f64::from(p) / 40.0;
            }
        }
        for a in 0..8 {
            for b in a + 1..8 {
                let dist: f64 = means[a].iter().zip(&means[b]).map(|(x, y)| (x - y).abs()).sum::<f64>() / n as f64;
                assert!(dist > 5.0, "classes {a} and {b} have nearly equal mean images ({dist:.2})");
            }
        }
    }

    #[test]
    fn validate_names_the_field() {
        let mut c = cfg();
        c.classes = 9;
        let err = c.validate("x.toml", "source.synthetic.").unwrap_err().to_string();
        assert_eq!(err, "x.toml: `source.synthetic.classes` is 9; it must be in 1..=8");
        let mut c = cfg();
        c.channels = 2;
        assert!(c.validate("x.toml", "").unwrap_err().to_string().contains("`channels` is 2"));
    }
}

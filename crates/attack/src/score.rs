//! Scoring reconstructions against targets with SSIM (doppel-eval's, which matches scikit-image), and the two
//! controls that say what a score means.
//!
//! - **Best match**: for each target, the highest `SSIM(candidate, target)` over the candidates reconstructed for
//!   the target's class, and over all candidates (with the candidate's index).
//! - **Class-mean control**: `SSIM(mean of the pool's images of the class, target)`: what a class prototype scores.
//! - **Nearest control**: `SSIM(n, target)` for `n` the pool image of the class nearest to the target in **L2**
//!   (pixel) distance: what a look-alike that is not the target scores. The pool is chosen by the caller; the
//!   command line uses the retain set R (neither targets nor their variants).
//!
//! Images are compared in `[0, 1]` with `data_range = 1`.

use doppel_data::Dataset;
use doppel_eval::{ChannelLayout, ImageShape as SsimShape, ssim};

use crate::Reconstructions;
use crate::error::{AttackError, Result};

/// The best candidate for one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BestMatch {
    /// Highest SSIM over the candidates of the target's class (`None` when there is none).
    pub best_ssim: Option<f64>,
    /// Index of that candidate.
    pub best_index: Option<usize>,
    /// Highest SSIM over every candidate.
    pub best_ssim_any: f64,
    /// Index of that candidate.
    pub best_index_any: usize,
}

/// The controls of one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Controls {
    /// SSIM of the target to the mean of the pool's images of its class (`None`: no such image).
    pub class_mean_ssim: Option<f64>,
    /// SSIM of the target to the L2-nearest pool image of its class.
    pub nearest_ssim: Option<f64>,
    /// Row of that image.
    pub nearest_row: Option<usize>,
}

fn shape_of(data: &Dataset) -> SsimShape {
    let s = data.shape();
    SsimShape { height: s.height, width: s.width, channels: s.channels, layout: ChannelLayout::Planar }
}

fn unit(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| f32::from(p) / 255.0).collect()
}

/// The best candidate of `recon` for each of `targets` (rows of `data`).
///
/// # Errors
/// [`AttackError::Mismatch`] when the reconstructions are not of `data`'s image shape or there is none;
/// SSIM's own errors (images smaller than 11 × 11).
pub fn best_matches(recon: &Reconstructions, data: &Dataset, targets: &[usize]) -> Result<Vec<BestMatch>> {
    if recon.shape != data.shape() {
        return Err(AttackError::Mismatch {
            what: format!("image shape of the {} reconstructions", recon.attack),
            expected: format!("{:?} (the dataset's)", data.shape()),
            got: format!("{:?}", recon.shape),
        });
    }
    if recon.is_empty() {
        return Err(AttackError::Mismatch {
            what: format!("number of {} reconstructions", recon.attack),
            expected: "at least 1".into(),
            got: "0".into(),
        });
    }
    let shape = shape_of(data);
    let mut out = Vec::with_capacity(targets.len());
    for &t in targets {
        let target = unit(data.image(t));
        let class = data.labels()[t];
        let mut best: Option<(f64, usize)> = None;
        let mut any: Option<(f64, usize)> = None;
        for i in 0..recon.len() {
            let s = ssim(recon.image(i), &target, shape, 1.0)?;
            if any.is_none_or(|(b, _)| s > b) {
                any = Some((s, i));
            }
            if recon.labels[i] == class && best.is_none_or(|(b, _)| s > b) {
                best = Some((s, i));
            }
        }
        let (best_ssim_any, best_index_any) = any.unwrap_or((f64::NAN, 0));
        out.push(BestMatch {
            best_ssim: best.map(|b| b.0),
            best_index: best.map(|b| b.1),
            best_ssim_any,
            best_index_any,
        });
    }
    Ok(out)
}

/// The controls of each of `targets` against the images of `pool` (rows of `data`; targets in the pool are
/// skipped, so a target is never its own nearest image).
pub fn controls(data: &Dataset, targets: &[usize], pool: &[usize]) -> Result<Vec<Controls>> {
    let shape = shape_of(data);
    let d = data.shape().len();
    let classes = data.class_names().len();
    let mut sums = vec![vec![0f64; d]; classes];
    let mut counts = vec![0usize; classes];
    let is_target = |r: &usize| targets.contains(r);
    for r in pool.iter().filter(|r| !is_target(r)) {
        let c = data.labels()[*r] as usize;
        counts[c] += 1;
        for (s, &p) in sums[c].iter_mut().zip(data.image(*r)) {
            *s += f64::from(p) / 255.0;
        }
    }
    let means: Vec<Vec<f32>> =
        sums.iter().zip(&counts).map(|(s, &n)| s.iter().map(|v| (v / n.max(1) as f64) as f32).collect()).collect();
    let mut out = Vec::with_capacity(targets.len());
    for &t in targets {
        let class = data.labels()[t];
        let target = unit(data.image(t));
        let class_mean_ssim =
            if counts[class as usize] > 0 { Some(ssim(&means[class as usize], &target, shape, 1.0)?) } else { None };
        let mut nearest: Option<(u64, usize)> = None;
        for &r in pool.iter().filter(|r| !is_target(r) && data.labels()[**r] == class) {
            let dist: u64 =
                data.image(r).iter().zip(data.image(t)).map(|(&a, &b)| u64::from(a.abs_diff(b)).pow(2)).sum();
            if nearest.is_none_or(|(b, _)| dist < b) {
                nearest = Some((dist, r));
            }
        }
        let nearest_ssim = match nearest {
            Some((_, r)) => Some(ssim(&unit(data.image(r)), &target, shape, 1.0)?),
            None => None,
        };
        out.push(Controls { class_mean_ssim, nearest_ssim, nearest_row: nearest.map(|n| n.1) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use doppel_data::{ImageShape, Split};

    use super::*;

    fn data() -> Dataset {
        // Four 12×12 images: two of class 0 (a bright square at two places), two of class 1 (stripes).
        let mut pixels = Vec::new();
        for i in 0..4 {
            for y in 0..12 {
                for x in 0..12 {
                    let on =
                        if i < 2 { (2 + 4 * i..6 + 4 * i).contains(&y) && (3..8).contains(&x) } else { x % 3 == i };
                    pixels.push(if on { 250 } else { 5 });
                }
            }
        }
        Dataset::new(
            "t",
            Split::Train,
            ImageShape::grey(12, 12),
            pixels,
            vec![0, 0, 1, 1],
            vec!["a".into(), "b".into()],
        )
        .unwrap()
    }

    #[test]
    fn an_exact_copy_is_the_best_match_with_ssim_one() {
        let data = data();
        let mut pixels = unit(data.image(3));
        pixels.extend(unit(data.image(0)));
        pixels.extend(vec![0.5; 144]);
        let recon = Reconstructions {
            attack: "kkt",
            shape: data.shape(),
            labels: vec![0, 0, 1],
            pixels,
            weights: None,
            final_loss: 0.0,
        };
        let m = best_matches(&recon, &data, &[0, 3]).unwrap();
        assert_eq!(m[0].best_index, Some(1));
        assert!((m[0].best_ssim.unwrap() - 1.0).abs() < 1e-9);
        // Target 3 (class 1): its copy is labelled class 0, so only "any class" finds it.
        assert_eq!(m[1].best_index, Some(2));
        assert!(m[1].best_ssim.unwrap() < 0.9);
        assert_eq!(m[1].best_index_any, 0);
        assert!((m[1].best_ssim_any - 1.0).abs() < 1e-9);
    }

    #[test]
    fn controls_skip_the_targets_and_stay_in_class() {
        let data = data();
        let c = controls(&data, &[0], &[0, 1, 2, 3]).unwrap();
        // The only non-target image of class 0 is row 1: it is both the mean and the nearest.
        assert_eq!(c[0].nearest_row, Some(1));
        let direct = ssim(&unit(data.image(1)), &unit(data.image(0)), shape_of(&data), 1.0).unwrap();
        assert!((c[0].nearest_ssim.unwrap() - direct).abs() < 1e-9);
        assert!((c[0].class_mean_ssim.unwrap() - direct).abs() < 1e-6);
        let none = controls(&data, &[0], &[2, 3]).unwrap();
        assert_eq!(none[0], Controls { class_mean_ssim: None, nearest_ssim: None, nearest_row: None });
    }
}

//! doppel-attack: reconstruction attacks that check whether a model still holds its training images, the
//! verification of the doppel study (STUDY.md, "Reconstruction").
//!
//! The principal types and how they connect:
//!
//! - A [`Victim`] is a trained [`doppel_models::Net`] with its [`doppel_models::ModelSpec`] and the dataset's mean
//!   image. An [`Attack`] turns it into [`Reconstructions`]: candidate images in `[0, 1]` with a class each.
//! - [`kkt::KktAttack`] (from a checked [`kkt::KktConfig`]) is training-set reconstruction from the parameters
//!   after Haim et al. 2022 and Buzaglo et al. 2023: candidates whose λ-weighted margin gradients sum to the
//!   parameters. The gradients are written out as tensor ops in [`mlp`], so only the MLP is supported; other
//!   architectures give [`AttackError::UnsupportedArch`].
//! - [`inversion::Inversion`] (from [`inversion::InversionConfig`]) is class-conditional model inversion with
//!   total-variation and L2 priors: the weak baseline, one prototype per class, any architecture.
//! - [`score::best_matches`] scores reconstructions against targets with doppel-eval's SSIM (the best candidate of
//!   the target's class, and of any class); [`score::controls`] gives the two controls (SSIM to the class mean,
//!   SSIM to the L2-nearest non-target training image of the class).
//! - [`output`] writes the per-target table (Parquet and CSV), PNG grids and the attack budget (JSON), each
//!   directory under a temporary name renamed into place.
//!
//! Every error is an [`AttackError`] naming the setting, model or file at fault.

mod adam;

pub mod error;
pub mod inversion;
pub mod kkt;
pub mod mlp;
pub mod output;
pub mod score;

use burn::prelude::Device;
use doppel_data::ImageShape;
use doppel_models::{ModelSpec, Net};

pub use error::{AttackError, Result};
pub use inversion::{Inversion, InversionConfig};
pub use kkt::{KktAttack, KktConfig};

/// A trained model to attack.
#[derive(Debug, Clone, Copy)]
pub struct Victim<'a> {
    /// The network, on the plain device the attack runs on.
    pub net: &'a Net,
    /// Its spec (architecture, input shape and normalisation, classes).
    pub spec: &'a ModelSpec,
    /// The mean training image, planar `[C, H, W]`, in `[0, 1]` (model inversion starts from it).
    pub mean_image: &'a [f32],
}

/// An attack that reconstructs images from a model.
pub trait Attack {
    /// The attack's name as tables write it (`kkt`, `inversion`).
    fn name(&self) -> &'static str;

    /// Reconstructs candidate images from `victim` on `device` (a plain device; autodiff is added inside).
    fn reconstruct(&self, victim: &Victim<'_>, device: &Device) -> Result<Reconstructions>;
}

/// Images an attack reconstructed, each with the class it was reconstructed for.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstructions {
    /// The attack's name.
    pub attack: &'static str,
    /// The shape of every image.
    pub shape: ImageShape,
    /// The class of every image.
    pub labels: Vec<u32>,
    /// Pixels in `[0, 1]`, image after image, each planar `[C, H, W]`.
    pub pixels: Vec<f32>,
    /// The coefficients `λ_i` of the KKT attack (`None` for inversion).
    pub weights: Option<Vec<f32>>,
    /// The loss at the last step.
    pub final_loss: f64,
}

impl Reconstructions {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of image `i`. Panics when `i >= len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.shape.len();
        &self.pixels[i * n..(i + 1) * n]
    }
}

/// The mean image of `rows` of `data`, planar, in `[0, 1]` (all rows when `rows` is empty).
pub fn mean_image(data: &doppel_data::Dataset, rows: &[usize]) -> Vec<f32> {
    let all: Vec<usize>;
    let rows = if rows.is_empty() {
        all = (0..data.len()).collect();
        &all
    } else {
        rows
    };
    let mut sum = vec![0f64; data.shape().len()];
    for &r in rows {
        for (s, &p) in sum.iter_mut().zip(data.image(r)) {
            *s += f64::from(p);
        }
    }
    let n = rows.len().max(1) as f64 * 255.0;
    sum.iter().map(|s| (s / n) as f32).collect()
}

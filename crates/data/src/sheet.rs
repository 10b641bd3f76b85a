//! The contact sheet: a PNG of a few targets, each followed by its variants, so a person sees what was built.

use image::{Rgb, RgbImage};

use crate::build::Part;
use crate::config::SheetSpec;
use crate::lineage::{Origin, forget_rows};

const GAP: u32 = 4;
const BACKGROUND: Rgb<u8> = Rgb([40, 40, 40]);
const TARGET_FRAME: Rgb<u8> = Rgb([255, 140, 0]);

/// Draws up to `spec.targets` rows: the target (framed in orange), then up to `spec.variants` of its variants.
///
/// The targets shown are spread evenly over the list of targets, so a class-major source (CIFAR-10's JPEG tree)
/// still shows several classes.
pub fn contact_sheet(train: &Part, spec: SheetSpec) -> RgbImage {
    let shape = train.data.shape();
    let side = shape.height.max(shape.width) as u32;
    let scale = 64u32.div_ceil(side).max(1);
    let (tw, th) = (shape.width as u32 * scale, shape.height as u32 * scale);
    let all_targets = forget_rows(&train.samples);
    let shown = spec.targets.min(all_targets.len());
    let targets: Vec<usize> = (0..shown).map(|i| all_targets[i * all_targets.len() / shown]).collect();
    let rows: Vec<Vec<usize>> = targets
        .iter()
        .map(|&t| {
            let mut row = vec![t];
            row.extend(
                train
                    .samples
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| matches!(&s.origin, Origin::Variant { of, .. } if *of as usize == t))
                    .map(|(i, _)| i)
                    .take(spec.variants),
            );
            row
        })
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(1) as u32;
    let width = GAP + cols * (tw + GAP) + GAP; // an extra gap after the target column
    let height = GAP + rows.len().max(1) as u32 * (th + GAP);
    let mut img = RgbImage::from_pixel(width, height, BACKGROUND);
    for (r, row) in rows.iter().enumerate() {
        for (c, &sample) in row.iter().enumerate() {
            let x0 = GAP + c as u32 * (tw + GAP) + if c > 0 { GAP } else { 0 };
            let y0 = GAP + r as u32 * (th + GAP);
            if c == 0 {
                frame(&mut img, x0, y0, tw, th);
            }
            blit(&mut img, train.data.image(sample), shape.channels, shape.height, shape.width, scale, x0, y0);
        }
    }
    img
}

#[allow(clippy::too_many_arguments)]
fn blit(img: &mut RgbImage, pixels: &[u8], channels: usize, h: usize, w: usize, scale: u32, x0: u32, y0: u32) {
    for y in 0..h * scale as usize {
        for x in 0..w * scale as usize {
            let (sy, sx) = (y / scale as usize, x / scale as usize);
            let at = |c: usize| pixels[c * h * w + sy * w + sx];
            let px = if channels == 3 { Rgb([at(0), at(1), at(2)]) } else { Rgb([at(0); 3]) };
            img.put_pixel(x0 + x as u32, y0 + y as u32, px);
        }
    }
}

fn frame(img: &mut RgbImage, x0: u32, y0: u32, w: u32, h: u32) {
    for x in x0 - 2..x0 + w + 2 {
        for y in [y0 - 2, y0 - 1, y0 + h, y0 + h + 1] {
            img.put_pixel(x, y, TARGET_FRAME);
        }
    }
    for y in y0 - 2..y0 + h + 2 {
        for x in [x0 - 2, x0 - 1, x0 + w, x0 + w + 1] {
            img.put_pixel(x, y, TARGET_FRAME);
        }
    }
}

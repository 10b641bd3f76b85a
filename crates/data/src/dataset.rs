//! The in-memory image dataset every reader returns.

use crate::error::{DataError, Result};

/// Which split of a source dataset the samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training split.
    Train,
    /// The held-out test split.
    Test,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// The shape of one image: channels × height × width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    /// 1 for grey images, 3 for RGB.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// A grey image of `height × width`.
    pub const fn grey(height: usize, width: usize) -> Self {
        ImageShape { channels: 1, height, width }
    }

    /// An RGB image of `height × width`.
    pub const fn rgb(height: usize, width: usize) -> Self {
        ImageShape { channels: 3, height, width }
    }

    /// Number of bytes of one image.
    pub const fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True when the shape holds no pixel.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Images with labels, all of one shape, from one split.
///
/// Pixels are `u8`, stored image after image, each image **planar** (channel-major: all of channel 0 row by
/// row, then channel 1, …), which is the `[C, H, W]` layout convolution layers take. The constructor checks
/// every invariant, so a `Dataset` in hand is always consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    name: String,
    split: Split,
    shape: ImageShape,
    pixels: Vec<u8>,
    labels: Vec<u32>,
    class_names: Vec<String>,
}

impl Dataset {
    /// Builds a dataset, checking that the pixel buffer holds exactly `labels.len()` images of `shape` and that
    /// every label names a class.
    pub fn new(
        name: impl Into<String>,
        split: Split,
        shape: ImageShape,
        pixels: Vec<u8>,
        labels: Vec<u32>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let name = name.into();
        let invalid = |what: String| DataError::Invalid { name: name.clone(), what };
        if shape.is_empty() {
            return Err(invalid(format!("image shape {shape:?} holds no pixel")));
        }
        if class_names.is_empty() {
            return Err(invalid("no class names".into()));
        }
        let expected = labels.len().checked_mul(shape.len()).ok_or_else(|| invalid("size overflows".into()))?;
        if pixels.len() != expected {
            return Err(invalid(format!(
                "{} pixel bytes for {} images of {}×{}×{} (expected {expected})",
                pixels.len(),
                labels.len(),
                shape.channels,
                shape.height,
                shape.width
            )));
        }
        if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= class_names.len()) {
            return Err(invalid(format!(
                "label {label} at row {row} names no class (there are {})",
                class_names.len()
            )));
        }
        Ok(Dataset { name, split, shape, pixels, labels, class_names })
    }

    /// The dataset's name (`mnist`, `cifar10`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The split the samples come from.
    pub fn split(&self) -> Split {
        self.split
    }

    /// The shape of every image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of image `i`, planar `[C, H, W]`. Panics when `i >= len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.shape.len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// All pixels, image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Label of every image.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Class names, indexed by label.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of images of each class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_names.len()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// A new dataset of the images at `indices`, in that order. Panics on an index out of range.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let n = self.shape.len();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Dataset { pixels, labels, ..self.clone_meta() }
    }

    /// Splits the dataset into its parts.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u32>) {
        (self.pixels, self.labels)
    }

    fn clone_meta(&self) -> Dataset {
        Dataset {
            name: self.name.clone(),
            split: self.split,
            shape: self.shape,
            pixels: Vec::new(),
            labels: Vec::new(),
            class_names: self.class_names.clone(),
        }
    }
}

/// The two splits of a source dataset.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training split.
    pub train: Dataset,
    /// Test split.
    pub test: Dataset,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn constructor_rejects_inconsistent_data() {
        let shape = ImageShape::grey(2, 2);
        let err = Dataset::new("t", Split::Train, shape, vec![0; 7], vec![0, 1], names(2)).unwrap_err();
        assert!(err.to_string().contains("7 pixel bytes for 2 images"), "{err}");
        let err = Dataset::new("t", Split::Train, shape, vec![0; 8], vec![0, 2], names(2)).unwrap_err();
        assert!(err.to_string().contains("label 2 at row 1"), "{err}");
        let err = Dataset::new("t", Split::Train, shape, vec![], vec![], vec![]).unwrap_err();
        assert!(err.to_string().contains("no class names"), "{err}");
    }

    #[test]
    fn select_keeps_images_and_labels_together() {
        let shape = ImageShape::grey(1, 2);
        let d = Dataset::new("t", Split::Test, shape, vec![0, 1, 2, 3, 4, 5], vec![0, 1, 0], names(2)).unwrap();
        let s = d.select(&[2, 0]);
        assert_eq!(s.pixels(), &[4, 5, 0, 1]);
        assert_eq!(s.labels(), &[0, 0]);
        assert_eq!(d.class_counts(), vec![2, 1]);
        assert_eq!(s.split(), Split::Test);
    }
}

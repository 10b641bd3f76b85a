//! The classifiers: an MLP, a LeNet-style CNN and a small residual network, behind one [`Net`] module.
//!
//! Every network maps normalised images `[B, C, H, W]` to penultimate features `[B, F]` and logits `[B, K]`;
//! the features feed embedding-based mining later. [`ModelSpec`] is the serialisable description (architecture,
//! input shape, classes, input normalisation) a checkpoint records and [`ModelSpec::init`] builds from.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use doppel_data::ImageShape;

use crate::error::{ModelError, Result};

/// Which network, with its sizes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "arch", rename_all = "snake_case", deny_unknown_fields)]
pub enum Arch {
    /// Two hidden ReLU layers on the flattened image.
    Mlp {
        /// Widths of the two hidden layers (the second is the feature size).
        hidden: [usize; 2],
    },
    /// Two 5×5 convolutions (padding 2) each followed by ReLU and 2×2 max-pooling, then a ReLU layer.
    Cnn {
        /// Output channels of the two convolutions.
        channels: [usize; 2],
        /// Width of the fully connected feature layer.
        hidden: usize,
    },
    /// A ResNet-8 in the CIFAR style (He et al. 2016): a 3×3 stem, three stages of one basic block each (stride 1,
    /// 2, 2), global average pooling.
    #[serde(rename = "resnet")]
    ResNet {
        /// Channels of the three stages (the last is the feature size).
        widths: [usize; 3],
    },
}

impl Arch {
    /// The architecture's name.
    pub fn name(&self) -> &'static str {
        match self {
            Arch::Mlp { .. } => "mlp",
            Arch::Cnn { .. } => "cnn",
            Arch::ResNet { .. } => "resnet",
        }
    }

    /// Default sizes for a named architecture (`mlp`, `cnn`, `resnet`).
    pub fn named(name: &str) -> Option<Arch> {
        match name {
            "mlp" => Some(Arch::Mlp { hidden: [256, 128] }),
            "cnn" => Some(Arch::Cnn { channels: [16, 32], hidden: 128 }),
            "resnet" => Some(Arch::ResNet { widths: [16, 32, 64] }),
            _ => None,
        }
    }
}

/// The most values one input image may have (`channels × height × width`): far above doppel's datasets
/// (3×32×32), low enough that a damaged spec cannot ask for an input of terabytes.
pub const MAX_INPUT_VALUES: usize = 1 << 26;

/// Everything needed to rebuild a network: architecture, input, classes and input normalisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSpec {
    /// The architecture.
    pub arch: Arch,
    /// Input image shape.
    pub input: ImageShape,
    /// Number of classes.
    pub classes: usize,
    /// Per-channel mean of `pixel / 255` over the training rows.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of `pixel / 255` over the training rows.
    pub std: Vec<f32>,
}

impl ModelSpec {
    /// Checks that the architecture fits the input.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field: &str, problem: String| ModelError::Config { context: "model".into(), field: field.into(), problem };
        if self.classes < 2 {
            return Err(bad("classes", format!("is {}; a classifier needs at least 2", self.classes)));
        }
        if self.mean.len() != self.input.channels || self.std.len() != self.input.channels {
            return Err(bad("mean/std", format!("need one value per channel ({})", self.input.channels)));
        }
        if self.std.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(bad("std", format!("{:?} holds a value that is not positive", self.std)));
        }
        if self.mean.iter().any(|m| !m.is_finite()) {
            return Err(bad("mean", format!("{:?} holds a value that is not finite", self.mean)));
        }
        let ImageShape { channels, height, width } = self.input;
        let values = channels.checked_mul(height).and_then(|v| v.checked_mul(width));
        if channels == 0 || height == 0 || width == 0 || values.is_none_or(|v| v > MAX_INPUT_VALUES) {
            return Err(bad(
                "input",
                format!(
                    "is {channels}×{height}×{width}; each side must be at least 1 and an image at most {MAX_INPUT_VALUES} values"
                ),
            ));
        }
        let sizes: Vec<usize> = match &self.arch {
            Arch::Mlp { hidden } => hidden.to_vec(),
            Arch::Cnn { channels, hidden } => {
                if self.input.height < 4 || self.input.width < 4 {
                    return Err(bad("arch", "cnn needs images of at least 4×4".into()));
                }
                vec![channels[0], channels[1], *hidden]
            }
            Arch::ResNet { widths } => widths.to_vec(),
        };
        if sizes.contains(&0) {
            return Err(bad("arch", format!("{:?} has a layer of width 0", self.arch)));
        }
        Ok(())
    }

    /// A lower bound on the number of weights a network of this spec holds: its weight matrices and kernels,
    /// without biases and norms; `None` when it does not fit in a `u64`. A checkpoint of the spec holds at least
    /// four bytes for each, which lets a loader refuse a damaged spec before it allocates the network.
    pub fn min_weights(&self) -> Option<u64> {
        let n = |v: usize| v as u64;
        let ImageShape { channels, height, width } = self.input;
        let k = n(self.classes);
        let input = n(channels).checked_mul(n(height))?.checked_mul(n(width))?;
        let products: Vec<[u64; 3]> = match &self.arch {
            Arch::Mlp { hidden: [h0, h1] } => vec![[input, n(*h0), 1], [n(*h0), n(*h1), 1], [n(*h1), k, 1]],
            Arch::Cnn { channels: [c0, c1], hidden } => {
                let flat = n(*c1).checked_mul(n(height / 4))?.checked_mul(n(width / 4))?;
                vec![[n(channels), n(*c0), 25], [n(*c0), n(*c1), 25], [flat, n(*hidden), 1], [n(*hidden), k, 1]]
            }
            Arch::ResNet { widths } => {
                let mut p = vec![[n(channels), n(widths[0]), 9], [n(widths[2]), k, 1]];
                let mut c_in = widths[0];
                for (i, &w) in widths.iter().enumerate() {
                    p.extend([[n(c_in), n(w), 9], [n(w), n(w), 9]]);
                    if i > 0 || c_in != w {
                        p.push([n(c_in), n(w), 1]);
                    }
                    c_in = w;
                }
                p
            }
        };
        products.iter().try_fold(0u64, |sum, [a, b, c]| sum.checked_add(a.checked_mul(*b)?.checked_mul(*c)?))
    }

    /// Builds the network with fresh weights on `device` (seed the device first for reproducible weights).
    pub fn init(&self, device: &Device) -> Net {
        let ImageShape { channels, height, width } = self.input;
        let k = self.classes;
        match &self.arch {
            Arch::Mlp { hidden } => Net::Mlp(Mlp {
                fc1: LinearConfig::new(channels * height * width, hidden[0]).init(device),
                fc2: LinearConfig::new(hidden[0], hidden[1]).init(device),
                head: LinearConfig::new(hidden[1], k).init(device),
            }),
            Arch::Cnn { channels: ch, hidden } => {
                let conv = |i, o| Conv2dConfig::new([i, o], [5, 5]).with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2));
                Net::Cnn(Cnn {
                    conv1: conv(channels, ch[0]).init(device),
                    conv2: conv(ch[0], ch[1]).init(device),
                    pool: MaxPool2dConfig::new([2, 2]).init(),
                    fc: LinearConfig::new(ch[1] * (height / 4) * (width / 4), *hidden).init(device),
                    head: LinearConfig::new(*hidden, k).init(device),
                })
            }
            Arch::ResNet { widths } => {
                let mut blocks = Vec::new();
                let mut c_in = widths[0];
                for (i, &w) in widths.iter().enumerate() {
                    blocks.push(BasicBlock::new(c_in, w, if i == 0 { 1 } else { 2 }, device));
                    c_in = w;
                }
                Net::ResNet(ResNet {
                    stem: conv3x3(channels, widths[0], 1).init(device),
                    bn: BatchNormConfig::new(widths[0]).init(device),
                    blocks,
                    pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
                    head: LinearConfig::new(widths[2], k).init(device),
                })
            }
        }
    }

    /// Turns rows of `u8` planar images into the normalised input tensor `[B, C, H, W]`.
    ///
    /// Each value is `(p / 255 − mean_c) / std_c` in f32, read from a 256-entry table per channel built with that
    /// same expression, so the tensor is bit for bit what the per-pixel arithmetic gives, at a lookup per pixel.
    pub fn input_tensor(&self, pixels: &[u8], batch: usize, device: &Device) -> Tensor<4> {
        let plane = (self.input.height * self.input.width).max(1);
        let tables: Vec<[f32; 256]> = (0..self.input.channels)
            .map(|c| std::array::from_fn(|p| (f32::from(p as u8) / 255.0 - self.mean[c]) / self.std[c]))
            .collect();
        let mut x = Vec::with_capacity(pixels.len());
        for (i, plane_pixels) in pixels.chunks(plane).enumerate() {
            let table = &tables[i % self.input.channels.max(1)];
            x.extend(plane_pixels.iter().map(|&p| table[usize::from(p)]));
        }
        let ImageShape { channels, height, width } = self.input;
        Tensor::from_data(TensorData::new(x, [batch, channels, height, width]), device)
    }
}

fn conv3x3(c_in: usize, c_out: usize, stride: usize) -> Conv2dConfig {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
}

/// Any of doppel's classifiers.
#[derive(Module, Debug)]
pub enum Net {
    /// See [`Arch::Mlp`].
    Mlp(Mlp),
    /// See [`Arch::Cnn`].
    Cnn(Cnn),
    /// See [`Arch::ResNet`].
    ResNet(ResNet),
}

impl Net {
    /// Penultimate features.
    ///
    /// # Shapes
    /// - `x`: `[B, C, H, W]`, normalised ([`ModelSpec::input_tensor`])
    /// - returns `[B, F]`
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.features(x),
            Net::Cnn(m) => m.features(x),
            Net::ResNet(m) => m.features(x),
        }
    }

    /// Logits from features.
    ///
    /// # Shapes
    /// - `features`: `[B, F]`
    /// - returns `[B, K]`
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.head.forward(features),
            Net::Cnn(m) => m.head.forward(features),
            Net::ResNet(m) => m.head.forward(features),
        }
    }

    /// Logits.
    ///
    /// # Shapes
    /// - `x`: `[B, C, H, W]`, normalised
    /// - returns `[B, K]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The final linear layer (features → logits) of every architecture.
    fn head_layer(&self) -> &Linear {
        match self {
            Net::Mlp(m) => &m.head,
            Net::Cnn(m) => &m.head,
            Net::ResNet(m) => &m.head,
        }
    }

    /// The same network with `head` as its final layer.
    fn with_head(self, head: Linear) -> Net {
        match self {
            Net::Mlp(m) => Net::Mlp(Mlp { head, ..m }),
            Net::Cnn(m) => Net::Cnn(Cnn { head, ..m }),
            Net::ResNet(m) => Net::ResNet(ResNet { head, ..m }),
        }
    }

    /// A copy with one more output class, appended as the last logit (index `K`): the head's weights of the
    /// existing classes are copied unchanged, the new class gets `weight` (one value per feature) and `bias`.
    /// Boundary Expanding's "shadow class" (Chen et al. 2023). The new head is a fresh parameter; every other
    /// parameter keeps its id and value.
    ///
    /// # Shapes
    /// - `weight`: `[F]`; the returned network maps `[B, C, H, W]` to `[B, K + 1]`
    pub fn with_extra_class(&self, weight: &[f32], bias: f32) -> Result<Net> {
        let head = self.head_layer();
        let w = head.weight.val();
        let [features, _] = w.dims();
        if weight.len() != features {
            return Err(ModelError::Config {
                context: "extra class".into(),
                field: "weight".into(),
                problem: format!("has {} values; the head has {features} input features", weight.len()),
            });
        }
        let device = w.device();
        let column = Tensor::<2>::from_data(TensorData::new(weight.to_vec(), [features, 1]), &device);
        let bias = head.bias.as_ref().map(|b| {
            let extra = Tensor::<1>::from_data(TensorData::new(vec![bias], [1]), &device);
            Param::from_tensor(Tensor::cat(vec![b.val(), extra], 0))
        });
        let widened = Linear { weight: Param::from_tensor(Tensor::cat(vec![w, column], 1)), bias };
        Ok(self.clone().with_head(widened))
    }

    /// A copy without the last output class (the inverse of [`Net::with_extra_class`]): the head keeps the
    /// weights of classes `0..K-1` unchanged. Fails when fewer than 2 classes would remain.
    ///
    /// # Shapes
    /// The returned network maps `[B, C, H, W]` to `[B, K - 1]`.
    pub fn drop_last_class(&self) -> Result<Net> {
        let head = self.head_layer();
        let w = head.weight.val();
        let [_, classes] = w.dims();
        if classes < 3 {
            return Err(ModelError::Config {
                context: "drop last class".into(),
                field: "classes".into(),
                problem: format!("is {classes}; dropping one must leave at least 2"),
            });
        }
        let narrowed = Linear {
            weight: Param::from_tensor(w.narrow(1, 0, classes - 1)),
            bias: head.bias.as_ref().map(|b| Param::from_tensor(b.val().narrow(0, 0, classes - 1))),
        };
        Ok(self.clone().with_head(narrowed))
    }
}

/// See [`Arch::Mlp`].
#[derive(Module, Debug)]
pub struct Mlp {
    fc1: Linear,
    fc2: Linear,
    head: Linear,
}

impl Mlp {
    /// # Shapes
    /// `[B, C, H, W]` → `[B, hidden[1]]`
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = x.flatten(1, 3);
        relu(self.fc2.forward(relu(self.fc1.forward(x))))
    }
}

/// See [`Arch::Cnn`].
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc: Linear,
    head: Linear,
}

impl Cnn {
    /// # Shapes
    /// `[B, C, H, W]` → `[B, hidden]`
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        relu(self.fc.forward(x))
    }
}

/// See [`Arch::ResNet`].
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    bn: BatchNorm,
    blocks: Vec<BasicBlock>,
    pool: AdaptiveAvgPool2d,
    head: Linear,
}

impl ResNet {
    /// # Shapes
    /// `[B, C, H, W]` → `[B, widths[2]]`
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = relu(self.bn.forward(self.stem.forward(x)));
        for b in &self.blocks {
            x = b.forward(x);
        }
        let x: Tensor<2> = self.pool.forward(x).flatten(1, 3);
        x
    }
}

/// Two 3×3 convolutions with batch norm and an identity (or 1×1 projection) shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut: Option<Projection>,
}

/// The 1×1 strided projection of a shortcut that changes shape.
#[derive(Module, Debug)]
pub struct Projection {
    conv: Conv2d,
    bn: BatchNorm,
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        let shortcut = (stride != 1 || c_in != c_out).then(|| Projection {
            conv: Conv2dConfig::new([c_in, c_out], [1, 1]).with_stride([stride, stride]).with_bias(false).init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        });
        BasicBlock {
            conv1: conv3x3(c_in, c_out, stride).init(device),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv3x3(c_out, c_out, 1).init(device),
            bn2: BatchNormConfig::new(c_out).init(device),
            shortcut,
        }
    }

    /// # Shapes
    /// `[B, c_in, H, W]` → `[B, c_out, H / stride, W / stride]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let out = self.bn2.forward(self.conv2.forward(out));
        let short = match &self.shortcut {
            Some(p) => p.bn.forward(p.conv.forward(x)),
            None => x,
        };
        relu(out + short)
    }
}

impl Net {
    /// The three linear layers of an MLP, input to head (`fc1`, `fc2`, `head`), or `None` for another
    /// architecture. Attacks that write the MLP's backward pass as explicit tensor ops (doppel-attack's
    /// training-set reconstruction) read the weights through this. burn's `Linear` stores its weight as
    /// `[d_in, d_out]` and computes `x W + b`.
    pub fn mlp_layers(&self) -> Option<[&Linear; 3]> {
        match self {
            Net::Mlp(m) => Some([&m.fc1, &m.fc2, &m.head]),
            Net::Cnn(_) | Net::ResNet(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(arch: &str, input: ImageShape) -> ModelSpec {
        ModelSpec {
            arch: Arch::named(arch).unwrap(),
            input,
            classes: 10,
            mean: vec![0.5; input.channels],
            std: vec![0.25; input.channels],
        }
    }

    #[test]
    fn the_input_table_gives_the_per_pixel_arithmetic_bit_for_bit() {
        let device = Device::flex();
        let input = ImageShape::rgb(4, 5);
        let s = ModelSpec { mean: vec![0.49, 0.48, 0.45], std: vec![0.25, 0.24, 0.26], ..spec("cnn", input) };
        // Every byte value in every channel of two images.
        let pixels: Vec<u8> = (0..2 * input.len()).map(|i| (i * 37 % 256) as u8).collect();
        let got = s.input_tensor(&pixels, 2, &device).into_data().try_to_vec::<f32>().unwrap();
        let plane = input.height * input.width;
        let want: Vec<f32> = pixels
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let c = (i / plane) % input.channels;
                (f32::from(p) / 255.0 - s.mean[c]) / s.std[c]
            })
            .collect();
        assert_eq!(
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_arch_gives_features_and_logits_of_the_right_shape() {
        let device = Device::flex();
        for (arch, input, feat) in [
            ("mlp", ImageShape::grey(28, 28), 128),
            ("cnn", ImageShape::grey(28, 28), 128),
            ("cnn", ImageShape::rgb(32, 32), 128),
            ("resnet", ImageShape::rgb(32, 32), 64),
        ] {
            let s = spec(arch, input);
            s.validate().unwrap();
            let net = s.init(&device);
            let x = s.input_tensor(&vec![128u8; 3 * input.len()], 3, &device);
            assert_eq!(net.features(x.clone()).dims(), [3, feat], "{arch}");
            assert_eq!(net.forward(x).dims(), [3, 10], "{arch}");
        }
    }

    #[test]
    fn an_extra_class_is_appended_and_dropping_it_restores_the_logits() {
        let device = Device::flex();
        for (arch, input) in
            [("mlp", ImageShape::grey(8, 8)), ("cnn", ImageShape::grey(8, 8)), ("resnet", ImageShape::rgb(8, 8))]
        {
            let s = spec(arch, input);
            let net = s.init(&device);
            let x = s.input_tensor(&(0..2 * input.len()).map(|i| (i * 7 % 256) as u8).collect::<Vec<_>>(), 2, &device);
            let features = net.features(x.clone());
            let f = features.dims()[1];
            let w: Vec<f32> = (0..f).map(|i| i as f32 / f as f32 - 0.5).collect();
            let wide = net.with_extra_class(&w, 0.25).unwrap();
            let logits = net.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
            let wide_logits = wide.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
            let feats = features.into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(wide_logits.len(), 2 * 11, "{arch}");
            for b in 0..2 {
                for k in 0..10 {
                    let (a, c) = (logits[b * 10 + k], wide_logits[b * 11 + k]);
                    assert!((a - c).abs() <= 1e-5 * (1.0 + a.abs()), "{arch}: class {k} {a} vs {c}");
                }
                // The shadow logit is features · weight + bias.
                let shadow: f32 = feats[b * f..(b + 1) * f].iter().zip(&w).map(|(x, w)| x * w).sum::<f32>() + 0.25;
                let got = wide_logits[b * 11 + 10];
                assert!((shadow - got).abs() <= 1e-4 * (1.0 + shadow.abs()), "{arch}: shadow {shadow} vs {got}");
            }
            let back = wide.drop_last_class().unwrap().forward(x).into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(back.len(), 2 * 10);
            for (a, c) in logits.iter().zip(&back) {
                assert!((a - c).abs() <= 1e-5 * (1.0 + a.abs()), "{arch}: {a} vs {c}");
            }
        }
        let net = spec("mlp", ImageShape::grey(8, 8)).init(&device);
        let err = net.with_extra_class(&[0.0; 3], 0.0).unwrap_err().to_string();
        assert_eq!(err, "extra class: `weight` has 3 values; the head has 128 input features");
    }

    #[test]
    fn min_weights_is_a_lower_bound_of_the_parameters() {
        let device = Device::flex();
        for (arch, input) in
            [("mlp", ImageShape::grey(28, 28)), ("cnn", ImageShape::rgb(32, 32)), ("resnet", ImageShape::rgb(32, 32))]
        {
            let s = spec(arch, input);
            let bound = s.min_weights().unwrap() as usize;
            let params = s.init(&device).num_params();
            // Biases and norms are what the bound leaves out: a few percent at most.
            assert!(bound <= params && bound * 100 >= params * 95, "{arch}: {bound} of {params}");
        }
        let mut s = spec("mlp", ImageShape::grey(8, 8));
        s.arch = Arch::Mlp { hidden: [usize::MAX, 2] };
        assert_eq!(s.min_weights(), None);
    }

    #[test]
    fn validate_rejects_bad_specs() {
        let mut s = spec("mlp", ImageShape::grey(8, 8));
        s.classes = 1;
        assert!(s.validate().unwrap_err().to_string().contains("`classes` is 1"));
        let mut s = spec("mlp", ImageShape::grey(8, 8));
        s.std = vec![0.0];
        assert!(s.validate().unwrap_err().to_string().contains("not positive"));
        let mut s = spec("mlp", ImageShape::grey(8, 8));
        s.mean = vec![];
        assert!(s.validate().unwrap_err().to_string().contains("one value per channel"));
        for input in [ImageShape::grey(0, 8), ImageShape::rgb(1 << 16, 1 << 16), ImageShape::grey(usize::MAX, 2)] {
            let s = spec("resnet", input);
            assert!(s.validate().unwrap_err().to_string().contains("`input` is"), "{input:?}");
        }
    }
}

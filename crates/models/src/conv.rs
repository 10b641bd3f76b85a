//! Convolutions as one matrix product (im2col + GEMM) written in burn's differentiable ops.
//!
//! burn-flex runs a convolution's forward pass through im2col + GEMM, but under autodiff its weight gradient
//! is a convolution of the input with the output gradient, which flex answers with a generic kernel several
//! times slower than a GEMM of the same size (`examples/conv_profile.rs` measures both). [`conv2d_gemm`]
//! computes the same layer from the same parameters as one product `W · cols`, so autodiff differentiates a
//! matrix product (two GEMMs backward) and the strided views that build `cols`.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::Slice;
use burn::tensor::ops::PadMode;

/// `conv.forward(x)` as one matrix product: the `kh · kw` shifted (strided) views of the padded input, stacked
/// into columns `[C · kh · kw, N · Ho · Wo]`, multiplied by the weight read as `[O, C · kh · kw]`, plus the bias.
/// The parameters are the layer's own (checkpoints do not change); the result equals burn's up to float
/// summation order.
///
/// # Panics
/// On a dilation or group count other than 1 or `Same` padding (doppel's networks use none of them).
///
/// # Shapes
/// `[N, C, H, W]` → `[N, O, Ho, Wo]`
pub fn conv2d_gemm(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    assert!(conv.dilation == [1, 1] && conv.groups == 1, "conv2d_gemm: dilation and groups must be 1");
    let [n, c, h, w] = x.dims();
    let [kh, kw] = conv.kernel_size;
    let [sh, sw] = conv.stride;
    let (top, left, bottom, right) = match conv.padding {
        PaddingConfig2d::Valid => (0, 0, 0, 0),
        PaddingConfig2d::Explicit(t, l, b, r) => (t, l, b, r),
        PaddingConfig2d::Same => panic!("conv2d_gemm: `Same` padding is not supported; give it explicitly"),
    };
    let (hp, wp) = (h + top + bottom, w + left + right);
    let (ho, wo) = ((hp - kh) / sh + 1, (wp - kw) / sw + 1);
    let weight = conv.weight.val();
    let o = weight.dims()[0];
    // Channels first, so that the stacked views read as [C, kh·kw, N, Ho, Wo] and reshape to the columns.
    let xp = x.swap_dims(0, 1);
    let xp =
        if top + bottom + left + right > 0 { xp.pad((left, right, top, bottom), PadMode::Constant(0.0)) } else { xp };
    let span = |start: usize, stride: usize, count: usize| {
        Slice::new(start as isize, Some((start + stride * (count - 1) + 1) as isize), stride as isize)
    };
    let mut views = Vec::with_capacity(kh * kw);
    for i in 0..kh {
        for j in 0..kw {
            views.push(xp.clone().slice([Slice::full(), Slice::full(), span(i, sh, ho), span(j, sw, wo)]));
        }
    }
    let stacked: Tensor<5> = Tensor::stack(views, 1);
    let cols: Tensor<2> = stacked.reshape([c * kh * kw, n * ho * wo]);
    let out = weight.reshape([o, c * kh * kw]).matmul(cols);
    let out = match &conv.bias {
        Some(b) => out + b.val().reshape([o, 1]),
        None => out,
    };
    out.reshape([o, n, ho, wo]).swap_dims(0, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;

    /// Largest |a − b| / max(1, |b|) over the two tensors' values.
    fn rel_diff(a: Vec<f32>, b: Vec<f32>) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0, f32::max)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Forward values, the input's gradient and the weight's and bias's gradients of `sum(y · g)` for burn's
    /// Conv2d and for [`conv2d_gemm`] on the same layer, input and output weights `g`.
    #[test]
    fn gemm_convolution_matches_burns_forward_and_gradients() {
        let ad = Device::flex().autodiff();
        // (c_in, c_out, kernel, stride, padding, side, bias): the CNN's 5×5 layers and ResNet-8's 3×3, strided
        // 3×3 and 1×1 projections, with odd sides so strided windows end short of the edge.
        let cases = [
            (1, 4, 5, 1, 2, 12, true),
            (3, 5, 3, 1, 1, 9, false),
            (4, 6, 3, 2, 1, 9, false),
            (4, 6, 1, 2, 0, 9, false),
            (2, 3, 5, 1, 0, 8, true),
        ];
        for (case, &(c_in, c_out, k, stride, pad, side, bias)) in cases.iter().enumerate() {
            let conv: Conv2d = Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(bias)
                .init(&ad);
            let n = 3;
            let x_vals: Vec<f32> =
                (0..n * c_in * side * side).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
            let make_x =
                || Tensor::<4>::from_data(TensorData::new(x_vals.clone(), [n, c_in, side, side]), &ad).require_grad();
            let (xa, xb) = (make_x(), make_x());
            let ya = conv.forward(xa.clone());
            let yb = conv2d_gemm(&conv, xb.clone());
            assert_eq!(ya.dims(), yb.dims(), "case {case}");
            let g_vals: Vec<f32> = (0..ya.shape().num_elements()).map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0).collect();
            let g = Tensor::<4>::from_data(TensorData::new(g_vals, ya.dims()), &ad);
            let forward = rel_diff(values(yb.clone().detach()), values(ya.clone().detach()));
            assert!(forward < 1e-5, "case {case}: forward differs by {forward}");
            let grads_a = (ya * g.clone()).sum().backward();
            let grads_b = (yb * g).sum().backward();
            let pairs = [
                ("input", values(xb.grad(&grads_b).unwrap()), values(xa.grad(&grads_a).unwrap())),
                (
                    "weight",
                    values(conv.weight.val().grad(&grads_b).unwrap()),
                    values(conv.weight.val().grad(&grads_a).unwrap()),
                ),
            ];
            for (what, got, want) in pairs {
                let d = rel_diff(got, want);
                assert!(d < 1e-4, "case {case}: {what} gradient differs by {d}");
            }
            if let Some(b) = &conv.bias {
                let d = rel_diff(values(b.val().grad(&grads_b).unwrap()), values(b.val().grad(&grads_a).unwrap()));
                assert!(d < 1e-4, "case {case}: bias gradient differs by {d}");
            }
        }
    }
}

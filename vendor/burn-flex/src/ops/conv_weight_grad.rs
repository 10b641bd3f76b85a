//! The weight gradient of a 2D convolution as im2col + GEMM (a doppel patch to burn-flex 0.22.1).
//!
//! burn-backend's default `conv2d_weight_backward` computes the gradient as a convolution of the input with the
//! output gradient, batch and channel axes swapped: a kernel as large as the output plane, which flex's forward
//! convolution handles several times slower than a GEMM of the same multiply-add count. Here, per sample `n`
//! and group `g`, the gradient is one product
//!
//! ```text
//! dW[g] += dY[n, g] · P[n, g]      dY[n, g]: [O/groups, Ho·Wo] (read in place)
//!                                  P[n, g]:  [Ho·Wo, C/groups · kh · kw] (im2col of x[n], built transposed)
//! ```
//!
//! Samples are taken in fixed tiles of [`TILE`]; each tile sums its samples in order into its own partial, and
//! the partials are added in tile order, so the result does not depend on the thread count or scheduling.

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

/// Samples per partial sum.
const TILE: usize = 4;

/// The weight gradient `[O, C / groups, kh, kw]` of `conv2d(x, weight, options)` for the output gradient
/// `grad` (f32 or f64; `options` symmetric, as after `pad_asymmetric_conv_input`).
pub(crate) fn conv2d_weight_backward(
    x: FlexTensor,
    weight_shape: &Shape,
    grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    match x.dtype() {
        DType::F32 => typed::<f32>(x, weight_shape, grad, options, DType::F32),
        DType::F64 => typed::<f64>(x, weight_shape, grad, options, DType::F64),
        dtype => panic!("conv2d_weight_backward: unsupported dtype {dtype:?}"),
    }
}

/// The sizes every sample's work needs.
#[derive(Clone, Copy)]
struct Geometry {
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    groups: usize,
    kh: usize,
    kw: usize,
    ho: usize,
    wo: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
}

impl Geometry {
    fn c_group(&self) -> usize {
        self.c_in / self.groups
    }
    fn o_group(&self) -> usize {
        self.c_out / self.groups
    }
    /// Columns of one group's im2col: `C / groups · kh · kw`.
    fn cols(&self) -> usize {
        self.c_group() * self.kh * self.kw
    }
    fn plane_out(&self) -> usize {
        self.ho * self.wo
    }
}

fn typed<T>(x: FlexTensor, weight_shape: &Shape, grad: FlexTensor, options: &ConvOptions<2>, dtype: DType) -> FlexTensor
where
    T: bytemuck::Pod + burn_backend::Element + num_traits::Float + Send + Sync + 'static,
{
    let x = x.to_contiguous();
    let grad = grad.to_contiguous();
    let xs = x.layout().shape();
    let gs = grad.layout().shape();
    let geo = Geometry {
        c_in: xs[1],
        h: xs[2],
        w: xs[3],
        c_out: weight_shape[0],
        groups: options.groups,
        kh: weight_shape[2],
        kw: weight_shape[3],
        ho: gs[2],
        wo: gs[3],
        stride: options.stride,
        pad: options.padding_begin(),
        dilation: options.dilation,
    };
    let batch = xs[0];
    let x_data: &[T] = x.storage();
    let g_data: &[T] = grad.storage();
    let out_len = geo.c_out * geo.cols();
    let tiles = batch.div_ceil(TILE);
    let tile_sum = |t: usize| -> Vec<T> {
        let mut partial = vec![T::zero(); out_len];
        let mut patches = vec![T::zero(); geo.cols() * geo.plane_out()];
        for n in t * TILE..((t + 1) * TILE).min(batch) {
            let x_n = &x_data[n * geo.c_in * geo.h * geo.w..(n + 1) * geo.c_in * geo.h * geo.w];
            let g_n = &g_data[n * geo.c_out * geo.plane_out()..(n + 1) * geo.c_out * geo.plane_out()];
            for g in 0..geo.groups {
                im2col_transposed(x_n, g, &geo, &mut patches);
                let g_rows = &g_n[g * geo.o_group() * geo.plane_out()..(g + 1) * geo.o_group() * geo.plane_out()];
                let dst = &mut partial[g * geo.o_group() * geo.cols()..(g + 1) * geo.o_group() * geo.cols()];
                accumulate_product(dst, g_rows, &patches, &geo);
            }
        }
        partial
    };
    #[cfg(feature = "rayon")]
    let partials: Vec<Vec<T>> = {
        use rayon::prelude::*;
        (0..tiles).into_par_iter().map(tile_sum).collect()
    };
    #[cfg(not(feature = "rayon"))]
    let partials: Vec<Vec<T>> = (0..tiles).map(tile_sum).collect();
    let mut out = vec![T::zero(); out_len];
    for partial in &partials {
        for (o, p) in out.iter_mut().zip(partial) {
            *o = *o + *p;
        }
    }
    FlexTensor::new(Bytes::from_elems(out), Layout::contiguous(weight_shape.clone()), dtype)
}

/// Fills `patches` (`[cols, Ho·Wo]`, row-major) with group `g`'s im2col of one sample `x_n` (`[C, H, W]`):
/// row `(c, i, j)` holds, for every output position, the input value under kernel tap `(i, j)` of channel `c`
/// (zero in the padding).
fn im2col_transposed<T: num_traits::Float>(x_n: &[T], g: usize, geo: &Geometry, patches: &mut [T]) {
    let [sh, sw] = geo.stride;
    let [ph, pw] = geo.pad;
    let [dh, dw] = geo.dilation;
    let plane_out = geo.plane_out();
    let mut row = 0;
    for c in g * geo.c_group()..(g + 1) * geo.c_group() {
        let x_c = &x_n[c * geo.h * geo.w..(c + 1) * geo.h * geo.w];
        for i in 0..geo.kh {
            for j in 0..geo.kw {
                let dst = &mut patches[row * plane_out..(row + 1) * plane_out];
                for oh in 0..geo.ho {
                    let out_row = &mut dst[oh * geo.wo..(oh + 1) * geo.wo];
                    let ih = (oh * sh + i * dh) as isize - ph as isize;
                    if ih < 0 || ih as usize >= geo.h {
                        out_row.fill(T::zero());
                        continue;
                    }
                    let x_row = &x_c[ih as usize * geo.w..(ih as usize + 1) * geo.w];
                    for (ow, v) in out_row.iter_mut().enumerate() {
                        let iw = (ow * sw + j * dw) as isize - pw as isize;
                        *v = if iw < 0 || iw as usize >= geo.w { T::zero() } else { x_row[iw as usize] };
                    }
                }
                row += 1;
            }
        }
    }
}

/// `dst [O/groups, cols] += g_rows [O/groups, Ho·Wo] · patchesᵀ`, with `patches` stored `[cols, Ho·Wo]`.
fn accumulate_product<T: num_traits::Float + 'static>(dst: &mut [T], g_rows: &[T], patches: &[T], geo: &Geometry) {
    let (m, k, n) = (geo.o_group(), geo.plane_out(), geo.cols());
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let one = T::one();
    // SAFETY: every pointer covers its matrix under the given strides: dst is m × n row-major (rs n, cs 1),
    // g_rows m × k row-major (rs k, cs 1), and patches read as the k × n matrix patchesᵀ (rs 1, cs k) of its
    // n × k storage. The slices' lengths were cut to exactly those sizes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            g_rows.as_ptr(),
            1,
            k as isize,
            patches.as_ptr(),
            k as isize,
            1,
            one,
            one,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

//! Exact search by blocks: squared distances `‖q‖² − 2 q·x + ‖x‖²` of a block of queries against every row,
//! with the dot products in SIMD (pulp's run-time dispatch: AVX-512 or AVX2 + FMA where the CPU has them), then a
//! re-check of every row that the rounding-error bound of those distances cannot rule out.
//!
//! The expansion is what makes search fast (one pass over the rows serves a whole block of queries, as a GEMM
//! would) and what makes it inexact: it cancels near zero, and its rounding differs from the scan's
//! `Σ (q_i − x_i)²`. So it only nominates. With `u` the unit roundoff and `d` the dimension, the expanded value
//! and the scan's value of the same pair differ by at most [`tolerance`] = `4 (d + 2) u (‖q‖² + max ‖x‖²)`
//! (Higham's γ bound for each sum, summed over both computations). A row whose expanded value is within that of
//! what the answer needs is measured again with the scan's own distance, and only those measurements are
//! returned: the hits, distances and order are the scan's, bit for bit.

use pulp::{Simd, WithSimd};

/// Queries per block. 64 queries of 1,024 floats are 256 KB (they stay in L2 while the rows stream past), and
/// 64 × 60,000 distances are 15 MB.
pub(crate) const BLOCK: usize = 64;

/// `out[i · n + j] = q_i · x_j` for the queries (rows of `queries`) against the `n` rows of `rows`, all `dim`
/// wide.
///
/// # Panics
/// If `dim` is 0, either slice is not a whole number of rows, or `out` is not `b · n` long.
pub(crate) fn dots(queries: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    assert!(dim > 0 && queries.len().is_multiple_of(dim) && rows.len().is_multiple_of(dim), "dots: ragged input");
    assert_eq!(out.len(), queries.len() / dim * (rows.len() / dim), "dots: output size");
    pulp::Arch::new().dispatch(Dots { queries, rows, dim, out });
}

/// The rounding-error bound of the expanded squared distance against the scan's, for a query of squared norm
/// `q_norm` and rows of squared norm at most `max_norm`, in `dim` dimensions. Infinite (so every row is
/// re-checked) when the norms overflow.
pub(crate) fn tolerance(dim: usize, q_norm: f32, max_norm: f32) -> f32 {
    4.0 * (dim as f32 + 2.0) * f32::EPSILON * (q_norm + max_norm)
}

struct Dots<'a> {
    queries: &'a [f32],
    rows: &'a [f32],
    dim: usize,
    out: &'a mut [f32],
}

impl WithSimd for Dots<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Dots { queries, rows, dim, out } = self;
        let n = rows.len() / dim;
        let q: Vec<&[f32]> = queries.chunks_exact(dim).collect();
        for (j, x) in rows.chunks_exact(dim).enumerate() {
            let (xv, xt) = S::as_simd_f32s(x);
            let mut i = 0;
            // Four queries share each load of the row.
            while i + 4 <= q.len() {
                let (a, at) = S::as_simd_f32s(q[i]);
                let (b, bt) = S::as_simd_f32s(q[i + 1]);
                let (c, ct) = S::as_simd_f32s(q[i + 2]);
                let (d, dt) = S::as_simd_f32s(q[i + 3]);
                let zero = simd.splat_f32s(0.0);
                let mut acc = [zero; 4];
                for ((((&x, &a), &b), &c), &d) in xv.iter().zip(a).zip(b).zip(c).zip(d) {
                    acc[0] = simd.mul_add_f32s(a, x, acc[0]);
                    acc[1] = simd.mul_add_f32s(b, x, acc[1]);
                    acc[2] = simd.mul_add_f32s(c, x, acc[2]);
                    acc[3] = simd.mul_add_f32s(d, x, acc[3]);
                }
                for (t, (acc, tail)) in acc.into_iter().zip([at, bt, ct, dt]).enumerate() {
                    out[(i + t) * n + j] = simd.reduce_sum_f32s(acc) + tail_dot(tail, xt);
                }
                i += 4;
            }
            for (t, query) in q.iter().enumerate().skip(i) {
                let (a, at) = S::as_simd_f32s(query);
                let mut acc = simd.splat_f32s(0.0);
                for (&x, &a) in xv.iter().zip(a) {
                    acc = simd.mul_add_f32s(a, x, acc);
                }
                out[t * n + j] = simd.reduce_sum_f32s(acc) + tail_dot(at, xt);
            }
        }
    }
}

#[inline(always)]
fn tail_dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_dot_products_match_f64_sums_for_every_shape() {
        let mut rng = doppel_data::seed::rng(5, "exact-dots", 0);
        // Dimensions below, at and past the SIMD widths, with and without a tail; query counts around the groups
        // of four.
        for dim in [1usize, 3, 8, 13, 16, 64, 67] {
            for b in [1usize, 3, 4, 5, 9] {
                let n = 11;
                let mut draw = |len: usize| -> Vec<f32> {
                    (0..len).map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0)).collect()
                };
                let (q, x) = (draw(b * dim), draw(n * dim));
                let mut out = vec![f32::NAN; b * n];
                dots(&q, &x, dim, &mut out);
                for i in 0..b {
                    for j in 0..n {
                        let want: f64 = (0..dim).map(|p| f64::from(q[i * dim + p]) * f64::from(x[j * dim + p])).sum();
                        let got = f64::from(out[i * n + j]);
                        assert!(
                            (got - want).abs() <= 1e-5 * dim as f64,
                            "dim {dim}, b {b}, ({i}, {j}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

//! A dense row-major `f32` matrix: what every embedder returns and the index ingests.

use crate::error::{MineError, Result};

/// `rows × dim` values, row after row.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// Wraps `data`, checking that it holds exactly `rows × dim` values.
    pub fn new(rows: usize, dim: usize, data: Vec<f32>) -> Result<Self> {
        if rows.checked_mul(dim) != Some(data.len()) {
            return Err(MineError::DimMismatch {
                what: format!("matrix of {rows} rows ({} values)", data.len()),
                expected: dim,
                got: data.len().checked_div(rows).unwrap_or(0),
            });
        }
        Ok(Matrix { rows, dim, data })
    }

    /// For shapes correct by construction.
    pub(crate) fn from_parts(rows: usize, dim: usize, data: Vec<f32>) -> Self {
        debug_assert_eq!(rows * dim, data.len());
        Matrix { rows, dim, data }
    }

    /// A matrix with no row.
    pub fn empty(dim: usize) -> Self {
        Matrix { rows: 0, dim, data: Vec::new() }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i`. Panics when `i >= rows()`, like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All values, row after row.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The values, row after row.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// The rows at `indices`, in that order. Panics on an index out of range.
    pub fn select(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix { rows: indices.len(), dim: self.dim, data }
    }
}

/// `Σ a_i b_i` with eight independent accumulators, so the compiler vectorises it.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `Σ (a_i − b_i)²`, vectorised like [`dot`], and compiled for the CPU's widest vectors through pulp's run-time
/// dispatch (AVX2 where the CPU has it): the HNSW graph spends most of its build and search here. Every path adds
/// the same eight lanes in the same order (no fused multiply-add), so the value is the same bit for bit on
/// every CPU, and the graph and its answers with it.
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    pulp::Arch::new().dispatch(SqDist { a, b })
}

/// [`sq_dist`]'s body, for [`pulp::Arch::dispatch`].
struct SqDist<'a> {
    a: &'a [f32],
    b: &'a [f32],
}

impl pulp::WithSimd for SqDist<'_> {
    type Output = f32;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> f32 {
        let (a, b) = (self.a, self.b);
        let mut acc = [0f32; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for k in 0..8 {
                let d = x[k] - y[k];
                acc[k] += d * d;
            }
        }
        let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
        acc.iter().sum::<f32>() + tail
    }
}

/// `y += a · x`, the inner loop of every product here.
#[inline]
pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulp::WithSimd;

    #[test]
    fn sq_dist_is_the_same_on_the_dispatched_and_the_baseline_path() {
        let mut rng = doppel_data::seed::rng(7, "sq-dist", 0);
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 784, 1024] {
            for _ in 0..50 {
                let mut v =
                    || -> Vec<f32> { (0..len).map(|_| rand::Rng::random_range(&mut rng, -3.0f32..3.0)).collect() };
                let (a, b) = (v(), v());
                let baseline = SqDist { a: &a, b: &b }.with_simd(pulp::Scalar::new());
                assert_eq!(sq_dist(&a, &b).to_bits(), baseline.to_bits(), "length {len}");
                let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
                assert!((f64::from(baseline) - plain).abs() <= 1e-4 * plain.max(1.0), "length {len}");
            }
        }
    }

    #[test]
    fn new_checks_the_shape() {
        assert!(Matrix::new(2, 3, vec![0.0; 6]).is_ok());
        let err = Matrix::new(2, 3, vec![0.0; 5]).unwrap_err();
        assert!(err.to_string().contains("matrix of 2 rows (5 values)"), "{err}");
    }

    #[test]
    fn kernels_match_the_naive_sums() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..19).map(|i| (i as f32).sin()).collect();
        let naive_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let naive_sq: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((dot(&a, &b) - naive_dot).abs() < 1e-4);
        assert!((sq_dist(&a, &b) - naive_sq).abs() < 1e-3);
    }
}

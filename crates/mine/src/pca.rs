//! Principal components by randomized subspace iteration, in plain Rust.
//!
//! Halko, Martinsson & Tropp 2011 ("Finding structure with randomness", algorithm 4.4): a seeded Gaussian start
//! `Ω` (`d × l`, `l = k + 10`), `Y = XΩ`, `q` power steps `Y ← X(XᵀY)` with re-orthonormalisation after every
//! product, then the exact eigen-decomposition of the small `l × l` matrix `BBᵀ` (`B = QᵀX`) by cyclic Jacobi.
//! Products run in `f32` (they dominate the cost: `2(q + 1) + 1` passes over `X`), orthonormalisation and the
//! small eigenproblem in `f64`.

use doppel_data::seed;

use crate::matrix::{Matrix, axpy};

/// A fitted basis.
pub(crate) struct PcaFit {
    /// `d × k`, row-major: column `j` is the `j`-th principal direction (unit norm).
    pub basis: Matrix,
    /// Share of `‖X‖²_F` (the total variance of centred data) the `k` components keep.
    pub explained: f64,
}

/// The top `k` principal directions of the rows of `x`, which must be centred (standardised pixels are).
/// Requires `1 ≤ k ≤ min(n, d)`; the caller checks it.
pub(crate) fn fit(x: &Matrix, k: usize, iterations: usize, seed: u64) -> PcaFit {
    let (n, d) = (x.rows(), x.dim());
    let l = (k + 10).min(d).min(n);
    let mut rng = seed::rng(seed, "pixel-pca", 0);
    let omega: Vec<f32> = (0..d * l).map(|_| seed::normal(&mut rng) as f32).collect();
    let mut y = times(x, &omega, l);
    orthonormalise(&mut y, n, l);
    for step in 0..iterations {
        tracing::debug!(step, "pca power iteration");
        let mut z = t_times(x, &y, l);
        orthonormalise(&mut z, d, l);
        y = times(x, &z, l);
        orthonormalise(&mut y, n, l);
    }
    // Z = XᵀQ = Bᵀ (d × l); BBᵀ = ZᵀZ = U Σ² Uᵀ; right singular vectors W = Z U Σ⁻¹.
    let z = t_times(x, &y, l);
    let mut g = vec![0f64; l * l];
    for i in 0..d {
        let zi = &z[i * l..(i + 1) * l];
        for a in 0..l {
            for b in a..l {
                g[a * l + b] += f64::from(zi[a]) * f64::from(zi[b]);
            }
        }
    }
    for a in 0..l {
        for b in 0..a {
            g[a * l + b] = g[b * l + a];
        }
    }
    let (values, vectors) = jacobi_eigen(g, l);
    let total: f64 = x.as_slice().iter().map(|v| f64::from(*v).powi(2)).sum();
    let mut basis = vec![0f32; d * k];
    let mut kept = 0.0;
    for (j, &(value, col)) in values.iter().take(k).enumerate() {
        kept += value.max(0.0);
        let sigma = value.max(0.0).sqrt();
        if sigma < 1e-9 {
            continue; // X has rank < k: leave this direction at zero.
        }
        let mut w: Vec<f64> = (0..d)
            .map(|i| (0..l).map(|m| f64::from(z[i * l + m]) * vectors[m * l + col]).sum::<f64>() / sigma)
            .collect();
        // The sign of a singular vector is arbitrary; fix it so the largest entry is positive.
        let big = w.iter().copied().fold(0.0f64, |a, v| if v.abs() > a.abs() { v } else { a });
        if big < 0.0 {
            w.iter_mut().for_each(|v| *v = -*v);
        }
        for i in 0..d {
            basis[i * k + j] = w[i] as f32;
        }
    }
    PcaFit { basis: Matrix::from_parts(d, k, basis), explained: if total > 0.0 { kept / total } else { 0.0 } }
}

/// `x · b` with `b` `d × l` row-major: `n × l`.
fn times(x: &Matrix, b: &[f32], l: usize) -> Vec<f32> {
    let mut out = vec![0f32; x.rows() * l];
    for (r, o) in out.chunks_exact_mut(l).enumerate() {
        for (i, &v) in x.row(r).iter().enumerate() {
            if v != 0.0 {
                axpy(o, v, &b[i * l..(i + 1) * l]);
            }
        }
    }
    out
}

/// `xᵀ · q` with `q` `n × l` row-major: `d × l`.
fn t_times(x: &Matrix, q: &[f32], l: usize) -> Vec<f32> {
    let d = x.dim();
    let mut out = vec![0f32; d * l];
    for r in 0..x.rows() {
        let qr = &q[r * l..(r + 1) * l];
        for (i, &v) in x.row(r).iter().enumerate() {
            if v != 0.0 {
                axpy(&mut out[i * l..(i + 1) * l], v, qr);
            }
        }
    }
    out
}

/// Orthonormalises the `l` columns of the row-major `rows × l` matrix `a` in place: modified Gram–Schmidt in
/// `f64`, run twice ("twice is enough", Giraud et al. 2005). A column that vanishes stays zero.
fn orthonormalise(a: &mut [f32], rows: usize, l: usize) {
    let mut cols: Vec<Vec<f64>> = (0..l).map(|j| (0..rows).map(|r| f64::from(a[r * l + j])).collect()).collect();
    for _ in 0..2 {
        for j in 0..l {
            let (done, rest) = cols.split_at_mut(j);
            let cj = &mut rest[0];
            for cp in done.iter() {
                let r: f64 = cp.iter().zip(cj.iter()).map(|(p, q)| p * q).sum();
                cj.iter_mut().zip(cp).for_each(|(q, p)| *q -= r * p);
            }
            let norm = cj.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 1e-10 {
                cj.iter_mut().for_each(|v| *v /= norm);
            } else {
                cj.iter_mut().for_each(|v| *v = 0.0);
            }
        }
    }
    for (j, c) in cols.iter().enumerate() {
        for (r, v) in c.iter().enumerate() {
            a[r * l + j] = *v as f32;
        }
    }
}

/// Eigen-decomposition of the symmetric `l × l` matrix `a` by cyclic Jacobi rotations. Returns the pairs
/// (eigenvalue, column of the eigenvector in `vectors`) sorted by eigenvalue, largest first, and the
/// eigenvectors as the columns of a row-major `l × l` matrix.
fn jacobi_eigen(mut a: Vec<f64>, l: usize) -> (Vec<(f64, usize)>, Vec<f64>) {
    let mut v = vec![0f64; l * l];
    for i in 0..l {
        v[i * l + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..l)
            .flat_map(|p| (0..l).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * l + q].powi(2))
            .sum();
        if off.sqrt() <= 1e-14 * scale {
            break;
        }
        for p in 0..l {
            for q in p + 1..l {
                let apq = a[p * l + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * l + q] - a[p * l + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..l {
                    let (akp, akq) = (a[k * l + p], a[k * l + q]);
                    a[k * l + p] = c * akp - s * akq;
                    a[k * l + q] = s * akp + c * akq;
                }
                for k in 0..l {
                    let (apk, aqk) = (a[p * l + k], a[q * l + k]);
                    a[p * l + k] = c * apk - s * aqk;
                    a[q * l + k] = s * apk + c * aqk;
                }
                for k in 0..l {
                    let (vkp, vkq) = (v[k * l + p], v[k * l + q]);
                    v[k * l + p] = c * vkp - s * vkq;
                    v[k * l + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut pairs: Vec<(f64, usize)> = (0..l).map(|i| (a[i * l + i], i)).collect();
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    (pairs, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_finds_the_eigenvalues_of_a_known_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2.
        let (vals, vecs) = jacobi_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
        assert!((vals[0].0 - 3.0).abs() < 1e-12 && (vals[1].0 - 1.0).abs() < 1e-12, "{vals:?}");
        let c = vals[0].1;
        assert!((vecs[c].abs() - 0.5f64.sqrt()).abs() < 1e-12 && (vecs[2 + c].abs() - 0.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn recovers_a_planted_low_rank_subspace() {
        // Rows are a·u + b·v + small noise with u, v orthonormal in R^12; variance along u ≫ v ≫ noise.
        let d = 12;
        let u: Vec<f32> = (0..d).map(|i| if i < 4 { 0.5 } else { 0.0 }).collect();
        let v: Vec<f32> = (0..d).map(|i| if (4..8).contains(&i) { 0.5 } else { 0.0 }).collect();
        let mut rng = seed::rng(9, "test", 0);
        let n = 400;
        let mut data = Vec::with_capacity(n * d);
        for _ in 0..n {
            let a = 10.0 * seed::normal(&mut rng) as f32;
            let b = 3.0 * seed::normal(&mut rng) as f32;
            for i in 0..d {
                data.push(a * u[i] + b * v[i] + 0.01 * seed::normal(&mut rng) as f32);
            }
        }
        // Centre the columns, as standardised pixels are.
        for i in 0..d {
            let m = (0..n).map(|r| data[r * d + i]).sum::<f32>() / n as f32;
            (0..n).for_each(|r| data[r * d + i] -= m);
        }
        let x = Matrix::new(n, d, data).unwrap();
        let fit = fit(&x, 2, 2, 1);
        let col = |j: usize| (0..d).map(|i| fit.basis.row(i)[j]).collect::<Vec<f32>>();
        let cos = |a: &[f32], b: &[f32]| crate::matrix::dot(a, b).abs();
        assert!(cos(&col(0), &u) > 0.999, "first component {:?}", col(0));
        assert!(cos(&col(1), &v) > 0.999, "second component {:?}", col(1));
        assert!(fit.explained > 0.99, "explained {}", fit.explained);
        // Same seed, same basis, bit for bit.
        assert_eq!(super::fit(&x, 2, 2, 1).basis, fit.basis);
    }
}

//! A binary C-SVC with the RBF kernel, solved the way scikit-learn's `SVC` solves it: libsvm's SMO (Fan, Chen & Lin
//! 2005, "Working set selection using second order information for training support vector machines", JMLR 6)
//! with the same working-set selection, shrinking, gradient reconstruction, bias (`rho`) and `f32` kernel values,
//! so that the same inputs give the same support vectors and decision values. It exists for the SVC membership
//! attack of Jia et al. 2023 and SalUn ([`crate::mia::svc_mia_efficacy`]), which fits `SVC(C=3, gamma="auto",
//! kernel="rbf")`.
//!
//! The problem, for `l` samples `x_i` with `y_i = +1` for the class `false` and `−1` for the class `true` (libsvm's
//! order after scikit-learn sorts the labels):
//!
//! ```text
//! min_α ½ αᵀQα − Σ α_i    s.t.  yᵀα = 0,  0 ≤ α_i ≤ C,    Q_ij = y_i y_j exp(−γ ‖x_i − x_j‖²)
//! libsvm's decision  d(x) = Σ_i α_i y_i K(x_i, x) − ρ      (d > 0: class `false`)
//! ```
//!
//! [`Svc::decision`] returns scikit-learn's `decision_function`, which for two classes is `−d(x)` (positive: class
//! `true`); [`Svc::predict`] is `d(x) ≤ 0`, libsvm's vote with its tie going to the second class.
//!
//! Reproduced details that change the numbers: samples are grouped by class (class `false` first, each class in
//! input order); `Q` is stored as `f32` (libsvm's `Qfloat`) while gradients are `f64`; training kernels are
//! `exp(−γ(‖x_i‖² + ‖x_j‖² − 2 x_i·x_j))` and prediction kernels `exp(−γ Σ (x_k − s_k)²)`, as libsvm computes them;
//! the stopping tolerance is `ε` on the maximal violating pair; shrinking runs every `min(l, 1000)` iterations and
//! un-shrinks once when the gap falls below `10 ε`. Not reproduced: libsvm's kernel cache is an LRU of partial
//! columns, this one a bounded FIFO of whole columns — which columns are cached never changes a value. One known
//! divergence: libsvm decides how to reconstruct the gradient with `int` arithmetic that overflows for more than
//! about 46,000 samples; this code uses 64-bit integers there.

use std::collections::VecDeque;

use crate::check;
use crate::error::{EvalError, Result};

/// libsvm's `TAU`: the curvature used when a pair's is not positive.
const TAU: f64 = 1e-12;

/// Settings of [`Svc::fit`], scikit-learn's `SVC` parameters of the same names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvcConfig {
    /// The box constraint `C`, finite and `> 0`.
    pub c: f64,
    /// The RBF width `γ`; `None` is scikit-learn's `gamma="auto"`, `1 / n_features`.
    pub gamma: Option<f64>,
    /// The stopping tolerance on the maximal violating pair (`tol`, libsvm's `eps`), finite and `> 0`.
    pub tolerance: f64,
    /// libsvm's shrinking heuristic (`shrinking`); it changes the path and so, within the tolerance, the result.
    pub shrinking: bool,
    /// Stop after this many SMO iterations (`max_iter`; `None` is scikit-learn's `-1`, no limit).
    pub max_iter: Option<usize>,
    /// Bytes of kernel columns kept between iterations (`cache_size`, in bytes here); speed only.
    pub cache_bytes: usize,
}

impl SvcConfig {
    /// `SVC(C=3, gamma="auto", kernel="rbf")` with scikit-learn's other defaults (`tol=1e-3`, `shrinking=True`,
    /// `max_iter=-1`, `cache_size=200` MB): the attack model of SalUn's and Unlearn-Sparse's `SVC_MIA`.
    pub const SALUN: Self =
        Self { c: 3.0, gamma: None, tolerance: 1e-3, shrinking: true, max_iter: None, cache_bytes: 200 << 20 };
}

/// A fitted binary SVC (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Svc {
    dim: usize,
    gamma: f64,
    /// Support vectors, row-major `[n_sv, dim]`, class `false` first, each class in input order.
    support: Vec<f64>,
    /// `α_i y_i` of each support vector (libsvm's `sv_coef`; scikit-learn's `dual_coef_` is its negation).
    coef: Vec<f64>,
    /// libsvm's `ρ` (scikit-learn's `intercept_` is `ρ`, with the decision negated).
    rho: f64,
    iterations: usize,
    converged: bool,
    support_per_class: [usize; 2],
}

impl Svc {
    /// Fits the SVC on row-major features `[labels.len(), dim]` and boolean labels (see the [module docs](self)).
    ///
    /// # Errors
    /// [`EvalError::Empty`] for no samples; [`EvalError::InvalidParameter`] for `dim = 0`, a bad setting or labels
    /// of one class only; [`EvalError::LengthMismatch`] when `features` is not `dim` values per label;
    /// [`EvalError::NonFinite`] for a NaN or infinite feature.
    pub fn fit(features: &[f64], dim: usize, labels: &[bool], config: &SvcConfig) -> Result<Svc> {
        check::non_empty("labels", "labelled sample", labels)?;
        if dim == 0 {
            return Err(EvalError::InvalidParameter { name: "dim", value: "0".into(), expected: "≥ 1".into() });
        }
        check::same_len("features", features.len(), "labels × dim", labels.len().saturating_mul(dim))?;
        check::finite("features", features)?;
        check::positive("c", config.c)?;
        check::positive("tolerance", config.tolerance)?;
        let gamma = config.gamma.unwrap_or(1.0 / dim as f64);
        check::positive("gamma", gamma)?;
        for class in [false, true] {
            if !labels.contains(&class) {
                return Err(EvalError::InvalidParameter {
                    name: "labels",
                    value: format!("all {}", !class),
                    expected: "both classes present (an SVC needs members and non-members)".into(),
                });
            }
        }
        // svm_group_classes with sorted labels: class `false` (label 0, y = +1) first, then class `true`.
        let order: Vec<usize> = [false, true]
            .iter()
            .flat_map(|&class| labels.iter().enumerate().filter(move |(_, l)| **l == class).map(|(i, _)| i))
            .collect();
        let rows: Vec<f64> = order.iter().flat_map(|&i| features[i * dim..(i + 1) * dim].iter().copied()).collect();
        let y: Vec<i8> = order.iter().map(|&i| if labels[i] { -1 } else { 1 }).collect();
        let kernel = TrainKernel::new(rows, dim, gamma, &y, config.cache_bytes);
        let solution =
            Solver::new(kernel, y.clone(), config.c).solve(config.tolerance, config.shrinking, config.max_iter);

        let mut support = Vec::new();
        let mut coef = Vec::new();
        let mut support_per_class = [0, 0];
        for (k, (&a, &yk)) in solution.alpha.iter().zip(&y).enumerate() {
            if a.abs() > 0.0 {
                support.extend_from_slice(&solution.rows[k * dim..(k + 1) * dim]);
                coef.push(a * f64::from(yk));
                support_per_class[usize::from(yk < 0)] += 1;
            }
        }
        Ok(Svc {
            dim,
            gamma,
            support,
            coef,
            rho: solution.rho,
            iterations: solution.iterations,
            converged: solution.converged,
            support_per_class,
        })
    }

    /// scikit-learn's `decision_function` of one sample: positive for class `true`.
    ///
    /// # Errors
    /// [`EvalError::LengthMismatch`] unless `x` has `dim` values; [`EvalError::NonFinite`].
    pub fn decision(&self, x: &[f64]) -> Result<f64> {
        check::same_len("sample", x.len(), "the SVC's features", self.dim)?;
        check::finite("sample", x)?;
        Ok(-self.libsvm_decision(x))
    }

    /// The predicted class of one sample (scikit-learn's `predict`).
    ///
    /// # Errors
    /// As [`Svc::decision`].
    pub fn predict(&self, x: &[f64]) -> Result<bool> {
        check::same_len("sample", x.len(), "the SVC's features", self.dim)?;
        check::finite("sample", x)?;
        Ok(self.libsvm_decision(x) <= 0.0)
    }

    /// libsvm's `svm_predict_values`: kernels to every support vector, summed in support-vector order, minus `ρ`.
    fn libsvm_decision(&self, x: &[f64]) -> f64 {
        let mut sum = 0.0;
        for (sv, c) in self.support.chunks_exact(self.dim).zip(&self.coef) {
            let mut d2 = 0.0;
            for (a, b) in x.iter().zip(sv) {
                let d = a - b;
                d2 += d * d;
            }
            sum += c * (-self.gamma * d2).exp();
        }
        sum - self.rho
    }

    /// Support vectors per class, `[false, true]` (scikit-learn's `n_support_`).
    pub fn support_per_class(&self) -> [usize; 2] {
        self.support_per_class
    }

    /// scikit-learn's `intercept_[0]` (libsvm's `−ρ` seen from the class `true`): `ρ`.
    pub fn intercept(&self) -> f64 {
        self.rho
    }

    /// SMO iterations the solver ran (libsvm's `#iter`).
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Whether the solver met the tolerance (false only when `max_iter` stopped it).
    pub fn converged(&self) -> bool {
        self.converged
    }
}

/// The `Q` matrix of the grouped problem, `Q_ab = y_a y_b K(a, b)` as `f32`, by grouped index, with a FIFO cache of
/// whole columns.
struct TrainKernel {
    rows: Vec<f64>,
    dim: usize,
    gamma: f64,
    square: Vec<f64>,
    y: Vec<i8>,
    columns: Vec<Option<Box<[f32]>>>,
    cached: VecDeque<usize>,
    capacity: usize,
}

impl TrainKernel {
    fn new(rows: Vec<f64>, dim: usize, gamma: f64, y: &[i8], cache_bytes: usize) -> Self {
        let l = y.len();
        let square = rows.chunks_exact(dim).map(|r| dot(r, r)).collect();
        let capacity = (cache_bytes / (4 * l).max(1)).max(2);
        Self { rows, dim, gamma, square, y: y.to_vec(), columns: vec![None; l], cached: VecDeque::new(), capacity }
    }

    /// libsvm's `kernel_rbf(a, b)`.
    fn rbf(&self, a: usize, b: usize) -> f64 {
        let (d, ra, rb) = (self.dim, &self.rows[a * self.dim..], &self.rows[b * self.dim..]);
        (-self.gamma * (self.square[a] + self.square[b] - 2.0 * dot(&ra[..d], &rb[..d]))).exp()
    }

    /// The whole column `a` of `Q`, by grouped index.
    fn column(&mut self, a: usize) -> &[f32] {
        if self.columns[a].is_none() {
            if self.cached.len() >= self.capacity
                && let Some(old) = self.cached.pop_front()
            {
                self.columns[old] = None;
            }
            let ya = i32::from(self.y[a]);
            let col: Box<[f32]> =
                (0..self.y.len()).map(|b| (f64::from(ya * i32::from(self.y[b])) * self.rbf(a, b)) as f32).collect();
            self.columns[a] = Some(col);
            self.cached.push_back(a);
        }
        self.columns[a].as_deref().unwrap_or(&[])
    }

    /// `Q_aa` in `f64` (libsvm's `QD`).
    fn diagonal(&self, a: usize) -> f64 {
        self.rbf(a, a)
    }
}

/// `Σ a_k b_k` in index order, as libsvm's dense `dot`.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (x, y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Lower,
    Upper,
    Free,
}

/// The solver's result, by grouped index.
struct Solution {
    alpha: Vec<f64>,
    rows: Vec<f64>,
    rho: f64,
    iterations: usize,
    converged: bool,
}

/// libsvm's `Solver` for C-SVC, its arrays in the current (shrinking-permuted) order; `active_set[k]` is the
/// grouped index at position `k`.
struct Solver {
    kernel: TrainKernel,
    l: usize,
    active_size: usize,
    y: Vec<i8>,
    g: Vec<f64>,
    g_bar: Vec<f64>,
    alpha: Vec<f64>,
    status: Vec<Bound>,
    p: Vec<f64>,
    c: Vec<f64>,
    qd: Vec<f64>,
    active_set: Vec<usize>,
    unshrink: bool,
}

impl Solver {
    fn new(kernel: TrainKernel, y: Vec<i8>, c: f64) -> Self {
        let l = y.len();
        let qd = (0..l).map(|a| kernel.diagonal(a)).collect();
        Self {
            kernel,
            l,
            active_size: l,
            y,
            g: vec![-1.0; l],
            g_bar: vec![0.0; l],
            alpha: vec![0.0; l],
            status: vec![Bound::Lower; l],
            p: vec![-1.0; l],
            c: vec![c; l],
            qd,
            active_set: (0..l).collect(),
            unshrink: false,
        }
    }

    /// Column of `Q` for position `i`, at positions `0..len`.
    fn q(&mut self, i: usize, len: usize) -> Vec<f32> {
        let a = self.active_set[i];
        let positions = &self.active_set[..len];
        let col = self.kernel.column(a);
        positions.iter().map(|&b| col[b]).collect()
    }

    fn update_status(&mut self, i: usize) {
        self.status[i] = if self.alpha[i] >= self.c[i] {
            Bound::Upper
        } else if self.alpha[i] <= 0.0 {
            Bound::Lower
        } else {
            Bound::Free
        };
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.y.swap(i, j);
        self.g.swap(i, j);
        self.status.swap(i, j);
        self.alpha.swap(i, j);
        self.p.swap(i, j);
        self.active_set.swap(i, j);
        self.g_bar.swap(i, j);
        self.c.swap(i, j);
        self.qd.swap(i, j);
    }

    fn solve(mut self, eps: f64, shrinking: bool, max_iter: Option<usize>) -> Solution {
        let l = self.l;
        let mut iter = 0usize;
        let mut counter = l.min(1000) + 1;
        let mut converged = true;
        loop {
            if max_iter.is_some_and(|m| iter >= m) {
                converged = false;
                break;
            }
            counter -= 1;
            if counter == 0 {
                counter = l.min(1000);
                if shrinking {
                    self.shrink(eps);
                }
            }
            let (i, j) = match self.select_working_set(eps) {
                Some(pair) => pair,
                None => {
                    self.reconstruct_gradient();
                    self.active_size = l;
                    match self.select_working_set(eps) {
                        Some(pair) => {
                            counter = 1;
                            pair
                        }
                        None => break,
                    }
                }
            };
            iter += 1;
            self.step(i, j);
        }
        let rho = self.rho();
        let mut alpha = vec![0.0; l];
        for k in 0..l {
            alpha[self.active_set[k]] = self.alpha[k];
        }
        Solution { alpha, rows: std::mem::take(&mut self.kernel.rows), rho, iterations: iter, converged }
    }

    /// One SMO update of the pair `(i, j)`, clipped to the box, and the gradient updates that follow.
    fn step(&mut self, i: usize, j: usize) {
        let active = self.active_size;
        let q_i = self.q(i, active);
        let q_j = self.q(j, active);
        let (c_i, c_j) = (self.c[i], self.c[j]);
        let (old_i, old_j) = (self.alpha[i], self.alpha[j]);
        let (mut ai, mut aj) = (old_i, old_j);
        if self.y[i] != self.y[j] {
            let mut quad = self.qd[i] + self.qd[j] + f64::from(2.0 * q_i[j]);
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (-self.g[i] - self.g[j]) / quad;
            let diff = ai - aj;
            ai += delta;
            aj += delta;
            if diff > 0.0 {
                if aj < 0.0 {
                    aj = 0.0;
                    ai = diff;
                }
            } else if ai < 0.0 {
                ai = 0.0;
                aj = -diff;
            }
            if diff > c_i - c_j {
                if ai > c_i {
                    ai = c_i;
                    aj = c_i - diff;
                }
            } else if aj > c_j {
                aj = c_j;
                ai = c_j + diff;
            }
        } else {
            let mut quad = self.qd[i] + self.qd[j] - f64::from(2.0 * q_i[j]);
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (self.g[i] - self.g[j]) / quad;
            let sum = ai + aj;
            ai -= delta;
            aj += delta;
            if sum > c_i {
                if ai > c_i {
                    ai = c_i;
                    aj = sum - c_i;
                }
            } else if aj < 0.0 {
                aj = 0.0;
                ai = sum;
            }
            if sum > c_j {
                if aj > c_j {
                    aj = c_j;
                    ai = sum - c_j;
                }
            } else if ai < 0.0 {
                ai = 0.0;
                aj = sum;
            }
        }
        self.alpha[i] = ai;
        self.alpha[j] = aj;
        let (d_i, d_j) = (ai - old_i, aj - old_j);
        for k in 0..active {
            self.g[k] += f64::from(q_i[k]) * d_i + f64::from(q_j[k]) * d_j;
        }
        let (was_upper_i, was_upper_j) = (self.status[i] == Bound::Upper, self.status[j] == Bound::Upper);
        self.update_status(i);
        self.update_status(j);
        for (idx, was_upper, c_idx) in [(i, was_upper_i, c_i), (j, was_upper_j, c_j)] {
            if was_upper != (self.status[idx] == Bound::Upper) {
                let q = self.q(idx, self.l);
                // Leaving the upper bound takes C·Q_idx out of G_bar; reaching it adds it.
                for (gb, &qk) in self.g_bar.iter_mut().zip(&q) {
                    if was_upper {
                        *gb -= c_idx * f64::from(qk);
                    } else {
                        *gb += c_idx * f64::from(qk);
                    }
                }
            }
        }
    }

    /// libsvm's `select_working_set` (WSS 3): `None` when optimal within `eps`.
    fn select_working_set(&mut self, eps: f64) -> Option<(usize, usize)> {
        let mut gmax = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        let mut gmax_idx = None;
        let mut gmin_idx = None;
        let mut obj_diff_min = f64::INFINITY;
        for t in 0..self.active_size {
            if self.y[t] == 1 {
                if self.status[t] != Bound::Upper && -self.g[t] >= gmax {
                    gmax = -self.g[t];
                    gmax_idx = Some(t);
                }
            } else if self.status[t] != Bound::Lower && self.g[t] >= gmax {
                gmax = self.g[t];
                gmax_idx = Some(t);
            }
        }
        let i = gmax_idx?;
        let q_i = self.q(i, self.active_size);
        let y_i = f64::from(self.y[i]);
        for (j, &q_ij) in q_i.iter().enumerate() {
            let (grad_diff, quad) = if self.y[j] == 1 {
                if self.status[j] == Bound::Lower {
                    continue;
                }
                if self.g[j] >= gmax2 {
                    gmax2 = self.g[j];
                }
                (gmax + self.g[j], self.qd[i] + self.qd[j] - 2.0 * y_i * f64::from(q_ij))
            } else {
                if self.status[j] == Bound::Upper {
                    continue;
                }
                if -self.g[j] >= gmax2 {
                    gmax2 = -self.g[j];
                }
                (gmax - self.g[j], self.qd[i] + self.qd[j] + 2.0 * y_i * f64::from(q_ij))
            };
            if grad_diff > 0.0 {
                let obj_diff =
                    if quad > 0.0 { -(grad_diff * grad_diff) / quad } else { -(grad_diff * grad_diff) / TAU };
                if obj_diff <= obj_diff_min {
                    gmin_idx = Some(j);
                    obj_diff_min = obj_diff;
                }
            }
        }
        if gmax + gmax2 < eps {
            return None;
        }
        Some((i, gmin_idx?))
    }

    fn be_shrunk(&self, i: usize, gmax1: f64, gmax2: f64) -> bool {
        match self.status[i] {
            Bound::Upper => -self.g[i] > if self.y[i] == 1 { gmax1 } else { gmax2 },
            Bound::Lower => self.g[i] > if self.y[i] == 1 { gmax2 } else { gmax1 },
            Bound::Free => false,
        }
    }

    /// libsvm's `do_shrinking`.
    fn shrink(&mut self, eps: f64) {
        let mut gmax1 = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        for i in 0..self.active_size {
            let (g, up, low) = (self.g[i], self.status[i] != Bound::Upper, self.status[i] != Bound::Lower);
            if self.y[i] == 1 {
                if up && -g >= gmax1 {
                    gmax1 = -g;
                }
                if low && g >= gmax2 {
                    gmax2 = g;
                }
            } else {
                if up && -g >= gmax2 {
                    gmax2 = -g;
                }
                if low && g >= gmax1 {
                    gmax1 = g;
                }
            }
        }
        if !self.unshrink && gmax1 + gmax2 <= eps * 10.0 {
            self.unshrink = true;
            self.reconstruct_gradient();
            self.active_size = self.l;
        }
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, gmax1, gmax2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, gmax1, gmax2) {
                        self.swap(i, self.active_size);
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
    }

    /// libsvm's `reconstruct_gradient`: the inactive part of `G` from `G_bar` and the free variables.
    fn reconstruct_gradient(&mut self) {
        let (l, active) = (self.l, self.active_size);
        if active == l {
            return;
        }
        for j in active..l {
            self.g[j] = self.g_bar[j] + self.p[j];
        }
        let nr_free = (0..active).filter(|&j| self.status[j] == Bound::Free).count() as u64;
        let (l64, a64) = (l as u64, active as u64);
        if nr_free * l64 > 2 * a64 * (l64 - a64) {
            for i in active..l {
                let q_i = self.q(i, active);
                for (j, &q) in q_i.iter().enumerate() {
                    if self.status[j] == Bound::Free {
                        self.g[i] += self.alpha[j] * f64::from(q);
                    }
                }
            }
        } else {
            for i in 0..active {
                if self.status[i] == Bound::Free {
                    let q_i = self.q(i, l);
                    let alpha_i = self.alpha[i];
                    for (g, &q) in self.g[active..l].iter_mut().zip(&q_i[active..l]) {
                        *g += alpha_i * f64::from(q);
                    }
                }
            }
        }
    }

    /// libsvm's `calculate_rho` over the active set.
    fn rho(&self) -> f64 {
        let (mut ub, mut lb, mut sum_free, mut nr_free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
        for i in 0..self.active_size {
            let yg = f64::from(self.y[i]) * self.g[i];
            match self.status[i] {
                Bound::Upper => {
                    if self.y[i] == -1 {
                        ub = ub.min(yg);
                    } else {
                        lb = lb.max(yg);
                    }
                }
                Bound::Lower => {
                    if self.y[i] == 1 {
                        ub = ub.min(yg);
                    } else {
                        lb = lb.max(yg);
                    }
                }
                Bound::Free => {
                    nr_free += 1;
                    sum_free += yg;
                }
            }
        }
        if nr_free > 0 { sum_free / nr_free as f64 } else { (ub + lb) / 2.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_points_are_classified_and_bad_input_is_an_error() {
        let x = [0.0, 0.1, 0.2, 0.8, 0.9, 1.0];
        let y = [false, false, false, true, true, true];
        let svc = Svc::fit(&x, 1, &y, &SvcConfig::SALUN).unwrap();
        for (xi, yi) in x.iter().zip(y) {
            assert_eq!(svc.predict(&[*xi]).unwrap(), yi, "x = {xi}");
        }
        assert!(svc.decision(&[1.0]).unwrap() > 0.0 && svc.decision(&[0.0]).unwrap() < 0.0);
        assert!(svc.converged());
        assert!(matches!(Svc::fit(&x, 1, &[true; 6], &SvcConfig::SALUN), Err(EvalError::InvalidParameter { .. })));
        assert!(matches!(Svc::fit(&x, 2, &y, &SvcConfig::SALUN), Err(EvalError::LengthMismatch { .. })));
        assert!(matches!(Svc::fit(&[f64::NAN; 6], 1, &y, &SvcConfig::SALUN), Err(EvalError::NonFinite { .. })));
        assert!(matches!(svc.decision(&[0.0, 1.0]), Err(EvalError::LengthMismatch { .. })));
    }
}

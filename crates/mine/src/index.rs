//! The nearest-neighbour [`Index`]: HNSW (hnsw_rs) over embeddings, with exact search beside it as ground truth.
//!
//! The index is a cache: it is rebuilt from the embeddings whenever it is needed (inserts are serial, and
//! hnsw_rs seeds its level generator with a constant, so the same rows in the same order give the same graph and
//! the same answers). Once built, the graph is copied into flat arrays ([`crate::flat`]) and hnsw_rs's copy is
//! dropped: searches walk the flat copy exactly as hnsw_rs would walk its own, with the same answers, without
//! its per-point allocations and locks. Distances are doppel's own, shared by the graph and the exact search:
//!
//! - [`Metric::Cosine`]: `1 − cos(a, b)`, computed as `‖â − b̂‖² / 2` on unit vectors (exact at 0, never negative;
//!   hnsw_rs's own `DistDot` panics on identical normalised vectors);
//! - [`Metric::L2`]: `‖a − b‖`.
//!
//! Every vector is checked at ingest: a zero or non-finite row is an error naming its sample id.

use std::collections::HashMap;

use hnsw_rs::prelude::{Distance, Hnsw};

use crate::error::{MineError, Result};
use crate::exact;
use crate::flat::FlatGraph;
use crate::matrix::{Matrix, dot, sq_dist};

/// The distance the index uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// `1 − cos(a, b)`, in [0, 2].
    Cosine,
    /// Euclidean distance.
    L2,
}

impl Metric {
    /// `cosine` or `l2`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
        }
    }

    /// The distance between two prepared vectors (unit-normalised for cosine).
    fn eval(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => 0.5 * sq_dist(a, b),
            Metric::L2 => sq_dist(a, b).sqrt(),
        }
    }

    /// The squared Euclidean distance at which [`Metric::eval`] reaches `distance` (it is non-decreasing in it).
    fn squared(self, distance: f32) -> f32 {
        match self {
            Metric::Cosine => 2.0 * distance,
            Metric::L2 => distance * distance,
        }
    }
}

/// [`Metric`] as hnsw_rs's distance.
#[derive(Debug, Clone, Copy)]
struct Dist(Metric);

impl Distance<f32> for Dist {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        self.0.eval(va, vb)
    }
}

/// HNSW parameters (Malkov & Yashunin 2018). Check them with [`IndexParams::validate`]; [`Index::build`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IndexParams {
    /// The distance.
    pub metric: Metric,
    /// `M`: links per node and layer. 16 is the usual choice.
    pub m: usize,
    /// Candidate list size while building; larger builds slower and finds better links.
    pub ef_construction: usize,
    /// Candidate list size while searching (raised to `k` when `k` is larger).
    pub ef_search: usize,
}

/// hnsw_rs calls `std::process::exit(1)` for `M > 256`.
pub const MAX_M: usize = 256;
/// A bound on `ef_*` that keeps a typo from turning a search into a full scan.
pub const MAX_EF: usize = 100_000;

impl IndexParams {
    /// Checks the ranges hnsw_rs needs, before it sees them.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_M).contains(&self.m) {
            return Err(MineError::param(
                "index.m",
                self.m,
                format!(
                    "it must be between 2 and {MAX_M} (hnsw_rs stops the whole process above {MAX_M}); 16 is usual"
                ),
            ));
        }
        if !(self.m..=MAX_EF).contains(&self.ef_construction) {
            return Err(MineError::param(
                "index.ef_construction",
                self.ef_construction,
                format!("it must be between index.m ({}) and {MAX_EF}; 200 is usual", self.m),
            ));
        }
        if !(1..=MAX_EF).contains(&self.ef_search) {
            return Err(MineError::param(
                "index.ef_search",
                self.ef_search,
                format!("it must be between 1 and {MAX_EF}; 64 is usual"),
            ));
        }
        Ok(())
    }
}

/// How to answer a neighbour query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Search {
    /// The HNSW graph: fast, approximate.
    Hnsw,
    /// Every row: slow, exact.
    Exact,
}

/// One neighbour found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Row of the indexed matrix.
    pub row: usize,
    /// Sample id of that row.
    pub id: u32,
    /// Distance to the query under the index's metric.
    pub distance: f32,
}

/// HNSW over the rows of an embeddings matrix, keyed by sample id.
pub struct Index {
    params: IndexParams,
    ids: Vec<u32>,
    vectors: Matrix,
    /// The HNSW graph, copied out of hnsw_rs; empty for [`Index::build_exact`].
    graph: FlatGraph,
    rows: HashMap<u32, usize>,
    /// `‖x‖²` of each prepared row, and their maximum: the expanded distances of exact search.
    sq_norms: Vec<f32>,
    max_sq_norm: f32,
    /// False for [`Index::build_exact`]: the graph is empty and graph searches scan instead.
    has_graph: bool,
}

/// What an exact search keeps.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The `k` nearest rows.
    Nearest(usize),
    /// Every row within `threshold`, nearest first, at most `cap`.
    Within { threshold: f32, cap: usize },
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("params", &self.params).field("rows", &self.ids.len()).finish_non_exhaustive()
    }
}

impl Index {
    /// Checks `params` and every vector, then inserts the rows serially, in order.
    pub fn build(params: IndexParams, ids: &[u32], vectors: &Matrix) -> Result<Index> {
        Self::build_with(params, ids, vectors, true)
    }

    /// Like [`Index::build`] but without the graph: every search, [`Search::Hnsw`] included, scans all rows.
    /// For exact-only work, where the graph would cost most of the time (a 60,000 × 1,024 patch index takes
    /// minutes to insert).
    pub fn build_exact(params: IndexParams, ids: &[u32], vectors: &Matrix) -> Result<Index> {
        Self::build_with(params, ids, vectors, false)
    }

    fn build_with(params: IndexParams, ids: &[u32], vectors: &Matrix, graph: bool) -> Result<Index> {
        params.validate()?;
        if ids.len() != vectors.rows() {
            return Err(MineError::DimMismatch {
                what: format!("{} ids for an embeddings matrix", ids.len()),
                expected: ids.len(),
                got: vectors.rows(),
            });
        }
        let mut rows = HashMap::with_capacity(ids.len());
        for (row, &id) in ids.iter().enumerate() {
            if rows.insert(id, row).is_some() {
                return Err(MineError::param("ids", id, "appears twice; sample ids must be unique"));
            }
        }
        let dim = vectors.dim();
        let mut prepared = Vec::with_capacity(vectors.as_slice().len());
        for (row, &id) in ids.iter().enumerate() {
            prepared.extend(prepare(params.metric, dim, id, vectors.row(row))?);
        }
        let vectors = Matrix::new(ids.len(), dim, prepared)?;
        let sq_norms: Vec<f32> = (0..ids.len()).map(|r| dot(vectors.row(r), vectors.row(r))).collect();
        let max_sq_norm = sq_norms.iter().copied().fold(0.0f32, f32::max);
        let span = tracing::info_span!(
            "hnsw_build",
            rows = ids.len(),
            dim,
            m = params.m,
            ef_construction = params.ef_construction
        );
        let _g = span.enter();
        let started = std::time::Instant::now();
        if !graph {
            tracing::info!("exact search only: no graph built");
            return Ok(Index {
                params,
                ids: ids.to_vec(),
                vectors,
                graph: FlatGraph::default(),
                rows,
                sq_norms,
                max_sq_norm,
                has_graph: false,
            });
        }
        let hnsw = Hnsw::new(params.m, ids.len().max(1), 16, params.ef_construction, Dist(params.metric));
        for row in 0..ids.len() {
            hnsw.insert((vectors.row(row), row));
            if (row + 1) % 10_000 == 0 {
                tracing::info!(inserted = row + 1, of = ids.len(), "hnsw insert");
            }
        }
        let graph = FlatGraph::from_hnsw(&hnsw, ids.len());
        drop(hnsw);
        tracing::info!(seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "hnsw built");
        Ok(Index { params, ids: ids.to_vec(), vectors, graph, rows, sq_norms, max_sq_norm, has_graph: true })
    }

    /// The parameters it was built with.
    pub fn params(&self) -> IndexParams {
        self.params
    }

    /// Number of indexed rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Sample ids, by row.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.vectors.dim()
    }

    /// The indexed vectors as the distance sees them (unit-normalised for [`Metric::Cosine`]), by row.
    pub fn vectors(&self) -> &Matrix {
        &self.vectors
    }

    /// The `k` nearest rows to indexed row `row`, nearest first; the row itself is among them.
    ///
    /// # Panics
    /// If `row` is not below [`Index::len`].
    pub fn search_row(&self, row: usize, k: usize, how: Search) -> Vec<Hit> {
        self.search_prepared(self.vectors.row(row), k, how)
    }

    /// The exact `k` nearest rows to each indexed row of `rows`, in order: what [`Index::search_row`] with
    /// [`Search::Exact`] answers for each (the same hits, bit for bit), a block of queries per pass over the rows.
    ///
    /// # Panics
    /// If a row is not below [`Index::len`].
    pub fn search_rows_exact(&self, rows: &[usize], k: usize) -> Vec<Vec<Hit>> {
        let mut out = Vec::with_capacity(rows.len());
        for block in rows.chunks(exact::BLOCK) {
            let queries = self.vectors.select(block);
            out.extend(self.exact_block(queries.as_slice(), Want::Nearest(k)));
        }
        out
    }

    /// Row of sample `id`.
    pub fn row_of(&self, id: u32) -> Option<usize> {
        self.rows.get(&id).copied()
    }

    /// The `k` nearest rows to `vector` (the embedding of sample `id`, named in errors), nearest first; ties by id.
    /// The query itself is among them if it is indexed.
    pub fn search(&self, id: u32, vector: &[f32], k: usize, how: Search) -> Result<Vec<Hit>> {
        let q = prepare(self.params.metric, self.dim(), id, vector)?;
        Ok(self.search_prepared(&q, k, how))
    }

    /// Every row within `threshold` of `vector`, nearest first, at most `cap` of them.
    ///
    /// With [`Search::Hnsw`] it asks the graph for 32 neighbours, then 4× more while the farthest is still
    /// within the threshold, so a dense cluster is not cut at a fixed `k`.
    pub fn within(&self, id: u32, vector: &[f32], threshold: f32, cap: usize, how: Search) -> Result<Vec<Hit>> {
        let q = prepare(self.params.metric, self.dim(), id, vector)?;
        let cap = cap.min(self.len());
        let how = if self.has_graph { how } else { Search::Exact };
        let mut hits = match how {
            Search::Exact => {
                return Ok(self.exact_block(&q, Want::Within { threshold, cap }).pop().unwrap_or_default());
            }
            Search::Hnsw => {
                let mut k = 32.min(cap.max(1));
                loop {
                    let hits = self.search_prepared(&q, k, Search::Hnsw);
                    let full = hits.len() >= k && hits.last().is_some_and(|h| h.distance <= threshold);
                    if !full || k >= cap {
                        break hits;
                    }
                    k = (k * 4).min(cap);
                }
            }
        };
        hits.retain(|h| h.distance <= threshold);
        hits.truncate(cap);
        Ok(hits)
    }

    fn search_prepared(&self, q: &[f32], k: usize, how: Search) -> Vec<Hit> {
        let k = k.min(self.len());
        if k == 0 {
            return Vec::new();
        }
        let how = if self.has_graph { how } else { Search::Exact };
        let mut hits: Vec<Hit> = match how {
            Search::Hnsw => {
                let metric = self.params.metric;
                self.graph
                    .search(
                        q,
                        k,
                        self.params.ef_search.max(k),
                        |r| self.vectors.row(r as usize),
                        |a, b| metric.eval(a, b),
                    )
                    .into_iter()
                    .map(|(row, distance)| Hit { row, id: self.ids[row], distance })
                    .collect()
            }
            Search::Exact => return self.exact_block(q, Want::Nearest(k)).pop().unwrap_or_default(),
        };
        hits.sort_by(cmp_hits);
        hits
    }

    /// Exact answers for the prepared queries `queries` (rows of [`Index::dim`] values), one list per query: the
    /// expanded distances of every row in one pass ([`exact`]), then the scan's distance for each row that the
    /// rounding bound cannot rule out, sorted by distance, ties by id.
    fn exact_block(&self, queries: &[f32], want: Want) -> Vec<Vec<Hit>> {
        let (n, dim) = (self.len(), self.dim());
        if dim == 0 || queries.is_empty() {
            return Vec::new();
        }
        let b = queries.len() / dim;
        let mut s = vec![0f32; b * n];
        exact::dots(queries, self.vectors.as_slice(), dim, &mut s);
        let metric = self.params.metric;
        queries
            .chunks_exact(dim)
            .zip(s.chunks_exact_mut(n.max(1)))
            .map(|(q, row)| {
                let q_norm = dot(q, q);
                for (v, x_norm) in row.iter_mut().zip(&self.sq_norms) {
                    *v = q_norm + x_norm - 2.0 * *v;
                }
                let tol = exact::tolerance(dim, q_norm, self.max_sq_norm);
                // The largest expanded value a kept row can have. For the k nearest: the k-th smallest expanded
                // value is within tol of some kept row's true value, and a distance that rounds equal (sqrt)
                // allows 8 units of roundoff more.
                let (bound, k) = match want {
                    Want::Nearest(k) => {
                        let k = k.min(n);
                        if k == 0 {
                            return Vec::new();
                        }
                        ((kth_smallest(row, k).max(0.0) + tol) * (1.0 + 8.0 * f32::EPSILON) + tol, k)
                    }
                    Want::Within { threshold, cap } => {
                        (metric.squared(threshold).max(0.0) * (1.0 + 8.0 * f32::EPSILON) + tol, cap.min(n))
                    }
                };
                // NaN (overflowed) rows are kept for the scan's own measure.
                let mut hits: Vec<Hit> = row
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_nan() || **v <= bound)
                    .map(|(r, _)| Hit { row: r, id: self.ids[r], distance: metric.eval(q, self.vectors.row(r)) })
                    .collect();
                if let Want::Within { threshold, .. } = want {
                    hits.retain(|h| h.distance <= threshold);
                }
                if k < hits.len() {
                    hits.select_nth_unstable_by(k - 1, cmp_hits);
                    hits.truncate(k);
                }
                hits.sort_by(cmp_hits);
                hits
            })
            .collect()
    }

    /// Recall@k of the graph against exact search over the queries `rows` (rows of this index): the share of the
    /// graph's `k` answers that are no farther than the exact `k`-th neighbour (robust to ties), averaged.
    pub fn recall_at(&self, rows: &[usize], k: usize) -> f64 {
        let k = k.min(self.len());
        if rows.is_empty() || k == 0 {
            return f64::NAN;
        }
        let mut sum = 0.0;
        for (&r, exact) in rows.iter().zip(self.search_rows_exact(rows, k)) {
            let q = self.vectors.row(r);
            let bound = exact.last().map_or(f32::INFINITY, |h| h.distance);
            let approx = self.search_prepared(q, k, Search::Hnsw);
            sum += approx.iter().filter(|h| h.distance <= bound).count().min(k) as f64 / k as f64;
        }
        sum / rows.len() as f64
    }
}

/// The `k`-th smallest of `values` (1-based; `1 ≤ k ≤ values.len()`), NaN counted as +∞: a bounded max-heap
/// when `k` is small against the length, a selection on a copy otherwise.
fn kth_smallest(values: &[f32], k: usize) -> f32 {
    let clean = |v: f32| if v.is_nan() { f32::INFINITY } else { v };
    if k * 16 < values.len() {
        let mut heap: std::collections::BinaryHeap<Ord32> = values[..k].iter().map(|&v| Ord32(clean(v))).collect();
        for &v in &values[k..] {
            let v = clean(v);
            if heap.peek().is_some_and(|top| v < top.0) {
                heap.pop();
                heap.push(Ord32(v));
            }
        }
        heap.peek().map_or(f32::INFINITY, |top| top.0)
    } else {
        let mut copy: Vec<f32> = values.iter().map(|&v| clean(v)).collect();
        let (_, kth, _) = copy.select_nth_unstable_by(k - 1, f32::total_cmp);
        *kth
    }
}

/// An f32 ordered by `total_cmp`, for the heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ord32(f32);

impl Eq for Ord32 {}

impl PartialOrd for Ord32 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ord32 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn cmp_hits(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    a.distance.total_cmp(&b.distance).then(a.id.cmp(&b.id))
}

/// Checks one vector (dimension, finite, not zero) and unit-normalises it for cosine.
fn prepare(metric: Metric, dim: usize, id: u32, v: &[f32]) -> Result<Vec<f32>> {
    if v.len() != dim {
        return Err(MineError::DimMismatch { what: format!("embedding of sample {id}"), expected: dim, got: v.len() });
    }
    if let Some(at) = v.iter().position(|x| !x.is_finite()) {
        return Err(MineError::BadVector { id, problem: format!("holds {} at position {at}", v[at]) });
    }
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if norm == 0.0 {
        return Err(MineError::BadVector { id, problem: "is all zeros".into() });
    }
    Ok(match metric {
        Metric::Cosine => v.iter().map(|x| (f64::from(*x) / norm) as f32).collect(),
        Metric::L2 => v.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(m: usize) -> IndexParams {
        IndexParams { metric: Metric::Cosine, m, ef_construction: 100, ef_search: 32 }
    }

    #[test]
    fn parameters_are_checked_before_hnsw_rs_sees_them() {
        let cases = [
            (params(300), "`index.m` is 300; it must be between 2 and 256 (hnsw_rs stops the whole process above 256)"),
            (params(1), "`index.m` is 1; it must be between 2 and 256"),
            (
                IndexParams { ef_construction: 8, ..params(16) },
                "`index.ef_construction` is 8; it must be between index.m (16)",
            ),
            (IndexParams { ef_search: 0, ..params(16) }, "`index.ef_search` is 0; it must be between 1 and 100000"),
        ];
        let x = Matrix::new(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        for (p, want) in cases {
            let err = Index::build(p, &[1, 2], &x).unwrap_err();
            assert!(err.to_string().starts_with(want), "{err}");
        }
    }

    #[test]
    fn bad_vectors_are_rejected_naming_the_sample() {
        let x = Matrix::new(3, 2, vec![1.0, 0.0, 0.0, 0.0, 0.5, 0.5]).unwrap();
        let err = Index::build(params(16), &[10, 11, 12], &x).unwrap_err();
        assert!(err.to_string().starts_with("sample 11: its embedding is all zeros"), "{err}");
        let x = Matrix::new(2, 2, vec![1.0, 0.0, f32::NAN, 1.0]).unwrap();
        let err = Index::build(IndexParams { metric: Metric::L2, ..params(16) }, &[10, 11], &x).unwrap_err();
        assert!(err.to_string().starts_with("sample 11: its embedding holds NaN at position 0"), "{err}");
        let x = Matrix::new(1, 2, vec![1.0, 0.0]).unwrap();
        let index = Index::build(params(16), &[5], &x).unwrap();
        let err = index.search(99, &[1.0, 0.0, 0.0], 1, Search::Hnsw).unwrap_err();
        assert_eq!(err.to_string(), "embedding of sample 99: dimension 3, expected 2");
        let err = Index::build(params(16), &[5, 5], &Matrix::new(2, 2, vec![1.0; 4]).unwrap()).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn an_exact_only_index_answers_every_search_by_scanning() {
        let mut rng = doppel_data::seed::rng(3, "exact-only", 0);
        let data: Vec<f32> = (0..200 * 8).map(|_| rand::Rng::random_range(&mut rng, -1.0..1.0)).collect();
        let x = Matrix::new(200, 8, data).unwrap();
        let ids: Vec<u32> = (0..200).collect();
        let full = Index::build(params(16), &ids, &x).unwrap();
        let bare = Index::build_exact(params(16), &ids, &x).unwrap();
        for q in [0usize, 17, 199] {
            let want = full.search_row(q, 10, Search::Exact);
            assert_eq!(bare.search_row(q, 10, Search::Exact), want);
            assert_eq!(bare.search_row(q, 10, Search::Hnsw), want, "a graph search scans when there is no graph");
            let within = bare.within(ids[q], x.row(q), 0.5, 500, Search::Hnsw).unwrap();
            assert_eq!(within, full.within(ids[q], x.row(q), 0.5, 500, Search::Exact).unwrap());
        }
    }

    #[test]
    fn graph_searches_answer_as_hnsw_rs_does_bit_for_bit() {
        let mut rng = doppel_data::seed::rng(5, "flat-vs-hnsw", 0);
        for metric in [Metric::Cosine, Metric::L2] {
            let (n, dim) = (800, 16);
            let data: Vec<f32> = (0..n * dim).map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0)).collect();
            let ids: Vec<u32> = (0..n as u32).map(|i| 1000 + 3 * i).collect();
            let p = IndexParams { metric, ..params(8) };
            let index = Index::build(p, &ids, &Matrix::new(n, dim, data).unwrap()).unwrap();
            // hnsw_rs's own graph over the same prepared rows, searched by hnsw_rs.
            let hnsw = Hnsw::new(p.m, n, 16, p.ef_construction, Dist(metric));
            for row in 0..n {
                hnsw.insert((index.vectors.row(row), row));
            }
            for row in (0..n).step_by(7) {
                let q = index.vectors.row(row);
                let mut want: Vec<Hit> = hnsw
                    .search(q, 10, p.ef_search.max(10))
                    .into_iter()
                    .map(|nb| Hit { row: nb.d_id, id: ids[nb.d_id], distance: nb.distance })
                    .collect();
                want.sort_by(cmp_hits);
                let got = index.search_row(row, 10, Search::Hnsw);
                let bits = |h: &[Hit]| h.iter().map(|x| (x.row, x.distance.to_bits())).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{metric:?}, query row {row}");
            }
        }
    }

    /// The full scan: every row's distance, the `k` smallest by (distance, id).
    fn scan(index: &Index, q: &[f32], k: usize) -> Vec<Hit> {
        let mut all: Vec<Hit> = (0..index.len())
            .map(|row| Hit { row, id: index.ids[row], distance: index.params.metric.eval(q, index.vectors.row(row)) })
            .collect();
        all.sort_by(cmp_hits);
        all.truncate(k);
        all
    }

    #[test]
    fn blocked_exact_search_equals_the_full_scan_bit_for_bit() {
        let mut rng = doppel_data::seed::rng(11, "exact-vs-scan", 0);
        for metric in [Metric::Cosine, Metric::L2] {
            for dim in [3usize, 64, 100] {
                let n = 300;
                let mut data: Vec<f32> =
                    (0..n * dim).map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0)).collect();
                // Ties and near-ties, where the expanded distances cancel: exact copies of row 0, and rows one
                // unit in the last place away from row 1.
                for r in 10..20 {
                    data.copy_within(0..dim, r * dim);
                }
                for r in 20..30 {
                    for p in 0..dim {
                        let v = data[dim + p];
                        data[r * dim + p] = if p == r % dim { f32::from_bits(v.to_bits() + 1) } else { v };
                    }
                }
                let x = Matrix::new(n, dim, data).unwrap();
                let ids: Vec<u32> = (0..n as u32).rev().collect();
                let index = Index::build_exact(IndexParams { metric, ..params(16) }, &ids, &x).unwrap();
                let rows: Vec<usize> = (0..n).step_by(7).chain([0, 1, 10, 25]).collect();
                for k in [1usize, 5, 17, n] {
                    let blocked = index.search_rows_exact(&rows, k);
                    for (&r, got) in rows.iter().zip(&blocked) {
                        let want = scan(&index, index.vectors.row(r), k);
                        assert_eq!(got, &want, "{metric:?}, dim {dim}, row {r}, k {k}");
                        assert_eq!(index.search_row(r, k, Search::Exact), want);
                    }
                }
                // Within a threshold: the scan's hits at or under it, at most cap.
                for (threshold, cap) in [(0.0f32, 50usize), (0.3, 1000), (0.9, 7), (5.0, 1000)] {
                    for &r in &rows {
                        let q = x.row(r);
                        let got = index.within(ids[r], q, threshold, cap, Search::Exact).unwrap();
                        let mut want = scan(&index, index.vectors.row(r), n);
                        want.retain(|h| h.distance <= threshold);
                        want.truncate(cap);
                        assert_eq!(got, want, "{metric:?}, dim {dim}, row {r}, threshold {threshold}");
                    }
                }
            }
        }
    }

    #[test]
    fn kth_smallest_counts_nan_as_infinity() {
        let v = [3.0, f32::NAN, 1.0, 2.0, -f32::NAN, 0.5];
        assert_eq!(kth_smallest(&v, 1), 0.5);
        assert_eq!(kth_smallest(&v, 4), 3.0);
        assert_eq!(kth_smallest(&v, 5), f32::INFINITY);
        let long: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1000) as f32).collect();
        for k in [1, 10, 62, 63, 500, 1000] {
            assert_eq!(kth_smallest(&long, k), (k - 1) as f32, "k {k}");
        }
    }

    #[test]
    fn cosine_distance_is_exact_for_known_pairs() {
        let x = Matrix::new(3, 2, vec![1.0, 0.0, 0.0, 2.0, 3.0, 3.0]).unwrap();
        let index = Index::build(params(16), &[0, 1, 2], &x).unwrap();
        let hits = index.search(0, &[2.0, 0.0], 3, Search::Exact).unwrap();
        let d: Vec<(u32, f32)> = hits.iter().map(|h| (h.id, h.distance)).collect();
        // 1 − cos 0 = 0; 1 − cos 45° = 1 − 1/√2; 1 − cos 90° = 1.
        assert_eq!(d[0], (0, 0.0));
        assert_eq!(d[1].0, 2);
        assert!((d[1].1 - (1.0 - 0.5f32.sqrt())).abs() < 1e-6);
        assert!((d[2].1 - 1.0).abs() < 1e-6);
    }
}

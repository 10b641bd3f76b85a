//! The HNSW graph copied out of hnsw_rs into flat arrays, and searched the way hnsw_rs searches its own.
//!
//! hnsw_rs keeps every point as its own reference-counted heap object, with its neighbour lists behind a lock,
//! and its search allocates a reference-counted entry per candidate and a hash map of visited points: on 60,000
//! rows of 64 dimensions most of a query's time went to those loads and allocations (BENCHMARKS.md, bench
//! mine). [`FlatGraph`] keeps the same graph as rows: layer 0's neighbour lists in one `u32` array with offsets,
//! the few upper-layer lists in a map, the vectors in the index's own matrix, and a visited array reused from
//! query to query (stamped with a generation, so it is never cleared).
//!
//! The search is hnsw_rs 0.3.5's `search_filter` without a filter, step for step: one greedy pass over the
//! pivot's neighbours per upper layer, then `search_layer` at layer 0 with the same two binary heaps (keyed by
//! distance alone, pushed and popped in the same order, so ties fall the same way), the same early stop and
//! the same cut to `min(k, ef)`. Same graph, same distance function, so the answers are hnsw_rs's bit for bit
//! (`tests::flat_search_equals_hnsw_rs_bit_for_bit`); mined scopes do not change.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use hnsw_rs::prelude::{Distance, Hnsw};

/// A read-only copy of an hnsw_rs graph whose data ids are row numbers `0..n`.
#[derive(Debug, Default)]
pub(crate) struct FlatGraph {
    /// hnsw_rs's entry point (its row) and its level; `None` for an empty graph.
    entry: Option<(u32, u8)>,
    /// Row `r`'s layer-0 neighbours are `nbrs0[offsets0[r]..offsets0[r + 1]]`, in hnsw_rs's order.
    offsets0: Vec<u32>,
    nbrs0: Vec<u32>,
    /// `(row, layer)` → that row's neighbours on an upper layer, in hnsw_rs's order.
    upper: HashMap<(u32, u8), Vec<u32>>,
}

/// A point's distance to the query and its row, ordered by distance alone, as hnsw_rs's `PointWithOrder`.
#[derive(Debug, Clone, Copy)]
struct Keyed {
    dist: f32,
    row: u32,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    /// By distance; distances of checked finite vectors are never NaN, and a NaN compares equal here rather
    /// than panicking as hnsw_rs does.
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist.partial_cmp(&other.dist).unwrap_or(Ordering::Equal)
    }
}

/// Per-thread scratch of the layer-0 search: the generation each row was last visited in.
#[derive(Debug, Default)]
struct Visited {
    stamps: Vec<u32>,
    generation: u32,
}

impl Visited {
    /// Starts a new search over `n` rows: no row is visited.
    fn reset(&mut self, n: usize) {
        if self.stamps.len() != n || self.generation == u32::MAX {
            self.stamps.clear();
            self.stamps.resize(n, 0);
            self.generation = 0;
        }
        self.generation += 1;
    }

    /// Marks `row` visited; false when it already was.
    fn insert(&mut self, row: u32) -> bool {
        let slot = &mut self.stamps[row as usize];
        let fresh = *slot != self.generation;
        *slot = self.generation;
        fresh
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

impl FlatGraph {
    /// Copies `graph`, built over the rows `0..n` (each inserted with its row as data id).
    ///
    /// # Panics
    /// If the graph holds a data id of `n` or more.
    pub(crate) fn from_hnsw<D: Distance<f32> + Send + Sync>(graph: &Hnsw<'_, f32, D>, n: usize) -> FlatGraph {
        // hnsw_rs's point iterator unwraps the entry point, so an empty graph is answered here.
        if graph.get_point_indexation().get_nb_point() == 0 {
            return FlatGraph { offsets0: vec![0; n + 1], ..FlatGraph::default() };
        }
        let mut lists0: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut upper = HashMap::new();
        let top = graph.get_max_level_observed();
        let mut entry = None;
        let row_of = |id: usize| {
            assert!(id < n, "FlatGraph::from_hnsw: data id {id} is not a row of {n}");
            id as u32
        };
        // Points come layer by layer, each in its top layer's insertion order. hnsw_rs's entry point is the first
        // point inserted at the highest level (it is replaced only by a point of a strictly higher level).
        for point in graph.get_point_indexation() {
            let row = row_of(point.get_origin_id());
            let level = point.get_point_id().0;
            if level == top && entry.is_none() {
                entry = Some((row, level));
            }
            for (layer, list) in point.get_neighborhood_id().into_iter().enumerate() {
                let rows: Vec<u32> = list.iter().map(|nb| row_of(nb.d_id)).collect();
                if layer == 0 {
                    lists0[row as usize] = rows;
                } else if !rows.is_empty() {
                    upper.insert((row, layer as u8), rows);
                }
            }
        }
        let mut offsets0 = Vec::with_capacity(n + 1);
        offsets0.push(0u32);
        let mut nbrs0 = Vec::with_capacity(lists0.iter().map(Vec::len).sum());
        for list in lists0 {
            nbrs0.extend(list);
            offsets0.push(nbrs0.len() as u32);
        }
        FlatGraph { entry, offsets0, nbrs0, upper }
    }

    /// Row `r`'s layer-0 neighbours.
    fn layer0(&self, r: u32) -> &[u32] {
        let r = r as usize;
        &self.nbrs0[self.offsets0[r] as usize..self.offsets0[r + 1] as usize]
    }

    /// The `k` nearest rows to `query` as hnsw_rs's `search(query, k, ef)` answers them, nearest first, with
    /// their distances; `vector(r)` is row `r`'s stored vector and `dist(query, v)` the graph's distance.
    pub(crate) fn search<'v>(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        vector: impl Fn(u32) -> &'v [f32],
        dist: impl Fn(&[f32], &[f32]) -> f32,
    ) -> Vec<(usize, f32)> {
        let Some((entry, level)) = self.entry else {
            return Vec::new();
        };
        let mut pivot = entry;
        let mut dist_to_pivot = dist(query, vector(entry));
        for layer in (1..=level).rev() {
            let mut moved = None;
            for &r in self.upper.get(&(pivot, layer)).map_or(&[][..], Vec::as_slice) {
                let d = dist(query, vector(r));
                if d < dist_to_pivot {
                    moved = Some(r);
                    dist_to_pivot = d;
                }
            }
            if let Some(r) = moved {
                pivot = r;
            }
        }
        let ef = ef.max(k);
        let found = VISITED.with_borrow_mut(|visited| {
            visited.reset(self.offsets0.len() - 1);
            self.search_layer0(query, pivot, ef, visited, &vector, &dist)
        });
        let sorted = found.into_sorted_vec();
        sorted.iter().take(k.min(ef)).map(|p| (p.row as usize, p.dist)).collect()
    }

    /// hnsw_rs's `search_layer` on layer 0 from `entry`: at most `ef` nearest points found.
    fn search_layer0<'v>(
        &self,
        query: &[f32],
        entry: u32,
        ef: usize,
        visited: &mut Visited,
        vector: &impl Fn(u32) -> &'v [f32],
        dist: &impl Fn(&[f32], &[f32]) -> f32,
    ) -> BinaryHeap<Keyed> {
        let cap = ef.max(2);
        let mut found = BinaryHeap::with_capacity(cap + 1);
        let mut candidates = BinaryHeap::with_capacity(cap);
        let d0 = dist(query, vector(entry));
        visited.insert(entry);
        // Candidates carry the negated distance, so the max-heap pops the nearest first.
        candidates.push(Keyed { dist: -d0, row: entry });
        found.push(Keyed { dist: d0, row: entry });
        while let Some(c) = candidates.pop() {
            let farthest = found.peek().map_or(f32::INFINITY, |f| f.dist);
            if -c.dist > farthest {
                break;
            }
            for &e in self.layer0(c.row) {
                if !visited.insert(e) {
                    continue;
                }
                let farthest = found.peek().map_or(f32::INFINITY, |f| f.dist);
                let d = dist(query, vector(e));
                if d < farthest || found.len() < ef {
                    candidates.push(Keyed { dist: -d, row: e });
                    found.push(Keyed { dist: d, row: e });
                    if found.len() > ef {
                        found.pop();
                    }
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::sq_dist;
    use rand::Rng;

    #[derive(Debug, Clone, Copy)]
    struct L2;

    impl Distance<f32> for L2 {
        fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
            sq_dist(a, b).sqrt()
        }
    }

    /// Clustered rows, with exact copies among them, so that ties and dense neighbourhoods occur.
    fn rows(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = doppel_data::seed::rng(seed, "flat-graph-test", 0);
        let centres: Vec<Vec<f32>> =
            (0..8).map(|_| (0..dim).map(|_| rng.random_range(0.0f32..1.0) * 4.0).collect()).collect();
        let mut out: Vec<Vec<f32>> = Vec::with_capacity(n);
        for i in 0..n {
            if i % 17 == 5 {
                out.push(out[i - 3].clone());
                continue;
            }
            let c = &centres[i % centres.len()];
            out.push(c.iter().map(|x| x + rng.random_range(0.0f32..1.0) - 0.5).collect());
        }
        out
    }

    #[test]
    fn flat_search_equals_hnsw_rs_bit_for_bit() {
        for (n, dim, m, ef_c, ef, k) in [(1_500, 12, 8, 40, 24, 10), (600, 5, 4, 16, 4, 10), (1, 3, 8, 16, 8, 3)] {
            let data = rows(n, dim, n as u64);
            let graph = Hnsw::<f32, L2>::new(m, n, 16, ef_c, L2);
            for (r, v) in data.iter().enumerate() {
                graph.insert((v.as_slice(), r));
            }
            let flat = FlatGraph::from_hnsw(&graph, n);
            let queries: Vec<Vec<f32>> = data.iter().take(300).cloned().chain(rows(50, dim, 999)).collect();
            for q in &queries {
                let want: Vec<(usize, u32)> =
                    graph.search(q, k, ef).iter().map(|nb| (nb.d_id, nb.distance.to_bits())).collect();
                let got: Vec<(usize, u32)> = flat
                    .search(q, k, ef, |r| data[r as usize].as_slice(), |a, b| L2.eval(a, b))
                    .into_iter()
                    .map(|(r, d)| (r, d.to_bits()))
                    .collect();
                assert_eq!(got, want, "n {n}, dim {dim}, M {m}, ef {ef}");
            }
        }
    }

    #[test]
    fn an_empty_graph_answers_nothing() {
        let graph = Hnsw::<f32, L2>::new(8, 1, 16, 16, L2);
        let flat = FlatGraph::from_hnsw(&graph, 0);
        assert!(flat.search(&[0.0; 3], 5, 8, |_| &[][..], |a, b| L2.eval(a, b)).is_empty());
    }

    #[test]
    fn the_visited_stamps_restart_when_the_generation_runs_out() {
        let mut v = Visited::default();
        v.reset(3);
        assert!(v.insert(1) && !v.insert(1));
        v.generation = u32::MAX;
        v.reset(3);
        assert!(v.insert(1), "a fresh search sees no row visited");
        assert!(v.insert(2) && !v.insert(2));
    }
}

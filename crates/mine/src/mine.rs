//! Mining: the look-alikes of each target, near-duplicate groups, and train↔test near-copies, as tables.
//!
//! Every function takes an [`Index`] over the train embeddings and returns plain values; the `*_table` functions
//! turn them into polars DataFrames sorted by key, so two runs write identical files.

use std::collections::BTreeMap;
use std::path::Path;

use doppel_data::lineage::{Origin, SampleInfo};
use polars::prelude::*;

use crate::error::{MineError, Result};
use crate::index::{Hit, Index, Search};
use crate::store::DatasetEmbeddings;

/// What to mine and how. Check it with [`MiningParams::validate`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MiningParams {
    /// A target's look-alikes are the training samples within this distance of it.
    pub threshold: f32,
    /// When set, a target's look-alikes are instead its `top_k` nearest training samples.
    pub top_k: Option<usize>,
    /// At most this many look-alikes per query (a guard against a threshold that takes the whole set).
    pub max_neighbours: usize,
    /// Graph or exact search.
    pub search: Search,
    /// Two training samples closer than this are in the same near-duplicate group.
    pub group_threshold: f32,
    /// A test sample closer than this to a training sample is a train↔test near-copy.
    pub test_threshold: f32,
}

impl MiningParams {
    /// Thresholds finite and non-negative, `top_k` and `max_neighbours` at least 1.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("mine.threshold", self.threshold),
            ("mine.group_threshold", self.group_threshold),
            ("mine.test_threshold", self.test_threshold),
        ] {
            check_threshold(field, v)?;
        }
        if self.top_k == Some(0) {
            return Err(MineError::param("mine.top_k", 0, "it must be at least 1 (omit it to mine by threshold)"));
        }
        if self.max_neighbours == 0 {
            return Err(MineError::param("mine.max_neighbours", 0, "it must be at least 1"));
        }
        Ok(())
    }
}

/// Checks a distance threshold.
pub fn check_threshold(field: &'static str, v: f32) -> Result<()> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(MineError::param(
            field,
            v,
            "it must be a finite distance, 0 or more (cosine distances lie in [0, 2])",
        ));
    }
    Ok(())
}

/// How a training sample found near a target relates to it, by lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Relation {
    /// A variant made from this target: a planted look-alike (a true positive).
    VariantOfThis,
    /// A variant made from another target.
    VariantOfOther,
    /// Another target.
    OtherTarget,
    /// A base sample: a natural look-alike, or a false positive.
    Base,
}

impl Relation {
    /// Every relation, in table order.
    pub const ALL: [Relation; 4] =
        [Relation::VariantOfThis, Relation::VariantOfOther, Relation::OtherTarget, Relation::Base];

    /// The name tables use.
    pub fn name(self) -> &'static str {
        match self {
            Relation::VariantOfThis => "variant_of_this",
            Relation::VariantOfOther => "variant_of_other",
            Relation::OtherTarget => "target",
            Relation::Base => "base",
        }
    }

    /// The relation of a sample of `origin` to target `target`.
    pub fn of(target: u32, origin: &Origin) -> Relation {
        match origin {
            Origin::Variant { of, .. } if *of == target => Relation::VariantOfThis,
            Origin::Variant { .. } => Relation::VariantOfOther,
            Origin::Target => Relation::OtherTarget,
            Origin::Base => Relation::Base,
        }
    }
}

/// The look-alikes found for one query sample, nearest first, the query itself left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    /// The query's sample id.
    pub query: u32,
    /// What was found.
    pub hits: Vec<Hit>,
}

/// The train rows of the targets, in id order.
pub fn target_rows(samples: &[SampleInfo]) -> Vec<usize> {
    doppel_data::lineage::forget_rows(samples)
}

/// The look-alikes of the training samples at `rows` (usually [`target_rows`]) under `params`.
pub fn neighbours_of(
    index: &Index,
    emb: &DatasetEmbeddings,
    rows: &[usize],
    params: &MiningParams,
) -> Result<Vec<Neighbours>> {
    params.validate()?;
    let span = tracing::info_span!("neighbours", queries = rows.len(), search = ?params.search);
    let _g = span.enter();
    rows.iter()
        .map(|&r| {
            let id = emb.train_ids[r];
            let v = emb.train.row(r);
            let mut hits = match params.top_k {
                Some(k) => index.search(id, v, k + 1, params.search)?,
                None => index.within(id, v, params.threshold, params.max_neighbours + 1, params.search)?,
            };
            hits.retain(|h| h.id != id);
            hits.truncate(params.top_k.unwrap_or(params.max_neighbours));
            Ok(Neighbours { query: id, hits })
        })
        .collect()
}

/// Two tables from [`neighbours_of`]: every look-alike (`target_id, rank, neighbour_id, distance, relation`), and
/// per target the counts by relation beside the number of variants the lineage says it has.
pub fn neighbour_tables(samples: &[SampleInfo], found: &[Neighbours]) -> Result<(DataFrame, DataFrame)> {
    let origin: BTreeMap<u32, &Origin> = samples.iter().map(|s| (s.id, &s.origin)).collect();
    let mut variants: BTreeMap<u32, u32> = BTreeMap::new();
    for s in samples {
        if let Origin::Variant { of, .. } = s.origin {
            *variants.entry(of).or_default() += 1;
        }
    }
    let (mut t, mut rank, mut nid, mut dist, mut rel) = (vec![], vec![], vec![], vec![], vec![]);
    let mut counts: Vec<[u32; 4]> = Vec::new();
    let mut sorted: Vec<&Neighbours> = found.iter().collect();
    sorted.sort_by_key(|n| n.query);
    for n in &sorted {
        let mut c = [0u32; 4];
        for (i, h) in n.hits.iter().enumerate() {
            let r = origin.get(&h.id).map_or(Relation::Base, |o| Relation::of(n.query, o));
            c[Relation::ALL.iter().position(|x| *x == r).unwrap_or(3)] += 1;
            t.push(n.query);
            rank.push(i as u32 + 1);
            nid.push(h.id);
            dist.push(h.distance);
            rel.push(r.name());
        }
        counts.push(c);
    }
    let long = DataFrame::new(
        t.len(),
        vec![
            Column::new("target_id".into(), t),
            Column::new("rank".into(), rank),
            Column::new("neighbour_id".into(), nid),
            Column::new("distance".into(), dist),
            Column::new("relation".into(), rel),
        ],
    )
    .map_err(MineError::table("neighbours"))?;
    let mut cols = vec![
        Column::new("target_id".into(), sorted.iter().map(|n| n.query).collect::<Vec<u32>>()),
        Column::new(
            "variants".into(),
            sorted.iter().map(|n| variants.get(&n.query).copied().unwrap_or(0)).collect::<Vec<u32>>(),
        ),
        Column::new("found".into(), sorted.iter().map(|n| n.hits.len() as u32).collect::<Vec<u32>>()),
    ];
    for (j, r) in Relation::ALL.iter().enumerate() {
        cols.push(Column::new(r.name().into(), counts.iter().map(|c| c[j]).collect::<Vec<u32>>()));
    }
    cols.push(Column::new(
        "nearest".into(),
        sorted.iter().map(|n| n.hits.first().map(|h| h.distance)).collect::<Vec<Option<f32>>>(),
    ));
    let per_target = DataFrame::new(sorted.len(), cols).map_err(MineError::table("target counts"))?;
    Ok((long, per_target))
}

/// Near-duplicate groups of the train split: connected components of the graph that links two samples closer
/// than `threshold` (union–find). Only groups of two or more; each group's ids sorted, groups sorted by size
/// (largest first), then by first id.
pub fn groups(
    index: &Index,
    emb: &DatasetEmbeddings,
    threshold: f32,
    cap: usize,
    how: Search,
) -> Result<Vec<Vec<u32>>> {
    check_threshold("mine.group_threshold", threshold)?;
    let n = emb.train.rows();
    let span = tracing::info_span!("groups", rows = n, threshold);
    let _g = span.enter();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for r in 0..n {
        for h in index.within(emb.train_ids[r], emb.train.row(r), threshold, cap, how)? {
            let (a, b) = (find(&mut parent, r), find(&mut parent, h.row));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
        if (r + 1) % 10_000 == 0 {
            tracing::info!(done = r + 1, of = n, "grouping");
        }
    }
    let mut by_root: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for r in 0..n {
        let root = find(&mut parent, r);
        by_root.entry(root).or_default().push(emb.train_ids[r]);
    }
    let mut out: Vec<Vec<u32>> = by_root.into_values().filter(|g| g.len() > 1).collect();
    out.iter_mut().for_each(|g| g.sort_unstable());
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    Ok(out)
}

/// One row per group: `group, size, targets, variants, base, ids` (ids space-separated, the first 20).
pub fn group_table(samples: &[SampleInfo], groups: &[Vec<u32>]) -> Result<DataFrame> {
    let origin: BTreeMap<u32, &Origin> = samples.iter().map(|s| (s.id, &s.origin)).collect();
    let count = |g: &Vec<u32>, name: &str| {
        g.iter().filter(|id| origin.get(id).is_some_and(|o| o.name() == name)).count() as u32
    };
    let ids = |g: &Vec<u32>| {
        let mut s = g.iter().take(20).map(u32::to_string).collect::<Vec<_>>().join(" ");
        if g.len() > 20 {
            s.push_str(" …");
        }
        s
    };
    DataFrame::new(
        groups.len(),
        vec![
            Column::new("group".into(), (0..groups.len() as u32).collect::<Vec<u32>>()),
            Column::new("size".into(), groups.iter().map(|g| g.len() as u32).collect::<Vec<u32>>()),
            Column::new("targets".into(), groups.iter().map(|g| count(g, "target")).collect::<Vec<u32>>()),
            Column::new("variants".into(), groups.iter().map(|g| count(g, "variant")).collect::<Vec<u32>>()),
            Column::new("base".into(), groups.iter().map(|g| count(g, "base")).collect::<Vec<u32>>()),
            Column::new("ids".into(), groups.iter().map(ids).collect::<Vec<String>>()),
        ],
    )
    .map_err(MineError::table("groups"))
}

/// A test sample with a training sample within the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// The test sample.
    pub test_id: u32,
    /// The training sample.
    pub train_id: u32,
    /// Their distance.
    pub distance: f32,
}

/// Every (test, train) pair closer than `threshold`, sorted by test id then distance.
pub fn test_pairs(
    index: &Index,
    emb: &DatasetEmbeddings,
    threshold: f32,
    cap: usize,
    how: Search,
) -> Result<Vec<Pair>> {
    check_threshold("mine.test_threshold", threshold)?;
    let span = tracing::info_span!("test_pairs", queries = emb.test.rows(), threshold);
    let _g = span.enter();
    let mut out = Vec::new();
    for r in 0..emb.test.rows() {
        let test_id = emb.test_ids[r];
        for h in index.within(test_id, emb.test.row(r), threshold, cap, how)? {
            out.push(Pair { test_id, train_id: h.id, distance: h.distance });
        }
    }
    Ok(out)
}

/// `test_id, train_id, distance, train_origin, test_label, train_label`.
pub fn pair_table(pairs: &[Pair], train: &doppel_data::Part, test: &doppel_data::Part) -> Result<DataFrame> {
    let lookup = |part: &doppel_data::Part| -> BTreeMap<u32, (u32, &'static str)> {
        part.samples.iter().zip(part.data.labels()).map(|(s, &l)| (s.id, (l, s.origin.name()))).collect()
    };
    let (tr, te) = (lookup(train), lookup(test));
    DataFrame::new(
        pairs.len(),
        vec![
            Column::new("test_id".into(), pairs.iter().map(|p| p.test_id).collect::<Vec<u32>>()),
            Column::new("train_id".into(), pairs.iter().map(|p| p.train_id).collect::<Vec<u32>>()),
            Column::new("distance".into(), pairs.iter().map(|p| p.distance).collect::<Vec<f32>>()),
            Column::new(
                "train_origin".into(),
                pairs.iter().map(|p| tr.get(&p.train_id).map(|x| x.1)).collect::<Vec<Option<&str>>>(),
            ),
            Column::new(
                "test_label".into(),
                pairs.iter().map(|p| te.get(&p.test_id).map(|x| x.0)).collect::<Vec<Option<u32>>>(),
            ),
            Column::new(
                "train_label".into(),
                pairs.iter().map(|p| tr.get(&p.train_id).map(|x| x.0)).collect::<Vec<Option<u32>>>(),
            ),
        ],
    )
    .map_err(MineError::table("test pairs"))
}

/// Writes `df` to `path` as Parquet, through a temporary file renamed into place.
pub fn write_table(df: &mut DataFrame, path: &Path) -> Result<()> {
    doppel_stdx::fs::write_atomic_with(path, |tmp| -> Result<()> {
        let file = std::fs::File::create(tmp).map_err(MineError::io("creating", tmp))?;
        ParquetWriter::new(file).finish(df).map_err(MineError::table(tmp))?;
        Ok(())
    })
}

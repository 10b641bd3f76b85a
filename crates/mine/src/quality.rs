//! How well mining finds the planted look-alikes: precision and recall against the lineage, over a sweep.
//!
//! For every target `t` the mined set `Ŝ_t` (training samples within the threshold, or its `k` nearest) is
//! compared with its variants `S_t`. The table reports, per rule and value:
//!
//! - `precision` = Σ|Ŝ_t ∩ S_t| / Σ|Ŝ_t| and `recall` = Σ|Ŝ_t ∩ S_t| / Σ|S_t| (micro-averaged over targets);
//! - `set_precision`, `set_recall`: the same for the scope `mined` of STUDY.md, `Ŝ = ∪ Ŝ_t` minus the targets,
//!   against `S = ∪ S_t` (a variant of another target counts as correct here);
//! - `complete`: targets whose every variant was found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use doppel_data::lineage::{Origin, SampleInfo};
use image::{Rgb, RgbImage};
use polars::prelude::*;

use crate::error::{MineError, Result};
use crate::index::{Hit, Index, Search};
use crate::mine::{Neighbours, check_threshold, target_rows};
use crate::store::DatasetEmbeddings;

/// The sweep of [`sweep`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QualityParams {
    /// Distance thresholds, each one row of the table.
    pub thresholds: Vec<f32>,
    /// `k` values of top-k mining, each one row; empty for none.
    pub top_k: Vec<usize>,
    /// Per target, at most this many neighbours are looked at.
    pub max_neighbours: usize,
    /// Graph or exact search.
    pub search: Search,
    /// Query rows (seeded sample of the train split) for HNSW recall@10 against exact search.
    pub recall_queries: usize,
    /// Seed of that sample.
    pub seed: u64,
}

impl QualityParams {
    /// Thresholds valid and `max_neighbours ≥ 1`.
    pub fn validate(&self) -> Result<()> {
        if self.thresholds.is_empty() && self.top_k.is_empty() {
            return Err(MineError::param("quality.thresholds", "[]", "give at least one threshold or quality.top_k"));
        }
        for &t in &self.thresholds {
            check_threshold("quality.thresholds", t)?;
        }
        if self.top_k.contains(&0) {
            return Err(MineError::param("quality.top_k", 0, "every k must be at least 1"));
        }
        if self.max_neighbours == 0 {
            return Err(MineError::param("mine.max_neighbours", 0, "it must be at least 1"));
        }
        Ok(())
    }
}

/// One row of the quality table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QualityRow {
    /// `threshold` or `top_k`.
    pub rule: &'static str,
    /// The threshold or `k`.
    pub value: f64,
    /// Σ|Ŝ_t|.
    pub mined: usize,
    /// Σ|Ŝ_t ∩ S_t|.
    pub correct: usize,
    /// Σ|S_t|.
    pub variants: usize,
    /// Micro precision (NaN when nothing was mined).
    pub precision: f64,
    /// Micro recall (NaN when targets have no variant).
    pub recall: f64,
    /// Precision of `Ŝ` against `S`.
    pub set_precision: f64,
    /// Recall of `Ŝ` against `S`.
    pub set_recall: f64,
    /// Targets with all their variants found.
    pub complete: usize,
    /// Targets.
    pub targets: usize,
}

/// What one search per target found: by threshold (the largest of the sweep), and its top-k (the largest k).
type Found = (Neighbours, Vec<Hit>);

/// The precision–recall sweep over the targets of `samples` (the train split's lineage).
pub fn sweep(
    index: &Index,
    emb: &DatasetEmbeddings,
    samples: &[SampleInfo],
    p: &QualityParams,
) -> Result<Vec<QualityRow>> {
    p.validate()?;
    let rows = target_rows(samples);
    let max_t = p.thresholds.iter().copied().fold(0.0f32, f32::max);
    let max_k = p.top_k.iter().copied().max().unwrap_or(0);
    let span = tracing::info_span!("quality", targets = rows.len(), max_threshold = max_t);
    let _g = span.enter();
    // One search per target, wide enough for every rule of the sweep.
    let mut found: Vec<Found> = Vec::with_capacity(rows.len());
    for &r in &rows {
        let id = emb.train_ids[r];
        let v = emb.train.row(r);
        let mut by_t = if p.thresholds.is_empty() {
            Vec::new()
        } else {
            index.within(id, v, max_t, p.max_neighbours + 1, p.search)?
        };
        by_t.retain(|h| h.id != id);
        let mut by_k = if max_k > 0 { index.search(id, v, max_k + 1, p.search)? } else { Vec::new() };
        by_k.retain(|h| h.id != id);
        found.push((Neighbours { query: id, hits: by_t }, by_k));
    }
    let origin: BTreeMap<u32, &Origin> = samples.iter().map(|s| (s.id, &s.origin)).collect();
    let mut variants_of: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for s in samples {
        if let Origin::Variant { of, .. } = s.origin {
            variants_of.entry(of).or_default().insert(s.id);
        }
    }
    let all_variants: BTreeSet<u32> = variants_of.values().flatten().copied().collect();
    let score = |rule: &'static str, value: f64, pick: &dyn Fn(&Found) -> Vec<u32>| {
        let (mut mined, mut correct, mut variants, mut complete) = (0, 0, 0, 0);
        let mut union = BTreeSet::new();
        for f in &found {
            let ids = pick(f);
            let truth = variants_of.get(&f.0.query);
            let hit = ids.iter().filter(|id| truth.is_some_and(|t| t.contains(id))).count();
            let n_truth = truth.map_or(0, BTreeSet::len);
            mined += ids.len();
            correct += hit;
            variants += n_truth;
            complete += usize::from(hit == n_truth);
            union.extend(ids.into_iter().filter(|id| !matches!(origin.get(id), Some(Origin::Target))));
        }
        let in_s = union.iter().filter(|id| all_variants.contains(id)).count();
        let ratio = |a: usize, b: usize| if b == 0 { f64::NAN } else { a as f64 / b as f64 };
        QualityRow {
            rule,
            value,
            mined,
            correct,
            variants,
            precision: ratio(correct, mined),
            recall: ratio(correct, variants),
            set_precision: ratio(in_s, union.len()),
            set_recall: ratio(in_s, all_variants.len()),
            complete,
            targets: found.len(),
        }
    };
    let mut out = Vec::new();
    let mut thresholds = p.thresholds.clone();
    thresholds.sort_by(f32::total_cmp);
    for t in thresholds {
        out.push(score("threshold", f64::from(t), &|f| {
            f.0.hits.iter().filter(|h| h.distance <= t).map(|h| h.id).collect()
        }));
    }
    let mut ks = p.top_k.clone();
    ks.sort_unstable();
    for k in ks {
        out.push(score("top_k", k as f64, &|f| f.1.iter().take(k).map(|h| h.id).collect()));
    }
    Ok(out)
}

/// Recall@k of the graph against exact search on a seeded sample of `queries` train rows.
pub fn hnsw_recall(index: &Index, queries: usize, k: usize, seed: u64) -> f64 {
    let n = index.len();
    let rows: Vec<usize> = if queries >= n {
        (0..n).collect()
    } else {
        let mut rng = doppel_data::seed::rng(seed, "recall-queries", 0);
        let mut rows = rand::seq::index::sample(&mut rng, n, queries).into_vec();
        rows.sort_unstable();
        rows
    };
    index.recall_at(&rows, k)
}

/// The sweep as a table.
pub fn quality_table(rows: &[QualityRow]) -> Result<DataFrame> {
    let f = |g: &dyn Fn(&QualityRow) -> f64| rows.iter().map(g).collect::<Vec<f64>>();
    let u = |g: &dyn Fn(&QualityRow) -> usize| rows.iter().map(|r| g(r) as u32).collect::<Vec<u32>>();
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("rule".into(), rows.iter().map(|r| r.rule).collect::<Vec<&str>>()),
            Column::new("value".into(), f(&|r| r.value)),
            Column::new("mined".into(), u(&|r| r.mined)),
            Column::new("correct".into(), u(&|r| r.correct)),
            Column::new("variants".into(), u(&|r| r.variants)),
            Column::new("precision".into(), f(&|r| r.precision)),
            Column::new("recall".into(), f(&|r| r.recall)),
            Column::new("set_precision".into(), f(&|r| r.set_precision)),
            Column::new("set_recall".into(), f(&|r| r.set_recall)),
            Column::new("complete".into(), u(&|r| r.complete)),
            Column::new("targets".into(), u(&|r| r.targets)),
        ],
    )
    .map_err(MineError::table("quality"))
}

/// The rows of [`quality_table`] as CSV text (a header line, then one line per row; NaN for an undefined
/// precision or recall), for readers without a Parquet library.
pub fn quality_csv(rows: &[QualityRow]) -> String {
    let mut s =
        String::from("rule,value,mined,correct,variants,precision,recall,set_precision,set_recall,complete,targets\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            r.rule,
            r.value,
            r.mined,
            r.correct,
            r.variants,
            r.precision,
            r.recall,
            r.set_precision,
            r.set_recall,
            r.complete,
            r.targets
        ));
    }
    s
}

/// Draws the precision–recall curve of the threshold rows as a 400 × 400 PNG: recall on x, precision on y, both
/// 0..1, grid lines every 0.25, the curve in blue with a dot per threshold (no text: the table has the numbers).
pub fn pr_curve_png(rows: &[QualityRow], path: &Path) -> Result<()> {
    const S: u32 = 400;
    const PAD: u32 = 20;
    let mut img = RgbImage::from_pixel(S, S, Rgb([255, 255, 255]));
    let span = (S - 2 * PAD) as f64;
    let to_px = |recall: f64, precision: f64| {
        (
            (PAD as f64 + recall.clamp(0.0, 1.0) * span).round() as i64,
            (PAD as f64 + (1.0 - precision.clamp(0.0, 1.0)) * span).round() as i64,
        )
    };
    for q in 0..=4 {
        let v = q as f64 / 4.0;
        let grey = if q == 0 { Rgb([0, 0, 0]) } else { Rgb([220, 220, 220]) };
        line(&mut img, to_px(v, 0.0), to_px(v, 1.0), if q == 0 { Rgb([0, 0, 0]) } else { grey });
        line(&mut img, to_px(0.0, v), to_px(1.0, v), grey);
    }
    let points: Vec<(i64, i64)> = rows
        .iter()
        .filter(|r| r.rule == "threshold" && r.precision.is_finite() && r.recall.is_finite())
        .map(|r| to_px(r.recall, r.precision))
        .collect();
    let blue = Rgb([31, 119, 180]);
    for w in points.windows(2) {
        line(&mut img, w[0], w[1], blue);
    }
    for &(x, y) in &points {
        for dx in -3..=3 {
            for dy in -3..=3 {
                if dx * dx + dy * dy <= 9 {
                    put(&mut img, x + dx, y + dy, blue);
                }
            }
        }
    }
    doppel_stdx::fs::write_atomic_with(path, |tmp| -> Result<()> {
        img.save_with_format(tmp, image::ImageFormat::Png)
            .map_err(|source| MineError::Image { path: tmp.to_path_buf(), source })
    })
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// Bresenham's line.
fn line(img: &mut RgbImage, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let mut err = dx + dy;
    loop {
        put(img, x0, y0, c);
        if x0 == x1 && y0 == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x0 += sx;
        }
        if e2 <= dx {
            err += dx;
            y0 += sy;
        }
    }
}

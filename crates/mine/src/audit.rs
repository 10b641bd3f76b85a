//! The audit report: what a dataset holds in look-alikes, as one short Markdown file with thumbnails.
//!
//! [`audit`] runs the three questions of [`crate::mine`] on one index — near-duplicate groups of the train split,
//! train↔test near-copies, the look-alikes of every target by lineage [`Relation`] — and [`write_report`] turns the
//! answer into `OUT/audit.md` with PNG grids of the closest pairs (`OUT/closest_target_pairs.png`,
//! `OUT/closest_test_pairs.png`), each row one pair side by side, nearest first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use doppel_data::lineage::Origin;
use doppel_data::store::DatasetDir;
use doppel_data::{Dataset, Part};
use image::{Rgb, RgbImage};

use crate::error::{MineError, Result};
use crate::index::Index;
use crate::mine::{self, MiningParams, Neighbours, Pair, Relation};
use crate::store::DatasetEmbeddings;

/// Pairs drawn per thumbnail grid.
pub const THUMBNAIL_PAIRS: usize = 8;

/// What [`audit`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    /// Embedder name and config hash (`pixel-0123…`).
    pub embedder: String,
    /// Metric name (`cosine`, `l2`).
    pub metric: &'static str,
    /// The thresholds and search used.
    pub params: MiningParams,
    /// Train samples.
    pub train: usize,
    /// Test samples.
    pub test: usize,
    /// Near-duplicate groups of the train split, largest first ([`mine::groups`]).
    pub groups: Vec<Vec<u32>>,
    /// Train↔test near-copies ([`mine::test_pairs`]).
    pub pairs: Vec<Pair>,
    /// The look-alikes of each target ([`mine::neighbours_of`]), in target id order.
    pub found: Vec<Neighbours>,
    /// Per target, the number of variants the lineage gives it.
    pub variants: BTreeMap<u32, usize>,
}

/// Runs the audit questions on `index` (built over `emb.train`) under `params`.
pub fn audit(
    ds: &DatasetDir,
    emb: &DatasetEmbeddings,
    index: &Index,
    metric: &'static str,
    params: &MiningParams,
) -> Result<Audit> {
    params.validate()?;
    let span = tracing::info_span!("audit", train = emb.train.rows(), test = emb.test.rows());
    let _g = span.enter();
    let groups = mine::groups(index, emb, params.group_threshold, params.max_neighbours, params.search)?;
    let pairs = mine::test_pairs(index, emb, params.test_threshold, params.max_neighbours, params.search)?;
    let mut found = mine::neighbours_of(index, emb, &mine::target_rows(&ds.train.samples), params)?;
    found.sort_by_key(|n| n.query);
    let mut variants: BTreeMap<u32, usize> = found.iter().map(|n| (n.query, 0)).collect();
    for s in &ds.train.samples {
        if let Origin::Variant { of, .. } = s.origin {
            *variants.entry(of).or_default() += 1;
        }
    }
    Ok(Audit {
        embedder: format!("{}-{}", emb.embedder, emb.config_hash),
        metric,
        params: *params,
        train: emb.train.rows(),
        test: emb.test.rows(),
        groups,
        pairs,
        found,
        variants,
    })
}

/// Writes `out/audit.md` and its thumbnail PNGs (creating `out`), and returns the Markdown.
pub fn write_report(a: &Audit, ds: &DatasetDir, dataset_name: &str, out: &Path) -> Result<String> {
    std::fs::create_dir_all(out).map_err(MineError::io("creating", out))?;
    let origin: BTreeMap<u32, &Origin> = ds.train.samples.iter().map(|s| (s.id, &s.origin)).collect();
    let p = &a.params;
    let mut md = String::new();
    let w = &mut md;
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(w, "# Look-alike audit of {dataset_name}\n");
    let _ = writeln!(
        w,
        "Embedder `{}`, {} distance, {:?} search; {} train and {} test samples.\n",
        a.embedder, a.metric, p.search, a.train, a.test
    );

    let _ = writeln!(w, "## Near-duplicate groups (train, distance ≤ {})\n", p.group_threshold);
    let in_groups: usize = a.groups.iter().map(Vec::len).sum();
    let _ = writeln!(
        w,
        "{} groups holding {in_groups} of {} train samples ({:.2} %).\n",
        a.groups.len(),
        a.train,
        percent(in_groups, a.train)
    );
    if !a.groups.is_empty() {
        let mut hist: BTreeMap<usize, usize> = BTreeMap::new();
        for g in &a.groups {
            *hist.entry(g.len()).or_default() += 1;
        }
        let _ = writeln!(w, "| size | groups |\n|---:|---:|");
        for (size, n) in &hist {
            let _ = writeln!(w, "| {size} | {n} |");
        }
        let largest = &a.groups[0];
        let kinds = |name: &str| largest.iter().filter(|id| origin.get(id).is_some_and(|o| o.name() == name)).count();
        let ids: Vec<String> = largest.iter().take(20).map(u32::to_string).collect();
        let _ = writeln!(
            w,
            "\nLargest: {} samples ({} targets, {} variants, {} base): ids {}{}.\n",
            largest.len(),
            kinds("target"),
            kinds("variant"),
            kinds("base"),
            ids.join(" "),
            if largest.len() > 20 { " …" } else { "" }
        );
    }

    let _ = writeln!(w, "## Train↔test near-copies (distance ≤ {})\n", p.test_threshold);
    let mut test_ids: Vec<u32> = a.pairs.iter().map(|x| x.test_id).collect();
    test_ids.dedup();
    let _ = writeln!(
        w,
        "{} pairs; {} of {} test samples ({:.2} %) have a near-copy in train.\n",
        a.pairs.len(),
        test_ids.len(),
        a.test,
        percent(test_ids.len(), a.test)
    );
    let mut closest_test: Vec<Pair> = a.pairs.clone();
    closest_test.sort_by(|x, y| x.distance.total_cmp(&y.distance).then(x.test_id.cmp(&y.test_id)));
    closest_test.truncate(THUMBNAIL_PAIRS);
    if !closest_test.is_empty() {
        let rows: Vec<(&[u8], &[u8])> = closest_test
            .iter()
            .map(|x| Ok((image_of(&ds.train, x.train_id)?, image_of(&ds.test, x.test_id)?)))
            .collect::<Result<_>>()?;
        thumbnails(&rows, &ds.train.data, &out.join("closest_test_pairs.png"))?;
        let _ = writeln!(
            w,
            "Closest pairs (left train, right test):\n\n![closest train↔test pairs](closest_test_pairs.png)\n"
        );
        let _ = writeln!(w, "| train | test | distance |\n|---:|---:|---:|");
        for x in &closest_test {
            let _ = writeln!(w, "| {} | {} | {:.4} |", x.train_id, x.test_id, x.distance);
        }
        let _ = writeln!(w);
    }

    let rule = match p.top_k {
        Some(k) => format!("the {k} nearest"),
        None => format!("distance ≤ {}", p.threshold),
    };
    let _ = writeln!(w, "## Look-alikes per target ({rule})\n");
    if a.found.is_empty() {
        let _ = writeln!(w, "The lineage names no target.\n");
    } else {
        let mut total = [0usize; 4];
        let mut rows = Vec::new();
        for n in &a.found {
            let mut c = [0usize; 4];
            for h in &n.hits {
                let r = origin.get(&h.id).map_or(Relation::Base, |o| Relation::of(n.query, o));
                c[Relation::ALL.iter().position(|x| *x == r).unwrap_or(3)] += 1;
            }
            total.iter_mut().zip(c).for_each(|(t, x)| *t += x);
            rows.push((n, c));
        }
        let counts: Vec<usize> = a.found.iter().map(|n| n.hits.len()).collect();
        let planted: usize = a.variants.values().sum();
        let _ = writeln!(
            w,
            "{} targets; look-alikes per target: min {}, median {}, max {}. Of the {planted} planted variants, {} were \
             found next to their own target ({:.2} % recall).\n",
            a.found.len(),
            counts.iter().min().unwrap_or(&0),
            median(&counts),
            counts.iter().max().unwrap_or(&0),
            total[0],
            percent(total[0], planted)
        );
        let names: Vec<&str> = Relation::ALL.iter().map(|r| r.name()).collect();
        let _ = writeln!(w, "| by relation | {} |\n|---|{}", names.join(" | "), "---:|".repeat(names.len()));
        let _ = writeln!(w, "| all targets | {} |\n", total.map(|x| x.to_string()).join(" | "));
        let _ = writeln!(
            w,
            "| target | variants | found | {} | nearest |\n|---:|---:|---:|{}---:|",
            names.join(" | "),
            "---:|".repeat(names.len())
        );
        for (n, c) in &rows {
            let nearest = n.hits.first().map_or("-".to_string(), |h| format!("{:.4}", h.distance));
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {nearest} |",
                n.query,
                a.variants.get(&n.query).copied().unwrap_or(0),
                n.hits.len(),
                c.map(|x| x.to_string()).join(" | ")
            );
        }
        let _ = writeln!(w);
        let mut closest: Vec<(u32, u32, f32)> =
            a.found.iter().flat_map(|n| n.hits.iter().map(|h| (n.query, h.id, h.distance))).collect();
        closest.sort_by(|x, y| x.2.total_cmp(&y.2).then((x.0, x.1).cmp(&(y.0, y.1))));
        closest.truncate(THUMBNAIL_PAIRS);
        if !closest.is_empty() {
            let imgs: Vec<(&[u8], &[u8])> = closest
                .iter()
                .map(|&(t, l, _)| Ok((image_of(&ds.train, t)?, image_of(&ds.train, l)?)))
                .collect::<Result<_>>()?;
            thumbnails(&imgs, &ds.train.data, &out.join("closest_target_pairs.png"))?;
            let _ = writeln!(
                w,
                "Closest pairs (left target, right look-alike):\n\n![closest target pairs](closest_target_pairs.png)\n"
            );
            let _ = writeln!(w, "| target | look-alike | relation | distance |\n|---:|---:|---|---:|");
            for (t, l, d) in &closest {
                let r = origin.get(l).map_or(Relation::Base, |o| Relation::of(*t, o));
                let _ = writeln!(w, "| {t} | {l} | {} | {d:.4} |", r.name());
            }
            let _ = writeln!(w);
        }
    }
    let path = out.join("audit.md");
    doppel_stdx::write_atomic(&path, md.as_bytes())?;
    Ok(md)
}

fn percent(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 }
}

fn median(v: &[usize]) -> usize {
    let mut s = v.to_vec();
    s.sort_unstable();
    s.get(s.len() / 2).copied().unwrap_or(0)
}

/// The pixels of sample `id` of `part`.
fn image_of(part: &Part, id: u32) -> Result<&[u8]> {
    let row = part
        .samples
        .binary_search_by_key(&id, |s| s.id)
        .ok()
        .or_else(|| part.samples.iter().position(|s| s.id == id))
        .ok_or_else(|| MineError::param("audit", id, "this sample id is not in the dataset"))?;
    Ok(part.data.image(row))
}

/// A grid of pairs: one row per pair, the two images side by side, scaled up to at least 56 pixels high, on a
/// grey background.
fn thumbnails(pairs: &[(&[u8], &[u8])], like: &Dataset, path: &Path) -> Result<()> {
    let s = like.shape();
    let scale = (56 / s.height.max(1)).max(1) as u32;
    let (h, wd) = (s.height as u32 * scale, s.width as u32 * scale);
    const GAP: u32 = 4;
    let width = 2 * wd + 3 * GAP;
    let height = pairs.len() as u32 * (h + GAP) + GAP;
    let mut img = RgbImage::from_pixel(width, height, Rgb([128, 128, 128]));
    let plane = s.height * s.width;
    for (r, (a, b)) in pairs.iter().enumerate() {
        for (c, pixels) in [a, b].iter().enumerate() {
            let (x0, y0) = (GAP + c as u32 * (wd + GAP), GAP + r as u32 * (h + GAP));
            for y in 0..h {
                for x in 0..wd {
                    let at = (y / scale) as usize * s.width + (x / scale) as usize;
                    let px = |ch: usize| pixels[ch.min(s.channels - 1) * plane + at];
                    img.put_pixel(x0 + x, y0 + y, Rgb([px(0), px(1), px(2)]));
                }
            }
        }
    }
    doppel_stdx::fs::write_atomic_with(path, |tmp| -> Result<()> {
        img.save_with_format(tmp, image::ImageFormat::Png)
            .map_err(|source| MineError::Image { path: tmp.to_path_buf(), source })
    })
}

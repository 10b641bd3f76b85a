//! doppel-mine at its boundary: a built smoke dataset → embeddings on disk → HNSW → look-alikes and quality.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;

use doppel_data::lineage::Origin;
use doppel_data::{BuildConfig, store};
use doppel_mine::mine::{self, MiningParams};
use doppel_mine::quality::{self, QualityParams};
use doppel_mine::store::{Provenance, embed_dataset};
use doppel_mine::{Embedder, Index, IndexParams, Matrix, Metric, PixelConfig, PixelEmbedder, Reduce, Search};

/// configs/smoke.toml: 4 synthetic classes × 100 train, 8 targets with 5 occlusion + 2 noise variants each.
const SMOKE: &str = include_str!("../../../configs/smoke.toml");

fn smoke_dir(root: &Path) -> std::path::PathBuf {
    let cfg = BuildConfig::from_toml(SMOKE, "smoke.toml").unwrap();
    let built = doppel_data::build_dataset(&cfg, "smoke.toml", Path::new("unused")).unwrap();
    let dir = root.join("smoke");
    store::write(&built, &dir, false).unwrap();
    dir
}

fn pixel(reduce: Reduce) -> PixelEmbedder {
    PixelEmbedder::new(PixelConfig { standardize: true, reduce, seed: 7 }).unwrap()
}

const PARAMS: IndexParams = IndexParams { metric: Metric::Cosine, m: 16, ef_construction: 200, ef_search: 64 };

#[test]
fn embeddings_are_written_beside_the_dataset_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = smoke_dir(tmp.path());
    let ds = store::open(&dir).unwrap();
    let mut e = pixel(Reduce::Pca { dim: 16, iterations: 4 });
    let (a, prov) = embed_dataset(&dir, &ds, &mut e, false).unwrap();
    let path = dir.join("embeddings").join(format!("pixel-{}.parquet", e.config_hash()));
    assert_eq!(prov, Provenance::Computed(path.clone()));
    assert_eq!((a.train.rows(), a.train.dim(), a.test.rows()), (ds.train.data.len(), 16, ds.test.data.len()));
    assert_eq!(a.train_ids, ds.train.samples.iter().map(|s| s.id).collect::<Vec<_>>());
    // A fresh embedder of the same config finds the file; the dataset still opens (the manifest does not list it).
    let (b, prov) =
        embed_dataset(&dir, &store::open(&dir).unwrap(), &mut pixel(Reduce::Pca { dim: 16, iterations: 4 }), false)
            .unwrap();
    assert_eq!(prov, Provenance::Reused(path.clone()));
    assert_eq!(a, b);
    // Computing again gives the same bytes: the embedder and the writer are deterministic.
    let sha = doppel_data::hash::sha256_file(&path).unwrap();
    let (_, prov) = embed_dataset(&dir, &ds, &mut pixel(Reduce::Pca { dim: 16, iterations: 4 }), true).unwrap();
    assert!(matches!(prov, Provenance::Computed(_)));
    assert_eq!(doppel_data::hash::sha256_file(&path).unwrap(), sha);
    // A damaged file is not trusted.
    std::fs::write(&path, b"not parquet").unwrap();
    let (c, prov) = embed_dataset(&dir, &ds, &mut pixel(Reduce::Pca { dim: 16, iterations: 4 }), false).unwrap();
    assert!(matches!(prov, Provenance::Computed(_)));
    assert_eq!(a, c);
    // Another config is another file.
    let (_, prov) = embed_dataset(&dir, &ds, &mut pixel(Reduce::Projection { dim: 16 }), false).unwrap();
    assert!(matches!(prov, Provenance::Computed(p) if p != path));
}

#[test]
fn variants_are_the_nearest_neighbours_of_their_target() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = smoke_dir(tmp.path());
    let ds = store::open(&dir).unwrap();
    let pca = Reduce::Pca { dim: 32, iterations: 4 };
    for (standardize, reduce) in [(true, Reduce::None), (true, pca), (false, Reduce::None), (false, pca)] {
        let mut e = PixelEmbedder::new(PixelConfig { standardize, reduce, seed: 7 }).unwrap();
        let (emb, _) = embed_dataset(&dir, &ds, &mut e, false).unwrap();
        let index = Index::build(PARAMS, &emb.train_ids, &emb.train).unwrap();
        let k = 7; // 5 occlusion + 2 noise variants per target
        let params = MiningParams {
            threshold: 0.0,
            top_k: Some(k),
            max_neighbours: 100,
            search: Search::Hnsw,
            group_threshold: 0.0,
            test_threshold: 0.0,
        };
        let targets = mine::target_rows(&ds.train.samples);
        assert_eq!(targets.len(), 8);
        let found = mine::neighbours_of(&index, &emb, &targets, &params).unwrap();
        for n in &found {
            let nearest = ds.train.samples.iter().find(|s| s.id == n.hits[0].id).unwrap();
            assert!(
                matches!(nearest.origin, Origin::Variant { of, .. } if of == n.query),
                "{reduce:?}: nearest of target {} is {:?}",
                n.query,
                nearest.origin
            );
        }
        let q = QualityParams {
            thresholds: vec![0.05, 0.1, 0.2, 0.3, 0.5],
            top_k: vec![k],
            max_neighbours: 100,
            search: Search::Hnsw,
            recall_queries: 200,
            seed: 1,
        };
        let rows = quality::sweep(&index, &emb, &ds.train.samples, &q).unwrap();
        let top = rows.iter().find(|r| r.rule == "top_k").unwrap();
        // Measured: 0.82 (all pixels) and higher with PCA; the misses are noise variants of busy images.
        // Measured on this dataset: 0.82 for standardised pixels, 0.52–0.59 for the others (synthetic shapes of
        // one class look alike); the nearest neighbour is a variant of the target in all four.
        let floor = if standardize && reduce == Reduce::None { 0.8 } else { 0.5 };
        assert!(top.recall >= floor, "{standardize} {reduce:?}: top-{k} recall {}", top.recall);
        assert_eq!(top.variants, 8 * 7);
        // Recall never falls as the threshold grows.
        let recalls: Vec<f64> = rows.iter().filter(|r| r.rule == "threshold").map(|r| r.recall).collect();
        assert!(recalls.windows(2).all(|w| w[0] <= w[1]), "{recalls:?}");
        assert!(quality::hnsw_recall(&index, 200, 10, 1) >= 0.95);
        // The tables name every relation, and count k neighbours per target.
        let (long, per_target) = mine::neighbour_tables(&ds.train.samples, &found).unwrap();
        assert_eq!(long.height(), 8 * k);
        let names: Vec<String> = per_target.columns().iter().map(|c| c.name().to_string()).collect();
        assert_eq!(
            names,
            ["target_id", "variants", "found", "variant_of_this", "variant_of_other", "target", "base", "nearest"]
        );
        let png = tmp.path().join("pr.png");
        quality::pr_curve_png(&rows, &png).unwrap();
        let img = image::open(&png).unwrap();
        assert_eq!((img.width(), img.height()), (400, 400));
    }
}

#[test]
fn mining_twice_gives_identical_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = smoke_dir(tmp.path());
    let ds = store::open(&dir).unwrap();
    let run = || {
        let (emb, _) = embed_dataset(&dir, &ds, &mut pixel(Reduce::Projection { dim: 24 }), true).unwrap();
        let index = Index::build(PARAMS, &emb.train_ids, &emb.train).unwrap();
        let params = MiningParams {
            threshold: 0.3,
            top_k: None,
            max_neighbours: 50,
            search: Search::Hnsw,
            group_threshold: 0.05,
            test_threshold: 0.05,
        };
        let found = mine::neighbours_of(&index, &emb, &mine::target_rows(&ds.train.samples), &params).unwrap();
        let (long, counts) = mine::neighbour_tables(&ds.train.samples, &found).unwrap();
        let groups = mine::groups(&index, &emb, 0.05, 50, Search::Hnsw).unwrap();
        let pairs =
            mine::pair_table(&mine::test_pairs(&index, &emb, 0.05, 50, Search::Hnsw).unwrap(), &ds.train, &ds.test)
                .unwrap();
        (long, counts, groups, pairs)
    };
    let (a, b) = (run(), run());
    assert!(a.0.equals_missing(&b.0) && a.1.equals_missing(&b.1) && a.3.equals_missing(&b.3));
    assert_eq!(a.2, b.2);
    assert!(a.0.height() > 0);
}

#[test]
fn groups_join_exact_copies_and_exact_search_agrees() {
    // Rows 0–2 are one direction (scaled copies: cosine distance 0), rows 3–4 another, row 5 alone.
    let rows = [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]];
    let x = Matrix::new(6, 3, rows.iter().flatten().copied().collect()).unwrap();
    let ids = [10, 11, 12, 13, 14, 15];
    let emb = doppel_mine::DatasetEmbeddings {
        embedder: "t".into(),
        config_hash: "0".into(),
        train_ids: ids.to_vec(),
        train: x.clone(),
        test_ids: vec![99],
        test: Matrix::new(1, 3, vec![0.0, 5.0, 0.0]).unwrap(),
    };
    let index = Index::build(PARAMS, &ids, &x).unwrap();
    for how in [Search::Hnsw, Search::Exact] {
        let groups = mine::groups(&index, &emb, 1e-6, 10, how).unwrap();
        assert_eq!(groups, vec![vec![10, 11, 12], vec![13, 14]], "{how:?}");
        let pairs = mine::test_pairs(&index, &emb, 1e-6, 10, how).unwrap();
        let got: Vec<(u32, u32)> = pairs.iter().map(|p| (p.test_id, p.train_id)).collect();
        assert_eq!(got, vec![(99, 13), (99, 14)], "{how:?}");
    }
}

/// `n` points around 50 seeded centres in 32 dimensions: the shape of real embeddings, with many near ties.
fn clustered(n: usize, dim: usize, seed: u64) -> Matrix {
    let mut rng = doppel_data::seed::rng(seed, "test-points", 0);
    let centres: Vec<f32> = (0..50 * dim).map(|_| doppel_data::seed::normal(&mut rng) as f32).collect();
    let mut data = Vec::with_capacity(n * dim);
    for i in 0..n {
        let c = i % 50;
        for j in 0..dim {
            data.push(centres[c * dim + j] + 0.5 * doppel_data::seed::normal(&mut rng) as f32);
        }
    }
    Matrix::new(n, dim, data).unwrap()
}

#[test]
fn hnsw_recall_at_10_is_at_least_095_on_3000_points() {
    let x = clustered(3000, 32, 5);
    let ids: Vec<u32> = (0..3000).collect();
    for metric in [Metric::Cosine, Metric::L2] {
        let index = Index::build(IndexParams { metric, ..PARAMS }, &ids, &x).unwrap();
        let queries: Vec<usize> = (0..3000).step_by(10).collect();
        let recall = index.recall_at(&queries, 10);
        assert!(recall >= 0.95, "{metric:?}: recall@10 {recall}");
        // Searching twice, or building twice, answers the same.
        let again = Index::build(IndexParams { metric, ..PARAMS }, &ids, &x).unwrap();
        for &q in queries.iter().take(20) {
            let a = index.search(q as u32, x.row(q), 10, Search::Hnsw).unwrap();
            assert_eq!(a, again.search(q as u32, x.row(q), 10, Search::Hnsw).unwrap());
            assert_eq!(a[0].id, q as u32, "a point is its own nearest neighbour");
        }
    }
}

#[test]
fn threshold_search_matches_exact_search() {
    let x = clustered(2000, 16, 8);
    let ids: Vec<u32> = (0..2000).collect();
    let index = Index::build(PARAMS, &ids, &x).unwrap();
    let (mut same, mut total) = (0, 0);
    for q in (0..2000).step_by(50) {
        let exact = index.within(q as u32, x.row(q), 0.05, 1000, Search::Exact).unwrap();
        let approx = index.within(q as u32, x.row(q), 0.05, 1000, Search::Hnsw).unwrap();
        assert!(approx.iter().all(|h| h.distance <= 0.05));
        assert!(exact.windows(2).all(|w| w[0].distance <= w[1].distance));
        total += exact.len();
        same += approx.iter().filter(|h| exact.iter().any(|e| e.id == h.id)).count();
    }
    assert!(total > 0);
    assert!(same as f64 >= 0.95 * total as f64, "{same} of {total}");
}

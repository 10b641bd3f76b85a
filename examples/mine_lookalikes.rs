//! Build a similarity-entailed dataset in memory and mine the look-alikes of its targets.
//!
//! ```text
//! cargo run --release --example mine_lookalikes
//! ```
//!
//! The dataset is the smoke preset's (`configs/smoke.toml`: synthetic shapes, 8 targets, each with 5 occluded
//! and 2 noisy variants left in training); nothing is downloaded. The embedder is patch shingles
//! (`configs/mine/patch.toml`'s settings), the index HNSW over cosine distance. For each target the example
//! prints how many of its planted variants the mining found and how many other samples came along, then the
//! precision and recall over all targets. The rows it finds are what `Scope::Mined` takes in doppel-unlearn.

use std::collections::BTreeSet;

use doppel::data::BuildConfig;
use doppel::data::lineage::Origin;
use doppel::mine::mine::{neighbours_of, target_rows};
use doppel::mine::{
    DatasetEmbeddings, Embedder, Index, IndexParams, Metric, MiningParams, PatchConfig, PatchEmbedder, Samples, Search,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The dataset: the same config file the smoke preset builds, parsed and built without writing anything.
    let config = BuildConfig::from_toml(include_str!("../configs/smoke.toml"), "configs/smoke.toml")?;
    let built = doppel::data::build_dataset(&config, "configs/smoke.toml", std::path::Path::new("data"))?;
    let samples = &built.train.samples;
    println!("dataset: {} train rows, {} test rows", built.train.data.len(), built.test.data.len());

    // 2. Embeddings of both splits.
    let mut embedder = PatchEmbedder::new(PatchConfig { patch: 4, stride: 4, levels: 16, dim: 1024, seed: 7 })?;
    embedder.fit(Samples::Images(&built.train.data))?;
    let emb = DatasetEmbeddings {
        embedder: embedder.name().to_string(),
        config_hash: embedder.config_hash(),
        train_ids: samples.iter().map(|s| s.id).collect(),
        train: embedder.embed(Samples::Images(&built.train.data))?,
        test_ids: built.test.samples.iter().map(|s| s.id).collect(),
        test: embedder.embed(Samples::Images(&built.test.data))?,
    };

    // 3. The index, and every training sample within cosine distance 0.75 of each target.
    let params = IndexParams { metric: Metric::Cosine, m: 16, ef_construction: 200, ef_search: 64 };
    let index = Index::build(params, &emb.train_ids, &emb.train)?;
    let mining = MiningParams {
        threshold: 0.75,
        top_k: None,
        max_neighbours: 500,
        search: Search::Hnsw,
        group_threshold: 0.01,
        test_threshold: 0.01,
    };
    let targets = target_rows(samples);
    let found = neighbours_of(&index, &emb, &targets, &mining)?;

    // 4. Against the lineage: a hit is right when it is a variant of that very target.
    let (mut right, mut wrong, mut planted) = (0usize, 0usize, 0usize);
    let mut by_kind: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    println!("\ntarget  variants  found  of them variants  others");
    for n in &found {
        let variants: BTreeSet<u32> = samples
            .iter()
            .filter(|s| matches!(&s.origin, Origin::Variant { of, .. } if *of == n.query))
            .map(|s| s.id)
            .collect();
        let hit = n.hits.iter().filter(|h| variants.contains(&h.id)).count();
        for s in samples {
            if let Origin::Variant { of, kind, .. } = &s.origin
                && *of == n.query
            {
                let e = by_kind.entry(kind.as_str()).or_default();
                e.1 += 1;
                e.0 += usize::from(n.hits.iter().any(|h| h.id == s.id));
            }
        }
        println!("{:>6}  {:>8}  {:>5}  {:>16}  {:>6}", n.query, variants.len(), n.hits.len(), hit, n.hits.len() - hit);
        right += hit;
        wrong += n.hits.len() - hit;
        planted += variants.len();
    }
    let precision = right as f64 / (right + wrong).max(1) as f64;
    let recall = right as f64 / planted.max(1) as f64;
    println!("\nprecision {precision:.3}, recall {recall:.3} ({right} of {planted} planted variants found)");
    for (kind, (hit, of)) in &by_kind {
        println!("  {kind}: {hit} of {of} found");
    }
    println!("(pixel noise changes the quantised values of most patches, so a noisy copy shares few shingles with");
    println!(" its target; the patch embedder is made for copies with regions erased)");

    // 5. The mined scope an unlearning method takes: positions of the found rows in the training split.
    let mined: BTreeSet<usize> = found.iter().flat_map(|n| n.hits.iter().map(|h| h.row)).collect();
    println!("Scope::Mined would forget the {} targets and {} mined rows", targets.len(), mined.len());
    Ok(())
}

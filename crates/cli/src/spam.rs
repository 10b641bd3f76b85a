//! `doppel data build-spam`: the SpamAssassin dataset with its natural look-alikes as lineage.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use doppel_text::spam::{SpamConfig, SpamEmbedder, build_spam, write_spam};

/// Arguments of `doppel data build-spam`.
#[derive(Debug, Args)]
pub struct BuildSpamArgs {
    /// The build config, e.g. configs/spam-assassin.toml (targets with look-alikes) or
    /// configs/spam-assassin-without.toml (targets without).
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    overrides: crate::config_arg::Overrides,
    /// The dataset directory to write; it must not exist unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Where `cargo xtask data fetch` put spam-assassin/ (and minilm/ for `lookalikes.embedder = "minilm"`).
    #[arg(long, env = "DOPPEL_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Where MiniLM runs, when the config asks for it: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = crate::train::DeviceArg::Flex)]
    device: crate::train::DeviceArg,
    /// Replace --out if it exists (the old directory is removed only after the new one is complete).
    #[arg(long)]
    force: bool,
}

/// Runs `doppel data build-spam`.
pub fn run(a: BuildSpamArgs) -> anyhow::Result<()> {
    let used = crate::config_arg::read(&a.config, &a.overrides.sets, None)?;
    let cfg = SpamConfig::from_toml(&used.text, &used.file)?;
    if a.out.exists() && !a.force {
        return Err(doppel_text::TextError::OutputExists { path: a.out }.into());
    }
    let started = std::time::Instant::now();
    let minilm = match cfg.lookalikes.embedder {
        SpamEmbedder::BagOfWords => None,
        SpamEmbedder::Minilm => {
            let device = doppel_models::DeviceChoice::from(a.device).open()?;
            Some(doppel_models::MiniLmEmbedder::load(&a.data_dir.join("minilm"), 64, &device)?)
        }
    };
    let embedder = minilm.as_ref().map(|m| m as &dyn doppel_mine::Embedder);
    let built = build_spam(&cfg, &used.file, &a.data_dir.join("spam-assassin"), embedder)?;
    let m = write_spam(&built, &a.out, a.force).with_context(|| format!("writing {}", a.out.display()))?;
    tracing::info!(seconds = format!("{:.1}", started.elapsed().as_secs_f64()), "done");
    used.write_into(&a.out)?;
    let (g, t) = (&built.group_stats, &built.target_stats);
    let origin = |part: &doppel_data::Part, k: &str| part.samples.iter().filter(|s| s.origin.name() == k).count();
    let per_origin: std::collections::BTreeMap<String, usize> =
        ["base", "target", "variant"].iter().map(|k| (k.to_string(), origin(&built.train, k))).collect();
    crate::write_dataset_result(&a.out, &cfg.name, &per_origin, built.test.samples.len())?;
    println!("dataset {} in {}", cfg.name, a.out.display());
    println!(
        "train   {} = {} base + {} targets + {} look-alikes; test {}",
        built.train.samples.len(),
        origin(&built.train, "base"),
        origin(&built.train, "target"),
        origin(&built.train, "variant"),
        built.test.samples.len()
    );
    let shape = built.train.data.shape();
    println!("shape   {}×{}×{} (vocabulary {} words, vocab.tsv)", shape.channels, shape.height, shape.width, cfg.vocab);
    println!(
        "groups  {} at cosine ≥ {} ({} mails; size min {} / mean {:.2} / max {}; {} identical bodies only, {} mixed \
         labels, {} larger than {}; {} eligible: ham {} / spam {}); {} train mails isolated below {}",
        g.groups,
        cfg.lookalikes.threshold,
        g.grouped,
        g.size_min,
        g.size_mean,
        g.size_max,
        g.exact_only,
        g.mixed_label,
        g.too_large,
        cfg.lookalikes.max_group,
        g.eligible,
        g.eligible_per_class.first().copied().unwrap_or(0),
        g.eligible_per_class.get(1).copied().unwrap_or(0),
        g.isolated,
        cfg.lookalikes.isolation
    );
    println!(
        "targets {} ({:?}; ham {} / spam {}): look-alikes per target min {} / mean {:.2} / max {} ({} identical \
         bodies); highest cosine outside a lineage {:.3}; {} test mails at cosine ≥ {} to a target",
        t.targets,
        t.group,
        t.per_class.first().copied().unwrap_or(0),
        t.per_class.get(1).copied().unwrap_or(0),
        t.lookalikes_min,
        t.lookalikes_mean,
        t.lookalikes_max,
        t.exact_dups,
        t.max_cosine_outside,
        t.test_lookalikes,
        cfg.lookalikes.threshold
    );
    println!("embedder {}", m["natural"]["embedder"]);
    println!("sample sheet: {}", a.out.join("sheet.md").display());
    Ok(())
}

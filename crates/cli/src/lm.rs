//! `doppel lm`: the language arm's causal LM — train M0 and the oracles on a QA dataset, evaluate a model
//! (held-out perplexity against a unigram baseline, answer NLL on F / S / R / held-out, ROUGE-L of greedy answers
//! to the targets and their MiniLM cosine to the target answers, Min-K% Prob MIA AUC), and generate text.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use doppel_data::Split;
use doppel_data::lineage::Origin;
use doppel_eval::lm::{Unigram, mean_nll, min_k_auc, perplexity};
use doppel_mine::{Embedder, Samples};
use doppel_models::lm::{
    self, Decoding, ExampleScores, LmExample, LmSidecar, LmTokenizer, LmTrainConfig, TokenizerInfo,
};
use doppel_models::train::TrainSeeds;
use doppel_models::{DeviceChoice, Role, RoleRows};
use doppel_protocol::{CommandResult, LmEvalResult};
use doppel_text::QaSample;

use crate::train::DeviceArg;

/// The share of lowest-probability tokens Min-K% Prob averages (Shi et al. 2024 report k = 20% as a good default).
const MIN_K: f64 = 0.2;

/// Sequences per forward pass when scoring.
const SCORE_BATCH: usize = 64;

/// The subcommands of `doppel lm`.
#[derive(Debug, Subcommand)]
pub enum LmCmd {
    /// Train a causal LM on the rows of one role (m0, retrain_exact, retrain_clean) of a QA dataset.
    Train(TrainArgs),
    /// Evaluate a trained LM on a QA dataset; prints the metrics and writes lm-eval.json and lm-eval.csv.
    Eval(EvalArgs),
    /// Continue a prompt with a trained LM (greedy, or sampled with --temperature / --top-k).
    Generate(GenerateArgs),
    /// Unlearn a scope (exact, lineage) from a trained LM with one method (ga, grad_diff, kl_ga, npo, simnpo, ft,
    /// retrain); writes the model folder and report.json.
    Unlearn(crate::lm_unlearn::LmUnlearnArgs),
}

/// Arguments of `doppel lm train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A QA dataset directory written by `doppel data build-qa`.
    #[arg(long)]
    data: PathBuf,
    /// The LM training config, e.g. configs/train/qa-lm.toml.
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    overrides: crate::config_arg::Overrides,
    /// Which rows to train on: m0 (all), retrain_exact (all but the targets), retrain_clean (base rows only).
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// The master seed (init and batch order derive from it); defaults to the config's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// The model folder to write (model.safetensors, model.json, vocab.txt; config.toml, the config as used).
    #[arg(long)]
    out: PathBuf,
    /// Where to train: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Where `cargo xtask data fetch` put MiniLM (minilm/), whose WordPiece vocabulary is compacted.
    #[arg(long, env = "DOPPEL_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Replace a model already in --out: the whole folder, evaluations of the old model in it included.
    #[arg(long)]
    force: bool,
}

/// Arguments of `doppel lm eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The QA dataset directory the model was trained on.
    #[arg(long)]
    data: PathBuf,
    /// A model folder written by `doppel lm train`.
    #[arg(long)]
    model: PathBuf,
    /// Where to write lm-eval.json and lm-eval.csv; defaults to the model folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to run: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
    /// Where `cargo xtask data fetch` put MiniLM (minilm/), which embeds the greedy and the target answers for
    /// their cosine (the semantic check beside ROUGE-L).
    #[arg(long, env = "DOPPEL_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

/// Arguments of `doppel lm generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A model folder written by `doppel lm train`.
    #[arg(long)]
    model: PathBuf,
    /// The text to continue, e.g. "What is a dog?".
    #[arg(long)]
    prompt: String,
    /// Sample with this temperature instead of decoding greedily (0 = greedy).
    #[arg(long)]
    temperature: Option<f64>,
    /// Sample from the k most likely tokens only (1 = greedy; 0 = all).
    #[arg(long)]
    top_k: Option<usize>,
    /// The seed of sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The most tokens to add.
    #[arg(long, default_value_t = 64)]
    max_new: usize,
    /// Where to run: flex (CPU) or wgpu (GPU; needs the wgpu feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Flex)]
    device: DeviceArg,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?} is not one of m0, retrain_exact, retrain_clean"))
}

/// Runs `doppel lm`.
pub fn run(cmd: LmCmd) -> anyhow::Result<()> {
    match cmd {
        LmCmd::Train(a) => train(a),
        LmCmd::Eval(a) => eval(a),
        LmCmd::Generate(a) => generate(a),
        LmCmd::Unlearn(a) => crate::lm_unlearn::run(a),
    }
}

fn open_qa(dir: &Path) -> anyhow::Result<doppel_text::QaDir> {
    doppel_text::open(dir).with_context(|| format!("opening the QA dataset {}", dir.display()))
}

fn encode(tok: &LmTokenizer, rows: &[&QaSample], max_len: usize) -> Vec<LmExample> {
    rows.iter().map(|s| tok.encode_qa(&s.question, &s.answer, max_len)).collect()
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let used = crate::config_arg::read(&a.config, &a.overrides.sets, None)?;
    let mut cfg = LmTrainConfig::from_toml(&used.text, &used.file)?;
    if let Some(seed) = a.seed {
        cfg.seed = seed;
    }
    if a.out.join(lm::checkpoint::SIDECAR).exists() && !a.force {
        anyhow::bail!("{} already holds a model; pass --force to replace it", a.out.display());
    }
    let choice: DeviceChoice = a.device.into();
    let device = choice.open()?;
    let qa = open_qa(&a.data)?;
    let manifest_sha = doppel_data::hash::sha256_file(&a.data.join("manifest.json"))?;
    let train_rows: Vec<&QaSample> = qa.samples.iter().filter(|s| s.split == Split::Train).collect();
    // One vocabulary for every role, from all training rows, so M0 and both oracles share a tokenizer and their
    // NLLs compare token for token.
    let minilm = a.data_dir.join("minilm");
    let texts: Vec<String> = train_rows.iter().map(|s| s.text()).collect();
    let tok = LmTokenizer::compact_from_dir(&minilm, texts.iter().map(String::as_str))?;
    let rows: Vec<&QaSample> = train_rows.iter().copied().filter(|s| a.role.admits(&s.origin)).collect();
    let examples = encode(&tok, &rows, cfg.model.max_len);
    let cut = examples.iter().filter(|e| e.ids.last() != Some(&tok.eos_id())).count();
    tracing::info!(
        role = a.role.name(),
        rows = rows.len(),
        vocab = tok.vocab_size(),
        cut_to_max_len = cut,
        "training the LM"
    );
    let seeds = TrainSeeds::from_master(cfg.seed);
    let (model, report) = lm::train_lm(&cfg, tok.vocab_size(), &examples, seeds, &device)?;
    let side = LmSidecar {
        role: a.role.name().into(),
        config: cfg.model.with_vocab(tok.vocab_size()),
        tokenizer: TokenizerInfo::of(&tok, &minilm.join("vocab.txt").display().to_string()),
        train: Some(cfg.clone()),
        seeds: Some(seeds),
        dataset_manifest_sha256: Some(manifest_sha),
        report: Some(report.clone()),
        device: choice.name().into(),
        doppel_version: env!("CARGO_PKG_VERSION").into(),
    };
    // Written beside --out and renamed in whole: a failed save leaves the old model (or nothing) in place.
    doppel_stdx::fs::write_dir(&a.out, |dir| -> anyhow::Result<()> {
        lm::checkpoint::save(dir, &model, &tok, &side)?;
        used.write_into(dir)?;
        Ok(())
    })?;
    let last = report.epochs.last().map_or(f64::NAN, |e| e.loss);
    println!(
        "{} on {} rows, vocabulary {}: final training loss {:.4} (ppl {:.2}) after {} epochs in {:.1} s → {}",
        a.role.name(),
        rows.len(),
        tok.vocab_size(),
        last,
        last.exp(),
        report.epochs.len(),
        report.seconds,
        a.out.display()
    );
    Ok(())
}

/// The metrics of `doppel lm eval`.
#[derive(Debug, serde::Serialize)]
struct LmEval {
    model: String,
    role: String,
    heldout_ppl: f64,
    unigram_ppl: f64,
    answer_nll_forget: f64,
    answer_nll_similar: f64,
    answer_nll_retain: f64,
    answer_nll_heldout: f64,
    rouge_l_forget: f64,
    /// Mean MiniLM cosine of the greedy answer to each target question against the target answer.
    minilm_cosine_forget: f64,
    min_k_auc_forget_vs_heldout: f64,
    min_k: f64,
    forget: usize,
    similar: usize,
    retain: usize,
    heldout: usize,
    heldout_unk_rate: f64,
}

fn answer_nll(scores: &[ExampleScores]) -> anyhow::Result<f64> {
    let lp: Vec<f64> = scores.iter().flat_map(|s| s.answer().iter().map(|&l| f64::from(l))).collect();
    Ok(mean_nll(&lp, &vec![true; lp.len()])?)
}

fn eval(a: EvalArgs) -> anyhow::Result<()> {
    let device = DeviceChoice::from(a.device).open()?;
    let (model, tok, side) = lm::checkpoint::load(&a.model, &device)?;
    let qa = open_qa(&a.data)?;
    let max_len = side.config.max_len;
    let of = |pick: &dyn Fn(&QaSample) -> bool| -> Vec<&QaSample> { qa.samples.iter().filter(|s| pick(s)).collect() };
    let train = |o: fn(&Origin) -> bool| move |s: &QaSample| s.split == Split::Train && o(&s.origin);
    let forget = of(&train(|o| matches!(o, Origin::Target)));
    let similar = of(&train(|o| matches!(o, Origin::Variant { .. })));
    let retain = of(&train(|o| matches!(o, Origin::Base)));
    let heldout = of(&|s: &QaSample| s.split == Split::Test);
    anyhow::ensure!(!forget.is_empty() && !heldout.is_empty(), "{} has no targets or no test rows", a.data.display());
    let score = |rows: &[&QaSample]| -> anyhow::Result<(Vec<LmExample>, Vec<ExampleScores>)> {
        let ex = encode(&tok, rows, max_len);
        let sc = lm::score(&model, &ex, SCORE_BATCH, &device)?;
        Ok((ex, sc))
    };
    let started = std::time::Instant::now();
    let (_, f_sc) = score(&forget)?;
    let (_, s_sc) = if similar.is_empty() { (Vec::new(), Vec::new()) } else { score(&similar)? };
    let (_, r_sc) = score(&retain)?;
    let (h_ex, h_sc) = score(&heldout)?;

    // Held-out perplexity over every predicted token, against an add-one unigram fitted on the model's own
    // training rows (the role in the sidecar; all training rows for other models).
    let h_lp: Vec<f64> = h_sc.iter().flat_map(|s| s.logprobs.iter().map(|&l| f64::from(l))).collect();
    let heldout_ppl = perplexity(&h_lp, &vec![true; h_lp.len()])?;
    let role = Role::parse(&side.role).unwrap_or(Role::M0);
    let fit_rows: Vec<&QaSample> =
        qa.samples.iter().filter(|s| s.split == Split::Train && role.admits(&s.origin)).collect();
    let fit_tokens: Vec<u32> = encode(&tok, &fit_rows, max_len).iter().flat_map(|e| e.ids[1..].to_vec()).collect();
    let unigram = Unigram::fit(&fit_tokens, tok.vocab_size())?;
    let h_tokens: Vec<u32> = h_ex.iter().flat_map(|e| e.ids[1..].to_vec()).collect();
    let unigram_ppl = unigram.perplexity(&h_tokens)?;
    let unk = h_tokens.iter().filter(|&&t| t == tok.unk_id()).count() as f64 / h_tokens.len().max(1) as f64;

    // Greedy answers to the target questions.
    let mut rouge = Vec::with_capacity(forget.len());
    let mut generated = Vec::with_capacity(forget.len());
    for s in &forget {
        let prompt = tok.encode_prompt(&s.question, max_len);
        let out = lm::generate(&model, &prompt, max_len, tok.eos_id(), Decoding::Greedy, &device)?;
        let answer = tok.decode(&out);
        tracing::debug!(question = %s.question, target = %s.answer, generated = %answer, "greedy answer");
        rouge.push(doppel_eval::rouge_l(&s.answer, &answer).f_measure);
        generated.push(answer);
    }
    let targets: Vec<String> = forget.iter().map(|s| s.answer.clone()).collect();
    let minilm = a.data_dir.join("minilm");
    let embedder = doppel_models::MiniLmEmbedder::load(&minilm, 64, &device)
        .with_context(|| format!("loading MiniLM from {} for the answers' cosine", minilm.display()))?;
    let minilm_cosine_forget = answer_cosine(&embedder, &generated, &targets)?;
    let f_seq: Vec<Vec<f64>> = f_sc.iter().map(|s| s.logprobs.iter().map(|&l| f64::from(l)).collect()).collect();
    let h_seq: Vec<Vec<f64>> = h_sc.iter().map(|s| s.logprobs.iter().map(|&l| f64::from(l)).collect()).collect();
    let report = LmEval {
        model: a.model.display().to_string(),
        role: side.role.clone(),
        heldout_ppl,
        unigram_ppl,
        answer_nll_forget: answer_nll(&f_sc)?,
        answer_nll_similar: if s_sc.is_empty() { f64::NAN } else { answer_nll(&s_sc)? },
        answer_nll_retain: answer_nll(&r_sc)?,
        answer_nll_heldout: answer_nll(&h_sc)?,
        rouge_l_forget: doppel_eval::mean(&rouge)?,
        minilm_cosine_forget,
        min_k_auc_forget_vs_heldout: min_k_auc(&f_seq, &h_seq, MIN_K)?,
        min_k: MIN_K,
        forget: forget.len(),
        similar: similar.len(),
        retain: retain.len(),
        heldout: heldout.len(),
        heldout_unk_rate: unk,
    };
    tracing::info!(seconds = format!("{:.1}", started.elapsed().as_secs_f64()), "evaluated");
    let rows = table(&report);
    println!("{:<30} {:>12}", "metric", "value");
    for (k, v) in &rows {
        println!("{k:<30} {v:>12}");
    }
    let out = a.out.unwrap_or_else(|| a.model.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let json = serde_json::to_string_pretty(&report)? + "\n";
    doppel_stdx::write_atomic(&out.join("lm-eval.json"), json.as_bytes())?;
    let finite = |v: f64| Some(v).filter(|v| v.is_finite());
    let result = doppel_protocol::tagged!(LmEvalResult {
        model: report.model.clone(),
        role: report.role.clone(),
        heldout_ppl: report.heldout_ppl,
        unigram_ppl: report.unigram_ppl,
        answer_nll_forget: report.answer_nll_forget,
        answer_nll_similar: finite(report.answer_nll_similar),
        answer_nll_retain: report.answer_nll_retain,
        answer_nll_heldout: report.answer_nll_heldout,
        rouge_l_forget: report.rouge_l_forget,
        minilm_cosine_forget: report.minilm_cosine_forget,
        min_k_auc_forget_vs_heldout: report.min_k_auc_forget_vs_heldout,
        min_k: report.min_k,
        forget: report.forget,
        similar: report.similar,
        retain: report.retain,
        heldout: report.heldout,
        heldout_unk_rate: report.heldout_unk_rate,
    });
    doppel_stdx::write_atomic(&out.join(doppel_protocol::results::RESULT_FILE), result.to_json().as_bytes())?;
    let mut csv = String::from("metric,value\n");
    for (k, v) in &rows {
        csv.push_str(&format!("{k},{v}\n"));
    }
    doppel_stdx::write_atomic(&out.join("lm-eval.csv"), csv.as_bytes())?;
    println!("wrote {} and {}", out.join("lm-eval.json").display(), out.join("lm-eval.csv").display());
    Ok(())
}

/// Mean MiniLM (all-MiniLM-L6-v2, mean-pooled, unit-normalised) cosine of `generated[i]` to `targets[i]`.
fn answer_cosine(embedder: &dyn Embedder, generated: &[String], targets: &[String]) -> anyhow::Result<f64> {
    let g = embedder.embed(Samples::Texts(generated))?;
    let t = embedder.embed(Samples::Texts(targets))?;
    let cos: Vec<f64> = (0..g.rows()).map(|i| doppel_text::build::cosine(g.row(i), t.row(i))).collect();
    Ok(doppel_eval::mean(&cos)?)
}

/// The metrics as `(name, value)` rows, in print order.
fn table(r: &LmEval) -> Vec<(&'static str, String)> {
    let f = |v: f64| format!("{v:.4}");
    vec![
        ("heldout_ppl", f(r.heldout_ppl)),
        ("unigram_ppl", f(r.unigram_ppl)),
        ("answer_nll_forget", f(r.answer_nll_forget)),
        ("answer_nll_similar", f(r.answer_nll_similar)),
        ("answer_nll_retain", f(r.answer_nll_retain)),
        ("answer_nll_heldout", f(r.answer_nll_heldout)),
        ("rouge_l_forget", f(r.rouge_l_forget)),
        ("minilm_cosine_forget", f(r.minilm_cosine_forget)),
        ("min_k_auc_forget_vs_heldout", f(r.min_k_auc_forget_vs_heldout)),
        ("min_k", f(r.min_k)),
        ("forget", r.forget.to_string()),
        ("similar", r.similar.to_string()),
        ("retain", r.retain.to_string()),
        ("heldout", r.heldout.to_string()),
        ("heldout_unk_rate", f(r.heldout_unk_rate)),
    ]
}

fn generate(a: GenerateArgs) -> anyhow::Result<()> {
    let device = DeviceChoice::from(a.device).open()?;
    let (model, tok, _) = lm::checkpoint::load(&a.model, &device)?;
    let decoding = match (a.temperature, a.top_k) {
        (None, None) => Decoding::Greedy,
        (t, k) => Decoding::Sample { temperature: t.unwrap_or(1.0), top_k: k.unwrap_or(0), seed: a.seed },
    };
    let prompt = tok.encode_prompt(&a.prompt, model.max_len());
    let out = lm::generate(&model, &prompt, a.max_new, tok.eos_id(), decoding, &device)?;
    println!("{}", tok.decode(&out));
    Ok(())
}

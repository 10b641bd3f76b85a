//! The step graph: what a preset asks for, as content-addressed steps in dependency order.
//!
//! A [`Step`] is one call of the `doppel` binary that leaves one artifact: a dataset directory
//! ([`Kind::Dataset`]) or a trained reference model ([`Kind::Model`]). Its key is the sha256 of its
//! [key material](Step::material): the kind, the derived config text, the keys of the steps it reads, the device,
//! a digest of the fetched source files it reads, and a fingerprint of the doppel sources that compute it
//! ([`code_fingerprint`]). Equal keys mean equal artifacts, so a key whose artifact exists is reused.
//!
//! To add a stage kind (mining, unlearning, evaluation): add a [`Kind`] with its code paths, an [`Action`]
//! variant carrying what its command needs, plan its steps in [`Plan::build`] after the steps they read (the
//! order of `steps` is a topological order), and run it in `exec.rs`; the cache, the progress lines, sharding and
//! the manifest need nothing new.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use doppel_protocol::{Role, Settings};
use doppel_stdx::hash::hex;
use doppel_stdx::sha256_hex;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::preset::{Builder, Calibrate, Preset, StepConfig};

/// Bump when the layout of an artifact or the meaning of its key changes; every key of that kind changes with it.
const SCHEMA: u32 = 1;

/// The kinds of artifact, each cached under `cache/<dir>/<key>/`: doppel-protocol's `StepKind`, which the report
/// reads too.
pub use doppel_protocol::StepKind as Kind;

/// The three reference models of the study, in table order (doppel-protocol's `Role::ALL`).
pub const ROLES: [&str; 3] = [Role::M0.name(), Role::RetrainExact.name(), Role::RetrainClean.name()];

/// What a step runs.
#[derive(Debug, Clone)]
pub enum Action {
    /// `doppel data <build|build-spam|build-qa> --config <base> <overrides> --out <artifact>/dataset`.
    BuildDataset {
        /// The build config: the preset's file and the step's overrides.
        config: StepConfig,
        /// Which `doppel data` command.
        builder: Builder,
    },
    /// `doppel lm train --data <dep>/dataset --config <base> <overrides> --role <role> --out <artifact>/<role>`,
    /// then `doppel lm eval --model <artifact>/<role> --out <artifact>` (`lm-eval.json`).
    TrainLm {
        /// The LM train config: the preset's file and the step's overrides.
        config: StepConfig,
        /// m0, retrain_exact or retrain_clean.
        role: &'static str,
    },
    /// `doppel lm unlearn --data <dep 0>/dataset --model <dep 1>/m0 --method <method> --scope <scope> --config
    /// <config> --out <artifact>/model`, then `doppel lm eval --model <artifact>/model --out <artifact>`.
    UnlearnLm {
        /// The method settings file's text.
        config: String,
        /// The method, as `doppel lm unlearn --method` names it.
        method: &'static str,
        /// exact or lineage.
        scope: &'static str,
    },
    /// `doppel train --dataset <dep>/dataset --config <base> <overrides> --which <roles> --out <artifact>`.
    Train {
        /// The train config: the preset's file and the step's overrides.
        config: StepConfig,
        /// m0, retrain_exact or retrain_clean; or retrain_exact and retrain_clean where the arm's
        /// [`clean_is_exact`](crate::preset::Builder::clean_is_exact) (one model, written under both roles).
        roles: &'static [&'static str],
    },
    /// See [`AttackAction`].
    Attack(AttackAction),
    /// `doppel mine neighbours --dataset <dep 0>/dataset --config <config> --exact --out <artifact>/mine`, with
    /// the embeddings cached in the build folder and removed after, so the dataset artifact never changes.
    Mine {
        /// The mining config's text.
        config: String,
    },
    /// `doppel unlearn --dataset <dep 0>/dataset --checkpoint <dep 1>/m0 --method <method> --scope <scope>
    /// --config <config> --out <artifact>/model`; for scope mined, `--mined-rows <dep 2>/mine/neighbours.parquet`;
    /// for [`Settings::Search`], `--search --reference <last dep>/retrain_exact`; for [`Settings::Calibration`],
    /// `--search --objective kl-forget --reference <last dep>/retrain_exact`; for [`Settings::Calibrated`],
    /// `--config <last dep>/model/settings.toml` (the calibration's choice) instead of `config`.
    Unlearn {
        /// The method settings file's text.
        config: String,
        /// The method, as `doppel unlearn --method` names it.
        method: &'static str,
        /// exact, mined or lineage.
        scope: &'static str,
        /// Where the settings come from, and so what the last dep is.
        settings: Settings,
    },
    /// `doppel eval --dataset <dep 0>/dataset --runs <one folder per seed> --out <artifact>/eval`, where the run
    /// folder of seed `seeds[i]` holds the models of deps `1 + 3i ..= 3 + 3i` ([`ROLES`] order), and after the
    /// `3 · seeds.len()` model deps come the unlearned models, `unlearned[j]` naming dep `1 + 3 · seeds.len() + j`,
    /// then, when `attacks`, each seed's attack step in seed order, then, when `near_rows`, the mine step.
    Eval {
        /// The training seeds, in dependency order.
        seeds: Vec<u64>,
        /// (seed, folder name `<method>-<scope>`) of each unlearned model dep, in dependency order.
        unlearned: Vec<(u64, String)>,
        /// Whether the last `seeds.len()` deps are each seed's attack step (`doppel eval --attacks`).
        attacks: bool,
        /// The seed of the logistic-regression attack's folds.
        attack_seed: u64,
        /// Whether the last dep is the arm's mine step at this k, whose neighbours split the retain set into
        /// near and far rows (`doppel eval --near-rows <dep>/mine/neighbours.parquet`).
        near_rows: bool,
    },
}

/// What an attack step runs: `doppel attack --dataset <dep 0>/dataset --model <name>=<dep>/… --attack <attacks>
/// --candidates <m> --steps <n> --seed <seed> --out <artifact>/attack`.
#[derive(Debug, Clone)]
pub struct AttackAction {
    /// Model names, one per dependency after the dataset: m0, retrain_exact, retrain_clean, then unlearned models
    /// as `<method>-<scope>`.
    pub models: Vec<String>,
    /// `kkt,inversion` or one of them.
    pub attacks: String,
    /// KKT candidates.
    pub candidates: usize,
    /// Adam steps.
    pub steps: usize,
    /// The attack's seed (the training seed of the models).
    pub seed: u64,
}

/// What a searched run's model name adds to its method: `ga+search-exact` beside `ga-exact`.
pub const SEARCH_SUFFIX: &str = "+search";
/// What a calibration step's model name adds to its method (`ga+calibration-exact`); it is not a table row.
pub const CALIBRATION_SUFFIX: &str = "+calibration";

/// The seed of `doppel eval`'s logistic-regression attack (balancing and folds) in every eval step.
pub const EVAL_ATTACK_SEED: u64 = 0;

/// Where a step sits in the sweep; the report groups by these.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Coords {
    /// Index of the dataset arm in the preset.
    pub arm: usize,
    /// The arm's label.
    pub dataset: String,
    /// Variants per target.
    pub k: usize,
    /// The seed, when the step depends on one.
    pub seed: Option<u64>,
    /// The model role, for model steps.
    pub role: Option<&'static str>,
}

/// One step of the plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// The artifact kind.
    pub kind: Kind,
    /// sha256 of `material`, hex.
    pub key: String,
    /// The canonical JSON the key hashes.
    pub material: String,
    /// Human-readable: `smoke k=7 seed=1 m0`.
    pub label: String,
    /// A file name for the derived config: `smoke-k7-seed1-m0`.
    pub slug: String,
    /// Indices of the steps whose artifacts this one reads; all smaller than this step's index.
    pub deps: Vec<usize>,
    /// What it runs.
    pub action: Action,
    /// Where it sits in the sweep.
    pub coords: Coords,
}

/// The run-wide inputs of every key.
#[derive(Debug, Clone)]
pub struct KeyContext {
    /// `flex` or `wgpu`.
    pub device: String,
    /// [`code_fingerprint`] of each kind, in [`Kind::ALL`] order.
    pub code: Vec<(Kind, String)>,
    /// sha256 of each fetched source's file list (from its `.fetched.json`), by source name.
    pub sources: Vec<(String, String)>,
}

impl KeyContext {
    fn code(&self, kind: Kind) -> &str {
        self.code.iter().find(|(k, _)| *k == kind).map_or("", |(_, c)| c.as_str())
    }

    fn source(&self, name: &str) -> Option<&str> {
        self.sources.iter().find(|(n, _)| n == name).map(|(_, d)| d.as_str())
    }
}

/// The whole sweep as steps, in a topological order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The steps; a step's dependencies come before it.
    pub steps: Vec<Step>,
}

#[derive(Serialize)]
struct Material<'a> {
    kind: Kind,
    schema: u32,
    code: &'a str,
    config: &'a str,
    inputs: Vec<&'a str>,
    source_files: Option<&'a str>,
    device: Option<&'a str>,
    role: Option<&'a str>,
}

impl Plan {
    /// Expands `preset` into steps: per arm and k (and seed, when the preset reseeds data) a dataset, then per
    /// seed the three reference models trained on it, then one evaluation of all of them.
    pub fn build(preset: &Preset, ctx: &KeyContext) -> Result<Plan> {
        let mut steps: Vec<Step> = Vec::new();
        // Per arm, (method, calibration step) of the methods it calibrates at its k = 0; an arm with
        // `calibrate.from` reads an earlier arm's.
        let mut calibrated: Vec<Vec<(&'static str, usize)>> = Vec::with_capacity(preset.datasets.len());
        for (a, arm) in preset.datasets.iter().enumerate() {
            let digests = arm
                .sources
                .iter()
                .map(|s| {
                    ctx.source(s).with_context(|| {
                        format!("the {s} dataset is not fetched; run `cargo xtask data fetch --only {s}`")
                    })
                })
                .collect::<Result<Vec<&str>>>()?;
            let joined = digests.join(",");
            let source_files = if digests.is_empty() { None } else { Some(joined.as_str()) };
            // (method, calibration step) of this arm, planned at k = 0 and read at every k.
            let mut calibrations: Vec<(&'static str, usize)> =
                match arm.unlearn.as_ref().and_then(|u| u.calibrate.as_ref()) {
                    Some(Calibrate::From(b)) => calibrated[*b].clone(),
                    _ => Vec::new(),
                };
            for &k in &arm.k {
                let data_seeds: Vec<Option<u64>> =
                    if preset.reseed_data { arm.seeds.iter().map(|&s| Some(s)).collect() } else { vec![None] };
                for data_seed in data_seeds {
                    let config = preset.dataset_config(arm, k, data_seed)?;
                    let key_text = config.key_text();
                    let material = Material {
                        kind: Kind::Dataset,
                        schema: SCHEMA,
                        code: ctx.code(Kind::Dataset),
                        config: &key_text,
                        inputs: vec![],
                        source_files,
                        device: None,
                        role: None,
                    };
                    let seed_part = data_seed.map(|s| format!(" data_seed={s}")).unwrap_or_default();
                    let slug_part = data_seed.map(|s| format!("-dseed{s}")).unwrap_or_default();
                    let ds = push(
                        &mut steps,
                        Kind::Dataset,
                        &material,
                        format!("{} k={k}{seed_part}", arm.label),
                        format!("{}-k{k}{slug_part}", arm.label),
                        vec![],
                        Action::BuildDataset { config: config.clone(), builder: arm.builder },
                        Coords { arm: a, dataset: arm.label.clone(), k, seed: data_seed, role: None },
                    )?;
                    if arm.builder.is_lm() {
                        let seeds: Vec<u64> = data_seed.map_or_else(|| arm.seeds.clone(), |s| vec![s]);
                        plan_lm(&mut steps, ctx, preset, a, k, ds, &seeds)?;
                        continue;
                    }
                    let mine_step = match arm
                        .unlearn
                        .as_ref()
                        .filter(|u| u.k.contains(&k))
                        .and_then(|u| u.mine.as_ref())
                    {
                        None => None,
                        Some((_, text)) => Some(push_derived(
                            &mut steps,
                            ctx,
                            Derived {
                                kind: Kind::Mine,
                                config: text,
                                role: None,
                                deps: vec![ds],
                                label: format!("{} k={k}{seed_part} mine", arm.label),
                                slug: format!("{}-k{k}{slug_part}-mine", arm.label),
                                action: Action::Mine { config: text.clone() },
                                coords: Coords { arm: a, dataset: arm.label.clone(), k, seed: data_seed, role: None },
                            },
                        )?),
                    };
                    let seeds: Vec<u64> = data_seed.map_or_else(|| arm.seeds.clone(), |s| vec![s]);
                    let mut models = Vec::new();
                    let mut unlearned: Vec<(u64, String, usize)> = Vec::new();
                    for &seed in &seeds {
                        models.extend(push_references(&mut steps, ctx, preset, a, k, ds, seed)?);
                    }
                    // The calibration: at k = 0, one search per method from the calibration seed's M0 against its
                    // retrain_exact; every unlearn step of the arm (any k, any scope) reads the chosen settings.
                    if let (0, Some(u)) = (k, arm.unlearn.as_ref())
                        && let Some(Calibrate::Seed(c)) = u.calibrate
                        && let Some(n) = seeds.iter().position(|&s| s == c)
                    {
                        let seed = seeds[n];
                        let (m0, retrain_exact) = (models[n * ROLES.len()], models[n * ROLES.len() + 1]);
                        for &method in &u.methods {
                            let role = format!("{method} calibration");
                            let i = push_derived(
                                &mut steps,
                                ctx,
                                Derived {
                                    kind: Kind::Unlearn,
                                    config: &u.config,
                                    role: Some(&role),
                                    deps: vec![ds, m0, retrain_exact],
                                    label: format!("{} k=0 seed={seed} {method} calibration", arm.label),
                                    slug: format!("{}-k0-seed{seed}-{method}-calibration", arm.label),
                                    action: Action::Unlearn {
                                        config: u.config.clone(),
                                        method,
                                        scope: "exact",
                                        settings: Settings::Calibration,
                                    },
                                    coords: Coords {
                                        arm: a,
                                        dataset: arm.label.clone(),
                                        k,
                                        seed: Some(seed),
                                        role: Some(method),
                                    },
                                },
                            )?;
                            calibrations.push((method, i));
                        }
                    }
                    for (n, &seed) in seeds.iter().enumerate() {
                        let Some(u) = arm.unlearn.as_ref().filter(|u| u.k.contains(&k) && u.seeds.contains(&seed))
                        else {
                            continue;
                        };
                        let (m0, retrain_exact) = (models[n * ROLES.len()], models[n * ROLES.len() + 1]);
                        for &method in &u.methods {
                            let calibration = calibrations.iter().find(|(m, _)| *m == method).map(|(_, i)| *i);
                            if u.calibrate.is_some() && calibration.is_none() {
                                bail!(
                                    "{}: the calibration of {method} (k = 0) is not planned before k = {k}; the \
                                     arm's k must start at 0",
                                    arm.label
                                );
                            }
                            for &scope in &u.scopes {
                                let searched = u.search.as_ref().is_some_and(|s| s.covers(k, scope));
                                for search in [false, true].into_iter().filter(|&x| !x || searched) {
                                    let mut deps = vec![ds, m0];
                                    if scope == "mined" {
                                        deps.extend(mine_step);
                                    }
                                    let settings = match (search, calibration) {
                                        (true, _) => {
                                            deps.push(retrain_exact);
                                            Settings::Search
                                        }
                                        (false, Some(c)) => {
                                            deps.push(c);
                                            Settings::Calibrated
                                        }
                                        (false, None) => Settings::Config,
                                    };
                                    let shown = if search { format!("{method}{SEARCH_SUFFIX}") } else { method.into() };
                                    let name = format!("{shown}-{scope}");
                                    let role = format!("{shown} {scope}");
                                    let i = push_derived(
                                        &mut steps,
                                        ctx,
                                        Derived {
                                            kind: Kind::Unlearn,
                                            config: &u.config,
                                            role: Some(&role),
                                            deps,
                                            label: format!("{} k={k} seed={seed} {shown} {scope}", arm.label),
                                            slug: format!("{}-k{k}-seed{seed}-{name}", arm.label),
                                            action: Action::Unlearn {
                                                config: u.config.clone(),
                                                method,
                                                scope,
                                                settings,
                                            },
                                            coords: Coords {
                                                arm: a,
                                                dataset: arm.label.clone(),
                                                k,
                                                seed: Some(seed),
                                                role: Some(method),
                                            },
                                        },
                                    )?;
                                    unlearned.push((seed, name, i));
                                }
                            }
                        }
                    }
                    let mut attack_steps: Vec<usize> = Vec::new();
                    if let Some(at) = arm.attack.as_ref().filter(|t| t.k.contains(&k)) {
                        for (n, &seed) in seeds.iter().enumerate() {
                            if !at.seeds.contains(&seed) {
                                continue;
                            }
                            let mut deps = vec![ds];
                            let mut names: Vec<String> = ROLES.iter().map(|r| (*r).to_string()).collect();
                            deps.extend(&models[n * ROLES.len()..(n + 1) * ROLES.len()]);
                            for (s_, name, i) in &unlearned {
                                if *s_ == seed {
                                    deps.push(*i);
                                    names.push(name.clone());
                                }
                            }
                            let action = AttackAction {
                                models: names,
                                attacks: at.attacks.join(","),
                                candidates: at.candidates,
                                steps: at.steps,
                                seed,
                            };
                            let config = format!(
                                "doppel attack --attack {} --candidates {} --steps {} --seed {seed} --model {}",
                                action.attacks,
                                action.candidates,
                                action.steps,
                                action.models.join(",")
                            );
                            let i = push_derived(
                                &mut steps,
                                ctx,
                                Derived {
                                    kind: Kind::Attack,
                                    config: &config,
                                    role: None,
                                    deps,
                                    label: format!("{} k={k} seed={seed} attack", arm.label),
                                    slug: format!("{}-k{k}-seed{seed}-attack", arm.label),
                                    action: Action::Attack(action),
                                    coords: Coords {
                                        arm: a,
                                        dataset: arm.label.clone(),
                                        k,
                                        seed: Some(seed),
                                        role: None,
                                    },
                                },
                            )?;
                            attack_steps.push(i);
                        }
                    }
                    let config = format!(
                        "doppel eval --seed {EVAL_ATTACK_SEED}{}; runs of seeds {}",
                        if mine_step.is_some() { " --near-rows mine" } else { "" },
                        seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                    );
                    let mut deps = vec![ds];
                    deps.extend(&models);
                    deps.extend(unlearned.iter().map(|(_, _, i)| *i));
                    // doppel eval adds the reconstruction columns when every run has its attack.
                    if attack_steps.len() != seeds.len() {
                        attack_steps.clear();
                    }
                    deps.extend(&attack_steps);
                    deps.extend(mine_step);
                    push_derived(
                        &mut steps,
                        ctx,
                        Derived {
                            kind: Kind::Eval,
                            config: &config,
                            role: None,
                            deps,
                            label: format!("{} k={k}{seed_part} eval", arm.label),
                            slug: format!("{}-k{k}{slug_part}-eval", arm.label),
                            action: Action::Eval {
                                seeds: seeds.clone(),
                                unlearned: unlearned.iter().map(|(seed, name, _)| (*seed, name.clone())).collect(),
                                attacks: !attack_steps.is_empty(),
                                attack_seed: EVAL_ATTACK_SEED,
                                near_rows: mine_step.is_some(),
                            },
                            coords: Coords { arm: a, dataset: arm.label.clone(), k, seed: data_seed, role: None },
                        },
                    )?;
                }
            }
            calibrated.push(calibrations);
        }
        Ok(Plan { steps })
    }

    /// The steps shard `index` of `count` runs, in plan order: the steps at positions `index`, `index + count`, …
    /// of the list sorted by key, plus everything they read. Every step is assigned to exactly one shard; a
    /// dependency assigned elsewhere is built by whichever shard gets to it first (the cache's lock and atomic
    /// rename make that safe) and reused by the others.
    pub fn shard(&self, index: usize, count: usize) -> Vec<usize> {
        let mut by_key: Vec<usize> = (0..self.steps.len()).collect();
        by_key.sort_by(|&a, &b| self.steps[a].key.cmp(&self.steps[b].key));
        let mut chosen = BTreeSet::new();
        let mut stack: Vec<usize> = by_key.into_iter().skip(index).step_by(count.max(1)).collect();
        while let Some(i) = stack.pop() {
            if chosen.insert(i) {
                stack.extend(&self.steps[i].deps);
            }
        }
        chosen.into_iter().collect()
    }
}

/// Pushes the reference models of arm `a` at `k` for `seed`, each trained on the dataset step `ds` (`doppel train`,
/// or `doppel lm train` for a QA arm), and returns their indices in [`ROLES`] order. Where `retrain_clean` is
/// `retrain_exact` by construction ([`Builder::clean_is_exact`](crate::preset::Builder::clean_is_exact)), one step
/// writes both and its index is returned for both roles.
fn push_references(
    steps: &mut Vec<Step>,
    ctx: &KeyContext,
    preset: &Preset,
    a: usize,
    k: usize,
    ds: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    let arm = &preset.datasets[a];
    let train = preset.train_config(arm, seed)?;
    let key_text = train.key_text();
    let groups: &[&'static [&'static str]] = if arm.builder.clean_is_exact(k) {
        &[&ROLES[..1], &ROLES[1..]]
    } else {
        &[&ROLES[..1], &ROLES[1..2], &ROLES[2..]]
    };
    let mut out = Vec::with_capacity(ROLES.len());
    for &roles in groups {
        let role = roles[0];
        let (kind, action) = if arm.builder.is_lm() {
            (Kind::LmModel, Action::TrainLm { config: train.clone(), role })
        } else {
            (Kind::Model, Action::Train { config: train.clone(), roles })
        };
        let (key_role, shown) = (roles.join(","), roles.join("="));
        let i = push_derived(
            steps,
            ctx,
            Derived {
                kind,
                config: &key_text,
                role: Some(&key_role),
                deps: vec![ds],
                label: format!("{} k={k} seed={seed} {shown}", arm.label),
                slug: format!("{}-k{k}-seed{seed}-{}", arm.label, roles.join("-")),
                action,
                coords: Coords { arm: a, dataset: arm.label.clone(), k, seed: Some(seed), role: Some(role) },
            },
        )?;
        out.extend(roles.iter().map(|_| i));
    }
    Ok(out)
}

/// The steps of a QA arm at `k` after its dataset `ds`: per seed the three reference LMs, then each method under
/// each scope from that seed's M0; every step evaluates its model (`doppel lm eval`), so the arm needs no eval
/// step.
fn plan_lm(
    steps: &mut Vec<Step>,
    ctx: &KeyContext,
    preset: &Preset,
    a: usize,
    k: usize,
    ds: usize,
    seeds: &[u64],
) -> Result<()> {
    let arm = &preset.datasets[a];
    let coords = |seed: u64, role: &'static str| Coords {
        arm: a,
        dataset: arm.label.clone(),
        k,
        seed: Some(seed),
        role: Some(role),
    };
    for &seed in seeds {
        let m0 = push_references(steps, ctx, preset, a, k, ds, seed)?.first().copied();
        let (Some(m0), Some(u)) = (m0, arm.unlearn.as_ref().filter(|u| u.k.contains(&k) && u.seeds.contains(&seed)))
        else {
            continue;
        };
        for &method in &u.methods {
            // Without paraphrases the lineage is the targets alone: the same run as the exact scope.
            for &scope in u.scopes.iter().filter(|&&s| k > 0 || s == "exact") {
                let role = format!("{method} {scope}");
                push_derived(
                    steps,
                    ctx,
                    Derived {
                        kind: Kind::LmUnlearn,
                        config: &u.config,
                        role: Some(&role),
                        deps: vec![ds, m0],
                        label: format!("{} k={k} seed={seed} {method} {scope}", arm.label),
                        slug: format!("{}-k{k}-seed{seed}-{method}-{scope}", arm.label),
                        action: Action::UnlearnLm { config: u.config.clone(), method, scope },
                        coords: coords(seed, method),
                    },
                )?;
            }
        }
    }
    Ok(())
}

/// A step that runs on the device and reads the artifacts of `deps`: everything but a dataset build.
struct Derived<'a> {
    kind: Kind,
    /// The config text (or command line) that, with the dependencies' keys, decides the artifact.
    config: &'a str,
    /// The model role, or method and scope, when the config alone does not say which artifact it is.
    role: Option<&'a str>,
    deps: Vec<usize>,
    label: String,
    slug: String,
    action: Action,
    coords: Coords,
}

/// Pushes `d` with its key material: kind, schema, code fingerprint, config, the keys of its dependencies, device
/// and role.
fn push_derived(steps: &mut Vec<Step>, ctx: &KeyContext, d: Derived<'_>) -> Result<usize> {
    let keys: Vec<String> = d.deps.iter().map(|&i| steps[i].key.clone()).collect();
    let material = Material {
        kind: d.kind,
        schema: SCHEMA,
        code: ctx.code(d.kind),
        config: d.config,
        inputs: keys.iter().map(String::as_str).collect(),
        source_files: None,
        device: Some(&ctx.device),
        role: d.role,
    };
    push(steps, d.kind, &material, d.label, d.slug, d.deps, d.action, d.coords)
}

#[allow(clippy::too_many_arguments)]
fn push(
    steps: &mut Vec<Step>,
    kind: Kind,
    material: &Material<'_>,
    label: String,
    slug: String,
    deps: Vec<usize>,
    action: Action,
    coords: Coords,
) -> Result<usize> {
    let material = serde_json::to_string(material).context("cannot encode a step's key material")?;
    let key = sha256_hex(material.as_bytes());
    if let Some(dup) = steps.iter().find(|s| s.key == key) {
        bail!("the preset asks twice for the same step ({} and {label}); remove one of them", dup.label);
    }
    steps.push(Step { kind, key, material, label, slug, deps, action, coords });
    Ok(steps.len() - 1)
}

/// A digest of the sources under `root` that `paths` name: each file as is, each crate folder as its `Cargo.toml`
/// and every file under its `src/` (tests, examples and benches do not change what the binary computes). Files
/// are taken in path order, each as `path NUL length NUL bytes`.
pub fn code_fingerprint(root: &Path, paths: &[&str]) -> Result<String> {
    let mut files: Vec<String> = Vec::new();
    for p in paths {
        let full = root.join(p);
        if full.is_file() {
            files.push((*p).to_string());
        } else if full.is_dir() {
            files.push(format!("{p}/Cargo.toml"));
            walk(root, &format!("{p}/src"), &mut files)?;
        } else {
            bail!("{} does not exist; run the xtask from a doppel checkout", full.display());
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        let bytes = std::fs::read(root.join(f)).with_context(|| format!("cannot read {f} for the code fingerprint"))?;
        h.update(f.as_bytes());
        h.update([0]);
        h.update(bytes.len().to_string().as_bytes());
        h.update([0]);
        h.update(&bytes);
    }
    Ok(hex(&h.finalize()))
}

fn walk(root: &Path, rel: &str, out: &mut Vec<String>) -> Result<()> {
    let dir = root.join(rel);
    if !dir.is_dir() {
        return Ok(());
    }
    for e in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let child = format!("{rel}/{name}");
        let ty = e.file_type().with_context(|| format!("cannot stat {child}"))?;
        if ty.is_dir() {
            walk(root, &child, out)?;
        } else if ty.is_file() {
            out.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).unwrap().to_path_buf()
    }

    fn smoke_plan(device: &str) -> Plan {
        let path = Preset::locate(&root(), "smoke").unwrap();
        let preset = Preset::load(&path, &root()).unwrap();
        let ctx = KeyContext {
            device: device.into(),
            code: Kind::ALL.iter().map(|k| (*k, format!("code-{k}"))).collect(),
            sources: vec![],
        };
        Plan::build(&preset, &ctx).unwrap()
    }

    #[test]
    fn steps_come_after_their_dependencies_and_keys_are_unique() {
        let plan = smoke_plan("flex");
        let keys: BTreeSet<&str> = plan.steps.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys.len(), plan.steps.len());
        for (i, s) in plan.steps.iter().enumerate() {
            assert!(s.deps.iter().all(|&d| d < i), "{} reads a later step", s.label);
        }
        assert!(plan.steps.iter().any(|s| s.kind == Kind::Dataset));
    }

    #[test]
    fn calibrated_steps_read_their_methods_calibration_at_k_0() {
        let plan = smoke_plan("flex");
        let calibrations: Vec<(usize, &Step)> = plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.action, Action::Unlearn { settings: Settings::Calibration, .. }))
            .collect();
        assert_eq!(calibrations.len(), 3, "one per method of the smoke arm");
        for (i, c) in &calibrations {
            let Action::Unlearn { method, scope, .. } = c.action else { unreachable!() };
            assert_eq!((c.coords.k, c.coords.seed, scope), (0, Some(1), "exact"), "{}", c.label);
            // Its deps: the k = 0 dataset, seed 1's M0 and retrain_exact at k = 0.
            let roles: Vec<Option<&str>> = c.deps.iter().map(|&d| plan.steps[d].coords.role).collect();
            assert_eq!(roles, [None, Some("m0"), Some("retrain_exact")], "{}", c.label);
            assert!(c.deps.iter().all(|&d| plan.steps[d].coords.k == 0));
            // Every non-searched unlearn step of the method reads it, last; the searched ones do not.
            for s in &plan.steps {
                if let Action::Unlearn { method: m, settings, .. } = s.action {
                    if m != method || settings == Settings::Calibration {
                        continue;
                    }
                    let reads = s.deps.last() == Some(i);
                    assert_eq!(reads, settings == Settings::Calibrated, "{}", s.label);
                    assert!(settings != Settings::Config, "{}: the smoke arm calibrates every method", s.label);
                }
            }
        }
    }

    #[test]
    fn at_k_0_one_step_writes_retrain_exact_and_retrain_clean() {
        let plan = smoke_plan("flex");
        let models = |k: usize| -> Vec<&Step> {
            plan.steps.iter().filter(|s| s.kind == Kind::Model && s.coords.k == k && s.coords.seed == Some(1)).collect()
        };
        let roles = |k: usize| -> Vec<&[&str]> {
            models(k)
                .iter()
                .map(|s| match &s.action {
                    Action::Train { roles, .. } => *roles,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        // k = 0 plants no variants: the oracles share rows, recipe and seeds, so one model is trained for both.
        assert_eq!(roles(0), [&["m0"][..], &["retrain_exact", "retrain_clean"]]);
        assert_eq!(roles(7), [&["m0"][..], &["retrain_exact"], &["retrain_clean"]]);
        let shared = models(0)[1];
        assert_eq!(shared.label, "smoke k=0 seed=1 retrain_exact=retrain_clean");
        assert!(shared.material.contains("\"role\":\"retrain_exact,retrain_clean\""), "{}", shared.material);
        // The k = 0 eval reads it as both oracles of each seed: deps 1 + 3i ..= 3 + 3i are m0, exact, clean.
        let eval = plan.steps.iter().find(|s| s.kind == Kind::Eval && s.coords.k == 0).unwrap();
        for i in 0..3 {
            let (exact, clean) = (eval.deps[2 + 3 * i], eval.deps[3 + 3 * i]);
            assert_eq!(exact, clean, "{}", eval.label);
            assert!(matches!(plan.steps[exact].action, Action::Train { roles: [_, _], .. }));
        }
        // A SpamAssassin arm's look-alikes are natural: at k = 0 its oracles are two models.
        assert!(
            !Builder::Spam.clean_is_exact(0) && !Builder::Qa.clean_is_exact(0) && !Builder::Images.clean_is_exact(7)
        );
    }

    #[test]
    fn an_arm_with_a_borrowed_calibration_reads_the_earlier_arms_steps() {
        let text = crate::preset::tests::borrowed_calibration(
            "{ config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"ga\"], scopes = [\"exact\", \"lineage\"], \
             calibrate = { from = \"a\" } }",
            "configs/train/smoke-mlp.toml",
        );
        let preset = Preset::from_toml(&text, "p.toml", &root()).unwrap();
        let ctx = KeyContext {
            device: "flex".into(),
            code: Kind::ALL.iter().map(|k| (*k, format!("c-{k}"))).collect(),
            sources: vec![],
        };
        let plan = Plan::build(&preset, &ctx).unwrap();
        let calibration = |s: &Step| matches!(s.action, Action::Unlearn { settings: Settings::Calibration, .. });
        let ga_calibration = plan
            .steps
            .iter()
            .position(|s| calibration(s) && matches!(s.action, Action::Unlearn { method: "ga", .. }))
            .unwrap();
        assert_eq!(plan.steps[ga_calibration].coords.dataset, "a");
        assert_eq!(plan.steps.iter().filter(|s| calibration(s)).count(), 2, "a calibrates ft and ga; b nothing");
        let b: Vec<&Step> = plan
            .steps
            .iter()
            .filter(|s| s.coords.dataset == "b" && matches!(s.action, Action::Unlearn { .. }))
            .collect();
        assert_eq!(b.len(), 2 * 2, "ga under two scopes for seeds 3 and 1");
        for s in b {
            assert!(matches!(s.action, Action::Unlearn { settings: Settings::Calibrated, .. }), "{}", s.label);
            assert_eq!(s.deps.last(), Some(&ga_calibration), "{}", s.label);
        }
    }

    #[test]
    fn the_device_changes_model_keys_only() {
        let (a, b) = (smoke_plan("flex"), smoke_plan("wgpu"));
        for (x, y) in a.steps.iter().zip(&b.steps) {
            // Every step after the dataset runs on the device (mining: the model-backed embedders).
            assert_eq!(x.key == y.key, x.kind == Kind::Dataset, "{}", x.label);
        }
        assert_eq!(smoke_plan("flex").steps[0].key, a.steps[0].key, "keys are stable");
    }

    #[test]
    fn shards_cover_every_step_and_bring_their_dependencies() {
        let plan = smoke_plan("flex");
        for n in 1..=4 {
            let mut seen = BTreeSet::new();
            for i in 0..n {
                let shard = plan.shard(i, n);
                assert!(shard.windows(2).all(|w| w[0] < w[1]), "plan order");
                for &s in &shard {
                    assert!(plan.steps[s].deps.iter().all(|d| shard.contains(d)));
                    seen.insert(s);
                }
            }
            assert_eq!(seen.len(), plan.steps.len(), "n = {n}");
        }
        assert_eq!(plan.shard(0, 1), (0..plan.steps.len()).collect::<Vec<_>>());
    }

    #[test]
    fn a_qa_arm_plans_language_models_and_no_eval_step() {
        let text = "name = \"t\"\nseeds = [1, 2]\n[[datasets]]\nconfig = \"configs/qa-wordnet.toml\"\n\
                    train = \"configs/train/qa-lm.toml\"\nbuilder = \"qa\"\nk = [0, 10]\n\
                    unlearn = { config = \"configs/unlearn/lm/qa-lm.toml\", methods = [\"ga\", \"npo\"], \
                    scopes = [\"exact\", \"lineage\"], seeds = [1] }\n";
        let preset = Preset::from_toml(text, "t.toml", &root()).unwrap();
        let ctx = KeyContext {
            device: "flex".into(),
            code: Kind::ALL.iter().map(|k| (*k, format!("code-{k}"))).collect(),
            sources: vec![("minilm".into(), "m".into()), ("wordnet".into(), "w".into())],
        };
        let plan = Plan::build(&preset, &ctx).unwrap();
        let count = |kind: Kind, k: usize| plan.steps.iter().filter(|s| s.kind == kind && s.coords.k == k).count();
        assert_eq!((count(Kind::Dataset, 0), count(Kind::LmModel, 0), count(Kind::LmUnlearn, 0)), (1, 6, 2));
        assert_eq!((count(Kind::Dataset, 10), count(Kind::LmModel, 10), count(Kind::LmUnlearn, 10)), (1, 6, 4));
        assert!(plan.steps.iter().all(|s| !matches!(s.kind, Kind::Model | Kind::Unlearn | Kind::Eval | Kind::Mine)));
        // k sets the paraphrases kept per target; both fetched sources enter the dataset's key.
        let ds = plan.steps.iter().find(|s| s.kind == Kind::Dataset && s.coords.k == 10).unwrap();
        let Action::BuildDataset { config, builder } = &ds.action else { panic!("{:?}", ds.action) };
        assert_eq!(*builder, Builder::Qa);
        assert_eq!(config.sets, ["paraphrases.per_target=10"], "{config:?}");
        assert!(ds.material.contains("\"source_files\":\"w,m\""), "{}", ds.material);
        let labels: Vec<&str> =
            plan.steps.iter().filter(|s| s.kind == Kind::LmUnlearn).map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "qa-wordnet k=0 seed=1 ga exact",
                "qa-wordnet k=0 seed=1 npo exact",
                "qa-wordnet k=10 seed=1 ga exact",
                "qa-wordnet k=10 seed=1 ga lineage",
                "qa-wordnet k=10 seed=1 npo exact",
                "qa-wordnet k=10 seed=1 npo lineage"
            ]
        );
        // Every unlearn step reads its dataset and that seed's M0.
        for s in plan.steps.iter().filter(|s| s.kind == Kind::LmUnlearn) {
            assert_eq!(plan.steps[s.deps[1]].coords.role, Some("m0"), "{}", s.label);
            assert_eq!(plan.steps[s.deps[0]].kind, Kind::Dataset);
        }
        // An image method or scope is refused on a QA arm, with the key named.
        let bad = text.replace("\"npo\"", "\"salun\"");
        let e = format!("{:#}", Preset::from_toml(&bad, "t.toml", &root()).unwrap_err());
        assert!(e.contains("`datasets[0].unlearn.methods` holds \"salun\"; use retrain, ft, ga, grad_diff"), "{e}");
        let bad = text.replace("\"lineage\"", "\"mined\"");
        let e = format!("{:#}", Preset::from_toml(&bad, "t.toml", &root()).unwrap_err());
        assert!(e.contains("`datasets[0].unlearn.scopes` holds \"mined\"; use exact, lineage"), "{e}");
    }

    #[test]
    fn the_fingerprint_follows_the_sources() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("c/src/sub")).unwrap();
        std::fs::create_dir_all(r.join("c/tests")).unwrap();
        std::fs::write(r.join("c/Cargo.toml"), "x").unwrap();
        std::fs::write(r.join("c/src/sub/a.rs"), "a").unwrap();
        std::fs::write(r.join("Cargo.lock"), "l").unwrap();
        let f0 = code_fingerprint(r, &["Cargo.lock", "c"]).unwrap();
        std::fs::write(r.join("c/tests/t.rs"), "t").unwrap();
        assert_eq!(code_fingerprint(r, &["Cargo.lock", "c"]).unwrap(), f0, "tests do not count");
        std::fs::write(r.join("c/src/sub/a.rs"), "b").unwrap();
        assert_ne!(code_fingerprint(r, &["Cargo.lock", "c"]).unwrap(), f0);
        let e = code_fingerprint(r, &["nope"]).unwrap_err().to_string();
        assert!(e.contains("nope does not exist"), "{e}");
    }
}

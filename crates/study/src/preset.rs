//! Presets: the sweep `cargo xtask reproduce` runs, read from `configs/presets/<name>.toml`.
//!
//! ```toml
//! name = "smoke"
//! description = "synthetic shapes, no download"
//! seeds = [1, 2]                          # training seeds: each replaces the train config's `seed`
//! reseed_data = false                     # true: the seed also replaces the dataset config's `seed`
//!
//! [[datasets]]
//! config = "configs/smoke.toml"           # a `doppel data build` config, from the workspace root
//! train = "configs/train/smoke-mlp.toml"  # a `doppel train` config, from the workspace root
//! k = [0, 7, 21]                          # variants per target to sweep (doppel-stdx `scale_groups`)
//! label = "smoke"                         # optional; default: the dataset config's `name`
//! builder = "spam"                       # optional: `images` (default, `doppel data build`), `spam`
//!                                         # (`doppel data build-spam`: natural look-alikes, so k = [0]) or
//!                                         # `qa` (`doppel data build-qa`: k sets `paraphrases.per_target`; the
//!                                         # train config is a `doppel lm train` config, the unlearn methods
//!                                         # `doppel lm unlearn`'s, under scopes exact and lineage)
//! seeds = [1]                             # optional: this arm's training seeds instead of the preset's (any
//!                                         # list, e.g. 16 seeds for an ε-score arm)
//!                                         # (default: all of them)
//! set = { "source.train_per_class" = 500 }   # optional: dotted keys set in the dataset config
//!                                            # ("variants.0.ratio" = 0.5: a number picks a [[variants]] group)
//! train_set = { epochs = 2 }                 # optional: dotted keys set in the train config
//!
//! [datasets.unlearn]                      # optional: unlearn each seed's M0 with these methods and scopes
//! config = "configs/unlearn/mnist-mlp.toml"  # a `doppel unlearn --config` file (method settings)
//! methods = ["ft", "salun"]               # names as `doppel unlearn --method` takes them, or ["all"]
//! scopes = ["exact", "lineage"]           # exact, mined and/or lineage
//! mine = "configs/mine/patch.toml"        # for scope mined: a `doppel mine` config (exact search is used)
//! search = { k = [0], scopes = ["exact"] } # optional: also run each method with the budgeted hyperparameter
//!                                         # search (`doppel unlearn --search`, scored against that seed's
//!                                         # retrain_exact) at these k and scopes; rows `<method>+search`
//! calibrate = { seed = 1 }                # optional: choose each method's settings once, at k = 0 (the
//!                                         # control, where retrain_exact = retrain_clean) from this seed's M0,
//!                                         # by mean KL to retrain_exact on F with test accuracy within 3 points
//!                                         # (`doppel unlearn --search --objective kl-forget`); every unlearn step
//!                                         # of the arm then runs those settings, at every k and scope;
//!                                         # or `{ from = "label" }`: an earlier arm's calibration (same
//!                                         # `train` and `unlearn.config`), e.g. one whose targets have no
//!                                         # look-alikes
//!
//! [datasets.attack]                       # optional: reconstruct the targets from each seed's models (MLP only)
//! attacks = ["kkt", "inversion"]          # `doppel attack --attack`
//! candidates = 1000                       # KKT candidates m
//! steps = 1500                            # Adam steps of each attack
//! k = [0, 25]                             # optional: a subset of the arm's k (default: all)
//! seeds = [1]                             # optional: a subset of the arm's seeds (default: all)
//! ```
//!
//! [`Preset::load`] checks everything it can without running doppel (keys, ranges, that the referenced files exist
//! and parse) and names the file and the key in every error; `doppel` itself checks the derived configs when a step
//! runs. The referenced files are never modified, nor edited in a copy: [`Preset::dataset_config`] and
//! [`Preset::train_config`] give each step's [`StepConfig`], the file's text and the `--set` overrides the `doppel`
//! command applies itself (the `set` tables are applied here too, read-only, to check them and to read the sources
//! and groups). Each command writes the config as used into its output, and the report copies it to
//! `OUT/configs/`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use doppel_protocol::{LmMethod, Method, Scope};
use serde::Deserialize;
use toml::{Table, Value};

/// The names of `$t::ALL`, as a constant array of `$n` strings.
macro_rules! names {
    ($t:ident, $n:expr) => {{
        let all = $t::ALL;
        let mut out = [""; $n];
        let mut i = 0;
        while i < $n {
            out[i] = all[i].name();
            i += 1;
        }
        out
    }};
}

/// A checked preset.
#[derive(Debug, Clone)]
pub struct Preset {
    /// The preset's name, `[a-z0-9_-]+`; the default results folder is `results/<name>/`.
    pub name: String,
    /// One line saying what the preset is for.
    pub description: String,
    /// Training seeds, in the order given, without repeats.
    pub seeds: Vec<u64>,
    /// Whether each seed also replaces the dataset config's master seed (new targets and variants per seed).
    pub reseed_data: bool,
    /// The dataset arms, in the order given.
    pub datasets: Vec<DatasetArm>,
}

/// Which `doppel data` command builds an arm's datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    /// `doppel data build`: a fetched or synthetic image set with planted variants, swept over k.
    Images,
    /// `doppel data build-spam`: SpamAssassin, whose look-alikes are the corpus's own near-duplicates; k is 0.
    Spam,
    /// `doppel data build-qa`: WordNet question–answer pairs with k paraphrases per target, for the causal LM
    /// (`doppel lm train`, `doppel lm unlearn`, `doppel lm eval`).
    Qa,
}

impl Builder {
    /// The `doppel data` subcommand that builds this arm's datasets.
    pub fn command(self) -> &'static str {
        match self {
            Builder::Images => "build",
            Builder::Spam => "build-spam",
            Builder::Qa => "build-qa",
        }
    }

    /// Whether the arm trains and unlearns the causal LM rather than a classifier.
    pub fn is_lm(self) -> bool {
        self == Builder::Qa
    }

    /// Whether `retrain_clean` is `retrain_exact` by construction at `k`: an image arm at k = 0 plants no
    /// variants, so the lineage is the targets alone and both oracles train on the same rows with the same recipe
    /// and seeds (bit-identical checkpoints on flex). Not a SpamAssassin arm, whose look-alikes are natural at
    /// every k, nor the QA arm, whose `doppel lm train` writes one role per call.
    pub fn clean_is_exact(self, k: usize) -> bool {
        k == 0 && self == Builder::Images
    }
}

/// One `[[datasets]]` entry: a dataset build config, a train config and the `k` values to sweep.
#[derive(Debug, Clone)]
pub struct DatasetArm {
    /// Which command builds its datasets.
    pub builder: Builder,
    /// The name used in tables, file names and logs.
    pub label: String,
    /// The dataset build config, as written in the preset.
    pub config_path: String,
    /// Its text, as the file says (what the binary is given).
    pub config_text: String,
    /// The preset's `set` table, as `--set key=value` arguments.
    pub config_sets: Vec<String>,
    /// The fetched datasets it reads, by `cargo xtask data fetch` name (none for `synthetic`): an image arm's
    /// `source.dataset`, `spam-assassin`, or `wordnet` and `minilm` for a QA arm.
    pub sources: Vec<String>,
    /// `per_target` of each `[[variants]]` group, in order.
    pub groups: Vec<usize>,
    /// The train config, as written in the preset.
    pub train_path: String,
    /// Its text, as the file says.
    pub train_text: String,
    /// The preset's `train_set` table, as `--set key=value` arguments.
    pub train_sets: Vec<String>,
    /// The `k` values, ascending, without repeats.
    pub k: Vec<usize>,
    /// The training seeds of this arm's models: the preset's, or the arm's own `seeds` in the order given.
    pub seeds: Vec<u64>,
    /// What to unlearn, if anything.
    pub unlearn: Option<UnlearnArm>,
    /// The reconstruction attacks, if any.
    pub attack: Option<AttackArm>,
}

/// A dataset arm's `attack` table, checked.
#[derive(Debug, Clone)]
pub struct AttackArm {
    /// `kkt` and/or `inversion`, in that order.
    pub attacks: Vec<&'static str>,
    /// KKT candidates.
    pub candidates: usize,
    /// Adam steps.
    pub steps: usize,
    /// The k values to attack at (a subset of the arm's).
    pub k: Vec<usize>,
    /// The seeds whose models are attacked (a subset of the arm's).
    pub seeds: Vec<u64>,
}

/// The methods doppel unlearn offers, in table order (`doppel unlearn --method`): doppel-protocol's list.
pub const METHODS: [&str; Method::ALL.len()] = names!(Method, Method::ALL.len());

/// The methods `doppel lm unlearn` offers a QA arm, in table order.
pub const LM_METHODS: [&str; LmMethod::ALL.len()] = names!(LmMethod, LmMethod::ALL.len());

/// The scopes the unlearn stage runs, from the narrowest: the targets, the targets and their mined look-alikes,
/// the targets and all their variants.
pub const SCOPES: [&str; Scope::ALL.len()] = names!(Scope, Scope::ALL.len());

/// The scopes of a QA arm: the target pairs, or the targets and all their paraphrases.
pub const LM_SCOPES: [&str; 2] = [Scope::Exact.name(), Scope::Lineage.name()];

/// A dataset arm's `unlearn` table, checked.
#[derive(Debug, Clone)]
pub struct UnlearnArm {
    /// The method settings file, as written in the preset.
    pub config_path: String,
    /// Its text.
    pub config: String,
    /// Methods, in [`METHODS`] order.
    pub methods: Vec<&'static str>,
    /// Scopes, in [`SCOPES`] order.
    pub scopes: Vec<&'static str>,
    /// The k values to unlearn at (a subset of the arm's).
    pub k: Vec<usize>,
    /// The seeds whose M0 is unlearned (a subset of the arm's).
    pub seeds: Vec<u64>,
    /// For scope `mined`: the mining config file as written in the preset, and its text.
    pub mine: Option<(String, String)>,
    /// Where each method also runs with the budgeted hyperparameter search.
    pub search: Option<SearchArm>,
    /// Where every method's settings come from, when the arm runs calibrated settings.
    pub calibrate: Option<Calibrate>,
}

/// Where an arm's calibrated settings come from (its `unlearn.calibrate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Calibrate {
    /// `{ seed = N }`: the arm calibrates each method at its own k = 0 from seed N's M0 and retrain_exact.
    Seed(u64),
    /// `{ from = "label" }`: the arm runs the settings an earlier arm calibrated (index in `datasets`), e.g. one
    /// whose targets have no look-alikes at all; both arms train the same model with the same method settings.
    From(usize),
}

/// An `unlearn` table's `search` table, checked: the k and scopes (subsets of the unlearn table's) at which every
/// method also runs `doppel unlearn --search` against that seed's `retrain_exact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchArm {
    /// The k values.
    pub k: Vec<usize>,
    /// The scopes, in [`SCOPES`] order.
    pub scopes: Vec<&'static str>,
}

impl SearchArm {
    /// Whether the runs at `k` under `scope` are searched too.
    pub fn covers(&self, k: usize, scope: &str) -> bool {
        self.k.contains(&k) && self.scopes.contains(&scope)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreset {
    name: String,
    description: Option<String>,
    seeds: Vec<i64>,
    reseed_data: Option<bool>,
    datasets: Vec<RawArm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArm {
    config: String,
    train: String,
    k: Vec<i64>,
    label: Option<String>,
    builder: Option<String>,
    seeds: Option<Vec<i64>>,
    set: Option<Table>,
    train_set: Option<Table>,
    unlearn: Option<RawUnlearn>,
    attack: Option<RawAttack>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttack {
    attacks: Vec<String>,
    candidates: i64,
    steps: i64,
    k: Option<Vec<i64>>,
    seeds: Option<Vec<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnlearn {
    config: String,
    methods: Vec<String>,
    scopes: Vec<String>,
    k: Option<Vec<i64>>,
    seeds: Option<Vec<i64>>,
    mine: Option<String>,
    search: Option<RawSearch>,
    calibrate: Option<RawCalibrate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibrate {
    seed: Option<i64>,
    from: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    k: Option<Vec<i64>>,
    scopes: Vec<String>,
}

/// A preset error: `file: \`key\` problem`.
#[derive(Debug)]
pub struct PresetError {
    /// The file the problem is in.
    pub file: String,
    /// The key, e.g. `datasets[1].k`.
    pub key: String,
    /// What is wrong and what to do.
    pub problem: String,
}

impl fmt::Display for PresetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}` {}", self.file, self.key, self.problem)
    }
}

impl std::error::Error for PresetError {}

/// Whether `s` is usable as a name in file names: `[a-z0-9_-]+`.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
}

/// Parses TOML `text` into a table; a syntax error names `file:line`.
pub fn parse_table(text: &str, file: &str) -> Result<Table> {
    toml::from_str::<Table>(text).map_err(|e| syntax_error(text, file, &e))
}

fn syntax_error(text: &str, file: &str, e: &toml::de::Error) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", doppel_stdx::config::located(file, text, e.span()), e.message().replace('\n', " "))
}

impl Preset {
    /// Finds a preset: a path to a `.toml` file, or a name under `configs/presets/`.
    pub fn locate(root: &Path, preset: &str) -> Result<PathBuf> {
        let as_path = Path::new(preset);
        if preset.ends_with(".toml") || preset.contains('/') {
            return Ok(as_path.to_path_buf());
        }
        let path = root.join("configs/presets").join(format!("{preset}.toml"));
        if !path.is_file() {
            let mut known: Vec<String> = std::fs::read_dir(root.join("configs/presets"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".toml")).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            known.sort();
            bail!("--preset {preset}: there is no {}; use one of {}", path.display(), known.join(", "));
        }
        Ok(path)
    }

    /// Reads and checks the preset at `path`; relative paths inside it resolve against `root`.
    pub fn load(path: &Path, root: &Path) -> Result<Preset> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the preset {file}"))?;
        Self::from_toml(&text, &file, root)
    }

    /// Parses and checks preset `text`; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str, root: &Path) -> Result<Preset> {
        let raw: RawPreset = toml::from_str(text).map_err(|e| syntax_error(text, file, &e))?;
        let err = |key: &str, problem: String| PresetError { file: file.into(), key: key.into(), problem };
        if !is_plain_name(&raw.name) {
            return Err(err("name", format!("is {:?}; use lowercase letters, digits, - and _", raw.name)).into());
        }
        if raw.seeds.is_empty() {
            return Err(err("seeds", "is empty; give at least one seed, e.g. seeds = [1]".into()).into());
        }
        let mut seeds = Vec::new();
        for &s in &raw.seeds {
            let s = u64::try_from(s).map_err(|_| err("seeds", format!("holds {s}; seeds are 0 or more")))?;
            if seeds.contains(&s) {
                return Err(err("seeds", format!("holds {s} twice")).into());
            }
            seeds.push(s);
        }
        if raw.datasets.is_empty() {
            return Err(err("datasets", "is empty; add at least one [[datasets]] entry".into()).into());
        }
        let mut datasets = Vec::new();
        let mut labels = BTreeSet::new();
        for (i, a) in raw.datasets.into_iter().enumerate() {
            let at = |f: &str| format!("datasets[{i}].{f}");
            let (config_text, config_file) = read_ref(root, &a.config).map_err(|p| err(&at("config"), p))?;
            let mut config = parse_table(&config_text, &config_file)
                .with_context(|| format!("{file}: `{}` names a file that is not valid TOML", at("config")))?;
            let config_sets = match &a.set {
                Some(set) => apply_set(&mut config, set).map_err(|(k, p)| err(&format!("{}.\"{k}\"", at("set")), p))?,
                None => Vec::new(),
            };
            let (train_text, train_file) = read_ref(root, &a.train).map_err(|p| err(&at("train"), p))?;
            let mut train = parse_table(&train_text, &train_file)
                .with_context(|| format!("{file}: `{}` names a file that is not valid TOML", at("train")))?;
            let train_sets = match &a.train_set {
                Some(set) => {
                    apply_set(&mut train, set).map_err(|(k, p)| err(&format!("{}.\"{k}\"", at("train_set")), p))?
                }
                None => Vec::new(),
            };
            let builder = match a.builder.as_deref() {
                None | Some("images") => Builder::Images,
                Some("spam") => Builder::Spam,
                Some("qa") => Builder::Qa,
                Some(other) => {
                    return Err(err(&at("builder"), format!("is {other:?}; use \"images\", \"spam\" or \"qa\"")).into());
                }
            };
            let sources = match (builder, config.get("source").and_then(|s| s.get("dataset")).and_then(Value::as_str)) {
                (Builder::Spam, _) => vec!["spam-assassin".to_string()],
                (Builder::Qa, _) => vec!["wordnet".to_string(), "minilm".to_string()],
                (Builder::Images, Some("synthetic")) => Vec::new(),
                (Builder::Images, Some(s)) => vec![s.to_string()],
                (Builder::Images, None) => {
                    bail!("{config_file}: `source.dataset` is missing (the config of {file} `{}`)", at("config"))
                }
            };
            let groups = match builder {
                Builder::Qa => qa_paraphrases(&config, &config_file)?,
                _ => variant_groups(&config, &config_file)?,
            };
            if builder == Builder::Spam && a.k != [0] {
                return Err(err(
                    &at("k"),
                    format!("is {:?}; a spam arm's look-alikes are the corpus's own, not planted, so use k = [0]", a.k),
                )
                .into());
            }
            let label = match a.label {
                Some(l) => l,
                None => match config.get("name").and_then(Value::as_str) {
                    Some(n) => n.to_string(),
                    None => bail!("{config_file}: `name` is missing (the config of {file} `{}`)", at("config")),
                },
            };
            if !is_plain_name(&label) {
                return Err(err(&at("label"), format!("is {label:?}; use lowercase letters, digits, - and _")).into());
            }
            if !labels.insert(label.clone()) {
                return Err(err(
                    &at("label"),
                    format!("{label:?} is used by an earlier entry; give this one its own `label`"),
                )
                .into());
            }
            if a.k.is_empty() {
                return Err(err(&at("k"), "is empty; give at least one k, e.g. k = [0, 10]".into()).into());
            }
            let mut k = BTreeSet::new();
            for &v in &a.k {
                let v = usize::try_from(v)
                    .map_err(|_| err(&at("k"), format!("holds {v}; k, the variants per target, is 0 or more")))?;
                if v > 0 && groups.is_empty() && builder != Builder::Qa {
                    return Err(err(
                        &at("k"),
                        format!("holds {v}, but {config_file} has no [[variants]] group to make variants with"),
                    )
                    .into());
                }
                if !k.insert(v) {
                    return Err(err(&at("k"), format!("holds {v} twice")).into());
                }
            }
            let k: Vec<usize> = k.into_iter().collect();
            // An arm's own seeds may go beyond the preset's: the ε-score needs many models of one small arm.
            let arm_seeds = match a.seeds {
                None => seeds.clone(),
                Some(given) => own_seeds(&given).map_err(|p| err(&at("seeds"), p))?,
            };
            if raw.reseed_data == Some(true) && arm_seeds != seeds {
                return Err(err(
                    &at("seeds"),
                    "is set, but the preset reseeds its data per seed (reseed_data = true); drop it".into(),
                )
                .into());
            }
            let seeds = &arm_seeds;
            let unlearn = match a.unlearn {
                None => None,
                Some(u) => Some(
                    check_unlearn(u, builder, (&k, seeds, &a.train), &datasets, root)
                        .map_err(|(key, p)| err(&at(&format!("unlearn.{key}")), p))?,
                ),
            };
            let attack = match a.attack {
                Some(_) if builder.is_lm() => {
                    return Err(err(
                        &at("attack"),
                        "is set, but the reconstruction attacks need an image MLP; drop it from this QA arm".into(),
                    )
                    .into());
                }
                None => None,
                Some(r) => Some(check_attack(r, &k, seeds).map_err(|(key, p)| err(&at(&format!("attack.{key}")), p))?),
            };
            datasets.push(DatasetArm {
                builder,
                label,
                config_path: a.config,
                config_text,
                config_sets,
                sources,
                groups,
                train_path: a.train,
                train_text,
                train_sets,
                k,
                seeds: arm_seeds.clone(),
                unlearn,
                attack,
            });
        }
        Ok(Preset {
            name: raw.name,
            description: raw.description.unwrap_or_default(),
            seeds,
            reseed_data: raw.reseed_data.unwrap_or(false),
            datasets,
        })
    }

    /// The dataset build config of `arm` at `k`: the arm's file with its `set`, then (for a QA arm) k paraphrases
    /// per target or (for an image arm with `[[variants]]`) the groups scaled to k, and the master seed replaced
    /// when the preset reseeds data.
    pub fn dataset_config(&self, arm: &DatasetArm, k: usize, seed: Option<u64>) -> Result<StepConfig> {
        let mut sets = arm.config_sets.clone();
        let mut variants_per_target = None;
        match arm.builder {
            Builder::Qa => sets.push(render("paraphrases.per_target", &count_value(k)?)),
            _ if !arm.groups.is_empty() => variants_per_target = Some(k),
            _ => {}
        }
        if let Some(s) = seed {
            sets.push(render("seed", &seed_value(s)?));
        }
        Ok(StepConfig { base: arm.config_text.clone(), sets, variants_per_target })
    }

    /// The train config of `arm` for `seed`: the arm's file with its `train_set` and the seed.
    pub fn train_config(&self, arm: &DatasetArm, seed: u64) -> Result<StepConfig> {
        let mut sets = arm.train_sets.clone();
        sets.push(render("seed", &seed_value(seed)?));
        Ok(StepConfig { base: arm.train_text.clone(), sets, variants_per_target: None })
    }
}

/// A step's config as the `doppel` command derives it (`--config <base> --set … --variants-per-target K`, see
/// doppel-data's `derive`): xtask never edits TOML, it hands the binary the preset's file and the overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepConfig {
    /// The text of the preset's config file.
    pub base: String,
    /// `key=value` overrides, applied in order.
    pub sets: Vec<String>,
    /// For an image dataset with `[[variants]]`: the look-alikes per target the groups are scaled to.
    pub variants_per_target: Option<usize>,
}

impl StepConfig {
    /// The override arguments of the command line.
    pub fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.sets {
            out.extend(["--set".to_string(), s.clone()]);
        }
        if let Some(k) = self.variants_per_target {
            out.extend(["--variants-per-target".to_string(), k.to_string()]);
        }
        out
    }

    /// What decides the artifact: the base text and the overrides.
    pub fn key_text(&self) -> String {
        format!("{}\n# overrides: {}", self.base, self.args().join(" "))
    }
}

/// Checks an arm's `unlearn` table against the arm's `k`, seeds and train file, and the arms before it (for
/// `calibrate.from`); errors are (key, problem).
fn check_unlearn(
    u: RawUnlearn,
    builder: Builder,
    (arm_k, seeds, train_path): (&[usize], &[u64], &str),
    earlier: &[DatasetArm],
    root: &Path,
) -> std::result::Result<UnlearnArm, (String, String)> {
    let (config, _) = read_ref(root, &u.config).map_err(|p| ("config".to_string(), p))?;
    let pick = |key: &str, given: &[String], known: &[&'static str], all: bool| {
        if given.is_empty() {
            return Err((key.to_string(), format!("is empty; name at least one of {}", known.join(", "))));
        }
        if all && given.len() == 1 && given[0] == "all" {
            return Ok(known.to_vec());
        }
        for g in given {
            if !known.contains(&g.as_str()) {
                return Err((
                    key.to_string(),
                    format!("holds {g:?}; use {}{}", known.join(", "), if all { " or [\"all\"]" } else { "" }),
                ));
            }
        }
        Ok(known.iter().copied().filter(|m| given.iter().any(|g| g == m)).collect())
    };
    let (known_methods, known_scopes): (&[&'static str], &[&'static str]) =
        if builder.is_lm() { (&LM_METHODS, &LM_SCOPES) } else { (&METHODS, &SCOPES) };
    let methods = pick("methods", &u.methods, known_methods, true)?;
    let scopes = pick("scopes", &u.scopes, known_scopes, false)?;
    let k = k_subset(u.k, arm_k)?;
    let chosen_seeds = seed_subset(u.seeds, seeds)?;
    let mine = match (&u.mine, scopes.contains(&"mined")) {
        (Some(path), true) => Some((path.clone(), read_ref(root, path).map_err(|p| ("mine".to_string(), p))?.0)),
        (None, true) => {
            return Err((
                "mine".to_string(),
                "is missing; scope mined needs a mining config, e.g. mine = \"configs/mine/patch.toml\"".into(),
            ));
        }
        (Some(_), false) => {
            return Err(("mine".to_string(), "is set, but `scopes` has no mined; add it or drop `mine`".into()));
        }
        (None, false) => None,
    };
    let search = match u.search {
        None => None,
        Some(r) => {
            let at = |key: &str| format!("search.{key}");
            let search_k = k_subset(r.k, &k).map_err(|(key, p)| (at(&key), p))?;
            if builder.is_lm() {
                return Err((at("k"), "is set, but a QA arm has no hyperparameter search; drop `search`".into()));
            }
            let search_scopes = pick("search.scopes", &r.scopes, &SCOPES, false)?;
            if let Some(s) = search_scopes.iter().find(|s| !scopes.contains(s)) {
                return Err((at("scopes"), format!("holds {s:?}, which is not one of the unlearn table's scopes")));
            }
            Some(SearchArm { k: search_k, scopes: search_scopes })
        }
    };
    let calibrate = match u.calibrate {
        None => None,
        Some(_) if builder.is_lm() => {
            return Err(("calibrate".into(), "is set, but a QA arm has no calibration; drop `calibrate`".into()));
        }
        Some(RawCalibrate { seed: Some(seed), from: None }) => {
            if !arm_k.contains(&0) {
                return Err((
                    "calibrate".into(),
                    "is set, but the arm has no k = 0, where the calibration runs; add 0 to the arm's `k`".into(),
                ));
            }
            match u64::try_from(seed).ok().filter(|s| seeds.contains(s)) {
                Some(seed) => Some(Calibrate::Seed(seed)),
                None => {
                    return Err((
                        "calibrate.seed".into(),
                        format!("is {seed}, which is not one of the arm's seeds {seeds:?}"),
                    ));
                }
            }
        }
        Some(RawCalibrate { seed: None, from: Some(label) }) => {
            let Some((i, source)) = earlier.iter().enumerate().find(|(_, a)| a.label == label) else {
                return Err((
                    "calibrate.from".into(),
                    format!("is {label:?}, which is not the label of an earlier entry; put this arm after that one"),
                ));
            };
            let Some(su) = source.unlearn.as_ref().filter(|su| matches!(su.calibrate, Some(Calibrate::Seed(_)))) else {
                return Err((
                    "calibrate.from".into(),
                    format!("is {label:?}, which does not calibrate itself; give it `calibrate = {{ seed = N }}`"),
                ));
            };
            if source.train_path != train_path || su.config != config {
                return Err((
                    "calibrate.from".into(),
                    format!(
                        "is {label:?}, which trains {} and unlearns with {}; settings calibrated for another model \
                         or method file do not carry over, so use the same `train` and `unlearn.config`",
                        source.train_path, su.config_path
                    ),
                ));
            }
            if let Some(m) = methods.iter().find(|m| !su.methods.contains(m)) {
                return Err(("calibrate.from".into(), format!("is {label:?}, which does not calibrate {m}")));
            }
            Some(Calibrate::From(i))
        }
        Some(_) => {
            return Err((
                "calibrate".into(),
                "needs exactly one of `seed` (calibrate here) and `from` (an earlier arm's label)".into(),
            ));
        }
    };
    Ok(UnlearnArm { config_path: u.config, config, methods, scopes, k, seeds: chosen_seeds, mine, search, calibrate })
}

/// The `k` subset of an `unlearn` or `attack` table: every value one of the arm's; all of them when absent.
fn k_subset(given: Option<Vec<i64>>, arm_k: &[usize]) -> std::result::Result<Vec<usize>, (String, String)> {
    let Some(ks) = given else { return Ok(arm_k.to_vec()) };
    let mut out = BTreeSet::new();
    for v in ks {
        let v = usize::try_from(v)
            .ok()
            .filter(|v| arm_k.contains(v))
            .ok_or_else(|| ("k".to_string(), format!("holds {v}, which is not one of the arm's k ({arm_k:?})")))?;
        out.insert(v);
    }
    Ok(out.into_iter().collect())
}

/// An arm's own `seeds`: at least one, each 0 or more, none twice, in the order given.
fn own_seeds(given: &[i64]) -> std::result::Result<Vec<u64>, String> {
    if given.is_empty() {
        return Err("is empty; give at least one seed".into());
    }
    let mut out = Vec::with_capacity(given.len());
    for &v in given {
        let v = u64::try_from(v).map_err(|_| format!("holds {v}; seeds are 0 or more"))?;
        if out.contains(&v) {
            return Err(format!("holds {v} twice"));
        }
        out.push(v);
    }
    Ok(out)
}

/// The seed subset of an `unlearn` or `attack` table, in the order given; all the arm's seeds when absent.
fn seed_subset(given: Option<Vec<i64>>, seeds: &[u64]) -> std::result::Result<Vec<u64>, (String, String)> {
    let Some(ss) = given else { return Ok(seeds.to_vec()) };
    let mut out = Vec::new();
    for v in ss {
        let v = u64::try_from(v).ok().filter(|v| seeds.contains(v)).ok_or_else(|| {
            ("seeds".to_string(), format!("holds {v}, which is not one of the arm's seeds ({seeds:?})"))
        })?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Checks an arm's `attack` table; errors are (key, problem).
fn check_attack(r: RawAttack, arm_k: &[usize], seeds: &[u64]) -> std::result::Result<AttackArm, (String, String)> {
    const KNOWN: [&str; 2] = ["kkt", "inversion"];
    if r.attacks.is_empty() {
        return Err(("attacks".into(), "is empty; name kkt and/or inversion".into()));
    }
    if let Some(bad) = r.attacks.iter().find(|a| !KNOWN.contains(&a.as_str())) {
        return Err(("attacks".into(), format!("holds {bad:?}; use kkt and/or inversion")));
    }
    let attacks = KNOWN.iter().copied().filter(|k| r.attacks.iter().any(|a| a == k)).collect();
    let positive = |key: &str, v: i64| {
        usize::try_from(v)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| (key.to_string(), format!("is {v}; it must be at least 1")))
    };
    Ok(AttackArm {
        attacks,
        candidates: positive("candidates", r.candidates)?,
        steps: positive("steps", r.steps)?,
        k: k_subset(r.k, arm_k)?,
        seeds: seed_subset(r.seeds, seeds)?,
    })
}

fn seed_value(seed: u64) -> Result<Value> {
    Ok(Value::Integer(i64::try_from(seed).context("a seed above i64::MAX does not fit in TOML")?))
}

fn count_value(n: usize) -> Result<Value> {
    Ok(Value::Integer(i64::try_from(n).context("a count above i64::MAX does not fit in TOML")?))
}

/// Reads a file named in a preset (relative to `root`); the error says which file is missing.
fn read_ref(root: &Path, rel: &str) -> std::result::Result<(String, String), String> {
    let path = root.join(rel);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((text, rel.to_string())),
        Err(e) => Err(format!("names {rel}, which cannot be read ({e}); paths are relative to the workspace root")),
    }
}

/// `per_target` of each `[[variants]]` group of a dataset config.
/// A QA config's `paraphrases.per_target`, as the one "group" k scales (a QA arm's k replaces it).
fn qa_paraphrases(config: &Table, file: &str) -> Result<Vec<usize>> {
    match config.get("paraphrases").and_then(|p| p.get("per_target")).and_then(Value::as_integer) {
        Some(n) if n >= 0 => Ok(vec![n as usize]),
        _ => bail!(
            "{file}: `paraphrases.per_target` must be an integer, 0 or more (a QA config; see configs/qa-wordnet.toml)"
        ),
    }
}

fn variant_groups(config: &Table, file: &str) -> Result<Vec<usize>> {
    let Some(v) = config.get("variants") else { return Ok(Vec::new()) };
    let Value::Array(groups) = v else { bail!("{file}: `variants` must be an array of tables ([[variants]])") };
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let n = g.get("per_target").and_then(Value::as_integer);
            match n.map(usize::try_from) {
                Some(Ok(n)) => Ok(n),
                _ => bail!("{file}: `variants[{i}].per_target` must be an integer, 0 or more"),
            }
        })
        .collect()
}

/// Sets each dotted key of `set` (`"source.train_per_class" = 500`, `"variants.0.ratio" = 0.5`) in `table`
/// (doppel-stdx's overrides, the ones `--set` applies in the binary), to check the keys and read the result;
/// returns them as `key=value` arguments for the binary. Errors are (key, problem).
fn apply_set(table: &mut Table, set: &Table) -> std::result::Result<Vec<String>, (String, String)> {
    let mut args = Vec::new();
    for (key, value) in set {
        doppel_stdx::overrides::set(table, key, value.clone()).map_err(|p| (key.clone(), p))?;
        args.push(render(key, value));
    }
    Ok(args)
}

use doppel_stdx::overrides::render;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn root() -> PathBuf {
        let manifest = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR"));
        manifest.parent().and_then(Path::parent).unwrap().to_path_buf()
    }

    /// The config the `doppel` command will run with (doppel-stdx's derive, which the binary calls).
    fn derived(c: &StepConfig) -> Table {
        parse_table(&doppel_stdx::overrides::derive(&c.base, "f", &c.sets, c.variants_per_target).unwrap(), "derived")
            .unwrap()
    }

    const GOOD: &str = r#"
name = "t"
seeds = [3, 1]
[[datasets]]
config = "configs/smoke.toml"
train = "configs/train/smoke-mlp.toml"
k = [7, 0]
set = { "source.train_per_class" = 50 }
train_set = { epochs = 2 }
"#;

    #[test]
    fn a_good_preset_loads_and_derives_configs() {
        let p = Preset::from_toml(GOOD, "good.toml", &root()).unwrap();
        assert_eq!(p.seeds, vec![3, 1]);
        let arm = &p.datasets[0];
        assert_eq!((arm.label.as_str(), arm.k.as_slice(), arm.groups.as_slice()), ("smoke", &[0, 7][..], &[5, 2][..]));
        assert!(arm.unlearn.is_none());
        let with = Preset::from_toml(
            &format!(
                "{GOOD}\nunlearn = {{ config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"all\"], scopes = \
                 [\"lineage\", \"exact\"], k = [7] }}"
            ),
            "good.toml",
            &root(),
        )
        .unwrap();
        let u = with.datasets[0].unlearn.as_ref().unwrap();
        assert_eq!(u.methods, METHODS.to_vec(), "all, in table order");
        assert_eq!(u.scopes, vec!["exact", "lineage"], "in table order");
        assert_eq!((u.k.as_slice(), u.seeds.as_slice()), (&[7][..], &[3, 1][..]));
        let ds = derived(&p.dataset_config(arm, 21, None).unwrap());
        let per: Vec<i64> =
            ds["variants"].as_array().unwrap().iter().map(|g| g["per_target"].as_integer().unwrap()).collect();
        assert_eq!(per, vec![15, 6]);
        assert_eq!(ds["source"]["train_per_class"].as_integer(), Some(50));
        assert_eq!(ds["seed"].as_integer(), Some(42), "the data seed stays unless reseed_data");
        let tr = derived(&p.train_config(arm, 3).unwrap());
        assert_eq!((tr["seed"].as_integer(), tr["epochs"].as_integer()), (Some(3), Some(2)));
        assert_eq!(p.train_config(arm, 3).unwrap().args(), ["--set", "epochs=2", "--set", "seed=3"]);
        let reseeded = Preset { reseed_data: true, ..p.clone() };
        let c = reseeded.dataset_config(arm, 7, Some(9)).unwrap();
        assert_eq!(c.args(), ["--set", "source.train_per_class=50", "--set", "seed=9", "--variants-per-target", "7"]);
        assert_eq!(derived(&c)["seed"].as_integer(), Some(9));
        assert_ne!(c.key_text(), p.dataset_config(arm, 7, None).unwrap().key_text(), "overrides enter the key");
    }

    #[test]
    fn a_calibration_needs_k_0_and_one_of_the_arms_seeds() {
        let with = |k: &str, calibrate: &str| {
            Preset::from_toml(
                &format!(
                    "{}\nunlearn = {{ config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"ft\"], scopes = \
                     [\"exact\"], calibrate = {calibrate} }}",
                    GOOD.replace("k = [7, 0]", k)
                ),
                "good.toml",
                &root(),
            )
        };
        let p = with("k = [7, 0]", "{ seed = 1 }").unwrap();
        assert_eq!(p.datasets[0].unlearn.as_ref().unwrap().calibrate, Some(Calibrate::Seed(1)));
        let err = with("k = [7, 0]", "{ seed = 9 }").unwrap_err().to_string();
        assert!(
            err.contains("`datasets[0].unlearn.calibrate.seed` is 9, which is not one of the arm's seeds"),
            "{err}"
        );
        let err = with("k = [7]", "{ seed = 1 }").unwrap_err().to_string();
        assert!(err.contains("no k = 0, where the calibration runs"), "{err}");
        // An arm may train more seeds than the preset's (the ε arm), in its own order, and calibrate from one.
        let own = Preset::from_toml(&format!("{GOOD}\nseeds = [5, 2, 9]"), "good.toml", &root()).unwrap();
        assert_eq!((own.seeds.as_slice(), own.datasets[0].seeds.as_slice()), (&[3, 1][..], &[5, 2, 9][..]));
        let err = with("k = [7, 0]", "{ seed = 1, from = \"smoke\" }").unwrap_err().to_string();
        assert!(err.contains("needs exactly one of `seed`"), "{err}");
    }

    /// A preset whose second arm (`b`) takes its calibration from the first (`a`, methods ft and ga, seed 1).
    pub(crate) fn borrowed_calibration(b_unlearn: &str, b_train: &str) -> String {
        let a = GOOD.replace("k = [7, 0]", "k = [0, 7]\nlabel = \"a\"");
        format!(
            "{a}\nunlearn = {{ config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"ft\", \"ga\"], scopes = \
             [\"exact\"], calibrate = {{ seed = 1 }} }}\n[[datasets]]\nconfig = \"configs/smoke.toml\"\ntrain = \
             \"{b_train}\"\nk = [7]\nlabel = \"b\"\nunlearn = {b_unlearn}"
        )
    }

    #[test]
    fn an_arm_can_run_an_earlier_arms_calibration_of_the_same_model_and_methods() {
        let unlearn = |methods: &str, from: &str| {
            format!(
                "{{ config = \"configs/unlearn/smoke-mlp.toml\", methods = {methods}, scopes = [\"exact\", \
                 \"lineage\"], calibrate = {{ from = \"{from}\" }} }}"
            )
        };
        let load = |text: String| Preset::from_toml(&text, "p.toml", &root()).map_err(|e| e.to_string());
        let train = "configs/train/smoke-mlp.toml";
        let p = load(borrowed_calibration(&unlearn("[\"ga\"]", "a"), train)).unwrap();
        // b has no k = 0 of its own: the calibration is a's.
        assert_eq!(p.datasets[1].unlearn.as_ref().unwrap().calibrate, Some(Calibrate::From(0)));
        let err = load(borrowed_calibration(&unlearn("[\"ga\"]", "z"), train)).unwrap_err();
        assert!(
            err.contains("`datasets[1].unlearn.calibrate.from` is \"z\", which is not the label of an earlier"),
            "{err}"
        );
        let err = load(borrowed_calibration(&unlearn("[\"ga\", \"scrub\"]", "a"), train)).unwrap_err();
        assert!(err.contains("is \"a\", which does not calibrate scrub"), "{err}");
        let err = load(borrowed_calibration(&unlearn("[\"ga\"]", "a"), "configs/train/mnist-mlp.toml")).unwrap_err();
        assert!(err.contains("which trains configs/train/smoke-mlp.toml and unlearns with"), "{err}");
        let uncalibrated =
            borrowed_calibration(&unlearn("[\"ga\"]", "a"), train).replacen(", calibrate = { seed = 1 }", "", 1);
        let err = load(uncalibrated).unwrap_err();
        assert!(err.contains("is \"a\", which does not calibrate itself"), "{err}");
    }

    #[test]
    fn a_search_table_picks_k_and_scopes_of_the_unlearn_table() {
        let with = |search: &str| {
            Preset::from_toml(
                &format!(
                    "{GOOD}\nunlearn = {{ config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"ft\"], scopes = \
                     [\"exact\", \"lineage\"], k = [0, 7], search = {search} }}"
                ),
                "good.toml",
                &root(),
            )
        };
        let p = with("{ k = [0], scopes = [\"lineage\", \"exact\"] }").unwrap();
        let s = p.datasets[0].unlearn.as_ref().unwrap().search.clone().unwrap();
        assert_eq!(s, SearchArm { k: vec![0], scopes: vec!["exact", "lineage"] });
        assert!(s.covers(0, "exact") && !s.covers(7, "exact") && !s.covers(0, "mined"));
        let all_k = with("{ scopes = [\"exact\"] }").unwrap();
        assert_eq!(all_k.datasets[0].unlearn.as_ref().unwrap().search.as_ref().unwrap().k, vec![0, 7]);
        let err = with("{ scopes = [\"mined\"] }").unwrap_err().to_string();
        assert!(
            err.contains(
                "`datasets[0].unlearn.search.scopes` holds \"mined\", which is not one of the unlearn table's"
            ),
            "{err}"
        );
        let err = with("{ k = [3], scopes = [\"exact\"] }").unwrap_err().to_string();
        assert!(err.contains("`datasets[0].unlearn.search.k` holds 3"), "{err}");
        let err = with("{ scopes = [\"exact\"], lr = 1 }").unwrap_err().to_string();
        assert!(err.contains("unknown field `lr`"), "{err}");
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let cases: &[(&str, &str)] = &[
            ("seeds = [1]", "bad.toml:1: missing field `name`"),
            ("name = \"t\"\nseeds = [1]\ndatasets = []\nbogus = 1", "bad.toml:4: unknown field `bogus`"),
            ("name = \"T!\"\nseeds = [1]\ndatasets = []", "bad.toml: `name` is \"T!\""),
            ("name = \"t\"\nseeds = []\ndatasets = []", "bad.toml: `seeds` is empty"),
            ("name = \"t\"\nseeds = [1, 1]\ndatasets = []", "bad.toml: `seeds` holds 1 twice"),
            ("name = \"t\"\nseeds = [-2]\ndatasets = []", "bad.toml: `seeds` holds -2"),
            ("name = \"t\"\nseeds = [1]\ndatasets = []", "bad.toml: `datasets` is empty"),
        ];
        for (text, want) in cases {
            let e = format!("{:#}", Preset::from_toml(text, "bad.toml", &root()).unwrap_err());
            assert!(e.starts_with(want), "{text:?}: got {e:?}, want it to start with {want:?}");
        }
        let arm = |extra: &str| {
            format!(
                "name = \"t\"\nseeds = [1]\n[[datasets]]\nconfig = \"configs/smoke.toml\"\n\
                 train = \"configs/train/smoke-mlp.toml\"\n{extra}"
            )
        };
        let cases: Vec<(String, &str)> = vec![
            (arm("k = [0, -1]"), "bad.toml: `datasets[0].k` holds -1"),
            (arm("k = []"), "bad.toml: `datasets[0].k` is empty"),
            (arm("k = [3, 3]"), "bad.toml: `datasets[0].k` holds 3 twice"),
            (arm("k = [1]\nkk = 2"), "bad.toml:7: unknown field `kk`"),
            (arm("k = [1]\nlabel = \"A B\""), "bad.toml: `datasets[0].label` is \"A B\""),
            (arm("k = [1]\nset = { \"name.x\" = 1 }"), "bad.toml: `datasets[0].set.\"name.x\"` goes through `name`"),
            (
                arm("k = [0]\nbuilder = \"text\""),
                "bad.toml: `datasets[0].builder` is \"text\"; use \"images\", \"spam\" or \"qa\"",
            ),
            (arm("k = [1]\nseeds = [9, 9]"), "bad.toml: `datasets[0].seeds` holds 9 twice"),
            (
                arm("k = [0, 1]\nbuilder = \"spam\""),
                "bad.toml: `datasets[0].k` is [0, 1]; a spam arm's look-alikes are the corpus's own",
            ),
            (
                arm("k = [1]\nset = { \"variants.2.ratio\" = 0.5 }"),
                "bad.toml: `datasets[0].set.\"variants.2.ratio\"` indexes `variants` with `2`; it has 2 elements",
            ),
            (
                "name = \"t\"\nseeds = [1]\n[[datasets]]\nconfig = \"configs/none.toml\"\ntrain = \"x\"\nk = [0]"
                    .into(),
                "bad.toml: `datasets[0].config` names configs/none.toml, which cannot be read",
            ),
            (
                format!(
                    "{}\n[[datasets]]\nconfig = \"configs/smoke.toml\"\ntrain = \"configs/train/smoke-mlp.toml\"\nk = [0]",
                    arm("k = [1]")
                ),
                "bad.toml: `datasets[1].label` \"smoke\" is used by an earlier entry",
            ),
            (
                arm(
                    "k = [0, 7]\nunlearn = { config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"sallun\"], scopes = [\"exact\"] }",
                ),
                "bad.toml: `datasets[0].unlearn.methods` holds \"sallun\"; use retrain, ft,",
            ),
            (
                arm(
                    "k = [0, 7]\nunlearn = { config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"all\"], scopes = [\"near\"] }",
                ),
                "bad.toml: `datasets[0].unlearn.scopes` holds \"near\"; use exact, mined, lineage",
            ),
            (
                arm(
                    "k = [0, 7]\nunlearn = { config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"ft\"], scopes = [\"exact\"], k = [3] }",
                ),
                "bad.toml: `datasets[0].unlearn.k` holds 3, which is not one of the arm's k ([0, 7])",
            ),
            (
                arm(
                    "k = [0]\nunlearn = { config = \"configs/unlearn/smoke-mlp.toml\", methods = [\"ft\"], scopes = [\"exact\"], seeds = [2] }",
                ),
                "bad.toml: `datasets[0].unlearn.seeds` holds 2, which is not one of the arm's seeds ([1])",
            ),
            (
                arm(
                    "k = [0]\nunlearn = { config = \"configs/unlearn/none.toml\", methods = [\"ft\"], scopes = [\"exact\"] }",
                ),
                "bad.toml: `datasets[0].unlearn.config` names configs/unlearn/none.toml, which cannot be read",
            ),
        ];
        for (text, want) in &cases {
            let e = format!("{:#}", Preset::from_toml(text, "bad.toml", &root()).unwrap_err());
            assert!(e.starts_with(want), "{text:?}: got {e:?}, want it to start with {want:?}");
        }
    }

    #[test]
    fn a_number_in_a_set_key_picks_a_variant_group() {
        let p =
            Preset::from_toml(&GOOD.replace("set = {", "set = { \"variants.0.ratio\" = 0.5, "), "good.toml", &root())
                .unwrap();
        let ds = derived(&p.dataset_config(&p.datasets[0], 7, None).unwrap());
        let groups = ds["variants"].as_array().unwrap();
        assert_eq!(groups[0]["ratio"].as_float(), Some(0.5));
        assert_eq!(groups.len(), 2, "the other group stays");
        assert!(groups[1].get("ratio").is_none_or(|r| r.as_float() != Some(0.5)));
    }

    #[test]
    fn a_spam_arm_reads_the_spam_corpus_at_k_zero() {
        let p = Preset::from_toml(
            "name = \"t\"\nseeds = [1]\n[[datasets]]\nconfig = \"configs/spam-assassin.toml\"\n\
             train = \"configs/train/spam-mlp.toml\"\nbuilder = \"spam\"\nk = [0]",
            "t.toml",
            &root(),
        )
        .unwrap();
        let arm = &p.datasets[0];
        assert_eq!(
            (arm.builder, arm.sources.as_slice(), arm.k.as_slice()),
            (Builder::Spam, &["spam-assassin".to_string()][..], &[0][..])
        );
        assert_eq!(arm.label, "spam-assassin-with", "the config's name");
        let c = p.dataset_config(arm, 0, None).unwrap();
        assert_eq!((c.sets.len(), c.variants_per_target), (0, None), "no variants to scale: the file as it is");
        assert!(c.base.contains("group = \"with\""));
    }

    #[test]
    fn the_shipped_presets_load() {
        for name in ["smoke", "cpu", "paper"] {
            let path = Preset::locate(&root(), name).unwrap();
            let p = Preset::load(&path, &root()).unwrap();
            assert_eq!(p.name, name);
        }
        let e = format!("{:#}", Preset::locate(&root(), "nope").unwrap_err());
        assert!(e.contains("there is no") && e.contains("smoke"), "{e}");
    }
}

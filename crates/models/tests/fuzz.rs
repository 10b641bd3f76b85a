//! Fuzzed readers of doppel-models: mutated bytes fed to the classifier checkpoint (`model.safetensors` through
//! [`checkpoint::load`], `model.json` through [`checkpoint::read_sidecar`] and then `load` with the sidecar's spec,
//! as every command does), the LM model folder (weights, sidecar and `vocab.txt` through [`lm::checkpoint::load`])
//! and the TOML training configs ([`TrainConfig::from_toml`], [`LmTrainConfig::from_toml`], starting from the
//! files in `configs/train` and `configs/bench`). Each case must end in `Ok` or an error value, never a panic; a
//! model that loads must also run a forward pass without one.
//!
//! The checkpoints are real ones, saved by [`checkpoint::save`] from fresh networks of each architecture (MLP,
//! CNN, ResNet-8) on 8×8 inputs. Besides the byte mutations of `doppel_stdx::fuzz`, the safetensors cases edit
//! the container: the header length, the JSON header as text, one tensor's dtype, shape or offsets with the data
//! left alone, and well-formed containers with a tensor of another dtype or shape, a tensor dropped, renamed or
//! duplicated, or NaN and infinite weights.
//!
//! `DOPPEL_FUZZ_CASES` sets the cases per reader (default 300, what CI runs), `DOPPEL_FUZZ_SEED` the master seed,
//! and a panicking case is reported with the seed that replays it alone (`DOPPEL_FUZZ_REPLAY=<seed>`). The
//! nightly-style run, for both crates:
//!
//! ```text
//! DOPPEL_FUZZ_CASES=10000 cargo nextest run --release --locked -p doppel-data -p doppel-models -E 'binary(fuzz)' --no-capture
//! ```

#![allow(clippy::unwrap_used)] // A panic outside the reader is the test failing.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use doppel_data::ImageShape;
use doppel_models::checkpoint::{self, Sidecar};
use doppel_models::lm::{self, LmConfig, LmTokenizer, LmTrainConfig};
use doppel_models::train::{Augment, OptimizerSpec, Recipe, Schedule, TrainConfig, TrainReport, TrainSeeds};
use doppel_models::wordpiece::Normalization;
use doppel_models::{Arch, ModelSpec};
use doppel_stdx::fuzz::{self, Rng};
use serde_json::{Value, json};

/// Runs `read` on inputs drawn by `make`: a panic, or no rejected case, fails the test.
fn check<I, T, E>(name: &str, make: impl FnMut(&mut Rng) -> I, read: impl FnMut(I) -> Result<T, E>) {
    let tally = fuzz::run_with(name, make, read);
    assert!(tally.problem().is_none(), "{}", tally.problem().unwrap_or_default());
}

fn spec(arch: Arch, input: ImageShape) -> ModelSpec {
    ModelSpec { arch, input, classes: 3, mean: vec![0.5; input.channels], std: vec![0.25; input.channels] }
}

/// The three architectures at a size that loads in a millisecond.
fn specs() -> [ModelSpec; 3] {
    [
        spec(Arch::Mlp { hidden: [8, 4] }, ImageShape::grey(8, 8)),
        spec(Arch::Cnn { channels: [2, 4], hidden: 8 }, ImageShape::grey(8, 8)),
        spec(Arch::ResNet { widths: [2, 4, 4] }, ImageShape::rgb(8, 8)),
    ]
}

fn sidecar(spec: &ModelSpec) -> Sidecar {
    Sidecar {
        role: "m0".into(),
        spec: spec.clone(),
        recipe: Recipe {
            epochs: 1,
            batch_size: 8,
            optimizer: OptimizerSpec::Sgd { lr: 0.1, momentum: 0.9, weight_decay: 5e-4 },
            schedule: Schedule::Cosine,
            augment: Augment::default(),
        },
        seeds: TrainSeeds::from_master(1),
        dataset_manifest_sha256: "0".repeat(64),
        report: TrainReport { rows: 0, epochs: vec![], seconds: 0.0, samples_per_second: 0.0 },
        device: "flex".into(),
        doppel_version: "fuzz".into(),
    }
}

/// The message of a reader's error, which must name a file under `dir` (a panic here fails the case, with its
/// seed, like a panic in the reader).
fn named(dir: &Path) -> impl Fn(doppel_models::ModelError) -> String + '_ {
    move |e| {
        let message = e.to_string();
        assert!(
            message.contains(&dir.display().to_string()),
            "the error names no file of {}: {message}",
            dir.display()
        );
        message
    }
}

/// A loaded classifier must take a batch and give logits of the right shape. (A sidecar whose input shape was
/// mutated to something large but valid loads, since a ResNet's weights do not depend on it; its forward pass is
/// skipped to keep a case to milliseconds.)
fn forward(net: &doppel_models::Net, spec: &ModelSpec, device: &Device) {
    if spec.input.len() <= 4096 {
        let x = spec.input_tensor(&vec![128u8; 2 * spec.input.len()], 2, device);
        assert_eq!(net.forward(x).dims(), [2, spec.classes], "the logits of a loaded network");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// safetensors containers

/// One tensor of a safetensors file: its header entry and its bytes.
#[derive(Clone)]
struct Entry {
    name: String,
    dtype: String,
    shape: Vec<u64>,
    data: Vec<u8>,
}

/// The tensors of a well-formed safetensors file, in offset order, and the header's `__metadata__`.
fn parse(file: &[u8]) -> (Vec<Entry>, Option<Value>) {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&file[8..8 + n]).unwrap();
    let data = &file[8 + n..];
    let mut entries: Vec<(u64, Entry)> = Vec::new();
    let mut meta = None;
    for (name, v) in header {
        if name == "__metadata__" {
            meta = Some(v);
            continue;
        }
        let [b, e] = [0, 1].map(|i| v["data_offsets"][i].as_u64().unwrap());
        entries.push((
            b,
            Entry {
                name,
                dtype: v["dtype"].as_str().unwrap().into(),
                shape: v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect(),
                data: data[b as usize..e as usize].to_vec(),
            },
        ));
    }
    entries.sort_by_key(|(b, _)| *b);
    (entries.into_iter().map(|(_, e)| e).collect(), meta)
}

/// The header of `entries` laid out back to back (offsets recomputed).
fn header_of(entries: &[Entry], meta: Option<&Value>) -> serde_json::Map<String, Value> {
    let mut header = serde_json::Map::new();
    if let Some(m) = meta {
        header.insert("__metadata__".into(), m.clone());
    }
    let mut at = 0;
    for e in entries {
        let end = at + e.data.len();
        header.insert(e.name.clone(), json!({ "dtype": e.dtype, "shape": e.shape, "data_offsets": [at, end] }));
        at = end;
    }
    header
}

/// A file of `header` (padded with spaces to 8 bytes, as the reference writer does) and `data`.
fn container(header: &Value, data: &[u8]) -> Vec<u8> {
    let mut h = serde_json::to_vec(header).unwrap();
    h.resize(h.len().div_ceil(8) * 8, b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

fn build(entries: &[Entry], meta: Option<&Value>) -> Vec<u8> {
    let data: Vec<u8> = entries.iter().flat_map(|e| e.data.iter().copied()).collect();
    container(&Value::Object(header_of(entries, meta)), &data)
}

const DTYPES: [(&str, usize); 14] = [
    ("F64", 8),
    ("F32", 4),
    ("F16", 2),
    ("BF16", 2),
    ("I64", 8),
    ("I32", 4),
    ("I16", 2),
    ("I8", 1),
    ("U64", 8),
    ("U32", 4),
    ("U16", 2),
    ("U8", 1),
    ("BOOL", 1),
    ("F8_E4M3", 1),
];

/// A JSON value a field should not hold, or an extreme one it might.
fn odd_value(r: &mut Rng) -> Value {
    match r.below(12) {
        0 => json!(0),
        1 => json!(1),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(1u64 << 40),
        5 => json!(1e39),
        6 => json!(-0.0),
        7 => json!("x"),
        8 => Value::Null,
        9 => json!([]),
        10 => json!({}),
        _ => json!(true),
    }
}

/// A shape edit: a dimension changed, added, dropped or made extreme.
fn odd_shape(shape: &[u64], r: &mut Rng) -> Vec<u64> {
    let mut s = shape.to_vec();
    match r.below(6) {
        0 if !s.is_empty() => {
            let i = r.below(s.len());
            s[i] += 1;
        }
        1 if !s.is_empty() => {
            let i = r.below(s.len());
            s[i] = s[i].saturating_sub(1);
        }
        2 => s.push(1),
        3 => {
            s.pop();
        }
        4 => s.reverse(),
        _ if !s.is_empty() => {
            let i = r.below(s.len());
            s[i] = *r.pick(&[0, u64::from(u32::MAX), u64::MAX, 1 << 33]);
        }
        _ => s = vec![0],
    }
    s
}

/// One mutation of the safetensors file `valid`; see the module docs.
fn mutate_safetensors(valid: &[u8], r: &mut Rng) -> Vec<u8> {
    let (entries, meta) = parse(valid);
    let n = u64::from_le_bytes(valid[..8].try_into().unwrap()) as usize;
    let data = &valid[8 + n..];
    let pick = r.below(entries.len());
    match r.below(8) {
        // Bytes, anywhere.
        0 | 1 => fuzz::mutate(valid, r),
        // The header length.
        2 => {
            let len = valid.len() as u64;
            let h = n as u64;
            let v = *r.pick(&[0, 1, 7, 8, h - 1, h + 1, h + 8, len - 8, len, len + 1, u64::from(u32::MAX), u64::MAX]);
            let mut b = valid.to_vec();
            b[..8].copy_from_slice(&v.to_le_bytes());
            b
        }
        // The JSON header as text, with its length kept right.
        3 => {
            let text = fuzz::mutate(&valid[8..8 + n], r);
            let mut b = (text.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(&text);
            b.extend_from_slice(data);
            b
        }
        // One field of one entry edited, the data left as it is.
        4 => {
            let mut header = header_of(&entries, meta.as_ref());
            let e = header.get_mut(&entries[pick].name).unwrap();
            match r.below(4) {
                0 => e["dtype"] = if r.coin() { json!(r.pick(&DTYPES).0) } else { odd_value(r) },
                1 => e["shape"] = if r.coin() { json!(odd_shape(&entries[pick].shape, r)) } else { odd_value(r) },
                2 => {
                    let [b, end] = [0, 1].map(|i| e["data_offsets"][i].as_u64().unwrap());
                    e["data_offsets"] = match r.below(5) {
                        0 => json!([end, b]),
                        1 => json!([b, end + 4]),
                        2 => json!([b + 4, end]),
                        3 => json!([b, u64::MAX]),
                        _ => json!([b]),
                    };
                }
                _ => *e = odd_value(r),
            }
            if r.below(4) == 0 {
                header.insert("__metadata__".into(), if r.coin() { json!({ "format": 1 }) } else { odd_value(r) });
            }
            container(&Value::Object(header), data)
        }
        // A well-formed file whose tensors do not fit the network.
        _ => {
            let mut entries = entries;
            match r.below(6) {
                0 => {
                    let (dtype, size) = *r.pick(&DTYPES);
                    let numel: u64 = entries[pick].shape.iter().product();
                    entries[pick].dtype = dtype.into();
                    entries[pick].data = r.bytes(numel as usize * size);
                }
                1 => {
                    let shape = odd_shape(&entries[pick].shape, r);
                    let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).unwrap_or(u64::MAX);
                    if numel > 1 << 20 {
                        // Too large to write out: the bytes stay, the header lies.
                        entries[pick].shape = shape;
                    } else {
                        entries[pick].data = r.bytes(numel as usize * 4);
                        entries[pick].shape = shape;
                    }
                }
                2 => {
                    entries.remove(pick);
                }
                3 => entries[pick].name = format!("{}x", entries[pick].name),
                4 => {
                    let mut copy = entries[pick].clone();
                    copy.name = format!("extra.{}", copy.name);
                    entries.push(copy);
                }
                _ => {
                    // Non-finite or extreme weights in an f32 tensor.
                    let e = &mut entries[pick];
                    if !e.data.is_empty() {
                        let v = *r.pick(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, f32::MIN_POSITIVE]);
                        let i = r.below(e.data.len() / 4) * 4;
                        e.data[i..i + 4].copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
            build(&entries, meta.as_ref())
        }
    }
}

/// One mutation of a JSON document: bytes, or a leaf set to an odd value, a key dropped or an unknown one added.
fn mutate_json(valid: &[u8], r: &mut Rng) -> Vec<u8> {
    if r.below(3) == 0 {
        return fuzz::mutate(valid, r);
    }
    let mut doc: Value = serde_json::from_slice(valid).unwrap();
    // Walk to a random node: each step descends into a random child, stopping early at random.
    let mut node = &mut doc;
    loop {
        let len = match node {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if len == 0 || r.below(4) == 0 {
            break;
        }
        let i = r.below(len);
        node = match node {
            Value::Object(m) => m.values_mut().nth(i).unwrap(),
            Value::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
    }
    match (r.below(3), &mut *node) {
        (0, Value::Object(m)) if !m.is_empty() => {
            let key = m.keys().nth(r.below(m.len())).unwrap().clone();
            m.remove(&key);
        }
        (1, Value::Object(m)) => {
            m.insert("unexpected".into(), json!(1));
        }
        (1, Value::Array(a)) => a.push(odd_value(r)),
        (2, Value::Number(x)) if x.is_u64() => {
            // A plausible number gone wrong: a multiple of the original, or an off-by-one.
            let v = x.as_u64().unwrap();
            *node = json!(*r.pick(&[v.wrapping_mul(1000), v.wrapping_mul(1 << 20), v + 1, v.saturating_sub(1)]));
        }
        _ => *node = odd_value(r),
    }
    serde_json::to_vec_pretty(&doc).unwrap()
}

/// One mutation of a text file by lines: one dropped, doubled, swapped with another, or emptied; else bytes.
fn mutate_lines(valid: &[u8], r: &mut Rng) -> Vec<u8> {
    let text = std::str::from_utf8(valid).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.is_empty() || r.below(3) == 0 {
        return fuzz::mutate(valid, r);
    }
    let i = r.below(lines.len());
    match r.below(4) {
        0 => {
            lines.remove(i);
        }
        1 => lines.insert(i, lines[i].clone()),
        2 => {
            let j = r.below(lines.len());
            lines.swap(i, j);
        }
        _ => lines[i].clear(),
    }
    (lines.join("\n") + "\n").into_bytes()
}

/// One mutation of a TOML file: bytes, or a line's value set to an extreme, a line dropped or doubled.
fn mutate_toml(valid: &[u8], r: &mut Rng) -> Vec<u8> {
    let text = std::str::from_utf8(valid).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let assignments: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains('=')).collect();
    if assignments.is_empty() || r.below(3) == 0 {
        return fuzz::mutate(valid, r);
    }
    let i = *r.pick(&assignments);
    match r.below(4) {
        0 | 1 => {
            let key = lines[i].split('=').next().unwrap().trim().to_string();
            let value = *r.pick(&[
                "0",
                "-1",
                "1",
                "18446744073709551615",
                "18446744073709551616",
                "9223372036854775807",
                "1e309",
                "nan",
                "-inf",
                "0.0",
                "\"x\"",
                "[]",
                "[0, 0]",
                "[4294967295, 4294967295, 4294967295]",
                "{}",
                "true",
            ]);
            lines[i] = format!("{key} = {value}");
        }
        2 => {
            lines.remove(i);
        }
        _ => lines.insert(i, lines[i].clone()),
    }
    (lines.join("\n") + "\n").into_bytes()
}

// ---------------------------------------------------------------------------------------------------------------
// the readers

#[test]
fn classifier_checkpoints_never_panic() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    for spec in specs() {
        let arch = spec.arch.name();
        let dir = tmp.path().join(arch);
        std::fs::create_dir_all(&dir).unwrap();
        let weights = dir.join("model.safetensors");
        device.seed(1);
        checkpoint::save(&spec.init(&device), &weights, &sidecar(&spec)).unwrap();
        let valid = std::fs::read(&weights).unwrap();
        // The container helpers write what the reader reads: a rebuilt copy of the valid file loads.
        std::fs::write(&weights, build(&parse(&valid).0, parse(&valid).1.as_ref())).unwrap();
        forward(&checkpoint::load(&weights, &spec, &device).unwrap(), &spec, &device);
        std::fs::write(&weights, &valid).unwrap();

        check(
            &format!("{arch} model.safetensors"),
            |r| mutate_safetensors(&valid, r),
            |b| -> Result<(), String> {
                std::fs::write(&weights, b).unwrap();
                let net = checkpoint::load(&weights, &spec, &device).map_err(named(&dir))?;
                forward(&net, &spec, &device);
                Ok(())
            },
        );
        std::fs::write(&weights, &valid).unwrap();

        let side_path = checkpoint::sidecar_path(&weights);
        let valid_side = std::fs::read(&side_path).unwrap();
        check(
            &format!("{arch} model.json"),
            |r| mutate_json(&valid_side, r),
            |b| -> Result<(), String> {
                std::fs::write(&side_path, b).unwrap();
                let side = checkpoint::read_sidecar(&weights).map_err(named(&dir))?;
                let net = checkpoint::load(&weights, &side.spec, &device).map_err(named(&dir))?;
                forward(&net, &side.spec, &device);
                Ok(())
            },
        );
    }
}

/// The damage the fuzzer found, one case each, with the error it now gives.
#[test]
fn damaged_checkpoints_are_errors_that_name_the_file() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let [mlp, ..] = specs();
    let weights = tmp.path().join("model.safetensors");
    checkpoint::save(&mlp.init(&device), &weights, &sidecar(&mlp)).unwrap();
    let valid = std::fs::read(&weights).unwrap();
    let (entries, meta) = parse(&valid);
    let at = entries.iter().position(|e| e.name == "fc1.weight").unwrap();
    let err = |bytes: &[u8]| {
        std::fs::write(&weights, bytes).unwrap();
        let e = checkpoint::load(&weights, &mlp, &device).unwrap_err().to_string();
        e.replace(&weights.display().to_string(), "WEIGHTS")
    };
    // A float tensor of another width loaded as itself, and the first forward pass panicked in matmul.
    let mut wide = entries.clone();
    wide[at].dtype = "F64".into();
    wide[at].data = wide[at]
        .data
        .chunks(4)
        .flat_map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
        .collect();
    assert_eq!(
        err(&build(&wide, meta.as_ref())),
        "WEIGHTS: tensor `fc1.weight` is F64; doppel's checkpoints hold F32 weights"
    );
    // A NaN weight loaded and gave NaN logits.
    let mut nan = entries.clone();
    nan[at].data[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    assert_eq!(
        err(&build(&nan, meta.as_ref())),
        "WEIGHTS: tensor `fc1.weight` holds NaN at index 2; a network's weights are finite numbers"
    );
    // A tensor under another name: one line, not burn's summary table.
    let mut renamed = entries.clone();
    renamed[at].name = "fc1.weights".into();
    assert_eq!(
        err(&build(&renamed, meta.as_ref())),
        "WEIGHTS: does not fit a mlp: missing tensor fc1.weight; unexpected tensor fc1.weights"
    );
    std::fs::write(&weights, &valid).unwrap();

    // A sidecar without `mean` values read fine and panicked in the first `input_tensor`.
    let side_path = checkpoint::sidecar_path(&weights);
    let mut side = sidecar(&mlp);
    side.spec.mean.clear();
    std::fs::write(&side_path, serde_json::to_string(&side).unwrap()).unwrap();
    let e = checkpoint::read_sidecar(&weights).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: holds a spec that is not valid: model: `mean/std`", side_path.display())),
        "{e}"
    );
    // A sidecar asking for a network far larger than the file is refused before it is built.
    let mut huge = mlp.clone();
    huge.arch = Arch::Mlp { hidden: [1 << 40, 4] };
    let e = checkpoint::load_weights(&weights, &huge, &device).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: holds {} bytes, but a mlp", weights.display(), valid.len())), "{e}");

    // The LM's sidecar likewise: its model was allocated on the host (844 TB, an abort) before the file was read.
    let dir = tmp.path().join("lm");
    lm_folder(&dir, &device);
    let side_path = dir.join(lm::checkpoint::SIDECAR);
    let text = std::fs::read_to_string(&side_path).unwrap();
    std::fs::write(&side_path, text.replace("\"d_model\": 8", "\"d_model\": 8000000")).unwrap();
    let e = lm::checkpoint::load(&dir, &device).unwrap_err().to_string();
    let weights = dir.join(lm::checkpoint::WEIGHTS);
    assert!(
        e.starts_with(&format!("{}: holds ", weights.display())) && e.contains("the file or model.json is damaged"),
        "{e}"
    );
}

/// A tiny LM folder: its directory's files are the fuzzed inputs.
fn lm_folder(dir: &Path, device: &Device) {
    let pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "what", "is", "a", "dog", "cat", "?", "."];
    let tok = LmTokenizer::from_pieces(pieces.map(String::from).to_vec(), Normalization::BERT_UNCASED).unwrap();
    let config = LmConfig { vocab: tok.vocab_size(), d_model: 8, layers: 1, heads: 2, ff: 16, max_len: 8 };
    let model = config.init(1, device).unwrap();
    let side = lm::LmSidecar {
        role: "m0".into(),
        config,
        tokenizer: lm::TokenizerInfo::of(&tok, "in-code"),
        train: None,
        seeds: Some(TrainSeeds::from_master(1)),
        dataset_manifest_sha256: None,
        report: None,
        device: "flex".into(),
        doppel_version: "fuzz".into(),
    };
    lm::checkpoint::save(dir, &model, &tok, &side).unwrap();
}

/// Loads the LM folder and runs it on a prompt (cut to its `max_len` by the tokenizer).
fn load_lm(dir: &Path, device: &Device) -> Result<(), String> {
    let (model, tok, _) = lm::checkpoint::load(dir, device).map_err(named(dir))?;
    let ids: Vec<i64> = tok.encode_prompt("what is a dog?", model.max_len()).iter().map(|&i| i64::from(i)).collect();
    let t = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, ids.len()]), device);
    assert_eq!(model.forward(t).dims(), [1, ids.len(), tok.vocab_size()], "the logits of a loaded LM");
    Ok(())
}

#[test]
fn lm_model_folders_never_panic() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    lm_folder(dir, &device);
    load_lm(dir, &device).unwrap();
    type Mutation = fn(&[u8], &mut Rng) -> Vec<u8>;
    let files: [(&str, Mutation); 3] = [
        (lm::checkpoint::WEIGHTS, mutate_safetensors),
        (lm::checkpoint::SIDECAR, mutate_json),
        (lm::checkpoint::VOCAB, mutate_lines),
    ];
    for (file, mutation) in files {
        let path = dir.join(file);
        let valid = std::fs::read(&path).unwrap();
        check(
            &format!("lm {file}"),
            |r| mutation(&valid, r),
            |b| {
                std::fs::write(&path, b).unwrap();
                load_lm(dir, &device)
            },
        );
        std::fs::write(&path, &valid).unwrap();
    }
}

/// The TOML files under `configs/{train,bench}` that `parses` accepts unmutated.
fn configs(parses: impl Fn(&str, &str) -> bool) -> Vec<(PathBuf, String)> {
    let root = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut out = Vec::new();
    for sub in ["train", "bench"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(sub)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths.into_iter().filter(|p| p.extension().is_some_and(|x| x == "toml")) {
            let text = std::fs::read_to_string(&p).unwrap();
            if parses(&text, &p.display().to_string()) {
                out.push((p, text));
            }
        }
    }
    out
}

#[test]
fn toml_training_configs_never_panic() {
    let train = configs(|t, f| TrainConfig::from_toml(t, f).is_ok());
    let lm = configs(|t, f| LmTrainConfig::from_toml(t, f).is_ok());
    // Every training config of the repository is a seed: the classifier ones and the LM one.
    assert!(train.len() >= 8, "{} classifier training configs", train.len());
    assert_eq!(lm.len(), 1, "the LM training config");
    let valid: Vec<(&str, &[u8])> = train.iter().map(|(p, t)| (p.to_str().unwrap(), t.as_bytes())).collect();
    check(
        "train config toml",
        |r| {
            let (file, text) = *r.pick(&valid);
            (file, mutate_toml(text, r))
        },
        |(file, b)| -> Result<(), String> {
            let text = std::str::from_utf8(&b).map_err(|e| e.to_string())?;
            let cfg = TrainConfig::from_toml(text, file).map_err(|e| {
                let message = e.to_string();
                assert!(message.starts_with(file), "the error does not start with the file's name: {message}");
                message
            })?;
            // What a training run does with it next, short of training: the network's spec, the schedule.
            spec(cfg.model.clone(), ImageShape::grey(8, 8)).validate().map_err(|e| e.to_string())?;
            let recipe = cfg.recipe();
            let total = recipe.epochs.saturating_mul(10);
            for step in [0, 1, total / 2, total.saturating_sub(1)] {
                let epoch = step / 10;
                let _ = recipe.schedule.lr(recipe.optimizer.lr(), epoch, step, total);
            }
            let _ = recipe.optimizer.init();
            Ok(())
        },
    );
    let lm_file = lm[0].0.display().to_string();
    let lm_file = lm_file.as_str();
    let lm_text = lm[0].1.as_bytes();
    check(
        "lm train config toml",
        |r| mutate_toml(lm_text, r),
        |b| -> Result<(), String> {
            let text = std::str::from_utf8(&b).map_err(|e| e.to_string())?;
            let cfg = LmTrainConfig::from_toml(text, lm_file).map_err(|e| {
                let message = e.to_string();
                assert!(message.starts_with(lm_file), "the error does not start with the file's name: {message}");
                message
            })?;
            cfg.model.with_vocab(20).validate(lm_file).map_err(|e| e.to_string())
        },
    );
}

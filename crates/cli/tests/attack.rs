//! `doppel attack` end to end on the smoke dataset: the files it writes, their structure and ranges, the Markdown
//! table, and the one-line errors on bad input. No value is asserted that depends on how well the tiny models
//! learn or how well the short attacks converge (the attack's known-positive test is in doppel-attack).

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;

use doppel_protocol::{EvalResult, read_result};
use polars::prelude::{DataFrame, ParquetReader, SerReader};

mod common;
use common::{doppel, failing, ok};

/// A tiny MLP recipe.
const TRAIN: &str = r#"
seed = 1
epochs = 3
batch_size = 16
[model]
arch = "mlp"
hidden = [16, 8]
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
weight_decay = 5e-4
[schedule]
kind = "cosine"
"#;

/// Builds configs/smoke.toml into `dir/ds` (28 × 28 grey, 4 classes, 8 targets) and trains m0 and retrain_clean
/// into `dir/run`.
fn fixture(dir: &Path) {
    let smoke = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    ok(&doppel(&["data", "build", "--config", smoke.to_str().unwrap(), "--out", "ds"], dir));
    std::fs::write(dir.join("t.toml"), TRAIN).unwrap();
    ok(&doppel(
        &["train", "--dataset", "ds", "--config", "t.toml", "--which", "m0,retrain_clean", "--out", "run"],
        dir,
    ));
}

/// Width and height of a PNG, from its IHDR chunk (bytes 16..24, big-endian).
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}

const ATTACK: [&str; 14] = [
    "attack",
    "--dataset",
    "ds",
    "--model",
    "m0=run/m0",
    "--model",
    "clean=run/retrain_clean",
    "--attack",
    "kkt,inversion",
    "--candidates",
    "8",
    "--steps",
    "20",
    "--seed",
];

#[test]
fn a_model_with_the_weights_of_an_earlier_one_gets_its_scores_which_attacking_it_alone_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture(dir);
    let twin = dir.join("run/twin");
    std::fs::create_dir_all(&twin).unwrap();
    for f in ["model.safetensors", "model.json"] {
        std::fs::copy(dir.join("run/m0").join(f), twin.join(f)).unwrap();
    }
    let attack = |models: &[&str], out: &str| -> Vec<String> {
        let mut args = vec!["attack", "--dataset", "ds"];
        for m in models {
            args.extend(["--model", m]);
        }
        args.extend(["--attack", "kkt,inversion", "--candidates", "8", "--steps", "20", "--seed", "3", "--out", out]);
        ok(&doppel(&args, dir));
        std::fs::read_to_string(dir.join(out).join("scores.csv")).unwrap().lines().map(String::from).collect()
    };
    let pair = attack(&["m0=run/m0", "twin=run/twin"], "pair");
    let alone = attack(&["twin=run/twin"], "alone");
    let (header, rows) = pair.split_first().unwrap();
    assert_eq!(header, &alone[0]);
    let of = |name: &str| -> Vec<String> {
        rows.iter()
            .filter(|l| l.starts_with(&format!("{name},")))
            .map(|l| l.split_once(',').unwrap().1.to_string())
            .collect()
    };
    let alone_rows: Vec<String> = alone[1..].iter().map(|l| l.split_once(',').unwrap().1.to_string()).collect();
    assert_eq!(of("twin").len(), 2 * 8, "both attacks on every target");
    assert_eq!(of("twin"), of("m0"));
    assert_eq!(of("twin"), alone_rows, "taking over the earlier model's scores gives what attacking it gives");
}

#[test]
fn attack_writes_scores_grids_and_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture(dir);
    let mut args = ATTACK.to_vec();
    args.extend(["3", "--out", "at"]);
    let stdout = ok(&doppel(&args, dir));

    // The Markdown table: one row per model and attack, in --model order.
    assert!(stdout.contains("dataset smoke (ds): 8 target(s)"), "{stdout}");
    assert!(stdout.contains("| model | attack | best SSIM (class) | best SSIM (any) | class-mean SSIM |"), "{stdout}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| m0 |") || l.starts_with("| clean |")).collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(rows[0].starts_with("| m0 | kkt | ") && rows[3].starts_with("| clean | inversion | "), "{stdout}");
    assert!(rows.iter().all(|r| r.contains(" ± ")), "{stdout}");

    // scores: 2 models × 2 attacks × 8 targets; SSIM in [−1, 1]; the controls do not depend on the model.
    let df = read(&dir.join("at/scores.parquet"));
    assert_eq!(df.height(), 32);
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(
        names,
        [
            "model",
            "attack",
            "target_row",
            "target_id",
            "class",
            "best_ssim",
            "best_index",
            "best_ssim_any",
            "best_index_any",
            "class_mean_ssim",
            "nearest_ssim",
            "nearest_id"
        ]
    );
    let floats = |n: &str| -> Vec<f64> { df.column(n).unwrap().f64().unwrap().iter().map(|v| v.unwrap()).collect() };
    for n in ["best_ssim", "best_ssim_any", "class_mean_ssim", "nearest_ssim"] {
        assert!(floats(n).iter().all(|v| (-1.0..=1.0).contains(v)), "{n}");
    }
    let (best, any) = (floats("best_ssim"), floats("best_ssim_any"));
    assert!(best.iter().zip(&any).all(|(b, a)| a >= b), "the best over all classes is at least the best in class");
    let near = floats("nearest_ssim");
    assert!(near.chunks(8).all(|c| c == &near[..8]));
    // The KKT candidate indices are below m = 8; inversion has one image per class, so its index is the class.
    let index: Vec<u32> = df.column("best_index").unwrap().u32().unwrap().iter().map(|v| v.unwrap()).collect();
    let class: Vec<u32> = df.column("class").unwrap().u32().unwrap().iter().map(|v| v.unwrap()).collect();
    assert!(index[..8].iter().all(|&i| i < 8));
    assert_eq!(index[8..16], class[8..16]);
    let csv = std::fs::read_to_string(dir.join("at/scores.csv")).unwrap();
    assert_eq!(csv.lines().count(), 33);

    // Grids: 8 targets × (target + 2 models) cells of 28 × 28 with 2-pixel borders.
    for attack in ["kkt", "inversion"] {
        assert_eq!(png_size(&dir.join(format!("at/grid_{attack}.png"))), (3 * 30 + 2, 8 * 30 + 2), "{attack}");
    }
    // Candidates: one row per class (4), two KKT candidates per class, one inversion image per class.
    assert_eq!(png_size(&dir.join("at/candidates_m0_kkt.png")), (2 * 30 + 2, 4 * 30 + 2));
    assert!(dir.join("at/candidates_clean_inversion.png").is_file());

    // The budget sidecar.
    let budget: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("at/attack.json")).unwrap()).unwrap();
    assert_eq!(budget["kkt"]["candidates"], 8);
    assert_eq!(budget["kkt"]["steps"], 20);
    assert_eq!(budget["kkt"]["seed"], 3);
    assert_eq!(budget["kkt"]["lambda_min"], 0.05);
    assert_eq!(budget["inversion"]["steps"], 20);
    assert_eq!(budget["targets"], 8);

    // The same seed gives the same scores; an existing --out is refused without --force.
    assert!(failing(&doppel(&args, dir)).contains("at already exists; choose another --out or pass --force"));
    args.push("--force");
    ok(&doppel(&args, dir));
    assert_eq!(std::fs::read_to_string(dir.join("at/scores.csv")).unwrap(), csv);
    let entries: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!entries.iter().any(|p| p.contains("partial")), "{entries:?}");
}

#[test]
fn attack_bad_input_names_the_flag_or_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture(dir);
    let attack = |extra: &[&str]| {
        let mut args = vec!["attack", "--dataset", "ds", "--steps", "5", "--out", "at"];
        args.extend(extra);
        failing(&doppel(&args, dir))
    };
    let edit_json = |path: &Path, from: &str, to: &str| {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(from), "{from} in {}", path.display());
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    };
    let copy = |name: &str| {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for file in ["model.safetensors", "model.json"] {
            std::fs::copy(dir.join("run/m0").join(file), to.join(file)).unwrap();
        }
        to
    };

    let err = attack(&["--model", "m0=nope"]);
    assert!(err.contains("--model m0: nope/model.safetensors does not exist"), "{err}");
    let err = attack(&["--model", "run/m0"]);
    assert!(err.contains("--model \"run/m0\": write NAME=CHECKPOINT_DIR"), "{err}");
    let err = attack(&["--model", "a=run/m0,a=run/retrain_clean"]);
    assert!(err.contains("two models are named \"a\""), "{err}");
    let err = attack(&["--model", "m0=run/m0", "--candidates", "0"]);
    assert!(err.contains("--candidates: attack setting `candidates` is 0"), "{err}");
    let err = attack(&["--model", "m0=run/m0", "--lambda-min", "1"]);
    assert!(err.contains("--lambda-min: attack setting `lambda_min` is 1"), "{err}");

    let shape = copy("shape");
    edit_json(&shape.join("model.json"), "\"height\": 28", "\"height\": 32");
    let err = attack(&["--model", "m=shape"]);
    assert!(err.contains("shape/model.json: `spec.input` is ImageShape { channels: 1, height: 32"), "{err}");

    let classes = copy("classes");
    edit_json(&classes.join("model.json"), "\"classes\": 4,", "\"classes\": 5,");
    let err = attack(&["--model", "m=classes"]);
    assert!(err.contains("classes/model.json: `spec.classes` is 5, but the dataset has 4 classes"), "{err}");

    let sha = copy("sha");
    edit_json(&sha.join("model.json"), "\"dataset_manifest_sha256\": \"", "\"dataset_manifest_sha256\": \"00");
    let err = attack(&["--model", "m=sha"]);
    assert!(err.contains("--model m: sha/model.json: `dataset_manifest_sha256` is 00"), "{err}");
    assert!(err.contains("ds/manifest.json has sha256") && err.contains("--allow-other-dataset"), "{err}");

    let cnn = copy("cnn");
    edit_json(
        &cnn.join("model.json"),
        "\"arch\": \"mlp\",\n      \"hidden\": [\n        16,\n        8\n      ]",
        "\"arch\": \"cnn\", \"channels\": [4, 4], \"hidden\": 8",
    );
    let err = attack(&["--model", "m=cnn"]);
    assert!(err.contains("cnn/model.json: `spec.arch` is cnn; the kkt attack is not supported for this arch"), "{err}");
    // Inversion needs only the forward pass; the same sidecar then fails on the weights, naming the file.
    let err = attack(&["--model", "m=cnn", "--attack", "inversion"]);
    assert!(err.contains("cnn/model.safetensors"), "{err}");

    // Nothing was written by any failing run.
    assert!(!dir.join("at").exists());
}

/// `doppel eval --attacks` puts each model's reconstruction SSIM and the controls beside its other metrics, and
/// refuses a count of attack directories that does not match the runs.
#[test]
fn eval_takes_the_reconstruction_scores_of_each_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture(dir);
    ok(&doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--which", "retrain_exact", "--out", "run"], dir));
    let models = "m0=run/m0,retrain_exact=run/retrain_exact,retrain_clean=run/retrain_clean";
    let args = ["attack", "--dataset", "ds", "--model", models, "--attack", "kkt,inversion"];
    ok(&doppel(&[&args[..], &["--candidates", "8", "--steps", "10", "--out", "at"]].concat(), dir));
    let stdout = ok(&doppel(&["eval", "--dataset", "ds", "--runs", "run", "--attacks", "at", "--out", "ev"], dir));
    assert!(stdout.contains("| SSIM kkt | SSIM inversion | SSIM class mean | SSIM nearest |"), "{stdout}");
    let result: EvalResult = read_result(&dir.join("ev/result.json")).unwrap();
    let kkt = result.columns.iter().position(|c| c == "recon_kkt").expect("a recon_kkt column");
    assert_eq!(result.models.len(), 3, "m0 and both oracles");
    for row in &result.models {
        let v = row.mean[kkt].unwrap_or_else(|| panic!("{} has no recon_kkt", row.model));
        assert!((-1.0..=1.0).contains(&v), "{}: recon_kkt {v}", row.model);
    }

    let bad = doppel(&["eval", "--dataset", "ds", "--runs", "run", "--attacks", "at,at", "--out", "ev2"], dir);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--attacks names 2 directories for 1 --runs"));
}

//! Interrupted runs leave nothing half-written (issue 21, item 2): each command that writes an output folder —
//! `unlearn`, `eval`, `attack`, `lm train`, `lm unlearn` and `mine` — is killed (SIGKILL) part-way through, more
//! than once, and then:
//!
//! - its `--out` does not exist (for `mine`, whose `--out` may be shared with other tables, every file in it is
//!   whole: it reads back as Parquet);
//! - a `--force` run killed over a finished `--out` leaves that folder byte for byte as it was;
//! - the next, uninterrupted run succeeds, writes the same set of files as a run that was never interrupted, and
//!   leaves no hidden `.partial` folder or file of the killed runs behind.
//!
//! Where to kill: every command is first run to completion to measure its wall time `T`; the interrupted runs are
//! killed at fixed fractions of `T`, and once as soon as a staged `.partial` entry appears beside `--out` (the
//! moment the output is being written). A kill that arrives after the process has already exited proves nothing,
//! so each test requires that at least two of its kills hit a running process.
//!
//! The LM tests need `cargo xtask data fetch --only wordnet,minilm`; without the files they say so and pass,
//! unless `DOPPEL_REQUIRE_DATA=1`.

#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use polars::prelude::{ParquetReader, SerReader};

mod common;
use common::{doppel, fetched, ok, stderr};

/// Fractions of the uninterrupted wall time at which the runs are killed.
const KILL_AT: [f64; 5] = [0.1, 0.25, 0.4, 0.6, 0.8];

fn start(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("DOPPEL_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("doppel starts")
}

/// Every file below `dir`, relative path → bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Whether `name` is a staged folder (`.<out>.partial-<pid>-<n>`) or a temporary file (`.<file>.tmp-<pid>-<n>`).
fn is_partial(name: &str) -> bool {
    name.starts_with('.') && (name.contains(".partial") || name.contains(".tmp-"))
}

/// The staged folders and temporary files in `dir`.
fn partials(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| is_partial(n))
        .collect()
}

/// What a kill found.
#[derive(Debug, PartialEq)]
enum Kill {
    /// The process was running and is now dead.
    MidRun,
    /// It had already exited (successfully or not): the kill proved nothing.
    TooLate,
}

/// Starts `args` and kills it after `after`, or (when `after` is `None`) as soon as a `.partial` entry shows up
/// in `watch` (giving up after `give_up`).
fn run_and_kill(args: &[&str], cwd: &Path, after: Option<Duration>, watch: &Path, give_up: Duration) -> Kill {
    let mut child = start(args, cwd);
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Kill::TooLate;
        }
        let due = match after {
            Some(d) => started.elapsed() >= d,
            None => {
                started.elapsed() >= give_up
                    || (watch.is_dir()
                        && std::fs::read_dir(watch)
                            .unwrap()
                            .flatten()
                            .any(|e| is_partial(&e.file_name().to_string_lossy())))
            }
        };
        if due {
            // SIGKILL: no destructor, no cleanup — the hard case.
            let alive = child.try_wait().unwrap().is_none();
            child.kill().unwrap();
            child.wait().unwrap();
            return if alive { Kill::MidRun } else { Kill::TooLate };
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// How a command's output must look after a kill.
#[derive(Clone, Copy)]
enum Output {
    /// A staged folder: `--out` absent after a kill.
    Folder,
    /// Files written one by one into a folder that may be shared: every file present is whole Parquet.
    WholeFiles,
}

/// The whole check for one command. `args(out)` gives the argument list writing to `out` (a path relative to
/// `cwd`); `watch` is the folder the staged entries appear in (`out`'s parent, or `out` itself for
/// [`Output::WholeFiles`]).
fn check_interrupted(cwd: &Path, what: &str, output: Output, args: impl Fn(&str) -> Vec<String>) {
    check_interrupted_with(cwd, what, output, &["--force"], args);
}

/// [`check_interrupted`] for a command whose flag to replace a finished `--out` is `force` (empty: it always
/// replaces).
fn check_interrupted_with(cwd: &Path, what: &str, output: Output, force: &[&str], args: impl Fn(&str) -> Vec<String>) {
    let tag = what.replace(' ', "-");
    let (ref_out, out) = (format!("{tag}-ref"), format!("{tag}-killed"));
    let (ref_out, out) = (ref_out.as_str(), out.as_str());
    let argv = |out: &str| args(out);
    let as_str = |v: &Vec<String>| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");

    // The reference run, timed.
    let started = Instant::now();
    let reference = argv(ref_out);
    ok(&doppel(&reference.iter().map(String::as_str).collect::<Vec<_>>(), cwd));
    let wall = started.elapsed();
    let want: Vec<PathBuf> = files(&cwd.join(ref_out)).into_keys().collect();
    assert!(!want.is_empty(), "{what}: the reference run wrote nothing");

    let watch = |out: &str| match output {
        Output::Folder => cwd.join(out).parent().unwrap().to_path_buf(),
        Output::WholeFiles => cwd.join(out),
    };
    let check_after_kill = |out: &str, how: &str| match output {
        // Killed after its rename (while it prints its summary and exits), the folder is whole.
        Output::Folder => assert!(
            !cwd.join(out).exists() || files(&cwd.join(out)).into_keys().collect::<Vec<_>>() == want,
            "{what}: {out} is incomplete after a kill {how}"
        ),
        Output::WholeFiles => {
            if cwd.join(out).is_dir() {
                for (name, bytes) in files(&cwd.join(out)) {
                    let visible = !name.to_string_lossy().starts_with('.');
                    if visible && name.extension().is_some_and(|e| e == "parquet") {
                        let reader = ParquetReader::new(std::io::Cursor::new(bytes));
                        assert!(
                            reader.finish().is_ok(),
                            "{what}: {out}/{} is not whole Parquet after a kill {how}",
                            name.display()
                        );
                    }
                }
            }
        }
    };

    // Killed part-way, at fractions of the wall time and once while it stages its output. A run that finished
    // before its kill wrote a complete output, which is removed before the next try.
    let mut mid_run = 0;
    let a = argv(out);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let tries = KILL_AT.iter().map(|f| Some(*f)).chain([None]);
    for f in tries {
        let (after, how) = match f {
            Some(f) => (Some(wall.mul_f64(f)), format!("at {:.0} % of {:.2} s", f * 100.0, wall.as_secs_f64())),
            None => (None, "while staging".to_string()),
        };
        match run_and_kill(&a, cwd, after, &watch(out), wall.mul_f64(2.0)) {
            Kill::MidRun => {
                mid_run += 1;
                check_after_kill(out, &how);
            }
            Kill::TooLate => {}
        }
        if cwd.join(out).exists() {
            std::fs::remove_dir_all(cwd.join(out)).unwrap();
        }
    }
    let tried = KILL_AT.len() + 1;
    assert!(mid_run >= 2, "{what}: only {mid_run} of {tried} kills hit a running process (wall {wall:?})");

    // A --force run killed over a finished folder leaves it as it was.
    if matches!(output, Output::Folder) {
        let mut before = files(&cwd.join(ref_out));
        let mut forced = argv(ref_out);
        forced.extend(force.iter().map(|f| f.to_string()));
        let forced: Vec<&str> = forced.iter().map(String::as_str).collect();
        for f in [0.3, 0.6] {
            run_and_kill(&forced, cwd, Some(wall.mul_f64(f)), &watch(ref_out), wall);
            let now = files(&cwd.join(ref_out));
            // Either the old folder byte for byte, or (killed after its rename, or finished) the whole new one.
            let replaced = now.keys().cloned().collect::<Vec<_>>() == want;
            assert!(
                now == before || replaced,
                "{what}: a --force run killed at {f} left a folder that is neither the old one nor a whole new one"
            );
            before = now;
        }
        // The next write of the same folder clears what the killed runs staged for it.
        ok(&doppel(&forced, cwd));
    }

    // The next run completes, writes what an uninterrupted run writes and clears the killed runs' leftovers.
    let o = doppel(&a, cwd);
    assert!(o.status.success(), "{what}: `doppel {}` after the kills failed: {}", as_str(&argv(out)), stderr(&o));
    let got: Vec<PathBuf> = files(&cwd.join(out)).into_keys().collect();
    let visible = |v: &[PathBuf]| -> Vec<PathBuf> {
        v.iter().filter(|p| !p.to_string_lossy().starts_with('.')).cloned().collect()
    };
    assert_eq!(visible(&got), visible(&want), "{what}: the rerun wrote other files than an uninterrupted run");
    let mut left: Vec<String> = partials(&watch(out)).into_iter().chain(partials(cwd)).collect();
    left.sort();
    left.dedup();
    assert!(left.is_empty(), "{what}: the killed runs left {left:?}");
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn smoke_config() -> String {
    doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml").display().to_string()
}

const TRAIN: &str = r#"
seed = 1
epochs = 3
batch_size = 16
[model]
arch = "mlp"
hidden = [32, 16]
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
weight_decay = 5e-4
[schedule]
kind = "cosine"
"#;

/// The smoke dataset in `dir/ds` and an MLP's m0, retrain_exact and retrain_clean in `dir/run`.
fn image_fixture(dir: &Path) {
    ok(&doppel(&["data", "build", "--config", &smoke_config(), "--out", "ds"], dir));
    std::fs::write(dir.join("t.toml"), TRAIN).unwrap();
    ok(&doppel(&["train", "--dataset", "ds", "--config", "t.toml", "--out", "run"], dir));
}

#[test]
fn a_killed_unlearn_leaves_no_partial_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    image_fixture(dir);
    std::fs::write(dir.join("u.toml"), "[ft]\nretain = { epochs = 3 }\n").unwrap();
    // unlearn always replaces its --out (there is no --force).
    check_interrupted_with(dir, "unlearn", Output::Folder, &[], |out| {
        owned(&[
            "unlearn",
            "--dataset",
            "ds",
            "--checkpoint",
            "run/m0/model.safetensors",
            "--method",
            "ft",
            "--scope",
            "lineage",
            "--config",
            "u.toml",
            "--out",
            out,
        ])
    });
}

#[test]
fn a_killed_eval_leaves_no_partial_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    image_fixture(dir);
    check_interrupted(dir, "eval", Output::Folder, |out| {
        owned(&["eval", "--dataset", "ds", "--runs", "run", "--recompute", "--out", out])
    });
}

#[test]
fn a_killed_attack_leaves_no_partial_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    image_fixture(dir);
    check_interrupted(dir, "attack", Output::Folder, |out| {
        owned(&[
            "attack",
            "--dataset",
            "ds",
            "--model",
            "m0=run/m0",
            "--attack",
            "kkt,inversion",
            "--candidates",
            "16",
            "--steps",
            "60",
            "--out",
            out,
        ])
    });
}

#[test]
fn a_killed_mine_leaves_only_whole_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(&doppel(&["data", "build", "--config", &smoke_config(), "--out", "ds"], dir));
    std::fs::write(dir.join("m.toml"), changed(common::MINE_PIXEL, "recall_queries = 100", "recall_queries = 300"))
        .unwrap();
    ok(&doppel(&["mine", "embed", "--dataset", "ds", "--config", "m.toml"], dir));
    check_interrupted(dir, "mine quality", Output::WholeFiles, |out| {
        owned(&["mine", "quality", "--dataset", "ds", "--config", "m.toml", "--out", out])
    });
    check_interrupted(dir, "mine groups", Output::WholeFiles, |out| {
        owned(&["mine", "groups", "--dataset", "ds", "--config", "m.toml", "--out", out])
    });
}

fn lm_data() -> Option<PathBuf> {
    fetched(&["wordnet/data.noun", "minilm/vocab.txt"], "wordnet,minilm")
}

/// A small QA dataset in `dir/qa` (bag-of-words scorer); the LM config in `dir/lm.toml`.
fn qa_fixture(dir: &Path, data: &str) {
    std::fs::write(dir.join("qa.toml"), common::QA_SMALL).unwrap();
    std::fs::write(dir.join("lm.toml"), changed(common::LM_TINY, "epochs = 2", "epochs = 3")).unwrap();
    let o = doppel(
        &["data", "build-qa", "--config", "qa.toml", "--out", "qa", "--data-dir", data, "--embedder", "bag-of-words"],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_killed_lm_train_leaves_no_partial_model() {
    let Some(data) = lm_data() else { return };
    let data = data.to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    qa_fixture(dir, &data);
    check_interrupted(dir, "lm train", Output::Folder, |out| {
        owned(&[
            "lm",
            "train",
            "--data",
            "qa",
            "--config",
            "lm.toml",
            "--role",
            "m0",
            "--out",
            out,
            "--data-dir",
            &data,
        ])
    });
}

#[test]
fn a_killed_lm_unlearn_leaves_no_partial_model() {
    let Some(data) = lm_data() else { return };
    let data = data.to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    qa_fixture(dir, &data);
    let args = ["lm", "train", "--data", "qa", "--config", "lm.toml", "--role", "m0", "--out", "m0", "--data-dir"];
    ok(&doppel(&[&args[..], &[&data]].concat(), dir));
    std::fs::write(dir.join("u.toml"), "[npo]\nforget = { epochs = 4 }\nbatch_size = 4\nlr = 1e-3\n").unwrap();
    check_interrupted(dir, "lm unlearn", Output::Folder, |out| {
        owned(&[
            "lm", "unlearn", "--data", "qa", "--model", "m0", "--method", "npo", "--scope", "lineage", "--config",
            "u.toml", "--out", out,
        ])
    });
}

/// `text` with `from` replaced by `to`; `from` must be there (a shared fixture that drifts fails here, not by
/// silently running other settings).
fn changed(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the shared fixture no longer holds {from:?}:\n{text}");
    text.replace(from, to)
}

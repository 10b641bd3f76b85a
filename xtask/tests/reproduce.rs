#![allow(clippy::unwrap_used)]
//! End-to-end tests of `cargo xtask reproduce` on the smoke preset: a run, a rerun that reuses every step, a run
//! killed midway and resumed, three shards and a merge, job emission and preset errors.
//!
//! The runs need the release `doppel` binary. The tests take `<target>/release/doppel` beside the xtask binary's
//! profile folder (`cargo nextest run --workspace --release` builds it, doppel-cli being a workspace member) and
//! build it with `cargo build --release -p doppel-cli` only when it is missing, which works under nextest (it
//! holds no cargo lock while tests run) but would wait forever under `cargo test`, which does: there, build it
//! first.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The smoke preset's steps: 3 datasets, 3 seeds × (3 reference models at k = 7 and 21, 2 at k = 0 where one step
/// writes retrain_exact and retrain_clean), 1 mining, 3 calibrations, 9 unlearned, 3 searched, 3 attacks and 3
/// evaluations.
const SMOKE_STEPS: usize = 49;

fn root() -> PathBuf {
    doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The release doppel binary, built once if missing.
fn doppel() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let xtask = Path::new(env!("CARGO_BIN_EXE_xtask"));
        let target = xtask.parent().and_then(Path::parent).unwrap();
        let bin = target.join("release").join("doppel");
        if !bin.is_file() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--release", "-p", "doppel-cli"])
                .env("CARGO_TARGET_DIR", target)
                .current_dir(root())
                .status()
                .unwrap();
            assert!(status.success(), "cargo build --release -p doppel-cli failed");
        }
        bin
    })
}

fn xtask_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("reproduce").args(args).arg("--doppel-bin").arg(doppel()).stdin(Stdio::null());
    cmd
}

fn xtask(args: &[&str]) -> Output {
    xtask_cmd(args).output().unwrap()
}

/// Runs the smoke preset into `out` with `extra` arguments and returns its stderr; panics with it on failure.
fn smoke(out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--preset", "smoke", "--out", out.to_str().unwrap()];
    args.extend(extra);
    let o = xtask(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "reproduce {args:?} failed:\n{stderr}");
    stderr
}

/// The report files that must be byte-identical between runs of one preset.
fn report_files(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("report.md".to_string(), std::fs::read(out.join("report.md")).unwrap())];
    let mut tables: Vec<_> = std::fs::read_dir(out.join("tables")).unwrap().map(|e| e.unwrap().path()).collect();
    tables.sort();
    assert!(tables.len() >= 3, "{tables:?}");
    assert!(
        tables.iter().any(|t| t.extension().is_some_and(|e| e == "parquet")),
        "every table has a Parquet twin: {tables:?}"
    );
    let mut figures: Vec<_> = std::fs::read_dir(out.join("figures")).unwrap().map(|e| e.unwrap().path()).collect();
    figures.sort();
    assert!(figures.iter().any(|f| f.extension().is_some_and(|e| e == "png")), "{figures:?}");
    for t in tables.into_iter().chain(figures) {
        files.push((t.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&t).unwrap()));
    }
    files
}

fn assert_same_report(a: &Path, b: &Path) {
    let (fa, fb) = (report_files(a), report_files(b));
    assert_eq!(fa.len(), fb.len());
    for ((na, ba), (nb, bb)) in fa.iter().zip(&fb) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between {} and {}", a.display(), b.display());
    }
}

/// Progress lines of finished steps: (built, reused).
fn counts(stderr: &str) -> (usize, usize) {
    let steps = stderr.lines().filter(|l| l.starts_with("reproduce: [")).collect::<Vec<_>>();
    let built = steps.iter().filter(|l| l.contains(": built in ")).count();
    let reused = steps.iter().filter(|l| l.contains(": reused (")).count();
    (built, reused)
}

/// Where the smoke preset's report snapshots live: `report.md`, `figures-index.md` (the run's
/// `figures/index.md`) and `table-headers.txt` (`<table file>: <header line>` per CSV table).
fn snapshot_dir() -> PathBuf {
    root().join("xtask/tests/snapshots/smoke")
}

/// The snapshot files of the report in `out`, by name.
fn snapshot_files(out: &Path) -> Vec<(&'static str, String)> {
    let mut tables: Vec<_> = std::fs::read_dir(out.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    tables.sort();
    let headers: String = tables
        .iter()
        .map(|t| {
            let text = std::fs::read_to_string(t).unwrap();
            format!("{}: {}\n", t.file_name().unwrap().to_string_lossy(), text.lines().next().unwrap_or(""))
        })
        .collect();
    vec![
        ("report.md", std::fs::read_to_string(out.join("report.md")).unwrap()),
        ("figures-index.md", std::fs::read_to_string(out.join("figures/index.md")).unwrap()),
        ("table-headers.txt", headers),
    ]
}

/// Compares the report in `out` with the committed snapshots, or rewrites them when
/// `DOPPEL_UPDATE_SNAPSHOTS=1` (`DOPPEL_UPDATE_SNAPSHOTS=1 cargo nextest run --release -p xtask -E
/// 'test(smoke_runs_end_to_end)'`; review the diff before committing it).
fn check_snapshots(out: &Path) {
    let dir = snapshot_dir();
    let update = std::env::var("DOPPEL_UPDATE_SNAPSHOTS").as_deref() == Ok("1");
    for (name, actual) in snapshot_files(out) {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; write the snapshots with DOPPEL_UPDATE_SNAPSHOTS=1", path.display()));
        if expected != actual {
            let first = expected.lines().zip(actual.lines()).position(|(a, b)| a != b);
            let line = first.unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
            panic!(
                "{name} differs from its snapshot {} at line {}:\n  snapshot: {:?}\n  this run: {:?}\nif the change \
                 is meant, rerun with DOPPEL_UPDATE_SNAPSHOTS=1 and commit the new snapshot",
                path.display(),
                line + 1,
                expected.lines().nth(line).unwrap_or("<end>"),
                actual.lines().nth(line).unwrap_or("<end>"),
            );
        }
    }
}

#[test]
fn smoke_runs_end_to_end_and_a_rerun_reuses_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke");
    let first = smoke(&out, &[]);
    let (built, reused) = counts(&first);
    assert_eq!(
        (built, reused),
        (SMOKE_STEPS, 0),
        "3 datasets + 3 seeds × (3 models at k = 7 and 21, 2 at k = 0) + 1 mining + 3 calibrations + 9 unlearned + 3 \
         searched + 3 attacks + 3 evaluations:\n{first}"
    );
    for f in [
        "report.md",
        "manifest.json",
        "reproduce.log",
        "tables/reference_models.csv",
        "tables/evaluation.parquet",
        "figures/index.md",
        "figures/forget_acc_vs_k-smoke.png",
        // The mine step's precision-recall sweep (k = 21), drawn as the PR curve.
        "tables/mining_quality.csv",
        "figures/mining_pr-mining_quality-smoke.png",
    ] {
        assert!(out.join(f).is_file(), "{f} is missing");
    }
    // report.md, figures/index.md and every table's header against the committed snapshots: the numbers of
    // the smoke preset do not change unless a commit means them to (and updates the snapshots).
    check_snapshots(&out);
    let eval_csv = std::fs::read_to_string(out.join("tables/evaluation.csv")).unwrap();
    assert_eq!(eval_csv.lines().count(), 1 + 3 * 3 + 12, "a header, 3 k × 3 models, 12 unlearned:\n{eval_csv}");
    let recon = std::fs::read_to_string(out.join("tables/reconstruction.csv")).unwrap();
    assert_eq!(recon.lines().count(), 1 + 15 * 2, "3 references + 12 unlearned, 2 attacks:\n{recon}");
    // The last eval step ran doppel eval with every seed's attack: its table has the reconstruction columns.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let steps = manifest["steps"].as_array().unwrap();
    let last_eval = steps.iter().rev().find(|s| s["kind"] == "eval").unwrap()["key"].as_str().unwrap();
    let eval_out = std::fs::read_to_string(out.join("cache/eval").join(last_eval).join("stdout.txt")).unwrap();
    assert!(eval_out.contains("| SSIM kkt | SSIM inversion | SSIM class mean | SSIM nearest |"), "{eval_out}");
    let timing = std::fs::read_to_string(out.join("timing.md")).unwrap();
    assert!(timing.contains("| smoke | 21 | scrub | lineage |"), "{timing}");
    assert!(timing.contains("| smoke | 21 | salun+search | exact |"), "{timing}");
    assert_eq!(manifest["preset"], "smoke");
    assert_eq!(manifest["steps"].as_array().unwrap().len(), SMOKE_STEPS);
    assert!(manifest["steps"][0]["wall_seconds"].as_f64().is_some());
    let derived = std::fs::read_to_string(out.join("configs/dataset/smoke-k21.toml")).unwrap();
    assert!(derived.contains("per_target = 15") && derived.contains("per_target = 6"), "{derived}");
    let quality = std::fs::read_to_string(out.join("tables/mining_quality.csv")).unwrap();
    assert!(quality.lines().skip(1).all(|l| l.starts_with("smoke,21,")), "{quality}");
    let saved = report_files(&out);

    let second = smoke(&out, &[]);
    assert_eq!(counts(&second), (0, SMOKE_STEPS), "{second}");
    assert_eq!(report_files(&out), saved, "a rerun changed the report");
    let log = std::fs::read_to_string(out.join("reproduce.log")).unwrap();
    assert!(log.contains("reused") && log.contains("doppel train"), "the log holds both runs");
}

/// A user who starts the same reproduce twice on one results folder (issue 21, item 7): both runs finish, every
/// step is built exactly once between them (the other run waits on its lock, says so, and reuses the artifact),
/// the report equals an uninterrupted run's, and the cache holds no half-built folder.
#[test]
fn two_runs_on_one_results_folder_build_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, shared) = (dir.path().join("whole"), dir.path().join("shared"));
    smoke(&whole, &[]);
    let args = ["--preset", "smoke", "--out", shared.to_str().unwrap()];
    let (a, b) = (xtask_cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap(), {
        // The second starts while the first is building its first steps.
        std::thread::sleep(Duration::from_millis(300));
        xtask_cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
    });
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert!(a.status.success() && b.status.success(), "first:\n{ea}\nsecond:\n{eb}");
    let ((ba, ra), (bb, rb)) = (counts(&ea), counts(&eb));
    assert_eq!((ba + ra, bb + rb), (SMOKE_STEPS, SMOKE_STEPS), "each run accounts for every step:\n{ea}\n{eb}");
    assert_eq!(ba + bb, SMOKE_STEPS, "every step is built once, by one of the two runs:\n{ea}\n{eb}");
    assert!(ba > 0 && bb > 0, "both runs did work (the second did not just find everything done):\n{ea}\n{eb}");
    let waited = format!("{ea}{eb}").lines().filter(|l| l.contains("another run on this results folder")).count();
    assert!(waited > 0, "a run that waits for the other says so:\n{ea}\n{eb}");
    assert_same_report(&whole, &shared);
    for kind in std::fs::read_dir(shared.join("cache")).unwrap() {
        for e in std::fs::read_dir(kind.unwrap().path()).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name == ".locks" || p.join("step.json").is_file(), "half-built cache entry {}", p.display());
        }
    }
    // The cache is sound: a third run reuses every step.
    assert_eq!(counts(&smoke(&shared, &[])), (0, SMOKE_STEPS));
}

#[test]
fn a_killed_run_resumes_and_ends_with_the_same_report() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    smoke(&whole, &[]);

    // Kill the run's whole process group (xtask and the doppel it runs) once a few models are done.
    let mut child = xtask_cmd(&["--preset", "smoke", "--out", killed.to_str().unwrap()])
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let log = killed.join("reproduce.log");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if std::fs::read_to_string(&log).is_ok_and(|t| t.contains("[model 4/24]")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let pgid = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
    let _ = child.wait();
    // A kill inside a step leaves its build folder behind; plant one for the last step, which the kill came
    // before, as a kill in the middle of training it would have.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(whole.join("manifest.json")).unwrap()).unwrap();
    // The last model step (the unlearning, the attacks and the last evaluation follow it).
    let steps = manifest["steps"].as_array().unwrap();
    let last_model = steps.iter().rev().find(|s| s["kind"] == "model").unwrap();
    let last = last_model["key"].as_str().unwrap().to_string();
    let stale = killed.join(format!("cache/model/.tmp-{last}-1"));
    std::fs::create_dir_all(stale.join("m0")).unwrap();
    std::fs::write(stale.join("m0/model.safetensors"), "half").unwrap();

    let resumed = smoke(&killed, &[]);
    let (built, reused) = counts(&resumed);
    assert_eq!(built + reused, SMOKE_STEPS, "{resumed}");
    assert!(reused >= 4, "the steps finished before the kill are reused:\n{resumed}");
    assert!(built > 0, "the kill came before the end of the run:\n{resumed}");
    assert!(!stale.exists() || reused == SMOKE_STEPS, "the stale build folder is cleared");
    assert_same_report(&whole, &killed);
}

#[test]
fn three_shards_and_a_merge_equal_an_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, sharded) = (dir.path().join("whole"), dir.path().join("sharded"));
    // One step at a time here, three at once in the shards: the results do not depend on --jobs either.
    let serial = smoke(&whole, &["--jobs", "1"]);
    assert!(!serial.contains("steps at once"), "{serial}");
    let mut total_built = 0;
    for i in 0..3 {
        let shard = format!("{i}/3");
        let stderr = smoke(&sharded, &["--shard", &shard, "--jobs", "3"]);
        // A shard whose steps the earlier shards built as their dependencies has nothing to run.
        let built = counts(&stderr).0;
        assert_eq!(stderr.contains("running up to 3 steps at once"), built > 0, "{stderr}");
        total_built += built;
        assert!(!sharded.join("report.md").exists(), "a shard writes no report");
    }
    assert_eq!(total_built, SMOKE_STEPS, "every step is built by exactly one shard when they run one after another");

    // A merge with a step missing (as when a shard has not run) refuses and says what to do.
    let evals: Vec<_> = std::fs::read_dir(sharded.join("cache/eval")).unwrap().map(|e| e.unwrap().path()).collect();
    let gone = evals.iter().find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.')).unwrap();
    std::fs::remove_dir_all(gone).unwrap();
    let early = xtask(&["--preset", "smoke", "--out", sharded.to_str().unwrap(), "--merge"]);
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(!early.status.success());
    assert!(
        stderr.contains(&format!("1 of {SMOKE_STEPS} steps are not in")) && stderr.contains("run the missing shards"),
        "{stderr}"
    );

    let rebuilt: usize = (0..3).map(|i| counts(&smoke(&sharded, &["--shard", &format!("{i}/3")])).0).sum();
    assert_eq!(rebuilt, 1, "only the missing step is built again");
    smoke(&sharded, &["--merge"]);
    assert_same_report(&whole, &sharded);
}

#[test]
fn emit_jobs_writes_one_command_per_shard_and_a_slurm_array() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.txt");
    let out = dir.path().join("res");
    let stderr = smoke(&out, &["--emit-jobs", jobs.to_str().unwrap(), "--shards", "3", "--cpus-per-task", "3"]);
    assert!(stderr.contains("0 measured step kinds"), "nothing ran yet: {stderr}");
    let lines: Vec<String> = std::fs::read_to_string(&jobs).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 3);
    for (i, l) in lines.iter().enumerate() {
        assert!(l.contains("cargo xtask reproduce --preset") && l.ends_with(&format!("--shard {i}/3")), "{l}");
        assert!(l.contains(&format!("--out {}", out.display())), "{l}");
        assert!(l.contains(&format!("--doppel-bin {}", doppel().display())), "the tasks run the same binary: {l}");
    }
    let script = std::fs::read_to_string(dir.path().join("jobs.sbatch")).unwrap();
    assert!(script.starts_with("#!/bin/bash") && script.contains("#SBATCH --array=0-2"), "{script}");
    assert!(
        script.contains("#SBATCH --cpus-per-task=3") && script.contains("--jobs ${SLURM_CPUS_PER_TASK:-1}"),
        "{script}"
    );
    // Unmeasured, each step costs its kind's bound from the cpu run; the slowest shard sets the limit.
    let time = script.lines().find_map(|l| l.strip_prefix("#SBATCH --time=")).expect("a --time line");
    let minutes: Vec<u64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    assert!(minutes[0] * 60 + minutes[1] > 10, "{time}");
    let merge = std::fs::read_to_string(dir.path().join("jobs.merge.sbatch")).unwrap();
    assert!(merge.contains("--merge") && merge.contains("#SBATCH --time="), "{merge}");
    let submit = std::fs::read_to_string(dir.path().join("jobs.submit.sh")).unwrap();
    assert!(submit.contains("--dependency=afterok:") && submit.contains("jobs.merge.sbatch"), "{submit}");
    assert!(!out.join("cache").exists(), "emitting jobs runs nothing");

    // Once shard 0 ran into the folder it has nothing left to build, and its steps' times are measurements.
    smoke(&out, &["--shard", "0/3"]);
    let stderr = smoke(&out, &["--emit-jobs", jobs.to_str().unwrap(), "--shards", "3"]);
    assert!(!stderr.contains(" 0 measured step kinds"), "{stderr}");
    let script = std::fs::read_to_string(dir.path().join("jobs.sbatch")).unwrap();
    assert!(script.contains("shard 0: 0 steps to build, about 0 s"), "{script}");
}

#[test]
fn a_bad_preset_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("k = [0, -3]", "`datasets[0].k` holds -3"),
        ("k = [0]\nepochs = 3", "unknown field `epochs`"),
        ("k = [0]\nconfig_x = 1", "unknown field `config_x`"),
    ];
    for (i, (extra, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(
            &path,
            format!(
                "name = \"bad\"\nseeds = [1]\n[[datasets]]\nconfig = \"configs/smoke.toml\"\n\
                 train = \"configs/train/smoke-mlp.toml\"\n{extra}\n"
            ),
        )
        .unwrap();
        let out = dir.path().join("out");
        let o = xtask(&["--preset", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra}");
        assert!(stderr.contains(path.to_str().unwrap()) && stderr.contains(want), "{extra}: {stderr}");
        assert!(!out.exists(), "a bad preset leaves nothing behind");
    }
    let o = xtask(&["--preset", "no-such-preset"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("there is no") && stderr.contains("smoke"), "{stderr}");
    assert!(root().join("configs/presets/smoke.toml").is_file());
}

/// The fetched data directory when WordNet and MiniLM are there; `None` (the test passes) when they are not,
/// unless `DOPPEL_REQUIRE_DATA=1`, where it fails.
fn qa_data() -> Option<PathBuf> {
    let data = root().join("data");
    let present = ["wordnet", "minilm"].iter().all(|d| data.join(d).join(".fetched.json").is_file());
    if present {
        return Some(data);
    }
    assert!(
        std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"),
        "WordNet and MiniLM are not fetched; run `cargo xtask data fetch --only wordnet,minilm`"
    );
    eprintln!("skipping: run `cargo xtask data fetch --only wordnet,minilm` to run this test");
    None
}

#[test]
fn a_qa_arm_trains_unlearns_and_reports_the_language_models() {
    let Some(_) = qa_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("lm.toml"),
        "seed = 1\nepochs = 2\nbatch_size = 16\nloss = \"sequence\"\n[model]\nd_model = 32\nlayers = 1\n\
         heads = 2\nff = 64\nmax_len = 48\n[optimizer]\nlr = 3e-3\nweight_decay = 0.0\ngrad_clip = 1.0\n\
         [schedule]\nkind = \"constant\"\n",
    )
    .unwrap();
    std::fs::write(d.join("methods.toml"), "[ga]\nforget = { epochs = 1 }\n[npo]\nforget = { epochs = 1 }\n").unwrap();
    let preset = format!(
        "name = \"qa-test\"\nseeds = [1, 2]\n[[datasets]]\nconfig = \"configs/qa-wordnet.toml\"\n\
         train = \"{lm}\"\nbuilder = \"qa\"\nk = [0, 3]\nlabel = \"qa\"\nseeds = [1]\n\
         set = {{ \"pool.train\" = 120, \"pool.test\" = 30, \"targets.count\" = 4, \"paraphrases.candidates\" = 12, \
         \"paraphrases.threshold\" = 0.5, pos = [\"noun\"] }}\n\
         unlearn = {{ config = \"{methods}\", methods = [\"ga\", \"npo\"], scopes = [\"exact\", \"lineage\"] }}\n",
        lm = d.join("lm.toml").display(),
        methods = d.join("methods.toml").display()
    );
    std::fs::write(d.join("qa.toml"), preset).unwrap();
    let out = d.join("out");
    let run = || {
        let o = xtask(&["--preset", d.join("qa.toml").to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{stderr}");
        stderr
    };
    let first = run();
    // 2 datasets, 2 k × 3 reference LMs (seed 1 only), 2 methods × (exact at k = 0; exact and lineage at k = 3).
    assert_eq!(counts(&first), (2 + 6 + 6, 0), "{first}");
    let lm = std::fs::read_to_string(out.join("tables/lm.csv")).unwrap();
    let expected = [
        "qa,0,m0",
        "qa,0,retrain_exact",
        "qa,0,retrain_clean",
        "qa,0,ga-exact",
        "qa,0,npo-exact",
        "qa,3,m0",
        "qa,3,retrain_exact",
        "qa,3,retrain_clean",
        "qa,3,ga-exact",
        "qa,3,ga-lineage",
        "qa,3,npo-exact",
        "qa,3,npo-lineage",
    ];
    let rows: Vec<&str> = lm.lines().skip(1).collect();
    assert_eq!(rows.len(), expected.len(), "{lm}");
    for (row, model) in rows.iter().zip(expected) {
        assert!(row.starts_with(&format!("{model},")), "{model} expected, got {row}");
    }
    assert!(lm.starts_with("dataset,k,model,seeds,answer_nll_forget_mean,"), "{lm}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("- **qa** (4 QA targets; k = 0 → 3 paraphrases per target; a causal LM)"), "{report}");
    assert!(report.contains("| k | model | F answer NLL | S answer NLL |"), "{report}");
    assert!(report.contains("| 3 | npo-lineage |") && report.contains("This arm trains with seed 1 only."), "{report}");
    assert!(report.contains("- k = 3: rows each scope forgets: exact 4, lineage "), "{report}");
    // At k = 0 retrain_exact and retrain_clean train on the same rows with the same seed: the same model.
    let row = |model: &str| lm.lines().find_map(|l| l.strip_prefix(&format!("{model},"))).unwrap();
    assert_eq!(row("qa,0,retrain_exact"), row("qa,0,retrain_clean"));
    assert!(out.join("tables/lm.parquet").is_file());
    let timing = std::fs::read_to_string(out.join("timing.md")).unwrap();
    assert!(timing.contains("| qa | 3 | npo | lineage |"), "{timing}");
    let saved = report_files(&out);
    let second = run();
    assert_eq!(counts(&second), (0, 14), "{second}");
    assert_eq!(report_files(&out), saved, "a rerun changed the report");
}

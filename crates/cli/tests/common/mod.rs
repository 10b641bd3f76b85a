//! What the `doppel` binary's integration tests share: running the binary, reading its verdict, and finding
//! fetched data.

#![allow(dead_code)] // Each test binary uses its own subset.
#![allow(clippy::unwrap_used)] // A panic is the test failing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `doppel` binary in `cwd` with warnings-only, uncoloured logging and no inherited `DOPPEL_DATA_DIR`.
pub fn doppel(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("DOPPEL_DATA_DIR")
        .output()
        .expect("doppel runs")
}

/// Stdout of a run that must succeed (its stderr shows when it did not).
pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr of a run that must fail.
pub fn failing(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stderr of a run.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The workspace's `data/` when every file of `needs` (paths below it) was fetched; otherwise `None` with a
/// message naming `cargo xtask data fetch --only <only>` — or a failure under `DOPPEL_REQUIRE_DATA=1`, which CI
/// sets after fetching.
pub fn fetched(needs: &[&str], only: &str) -> Option<PathBuf> {
    let dir = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data");
    if needs.iter().all(|f| dir.join(f).is_file()) {
        return Some(dir);
    }
    let msg = format!("{only} not fetched; run `cargo xtask data fetch --only {only}`");
    assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
    eprintln!("skipped: {msg}");
    None
}

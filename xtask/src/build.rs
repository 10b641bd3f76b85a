//! Building the release `doppel` binary and naming the tree it comes from, for `reproduce` and `bench` alike.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Runs `cargo build --release -p doppel-cli` (with `features`) in `root`, its output on our stderr, after
/// `say`ing the command; returns the binary's path. A failed build says what to do.
pub fn build_doppel(root: &Path, features: &[&str], say: &dyn Fn(&str)) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "--release", "-p", "doppel-cli"]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let shown = doppel_stdx::shown(&cmd);
    say(&format!("building the release doppel binary ({shown})"));
    let status = cmd
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed with {status}; fix the build, or pass --doppel-bin PATH");
    }
    // cargo resolves a relative CARGO_TARGET_DIR against the folder it runs in, which is the root here.
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    let binary = target.join("release").join("doppel");
    if !binary.is_file() {
        bail!("the build succeeded but {} does not exist; is the target folder set elsewhere?", binary.display());
    }
    Ok(binary)
}

/// The commit of the checkout at `root` (`git rev-parse [--short] HEAD`) and whether tracked files have
/// uncommitted changes; `None` outside git.
pub fn git_revision(root: &Path, short: bool) -> Option<(String, bool)> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = if short { git(&["rev-parse", "--short", "HEAD"]) } else { git(&["rev-parse", "HEAD"]) }?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some((rev, dirty))
}

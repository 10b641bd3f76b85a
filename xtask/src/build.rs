//! Building the release `doppel` binary and naming the tree it comes from, for `reproduce` and `bench` alike.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Runs `cargo build --release -p doppel-cli` (with `features`) in `root`, its output on our stderr, after
/// `say`ing the command; returns the binary's path. A failed build says what to do.
pub fn build_doppel(root: &Path, features: &[&str], say: &dyn Fn(&str)) -> Result<PathBuf> {
    let mut args = vec!["build", "--release", "-p", "doppel-cli"];
    let joined = features.join(",");
    if !features.is_empty() {
        args.extend(["--features", &joined]);
    }
    let target =
        cargo_release(root, &args, "the release doppel binary", "; fix the build, or pass --doppel-bin PATH", say)?;
    built(target.join("release").join("doppel"))
}

/// Runs `cargo build --release -p {package} --example {example}` in `root` like [`build_doppel`]; returns the
/// example's path.
pub fn build_example(root: &Path, package: &str, example: &str, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let args = ["build", "--release", "-p", package, "--example", example];
    let target = cargo_release(root, &args, &format!("the {package} example {example}"), "; fix the build", say)?;
    built(target.join("release").join("examples").join(example))
}

/// Runs `cargo {args}` in `root`, its output on our stderr, after `say`ing that it builds `what`; returns the
/// target folder the build wrote to. A failure's message ends with `hint`.
fn cargo_release(root: &Path, args: &[&str], what: &str, hint: &str, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(&cargo);
    cmd.args(args);
    let shown = doppel_stdx::shown(&cmd);
    say(&format!("building {what} ({shown})"));
    let status = cmd
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed with {status}{hint}");
    }
    // cargo resolves a relative CARGO_TARGET_DIR against the folder it runs in, which is the root here.
    Ok(std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t)))
}

/// `binary`, once it is checked to exist after a successful build.
fn built(binary: PathBuf) -> Result<PathBuf> {
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

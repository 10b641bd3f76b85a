//! The Python venv that holds the benches' reference implementations.
//!
//! The benches share one venv (`--venv`, else `$DOPPEL_BENCH_VENV`, else `target/bench-venv`), because PyTorch
//! and the CUDA libraries pip pulls in with it are several GB: `bench mine` only adds faiss-cpu and
//! sentence-transformers to what `bench train` installed, `bench interop` only safetensors. A venv is reused as
//! soon as the imports a bench needs work in it; otherwise it is created with `python3 -m venv` and filled with
//! `pip install`, and every failure says how to do the same by hand.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

use super::run_progress;
use super::train::PIP_PACKAGES;
use doppel_stdx::shell_quote;

/// The PyTorch release the reference is pinned to.
pub const TORCH_SPEC: &str = "torch==2.15.0";

/// The bench venv: `--venv` (or `$DOPPEL_BENCH_VENV`) made absolute, else `target/bench-venv` at the root.
pub(crate) fn venv_dir(root: &Path, given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(v) => std::path::absolute(v).with_context(|| format!("cannot resolve --venv {}", v.display())),
        None => Ok(root.join("target/bench-venv")),
    }
}

/// The venv's Python interpreter.
pub(crate) fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Step 3: makes sure the venv can import torch, numpy and pyarrow, creating it and running pip when not.
pub(crate) fn ensure_venv(venv: &Path) -> Result<PathBuf> {
    ensure_venv_with(venv, &PIP_PACKAGES, "torch, numpy, pyarrow")
}

/// Makes sure the venv can `import {imports}`, creating it and running `pip install {packages}` when not.
pub(crate) fn ensure_venv_with(venv: &Path, packages: &[&str], imports: &str) -> Result<PathBuf> {
    let python = venv_python(venv);
    let works = |python: &Path| {
        Command::new(python)
            .args(["-c", &format!("import {imports}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if works(&python) {
        eprintln!("bench: venv {} has {imports}", venv.display());
        return Ok(python);
    }
    let v = shell_quote(&venv.display().to_string());
    let pip = format!("{v}/bin/python -m pip install {}", packages.join(" "));
    let retry = format!("python3 -m venv {v} && {pip}");
    if !python.is_file() {
        eprintln!("bench: creating the venv {} (python3 -m venv)", venv.display());
        let mut cmd = Command::new("python3");
        cmd.arg("-m").arg("venv").arg(venv);
        run_progress(&mut cmd).map_err(|e| {
            anyhow!(
                "creating the venv failed: {e:#}\n(on Debian or Ubuntu, `python3 -m venv` needs \
                 `apt-get install python3-venv`)\nRetry by hand with: {retry}"
            )
        })?;
    }
    eprintln!(
        "bench: installing {} into {} with pip; PyTorch and the CUDA libraries it depends on are several GB \
         to download and about 4 GB on disk",
        packages.join(" "),
        venv.display()
    );
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "install"]).args(packages);
    run_progress(&mut cmd).map_err(|e| {
        anyhow!("pip could not install the PyTorch reference: {e:#}\n(pip's own messages are above)\nRetry by hand with: {retry}")
    })?;
    if !works(&python) {
        bail!("pip finished, but `import {imports}` still fails in {}\nRetry by hand with: {retry}", venv.display());
    }
    Ok(python)
}

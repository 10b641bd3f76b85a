//! Which sources decide each step kind's artifacts, from the workspace's dependency graph.
//!
//! Every kind names the library crates its `doppel` command computes with ([`roots`]); `cargo metadata` gives
//! their transitive closure over the workspace's own crates, so a crate a stage links can never be missing from
//! its key (the hand-kept lists this replaces had fallen out of step). Each key also covers the `doppel` binary's
//! own crate (its command glue, not its whole closure, which is every crate), the workspace manifest, the lock
//! file and the patched dependencies under `vendor/` ([`VENDORED`]), which every step links through burn.
//! `doppel report` runs after the steps, never inside one, so doppel-report is in no key: the report is rebuilt
//! from the artifacts every time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::plan::Kind;

/// The package of the `doppel` binary.
pub const BINARY: &str = "doppel-cli";

/// The patched copies of dependencies that the workspace's `[patch.crates-io]` links instead of the published
/// crates (`vendor/README.md`): in every key, since every step links them through burn.
pub const VENDORED: &[&str] = &["vendor/burn-flex"];

/// The library crates whose code decides a kind's artifact.
pub fn roots(kind: Kind) -> &'static [&'static str] {
    match kind {
        // build-qa and build-spam score look-alikes with MiniLM (doppel-models behind doppel-mine's Embedder).
        Kind::Dataset => &["doppel-data", "doppel-text", "doppel-models"],
        Kind::Model => &["doppel-models"],
        // `features` and `minilm` embedders come from doppel-models.
        Kind::Mine => &["doppel-mine", "doppel-models"],
        // --search scores its candidates with doppel-eval's Avg.Gap.
        Kind::Unlearn => &["doppel-unlearn", "doppel-eval"],
        Kind::Eval => &["doppel-eval", "doppel-models"],
        Kind::Attack => &["doppel-attack"],
        // doppel lm eval scores the greedy answers with MiniLM and doppel-eval's LM metrics.
        Kind::LmModel => &["doppel-text", "doppel-models", "doppel-eval"],
        Kind::LmUnlearn => &["doppel-text", "doppel-unlearn", "doppel-eval"],
    }
}

/// The workspace's crates: package name → (folder relative to the root, names of the workspace crates it
/// depends on, normal dependencies only).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    crates: BTreeMap<String, (String, Vec<String>)>,
}

impl Graph {
    /// Reads the graph with `cargo metadata` (offline, no network).
    pub fn load(root: &Path) -> Result<Graph> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .current_dir(root)
            .stdin(Stdio::null())
            .output()
            .context("cannot run `cargo metadata` to find which crates each step links")?;
        if !out.status.success() {
            bail!("`cargo metadata` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("`cargo metadata` printed no JSON")?;
        Graph::from_metadata(&v, root)
    }

    /// The graph of `cargo metadata --no-deps` output `v` for the workspace at `root`.
    pub fn from_metadata(v: &serde_json::Value, root: &Path) -> Result<Graph> {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let packages = v["packages"].as_array().context("`cargo metadata` lists no packages")?;
        let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
        let mut crates = BTreeMap::new();
        for p in packages {
            let (Some(name), Some(manifest)) = (p["name"].as_str(), p["manifest_path"].as_str()) else { continue };
            let manifest = std::fs::canonicalize(manifest).unwrap_or_else(|_| manifest.into());
            let dir = manifest
                .parent()
                .and_then(|d| d.strip_prefix(&root).ok())
                .map_or_else(String::new, |d| d.to_string_lossy().replace('\\', "/"));
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(d))
                .map(str::to_string)
                .collect();
            crates.insert(name.to_string(), (dir, deps));
        }
        Ok(Graph { crates })
    }

    /// `roots` and every workspace crate they depend on, transitively.
    pub fn closure(&self, roots: &[&str]) -> Result<BTreeSet<String>> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
        while let Some(c) = stack.pop() {
            let Some((_, deps)) = self.crates.get(&c) else {
                bail!("the workspace has no crate {c}; update crates/study/src/code.rs");
            };
            if seen.insert(c) {
                stack.extend(deps.iter().cloned());
            }
        }
        Ok(seen)
    }

    /// The paths whose contents decide `kind`'s artifacts: the workspace manifest, the lock file, the
    /// [`VENDORED`] crates, the binary's crate and the folder of every crate in the closure of [`roots`], sorted.
    pub fn code_paths(&self, kind: Kind) -> Result<Vec<String>> {
        let mut crates = self.closure(roots(kind))?;
        crates.insert(BINARY.to_string());
        let mut paths: Vec<String> = vec!["Cargo.toml".into(), "Cargo.lock".into()];
        paths.extend(VENDORED.iter().map(|v| v.to_string()));
        paths.extend(crates.iter().filter_map(|c| self.crates.get(c)).map(|(dir, _)| dir.clone()));
        paths.sort();
        paths.dedup();
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> Graph {
        let root = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../..");
        Graph::load(&root).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn every_crate_the_binary_links_is_in_some_key() {
        let g = graph();
        let linked = g.closure(&[BINARY]).unwrap_or_default();
        let mut keyed = BTreeSet::new();
        for kind in Kind::ALL {
            keyed.extend(g.closure(roots(kind)).unwrap_or_default());
        }
        keyed.insert(BINARY.to_string());
        let missing: Vec<&String> = linked.iter().filter(|c| !keyed.contains(*c) && *c != "doppel-report").collect();
        assert!(missing.is_empty(), "crates the doppel binary links that no step's key covers: {missing:?}");
        assert!(linked.contains("doppel-report"), "the binary builds the report");
    }

    #[test]
    fn closures_follow_the_graph() {
        let g = graph();
        let paths = g.code_paths(Kind::Dataset).unwrap_or_default();
        // build-qa loads MiniLM: doppel-models is in the dataset key, and with it what it links.
        for p in
            ["Cargo.lock", "crates/cli", "crates/data", "crates/models", "crates/mine", "crates/text", "crates/stdx"]
        {
            assert!(paths.iter().any(|x| x == p), "{p} missing from {paths:?}");
        }
        assert!(!paths.iter().any(|x| x == "crates/attack" || x == "crates/report"), "{paths:?}");
        let model = g.code_paths(Kind::Model).unwrap_or_default();
        assert!(model.iter().any(|x| x == "crates/mine"), "doppel-models links doppel-mine: {model:?}");
        assert!(g.closure(&["no-such-crate"]).is_err());
        assert!(model.iter().any(|x| x == "vendor/burn-flex"), "{model:?}");
    }

    #[test]
    fn every_vendored_crate_is_in_the_keys_and_patched_in() {
        let root = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut found: Vec<String> = std::fs::read_dir(root.join("vendor"))
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("Cargo.toml").is_file())
                    .map(|e| format!("vendor/{}", e.file_name().to_string_lossy()))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        assert_eq!(found, VENDORED, "vendor/ and VENDORED disagree");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
        for v in VENDORED {
            assert!(manifest.contains(&format!("path = \"{v}\"")), "Cargo.toml does not patch in {v}");
        }
    }
}

//! The artifact cache: `OUT/cache/<kind>/<key>/`, each folder complete or absent.
//!
//! A step builds into `cache/<kind>/.tmp-<key>-<pid>/`, writes its [`Record`] (`step.json`) last, and renames the
//! folder to `cache/<kind>/<key>/`; the rename is the commit. A folder named by its key therefore holds a finished
//! artifact, and a killed run leaves at most a `.tmp-*` folder, which the next build of that key deletes. Builds of
//! one key take an OS lock on `cache/<kind>/.locks/<key>.lock` first, so two shards sharing a results folder do
//! not build the same artifact at once: the second waits, then finds it done. The OS drops the lock of a killed
//! process.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::plan::Kind;

/// What `step.json` says about a finished artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `doppel-reproduce-step/1`.
    pub format: String,
    /// The artifact kind.
    pub kind: Kind,
    /// The key (the folder's name).
    pub key: String,
    /// The step's label, e.g. `smoke k=7 seed=1 m0`.
    pub label: String,
    /// The key material, parsed, for a reader who wants to know what went in.
    pub material: serde_json::Value,
    /// Seconds the step took when it was built.
    pub wall_seconds: f64,
    /// `doppel --version` of the binary that built it.
    pub doppel_version: String,
    /// sha256 of that binary.
    pub doppel_sha256: String,
    /// The invocation that built it: `unsharded` or `shard i/n`.
    pub built_by: String,
}

/// The format tag of [`Record`].
pub const RECORD_FORMAT: &str = "doppel-reproduce-step/1";

/// The cache under one results folder.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache of results folder `out`.
    pub fn new(out: &Path) -> Cache {
        Cache { root: out.join("cache") }
    }

    /// Where the artifact of `key` lives once finished.
    pub fn dir(&self, kind: Kind, key: &str) -> PathBuf {
        self.root.join(kind.dir()).join(key)
    }

    /// The record of a finished artifact, or `None` when it is not there.
    pub fn record(&self, kind: Kind, key: &str) -> Result<Option<Record>> {
        let path = self.dir(kind, key).join("step.json");
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let rec: Record = serde_json::from_slice(&text).with_context(|| {
            format!("{} is not a step record; delete {} to rebuild it", path.display(), self.dir(kind, key).display())
        })?;
        Ok(Some(rec))
    }

    /// Whether the artifact of `key` is finished.
    pub fn is_done(&self, kind: Kind, key: &str) -> bool {
        self.dir(kind, key).join("step.json").is_file()
    }

    /// Blocks until this process holds the build lock of `key`; the lock lasts as long as the file is open.
    /// `on_busy` runs once when another process (a second run or shard on the same results folder) holds it.
    pub fn lock(&self, kind: Kind, key: &str, on_busy: impl FnOnce()) -> Result<File> {
        let dir = self.root.join(kind.dir()).join(".locks");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(doppel_stdx::fs::lock_file(&dir.join(format!("{key}.lock")), on_busy)?)
    }

    /// A fresh, empty build folder for `key`, after deleting the leftovers of killed builds of the same key. Call
    /// it holding [`Cache::lock`].
    pub fn begin(&self, kind: Kind, key: &str) -> Result<PathBuf> {
        let parent = self.root.join(kind.dir());
        fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let prefix = format!(".tmp-{key}-");
        for e in fs::read_dir(&parent).with_context(|| format!("cannot list {}", parent.display()))? {
            let e = e.with_context(|| format!("cannot list {}", parent.display()))?;
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let p = e.path();
                fs::remove_dir_all(&p)
                    .with_context(|| format!("cannot delete the stale build folder {}", p.display()))?;
            }
        }
        let tmp = parent.join(format!("{prefix}{}", std::process::id()));
        fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(tmp)
    }

    /// Writes `record` into the build folder `tmp` and renames it into place. When the artifact appeared
    /// meanwhile (a shard without working locks on a network file system), the build folder is dropped: both
    /// are the same artifact.
    pub fn commit(&self, tmp: &Path, record: &Record) -> Result<PathBuf> {
        let text = serde_json::to_vec_pretty(record).context("cannot encode a step record")?;
        fs::write(tmp.join("step.json"), &text)
            .with_context(|| format!("cannot write {}", tmp.join("step.json").display()))?;
        let dest = self.dir(record.kind, &record.key);
        if let Err(e) = fs::rename(tmp, &dest) {
            if self.is_done(record.kind, &record.key) {
                fs::remove_dir_all(tmp).with_context(|| format!("cannot delete {}", tmp.display()))?;
            } else {
                return Err(e).with_context(|| format!("cannot rename {} to {}", tmp.display(), dest.display()));
            }
        }
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> Record {
        Record {
            format: RECORD_FORMAT.into(),
            kind: Kind::Dataset,
            key: key.into(),
            label: "x k=0".into(),
            material: serde_json::json!({"a": 1}),
            wall_seconds: 1.5,
            doppel_version: "doppel-cli 0.1.0".into(),
            doppel_sha256: "00".into(),
            built_by: "unsharded".into(),
        }
    }

    #[test]
    fn a_commit_is_all_or_nothing_and_stale_builds_are_cleared() {
        let out = tempfile::tempdir().unwrap();
        let cache = Cache::new(out.path());
        assert!(!cache.is_done(Kind::Dataset, "k1"));
        let _lock = cache.lock(Kind::Dataset, "k1", || {}).unwrap();
        // A killed build left a half-written folder behind.
        let stale = out.path().join("cache/dataset/.tmp-k1-999999");
        fs::create_dir_all(&stale).unwrap();
        fs::write(stale.join("half"), "x").unwrap();
        let tmp = cache.begin(Kind::Dataset, "k1").unwrap();
        assert!(!stale.exists());
        fs::write(tmp.join("data"), "y").unwrap();
        assert!(!cache.is_done(Kind::Dataset, "k1"));
        let dest = cache.commit(&tmp, &record("k1")).unwrap();
        assert!(!tmp.exists());
        assert_eq!(fs::read_to_string(dest.join("data")).unwrap(), "y");
        assert_eq!(cache.record(Kind::Dataset, "k1").unwrap(), Some(record("k1")));
        // A second build of the same key that lost the race is dropped, the first one kept.
        let tmp2 = out.path().join("cache/dataset/.tmp-k1-2");
        fs::create_dir_all(&tmp2).unwrap();
        fs::write(tmp2.join("data"), "y").unwrap();
        cache.commit(&tmp2, &record("k1")).unwrap();
        assert!(!tmp2.exists());
        assert_eq!(fs::read_to_string(dest.join("data")).unwrap(), "y");
    }

    #[test]
    fn a_broken_record_says_what_to_delete() {
        let out = tempfile::tempdir().unwrap();
        let cache = Cache::new(out.path());
        let dir = cache.dir(Kind::Model, "k2");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("step.json"), "{").unwrap();
        let e = format!("{:#}", cache.record(Kind::Model, "k2").unwrap_err());
        assert!(e.contains("is not a step record; delete"), "{e}");
    }
}

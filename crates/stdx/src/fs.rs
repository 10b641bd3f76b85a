//! Atomic file writes and the I/O error that names what was being done to which path.
//!
//! Every output of doppel is written under a temporary name beside its destination and renamed into place, so a
//! reader (or a rerun after a kill) sees the old file or the new one, never a part. The temporary name is
//! `.<name>.tmp-<pid>-<n>`: hidden, in the same folder (a rename across file systems is a copy), unique per
//! process and call, so two writers of one path never share a temporary file.
//!
//! A folder of outputs is written the same way: [`StagedDir`] fills `.<name>.partial-<pid>-<n>/` beside the
//! destination and swaps it into place when complete ([`write_dir`] wraps the pattern), so a failed or killed
//! command leaves nothing at its `--out` — at most a hidden partial folder, which the next write of the same
//! destination removes once its process is gone.
//!
//! [`lock_file`] is the one way doppel takes turns on a folder: the operating system's advisory lock on a file,
//! released when the file is closed, so a killed process leaves no stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An I/O failure with the action and the path it concerns: `writing results/report.md: No space left on device`.
#[derive(Debug)]
pub struct IoError {
    /// What was being done, as a gerund: `reading`, `creating`, `renaming into place`.
    pub action: &'static str,
    /// The file or folder.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: std::io::Error,
}

impl IoError {
    /// A closure for `map_err` that wraps an [`std::io::Error`] of `action` on `path`.
    pub fn at(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IoError {
        let path = path.into();
        move |source| IoError { action, path, source }
    }
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.action, self.path.display(), self.source)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary name [`write_atomic`] uses for `path`: `.<name>.tmp-<pid>-<n>` in the same folder.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary file beside it (flushed to disk) and a rename, creating the
/// parent folders first. On failure the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(path, |tmp| {
        std::fs::File::create(tmp)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
            .map_err(IoError::at("writing", tmp))
    })
}

/// Like [`write_atomic`], for writers that want a path rather than bytes (a Parquet writer, an image encoder):
/// `fill` writes the whole file at the temporary path it is given, then that file is renamed to `path`. An error
/// from `fill` (or the rename) removes the temporary file and leaves `path` untouched. Temporary files of `path`
/// left by processes that no longer run (a killed write) are removed first.
pub fn write_atomic_with<E: From<IoError>>(path: &Path, fill: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(IoError::at("creating", parent))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    remove_dead(parent, &format!(".{name}.tmp-"), false)?;
    let tmp = temp_path(path);
    if let Err(e) = fill(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        E::from(IoError { action: "renaming into place", path: path.to_path_buf(), source })
    })
}

/// Opens (creating it if needed) and locks `path` exclusively, for as long as the returned file is open. When
/// another holder has it, `on_busy` runs once (to say what is being waited for) and the call blocks until the lock
/// is free. A file system without locks gives an error with action `locking`, which a caller may choose to
/// tolerate.
pub fn lock_file(path: &Path, on_busy: impl FnOnce()) -> Result<File, IoError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(IoError::at("opening the lock file", path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            on_busy();
            file.lock().map_err(IoError::at("locking", path))?;
        }
        Err(TryLockError::Error(source)) => return Err(IoError { action: "locking", path: path.into(), source }),
    }
    Ok(file)
}

/// A folder written beside its destination and swapped into place when complete, so a failed or interrupted
/// write leaves the destination as it was. Dropped without [`commit`](StagedDir::commit), the partial folder is
/// removed.
#[derive(Debug)]
pub struct StagedDir {
    path: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Starts the folder that will become `out` (creating `out`'s parents). Partial folders of `out` left by
    /// processes that no longer run (a killed write) are removed first.
    pub fn begin(out: &Path) -> Result<Self, IoError> {
        let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(IoError::at("creating", parent))?;
        remove_dead_partials(parent, &name)?;
        settle_dead_old(parent, &name, out)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!(".{name}.partial-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(IoError::at("removing the stale", &path))?;
        }
        std::fs::create_dir(&path).map_err(IoError::at("creating", &path))?;
        Ok(StagedDir { path, out: out.to_path_buf(), committed: false })
    }

    /// The folder to write into.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The destination.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Renames the folder into place. An existing destination is moved aside first and removed only once the new
    /// one is there, so at every moment `out` is either the old folder or the new one.
    pub fn commit(mut self) -> Result<(), IoError> {
        let out = self.out.clone();
        if out.exists() {
            let old = temp_path(&out.with_file_name(format!(
                "{}.old",
                out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned())
            )));
            std::fs::rename(&out, &old).map_err(IoError::at("moving aside", &out))?;
            if let Err(source) = std::fs::rename(&self.path, &out) {
                // Put the old folder back: the destination is never left empty.
                let _ = std::fs::rename(&old, &out);
                return Err(IoError { action: "renaming into place", path: out, source });
            }
            self.committed = true;
            std::fs::remove_dir_all(&old).map_err(IoError::at("removing", &old))?;
        } else {
            std::fs::rename(&self.path, &out).map_err(IoError::at("renaming into place", &out))?;
            self.committed = true;
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Fills a [`StagedDir`] for `out` with `fill` and commits it; on an error from `fill` nothing is left behind.
pub fn write_dir<E: From<IoError>>(out: &Path, fill: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E> {
    let staged = StagedDir::begin(out)?;
    fill(staged.path())?;
    staged.commit()?;
    Ok(())
}

/// Removes `parent/.<name>.partial-<pid>-*` folders whose process is gone (Linux's `/proc` tells; elsewhere none
/// is removed, since a live writer cannot be told from a dead one).
fn remove_dead_partials(parent: &Path, name: &str) -> Result<(), IoError> {
    remove_dead(parent, &format!(".{name}.partial-"), true)
}

/// A commit killed between moving the old `out` aside (to `.<name>.old.tmp-<pid>-<n>`) and removing it leaves
/// that folder behind. When `out` is there too the old copy is stale and removed; when `out` is missing the kill
/// came before the new folder was renamed in, and the old copy is put back, so nothing that was committed is lost.
fn settle_dead_old(parent: &Path, name: &str, out: &Path) -> Result<(), IoError> {
    if !Path::new("/proc/self").exists() {
        return Ok(());
    }
    let prefix = format!(".{name}.old.tmp-");
    let Ok(entries) = std::fs::read_dir(parent) else { return Ok(()) };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let p = entry.path();
        if out.exists() {
            std::fs::remove_dir_all(&p).map_err(IoError::at("removing the stale", &p))?;
        } else {
            std::fs::rename(&p, out).map_err(IoError::at("restoring the interrupted commit's", &p))?;
        }
    }
    Ok(())
}

/// Removes the entries of `parent` named `<prefix><pid>-…` whose process `pid` is gone: folders when `dirs`,
/// else files. Does nothing where `/proc` is missing.
fn remove_dead(parent: &Path, prefix: &str, dirs: bool) -> Result<(), IoError> {
    if !Path::new("/proc/self").exists() {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(parent) else { return Ok(()) };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(prefix) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let p = entry.path();
            let removed = if dirs { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            removed.map_err(IoError::at("removing the stale", &p))?;
        }
    }
    Ok(())
}

/// The manifest folder of the package whose test or binary is running: cargo's run-time `CARGO_MANIFEST_DIR`
/// (`cargo test`, `cargo run` and nextest set it) when that folder holds a `Cargo.toml`, else `compiled` (pass
/// `env!("CARGO_MANIFEST_DIR")`).
///
/// Why not `env!` alone: two checkouts of one commit that share a `CARGO_TARGET_DIR` (CI's clone and a working
/// tree) share compiled test binaries, and the compile-time path then points into whichever checkout built them —
/// its fixtures, configs and data, or a folder that no longer exists.
pub fn manifest_dir(compiled: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .unwrap_or_else(|| PathBuf::from(compiled))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
    }

    #[test]
    fn a_failed_write_names_the_path_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should go: the rename fails, the folder stays, no temporary is left.
        let path = dir.path().join("taken");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"x").unwrap();
        let e = write_atomic(&path, b"new").unwrap_err();
        assert_eq!(e.action, "renaming into place");
        assert!(e.to_string().contains("taken"), "{e}");
        assert!(path.join("inside").is_file());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporary_names_differ_per_call() {
        let p = Path::new("/x/y.csv");
        assert_ne!(temp_path(p), temp_path(p));
        assert!(temp_path(p).file_name().unwrap().to_string_lossy().starts_with(".y.csv.tmp-"));
    }

    #[test]
    fn a_second_locker_is_told_and_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let first = lock_file(&path, || panic!("the lock was free")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let busy = tx.clone();
            let _second = lock_file(&p, move || busy.send("busy").unwrap()).unwrap();
            tx.send("locked").unwrap();
        });
        assert_eq!(rx.recv().unwrap(), "busy");
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "the second got the lock early");
        drop(first);
        assert_eq!(rx.recv().unwrap(), "locked");
        waiter.join().unwrap();
    }

    #[test]
    fn a_staged_folder_appears_only_on_commit_and_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("old.txt"), b"old").unwrap();
        let staged = StagedDir::begin(&out).unwrap();
        std::fs::write(staged.path().join("new.txt"), b"new").unwrap();
        assert!(out.join("old.txt").is_file() && !out.join("new.txt").exists(), "not yet committed");
        staged.commit().unwrap();
        assert!(out.join("new.txt").is_file() && !out.join("old.txt").exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("run")], "no partial or old folder left");
    }

    #[test]
    fn a_failed_fill_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/run");
        let e = write_dir(&out, |tmp| {
            std::fs::write(tmp.join("half.txt"), b"x").unwrap();
            Err(IoError::at("writing", tmp.join("second"))(std::io::Error::other("disk full")))
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(dir.path().join("sub")).unwrap().count(), 0, "the partial folder is gone");
    }

    #[test]
    fn partial_folders_of_dead_processes_are_cleared_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        // 4,294,967 is above Linux's largest pid (4,194,304), so no process has it; this process is alive.
        let dead = dir.path().join(".run.partial-4294967-0");
        let live = dir.path().join(format!(".run.partial-{}-999999", std::process::id()));
        let other = dir.path().join(".other.partial-4294967-0");
        for d in [&dead, &live, &other] {
            std::fs::create_dir(d).unwrap();
        }
        write_dir(&out, |_| Ok::<(), IoError>(())).unwrap();
        assert!(out.is_dir());
        assert_eq!(!dead.exists(), Path::new("/proc/self").exists(), "a dead writer's folder goes (where /proc tells)");
        assert!(live.exists() && other.exists(), "a live writer's folder and another destination's stay");
    }

    #[test]
    fn a_commit_killed_midway_is_settled_by_the_next_write() {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let old = dir.path().join(".run.old.tmp-4294967-3");
        // Killed after moving the old folder aside, before renaming the new one in: the old one comes back.
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("a"), b"old").unwrap();
        let staged = StagedDir::begin(&out).unwrap();
        assert_eq!(std::fs::read(out.join("a")).unwrap(), b"old", "the committed folder is restored");
        drop(staged);
        // Killed after the rename, before removing the old folder: the stale copy goes.
        std::fs::create_dir(&old).unwrap();
        write_dir(&out, |d| std::fs::write(d.join("b"), b"new").map_err(IoError::at("writing", d))).unwrap();
        assert!(!old.exists() && out.join("b").is_file() && !out.join("a").exists());
    }

    #[test]
    fn temporary_files_of_dead_writers_are_cleared_and_a_failed_fill_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let dead = dir.path().join(".t.parquet.tmp-4294967-0");
        let other = dir.path().join(".u.parquet.tmp-4294967-0");
        std::fs::write(&dead, b"half").unwrap();
        std::fs::write(&other, b"half").unwrap();
        let failed = write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, b"par").map_err(IoError::at("writing", tmp))?;
            Err(IoError { action: "encoding", path: tmp.into(), source: std::io::Error::other("boom") })
        });
        assert!(failed.is_err() && !path.exists());
        write_atomic(&path, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        let proc = Path::new("/proc/self").exists();
        assert_eq!(names.len(), if proc { 2 } else { 3 }, "{names:?}: only the file and the other file's temp stay");
        assert!(other.exists());
    }

    #[test]
    fn the_running_checkout_wins_over_the_compiled_manifest_path() {
        // Under cargo test or nextest the run-time variable names this package's folder.
        let here = manifest_dir("/nowhere/compiled");
        assert!(here.join("Cargo.toml").is_file() && here.join("src/fs.rs").is_file(), "{}", here.display());
    }
}

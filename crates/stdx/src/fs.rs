//! Atomic file writes and the I/O error that names what was being done to which path.
//!
//! Every output of doppel is written under a temporary name beside its destination and renamed into place, so a
//! reader (or a rerun after a kill) sees the old file or the new one, never a part. The temporary name is
//! `.<name>.tmp-<pid>-<n>`: hidden, in the same folder (a rename across file systems is a copy), unique per
//! process and call, so two writers of one path never share a temporary file.
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
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(IoError::at("creating", parent))?;
    }
    let tmp = temp_path(path);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(IoError::at("writing", &tmp));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        IoError { action: "renaming into place", path: path.to_path_buf(), source }
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
    fn the_running_checkout_wins_over_the_compiled_manifest_path() {
        // Under cargo test or nextest the run-time variable names this package's folder.
        let here = manifest_dir("/nowhere/compiled");
        assert!(here.join("Cargo.toml").is_file() && here.join("src/fs.rs").is_file(), "{}", here.display());
    }
}

//! The OS lock that keeps two fetches out of one data folder.
//!
//! Two `cargo xtask data fetch` runs into the same folder would unpack into the same `.<name>.partial/` folders
//! and rename over each other's work. The lock is the operating system's (`File::lock` on `data/.fetch.lock`)
//! rather than a lock file that exists or not, so a run that is killed leaves nothing stale behind.

use std::fs::{self, File, TryLockError};
use std::path::Path;

use anyhow::{Context, Result};

/// Locks `data/.fetch.lock` for as long as the returned file is open, so that two fetches into
/// one data folder take turns instead of unpacking into the same partial folders. The lock is the
/// operating system's, so a killed run leaves no stale lock behind.
pub(super) fn lock_data_dir(data_dir: &Path) -> Result<File> {
    let path = data_dir.join(".fetch.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!("another `cargo xtask data fetch` is using {}; waiting for it to finish", data_dir.display());
            file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => eprintln!(
            "warning: cannot lock {} ({e}); continuing unlocked, so do not run two fetches \
             into this data folder at once",
            path.display()
        ),
    }
    Ok(file)
}

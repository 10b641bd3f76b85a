//! The check every command that reads a model beside a dataset makes: was the model trained on this dataset?
//!
//! A checkpoint's sidecar records the sha256 of the `manifest.json` of the dataset it was trained on. A model
//! read with another dataset scores its F, S and R rows against samples it may never have seen (another build's
//! targets), so the numbers look plausible and mean nothing. The commands refuse, naming both hashes; the flag
//! `--allow-other-dataset` (where a command offers it) goes on with a warning, e.g. for a dataset rebuilt with a
//! changed manifest but the same rows.

use std::path::Path;

/// Errors unless `trained_on` (the sidecar's `dataset_manifest_sha256`) is `manifest_sha` (the sha256 of
/// `dataset`'s manifest.json). `allow` is the command's `--allow-other-dataset` (`None` where it offers none):
/// set, a mismatch only warns.
pub fn same_dataset(
    sidecar: &Path,
    trained_on: &str,
    dataset: &Path,
    manifest_sha: &str,
    allow: Option<bool>,
) -> anyhow::Result<()> {
    if trained_on == manifest_sha {
        return Ok(());
    }
    if allow == Some(true) {
        tracing::warn!(
            sidecar = %sidecar.display(),
            trained_on,
            dataset_manifest_sha256 = manifest_sha,
            "the model was trained on another dataset; going on as --allow-other-dataset asks"
        );
        return Ok(());
    }
    anyhow::bail!(
        "{}: `dataset_manifest_sha256` is {trained_on}, but {} has sha256 {manifest_sha}: the model was trained on \
         another dataset. Pass the dataset it was trained on{}",
        sidecar.display(),
        dataset.join("manifest.json").display(),
        if allow.is_some() { " (or --allow-other-dataset to go on anyway)" } else { "" }
    )
}

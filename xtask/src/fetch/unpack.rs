//! Moving what a dataset keeps out of an unpacked artifact, and hashing what was kept.
//!
//! An artifact is unpacked by its client into a scratch folder; [`keep_files`] then moves the files its
//! [`Keep`] names to the top of the dataset's partial folder, and [`hash_tree`] hashes them for the marker.
//! CIFAR-10 comes in two layouts (a JPEG tree or the official binary batches, either possibly one folder down),
//! so [`detect_cifar_layout`] finds which one an archive or folder holds and where, and [`place_cifar`] moves or
//! copies it.
//!
//! Validating CIFAR-10's contents is doppel-data's job, not this module's: its loader
//! (`crates/data/src/readers/cifar.rs`) reports class folders missing from a split, JPEGs that do not decode or are
//! not 32 × 32, batch files that are not whole 3,073-byte records and out-of-range labels, each naming the file,
//! when the dataset is loaded. Finding the layout here checks only that the files it is about to move are there,
//! and two things the loader cannot see: an empty batch file, which the loader would read as zero images, and an
//! image count other than CIFAR-10's 50,000 + 10,000, which is a warning.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::Step;
use super::artifacts::{ArtifactSpec, Keep, MARKER, sha256_and_len};

/// The files of the official CIFAR-10 binary layout (`cifar-10-batches-bin/`).
pub(super) const CIFAR10_BINARY_FILES: [&str; 7] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
    "batches.meta.txt",
];

/// One CIFAR-10 binary record: a label byte and 32 × 32 × 3 planar pixel bytes.
const CIFAR10_RECORD_BYTES: u64 = 1 + 3 * 32 * 32;

/// Every file under `root` (recursively, the marker excepted), as sorted pairs of the
/// `/`-separated relative path and the full path.
pub(super) fn walk_files(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let path = entry.path();
            let kind = entry.file_type().with_context(|| format!("cannot inspect {}", path.display()))?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .with_context(|| format!("{} is outside {}", path.display(), root.display()))?
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if relative != MARKER {
                out.push((relative, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The sha256 of every file under `root` and their total size.
pub(super) fn hash_tree(root: &Path) -> Result<(BTreeMap<String, String>, u64)> {
    let mut files = BTreeMap::new();
    let mut bytes = 0;
    for (relative, path) in walk_files(root)? {
        // Size and sha256 come from the same read, so they always describe the same bytes.
        let (sha, len) = sha256_and_len(&path)?;
        bytes += len;
        files.insert(relative, sha);
    }
    Ok((files, bytes))
}

/// The entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    Ok(entries)
}

/// Moves `from` to `to`, naming both on failure.
pub(super) fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
}

/// Copies the file or folder `from` to `to`, recursively.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        return Ok(());
    }
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in sorted_entries(from)? {
        copy_tree(&entry.path(), &to.join(entry.file_name()))?;
    }
    Ok(())
}

/// Moves what `keep` names from the unpacked artifact in `unpacked` to the top of `dest`.
pub(super) fn keep_files(spec: &ArtifactSpec, unpacked: &Path, dest: &Path) -> Result<()> {
    let changed = |what: &str| {
        anyhow!(
            "the {} artifact {} unpacked without {what}; the package's layout differs from the \
             table in xtask/src/fetch/artifacts.rs, which needs updating",
            spec.name,
            spec.file
        )
    };
    match spec.keep {
        Keep::File { from, to } => {
            let source = unpacked.join(from);
            if !source.is_file() {
                return Err(changed(from));
            }
            rename(&source, &dest.join(to))
        }
        Keep::Dir { from, suffix } => {
            let source = unpacked.join(from);
            if !source.is_dir() {
                return Err(changed(from));
            }
            let mut kept = 0;
            for entry in sorted_entries(&source)? {
                let name = entry.file_name();
                if let Some(suffix) = suffix {
                    let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                    if !is_file || !name.to_string_lossy().ends_with(suffix) {
                        continue;
                    }
                }
                rename(&entry.path(), &dest.join(&name))?;
                kept += 1;
            }
            if kept == 0 {
                let what = match suffix {
                    Some(suffix) => format!("any {suffix} file in {from}"),
                    None => format!("anything in {from}"),
                };
                return Err(changed(&what));
            }
            Ok(())
        }
        Keep::Cifar => bail!(
            "internal error: CIFAR-10 is placed by its own code path, not keep_files; \
             please report this"
        ),
    }
}

/// The two CIFAR-10 layouts, each with the folder that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CifarLayout {
    /// `train/<class>/*.jpg` and `test/<class>/*.jpg` in this folder.
    Jpeg(PathBuf),
    /// The official binary batches and `batches.meta.txt` in this folder.
    Binary(PathBuf),
}

/// Finds a CIFAR-10 layout in `dir` itself or in one of its immediate sub-folders (such as
/// `cifar-10-batches-bin/`). A half-present layout or an empty batch file is an error naming what
/// is wrong; what the files hold is left to doppel-data's loader, which checks it on every load.
pub fn detect_cifar_layout(dir: &Path) -> Result<CifarLayout> {
    let mut candidates = vec![dir.to_path_buf()];
    for entry in sorted_entries(dir)? {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            candidates.push(entry.path());
        }
    }
    for candidate in &candidates {
        if let Some(layout) = cifar_layout_in(candidate)? {
            return Ok(layout);
        }
    }
    bail!(
        "{} holds neither CIFAR-10 layout: expected train/<class>/*.jpg and test/<class>/*.jpg, \
         or {} (optionally inside cifar-10-batches-bin/); pass --cifar10 the official \
         cifar-10-binary.tar.gz, the project's cifar10-jpg.tar.gz, or an unpacked folder of either",
        dir.display(),
        CIFAR10_BINARY_FILES.join(", ")
    )
}

/// The CIFAR-10 layout directly in `dir`, if any: the names [`place_cifar`] will move must all be there.
fn cifar_layout_in(dir: &Path) -> Result<Option<CifarLayout>> {
    let present: Vec<&str> = CIFAR10_BINARY_FILES.iter().copied().filter(|f| dir.join(f).is_file()).collect();
    if !present.is_empty() {
        let missing: Vec<&str> = CIFAR10_BINARY_FILES.iter().copied().filter(|f| !present.contains(f)).collect();
        if !missing.is_empty() {
            bail!(
                "{} has part of the CIFAR-10 binary layout but lacks {}; unpack the complete \
                 cifar-10-binary.tar.gz",
                dir.display(),
                missing.join(", ")
            );
        }
        // A batch that is not a whole number of records is doppel-data's to report when it loads the
        // batches; an empty one it would read as zero images without complaint, so that is caught here.
        for file in CIFAR10_BINARY_FILES.iter().filter(|f| f.ends_with(".bin")) {
            let path = dir.join(file);
            let len = fs::metadata(&path).with_context(|| format!("cannot inspect {}", path.display()))?.len();
            if len == 0 {
                bail!(
                    "{} is {len} bytes, not a whole number of {CIFAR10_RECORD_BYTES}-byte \
                     CIFAR-10 records; the file is damaged, so get cifar-10-binary.tar.gz again",
                    path.display()
                );
            }
        }
        return Ok(Some(CifarLayout::Binary(dir.to_path_buf())));
    }
    let train = dir.join("train").is_dir();
    let test = dir.join("test").is_dir();
    match (train, test) {
        // Class folders and the JPEGs inside them are doppel-data's to check when it loads the tree.
        (true, true) => Ok(Some(CifarLayout::Jpeg(dir.to_path_buf()))),
        (true, false) | (false, true) => {
            let (has, lacks) = if train { ("train", "test") } else { ("test", "train") };
            bail!("{} has {has}/ but no {lacks}/; the CIFAR-10 JPEG layout needs both", dir.display())
        }
        (false, false) => Ok(None),
    }
}

/// Moves (or, for a user's folder, copies) a detected CIFAR-10 layout to the top of `dest`.
pub(super) fn place_cifar(layout: &CifarLayout, dest: &Path, copy: bool) -> Result<()> {
    let (root, names): (&Path, Vec<&str>) = match layout {
        CifarLayout::Jpeg(root) => (root, vec!["train", "test"]),
        CifarLayout::Binary(root) => (root, CIFAR10_BINARY_FILES.to_vec()),
    };
    for name in names {
        if copy {
            copy_tree(&root.join(name), &dest.join(name))?;
        } else {
            rename(&root.join(name), &dest.join(name))?;
        }
    }
    Ok(())
}

/// The same layout kind, placed at the top of `dir`.
pub(super) fn layout_in(layout: &CifarLayout, dir: &Path) -> CifarLayout {
    match layout {
        CifarLayout::Jpeg(_) => CifarLayout::Jpeg(dir.to_path_buf()),
        CifarLayout::Binary(_) => CifarLayout::Binary(dir.to_path_buf()),
    }
}

/// Warns when a placed CIFAR-10 layout does not hold the 50,000 + 10,000 images of the full set.
pub(super) fn warn_cifar_size(layout: &CifarLayout, step: &Step) {
    let (train, test) = match layout {
        CifarLayout::Jpeg(root) => {
            let count = |split: &str| {
                walk_files(&root.join(split)).map_or(0, |files| {
                    files.iter().filter(|(name, _)| name.to_lowercase().ends_with(".jpg")).count() as u64
                })
            };
            (count("train"), count("test"))
        }
        CifarLayout::Binary(root) => {
            let records = |file: &str| fs::metadata(root.join(file)).map_or(0, |m| m.len() / CIFAR10_RECORD_BYTES);
            let train = (1..=5).map(|i| records(&format!("data_batch_{i}.bin"))).sum();
            (train, records("test_batch.bin"))
        }
    };
    if (train, test) != (50_000, 10_000) {
        step.say(format!(
            "WARNING: found {train} training and {test} test images, not CIFAR-10's 50000 and \
             10000; using them anyway"
        ));
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Creates `path` with `len` zero bytes, making its parent folders.
    pub(in crate::fetch) fn touch(path: &Path, len: usize) -> Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, vec![0u8; len])?;
        Ok(())
    }

    /// A complete binary layout in `dir`, one record per batch.
    pub(in crate::fetch) fn binary_layout(dir: &Path) -> Result<()> {
        for file in CIFAR10_BINARY_FILES {
            let len = if file.ends_with(".bin") { usize::try_from(CIFAR10_RECORD_BYTES)? } else { 10 };
            touch(&dir.join(file), len)?;
        }
        Ok(())
    }

    #[test]
    fn cifar_layouts_are_detected() -> Result<()> {
        let dir = tempfile::tempdir()?;

        let jpeg = dir.path().join("jpeg");
        touch(&jpeg.join("train/cat/0000.jpg"), 3)?;
        touch(&jpeg.join("test/cat/0000.jpg"), 3)?;
        assert_eq!(detect_cifar_layout(&jpeg)?, CifarLayout::Jpeg(jpeg.clone()));

        let flat = dir.path().join("flat");
        binary_layout(&flat)?;
        assert_eq!(detect_cifar_layout(&flat)?, CifarLayout::Binary(flat.clone()));

        let nested = dir.path().join("nested");
        let batches = nested.join("cifar-10-batches-bin");
        binary_layout(&batches)?;
        touch(&batches.join("readme.html"), 1)?;
        assert_eq!(detect_cifar_layout(&nested)?, CifarLayout::Binary(batches));
        Ok(())
    }

    #[test]
    fn cifar_layout_errors_say_what_is_wrong() -> Result<()> {
        let dir = tempfile::tempdir()?;

        let neither = dir.path().join("neither");
        touch(&neither.join("images/cat.png"), 1)?;
        let err = format!("{:#}", detect_cifar_layout(&neither).err().context("no error")?);
        assert!(err.contains("neither CIFAR-10 layout"), "{err}");

        let half = dir.path().join("half");
        binary_layout(&half)?;
        fs::remove_file(half.join("test_batch.bin"))?;
        let err = format!("{:#}", detect_cifar_layout(&half).err().context("no error")?);
        assert!(err.contains("lacks test_batch.bin"), "{err}");

        let empty = dir.path().join("empty");
        binary_layout(&empty)?;
        touch(&empty.join("data_batch_3.bin"), 0)?;
        let err = format!("{:#}", detect_cifar_layout(&empty).err().context("no error")?);
        assert!(err.contains("data_batch_3.bin is 0 bytes"), "{err}");

        let no_test = dir.path().join("no-test");
        touch(&no_test.join("train/cat/0000.jpg"), 3)?;
        let err = format!("{:#}", detect_cifar_layout(&no_test).err().context("no error")?);
        assert!(err.contains("has train/ but no test/"), "{err}");
        Ok(())
    }

    #[test]
    fn what_the_files_hold_is_left_to_doppel_data() -> Result<()> {
        let dir = tempfile::tempdir()?;

        // A batch cut mid-record: doppel-data's loader names the file and the 3,073-byte record.
        let short = dir.path().join("short");
        binary_layout(&short)?;
        touch(&short.join("data_batch_3.bin"), 100)?;
        assert_eq!(detect_cifar_layout(&short)?, CifarLayout::Binary(short.clone()));

        // Splits without class folders: doppel-data's loader names the split that lacks them.
        let classless = dir.path().join("classless");
        fs::create_dir_all(classless.join("train"))?;
        fs::create_dir_all(classless.join("test"))?;
        assert_eq!(detect_cifar_layout(&classless)?, CifarLayout::Jpeg(classless.clone()));
        Ok(())
    }

    #[test]
    fn walk_skips_the_marker_and_sorts() -> Result<()> {
        let dir = tempfile::tempdir()?;
        touch(&dir.path().join("b/2.txt"), 1)?;
        touch(&dir.path().join("a.txt"), 2)?;
        touch(&dir.path().join(MARKER), 3)?;
        let names: Vec<String> = walk_files(dir.path())?.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a.txt", "b/2.txt"]);
        let (files, bytes) = hash_tree(dir.path())?;
        assert_eq!((files.len(), bytes), (2, 3));
        Ok(())
    }
}

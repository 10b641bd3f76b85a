//! Running the registries' own clients (pip, apt-get, npm) and the unpackers (python3's zipfile, dpkg-deb, tar).
//!
//! The fetch never speaks a registry's protocol itself: it starts the client a user would type, so proxies,
//! mirrors and credentials configured for that client just work. A [`Client`] is one such run; its stderr is echoed
//! while the last lines are kept ([`tee_tail`]), so that a failure can be reported with the command, its folder,
//! its exit status and what it said, and a missing program is reported with how to install it ([`install_hint`]).

use std::collections::VecDeque;
use std::env;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;

use anyhow::{Context, Result, anyhow, bail};

/// How many of a client's last stderr lines an error message shows.
const TAIL_LINES: usize = 12;

/// One run of an external program.
pub(super) struct Client<'a> {
    /// The program, looked up on PATH.
    pub(super) program: &'static str,
    /// Its arguments.
    pub(super) args: Vec<OsString>,
    /// The folder it runs in.
    pub(super) cwd: &'a Path,
    /// What it is for, to complete "… is needed to".
    pub(super) purpose: String,
    /// When set, its stdout and stderr go to this file instead of our stderr.
    pub(super) log: Option<PathBuf>,
}

/// How a client run ended.
pub(super) struct ClientRun {
    /// Its exit status.
    pub(super) status: ExitStatus,
    /// The last lines it wrote to stderr.
    pub(super) tail: Vec<String>,
}

impl Client<'_> {
    /// The command as one could type it.
    pub(super) fn display(&self) -> String {
        let mut out = self.program.to_string();
        for arg in &self.args {
            out.push(' ');
            out.push_str(&doppel_stdx::shell_quote(&arg.to_string_lossy()));
        }
        out
    }

    /// Runs the program to completion. Its stdout goes to our stderr (or the log) and its stderr
    /// is echoed there too while the last lines are kept for error messages. A program that is
    /// not installed is an error naming it, what it is for and `retry`.
    pub(super) fn run(&self, retry: &str) -> Result<ClientRun> {
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
    pub(super) fn failed(&self, run: &ClientRun, hint: &str, retry: &str) -> anyhow::Error {
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

/// How to get a missing program, for error messages.
fn install_hint(program: &str) -> &'static str {
    match program {
        "python3" => "Install Python 3 with pip (on Debian or Ubuntu: `apt-get install python3-pip`).",
        "apt-get" => {
            "apt-get comes with Debian and Ubuntu; elsewhere, put the .deb named in \
             xtask/src/fetch/artifacts.rs into the downloads folder by hand (its sha256 is checked)."
        }
        "dpkg-deb" => "dpkg-deb comes with Debian and Ubuntu (package `dpkg`).",
        "npm" => "Install Node.js with npm.",
        "tar" => "Install tar (GNU tar or bsdtar).",
        _ => "Install it.",
    }
}

/// Whether this process runs as root: `id -u`, else the USER variable.
pub(super) fn running_as_root() -> bool {
    match Command::new("id").arg("-u").stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim() == "0",
        _ => env::var("USER").is_ok_and(|user| user == "root"),
    }
}

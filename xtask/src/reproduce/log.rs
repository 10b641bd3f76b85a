//! The run log and the per-stage progress lines.
//!
//! Progress goes to stderr as plain lines (`reproduce: [model 4/18] smoke k=7 seed=1 m0: built in 0.3 s; model
//! ETA 5 s`), and every line, with the seconds since the start, to the log file in the results folder, which also
//! receives each doppel command line and its stderr. Results never go to the log: they go to the report.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use doppel_stdx::human::seconds as human_seconds;

use super::plan::Kind;

/// stderr plus an append-only log file.
#[derive(Debug)]
pub struct Log {
    file: Mutex<Option<File>>,
    start: Instant,
}

impl Log {
    /// A log that appends to `path` (created with its folder when missing), or only prints when `path` is `None`.
    pub fn open(path: Option<&Path>) -> Result<Log> {
        let file = match path {
            Some(p) => {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
                }
                Some(
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .with_context(|| format!("cannot open the log {}", p.display()))?,
                )
            }
            None => None,
        };
        Ok(Log { file: Mutex::new(file), start: Instant::now() })
    }

    /// Seconds since the log was opened.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// A line for the reader: stderr and the file.
    pub fn line(&self, msg: &str) {
        eprintln!("reproduce: {msg}");
        self.file_only(msg);
    }

    /// Lines only for the file (doppel's own stderr, the commands run).
    pub fn file_only(&self, msg: &str) {
        if msg.is_empty() {
            return;
        }
        let at = self.elapsed();
        if let Ok(mut guard) = self.file.lock()
            && let Some(f) = guard.as_mut()
        {
            for l in msg.lines() {
                // A log that cannot be written must not stop the run; stderr still has the progress.
                let _ = writeln!(f, "[{at:>9.1}s] {l}");
            }
        }
    }
}

/// Per-stage counters: how many steps of each kind this run handles, how many are done, and how long the built
/// ones took, for the ETA. Steps are also grouped (by dataset arm), because one stage's steps cost very different
/// amounts on different datasets: a group's remaining steps are priced at that group's mean so far, or at the
/// stage's mean before any of them is built.
#[derive(Debug, Default)]
pub struct Progress {
    stages: BTreeMap<Kind, Stage>,
    /// Steps that run at once (`--jobs`); the ETA divides the remaining step time by it. 0 counts as 1.
    jobs: usize,
}

#[derive(Debug, Default)]
struct Stage {
    total: usize,
    to_build: usize,
    done: usize,
    built: usize,
    built_seconds: f64,
    /// Per group: (steps to build, steps built, seconds they took).
    groups: BTreeMap<usize, (usize, usize, f64)>,
}

impl Progress {
    /// Counts a step of `kind` in `group`; `cached` when its artifact already exists.
    pub fn plan(&mut self, kind: Kind, group: usize, cached: bool) {
        let s = self.stages.entry(kind).or_default();
        s.total += 1;
        s.to_build += usize::from(!cached);
        s.groups.entry(group).or_default().0 += usize::from(!cached);
    }

    /// Sets how many steps run at once, for the ETA.
    pub fn set_jobs(&mut self, jobs: usize) {
        self.jobs = jobs;
    }

    /// A one-line summary per stage: `dataset 3 (1 to build), model 18 (18 to build)`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> =
            self.stages.iter().map(|(k, s)| format!("{k} {} ({} to build)", s.total, s.to_build)).collect();
        parts.join(", ")
    }

    /// Records a finished step of `group`; `built_seconds` is `None` when it was reused. Returns the progress
    /// prefix `[model 4/18]` and the stage's ETA text.
    pub fn finish(&mut self, kind: Kind, group: usize, built_seconds: Option<f64>) -> (String, String) {
        let jobs = self.jobs.max(1);
        let s = self.stages.entry(kind).or_default();
        s.done += 1;
        if let Some(t) = built_seconds {
            s.built += 1;
            s.built_seconds += t;
            let g = s.groups.entry(group).or_default();
            g.1 += 1;
            g.2 += t;
        }
        let prefix = format!("[{kind} {}/{}]", s.done, s.total);
        let left = s.to_build.saturating_sub(s.built);
        let eta = if left == 0 {
            format!("{kind} stage done")
        } else if s.built == 0 {
            format!("{left} {kind} steps to build")
        } else {
            let stage_mean = s.built_seconds / s.built as f64;
            let seconds: f64 = s
                .groups
                .values()
                .map(|&(to_build, built, secs)| {
                    let mean = if built > 0 { secs / built as f64 } else { stage_mean };
                    to_build.saturating_sub(built) as f64 * mean
                })
                .sum();
            // With several steps at once, the stage's remaining step time is shared among them (a step waits only
            // for what it reads, so the stage's steps mostly run side by side).
            format!("{kind} ETA {}", human_seconds(seconds / jobs as f64))
        };
        (prefix, eta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_comes_from_the_steps_built_so_far() {
        let mut p = Progress::default();
        for (group, cached) in [(0, true), (0, false), (0, false), (0, false), (1, false), (1, false)] {
            p.plan(Kind::Model, group, cached);
        }
        assert_eq!(p.summary(), "model 6 (5 to build)");
        assert_eq!(p.finish(Kind::Model, 0, None), ("[model 1/6]".into(), "5 model steps to build".into()));
        // Group 0: 2 left at 10 s; group 1: nothing built yet, 2 left at the stage mean of 10 s.
        assert_eq!(p.finish(Kind::Model, 0, Some(10.0)), ("[model 2/6]".into(), "model ETA 40 s".into()));
        assert_eq!(p.finish(Kind::Model, 0, Some(10.0)).1, "model ETA 30 s");
        assert_eq!(p.finish(Kind::Model, 0, Some(10.0)).1, "model ETA 20 s");
        // Group 1 turns out slower: its last step is priced at its own mean.
        assert_eq!(p.finish(Kind::Model, 1, Some(60.0)).1, "model ETA 1 min 00 s");
        assert_eq!(p.finish(Kind::Model, 1, Some(50.0)).1, "model stage done");
    }

    #[test]
    fn the_eta_shares_the_remaining_time_among_the_jobs() {
        let mut p = Progress::default();
        p.set_jobs(2);
        for _ in 0..5 {
            p.plan(Kind::Unlearn, 0, false);
        }
        // 4 steps left at 10 s each, two at a time.
        assert_eq!(p.finish(Kind::Unlearn, 0, Some(10.0)).1, "unlearn ETA 20 s");
    }

    #[test]
    fn the_log_file_gets_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/run.log");
        let log = Log::open(Some(&path)).unwrap();
        log.line("hello");
        log.file_only("a\nb");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| l.starts_with('[')), "{text}");
        assert!(text.contains("] hello") && text.contains("] b"), "{text}");
    }
}

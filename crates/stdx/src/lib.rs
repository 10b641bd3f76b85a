//! doppel-stdx: the helpers every doppel crate and the xtask share, on std, sha2 and toml alone, so the xtask can
//! link it without pulling in burn or polars.
//!
//! - [`fs`]: [`write_atomic`] (temporary file beside the destination, then a rename), [`fs::StagedDir`] (the same
//!   for a folder), [`fs::lock_file`] (the OS
//!   lock two processes take turns on), [`fs::manifest_dir`] (the running checkout's package folder, for tests that
//!   read fixtures) and the [`IoError`] that names the action and the path.
//! - [`errors`]: [`errors::one_line`], an error chain as one line that says each message once.
//! - [`human`]: sizes and durations for progress lines (`20.3 MB`, `3 min 05 s`).
//! - [`hash`]: lowercase-hex sha256 of buffers and files ([`sha256_hex`], [`sha256_file`]).
//! - [`config`]: the field checks of a TOML config ([`Checker`], [`ConfigProblem`]) and the line a TOML syntax
//!   error points at ([`config::at_line`]).
//! - [`overrides`]: `--set key=value` on a TOML config ([`overrides::apply`]), dotted keys through tables and
//!   arrays of tables (`variants.0.ratio`), so the binary derives a step's config and the xtask never edits one.
//! - [`process`]: [`shell_quote`] and [`shown`], so printed commands can be pasted into a shell.
//! - [`fuzz`]: the harness of the fuzzed-reader tests: a seeded generator, byte mutations, and
//!   [`fuzz::run`], which counts how every case ended and reports a panicking one with the seed that replays it.
//!
//! Each library crate keeps its own `thiserror` enum with its domain variants; the common ones wrap these types
//! (`From<IoError>`, `From<ConfigProblem>`), so a message reads the same whichever crate raised it.

pub mod config;
pub mod errors;
pub mod fs;
pub mod fuzz;
pub mod hash;
pub mod human;
pub mod overrides;
pub mod process;

pub use config::{Checker, ConfigProblem};
pub use fs::{IoError, write_atomic};
pub use hash::{sha256_file, sha256_hex};
pub use process::{shell_quote, shown};

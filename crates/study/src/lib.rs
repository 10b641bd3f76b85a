//! The study as data, with no model code: what `cargo xtask reproduce` runs and how each step is keyed.
//!
//! - [`preset`]: a preset (`configs/presets/<name>.toml`) read and checked, and each step's [`preset::StepConfig`]
//!   (the base config file plus the `--set` overrides the `doppel` command applies itself).
//! - [`plan`]: the steps of a preset in dependency order ([`plan::Plan`]), their cache keys from the key material
//!   (config text, inputs' keys, code fingerprint, device) and the shard split.
//! - [`code`]: which sources decide each step kind's artifacts, from the workspace graph `cargo metadata` gives.
//!
//! The orchestrator (xtask) runs the plan; this crate only describes it, so it links std, serde, toml and sha2 and
//! the two other std-level doppel crates (doppel-stdx, doppel-protocol), never burn or polars.

pub mod code;
pub mod plan;
pub mod preset;

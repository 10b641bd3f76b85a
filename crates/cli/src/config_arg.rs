//! `--config FILE --set KEY=VALUE …`: a command's config as the file says, with the overrides applied before the
//! config's own checks (doppel-data's [`derive`](doppel_data::derive::derive)), and the config as used written
//! beside the command's outputs as `config.toml`.
//!
//! `cargo xtask reproduce` runs every step this way: it hands the binary the preset's file unchanged plus the step's
//! overrides (`--set seed=3`, `--variants-per-target 21`) instead of editing TOML itself.

use std::path::Path;

use clap::Args;

/// The overrides a config-taking command accepts.
#[derive(Debug, Clone, Args)]
pub struct Overrides {
    /// Override one key of the config, e.g. `--set seed=3`, `--set source.train_per_class=500` or `--set
    /// variants.0.ratio=0.5` (dots reach into tables, a number into an array of tables; the value is TOML, a bare
    /// word is taken as a string). Repeatable; applied in order, before the config is checked.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// The name of the config as used, written into a command's output folder.
pub const USED: &str = "config.toml";

/// A config's text after the overrides, and the name errors give it.
#[derive(Debug)]
pub struct Used {
    /// The TOML the command runs with.
    pub text: String,
    /// The file, with "(after --set …)" when overrides changed it.
    pub file: String,
}

impl Used {
    /// Writes the config as used to `dir/config.toml` (atomically), so the output says what made it.
    pub fn write_into(&self, dir: &Path) -> anyhow::Result<()> {
        doppel_stdx::write_atomic(&dir.join(USED), self.text.as_bytes())?;
        Ok(())
    }
}

/// Reads `path` and applies `sets` and, for a dataset build, `variants_per_target` (each `[[variants]]` group
/// scaled to that total, in proportion).
pub fn read(path: &Path, sets: &[String], variants_per_target: Option<usize>) -> anyhow::Result<Used> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(doppel_stdx::IoError::at("reading", path))?;
    let derived = doppel_data::derive::derive(&text, &file, sets, variants_per_target)?;
    let file = match (sets.is_empty(), variants_per_target) {
        (true, None) => file,
        (true, Some(k)) => format!("{file} (with --variants-per-target {k})"),
        (false, _) => format!("{file} (after --set)"),
    };
    Ok(Used { text: derived, file })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn overrides_reach_the_config_and_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("doppel-config-arg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.toml");
        std::fs::write(&path, "name = \"t\"\nseed = 1\n[[variants]]\nper_target = 4\n").unwrap();
        let used = read(&path, &["seed=9".into()], Some(8)).unwrap();
        assert!(used.text.contains("seed = 9") && used.text.contains("per_target = 8"), "{}", used.text);
        assert!(used.file.ends_with("t.toml (after --set)"), "{}", used.file);
        let plain = read(&path, &[], None).unwrap();
        assert_eq!(plain.text, std::fs::read_to_string(&path).unwrap());
        let e = read(&path, &["seed".into()], None).unwrap_err().to_string();
        assert!(e.contains("t.toml") && e.contains("--set seed"), "{e}");
        let e = read(&dir.join("nope.toml"), &[], None).unwrap_err().to_string();
        assert!(e.contains("nope.toml"), "{e}");
        used.write_into(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(USED)).unwrap(), used.text);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

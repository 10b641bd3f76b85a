//! A config file as one step of a sweep uses it: the file's text with `--set key=value` overrides applied and,
//! for a dataset build, the `[[variants]]` groups scaled to `k` look-alikes per target.
//!
//! This is how `cargo xtask reproduce` derives every step's config without editing TOML itself: it passes the
//! preset's file, its `set` table and the step's k and seed to the `doppel` command, which calls [`derive`] before
//! the config's own checks. `doppel data build --config F --set seed=3 --variants-per-target 21` is the same build
//! as a copy of F edited by hand.

use crate::error::{DataError, Result};

/// The text of `text` (from `file`) with `sets` applied and, when `variants_per_target` is given, each
/// `[[variants]]` group's `per_target` scaled by [`scale_groups`] to that total.
pub fn derive(text: &str, file: &str, sets: &[String], variants_per_target: Option<usize>) -> Result<String> {
    if sets.is_empty() && variants_per_target.is_none() {
        return Ok(text.to_string());
    }
    let mut table: toml::Table = toml::from_str(text).map_err(|e| DataError::ConfigSyntax {
        file: doppel_stdx::config::located(file, text, e.span()),
        message: e.message().replace('\n', " "),
    })?;
    let bad = |field: String, problem: String| DataError::Config { file: file.to_string(), field, problem };
    doppel_stdx::overrides::apply(&mut table, sets).map_err(|(k, p)| bad(format!("--set {k}"), p))?;
    if let Some(k) = variants_per_target {
        let Some(groups) = table.get_mut("variants").and_then(toml::Value::as_array_mut) else {
            return Err(bad("variants".into(), "has no [[variants]] groups to scale to --variants-per-target".into()));
        };
        let per: Vec<usize> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| match g.get("per_target").and_then(toml::Value::as_integer).map(usize::try_from) {
                Some(Ok(n)) => Ok(n),
                _ => Err(bad(format!("variants[{i}].per_target"), "must be an integer, 0 or more".into())),
            })
            .collect::<Result<_>>()?;
        for (g, n) in groups.iter_mut().zip(scale_groups(&per, k)) {
            if let Some(t) = g.as_table_mut() {
                t.insert("per_target".into(), toml::Value::Integer(n as i64));
            }
        }
    }
    toml::to_string(&table).map_err(|e| bad("(the whole file)".into(), format!("cannot be written back: {e}")))
}

pub use doppel_stdx::overrides::scale_groups;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_derived_config_has_the_overrides_and_the_scaled_groups() {
        let text = "name = \"t\"\nseed = 1\n[[variants]]\nper_target = 5\n[[variants]]\nper_target = 2\n";
        let d = derive(text, "t.toml", &["seed=3".into()], Some(21)).unwrap();
        let t: toml::Table = toml::from_str(&d).unwrap();
        assert_eq!(t["seed"].as_integer(), Some(3));
        assert_eq!(t["variants"][0]["per_target"].as_integer(), Some(15));
        assert_eq!(t["variants"][1]["per_target"].as_integer(), Some(6));
        assert_eq!(derive(text, "t.toml", &[], None).unwrap(), text, "nothing to apply: the file as it is");
        let e = derive(text, "t.toml", &["variants.5.ratio=0.5".into()], None).unwrap_err().to_string();
        assert!(e.contains("t.toml") && e.contains("--set variants.5.ratio") && e.contains("2 elements"), "{e}");
        let e = derive("name = \"t\"\n", "t.toml", &[], Some(3)).unwrap_err().to_string();
        assert!(e.contains("no [[variants]] groups"), "{e}");
    }
}

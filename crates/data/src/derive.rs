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

/// Splits `k` variants per target over the config's groups in proportion to their `per_target` (largest
/// remainder, earlier groups first on ties), so `k` equal to the config's own total gives the config back and
/// `k = 0` turns every group off. Groups that all say 0 share `k` equally.
pub fn scale_groups(groups: &[usize], k: usize) -> Vec<usize> {
    if groups.is_empty() {
        return Vec::new();
    }
    let weights: Vec<usize> = if groups.iter().all(|&g| g == 0) { vec![1; groups.len()] } else { groups.to_vec() };
    let total: usize = weights.iter().sum();
    let mut out: Vec<usize> = weights.iter().map(|&w| k * w / total).collect();
    let mut left = k - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Descending remainder; the sort is stable, so ties keep group order.
    order.sort_by_key(|&i| std::cmp::Reverse(k * weights[i] % total));
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scale_groups_keeps_proportions_and_totals() {
        for (groups, k, want) in [
            (vec![5, 2], 7, vec![5, 2]),
            (vec![5, 2], 0, vec![0, 0]),
            (vec![5, 2], 21, vec![15, 6]),
            (vec![5, 2], 1, vec![1, 0]),
            (vec![10, 2], 25, vec![21, 4]),
            (vec![10], 50, vec![50]),
            (vec![0, 0], 3, vec![2, 1]),
            (vec![], 0, vec![]),
        ] {
            let got = scale_groups(&groups, k);
            assert_eq!(got, want, "groups {groups:?} k {k}");
            assert_eq!(got.iter().sum::<usize>(), if groups.is_empty() { 0 } else { k });
        }
    }

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

//! `--set key=value` overrides of a TOML config.
//!
//! A key is dotted (`source.train_per_class`); missing tables on the way are created, and a number picks an
//! element of an array of tables (`variants.0.ratio` is the first `[[variants]]` group's `ratio`). A value is a
//! TOML value (`0.5`, `"noun"`, `["noun", "verb"]`, `{ a = 1 }`); a word that is not one is taken as a string, so
//! `--set name=mnist-10k` works unquoted. The checks of the config itself run afterwards, on the result, exactly
//! as on a file.

use toml::{Table, Value};

/// One `key=value` argument, parsed: `Err` names what is wrong with it.
pub fn parse(arg: &str) -> Result<(String, Value), String> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err(format!("--set {arg:?} is not key=value (e.g. --set source.train_per_class=500)"));
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(format!("--set {arg:?}: {key:?} is not a dotted key like source.train_per_class"));
    }
    let value = value.trim();
    let parsed = format!("v = {value}").parse::<Table>().ok().and_then(|mut t| t.remove("v"));
    Ok((key.to_string(), parsed.unwrap_or_else(|| Value::String(value.to_string()))))
}

/// `key=value` as [`parse`] reads it back.
pub fn render(key: &str, value: &Value) -> String {
    format!("{key}={value}")
}

/// Sets the dotted `key` in `table` to `value`; `Err` is the problem with the key, to be named with it.
pub fn set(table: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("is not a dotted key like \"source.train_per_class\"".into());
    }
    let mut at = &mut *table;
    let mut i = 0;
    while i + 1 < parts.len() {
        let part = parts[i];
        let entry = at.entry(part.to_string()).or_insert_with(|| Value::Table(Table::new()));
        at = match entry {
            Value::Table(t) => t,
            Value::Array(items) if i + 2 < parts.len() => {
                let index = parts[i + 1];
                let n = items.len();
                let item = index
                    .parse::<usize>()
                    .ok()
                    .and_then(|j| items.get_mut(j))
                    .ok_or_else(|| format!("indexes `{part}` with `{index}`; it has {n} elements (0-based)"))?;
                i += 1;
                match item {
                    Value::Table(t) => t,
                    _ => return Err(format!("goes through `{part}.{index}`, which is not a table")),
                }
            }
            _ => return Err(format!("goes through `{part}`, which is not a table")),
        };
        i += 1;
    }
    if let Some(last) = parts.last() {
        at.insert((*last).to_string(), value);
    }
    Ok(())
}

/// Applies every `key=value` of `sets` to `table`, in order; `Err` is (key, problem).
pub fn apply(table: &mut Table, sets: &[String]) -> Result<(), (String, String)> {
    for arg in sets {
        let (key, value) = parse(arg).map_err(|p| (arg.clone(), p))?;
        set(table, &key, value).map_err(|p| (key, p))?;
    }
    Ok(())
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

/// Why [`derive`] cannot give a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeriveError {
    /// The file is not TOML; `file` carries the line (`configs/x.toml:12`).
    Syntax {
        /// The file and line.
        file: String,
        /// The parser's message, on one line.
        message: String,
    },
    /// An override or the variant groups do not fit the file.
    Field(crate::ConfigProblem),
}

impl std::fmt::Display for DeriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeriveError::Syntax { file, message } => write!(f, "{file}: not valid TOML: {message}"),
            DeriveError::Field(p) => p.fmt(f),
        }
    }
}

impl std::error::Error for DeriveError {}

/// A config file as one step of a sweep uses it: `text` (from `file`) with `sets` applied in order and, when
/// `variants_per_target` is given, each `[[variants]]` group's `per_target` scaled by [`scale_groups`] to that
/// total (read after the overrides). With nothing to apply the text comes back as it is.
///
/// This is how `cargo xtask reproduce` derives every step's config without editing TOML itself: it passes the
/// preset's file, its `set` table and the step's k and seed to the `doppel` command, which derives the config
/// before its own checks. `doppel data build --config F --set seed=3 --variants-per-target 21` is the same build as
/// a copy of F edited by hand.
pub fn derive(
    text: &str,
    file: &str,
    sets: &[String],
    variants_per_target: Option<usize>,
) -> Result<String, DeriveError> {
    if sets.is_empty() && variants_per_target.is_none() {
        return Ok(text.to_string());
    }
    let mut table: Table = toml::from_str(text).map_err(|e| DeriveError::Syntax {
        file: crate::config::located(file, text, e.span()),
        message: e.message().replace('\n', " "),
    })?;
    let bad = |field: String, problem: String| {
        DeriveError::Field(crate::ConfigProblem { file: file.to_string(), field, problem })
    };
    apply(&mut table, sets).map_err(|(k, p)| bad(format!("--set {k}"), p))?;
    if let Some(k) = variants_per_target {
        let Some(groups) = table.get_mut("variants").and_then(Value::as_array_mut) else {
            return Err(bad("variants".into(), "has no [[variants]] groups to scale to --variants-per-target".into()));
        };
        let per: Vec<usize> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| match g.get("per_target").and_then(Value::as_integer).map(usize::try_from) {
                Some(Ok(n)) => Ok(n),
                _ => Err(bad(format!("variants[{i}].per_target"), "must be an integer, 0 or more".into())),
            })
            .collect::<Result<_, _>>()?;
        for (g, n) in groups.iter_mut().zip(scale_groups(&per, k)) {
            if let Some(t) = g.as_table_mut() {
                t.insert("per_target".into(), Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)));
            }
        }
    }
    toml::to_string(&table).map_err(|e| bad("(the whole file)".into(), format!("cannot be written back: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn overrides_reach_nested_tables_and_array_elements() {
        let mut t: Table =
            "seed = 1\n[source]\ndataset = \"mnist\"\n[[variants]]\nratio = 0.2\n[[variants]]\nratio = 0.3\n"
                .parse()
                .unwrap();
        let sets = ["source.train_per_class=500", "variants.1.ratio=0.5", "name=mnist-10k", "pos=[\"noun\"]", "x.y=2"];
        apply(&mut t, &sets.map(String::from)).unwrap();
        assert_eq!(t["source"]["train_per_class"].as_integer(), Some(500));
        assert_eq!(t["variants"][1]["ratio"].as_float(), Some(0.5));
        assert_eq!(t["variants"][0]["ratio"].as_float(), Some(0.2));
        assert_eq!(t["name"].as_str(), Some("mnist-10k"), "an unquoted word is a string");
        assert_eq!(t["pos"][0].as_str(), Some("noun"));
        assert_eq!(t["x"]["y"].as_integer(), Some(2), "missing tables are made");
        let (key, value) = parse(&render("a.b", &Value::String("it's".into()))).unwrap();
        assert_eq!((key.as_str(), value.as_str()), ("a.b", Some("it's")));
    }

    #[test]
    fn bad_overrides_say_what_is_wrong() {
        let mut t: Table = "seed = 1\n[[variants]]\nratio = 0.2\n".parse().unwrap();
        let e = apply(&mut t, &["variants.3.ratio=1".into()]).unwrap_err();
        assert_eq!(e, ("variants.3.ratio".into(), "indexes `variants` with `3`; it has 1 elements (0-based)".into()));
        assert!(apply(&mut t, &["seed.x=1".into()]).unwrap_err().1.contains("goes through `seed`"));
        assert!(apply(&mut t, &["noequals".into()]).unwrap_err().1.contains("is not key=value"));
        assert!(apply(&mut t, &["a..b=1".into()]).unwrap_err().1.contains("dotted key"));
    }

    #[test]
    fn a_derived_config_has_the_overrides_and_the_scaled_groups() {
        let text = "name = \"t\"\nseed = 1\n[[variants]]\nper_target = 5\n[[variants]]\nper_target = 2\n";
        let d = derive(text, "t.toml", &["seed=3".into()], Some(21)).unwrap();
        let t: Table = toml::from_str(&d).unwrap();
        assert_eq!(t["seed"].as_integer(), Some(3));
        assert_eq!(t["variants"][0]["per_target"].as_integer(), Some(15));
        assert_eq!(t["variants"][1]["per_target"].as_integer(), Some(6));
        assert_eq!(derive(text, "t.toml", &[], None).unwrap(), text, "nothing to apply: the file as it is");
        let e = derive(text, "t.toml", &["variants.5.ratio=0.5".into()], None).unwrap_err().to_string();
        assert!(e.contains("t.toml") && e.contains("--set variants.5.ratio") && e.contains("2 elements"), "{e}");
        let e = derive("name = \"t\"\n", "t.toml", &[], Some(3)).unwrap_err().to_string();
        assert!(e.contains("no [[variants]] groups"), "{e}");
        let e = derive("name = \n", "t.toml", &["a=1".into()], None).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:1: not valid TOML"), "{e}");
    }

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
}

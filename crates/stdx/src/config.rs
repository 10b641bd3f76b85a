//! Checking a config's fields once, with errors that name the file and the field.
//!
//! Configs are read in two steps (STYLE.md rule 2): strict TOML into raw structs, then a check into the valid
//! type. [`Checker`] does the common checks of the second step and reports `file: \`field\` problem`; its error
//! type is the crate's own error enum, built from a [`ConfigProblem`] by `From`, so a crate's call sites stay
//! `c.count("pool.train", raw.pool.train, 1)?`. [`at_line`] turns the byte span of a TOML syntax error into the
//! `:line` suffix of the file name.

use std::marker::PhantomData;
use std::ops::Range;

/// A field of a config file that fails its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The config file (or the context that stands for it).
    pub file: String,
    /// The dotted key: `pool.train`.
    pub field: String,
    /// What is wrong and what to do: `is 0; it must be at least 1`.
    pub problem: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: `{}` {}", self.file, self.field, self.problem)
    }
}

impl std::error::Error for ConfigProblem {}

/// Field checks of one config file whose failures are the crate's error `E`.
#[derive(Debug)]
pub struct Checker<'a, E> {
    file: &'a str,
    error: PhantomData<fn() -> E>,
}

impl<'a, E: From<ConfigProblem>> Checker<'a, E> {
    /// Checks of the config `file` (named in every error).
    pub fn new(file: &'a str) -> Self {
        Checker { file, error: PhantomData }
    }

    /// The file the checks name.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// The error `file: \`field\` problem`.
    pub fn err(&self, field: impl Into<String>, problem: impl Into<String>) -> E {
        E::from(ConfigProblem { file: self.file.to_string(), field: field.into(), problem: problem.into() })
    }

    /// A count of at least `min`.
    pub fn count(&self, field: &str, v: i64, min: i64) -> Result<usize, E> {
        if v < min {
            let what = if min == 0 { "0 or more".to_string() } else { format!("at least {min}") };
            return Err(self.err(field, format!("is {v}; it must be {what}")));
        }
        usize::try_from(v).map_err(|_| self.err(field, format!("is {v}, too large")))
    }

    /// A seed: any integer from 0 up.
    pub fn seed(&self, field: &str, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| self.err(field, format!("is {v}; it must be 0 or more")))
    }

    /// A finite distance, 0 or more, that fits an `f32`.
    pub fn distance(&self, field: &str, v: f64) -> Result<f32, E> {
        if !(v.is_finite() && v >= 0.0 && v <= f64::from(f32::MAX)) {
            return Err(self.err(field, format!("is {v}; it must be a finite distance, 0 or more")));
        }
        Ok(v as f32)
    }
}

/// The 1-based line of byte `offset` in `text` (offsets past the end count as the last line).
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = floor_char_boundary(text, offset.min(text.len()));
    text[..end].matches('\n').count() + 1
}

/// `:<line>` for a syntax error whose span starts in `text`, or nothing when the parser gave no span; appended
/// to the file name, it reads `configs/x.toml:12`.
pub fn at_line(text: &str, span: Option<Range<usize>>) -> String {
    span.map(|s| format!(":{}", line_of(text, s.start))).unwrap_or_default()
}

/// `file:<line>` for a syntax error whose span starts in `text` (just `file` without a span).
pub fn located(file: &str, text: &str, span: Option<Range<usize>>) -> String {
    format!("{file}{}", at_line(text, span))
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct E(ConfigProblem);
    impl From<ConfigProblem> for E {
        fn from(p: ConfigProblem) -> Self {
            E(p)
        }
    }

    #[test]
    fn checks_name_the_file_and_the_field() {
        let c: Checker<E> = Checker::new("a.toml");
        assert_eq!(c.count("pool.train", 3, 1), Ok(3));
        assert_eq!(
            c.count("pool.train", 0, 1).unwrap_err().0.to_string(),
            "a.toml: `pool.train` is 0; it must be at least 1"
        );
        assert_eq!(c.count("x", -1, 0).unwrap_err().0.problem, "is -1; it must be 0 or more");
        assert_eq!(c.seed("seed", 7), Ok(7));
        assert!(c.seed("seed", -7).is_err());
        assert_eq!(c.distance("t", 0.5), Ok(0.5));
        assert!(c.distance("t", f64::NAN).is_err());
    }

    #[test]
    fn lines_of_spans() {
        let text = "a = 1\nb = é\nc = 3\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2);
        assert_eq!(line_of(text, 11), 2, "inside the two-byte é");
        assert_eq!(line_of(text, 1000), 4);
        assert_eq!(at_line(text, Some(13..14)), ":3");
        assert_eq!(at_line(text, None), "");
        assert_eq!(located("a.toml", text, Some(6..7)), "a.toml:2");
    }
}

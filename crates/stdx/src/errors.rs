//! An error chain as the one line the binary and the xtask print.
//!
//! Many error types print their source inside their own message (`reading a.toml: No such file or directory`)
//! *and* return it from `source()`, as they should for callers that inspect the chain. Printing the chain with
//! anyhow's `{:#}` then says the source twice. [`one_line`] joins the messages with `": "` and leaves out a cause
//! whose text the line already holds, so each message appears once and none is lost.

use std::error::Error;

/// The messages of `chain` (outermost first, as `anyhow::Error::chain` yields them) joined by `": "`, each cause
/// left out when the line so far already contains its text.
pub fn one_line<'a>(chain: impl IntoIterator<Item = &'a (dyn Error + 'static)>) -> String {
    let mut line = String::new();
    for cause in chain {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// [`one_line`] of `error` and its sources, walked through [`Error::source`].
pub fn one_line_of(error: &(dyn Error + 'static)) -> String {
    one_line(std::iter::successors(Some(error), |&e| e.source()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IoError;

    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn Error + 'static>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self.1.as_ref())
        }
    }

    #[test]
    fn a_source_printed_by_its_wrapper_appears_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let e = IoError::at("reading", "nope.toml")(io);
        assert_eq!(one_line_of(&e), "reading nope.toml: No such file or directory (os error 2)");
    }

    #[test]
    fn distinct_messages_are_all_kept_in_order() {
        let io = std::io::Error::other("disk full");
        let e = Wrap("writing the report", Box::new(IoError::at("writing", "out/report.md")(io)));
        assert_eq!(one_line_of(&e), "writing the report: writing out/report.md: disk full");
    }

    #[test]
    fn one_error_is_its_own_message() {
        let e = std::io::Error::other("plain");
        assert_eq!(one_line_of(&e), "plain");
    }
}

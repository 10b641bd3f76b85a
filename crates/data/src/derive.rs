//! A config file as one step of a sweep uses it: doppel-stdx's [`derive`](doppel_stdx::overrides::derive)
//! (`--set key=value` overrides and `[[variants]]` groups scaled to k look-alikes per target) with its errors as
//! [`DataError`]s.
//!
//! `doppel data build --config F --set seed=3 --variants-per-target 21` is the same build as a copy of F edited by
//! hand; `cargo xtask reproduce` builds every dataset this way instead of writing TOML.

use crate::error::{DataError, Result};
use doppel_stdx::overrides::DeriveError;

/// The text of `text` (from `file`) with `sets` applied and, when `variants_per_target` is given, each
/// `[[variants]]` group's `per_target` scaled by [`scale_groups`] to that total.
pub fn derive(text: &str, file: &str, sets: &[String], variants_per_target: Option<usize>) -> Result<String> {
    doppel_stdx::overrides::derive(text, file, sets, variants_per_target).map_err(|e| match e {
        DeriveError::Syntax { file, message } => DataError::ConfigSyntax { file, message },
        DeriveError::Field(p) => p.into(),
    })
}

pub use doppel_stdx::overrides::scale_groups;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn derive_errors_are_data_errors_that_name_the_file() {
        let text = "name = \"t\"\nseed = 1\n[[variants]]\nper_target = 5\n";
        let e = derive(text, "t.toml", &["variants.5.ratio=0.5".into()], None).unwrap_err();
        assert!(
            matches!(&e, DataError::Config { file, field, .. } if file == "t.toml" && field == "--set variants.5.ratio"),
            "{e}"
        );
        let e = derive("name = \n", "t.toml", &["a=1".into()], None).unwrap_err();
        assert!(matches!(&e, DataError::ConfigSyntax { file, .. } if file == "t.toml:1"), "{e}");
        assert!(derive(text, "t.toml", &[], Some(7)).unwrap().contains("per_target = 7"));
    }
}

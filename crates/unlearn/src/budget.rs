//! How much work a method does on one side of a run: a number of optimiser steps, or of passes (epochs) over
//! that side.
//!
//! Why steps: the forget side is the scope's rows, and its size is what the scopes change (50 targets under
//! `exact`, 1,300 rows under `lineage` at k = 25). A method that runs "5 epochs over F" therefore takes 5 steps
//! under one scope and 55 under another, and a comparison of scopes becomes a comparison of step counts. A
//! budget in [`Budget::Steps`] is the same under every scope: the side is walked in shuffled passes, cycled as
//! often as needed, and cut after that many steps. [`Budget::Epochs`] keeps the papers' settings expressible
//! (and is exact for the retain side, whose size barely changes with the scope).
//!
//! In a method's TOML section a budget is an inline table: `forget = { steps = 90 }` or `retain = { epochs = 1 }`.

use std::collections::VecDeque;

use crate::engine::batches;
use crate::error::{Result, UnlearnError};

/// The work on one side of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Budget {
    /// Exactly this many optimiser steps, whatever the side's size (the side is cycled as needed).
    Steps(usize),
    /// This many shuffled passes over the side: `epochs · ⌈rows / batch⌉` steps.
    Epochs(usize),
}

impl Budget {
    /// The steps this budget comes to on a side of `rows` rows in batches of `batch_size`.
    pub fn steps(self, rows: usize, batch_size: usize) -> usize {
        match self {
            Budget::Steps(n) => n,
            Budget::Epochs(e) => e * rows.div_ceil(batch_size.max(1)),
        }
    }

    /// The budget times `factor` (rounded, at least 1), in the same unit.
    pub fn scaled(self, factor: f64) -> Budget {
        let scale = |n: usize| ((n as f64 * factor).round() as usize).max(1);
        match self {
            Budget::Steps(n) => Budget::Steps(scale(n)),
            Budget::Epochs(e) => Budget::Epochs(scale(e)),
        }
    }

    /// Checks that the budget is at least one step or epoch; `field` names the key.
    pub(crate) fn check(self, method: &'static str, field: &'static str) -> Result<()> {
        let (n, unit) = match self {
            Budget::Steps(n) => (n, "steps"),
            Budget::Epochs(e) => (e, "epochs"),
        };
        if n == 0 {
            let problem = format!("is {{ {unit} = 0 }}; it must be at least 1");
            return Err(UnlearnError::Config { method, field, problem });
        }
        Ok(())
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Steps(1) => write!(f, "1 step"),
            Budget::Steps(n) => write!(f, "{n} steps"),
            Budget::Epochs(1) => write!(f, "1 epoch"),
            Budget::Epochs(e) => write!(f, "{e} epochs"),
        }
    }
}

/// An endless walk over `rows`: pass `p` is `rows` shuffled by the stream `name`/`p` of the run seed, cut into
/// batches (the last one of a pass may be short); pass `p + 1` follows. Empty rows give no batches.
///
/// With `.take(Budget::Epochs(e).steps(..))` this is exactly `e` passes, each as [`batches`] cuts it.
pub(crate) struct Cycle<'a> {
    rows: &'a [usize],
    batch_size: usize,
    seed: u64,
    name: &'a str,
    pass: usize,
    pending: VecDeque<Vec<usize>>,
}

impl<'a> Cycle<'a> {
    pub fn new(rows: &'a [usize], batch_size: usize, seed: u64, name: &'a str) -> Self {
        Cycle { rows, batch_size, seed, name, pass: 0, pending: VecDeque::new() }
    }

    /// The next `budget`'s worth of batches of this side.
    pub fn take_budget(&mut self, budget: Budget) -> Vec<Vec<usize>> {
        let n = budget.steps(self.rows.len(), self.batch_size);
        self.take(n).collect()
    }
}

impl Iterator for Cycle<'_> {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        if self.pending.is_empty() {
            if self.rows.is_empty() {
                return None;
            }
            self.pending = batches(self.rows, self.batch_size, self.seed, self.name, self.pass).into();
            self.pass += 1;
        }
        self.pending.pop_front()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the test failing.

    use super::*;

    #[test]
    fn steps_are_the_same_for_any_side_and_epochs_scale_with_it() {
        assert_eq!(Budget::Steps(90).steps(50, 128), 90);
        assert_eq!(Budget::Steps(90).steps(1_300, 128), 90);
        assert_eq!(Budget::Epochs(5).steps(50, 128), 5);
        assert_eq!(Budget::Epochs(5).steps(1_300, 128), 55);
        assert_eq!(Budget::Epochs(2).steps(0, 128), 0);
    }

    #[test]
    fn a_cycle_cut_at_whole_epochs_is_those_epochs_and_then_goes_on() {
        let rows: Vec<usize> = (0..10).collect();
        let walked: Vec<Vec<usize>> = Cycle::new(&rows, 4, 7, "t").take(Budget::Epochs(2).steps(10, 4)).collect();
        let want: Vec<Vec<usize>> = (0..2).flat_map(|p| batches(&rows, 4, 7, "t", p)).collect();
        assert_eq!(walked, want, "two passes, each shuffled by its own stream index");
        // Seven steps over ten rows in batches of four: two passes of three batches, then the third pass's first.
        let seven: Vec<Vec<usize>> = Cycle::new(&rows, 4, 7, "t").take(7).collect();
        assert_eq!(seven.len(), 7);
        assert_eq!(seven[6], batches(&rows, 4, 7, "t", 2)[0]);
        assert_eq!(Cycle::new(&[], 4, 7, "t").next(), None);
    }

    #[test]
    fn budgets_read_from_toml_and_scale_in_their_unit() {
        #[derive(serde::Deserialize)]
        struct S {
            forget: Budget,
            retain: Budget,
        }
        let s: S = toml::from_str("forget = { steps = 90 }\nretain = { epochs = 1 }").unwrap();
        assert_eq!((s.forget, s.retain), (Budget::Steps(90), Budget::Epochs(1)));
        assert!(toml::from_str::<S>("forget = { step = 90 }\nretain = { epochs = 1 }").is_err());
        assert_eq!(Budget::Steps(90).scaled(2.0), Budget::Steps(180));
        assert_eq!(Budget::Epochs(1).scaled(0.1), Budget::Epochs(1), "never below one");
        assert_eq!(
            Budget::Steps(0).check("ga", "forget").unwrap_err().to_string(),
            "ga: `forget` is { steps = 0 }; it must be at least 1"
        );
        assert_eq!(Budget::Epochs(1).to_string(), "1 epoch");
    }
}

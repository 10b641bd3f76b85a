//! The harness of doppel's fuzzed-reader tests (`crates/*/tests/fuzz.rs`): a seeded generator, byte mutations
//! of a valid file, and [`run`], which feeds the cases to a reader and counts how each one ended.
//!
//! Every case has its own seed, derived from the master seed (`DOPPEL_FUZZ_SEED`, default 21), the reader's
//! name and the case's index, so a panic is reported with the seed that replays it alone:
//! `DOPPEL_FUZZ_REPLAY=<seed>` runs just that case (for every reader of the test binary; filter the test by
//! name to watch one). `DOPPEL_FUZZ_CASES` sets the cases per reader (default [`DEFAULT_CASES`], what CI runs).
//!
//! The generator is SplitMix64 (Steele, Lea & Flood 2014) rather than a `rand` engine, so this crate stays on
//! std and its stream never changes with a dependency's version.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Cases per reader when `DOPPEL_FUZZ_CASES` is unset: CI's count.
pub const DEFAULT_CASES: usize = 300;

/// A small seeded generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator of `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n`, or 0 when `n` is 0. (The modulo bias is below 2⁻³² for the sizes of a test file.)
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    /// A value in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo))
    }

    /// A fair coin.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// One of `items`, which must not be empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The cases per reader: `DOPPEL_FUZZ_CASES`, else [`DEFAULT_CASES`].
pub fn cases() -> usize {
    std::env::var("DOPPEL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

/// The master seed: `DOPPEL_FUZZ_SEED`, else 21.
pub fn master_seed() -> u64 {
    std::env::var("DOPPEL_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(21)
}

/// The seed of case `case` of `reader` under `master`.
pub fn case_seed(master: u64, reader: &str, case: usize) -> u64 {
    // FNV-1a of the name, so that readers draw different streams from one master seed.
    let name = reader.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    Rng::new(master ^ name ^ (case as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)).next_u64()
}

/// The case to replay alone: `DOPPEL_FUZZ_REPLAY` (decimal, or hex with `0x`).
fn replay() -> Option<u64> {
    let v = std::env::var("DOPPEL_FUZZ_REPLAY").ok()?;
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// One mutation of `valid`: random bytes, bit flips, a truncation, a spliced chunk, or a 4-byte field set to an
/// extreme (0, 1, 0x7fffffff, 0xffffffff), the header fields a reader sizes its buffers by.
pub fn mutate(valid: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut b = valid.to_vec();
    match r.below(5) {
        0 => {
            let n = r.below(valid.len().max(1) * 2);
            b = r.bytes(n);
        }
        1 => {
            for _ in 0..r.range(1, 8) {
                if !b.is_empty() {
                    let i = r.below(b.len());
                    b[i] ^= 1 << r.below(8);
                }
            }
        }
        2 => b.truncate(r.below(valid.len().max(1))),
        3 => {
            let at = r.below(b.len() + 1);
            let n = r.range(1, 64);
            let chunk = r.bytes(n);
            b.splice(at..at, chunk);
        }
        _ => {
            if b.len() >= 4 {
                let i = r.below(b.len() - 3);
                let v: u32 = *r.pick(&[0, 1, 0x7fff_ffff, 0xffff_ffff]);
                let bytes = if r.coin() { v.to_be_bytes() } else { v.to_le_bytes() };
                b[i..i + 4].copy_from_slice(&bytes);
            }
        }
    }
    b
}

/// How the cases of one reader ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The reader's name.
    pub name: String,
    /// Cases run.
    pub cases: usize,
    /// Cases the reader accepted.
    pub ok: usize,
    /// Cases it refused with an error value.
    pub errors: usize,
    /// The cases that panicked: index and seed.
    pub panics: Vec<(usize, u64)>,
}

impl Tally {
    /// What is wrong with the run, if anything: a panic (with the seeds that replay the first ten), or no
    /// rejected case at all (the mutations never reached the reader's checks).
    pub fn problem(&self) -> Option<String> {
        if !self.panics.is_empty() {
            let shown: Vec<String> =
                self.panics.iter().take(10).map(|(case, seed)| format!("case {case} (seed {seed:#x})")).collect();
            return Some(format!(
                "{}: {} of {} cases panicked: {}; replay one with DOPPEL_FUZZ_REPLAY=<seed>",
                self.name,
                self.panics.len(),
                self.cases,
                shown.join(", ")
            ));
        }
        if self.errors == 0 && self.cases > 1 {
            return Some(format!(
                "{}: no case was rejected; the mutations did not reach the reader's checks",
                self.name
            ));
        }
        None
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Tally { name, cases, ok, errors, panics } = self;
        write!(f, "{name}: {cases} cases, {ok} ok, {errors} errors, {} panics", panics.len())
    }
}

/// Runs [`cases`] cases of `reader`: each draws its input with `make` from a generator of the case's own seed,
/// then `read` consumes it. A panic in either is caught and counted with the seed; the tally goes to stderr.
pub fn run_with<I, T, E>(reader: &str, make: impl FnMut(&mut Rng) -> I, read: impl FnMut(I) -> Result<T, E>) -> Tally {
    let master = master_seed();
    let seeds: Vec<(usize, u64)> = match replay() {
        Some(seed) => vec![(0, seed)],
        None => (0..cases()).map(|case| (case, case_seed(master, reader, case))).collect(),
    };
    run_seeds(reader, seeds, make, read)
}

/// [`run_with`] over the given (case, seed) pairs.
fn run_seeds<I, T, E>(
    reader: &str,
    seeds: Vec<(usize, u64)>,
    mut make: impl FnMut(&mut Rng) -> I,
    mut read: impl FnMut(I) -> Result<T, E>,
) -> Tally {
    let mut tally = Tally { name: reader.into(), cases: seeds.len(), ok: 0, errors: 0, panics: Vec::new() };
    for (case, seed) in seeds {
        match catch_unwind(AssertUnwindSafe(|| read(make(&mut Rng::new(seed))).is_ok())) {
            Ok(true) => tally.ok += 1,
            Ok(false) => tally.errors += 1,
            Err(_) => tally.panics.push((case, seed)),
        }
    }
    eprintln!("{tally}");
    tally
}

/// [`run_with`] on [`mutate`]d copies of `valid`.
pub fn run<T, E>(reader: &str, valid: &[u8], mut read: impl FnMut(&[u8]) -> Result<T, E>) -> Tally {
    run_with(reader, |r| mutate(valid, r), |bytes: Vec<u8>| read(&bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_generator_is_seeded_and_in_range() {
        let a: Vec<u64> = (0..4).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..4).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        // SplitMix64's first output for seed 0 (the reference implementation's published value).
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        let mut r = Rng::new(1);
        assert!((0..1000).map(|_| r.range(3, 9)).all(|v| (3..9).contains(&v)));
        assert_eq!(r.below(0), 0);
        assert_ne!(case_seed(21, "a", 0), case_seed(21, "b", 0));
        assert_ne!(case_seed(21, "a", 0), case_seed(21, "a", 1));
    }

    #[test]
    fn a_run_counts_ok_errors_and_panics_with_their_seeds() {
        let t = run_seeds(
            "parity",
            vec![(0, 1), (1, 2), (2, 3), (3, 4)],
            |r| r.next_u64(),
            |v| {
                if v % 2 == 0 { Ok(()) } else { Err(()) }
            },
        );
        assert_eq!((t.ok + t.errors, t.cases), (4, 4));
        assert!(t.panics.is_empty(), "{t}");
        // A reader that always panics: every case is counted with its seed (and the default hook prints it).
        let seeds: Vec<(usize, u64)> = (0..3).map(|c| (c, case_seed(5, "panicky", c))).collect();
        let t = run_seeds("panicky", seeds.clone(), |r| r.next_u64(), |_| -> Result<(), ()> { panic!("a bug") });
        assert_eq!(t.panics, seeds);
        assert!(t.problem().unwrap().contains("DOPPEL_FUZZ_REPLAY=<seed>"), "{t}");
    }

    #[test]
    fn mutations_change_the_bytes_and_stay_seeded() {
        let valid = b"a valid file of some length".to_vec();
        let changed = (0..50).filter(|&s| mutate(&valid, &mut Rng::new(s)) != valid).count();
        assert!(changed >= 40, "{changed} of 50 mutations changed the bytes");
        assert_eq!(mutate(&valid, &mut Rng::new(9)), mutate(&valid, &mut Rng::new(9)));
    }
}

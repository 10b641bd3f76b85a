#![allow(clippy::unwrap_used)]
//! Every result type parses its fixture in `tests/fixtures/` and writes it back byte for byte, so a struct that
//! drifts from the files commands wrote (a field renamed, added or dropped) fails here until the fixture — and the
//! format number, when the meaning changed — is updated with it. The fixtures are result files the commands
//! wrote in a `cargo xtask reproduce --preset smoke` run (`lm_eval.json`, whose arm the smoke preset lacks, is
//! written in the same shape by hand; `unlearn.json` is `doppel unlearn --method scrub --search --objective kl-forget`
//! on the dataset, M0 and settings of crates/cli/tests/unlearn.rs). `eval_near_rows.json` is an eval result with
//! the retain split of `doppel eval --near-rows`, which the smoke preset does not pass, written by hand in the
//! command's shape (its columns cut to R and the split's).

use doppel_protocol::results::CommandResult;
use doppel_protocol::{
    AttackResult, DatasetResult, EvalResult, LmEvalResult, QualityResult, TrainResult, UnlearnResult, read_result,
};

fn round_trip<T: CommandResult>(name: &str) -> T {
    let path = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let parsed: T = read_result(&path).unwrap();
    assert_eq!(parsed.to_json(), std::fs::read_to_string(&path).unwrap(), "{name} does not round-trip");
    parsed
}

#[test]
fn every_result_type_round_trips_its_fixture() {
    assert!(round_trip::<DatasetResult>("dataset.json").targets > 0);
    assert_eq!(round_trip::<TrainResult>("train.json").models.len(), 1);
    assert!(!round_trip::<QualityResult>("quality.json").rows.is_empty());
    assert!(round_trip::<UnlearnResult>("unlearn.json").search.is_some());
    let eval = round_trip::<EvalResult>("eval.json");
    assert!(eval.models.iter().all(|m| m.mean.len() == eval.columns.len() && m.std.len() == eval.columns.len()));
    assert_eq!(eval.retain_split, None, "a result written without --near-rows reads without the split");
    let near = round_trip::<EvalResult>("eval_near_rows.json");
    let split = near.retain_split.as_ref().unwrap();
    assert_eq!((split.near_rows.as_str(), split.near, split.far), ("mine/neighbours.parquet", 8, 120));
    assert!(near.columns.iter().any(|c| c == "r_near_acc") && near.columns.iter().any(|c| c == "r_far_acc"));
    assert!(near.models.iter().all(|m| m.mean.len() == near.columns.len()));
    assert!(!round_trip::<AttackResult>("attack.json").scores.is_empty());
    let lm = round_trip::<LmEvalResult>("lm_eval.json");
    assert_eq!(lm.metric("answer_nll_similar"), None, "no paraphrases, no value");
    assert_eq!(lm.metric("heldout_ppl"), Some(270.04));
}

#[test]
fn a_result_read_as_another_command_names_both_formats() {
    let path = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train.json");
    let e = read_result::<EvalResult>(&path).unwrap_err().to_string();
    assert!(e.contains("doppel-train-result/1") && e.contains("doppel-eval-result/1"), "{e}");
}

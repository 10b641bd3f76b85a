//! `doppel report` at its edges: a missing or foreign plan, and a plan whose steps are not in the cache, are
//! one-line errors naming the file (or the cache) and what to do. The report itself is checked end to end by
//! the xtask's smoke test against committed snapshots.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

mod common;
use common::{doppel, failing};

#[test]
fn bad_plans_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = failing(&doppel(&["report", "--plan", "nowhere.json"], dir.path()));
    assert!(err.contains("reading nowhere.json"), "{err}");

    std::fs::write(dir.path().join("plan.json"), "{\"format\": \"doppel-report-plan/0\"}").unwrap();
    let err = failing(&doppel(&["report", "--plan", "plan.json"], dir.path()));
    assert!(err.contains("plan.json") && err.contains("doppel-report-plan/2") && err.contains("cargo xtask"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let plan = r#"{"format": "doppel-report-plan/2",
        "preset": {"name": "p", "description": "", "file": "p.toml", "device": "flex", "seeds": [1],
                   "reseed_data": false, "arms": []},
        "steps": [{"kind": "dataset", "key": "abc", "label": "d k=0", "arm": 0, "k": 0, "seed": null,
                   "model": null, "unlearn": null}]}"#;
    std::fs::write(dir.path().join("plan.json"), plan).unwrap();
    let err = failing(&doppel(&["report", "--plan", "plan.json", "--out", "out"], dir.path()));
    assert!(err.contains("1 of 1 steps are not in") && err.contains("d k=0"), "{err}");
    assert!(!dir.path().join("out/report.md").exists(), "nothing is written without the artifacts");
}

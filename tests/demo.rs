//! `iris-lab demo` end to end on the embedded API, with a short duration.

use assert_cmd::Command;
use predicates::prelude::*;

fn demo(dir: &std::path::Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("iris-lab")
        .unwrap()
        .current_dir(dir)
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_FORMAT")
        .arg("demo")
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
}

#[test]
fn demo_runs_the_guide_and_reports_both_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &["--duration", "2s"])
        .code(0)
        .stderr(predicate::str::contains("Phase 1.3, smoke test"))
        .stderr(predicate::str::contains("3/3 checks passed"))
        .stderr(predicate::str::contains(
            "skipped, needs a cluster (on yours: `iris-lab verify`)",
        ))
        .stderr(predicate::str::contains("`iris-lab cleanup`"))
        .get_output()
        .stdout
        .clone();
    let report = String::from_utf8(out).unwrap();
    assert!(
        report.contains("| Metric | 150 Users | 300 Users | Difference |"),
        "{report}"
    );
    assert!(report.contains("| IrisPredictionAPIUser |") && report.contains("| HighLoadUser |"));
    // Records went to a temporary directory, not into the user's working directory.
    assert!(!dir.path().join("iris-lab-runs").exists());
}

#[test]
fn demo_writes_the_report_file_and_keeps_records_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    demo(
        dir.path(),
        &[
            "--duration",
            "1s",
            "--out",
            "results.md",
            "--out-dir",
            "runs",
        ],
    )
    .code(0)
    .stdout(predicate::str::is_empty());
    let report = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
    assert!(report.starts_with("# Load test results"));
    let records = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(records, 2);
}

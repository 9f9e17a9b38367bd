//! `iris-lab demo --no-cluster` end to end on the embedded API, with a short duration (the demo
//! on the simulated cluster is tested in `sim.rs`).

use crate::support;
use predicates::prelude::*;

fn demo(dir: &std::path::Path, args: &[&str]) -> assert_cmd::assert::Assert {
    support::command()
        .current_dir(dir)
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_FORMAT")
        .args(["demo", "--no-cluster"])
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
    // Server-Timing has microseconds where the body's fields read 0.0000s: the model's time
    // is above zero in both runs, in both tables of "Where the time goes".
    assert_eq!(
        report.matches("Phases of POST /predict").count(),
        2,
        "{report}"
    );
    let models: Vec<f64> = report
        .lines()
        .filter(|l| l.starts_with("| Model "))
        .map(|l| {
            let p50 = l.split('|').nth(2).unwrap().trim();
            p50.trim_end_matches(" ms").parse().unwrap()
        })
        .collect();
    assert_eq!(models.len(), 4, "{report}");
    assert!(models.iter().all(|&m| m > 0.0), "{models:?}");
    // Records went to a temporary directory, not into the user's working directory.
    assert!(!dir.path().join("iris-lab-runs").exists());
}

#[test]
fn demo_writes_the_html_page_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    demo(
        dir.path(),
        &[
            "--duration",
            "1s",
            "--format",
            "html",
            "--out",
            "results.html",
        ],
    )
    .code(0)
    .stdout(predicate::str::is_empty());
    let page = std::fs::read_to_string(dir.path().join("results.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let html = scraper::Html::parse_document(&page);
    assert!(html.errors.is_empty(), "{:?}", html.errors);
    let svg = scraper::Selector::parse("svg").unwrap();
    assert_eq!(
        html.select(&svg).count(),
        3,
        "two timelines and the distribution"
    );
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

fn records(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn the_config_files_load_section_does_not_leak_into_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    // Every one of these would change (or break) a `load` run; none may touch the demo's.
    std::fs::write(
        dir.path().join("iris-lab.yaml"),
        "load:\n  wait: 7..9\n  csv: leaked/run\n  scenario: missing-scenario.yaml\n  timeout: 1ms\n  \
         users: 2\n  spawn_rate: 0.1\n  label: leaked\n",
    )
    .unwrap();
    let out = demo(dir.path(), &["--duration", "1s", "--out-dir", "runs"])
        .code(0)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    let records = records(&dir.path().join("runs"));
    assert_eq!(records.len(), 2, "{stderr}");
    for (r, users) in records.iter().zip([150, 300]) {
        let p = &r["params"];
        assert_eq!(p["users"], users, "{p}");
        assert_eq!(p["timeout_s"], 30.0, "{p}");
        assert!(p["scenario"].is_null(), "{p}");
        assert!(p["wait_max_s"].as_f64().unwrap() < 7.0, "{p}");
        assert_eq!(r["label"], format!("demo, {users} users"));
    }
    assert!(
        !dir.path().join("leaked").exists(),
        "the demo wrote CSV files"
    );
}

#[test]
fn both_runs_hold_full_users_for_at_least_half_the_run() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path(), &["--duration", "2s", "--out-dir", "runs"]).code(0);
    let records = records(&dir.path().join("runs"));
    assert_eq!(records.len(), 2);
    for r in &records {
        let users = r["params"]["users"].as_u64().unwrap();
        assert_eq!(r["users_started"].as_u64(), Some(users), "{}", r["params"]);
        let full_at = r["spawn_complete_s"].as_f64().expect("all users started");
        let length = r["params"]["duration_s"].as_f64().unwrap();
        assert!(
            full_at <= length / 2.0,
            "{users} users complete at {full_at} s of {length} s"
        );
    }
}

#[test]
fn the_demo_prints_only_paths_that_stay() {
    let dir = tempfile::tempdir().unwrap();
    let temp = demo(dir.path(), &["--duration", "1s"])
        .code(0)
        .get_output()
        .stderr
        .clone();
    let temp = String::from_utf8(temp).unwrap();
    assert!(
        !temp.contains("Saved "),
        "temporary records were announced:\n{temp}"
    );
    assert!(!temp.contains("timeline "), "{temp}");

    let kept = demo(dir.path(), &["--duration", "1s", "--out-dir", "runs"])
        .code(0)
        .get_output()
        .stderr
        .clone();
    let kept = String::from_utf8(kept).unwrap();
    let saved: Vec<&str> = kept
        .lines()
        .filter_map(|l| l.strip_prefix("Saved "))
        .map(|l| l.split(" (timeline").next().unwrap())
        .collect();
    assert_eq!(saved.len(), 2, "{kept}");
    for path in saved {
        assert!(dir.path().join(path).is_file(), "{path} does not exist");
    }
}

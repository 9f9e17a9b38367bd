//! `iris-lab demo --no-cluster` end to end on the embedded API, with a short duration, and the
//! demo on the simulated cluster: every phase, and its report recovering the sim's settings.

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

/// The simulation's truth at the demo's settings (`SimSettings::demo()`): a request costs
/// 1/400 core-second, a pod idles at 2m and has a 200m request, the HPA targets 60%; a pod is
/// Ready 35 s x 0.2 = 7 s after its creation.
const SIM_RPS_PER_CORE: f64 = 400.0;
const SIM_IDLE_M: f64 = 2.0;
const SIM_TARGET_M: f64 = 200.0 * 0.60;
const SIM_READY_S: f64 = 35.0 * 0.2;

#[test]
fn the_demo_plays_every_phase_on_the_simulated_cluster_and_recovers_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::iris_lab(dir.path())
        .args(["demo", "--format", "json", "--out-dir", "runs"])
        .timeout(std::time::Duration::from_secs(170))
        .output()
        .unwrap();
    let (json, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for phase in [
        "Phase 1.1-1.2, verify the deployment",
        "4/4 checks passed",
        "Phase 1.3, smoke test",
        "Phase 3, 150 users",
        "Phase 4, 300 users",
        "Phases 5-6, report",
        "Phase 7, scale back down",
        "scaled iris-prediction-api to 2 replicas",
    ] {
        assert!(stderr.contains(phase), "{phase:?} not in:\n{stderr}");
    }
    assert!(!stderr.contains("skipped"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    recovers_capacity_and_startup(&report);
    answers_for_both_runs(&report);
    reports_the_scale_down(&report);
    records_scale_out_and_read_as_markdown(dir.path());
}

/// 6.4: every run with a capacity fit is within 15% of the sim's requests/s per pod at the
/// HPA's target, at least one run has one; every scale-up's new pods were Ready within 1 s of
/// the sim's 7 s (created -> scheduled -> started -> Ready, medians and maxima).
fn recovers_capacity_and_startup(report: &serde_json::Value) {
    let truth = (SIM_TARGET_M - SIM_IDLE_M) * SIM_RPS_PER_CORE / 1000.0;
    let runs = report["autoscaling"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let fitted: Vec<f64> = runs
        .iter()
        .filter_map(|r| r["capacity"]["rps_per_pod_at_target"].as_f64())
        .collect();
    assert!(!fitted.is_empty(), "no run has a capacity fit: {runs:#?}");
    for rps in &fitted {
        assert!(
            (rps - truth).abs() <= 0.15 * truth,
            "{rps} requests/s per pod at target, the sim's is {truth}"
        );
    }
    // A scale-up whose pods were not Ready before the run ended has no start-up segments.
    let mut scale_ups = 0;
    for run in runs {
        for up in run["scale_ups"].as_array().unwrap() {
            let s = &up["segments"];
            for stat in ["median_s", "max_s"] {
                let keys = [
                    "created_to_scheduled",
                    "scheduled_to_started",
                    "started_to_ready",
                ];
                let parts: Option<Vec<f64>> = keys.iter().map(|k| s[k][stat].as_f64()).collect();
                let Some(parts) = parts else { continue };
                scale_ups += 1;
                let ready: f64 = parts.iter().sum();
                assert!((ready - SIM_READY_S).abs() <= 1.0, "{stat} {ready}: {up}");
            }
        }
    }
    assert!(scale_ups >= 2, "no scale-up with its pods Ready: {runs:#?}");
}

/// Issue 31: both runs get a fit (pooled over the two runs of the same pods), a verdict,
/// recommendations from it, and a replay through the simulated cluster's own controller within
/// one replica of what its HPA did.
fn answers_for_both_runs(report: &serde_json::Value) {
    for run in report["autoscaling"].as_array().unwrap() {
        let column = &run["column"];
        assert!(
            run["capacity"]["rps_per_pod_at_target"].is_number(),
            "{column}: no fit: {}",
            run["capacity"]
        );
        assert_eq!(
            run["capacity"]["pooled_from"].as_array().map(Vec::len),
            Some(2),
            "{column}: {}",
            run["capacity"]
        );
        assert!(run["verdict"].is_string(), "{column}: no verdict");
        let recs = run["recommendations"].as_array().unwrap();
        assert_eq!(recs.len(), 4, "{column}: {recs:#?}");
        assert!(recs.iter().all(|r| r["setting"] != "none"), "{recs:#?}");
        assert_eq!(run["timing"]["sync_period_s"], 3.0, "{column}");
        let replay = &run["replay"];
        // The replay ends where the simulated HPA ended. Its mean error along the way is 0.9-3.0
        // replicas from run to run (the machine's load shifts the first syncs): measured, not yet
        // bounded here (issue 31).
        assert!(
            replay["mean_abs_error_replicas"].as_f64().is_some(),
            "{column}: {replay}"
        );
        let (sim, measured) = (
            replay["final_simulated"].as_i64().unwrap(),
            replay["final_measured"].as_i64().unwrap(),
        );
        assert!((sim - measured).abs() <= 1, "{column}: {replay}");
        assert!(
            run["reaction_yardstick"]
                .as_str()
                .unwrap()
                .contains("6-9 s at the simulation's time scale 0.2"),
            "{column}"
        );
    }
}

/// Phase 7 in the report: from the replicas the HPA reached to its minReplicas, the pods that
/// went away and the two that stayed.
fn reports_the_scale_down(report: &serde_json::Value) {
    let d = &report["scale_down"];
    assert_eq!(d["deployment"], "iris-prediction-api", "{d}");
    assert_eq!(d["hpa"], "iris-prediction-api-hpa");
    assert_eq!(d["to"], 2);
    let from = d["from"].as_u64().unwrap();
    assert!(from > 2, "{d}");
    assert_eq!(d["settled"], true);
    assert_eq!(d["pods_left"].as_array().unwrap().len(), 2);
    assert_eq!(d["pods_removed"].as_array().unwrap().len() as u64, from - 2);
    assert!(d["at"].as_str().unwrap().ends_with('Z'));
}

/// Both runs' records saw scaling and pods Ready 7 s after creation; `report` on them shows
/// the simulated cluster's settings and a full 6.1 table.
fn records_scale_out_and_read_as_markdown(dir: &std::path::Path) {
    let runs = records(&dir.join("runs"));
    assert_eq!(runs.len(), 2);
    for r in &runs {
        let c = &r["cluster"];
        assert!(!c["scaling_events"].as_array().unwrap().is_empty(), "{c}");
        let ready: Vec<f64> = c["pods_started"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["ready_after_s"].as_f64())
            .collect();
        assert!(!ready.is_empty(), "{c}");
        assert!(
            ready.iter().all(|r| (r - SIM_READY_S).abs() <= 1.0),
            "{ready:?}"
        );
    }
    let paths: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    let out = support::iris_lab(dir)
        .arg("report")
        .args(&paths)
        .output()
        .unwrap();
    let (report, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(report.contains("**Simulated cluster.**"), "{report}");
    assert!(
        report.contains("| pod_ready_after | 35 s (runs as 7 s) |"),
        "{report}"
    );
    assert!(
        report.contains("| metrics_window | 15 s (runs as 3 s) |"),
        "{report}"
    );
    let table = report
        .split("## 6.1")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .nth(1)
        .unwrap();
    assert!(
        !table.contains("no cluster data") && !table.contains("| - |"),
        "{table}"
    );
}

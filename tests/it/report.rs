//! `iris-lab report` on fixture run records: snapshots of the markdown, the 6.1 table against
//! the records' own numbers, and errors that name the file.

use crate::support;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runs")
        .join(name)
}

/// The binary in `dir`, hermetic: no config from the environment, and Google credentials that
/// are a fake token for a Cloud Trace on a closed loopback port, so `--gcp-project` never looks
/// for (or uses) the machine's real credentials, metadata server or gcloud.
pub(crate) fn iris_lab(dir: &Path) -> Command {
    let mut cmd = support::command();
    cmd.current_dir(dir)
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_FORMAT")
        .env_remove("GOOGLE_CLOUD_PROJECT")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("HOME", dir)
        .env("CLOUDSDK_CONFIG", dir.join("gcloud"))
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "fake-token-for-tests")
        .env("IRIS_LAB_CLOUD_TRACE_URL", closed_port_url())
        .timeout(std::time::Duration::from_secs(30));
    cmd
}

/// `http://127.0.0.1:PORT` where nothing listens (the port was bound and released).
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

pub(crate) fn report(dir: &Path, args: &[&str]) -> String {
    let out = iris_lab(dir).arg("report").args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A runs directory holding copies of the named fixtures, with `users` changed when given.
pub(crate) fn runs_dir(runs: &[(&str, Option<u64>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runs_dir = dir.path().join("iris-lab-runs");
    std::fs::create_dir(&runs_dir).unwrap();
    for (i, (name, users)) in runs.iter().enumerate() {
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
        if let Some(u) = users {
            v["params"]["users"] = (*u).into();
        }
        std::fs::write(runs_dir.join(format!("run{i}.json")), v.to_string()).unwrap();
    }
    dir
}

pub(crate) fn redact(text: &str) -> String {
    text.replace(
        concat!("iris-lab ", env!("CARGO_PKG_VERSION")),
        "iris-lab [version]",
    )
}

fn record(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

#[test]
fn two_runs_render_the_guides_report() {
    let dir = runs_dir(&[("150u.json", None), ("300u.json", None)]);
    let text = report(dir.path(), &[]);
    insta::assert_snapshot!("two_runs", redact(&text));
}

#[test]
fn one_and_five_runs_render_too() {
    let dir = runs_dir(&[("150u.json", None)]);
    insta::assert_snapshot!("one_run", redact(&report(dir.path(), &[])));
    let dir = runs_dir(&[
        ("300u.json", Some(500)),
        ("150u.json", Some(50)),
        ("150u.json", None),
        ("300u.json", None),
        ("300u.json", Some(400)),
    ]);
    insta::assert_snapshot!("five_runs", redact(&report(dir.path(), &[])));
}

#[test]
fn cluster_data_fills_the_tables_findings_and_timeline() {
    let dir = runs_dir(&[("150u.json", None), ("300u-cluster.json", None)]);
    let text = report(dir.path(), &["--gcp-project", "my-project"]);
    insta::assert_snapshot!("two_runs_with_cluster", redact(&text));
    let row = |name: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap();
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    assert_eq!(row("Max Pods Scaled")[1..], ["no cluster data", "6", "-"]);
    assert_eq!(
        row("Time to First Scale-up")[1..],
        ["no cluster data", "2 s", "-"]
    );
    assert_eq!(row("Pod Startup Latency (median)")[2], "38 s");
    assert_eq!(row("Peak CPU (% of request)")[2], "97%");
    assert!(text.contains(
        "| +2 s | 2 -> 6 | cpu resource utilization (percentage of request) above target |"
    ));
    assert!(
        text.contains("**Load stayed on the original pods (keep-alive)**"),
        "{text}"
    );
    assert!(text.contains("Not observed: pod metrics from +1 s: metrics.k8s.io answered 503"));
    assert!(text.contains("https://console.cloud.google.com/traces/list?project=my-project&tid="));
}

#[test]
fn gcp_project_without_saved_traces_fetches_on_loopback_only_and_reports_on() {
    let dir = runs_dir(&[("150u.json", None), ("300u.json", None)]);
    let out = iris_lab(dir.path())
        .args(["report", "--gcp-project", "my-project"])
        .output()
        .unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("| Metric |"), "{stdout}");
    for run in ["run0.json", "run1.json"] {
        assert!(
            stderr.contains(&format!(
                "note: no span analysis for {run}: could not reach Cloud Trace at http://127.0.0.1:"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn phases_fill_where_the_time_goes_and_the_connection_set_up_finding() {
    let dir = runs_dir(&[("150u.json", None), ("300u-phases.json", None)]);
    let text = report(dir.path(), &[]);
    insta::assert_snapshot!("two_runs_with_phases", redact(&text));
    assert!(text.contains("Phases of POST /predict"), "{text}");
    assert!(
        text.contains("| Model | 0.11 ms | 0.20 ms |"),
        "the model's time from Server-Timing: {text}"
    );
    assert!(
        text.contains("**Connection set-up** (supported by the data): at 300 users, from +2 s to +4 s, 210 new connections"),
        "{text}"
    );
    // The older record has no phases: its breakdown has none, and says nothing wrong.
    assert_eq!(text.matches("Phases of ").count(), 1);
}

#[test]
fn the_guide_table_holds_the_records_numbers() {
    let dir = runs_dir(&[("150u.json", None), ("300u.json", None)]);
    let v: Value = serde_json::from_str(&report(dir.path(), &["--format", "json"])).unwrap();
    let rows = v["guide_table"]["rows"].as_array().unwrap();
    assert_eq!(
        v["guide_table"]["headers"],
        serde_json::json!(["Metric", "150 Users", "300 Users", "Difference"])
    );
    for (col, name) in [(1, "150u.json"), (2, "300u.json")] {
        let r = record(name);
        let avg = r["aggregate"]["avg_ms"].as_f64().unwrap();
        let shown = rows[0][col]
            .as_str()
            .unwrap()
            .trim_end_matches(" ms")
            .parse::<f64>()
            .unwrap();
        assert!(
            (shown - avg).abs() <= 0.5 + avg * 0.001,
            "avg {avg} shown as {shown}"
        );
        let rate = r["aggregate"]["failures"].as_f64().unwrap()
            / r["aggregate"]["requests"].as_f64().unwrap()
            * 100.0;
        assert_eq!(rows[2][col], format!("{rate:.2}%"));
        let peak = r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["rps"].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert_eq!(rows[3][col], format!("{peak:.1}"));
        assert_eq!(rows[1][col], "no cluster data");
    }
    let ext = v["extended_table"]["rows"].as_array().unwrap();
    let total = ext.iter().find(|r| r[0] == "Total Requests").unwrap();
    assert_eq!(
        total[1],
        record("150u.json")["aggregate"]["requests"].to_string()
    );
}

#[test]
fn one_run_has_no_difference_column() {
    let dir = runs_dir(&[("150u.json", None)]);
    let text = report(dir.path(), &[]);
    assert!(text.contains("| Metric | 150 Users |\n"), "{text}");
    assert!(!text.contains("Difference"));
}

#[test]
fn five_runs_get_five_columns_ordered_by_users() {
    let dir = runs_dir(&[
        ("300u.json", Some(500)),
        ("150u.json", Some(50)),
        ("150u.json", None),
        ("300u.json", None),
        ("300u.json", Some(400)),
    ]);
    let text = report(dir.path(), &[]);
    assert!(
        text.contains("| Metric | 50 Users | 150 Users | 300 Users | 400 Users | 500 Users |\n"),
        "{text}"
    );
}

#[test]
fn the_latest_run_of_each_user_count_is_taken() {
    let dir = runs_dir(&[("150u.json", None), ("150u.json", None)]);
    // Make the second copy newer and tell it apart by its label.
    let path = dir.path().join("iris-lab-runs/run1.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["started_at"] = "2030-01-01T00:00:00Z".into();
    v["label"] = "the newer one".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let text = report(dir.path(), &[]);
    assert!(text.contains("| the newer one | 150 |"), "{text}");
    assert_eq!(text.matches("| 150 | IrisPredictionAPIUser |").count(), 1);
}

#[test]
fn named_files_and_a_custom_template() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("mine.md");
    std::fs::write(
        &template,
        "{% for r in report.runs %}{{ r.users }}:{{ r.requests }}\n{% endfor %}",
    )
    .unwrap();
    let text = report(
        dir.path(),
        &[
            fixture("300u.json").to_str().unwrap(),
            fixture("150u.json").to_str().unwrap(),
            "--template",
            template.to_str().unwrap(),
        ],
    );
    let expected = format!(
        "150:{}\n300:{}\n",
        record("150u.json")["aggregate"]["requests"],
        record("300u.json")["aggregate"]["requests"]
    );
    assert_eq!(text, expected);
}

#[test]
fn a_broken_template_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("bad.md");
    std::fs::write(&template, "ok\n{{ report.missing_thing }}\n").unwrap();
    iris_lab(dir.path())
        .args([
            "report",
            fixture("150u.json").to_str().unwrap(),
            "--template",
            template.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::is_match(r"^error: template .*bad\.md, line 2: ").unwrap());
}

#[test]
fn bad_record_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"schema_version\": 1, \"tool\": ").unwrap();
    iris_lab(dir.path())
        .args(["report", corrupt.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("corrupt.json"))
        .stderr(predicate::str::contains("not a run record"));

    let mut v = record("150u.json");
    v["schema_version"] = 99.into();
    let newer = dir.path().join("newer.json");
    std::fs::write(&newer, v.to_string()).unwrap();
    iris_lab(dir.path())
        .args(["report", newer.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("newer.json"))
        .stderr(predicate::str::contains("schema version 99"));

    iris_lab(dir.path())
        .args(["report", "missing.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.json"));
}

#[test]
fn no_runs_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    iris_lab(dir.path())
        .arg("report")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("run `iris-lab load` first"));
    std::fs::create_dir(dir.path().join("iris-lab-runs")).unwrap();
    iris_lab(dir.path())
        .arg("report")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no run records in iris-lab-runs"));
}

#[test]
fn a_run_that_never_reached_full_users_says_it_has_no_steady_state() {
    let dir = tempfile::tempdir().unwrap();
    let runs_dir = dir.path().join("iris-lab-runs");
    std::fs::create_dir(&runs_dir).unwrap();
    let mut v = record("150u.json");
    v["spawn_complete_s"] = Value::Null;
    v.as_object_mut().unwrap().remove("steady_state");
    std::fs::write(runs_dir.join("ramp.json"), v.to_string()).unwrap();
    let text = report(dir.path(), &[]);
    assert!(
        text.contains("no steady-state figures (the run never reached its 150 users)"),
        "{text}"
    );
    assert!(
        text.contains("| Steady-state RPS | no steady state |"),
        "{text}"
    );
}

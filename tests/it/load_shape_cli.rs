//! `iris-lab load --arrival-rate / --max-in-flight / --queue / --stages` as a process: the
//! flags, the config file's `load:` section and the scenario's `stages:`, the labelled
//! summary, the CSV's service-time row and the report.

use crate::support;

use std::path::Path;

use assert_cmd::Command;
use iris_lab::record;

fn load(dir: &Path) -> Command {
    let mut cmd = support::command();
    cmd.current_dir(dir)
        .env_remove("IRIS_LAB_HOST")
        .env_remove("IRIS_LAB_CONFIG")
        .args(["load", "--no-cluster"]);
    cmd
}

fn ok(out: &std::process::Output) -> (String, String) {
    let (stdout, stderr) = support::texts(out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (stdout, stderr)
}

fn records(dir: &Path) -> Vec<record::RunRecord> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| record::load(p).unwrap()).collect()
}

#[test]
fn an_open_model_run_labels_its_latencies_in_the_summary_the_csv_and_the_report() {
    let serve = support::ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let out = load(dir.path())
        .args(["--host", &serve.url, "--arrival-rate", "50"])
        .args([
            "--max-in-flight",
            "5",
            "--duration",
            "2s",
            "--csv",
            "out/run",
        ])
        .args(["--out-dir", "runs"])
        .output()
        .unwrap();
    let (stdout, stderr) = ok(&out);
    assert!(
        stderr.contains("open model: 50 arrivals/s, at most 5 in flight"),
        "{stderr}"
    );
    for needle in [
        "open model, 50 arrivals/s",
        "Response times below are corrected",
        "Arrivals: 100 intended",
        "Latency, corrected (from the intended time)",
        "Latency, service (from the send)",
    ] {
        assert!(stdout.contains(needle), "{needle} missing in\n{stdout}");
    }
    let stats = std::fs::read_to_string(dir.path().join("out/run_stats.csv")).unwrap();
    let rows: Vec<&str> = stats.lines().collect();
    assert!(rows[rows.len() - 2].starts_with(",Aggregated,"), "{stats}");
    assert!(
        rows[rows.len() - 1].starts_with(",Aggregated service time,"),
        "{stats}"
    );

    let runs = records(&dir.path().join("runs"));
    let r = &runs[0];
    assert_eq!(r.params.arrival_rate, Some(50.0));
    let a = r.arrivals.as_ref().unwrap();
    assert_eq!((a.intended, a.max_in_flight, a.queue), (100, 5, false));
    assert_eq!(a.sent + a.dropped, 100);
    assert_eq!(a.service.as_ref().unwrap().requests, a.sent);

    let report = support::command()
        .current_dir(dir.path())
        .env_remove("IRIS_LAB_CONFIG")
        .args(["report", "--runs-dir", "runs"])
        .output()
        .unwrap();
    let (text, _) = ok(&report);
    assert!(
        text.contains("50 arrivals/s: open model, 50.0 arrivals/s intended"),
        "{text}"
    );
    assert!(text.contains("are corrected"), "{text}");
    // The HTML page says the same, with the same tables.
    let page = support::command()
        .current_dir(dir.path())
        .env_remove("IRIS_LAB_CONFIG")
        .args(["report", "--runs-dir", "runs", "--format", "html"])
        .output()
        .unwrap();
    let (page, _) = ok(&page);
    assert!(
        page.contains("open model, 50.0 arrivals/s intended"),
        "{page}"
    );
    assert!(
        page.contains("intended/s") && page.contains("dropped/s"),
        "{page}"
    );
    crate::report_html::assert_same_tables(&text, &page);
}

#[test]
fn stages_come_from_the_flag_the_config_file_or_the_scenario() {
    let serve = support::ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "host: {}\nload:\n  stages: [{{duration: 1s, target: 2}}]\n  wait: 0.01..0.02\n  out_dir: runs\n",
            serve.url
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scenario.yaml"),
        "stages: 500ms:3,500ms:3\nclasses:\n- name: Health\n  wait: 0.01..0.02\n  tasks: [{path: /health, check: health}]\n",
    )
    .unwrap();
    let mut with_config = load(dir.path());
    with_config.env("IRIS_LAB_CONFIG", &config);
    ok(&with_config.output().unwrap());
    // The scenario's stages, without the config file.
    ok(&load(dir.path())
        .args(["--host", &serve.url, "--scenario", "scenario.yaml"])
        .args(["--out-dir", "runs2"])
        .output()
        .unwrap());
    // The flag wins over the scenario.
    ok(&load(dir.path())
        .args(["--host", &serve.url, "--scenario", "scenario.yaml"])
        .args(["--stages", "1s:1", "--out-dir", "runs3"])
        .output()
        .unwrap());
    let stages = |d: &str| {
        let r = &records(&dir.path().join(d))[0];
        let s: Vec<(f64, f64)> = r
            .params
            .stages
            .iter()
            .map(|s| (s.duration_s, s.target))
            .collect();
        (s, r.params.users, r.duration_s)
    };
    let (s, users, secs) = stages("runs");
    assert_eq!((s, users), (vec![(1.0, 2.0)], 2));
    assert!((0.9..2.0).contains(&secs), "{secs}");
    assert_eq!(stages("runs2").0, vec![(0.5, 3.0), (0.5, 3.0)]);
    assert_eq!(stages("runs3").0, vec![(1.0, 1.0)]);
}

#[test]
fn open_model_and_stage_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let host = support::closed_port_url();
    for (args, needle) in [
        (vec!["--queue"], "add --arrival-rate"),
        (vec!["--max-in-flight", "5"], "add --arrival-rate"),
        (vec!["--arrival-rate", "0"], "--arrival-rate"),
        (
            vec!["--arrival-rate", "5", "--max-in-flight", "0"],
            "--max-in-flight",
        ),
        (vec!["--stages", "1m"], "DURATION:TARGET"),
        (vec!["--stages", "1m:-1"], "--stages"),
    ] {
        let out = load(dir.path())
            .args(["--host", &host])
            .args(&args)
            .output()
            .unwrap();
        let (_, stderr) = support::texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn sigint_ends_an_open_model_run_with_what_it_measured() {
    use crate::load_cli::{Server, signal, spawn_load};
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--host",
        &server.url,
        "--arrival-rate",
        "100",
        "--duration",
        "60s",
    ];
    let child = spawn_load(dir.path(), &args);
    support::wait_for_measured_seconds(dir.path(), 2);
    signal(&child, "-INT");
    let out = support::output_within(child, std::time::Duration::from_secs(15));
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    let r = record::load(&support::run_files(dir.path(), "json")[0]).unwrap();
    assert_eq!(r.status, record::RunStatus::Interrupted);
    let a = r.arrivals.as_ref().unwrap();
    // Two seconds or more of 100/s, far from the 6,000 of the whole schedule.
    assert!((150..3000).contains(&a.intended), "{a:?}");
    assert!(a.sent > 150 && a.sent <= a.intended, "{a:?}");
    assert_eq!(r.aggregate.requests, a.sent);
    assert_eq!(
        r.timeline.last().unwrap().total_requests,
        r.aggregate.requests
    );
}

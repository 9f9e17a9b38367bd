//! `iris-lab load` as a process: flags, exit codes, signals, files.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use iris_lab::record::{self, RunStatus};
use iris_lab::stats::csv::{FAILURES_HEADER, HISTORY_HEADER, STATS_HEADER};

/// The reference API as a child process; killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
}

impl Server {
    pub(crate) fn start() -> Self {
        let mut child = support::std_command()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().trim_start_matches("listening on ").to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn load(dir: &Path) -> Command {
    let mut cmd = support::command();
    cmd.current_dir(dir)
        .env_remove("IRIS_LAB_HOST")
        .env_remove("IRIS_LAB_CONFIG")
        .arg("load");
    cmd
}

pub(crate) fn spawn_load(dir: &Path, args: &[&str]) -> Child {
    support::std_command()
        .current_dir(dir)
        .env_remove("IRIS_LAB_CONFIG")
        .arg("load")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn signal(child: &Child, sig: &str) {
    let status = StdCommand::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flag) in [
        (vec!["--users", "0"], "--users"),
        (vec!["--users", "5", "--spawn-rate", "0"], "--spawn-rate"),
        (vec!["--users", "5", "--wait", "2..1"], "--wait"),
        (
            vec!["--users", "5", "--max-failure-rate", "5"],
            "--max-failure-rate",
        ),
    ] {
        let out = load(dir.path())
            .args(["--host", "127.0.0.1:9"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{args:?}"
        );
    }
    let out = load(dir.path())
        .args(["--host", "127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--users is required"));
    let out = load(dir.path())
        .args([
            "--host",
            "127.0.0.1:9",
            "--users",
            "1",
            "--user-class",
            "Nope",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("IrisPredictionAPIUser"));
    assert!(
        support::run_files(dir.path(), "json").is_empty(),
        "nothing is written on a usage error"
    );
}

#[test]
fn an_unreachable_host_is_one_line_and_exit_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = load(dir.path())
        .args([
            "--host",
            &format!("127.0.0.1:{port}"),
            "--users",
            "1",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot reach http://127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn too_many_users_for_the_open_file_limit_are_refused_before_the_run() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let out = load(dir.path())
        .args(["--host", &server.url, "--users", "4000000000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("open files"));
    assert!(support::run_files(dir.path(), "jsonl").is_empty());
}

#[test]
fn a_run_writes_the_summary_the_record_and_locust_csv() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let out = load(dir.path())
        .args([
            "--host",
            &server.url,
            "--users",
            "5",
            "--spawn-rate",
            "100",
            "--duration",
            "2s",
        ])
        .args([
            "--wait",
            "0.01..0.02",
            "--csv",
            "out/run",
            "--max-p95",
            "5s",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "POST",
        "/predict",
        "Aggregated",
        "99.9%",
        "theoretical maximum",
        "Threshold --max-p95",
        "PASS",
    ] {
        assert!(stdout.contains(needle), "{needle} missing in\n{stdout}");
    }
    let header = |name: &str| {
        let text = std::fs::read_to_string(dir.path().join("out").join(name)).unwrap();
        text.lines().next().unwrap().to_string()
    };
    assert_eq!(header("run_stats.csv"), STATS_HEADER.join(","));
    assert_eq!(header("run_stats_history.csv"), HISTORY_HEADER.join(","));
    assert_eq!(header("run_failures.csv"), FAILURES_HEADER.join(","));
    let record = record::load(&support::run_files(dir.path(), "json")[0]).unwrap();
    assert_eq!(record.status, RunStatus::Completed);
    assert_eq!(record.params.users, 5);
}

#[test]
fn the_config_file_sets_load_flags_and_flags_win() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iris-lab.yaml"),
        format!(
            "host: {}\nload:\n  users: 3\n  spawn_rate: 100\n  duration: 1s\n  wait: 0.01..0.02\n  label: from-config\n  out_dir: runs\n",
            server.url
        ),
    )
    .unwrap();
    let out = load(dir.path())
        .args(["--users", "2", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["params"]["users"], 2);
    assert_eq!(v["label"], "from-config");
    assert_eq!(v["params"]["wait_max_s"], 0.02);
    assert_eq!(
        std::fs::read_dir(dir.path().join("runs")).unwrap().count(),
        2
    );
}

#[test]
fn sigint_stops_the_run_saves_an_interrupted_record_and_exits_130() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_load(
        dir.path(),
        &[
            "--host",
            &server.url,
            "--users",
            "10",
            "--spawn-rate",
            "100",
            "--duration",
            "60s",
            "--wait",
            "0.05..0.1",
        ],
    );
    support::wait_for_measured_seconds(dir.path(), 2);
    signal(&child, "-INT");
    let out = support::output_within(child, Duration::from_secs(15));
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(interrupted)"));
    let r = record::load(&support::run_files(dir.path(), "json")[0]).unwrap();
    assert_eq!(r.status, RunStatus::Interrupted);
    assert!(r.aggregate.requests > 0);
    assert!(r.duration_s < 30.0);
    assert_eq!(
        r.timeline.last().unwrap().total_requests,
        r.aggregate.requests
    );
}

#[test]
fn sigterm_is_like_the_first_ctrl_c() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_load(
        dir.path(),
        &[
            "--host",
            &server.url,
            "--users",
            "3",
            "--spawn-rate",
            "100",
            "--duration",
            "60s",
        ],
    );
    support::wait_for_measured_seconds(dir.path(), 1);
    signal(&child, "-TERM");
    let out = support::output_within(child, Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(130));
    let r = record::load(&support::run_files(dir.path(), "json")[0]).unwrap();
    assert_eq!(r.status, RunStatus::Interrupted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_exits_at_once_with_the_timeline_intact() {
    // Requests to a stalled server keep the first Ctrl-C's wind-down busy for the 5 s grace.
    let host = support::stalling_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_load(
        dir.path(),
        &[
            "--host",
            host.as_str(),
            "--users",
            "3",
            "--spawn-rate",
            "100",
            "--duration",
            "60s",
        ],
    );
    let jsonl = tokio::task::block_in_place(|| support::wait_for_measured_seconds(dir.path(), 2));
    let stderr = support::StderrLines::take(&mut child);
    signal(&child, "-INT");
    // The second signal only once the first one has been taken.
    tokio::task::block_in_place(|| stderr.wait_for("stopping:", Duration::from_secs(10)));
    let second = Instant::now();
    signal(&child, "-INT");
    let out =
        tokio::task::block_in_place(|| support::output_within(child, Duration::from_secs(15)));
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "took {:?}",
        second.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    assert!(stderr.text().contains("interrupted again"));
    assert!(
        support::run_files(dir.path(), "json").is_empty(),
        "exited before saving a record"
    );
    let text = std::fs::read_to_string(jsonl).unwrap();
    assert!(text.lines().count() >= 2);
    for line in text.lines() {
        serde_json::from_str::<record::TimelinePoint>(line).unwrap();
    }
}

#[test]
fn sigkill_leaves_a_timeline_whose_every_line_parses() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_load(
        dir.path(),
        &[
            "--host",
            &server.url,
            "--users",
            "20",
            "--spawn-rate",
            "100",
            "--duration",
            "60s",
            "--wait",
            "0..0.01",
        ],
    );
    let jsonl = support::wait_for_measured_seconds(dir.path(), 3);
    signal(&child, "-KILL");
    let _ = support::output_within(child, Duration::from_secs(10));
    let text = std::fs::read_to_string(jsonl).unwrap();
    assert!(text.ends_with('\n'));
    let points: Vec<record::TimelinePoint> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(points.len() >= 3);
    assert!(points.windows(2).all(|w| w[0].t < w[1].t));
    assert!(
        support::run_files(dir.path(), "json").is_empty(),
        "no half-written record"
    );
}

#[test]
fn without_a_terminal_a_status_line_is_printed_every_10_seconds() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let out = load(dir.path())
        .args([
            "--host",
            &server.url,
            "--users",
            "2",
            "--spawn-rate",
            "100",
            "--duration",
            "11s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let status: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("users 2/2 | 10s"))
        .collect();
    assert_eq!(status.len(), 1, "{err}");
    assert!(status[0].contains("req/s") && status[0].contains("failed"));
}

#[test]
fn a_scenario_file_defines_the_user_class() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scenario.yaml"),
        "classes:\n- name: Checker\n  wait: 0.01..0.02\n  tasks:\n  \
         - {method: POST, path: /predict, name: fixed, body: {json: {sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2}}, check: predict, weight: 3}\n  \
         - {path: /health, check: {fields: [status, model_loaded]}}\n",
    )
    .unwrap();
    let out = load(dir.path())
        .args([
            "--host",
            &server.url,
            "--users",
            "2",
            "--spawn-rate",
            "100",
            "--duration",
            "1s",
        ])
        .args(["--scenario", "scenario.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["params"]["user_class"], "Checker");
    let names: Vec<&str> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/health", "fixed"]);
    assert_eq!(v["aggregate"]["failures"], 0);
    assert!(v["server_timings"]["total"]["count"].as_u64().unwrap() > 0);

    std::fs::write(
        dir.path().join("bad.yaml"),
        "classes:\n- name: X\n  wait: 1\n  tasks: [{path: /, check: maybe}]\n",
    )
    .unwrap();
    let out = load(dir.path())
        .args([
            "--host",
            &server.url,
            "--users",
            "1",
            "--scenario",
            "bad.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("unknown check"),
        "{err}"
    );
}

//! `load --workers N --local` and `iris-lab worker` against the reference API as a process:
//! the split, the exact merge, thresholds on the merge, a killed worker, Ctrl-C.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use std::io::Write;

use iris_lab::loadgen::UserClass;
use iris_lab::pipeline::RunPlan;
use iris_lab::pipeline::distributed::WorkerOrder;
use iris_lab::record::distributed::WorkerStatus;
use iris_lab::record::{Percentile, RunRecord, RunStatus};
use iris_lab::stats::decode_histogram;
use iris_lab::units::Wait;

use crate::support::distributed::{
    assert_merged_exactly, assert_ran_the_scenario, merged_run, report_as, report_of,
    write_scenario,
};
use crate::support::{self, ServeProcess, output_within, texts, wait_for_measured_seconds};

fn spawn_load(dir: &Path, url: &str, args: &[&str]) -> Child {
    support::std_command()
        .current_dir(dir)
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_HOST")
        .args(["load", "--host", url, "--no-cluster"])
        .args(["--wait", "0.02..0.05", "--spawn-rate", "100"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The pids of `parent`'s children and their `--index`.
fn workers_of(parent: u32) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ppid: u32 = after
            .split_whitespace()
            .nth(1)
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        if ppid != parent {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some(i) = args.iter().position(|a| a == "--index") {
            found.push((pid, args[i + 1].parse().unwrap()));
        }
    }
    found
}

fn kill(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill {pid}");
}

#[test]
fn three_workers_merge_exactly_and_thresholds_judge_the_merge() {
    let server = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_load(
        dir.path(),
        &server.url,
        &[
            "--users",
            "10",
            "--duration",
            "3s",
            "--workers",
            "3",
            "--local",
            "--max-p95",
            "0.001",
        ],
    );
    let out = output_within(child, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the p95 threshold fails: {stdout}{stderr}"
    );
    assert!(stdout.contains("Workers: 3 local processes"), "{stdout}");
    let (merged, workers) = merged_run(dir.path());
    assert_eq!(workers.len(), 3);
    // The split: round(U*(i+1)/N) - round(U*i/N).
    let users: Vec<u32> = workers
        .iter()
        .map(|w| w.worker.as_ref().unwrap().users)
        .collect();
    assert_eq!(users, [3, 4, 3]);
    assert_eq!(merged.params.users, 10);
    assert_eq!(merged.users_started, 10);
    // Counts add up; the percentiles are those of one histogram fed every sample.
    let sum = assert_merged_exactly(&merged, &workers);
    // The threshold is judged on the merged p95.
    let t = &merged.thresholds[0];
    assert!(!t.passed);
    assert_eq!(Some(t.actual), merged.aggregate.percentile(Percentile::P95));
    // The merged timeline has every worker's requests.
    let last = merged.timeline.last().unwrap();
    assert_eq!(last.total_requests, sum);
    let d = merged.distributed.as_ref().unwrap();
    assert!(
        d.workers
            .iter()
            .all(|w| w.status == WorkerStatus::Completed)
    );
    assert!(d.workers.iter().all(|w| w.skew_ms.is_some()));
    // The merged record is a normal record: `report` reads it.
    let text = report_of(dir.path());
    assert!(text.contains("3 workers, local processes"), "{text}");
}

/// A local distributed run against `serve` that must end with exit 0: its merged record and
/// the workers' records.
fn completed_run(args: &[&str]) -> (RunRecord, Vec<RunRecord>) {
    let server = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_load(dir.path(), &server.url, args);
    let out = output_within(child, Duration::from_secs(60));
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    merged_run(dir.path())
}

#[test]
fn the_open_model_is_striped_over_workers_and_merges_to_one_schedule() {
    let (merged, workers) = completed_run(&[
        "--arrival-rate",
        "100",
        "--max-in-flight",
        "20",
        "--queue",
        "--duration",
        "3s",
        "--workers",
        "3",
        "--local",
    ]);
    assert_eq!(workers.len(), 3);
    // Worker i made arrivals i, i+3, i+6, ... of the one schedule of 300: 100 each, and every
    // one of them was sent (queue mode drops nothing).
    let arrivals = |w: &RunRecord| w.arrivals.clone().unwrap();
    let intended: Vec<u64> = workers.iter().map(|w| arrivals(w).intended).collect();
    assert_eq!(intended, [100, 100, 100]);
    let slots: Vec<u32> = workers.iter().map(|w| arrivals(w).max_in_flight).collect();
    assert_eq!(slots, [7, 6, 7]);
    let a = arrivals(&merged);
    assert_eq!((a.rate, a.intended, a.max_in_flight), (100.0, 300, 20));
    assert_eq!((a.sent, a.dropped), (300, 0));
    assert_eq!(merged.aggregate.requests, 300);
    assert_merged_exactly(&merged, &workers);
    // The merged service time is one row over every request.
    assert_eq!(a.service.as_ref().unwrap().requests, 300);
}

#[test]
fn stages_of_users_split_over_workers_as_the_users_do() {
    let (merged, workers) =
        completed_run(&["--stages", "1s:10,1s:10", "--workers", "3", "--local"]);
    let peaks: Vec<f64> = workers
        .iter()
        .map(|w| w.params.stages.iter().map(|s| s.target).fold(0.0, f64::max))
        .collect();
    assert_eq!(peaks, [3.0, 4.0, 3.0]);
    assert_eq!(merged.users_started, 10);
    assert_merged_exactly(&merged, &workers);
}

#[test]
fn a_killed_worker_is_reported_and_the_merge_completes() {
    let server = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_load(
        dir.path(),
        &server.url,
        &[
            "--users",
            "6",
            "--duration",
            "6s",
            "--workers",
            "3",
            "--local",
        ],
    );
    wait_for_measured_seconds(dir.path(), 1);
    let workers = workers_of(child.id());
    assert_eq!(workers.len(), 3, "{workers:?}");
    let (pid, index) = workers.into_iter().find(|(_, i)| *i == 1).unwrap();
    kill(pid, libc::SIGKILL);
    let out = output_within(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a lost worker fails the run: {stderr}"
    );
    assert!(stderr.contains("worker 1 lost"), "{stderr}");
    let (merged, workers) = merged_run(dir.path());
    let d = merged.distributed.as_ref().unwrap();
    let lost: Vec<_> = d.lost().collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].index, index);
    let WorkerStatus::Lost { missed_s, .. } = &lost[0].status else {
        unreachable!()
    };
    assert!(*missed_s > 0.0);
    assert_eq!(workers.len(), 2);
    assert_merged_exactly(&merged, &workers);
    assert!(String::from_utf8_lossy(&out.stdout).contains("LOST after"));
    // The report says it too.
    let text = report_of(dir.path());
    assert!(
        text.contains(
            "local processes, their histograms merged exactly; worker 1 (2 users) was lost after"
        ),
        "{text}"
    );
    // And the HTML page, with the same tables.
    let page = report_as(dir.path(), "html");
    assert!(page.contains("was lost after"), "{page}");
    crate::report_html::assert_same_tables(&text, &page);
}

#[test]
fn ctrl_c_stops_every_worker_and_saves_what_was_measured() {
    let server = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_load(
        dir.path(),
        &server.url,
        &[
            "--users",
            "4",
            "--duration",
            "60s",
            "--workers",
            "2",
            "--local",
        ],
    );
    wait_for_measured_seconds(dir.path(), 1);
    kill(child.id(), libc::SIGINT);
    let out = output_within(child, Duration::from_secs(30));
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (merged, workers) = merged_run(dir.path());
    assert_eq!(merged.status, RunStatus::Interrupted);
    assert!(merged.duration_s < 30.0);
    assert_eq!(workers.len(), 2, "both workers sent what they measured");
    assert!(workers.iter().all(|w| w.status == RunStatus::Interrupted));
    assert!(merged.aggregate.requests > 0);
}

#[test]
fn worker_counts_and_modes_that_cannot_run_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            vec!["--users", "5", "--workers", "1", "--local"],
            "2 or more",
        ),
        (
            vec!["--users", "2", "--workers", "3", "--local"],
            "more than --users 2",
        ),
        (vec!["--users", "5", "--local"], "add --workers"),
    ] {
        let out = support::iris_lab(dir.path())
            .args(["load", "--host", "127.0.0.1:9", "--no-cluster"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn local_workers_run_the_scenario_the_controller_settled() {
    let server = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path());
    let child = spawn_load(
        dir.path(),
        &server.url,
        &["--scenario", "scenario.yaml", "--workers", "2", "--local"],
    );
    let out = output_within(child, Duration::from_secs(60));
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let (merged, workers) = merged_run(dir.path());
    assert_eq!(workers.len(), 2);
    assert_ran_the_scenario(&merged, &workers);
    assert_merged_exactly(&merged, &workers);
}

/// The order every worker gets: the whole run's plan (5 users, the given class), starting now.
fn order(url: &str, class: UserClass, out_dir: &str) -> String {
    let plan = RunPlan::builder(class)
        .users(5)
        .duration(Duration::from_secs(2))
        .wait(Wait::new(0.02, 0.05).unwrap())
        .build()
        .unwrap();
    let order = WorkerOrder {
        plan,
        host: url.parse().unwrap(),
        workers: 2,
        start_at: jiff::Timestamp::now(),
        out_dir: out_dir.into(),
    };
    order.to_line().unwrap()
}

#[test]
fn a_worker_runs_its_order_and_sends_its_seconds_and_its_record_with_histograms() {
    let server = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    // A config file that cannot be read: a worker never reads one.
    std::fs::write(dir.path().join("broken.yaml"), "load: [not, a, section").unwrap();
    let class = UserClass::builtin("HighLoadUser").unwrap();
    let mut child = support::std_command()
        .current_dir(dir.path())
        .env("IRIS_LAB_CONFIG", "broken.yaml")
        .args(["worker", "--index", "1", "--plan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = order(&server.url, class, "w") + "\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let out = output_within(child, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].to_string())
        .collect();
    assert_eq!(kinds[..2], ["\"ready\"", "\"started\""], "{kinds:?}");
    assert_eq!(kinds.last().unwrap(), "\"record\"");
    assert!(
        kinds.iter().filter(|k| *k == "\"second\"").count() >= 2,
        "{kinds:?}"
    );
    let record: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    // Worker 1 of 2 runs round(5*2/2) - round(5*1/2) = 5 - 3 = 2 users.
    assert_eq!(record["worker"]["users"], 2);
    assert_eq!(record["params"]["users"], 2);
    assert_eq!(record["params"]["wait_min_s"], 0.02);
    assert!(
        dir.path().join("w").is_dir(),
        "its timeline goes to the order's out_dir"
    );
    let hist = decode_histogram(record["aggregate"]["histogram"].as_str().unwrap()).unwrap();
    assert_eq!(
        hist.len(),
        record["aggregate"]["requests"].as_u64().unwrap()
    );
    assert!(
        record["steady_state"]["histogram"].is_string(),
        "steady state merges exactly too"
    );
}

#[test]
fn a_worker_takes_its_order_from_the_environment_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let class = UserClass::builtin("HighLoadUser").unwrap();
    let run = |order: &str, index: &str| {
        support::iris_lab(dir.path())
            .env("IRIS_LAB_WORKER_PLAN", order)
            .env("JOB_COMPLETION_INDEX", index)
            .arg("worker")
            .output()
            .unwrap()
    };
    // Index 2 of 2 workers: refused before anything runs.
    let out = run(&order("http://127.0.0.1:9", class, "w"), "2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not below the plan's 2 workers"), "{err}");
    let out = run(r#"{"plan": 1}"#, "0");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does not decode"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

//! Issue 25 end to end: `load --stages` against the reference API while the test Kubernetes
//! API server scales the deployment up during the run and the API saturates (every request
//! queues), then `report` on the record. The report must not take the end of the run for the
//! load falling, nor a saturated server for slow connection set-up, and must name a staged
//! run and its moments by their own users.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use support::*;

/// How long every request queues in front of the API once it saturates.
const QUEUED: Duration = Duration::from_millis(200);

/// The reference API in-process; from the moment `saturated` is set, every request (on new
/// connections and old alike) waits [`QUEUED`] before the handler, as in a saturated server.
fn saturating_reference_api(saturated: Arc<AtomicBool>) -> String {
    let model = iris_lab::server::Model::train().expect("train");
    let router = iris_lab::server::router(model).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let saturated = saturated.clone();
            async move {
                if saturated.load(Ordering::SeqCst) {
                    tokio::time::sleep(QUEUED).await;
                }
                next.run(req).await
            }
        },
    ));
    spawn_router(router)
}

fn record(dir: &std::path::Path) -> Value {
    let path = run_files(dir, "json").pop().expect("a run record");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The report's finding with this title: (verdict, evidence).
fn finding<'a>(report: &'a str, title: &str) -> &'a str {
    let head = format!("- **{title}** (");
    report
        .lines()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no finding {title}:\n{report}"))
}

#[test]
fn a_staged_run_on_a_scaling_cluster_is_reported_by_its_own_moments() {
    let saturated = Arc::new(AtomicBool::new(false));
    let host = saturating_reference_api(saturated.clone());
    let lab = Lab::healthy();
    let controller = run_controller(&lab.api, Duration::from_secs(25));
    let api = lab.api.clone();
    let dir = lab.dir.path().to_path_buf();
    // 4 users from +3 s to +10 s, then 12 from +12 s to the end (+16 s): no stage goes down.
    // The HPA scales 2 -> 6 at 4 users (after +4 s); the API saturates from +9 s to +13 s,
    // while the second ramp opens the new users' connections, and again from +15 s: a
    // minority of the run's requests (so that the old rule, against the run's median, took
    // it for slow set-up).
    let story = std::thread::spawn(move || {
        wait_for_measured_seconds(&dir, 4);
        crate::load_cluster::scale_to_six(&api, &dir);
        wait_for_measured_seconds(&dir, 9);
        saturated.store(true, Ordering::SeqCst);
        wait_for_measured_seconds(&dir, 13);
        saturated.store(false, Ordering::SeqCst);
        // Requests still queued at the end make the timeline end with a partial second.
        wait_for_measured_seconds(&dir, 15);
        saturated.store(true, Ordering::SeqCst);
    });
    let out = lab
        .cmd(&[
            "load",
            "--host",
            &host,
            "--stages",
            "3s:4,7s:4,2s:12,4s:12",
            "--user-class",
            "HighLoadUser",
        ])
        .output()
        .unwrap();
    story.join().unwrap();
    controller.join().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    // The record has what made the report wrong: a last, partial second without users, and
    // new connections whose first byte took over 100 ms (all requests queued alike).
    let r = record(lab.dir.path());
    let duration = r["duration_s"].as_f64().unwrap();
    let timeline = r["timeline"].as_array().unwrap();
    let last = timeline.last().unwrap();
    assert!(
        last["t"].as_f64().unwrap() > duration && last["users"] == 0,
        "{last}"
    );
    let queued_new = timeline.iter().any(|p| {
        p["phases"]["new_connections"].as_u64().unwrap_or(0) > 0
            && p["phases"]["new_waiting_p50_ms"].as_f64().unwrap_or(0.0) >= 100.0
    });
    assert!(queued_new, "no new connection queued: {timeline:?}");
    let median = r["aggregate"]["percentiles_ms"]["50%"].as_f64().unwrap();
    assert!(median < 60.0, "most requests queued: {median} ms");
    let c = &r["cluster"];
    assert_eq!(c["max_pods"], 6, "{c}");
    let first_ready = c["pods_started"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["observed_ready_s"].as_f64())
        .fold(f64::MAX, f64::min);
    assert!(first_ready < 10.0, "the pods came up after the hold: {c}");

    let out = iris_lab(lab.dir.path()).args(["report"]).output().unwrap();
    let (report, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // 1. No stage went down: no fall, and no negative time anywhere.
    assert!(!report.contains("load fell"), "{report}");
    let negative = report
        .split(|c: char| c.is_whitespace() || c == '(')
        .find(|w| {
            w.len() > 1 && w.starts_with('-') && w[1..].starts_with(|c: char| c.is_ascii_digit())
        });
    assert_eq!(negative, None, "{report}");

    // 2. Every request queued alike: connection set-up is not the bottleneck.
    let setup = finding(&report, "Connection set-up");
    assert!(
        setup.starts_with("- **Connection set-up** (not supported by the data)"),
        "{setup}"
    );

    // 3. The run is named by its stages, its moments by their own users.
    assert!(report.contains("| 4 -> 12 users |"), "{report}");
    assert!(report.contains("### 4 -> 12 users"), "{report}");
    assert!(
        report.contains("- 4 -> 12 users: stages 3 s to 4, 7 s to 4, 2 s to 12, 4 s to 12 users."),
        "{report}"
    );
    assert!(
        report.contains("title \"Requests/s, 4 -> 12 users\""),
        "{report}"
    );
    let startup = finding(&report, "Pod startup time");
    assert!(
        startup.contains("at 4 -> 12 users, new pods took")
            && startup.contains("while they started (+")
            && startup.contains(" s, at 4 users)"),
        "{startup}"
    );
    let cpu = finding(&report, "CPU saturation");
    assert!(
        cpu.contains("(supported by the data): at 4 users (+"),
        "{cpu}"
    );
    assert!(!report.contains("at 12 users, "), "{report}");
}

//! Errors with their evidence during `load`: pods that log errors while answering 500; the run
//! reads their logs for its window (sinceTime, bounded) and the record and the report put
//! the pods' messages beside the client's failures. A log that cannot be read is a gap.

use crate::support;

use std::time::Duration;

use axum::http::StatusCode;
use jiff::Timestamp;
use serde_json::Value;
use support::*;

const PODS: [&str; 2] = [
    "iris-prediction-api-7d9f8-aaaaa",
    "iris-prediction-api-7d9f8-bbbbb",
];
const CONTAINER: &str = "iris-api-container";

/// An API whose every answer is 500, and whose two "pods" log each request, as uvicorn
/// does, into the test API server's pod logs (alternating pods, like a Service).
fn failing_api(api: &KubeApi) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let api = api.clone();
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answered = n.clone();
    let handler = move || {
        let api = api.clone();
        let n = n.clone();
        async move {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let pod = PODS[i % 2];
            let now = Timestamp::now();
            api.log(pod, CONTAINER, false, &[
                (now, "ERROR:    Exception in ASGI application"),
                (now, "ValueError: Input X contains NaN."),
                (now, &format!("INFO:     10.4.0.{}:{} - \"POST /predict HTTP/1.1\" 500 Internal Server Error", i % 250, 40000 + i)),
            ]);
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    };
    let router = axum::Router::new()
        .route("/predict", axum::routing::post(handler.clone()))
        .route("/health", axum::routing::get(handler.clone()))
        .route("/", axum::routing::get(handler));
    (spawn_router(router), answered)
}

fn only_record(dir: &std::path::Path) -> Value {
    crate::load_cluster::only_record(dir).1
}

fn run_load(lab: &Lab, host: &str) -> std::process::Output {
    lab.cmd(&[
        "load",
        "--host",
        host,
        "--users",
        "4",
        "--spawn-rate",
        "4",
        "--duration",
        "3s",
        "--wait",
        "0.1..0.2",
    ])
    .timeout(Duration::from_secs(60))
    .output()
    .unwrap()
}

#[test]
fn a_run_with_500s_keeps_what_the_pods_logged_and_the_report_shows_it_beside_the_failures() {
    let lab = Lab::healthy();
    // A line from before the run is not in its window.
    let before = Timestamp::now() - jiff::SignedDuration::from_secs(600);
    lab.api.log(
        PODS[0],
        CONTAINER,
        false,
        &[(before, "ERROR: an old problem")],
    );
    let (host, answered) = failing_api(&lab.api);
    let out = run_load(&lab, &host);
    let (stdout, stderr) = texts(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stdout}\n{stderr}"
    );
    let answered = answered.load(std::sync::atomic::Ordering::Relaxed) as u64;
    let record = only_record(lab.dir.path());
    let pe = &record["pod_errors"];
    assert!(
        pe["because"].as_str().unwrap().ends_with("failed requests"),
        "{pe:#}"
    );
    assert_eq!(pe["read"].as_array().unwrap().len(), 2, "{pe:#}");
    let groups = pe["groups"].as_array().unwrap();
    let messages: Vec<&str> = groups
        .iter()
        .map(|g| g["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages.contains(&"ValueError: Input X contains NaN."),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"INFO: N.N.N.N:N - \"POST /predict HTTP/N.N\" N Internal Server Error"),
        "{messages:?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("old problem")),
        "{messages:?}"
    );
    assert!(answered > 10 && record["aggregate"]["failures"].as_u64().unwrap() >= answered);
    for g in groups {
        // Every 500 was logged once per message: the pods' count is the server's.
        // (Less the few answered after the run's end, outside its window.)
        let count = g["count"].as_u64().unwrap();
        assert!(
            count <= answered && count + 8 >= answered,
            "{answered}: {g:#}"
        );
        assert_eq!(g["pods"].as_object().unwrap().len(), 2, "{g:#}");
        assert!(
            g["first_s"].as_f64().unwrap() >= 0.0 && g["last_s"].as_f64().unwrap() <= 4.5,
            "{g:#}"
        );
    }
    // Bounded reads of the window: sinceTime, limitBytes, tailLines, timestamps.
    let reads = lab.api.log_requests();
    assert_eq!(reads.len(), 2, "{reads:?}");
    for r in &reads {
        for part in [
            "sinceTime=",
            "limitBytes=1048576",
            "tailLines=10000",
            "timestamps=true",
        ] {
            assert!(r.contains(part), "{part}: {r}");
        }
    }
    let report = lab.cmd(&["report"]).output().unwrap();
    let (md, stderr) = texts(&report);
    assert_eq!(report.status.code(), Some(0), "{stderr}");
    assert!(
        md.contains("### High error rates: what the pods said"),
        "{md}"
    );
    let client = md
        .lines()
        .find(|l| l.contains("| client | POST /predict:"))
        .expect(&md);
    let pods = md
        .lines()
        .find(|l| l.contains("| pods | ValueError: Input X contains NaN. |"))
        .expect(&md);
    assert!(client.starts_with("| +0."), "{client}");
    assert!(
        pods.contains(&format!("{} x", PODS[0])) && pods.contains(&format!("{} x", PODS[1])),
        "{pods}"
    );
}

#[test]
fn a_log_that_cannot_be_read_is_a_stated_gap_and_a_clean_run_reads_nothing() {
    let lab = Lab::healthy();
    // The test server names a get of pods/log as a get of pods.
    lab.api.deny("get", "pods");
    let (host, _) = failing_api(&lab.api);
    let out = run_load(&lab, &host);
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let record = only_record(lab.dir.path());
    let gaps = record["pod_errors"]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(
        gaps[0]["reason"]
            .as_str()
            .unwrap()
            .contains("`kubectl auth can-i get pods --subresource=log -n default` says no"),
        "{gaps:?}"
    );

    let clean = Lab::healthy();
    let api = spawn_reference_api();
    let out = run_load(&clean, &api);
    assert_eq!(out.status.code(), Some(0));
    assert!(only_record(clean.dir.path())["pod_errors"].is_null());
    assert!(clean.api.log_requests().is_empty());
}

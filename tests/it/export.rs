//! `load --metrics-addr` and `--export`: a real Prometheus scrapes the run and receives its
//! remote write, an OTLP receiver's bodies are decoded by the published OpenTelemetry schema;
//! after the run both hold the record's totals exactly, and every query of the Grafana
//! dashboard in deploy/ returns data. Receivers that refuse, hang or are absent leave the run
//! as it is.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iris_lab::export::series::{BOUNDS, bound_us, reason_label, status_label};
use iris_lab::record::{self, RunRecord, RunStatus};
use serde_json::Value;

use crate::load_cli::Server;
use crate::sim::{FAST, SimProcess};
use crate::support;
use crate::support::receivers::{self, OtlpReceiver, Prometheus};

/// Ten users: /predict, and a path that answers 404 (failures with a status and a reason).
const SCENARIO: &str = "classes:\n  - name: ExportUser\n    wait: 20ms..40ms\n    tasks:\n      - method: POST\n        path: /predict\n        body: iris\n        check: status\n        weight: 4\n      - path: /missing\n        check: status\n        weight: 1\n";

const SECRET: &str = "s3cret-export-token";

fn the_record(dir: &Path) -> (RunRecord, String) {
    let file = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a record");
    let text = std::fs::read_to_string(&file).unwrap();
    let run_id = file.file_stem().unwrap().to_string_lossy().to_string();
    (record::load(&file).unwrap(), format!("{run_id}\n{text}"))
}

type Key = (String, String, String);

/// What the record says each counter series ends at: requests by (method, endpoint, status)
/// and failures by (method, endpoint, reason).
fn expected_counters(r: &RunRecord) -> (BTreeMap<Key, f64>, BTreeMap<Key, f64>) {
    let mut requests = BTreeMap::new();
    let mut failures = BTreeMap::new();
    for e in &r.endpoints {
        let ok = (e.method.clone(), e.name.clone(), "ok".to_string());
        requests.insert(ok, (e.requests - e.failures) as f64);
    }
    for f in &r.failures {
        let status = (f.method.clone(), f.name.clone(), status_label(&f.reason));
        *requests.entry(status).or_default() += f.count as f64;
        let reason = (f.method.clone(), f.name.clone(), reason_label(&f.reason));
        *failures.entry(reason).or_default() += f.count as f64;
    }
    (requests, failures)
}

/// The record's histograms at the exporter's bounds: (method, endpoint, le) -> requests.
fn expected_buckets(r: &RunRecord) -> BTreeMap<Key, f64> {
    let mut out = BTreeMap::new();
    for e in &r.endpoints {
        let h = record::histogram::decode(&e.histogram).expect("the record's histogram");
        for b in BOUNDS {
            let le = iris_lab::export::text::format_float(b);
            let n = h.count_between(0, bound_us(b)) as f64;
            out.insert((e.method.clone(), e.name.clone(), le), n);
        }
        out.insert(
            (e.method.clone(), e.name.clone(), "+Inf".into()),
            e.requests as f64,
        );
    }
    out
}

/// Prometheus' last value of each series of `metric` of the run, keyed by method, endpoint
/// and `third`; retried until it equals `want` (samples land within seconds), bounded.
fn prometheus_agrees(
    prom: &Prometheus,
    metric: &str,
    selector: &str,
    third: &str,
    want: &BTreeMap<Key, f64>,
) {
    let expr = format!("last_over_time({metric}{{{selector}}}[10m])");
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let got: BTreeMap<Key, f64> = prom
            .query(&expr)
            .into_iter()
            .map(|(l, v)| {
                let get = |k: &str| l.get(k).cloned().unwrap_or_default();
                // OpenMetrics writes le="1.0", the text format and remote write le="1".
                let third = match (third, get(third).parse::<f64>()) {
                    ("le", Ok(le)) => iris_lab::export::text::format_float(le),
                    _ => get(third),
                };
                ((get("method"), get("endpoint"), third), v)
            })
            .collect();
        if &got == want {
            return;
        }
        assert!(
            Instant::now() < end,
            "{expr}: Prometheus has\n{got:?}\nthe record says\n{want:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn prometheus_and_otlp_hold_the_records_totals_and_the_dashboard_has_data() {
    let metrics_addr = format!("127.0.0.1:{}", receivers::free_port());
    let Some(prom) = Prometheus::start(&metrics_addr) else {
        return;
    };
    let otlp = OtlpReceiver::start();
    let sim = SimProcess::start(FAST);
    sim.wait_for_metrics();
    std::fs::write(sim.path().join("export.yaml"), SCENARIO).unwrap();
    let rw = format!("prometheus-rw={}", prom.remote_write_url());
    let ot = format!("otlp={}", otlp.url);
    let header = format!("Authorization: Bearer {SECRET}");
    #[rustfmt::skip]
    let out = sim
        .cmd(&[
            "load", "--scenario", "export.yaml", "--users", "10", "--spawn-rate", "10",
            "--duration", "10s", "--out-dir", "runs", "--top-interval", "2s",
            "--metrics-addr", &metrics_addr, "--export", &rw, "--export", &ot,
            "--export-header", &header,
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let (r, text) = the_record(sim.path());
    let run_id = text.lines().next().unwrap().to_string();
    for shown in [&stdout, &stderr, &text] {
        assert!(!shown.contains(SECRET), "the header's value was shown");
    }
    assert!(!stderr.contains("not delivered"), "{stderr}");
    let export = r.export.as_ref().expect("the record's export field");
    assert_eq!(export.receivers.len(), 2);
    for receiver in &export.receivers {
        assert!(
            receiver.last_delivered && !receiver.has_gap(),
            "{receiver:?}"
        );
    }
    assert!(r.aggregate.failures > 0 && r.aggregate.requests > r.aggregate.failures);

    let (requests, failures) = expected_counters(&r);
    let buckets = expected_buckets(&r);
    // Scraped series carry the job's label; remote-written ones none.
    for job in [r#"job="iris-lab""#, r#"job="""#] {
        let selector = format!(r#"run_id="{run_id}",{job}"#);
        prometheus_agrees(
            &prom,
            "iris_lab_requests_total",
            &selector,
            "status",
            &requests,
        );
        prometheus_agrees(
            &prom,
            "iris_lab_request_failures_total",
            &selector,
            "reason",
            &failures,
        );
        prometheus_agrees(
            &prom,
            "iris_lab_request_duration_seconds_bucket",
            &selector,
            "le",
            &buckets,
        );
    }

    otlp_agrees(&otlp, &run_id, &requests, &buckets);
    dashboard_has_data(&prom, &run_id, &r);
}

/// The last OTLP body, decoded by the published schema, holds the same totals.
fn otlp_agrees(
    otlp: &OtlpReceiver,
    run_id: &str,
    requests: &BTreeMap<Key, f64>,
    buckets: &BTreeMap<Key, f64>,
) {
    let Some(python) = receivers::otel_python() else {
        return;
    };
    let bodies = otlp.bodies();
    let last = bodies.last().expect("OTLP bodies");
    let m = receivers::decode_otlp(&python, last);
    assert_eq!(m["resource"]["service.name"], "iris-lab", "{m}");
    assert_eq!(m["resource"]["run_id"], run_id, "{m}");
    let sums = &m["metrics"]["iris_lab_requests"];
    assert_eq!(sums["kind"], "sum");
    assert_eq!(sums["temporality"], 2, "cumulative");
    assert_eq!(sums["monotonic"], true);
    let attr = |p: &Value, k: &str| p["attributes"][k].as_str().unwrap_or("").to_string();
    let got: BTreeMap<Key, f64> = sums["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let key = (attr(p, "method"), attr(p, "endpoint"), attr(p, "status"));
            (key, p["value"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(&got, requests);
    let hist = &m["metrics"]["iris_lab_request_duration_seconds"];
    assert_eq!(hist["temporality"], 2);
    let mut got = BTreeMap::new();
    for p in hist["points"].as_array().unwrap() {
        let own: Vec<u64> = serde_json::from_value(p["bucket_counts"].clone()).unwrap();
        let bounds: Vec<f64> = serde_json::from_value(p["bounds"].clone()).unwrap();
        assert_eq!(own.len(), bounds.len() + 1);
        let mut cumulative = 0;
        for (i, n) in own.iter().enumerate() {
            cumulative += n;
            let le = bounds
                .get(i)
                .map(|b| iris_lab::export::text::format_float(*b))
                .unwrap_or_else(|| "+Inf".into());
            got.insert(
                (attr(p, "method"), attr(p, "endpoint"), le),
                cumulative as f64,
            );
        }
        assert_eq!(p["count"].as_u64().unwrap(), cumulative);
    }
    assert_eq!(&got, buckets);
}

/// Every query of deploy/grafana/iris-lab-run.json, the run's variable substituted, returns
/// data over the run's window; so does the run variable's own query.
fn dashboard_has_data(prom: &Prometheus, run_id: &str, r: &RunRecord) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/iris-lab-run.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    exprs.extend(
        dashboard["annotations"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["expr"].as_str().map(String::from)),
    );
    assert!(exprs.len() >= 10, "{exprs:?}");
    let start = r.started_at.as_second() as f64 - 5.0;
    let end = r.ended_at.as_second() as f64 + 5.0;
    for expr in exprs {
        let q = expr
            .replace("$run", run_id)
            .replace("$__rate_interval", "10s")
            .replace("$__interval", "1s");
        assert!(
            prom.query_range(&q, start, end, 1.0) > 0,
            "the dashboard's query returns no data: {q}"
        );
    }
    let variable = dashboard["templating"]["list"][1]["query"]["query"]
        .as_str()
        .unwrap()
        .to_string();
    let metric = variable
        .trim_start_matches("label_values(")
        .split(',')
        .next()
        .unwrap();
    let runs = prom.query(&format!(
        "count by (run_id) (last_over_time({metric}[10m]))"
    ));
    assert!(
        runs.iter()
            .any(|(l, _)| l.get("run_id").map(String::as_str) == Some(run_id)),
        "{variable}: {runs:?}"
    );
}

/// A receiver answering `status` to every request; counts them.
fn answering(status: u16) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { axum::http::StatusCode::from_u16(status).unwrap() }
    });
    (support::serve::spawn_router(router), hits)
}

#[test]
fn receivers_that_refuse_hang_or_are_absent_leave_the_run_as_it_is() {
    let api = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (failing, failing_hits) = answering(503);
    let (refusing, refusing_hits) = answering(400);
    let hanging = support::serve::spawn_silent_server();
    let absent = support::serve::closed_port_url();
    let exports = [
        format!("prometheus-rw={failing}/api/v1/write"),
        format!("prometheus-rw={refusing}/api/v1/write"),
        format!("otlp={hanging}"),
        format!("otlp={absent}"),
    ];
    let mut args = vec![
        "--host",
        &api.url,
        "--users",
        "3",
        "--spawn-rate",
        "10",
        "--duration",
        "3s",
        "--no-cluster",
        "--out-dir",
        "runs",
    ];
    for e in &exports {
        args.extend(["--export", e.as_str()]);
    }
    let started = Instant::now();
    let out = support::iris_lab(dir.path())
        .arg("load")
        .args(&args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let took = started.elapsed();
    let (stdout, stderr) = support::texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // 3 s of load, at most 5 s of draining, the start and the summary.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let (r, _) = the_record(dir.path());
    assert_eq!(r.status, RunStatus::Completed);
    assert!(r.aggregate.requests > 0);
    assert_eq!(
        r.aggregate.requests,
        r.endpoints.iter().map(|e| e.requests).sum::<u64>()
    );
    let receivers = &r.export.as_ref().expect("the export field").receivers;
    assert_eq!(receivers.len(), 4);
    for receiver in receivers {
        assert_eq!(receiver.delivered, 0, "{receiver:?}");
        assert!(
            receiver.has_gap() && !receiver.last_delivered,
            "{receiver:?}"
        );
        assert!(receiver.seconds >= 3, "{receiver:?}");
        assert!(
            stderr.contains(&format!(
                "export {} {}",
                receiver.protocol, receiver.endpoint
            )),
            "{stderr}"
        );
    }
    assert!(
        receivers[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("HTTP 503")
    );
    assert!(
        receivers[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("HTTP 400")
    );
    // 5xx is retried; other 4xx is not: one request per second offered.
    let refused = receivers[1].seconds - receivers[1].undelivered - receivers[1].dropped;
    assert_eq!(refusing_hits.load(Ordering::SeqCst) as u64, refused);
    assert!(failing_hits.load(Ordering::SeqCst) as u64 > receivers[0].failed);
}

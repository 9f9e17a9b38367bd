//! Request phases against servers slow in one phase each, and `Server-Timing` from `serve`
//! into the record. The servers sleep to misbehave; the tests wait only for the runs to end.

use crate::support;

use std::time::Duration;

use iris_lab::loadgen::{Body, Check, Task, UserClass};
use iris_lab::pipeline as load;
use iris_lab::record::{Distribution, PhaseDistributions, RunRecord};
use support::{Misbehaviour, Recorder, misbehaving_server, options, wait};

const DELAY: Duration = Duration::from_millis(300);
const DELAY_MS: f64 = 300.0;

/// One user sending `GET /` without think time for `secs`.
async fn one_user(host: reqwest::Url, secs: f64) -> RunRecord {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 1, secs, "HighLoadUser");
    opts.plan.load.class = UserClass::new(
        "Get",
        wait(0.0, 0.0),
        vec![],
        vec![Task::new(
            http::Method::GET,
            "/",
            Body::Empty,
            Check::Json,
            1,
        )],
    )
    .unwrap();
    let r = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record;
    assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);
    assert!(r.aggregate.requests >= 2, "{}", r.aggregate.requests);
    r
}

fn phases(r: &RunRecord) -> &PhaseDistributions {
    &r.phases.as_ref().expect("a record with phases").aggregate
}

fn p50(d: &Option<Distribution>) -> f64 {
    d.as_ref().expect("a phase with requests").p50_ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_accepts_late_shows_as_waiting_not_connecting() {
    let r = one_user(
        misbehaving_server(Misbehaviour::AcceptLate(DELAY)).await,
        1.5,
    )
    .await;
    let p = phases(&r);
    // Every request opened its connection (the server closes them).
    assert_eq!(p.connect.as_ref().unwrap().count, r.aggregate.requests);
    assert!(p50(&p.connect) < DELAY_MS / 3.0, "{p:?}");
    assert!(p50(&p.waiting) >= DELAY_MS * 0.8, "{p:?}");
    assert!(p.tls.is_none());
    assert!(p50(&p.receiving) < DELAY_MS / 3.0, "{p:?}");
    // The timeline counts new connections and their medians.
    let seconds: Vec<_> = r
        .timeline
        .iter()
        .filter_map(|s| s.phases.as_ref())
        .collect();
    assert!(seconds.iter().any(|s| s.new_connections > 0));
    assert!(
        seconds
            .iter()
            .filter_map(|s| s.new_waiting_p50_ms)
            .all(|w| w >= DELAY_MS * 0.8),
        "{seconds:?}"
    );
    let resolution = r.phases.as_ref().unwrap().resolution.as_ref().unwrap();
    assert_eq!(resolution.addresses, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_slowly_shows_as_waiting() {
    let r = one_user(misbehaving_server(Misbehaviour::SlowHead(DELAY)).await, 1.5).await;
    let p = phases(&r);
    assert!(p50(&p.waiting) >= DELAY_MS * 0.8, "{p:?}");
    assert!(p50(&p.receiving) < DELAY_MS / 3.0, "{p:?}");
    assert!(p50(&p.connect) < DELAY_MS / 3.0, "{p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_shows_as_receiving() {
    let r = one_user(
        misbehaving_server(Misbehaviour::TricklingBody(DELAY)).await,
        1.5,
    )
    .await;
    let p = phases(&r);
    assert!(p50(&p.receiving) >= DELAY_MS * 0.7, "{p:?}");
    assert!(p50(&p.waiting) < DELAY_MS / 3.0, "{p:?}");
    // The phases of a request add up to its latency.
    let sum = [&p.connect, &p.sending, &p.waiting, &p.receiving]
        .iter()
        .map(|d| d.as_ref().unwrap().avg_ms)
        .sum::<f64>();
    assert!(
        (sum - r.aggregate.avg_ms).abs() < 0.1 * r.aggregate.avg_ms,
        "{sum} vs {}",
        r.aggregate.avg_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reports_server_timing_that_the_record_prefers_to_the_body() {
    let host = support::reference_api().await;
    // The header's grammar and figures, as any client sees them.
    let client = reqwest::Client::new();
    let health = client
        .get(host.join("/health").unwrap())
        .send()
        .await
        .unwrap();
    let value = health.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(value.starts_with("total;dur="), "{value}");
    let predict = client
        .post(host.join("/predict").unwrap())
        .json(&serde_json::json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}))
        .send()
        .await
        .unwrap();
    let value = predict.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_string();
    let timing = iris_lab::loadgen::server_timing::recognise([value.as_bytes()]).unwrap();
    let (inference, total) = (timing.inference.unwrap(), timing.total.unwrap());
    assert!(inference > Duration::ZERO && inference <= total, "{value}");
    // Microseconds: three decimals of milliseconds.
    let dur = value
        .split("dur=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert_eq!(dur.split('.').nth(1).unwrap().len(), 3, "{value}");

    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 4, 1.5, "HighLoadUser");
    opts.plan.load.class.wait = wait(0.0, 0.01);
    let r = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record;
    assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);
    let phases = r.phases.as_ref().unwrap();
    let predict = phases.endpoint("POST", "/predict").unwrap();
    // The body says 0.0000s; the header has microseconds: the model time is above zero.
    let model = predict.model.as_ref().unwrap();
    assert!(model.p50_ms > 0.0, "{model:?}");
    assert!(predict.server.as_ref().unwrap().p50_ms >= model.p50_ms);
    // Other endpoints report their total only.
    let health = phases.endpoint("GET", "/health").unwrap();
    assert!(
        health.server.is_some() && health.model.is_none(),
        "{health:?}"
    );
    assert_eq!(
        predict.waiting.as_ref().unwrap().count,
        r.endpoints
            .iter()
            .find(|e| e.name == "/predict")
            .unwrap()
            .requests
    );
}

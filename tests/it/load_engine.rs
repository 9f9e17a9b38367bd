//! The load engine end to end, in-process, against servers on 127.0.0.1 port 0.
//! Each run is short (1-3 s) except the 20 s throughput run; they run in parallel.

use crate::support;

use std::time::Duration;

use iris_lab::api::Failure;
use iris_lab::error::Outcome;
use iris_lab::pipeline as load;
use iris_lab::record::{self, RunStatus, ThresholdKind};
use iris_lab::stats::decode_histogram;
use support::{Mode, Recorder, fake_api, options, wait};

fn count(r: &record::RunRecord, method: &str, name: &str) -> u64 {
    r.endpoints
        .iter()
        .find(|e| e.method == method && e.name == name)
        .map_or(0, |e| e.requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_mix_follows_the_weights_and_each_user_starts_with_one_health_check() {
    let (host, seen) = fake_api(Mode::Healthy).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 20, 2.0, "IrisPredictionAPIUser");
    opts.plan.load.class.wait = wait(0.0, 0.002);
    let result = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap();
    let r = &result.record;
    assert_eq!(result.outcome, Outcome::Success);
    assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);

    // One connection per user, and each began with GET /health.
    let conns = seen.by_connection.lock().unwrap();
    assert_eq!(conns.len(), 20);
    assert!(conns.values().all(|paths| paths[0] == "/health"));
    drop(conns);

    // Tasks (on-start health excluded): 10 : 2 : 1 : 1.
    let predict = count(r, "POST", "/predict") as f64;
    let health = (count(r, "GET", "/health") - 20) as f64;
    let root = count(r, "GET", "/") as f64;
    let docs = count(r, "GET", "/docs") as f64;
    let total = predict + health + root + docs;
    assert!(
        total > 1000.0,
        "too few requests for a statistical check: {total}"
    );
    for (got, weight) in [(predict, 10.0), (health, 2.0), (root, 1.0), (docs, 1.0)] {
        let expected = total * weight / 14.0;
        // 5 standard deviations of a binomial count.
        let sd = (total * weight / 14.0 * (1.0 - weight / 14.0)).sqrt();
        assert!(
            (got - expected).abs() < 5.0 * sd,
            "got {got}, expected {expected} (weight {weight})"
        );
    }

    // Every request carried a W3C traceparent with a fresh trace id, not sampled at a
    // trace_sample of 0.
    let tps = seen.traceparents.lock().unwrap();
    assert!(
        tps.iter()
            .all(|t| t.len() == 55 && t.starts_with("00-") && t.ends_with("-00"))
    );
    let ids: std::collections::HashSet<&str> = tps.iter().map(|t| &t[3..35]).collect();
    assert_eq!(ids.len(), tps.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn achieved_rps_is_within_5_percent_of_the_closed_loop_bound() {
    let host = support::reference_api().await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 200, 20.0, "IrisPredictionAPIUser");
    opts.plan.load.spawn_rate = 400.0;
    let result = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap();
    let r = &result.record;
    assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);
    let bound = r.throughput.theoretical_max_rps;
    let steady = r.throughput.steady_rps.unwrap();
    // users / mean(wait + latency) = 200 / (1.25 s + latency) ~ 160 req/s.
    assert!((150.0..170.0).contains(&bound), "bound {bound}");
    assert!(
        (steady - bound).abs() < bound * 0.05,
        "steady {steady} vs bound {bound}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_start_at_the_spawn_rate() {
    let (host, _) = fake_api(Mode::Healthy).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 20, 3.0, "HighLoadUser");
    opts.plan.load.spawn_rate = 10.0;
    let mut monitor = Recorder::default();
    let result = load::run(&opts.plan, &opts.site, &mut monitor)
        .await
        .unwrap();
    let r = &result.record;
    let users: Vec<u32> = r.timeline.iter().map(|p| p.users).collect();
    // User i starts at i/10 s: ~10 after 1 s, all 20 after 2 s.
    assert!((8..=13).contains(&users[0]), "{users:?}");
    assert_eq!(users[1], 20, "{users:?}");
    let spawned = r.spawn_complete_s.unwrap();
    assert!((1.85..2.6).contains(&spawned), "{spawned}");
    assert_eq!(monitor.snapshots[0].target_users, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_failing_10_percent_is_counted_and_breaks_a_threshold() {
    let (host, seen) = fake_api(Mode::TenPercent500).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 10, 2.0, "HighLoadUser");
    opts.plan.load.class.wait = wait(0.0, 0.002);
    opts.plan.thresholds.max_failure_rate = Some(0.05);
    opts.plan.thresholds.max_p95 = Some(Duration::from_secs(10));
    let result = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap();
    let r = &result.record;
    let served = seen.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(r.aggregate.requests, served);
    assert_eq!(r.aggregate.failures, served / 10);
    assert!(r.failures.iter().all(|f| f.reason == Failure::Status(500)));
    assert_eq!(r.failures.iter().map(|f| f.count).sum::<u64>(), served / 10);
    assert!(r.failures.iter().all(|f| f.first_seen <= f.last_seen));
    assert_eq!(result.outcome, Outcome::Failed);
    let th: Vec<(ThresholdKind, bool)> = r.thresholds.iter().map(|t| (t.kind, t.passed)).collect();
    assert_eq!(
        th,
        [
            (ThresholdKind::MaxFailureRate, false),
            (ThresholdKind::MaxP95, true)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_bodies_missing_a_field_fail_with_that_field() {
    let (host, _) = fake_api(Mode::MissingField).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 5, 1.0, "HighLoadUser");
    opts.plan.load.class.wait = wait(0.0, 0.005);
    let r = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record;
    let predict = r.endpoints.iter().find(|e| e.name == "/predict").unwrap();
    assert!(predict.requests > 0);
    assert_eq!(predict.failures, predict.requests);
    assert_eq!(r.aggregate.failures, predict.requests, "only predict fails");
    assert_eq!(r.failures.len(), 1);
    assert_eq!(
        r.failures[0].reason,
        Failure::MissingField("total_time".into())
    );
    assert!(r.server_timings.total.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_failures_and_users_reconnect() {
    let host = support::dropping_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 3, 1.0, "HighLoadUser");
    opts.plan.load.class.wait = wait(0.05, 0.05);
    let r = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record;
    assert!(r.aggregate.requests > 3, "users kept going after a drop");
    assert_eq!(r.aggregate.failures, r.aggregate.requests);
    assert!(
        r.failures.iter().all(|f| f.reason == Failure::Disconnected),
        "{:?}",
        r.failures
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_gives_timeouts_at_the_timeout() {
    let host = support::stalling_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 2, 1.0, "HighLoadUser");
    opts.plan.load.timeout = Duration::from_millis(300);
    let r = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record;
    assert!(r.aggregate.requests >= 2);
    assert_eq!(r.aggregate.failures, r.aggregate.requests);
    // A user drops a timed-out connection: each request waits on a new one.
    assert!(
        r.failures
            .iter()
            .all(|f| f.reason == Failure::TimeoutNewConnection)
    );
    assert!(
        (290.0..1000.0).contains(&r.aggregate.avg_ms),
        "{}",
        r.aggregate.avg_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_max_requests_makes_users_reconnect() {
    let (host, seen) = fake_api(Mode::Healthy).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 4, 1.5, "HighLoadUser");
    opts.plan.load.class.wait = wait(0.0, 0.002);
    opts.plan.load.connection.max_requests = Some(10);
    let r = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record;
    let requests = r.aggregate.requests as f64;
    let conns = seen.connections() as f64;
    assert!(requests > 200.0, "{requests}");
    // Each connection carries 10 requests; the last one of each user may carry fewer.
    assert!(
        conns >= requests / 10.0 && conns <= requests / 10.0 + 4.0,
        "{conns} for {requests}"
    );
    assert!(
        seen.by_connection
            .lock()
            .unwrap()
            .values()
            .all(|p| p.len() <= 10)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_is_complete_and_the_timeline_is_on_disk() {
    let (host, _) = fake_api(Mode::Healthy).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 5, 2.0, "StressTestUser");
    opts.plan.csv = Some(dir.path().join("csv/run"));
    opts.plan.label = Some("baseline".into());
    let result = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap();
    let r = record::load(&result.record_path).unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.label.as_deref(), Some("baseline"));
    assert_eq!(r.params.user_class, "StressTestUser");
    let name = result
        .record_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(name.ends_with("-5u-StressTestUser.json"), "{name}");
    for e in r.endpoints.iter().chain([&r.aggregate]) {
        let h = decode_histogram(&e.histogram).unwrap();
        assert_eq!(h.len(), e.requests, "{}", e.name);
    }
    assert!(r.server_timings.inference.is_some());
    assert!(
        r.slowest
            .iter()
            .all(|s| !s.traces.is_empty() && s.traces.len() <= 10)
    );
    let lines = record::load_timeline(&result.jsonl_path).unwrap();
    assert_eq!(lines, r.timeline);
    assert_eq!(lines.last().unwrap().total_requests, r.aggregate.requests);
    let csv = result.csv_paths.unwrap();
    let stats = std::fs::read_to_string(&csv[0]).unwrap();
    assert_eq!(stats.lines().count(), r.endpoints.len() + 2);
    assert!(stats.lines().last().unwrap().starts_with(",Aggregated,"));
    let history = std::fs::read_to_string(&csv[1]).unwrap();
    assert_eq!(history.lines().count(), r.timeline.len() + 1);
    assert!(
        !dir.path().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".tmp"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_can_bind_their_own_source_ports() {
    let (host, seen) = fake_api(Mode::Healthy).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(host, dir.path(), 10, 1.0, "HighLoadUser");
    // A range outside the kernel's ephemeral one, so nothing else takes these ports.
    opts.plan.load.source_ports = Some((61_200, 61_299));
    opts.plan.load.class.wait = wait(0.0, 0.01);
    let r = load::run(&opts.plan, &opts.site, &mut Recorder::default())
        .await
        .unwrap()
        .record;
    assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);
    let conns = seen.by_connection.lock().unwrap();
    assert_eq!(conns.len(), 10);
    assert!(
        conns
            .keys()
            .all(|peer| (61_200..=61_299).contains(&peer.port())),
        "{:?}",
        conns.keys()
    );
}

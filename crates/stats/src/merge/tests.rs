use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::*;
use crate::Collector;
use iris_loadgen::{Event, Micros, Phases, Sample, ServerTiming};
use iris_record::{RunParams, Throughput};

fn endpoints() -> Vec<(String, String)> {
    vec![
        ("GET".into(), "/health".into()),
        ("POST".into(), "/predict".into()),
    ]
}

fn collector(start: Instant) -> Collector {
    Collector::new(
        endpoints(),
        30,
        Duration::from_secs(60),
        start,
        Timestamp::now(),
    )
}

/// A deterministic spread of latencies over five decades, failures and server timings.
fn samples(n: u64) -> Vec<Event> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let us = 50 + x % 10_u64.pow(1 + (x >> 60) as u32 % 6);
            let outcome = if i % 17 == 0 {
                Err(Failure::Status(500))
            } else if i % 2 == 0 {
                Ok(Some(ServerTiming {
                    inference: Some(Duration::from_micros(us / 3 + 1)),
                    total: Some(Duration::from_micros(us / 2 + 1)),
                }))
            } else {
                Ok(None)
            };
            Event::Request(Sample {
                endpoint: (x % 2) as usize,
                latency: Duration::from_micros(us),
                bytes: 40 + x % 100,
                outcome,
                trace_id: u128::from(i),
                sampled: i % 50 == 0,
                lag: None,
                phases: Phases {
                    // One request in ten opened its connection.
                    connect: (i % 10 == 0).then(|| Micros::of(Duration::from_micros(us / 5))),
                    tls: None,
                    sending: Some(Micros::of(Duration::from_micros(7 + x % 30))),
                    waiting: Some(Micros::of(Duration::from_micros(us * 3 / 4))),
                    receiving: Some(Micros::of(Duration::from_micros(us / 8))),
                },
            })
        })
        .collect()
}

fn record_of(c: &Collector) -> RunRecord {
    let aggregate = c.aggregate_record();
    RunRecord {
        schema_version: iris_record::SCHEMA_VERSION,
        tool: "test".into(),
        label: None,
        status: RunStatus::Completed,
        target: "http://127.0.0.1/".into(),
        params: RunParams {
            users: 10,
            spawn_rate: 1.0,
            duration_s: 60.0,
            user_class: "X".into(),
            scenario: None,
            wait_min_s: 0.0,
            wait_max_s: 0.0,
            timeout_s: 1.0,
            connection_max_requests: None,
            connection_max_age_s: None,
            arrival_rate: None,
            trace_sample: Some(0.01),
            stages: Default::default(),
        },
        started_at: c.start_utc(),
        ended_at: Timestamp::now(),
        duration_s: 30.0,
        users_started: 10,
        spawn_complete_s: c.spawn_complete_secs(),
        endpoints: c.endpoint_records(),
        throughput: Throughput {
            total_rps: aggregate.rps,
            steady_rps: c.steady_rps(),
            theoretical_max_rps: 1.0,
        },
        steady_state: c.steady_state(),
        sampled: c.sampled_records(),
        aggregate,
        failures: c.failure_records(),
        server_timings: c.server_timings(),
        phases: Some(c.phase_record()),
        arrivals: c.arrival_record(),
        slowest: c.slowest_records(),
        thresholds: Vec::new(),
        timeline: Vec::new(),
        cluster: None,
        pod_errors: None,
        cluster_not_watched: None,
        distributed: None,
        worker: None,
        extensions: Default::default(),
    }
}

#[test]
fn merged_percentiles_equal_one_histogram_fed_every_sample() {
    let start = Instant::now() - Duration::from_secs(30);
    let mut all = collector(start);
    let mut workers = [collector(start), collector(start), collector(start)];
    for c in workers.iter_mut().chain([&mut all]) {
        c.handle(Event::SpawnComplete);
        c.spawn_complete = Some(Duration::from_secs(10));
    }
    for (i, ev) in samples(20_000).into_iter().enumerate() {
        // An uneven split: worker 0 gets half.
        let w = [0, 0, 1, 2][i % 4];
        workers[w].handle(ev.clone());
        all.handle(ev);
    }
    for c in workers.iter_mut().chain([&mut all]) {
        c.stopping = Some(Duration::from_secs(30));
    }
    let parts: Vec<RunRecord> = workers.iter().map(record_of).collect();
    let refs: Vec<&RunRecord> = parts.iter().collect();
    let merged = merge_records(&refs).unwrap();
    let one = record_of(&all);

    assert_eq!(merged.aggregate.requests, 20_000);
    assert_eq!(
        merged.aggregate.requests,
        parts.iter().map(|r| r.aggregate.requests).sum::<u64>()
    );
    assert_eq!(
        merged.aggregate.percentiles_ms,
        one.aggregate.percentiles_ms
    );
    assert_eq!(merged.aggregate.failures, one.aggregate.failures);
    assert_eq!(merged.aggregate.max_ms, one.aggregate.max_ms);
    assert_eq!(merged.aggregate.min_ms, one.aggregate.min_ms);
    assert!((merged.aggregate.avg_ms - one.aggregate.avg_ms).abs() < 1e-9);
    assert!((merged.aggregate.avg_content_size - one.aggregate.avg_content_size).abs() < 1e-9);
    assert_eq!(
        merged.phases, one.phases,
        "the merged phases are those of one collector fed every request"
    );
    assert!(merged.phases.as_ref().unwrap().aggregate.connect.is_some());
    assert_eq!(merged.endpoints.len(), 2);
    for (m, o) in merged.endpoints.iter().zip(&one.endpoints) {
        assert_eq!((&m.method, &m.name), (&o.method, &o.name));
        assert_eq!(m.requests, o.requests);
        assert_eq!(m.percentiles_ms, o.percentiles_ms, "{}", m.name);
        let (a, b) = (
            decode_histogram(&m.histogram).unwrap(),
            decode_histogram(&o.histogram).unwrap(),
        );
        assert_eq!(a, b, "the merged histogram is the one fed every sample");
    }
    let (ms, os) = (
        merged.steady_state.clone().unwrap(),
        one.steady_state.clone().unwrap(),
    );
    assert_eq!(ms.requests, os.requests);
    assert_eq!(
        (ms.p50_ms, ms.p95_ms, ms.p99_ms),
        (os.p50_ms, os.p95_ms, os.p99_ms)
    );
    let (mi, oi) = (
        merged.server_timings.inference.clone().unwrap(),
        one.server_timings.inference.clone().unwrap(),
    );
    assert_eq!(
        (mi.count, mi.p50_ms, mi.p95_ms, mi.p99_ms, mi.max_ms),
        (oi.count, oi.p50_ms, oi.p95_ms, oi.p99_ms, oi.max_ms)
    );
    assert_eq!(merged.failures.len(), one.failures.len());
    assert_eq!(merged.failures[0].count, one.failures[0].count);
    let slow = |r: &RunRecord| -> Vec<f64> { r.slowest[0].traces.iter().map(|t| t.ms).collect() };
    assert_eq!(slow(&merged), slow(&one));
    assert_eq!(merged.sampled.len(), one.sampled.len());
    assert_eq!(merged.users_started, 30);
}

#[test]
fn an_invalid_histogram_is_named() {
    let c = collector(Instant::now());
    let mut r = record_of(&c);
    r.aggregate.histogram = "not base64!".into();
    let e = merge_records(&[&r]).unwrap_err().to_string();
    assert!(
        e.contains("Aggregated") && e.contains("HdrHistogram"),
        "{e}"
    );
    assert!(matches!(merge_records(&[]), Err(MergeError::Empty)));
}

#[test]
fn live_seconds_merge_exactly_and_wait_for_every_running_worker() {
    let start = Instant::now();
    let mut all = collector(start);
    let mut workers = [collector(start), collector(start)];
    let mut merge = LiveMerge::new(2, 30, Duration::from_secs(60));
    let events = samples(3_000);
    let mut merged_points = Vec::new();
    let mut single_points = Vec::new();
    for chunk in events.chunks(1_000) {
        for (i, ev) in chunk.iter().enumerate() {
            workers[i % 2].handle(ev.clone());
            all.handle(ev.clone());
        }
        let shares: Vec<SecondShare> = workers
            .iter_mut()
            .map(|c| {
                let p = c.close_second();
                c.second_share(&p)
            })
            .collect();
        single_points.push(all.close_second());
        let [a, b]: [SecondShare; 2] = shares.try_into().unwrap();
        assert!(
            merge.push(0, a).unwrap().is_empty(),
            "worker 1 has not sent it yet"
        );
        merged_points.extend(merge.push(1, b).unwrap());
    }
    assert_eq!(merged_points.len(), 3);
    for (m, o) in merged_points.iter().zip(&single_points) {
        assert_eq!(m.t, o.t);
        assert_eq!(
            (m.requests, m.total_requests),
            (o.requests, o.total_requests)
        );
        assert_eq!(
            (m.p50_ms, m.p95_ms, m.p99_ms),
            (o.p50_ms, o.p95_ms, o.p99_ms)
        );
        assert_eq!(m.percentiles_ms, o.percentiles_ms);
        assert_eq!(m.total_percentiles_ms, o.total_percentiles_ms);
        assert_eq!(m.total_max_ms, o.total_max_ms);
    }
    // A worker that ends no longer holds seconds back.
    let p = workers[0].close_second();
    assert!(
        merge
            .push(0, workers[0].second_share(&p))
            .unwrap()
            .is_empty()
    );
    assert_eq!(merge.worker_ended(1).len(), 1);
    assert_eq!(merge.snapshot(Duration::ZERO, false).requests, 3_000);
}

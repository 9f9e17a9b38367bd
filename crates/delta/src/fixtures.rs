//! Runs made up for tests: the 300-user fixture record (with its cluster) given a steady
//! timeline of `secs` seconds whose figures follow a seeded noise around chosen levels.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use iris_record::cluster::{ContainerResources, ImageRecord, NodeRecord, PodResources};
use iris_record::{self as record, RunRecord, TimelinePoint};

use super::Run;

/// Levels of a made-up run.
#[derive(Debug, Clone, Copy)]
pub struct Levels {
    pub rps: f64,
    pub p95_ms: f64,
    pub failure_rate: f64,
    pub secs: u64,
    pub seed: u64,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            rps: 100.0,
            p95_ms: 20.0,
            failure_rate: 0.0,
            secs: 60,
            seed: 1,
        }
    }
}

pub fn fixture_record() -> RunRecord {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/runs/300u-cluster.json");
    record::load(&path).expect("the fixture loads")
}

/// A run at `levels`, named `name`: each second's requests, failures and percentiles vary by
/// about 10% (p95 by 15%), and a slow second tends to follow a slow one.
pub fn run(name: &str, levels: Levels) -> Run {
    let mut record = fixture_record();
    let mut rng = StdRng::seed_from_u64(levels.seed);
    let template = record.timeline[0].clone();
    let mut slow = 0.0;
    record.spawn_complete_s = Some(1.5);
    record.duration_s = levels.secs as f64 + 2.2;
    record.timeline = (1..=levels.secs + 3)
        .map(|t| {
            slow = 0.6 * slow + 0.4 * (rng.random::<f64>() - 0.5);
            let requests = (levels.rps * (1.0 + 0.2 * (rng.random::<f64>() - 0.5))).round();
            let p95 = levels.p95_ms * (1.0 + 0.3 * slow + 0.15 * (rng.random::<f64>() - 0.5));
            TimelinePoint {
                t,
                requests: requests as u64,
                failures: (requests * levels.failure_rate).round() as u64,
                p50_ms: Some(p95 / 3.0),
                p95_ms: Some(p95),
                p99_ms: Some(p95 * 1.5),
                ..template.clone()
            }
        })
        .collect();
    Run {
        path: PathBuf::from(name),
        record,
    }
}

/// Gives a run's cluster an image, requests and limits, a node type and an HPA spec.
pub fn deployed(r: &mut Run, image: &str, cpu: f64, node: &str, max: u32) {
    let c = r.record.cluster.as_mut().unwrap();
    c.images = vec![ImageRecord {
        container: "api".into(),
        image: image.into(),
        image_id: Some(format!("{image}@sha256:{}", "ab".repeat(32))),
        pods: 3,
    }];
    c.pod_resources = Some(PodResources {
        containers: vec![ContainerResources {
            container: "api".into(),
            cpu_request_millis: Some(cpu),
            cpu_limit_millis: Some(cpu * 2.0),
            memory_request_bytes: Some(256.0 * 1024.0 * 1024.0),
            memory_limit_bytes: None,
        }],
    });
    c.nodes = vec![NodeRecord {
        name: "n1".into(),
        instance_type: Some(node.into()),
        pods: 3,
    }];
    c.hpa_spec = Some(
        serde_json::from_value(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "iris"},
            "minReplicas": 2, "maxReplicas": max,
        }))
        .unwrap(),
    );
}

/// Gives a run's pods metrics that follow its load: 2 pods for the first half, 4 after, each
/// using `idle + per_rps x its requests/s` millicores, under an HPA with a 60% CPU target of
/// 500m requests (so the autoscaling analysis fits a per-pod capacity).
pub fn metered(r: &mut Run, idle: f64, per_rps: f64) {
    deployed(r, "iris:1.0", 500.0, "e2-standard-2", 10);
    // The requests/s of the 15 s metrics window ending at `t`, as the analysis measures it.
    let timeline: Vec<(u64, f64)> = r
        .record
        .timeline
        .iter()
        .map(|p| (p.t, p.requests as f64))
        .collect();
    let rps = move |t: u64| {
        let w: Vec<f64> = timeline
            .iter()
            .filter(|(s, _)| *s + 15 > t && *s <= t)
            .map(|s| s.1)
            .collect();
        w.iter().sum::<f64>() / w.len() as f64
    };
    let secs = r.record.timeline.len() as f64;
    let c = r.record.cluster.as_mut().unwrap();
    c.hpa_spec = Some(
        serde_json::from_value(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "iris"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 60}}}]
        }))
        .unwrap(),
    );
    c.pods_started.clear();
    c.samples = (16..secs as u64)
        .step_by(8)
        .flat_map(|t| {
            let pods = if (t as f64) < secs / 2.0 { 2 } else { 4 };
            let rps = rps.clone();
            (0..pods).map(move |i| record::cluster::PodSampleRecord {
                t_s: t as f64,
                pod: format!("iris-{i}"),
                cpu_millis: idle + per_rps * rps(t) / f64::from(pods),
                cpu_pct_of_request: None,
                memory_bytes: 1e8,
                window_s: Some(15.0),
                window_end_s: None,
            })
        })
        .collect();
    for p in &mut r.record.timeline {
        p.cluster = None;
    }
}

/// Splits each second of a run among its endpoints as a run of this version records them:
/// `POST /predict` gets 60% of the requests at the second's percentiles times `predict_factor`,
/// every other endpoint an equal part of the rest at the second's percentiles.
pub fn per_endpoint(r: &mut Run, predict_factor: f64) {
    let endpoints: Vec<(String, String)> = r
        .record
        .endpoints
        .iter()
        .map(|e| (e.method.clone(), e.name.clone()))
        .collect();
    let others = (endpoints.len() - 1) as f64;
    for p in &mut r.record.timeline {
        let (requests, failures) = (p.requests as f64, p.failures as f64);
        let (p50, p95, p99) = (p.p50_ms, p.p95_ms, p.p99_ms);
        p.endpoints = endpoints
            .iter()
            .map(|(method, name)| {
                let predict = name == "/predict";
                let (share, factor) = if predict {
                    (0.6, predict_factor)
                } else {
                    (0.4 / others, 1.0)
                };
                record::EndpointSecond {
                    method: method.clone(),
                    name: name.clone(),
                    requests: (requests * share).round() as u64,
                    failures: (failures * share).round() as u64,
                    p50_ms: p50.map(|v| v * factor),
                    p95_ms: p95.map(|v| v * factor),
                    p99_ms: p99.map(|v| v * factor),
                }
            })
            .collect();
    }
}

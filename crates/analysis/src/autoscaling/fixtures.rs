//! A run whose truth the tests build themselves (not through the HPA model), for the analysis'
//! tests and the rendering's:
//! pods that use `20 + 4 x requests/s` millicores, a rise from 20 to 100 requests/s at 40 s, the
//! HPA (the story's, written by hand) going 2 -> 4 at 60 s, new pods created at 61 s and Ready
//! 14 s later, p95 doubling while each pod takes more than 30 requests/s.

use super::*;
use crate::view::Second;
use iris_record::cluster::{
    ClusterRecord, ContainerResources, PodResources, PodSampleRecord, PodStartRecord,
    ScalingEventRecord,
};

pub const IDLE: f64 = 20.0;
pub const PER_RPS: f64 = 4.0;

fn rps_at(t: u64) -> f64 {
    if t < 40 { 20.0 } else { 100.0 }
}

fn ready_at(t: u64) -> u32 {
    if t < 75 { 2 } else { 4 }
}

pub fn story() -> RunView {
    let mut timeline = Vec::new();
    for t in 1..=180u64 {
        let per_pod = rps_at(t) / f64::from(ready_at(t));
        timeline.push(Second {
            t,
            requests: rps_at(t) as u64,
            rps: rps_at(t),
            failures: u64::from(t == 50),
            p95_ms: Some(if per_pod > 30.0 { 40.0 } else { 10.0 }),
            replicas: Some(if t < 60 { 2 } else { 4 }),
            ready_pods: Some(ready_at(t)),
            cpu_pct: Some((IDLE + PER_RPS * per_pod) / 200.0 * 100.0),
            cpu_target_pct: Some(60.0),
            ..Second::default()
        });
    }
    let mut samples = Vec::new();
    for k in 1..=12u64 {
        let t = k * 15;
        // The window's rate, from the per-second counts.
        let rate = ((t - 14)..=t).map(rps_at).sum::<f64>() / 15.0;
        let pods = if t >= 75 { 4 } else { 2 };
        for p in 0..pods {
            let new = p >= 2;
            let cpu = if new && t < 90 {
                IDLE
            } else {
                IDLE + PER_RPS * rate / f64::from(ready_at(t).min(pods))
            };
            samples.push(PodSampleRecord {
                t_s: t as f64,
                pod: format!("pod-{p}"),
                cpu_millis: cpu,
                cpu_pct_of_request: Some(cpu / 2.0),
                memory_bytes: (100 << 20) as f64 + t as f64 * 1024.0,
                window_s: None,
                window_end_s: None,
            });
        }
    }
    let mib = 1048576.0;
    RunView {
        users: 100,
        avg_rps: 90.0,
        timeline,
        cluster: Some(ClusterRecord {
            min_replicas: Some(2),
            max_replicas: Some(15),
            cpu_target_pct: Some(60),
            max_pods: 4,
            scaling_events: vec![ScalingEventRecord {
                t_s: 60.0,
                from: 2,
                to: 4,
                reason: "cpu above target".into(),
            }],
            pods_started: (2..4)
                .map(|p| PodStartRecord {
                    pod: format!("pod-{p}"),
                    created_s: 61.0,
                    scheduled_after_s: Some(2.0),
                    started_after_s: Some(8.0),
                    ready_after_s: Some(14.0),
                    observed_ready_s: Some(75.0),
                })
                .collect(),
            samples,
            pod_resources: Some(PodResources {
                containers: vec![ContainerResources {
                    container: "app".into(),
                    cpu_request_millis: Some(200.0),
                    cpu_limit_millis: Some(1000.0),
                    memory_request_bytes: Some(128.0 * mib),
                    memory_limit_bytes: Some(512.0 * mib),
                }],
            }),
            ..ClusterRecord::default()
        }),
        ..RunView::default()
    }
}

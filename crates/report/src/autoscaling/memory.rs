//! Memory pressure (the guide's second bottleneck): memory per pod against its request and
//! limit, its growth with the requests served, restarts and OOM kills.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::view::RunView;
use iris_record::cluster::RestartRecord;

/// Above this share of the limit a pod is close to being OOM-killed.
pub const PRESSURE_PCT_OF_LIMIT: f64 = 90.0;

/// One pod's memory over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodMemory {
    pub pod: String,
    pub first_bytes: f64,
    pub peak_bytes: f64,
    pub peak_pct_of_request: Option<f64>,
    pub peak_pct_of_limit: Option<f64>,
    /// Growth from its first to its last sample per 1000 requests it served (its share of the
    /// run's requests in between); absent with one sample.
    pub bytes_per_1000_requests: Option<f64>,
}

/// The run's memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub request_bytes: Option<f64>,
    pub limit_bytes: Option<f64>,
    pub peak_bytes: Option<f64>,
    pub peak_pct_of_request: Option<f64>,
    pub peak_pct_of_limit: Option<f64>,
    /// Median over pods.
    pub bytes_per_1000_requests: Option<f64>,
    pub pods: Vec<PodMemory>,
    pub restarts: u32,
    pub oom_kills: u32,
    /// Each restart: pod, time, how its last run ended.
    pub restart_events: Vec<RestartRecord>,
}

/// Requests the run had served by second `t_s`.
fn served_by(run: &RunView, t_s: f64) -> f64 {
    run.timeline
        .iter()
        .filter(|s| (s.t as f64) <= t_s)
        .map(|s| s.requests as f64)
        .sum()
}

fn pct(value: f64, of: Option<f64>) -> Option<f64> {
    of.filter(|o| *o > 0.0).map(|o| value / o * 100.0)
}

/// The memory of one run; `None` without cluster data.
pub fn memory(run: &RunView) -> Option<Memory> {
    let cluster = run.cluster.as_ref()?;
    let resources = cluster.pod_resources.as_ref();
    let request = resources.and_then(|r| r.memory_request_bytes());
    let limit = resources.and_then(|r| r.memory_limit_bytes());
    let mut by_pod: BTreeMap<&str, Vec<(f64, f64, u32)>> = BTreeMap::new();
    let mut pods_at: BTreeMap<u64, u32> = BTreeMap::new();
    for s in &cluster.samples {
        *pods_at.entry((s.t_s * 10.0).round() as u64).or_default() += 1;
    }
    for s in &cluster.samples {
        let sharing = pods_at[&((s.t_s * 10.0).round() as u64)];
        by_pod
            .entry(&s.pod)
            .or_default()
            .push((s.t_s, s.memory_bytes, sharing));
    }
    let pods: Vec<PodMemory> = by_pod
        .into_iter()
        .map(|(pod, samples)| {
            let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
            let (first, last) = (samples[0], samples[samples.len() - 1]);
            // Its share of the requests served between its first and last sample.
            let served = (served_by(run, last.0) - served_by(run, first.0))
                / f64::from(first.2.max(last.2).max(1));
            PodMemory {
                pod: pod.to_string(),
                first_bytes: first.1,
                peak_bytes: peak,
                peak_pct_of_request: pct(peak, request),
                peak_pct_of_limit: pct(peak, limit),
                bytes_per_1000_requests: (samples.len() > 1 && served > 0.0)
                    .then(|| (last.1 - first.1) / served * 1000.0),
            }
        })
        .collect();
    let peak = pods.iter().map(|p| p.peak_bytes).reduce(f64::max);
    let mut growth: Vec<f64> = pods
        .iter()
        .filter_map(|p| p.bytes_per_1000_requests)
        .collect();
    growth.sort_by(f64::total_cmp);
    Some(Memory {
        request_bytes: request,
        limit_bytes: limit,
        peak_bytes: peak,
        peak_pct_of_request: peak.and_then(|p| pct(p, request)),
        peak_pct_of_limit: peak.and_then(|p| pct(p, limit)),
        bytes_per_1000_requests: growth.get(growth.len() / 2).copied(),
        pods,
        restarts: cluster.restarts,
        oom_kills: cluster.oom_kills,
        restart_events: cluster.restart_events.clone(),
    })
}

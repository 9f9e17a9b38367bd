//! Run records -> the report's view of each run, and the choice of runs to report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::view::{
    ClusterView, FailureCount, PodStart, RunView, ScalingEvent, Second, SlowRequest,
    TimingBreakdown,
};
use crate::error::Error;
use crate::record::cluster::{ClusterRecord, ClusterSecond, EXTENSION, MISSED_EXTENSION};
use crate::record::{self, RunRecord, RunStatus};

/// How many of the slowest requests the report lists per run.
pub const SLOWEST_LISTED: usize = 10;

/// The report's view of one record.
pub fn run_view(record: &RunRecord, file: &str) -> RunView {
    let agg = &record.aggregate;
    let endpoint = |method: &str, name: &str| format!("{method} {name}");
    let mut failure_reasons: Vec<FailureCount> = record
        .failures
        .iter()
        .map(|f| FailureCount {
            endpoint: endpoint(&f.method, &f.name),
            reason: f.reason.to_string(),
            count: f.count,
        })
        .collect();
    failure_reasons.sort_by_key(|f| std::cmp::Reverse(f.count));

    let predict = record
        .endpoints
        .iter()
        .find(|e| e.method == "POST" && e.name == "/predict");
    let timing = match (
        predict,
        &record.server_timings.total,
        &record.server_timings.inference,
    ) {
        (Some(e2e), Some(total), Some(inference)) if e2e.requests > 0 => Some(TimingBreakdown {
            e2e_p50_ms: e2e.percentile("50%"),
            e2e_p95_ms: e2e.percentile("95%"),
            server_p50_ms: total.p50_ms,
            server_p95_ms: total.p95_ms,
            inference_p50_ms: inference.p50_ms,
            inference_p95_ms: inference.p95_ms,
        }),
        _ => None,
    };

    let mut slowest: Vec<SlowRequest> = record
        .slowest
        .iter()
        .flat_map(|s| {
            s.traces.iter().map(|t| SlowRequest {
                endpoint: endpoint(&s.method, &s.name),
                latency_ms: t.ms,
                trace_id: t.trace_id.clone(),
            })
        })
        .collect();
    slowest.sort_by(|a, b| b.latency_ms.total_cmp(&a.latency_ms));
    slowest.truncate(SLOWEST_LISTED);

    let timeline: Vec<Second> = record
        .timeline
        .iter()
        .map(|p| {
            let cluster: Option<ClusterSecond> = p
                .extensions
                .get(EXTENSION)
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            Second {
                t: p.t,
                users: u64::from(p.users),
                requests: p.requests,
                failures: p.failures,
                rps: p.rps,
                p95_ms: p.p95_ms,
                replicas: cluster.as_ref().and_then(|c| c.replicas),
                ready_pods: cluster.as_ref().map(|c| c.ready_pods),
                cpu_pct: cluster.as_ref().and_then(|c| c.cpu_pct.map(f64::from)),
            }
        })
        .collect();

    RunView {
        file: file.to_string(),
        label: record
            .label
            .clone()
            .unwrap_or_else(|| format!("{} users", record.params.users)),
        users: u64::from(record.params.users),
        user_class: record.params.user_class.clone(),
        target: record.target.clone(),
        started: record.started_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        duration_s: record.duration_s,
        interrupted: record.status == RunStatus::Interrupted,
        requests: agg.requests,
        failures: agg.failures,
        failure_rate: agg.failure_ratio(),
        avg_ms: agg.avg_ms,
        p50_ms: agg.percentile("50%"),
        p95_ms: agg.percentile("95%"),
        p99_ms: agg.percentile("99%"),
        max_ms: agg.max_ms,
        avg_rps: record.throughput.total_rps,
        peak_rps: timeline.iter().map(|s| s.rps).fold(0.0, f64::max),
        theoretical_max_rps: Some(record.throughput.theoretical_max_rps).filter(|v| *v > 0.0),
        failure_reasons,
        timing,
        slowest,
        timeline,
        cluster: record
            .extensions
            .get(EXTENSION)
            .and_then(|v| serde_json::from_value::<ClusterRecord>(v.clone()).ok())
            .map(|c| cluster_view(&c)),
        cluster_missed: record
            .extensions
            .get(MISSED_EXTENSION)
            .and_then(|v| v.as_str())
            .map(str::to_string),
    }
}

fn cluster_view(c: &ClusterRecord) -> ClusterView {
    ClusterView {
        max_pods: c.max_pods,
        min_replicas: c.min_replicas,
        max_replicas: c.max_replicas,
        cpu_target_pct: c.cpu_target_pct,
        first_scale_up_s: c.first_scale_up_s,
        pod_startup_median_s: c.pod_startup_median_s,
        pod_startup_max_s: c.pod_startup_max_s,
        peak_cpu_pct: c.peak_cpu_pct,
        scaling_events: c
            .scaling_events
            .iter()
            .map(|e| ScalingEvent {
                t_s: e.t_s,
                from: e.from,
                to: e.to,
                reason: e.reason.clone(),
            })
            .collect(),
        pods_started: c
            .pods_started
            .iter()
            .map(|p| PodStart {
                name: p.pod.clone(),
                created_s: p.created_s,
                ready_s: p.observed_ready_s,
            })
            .collect(),
        new_pod_cpu_share: c.new_pod_cpu_share,
        restarts: c.restarts,
        oom_kills: c.oom_kills,
        missed: c.missed.clone(),
    }
}

/// Loads the named records, each error naming its file.
pub fn load_views(paths: &[PathBuf]) -> Result<Vec<RunView>, Error> {
    paths
        .iter()
        .map(|p| {
            let record = record::load(p)?;
            let file = p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Ok(run_view(&record, &file))
        })
        .collect()
}

/// The latest record of each distinct user count in `dir`, by start time.
pub fn latest_per_user_count(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::RunsDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut latest: BTreeMap<u32, (jiff::Timestamp, PathBuf)> = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json")
            || crate::trace::file::is_traces_file(&path)
        {
            continue;
        }
        // Every .json here is meant to be a record: a broken one is an error that names it.
        let record = record::load(&path)?;
        let slot = latest.entry(record.params.users);
        let newer = match &slot {
            std::collections::btree_map::Entry::Occupied(o) => record.started_at > o.get().0,
            std::collections::btree_map::Entry::Vacant(_) => true,
        };
        if newer {
            latest.insert(record.params.users, (record.started_at, path));
        }
    }
    Ok(latest.into_values().map(|(_, p)| p).collect())
}

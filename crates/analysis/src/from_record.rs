//! Run records -> the report's view of each run, and the choice of runs to report.

use std::path::PathBuf;

use super::view::{ArrivalView, FailureCount, RunView, Second, SlowRequest, TimingBreakdown};
use iris_record::{self as record, Percentile, RunRecord, RunStatus};

/// How many of the slowest requests the report lists per run.
pub const SLOWEST_LISTED: usize = 10;
/// Points of the latency curve per halving of the distance to 100% (HdrHistogram's default).
pub const CURVE_TICKS: u32 = 5;

/// The report's view of one record.
pub fn run_view(record: &RunRecord, file: &str) -> RunView {
    let agg = &record.aggregate;
    let timeline = timeline(record);
    let mut view = RunView {
        file: file.to_string(),
        label: String::new(),
        load: String::new(),
        users: u64::from(record.params.users),
        user_class: record.params.user_class.clone(),
        target: record.target.clone(),
        started: record.started_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        duration_s: record.duration_s,
        interrupted: record.status == RunStatus::Interrupted,
        no_answer: record::answered::no_answer(record)
            .map(|why| format!("no response: the host {}", why.why())),
        requests: agg.requests,
        failures: agg.failures,
        failure_rate: agg.failure_ratio(),
        avg_ms: agg.avg_ms,
        // A run without requests has no percentiles: the view shows 0 ms.
        p50_ms: agg.percentile(Percentile::P50).unwrap_or_default(),
        p95_ms: agg.percentile(Percentile::P95).unwrap_or_default(),
        p99_ms: agg.percentile(Percentile::P99).unwrap_or_default(),
        max_ms: agg.max_ms,
        avg_rps: record.throughput.total_rps,
        peak_rps: timeline.iter().map(|s| s.rps).fold(0.0, f64::max),
        theoretical_max_rps: theoretical_max_rps(record, &timeline),
        full_users_reached: record.spawn_complete_s.is_some(),
        steady_state: record.steady_state.clone(),
        failure_reasons: failure_reasons(record),
        timing: timing(record),
        phases: super::breakdown::phase_breakdown(record),
        slowest: slowest(record),
        timeline,
        latency_curve: record::histogram::percentile_curve(&agg.histogram, CURVE_TICKS),
        cluster: record.cluster.clone(),
        cluster_missed: record.cluster_not_watched.as_ref().map(ToString::to_string),
        workers: record.distributed.clone(),
        arrivals: record.arrivals.as_ref().map(|a| {
            let service = |p| a.service.as_ref().and_then(|s| s.percentile(p));
            ArrivalView {
                rate: a.rate,
                intended_rate: a.intended_rate,
                achieved_rate: a.achieved_rate,
                dropped: a.dropped,
                dropped_per_s: a.dropped_per_s,
                max_in_flight: a.max_in_flight,
                queue: a.queue,
                service_p50_ms: service(Percentile::P50),
                service_p95_ms: service(Percentile::P95),
                service_p99_ms: service(Percentile::P99),
            }
        }),
        stages: record.params.stages.clone(),
        pod_errors: super::pod_errors::view(record),
    };
    view.load = view.load_text();
    view.label = label(record);
    view
}

/// A run's name: its `--label`, else its load (`150 users`, `100 -> 300 users` for stages,
/// `200 arrivals/s`), as the report names it.
pub fn label(record: &RunRecord) -> String {
    record.label.clone().unwrap_or_else(|| {
        RunView {
            users: u64::from(record.params.users),
            stages: record.params.stages.clone(),
            arrivals: record.arrivals.as_ref().map(|a| ArrivalView {
                rate: a.rate,
                ..Default::default()
            }),
            ..Default::default()
        }
        .load_text()
    })
}

/// users / mean(wait + response time). The record's figure counts every user the run
/// started; a staged run's users changed, so its bound is that of the users of each (full)
/// second on average, the figure its average rate compares with.
fn theoretical_max_rps(record: &RunRecord, timeline: &[Second]) -> Option<f64> {
    let max = Some(record.throughput.theoretical_max_rps).filter(|v| *v > 0.0)?;
    if record.params.stages.is_empty() || record.arrivals.is_some() {
        return Some(max);
    }
    let users: Vec<f64> = timeline
        .iter()
        .filter(|s| s.t as f64 <= record.duration_s)
        .map(|s| s.users as f64)
        .collect();
    if users.is_empty() || record.users_started == 0 {
        return None;
    }
    let mean = users.iter().sum::<f64>() / users.len() as f64;
    Some(max * mean / f64::from(record.users_started))
}

fn endpoint(method: &str, name: &str) -> String {
    format!("{method} {name}")
}

/// Failures by reason, most first.
fn failure_reasons(record: &RunRecord) -> Vec<FailureCount> {
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
    failure_reasons
}

/// `/predict`'s end-to-end latency against the server's own timings: `/predict`'s by the
/// record's phases, else the run's (which older records kept of `/predict` only).
fn timing(record: &RunRecord) -> Option<TimingBreakdown> {
    let predict = record
        .endpoints
        .iter()
        .find(|e| e.method == "POST" && e.name == "/predict");
    let own = record
        .phases
        .as_ref()
        .and_then(|p| p.endpoint("POST", "/predict"))
        .filter(|p| p.server.is_some() && p.model.is_some());
    let (total, inference) = match own {
        Some(p) => (&p.server, &p.model),
        None => (
            &record.server_timings.total,
            &record.server_timings.inference,
        ),
    };
    match (predict, total, inference) {
        (Some(e2e), Some(total), Some(inference)) if e2e.requests > 0 => Some(TimingBreakdown {
            // Present: the endpoint had requests.
            e2e_p50_ms: e2e.percentile(Percentile::P50).unwrap_or_default(),
            e2e_p95_ms: e2e.percentile(Percentile::P95).unwrap_or_default(),
            server_p50_ms: total.p50_ms,
            server_p95_ms: total.p95_ms,
            inference_p50_ms: inference.p50_ms,
            inference_p95_ms: inference.p95_ms,
        }),
        _ => None,
    }
}

/// The slowest requests of all endpoints, slowest first.
fn slowest(record: &RunRecord) -> Vec<SlowRequest> {
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
    slowest
}

fn timeline(record: &RunRecord) -> Vec<Second> {
    record
        .timeline
        .iter()
        .map(|p| {
            let cluster = p.cluster.as_ref();
            let phases = p.phases.as_ref();
            Second {
                new_connections: phases.map(|s| s.new_connections),
                connect_p50_ms: phases.and_then(|s| s.connect_p50_ms),
                new_waiting_p50_ms: phases.and_then(|s| s.new_waiting_p50_ms),
                waiting_p50_ms: phases.and_then(|s| s.waiting_p50_ms),
                t: p.t,
                users: u64::from(p.users),
                requests: p.requests,
                failures: p.failures,
                rps: p.rps,
                failures_per_s: p.failures_per_s,
                p50_ms: p.p50_ms,
                p95_ms: p.p95_ms,
                p99_ms: p.p99_ms,
                replicas: cluster.and_then(|c| c.replicas),
                desired: cluster.and_then(|c| c.desired),
                ready_pods: cluster.map(|c| c.ready_pods),
                cpu_pct: cluster.and_then(|c| c.cpu_pct.map(f64::from)),
                cpu_target_pct: cluster.and_then(|c| c.cpu_target_pct.map(f64::from)),
                intended: p.arrivals.as_ref().map(|a| a.intended),
                dropped: p.arrivals.as_ref().map(|a| a.dropped),
            }
        })
        .collect()
}

/// Loads the named records, each error naming its file.
pub fn load_views(paths: &[PathBuf]) -> Result<Vec<RunView>, iris_record::ReadError> {
    paths
        .iter()
        .map(|p| {
            let record = record::load(p)?;
            Ok(run_view(&record, &iris_record::locations::file_name(p)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 300-user fixture (1 s at 100 users, 1 s at 200, 6 s at 300), with `stages` when given.
    fn fixture(stages: Option<serde_json::Value>) -> RunRecord {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/runs/300u.json")).unwrap();
        if let Some(stages) = stages {
            v["params"]["stages"] = stages;
        }
        record::parse(&v.to_string()).unwrap()
    }

    #[test]
    fn a_staged_run_is_named_by_its_stages_and_bounded_by_its_users_of_each_second() {
        let plain = run_view(&fixture(None), "a.json");
        assert_eq!(
            (plain.label.as_str(), plain.load.as_str()),
            ("300 users", "300 users")
        );
        let max = plain.theoretical_max_rps.unwrap();
        let staged = run_view(
            &fixture(Some(serde_json::json!([
                {"duration_s": 1.0, "target": 100.0},
                {"duration_s": 1.0, "target": 200.0},
                {"duration_s": 6.0, "target": 300.0}
            ]))),
            "b.json",
        );
        assert_eq!(staged.label, "100 -> 200 -> 300 users");
        assert_eq!(
            label(&fixture(Some(
                serde_json::json!([{"duration_s": 8.0, "target": 300.0}])
            ))),
            "300 users (stages)"
        );
        let users: Vec<u64> = staged.timeline.iter().map(|s| s.users).collect();
        let mean = users.iter().sum::<u64>() as f64 / users.len() as f64;
        assert!(mean < 300.0, "{users:?}");
        let bound = staged.theoretical_max_rps.unwrap();
        assert!((bound - max * mean / 300.0).abs() < 1e-9, "{bound} {max}");
    }
}

//! The end of the pipeline's measuring half: the collector and the engine's end -> one
//! [`RunRecord`].

use jiff::Timestamp;

use super::plan::{RunPlan, Thresholds};
use iris_loadgen::{LoadPlan, RunEnd, stages_followed};
use iris_record::shape::StageRecord;
use iris_record::{
    self as record, EndpointRecord, Percentile, RunParams, RunRecord, RunStatus, ThresholdKind,
    ThresholdResult, Throughput,
};
use iris_stats::Collector;

/// The run record: the plan, what the collector measured, and the thresholds' verdicts.
pub fn build(
    run: &RunPlan,
    host: &reqwest::Url,
    c: &Collector,
    end: RunEnd,
    started_utc: Timestamp,
) -> RunRecord {
    let plan = &run.load;
    let aggregate = c.aggregate_record();
    let wait = plan.class.wait;
    let cycle = wait.mean() + aggregate.avg_ms / 1e3;
    // The closed-loop bound; the open model's rate is its schedule's.
    let theoretical_max_rps = if cycle > 0.0 && plan.open.is_none() {
        f64::from(end.users_started) / cycle
    } else {
        0.0
    };
    let thresholds = thresholds(&run.thresholds, &aggregate);
    RunRecord {
        schema_version: record::SCHEMA_VERSION,
        tool: concat!("iris-lab ", env!("CARGO_PKG_VERSION")).to_string(),
        label: run.label.clone(),
        status: if end.interrupted {
            RunStatus::Interrupted
        } else {
            RunStatus::Completed
        },
        target: host.to_string(),
        params: RunParams {
            users: plan.users,
            spawn_rate: plan.spawn_rate,
            duration_s: plan.duration.as_secs_f64(),
            user_class: plan.class.name.clone(),
            scenario: run.scenario.clone(),
            wait_min_s: wait.min,
            wait_max_s: wait.max,
            timeout_s: plan.timeout.as_secs_f64(),
            connection_max_requests: plan.connection.max_requests,
            connection_max_age_s: plan.connection.max_age.map(|d| d.as_secs_f64()),
            stages: stages(plan, c),
            arrival_rate: plan.open.as_ref().map(|o| o.rate),
            trace_sample: Some(plan.trace_sample),
        },
        started_at: started_utc,
        ended_at: Timestamp::now(),
        duration_s: c.run_secs(),
        users_started: end.users_started,
        spawn_complete_s: c.spawn_complete_secs(),
        endpoints: c.endpoint_records(),
        throughput: Throughput {
            total_rps: aggregate.rps,
            steady_rps: c.steady_rps(),
            theoretical_max_rps,
        },
        steady_state: c.steady_state(),
        sampled: c.sampled_records(),
        arrivals: c.arrival_record(),
        aggregate,
        failures: c.failure_records(),
        server_timings: c.server_timings(),
        phases: Some(c.phase_record()),
        slowest: c.slowest_records(),
        thresholds,
        timeline: c.timeline().to_vec(),
        cluster: None,
        pod_errors: None,
        cluster_not_watched: None,
        distributed: None,
        worker: None,
        extensions: Default::default(),
    }
}

/// The stages planned or, when the users' target changed during the run, the shape the run
/// followed (so that `report` reads a changed run as a staged one).
fn stages(plan: &LoadPlan, c: &Collector) -> Vec<StageRecord> {
    let changes = c.swarm_changes();
    if changes.is_empty() {
        return plan
            .stages
            .iter()
            .flat_map(|s| &s.0)
            .map(|s| StageRecord {
                duration_s: s.duration.as_secs_f64(),
                target: s.target,
            })
            .collect();
    }
    let followed = stages_followed(
        plan.stages.as_ref(),
        plan.users,
        plan.spawn_rate,
        changes,
        c.run_secs(),
    );
    followed
        .into_iter()
        .map(|(duration_s, target)| StageRecord { duration_s, target })
        .collect()
}

/// The verdict of each threshold that was set.
pub(super) fn thresholds(limits: &Thresholds, aggregate: &EndpointRecord) -> Vec<ThresholdResult> {
    let mut thresholds = Vec::new();
    if let Some(limit) = limits.max_failure_rate {
        thresholds.push(ThresholdResult::at_most(
            ThresholdKind::MaxFailureRate,
            limit,
            aggregate.failure_ratio(),
        ));
    }
    if let Some(limit) = limits.max_p95 {
        // No requests, no slow ones: 0 ms.
        let actual = aggregate.percentile(Percentile::P95).unwrap_or(0.0);
        thresholds.push(ThresholdResult::at_most(
            ThresholdKind::MaxP95,
            limit.as_secs_f64() * 1e3,
            actual,
        ));
    }
    thresholds
}

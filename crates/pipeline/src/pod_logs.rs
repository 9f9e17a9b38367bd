//! After a run that saw failures or restarts: the pods' error lines of the run's window, read
//! from their logs (`sinceTime` = the run's start, bounded per container by `limitBytes` and
//! `tailLines`, streamed line by line, never the whole log; the previous instance too for a
//! container that restarted), grouped by message for the record. A log that cannot be read is
//! a gap in the record, never a failure of the run.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use iris_base::chain::one_line;
use iris_cluster::log_errors::Grouper;
use iris_cluster::reads::LogBounds;
use iris_cluster::{Cluster, ClusterError};
use iris_record::RunRecord;
use iris_record::pod_errors::{LogGap, PodErrors};

/// Bytes read at most per container log.
pub const LOG_BYTES: i64 = 1024 * 1024;
/// Lines read at most per container log (the last ones of the window).
pub const LOG_LINES: i64 = 10_000;
/// All reads together end within this.
const READ_LIMIT: Duration = Duration::from_secs(60);

/// Why the logs are worth reading, or `None` when the run saw neither failures nor restarts.
pub fn reason(record: &RunRecord) -> Option<String> {
    let failures = record.aggregate.failures;
    let restarts = record.cluster.as_ref().map_or(0, |c| c.restarts);
    let mut why = Vec::new();
    if failures > 0 {
        why.push(format!("{failures} failed requests"));
    }
    if restarts > 0 {
        why.push(format!("{restarts} container restarts"));
    }
    (!why.is_empty()).then(|| why.join(", "))
}

fn gap_reason(e: &ClusterError) -> String {
    match e {
        ClusterError::Forbidden {
            can_i, namespace, ..
        } => format!("not allowed: `kubectl auth can-i {can_i} -n {namespace}` says no"),
        other => one_line(other),
    }
}

/// The containers to read: each container's current log, and its previous one when it
/// restarted.
fn logs_of(pod: &Pod) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        out.push((c.name.clone(), false));
        let restarted = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|s| s.name == c.name))
            .is_some_and(|s| s.restart_count > 0);
        if restarted {
            out.push((c.name.clone(), true));
        }
    }
    out
}

/// Reads and groups the error lines, when the run saw failures or restarts.
pub async fn read(cluster: &Cluster, record: &RunRecord) -> Option<PodErrors> {
    let because = reason(record)?;
    let mut errors = PodErrors {
        from: record.started_at,
        to: record.ended_at,
        because,
        ..Default::default()
    };
    let mut grouper = Grouper::new(record.started_at, record.started_at, record.ended_at);
    let reading = read_all(cluster, record, &mut errors, &mut grouper);
    if tokio::time::timeout(READ_LIMIT, reading).await.is_err() {
        errors.gaps.push(LogGap {
            log: "the rest".into(),
            reason: format!("not read within {} s", READ_LIMIT.as_secs()),
        });
    }
    errors.lines = grouper.lines;
    errors.error_lines = grouper.error_lines;
    errors.groups = grouper.finish();
    Some(errors)
}

async fn read_all(
    cluster: &Cluster,
    record: &RunRecord,
    errors: &mut PodErrors,
    grouper: &mut Grouper,
) {
    let pods = match cluster.pods().await {
        Ok(p) => p,
        Err(e) => {
            errors.gaps.push(LogGap {
                log: "pods".into(),
                reason: gap_reason(&e),
            });
            return;
        }
    };
    let bounds = LogBounds {
        tail_lines: Some(LOG_LINES),
        limit_bytes: LOG_BYTES,
        since: Some(record.started_at),
    };
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        for (container, previous) in logs_of(pod) {
            let log = format!(
                "{name}/{container}{}",
                if previous { " (previous)" } else { "" }
            );
            match cluster.log_lines(pod, &container, previous, bounds).await {
                Ok(text) => {
                    if text.truncated
                        || i64::try_from(text.lines.len()).unwrap_or(i64::MAX) >= LOG_LINES
                    {
                        errors.truncated.push(log.clone());
                    }
                    for line in &text.lines {
                        grouper.add(&name, line);
                    }
                    errors.read.push(log);
                }
                Err(e) => errors.gaps.push(LogGap {
                    log,
                    reason: gap_reason(&e),
                }),
            }
        }
    }
}

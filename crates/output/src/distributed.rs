//! Words for distributed runs: the controller's notes and the workers' part of the summary.

use iris_pipeline::distributed::WorkerNote;
use iris_record::distributed::{DistributedRecord, Placement, WorkerStatus};

pub fn render_worker_note(n: &WorkerNote) -> String {
    match n {
        WorkerNote::Started {
            workers,
            start_at,
            dir,
        } => format!(
            "workers: {workers} started; all start their users at {start_at} (logs in {})",
            dir.display()
        ),
        WorkerNote::Late { index, skew_ms } => {
            format!("worker {index} started its users {skew_ms:.0} ms late")
        }
        WorkerNote::Lost { index, reason } => {
            format!("worker {index} lost: {reason}; the merge goes on without its share")
        }
        WorkerNote::Warning(w) => format!("warning: {w}"),
    }
}

/// The summary's lines about the workers of a merged record.
pub fn render_workers(d: &DistributedRecord) -> String {
    let place = match &d.placement {
        Placement::Local => "local processes".to_string(),
        Placement::Kubernetes { namespace, job } => format!("pods of Job {namespace}/{job}"),
    };
    let mut out = format!(
        "\nWorkers: {} {place}, merged exactly (HdrHistogram)",
        d.workers.len()
    );
    for w in &d.workers {
        let status = match &w.status {
            WorkerStatus::Completed => format!("{} requests", w.requests),
            WorkerStatus::Interrupted => format!("{} requests (interrupted)", w.requests),
            WorkerStatus::Lost {
                reason,
                seen_s,
                missed_s,
            } => format!(
                "LOST after {seen_s} s: {reason}; its {} users' last {missed_s:.0} s are missing and none of its requests are in the totals",
                w.users
            ),
        };
        let skew = w
            .skew_ms
            .map(|s| format!(", started +{s:.0} ms"))
            .unwrap_or_default();
        let pod = match (&w.pod, &w.node) {
            (Some(p), Some(n)) => format!(", pod {p} on {n}"),
            (Some(p), None) => format!(", pod {p}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "\n  worker {}: {} users{skew}{pod}: {status}",
            w.index, w.users
        ));
    }
    for warning in &d.warnings {
        out.push_str(&format!("\nwarning: {warning}"));
    }
    out
}

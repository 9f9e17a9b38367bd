//! "Failures caused by the cluster" (section 6.2): each failure of a kind a cluster event
//! explains (a reset or a close mid-response, a refused connection, a 502/503/504) is counted
//! against the latest such event before it (a pod killed or deleted, a container restarted or
//! OOMKilled, an endpoint removed, a scale-down) within [`WINDOW_S`]; the rest are
//! unexplained. A pure function over a record: its timeline's failures per second by reason,
//! and the cluster events its `cluster` kept.

use serde::{Deserialize, Serialize};

use iris_api::Failure;
use iris_record::RunRecord;
use iris_record::cluster::ClusterRecord;

/// How long after an event its failures may come: Kubernetes' default
/// `terminationGracePeriodSeconds` (30 s: a deleted pod's connections close by then at the
/// latest) plus 5 s of slack.
pub const WINDOW_S: f64 = 35.0;

/// An event may be seen up to this long after the failures it caused (the watch delivers it
/// a moment after it happened; a second of the timeline closes on a tick).
const SEEN_LATE_S: f64 = 0.5;

/// Pod events that take a pod's connections or endpoints away.
const POD_CAUSES: &[&str] = &[
    "Killing",
    "OOMKilling",
    "Evicted",
    "Preempting",
    "Unhealthy",
    "BackOff",
];

/// Failures by the kind a cluster event explains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    /// The connection was reset or closed before a whole response.
    pub reset_or_closed: u64,
    /// The connection was refused (or could not be made).
    pub refused: u64,
    /// The proxy or load balancer answered 502, 503 or 504.
    pub gateway: u64,
    /// Anything else (timeouts, wrong answers): never traced to an event.
    pub other: u64,
}

impl KindCounts {
    pub fn total(&self) -> u64 {
        self.reset_or_closed + self.refused + self.gateway + self.other
    }

    fn add(&mut self, kind: Kind, count: u64) {
        match kind {
            Kind::ResetOrClosed => self.reset_or_closed += count,
            Kind::Refused => self.refused += count,
            Kind::Gateway => self.gateway += count,
            Kind::Other => self.other += count,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ResetOrClosed,
    Refused,
    Gateway,
    Other,
}

impl Kind {
    fn of(failure: &Failure) -> Self {
        match failure {
            Failure::Disconnected => Self::ResetOrClosed,
            Failure::Connect => Self::Refused,
            Failure::Status(502..=504) => Self::Gateway,
            _ => Self::Other,
        }
    }
}

/// One cluster event and the failures counted against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausedFailures {
    /// Seconds since load start when the run saw the event.
    pub t_s: f64,
    /// What happened, e.g. `Killing: Stopping container iris-api-container`.
    pub event: String,
    /// The pod it is about, if one.
    pub pod: Option<String>,
    pub failures: KindCounts,
    pub total: u64,
}

/// The section for one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterFailures {
    /// Every event that may cause failures, in time order, with what it caused (zero too).
    pub events: Vec<CausedFailures>,
    /// Failures no event explains.
    pub unexplained: KindCounts,
    pub unexplained_total: u64,
    pub explained_total: u64,
    /// [`WINDOW_S`], for the text.
    pub window_s: f64,
}

/// The section, when the run watched a cluster and its timeline says each second's failures
/// by reason (older records do not: `None` when they had failures).
pub fn view(record: &RunRecord) -> Option<ClusterFailures> {
    let cluster = record.cluster.as_ref()?;
    let has_reasons = record
        .timeline
        .iter()
        .any(|p| !p.failure_reasons.is_empty());
    if !has_reasons && record.timeline.iter().any(|p| p.failures > 0) {
        return None;
    }
    let mut out = ClusterFailures {
        events: causes(cluster),
        window_s: WINDOW_S,
        ..ClusterFailures::default()
    };
    if out.events.is_empty() && !has_reasons {
        return None;
    }
    for point in &record.timeline {
        for r in &point.failure_reasons {
            let kind = Kind::of(&r.reason);
            let to = (kind != Kind::Other)
                .then(|| cause_of(&out.events, point.t as f64))
                .flatten();
            match to {
                Some(i) => out.events[i].failures.add(kind, r.count),
                None => out.unexplained.add(kind, r.count),
            }
        }
    }
    for e in &mut out.events {
        e.total = e.failures.total();
        out.explained_total += e.total;
    }
    out.unexplained_total = out.unexplained.total();
    Some(out)
}

/// The event a failure of the second ending at `end` (seconds since start) is counted
/// against: the latest one seen before the second's end (or just after it), within the
/// window.
fn cause_of(events: &[CausedFailures], end: f64) -> Option<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.t_s <= end + SEEN_LATE_S && end - 1.0 <= e.t_s + WINDOW_S)
        .max_by(|a, b| a.1.t_s.total_cmp(&b.1.t_s))
        .map(|(i, _)| i)
}

/// The events of a run that may cause failures, in time order.
fn causes(cluster: &ClusterRecord) -> Vec<CausedFailures> {
    let row = |t_s: f64, event: String, pod: Option<String>| CausedFailures {
        t_s,
        event,
        pod,
        failures: KindCounts::default(),
        total: 0,
    };
    let mut out: Vec<CausedFailures> = cluster
        .events
        .iter()
        .filter(|e| e.pod().is_some() && POD_CAUSES.contains(&e.reason.as_str()))
        .map(|e| {
            row(
                e.t_s,
                format!("{}: {}", e.reason, e.message),
                e.pod().map(str::to_string),
            )
        })
        .collect();
    out.extend(cluster.restart_events.iter().map(|r| {
        let why = r.reason.as_deref().unwrap_or("reason not reported");
        row(
            r.t_s,
            format!("container restarted ({why}), restart {}", r.restarts),
            Some(r.pod.clone()),
        )
    }));
    out.extend(
        cluster
            .scaling_events
            .iter()
            .filter(|s| s.to < s.from)
            .map(|s| row(s.t_s, format!("scale-down {} -> {}", s.from, s.to), None)),
    );
    // A rollout scales its old ReplicaSet down without the HPA.
    out.extend(
        cluster
            .events
            .iter()
            .filter(|e| e.reason == "ScalingReplicaSet" && e.message.starts_with("Scaled down"))
            .filter(|e| {
                !cluster
                    .scaling_events
                    .iter()
                    .any(|s| s.to < s.from && (s.t_s - e.t_s).abs() <= 2.0)
            })
            .map(|e| row(e.t_s, format!("{}: {}", e.reason, e.message), None)),
    );
    out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_record::cluster::{KubeEventRecord, RestartRecord, ScalingEventRecord};
    use iris_record::{ReasonCount, TimelinePoint};

    fn record(seconds: &[(u64, Vec<(Failure, u64)>)], cluster: ClusterRecord) -> RunRecord {
        let mut r: RunRecord = iris_record::parse(include_str!(
            "../../../tests/fixtures/runs/300u-cluster.json"
        ))
        .unwrap();
        let template = r.timeline[0].clone();
        r.timeline = (1..=90)
            .map(|t| TimelinePoint {
                t,
                failures: 0,
                failure_reasons: Vec::new(),
                ..template.clone()
            })
            .collect();
        for (t, reasons) in seconds {
            let p = r.timeline.iter_mut().find(|p| p.t == *t).unwrap();
            p.failure_reasons = reasons
                .iter()
                .map(|(reason, count)| ReasonCount {
                    reason: reason.clone(),
                    count: *count,
                })
                .collect();
            p.failures = reasons.iter().map(|r| r.1).sum();
        }
        r.cluster = Some(cluster);
        r
    }

    fn killing(t_s: f64, pod: &str) -> KubeEventRecord {
        KubeEventRecord {
            t_s,
            object: format!("Pod/{pod}"),
            kind: "Normal".into(),
            reason: "Killing".into(),
            message: "Stopping container iris-api-container".into(),
        }
    }

    #[test]
    fn failures_after_an_event_are_counted_against_it_by_kind() {
        let cluster = ClusterRecord {
            events: vec![killing(10.4, "a"), killing(30.2, "b")],
            ..ClusterRecord::default()
        };
        let r = record(
            &[
                (5, vec![(Failure::Disconnected, 2)]),
                (
                    11,
                    vec![
                        (Failure::Disconnected, 7),
                        (Failure::Connect, 1),
                        (Failure::Timeout, 3),
                    ],
                ),
                // Seen a moment before its event arrived.
                (30, vec![(Failure::Status(503), 4)]),
                (80, vec![(Failure::Disconnected, 1)]),
            ],
            cluster,
        );
        let v = view(&r).unwrap();
        assert_eq!(v.events.len(), 2);
        let a = &v.events[0];
        assert_eq!(a.pod.as_deref(), Some("a"));
        assert_eq!((a.failures.reset_or_closed, a.failures.refused), (7, 1));
        assert_eq!(a.total, 8);
        assert_eq!(v.events[1].failures.gateway, 4);
        // Before any event, long after the last one, and timeouts: unexplained.
        assert_eq!(v.unexplained.reset_or_closed, 3);
        assert_eq!(v.unexplained.other, 3);
        assert_eq!((v.explained_total, v.unexplained_total), (12, 6));
    }

    #[test]
    fn a_graceful_deletion_without_failures_is_listed_with_zero() {
        let cluster = ClusterRecord {
            events: vec![killing(12.0, "a")],
            ..ClusterRecord::default()
        };
        let v = view(&record(&[], cluster)).unwrap();
        assert_eq!(v.events.len(), 1);
        assert_eq!((v.events[0].total, v.unexplained_total), (0, 0));
    }

    #[test]
    fn restarts_and_scale_downs_are_causes_too() {
        let cluster = ClusterRecord {
            restart_events: vec![RestartRecord {
                t_s: 20.5,
                pod: "p".into(),
                restarts: 1,
                reason: Some("OOMKilled".into()),
            }],
            scaling_events: vec![
                ScalingEventRecord {
                    t_s: 3.0,
                    from: 2,
                    to: 4,
                    reason: "cpu".into(),
                },
                ScalingEventRecord {
                    t_s: 40.0,
                    from: 4,
                    to: 2,
                    reason: "All metrics below target".into(),
                },
            ],
            events: vec![KubeEventRecord {
                t_s: 40.3,
                object: "Deployment/iris-api".into(),
                kind: "Normal".into(),
                reason: "ScalingReplicaSet".into(),
                message: "Scaled down replica set iris-api-1 from 4 to 2".into(),
            }],
            ..ClusterRecord::default()
        };
        let r = record(
            &[
                (21, vec![(Failure::Disconnected, 3)]),
                (41, vec![(Failure::Status(502), 2)]),
            ],
            cluster,
        );
        let v = view(&r).unwrap();
        let names: Vec<&str> = v.events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            names,
            [
                "container restarted (OOMKilled), restart 1",
                "scale-down 4 -> 2"
            ]
        );
        assert_eq!(v.events[0].failures.reset_or_closed, 3);
        assert_eq!(v.events[1].failures.gateway, 2);
    }

    #[test]
    fn a_record_without_failure_reasons_is_not_traced() {
        let mut r = record(&[], ClusterRecord::default());
        r.timeline[3].failures = 5;
        assert_eq!(view(&r), None);
        r.cluster = None;
        r.timeline[3].failures = 0;
        assert_eq!(view(&r), None);
    }
}

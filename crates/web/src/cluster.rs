//! The Cluster tab's lines: the pods as `kubectl get pods -w` prints them, the HPA's bounds and
//! targets, and the Kubernetes Events (as `kubectl get events`), from the run's cluster watch.
//! Bounded: the page keeps the latest [`LINES_KEPT`] of each.

use std::collections::VecDeque;

use jiff::Timestamp;
use serde::Serialize;

use iris_cluster::watch::{ClusterEvent, EventKind};

/// Lines of each table kept for the page (the oldest go first).
pub const LINES_KEPT: usize = 500;

/// One `kubectl get pods -w` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodLine {
    pub at: Timestamp,
    pub name: String,
    pub ready: String,
    pub status: String,
    pub restarts: i32,
    pub age: String,
}

/// One Kubernetes Event, as `kubectl get events` lists it (its age from `at` on the page).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventLine {
    pub at: Timestamp,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
    /// `Kind/name`.
    pub object: String,
    pub message: String,
}

/// The HPA as `kubectl get hpa` shows it: targets, bounds, replicas.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HpaLine {
    pub name: String,
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub current: Option<i32>,
    pub desired: Option<i32>,
    /// `cpu: 45%/60%`, as kubectl's TARGETS column.
    pub targets: Option<String>,
}

/// The Cluster tab of one run; `fresh` holds what the next tick carries to open pages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterView {
    pub hpa: Option<HpaLine>,
    pub pods: VecDeque<PodLine>,
    pub events: VecDeque<EventLine>,
    #[serde(skip)]
    fresh: Fresh,
}

/// Lines that arrived since the last tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Fresh {
    pub hpa: Option<HpaLine>,
    pub pods: Vec<PodLine>,
    pub events: Vec<EventLine>,
}

fn push_bounded<T: Clone>(lines: &mut VecDeque<T>, fresh: &mut Vec<T>, line: T) {
    if lines.len() == LINES_KEPT {
        lines.pop_front();
    }
    lines.push_back(line.clone());
    if fresh.len() == LINES_KEPT {
        fresh.remove(0);
    }
    fresh.push(line);
}

impl ClusterView {
    /// Takes in what the watch saw; other events (start-up, facts, top) are the charts'.
    pub fn apply(&mut self, event: &ClusterEvent) {
        match &event.kind {
            EventKind::PodLine {
                pod,
                ready,
                status,
                restarts,
                age,
            } => {
                let line = PodLine {
                    at: event.at,
                    name: pod.clone(),
                    ready: ready.clone(),
                    status: status.clone(),
                    restarts: *restarts,
                    age: age.clone(),
                };
                push_bounded(&mut self.pods, &mut self.fresh.pods, line);
            }
            EventKind::Kube {
                object,
                kind,
                reason,
                message,
            } => {
                let line = EventLine {
                    at: event.at,
                    kind: kind.clone(),
                    reason: reason.clone(),
                    object: object.clone(),
                    message: message.clone(),
                };
                push_bounded(&mut self.events, &mut self.fresh.events, line);
            }
            kind => {
                if self.apply_hpa(kind) {
                    self.fresh.hpa = self.hpa.clone();
                }
            }
        }
    }

    /// The HPA's bounds, replicas and targets; whether anything changed.
    fn apply_hpa(&mut self, kind: &EventKind) -> bool {
        let hpa = |name: &str, view: &mut Option<HpaLine>| {
            let line = view.get_or_insert_with(HpaLine::default);
            line.name = name.to_string();
        };
        match kind {
            EventKind::HpaSeen {
                hpa: name,
                current,
                desired,
                min,
                max,
                targets,
            } => {
                hpa(name, &mut self.hpa);
                let line = self.hpa.get_or_insert_with(HpaLine::default);
                (line.current, line.desired) = (Some(*current), Some(*desired));
                (line.min, line.max) = (Some(*min), Some(*max));
                line.targets = Some(targets.to_string());
            }
            EventKind::HpaSpec { hpa: name, spec } => {
                hpa(name, &mut self.hpa);
                let line = self.hpa.get_or_insert_with(HpaLine::default);
                (line.min, line.max) = (spec.min_replicas.or(Some(1)), Some(spec.max_replicas));
            }
            EventKind::HpaReplicas {
                hpa: name,
                current,
                desired,
                ..
            } => {
                hpa(name, &mut self.hpa);
                let line = self.hpa.get_or_insert_with(HpaLine::default);
                (line.current, line.desired) = (Some(*current), Some(*desired));
            }
            EventKind::HpaTargets { hpa: name, to, .. } => {
                hpa(name, &mut self.hpa);
                let line = self.hpa.get_or_insert_with(HpaLine::default);
                line.targets = Some(to.to_string());
            }
            _ => return false,
        }
        true
    }

    /// What arrived since the last call, for the next tick.
    pub fn take_fresh(&mut self) -> Fresh {
        std::mem::take(&mut self.fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn pod_line(name: &str, ready: &str, status: &str) -> ClusterEvent {
        ClusterEvent {
            at: at(1),
            kind: EventKind::PodLine {
                pod: name.into(),
                ready: ready.into(),
                status: status.into(),
                restarts: 0,
                age: "3s".into(),
            },
        }
    }

    #[test]
    fn pod_lines_and_events_are_kept_in_order_bounded_and_handed_once() {
        let mut view = ClusterView::default();
        view.apply(&pod_line("a", "0/1", "Pending"));
        view.apply(&pod_line("a", "1/1", "Running"));
        view.apply(&ClusterEvent {
            at: at(2),
            kind: EventKind::Kube {
                object: "HorizontalPodAutoscaler/h".into(),
                kind: "Normal".into(),
                reason: "SuccessfulRescale".into(),
                message: "New size: 4".into(),
            },
        });
        let fresh = view.take_fresh();
        let statuses: Vec<&str> = fresh.pods.iter().map(|p| p.status.as_str()).collect();
        assert_eq!(statuses, ["Pending", "Running"]);
        assert_eq!(fresh.events[0].reason, "SuccessfulRescale");
        assert_eq!(view.take_fresh(), Fresh::default(), "handed once");
        for i in 0..LINES_KEPT + 10 {
            view.apply(&pod_line(&format!("p{i}"), "1/1", "Running"));
        }
        assert_eq!(view.pods.len(), LINES_KEPT);
        assert_eq!(
            view.pods.front().unwrap().name,
            "p10",
            "the oldest went first"
        );
        assert_eq!(view.take_fresh().pods.len(), LINES_KEPT);
    }

    #[test]
    fn the_hpa_line_follows_its_replicas_and_targets() {
        let mut view = ClusterView::default();
        view.apply(&ClusterEvent {
            at: at(0),
            kind: EventKind::HpaReplicas {
                hpa: "h".into(),
                from: 2,
                current: 2,
                desired: 6,
            },
        });
        let hpa = view.take_fresh().hpa.unwrap();
        assert_eq!(
            (hpa.name.as_str(), hpa.current, hpa.desired),
            ("h", Some(2), Some(6))
        );
        view.apply(&pod_line("a", "1/1", "Running"));
        assert_eq!(
            view.take_fresh().hpa,
            None,
            "a pod line leaves the HPA alone"
        );
    }
}

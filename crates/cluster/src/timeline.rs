//! The cluster beside a load run: [`ClusterEvent`]s in, per-second [`ClusterSecond`]s and a
//! [`ClusterRecord`] out. Pure (times come with the events), so it is tested without a cluster.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;

use super::TargetNames;
use super::checks::HpaTargets;
use super::facts::{PodFacts, image_records, most_common_resources, node_records};
use super::watch::{ClusterEvent, EventKind};
use iris_record::cluster::{
    ClusterRecord, ClusterSecond, Missed, PodSampleRecord, PodStartRecord, RestartRecord,
    ScalingEventRecord,
};

/// Reason of a scaling event when no Kubernetes Event gave one.
const NO_REASON: &str = "HPA desired replicas changed";

#[derive(Debug)]
pub struct ClusterTracker {
    start: Timestamp,
    record: ClusterRecord,
    now: ClusterSecond,
    /// Pod name -> Ready.
    pods: BTreeMap<String, bool>,
    fresh: HashSet<String>,
    /// The last SuccessfulRescale: (new size, reason).
    rescale_reason: Option<(u32, String)>,
    /// CPU millicores summed over samples after the first new pod was ready: (new pods, all).
    cpu_after_first_ready: (f64, f64),
    /// Each pod's latest facts (node, resources, images), for the record's summary of them.
    facts: BTreeMap<String, PodFacts>,
}

impl ClusterTracker {
    pub fn new(start: Timestamp, namespace: &str, names: &TargetNames) -> Self {
        Self {
            start,
            record: ClusterRecord {
                namespace: namespace.to_string(),
                deployment: names.deployment.clone(),
                hpa: names.hpa.clone(),
                ..ClusterRecord::default()
            },
            now: ClusterSecond::default(),
            pods: BTreeMap::new(),
            fresh: HashSet::new(),
            rescale_reason: None,
            cpu_after_first_ready: (0.0, 0.0),
            facts: BTreeMap::new(),
        }
    }

    fn since_start(&self, at: Timestamp) -> f64 {
        (at.duration_since(self.start).as_secs_f64()).max(0.0)
    }

    /// Something the run will say it could not observe.
    pub fn missed(&mut self, what: Missed) {
        self.record.missed.push(what);
    }

    pub fn apply(&mut self, event: &ClusterEvent) {
        let t = self.since_start(event.at);
        match &event.kind {
            EventKind::PodSeen { .. }
            | EventKind::PodCreated { .. }
            | EventKind::PodReady { .. }
            | EventKind::PodNotReady { .. }
            | EventKind::PodDeleted { .. }
            | EventKind::PodRestarted { .. } => self.apply_pod(t, &event.kind),
            EventKind::PodFacts { pod, facts } => {
                self.facts.insert(pod.clone(), facts.clone());
            }
            EventKind::HpaSpec { spec, .. } => self.record.hpa_spec = Some((**spec).clone()),
            EventKind::HpaSeen { .. }
            | EventKind::HpaReplicas { .. }
            | EventKind::HpaTargets { .. }
            | EventKind::Kube { .. } => self.apply_hpa(t, &event.kind),
            EventKind::Top { pods } => self.apply_top(t, pods),
            EventKind::TopUnavailable { .. }
            | EventKind::WatchInterrupted { .. }
            | EventKind::WatchResumed { .. } => self.apply_missed(t, &event.kind),
            _ => {}
        }
        self.count_pods();
    }

    /// Pods appearing, getting ready, going away, restarting.
    fn apply_pod(&mut self, t: f64, kind: &EventKind) {
        match kind {
            EventKind::PodSeen { pod, ready, .. } => {
                self.pods.insert(pod.clone(), ready_fraction_full(ready));
            }
            EventKind::PodCreated { pod } => {
                self.pods.insert(pod.clone(), false);
                if self.fresh.insert(pod.clone()) {
                    self.record.pods_started.push(PodStartRecord {
                        pod: pod.clone(),
                        created_s: t,
                        ..PodStartRecord::default()
                    });
                }
            }
            EventKind::PodReady { pod, startup } => {
                self.pods.insert(pod.clone(), true);
                if let Some(entry) = self.record.pods_started.iter_mut().find(|p| &p.pod == pod) {
                    entry.observed_ready_s.get_or_insert(t);
                    if let Some(s) = startup {
                        entry.scheduled_after_s = s.scheduled_s;
                        entry.started_after_s = s.started_s;
                        entry.ready_after_s = s.ready_s.or(Some(s.observed_s));
                    }
                }
            }
            EventKind::PodNotReady { pod, .. } => {
                self.pods.insert(pod.clone(), false);
            }
            EventKind::PodDeleted { pod } => {
                self.pods.remove(pod);
            }
            EventKind::PodRestarted {
                pod,
                restarts,
                reason,
            } => {
                self.record.restart_events.push(RestartRecord {
                    t_s: t,
                    pod: pod.clone(),
                    restarts: *restarts,
                    reason: reason.clone(),
                });
                self.record.restarts += 1;
                if reason.as_deref() == Some("OOMKilled") {
                    self.record.oom_kills += 1;
                }
            }
            _ => {}
        }
    }

    /// The HPA's size, targets and its rescale events.
    fn apply_hpa(&mut self, t: f64, kind: &EventKind) {
        match kind {
            EventKind::HpaSeen {
                current,
                desired,
                min,
                max,
                targets,
                ..
            } => {
                self.record.min_replicas = to_u32(*min);
                self.record.max_replicas = to_u32(*max);
                self.now.replicas = to_u32(*current);
                self.now.desired = to_u32(*desired);
                self.set_cpu(targets);
            }
            EventKind::HpaReplicas {
                current, desired, ..
            } => {
                let before = self.now.desired;
                self.now.replicas = to_u32(*current);
                self.now.desired = to_u32(*desired);
                if let (Some(from), Some(to)) = (before, self.now.desired)
                    && from != to
                {
                    self.scaled(t, from, to);
                }
            }
            EventKind::HpaTargets { to, .. } => self.set_cpu(to),
            EventKind::Kube {
                reason, message, ..
            } if reason == "SuccessfulRescale" => {
                if let Some((size, why)) = parse_rescale(message) {
                    match self.record.scaling_events.last_mut() {
                        // The HPA's status arrived first: give its change the reason.
                        Some(last) if last.to == size && last.reason == NO_REASON => {
                            last.reason = why
                        }
                        _ => self.rescale_reason = Some((size, why)),
                    }
                }
            }
            _ => {}
        }
    }

    /// A metrics.k8s.io sample of the pods' CPU and memory.
    fn apply_top(&mut self, t: f64, pods: &[crate::metrics::PodUsage]) {
        let mut pcts = Vec::new();
        let any_new_ready = self
            .record
            .pods_started
            .iter()
            .any(|p| p.observed_ready_s.is_some());
        for usage in pods {
            self.record.samples.push(PodSampleRecord {
                t_s: t,
                pod: usage.pod.clone(),
                cpu_millis: usage.cpu_millis,
                cpu_pct_of_request: usage.cpu_percent_of_request,
                memory_bytes: usage.memory_bytes,
                window_s: usage.window_s,
                window_end_s: usage.window_end.map(|at| self.since_start(at)),
            });
            pcts.extend(usage.cpu_percent_of_request);
            if any_new_ready {
                self.cpu_after_first_ready.1 += usage.cpu_millis;
                if self.fresh.contains(&usage.pod) {
                    self.cpu_after_first_ready.0 += usage.cpu_millis;
                }
            }
        }
        if !pcts.is_empty() {
            let avg = pcts.iter().sum::<f64>() / pcts.len() as f64;
            self.peak_cpu(avg);
        }
    }

    /// What the cluster side could not observe.
    fn apply_missed(&mut self, t: f64, kind: &EventKind) {
        match kind {
            EventKind::TopUnavailable { reason } => self.missed(Missed::PodMetrics {
                from_s: t,
                reason: reason.clone(),
            }),
            EventKind::WatchInterrupted { what, error } => self.missed(Missed::WatchInterrupted {
                what: what.clone(),
                at_s: t,
                error: error.clone(),
            }),
            EventKind::WatchResumed { what } => self.missed(Missed::WatchResumed {
                what: what.clone(),
                at_s: t,
            }),
            _ => {}
        }
    }

    /// Pods now, and the most seen at once.
    fn count_pods(&mut self) {
        let pods = u32::try_from(self.pods.len()).unwrap_or(u32::MAX);
        self.now.pods = pods;
        self.now.ready_pods =
            u32::try_from(self.pods.values().filter(|r| **r).count()).unwrap_or(u32::MAX);
        self.record.max_pods = self
            .record
            .max_pods
            .max(pods)
            .max(self.now.replicas.unwrap_or(0));
    }

    fn scaled(&mut self, t: f64, from: u32, to: u32) {
        let reason = match self.rescale_reason.take() {
            Some((size, why)) if size == to => why,
            _ => NO_REASON.to_string(),
        };
        if to > from && self.record.first_scale_up_s.is_none() {
            self.record.first_scale_up_s = Some(t);
        }
        self.record.scaling_events.push(ScalingEventRecord {
            t_s: t,
            from,
            to,
            reason,
        });
    }

    fn set_cpu(&mut self, targets: &HpaTargets) {
        let (current, target) = targets.cpu();
        self.now.cpu_pct = current;
        self.now.cpu_target_pct = target;
        if target.is_some() {
            self.record.cpu_target_pct = target;
        }
        if let Some(c) = current {
            self.peak_cpu(f64::from(c));
        }
    }

    fn peak_cpu(&mut self, pct: f64) {
        let peak = self.record.peak_cpu_pct.get_or_insert(pct);
        *peak = peak.max(pct);
    }

    /// The cluster now, for this second of the timeline.
    pub fn second(&self) -> ClusterSecond {
        self.now.clone()
    }

    /// The run's cluster record, with its derived figures.
    pub fn finish(mut self) -> ClusterRecord {
        let mut startups: Vec<f64> = self
            .record
            .pods_started
            .iter()
            .filter_map(|p| p.ready_after_s)
            .collect();
        startups.sort_by(f64::total_cmp);
        self.record.pod_startup_median_s = median(&startups);
        self.record.pod_startup_max_s = startups.last().copied();
        let (new, all) = self.cpu_after_first_ready;
        self.record.new_pod_cpu_share = (all > 0.0).then(|| new / all);
        let facts: Vec<&PodFacts> = self.facts.values().collect();
        self.record.pod_resources = most_common_resources(&facts);
        self.record.images = image_records(&facts);
        self.record.nodes = node_records(&facts);
        self.record
    }

    /// The nodes the run's pods were seen on.
    pub fn node_names(&self) -> Vec<String> {
        let names: std::collections::BTreeSet<&String> = self
            .facts
            .values()
            .filter_map(|f| f.node.as_ref())
            .collect();
        names.into_iter().cloned().collect()
    }
}

fn to_u32(v: i32) -> Option<u32> {
    u32::try_from(v).ok()
}

/// `1/1` -> true, `0/1` -> false.
fn ready_fraction_full(ready: &str) -> bool {
    match ready.split_once('/') {
        Some((a, b)) => a == b && b != "0",
        None => false,
    }
}

fn median(sorted: &[f64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// `New size: 4; reason: cpu resource utilization (percentage of request) above target`.
fn parse_rescale(message: &str) -> Option<(u32, String)> {
    let rest = message.strip_prefix("New size: ")?;
    let (size, reason) = rest.split_once(';')?;
    let reason = reason
        .trim()
        .strip_prefix("reason: ")
        .unwrap_or(reason.trim());
    Some((size.trim().parse().ok()?, reason.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::PodUsage;
    use crate::watch::StartupLatency;
    use jiff::SignedDuration;

    fn at(start: Timestamp, secs: i64) -> Timestamp {
        start + SignedDuration::from_secs(secs)
    }

    fn ev(start: Timestamp, secs: i64, kind: EventKind) -> ClusterEvent {
        ClusterEvent {
            at: at(start, secs),
            kind,
        }
    }

    #[test]
    fn cpu_is_read_from_the_typed_targets() {
        use crate::checks::{HpaMetric, MetricValue};
        let cpu = HpaTargets::cpu_utilization;
        assert_eq!(cpu(Some(15), Some(60)).cpu(), (Some(15), Some(60)));
        assert_eq!(cpu(None, Some(60)).cpu(), (None, Some(60)));
        let mut both = cpu(Some(70), Some(60));
        both.0.insert(
            0,
            HpaMetric {
                name: Some("memory".into()),
                current: MetricValue::Utilization(10),
                target: MetricValue::Utilization(80),
            },
        );
        assert_eq!(both.cpu(), (Some(70), Some(60)));
        assert_eq!(HpaTargets::default().cpu(), (None, None));
    }

    #[test]
    fn rescale_messages_give_size_and_reason() {
        assert_eq!(
            parse_rescale(
                "New size: 4; reason: cpu resource utilization (percentage of request) above target"
            ),
            Some((
                4,
                "cpu resource utilization (percentage of request) above target".into()
            ))
        );
        assert_eq!(parse_rescale("something else"), None);
    }

    #[test]
    fn a_scale_up_story_becomes_seconds_and_a_record() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let names = TargetNames::for_app("iris-prediction-api");
        let mut t = ClusterTracker::new(start, "default", &names);
        let hpa = "iris-prediction-api-hpa".to_string();
        for pod in ["a", "b"] {
            t.apply(&ev(
                start,
                0,
                EventKind::PodSeen {
                    pod: pod.into(),
                    ready: "1/1".into(),
                    status: "Running".into(),
                },
            ));
        }
        t.apply(&ev(
            start,
            0,
            EventKind::HpaSeen {
                hpa: hpa.clone(),
                current: 2,
                desired: 2,
                min: 2,
                max: 15,
                targets: HpaTargets::cpu_utilization(Some(10), Some(60)),
            },
        ));
        assert_eq!(
            t.second(),
            ClusterSecond {
                replicas: Some(2),
                desired: Some(2),
                cpu_pct: Some(10),
                cpu_target_pct: Some(60),
                pods: 2,
                ready_pods: 2
            }
        );
        t.apply(&ev(
            start,
            20,
            EventKind::HpaTargets {
                hpa: hpa.clone(),
                from: crate::checks::HpaTargets::cpu_utilization(Some(10), Some(60)),
                to: crate::checks::HpaTargets::cpu_utilization(Some(95), Some(60)),
            },
        ));
        t.apply(&ev(
            start,
            25,
            EventKind::HpaReplicas {
                hpa: hpa.clone(),
                from: 2,
                current: 2,
                desired: 5,
            },
        ));
        t.apply(&ev(start, 25, EventKind::Kube {
            object: format!("HorizontalPodAutoscaler/{hpa}"), kind: "Normal".into(), reason: "SuccessfulRescale".into(),
            message: "New size: 5; reason: cpu resource utilization (percentage of request) above target".into(),
        }));
        for (i, pod) in ["c", "d", "e"].iter().enumerate() {
            t.apply(&ev(start, 26, EventKind::PodCreated { pod: (*pod).into() }));
            let ready = 60 + i64::try_from(i).unwrap();
            t.apply(&ev(
                start,
                ready,
                EventKind::PodReady {
                    pod: (*pod).into(),
                    startup: Some(StartupLatency {
                        scheduled_s: Some(1.0),
                        started_s: Some(20.0),
                        ready_s: Some(34.0 + i as f64),
                        observed_s: 34.5 + i as f64,
                    }),
                },
            ));
        }
        t.apply(&ev(
            start,
            62,
            EventKind::HpaReplicas {
                hpa: hpa.clone(),
                from: 2,
                current: 5,
                desired: 5,
            },
        ));
        t.apply(&ev(
            start,
            75,
            EventKind::Top {
                pods: vec![
                    PodUsage {
                        pod: "a".into(),
                        cpu_millis: 300.0,
                        cpu_percent_of_request: Some(150.0),
                        memory_bytes: 1e8,
                        window_s: None,
                        window_end: None,
                    },
                    PodUsage {
                        pod: "c".into(),
                        cpu_millis: 100.0,
                        cpu_percent_of_request: Some(50.0),
                        memory_bytes: 1e8,
                        window_s: None,
                        window_end: None,
                    },
                ],
            },
        ));
        t.apply(&ev(
            start,
            80,
            EventKind::PodRestarted {
                pod: "b".into(),
                restarts: 1,
                reason: Some("OOMKilled".into()),
            },
        ));
        t.apply(&ev(
            start,
            85,
            EventKind::WatchInterrupted {
                what: "pods".into(),
                error: "connection lost".into(),
            },
        ));
        let second = t.second();
        assert_eq!(
            (second.replicas, second.pods, second.ready_pods),
            (Some(5), 5, 5)
        );
        let r = t.finish();
        assert_eq!(
            r.scaling_events,
            [ScalingEventRecord {
                t_s: 25.0,
                from: 2,
                to: 5,
                reason: "cpu resource utilization (percentage of request) above target".into()
            }]
        );
        assert_eq!(r.first_scale_up_s, Some(25.0));
        assert_eq!(r.max_pods, 5);
        assert_eq!(
            (r.min_replicas, r.max_replicas, r.cpu_target_pct),
            (Some(2), Some(15), Some(60))
        );
        assert_eq!(r.pods_started.len(), 3);
        assert_eq!(r.pods_started[0].observed_ready_s, Some(60.0));
        assert_eq!(r.pod_startup_median_s, Some(35.0));
        assert_eq!(r.pod_startup_max_s, Some(36.0));
        assert_eq!(
            r.peak_cpu_pct,
            Some(100.0),
            "max of HPA 95% and the pods' average 100%"
        );
        assert_eq!(r.new_pod_cpu_share, Some(0.25));
        assert_eq!((r.restarts, r.oom_kills), (1, 1));
        assert_eq!(
            r.missed,
            [Missed::WatchInterrupted {
                what: "pods".into(),
                at_s: 85.0,
                error: "connection lost".into()
            }]
        );
        assert_eq!(
            r.missed[0].to_string(),
            "watch of pods interrupted at +85 s: connection lost"
        );
        assert_eq!(r.samples.len(), 2);
        assert_eq!(r.restart_events.len(), 1);
        assert_eq!(r.restart_events[0].reason.as_deref(), Some("OOMKilled"));
    }

    #[test]
    fn the_hpa_spec_and_the_pods_facts_reach_the_record() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let names = TargetNames::for_app("iris-prediction-api");
        let mut t = ClusterTracker::new(start, "default", &names);
        let spec: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec =
            serde_json::from_value(serde_json::json!({
                "scaleTargetRef": {"kind": "Deployment", "name": "iris"}, "maxReplicas": 15}))
            .unwrap();
        t.apply(&ev(
            start,
            0,
            EventKind::HpaSpec {
                hpa: "h".into(),
                spec: Box::new(spec.clone()),
            },
        ));
        let facts = crate::facts::PodFacts {
            node: Some("node-a".into()),
            ..Default::default()
        };
        for pod in ["a", "b"] {
            t.apply(&ev(
                start,
                1,
                EventKind::PodFacts {
                    pod: pod.into(),
                    facts: facts.clone(),
                },
            ));
        }
        assert_eq!(t.node_names(), ["node-a"]);
        let r = t.finish();
        assert_eq!(r.hpa_spec, Some(spec));
        assert_eq!(r.nodes.len(), 1);
        assert_eq!(r.nodes[0].pods, 2);
        // A record without these fields (older iris-lab) still loads.
        let mut old = serde_json::to_value(&r).unwrap();
        for key in [
            "hpa_spec",
            "pod_resources",
            "images",
            "nodes",
            "restart_events",
        ] {
            old.as_object_mut().unwrap().remove(key);
        }
        let back: ClusterRecord = serde_json::from_value(old).unwrap();
        assert_eq!((back.hpa_spec, back.nodes.len()), (None, 0));
    }
}

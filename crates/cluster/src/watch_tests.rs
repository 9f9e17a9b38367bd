use super::*;
use serde_json::{Value, json};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn pod(v: Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

fn created() -> Value {
    json!({
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending", "conditions": []}
    })
}

fn scheduled() -> Value {
    let mut v = created();
    v["spec"]["nodeName"] = json!("node-a");
    v["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:01Z"}]);
    v
}

fn started() -> Value {
    let mut v = scheduled();
    v["status"]["phase"] = json!("Running");
    v["status"]["containerStatuses"] = json!([{"name": "c", "image": "i", "imageID": "", "ready": false,
        "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}}]);
    v
}

fn ready() -> Value {
    let mut v = started();
    v["status"]["containerStatuses"][0]["ready"] = json!(true);
    v["status"]["conditions"].as_array_mut().unwrap().push(
        json!({"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:30Z"}),
    );
    v
}

#[test]
fn a_new_pod_goes_created_scheduled_started_ready_with_its_startup() {
    let mut tracker = PodTracker::default();
    let now = t("2026-01-01T00:00:31Z");
    assert!(tracker.apply(watcher::Event::Init, now).is_empty());
    assert!(tracker.apply(watcher::Event::InitDone, now).is_empty());
    let e = tracker.apply(watcher::Event::Apply(pod(created())), now);
    assert_eq!(e, vec![EventKind::PodCreated { pod: "p".into() }]);
    let e = tracker.apply(watcher::Event::Apply(pod(scheduled())), now);
    assert_eq!(
        e,
        vec![EventKind::PodScheduled {
            pod: "p".into(),
            node: Some("node-a".into())
        }]
    );
    let e = tracker.apply(watcher::Event::Apply(pod(started())), now);
    assert_eq!(e, vec![EventKind::PodStarted { pod: "p".into() }]);
    let e = tracker.apply(watcher::Event::Apply(pod(ready())), now);
    assert_eq!(
        e,
        vec![EventKind::PodReady {
            pod: "p".into(),
            startup: Some(StartupLatency {
                scheduled_s: Some(1.0),
                started_s: Some(5.0),
                ready_s: Some(30.0),
                observed_s: 31.0
            })
        }]
    );
    let e = tracker.apply(watcher::Event::Delete(pod(ready())), now);
    assert_eq!(e, vec![EventKind::PodDeleted { pod: "p".into() }]);
}

#[test]
fn pods_listed_at_start_are_seen_not_measured() {
    let mut tracker = PodTracker::default();
    let now = t("2026-01-01T00:05:00Z");
    tracker.apply(watcher::Event::Init, now);
    let e = tracker.apply(watcher::Event::InitApply(pod(started())), now);
    assert_eq!(
        e,
        vec![EventKind::PodSeen {
            pod: "p".into(),
            ready: "0/1".into(),
            status: "Running".into()
        }]
    );
    tracker.apply(watcher::Event::InitDone, now);
    let e = tracker.apply(watcher::Event::Apply(pod(ready())), now);
    assert_eq!(
        e,
        vec![EventKind::PodReady {
            pod: "p".into(),
            startup: None
        }]
    );
}

#[test]
fn a_relist_reports_what_changed_and_what_vanished_in_the_gap() {
    let mut tracker = PodTracker::default();
    let now = t("2026-01-01T00:05:00Z");
    tracker.apply(watcher::Event::Init, now);
    let mut other = ready();
    other["metadata"]["name"] = json!("q");
    tracker.apply(watcher::Event::InitApply(pod(started())), now);
    tracker.apply(watcher::Event::InitApply(pod(other)), now);
    tracker.apply(watcher::Event::InitDone, now);
    tracker.apply(watcher::Event::Init, now);
    let e = tracker.apply(watcher::Event::InitApply(pod(ready())), now);
    assert_eq!(
        e,
        vec![EventKind::PodReady {
            pod: "p".into(),
            startup: None
        }]
    );
    let e = tracker.apply(watcher::Event::InitDone, now);
    assert_eq!(e, vec![EventKind::PodDeleted { pod: "q".into() }]);
}

#[test]
fn crash_loops_restarts_and_readiness_loss_are_lines() {
    let now = t("2026-01-01T00:05:00Z");
    let old = pod(ready());
    let mut v = ready();
    v["status"]["containerStatuses"][0]["ready"] = json!(false);
    v["status"]["containerStatuses"][0]["restartCount"] = json!(1);
    v["status"]["containerStatuses"][0]["state"] =
        json!({"waiting": {"reason": "CrashLoopBackOff"}});
    v["status"]["containerStatuses"][0]["lastState"] =
        json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}});
    v["status"]["conditions"][1]["status"] = json!("False");
    let e = pod_changes(Some(&old), &pod(v), false, now);
    assert!(
        matches!(&e[0], EventKind::PodStatus { from, to, problem: Some(p), .. }
        if from == "Running" && to == "CrashLoopBackOff" && p.contains("OOMKilled")),
        "{e:?}"
    );
    assert_eq!(
        e[1],
        EventKind::PodRestarted {
            pod: "p".into(),
            restarts: 1,
            reason: Some("OOMKilled".into())
        }
    );
    assert_eq!(
        e[2],
        EventKind::PodNotReady {
            pod: "p".into(),
            status: "CrashLoopBackOff".into()
        }
    );
}

fn hpa(current: i32, desired: i32, cpu: Option<i32>, active: &str) -> HorizontalPodAutoscaler {
    let metrics = cpu.map_or(json!([]), |c| {
        json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}])
    });
    serde_json::from_value(json!({
        "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 2, "maxReplicas": 15,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]},
        "status": {"currentReplicas": current, "desiredReplicas": desired, "currentMetrics": metrics,
                   "conditions": [{"type": "ScalingActive", "status": active, "reason": "R", "message": "M"}]}
    }))
    .unwrap()
}

#[test]
fn hpa_changes_are_replicas_targets_and_condition_flips() {
    let mut tracker = HpaTracker::default();
    let e = tracker.apply(watcher::Event::InitApply(hpa(2, 2, None, "False")));
    assert_eq!(
        e,
        vec![EventKind::HpaSeen {
            hpa: "h".into(),
            current: 2,
            desired: 2,
            min: 2,
            max: 15,
            targets: crate::checks::HpaTargets::cpu_utilization(None, Some(60))
        }]
    );
    let e = tracker.apply(watcher::Event::Apply(hpa(2, 5, Some(95), "True")));
    assert_eq!(
        e[0],
        EventKind::HpaReplicas {
            hpa: "h".into(),
            from: 2,
            current: 2,
            desired: 5
        }
    );
    assert_eq!(
        e[1],
        EventKind::HpaTargets {
            hpa: "h".into(),
            from: crate::checks::HpaTargets::cpu_utilization(None, Some(60)),
            to: crate::checks::HpaTargets::cpu_utilization(Some(95), Some(60))
        }
    );
    assert!(
        matches!(&e[2], EventKind::HpaCondition { condition, status, .. } if condition == "ScalingActive" && status == "True")
    );
    assert!(
        tracker
            .apply(watcher::Event::Apply(hpa(2, 5, Some(95), "True")))
            .is_empty()
    );
}

fn kube_ev(kind: &str, name: &str, at: &str) -> KubeEvent {
    serde_json::from_value(json!({
        "metadata": {"name": "e"},
        "involvedObject": {"kind": kind, "name": name},
        "reason": "SuccessfulRescale", "message": "New size: 5; reason: cpu resource utilization (percentage of request) above target",
        "type": "Normal", "lastTimestamp": at
    }))
    .unwrap()
}

#[test]
fn only_events_about_our_objects_since_the_start_count() {
    let names = TargetNames::for_app("iris");
    let since = t("2026-01-01T00:00:00Z");
    let at = "2026-01-01T00:00:10Z";
    assert!(event_is_relevant(
        &kube_ev("HorizontalPodAutoscaler", "iris-hpa", at),
        &names
    ));
    assert!(event_is_relevant(
        &kube_ev("Deployment", "iris", at),
        &names
    ));
    assert!(event_is_relevant(
        &kube_ev("ReplicaSet", "iris-7d9f8", at),
        &names
    ));
    assert!(event_is_relevant(
        &kube_ev("Pod", "iris-7d9f8-abcde", at),
        &names
    ));
    assert!(!event_is_relevant(
        &kube_ev("Pod", "other-7d9f8-abcde", at),
        &names
    ));
    assert!(!event_is_relevant(
        &kube_ev("Deployment", "iris-canary", at),
        &names
    ));
    assert!(!event_is_relevant(&kube_ev("Node", "iris", at), &names));
    let line = kube_event(
        &kube_ev("HorizontalPodAutoscaler", "iris-hpa", at),
        &names,
        since,
    )
    .unwrap();
    assert!(
        matches!(line, EventKind::Kube { ref object, ref reason, .. }
        if object == "HorizontalPodAutoscaler/iris-hpa" && reason == "SuccessfulRescale")
    );
    assert!(
        kube_event(
            &kube_ev("Deployment", "iris", "2025-12-31T23:00:00Z"),
            &names,
            since
        )
        .is_none()
    );
}

#[test]
fn events_round_trip_as_json_lines_for_run_records() {
    let event = ClusterEvent {
        at: t("2026-01-01T00:00:31Z"),
        kind: EventKind::PodReady {
            pod: "p".into(),
            startup: Some(StartupLatency {
                scheduled_s: Some(1.0),
                started_s: None,
                ready_s: Some(30.0),
                observed_s: 31.0,
            }),
        },
    };
    let line = serde_json::to_string(&event).unwrap();
    assert!(
        line.starts_with(r#"{"at":"2026-01-01T00:00:31Z","event":"pod_ready","pod":"p""#),
        "{line}"
    );
    assert_eq!(serde_json::from_str::<ClusterEvent>(&line).unwrap(), event);
}

#[test]
fn top_follows_a_metrics_window_shorter_than_its_period() {
    let usage = |window_s| crate::metrics::PodUsage {
        pod: "p".into(),
        cpu_millis: 1.0,
        cpu_percent_of_request: None,
        memory_bytes: 1.0,
        window_s,
        window_end: None,
    };
    let every = Duration::from_secs(15);
    assert_eq!(
        top_period(every, &[usage(Some(3.0)), usage(Some(4.0))]),
        Some(Duration::from_secs(3))
    );
    assert_eq!(top_period(every, &[usage(Some(30.0))]), Some(every));
    assert_eq!(top_period(every, &[usage(None)]), None);
    assert_eq!(
        top_period(every, &[usage(Some(0.0)), usage(Some(0.01))]),
        Some(Duration::from_millis(100))
    );
}

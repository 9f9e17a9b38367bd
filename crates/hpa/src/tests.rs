//! The model against the worked examples of the Kubernetes documentation ("Horizontal Pod
//! Autoscaling": algorithm details, configurable scaling behavior and its examples) and the
//! rules of the controller's source (podautoscaler/horizontal.go, replica_calculator.go).

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
use serde_json::json;

use super::*;

fn spec(value: serde_json::Value) -> Spec {
    let k8s: HorizontalPodAutoscalerSpec = serde_json::from_value(value).unwrap();
    Spec::from_k8s(&k8s, &ControllerSettings::default())
}

fn cpu_hpa(min: i32, max: i32, target: i32, behavior: serde_json::Value) -> Spec {
    let mut v = json!({"scaleTargetRef": {"kind": "Deployment", "name": "iris"},
        "minReplicas": min, "maxReplicas": max,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": target}}}]});
    if !behavior.is_null() {
        v["behavior"] = behavior;
    }
    spec(v)
}

/// A pod started long ago, ready, using `cpu_milli` of a 1000m request.
fn pod(i: usize, cpu_milli: i64) -> PodView {
    PodView {
        name: format!("pod-{i}"),
        phase: Phase::Running,
        deleting: false,
        start_s: Some(-3600.0),
        ready: Some(Readiness {
            ready: true,
            since_s: -3500.0,
        }),
        cpu_request_milli: Some(1000),
        memory_request_milli: Some((1 << 30) * 1000),
        usage: Some(Usage {
            cpu_milli,
            memory_milli: (100 << 20) * 1000,
            timestamp_s: -1.0,
            window_s: 15.0,
        }),
    }
}

fn pods(n: i32, cpu_milli: i64) -> Vec<PodView> {
    (0..n as usize).map(|i| pod(i, cpu_milli)).collect()
}

const TOL: Tolerances = Tolerances { up: 0.1, down: 0.1 };

fn cpu(current: i32, target: Target, pods: &[PodView]) -> Result<MetricProposal, MetricError> {
    let s = ControllerSettings::default();
    resource_replicas(current, Resource::Cpu, target, pods, 0.0, TOL, &s)
}

const AVG_100M: Target = Target::AverageValue { milli: 100 };

#[test]
fn the_ratio_doubles_or_halves_the_replicas() {
    // "if the current metric value is 200m, and the desired value is 100m, the number of
    // replicas will be doubled ... if the current value is instead 50m, you'll halve".
    assert_eq!(cpu(3, AVG_100M, &pods(3, 200)).unwrap().replicas, 6);
    assert_eq!(cpu(4, AVG_100M, &pods(4, 50)).unwrap().replicas, 2);
    // Utilization: 4 pods at 90% of request against 60% -> ceil(4 x 1.5) = 6.
    let p = cpu(4, Target::Utilization { percent: 60 }, &pods(4, 900)).unwrap();
    assert_eq!((p.replicas, p.utilization_pct), (6, Some(90)));
    // The ratio rounds up: 3 x 70/60 = 3.5 -> 4.
    let p = cpu(3, Target::Utilization { percent: 60 }, &pods(3, 700)).unwrap();
    assert_eq!(p.replicas, 4);
}

#[test]
fn nothing_changes_within_the_tolerance() {
    // 1.05 and 0.95 are within 0.1 of 1.0; 1.15 is not.
    assert_eq!(cpu(4, AVG_100M, &pods(4, 105)).unwrap().replicas, 4);
    assert_eq!(cpu(4, AVG_100M, &pods(4, 95)).unwrap().replicas, 4);
    assert_eq!(cpu(10, AVG_100M, &pods(10, 115)).unwrap().replicas, 12);
    // The utilization is truncated to a whole percent before the ratio: 65.9% is 65%, and
    // 65/60 = 1.083 is within the tolerance.
    assert_eq!(
        cpu(4, Target::Utilization { percent: 60 }, &pods(4, 659))
            .unwrap()
            .replicas,
        4
    );
}

#[test]
fn pending_pods_count_as_using_nothing_on_a_scale_up() {
    // 2 ready pods at 90% of request against 60% would ask for 3 (ratio 1.5); with 2 more
    // pending, they count as 0%: (90+90+0+0)/4 = 45% -> ratio 0.75 reverses the direction, so
    // the replicas stay.
    let mut list = pods(4, 900);
    for p in &mut list[2..] {
        p.phase = Phase::Pending;
        p.usage = None;
    }
    let p = cpu(4, Target::Utilization { percent: 60 }, &list).unwrap();
    assert_eq!((p.replicas, p.ready_pods, p.unready_pods), (4, 2, 2));
    // 2 ready at 150% against 50% (ratio 3) with 2 pending: 300/4 = 75% -> 1.5 x 4 = 6.
    let mut list = pods(4, 1500);
    for p in &mut list[2..] {
        p.phase = Phase::Pending;
    }
    assert_eq!(
        cpu(4, Target::Utilization { percent: 50 }, &list)
            .unwrap()
            .replicas,
        6
    );
}

#[test]
fn pods_without_metrics_count_as_their_request_on_a_scale_down() {
    // 3 pods at 20% against 50% would ask for ceil(0.4 x 3) = 2; the 4th without metrics
    // counts as 100%: (20+20+20+100)/4 = 40% -> ratio 0.8 -> ceil(0.8 x 4) = 4.
    let mut list = pods(4, 200);
    list[3].usage = None;
    let p = cpu(4, Target::Utilization { percent: 50 }, &list).unwrap();
    assert_eq!((p.replicas, p.missing_pods), (4, 1));
    // On a scale-up they count as 0%: 3 at 100% + 0 against 50% = 75% -> 1.5 x 4 = 6.
    let mut list = pods(4, 1000);
    list[3].usage = None;
    assert_eq!(
        cpu(4, Target::Utilization { percent: 50 }, &list)
            .unwrap()
            .replicas,
        6
    );
}

#[test]
fn cpu_samples_of_pods_still_initialising_are_set_aside() {
    let s = ControllerSettings::default();
    let at = |p: &PodView| {
        resource_replicas(
            2,
            Resource::Cpu,
            Target::Utilization { percent: 50 },
            std::slice::from_ref(p),
            100.0,
            TOL,
            &s,
        )
    };
    // Started 60 s ago, ready 10 s ago, its 15 s sample ended 5 s ago: the sample began before
    // it was ready -> set aside (no ready pod with metrics at all).
    let mut young = pod(0, 1000);
    young.start_s = Some(40.0);
    young.ready = Some(Readiness {
        ready: true,
        since_s: 90.0,
    });
    young.usage.as_mut().unwrap().timestamp_s = 95.0;
    assert_eq!(
        at(&young).unwrap_err(),
        MetricError::NoMetrics { resource: "cpu" }
    );
    // Ready for a whole window before the sample: counted.
    young.usage.as_mut().unwrap().timestamp_s = 99.0;
    young.ready = Some(Readiness {
        ready: true,
        since_s: 80.0,
    });
    assert_eq!(at(&young).unwrap().ready_pods, 1);
    // Past the 5 min initialization period: unready but ready before -> counted; unready and
    // never ready since its start (transition within 30 s of the start) -> set aside.
    let mut old = pod(0, 1000);
    old.start_s = Some(-400.0);
    old.ready = Some(Readiness {
        ready: false,
        since_s: 50.0,
    });
    assert_eq!(at(&old).unwrap().ready_pods, 1);
    old.ready = Some(Readiness {
        ready: false,
        since_s: -380.0,
    });
    assert!(at(&old).is_err());
    // Memory does not look at readiness.
    young.usage.as_mut().unwrap().timestamp_s = 95.0;
    young.ready = Some(Readiness {
        ready: true,
        since_s: 90.0,
    });
    let p = resource_replicas(
        2,
        Resource::Memory,
        Target::Utilization { percent: 50 },
        std::slice::from_ref(&young),
        100.0,
        TOL,
        &s,
    );
    assert!(p.is_ok());
}

#[test]
fn missing_requests_and_no_pods_are_errors() {
    let mut list = pods(2, 500);
    list[1].cpu_request_milli = None;
    assert_eq!(
        cpu(2, Target::Utilization { percent: 50 }, &list).unwrap_err(),
        MetricError::MissingRequest { resource: "cpu" }
    );
    assert_eq!(cpu(2, AVG_100M, &[]).unwrap_err(), MetricError::NoPods);
}

#[test]
fn defaults_fill_what_the_spec_leaves_unset() {
    let s = spec(
        json!({"scaleTargetRef": {"kind": "Deployment", "name": "iris"},
        "maxReplicas": 10,
        "behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}),
    );
    assert_eq!(s.min_replicas, 1);
    assert_eq!(s.cpu_target_percent(), Some(80));
    let settings = ControllerSettings::default();
    assert_eq!(s.scale_up, default_scale_up(&settings));
    assert_eq!(s.scale_down.stabilization_window.as_secs(), 300);
    assert_eq!(s.scale_down.select, Select::Max);
    assert_eq!(s.scale_down.policies.len(), 1);
    assert_eq!(s.scale_down.policies[0].kind, PolicyKind::Pods);
    let with_tolerance = cpu_hpa(1, 5, 60, json!({"scaleUp": {"tolerance": "0.05"}}));
    assert_eq!(with_tolerance.scale_up.tolerance, 0.05);
    assert_eq!(with_tolerance.scale_down.tolerance, 0.1);
}

/// Drives an HPA every 15 s for `steps` syncs, the pods sharing `total_milli` of CPU evenly,
/// and returns the replicas after each sync.
fn drive(hpa: &mut Autoscaler, mut replicas: i32, steps: usize, total_milli: i64) -> Vec<i32> {
    let mut seen = Vec::new();
    for step in 0..steps {
        let now = step as f64 * 15.0;
        let decision = hpa.sync(
            now,
            replicas,
            &pods(replicas, total_milli / i64::from(replicas)),
        );
        replicas = decision.desired;
        seen.push(replicas);
    }
    seen
}

#[test]
fn default_scale_up_doubles_or_adds_four_pods_per_15_s() {
    // From 1 pod, asking for 20: max(+100%, +4) -> 5, then 10, then 20.
    let s = cpu_hpa(1, 30, 50, serde_json::Value::Null);
    let mut hpa = Autoscaler::new(s, ControllerSettings::default());
    // 10 cores of work against 500m per pod = 20 pods.
    assert_eq!(drive(&mut hpa, 1, 4, 10_000), [5, 10, 20, 20]);
}

#[test]
fn scale_down_waits_for_the_300_s_window() {
    let s = cpu_hpa(2, 30, 50, serde_json::Value::Null);
    let mut hpa = Autoscaler::new(s, ControllerSettings::default());
    let mut replicas = 10;
    // 10 pods at 50%: steady.
    for step in 0..4 {
        replicas = hpa
            .sync(f64::from(step) * 15.0, replicas, &pods(replicas, 500))
            .desired;
    }
    assert_eq!(replicas, 10);
    // The load falls to 1 core at 60 s: the window holds 10 until the last recommendation of
    // 10 (45 s) is 300 s old: the controller counts only recommendations strictly inside the
    // window, so the sync at 345 s scales down.
    let mut first_change = None;
    for step in 4..30 {
        let now = f64::from(step) * 15.0;
        let d = hpa.sync(now, replicas, &pods(replicas, 1000 / i64::from(replicas)));
        if d.desired != replicas && first_change.is_none() {
            first_change = Some((now, d.desired));
            assert_eq!(d.limit, None);
        } else if first_change.is_none() {
            assert_eq!(d.limit, Some(Limit::ScaleDownStabilized));
        }
        replicas = d.desired;
    }
    assert_eq!(first_change, Some((345.0, 2)));
}

#[test]
fn the_documented_scale_down_policies_limit_the_rate() {
    // "policies: Pods 4 per 60 s, Percent 10 per 60 s" from 80 replicas with the load of 10:
    // the first step removes 8 (10% > 4), the next period 10% of 72 = 7.2, rounded up to 8.
    let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 60},
        {"type": "Percent", "value": 10, "periodSeconds": 60}]}});
    let mut hpa = Autoscaler::new(cpu_hpa(1, 100, 50, behavior), ControllerSettings::default());
    let seen = drive(&mut hpa, 80, 9, 5_000);
    assert_eq!(seen, [72, 72, 72, 72, 64, 64, 64, 64, 57]);
    // selectPolicy Min (the documented "no more than 5 pods per minute"): the smaller change.
    let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Min",
        "policies": [{"type": "Pods", "value": 5, "periodSeconds": 60},
        {"type": "Percent", "value": 10, "periodSeconds": 60}]}});
    let mut hpa = Autoscaler::new(cpu_hpa(1, 100, 50, behavior), ControllerSettings::default());
    assert_eq!(drive(&mut hpa, 80, 5, 5_000), [75, 75, 75, 75, 70]);
    // selectPolicy Disabled: never down.
    let behavior = json!({"scaleDown": {"selectPolicy": "Disabled"}});
    let mut hpa = Autoscaler::new(cpu_hpa(1, 100, 50, behavior), ControllerSettings::default());
    let d = hpa.sync(0.0, 80, &pods(80, 5_000 / 80));
    assert_eq!((d.desired, d.limit), (80, Some(Limit::ScalingDisabled)));
}

#[test]
fn a_scale_up_window_takes_the_lowest_recent_recommendation() {
    let behavior = json!({"scaleUp": {"stabilizationWindowSeconds": 30}});
    let mut hpa = Autoscaler::new(cpu_hpa(2, 20, 50, behavior), ControllerSettings::default());
    // Recommendations 2 (steady), then 8 twice: the window holds the lowest (2) until the
    // recommendation of 2 at 0 s is no longer strictly inside the window (at 30 s); then the
    // default policies allow max(+100%, +4) = 6.
    assert_eq!(hpa.sync(0.0, 2, &pods(2, 500)).desired, 2);
    let d = hpa.sync(15.0, 2, &pods(2, 2000));
    assert_eq!(
        (d.recommendation, d.desired, d.limit),
        (Some(8), 2, Some(Limit::ScaleUpStabilized))
    );
    let d = hpa.sync(30.0, 2, &pods(2, 2000));
    assert_eq!(
        (d.stabilized, d.desired, d.limit),
        (Some(8), 6, Some(Limit::ScaleUpLimit))
    );
}

#[test]
fn min_and_max_bound_the_replicas() {
    let mut hpa = Autoscaler::new(
        cpu_hpa(2, 5, 50, serde_json::Value::Null),
        ControllerSettings::default(),
    );
    let d = hpa.sync(0.0, 4, &pods(4, 1000));
    assert_eq!(
        (d.recommendation, d.desired, d.limit),
        (Some(8), 5, Some(Limit::TooManyReplicas))
    );
    // Above max (maxReplicas lowered by hand): straight to max, metrics not consulted.
    let d = hpa.sync(15.0, 7, &pods(7, 1000));
    assert_eq!((d.desired, d.recommendation), (5, None));
    // Below min: straight to min.
    assert_eq!(hpa.sync(30.0, 1, &pods(1, 0)).desired, 2);
    // Scaled to zero by hand: autoscaling is off.
    assert!(!hpa.sync(45.0, 0, &[]).rescale());
    // Idle: down to min, not below.
    let mut hpa = Autoscaler::new(
        cpu_hpa(
            2,
            5,
            50,
            json!({"scaleDown": {"stabilizationWindowSeconds": 0}}),
        ),
        ControllerSettings::default(),
    );
    let d = hpa.sync(0.0, 4, &pods(4, 10));
    assert_eq!(
        (d.recommendation, d.desired, d.limit),
        (Some(1), 2, Some(Limit::TooFewReplicas))
    );
}

#[test]
fn several_metrics_take_the_largest_and_failures_block_scaling_down() {
    let s = spec(
        json!({"scaleTargetRef": {"kind": "Deployment", "name": "iris"},
        "minReplicas": 1, "maxReplicas": 20, "metrics": [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "50Mi"}}}]}),
    );
    let mut hpa = Autoscaler::new(s, ControllerSettings::default());
    // CPU asks for 4 (2 x 100/50), memory for 4 (2 x 100Mi/50Mi): 4; then with memory at
    // 150Mi, memory asks for 12 and CPU for 4: 12, limited by the policies to 8.
    assert_eq!(hpa.sync(0.0, 2, &pods(2, 1000)).desired, 4);
    let mut list = pods(4, 500);
    for p in &mut list {
        p.usage.as_mut().unwrap().memory_milli = 150 << 20;
        p.usage.as_mut().unwrap().memory_milli *= 1000;
    }
    let d = hpa.sync(15.0, 4, &list);
    assert_eq!((d.recommendation, d.desired), (Some(12), 8));
    // An unsupported metric alone: no recommendation, no change.
    let s = spec(
        json!({"scaleTargetRef": {"kind": "Deployment", "name": "iris"},
        "maxReplicas": 20, "metrics": [{"type": "External", "external": {
            "metric": {"name": "queue"}, "target": {"type": "Value", "value": "10"}}}]}),
    );
    let mut hpa = Autoscaler::new(s, ControllerSettings::default());
    let d = hpa.sync(0.0, 3, &pods(3, 1000));
    assert_eq!((d.desired, d.recommendation), (3, None));
    assert!(matches!(d.metrics[0], MetricOutcome::Failed { .. }));
}

#[test]
fn pods_from_the_api_as_the_controller_sees_them() {
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "iris-1"},
        "spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}},
            {"name": "sidecar", "resources": {"requests": {"cpu": "0.1"}}}]},
        "status": {"phase": "Running", "startTime": "2026-12-04T10:00:00Z",
            "conditions": [{"type": "Ready", "status": "True",
                "lastTransitionTime": "2026-12-04T10:00:40Z"}]}}))
    .unwrap();
    let origin: jiff::Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
    let view = pod_view(&pod, None, origin);
    assert_eq!(view.phase, Phase::Running);
    assert_eq!(view.start_s, Some(0.0));
    assert_eq!(
        view.ready,
        Some(Readiness {
            ready: true,
            since_s: 40.0
        })
    );
    assert_eq!(view.cpu_request_milli, Some(350));
    assert_eq!(
        view.memory_request_milli, None,
        "the sidecar requests no memory"
    );
}

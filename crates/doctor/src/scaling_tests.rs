use super::*;
use crate::Verdict;
use serde_json::json;

fn hpa(
    conditions: serde_json::Value,
    current: serde_json::Value,
    replicas: i32,
) -> HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 2, "maxReplicas": 15,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]},
        "status": {"currentReplicas": replicas, "desiredReplicas": replicas, "currentMetrics": current, "conditions": conditions}
    }))
    .unwrap()
}

fn cond(kind: &str, status: &str, reason: &str) -> serde_json::Value {
    json!({"type": kind, "status": status, "reason": reason, "message": format!("{reason} message")})
}

#[test]
fn scaling_inactive_names_its_reason_and_the_fix() {
    let h = hpa(
        json!([
            cond("AbleToScale", "True", "SucceededGetScale"),
            cond("ScalingActive", "False", "FailedGetResourceMetric")
        ]),
        json!([]),
        2,
    );
    let c = conditions(&h, "d", "ns");
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(
        c.evidence,
        "ScalingActive False FailedGetResourceMetric: FailedGetResourceMetric message"
    );
    assert!(c.fix.unwrap().contains("every container of d requests CPU"));
    let m = metrics(&h, "ns");
    assert_eq!(m.verdict, Verdict::Fail);
    assert_eq!(m.evidence, "targets cpu: <unknown>/60%");
    let at_zero = hpa(
        json!([cond("ScalingActive", "False", "ScalingDisabled")]),
        json!([]),
        0,
    );
    assert!(
        conditions(&at_zero, "d", "ns")
            .fix
            .unwrap()
            .contains("kubectl scale deployment d --replicas=2")
    );
}

#[test]
fn at_the_ceiling_is_a_warning() {
    let cpu = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 95}}}]);
    let h = hpa(
        json!([
            cond("AbleToScale", "True", "ReadyForNewScale"),
            cond("ScalingActive", "True", "ValidMetricFound"),
            cond("ScalingLimited", "True", "TooManyReplicas")
        ]),
        cpu,
        15,
    );
    assert_eq!(conditions(&h, "d", "ns").verdict, Verdict::Warn);
    assert_eq!(metrics(&h, "ns").verdict, Verdict::Pass);
    let b = bounds(&h);
    assert_eq!(b.verdict, Verdict::Warn);
    assert_eq!(b.evidence, "min 2, max 15, current 15, desired 15");
}

#[test]
fn cpu_utilization_needs_cpu_requests() {
    let h = hpa(json!([]), json!([]), 2);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "d"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [
            {"name": "api", "resources": {"requests": {"cpu": "200m"}}},
            {"name": "sidecar"}
        ]}}}
    }))
    .unwrap();
    let c = cpu_requests(&h, &d).unwrap();
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(c.evidence, "no CPU request on container sidecar");
}

#[test]
fn metrics_server_and_its_api_service() {
    assert_eq!(metrics_server(&[]).verdict, Verdict::Fail);
    let down: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "metrics-server"}, "spec": {"replicas": 1, "selector": {}, "template": {}},
        "status": {"replicas": 1, "availableReplicas": 0}
    }))
    .unwrap();
    let c = metrics_server(std::slice::from_ref(&down));
    assert_eq!(
        (c.verdict, c.evidence.as_str()),
        (Verdict::Fail, "metrics-server: 0/1 available")
    );
    let unavailable: APIService = serde_json::from_value(json!({
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {"groupPriorityMinimum": 100, "versionPriority": 100},
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints",
                                   "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses"}]}
    }))
    .unwrap();
    let a = api_service(Some(&unavailable));
    assert_eq!(a.verdict, Verdict::Fail);
    assert!(
        a.evidence
            .starts_with("Available False MissingEndpoints: endpoints"),
        "{}",
        a.evidence
    );
    assert_eq!(api_service(None).verdict, Verdict::Fail);
}

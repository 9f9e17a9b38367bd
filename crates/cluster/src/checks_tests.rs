use super::*;
use serde_json::{Value, json};

fn pod(v: Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn running(ready: bool) -> Value {
    json!({
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:02Z"},
                {"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": "2026-01-01T00:00:40Z"}
            ],
            "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": ready, "restartCount": 1,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:10Z"}}}]
        }
    })
}

#[test]
fn a_running_ready_pod_is_a_healthy_row() {
    let row = pod_row(&pod(running(true)), t("2026-01-01T00:03:00Z"));
    assert_eq!(row.ready, "1/1");
    assert_eq!(row.status, "Running");
    assert_eq!(row.restarts, 1);
    assert_eq!(row.age, "3m");
    assert!(row.healthy);
    assert_eq!(row.problem, None);
}

#[test]
fn running_but_not_ready_blames_the_readiness_probe() {
    let row = pod_row(&pod(running(false)), t("2026-01-01T00:03:00Z"));
    assert!(!row.healthy);
    assert!(
        row.problem
            .unwrap()
            .contains("readiness probe (GET /health) is failing")
    );
}

#[test]
fn waiting_reasons_win_as_kubectl_prints_them() {
    let mut v = running(false);
    v["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}});
    let p = pod(v);
    assert_eq!(pod_status(&p), "ImagePullBackOff");
    let problem = pod_problem(&p, "ImagePullBackOff").unwrap();
    assert!(
        problem.contains("cannot be pulled (Back-off pulling image \"x\")"),
        "{problem}"
    );
}

#[test]
fn crash_loops_say_the_last_exit_and_oom_is_named() {
    let mut v = running(false);
    v["status"]["containerStatuses"][0]["state"] =
        json!({"waiting": {"reason": "CrashLoopBackOff"}});
    v["status"]["containerStatuses"][0]["lastState"] =
        json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}});
    let p = pod(v.clone());
    assert_eq!(pod_status(&p), "CrashLoopBackOff");
    assert!(
        pod_problem(&p, "CrashLoopBackOff")
            .unwrap()
            .contains("OOMKilled (exit 137)")
    );
    v["status"]["containerStatuses"][0]["lastState"] =
        json!({"terminated": {"reason": "Error", "exitCode": 1}});
    let problem = pod_problem(&pod(v.clone()), "CrashLoopBackOff").unwrap();
    assert!(
        problem.contains("last: Error exit 1") && problem.contains("--previous"),
        "{problem}"
    );
    // A container terminated right now by the OOM killer.
    v["status"]["containerStatuses"][0]["state"] =
        json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}});
    assert_eq!(pod_status(&pod(v)), "OOMKilled");
}

#[test]
fn terminated_without_reason_prints_exit_code_or_signal() {
    let mut v = running(false);
    v["status"]["containerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 3}});
    assert_eq!(pod_status(&pod(v.clone())), "ExitCode:3");
    v["status"]["containerStatuses"][0]["state"] =
        json!({"terminated": {"exitCode": 0, "signal": 9}});
    assert_eq!(pod_status(&pod(v)), "Signal:9");
}

#[test]
fn pending_pods_carry_the_scheduler_message() {
    let p = pod(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]}
    }));
    assert_eq!(pod_status(&p), "Pending");
    assert_eq!(
        pod_problem(&p, "Pending").unwrap(),
        "Pending, not scheduled: 0/3 nodes are available: 3 Insufficient cpu."
    );
    assert_eq!(pod_row(&p, Timestamp::now()).ready, "0/1");
}

#[test]
fn init_containers_and_terminating_pods() {
    let mut v = running(false);
    v["spec"]["initContainers"] = json!([{"name": "i"}, {"name": "j"}]);
    v["status"]["initContainerStatuses"] = json!([
        {"name": "i", "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
        {"name": "j", "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {}}}
    ]);
    assert_eq!(pod_status(&pod(v.clone())), "Init:1/2");
    v["status"]["initContainerStatuses"][1]["state"] =
        json!({"waiting": {"reason": "CrashLoopBackOff"}});
    assert_eq!(pod_status(&pod(v)), "Init:CrashLoopBackOff");
    let mut v = running(true);
    v["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:05:00Z");
    let p = pod(v);
    assert_eq!(pod_status(&p), "Terminating");
    assert!(!pod_is_ready(&p));
}

#[test]
fn completed_with_a_running_container_is_running() {
    let mut v = running(true);
    v["spec"]["containers"] = json!([{"name": "c"}, {"name": "d"}]);
    v["status"]["containerStatuses"] = json!([
        {"name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}},
        {"name": "d", "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}
    ]);
    assert_eq!(pod_status(&pod(v)), "Running");
}

#[test]
fn ages_read_like_kubectl() {
    let s = jiff::SignedDuration::from_secs;
    assert_eq!(human_age(s(-5)), "<invalid>");
    assert_eq!(human_age(s(0)), "0s");
    assert_eq!(human_age(s(119)), "119s");
    assert_eq!(human_age(s(200)), "3m20s");
    assert_eq!(human_age(s(300)), "5m");
    assert_eq!(human_age(s(1500)), "25m");
    assert_eq!(human_age(s(3 * 3600 + 120)), "3h2m");
    assert_eq!(human_age(s(10 * 3600)), "10h");
    assert_eq!(human_age(s(3 * 86400 + 3600)), "3d1h");
    assert_eq!(human_age(s(30 * 86400)), "30d");
    assert_eq!(human_age(s(3 * 365 * 86400 + 86400)), "3y1d");
    assert_eq!(human_age(s(9 * 365 * 86400)), "9y");
}

fn hpa(v: Value) -> HorizontalPodAutoscaler {
    serde_json::from_value(v).unwrap()
}

fn cpu_hpa(current: Option<i32>) -> HorizontalPodAutoscaler {
    let metrics = current.map_or(json!([]), |c| {
        json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}])
    });
    hpa(json!({
        "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 2, "maxReplicas": 15,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]},
        "status": {"currentReplicas": 3, "desiredReplicas": 5, "currentMetrics": metrics,
                   "conditions": [{"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "ok"}]}
    }))
}

#[test]
fn hpa_targets_print_like_kubectl_get_hpa() {
    assert_eq!(hpa_targets(&cpu_hpa(Some(15))).to_string(), "cpu: 15%/60%");
    assert_eq!(
        hpa_targets(&cpu_hpa(None)).to_string(),
        "cpu: <unknown>/60%"
    );
    assert_eq!(hpa_targets(&cpu_hpa(Some(15))).cpu(), (Some(15), Some(60)));
    assert_eq!(hpa_targets(&cpu_hpa(None)).cpu(), (None, Some(60)));
    assert!(hpa_targets(&cpu_hpa(None)).has_unknown());
    assert!(!hpa_targets(&cpu_hpa(Some(15))).has_unknown());
    assert_eq!(hpa_replicas(&cpu_hpa(None)), (2, 15, 3, 5));
    let c = hpa_conditions(&cpu_hpa(None));
    assert_eq!(c[0].kind, "ScalingActive");
    assert_eq!(c[0].reason, "ValidMetricFound");
}

#[test]
fn hpa_targets_of_values_pods_none_and_many() {
    let h = hpa(json!({
        "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 5, "metrics": [
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "256Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
        ]},
        "status": {"desiredReplicas": 1, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "100Mi"}}}
        ]}
    }));
    let targets = hpa_targets(&h);
    assert_eq!(
        targets.to_string(),
        "memory: 100Mi/256Mi, <unknown>/10, cpu: <unknown>/<auto>, cpu: <unknown>/50% + 1 more..."
    );
    assert_eq!(
        targets.0[0],
        HpaMetric {
            name: Some("memory".into()),
            current: MetricValue::Quantity("100Mi".into()),
            target: MetricValue::Quantity("256Mi".into()),
        }
    );
    assert_eq!(targets.0[1].name, None);
    assert_eq!(targets.0[2].target, MetricValue::Auto);
    assert_eq!(
        targets.cpu(),
        (None, None),
        "the first cpu metric has no numbers"
    );
    let none = hpa(
        json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "D", "name": "d"}, "maxReplicas": 3}}),
    );
    assert_eq!(hpa_targets(&none).to_string(), "<none>");
    assert!(!hpa_targets(&none).has_unknown());
}

fn svc(v: Value) -> Service {
    serde_json::from_value(v).unwrap()
}

#[test]
fn the_external_address_is_the_ingress_ip_else_hostname() {
    let ports = json!([{"port": 80, "targetPort": 8000, "nodePort": 31234, "protocol": "TCP"}]);
    let s = svc(
        json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "ports": ports},
                       "status": {"loadBalancer": {"ingress": [{"ip": "34.1.2.3"}]}}}),
    );
    assert_eq!(external_address(&s).as_deref(), Some("34.1.2.3"));
    assert_eq!(base_url(&s).unwrap().as_str(), "http://34.1.2.3/");
    assert_eq!(service_ports(&s), "80:31234/TCP");

    let h = svc(
        json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 8080}]},
                       "status": {"loadBalancer": {"ingress": [{"hostname": "a.elb.amazonaws.com"}]}}}),
    );
    assert_eq!(
        base_url(&h).unwrap().as_str(),
        "http://a.elb.amazonaws.com:8080/"
    );
    assert_eq!(service_ports(&h), "8080/TCP");

    let pending = svc(
        json!({"metadata": {"name": "s"}, "spec": {"ports": []}, "status": {"loadBalancer": {}}}),
    );
    assert_eq!(external_address(&pending), None);
    assert_eq!(base_url(&pending), None);
    assert_eq!(service_ports(&pending), "<none>");
}

#[test]
fn startup_phases_come_from_the_pods_conditions() {
    let p = pod(running(true));
    let phases = startup_phases(&p).unwrap();
    assert_eq!(phases.offsets(), [Some(2.0), Some(10.0), Some(40.0)]);
    let p = pod(json!({"metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"}}));
    assert_eq!(startup_phases(&p).unwrap().offsets(), [None, None, None]);
    assert_eq!(startup_phases(&pod(json!({"metadata": {}}))), None);
}

#[test]
fn deployment_counts() {
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "d"},
        "spec": {"replicas": 3, "selector": {}, "template": {}},
        "status": {"updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}
    }))
    .unwrap();
    assert_eq!(
        deployment_replicas(&d),
        ReplicaCounts {
            desired: 3,
            updated: 3,
            ready: 2,
            available: 2
        }
    );
}

#[test]
fn quantities_parse_like_the_api_writes_them() {
    assert_eq!(cpu_millis("250m"), Some(250.0));
    assert_eq!(cpu_millis("1"), Some(1000.0));
    assert_eq!(cpu_millis("0.5"), Some(500.0));
    assert_eq!(cpu_millis("123456789n"), Some(123.456789));
    assert_eq!(cpu_millis("1500u"), Some(1.5));
    assert_eq!(cpu_millis("x"), None);
    assert_eq!(memory_bytes("128Mi"), Some(134217728.0));
    assert_eq!(memory_bytes("1Gi"), Some(1073741824.0));
    assert_eq!(memory_bytes("500M"), Some(5e8));
    assert_eq!(memory_bytes("2048Ki"), Some(2097152.0));
    assert_eq!(memory_bytes("1000"), Some(1000.0));
    assert_eq!(memory_bytes("-1"), None);
    let p = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "resources": {"requests": {"cpu": "200m"}}},
        {"name": "b", "resources": {"requests": {"cpu": "0.1"}}},
        {"name": "c"}
    ]}}));
    assert_eq!(pod_cpu_request_millis(&p), Some(300.0));
    assert_eq!(
        pod_cpu_request_millis(&pod(
            json!({"metadata": {}, "spec": {"containers": [{"name": "a"}]}})
        )),
        None
    );
}

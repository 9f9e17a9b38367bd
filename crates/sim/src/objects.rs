//! The simulated cluster's objects as the API serves them: the guide's Deployment (and its
//! ReplicaSet), LoadBalancer Service and HPA (autoscaling/v2, as `deploy/` has them), pods
//! through their lifecycle, and Events. JSON in the shape of the k8s-openapi types (a test
//! decodes each into them); timestamps keep milliseconds, so start-up times are exact.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::settings::SimSettings;
use iris_cluster::TargetNames;
use iris_cluster::checks::SIMULATED_ANNOTATION;

/// The namespace the simulated app lives in.
pub const NAMESPACE: &str = "default";
/// The container's name and port, as the guide's Deployment.
pub const CONTAINER: &str = "iris-api-container";
pub const CONTAINER_PORT: u16 = 8000;
/// The one node pods run on.
pub const NODE: &str = "iris-lab-sim-node";
/// The pod-template-hash of the Deployment's one ReplicaSet.
pub const TEMPLATE_HASH: &str = "5d8f7c9b4";

/// A timestamp as the API writes it, with milliseconds.
pub fn time(t: Timestamp) -> String {
    format!("{t:.3}")
}

pub fn now() -> String {
    time(Timestamp::now())
}

fn labels(names: &TargetNames) -> Value {
    let (key, value) = names
        .selector
        .split_once('=')
        .unwrap_or(("app", names.deployment.as_str()));
    json!({ key: value })
}

fn template_labels(names: &TargetNames) -> Value {
    let mut l = labels(names);
    l["pod-template-hash"] = json!(TEMPLATE_HASH);
    l
}

fn container(s: &SimSettings) -> Value {
    json!({
        "name": CONTAINER,
        "image": "iris-lab:0.1.0",
        "args": ["serve", "--addr", "0.0.0.0:8000"],
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": format!("{}m", s.cpu_request_m), "memory": format!("{}Mi", s.memory_request_mi)},
            "limits": {"cpu": format!("{}m", s.cpu_limit_m), "memory": format!("{}Mi", s.memory_limit_mi)}
        },
        "readinessProbe": {"httpGet": {"path": "/health", "port": CONTAINER_PORT}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/health", "port": CONTAINER_PORT}, "initialDelaySeconds": 30, "periodSeconds": 10}
    })
}

/// The Deployment, with the simulation's settings in an annotation.
pub fn deployment(names: &TargetNames, s: &SimSettings, settings_json: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": names.deployment, "namespace": NAMESPACE, "labels": labels(names),
            "generation": 1,
            "annotations": {SIMULATED_ANNOTATION: settings_json, "deployment.kubernetes.io/revision": "1"}
        },
        "spec": {
            "replicas": s.replicas,
            "selector": {"matchLabels": labels(names)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": labels(names)},
                "spec": {"containers": [container(s)], "terminationGracePeriodSeconds": 30}
            }
        },
        "status": {"observedGeneration": 1, "replicas": 0, "updatedReplicas": 0, "readyReplicas": 0, "availableReplicas": 0}
    })
}

/// The Deployment's ReplicaSet (what `kubectl describe deployment` names).
pub fn replica_set(names: &TargetNames, s: &SimSettings, deployment_uid: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": replica_set_name(names), "namespace": NAMESPACE,
            "labels": template_labels(names),
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": names.deployment,
                                  "uid": deployment_uid, "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "replicas": s.replicas,
            "selector": {"matchLabels": template_labels(names)},
            "template": {"metadata": {"labels": template_labels(names)}, "spec": {"containers": [container(s)]}}
        },
        "status": {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0}
    })
}

pub fn replica_set_name(names: &TargetNames) -> String {
    format!("{}-{TEMPLATE_HASH}", names.deployment)
}

/// The LoadBalancer Service: its port is the front's, its external address loopback (or
/// none while pending).
pub fn service(names: &TargetNames, port: u16, address: Option<&str>) -> Value {
    let ingress = address.map_or_else(|| json!({}), |a| json!({"ingress": [{"ip": a}]}));
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": names.service, "namespace": NAMESPACE, "labels": labels(names)},
        "spec": {
            "type": "LoadBalancer",
            "selector": labels(names),
            "clusterIP": "10.96.0.42", "clusterIPs": ["10.96.0.42"],
            "ports": [{"name": "http", "port": port, "targetPort": CONTAINER_PORT, "protocol": "TCP", "nodePort": 31080}],
            "sessionAffinity": "None", "externalTrafficPolicy": "Cluster"
        },
        "status": {"loadBalancer": ingress}
    })
}

/// Whole seconds for an API field (at least 1 where the API wants a positive period).
fn secs(d: Duration, at_least: i64) -> i64 {
    (d.as_secs_f64().round() as i64).max(at_least)
}

/// The HPA (autoscaling/v2) with its `behavior` written out at the simulation's time scale:
/// the documented default policies (scale-up max(100%, 4 pods) per 15 s, scale-down 100% per
/// 15 s) with the settings' stabilization windows.
pub fn hpa(names: &TargetNames, s: &SimSettings) -> Value {
    let period = secs(s.scaled(Duration::from_secs(15)), 1);
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": names.hpa, "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.deployment},
            "minReplicas": s.min_replicas, "maxReplicas": s.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                          "target": {"type": "Utilization", "averageUtilization": s.target_cpu_pct}}}],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": secs(s.scaled(s.scale_up_stabilization), 0),
                    "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": period},
                                 {"type": "Pods", "value": 4, "periodSeconds": period}]
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": secs(s.scaled(s.scale_down_stabilization), 0),
                    "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": period}]
                }
            }
        },
        "status": {"currentReplicas": s.replicas, "desiredReplicas": s.replicas, "currentMetrics": null}
    })
}

/// A new pod of the ReplicaSet, Pending and not yet scheduled.
pub fn pod(names: &TargetNames, s: &SimSettings, name: &str, rs_uid: &Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": NAMESPACE, "labels": template_labels(names),
            "creationTimestamp": now(),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set_name(names),
                                  "uid": rs_uid, "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {"containers": [container(s)], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30},
        "status": {"phase": "Pending", "qosClass": "Burstable", "conditions": []}
    })
}

/// Sets (or replaces) a pod condition, with its transition time.
pub fn set_condition(pod: &mut Value, kind: &str, status: bool, at: &str) {
    let status = if status { "True" } else { "False" };
    let conditions = &mut pod["status"]["conditions"];
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("an array");
    list.retain(|c| c["type"] != kind);
    list.push(
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": at}),
    );
}

/// The container's status: running since `started` (ready or not), or crash-looping.
pub fn container_running(pod: &mut Value, started: &str, ready: bool) {
    pod["status"]["containerStatuses"] = json!([{
        "name": CONTAINER, "image": "iris-lab:0.1.0", "imageID": "sha256:iris-lab-sim",
        "containerID": format!("containerd://{}", pod["metadata"]["uid"].as_str().unwrap_or("")),
        "ready": ready, "started": true, "restartCount": 0,
        "state": {"running": {"startedAt": started}}
    }]);
}

/// The container keeps exiting: CrashLoopBackOff after `restarts` restarts.
pub fn container_crashing(pod: &mut Value, restarts: i32, finished: &str) {
    pod["status"]["containerStatuses"] = json!([{
        "name": CONTAINER, "image": "iris-lab:0.1.0", "imageID": "sha256:iris-lab-sim",
        "ready": false, "started": false, "restartCount": restarts,
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                  "message": format!("back-off 40s restarting failed container={CONTAINER}")}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": finished, "finishedAt": finished}}
    }]);
}

/// A core/v1 Event about an object.
pub fn event(
    seq: u64,
    involved: (&str, &str, &str, &Value),
    kind: &str,
    reason: &str,
    message: &str,
    source: &str,
) -> Value {
    let (api_version, obj_kind, name, uid) = involved;
    let t = now();
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{seq:016x}"), "namespace": NAMESPACE},
        "involvedObject": {"apiVersion": api_version, "kind": obj_kind, "name": name, "namespace": NAMESPACE, "uid": uid},
        "reason": reason, "message": message, "type": kind,
        "source": {"component": source},
        "firstTimestamp": t, "lastTimestamp": t, "eventTime": null, "count": 1,
        "reportingComponent": source, "reportingInstance": ""
    })
}

/// A PodMetrics of metrics.k8s.io/v1beta1.
pub fn pod_metrics(
    pod: &str,
    labels: &Value,
    window: Duration,
    cpu_nanocores: u64,
    memory_kib: u64,
) -> Value {
    json!({
        "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": pod, "namespace": NAMESPACE, "labels": labels},
        "timestamp": now(),
        "window": format!("{}s", window.as_secs_f64()),
        "containers": [{"name": CONTAINER, "usage": {"cpu": format!("{cpu_nanocores}n"), "memory": format!("{memory_kib}Ki")}}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    use k8s_openapi::api::core::v1::{Event, Pod, Service};

    fn names() -> TargetNames {
        TargetNames::for_app("iris-prediction-api")
    }

    #[test]
    fn every_object_decodes_as_its_kubernetes_type() {
        let s = SimSettings::default();
        let n = names();
        let d: Deployment = serde_json::from_value(deployment(&n, &s, "{}")).unwrap();
        assert_eq!(d.spec.unwrap().replicas, Some(2));
        let _: ReplicaSet = serde_json::from_value(replica_set(&n, &s, &json!("u"))).unwrap();
        let svc: Service = serde_json::from_value(service(&n, 8080, Some("127.0.0.1"))).unwrap();
        assert_eq!(
            iris_cluster::checks::base_url(&svc).unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        let h: HorizontalPodAutoscaler = serde_json::from_value(hpa(&n, &s)).unwrap();
        assert_eq!(
            iris_cluster::checks::hpa_replicas(&h),
            (2, 15, 2, 2),
            "min, max, current, desired"
        );
        let mut p = pod(&n, &s, "p", &json!("u"));
        set_condition(&mut p, "PodScheduled", true, &now());
        container_running(&mut p, &now(), true);
        let p: Pod = serde_json::from_value(p).unwrap();
        assert!(
            iris_cluster::checks::startup_phases(&p)
                .unwrap()
                .started
                .is_some()
        );
        let _: Event = serde_json::from_value(event(
            1,
            ("v1", "Pod", "p", &json!("u")),
            "Normal",
            "Started",
            "Started container",
            "kubelet",
        ))
        .unwrap();
    }

    #[test]
    fn timestamps_keep_milliseconds() {
        let t: Timestamp = "2026-12-04T16:30:01.123456Z".parse().unwrap();
        assert_eq!(time(t), "2026-12-04T16:30:01.123Z");
    }
}

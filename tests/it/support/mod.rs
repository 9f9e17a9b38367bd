//! Shared test support: the Kubernetes test API server ([`kube_api`]), objects of the guide's
//! deployment built through k8s-openapi types, a kubeconfig pointing at the server, and the
//! real binary.
#![allow(dead_code)]

pub mod cloud_trace;
pub mod compute;
pub mod distributed;
pub mod kube_api;
pub mod process;
pub mod receivers;
pub mod scaling_cluster;
pub mod serve;
pub mod servers;
pub mod web;

#[allow(unused_imports)]
pub use process::*;
pub use serve::*;
#[allow(unused_imports)]
pub use servers::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use kube_api::KubeApi;

pub const APP: &str = "iris-prediction-api";
pub const EXTERNAL_IP: &str = "34.1.2.3";

/// JSON through a k8s-openapi type and back: what the server stores is what that type says.
pub fn typed<T: DeserializeOwned + Serialize>(v: Value) -> T {
    serde_json::from_value(v).expect("a valid object")
}

/// An RFC 3339 time `secs` seconds ago.
pub fn ago(secs: i64) -> String {
    (Timestamp::now() - SignedDuration::from_secs(secs)).to_string()
}

pub fn now() -> String {
    Timestamp::now().to_string()
}

pub fn deployment(replicas: i32, available: i32) -> Deployment {
    typed(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": APP, "namespace": "default", "labels": {"app": APP}, "creationTimestamp": ago(3600)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP}},
            "template": {"metadata": {"labels": {"app": APP}}, "spec": {"containers": [container()]}}
        },
        "status": {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": available, "availableReplicas": available}
    }))
}

fn container() -> Value {
    json!({
        "name": "iris-api-container", "image": "gcr.io/p/iris-api:2.0.0",
        "ports": [{"containerPort": 8000}],
        "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"cpu": "1000m", "memory": "512Mi"}}
    })
}

pub fn service(external_ip: Option<&str>) -> Service {
    let ingress = external_ip.map_or(json!([]), |ip| json!([{"ip": ip}]));
    typed(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("{APP}-service"), "namespace": "default"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.8.0.10", "selector": {"app": APP},
                 "ports": [{"port": 80, "targetPort": 8000, "nodePort": 31234, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": ingress}}
    }))
}

/// The guide's HPA (min 2, max 15, cpu 60%); `cpu: None` is metrics-server giving no data.
pub fn hpa(current: i32, desired: i32, cpu: Option<i32>) -> HorizontalPodAutoscaler {
    let metrics = cpu.map_or(json!([]), |c| {
        json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c, "averageValue": "30m"}}}])
    });
    let active = if cpu.is_some() {
        json!({"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", "lastTransitionTime": ago(600)})
    } else {
        json!({"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API", "lastTransitionTime": ago(600)})
    };
    typed(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": format!("{APP}-hpa"), "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": APP},
            "minReplicas": 2, "maxReplicas": 15,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]
        },
        "status": {
            "currentReplicas": current, "desiredReplicas": desired, "currentMetrics": metrics,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size", "lastTransitionTime": ago(600)},
                active,
                {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range", "lastTransitionTime": ago(600)}
            ]
        }
    }))
}

/// A new pod, just created by the ReplicaSet: Pending, not yet scheduled.
pub fn new_pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": APP, "pod-template-hash": "7d9f8"},
                     "creationTimestamp": now()},
        "spec": {"containers": [container()]},
        "status": {"phase": "Pending", "conditions": []}
    })
}

/// The scheduler placed the pod `after` seconds after it was created.
pub fn schedule(pod: &mut Value) {
    pod["spec"]["nodeName"] = json!(NODE);
    push_condition(pod, "PodScheduled", "True", None);
}

/// The kubelet started its container.
pub fn start(pod: &mut Value) {
    pod["status"]["phase"] = json!("Running");
    pod["status"]["startTime"] = json!(now());
    pod["status"]["containerStatuses"] = json!([{
        "name": "iris-api-container", "image": "gcr.io/p/iris-api:2.0.0", "imageID": IMAGE_ID,
        "ready": false, "restartCount": 0, "state": {"running": {"startedAt": now()}}
    }]);
}

/// Its readiness probe passed.
pub fn make_ready(pod: &mut Value) {
    pod["status"]["containerStatuses"][0]["ready"] = json!(true);
    push_condition(pod, "ContainersReady", "True", None);
    push_condition(pod, "Ready", "True", None);
}

fn push_condition(pod: &mut Value, kind: &str, status: &str, message: Option<&str>) {
    let list = pod["status"]["conditions"]
        .as_array_mut()
        .expect("conditions");
    list.retain(|c| c["type"] != kind);
    let mut c = json!({"type": kind, "status": status, "lastTransitionTime": now()});
    if let Some(m) = message {
        c["reason"] = json!("Unschedulable");
        c["message"] = json!(m);
    }
    list.push(c);
}

/// A pod running and ready for `age` seconds.
pub fn ready_pod(name: &str, age: i64) -> Pod {
    let mut p = new_pod(name);
    p["metadata"]["creationTimestamp"] = json!(ago(age));
    schedule(&mut p);
    start(&mut p);
    make_ready(&mut p);
    typed(p)
}

/// A pod that cannot be scheduled.
pub fn unschedulable_pod(name: &str, message: &str) -> Pod {
    let mut p = new_pod(name);
    push_condition(&mut p, "PodScheduled", "False", Some(message));
    typed(p)
}

/// A pod whose container keeps exiting with `last_reason` (`Error`, `OOMKilled`).
pub fn crashloop_pod(name: &str, last_reason: &str, exit_code: i32) -> Pod {
    let mut p = new_pod(name);
    p["metadata"]["creationTimestamp"] = json!(ago(1200));
    schedule(&mut p);
    start(&mut p);
    p["status"]["containerStatuses"][0]["restartCount"] = json!(5);
    p["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container"}});
    p["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"reason": last_reason, "exitCode": exit_code, "startedAt": ago(60), "finishedAt": ago(50)}});
    push_condition(&mut p, "Ready", "False", None);
    typed(p)
}

/// PodMetrics as metrics-server serves it.
pub fn pod_metrics(name: &str, cpu: &str, memory: &str) -> Value {
    json!({
        "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": APP}},
        "timestamp": now(), "window": "15s",
        "containers": [{"name": "iris-api-container", "usage": {"cpu": cpu, "memory": memory}}]
    })
}

/// A Kubernetes Event about `kind/name`.
pub fn event(id: &str, kind: &str, name: &str, reason: &str, message: &str) -> Event {
    typed(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": id, "namespace": "default"},
        "involvedObject": {"kind": kind, "name": name, "namespace": "default"},
        "reason": reason, "message": message, "type": "Normal",
        "firstTimestamp": now(), "lastTimestamp": now(), "count": 1
    }))
}

/// The digest the test kubelet reports for the app's image.
pub const IMAGE_ID: &str =
    "gcr.io/p/iris-api@sha256:4f1c3a0e9d2b7c65a8e1f0d3b2c4a6e8f1d3b5c7a9e0f2d4b6c8a0e2f4d6b8c0";
/// The node every test pod is scheduled on, and its machine type.
pub const NODE: &str = "gke-pool-1-node-a";
pub const NODE_TYPE: &str = "e2-standard-4";

/// A node with its instance-type label.
pub fn node(name: &str, instance_type: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"node.kubernetes.io/instance-type": instance_type,
            "kubernetes.io/hostname": name}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// The guide's deployment, healthy: 2 ready pods, an external IP, the HPA at 15%/60%.
pub fn healthy(api: &KubeApi) {
    api.put(node(NODE, NODE_TYPE));
    api.put(deployment(2, 2));
    for (i, name) in [
        "iris-prediction-api-7d9f8-aaaaa",
        "iris-prediction-api-7d9f8-bbbbb",
    ]
    .iter()
    .enumerate()
    {
        api.put(ready_pod(name, 3600 + i as i64));
        api.put(pod_metrics(name, "30m", "96Mi"));
    }
    api.put(service(Some(EXTERNAL_IP)));
    api.put(hpa(2, 2, Some(15)));
}

/// How the kubeconfig authenticates.
pub enum Auth<'a> {
    Token(&'a str),
    /// An exec credential plugin at this path (named like GKE's).
    Exec(&'a Path),
}

/// A kubeconfig with one context `test` pointing at `server`.
pub fn kubeconfig(dir: &Path, server: &str, auth: Auth) -> PathBuf {
    let user = match auth {
        Auth::Token(t) => format!("    token: {t}\n"),
        Auth::Exec(cmd) => format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      \
             installHint: Install gke-gcloud-auth-plugin for use with kubectl\n      provideClusterInfo: true\n      \
             interactiveMode: IfAvailable\n",
            cmd.display()
        ),
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n\
         contexts:\n- name: test\n  context:\n    cluster: test\n    user: tester\n    namespace: default\n\
         current-context: test\nusers:\n- name: tester\n  user:\n{user}"
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// A test's cluster: the API server, a temp dir and a kubeconfig with a token.
pub struct Lab {
    pub api: KubeApi,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

pub const TOKEN: &str = "test-token-0123456789";

impl Lab {
    pub fn new() -> Self {
        let api = KubeApi::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = kubeconfig(dir.path(), &api.url, Auth::Token(TOKEN));
        Lab {
            api,
            dir,
            kubeconfig,
        }
    }

    pub fn healthy() -> Self {
        let lab = Lab::new();
        healthy(&lab.api);
        lab
    }

    /// The real binary, with this lab's kubeconfig, in its temp dir, with a time limit.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = iris_lab(self.dir.path());
        c.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        c
    }
}

/// The binary under test, as cargo built it for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_iris-lab"))
}

/// The binary under test, for assertions on its output.
pub fn command() -> assert_cmd::Command {
    assert_cmd::Command::new(binary())
}

/// The binary under test, for a child process the test drives itself.
pub fn std_command() -> std::process::Command {
    std::process::Command::new(binary())
}

/// The binary with a clean environment in `dir`.
pub fn iris_lab(dir: &Path) -> assert_cmd::Command {
    let mut c = command();
    c.current_dir(dir)
        .env_remove("KUBECONFIG")
        .env_remove("IRIS_LAB_HOST")
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_APP")
        .env_remove("IRIS_LAB_FORMAT")
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(30));
    c
}

/// stdout and stderr of a finished command, as text.
pub fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The cells of the first table row (`| a | b |`) whose first cell is `first`, trimmed.
pub fn row(text: &str, first: &str) -> Option<Vec<String>> {
    text.lines().find_map(|line| {
        let cells: Vec<String> = line
            .trim()
            .strip_prefix('|')?
            .strip_suffix('|')?
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        (cells.first().map(String::as_str) == Some(first)).then_some(cells)
    })
}

/// How fast the test controller brings a new pod up (after creation).
pub const SCHEDULE_AFTER: Duration = Duration::from_millis(500);
pub const START_AFTER: Duration = Duration::from_millis(1000);
pub const READY_AFTER: Duration = Duration::from_millis(2000);
/// How long a deleted pod stays Terminating (the preStop sleep, shortened).
pub const TERMINATING_FOR: Duration = Duration::from_millis(800);

/// A tiny ReplicaSet controller + kubelet, for `limit`: keeps the pods at the Deployment's
/// `spec.replicas`, bringing new pods through scheduled -> started -> ready and old ones
/// through Terminating -> deleted, and keeps the Deployment's status counts current.
pub fn run_controller(api: &KubeApi, limit: Duration) -> std::thread::JoinHandle<()> {
    use std::collections::HashMap;
    use std::time::Instant;
    let api = api.clone();
    std::thread::spawn(move || {
        let end = Instant::now() + limit;
        let mut born: HashMap<String, Instant> = HashMap::new();
        let mut dying: HashMap<String, Instant> = HashMap::new();
        let mut serial = 0;
        while Instant::now() < end {
            let Some(dep) = api.get("apps/deployments", APP) else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let desired = dep["spec"]["replicas"].as_i64().unwrap_or(0) as usize;
            let mut live: Vec<Value> = api
                .list("pods")
                .into_iter()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .collect();
            live.sort_by_key(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string());
            while live.len() < desired {
                serial += 1;
                let name = format!("{APP}-7d9f8-new{serial:02}");
                let pod = new_pod(&name);
                api.put(pod.clone());
                born.insert(name, Instant::now());
                live.push(pod);
            }
            for pod in live.iter().skip(desired) {
                let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
                api.update("pods", &name, |p| {
                    p["metadata"]["deletionTimestamp"] = json!(now());
                    p["status"]["containerStatuses"][0]["ready"] = json!(false);
                    push_condition(p, "Ready", "False", None);
                });
                dying.insert(name, Instant::now());
            }
            for (name, since) in dying.clone() {
                if since.elapsed() >= TERMINATING_FOR {
                    api.delete("pods", &name);
                    api.delete("metrics.k8s.io/pods", &name);
                    dying.remove(&name);
                }
            }
            for (name, since) in born.clone() {
                let Some(pod) = api.get("pods", &name) else {
                    born.remove(&name);
                    continue;
                };
                let age = since.elapsed();
                let has = |k: &str| has_condition(&pod, k);
                if age >= SCHEDULE_AFTER && !has("PodScheduled") {
                    api.update("pods", &name, schedule);
                } else if age >= START_AFTER && pod["status"]["phase"] == "Pending" {
                    api.update("pods", &name, start);
                } else if age >= READY_AFTER && !has("Ready") {
                    api.update("pods", &name, make_ready);
                    api.put(pod_metrics(&name, "150m", "110Mi"));
                    born.remove(&name);
                }
            }
            let pods = api.list("pods");
            let ready = pods.iter().filter(|p| has_condition(p, "Ready")).count() as i64;
            let status = &dep["status"];
            if status["replicas"] != json!(desired) || status["readyReplicas"] != json!(ready) {
                api.update("apps/deployments", APP, |d| {
                    d["status"]["replicas"] = json!(desired);
                    d["status"]["updatedReplicas"] = json!(desired);
                    d["status"]["readyReplicas"] = json!(ready);
                    d["status"]["availableReplicas"] = json!(ready);
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// Whether the pod has condition `kind` True.
pub fn has_condition(pod: &Value, kind: &str) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

/// Waits until the binary has its three watches open (pods, HPA, events) and streaming.
pub fn watches_open(api: &KubeApi) {
    for needle in ["/pods?", "/horizontalpodautoscalers?", "/events?"] {
        assert!(
            api.wait_for_watches(needle, 1, Duration::from_secs(15)),
            "no watch on {needle}"
        );
    }
    assert!(
        api.wait_until(Duration::from_secs(15), |api| api.streaming_watches() >= 3),
        "the watches never started streaming"
    );
}

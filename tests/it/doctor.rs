//! `iris-lab doctor` against the Kubernetes test API server (EndpointSlices, Events, nodes,
//! the metrics APIService, pods' previous logs), the reference API on loopback and the Compute
//! API test server: a healthy cluster all PASS; each problem of the guide's troubleshooting
//! section made to happen, and named by `doctor` with its fix.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::support;
use support::compute::{self, FakeCompute};
use support::*;

const NODE: &str = "gke-pool-1-node-a";

fn endpoint_slice(ready: &[(&str, bool)]) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{APP}-service-x7k2p"), "namespace": "default",
                     "labels": {"kubernetes.io/service-name": format!("{APP}-service")}},
        "addressType": "IPv4",
        "ports": [{"name": "", "port": 8000, "protocol": "TCP"}],
        "endpoints": ready.iter().map(|(ip, r)| json!({"addresses": [ip], "conditions": {"ready": r}})).collect::<Vec<_>>()
    })
}

fn metrics_server(available: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": {"k8s-app": "metrics-server"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "metrics-server"}},
                 "template": {"metadata": {"labels": {"k8s-app": "metrics-server"}},
                              "spec": {"containers": [{"name": "metrics-server", "image": "registry.k8s.io/metrics-server/metrics-server:v0.7.2"}]}}},
        "status": {"replicas": 1, "readyReplicas": available, "availableReplicas": available}
    })
}

fn api_service(available: bool, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
                 "service": {"name": "metrics-server", "namespace": "kube-system"}},
        "status": {"conditions": [{"type": "Available", "status": if available { "True" } else { "False" },
                                   "reason": reason, "message": message, "lastTransitionTime": now()}]}
    })
}

fn node(pressure: Option<(&str, &str)>) -> Value {
    let mut conditions = vec![
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}),
    ];
    for kind in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        let (status, message) = match pressure {
            Some((k, m)) if k == kind => ("True", m.to_string()),
            _ => ("False", format!("kubelet has no {kind}")),
        };
        conditions.push(json!({"type": kind, "status": status, "message": message}));
    }
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}, "status": {"conditions": conditions}})
}

/// The guide's deployment, healthy, with what doctor reads besides verify's objects.
fn healthy_lab() -> Lab {
    let lab = Lab::healthy();
    lab.api
        .put(endpoint_slice(&[("10.4.0.11", true), ("10.4.1.12", true)]));
    lab.api.put(metrics_server(1));
    lab.api
        .put(api_service(true, "Passed", "all checks passed"));
    lab.api.put(node(None));
    lab
}

/// doctor's JSON, and its exit code.
fn doctor_json(lab: &Lab, args: &[&str]) -> (Value, Option<i32>, String) {
    let mut all = vec!["doctor", "--format", "json"];
    if !args.contains(&"--probe-timeout") {
        all.extend(["--probe-timeout", "3s"]);
    }
    all.extend_from_slice(args);
    let out = lab.cmd(&all).output().unwrap();
    let (stdout, stderr) = texts(&out);
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (v, out.status.code(), stderr)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
}

fn verdicts(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_healthy_cluster_passes_every_check_in_order() {
    let lab = healthy_lab();
    let api = spawn_reference_api();
    let out = lab.cmd(&["doctor", "--host", &api]).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .map(str::trim)
        .skip(1)
        .filter(|n| !n.starts_with('-'))
        .collect();
    assert_eq!(
        names,
        [
            "Service iris-prediction-api-service",
            "External address",
            "Service ports",
            "Service selector",
            "Endpoints",
            "Name resolution",
            "TCP connect",
            "HTTP GET /health",
            "HPA iris-prediction-api-hpa conditions",
            "HPA metrics",
            "HPA replicas",
            "CPU requests for the HPA",
            "metrics-server",
            "APIService v1beta1.metrics.k8s.io",
            "Current pod metrics",
            "Pods running and ready",
            "Images pulled",
            "Restarts",
            "Requests and limits",
            "Nodes of the pods",
        ],
        "{stdout}"
    );
    for n in &names {
        assert_eq!(row(&stdout, n).unwrap()[2], "PASS", "{n}: {stdout}");
    }
    assert!(
        stdout.contains("20 checks: 20 passed, 0 warnings, 0 failed"),
        "{stdout}"
    );
    assert!(!stdout.contains("What to do"), "{stdout}");
    assert_eq!(
        row(&stdout, "Endpoints").unwrap()[3],
        "2 ready: 10.4.0.11:8000, 10.4.1.12:8000"
    );
    assert!(
        row(&stdout, "HTTP GET /health").unwrap()[3].starts_with("200 in "),
        "{stdout}"
    );
    // Nothing here changes the cluster.
    assert!(lab.api.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn a_pending_address_fails_with_the_services_events_and_reachability_waits_for_it() {
    let lab = healthy_lab();
    lab.api.put(service(None));
    lab.api.put(event(
        "svc-ev-1",
        "Service",
        &format!("{APP}-service"),
        "EnsuringLoadBalancer",
        "Ensuring load balancer",
    ));
    let mut warning = event(
        "svc-ev-2",
        "Service",
        &format!("{APP}-service"),
        "SyncLoadBalancerFailed",
        "Error syncing load balancer: failed to ensure load balancer: failed to create forwarding rule: Quota 'IN_USE_ADDRESSES' exceeded. Limit: 8.0 in region us-central1.",
    );
    warning.type_ = Some("Warning".into());
    lab.api.put(warning);
    let (report, code, _) = doctor_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let c = check(&report, "External address");
    assert_eq!(c["verdict"], "FAIL");
    assert!(
        c["evidence"]
            .as_str()
            .unwrap()
            .contains("Warning SyncLoadBalancerFailed"),
        "{c}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("Quota 'IN_USE_ADDRESSES' exceeded"),
        "{c}"
    );
    assert_eq!(c["details"].as_array().unwrap().len(), 2);
    let reach = check(&report, "Reachability");
    assert_eq!(reach["verdict"], "WARN");
    assert!(
        reach["evidence"]
            .as_str()
            .unwrap()
            .contains("no --host and no external address")
    );
    // The events were asked for the Service only.
    assert!(lab.api.requests().iter().any(|r| r.uri.contains("/events?")
        && r.uri.contains("fieldSelector=involvedObject.kind%3DService%2CinvolvedObject.name%3Diris-prediction-api-service")));
}

#[test]
fn wait_follows_the_service_until_its_address_comes() {
    let lab = healthy_lab();
    lab.api.put(service(None));
    let api = lab.api.clone();
    let later = std::thread::spawn(move || {
        assert!(api.wait_for_watches("/services?", 1, Duration::from_secs(20)));
        std::thread::sleep(Duration::from_millis(300));
        api.put(service(Some("127.0.0.1")));
    });
    let (report, _, stderr) = doctor_json(&lab, &["--wait", "20s"]);
    later.join().unwrap();
    assert!(
        stderr.contains(
            "waiting up to 20s for an external address of Service iris-prediction-api-service"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("iris-prediction-api-service  LoadBalancer  127.0.0.1  80:31234/TCP"),
        "{stderr}"
    );
    assert_eq!(check(&report, "External address")["verdict"], "PASS");
    // Reachability went to the address that came: nothing listens on 127.0.0.1:80 here, or
    // something does; either way the connect was tried against it.
    assert_eq!(report["host"], "http://127.0.0.1/");
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "TCP connect")
    );
}

#[test]
fn an_hpa_without_metrics_names_metrics_server_the_api_service_and_cpu_requests() {
    let lab = healthy_lab();
    lab.api.put(hpa(2, 2, None));
    lab.api.delete("apps/deployments", APP);
    let mut d = serde_json::to_value(deployment(2, 2)).unwrap();
    d["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"memory": "512Mi"}});
    lab.api.put(d);
    lab.api.put(metrics_server(0));
    lab.api.put(api_service(false, "MissingEndpoints", "endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\""));
    lab.api.fail("metrics.k8s.io/pods", 503);
    let (report, code, _) = doctor_json(&lab, &["--host", &spawn_reference_api()]);
    assert_eq!(code, Some(1));
    let c = check(&report, "HPA iris-prediction-api-hpa conditions");
    assert_eq!(c["verdict"], "FAIL");
    assert!(
        c["evidence"]
            .as_str()
            .unwrap()
            .starts_with("ScalingActive False FailedGetResourceMetric: the HPA was unable"),
        "{c}"
    );
    assert_eq!(
        check(&report, "HPA metrics")["evidence"],
        "targets cpu: <unknown>/60%"
    );
    let req = check(&report, "CPU requests for the HPA");
    assert_eq!(
        (req["verdict"].as_str(), req["evidence"].as_str()),
        (
            Some("FAIL"),
            Some("no CPU request on container iris-api-container")
        )
    );
    assert_eq!(
        check(&report, "metrics-server")["evidence"],
        "metrics-server: 0/1 available"
    );
    let svc = check(&report, "APIService v1beta1.metrics.k8s.io");
    assert_eq!(svc["verdict"], "FAIL");
    assert!(
        svc["evidence"]
            .as_str()
            .unwrap()
            .starts_with("Available False MissingEndpoints"),
        "{svc}"
    );
    assert_eq!(check(&report, "Current pod metrics")["verdict"], "FAIL");
    assert_eq!(check(&report, "Requests and limits")["verdict"], "FAIL");
}

#[test]
fn crashing_pods_show_their_reason_and_the_last_lines_of_their_previous_log() {
    let lab = healthy_lab();
    let crashing = "iris-prediction-api-7d9f8-ccccc";
    let mut pod = serde_json::to_value(crashloop_pod(crashing, "OOMKilled", 137)).unwrap();
    pod["spec"]["nodeName"] = json!(NODE);
    lab.api.put(pod);
    let t0 = Timestamp::now() - SignedDuration::from_secs(90);
    let lines: Vec<(Timestamp, String)> = (0..30)
        .map(|i| {
            (
                t0 + SignedDuration::from_secs(i),
                format!("INFO: loading batch {i}"),
            )
        })
        .collect();
    let mut borrowed: Vec<(Timestamp, &str)> =
        lines.iter().map(|(t, l)| (*t, l.as_str())).collect();
    borrowed.push((t0 + SignedDuration::from_secs(31), "Killed"));
    lab.api.log(crashing, "iris-api-container", true, &borrowed);
    lab.api.put(typed::<k8s_openapi::api::core::v1::Pod>(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "iris-prediction-api-7d9f8-ddddd", "namespace": "default", "labels": {"app": APP}, "creationTimestamp": ago(60)},
        "spec": {"nodeName": NODE, "containers": [{"name": "iris-api-container", "image": "gcr.io/p/iris-api:2.0.1"}]},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "iris-api-container", "image": "gcr.io/p/iris-api:2.0.1", "imageID": "",
            "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"gcr.io/p/iris-api:2.0.1\""}}}]}
    })));
    lab.api.put(node(Some((
        "MemoryPressure",
        "kubelet has insufficient memory available",
    ))));
    let (report, code, _) = doctor_json(
        &lab,
        &["--host", &spawn_reference_api(), "--log-lines", "5"],
    );
    assert_eq!(code, Some(1));
    let r = check(
        &report,
        &format!("Restarts of {crashing}/iris-api-container"),
    );
    assert_eq!(r["verdict"], "FAIL");
    assert!(
        r["evidence"]
            .as_str()
            .unwrap()
            .starts_with("5 restarts; last ended OOMKilled (exit 137"),
        "{r}"
    );
    assert!(
        r["fix"]
            .as_str()
            .unwrap()
            .contains("ran out of memory (limit 512Mi)"),
        "{r}"
    );
    assert_eq!(
        r["details"],
        json!([
            "last 5 lines of the previous log:",
            "  INFO: loading batch 26",
            "  INFO: loading batch 27",
            "  INFO: loading batch 28",
            "  INFO: loading batch 29",
            "  Killed"
        ])
    );
    let log_reads = lab.api.log_requests();
    assert_eq!(log_reads.len(), 1, "{log_reads:?}");
    for part in [
        "previous=true",
        "tailLines=5",
        "limitBytes=16384",
        "container=iris-api-container",
    ] {
        assert!(log_reads[0].contains(part), "{part}: {log_reads:?}");
    }
    let img = check(&report, "Images pulled");
    assert!(img["evidence"].as_str().unwrap().starts_with("iris-prediction-api-7d9f8-ddddd/iris-api-container: ImagePullBackOff gcr.io/p/iris-api:2.0.1"), "{img}");
    assert_eq!(check(&report, "Pods running and ready")["verdict"], "FAIL");
    let n = check(&report, "Nodes of the pods");
    assert_eq!(
        n["evidence"],
        format!("{NODE}: MemoryPressure True kubelet has insufficient memory available")
    );
}

#[test]
fn missing_permissions_are_named_with_can_i_and_the_other_checks_go_on() {
    let lab = healthy_lab();
    lab.api.deny("get", "nodes");
    lab.api.deny("list", "apps/deployments");
    lab.api.deny("list", "discovery.k8s.io/endpointslices");
    let out = lab
        .cmd(&["doctor", "--host", &spawn_reference_api()])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings alone do not fail: {stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("`kubectl auth can-i get nodes` says no"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`kubectl auth can-i list deployments.apps -n kube-system` says no"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "`kubectl auth can-i list endpointslices.discovery.k8s.io -n default` says no"
        ),
        "{stdout}"
    );
    assert_eq!(row(&stdout, "Nodes of the pods").unwrap()[2], "WARN");
    assert_eq!(row(&stdout, "HPA metrics").unwrap()[2], "PASS");
    assert_eq!(row(&stdout, "HTTP GET /health").unwrap()[2], "PASS");
    assert!(
        stdout.contains("20 checks: 17 passed, 3 warnings, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn an_unusable_cluster_is_one_failure_and_reachability_is_still_checked() {
    let lab = healthy_lab();
    lab.api.require_token("another-token");
    let (report, code, _) = doctor_json(&lab, &["--host", &spawn_reference_api()]);
    assert_eq!(code, Some(1));
    let c = check(&report, "Kubernetes API");
    assert!(
        c["evidence"].as_str().unwrap().contains("401 Unauthorized"),
        "{c}"
    );
    assert_eq!(check(&report, "HTTP GET /health")["verdict"], "PASS");
}

#[test]
fn a_closed_port_and_an_unhealthy_api_are_named_step_by_step() {
    let lab = healthy_lab();
    let (report, code, _) = doctor_json(&lab, &["--host", &closed_port_url()]);
    assert_eq!(code, Some(1));
    let tcp = check(&report, "TCP connect");
    assert_eq!(tcp["verdict"], "FAIL");
    assert!(
        tcp["evidence"]
            .as_str()
            .unwrap()
            .contains("refused the connection"),
        "{tcp}"
    );
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "HTTP GET /health")
    );
    let failing = spawn_router(axum::Router::new().route(
        "/health",
        axum::routing::get(|| async {
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "{\"status\":\"model not loaded\"}",
            )
        }),
    ));
    let (report, code, _) = doctor_json(&lab, &["--host", &failing]);
    assert_eq!(code, Some(1));
    let http = check(&report, "HTTP GET /health");
    assert_eq!(http["verdict"], "FAIL");
    assert!(
        http["evidence"].as_str().unwrap().starts_with("503 in "),
        "{http}"
    );
    let silent = spawn_silent_server();
    let (report, _, _) = doctor_json(&lab, &["--host", &silent, "--probe-timeout", "1s"]);
    let http = check(&report, "HTTP GET /health");
    assert!(
        http["evidence"].as_str().unwrap().contains("timed out"),
        "{http}"
    );
}

fn doctor_with_compute(lab: &Lab, fake: &FakeCompute) -> (Value, Option<i32>) {
    let out = lab
        .cmd(&[
            "doctor",
            "--format",
            "json",
            "--host",
            &spawn_reference_api(),
            "--gcp-project",
            compute::PROJECT,
        ])
        .env("IRIS_LAB_COMPUTE_URL", &fake.url)
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", compute::TOKEN)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(!stdout.contains(compute::TOKEN) && !stderr.contains(compute::TOKEN));
    (
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}")),
        out.status.code(),
    )
}

#[test]
fn the_vpc_firewall_is_read_page_by_page_and_judged_for_the_services_port() {
    let lab = healthy_lab();
    let fake = FakeCompute::start();
    fake.add_rule(compute::rule(
        "default-allow-ssh",
        65534,
        Some("22"),
        None,
        "0.0.0.0/0",
    ));
    fake.add_rule(compute::rule(
        "default-allow-internal",
        65534,
        Some("0-65535"),
        None,
        "10.128.0.0/9",
    ));
    fake.add_rule(compute::rule(
        "k8s-fw-a8f3e2c1d9b04e7f9a6c5d4e3f2a1b0c",
        1000,
        Some("80"),
        None,
        "0.0.0.0/0",
    ));
    let (report, code) = doctor_with_compute(&lab, &fake);
    assert_eq!(code, Some(0), "{report:#}");
    let c = check(&report, "VPC firewall admits tcp:80");
    assert_eq!(c["verdict"], "PASS");
    assert!(c["evidence"].as_str().unwrap().starts_with("k8s-fw-a8f3e2c1d9b04e7f9a6c5d4e3f2a1b0c (allow, network default, priority 1000, from 0.0.0.0/0"), "{c}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "two pages of two rules");
    assert_eq!(
        requests[1].1.get("pageToken").map(String::as_str),
        Some("page-2")
    );

    fake.add_rule(compute::rule(
        "block-http",
        900,
        None,
        Some("80"),
        "0.0.0.0/0",
    ));
    let (report, code) = doctor_with_compute(&lab, &fake);
    assert_eq!(code, Some(1));
    let c = check(&report, "VPC firewall admits tcp:80");
    assert_eq!(c["verdict"], "FAIL");
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .starts_with("the deny rule block-http (priority 900) wins"),
        "{c}"
    );
}

#[test]
fn a_missing_firewall_rule_fails_and_a_denied_compute_api_is_a_stated_gap() {
    let lab = healthy_lab();
    let fake = FakeCompute::start();
    fake.add_rule(compute::rule(
        "default-allow-ssh",
        65534,
        Some("22"),
        None,
        "0.0.0.0/0",
    ));
    let (report, code) = doctor_with_compute(&lab, &fake);
    assert_eq!(code, Some(1));
    let c = check(&report, "VPC firewall admits tcp:80");
    assert_eq!(
        c["evidence"],
        "no enabled ingress rule of project iris-proj admits tcp:80"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("gcloud compute firewall-rules create allow-iris-80 --project iris-proj"),
        "{c}"
    );
    fake.deny();
    let (report, code) = doctor_with_compute(&lab, &fake);
    assert_eq!(code, Some(0));
    let c = check(&report, "VPC firewall admits tcp:80");
    assert_eq!(c["verdict"], "WARN");
    assert!(
        c["evidence"]
            .as_str()
            .unwrap()
            .contains("needs permission compute.firewalls.list"),
        "{c}"
    );
    assert!(
        verdicts(&report)
            .iter()
            .filter(|(_, v)| v == "FAIL")
            .count()
            == 0
    );
}

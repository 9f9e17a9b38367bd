use super::*;
use serde_json::json;

fn spec() -> WorkerJob {
    WorkerJob {
        name: "iris-lab-load-abc".into(),
        namespace: "load".into(),
        run: "abc".into(),
        image: "ghcr.io/x/iris-lab:0.1.0".into(),
        workers: 3,
        args: vec!["worker".into()],
        env: [("IRIS_LAB_WORKER_PLAN".to_string(), "{}".to_string())].into(),
        cpu: Some("2".into()),
        memory: Some("1Gi".into()),
        node_selector: [("pool".to_string(), "load".to_string())].into(),
    }
}

#[test]
fn the_job_is_indexed_never_retried_spread_and_guaranteed() {
    let j = serde_json::to_value(job(&spec())).unwrap();
    let s = &j["spec"];
    assert_eq!(s["completionMode"], "Indexed");
    assert_eq!(
        (s["completions"].clone(), s["parallelism"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(s["backoffLimit"], 0);
    assert_eq!(s["ttlSecondsAfterFinished"], TTL_AFTER_FINISHED_S);
    let pod = &s["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["nodeSelector"]["pool"], "load");
    let term =
        &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(
        term["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(
        term["podAffinityTerm"]["labelSelector"]["matchLabels"][RUN_LABEL],
        "abc"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/x/iris-lab:0.1.0");
    assert_eq!(c["args"], json!(["worker"]));
    assert_eq!(
        c["env"],
        json!([{"name": "IRIS_LAB_WORKER_PLAN", "value": "{}"}])
    );
    assert_eq!(
        c["resources"]["requests"], c["resources"]["limits"],
        "Guaranteed"
    );
    assert_eq!(c["resources"]["requests"]["memory"], "1Gi");
    assert_eq!(j["metadata"]["labels"][RUN_LABEL], "abc");
    assert_eq!(s["template"]["metadata"]["labels"][RUN_LABEL], "abc");
    let mut no_limits = spec();
    no_limits.cpu = None;
    no_limits.memory = None;
    no_limits.node_selector.clear();
    let j = serde_json::to_value(job(&no_limits)).unwrap();
    assert!(
        j["spec"]["template"]["spec"]["containers"][0]
            .get("resources")
            .is_none()
    );
    assert!(j["spec"]["template"]["spec"].get("nodeSelector").is_none());
}

#[test]
fn can_i_lines_name_group_and_subresource() {
    let lines: Vec<String> = NEEDED.iter().map(|n| n.can_i("load")).collect();
    assert_eq!(lines[0], "kubectl auth can-i create jobs.batch -n load");
    assert_eq!(lines[2], "kubectl auth can-i get pods -n load");
    assert_eq!(
        lines[5],
        "kubectl auth can-i get pods --subresource=log -n load"
    );
    let role = serde_json::to_value(controller_role("load")).unwrap();
    // Every needed permission is granted by the Role.
    for need in NEEDED {
        let resource = match need.subresource {
            Some(s) => format!("{}/{s}", need.resource),
            None => need.resource.to_string(),
        };
        let granted = role["rules"].as_array().unwrap().iter().any(|r| {
            r["apiGroups"][0] == need.group
                && r["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| *x == resource.as_str())
                && r["verbs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| *v == need.verb)
        });
        assert!(granted, "{need:?}");
    }
}

#[test]
fn in_cluster_traffic_to_the_load_balancers_address_is_named() {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "s"},
        "status": {"loadBalancer": {"ingress": [{"ip": "34.1.2.3"}, {"hostname": "lb.example.com"}]}}
    }))
    .unwrap();
    assert!(bypasses_load_balancer("34.1.2.3", &svc));
    assert!(bypasses_load_balancer("lb.example.com", &svc));
    assert!(!bypasses_load_balancer("10.0.0.1", &svc));
    assert!(!bypasses_load_balancer("34.1.2.3", &Service::default()));
}

#[test]
fn pods_say_their_index_node_and_end() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "j-1-x", "annotations": {INDEX_ANNOTATION: "1"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "worker"}]},
        "status": {"phase": "Failed", "containerStatuses": [{
            "name": "worker", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}
    }))
    .unwrap();
    let w = WorkerPod::from_pod(&pod);
    assert_eq!(
        (w.index, w.node.as_deref(), w.started),
        (Some(1), Some("n1"), true)
    );
    assert_eq!(w.ended.as_deref(), Some("OOMKilled (exit code 137)"));
    let pending = WorkerPod::from_pod(&Pod::default());
    assert_eq!(
        (pending.started, pending.ended, pending.index),
        (false, None, None)
    );
}

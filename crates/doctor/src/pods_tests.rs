use super::*;
use crate::Verdict;
use serde_json::json;

fn pod(name: &str, status: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "api", "image": "gcr.io/p/iris:2",
                 "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}}]},
        "status": status
    }))
    .unwrap()
}

fn oom_looping() -> Pod {
    pod(
        "p-1",
        json!({"phase": "Running", "containerStatuses": [{
        "name": "api", "image": "gcr.io/p/iris:2", "imageID": "", "ready": false, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-01-01T00:10:00Z"}}}]}),
    )
}

#[test]
fn an_oom_killed_restart_fails_with_its_limit_and_previous_log() {
    let p = oom_looping();
    assert_eq!(
        restarted(std::slice::from_ref(&p)),
        [("p-1".to_string(), "api".to_string())]
    );
    let logs = [PreviousLog {
        pod: "p-1".into(),
        container: "api".into(),
        lines: Ok(vec!["loading model".into(), "Killed".into()]),
    }];
    let c = &restarts(std::slice::from_ref(&p), &logs)[0];
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(
        c.evidence,
        "4 restarts; last ended OOMKilled (exit 137 at 2026-01-01T00:10:00Z); now CrashLoopBackOff"
    );
    assert!(c.fix.as_ref().unwrap().contains("(limit 512Mi)"));
    assert_eq!(
        c.details,
        [
            "last 2 lines of the previous log:",
            "  loading model",
            "  Killed"
        ]
    );
}

#[test]
fn an_image_that_cannot_be_pulled_is_named() {
    let p = pod(
        "p-2",
        json!({"phase": "Pending", "containerStatuses": [{
        "name": "api", "image": "gcr.io/p/iris:3", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"gcr.io/p/iris:3\""}}}]}),
    );
    let c = images(std::slice::from_ref(&p));
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.evidence
            .starts_with("p-2/api: ImagePullBackOff gcr.io/p/iris:3"),
        "{}",
        c.evidence
    );
    let healthy = images(&[]);
    assert_eq!(healthy.verdict, Verdict::Pass);
    assert_eq!(restarts(&[], &[])[0].verdict, Verdict::Pass);
}

#[test]
fn requests_and_limits() {
    let p = oom_looping();
    let containers = p.spec.unwrap().containers;
    let c = resources(&containers);
    assert_eq!(c.verdict, Verdict::Pass);
    assert_eq!(
        c.evidence,
        "api: requests.cpu 200m, requests.memory 256Mi, limits.memory 512Mi"
    );
    let bare: Container = serde_json::from_value(json!({"name": "api"})).unwrap();
    let c = resources(&[bare]);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.fix
            .unwrap()
            .starts_with("set api: requests.cpu, api: requests.memory, api: limits.memory")
    );
}

#[test]
fn a_node_under_pressure_fails() {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "node-a"},
        "status": {"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "MemoryPressure", "status": "True", "message": "kubelet has insufficient memory available"},
            {"type": "DiskPressure", "status": "False"}
        ]}
    }))
    .unwrap();
    let c = nodes(std::slice::from_ref(&node));
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(
        c.evidence,
        "node-a: MemoryPressure True kubelet has insufficient memory available"
    );
    assert_eq!(node_names(&[oom_looping()]), ["node-a"]);
}

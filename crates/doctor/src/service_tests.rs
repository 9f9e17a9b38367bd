use super::*;
use crate::Verdict;
use serde_json::json;

fn svc(target_port: serde_json::Value, ingress: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "s"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "iris"},
                 "ports": [{"port": 80, "targetPort": target_port, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": ingress}}
    }))
    .unwrap()
}

fn deployment(labels: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "iris"},
        "spec": {"selector": {"matchLabels": labels.clone()}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "api", "ports": [{"containerPort": 8000, "name": "http"}]}]}}}
    }))
    .unwrap()
}

fn event(kind: &str, reason: &str, message: &str, count: i32) -> Event {
    serde_json::from_value(json!({
        "metadata": {"name": "e"}, "involvedObject": {"kind": "Service", "name": "s"},
        "type": kind, "reason": reason, "message": message, "count": count
    }))
    .unwrap()
}

#[test]
fn a_pending_address_shows_the_events_and_their_warning() {
    let s = svc(json!(8000), json!([]));
    let events = [
        event(
            "Normal",
            "EnsuringLoadBalancer",
            "Ensuring load balancer",
            1,
        ),
        event(
            "Warning",
            "SyncLoadBalancerFailed",
            "Error syncing load balancer: failed to ensure load balancer: Quota 'IN_USE_ADDRESSES' exceeded.",
            3,
        ),
    ];
    let c = external_address(&s, &events, "s", "default");
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.evidence
            .starts_with("<pending>; last event: Warning SyncLoadBalancerFailed"),
        "{}",
        c.evidence
    );
    assert!(
        c.fix
            .as_ref()
            .unwrap()
            .contains("reports SyncLoadBalancerFailed: Error syncing"),
        "{:?}",
        c.fix
    );
    assert_eq!(c.details.len(), 2);
    assert!(c.details[1].ends_with("exceeded. (x3)"), "{}", c.details[1]);
    let quiet = external_address(&s, &[], "s", "default");
    assert!(quiet.fix.unwrap().contains("--wait 5m"));
    let up = external_address(
        &svc(json!(8000), json!([{"ip": "34.1.2.3"}])),
        &[],
        "s",
        "default",
    );
    assert_eq!(up.verdict, Verdict::Pass);
}

#[test]
fn a_target_port_nothing_listens_on_fails() {
    let d = deployment(json!({"app": "iris"}));
    assert_eq!(
        ports(&svc(json!(8000), json!([])), Some(&d)).verdict,
        Verdict::Pass
    );
    assert_eq!(
        ports(&svc(json!("http"), json!([])), Some(&d)).verdict,
        Verdict::Pass
    );
    let wrong = ports(&svc(json!(8080), json!([])), Some(&d));
    assert_eq!(wrong.verdict, Verdict::Fail);
    assert_eq!(wrong.evidence, "80 -> 8080; the containers declare 8000");
    assert_eq!(
        ports(&svc(json!("web"), json!([])), Some(&d)).verdict,
        Verdict::Fail
    );
}

#[test]
fn a_selector_that_misses_the_pods_fails() {
    let s = svc(json!(8000), json!([]));
    let ok = selector(
        &s,
        Some(&deployment(json!({"app": "iris", "tier": "api"}))),
        "ns",
    )
    .unwrap();
    assert_eq!(ok.verdict, Verdict::Pass);
    let off = selector(&s, Some(&deployment(json!({"app": "other"}))), "ns").unwrap();
    assert_eq!(off.verdict, Verdict::Fail);
    assert!(
        off.evidence.contains("do not carry app=iris"),
        "{}",
        off.evidence
    );
}

#[test]
fn endpoints_count_only_ready_addresses() {
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": "s-abc"}, "addressType": "IPv4",
        "ports": [{"port": 8000}],
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}}
        ]
    }))
    .unwrap();
    let c = endpoints(std::slice::from_ref(&slice), "s", "ns");
    assert_eq!(c.verdict, Verdict::Pass);
    assert_eq!(c.evidence, "1 ready, 1 not ready: 10.0.0.1:8000");
    let none = endpoints(&[], "s", "ns");
    assert_eq!(none.verdict, Verdict::Fail);
}

use super::*;
use jiff::Timestamp;

fn healthy() -> VerifyReport {
    VerifyReport {
        server: "https://k".into(),
        namespace: "ml".into(),
        selector: "app=iris".into(),
        deployment: Some(DeploymentView {
            name: "iris".into(),
            replicas: ReplicaCounts {
                desired: 2,
                updated: 2,
                ready: 2,
                available: 2,
            },
        }),
        pods: vec![PodRow {
            name: "iris-1".into(),
            ready: "1/1".into(),
            status: "Running".into(),
            restarts: 0,
            age: "5m".into(),
            healthy: true,
            problem: None,
        }],
        service: Some(ServiceView {
            name: "iris-service".into(),
            kind: "LoadBalancer".into(),
            cluster_ip: "10.0.0.1".into(),
            external_ip: Some("34.1.2.3".into()),
            ports: "80:31234/TCP".into(),
        }),
        hpa: Some(HpaView {
            name: "iris-hpa".into(),
            min: 2,
            max: 15,
            current: 2,
            desired: 2,
            targets: crate::checks::HpaTargets::cpu_utilization(Some(15), Some(60)),
            conditions: vec![],
        }),
        metrics_api: MetricsApi {
            answers: true,
            detail: "answers, 1 pod with metrics".into(),
            arriving: None,
        },
        base_url: Some("http://34.1.2.3/".into()),
        checks: vec![],
        passed: false,
    }
}

fn names() -> TargetNames {
    TargetNames::for_app("iris")
}

#[test]
fn everything_up_passes_four_checks() {
    let checks = build_checks(&healthy(), &names(), Timestamp::now());
    assert_eq!(checks.len(), 4);
    assert!(
        checks.iter().all(|c| c.passed && c.remedy.is_none()),
        "{checks:?}"
    );
}

#[test]
fn unavailable_replicas_fail_the_deployment() {
    let mut r = healthy();
    r.deployment.as_mut().unwrap().replicas.available = 1;
    let checks = build_checks(&r, &names(), Timestamp::now());
    assert!(!checks[0].passed);
    assert_eq!(
        checks[0].detail,
        "desired 2, updated 2, ready 2, available 1"
    );
}

#[test]
fn missing_objects_name_the_namespace() {
    let mut r = healthy();
    r.deployment = None;
    r.service = None;
    r.hpa = None;
    r.pods.clear();
    let checks = build_checks(&r, &names(), Timestamp::now());
    assert!(checks.iter().all(|c| !c.passed));
    assert_eq!(checks[0].name, "Deployment iris");
    assert_eq!(checks[0].detail, "not found in namespace ml");
    assert_eq!(checks[1].detail, "no pods match app=iris in namespace ml");
    assert_eq!(checks[2].name, "Service iris-service");
    assert_eq!(checks[3].name, "HPA iris-hpa");
}

#[test]
fn an_unhealthy_pod_gives_its_problem_as_the_remedy() {
    let mut r = healthy();
    r.pods[0].healthy = false;
    r.pods[0].problem = Some("CrashLoopBackOff: ...".into());
    let c = &build_checks(&r, &names(), Timestamp::now())[1];
    assert!(!c.passed);
    assert_eq!(c.detail, "0/1 pods Running and Ready");
    assert_eq!(c.remedy.as_deref(), Some("iris-1: CrashLoopBackOff: ..."));
}

#[test]
fn a_pending_ip_and_a_clusterip_service_get_different_remedies() {
    let mut r = healthy();
    r.service.as_mut().unwrap().external_ip = None;
    let c = &build_checks(&r, &names(), Timestamp::now())[2];
    assert!(!c.passed);
    assert!(
        c.remedy
            .as_ref()
            .unwrap()
            .contains("still being provisioned")
    );
    r.service.as_mut().unwrap().kind = "ClusterIP".into();
    let c = &build_checks(&r, &names(), Timestamp::now())[2];
    assert!(
        c.remedy
            .as_ref()
            .unwrap()
            .contains("kubectl port-forward svc/iris-service")
    );
}

#[test]
fn unknown_targets_or_scaling_inactive_fail_the_hpa() {
    let mut r = healthy();
    r.hpa.as_mut().unwrap().targets = crate::checks::HpaTargets::cpu_utilization(None, Some(60));
    r.metrics_api = MetricsApi {
        answers: false,
        detail: "does not answer: 503".into(),
        arriving: None,
    };
    let c = &build_checks(&r, &names(), Timestamp::now())[3];
    assert!(!c.passed);
    assert!(
        c.remedy
            .as_ref()
            .unwrap()
            .contains("metrics.k8s.io API does not answer: 503")
    );
    let mut r = healthy();
    r.hpa.as_mut().unwrap().conditions.push(ConditionView {
        kind: "ScalingActive".into(),
        status: "False".into(),
        reason: "FailedGetResourceMetric".into(),
        message: "m".into(),
    });
    let c = &build_checks(&r, &names(), Timestamp::now())[3];
    assert!(!c.passed);
    assert!(
        c.detail
            .ends_with("ScalingActive=False FailedGetResourceMetric")
    );
}

/// Warming up is not failing: young pods, metrics.k8s.io answering, no value yet is a WARN
/// that passes and says when; once due, the same is a FAIL.
#[test]
fn unknown_targets_while_metrics_arrive_are_a_warning_that_says_when() {
    let mut r = healthy();
    r.hpa.as_mut().unwrap().targets = crate::checks::HpaTargets::cpu_utilization(None, Some(60));
    let now: Timestamp = "2026-12-08T10:00:10Z".parse().unwrap();
    r.metrics_api.arriving = Some(crate::warmup::Arriving {
        since: "2026-12-08T10:00:00Z".parse().unwrap(),
        due: "2026-12-08T10:00:45Z".parse().unwrap(),
    });
    let c = &build_checks(&r, &names(), now)[3];
    assert!(c.passed && c.warning, "{c:?}");
    let remedy = c.remedy.as_deref().unwrap();
    assert!(
        remedy.contains("still arriving") && remedy.contains("10:00:45"),
        "{remedy}"
    );
    r.metrics_api.arriving = None;
    let c = &build_checks(&r, &names(), now)[3];
    assert!(!c.passed && !c.warning, "{c:?}");
}

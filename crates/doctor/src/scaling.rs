//! The HPA and what it needs: its conditions (ScalingActive false and why), its metrics and
//! bounds, CPU requests on the containers, metrics-server's Deployment, the
//! `v1beta1.metrics.k8s.io` APIService and the pods' current metrics. Pure functions.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;

use super::{Check, Section};
use iris_cluster::checks::{self, ConditionView};
use iris_cluster::metrics::PodUsage;
use iris_cluster::reads::{METRICS_API_SERVICE, METRICS_NAMESPACE, METRICS_SELECTOR};

const S: Section = Section::Autoscaling;

const METRICS_SERVER_FIX: &str = "install or repair metrics-server (GKE ships it; elsewhere `kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml`)";

pub fn missing(name: &str, deployment: &str, ns: &str) -> Check {
    Check::fail(
        S,
        format!("HPA {name}"),
        format!("not found in namespace {ns}"),
        format!(
            "create it: `kubectl autoscale deployment {deployment} --cpu-percent=60 --min=2 --max=15 -n {ns}` (or apply deploy/hpa.yaml)"
        ),
    )
}

/// `ScalingActive False FailedGetResourceMetric: message`
fn line(c: &ConditionView) -> String {
    let mut s = format!("{} {} {}", c.kind, c.status, c.reason);
    if !c.message.is_empty() {
        s.push_str(": ");
        s.push_str(&c.message);
    }
    s
}

/// What to do about an HPA condition that blocks scaling, by its reason.
fn condition_fix(c: &ConditionView, deployment: &str, ns: &str) -> String {
    match c.reason.as_str() {
        "FailedGetResourceMetric" | "FailedGetPodsMetric" | "FailedComputeMetricsReplicas" => {
            format!(
                "the HPA gets no CPU metrics: check metrics-server and the APIService below, and that every container of {deployment} requests CPU (`kubectl top pods -n {ns}` must answer)"
            )
        }
        "ScalingDisabled" => format!(
            "the Deployment is scaled to 0, which turns the HPA off: `kubectl scale deployment {deployment} --replicas=2 -n {ns}`"
        ),
        "FailedGetScale" | "FailedUpdateScale" => format!(
            "the HPA cannot read or change the scale of its target: check scaleTargetRef names Deployment {deployment} (`kubectl describe hpa -n {ns}`)"
        ),
        "InvalidSelector" | "InvalidMetricSourceType" => format!(
            "the HPA's spec is invalid: `kubectl describe hpa -n {ns}` and fix its metrics or target"
        ),
        _ => format!("see `kubectl describe hpa -n {ns}`"),
    }
}

/// AbleToScale and ScalingActive true; ScalingLimited at the ceiling is a warning.
pub fn conditions(hpa: &HorizontalPodAutoscaler, deployment: &str, ns: &str) -> Check {
    let name = format!(
        "HPA {} conditions",
        hpa.metadata.name.as_deref().unwrap_or("")
    );
    let conds = checks::hpa_conditions(hpa);
    let details: Vec<String> = conds.iter().map(line).collect();
    let blocking = conds.iter().find(|c| {
        matches!(c.kind.as_str(), "AbleToScale" | "ScalingActive") && c.status == "False"
    });
    if let Some(c) = blocking {
        return Check::fail(S, name, line(c), condition_fix(c, deployment, ns))
            .with_details(details);
    }
    if conds.is_empty() {
        return Check::warn(
            S,
            name,
            "no conditions yet: the HPA controller has not looked at it",
            format!("wait 15-30 s; if it stays so, `kubectl describe hpa -n {ns}`"),
        );
    }
    let limited = conds.iter().find(|c| {
        c.kind == "ScalingLimited" && c.status == "True" && c.reason == "TooManyReplicas"
    });
    if let Some(c) = limited {
        return Check::warn(
            S,
            name,
            line(c),
            "the HPA wants more replicas than maxReplicas allows: raise maxReplicas, or give the pods more CPU each",
        )
        .with_details(details);
    }
    let summary = conds
        .iter()
        .map(|c| format!("{} {} {}", c.kind, c.status, c.reason))
        .collect::<Vec<_>>()
        .join(", ");
    Check::pass(S, name, summary).with_details(details)
}

/// Every metric has a current value (no `<unknown>`).
pub fn metrics(hpa: &HorizontalPodAutoscaler, ns: &str) -> Check {
    let targets = checks::hpa_targets(hpa);
    let name = "HPA metrics";
    if targets.0.is_empty() {
        return Check::warn(
            S,
            name,
            "no metrics in the spec: the HPA scales on 80% CPU by default",
            "give it the guide's target: `metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}]`",
        );
    }
    if targets.has_unknown() {
        return Check::fail(
            S,
            name,
            format!("targets {targets}"),
            format!(
                "the HPA has no current value for a metric: metrics-server is not serving it, or the pods request no CPU (`kubectl top pods -n {ns}`)"
            ),
        );
    }
    Check::pass(S, name, format!("targets {targets}"))
}

/// min/max and where the HPA stands between them.
pub fn bounds(hpa: &HorizontalPodAutoscaler) -> Check {
    let (min, max, current, desired) = checks::hpa_replicas(hpa);
    let name = "HPA replicas";
    let evidence = format!("min {min}, max {max}, current {current}, desired {desired}");
    if max <= min {
        return Check::warn(
            S,
            name,
            evidence,
            "maxReplicas is not above minReplicas: the HPA cannot scale; the guide uses min 2, max 15",
        );
    }
    if current >= max {
        return Check::warn(
            S,
            name,
            evidence,
            "at maxReplicas: under more load the HPA cannot add pods; raise maxReplicas if the nodes have room",
        );
    }
    Check::pass(S, name, evidence)
}

/// Whether the HPA scales on CPU utilisation (a share of the containers' CPU requests).
pub fn uses_cpu_utilization(hpa: &HorizontalPodAutoscaler) -> bool {
    hpa.spec
        .as_ref()
        .and_then(|s| s.metrics.as_ref())
        .is_some_and(|ms| {
            ms.iter().any(|m| {
                m.resource
                    .as_ref()
                    .is_some_and(|r| r.name == "cpu" && r.target.type_ == "Utilization")
            })
        })
}

/// With a CPU utilisation target, every container must request CPU.
pub fn cpu_requests(hpa: &HorizontalPodAutoscaler, deployment: &Deployment) -> Option<Check> {
    if !uses_cpu_utilization(hpa) {
        return None;
    }
    let containers = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let without: Vec<String> = containers
        .iter()
        .filter(|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("cpu"))
                .is_none()
        })
        .map(|c| c.name.clone())
        .collect();
    let name = "CPU requests for the HPA";
    Some(if without.is_empty() {
        Check::pass(
            S,
            name,
            format!("all {} containers request CPU", containers.len()),
        )
    } else {
        Check::fail(
            S,
            name,
            format!("no CPU request on container {}", without.join(", ")),
            "CPU utilisation is a share of the request: without one the HPA reports <unknown> and never scales; add `resources: {requests: {cpu: 200m}}` to each container",
        )
    })
}

/// metrics-server's Deployment(s) in kube-system, available.
pub fn metrics_server(found: &[Deployment]) -> Check {
    let name = "metrics-server";
    if found.is_empty() {
        return Check::fail(
            S,
            name,
            format!("no Deployment labelled {METRICS_SELECTOR} in {METRICS_NAMESPACE}"),
            METRICS_SERVER_FIX,
        );
    }
    let rows: Vec<(String, checks::ReplicaCounts)> = found
        .iter()
        .map(|d| {
            (
                d.metadata.name.clone().unwrap_or_default(),
                checks::deployment_replicas(d),
            )
        })
        .collect();
    let evidence = rows
        .iter()
        .map(|(n, c)| format!("{n}: {}/{} available", c.available, c.desired))
        .collect::<Vec<_>>()
        .join(", ");
    if rows.iter().any(|(_, c)| c.available > 0) {
        Check::pass(S, name, evidence)
    } else {
        Check::fail(
            S,
            name,
            evidence,
            format!(
                "metrics-server has no available pod: `kubectl -n {METRICS_NAMESPACE} describe deploy -l {METRICS_SELECTOR}` and its logs (`kubectl -n {METRICS_NAMESPACE} logs -l {METRICS_SELECTOR}`)"
            ),
        )
    }
}

/// The `v1beta1.metrics.k8s.io` APIService is registered and Available.
pub fn api_service(found: Option<&APIService>) -> Check {
    let name = format!("APIService {METRICS_API_SERVICE}");
    let Some(svc) = found else {
        return Check::fail(
            S,
            name,
            "not registered: nothing serves the resource metrics API",
            METRICS_SERVER_FIX,
        );
    };
    let available = svc
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Available"));
    match available {
        Some(c) if c.status == "True" => Check::pass(S, name, "Available"),
        Some(c) => Check::fail(
            S,
            name,
            format!(
                "Available {} {}: {}",
                c.status,
                c.reason.as_deref().unwrap_or(""),
                c.message.as_deref().unwrap_or("")
            ),
            format!(
                "the API server cannot reach metrics-server (MissingEndpoints: no ready pod; FailedDiscoveryCheck: a network policy or firewall between the control plane and the nodes, port 10250/4443): `kubectl get apiservice {METRICS_API_SERVICE} -o yaml`"
            ),
        ),
        None => Check::warn(
            S,
            name,
            "no Available condition yet",
            format!("`kubectl get apiservice {METRICS_API_SERVICE}` in a minute"),
        ),
    }
}

/// The pods' CPU and memory as metrics.k8s.io reports them now.
pub fn current(top: &[PodUsage], pods: usize, ns: &str) -> Check {
    let name = "Current pod metrics";
    if top.is_empty() {
        return Check::warn(
            S,
            name,
            format!("metrics.k8s.io answers, but has no metrics for the {pods} pods yet"),
            format!(
                "metrics-server scrapes every 15-60 s: try again in a minute (`kubectl top pods -n {ns}`)"
            ),
        );
    }
    let rows: Vec<String> = top
        .iter()
        .map(|u| {
            let pct = u
                .cpu_percent_of_request
                .map(|p| format!(" ({p:.0}% of request)"))
                .unwrap_or_default();
            format!(
                "{}: cpu {:.0}m{pct}, memory {:.0}Mi",
                u.pod,
                u.cpu_millis,
                u.memory_bytes / 1_048_576.0
            )
        })
        .collect();
    let evidence = format!("{} of {pods} pods have metrics", top.len());
    Check::pass(S, name, evidence).with_details(rows)
}

#[cfg(test)]
#[path = "scaling_tests.rs"]
mod tests;

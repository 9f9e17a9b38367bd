//! Phase 1.1-1.2: is the deployment up, reachable and able to scale? What was found and the
//! checklist's verdicts, as data for `output` to render.

use jiff::Timestamp;
use serde::Serialize;

use super::TargetNames;
use super::checks::{self, ConditionView, HpaTargets, PodRow, ReplicaCounts};
use super::{Cluster, ClusterError};

#[derive(Debug, Clone, Serialize)]
pub struct DeploymentView {
    pub name: String,
    pub replicas: ReplicaCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub cluster_ip: String,
    /// `None` while the load balancer is being provisioned (`<pending>`).
    pub external_ip: Option<String>,
    pub ports: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HpaView {
    pub name: String,
    pub min: i32,
    pub max: i32,
    pub current: i32,
    pub desired: i32,
    pub targets: HpaTargets,
    pub conditions: Vec<ConditionView>,
}

/// Whether metrics.k8s.io answered a list of the app's pods.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsApi {
    pub answers: bool,
    pub detail: String,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// What to do, for a failed check.
    pub remedy: Option<String>,
}

/// What `verify` found, and its verdicts.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub server: String,
    pub namespace: String,
    pub selector: String,
    pub deployment: Option<DeploymentView>,
    pub pods: Vec<PodRow>,
    pub service: Option<ServiceView>,
    pub hpa: Option<HpaView>,
    pub metrics_api: MetricsApi,
    /// The base URL of the API (Phase 1.2), when the Service has an external IP.
    pub base_url: Option<String>,
    pub checks: Vec<Check>,
    pub passed: bool,
}

/// Reads the Deployment, pods, Service, HPA and metrics API, and judges them.
pub async fn gather(cluster: &Cluster) -> Result<VerifyReport, ClusterError> {
    let now = Timestamp::now();
    let deployment = cluster.deployment().await?.map(|d| DeploymentView {
        name: cluster.names.deployment.clone(),
        replicas: checks::deployment_replicas(&d),
    });
    let pods = cluster.pods().await?;
    let rows: Vec<PodRow> = pods.iter().map(|p| checks::pod_row(p, now)).collect();
    let svc = cluster.service().await?;
    let base_url = svc
        .as_ref()
        .and_then(checks::base_url)
        .map(|u| u.to_string());
    let service = svc.map(|s| ServiceView {
        name: cluster.names.service.clone(),
        kind: s
            .spec
            .as_ref()
            .and_then(|x| x.type_.clone())
            .unwrap_or_else(|| "ClusterIP".into()),
        cluster_ip: s
            .spec
            .as_ref()
            .and_then(|x| x.cluster_ip.clone())
            .unwrap_or_default(),
        external_ip: checks::external_address(&s),
        ports: checks::service_ports(&s),
    });
    let hpa = cluster.hpa().await?.map(|h| {
        let (min, max, current, desired) = checks::hpa_replicas(&h);
        HpaView {
            name: cluster.names.hpa.clone(),
            min,
            max,
            current,
            desired,
            targets: checks::hpa_targets(&h),
            conditions: checks::hpa_conditions(&h),
        }
    });
    let metrics_api = match cluster.top(&pods).await {
        Ok(rows) => MetricsApi {
            answers: true,
            detail: format!("answers, {} pods with metrics", rows.len()),
        },
        Err(e @ (ClusterError::Unauthorized { .. } | ClusterError::Unreachable { .. })) => {
            return Err(e);
        }
        Err(e) => MetricsApi {
            answers: false,
            detail: format!("does not answer: {e}"),
        },
    };
    let mut report = VerifyReport {
        server: cluster.server.clone(),
        namespace: cluster.namespace.clone(),
        selector: cluster.names.selector.clone(),
        deployment,
        pods: rows,
        service,
        hpa,
        metrics_api,
        base_url,
        checks: Vec::new(),
        passed: false,
    };
    report.checks = build_checks(&report, &cluster.names);
    report.passed = report.checks.iter().all(|c| c.passed);
    Ok(report)
}

fn check(
    name: impl Into<String>,
    passed: bool,
    detail: impl Into<String>,
    remedy: String,
) -> Check {
    Check {
        name: name.into(),
        passed,
        detail: detail.into(),
        remedy: (!passed).then_some(remedy),
    }
}

/// The checklist, from what was found: one check per object, in the guide's order. Pure.
pub fn build_checks(r: &VerifyReport, names: &TargetNames) -> Vec<Check> {
    let ns = &r.namespace;
    vec![
        r.deployment.as_ref().map_or_else(
            || missing("Deployment", &names.deployment, "deployments", ns),
            deployment_check,
        ),
        pods_check(r),
        r.service.as_ref().map_or_else(
            || missing("Service", &names.service, "services", ns),
            |s| service_check(s, ns),
        ),
        r.hpa.as_ref().map_or_else(
            || missing("HPA", &names.hpa, "hpa", ns),
            |h| hpa_check(h, &r.metrics_api, ns),
        ),
    ]
}

/// An object that is not there.
fn missing(kind: &str, name: &str, short: &str, ns: &str) -> Check {
    check(
        format!("{kind} {name}"),
        false,
        format!("not found in namespace {ns}"),
        format!("check --app / -n / --context; `kubectl get {short} -n {ns}` lists what is there"),
    )
}

/// Every desired replica available.
fn deployment_check(d: &DeploymentView) -> Check {
    let c = d.replicas;
    check(
        format!("Deployment {}", d.name),
        c.desired > 0 && c.available >= c.desired,
        format!(
            "desired {}, updated {}, ready {}, available {}",
            c.desired, c.updated, c.ready, c.available
        ),
        "not every replica is available: see the pods".into(),
    )
}

/// Some pods, all Running and Ready; else the first pod's problem.
fn pods_check(r: &VerifyReport) -> Check {
    let ns = &r.namespace;
    if r.pods.is_empty() {
        return check(
            "Pods running and ready",
            false,
            format!("no pods match {} in namespace {ns}", r.selector),
            format!(
                "`kubectl get pods -l {} -n {ns}`; is the Deployment scaled to 0?",
                r.selector
            ),
        );
    }
    let ready = r.pods.iter().filter(|p| p.healthy).count();
    let first_problem = r
        .pods
        .iter()
        .find_map(|p| p.problem.as_ref().map(|m| format!("{}: {m}", p.name)));
    check(
        "Pods running and ready",
        ready == r.pods.len(),
        format!("{ready}/{} pods Running and Ready", r.pods.len()),
        first_problem.unwrap_or_default(),
    )
}

/// An external IP, and what to do while there is none (depends on the Service's type).
fn service_check(s: &ServiceView, ns: &str) -> Check {
    let detail = match &s.external_ip {
        Some(ip) => format!("{} {ip}, ports {}", s.kind, s.ports),
        None => format!("{}: external IP <pending>", s.kind),
    };
    let remedy = if s.kind == "LoadBalancer" {
        format!(
            "the load balancer is still being provisioned (it takes a few minutes); watch it with `kubectl get svc {} -n {ns} -w`",
            s.name
        )
    } else {
        format!(
            "a {} Service gets no external IP: make it a LoadBalancer, or `kubectl port-forward svc/{} 8080:80 -n {ns}` and pass --host http://127.0.0.1:8080",
            s.kind, s.name
        )
    };
    check(
        format!("Service {} external IP", s.name),
        s.external_ip.is_some(),
        detail,
        remedy,
    )
}

/// Every metric has a current value and scaling is active.
fn hpa_check(h: &HpaView, metrics_api: &MetricsApi, ns: &str) -> Check {
    let inactive = h
        .conditions
        .iter()
        .find(|c| c.kind == "ScalingActive" && c.status == "False");
    let mut detail = format!(
        "targets {}, replicas {} (desired {}, min {}, max {})",
        h.targets, h.current, h.desired, h.min, h.max
    );
    if let Some(c) = inactive {
        detail.push_str(&format!("; ScalingActive=False {}", c.reason));
    }
    check(
        format!("HPA {} metrics", h.name),
        !h.targets.has_unknown() && inactive.is_none(),
        detail,
        format!(
            "the HPA gets no CPU metrics: metrics-server is missing or unhealthy (the metrics.k8s.io API {}); check `kubectl top pods -n {ns}`, `kubectl get apiservice v1beta1.metrics.k8s.io`, and that the pods request CPU",
            metrics_api.detail
        ),
    )
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;

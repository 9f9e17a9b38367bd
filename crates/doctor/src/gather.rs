//! The reads, in the order the checks are worked through, each turned into checks as soon as
//! it is read. A read that fails for lack of permission (or any other reason but a cluster
//! that cannot be used at all) becomes a WARN naming it, and the next read goes on.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use reqwest::Url;

use super::pods::PreviousLog;
use super::{Check, DoctorReport, Section, firewall, pods, reach, scaling, service};
use iris_cluster::reads::LogBounds;
use iris_cluster::{Cluster, ClusterError, checks};
use iris_gcp::Credentials;
use iris_gcp::compute::ComputeApi;

/// What `doctor` runs on, resolved once.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// `--host`, else the Service's external address.
    pub host: Option<Url>,
    /// `--wait`: how long to wait for the external address.
    pub wait: Option<Duration>,
    /// The time limit of each reachability step.
    pub probe_timeout: Duration,
    pub insecure: bool,
    /// `--gcp-project`: check the VPC firewall rules through the Compute API.
    pub gcp_project: Option<String>,
    /// Lines of a crashed container's previous log to show.
    pub log_lines: i64,
}

/// Bytes of a previous log read at most.
const PREVIOUS_LOG_BYTES: i64 = 16 * 1024;

/// Errors after which no other read of the cluster can work.
fn fatal(e: &ClusterError) -> bool {
    matches!(
        e,
        ClusterError::Unauthorized { .. }
            | ClusterError::Unreachable { .. }
            | ClusterError::Timeout { .. }
            | ClusterError::CredentialPlugin { .. }
            | ClusterError::Credentials(_)
    )
}

/// What the progress of `--wait` reports.
pub type Progress<'a> = &'a (dyn Fn(&Service) + Sync);

/// Runs every check. `cluster` is the connection, or why there is none (then only
/// reachability of `--host` is checked).
pub async fn run(
    cluster: Result<Cluster, ClusterError>,
    namespace: &str,
    opts: &DoctorOptions,
    progress: Progress<'_>,
) -> DoctorReport {
    let mut out = Vec::new();
    let (server, ns, found) = match cluster {
        Err(e) => {
            out.push(cluster_unusable(&e));
            (None, namespace.to_string(), Found::default())
        }
        Ok(cluster) => {
            let found = cluster_checks(&cluster, opts, progress, &mut out).await;
            (
                Some(cluster.server.clone()),
                cluster.namespace.clone(),
                found,
            )
        }
    };
    let host = opts.host.clone().or(found.url);
    // The firewall admits the load balancer's port: the Service's, else the host's.
    let port = found
        .service_port
        .or_else(|| host.as_ref().and_then(|h| h.port_or_known_default()));
    match &host {
        Some(url) => {
            let probe = reach::probe(url, opts.probe_timeout, opts.insecure).await;
            out.extend(reach::checks(&probe));
        }
        None => out.push(reach::not_checked("no --host and no external address")),
    }
    if let (Some(project), Some(port)) = (&opts.gcp_project, port) {
        out.push(firewall_check(project, port).await);
    }
    DoctorReport::new(ns, server, host.map(|h| h.to_string()), out)
}

fn cluster_unusable(e: &ClusterError) -> Check {
    Check::fail(
        Section::Cluster,
        "Kubernetes API",
        iris_base::chain::one_line(e),
        "fix access to the cluster first (the line above says how); the checks of the cluster were not made",
    )
}

/// What the Service says about where the API is.
#[derive(Debug, Default)]
struct Found {
    /// The API's URL, when the Service has an external address.
    url: Option<Url>,
    /// The Service's (first) port.
    service_port: Option<u16>,
}

/// The checks that read the cluster.
async fn cluster_checks(
    cluster: &Cluster,
    opts: &DoctorOptions,
    progress: Progress<'_>,
    out: &mut Vec<Check>,
) -> Found {
    let deployment = match cluster.deployment().await {
        Err(e) if fatal(&e) => {
            out.push(cluster_unusable(&e));
            return Found::default();
        }
        Err(e) => {
            out.push(Check::unreadable(Section::Pods, "Deployment", &e));
            None
        }
        Ok(d) => d,
    };
    let found = service_checks(cluster, deployment.as_ref(), opts, progress, out).await;
    let pods = match cluster.pods().await {
        Ok(p) => Some(p),
        Err(e) => {
            out.push(Check::unreadable(Section::Pods, "Pods", &e));
            None
        }
    };
    scaling_checks(cluster, deployment.as_ref(), pods.as_deref(), out).await;
    if let Some(pods) = &pods {
        pod_checks(cluster, deployment.as_ref(), pods, opts, out).await;
    }
    found
}

async fn service_checks(
    cluster: &Cluster,
    deployment: Option<&Deployment>,
    opts: &DoctorOptions,
    progress: Progress<'_>,
    out: &mut Vec<Check>,
) -> Found {
    let (name, ns) = (&cluster.names.service, &cluster.namespace);
    let read = match opts.wait {
        Some(limit) => cluster.wait_for_address(limit, progress).await,
        None => cluster.service().await,
    };
    let svc = match read {
        Ok(s) => s,
        Err(e) => {
            out.push(Check::unreadable(
                Section::Service,
                format!("Service {name}"),
                &e,
            ));
            return Found::default();
        }
    };
    out.push(service::exists(svc.as_ref(), name, ns));
    let Some(svc) = svc else {
        return Found::default();
    };
    let events = if checks::external_address(&svc).is_none() {
        match cluster.events_about("Service", name).await {
            Ok(e) => e,
            Err(e) => {
                out.push(Check::unreadable(Section::Service, "Service events", &e));
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    out.push(service::external_address(&svc, &events, name, ns));
    out.push(service::ports(&svc, deployment));
    out.extend(service::selector(&svc, deployment, ns));
    out.push(match cluster.endpoint_slices().await {
        Ok(slices) => service::endpoints(&slices, name, ns),
        Err(e) => Check::unreadable(Section::Service, "Endpoints", &e),
    });
    Found {
        url: checks::base_url(&svc),
        service_port: checks::service_port(&svc).and_then(|p| u16::try_from(p).ok()),
    }
}

async fn scaling_checks(
    cluster: &Cluster,
    deployment: Option<&Deployment>,
    pods: Option<&[Pod]>,
    out: &mut Vec<Check>,
) {
    let ns = &cluster.namespace;
    let dep = &cluster.names.deployment;
    match cluster.hpa().await {
        Err(e) => out.push(Check::unreadable(Section::Autoscaling, "HPA", &e)),
        Ok(None) => out.push(scaling::missing(&cluster.names.hpa, dep, ns)),
        Ok(Some(hpa)) => {
            out.push(scaling::conditions(&hpa, dep, ns));
            out.push(scaling::metrics(&hpa, ns));
            out.push(scaling::bounds(&hpa));
            out.extend(deployment.and_then(|d| scaling::cpu_requests(&hpa, d)));
        }
    }
    out.push(match cluster.metrics_server().await {
        Ok(found) => scaling::metrics_server(&found),
        Err(e) => Check::unreadable(Section::Autoscaling, "metrics-server", &e),
    });
    out.push(match cluster.metrics_api_service().await {
        Ok(found) => scaling::api_service(found.as_ref()),
        Err(e) => Check::unreadable(
            Section::Autoscaling,
            "APIService v1beta1.metrics.k8s.io",
            &e,
        ),
    });
    if let Some(pods) = pods {
        out.push(match cluster.top(pods).await {
            Ok(rows) => scaling::current(&rows, pods.len(), ns),
            Err(e @ ClusterError::Forbidden { .. }) => {
                Check::unreadable(Section::Autoscaling, "Current pod metrics", &e)
            }
            Err(e) => Check::fail(
                Section::Autoscaling,
                "Current pod metrics",
                format!(
                    "metrics.k8s.io does not answer: {}",
                    iris_base::chain::one_line(&e)
                ),
                "metrics-server is not serving: see the two checks above",
            ),
        });
    }
}

async fn pod_checks(
    cluster: &Cluster,
    deployment: Option<&Deployment>,
    pods: &[Pod],
    opts: &DoctorOptions,
    out: &mut Vec<Check>,
) {
    let ns = &cluster.namespace;
    out.push(pods::status(
        pods,
        &cluster.names.selector,
        ns,
        Timestamp::now(),
    ));
    out.push(pods::images(pods));
    let mut logs = Vec::new();
    for (pod_name, container) in pods::restarted(pods) {
        let Some(pod) = pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(&pod_name))
        else {
            continue;
        };
        let bounds = LogBounds {
            tail_lines: Some(opts.log_lines),
            limit_bytes: PREVIOUS_LOG_BYTES,
            since: None,
        };
        let lines = cluster
            .log_lines(pod, &container, true, bounds)
            .await
            .map(|t| t.lines)
            .map_err(|e| match &e {
                ClusterError::Forbidden {
                    can_i, namespace, ..
                } => format!("not allowed (`kubectl auth can-i {can_i} -n {namespace}` says no)"),
                other => iris_base::chain::one_line(other),
            });
        logs.push(PreviousLog {
            pod: pod_name,
            container,
            lines,
        });
    }
    out.extend(pods::restarts(pods, &logs));
    let containers = deployment
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.clone())
        .or_else(|| {
            pods.first()
                .and_then(|p| p.spec.as_ref())
                .map(|s| s.containers.clone())
        });
    if let Some(containers) = containers {
        out.push(pods::resources(&containers));
    }
    let names = pods::node_names(pods);
    out.push(match cluster.nodes(&names).await {
        Ok(nodes) => pods::nodes(&nodes),
        Err(e) => Check::unreadable(Section::Nodes, "Nodes of the pods", &e),
    });
}

async fn firewall_check(project: &str, port: u16) -> Check {
    let name = format!("VPC firewall admits tcp:{port}");
    let rules = async {
        let creds = Credentials::discover().await?;
        ComputeApi::new(creds)?.firewalls(project).await
    };
    match rules.await {
        Ok(found) => firewall::admits(&found.rules, port, project),
        Err(e) => Check::warn(
            Section::Firewall,
            name,
            format!("not checked: {}", iris_base::chain::one_line(&e)),
            format!(
                "check by hand: `gcloud compute firewall-rules list --project {project} --filter=\"allowed[].ports:{port}\"`"
            ),
        ),
    }
}

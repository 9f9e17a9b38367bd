//! The Service: its type and external address (with its events while pending), its ports
//! against the containers' ports, its selector against the pods' labels, and the ready
//! endpoints behind it. Pure functions over k8s-openapi objects.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Event, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Check, Section};
use iris_cluster::checks;

const S: Section = Section::Service;

/// The Service exists and has the type the guide deploys.
pub fn exists(svc: Option<&Service>, name: &str, ns: &str) -> Check {
    let check = format!("Service {name}");
    let Some(svc) = svc else {
        return Check::fail(
            S,
            check,
            format!("not found in namespace {ns}"),
            format!(
                "check --app / -n / --context (`kubectl get svc -n {ns}` lists what is there), or apply the guide's Service (deploy/service.yaml)"
            ),
        );
    };
    let kind = kind(svc);
    let evidence = format!("{kind}, ports {}", checks::service_ports(svc));
    if kind == "LoadBalancer" {
        Check::pass(S, check, evidence)
    } else {
        Check::warn(
            S,
            check,
            evidence,
            format!(
                "a {kind} Service gets no external address: make it `type: LoadBalancer`, or `kubectl port-forward svc/{name} 8080:80 -n {ns}` and pass --host http://127.0.0.1:8080"
            ),
        )
    }
}

fn kind(svc: &Service) -> String {
    svc.spec
        .as_ref()
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "ClusterIP".into())
}

/// `reason: message (xN)` of each event, oldest first, as `kubectl describe` lists them.
pub fn event_lines(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let count = e.count.filter(|c| *c > 1).map(|c| format!(" (x{c})"));
            format!(
                "{} {}: {}{}",
                e.type_.as_deref().unwrap_or("Normal"),
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim(),
                count.unwrap_or_default()
            )
        })
        .collect()
}

/// The external address; while pending, the Service's events say why.
pub fn external_address(svc: &Service, events: &[Event], name: &str, ns: &str) -> Check {
    let check = "External address";
    if let Some(addr) = checks::external_address(svc) {
        return Check::pass(S, check, format!("{addr} (Service {name})"));
    }
    let lines = event_lines(events);
    let warning = events
        .iter()
        .rev()
        .find(|e| e.type_.as_deref() == Some("Warning"));
    let fix = match warning {
        Some(w) => format!(
            "the cloud's load balancer controller reports {}: {}; fix that (quota, permissions, an address already in use), then watch with `iris-lab doctor --wait 5m` or `kubectl get svc {name} -n {ns} -w`",
            w.reason.as_deref().unwrap_or("a warning"),
            w.message.as_deref().unwrap_or("").trim()
        ),
        None if kind(svc) != "LoadBalancer" => format!(
            "a {} Service gets no external address: make it `type: LoadBalancer`",
            kind(svc)
        ),
        None => format!(
            "the load balancer is still being provisioned (a few minutes on GKE): wait with `iris-lab doctor --wait 5m`, or `kubectl get svc {name} -n {ns} -w`"
        ),
    };
    let evidence = if lines.is_empty() {
        "<pending>, no events about the Service".to_string()
    } else {
        format!("<pending>; last event: {}", lines[lines.len() - 1])
    };
    Check::fail(S, check, evidence, fix).with_details(lines)
}

fn template_containers(d: &Deployment) -> &[Container] {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map_or(&[], |s| s.containers.as_slice())
}

/// Each Service port's targetPort is a port a container declares (a number or a name).
pub fn ports(svc: &Service, deployment: Option<&Deployment>) -> Check {
    let check = "Service ports";
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    if ports.is_empty() {
        return Check::fail(
            S,
            check,
            "the Service has no ports",
            "add `ports: [{port: 80, targetPort: 8000}]` to the Service",
        );
    }
    let Some(d) = deployment else {
        return Check::pass(
            S,
            check,
            format!(
                "{} (no Deployment to compare with)",
                checks::service_ports(svc)
            ),
        );
    };
    let declared: Vec<(i32, Option<String>)> = template_containers(d)
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| (p.container_port, p.name.clone()))
        .collect();
    let listed = declared
        .iter()
        .map(|(n, _)| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut wrong = Vec::new();
    let mut pairs = Vec::new();
    for p in &ports {
        let target = p.target_port.clone().unwrap_or(IntOrString::Int(p.port));
        let (shown, found) = match &target {
            IntOrString::Int(n) => (n.to_string(), declared.iter().any(|(c, _)| c == n)),
            IntOrString::String(s) => (
                s.clone(),
                declared.iter().any(|(_, name)| name.as_deref() == Some(s)),
            ),
        };
        pairs.push(format!("{} -> {shown}", p.port));
        // An undeclared numeric port can still be listened on; a name must be declared.
        let undeclared_number = matches!(target, IntOrString::Int(_)) && !declared.is_empty();
        if !found && (undeclared_number || matches!(target, IntOrString::String(_))) {
            wrong.push(shown);
        }
    }
    if wrong.is_empty() {
        return Check::pass(S, check, pairs.join(", "));
    }
    Check::fail(
        S,
        check,
        format!(
            "{}; the containers declare {}",
            pairs.join(", "),
            if listed.is_empty() {
                "no ports".into()
            } else {
                listed
            }
        ),
        format!(
            "targetPort {} is not a port the containers listen on: set the Service's targetPort to the container's port (the guide's app listens on 8000)",
            wrong.join(", ")
        ),
    )
}

/// The Service's selector picks the Deployment's pods.
pub fn selector(svc: &Service, deployment: Option<&Deployment>, ns: &str) -> Option<Check> {
    let d = deployment?;
    let selector = svc.spec.as_ref()?.selector.clone().unwrap_or_default();
    let labels = d
        .spec
        .as_ref()?
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let shown = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let missing: Vec<String> = selector
        .iter()
        .filter(|(k, v)| labels.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(if selector.is_empty() {
        Check::fail(
            S,
            "Service selector",
            "the Service selects no pods (no selector)",
            "give the Service `selector: {app: iris-prediction-api}` (the pods' label)",
        )
    } else if missing.is_empty() {
        Check::pass(
            S,
            "Service selector",
            format!("{shown} matches the pods' labels"),
        )
    } else {
        Check::fail(
            S,
            "Service selector",
            format!("{shown}: the pods do not carry {}", missing.join(",")),
            format!(
                "make the Service's selector match the pod template's labels (`kubectl get deploy -n {ns} -o jsonpath='{{.spec.template.metadata.labels}}'`)"
            ),
        )
    })
}

/// Ready endpoints behind the Service, from its EndpointSlices.
pub fn endpoints(slices: &[EndpointSlice], name: &str, ns: &str) -> Check {
    let check = "Endpoints";
    let mut ready = Vec::new();
    let mut not_ready = 0;
    for slice in slices {
        let port = slice
            .ports
            .as_ref()
            .and_then(|p| p.first())
            .and_then(|p| p.port);
        for e in &slice.endpoints {
            let is_ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !is_ready {
                not_ready += 1;
                continue;
            }
            for a in &e.addresses {
                ready.push(match port {
                    Some(p) => format!("{a}:{p}"),
                    None => a.clone(),
                });
            }
        }
    }
    if ready.is_empty() {
        return Check::fail(
            S,
            check,
            format!("no ready endpoints ({not_ready} not ready)"),
            format!(
                "no pod behind the Service answers: are the pods Ready (see the pods below) and does the selector match them? `kubectl get endpointslices -l kubernetes.io/service-name={name} -n {ns}`"
            ),
        );
    }
    let evidence = format!(
        "{} ready{}: {}",
        ready.len(),
        if not_ready > 0 {
            format!(", {not_ready} not ready")
        } else {
            String::new()
        },
        ready.join(", ")
    );
    Check::pass(S, check, evidence)
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;

//! The pods and their nodes: status (verify's own verdict), restarts with the last termination
//! and the last lines of the crashed container's previous log, OOMKilled, CrashLoopBackOff,
//! image pull errors, requests and limits, and nodes under memory/disk/PID pressure. Pure.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Node, Pod};

use super::{Check, Section};
use iris_cluster::checks;

const S: Section = Section::Pods;

/// The last lines of a container's previous instance, as read (or why not).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousLog {
    pub pod: String,
    pub container: String,
    pub lines: Result<Vec<String>, String>,
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn statuses(pod: &Pod) -> &[ContainerStatus] {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[])
}

/// Containers that ran before and ended: the ones worth a `--previous` log.
pub fn restarted(pods: &[Pod]) -> Vec<(String, String)> {
    pods.iter()
        .flat_map(|p| {
            statuses(p)
                .iter()
                .filter(|c| {
                    c.restart_count > 0
                        && c.last_state
                            .as_ref()
                            .is_some_and(|s| s.terminated.is_some())
                })
                .map(move |c| (name(p), c.name.clone()))
        })
        .collect()
}

/// Every pod Running and Ready: verify's verdict per pod, as `kubectl get pods` shows it.
pub fn status(pods: &[Pod], selector: &str, ns: &str, now: Timestamp) -> Check {
    let name = "Pods running and ready";
    if pods.is_empty() {
        return Check::fail(
            S,
            name,
            format!("no pods match {selector} in namespace {ns}"),
            format!(
                "`kubectl get deploy,rs,pods -l {selector} -n {ns}`: is the Deployment scaled to 0, or its ReplicaSet failing to create pods (`kubectl describe rs -n {ns}`)?"
            ),
        );
    }
    let rows: Vec<checks::PodRow> = pods.iter().map(|p| checks::pod_row(p, now)).collect();
    let healthy = rows.iter().filter(|r| r.healthy).count();
    let details: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} restarts {} age {}",
                r.name, r.ready, r.status, r.restarts, r.age
            )
        })
        .collect();
    let evidence = format!("{healthy}/{} pods Running and Ready", rows.len());
    let problems: Vec<String> = rows
        .iter()
        .filter_map(|r| r.problem.as_ref().map(|p| format!("{}: {p}", r.name)))
        .collect();
    if problems.is_empty() {
        Check::pass(S, name, evidence).with_details(details)
    } else {
        Check::fail(S, name, evidence, problems.join("; ")).with_details(details)
    }
}

/// Image pull errors: the image name or the registry's access.
pub fn images(pods: &[Pod]) -> Check {
    let check = "Images pulled";
    let failing: Vec<String> = pods
        .iter()
        .flat_map(|p| {
            statuses(p).iter().filter_map(move |c| {
                let w = c.state.as_ref()?.waiting.as_ref()?;
                let reason = w.reason.as_deref()?;
                matches!(
                    reason,
                    "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName"
                )
                .then(|| {
                    format!(
                        "{}/{}: {reason} {} ({})",
                        name(p),
                        c.name,
                        c.image,
                        w.message.as_deref().unwrap_or("").trim()
                    )
                })
            })
        })
        .collect();
    if failing.is_empty() {
        return Check::pass(S, check, "no container waits on its image");
    }
    Check::fail(
        S,
        check,
        failing[0].clone(),
        "check the image name and tag (`kubectl describe pod`), and that the nodes may pull from the registry (GKE: the node service account needs roles/artifactregistry.reader)",
    )
    .with_details(failing)
}

/// One check per pod whose containers restarted: how often, the last termination, and the
/// last lines of the previous instance's log.
pub fn restarts(pods: &[Pod], logs: &[PreviousLog]) -> Vec<Check> {
    let mut out = Vec::new();
    for pod in pods {
        for c in statuses(pod).iter().filter(|c| c.restart_count > 0) {
            out.push(restart(pod, c, logs));
        }
    }
    if out.is_empty() {
        out.push(Check::pass(S, "Restarts", "no container has restarted"));
    }
    out
}

fn restart(pod: &Pod, c: &ContainerStatus, logs: &[PreviousLog]) -> Check {
    let pod_name = name(pod);
    let check = format!("Restarts of {pod_name}/{}", c.name);
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let reason = last.and_then(|t| t.reason.clone()).unwrap_or_default();
    let mut evidence = format!("{} restarts", c.restart_count);
    if let Some(t) = last {
        evidence.push_str(&format!(
            "; last ended {} (exit {}{})",
            if reason.is_empty() { "Error" } else { &reason },
            t.exit_code,
            t.finished_at
                .as_ref()
                .map(|f| format!(" at {}", f.0))
                .unwrap_or_default()
        ));
    }
    let waiting = c
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone());
    if let Some(w) = &waiting {
        evidence.push_str(&format!("; now {w}"));
    }
    let mut details = Vec::new();
    if let Some(log) = logs
        .iter()
        .find(|l| l.pod == pod_name && l.container == c.name)
    {
        match &log.lines {
            Ok(lines) if lines.is_empty() => details.push("previous log: empty".into()),
            Ok(lines) => {
                details.push(format!("last {} lines of the previous log:", lines.len()));
                details.extend(lines.iter().map(|l| format!("  {l}")));
            }
            Err(e) => details.push(format!("previous log not read: {e}")),
        }
    }
    let logs_cmd = format!("`kubectl logs {pod_name} -c {} --previous`", c.name);
    let memory = memory_limit(pod, &c.name);
    let check = if reason == "OOMKilled" {
        Check::fail(
            S,
            check,
            evidence,
            format!(
                "the container ran out of memory{}: raise its memory limit, or find what grows (the model loaded per worker?)",
                memory.map(|m| format!(" (limit {m})")).unwrap_or_default()
            ),
        )
    } else if waiting.as_deref() == Some("CrashLoopBackOff") {
        Check::fail(
            S,
            check,
            evidence,
            format!(
                "the container keeps exiting: read why in {logs_cmd} (shown below when readable)"
            ),
        )
    } else {
        Check::warn(
            S,
            check,
            evidence,
            format!(
                "it restarted: see {logs_cmd}; a failing liveness probe shows in `kubectl describe pod {pod_name}`"
            ),
        )
    };
    check.with_details(details)
}

fn memory_limit(pod: &Pod, container: &str) -> Option<String> {
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == container)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| q.0.clone())
}

/// Requests and limits on each container: no CPU request breaks the HPA and lets a pod be
/// squeezed; no memory limit lets one pod take its node's memory.
pub fn resources(containers: &[Container]) -> Check {
    let name = "Requests and limits";
    let mut missing = Vec::new();
    let mut shown = Vec::new();
    for c in containers {
        let r = c.resources.clone().unwrap_or_default();
        let get =
            |m: &Option<
                std::collections::BTreeMap<
                    String,
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity,
                >,
            >,
             k: &str| { m.as_ref().and_then(|m| m.get(k)).map(|q| q.0.clone()) };
        let parts = [
            ("requests.cpu", get(&r.requests, "cpu")),
            ("requests.memory", get(&r.requests, "memory")),
            ("limits.cpu", get(&r.limits, "cpu")),
            ("limits.memory", get(&r.limits, "memory")),
        ];
        let set: Vec<String> = parts
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
            .collect();
        shown.push(format!(
            "{}: {}",
            c.name,
            if set.is_empty() {
                "none".into()
            } else {
                set.join(", ")
            }
        ));
        for (k, v) in &parts {
            // A CPU limit is a choice (throttling), not a gap.
            if v.is_none() && *k != "limits.cpu" {
                missing.push(format!("{}: {k}", c.name));
            }
        }
    }
    let evidence = shown.join("; ");
    if missing.is_empty() {
        return Check::pass(S, name, evidence);
    }
    let no_cpu = missing.iter().any(|m| m.ends_with("requests.cpu"));
    let fix = format!(
        "set {} in the Deployment's containers (the guide: requests cpu 200m, memory 256Mi; limit memory 512Mi)",
        missing.join(", ")
    );
    if no_cpu {
        Check::fail(S, name, evidence, fix)
    } else {
        Check::warn(S, name, evidence, fix)
    }
}

/// The nodes the pods run on, from the pods.
pub fn node_names(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Nodes Ready and under no memory, disk or PID pressure.
pub fn nodes(nodes: &[Node]) -> Check {
    let name = "Nodes of the pods";
    if nodes.is_empty() {
        return Check::pass(Section::Nodes, name, "no pod is on a node yet");
    }
    let mut problems = Vec::new();
    for n in nodes {
        let node = n.metadata.name.clone().unwrap_or_default();
        let conds = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        for c in &conds {
            let bad = match c.type_.as_str() {
                "Ready" => c.status != "True",
                "MemoryPressure" | "DiskPressure" | "PIDPressure" | "NetworkUnavailable" => {
                    c.status == "True"
                }
                _ => false,
            };
            if bad {
                problems.push(format!(
                    "{node}: {} {} {}",
                    c.type_,
                    c.status,
                    c.message.as_deref().unwrap_or("").trim()
                ));
            }
        }
    }
    let names: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    if problems.is_empty() {
        return Check::pass(
            Section::Nodes,
            name,
            format!(
                "{} Ready, no memory/disk/PID pressure: {}",
                nodes.len(),
                names.join(", ")
            ),
        );
    }
    Check::fail(
        Section::Nodes,
        name,
        problems[0].clone(),
        "a node under pressure evicts pods and refuses new ones: free or add capacity (`kubectl describe node`, `kubectl top nodes`), or give the pool bigger machines",
    )
    .with_details(problems)
}

#[cfg(test)]
#[path = "pods_tests.rs"]
mod tests;

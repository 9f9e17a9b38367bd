//! Pure functions over k8s-openapi objects: what kubectl would print, and what is wrong.
//! No I/O here, so every decision tests without a cluster.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, MetricSpec, MetricStatus};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Quantity_;
use serde::{Deserialize, Serialize};

/// One row of `kubectl get pods`, plus what is wrong with the pod in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodRow {
    pub name: String,
    /// `1/1`: ready containers / containers.
    pub ready: String,
    /// The STATUS column as kubectl prints it (`Running`, `CrashLoopBackOff`, `Pending`...).
    pub status: String,
    pub restarts: i32,
    pub age: String,
    /// Running with every container ready, not terminating.
    pub healthy: bool,
    /// Why it is not healthy, with the remedy; empty when healthy.
    pub problem: Option<String>,
}

fn ts(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0)
}

/// The pod's row as of `now`.
pub fn pod_row(pod: &Pod, now: Timestamp) -> PodRow {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let statuses = container_statuses(pod);
    let total = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let ready = statuses.iter().filter(|c| c.ready).count();
    let restarts = statuses.iter().map(|c| c.restart_count).sum();
    let status = pod_status(pod);
    let problem = pod_problem(pod, &status);
    let age = ts(&pod.metadata.creation_timestamp)
        .map_or_else(|| "<unknown>".into(), |t| human_age(now.duration_since(t)));
    PodRow {
        ready: format!("{ready}/{total}"),
        healthy: problem.is_none(),
        name,
        status,
        restarts,
        age,
        problem,
    }
}

fn container_statuses(pod: &Pod) -> &[ContainerStatus] {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[])
}

fn condition_status(pod: &Pod, kind: &str) -> Option<bool> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status == "True")
}

/// The STATUS column of `kubectl get pods`, by kubectl's own rules (printPod).
pub fn pod_status(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut reason = status.phase.clone().unwrap_or_else(|| "Unknown".into());
    if let Some(r) = status.reason.as_ref().filter(|r| !r.is_empty()) {
        reason = r.clone();
    }
    let mut initializing = false;
    let inits = status.init_container_statuses.as_deref().unwrap_or(&[]);
    let init_total = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map_or(0, Vec::len);
    for (i, c) in inits.iter().enumerate() {
        let state = c.state.clone().unwrap_or_default();
        if let Some(t) = &state.terminated
            && t.exit_code == 0
        {
            continue;
        }
        initializing = true;
        reason = match (&state.terminated, &state.waiting) {
            (Some(t), _) => match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => format!("Init:ExitCode:{}", t.exit_code),
            },
            (None, Some(w)) if w.reason.as_deref().is_some_and(|r| r != "PodInitializing") => {
                format!("Init:{}", w.reason.clone().unwrap_or_default())
            }
            _ => format!("Init:{i}/{init_total}"),
        };
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in container_statuses(pod).iter().rev() {
            let state = c.state.clone().unwrap_or_default();
            if let Some(r) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = r;
            } else if let Some(t) = &state.terminated {
                reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_string(),
                    None if t.signal.unwrap_or(0) != 0 => {
                        format!("Signal:{}", t.signal.unwrap_or(0))
                    }
                    None => format!("ExitCode:{}", t.exit_code),
                };
            } else if state.running.is_some() && c.ready {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_status(pod, "Ready") == Some(true) {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if status.reason.as_deref() == Some("NodeLost") {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    reason
}

/// What is wrong with a pod and what to do, or `None` when it is Running and Ready.
pub fn pod_problem(pod: &Pod, status: &str) -> Option<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let last_kill = container_statuses(pod).iter().find_map(|c| {
        let t = c.last_state.as_ref()?.terminated.as_ref()?;
        Some((t.reason.clone().unwrap_or_default(), t.exit_code))
    });
    let waiting_message = container_statuses(pod).iter().find_map(|c| {
        c.state
            .as_ref()?
            .waiting
            .as_ref()?
            .message
            .clone()
            .filter(|m| !m.is_empty())
    });
    let problem = match status {
        "Running" if condition_status(pod, "Ready") == Some(true) => return None,
        "Running" => format!(
            "running but not Ready: the readiness probe (GET /health) is failing; see `kubectl describe pod {name}`"
        ),
        "CrashLoopBackOff" => match last_kill {
            Some((reason, code)) if reason == "OOMKilled" => format!(
                "CrashLoopBackOff: last exit OOMKilled (exit {code}): the container ran out of memory; raise its memory limit"
            ),
            Some((reason, code)) => format!(
                "CrashLoopBackOff: the container keeps exiting (last: {} exit {code}); see `kubectl logs {name} --previous`",
                if reason.is_empty() { "Error" } else { &reason }
            ),
            None => format!("CrashLoopBackOff: see `kubectl logs {name} --previous`"),
        },
        "OOMKilled" => "OOMKilled: the container ran out of memory; raise its memory limit".into(),
        "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" => format!(
            "{status}: the image cannot be pulled{}; check the image name and the registry's access",
            waiting_message
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
        "Pending" => {
            let unscheduled = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                })
                .map(|c| c.message.clone().or(c.reason.clone()).unwrap_or_default());
            match unscheduled {
                Some(msg) => format!("Pending, not scheduled: {msg}"),
                None => "Pending: scheduled, containers not started yet".into(),
            }
        }
        "Terminating" => "Terminating: being shut down".into(),
        other => format!("{other}: see `kubectl describe pod {name}`"),
    };
    Some(problem)
}

/// An age the way kubectl prints it (`HumanDuration`): `45s`, `3m20s`, `15m`, `5h3m`, `2d4h`.
pub fn human_age(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs();
    if secs < -1 {
        return "<invalid>".into();
    }
    let secs = secs.max(0);
    let minutes = secs / 60;
    let hours = secs / 3600;
    let days = hours / 24;
    let years = days / 365;
    if secs < 120 {
        format!("{secs}s")
    } else if minutes < 10 {
        let s = secs % 60;
        if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 192 {
        let h = hours % 24;
        if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        }
    } else if years < 2 {
        format!("{days}d")
    } else if years < 8 {
        let dd = days % 365;
        if dd == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{dd}d")
        }
    } else {
        format!("{years}y")
    }
}

/// One metric of an HPA, typed: what it measures, the value the HPA last saw, its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpaMetric {
    /// The resource (`cpu`, `memory`); `None` for a Pods metric, which kubectl shows unnamed.
    pub name: Option<String>,
    pub current: MetricValue,
    pub target: MetricValue,
}

/// A metric's value as the HPA has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricValue {
    /// Average utilisation, in percent of the pods' requests.
    Utilization(i32),
    /// An average value, as the API wrote the quantity (`100Mi`, `250m`).
    Quantity(String),
    /// Not reported: no metrics (yet), or pods without requests.
    Unknown,
    /// No target value: the HPA's default applies.
    Auto,
    /// A metric type this tool does not read (`External`, `Object`).
    Other(String),
}

/// The HPA's metrics in spec order: the typed form of `kubectl get hpa`'s TARGETS column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HpaTargets(pub Vec<HpaMetric>);

impl HpaTargets {
    /// One CPU utilisation metric, as the guide's HPA has: `cpu: 15%/60%`.
    pub fn cpu_utilization(current: Option<i32>, target: Option<i32>) -> Self {
        let pct = |v: Option<i32>, none| v.map_or(none, MetricValue::Utilization);
        HpaTargets(vec![HpaMetric {
            name: Some("cpu".into()),
            current: pct(current, MetricValue::Unknown),
            target: pct(target, MetricValue::Auto),
        }])
    }

    /// Whether any metric has no current value (`<unknown>`): the HPA cannot scale on it.
    pub fn has_unknown(&self) -> bool {
        self.0.iter().any(|m| m.current == MetricValue::Unknown)
    }

    /// The CPU utilisation the HPA reports and aims for, in percent, from its first CPU
    /// utilisation metric.
    pub fn cpu(&self) -> (Option<u32>, Option<u32>) {
        let pct = |v: &MetricValue| match v {
            MetricValue::Utilization(p) => u32::try_from(*p).ok(),
            _ => None,
        };
        self.0
            .iter()
            .find(|m| m.name.as_deref() == Some("cpu"))
            .map_or((None, None), |m| (pct(&m.current), pct(&m.target)))
    }
}

/// kubectl's TARGETS text (`cpu: 15%/60%`, `cpu: <unknown>/60%`, `<none>`): the one text form
/// of the typed metrics, for the text views and check details. Nothing parses it back.
impl std::fmt::Display for HpaTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 4;
        if self.0.is_empty() {
            return f.write_str("<none>");
        }
        for (i, m) in self.0.iter().take(MAX).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if let Some(name) = &m.name {
                write!(f, "{name}: ")?;
            }
            write!(f, "{}/{}", m.current, m.target)?;
        }
        if self.0.len() > MAX {
            write!(f, " + {} more...", self.0.len() - MAX)?;
        }
        Ok(())
    }
}

impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Utilization(p) => write!(f, "{p}%"),
            MetricValue::Quantity(q) => f.write_str(q),
            MetricValue::Unknown => f.write_str("<unknown>"),
            MetricValue::Auto => f.write_str("<auto>"),
            MetricValue::Other(kind) => write!(f, "<{kind}>"),
        }
    }
}

/// The metrics of an HPA, spec and status side by side (as kubectl pairs them, by position).
pub fn hpa_targets(hpa: &HorizontalPodAutoscaler) -> HpaTargets {
    let specs = hpa
        .spec
        .as_ref()
        .and_then(|s| s.metrics.as_deref())
        .unwrap_or(&[]);
    let statuses = hpa
        .status
        .as_ref()
        .and_then(|s| s.current_metrics.as_deref())
        .unwrap_or(&[]);
    HpaTargets(
        specs
            .iter()
            .enumerate()
            .map(|(i, spec)| metric(spec, statuses.get(i)))
            .collect(),
    )
}

fn metric(spec: &MetricSpec, status: Option<&MetricStatus>) -> HpaMetric {
    use MetricValue::{Auto, Quantity, Unknown, Utilization};
    let pct = |v: Option<i32>| v.map_or(Unknown, Utilization);
    let quantity = |q: Option<&Quantity_>| q.map_or(Unknown, |q| Quantity(q.0.clone()));
    if let Some(r) = &spec.resource {
        let current = status.and_then(|s| s.resource.as_ref()).map(|s| &s.current);
        if let Some(target) = &r.target.average_value {
            return HpaMetric {
                name: Some(r.name.clone()),
                current: quantity(current.and_then(|c| c.average_value.as_ref())),
                target: Quantity(target.0.clone()),
            };
        }
        return HpaMetric {
            name: Some(r.name.clone()),
            current: pct(current.and_then(|c| c.average_utilization)),
            target: r.target.average_utilization.map_or(Auto, Utilization),
        };
    }
    if let Some(r) = &spec.container_resource {
        let current = status.and_then(|s| s.container_resource.as_ref());
        return HpaMetric {
            name: Some(r.name.clone()),
            current: pct(current.and_then(|s| s.current.average_utilization)),
            target: r.target.average_utilization.map_or(Auto, Utilization),
        };
    }
    if let Some(p) = &spec.pods {
        let current = status.and_then(|s| s.pods.as_ref());
        return HpaMetric {
            name: None,
            current: quantity(current.and_then(|s| s.current.average_value.as_ref())),
            target: p
                .target
                .average_value
                .as_ref()
                .map_or(Auto, |q| Quantity(q.0.clone())),
        };
    }
    HpaMetric {
        name: None,
        current: Unknown,
        target: MetricValue::Other(spec.type_.clone()),
    }
}

/// One HPA condition: `ScalingActive True ValidMetricFound`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionView {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

pub fn hpa_conditions(hpa: &HorizontalPodAutoscaler) -> Vec<ConditionView> {
    hpa.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| {
            cs.iter()
                .map(|c| ConditionView {
                    kind: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c.message.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// HPA replica counts: (min, max, current, desired).
pub fn hpa_replicas(hpa: &HorizontalPodAutoscaler) -> (i32, i32, i32, i32) {
    let spec = hpa.spec.clone().unwrap_or_default();
    let status = hpa.status.clone().unwrap_or_default();
    (
        spec.min_replicas.unwrap_or(1),
        spec.max_replicas,
        status.current_replicas.unwrap_or(0),
        status.desired_replicas,
    )
}

/// Deployment replica counts: desired / updated / ready / available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplicaCounts {
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
}

pub fn deployment_replicas(d: &Deployment) -> ReplicaCounts {
    let status = d.status.clone().unwrap_or_default();
    ReplicaCounts {
        desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        updated: status.updated_replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
    }
}

/// The Service's external address: `status.loadBalancer.ingress[0].ip`, else `.hostname`.
pub fn external_address(svc: &Service) -> Option<String> {
    let ingress = svc
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?;
    let first = ingress.first()?;
    first
        .ip
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| first.hostname.clone().filter(|s| !s.is_empty()))
}

/// The first port of the Service (the guide's 80).
pub fn service_port(svc: &Service) -> Option<i32> {
    svc.spec.as_ref()?.ports.as_ref()?.first().map(|p| p.port)
}

/// `80:31234/TCP,443/TCP`, as the PORT(S) column prints them.
pub fn service_ports(svc: &Service) -> String {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
                    match p.node_port {
                        Some(n) => format!("{}:{n}/{proto}", p.port),
                        None => format!("{}/{proto}", p.port),
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    if ports.is_empty() {
        "<none>".into()
    } else {
        ports
    }
}

/// The API's base URL from the Service: `http://IP:PORT` (port 80 is implied by http).
pub fn base_url(svc: &Service) -> Option<reqwest::Url> {
    let host = external_address(svc)?;
    let port = service_port(svc).unwrap_or(80);
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    reqwest::Url::parse(&format!("http://{host}:{port}")).ok()
}

/// When a pod went through each start-up phase, from its own record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StartupPhases {
    pub created: Timestamp,
    pub scheduled: Option<Timestamp>,
    /// The last container's `state.running.startedAt`.
    pub started: Option<Timestamp>,
    pub ready: Option<Timestamp>,
}

impl StartupPhases {
    /// Seconds from creation to each phase.
    pub fn offsets(&self) -> [Option<f64>; 3] {
        let since = |t: Option<Timestamp>| t.map(|t| t.duration_since(self.created).as_secs_f64());
        [
            since(self.scheduled),
            since(self.started),
            since(self.ready),
        ]
    }
}

pub fn startup_phases(pod: &Pod) -> Option<StartupPhases> {
    let created = ts(&pod.metadata.creation_timestamp)?;
    let cond_time = |kind: &str| {
        pod.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
            .and_then(|c| ts(&c.last_transition_time))
    };
    let started = container_statuses(pod)
        .iter()
        .filter_map(|c| {
            c.state
                .as_ref()?
                .running
                .as_ref()
                .and_then(|r| ts(&r.started_at))
        })
        .max();
    Some(StartupPhases {
        created,
        scheduled: cond_time("PodScheduled"),
        started,
        ready: cond_time("Ready"),
    })
}

/// Whether a pod counts as ready (its Ready condition is True and it is not terminating).
pub fn pod_is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && condition_status(pod, "Ready") == Some(true)
}

/// Millicores from a CPU quantity: `250m`, `1`, `0.5`, `123456789n`, `12u`.
pub fn cpu_millis(q: &str) -> Option<f64> {
    iris_hpa::quantity_in(q, -3)
}

/// Bytes from a memory quantity: `128Mi`, `1Gi`, `500M`, `1e6`, `123456`.
pub fn memory_bytes(q: &str) -> Option<f64> {
    iris_hpa::quantity_in(q, 0)
}

/// The sum of the pod's containers' CPU requests, in millicores.
pub fn pod_cpu_request_millis(pod: &Pod) -> Option<f64> {
    let spec = pod.spec.as_ref()?;
    let requests: Vec<f64> = spec
        .containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get("cpu"))
        .filter_map(|q| cpu_millis(&q.0))
        .collect();
    (!requests.is_empty()).then(|| requests.iter().sum())
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;

/// The annotation by which a simulated cluster's Deployment says it is simulated, with its
/// settings (a JSON list of `{name, value}`).
pub const SIMULATED_ANNOTATION: &str = "iris-lab.dev/simulated";

/// A simulated cluster's settings, from its Deployment; `None` for a real cluster (or an
/// annotation that is not such a list).
pub fn simulated_settings(d: &Deployment) -> Option<Vec<iris_record::cluster::SimulatedSetting>> {
    let text = d.metadata.annotations.as_ref()?.get(SIMULATED_ANNOTATION)?;
    serde_json::from_str(text).ok()
}

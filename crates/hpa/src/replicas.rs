//! The replica count one resource metric asks for, as the documented algorithm computes it:
//! `ceil(ready pods x current / target)`, nothing within the tolerance, pods not yet ready and
//! pods without metrics set aside and then counted conservatively ([`resource_replicas`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::spec::{ControllerSettings, Resource, Target};

/// A pod's `status.phase`, as far as the HPA cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl Phase {
    /// From the API's text; anything unknown is `Unknown`.
    pub fn from_k8s(text: Option<&str>) -> Self {
        match text {
            Some("Pending") => Self::Pending,
            Some("Running") => Self::Running,
            Some("Succeeded") => Self::Succeeded,
            Some("Failed") => Self::Failed,
            _ => Self::Unknown,
        }
    }
}

/// The pod's Ready condition: its status and the model time of its last transition.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub since_s: f64,
}

/// One pod's usage from metrics.k8s.io: values over a window that ended at `timestamp_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    /// Millicores.
    pub cpu_milli: i64,
    /// Thousandths of a byte (the milli-value of the memory quantity).
    pub memory_milli: i64,
    pub timestamp_s: f64,
    /// metrics-server's window (15 s by default since metrics-server 0.6).
    pub window_s: f64,
}

impl Usage {
    fn of(&self, resource: Resource) -> i64 {
        match resource {
            Resource::Cpu => self.cpu_milli,
            Resource::Memory => self.memory_milli,
        }
    }
}

/// What the controller knows of one pod of the target at a sync. Times are model seconds (any
/// origin, the same as the `now_s` given to the model).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodView {
    pub name: String,
    pub phase: Phase,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `status.startTime` (when the kubelet accepted the pod).
    pub start_s: Option<f64>,
    /// `None`: no Ready condition yet.
    pub ready: Option<Readiness>,
    /// Sum of the containers' requests as milli-values; `None` when a container has none.
    pub cpu_request_milli: Option<i64>,
    pub memory_request_milli: Option<i64>,
    /// `None`: metrics.k8s.io has no sample for the pod.
    pub usage: Option<Usage>,
}

impl PodView {
    fn request(&self, resource: Resource) -> Option<i64> {
        match resource {
            Resource::Cpu => self.cpu_request_milli,
            Resource::Memory => self.memory_request_milli,
        }
    }
}

/// Why a metric gave no replica count (the controller then treats it as invalid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricError {
    /// No pod matches the target's selector.
    NoPods,
    /// A container has no request for the resource (utilization cannot be computed).
    MissingRequest { resource: &'static str },
    /// No ready pod has a sample in metrics.k8s.io.
    NoMetrics { resource: &'static str },
    /// A metric the model does not compute.
    Unsupported { description: String },
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPods => f.write_str("no pods returned by selector"),
            Self::MissingRequest { resource } => write!(f, "missing request for {resource}"),
            Self::NoMetrics { resource } => {
                write!(f, "did not receive {resource} metrics for any ready pods")
            }
            Self::Unsupported { description } => write!(f, "{description} is not modelled"),
        }
    }
}

/// What one resource metric proposes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricProposal {
    pub replicas: i32,
    /// The pods' average utilization, percent of request (truncated, as the HPA's status);
    /// `None` for an `AverageValue` target.
    pub utilization_pct: Option<i32>,
    /// Average usage per pod with a sample (milli-value).
    pub average_milli: i64,
    /// Pods counted as ready, not yet ready (pending, or unready for CPU), without metrics.
    pub ready_pods: usize,
    pub unready_pods: usize,
    pub missing_pods: usize,
}

/// The tolerance of each direction: no change while `1 - down <= ratio <= 1 + up`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerances {
    pub up: f64,
    pub down: f64,
}

impl Tolerances {
    fn within(&self, ratio: f64) -> bool {
        1.0 - self.down <= ratio && ratio <= 1.0 + self.up
    }
}

/// How the controller sorts pods for one resource metric.
#[derive(Debug, Default)]
struct Groups {
    ready: usize,
    unready: Vec<usize>,
    missing: Vec<usize>,
    /// Pod index -> usage, for pods counted with their sample.
    samples: BTreeMap<usize, i64>,
}

fn cpu_sample_unready(pod: &PodView, usage: &Usage, now_s: f64, s: &ControllerSettings) -> bool {
    let (Some(ready), Some(start)) = (pod.ready, pod.start_s) else {
        return true;
    };
    if start + s.cpu_initialization_period.as_secs_f64() > now_s {
        // Still initialising: unready, or its sample began before it became ready.
        !ready.ready || usage.timestamp_s < ready.since_s + usage.window_s
    } else {
        // Unready and never ready since its start (within the initial readiness delay).
        !ready.ready && start + s.initial_readiness_delay.as_secs_f64() > ready.since_s
    }
}

fn group(pods: &[PodView], resource: Resource, now_s: f64, s: &ControllerSettings) -> Groups {
    let mut g = Groups::default();
    for (i, pod) in pods.iter().enumerate() {
        if pod.deleting || pod.phase == Phase::Failed {
            continue;
        }
        if pod.phase == Phase::Pending {
            g.unready.push(i);
            continue;
        }
        let Some(usage) = pod.usage else {
            g.missing.push(i);
            continue;
        };
        if resource == Resource::Cpu && cpu_sample_unready(pod, &usage, now_s, s) {
            g.unready.push(i);
            continue;
        }
        g.ready += 1;
        g.samples.insert(i, usage.of(resource));
    }
    g
}

/// The usage ratio against the target, and the truncated utilization percent when the target
/// is one; `None` when no sample belongs to a pod with a request.
fn usage_ratio(
    samples: &BTreeMap<usize, i64>,
    requests: &[i64],
    target: Target,
) -> Option<(f64, Option<i32>, i64)> {
    let total: i64 = samples.values().sum();
    let average = total / samples.len().max(1) as i64;
    match target {
        Target::Utilization { percent } => {
            let requested: i64 = samples.keys().map(|&i| requests[i]).sum();
            if requested == 0 {
                return None;
            }
            // Kubernetes keeps this in an int32; a sum past it saturates instead of wrapping.
            let utilization = i32::try_from(total.saturating_mul(100) / requested)
                .unwrap_or(if total < 0 { i32::MIN } else { i32::MAX });
            Some((
                utilization as f64 / percent as f64,
                Some(utilization),
                average,
            ))
        }
        Target::AverageValue { milli } => Some((average as f64 / milli as f64, None, average)),
    }
}

/// The replicas one resource metric asks for at `now_s`, given `current` replicas (the
/// target's `spec.replicas`) and the target's pods.
pub fn resource_replicas(
    current: i32,
    resource: Resource,
    target: Target,
    pods: &[PodView],
    now_s: f64,
    tolerances: Tolerances,
    settings: &ControllerSettings,
) -> Result<MetricProposal, MetricError> {
    if pods.is_empty() {
        return Err(MetricError::NoPods);
    }
    let mut g = group(pods, resource, now_s, settings);
    if g.samples.is_empty() {
        return Err(MetricError::NoMetrics {
            resource: resource.name(),
        });
    }
    let requests = pods
        .iter()
        .map(|p| p.request(resource))
        .collect::<Option<Vec<i64>>>()
        .ok_or(MetricError::MissingRequest {
            resource: resource.name(),
        })?;
    let no_metrics = || MetricError::NoMetrics {
        resource: resource.name(),
    };
    let (ratio, utilization_pct, average_milli) =
        usage_ratio(&g.samples, &requests, target).ok_or_else(no_metrics)?;
    let proposal = |replicas| MetricProposal {
        replicas,
        utilization_pct,
        average_milli,
        ready_pods: g.ready,
        unready_pods: g.unready.len(),
        missing_pods: g.missing.len(),
    };
    let up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !up_with_unready && g.missing.is_empty() {
        if tolerances.within(ratio) {
            return Ok(proposal(current));
        }
        return Ok(proposal((ratio * g.ready as f64).ceil() as i32));
    }
    // The conservative re-computation: pods without metrics count as using their whole request
    // (or the target, if higher) on a scale-down and nothing on a scale-up; pods not yet ready
    // count as using nothing on a scale-up.
    for &i in &g.missing {
        let fallback = match target {
            Target::Utilization { percent } => requests[i] * i64::from(percent.max(100)) / 100,
            Target::AverageValue { milli } => milli,
        };
        if ratio < 1.0 {
            g.samples.insert(i, fallback);
        } else if ratio > 1.0 {
            g.samples.insert(i, 0);
        }
    }
    if up_with_unready {
        for &i in &g.unready {
            g.samples.insert(i, 0);
        }
    }
    let (new_ratio, _, _) = usage_ratio(&g.samples, &requests, target).ok_or_else(no_metrics)?;
    let flips = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if tolerances.within(new_ratio) || flips {
        return Ok(proposal(current));
    }
    let replicas = (new_ratio * g.samples.len() as f64).ceil() as i32;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(proposal(current));
    }
    Ok(proposal(replicas))
}

//! An HPA's spec with every default the API server and the controller fill in, resolved once
//! from k8s-openapi's `autoscaling/v2` types: [`Spec::from_k8s`].

use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
};
use serde::Serialize;

use super::quantity::milli_value;

/// The kube-controller-manager's settings for HPAs (its `--horizontal-pod-autoscaler-*` flags),
/// at their defaults in [`Default`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ControllerSettings {
    /// `--horizontal-pod-autoscaler-sync-period`: 15 s.
    pub sync_period: Duration,
    /// `--horizontal-pod-autoscaler-tolerance`: 0.1 (both directions, unless `behavior` sets one).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`: 5 min.
    pub cpu_initialization_period: Duration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`: 30 s.
    pub initial_readiness_delay: Duration,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`: 5 min, the scale-down window when
    /// `behavior.scaleDown.stabilizationWindowSeconds` is unset.
    pub downscale_stabilization: Duration,
}

impl Default for ControllerSettings {
    fn default() -> Self {
        Self {
            sync_period: Duration::from_secs(15),
            tolerance: 0.1,
            cpu_initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
            downscale_stabilization: Duration::from_secs(300),
        }
    }
}

/// A resource the metrics API reports per pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
        }
    }
}

/// What a resource metric aims at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// `averageUtilization`: percent of the pods' requests.
    Utilization { percent: i32 },
    /// `averageValue`, as a milli-value (millicores, thousandths of a byte).
    AverageValue { milli: i64 },
}

/// One entry of `spec.metrics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Metric {
    /// `type: Resource` (the pods' CPU or memory, from metrics.k8s.io).
    Resource { resource: Resource, target: Target },
    /// A metric this model does not compute (Pods, Object, External, ContainerResource, or a
    /// target it cannot read): the controller would use it; the model treats it as a metric
    /// that failed, as the controller treats one it cannot read.
    Unsupported { description: String },
}

/// `Pods` or `Percent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Pods,
    Percent,
}

/// One scaling policy: at most `value` pods or percent of change within `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub kind: PolicyKind,
    pub value: i32,
    pub period: Duration,
}

/// `selectPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Select {
    Max,
    Min,
    Disabled,
}

/// One direction of `behavior`, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rules {
    pub stabilization_window: Duration,
    pub select: Select,
    pub policies: Vec<Policy>,
    /// The direction's tolerance (`behavior.*.tolerance`, else the controller's).
    pub tolerance: f64,
}

/// The HPA's spec as the controller uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub metrics: Vec<Metric>,
    pub scale_up: Rules,
    pub scale_down: Rules,
}

/// The documented default scale-up: no stabilization, the larger of +100% and +4 pods per 15 s.
pub fn default_scale_up(settings: &ControllerSettings) -> Rules {
    Rules {
        stabilization_window: Duration::ZERO,
        select: Select::Max,
        policies: vec![
            Policy {
                kind: PolicyKind::Pods,
                value: 4,
                period: Duration::from_secs(15),
            },
            Policy {
                kind: PolicyKind::Percent,
                value: 100,
                period: Duration::from_secs(15),
            },
        ],
        tolerance: settings.tolerance,
    }
}

/// The documented default scale-down: the controller's window (300 s), down to `minReplicas`
/// (-100% per 15 s).
pub fn default_scale_down(settings: &ControllerSettings) -> Rules {
    Rules {
        stabilization_window: settings.downscale_stabilization,
        select: Select::Max,
        policies: vec![Policy {
            kind: PolicyKind::Percent,
            value: 100,
            period: Duration::from_secs(15),
        }],
        tolerance: settings.tolerance,
    }
}

impl Spec {
    /// The spec as the API server defaults it (`minReplicas` 1, 80% CPU when `metrics` is
    /// empty) and the controller completes it (each unset field of `behavior` from the
    /// documented defaults; an unset `behavior` as wholly default).
    pub fn from_k8s(spec: &HorizontalPodAutoscalerSpec, settings: &ControllerSettings) -> Self {
        let metrics = match spec.metrics.as_deref() {
            None | Some([]) => vec![Metric::Resource {
                resource: Resource::Cpu,
                target: Target::Utilization { percent: 80 },
            }],
            Some(list) => list.iter().map(metric).collect(),
        };
        let behavior = spec.behavior.as_ref();
        Self {
            min_replicas: spec.min_replicas.unwrap_or(1),
            max_replicas: spec.max_replicas,
            metrics,
            scale_up: rules(
                behavior.and_then(|b| b.scale_up.as_ref()),
                default_scale_up(settings),
            ),
            scale_down: rules(
                behavior.and_then(|b| b.scale_down.as_ref()),
                default_scale_down(settings),
            ),
        }
    }

    /// The first CPU utilization target, in percent (what the guide's HPA has).
    pub fn cpu_target_percent(&self) -> Option<i32> {
        self.metrics.iter().find_map(|m| match m {
            Metric::Resource {
                resource: Resource::Cpu,
                target: Target::Utilization { percent },
            } => Some(*percent),
            _ => None,
        })
    }
}

fn rules(given: Option<&HPAScalingRules>, default: Rules) -> Rules {
    let Some(given) = given else {
        return default;
    };
    Rules {
        stabilization_window: given
            .stabilization_window_seconds
            .map_or(default.stabilization_window, |s| {
                Duration::from_secs(u64::try_from(s).unwrap_or(0))
            }),
        select: match given.select_policy.as_deref() {
            Some("Min") => Select::Min,
            Some("Disabled") => Select::Disabled,
            _ => default.select,
        },
        policies: given
            .policies
            .as_ref()
            .map_or(default.policies, |p| p.iter().map(policy).collect()),
        tolerance: given
            .tolerance
            .as_ref()
            .and_then(|q| milli_value(&q.0))
            .map_or(default.tolerance, |m| m as f64 / 1000.0),
    }
}

fn policy(p: &HPAScalingPolicy) -> Policy {
    Policy {
        kind: if p.type_ == "Pods" {
            PolicyKind::Pods
        } else {
            PolicyKind::Percent
        },
        value: p.value,
        period: Duration::from_secs(u64::try_from(p.period_seconds).unwrap_or(0)),
    }
}

fn metric(m: &MetricSpec) -> Metric {
    let unsupported = |what: &str| Metric::Unsupported {
        description: what.to_string(),
    };
    let Some(source) = m.resource.as_ref().filter(|_| m.type_ == "Resource") else {
        return unsupported(&format!("{} metric", m.type_));
    };
    let resource = match source.name.as_str() {
        "cpu" => Resource::Cpu,
        "memory" => Resource::Memory,
        other => return unsupported(&format!("resource {other}")),
    };
    match target(&source.target) {
        Some(target) => Metric::Resource { resource, target },
        None => unsupported(&format!("{} target {}", source.name, source.target.type_)),
    }
}

fn target(t: &MetricTarget) -> Option<Target> {
    match t.type_.as_str() {
        "Utilization" => t
            .average_utilization
            .map(|percent| Target::Utilization { percent }),
        "AverageValue" => t
            .average_value
            .as_ref()
            .and_then(|q| milli_value(&q.0))
            .map(|milli| Target::AverageValue { milli }),
        _ => None,
    }
}

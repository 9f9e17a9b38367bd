//! What a load run saw of the cluster: the record's `cluster` (a [`ClusterRecord`]) or
//! `cluster_not_watched` (a [`NotWatched`]), and each timeline point's `cluster` (one
//! [`ClusterSecond`]). Schema 1 kept them untyped in `extensions` maps; `record::load` moves
//! them here.

use std::fmt;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
use serde::{Deserialize, Serialize};

/// Schema 1's key of the cluster data in `extensions` maps.
pub const V1_EXTENSION: &str = "cluster";
/// Schema 1's key under which a record said, as text, why the cluster was not watched.
pub const V1_MISSED_EXTENSION: &str = "cluster_missed";

/// Why `load` ran without watching the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotWatched {
    /// No kubeconfig (the usual case off a cluster).
    NoKubeconfig,
    /// The Kubernetes API did not answer in time.
    NoAnswer { timeout_s: u64 },
    /// Connecting or finding the Deployment failed.
    Failed { error: String },
    /// A schema-1 record's reason, which was only text.
    Text { text: String },
}

impl fmt::Display for NotWatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKubeconfig => f.write_str("no kubeconfig found"),
            Self::NoAnswer { timeout_s } => {
                write!(f, "the Kubernetes API did not answer within {timeout_s} s")
            }
            Self::Failed { error } => f.write_str(error),
            Self::Text { text } => f.write_str(text),
        }
    }
}

/// Something the cluster side could not observe during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Missed {
    /// metrics.k8s.io did not answer, from `from_s` seconds after load start.
    PodMetrics { from_s: f64, reason: String },
    /// A watch broke at `at_s`.
    WatchInterrupted {
        what: String,
        at_s: f64,
        error: String,
    },
    /// A broken watch came back at `at_s`.
    WatchResumed { what: String, at_s: f64 },
    /// The nodes' instance types could not be read (nodes are cluster-scoped: often forbidden).
    NodeTypes { reason: String },
    /// A schema-1 record's entry, which was only text.
    Text { text: String },
}

impl fmt::Display for Missed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PodMetrics { from_s, reason } => {
                write!(f, "pod metrics from +{from_s:.0} s: {reason}")
            }
            Self::WatchInterrupted { what, at_s, error } => {
                write!(f, "watch of {what} interrupted at +{at_s:.0} s: {error}")
            }
            Self::WatchResumed { what, at_s } => {
                write!(f, "watch of {what} resumed at +{at_s:.0} s")
            }
            Self::NodeTypes { reason } => write!(f, "node instance types: {reason}"),
            Self::Text { text } => f.write_str(text),
        }
    }
}

/// The cluster at the end of one second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSecond {
    /// HPA `status.currentReplicas` / `desiredReplicas`.
    pub replicas: Option<u32>,
    pub desired: Option<u32>,
    /// HPA CPU utilization and its target, % of request.
    pub cpu_pct: Option<u32>,
    pub cpu_target_pct: Option<u32>,
    /// Pods with the app's label, and how many of them are Ready.
    pub pods: u32,
    pub ready_pods: u32,
}

/// The whole run, as the cluster side saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    pub namespace: String,
    pub deployment: String,
    pub hpa: String,
    pub min_replicas: Option<u32>,
    pub max_replicas: Option<u32>,
    pub cpu_target_pct: Option<u32>,
    /// Most pods seen at once (by the HPA's current replicas or the pods listed, whichever is
    /// larger).
    pub max_pods: u32,
    /// Seconds from load start to the first scale-up.
    pub first_scale_up_s: Option<f64>,
    /// Creation -> Ready of pods started during the run.
    pub pod_startup_median_s: Option<f64>,
    pub pod_startup_max_s: Option<f64>,
    /// Highest HPA CPU utilization, % of request (or pod CPU from metrics.k8s.io).
    pub peak_cpu_pct: Option<f64>,
    pub scaling_events: Vec<ScalingEventRecord>,
    pub pods_started: Vec<PodStartRecord>,
    pub samples: Vec<PodSampleRecord>,
    pub restarts: u32,
    pub oom_kills: u32,
    /// Share of pod CPU used by the pods started during the run, after the first of them was
    /// ready (0..1): how much of the work reached them.
    pub new_pod_cpu_share: Option<f64>,
    /// What the cluster side could not observe, in the order it happened.
    pub missed: Vec<Missed>,
    /// The HPA's spec as the run last saw it (Kubernetes' own JSON: min, max, metrics and
    /// targets, behavior).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa_spec: Option<HorizontalPodAutoscalerSpec>,
    /// The requests and limits most of the run's pods declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_resources: Option<PodResources>,
    /// The images the pods ran, with their digests where the kubelet reported them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageRecord>,
    /// The nodes the pods ran on, with their instance types where readable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeRecord>,
    /// Each container restart seen during the run (OOMKilled ones among them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_events: Vec<RestartRecord>,
    /// Set when the cluster was simulated (`iris-lab sim` or `demo`): every figure the
    /// simulation invented, by name, from its Deployment's annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<Vec<SimulatedSetting>>,
}

/// One invented figure of a simulated cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimulatedSetting {
    pub name: String,
    pub value: String,
}

/// One container's requests and limits (millicores, bytes); `None` when not set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerResources {
    pub container: String,
    pub cpu_request_millis: Option<f64>,
    pub cpu_limit_millis: Option<f64>,
    pub memory_request_bytes: Option<f64>,
    pub memory_limit_bytes: Option<f64>,
}

/// A pod's containers' requests and limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodResources {
    pub containers: Vec<ContainerResources>,
}

impl PodResources {
    /// The pod's total of one figure; `None` when a container does not set it.
    fn total(&self, figure: impl Fn(&ContainerResources) -> Option<f64>) -> Option<f64> {
        if self.containers.is_empty() {
            return None;
        }
        self.containers.iter().map(figure).sum()
    }

    pub fn cpu_request_millis(&self) -> Option<f64> {
        self.total(|c| c.cpu_request_millis)
    }

    pub fn cpu_limit_millis(&self) -> Option<f64> {
        self.total(|c| c.cpu_limit_millis)
    }

    pub fn memory_request_bytes(&self) -> Option<f64> {
        self.total(|c| c.memory_request_bytes)
    }

    pub fn memory_limit_bytes(&self) -> Option<f64> {
        self.total(|c| c.memory_limit_bytes)
    }
}

/// An image a container ran, and on how many of the run's pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub container: String,
    pub image: String,
    /// The container status' `imageID` (`repo@sha256:...`), once the kubelet reported it.
    pub image_id: Option<String>,
    pub pods: u32,
}

/// A node that ran the run's pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub name: String,
    /// Label `node.kubernetes.io/instance-type` (or its beta predecessor), when the node could be
    /// read.
    pub instance_type: Option<String>,
    pub pods: u32,
}

/// A container restart: when, which pod, and how its last run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartRecord {
    /// Seconds since load start when this client saw it.
    pub t_s: f64,
    pub pod: String,
    pub restarts: i32,
    /// The last state's `terminated.reason` (`OOMKilled`, `Error`).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingEventRecord {
    /// Seconds since load start.
    pub t_s: f64,
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodStartRecord {
    pub pod: String,
    /// Seconds since load start when this client saw it created.
    pub created_s: f64,
    /// Seconds after creation, from the pod's own conditions.
    pub scheduled_after_s: Option<f64>,
    pub started_after_s: Option<f64>,
    pub ready_after_s: Option<f64>,
    /// Seconds since load start when this client saw it Ready.
    pub observed_ready_s: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodSampleRecord {
    /// Seconds since load start.
    pub t_s: f64,
    pub pod: String,
    pub cpu_millis: f64,
    pub cpu_pct_of_request: Option<f64>,
    pub memory_bytes: f64,
    /// Seconds metrics-server averaged the usage over (PodMetrics' `window`), when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<f64>,
    /// Seconds since load start when that window ended (PodMetrics' `timestamp`): the
    /// usage is of the window before it, which may end before the sample was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end_s: Option<f64>,
}

/// Schema 1 -> 2 of a `ClusterRecord`'s JSON: its `missed` entries were text.
pub fn upgrade_v1_record(value: &mut serde_json::Value) {
    if let Some(missed) = value.get_mut("missed").and_then(|m| m.as_array_mut()) {
        for entry in missed {
            if let Some(text) = entry.as_str() {
                *entry = serde_json::json!({"kind": "text", "text": text});
            }
        }
    }
}

/// Schema 1's reason for not watching, as the typed reason.
pub fn upgrade_v1_not_watched(value: &serde_json::Value) -> NotWatched {
    NotWatched::Text {
        text: value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_before() {
        let m = Missed::PodMetrics {
            from_s: 1.2,
            reason: "metrics.k8s.io answered 503".into(),
        };
        assert_eq!(
            m.to_string(),
            "pod metrics from +1 s: metrics.k8s.io answered 503"
        );
        let w = NotWatched::NoAnswer { timeout_s: 10 };
        assert_eq!(
            w.to_string(),
            "the Kubernetes API did not answer within 10 s"
        );
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "no_answer", "timeout_s": 10})
        );
    }

    #[test]
    fn schema_1_text_becomes_typed_text() {
        let mut v = serde_json::json!({"namespace": "default", "deployment": "d", "hpa": "h",
            "min_replicas": null, "max_replicas": null, "cpu_target_pct": null, "max_pods": 1,
            "first_scale_up_s": null, "pod_startup_median_s": null, "pod_startup_max_s": null,
            "peak_cpu_pct": null, "scaling_events": [], "pods_started": [], "samples": [],
            "restarts": 0, "oom_kills": 0, "new_pod_cpu_share": null,
            "missed": ["watch of pods resumed at +3 s"]});
        upgrade_v1_record(&mut v);
        let r: ClusterRecord = serde_json::from_value(v).unwrap();
        assert_eq!(
            r.missed,
            [Missed::Text {
                text: "watch of pods resumed at +3 s".into()
            }]
        );
        assert_eq!(r.missed[0].to_string(), "watch of pods resumed at +3 s");
    }
}

//! What a load run saw of the cluster: stored in the record's `extensions["cluster"]` (the
//! summary) and in each timeline point's `extensions["cluster"]` (one [`ClusterSecond`]).

use serde::{Deserialize, Serialize};

/// The key of the cluster data in `extensions` maps.
pub const EXTENSION: &str = "cluster";
/// The key under which a record says why the cluster was not watched.
pub const MISSED_EXTENSION: &str = "cluster_missed";

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
    pub missed: Vec<String>,
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
}

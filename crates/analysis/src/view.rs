//! What the report knows of one run: a flat view built from a run record, so that templates
//! (ours and the user's) see plain numbers and the findings are pure functions over them.

use serde::{Deserialize, Serialize};

use iris_record::SteadyState;
use iris_record::cluster::ClusterRecord;
use iris_record::distributed::DistributedRecord;
use iris_record::histogram::CurvePoint;
use iris_record::shape::StageRecord;

/// One run, as the report sees it. Times in milliseconds unless the name says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// The record's file name.
    pub file: String,
    pub label: String,
    /// [`RunView::load_text`], for templates: `150 users`, `100 -> 300 users`, `200 arrivals/s`.
    #[serde(default)]
    pub load: String,
    /// Users: the most at once (with stages, their peak; in the open model, the most requests
    /// in flight).
    pub users: u64,
    pub user_class: String,
    pub target: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub started: String,
    pub duration_s: f64,
    pub interrupted: bool,
    /// Why no request got an answer, when none did: its latencies and failure rate are then
    /// no figures at all, and the report says so instead of 0 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_answer: Option<String>,
    pub requests: u64,
    pub failures: u64,
    /// Failures / requests, 0..1.
    pub failure_rate: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub avg_rps: f64,
    pub peak_rps: f64,
    /// users / mean(wait + response time): what the class can ask for at most.
    pub theoretical_max_rps: Option<f64>,
    /// Whether every user started (the figures above are over the whole run either way).
    pub full_users_reached: bool,
    /// The run from the last user's start to the stop; absent when it never got there (or
    /// the record predates these figures).
    pub steady_state: Option<SteadyState>,
    /// Failures by reason, most first.
    pub failure_reasons: Vec<FailureCount>,
    /// Server-reported timings of `/predict` against the end-to-end latency.
    pub timing: Option<TimingBreakdown>,
    /// Where requests' time went, phase by phase (absent in records older than phases).
    pub phases: Option<super::breakdown::PhaseBreakdown>,
    pub slowest: Vec<SlowRequest>,
    pub timeline: Vec<Second>,
    /// The latency distribution of all requests (from the record's aggregate histogram),
    /// HdrHistogram's percentile curve; empty without requests.
    pub latency_curve: Vec<CurvePoint>,
    /// Absent when the run had no cluster data. The record's own type: the report needs
    /// every figure of it, so a copy would only rename fields.
    pub cluster: Option<ClusterRecord>,
    /// Why the cluster was not watched, when `load` looked for one and found none.
    pub cluster_missed: Option<String>,
    /// Where the workers of a distributed run ran and how each ended (the record's own type).
    #[serde(default)]
    pub workers: Option<DistributedRecord>,
    /// The open model's figures, when the run had arrivals instead of users.
    #[serde(default)]
    pub arrivals: Option<ArrivalView>,
    /// The load's stages, when it followed them: users, or arrivals/s with `arrivals`.
    #[serde(default)]
    pub stages: Vec<StageRecord>,
    /// The client's failures and the pods' error lines on one time axis, when the run read
    /// the pods' logs.
    pub pod_errors: Option<super::pod_errors::ErrorsView>,
}

impl RunView {
    /// What the load's level counts: users, or arrivals per second in the open model.
    pub fn unit(&self) -> &'static str {
        if self.arrivals.is_some() {
            "arrivals/s"
        } else {
            "users"
        }
    }

    /// The level the stages start from: no users, or the open model's `--arrival-rate`.
    pub fn start_level(&self) -> f64 {
        self.arrivals.as_ref().map_or(0.0, |a| a.rate)
    }

    /// The load as a short text that says how it changed: `150 users`, `200 arrivals/s`, or
    /// with stages the levels they went through, `100 -> 300 users` (not the peak alone).
    pub fn load_text(&self) -> String {
        let unit = self.unit();
        if self.stages.is_empty() {
            return match &self.arrivals {
                Some(a) => format!("{} {unit}", a.rate),
                None => format!("{} {unit}", self.users),
            };
        }
        let mut levels: Vec<f64> = Vec::new();
        let start = (self.arrivals.is_some()).then(|| self.start_level());
        for level in start
            .into_iter()
            .chain(self.stages.iter().map(|s| s.target))
        {
            if levels.last() != Some(&level) {
                levels.push(level);
            }
        }
        let path = levels
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(" -> ");
        if levels.len() > 1 {
            format!("{path} {unit}")
        } else {
            format!("{path} {unit} (stages)")
        }
    }
}

/// An open-model run: its rates and drops, and the service time beside the corrected
/// latencies of the other figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArrivalView {
    /// `--arrival-rate`: the rate the run started at (where its stages start from).
    #[serde(default)]
    pub rate: f64,
    pub intended_rate: f64,
    pub achieved_rate: f64,
    pub dropped: u64,
    pub dropped_per_s: f64,
    pub max_in_flight: u32,
    pub queue: bool,
    /// Service time (from the send); None without requests.
    pub service_p50_ms: Option<f64>,
    pub service_p95_ms: Option<f64>,
    pub service_p99_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureCount {
    pub endpoint: String,
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimingBreakdown {
    /// End-to-end latency of `/predict` as the client measured it.
    pub e2e_p50_ms: f64,
    pub e2e_p95_ms: f64,
    /// The server's `total_time`.
    pub server_p50_ms: f64,
    pub server_p95_ms: f64,
    /// The server's `inference_time`.
    pub inference_p50_ms: f64,
    pub inference_p95_ms: f64,
}

impl TimingBreakdown {
    /// Shares of the median end-to-end latency: (model, rest of the server, network+queueing),
    /// each 0..1.
    pub fn shares(&self) -> (f64, f64, f64) {
        if self.e2e_p50_ms <= 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let model = (self.inference_p50_ms / self.e2e_p50_ms).clamp(0.0, 1.0);
        let server =
            ((self.server_p50_ms - self.inference_p50_ms) / self.e2e_p50_ms).clamp(0.0, 1.0);
        let network = (1.0 - model - server).clamp(0.0, 1.0);
        (model, server, network)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlowRequest {
    pub endpoint: String,
    pub latency_ms: f64,
    pub trace_id: String,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the run started.
    pub t: u64,
    pub users: u64,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub failures_per_s: f64,
    /// Percentiles over the last 10 s (or less at the start).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// HPA current replicas, when the cluster was watched.
    pub replicas: Option<u32>,
    /// HPA desired replicas.
    pub desired: Option<u32>,
    pub ready_pods: Option<u32>,
    /// HPA's current CPU utilization, % of request.
    pub cpu_pct: Option<f64>,
    /// HPA's CPU target, % of request.
    pub cpu_target_pct: Option<f64>,
    /// Connections opened in this second (absent in records older than phases).
    pub new_connections: Option<u64>,
    /// Their median connect time, and the median time to first byte of the requests they
    /// carried first.
    pub connect_p50_ms: Option<f64>,
    pub new_waiting_p50_ms: Option<f64>,
    /// The median time to first byte of all requests of this second.
    pub waiting_p50_ms: Option<f64>,
    /// Open model: arrivals the schedule made due in this second, and those dropped.
    #[serde(default)]
    pub intended: Option<f64>,
    #[serde(default)]
    pub dropped: Option<u64>,
}

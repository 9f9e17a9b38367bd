//! What a record keeps of the load's shape: the stages it followed and, in the open model, the
//! arrivals (intended, sent, dropped) and the service time beside the corrected latency.
//! All optional in the record, so records without them still load.

use serde::{Deserialize, Serialize};

use super::EndpointRecord;

/// One stage as the run followed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub duration_s: f64,
    /// Users, or arrivals per second in the open model.
    pub target: f64,
}

/// The open model's arrivals over the whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArrivalRecord {
    /// `--arrival-rate`: arrivals per second (where the stages start, with stages).
    pub rate: f64,
    pub max_in_flight: u32,
    /// Arrivals waited for a free slot (`--queue`) instead of being dropped.
    pub queue: bool,
    /// Arrivals the schedule made due during the run.
    pub intended: u64,
    /// Arrivals sent (each one request).
    pub sent: u64,
    /// Arrivals that found no free slot (k6's dropped_iterations).
    pub dropped: u64,
    /// Per second of the run.
    pub intended_rate: f64,
    pub achieved_rate: f64,
    pub dropped_per_s: f64,
    /// Service time (from the actual send) of all requests, as a row named
    /// [`SERVICE_ROW`]; the endpoints' rows and the aggregate are corrected latencies (from
    /// the intended arrival time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<EndpointRecord>,
}

/// The name of the service-time row beside `Aggregated` (the summary's and the CSV's).
pub const SERVICE_ROW: &str = "Aggregated service time";

/// The open model's arrivals in one second of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrivalSecond {
    /// Arrivals the schedule made due in this second.
    pub intended: f64,
    pub sent: u64,
    pub dropped: u64,
    /// The service time's 99th percentile of requests finished in this second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p99_ms: Option<f64>,
}

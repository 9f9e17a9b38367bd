//! What a distributed run (`load --workers N`) saved about its workers: in the merged record,
//! where they ran and how each one ended; in each worker's own record, the share it ran.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The share of a distributed run one worker ran (in that worker's own record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerShare {
    /// 0-based, as Kubernetes' `JOB_COMPLETION_INDEX`.
    pub index: u32,
    pub workers: u32,
    pub users: u32,
    pub spawn_rate: f64,
    /// The absolute start time the controller chose for every worker.
    pub start_at: Timestamp,
    /// How late this worker actually started, ms (0 when it was ready in time).
    pub skew_ms: f64,
}

/// Where the workers of a distributed run ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// Processes on the machine that ran `load` (`--local`).
    Local,
    /// Pods of one Indexed Job.
    Kubernetes { namespace: String, job: String },
}

/// How one worker ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerStatus {
    Completed,
    Interrupted,
    /// The worker died, was evicted or stopped talking before its record arrived: its seconds
    /// up to `seen_s` are in the timeline, none of its requests are in the totals.
    Lost {
        reason: String,
        /// The last second it reported (0: none).
        seen_s: u64,
        /// The seconds of the run its users did not report.
        missed_s: f64,
    },
}

/// One worker of a distributed run, in the merged record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerOutcome {
    pub index: u32,
    pub users: u32,
    pub spawn_rate: f64,
    pub status: WorkerStatus,
    /// Requests it reported in its record (0 when lost).
    pub requests: u64,
    /// How late it started, ms, when it said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_ms: Option<f64>,
    /// Its own record, beside the merged one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<PathBuf>,
    /// The pod and node it ran on (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A distributed run, in its merged record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributedRecord {
    pub placement: Placement,
    pub start_at: Timestamp,
    pub workers: Vec<WorkerOutcome>,
    /// What the reader should know about where the load came from (e.g. in-cluster workers
    /// bypassing a LoadBalancer).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl DistributedRecord {
    pub fn lost(&self) -> impl Iterator<Item = &WorkerOutcome> {
        self.workers
            .iter()
            .filter(|w| matches!(w.status, WorkerStatus::Lost { .. }))
    }
}

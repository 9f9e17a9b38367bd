//! What the run's exporters could not deliver (`load --export`): the gap, stated.

use serde::{Deserialize, Serialize};

/// The run's receivers and what each got of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub receivers: Vec<ReceiverRecord>,
}

/// One receiver (`--export KIND=URL`): the run's seconds offered, delivered and lost. Each
/// push carries the run's cumulative values, so a lost second loses resolution, not totals,
/// unless the last one is lost (`last_delivered`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiverRecord {
    /// `prometheus-rw` or `otlp`.
    pub protocol: String,
    /// Where (scheme, host, port and path; never credentials or a query).
    pub endpoint: String,
    pub seconds: u64,
    pub delivered: u64,
    /// Seconds dropped because the queue was full (the receiver was slower than the run).
    pub dropped: u64,
    /// Seconds the receiver refused, or that failed after the retries.
    pub failed: u64,
    /// Seconds still queued when the run's end stopped waiting for the receiver.
    pub undelivered: u64,
    /// The run's last second (its totals) reached the receiver.
    pub last_delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl ReceiverRecord {
    /// Whether anything of the run is missing at this receiver.
    pub fn has_gap(&self) -> bool {
        self.delivered < self.seconds
    }
}

//! What the pods said while a run saw failures or restarts: their error lines from the run's
//! window, grouped by message, with pods, count, first and last time (seconds from the run's
//! start, the time axis of the client's failures). A log that could not be read is a stated
//! gap, not a failure of the run.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The record's `pod_errors`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodErrors {
    /// The window read: the run's start and end.
    pub from: Timestamp,
    pub to: Timestamp,
    /// Why the logs were read (`failures`, `restarts`).
    pub because: String,
    /// Containers whose log was read (`pod/container`, `pod/container (previous)`).
    pub read: Vec<String>,
    /// Error lines grouped by message, most frequent first.
    pub groups: Vec<ErrorGroup>,
    /// Lines read, and of them error lines.
    pub lines: u64,
    pub error_lines: u64,
    /// Logs read up to their byte or line bound (older lines of the window not read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<String>,
    /// Logs that could not be read, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<LogGap>,
}

/// One message, as logged by one or more pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    /// The message with numbers, ids and addresses replaced (`N`, `ID`, `ADDR`).
    pub message: String,
    /// One line as logged (credentials redacted, at most 300 characters).
    pub example: String,
    pub count: u64,
    /// Seconds from the run's start.
    pub first_s: f64,
    pub last_s: f64,
    /// Lines per pod.
    pub pods: BTreeMap<String, u64>,
}

/// A log that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogGap {
    /// `pod/container`.
    pub log: String,
    pub reason: String,
}

//! Run records on disk: one versioned JSON file per run, written atomically (temp file +
//! rename), and a `.jsonl` timeline beside it appended every second so that even `kill -9`
//! loses at most one second.
//!
//! Extension point: later data (cluster replicas, pods, scaling events) goes into new optional
//! fields or the `extensions` maps of [`RunRecord`] and [`TimelinePoint`]; readers ignore what
//! they do not know, so records stay readable across versions.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub mod cluster;

use crate::api::Failure;
use crate::error::{Error, RecordError};

/// The version of the record format this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    Interrupted,
}

/// Everything one load run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    pub tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub status: RunStatus,
    pub target: String,
    pub params: RunParams,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    /// Seconds from the first user's start to the stop (the run's own length).
    pub duration_s: f64,
    pub users_started: u32,
    /// Seconds after the start when the last user started, if all did.
    #[serde(default)]
    pub spawn_complete_s: Option<f64>,
    pub endpoints: Vec<EndpointRecord>,
    pub aggregate: EndpointRecord,
    pub failures: Vec<FailureRecord>,
    pub server_timings: ServerTimings,
    pub slowest: Vec<SlowestRecord>,
    pub throughput: Throughput,
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    pub timeline: Vec<TimelinePoint>,
    /// The requests sent with `traceparent`'s sampled flag, in the order they finished: at most
    /// [`SAMPLED_KEPT`] (the first ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sampled: Vec<SampledRequest>,
    /// Data added by other parts of iris-lab (e.g. `cluster`), keyed by their name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

/// The parameters of a run, as resolved from flags, config and defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunParams {
    pub users: u32,
    pub spawn_rate: f64,
    pub duration_s: f64,
    pub user_class: String,
    #[serde(default)]
    pub scenario: Option<PathBuf>,
    pub wait_min_s: f64,
    pub wait_max_s: f64,
    pub timeout_s: f64,
    #[serde(default)]
    pub connection_max_requests: Option<u64>,
    #[serde(default)]
    pub connection_max_age_s: Option<f64>,
}

/// Statistics of one (method, name) or of all requests (method "", name "Aggregated").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub min_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    pub avg_content_size: f64,
    /// Requests per second over the run.
    pub rps: f64,
    pub failures_per_s: f64,
    /// Rates over the last 10 s of the run (Locust's "Current RPS").
    #[serde(default)]
    pub current_rps: f64,
    #[serde(default)]
    pub current_failures_per_s: f64,
    /// Exact (HdrHistogram) percentiles in ms, keyed "50%" .. "100%".
    pub percentiles_ms: BTreeMap<String, f64>,
    /// Response times in microseconds: base64 of the compressed HdrHistogram V2 encoding.
    pub histogram: String,
}

impl EndpointRecord {
    pub fn percentile(&self, label: &str) -> f64 {
        self.percentiles_ms.get(label).copied().unwrap_or(0.0)
    }

    pub fn failure_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureRecord {
    pub method: String,
    pub name: String,
    pub reason: Failure,
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// A distribution of server-reported durations (ms) with its histogram (us).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Distribution {
    pub count: u64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub histogram: String,
}

/// `inference_time` and `total_time` from `/predict` responses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerTimings {
    pub inference: Option<Distribution>,
    pub total: Option<Distribution>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlowTrace {
    /// W3C trace id (32 hex digits), to look up in Cloud Trace.
    pub trace_id: String,
    pub ms: f64,
}

/// How many sampled requests a record keeps at most (as many as `trace` fetches by default).
pub const SAMPLED_KEPT: usize = 10_000;

/// A request whose `traceparent` asked the server to trace it: what joins it to its spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampledRequest {
    /// W3C trace id (32 hex digits).
    pub trace_id: String,
    /// "POST /predict".
    pub endpoint: String,
    /// Seconds since the run's start when it was sent.
    pub start_s: f64,
    /// As the client measured it (connecting and the whole body).
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlowestRecord {
    pub method: String,
    pub name: String,
    pub traces: Vec<SlowTrace>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    /// All requests over the run's duration (Locust's Requests/s).
    pub total_rps: f64,
    /// Requests per second once every user had started, until the stop.
    pub steady_rps: Option<f64>,
    /// users / mean(wait + response time): what a closed loop of these users can reach.
    pub theoretical_max_rps: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The flag: `max-failure-rate` or `max-p95`.
    pub name: String,
    pub limit: f64,
    pub actual: f64,
    pub passed: bool,
}

/// One second of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the start at the end of this second.
    pub t: u64,
    pub time: Timestamp,
    pub users: u32,
    pub requests: u64,
    pub failures: u64,
    /// Current rate over the last 10 s (or less at the start).
    pub rps: f64,
    pub failures_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The eleven Locust percentiles over the last 10 s, Locust's "current" response-time
    /// percentiles (empty without requests in that window).
    #[serde(default)]
    pub percentiles_ms: Vec<f64>,
    pub total_requests: u64,
    pub total_failures: u64,
    pub total_median_ms: f64,
    pub total_avg_ms: f64,
    pub total_min_ms: f64,
    pub total_max_ms: f64,
    pub total_avg_content_size: f64,
    /// Data added by other parts of iris-lab for this second (e.g. `cluster`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

/// The record's file name: `<UTC time>-<users>u-<class>.json`.
pub fn file_name(started: Timestamp, users: u32, class: &str) -> String {
    let time = started.strftime("%Y%m%dT%H%M%SZ");
    let class: String = class
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{time}-{users}u-{class}.json")
}

/// A path in `dir` for a new record that does not exist yet (adds `-2`, `-3` when needed).
pub fn new_record_path(dir: &Path, started: Timestamp, users: u32, class: &str) -> PathBuf {
    let name = file_name(started, users, class);
    let stem = name.trim_end_matches(".json").to_string();
    let mut path = dir.join(&name);
    let mut n = 2;
    while path.exists() || path.with_extension("jsonl").exists() {
        path = dir.join(format!("{stem}-{n}.json"));
        n += 1;
    }
    path
}

/// Writes `record` to `path` atomically: a temp file in the same directory, then a rename.
pub fn save(record: &RunRecord, path: &Path) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let what = || path.display().to_string();
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::write(what(), e))?;
    serde_json::to_writer_pretty(&mut tmp, record)
        .map_err(|e| Error::write(what(), std::io::Error::other(e)))?;
    tmp.write_all(b"\n").map_err(|e| Error::write(what(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::write(what(), e))?;
    make_readable(tmp.as_file()).map_err(|e| Error::write(what(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::write(what(), e.error))?;
    Ok(())
}

/// Temp files are created private (0600); results are ordinary files (0644, as umask allows).
pub fn make_readable(file: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    let _ = file;
    Ok(())
}

/// Reads a record, checking its schema version.
pub fn load(path: &Path) -> Result<RunRecord, Error> {
    let wrap = |source: RecordError| Error::Record {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|e| wrap(e.into()))?;
    #[derive(Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let v: Version = serde_json::from_str(&text).map_err(|e| wrap(e.into()))?;
    if v.schema_version != SCHEMA_VERSION {
        return Err(wrap(RecordError::Version {
            found: v.schema_version,
            supported: SCHEMA_VERSION,
        }));
    }
    serde_json::from_str(&text).map_err(|e| wrap(e.into()))
}

/// The per-second timeline, appended as one JSON line per second.
pub struct JsonlWriter {
    file: File,
    pub path: PathBuf,
}

impl JsonlWriter {
    pub fn create(path: PathBuf) -> Result<Self, Error> {
        let file = File::options()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::write(path.display().to_string(), e))?;
        Ok(Self { file, path })
    }

    /// Appends one point as a single write, so a killed process leaves whole lines.
    pub fn append(&mut self, point: &TimelinePoint) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(point).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }
}

/// Reads a `.jsonl` timeline (for a run that never finished).
pub fn load_timeline(path: &Path) -> Result<Vec<TimelinePoint>, Error> {
    let wrap = |source: RecordError| Error::Record {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|e| wrap(e.into()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| wrap(e.into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_carry_time_users_and_class() {
        let t: Timestamp = "2026-11-27T20:43:13Z".parse().unwrap();
        assert_eq!(
            file_name(t, 150, "IrisPredictionAPIUser"),
            "20261127T204313Z-150u-IrisPredictionAPIUser.json"
        );
        assert_eq!(file_name(t, 1, "a/b c"), "20261127T204313Z-1u-a_b_c.json");
        let dir = tempfile::tempdir().unwrap();
        let first = new_record_path(dir.path(), t, 1, "X");
        std::fs::write(&first, "{}").unwrap();
        let second = new_record_path(dir.path(), t, 1, "X");
        assert!(
            second.to_string_lossy().ends_with("-1u-X-2.json"),
            "{second:?}"
        );
    }

    #[test]
    fn records_of_another_version_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        std::fs::write(&p, r#"{"schema_version": 99}"#).unwrap();
        let e = crate::error::one_line(&load(&p).unwrap_err());
        assert!(e.contains("schema version 99"), "{e}");
        std::fs::write(&p, "garbage").unwrap();
        assert!(crate::error::one_line(&load(&p).unwrap_err()).contains("not a run record"));
    }
}

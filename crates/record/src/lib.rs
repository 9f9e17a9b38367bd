//! Run records on disk: one versioned JSON file per run, written atomically
//! ([`write_atomically`]: temp file, fsync, rename, fsync of the directory), and a `.jsonl` timeline beside it appended every second so that even `kill -9`
//! loses at most one second.
//!
//! Extension point: later data goes into new optional, typed fields (as the cluster's did in
//! schema 2) or the `extensions` maps of [`RunRecord`] and [`TimelinePoint`]; readers ignore
//! what they do not know, and [`load`] upgrades every older schema it supports, so records stay
//! readable across versions.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub mod answered;
mod atomic;
pub mod cluster;
pub mod distributed;
pub mod export;
pub mod histogram;
pub mod locations;
mod percentile;
mod phases;
pub mod pod_errors;
pub mod scale_down;
pub mod shape;

pub use atomic::write_atomically;
pub use locations::{DEFAULT_OUT_DIR, LocateError, record_paths};
pub use percentile::Percentile;
pub use phases::{EndpointPhases, PhaseDistributions, PhasesRecord, Resolution, SecondPhases};

use cluster::{ClusterRecord, ClusterSecond, NotWatched};
use iris_api::Failure;
use shape::{ArrivalRecord, ArrivalSecond, StageRecord};

/// Why a run record's content could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not a run record: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "schema version {found} is not supported (this iris-lab reads versions 1 to {supported})"
    )]
    Version { found: u32, supported: u32 },
    #[error("its {section} is not valid: {source}")]
    Section {
        section: String,
        source: serde_json::Error,
    },
}

/// A run record (or its timeline) that could not be read, by path.
#[derive(Debug, thiserror::Error)]
#[error("could not read run record {}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: RecordError,
}

/// A result file (record, timeline, CSV, report) that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("could not write {what}")]
pub struct WriteError {
    pub what: String,
    #[source]
    pub source: std::io::Error,
}

impl WriteError {
    pub fn new(what: impl Into<String>, source: std::io::Error) -> Self {
        Self {
            what: what.into(),
            source,
        }
    }
}

/// The version of the record format this build writes.
///
/// 2: the cluster's data are the typed fields `cluster`, `cluster_not_watched` and the points'
/// `cluster` (schema 1 had them as untyped `extensions`); its `missed` reasons are typed; the
/// optional `steady_state` (absent in schema-1 records).
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest version this build reads (and upgrades when it loads it).
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

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
    /// Where requests' time went: client-side phases and server timings per endpoint; absent
    /// in records older than these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<PhasesRecord>,
    pub slowest: Vec<SlowestRecord>,
    pub throughput: Throughput,
    /// The run at its full user count, without the ramp-up; absent when it never got there
    /// (or held it under a second), and in records older than these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_state: Option<SteadyState>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    pub timeline: Vec<TimelinePoint>,
    /// What the run saw of the cluster, when it watched one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRecord>,
    /// What the pods logged as errors during the run, read when it saw failures or restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_errors: Option<pod_errors::PodErrors>,
    /// Why the cluster was not watched, when `load` looked for one and found none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_not_watched: Option<NotWatched>,
    /// Open model (`--arrival-rate`): intended and achieved rates, drops, the service time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<ArrivalRecord>,
    /// The requests sent with `traceparent`'s sampled flag, in the order they finished: at most
    /// [`SAMPLED_KEPT`] (the first ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sampled: Vec<SampledRequest>,
    /// A merged run of `load --workers N`: where its workers ran and how each ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<distributed::DistributedRecord>,
    /// One worker's record of a distributed run: the share it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<distributed::WorkerShare>,
    /// What `--export` receivers did not get of the run (absent without receivers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<export::ExportRecord>,
    /// Data added by later versions, keyed by their name (kept, not read).
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
    /// `--stages`: users (or arrivals per second with `arrival_rate`) over time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageRecord>,
    /// `--arrival-rate`: the open model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
    /// `--trace-sample`: the share of requests (0..=1) whose `traceparent` asked the server to
    /// sample them (absent in records made before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_sample: Option<f64>,
}

/// Failures / requests, 0..1 (0 without requests).
pub fn failure_ratio(failures: u64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        failures as f64 / requests as f64
    }
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
    /// Exact (HdrHistogram) percentiles in ms, keyed "50%" .. "100%" in JSON; empty without
    /// requests.
    pub percentiles_ms: BTreeMap<Percentile, f64>,
    /// Response times in microseconds: base64 of the compressed HdrHistogram V2 encoding.
    pub histogram: String,
}

impl EndpointRecord {
    /// The percentile in ms; `None` only when there were no requests.
    pub fn percentile(&self, p: Percentile) -> Option<f64> {
        self.percentiles_ms.get(&p).copied()
    }

    pub fn failure_ratio(&self) -> f64 {
        failure_ratio(self.failures, self.requests)
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

/// A distribution of durations (ms) with its histogram (us).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub count: u64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub histogram: String,
}

/// The model's and the server's time of every response that reported them (its
/// `Server-Timing` header, else `/predict`'s `inference_time` and `total_time`).
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

/// Figures from the moment the last user started until the stop (what Locust shows with
/// `--reset-stats`): the other figures of a record are over the whole run, ramp-up included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteadyState {
    /// Seconds after the start when the last user started.
    pub from_s: f64,
    /// Seconds from then to the stop.
    pub duration_s: f64,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub avg_ms: f64,
    /// None without requests in the window.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The window's response times (us), HdrHistogram V2 base64, so that steady states of
    /// distributed workers merge exactly; absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
    /// The window's exact slowest response, ms; absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
}

impl SteadyState {
    pub fn failure_ratio(&self) -> f64 {
        failure_ratio(self.failures, self.requests)
    }
}

/// Which threshold a run was held to; its name in JSON is the flag's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdKind {
    /// `--max-failure-rate`: failures / requests.
    MaxFailureRate,
    /// `--max-p95`: the aggregate 95th percentile.
    MaxP95,
}

/// What a threshold's limit and actual value are measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdUnit {
    /// A fraction, 0..1.
    Ratio,
    /// Milliseconds.
    Millis,
}

impl ThresholdKind {
    /// The flag without its dashes: `max-p95`.
    pub fn flag(self) -> &'static str {
        match self {
            Self::MaxFailureRate => "max-failure-rate",
            Self::MaxP95 => "max-p95",
        }
    }

    pub fn unit(self) -> ThresholdUnit {
        match self {
            Self::MaxFailureRate => ThresholdUnit::Ratio,
            Self::MaxP95 => ThresholdUnit::Millis,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdResult {
    #[serde(rename = "name")]
    pub kind: ThresholdKind,
    /// In the kind's unit.
    pub limit: f64,
    pub actual: f64,
    pub passed: bool,
}

impl ThresholdResult {
    /// A threshold that passes when `actual <= limit`.
    pub fn at_most(kind: ThresholdKind, limit: f64, actual: f64) -> Self {
        Self {
            kind,
            limit,
            actual,
            passed: actual <= limit,
        }
    }
}

/// One endpoint's requests of one second, for tests of a change per endpoint (`compare`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSecond {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    /// This second's own percentiles (absent without requests).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One second of a run's timeline.
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
    /// The eleven percentiles over the whole run so far, which Locust's `_stats_history.csv`
    /// writes (empty without requests).
    #[serde(default)]
    pub total_percentiles_ms: Vec<f64>,
    pub total_requests: u64,
    pub total_failures: u64,
    pub total_median_ms: f64,
    pub total_avg_ms: f64,
    pub total_min_ms: f64,
    pub total_max_ms: f64,
    pub total_avg_content_size: f64,
    /// The cluster at the end of this second, when the run watched one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSecond>,
    /// Connections opened in this second and how long they took (absent in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<SecondPhases>,
    /// Open model: this second's arrivals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<ArrivalSecond>,
    /// Each endpoint's requests of this second (absent in older records and in runs merged
    /// from several workers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointSecond>,
    /// Data added by later versions for this second (kept, not read).
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

/// Writes `record` to `path` atomically.
pub fn save(record: &RunRecord, path: &Path) -> Result<(), WriteError> {
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, record).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// Reads a record, checking its schema version and upgrading an older one.
pub fn load(path: &Path) -> Result<RunRecord, ReadError> {
    let wrap = |source: RecordError| ReadError {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|e| wrap(e.into()))?;
    parse(&text).map_err(wrap)
}

/// A record from its JSON text, of any supported schema version.
pub fn parse(text: &str) -> Result<RunRecord, RecordError> {
    #[derive(Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let v: Version = serde_json::from_str(text)?;
    if !(OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&v.schema_version) {
        return Err(RecordError::Version {
            found: v.schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    let mut record: RunRecord = serde_json::from_str(text)?;
    if v.schema_version == 1 {
        upgrade_v1(&mut record)?;
    }
    Ok(record)
}

/// Schema 1 -> 2: the cluster's untyped `extensions` become the typed fields. A section that
/// does not decode is an error that names it (it used to vanish).
fn upgrade_v1(record: &mut RunRecord) -> Result<(), RecordError> {
    if let Some(mut value) = record.extensions.remove(cluster::V1_EXTENSION) {
        cluster::upgrade_v1_record(&mut value);
        record.cluster = Some(section("extensions.cluster", value)?);
    }
    if let Some(value) = record.extensions.remove(cluster::V1_MISSED_EXTENSION) {
        record.cluster_not_watched = Some(cluster::upgrade_v1_not_watched(&value));
    }
    for (i, point) in record.timeline.iter_mut().enumerate() {
        upgrade_v1_point(point, || format!("timeline[{i}].extensions.cluster"))?;
    }
    record.schema_version = SCHEMA_VERSION;
    Ok(())
}

fn upgrade_v1_point(
    point: &mut TimelinePoint,
    name: impl FnOnce() -> String,
) -> Result<(), RecordError> {
    if let Some(value) = point.extensions.remove(cluster::V1_EXTENSION) {
        point.cluster = Some(section(&name(), value)?);
    }
    Ok(())
}

fn section<T: serde::de::DeserializeOwned>(
    name: &str,
    value: serde_json::Value,
) -> Result<T, RecordError> {
    serde_json::from_value(value).map_err(|source| RecordError::Section {
        section: name.to_string(),
        source,
    })
}

/// The per-second timeline, appended as one JSON line per second.
pub struct JsonlWriter {
    file: File,
    pub path: PathBuf,
}

impl JsonlWriter {
    pub fn create(path: PathBuf) -> Result<Self, WriteError> {
        let file = File::options()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| WriteError::new(path.display().to_string(), e))?;
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
pub fn load_timeline(path: &Path) -> Result<Vec<TimelinePoint>, ReadError> {
    let wrap = |source: RecordError| ReadError {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|e| wrap(e.into()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let mut point: TimelinePoint = serde_json::from_str(l).map_err(|e| wrap(e.into()))?;
            // Lines of schema 1 carry the cluster in `extensions`.
            upgrade_v1_point(&mut point, || format!("line {}: extensions.cluster", i + 1))
                .map_err(wrap)?;
            Ok(point)
        })
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
        let e = iris_base::chain::one_line(&load(&p).unwrap_err());
        assert!(e.contains("schema version 99"), "{e}");
        std::fs::write(&p, "garbage").unwrap();
        assert!(iris_base::chain::one_line(&load(&p).unwrap_err()).contains("not a run record"));
    }

    fn fixture(name: &str) -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/runs")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn schema_1_records_load_with_their_cluster_typed() {
        let v1 = fixture("300u-cluster.json");
        assert_eq!(v1["schema_version"], 1);
        let r = parse(&v1.to_string()).unwrap();
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        assert!(r.extensions.is_empty(), "{:?}", r.extensions);
        let c = r.cluster.as_ref().unwrap();
        assert_eq!((c.max_pods, c.max_replicas), (6, Some(15)));
        assert_eq!(
            c.missed[0].to_string(),
            "pod metrics from +1 s: metrics.k8s.io answered 503"
        );
        let first = r.timeline[0].cluster.as_ref().unwrap();
        assert_eq!((first.replicas, first.ready_pods), (Some(2), 2));
        assert!(r.timeline[0].extensions.is_empty());
        // Written again, it is a schema-2 record with the same content.
        let again = parse(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(again.cluster, r.cluster);
        assert_eq!(again.timeline, r.timeline);
        assert_eq!(
            r.aggregate.percentile(Percentile::P95),
            v1["aggregate"]["percentiles_ms"]["95%"].as_f64()
        );
    }

    #[test]
    fn schema_1_reason_for_not_watching_is_kept() {
        let mut v1 = fixture("150u.json");
        v1["extensions"] = serde_json::json!({"cluster_missed": "no kubeconfig found"});
        let r = parse(&v1.to_string()).unwrap();
        assert!(r.cluster.is_none());
        assert_eq!(
            r.cluster_not_watched.unwrap().to_string(),
            "no kubeconfig found"
        );
    }

    #[test]
    fn a_bad_cluster_section_is_an_error_naming_the_file_and_the_section() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.json");
        let mut v1 = fixture("300u-cluster.json");
        v1["extensions"]["cluster"]["max_pods"] = serde_json::json!("six");
        std::fs::write(&p, v1.to_string()).unwrap();
        let e = iris_base::chain::one_line(&load(&p).unwrap_err());
        assert!(
            e.contains("broken.json") && e.contains("extensions.cluster") && e.contains("six"),
            "{e}"
        );
        let mut v1 = fixture("300u-cluster.json");
        v1["timeline"][3]["extensions"]["cluster"]["pods"] = serde_json::json!(-1);
        std::fs::write(&p, v1.to_string()).unwrap();
        let e = iris_base::chain::one_line(&load(&p).unwrap_err());
        assert!(e.contains("timeline[3].extensions.cluster"), "{e}");
        // Schema 2: the typed field itself.
        let mut v2 =
            serde_json::to_value(parse(&fixture("300u-cluster.json").to_string()).unwrap())
                .unwrap();
        v2["cluster"]["missed"] = serde_json::json!([{"kind": "no_such_reason"}]);
        std::fs::write(&p, v2.to_string()).unwrap();
        let e = iris_base::chain::one_line(&load(&p).unwrap_err());
        assert!(
            e.contains("broken.json") && e.contains("no_such_reason"),
            "{e}"
        );
    }

    #[test]
    fn schema_1_timelines_load_with_their_cluster_typed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.jsonl");
        let v1 = fixture("300u-cluster.json");
        let lines: Vec<String> = v1["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.to_string())
            .collect();
        std::fs::write(&p, lines.join("\n")).unwrap();
        let points = load_timeline(&p).unwrap();
        assert_eq!(points.len(), lines.len());
        assert!(
            points
                .iter()
                .all(|p| p.cluster.is_some() && p.extensions.is_empty())
        );
    }
}

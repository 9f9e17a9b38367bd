//! Phase 5 from Cloud Trace: the server's spans of a run, typed ([`Trace`], [`Span`]), saved
//! beside the run record ([`file`]), and analysed by pure functions ([`analysis`]): per span name
//! and period of the run, per pod, client minus server for sampled requests, the slowest traces,
//! errors, and bottleneck findings.
//!
//! Nothing here talks to the network: `iris_gcp` fetches, this module decides.

pub mod analysis;
pub mod file;
pub mod periods;
pub mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use analysis::{ClientRequest, RunContext, RunSpans};
pub use periods::{Period, Periods};

/// The label keys that carry a span's HTTP status code, in the two spellings Cloud Trace shows:
/// the exporter's mapping and OpenTelemetry's semantic conventions (new and old).
pub const STATUS_LABELS: [&str; 3] = [
    "/http/status_code",
    "http.response.status_code",
    "http.status_code",
];

/// Label keys that name the pod (or host) that served a span, most specific first.
pub const POD_LABELS: [&str; 5] = [
    "k8s.pod.name",
    "g.co/r/k8s_container/pod_name",
    "g.co/r/k8s_pod/pod_name",
    "host.name",
    "/host/name",
];

/// Label keys whose presence marks a span as failed.
const ERROR_LABELS: [&str; 3] = ["/error/name", "/error/message", "error"];

/// One trace: its W3C id (32 lowercase hex digits) and its spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub trace_id: String,
    pub spans: Vec<Span>,
}

/// One span. Cloud Trace API v1 writes span ids as decimal strings of a 64-bit number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub span_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<u64>,
    pub name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Span {
    pub fn duration_ms(&self) -> f64 {
        self.end.duration_since(self.start).as_secs_f64() * 1000.0
    }

    /// The HTTP status code from either label spelling.
    pub fn status_code(&self) -> Option<u16> {
        STATUS_LABELS
            .iter()
            .find_map(|k| self.labels.get(*k))
            .and_then(|v| v.trim().parse().ok())
    }

    /// A 5xx status, an error label, or an OpenTelemetry status of ERROR.
    pub fn is_error(&self) -> bool {
        self.status_code().is_some_and(|c| c >= 500)
            || ERROR_LABELS.iter().any(|k| {
                self.labels
                    .get(*k)
                    .is_some_and(|v| !v.is_empty() && v != "false")
            })
            || self
                .labels
                .get("otel.status_code")
                .is_some_and(|v| v.eq_ignore_ascii_case("error"))
    }

    /// The pod or host that served this span, when a label names it.
    pub fn pod(&self) -> Option<&str> {
        POD_LABELS
            .iter()
            .find_map(|k| self.labels.get(*k))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl Trace {
    /// The server's root span: the earliest span whose parent is not in this trace (the client's
    /// span that carried `traceparent` is never exported).
    pub fn root(&self) -> Option<&Span> {
        self.spans
            .iter()
            .filter(|s| {
                s.parent_id
                    .is_none_or(|p| !self.spans.iter().any(|o| o.span_id == p))
            })
            .min_by_key(|s| s.start)
    }
}

/// The periods of a run from its cluster data: `None` when it has none or did not scale up.
pub fn record_periods(record: &iris_record::RunRecord) -> Option<Periods> {
    let cluster = record.cluster.as_ref()?;
    let ready: Vec<f64> = cluster
        .pods_started
        .iter()
        .filter_map(|p| p.observed_ready_s)
        .collect();
    Periods::from_scaling(cluster.first_scale_up_s, &ready)
}

/// The requests of a run that asked the server to sample them.
pub fn record_sampled(record: &iris_record::RunRecord) -> Vec<ClientRequest> {
    record
        .sampled
        .iter()
        .map(|s| ClientRequest {
            trace_id: s.trace_id.clone(),
            endpoint: s.endpoint.clone(),
            latency_ms: s.latency_ms,
        })
        .collect()
}

/// The span analysis of one run from its record and its saved traces.
pub fn analyse_run(record: &iris_record::RunRecord, traces: &file::TracesFile) -> RunSpans {
    let sampled = record_sampled(record);
    analysis::analyse(
        &traces.traces,
        &analysis::RunContext {
            started: record.started_at,
            periods: record_periods(record),
            sampled: &sampled,
            project: Some(&traces.project),
            fetched_at: Some(traces.fetched_at),
            reached_max: traces.reached_max,
        },
    )
}

/// Whether `id` is a W3C trace id as `traceparent` carries it: 32 hex digits, not all zero.
pub fn is_trace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0')
}

/// The Cloud Trace console page of one trace.
pub fn console_link(project: &str, trace_id: &str) -> String {
    format!("https://console.cloud.google.com/traces/list?project={project}&tid={trace_id}")
}

/// One run's traces and what they say.
#[derive(Debug, Clone, Serialize)]
pub struct RunTraces {
    pub file: String,
    pub users: u32,
    pub label: String,
    pub saved_to: PathBuf,
    pub project: String,
    pub fetched_at: Timestamp,
    /// This command fetched them now (not read from an earlier fetch).
    pub fetched_now: bool,
    pub max_traces: usize,
    pub reached_max: bool,
    /// The share of the run's requests sent with `traceparent`'s sampled flag (from the
    /// record; None in records made before it was kept).
    pub trace_sample: Option<f64>,
    pub analysis: analysis::RunSpans,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceResult {
    pub runs: Vec<RunTraces>,
    /// Across runs, by users.
    pub findings: Vec<String>,
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn span(id: u64, parent: Option<u64>, name: &str, start_ms: i64, dur_ms: i64) -> Span {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let start = t0 + jiff::SignedDuration::from_millis(start_ms);
        Span {
            span_id: id,
            parent_id: parent,
            name: name.into(),
            start,
            end: start + jiff::SignedDuration::from_millis(dur_ms),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn both_status_label_spellings_are_read() {
        let mut s = span(1, None, "prediction_request", 0, 5);
        s.labels.insert("/http/status_code".into(), "503".into());
        assert_eq!(s.status_code(), Some(503));
        assert!(s.is_error());
        let mut s = span(1, None, "prediction_request", 0, 5);
        s.labels
            .insert("http.response.status_code".into(), "200".into());
        assert_eq!(s.status_code(), Some(200));
        assert!(!s.is_error());
        s.labels.insert("/error/message".into(), "boom".into());
        assert!(s.is_error());
    }

    #[test]
    fn the_root_is_the_span_whose_parent_was_not_exported() {
        let t = Trace {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            spans: vec![
                span(2, Some(1), "model_inference", 3, 2),
                span(1, Some(77), "prediction_request", 0, 10),
            ],
        };
        assert_eq!(t.root().unwrap().name, "prediction_request");
    }

    #[test]
    fn trace_ids_are_32_hex_digits() {
        assert!(is_trace_id("0af7651916cd43dd8448eb211c80319c"));
        assert!(!is_trace_id("0af7651916cd43dd8448eb211c80319"));
        assert!(!is_trace_id("00000000000000000000000000000000"));
        assert!(!is_trace_id("0af7651916cd43dd8448eb211c80319g"));
    }
}

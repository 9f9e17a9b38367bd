//! A run's traces from Cloud Trace, saved beside its record: the window of the run, one set of
//! credentials for all runs (found on first use), and the span analysis a report shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use super::{Credentials, GcpError, ListQuery, TraceApi};
use iris_record::locations::{file_name, traces_beside};
use iris_record::{self as record, ReadError, RunRecord};
use iris_trace::analysis::RunSpans;
use iris_trace::file::{self, TracesFile};

pub const DEFAULT_MAX_TRACES: usize = 10_000;
/// The API's handler spans are the roots of its traces (their parent is the client's span).
pub const DEFAULT_FILTER: &str = "root:prediction_request";

/// How to fetch one run's traces.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchOptions {
    pub refresh: bool,
    pub max_traces: usize,
    pub filter: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            refresh: false,
            max_traces: DEFAULT_MAX_TRACES,
            filter: DEFAULT_FILTER.to_string(),
        }
    }
}

/// The span analysis of the runs a report shows, by record file name, and the runs whose
/// traces could not be fetched (the report goes on without them).
#[derive(Debug, Default)]
pub struct ReportSpans {
    pub spans: BTreeMap<String, RunSpans>,
    pub not_fetched: Vec<(String, GcpError)>,
}

/// The span analysis of each run with saved traces; with a project, runs without saved traces
/// are fetched first (a failed fetch is listed in `not_fetched`).
pub async fn spans_for_report(
    paths: &[PathBuf],
    project: Option<&str>,
) -> Result<ReportSpans, ReadError> {
    let mut fetcher = Fetcher::new(project.map(str::to_string));
    let mut out = ReportSpans::default();
    for path in paths {
        let saved = file::load_beside(path)?;
        let record = record::load(path)?;
        let traces = match (saved, project) {
            (Some(saved), _) => saved,
            (None, Some(_)) => {
                match fetcher
                    .fetch_and_save(path, &record, &FetchOptions::default())
                    .await
                {
                    Ok(t) => t,
                    Err(e) => {
                        out.not_fetched.push((file_name(path), e));
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        out.spans
            .insert(file_name(path), iris_trace::analyse_run(&record, &traces));
    }
    Ok(out)
}

/// Fetches runs' traces with one set of credentials, found on first use.
pub struct Fetcher {
    project: Option<String>,
    api: Option<TraceApi>,
}

impl Fetcher {
    pub fn new(project: Option<String>) -> Fetcher {
        Fetcher { project, api: None }
    }

    /// The traces of the run in `path` (its record read already), saved beside it.
    pub async fn fetch_and_save(
        &mut self,
        path: &Path,
        record: &RunRecord,
        options: &FetchOptions,
    ) -> Result<TracesFile, GcpError> {
        let Some(project) = self.project.clone() else {
            return Err(GcpError::ProjectNotGiven {
                file: file_name(path),
            });
        };
        let api = match self.api.take() {
            Some(api) => api,
            None => TraceApi::new(Credentials::discover().await?)?,
        };
        let api = self.api.insert(api);
        let (window_start, window_end) = window(record);
        let listed = api
            .list(&ListQuery {
                project: &project,
                start: window_start,
                end: window_end,
                filter: &options.filter,
                max_traces: options.max_traces,
            })
            .await?;
        if listed.traces.is_empty() {
            return Err(GcpError::NoTraces {
                project,
                start: window_start,
                end: window_end,
                filter: options.filter.clone(),
            });
        }
        let traces = TracesFile {
            schema_version: file::SCHEMA_VERSION,
            project,
            fetched_at: Timestamp::now(),
            window_start,
            window_end,
            filter: options.filter.clone(),
            max_traces: options.max_traces,
            reached_max: listed.reached_max,
            traces: listed.traces,
        };
        file::save(&traces, &traces_beside(path))?;
        Ok(traces)
    }
}

/// The run's window: its start to its end plus one request timeout (a request sent just before
/// the end is still served after it).
pub fn window(record: &RunRecord) -> (Timestamp, Timestamp) {
    let slack = SignedDuration::try_from_secs_f64(record.params.timeout_s.max(0.0))
        .unwrap_or(SignedDuration::ZERO);
    (
        record.started_at,
        record
            .ended_at
            .saturating_add(slack)
            .unwrap_or(record.ended_at),
    )
}

//! `iris-lab trace`: for each run, the traces of its window from Cloud Trace (saved beside the
//! record, or fetched and saved), analysed. `report` uses [`spans_for_report`] for the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::cli::TraceArgs;
use crate::commands::report::{self, record_paths};
use crate::config::Settings;
use crate::error::Error;
use crate::gcp::{Credentials, GcpError, ListQuery, TraceApi};
use crate::output::{self, Format};
use crate::record::{self, RunRecord};
use crate::trace::analysis::{self, RunContext, RunSpans};
use crate::trace::file::{self, TracesFile};
use crate::trace::{RunTraces, TraceResult};

pub const DEFAULT_MAX_TRACES: usize = 10_000;
/// The API's handler spans are the roots of its traces (their parent is the client's span).
pub const DEFAULT_FILTER: &str = "root:prediction_request";

/// What to fetch and analyse, after flags, config file and defaults.
#[derive(Debug, Clone)]
pub struct TracePlan {
    pub runs: Vec<PathBuf>,
    pub runs_dir: PathBuf,
    pub project: Option<String>,
    pub fetch: FetchOptions,
    pub format: Format,
}

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

pub fn plan(settings: &Settings, args: &TraceArgs) -> TracePlan {
    TracePlan {
        runs: args.runs.clone(),
        runs_dir: report::runs_dir(args.runs_dir.as_ref(), settings),
        project: report::gcp_project(args.gcp_project.as_ref(), settings),
        fetch: FetchOptions {
            refresh: args.refresh,
            max_traces: args
                .max_traces
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(DEFAULT_MAX_TRACES),
            filter: args
                .filter
                .clone()
                .unwrap_or_else(|| DEFAULT_FILTER.to_string()),
        },
        format: settings.format,
    }
}

pub async fn run(plan: &TracePlan) -> Result<TraceResult, Error> {
    let paths = record_paths(&plan.runs, &plan.runs_dir)?;
    let mut fetcher = Fetcher::new(plan.project.clone());
    let mut runs = Vec::with_capacity(paths.len());
    for path in &paths {
        let record = record::load(path)?;
        let (traces, fetched_now) = match file::load_beside(path)? {
            Some(saved) if !plan.fetch.refresh => (saved, false),
            _ => (
                fetcher.fetch_and_save(path, &record, &plan.fetch).await?,
                true,
            ),
        };
        runs.push(RunTraces {
            file: file_name(path),
            users: record.params.users,
            label: label(&record),
            saved_to: file::path_beside(path),
            analysis: analyse(&record, &traces),
            project: traces.project,
            fetched_at: traces.fetched_at,
            fetched_now,
            max_traces: traces.max_traces,
            reached_max: traces.reached_max,
            trace_sample: record.params.trace_sample,
        });
    }
    runs.sort_by_key(|r| r.users);
    let findings = analysis::compare(
        &runs
            .iter()
            .map(|r| (r.label.as_str(), &r.analysis))
            .collect::<Vec<_>>(),
    );
    Ok(TraceResult { runs, findings })
}

/// The span analysis of each run with saved traces, by record file name; with a project, runs
/// without saved traces are fetched first (a failed fetch is a note: the report goes on).
pub async fn spans_for_report(
    paths: &[PathBuf],
    project: Option<&str>,
) -> Result<BTreeMap<String, RunSpans>, Error> {
    let mut fetcher = Fetcher::new(project.map(str::to_string));
    let mut spans = BTreeMap::new();
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
                        output::note(&format!(
                            "note: no span analysis for {}: {}",
                            file_name(path),
                            crate::error::one_line(&e)
                        ));
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        spans.insert(file_name(path), analyse(&record, &traces));
    }
    Ok(spans)
}

fn analyse(record: &RunRecord, traces: &TracesFile) -> RunSpans {
    let sampled = crate::trace::record_sampled(record);
    analysis::analyse(
        &traces.traces,
        &RunContext {
            started: record.started_at,
            periods: crate::trace::record_periods(record),
            sampled: &sampled,
            project: Some(&traces.project),
            fetched_at: Some(traces.fetched_at),
            reached_max: traces.reached_max,
        },
    )
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn label(record: &RunRecord) -> String {
    record
        .label
        .clone()
        .unwrap_or_else(|| format!("{} users", record.params.users))
}

/// Fetches runs' traces with one set of credentials, found on first use.
struct Fetcher {
    project: Option<String>,
    api: Option<TraceApi>,
}

impl Fetcher {
    fn new(project: Option<String>) -> Fetcher {
        Fetcher { project, api: None }
    }

    async fn fetch_and_save(
        &mut self,
        path: &Path,
        record: &RunRecord,
        options: &FetchOptions,
    ) -> Result<TracesFile, Error> {
        let Some(project) = self.project.clone() else {
            return Err(Error::Usage(format!(
                "{} has no saved traces: pass --gcp-project PROJECT (or set GOOGLE_CLOUD_PROJECT) to fetch them from Cloud Trace",
                file_name(path)
            )));
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
            }
            .into());
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
        file::save(&traces, &file::path_beside(path))?;
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

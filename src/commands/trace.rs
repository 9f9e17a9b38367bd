//! `iris-lab trace`: for each run, the traces of its window from Cloud Trace (saved beside the
//! record, or fetched and saved), analysed. `report` uses `gcp::fetch::spans_for_report` for
//! the same.

use std::path::PathBuf;

use crate::cli::TraceArgs;
use crate::config::Settings;
use crate::error::Error;
use crate::gcp::fetch::{DEFAULT_FILTER, DEFAULT_MAX_TRACES, FetchOptions, Fetcher};
use crate::output::Format;
use crate::record::locations::{file_name, traces_beside};
use crate::record::{self, RunRecord, record_paths};
use crate::trace::analysis;
use crate::trace::file;
use crate::trace::{RunTraces, TraceResult, analyse_run};

/// What to fetch and analyse, after flags, config file and defaults.
#[derive(Debug, Clone)]
pub struct TracePlan {
    pub runs: Vec<PathBuf>,
    pub runs_dir: PathBuf,
    pub project: Option<String>,
    pub fetch: FetchOptions,
    pub format: Format,
}

pub fn plan(settings: &Settings, args: &TraceArgs) -> TracePlan {
    TracePlan {
        runs: args.runs.clone(),
        runs_dir: settings.runs_dir(args.runs_dir.as_ref()),
        project: settings.gcp_project(args.gcp_project.as_ref()),
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
            saved_to: traces_beside(path),
            analysis: analyse_run(&record, &traces),
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

fn label(record: &RunRecord) -> String {
    crate::report::from_record::label(record)
}

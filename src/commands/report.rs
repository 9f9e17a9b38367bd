//! `iris-lab report`: run records -> the report, on stdout.

use std::path::PathBuf;

use crate::cli::ReportArgs;
use crate::commands::load::DEFAULT_OUT_DIR;
use crate::config::Settings;
use crate::error::Error;
use crate::output::{self, Format};
use crate::report::{self, ReportOptions, from_record};

/// What to report and how, after flags, config file and defaults.
#[derive(Debug, Clone)]
pub struct ReportPlan {
    pub runs: Vec<PathBuf>,
    pub runs_dir: PathBuf,
    pub template: Option<PathBuf>,
    pub options: ReportOptions,
    pub format: Format,
}

pub fn plan(settings: &Settings, args: &ReportArgs) -> ReportPlan {
    let args = settings.layer(args, |f| &f.report);
    ReportPlan {
        runs: args.runs,
        runs_dir: args
            .runs_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT_DIR)),
        template: args.template,
        options: ReportOptions {
            gcp_project: args.gcp_project,
        },
        format: settings.format,
    }
}

/// Renders the report as text (markdown by default, or JSON of the whole view model).
pub fn run(plan: &ReportPlan) -> Result<String, Error> {
    let paths = if plan.runs.is_empty() {
        let found = from_record::latest_per_user_count(&plan.runs_dir)?;
        if found.is_empty() {
            return Err(Error::NoRuns {
                dir: plan.runs_dir.clone(),
            });
        }
        found
    } else {
        plan.runs.clone()
    };
    let views = from_record::load_views(&paths)?;
    let model = report::build(views, &plan.options);
    match plan.format {
        Format::Json => Ok(output::to_json(&model)),
        Format::Text => {
            let (source, name) = match &plan.template {
                Some(path) => (
                    std::fs::read_to_string(path).map_err(|source| Error::Template {
                        path: path.clone(),
                        source,
                    })?,
                    path.display().to_string(),
                ),
                None => (
                    report::DEFAULT_TEMPLATE.to_string(),
                    "report.md".to_string(),
                ),
            };
            Ok(report::render(&model, &source, &name)?)
        }
    }
}

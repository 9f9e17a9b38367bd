//! `iris-lab report`: run records -> the report, on stdout.

use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use crate::config::Settings;
use crate::delta;
use crate::error::Error;
use crate::gcp::fetch::spans_for_report;
use crate::output::{self, Format, Template};
use crate::record::record_paths;
use crate::report::{self, ReportOptions, from_record};

/// What to report and how, after flags, config file and defaults.
#[derive(Debug, Clone)]
pub struct ReportPlan {
    pub runs: Vec<PathBuf>,
    pub runs_dir: PathBuf,
    pub template: Option<PathBuf>,
    /// Where to write the report; stdout when absent.
    pub out: Option<PathBuf>,
    pub options: ReportOptions,
    pub format: Format,
    /// `--baseline DIR` and the statistics' options of the config file's `compare:` section.
    pub baseline: Option<(PathBuf, delta::Options)>,
}

pub fn plan(settings: &Settings, args: &ReportArgs) -> ReportPlan {
    let args = settings.layer(args, |f| &f.report);
    ReportPlan {
        runs: args.runs,
        runs_dir: settings.runs_dir(args.runs_dir.as_ref()),
        template: args.template,
        out: args.out,
        options: ReportOptions {
            gcp_project: args.gcp_project,
            ..ReportOptions::default()
        },
        format: settings.format,
        baseline: args
            .baseline
            .map(|dir| (dir, settings.file.compare.delta_options())),
    }
}

/// Renders the report as text: markdown (or the user's template), JSON of the whole view
/// model, or one self-contained HTML page.
pub async fn run(plan: &ReportPlan) -> Result<String, Error> {
    let paths = record_paths(&plan.runs, &plan.runs_dir)?;
    let baseline = match &plan.baseline {
        Some((dir, options)) => Some(against_baseline(dir, &paths, options)?),
        None => None,
    };
    let views = from_record::load_views(&paths)?;
    let mut options = plan.options.clone();
    let spans = spans_for_report(&paths, options.gcp_project.as_deref()).await?;
    for (file, e) in &spans.not_fetched {
        output::note(&format!(
            "note: no span analysis for {file}: {}",
            crate::chain::one_line(e)
        ));
    }
    options.spans = spans.spans;
    let model = report::build(views, &options);
    let template = plan.template.as_deref().map(template).transpose()?;
    let text = match baseline {
        Some(delta) => {
            output::render_report_with_baseline(&model, plan.format, template.as_ref(), &delta)?
        }
        None => output::render_report(&model, plan.format, template.as_ref())?,
    };
    Ok(text)
}

/// The report's runs compared with the runs in `dir`, per load profile.
fn against_baseline(
    dir: &Path,
    paths: &[PathBuf],
    options: &delta::Options,
) -> Result<delta::Delta, Error> {
    let base = delta::sides::read(dir).map_err(delta::DeltaError::Unreadable)?;
    let mut problems = Vec::new();
    let mut new = Vec::new();
    for p in paths {
        match delta::sides::read(p) {
            Ok(runs) => new.extend(runs),
            Err(e) => problems.extend(e),
        }
    }
    if !problems.is_empty() {
        return Err(delta::DeltaError::Unreadable(problems).into());
    }
    let mut d = delta::compare_runs(base, new, options, &delta::FailOn::default())?;
    d.base = dir.to_path_buf();
    d.new = "the report's runs".into();
    Ok(d)
}

/// The user's template: its text, named by its path.
fn template(path: &Path) -> Result<Template, Error> {
    let source = std::fs::read_to_string(path).map_err(|source| Error::Template {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Template {
        source,
        name: path.display().to_string(),
    })
}

/// Writes the rendered report to `--out` (atomically, with a note on stderr) or to stdout.
pub fn deliver(plan: &ReportPlan, text: &str) -> Result<(), Error> {
    Ok(output::deliver(plan.out.as_deref(), text)?)
}

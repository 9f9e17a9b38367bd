//! `iris-lab compare BASE NEW`: two sides of run records -> `delta` -> rendered; the gate's
//! breaches on stderr, one line each, and exit 1.

use std::path::PathBuf;

use crate::cli::CompareArgs;
use crate::config::Settings;
use crate::delta::{self, FailOn, Options};
use crate::error::{Error, Outcome};
use crate::output::{self, Format};
use crate::usage::UsageError;
use crate::yaml::ConfigError;

/// What to compare and how, after flags, config file and defaults.
#[derive(Debug, Clone)]
pub struct ComparePlan {
    pub base: PathBuf,
    pub new: PathBuf,
    pub options: Options,
    pub fail_on: FailOn,
    pub format: Format,
}

pub fn plan(settings: &Settings, args: &CompareArgs) -> Result<ComparePlan, Error> {
    let (options, fail_on) = options(settings, args)?;
    let args = settings.layer(args, |f| &f.compare);
    let side = |p: Option<PathBuf>, name: &'static str| {
        p.ok_or(Error::Usage(UsageError::CompareSideMissing(name)))
    };
    Ok(ComparePlan {
        base: side(args.base, "BASE")?,
        new: side(args.new, "NEW")?,
        options,
        fail_on,
        format: settings.format,
    })
}

/// The statistics' options and the gate's rules: flags over the config file's `compare:`
/// section over the defaults (`report --baseline` uses the section alone).
pub fn options(settings: &Settings, flags: &CompareArgs) -> Result<(Options, FailOn), Error> {
    let args = settings.layer(flags, |f| &f.compare);
    let options = args.delta_options();
    let fail_on = match &args.fail_on {
        None => FailOn::default(),
        Some(text) => text.parse().map_err(|message: String| {
            if flags.fail_on.is_some() {
                Error::Usage(UsageError::FailOn(message))
            } else {
                Error::Config(ConfigError::Invalid {
                    path: settings.config_path.clone().unwrap_or_default(),
                    message: format!("compare.fail_on: {message}"),
                })
            }
        })?,
    };
    Ok((options, fail_on))
}

pub fn run(plan: &ComparePlan) -> Result<Outcome, Error> {
    let delta = delta::compare(&plan.base, &plan.new, &plan.options, &plan.fail_on)?;
    let text = output::render_delta(&delta, plan.format, output::Style::for_stdout());
    output::write_stdout(&text)?;
    for b in &delta.breaches {
        output::note(&format!("fail-on: {}", output::render_breach(b)));
    }
    Ok(Outcome::from_passed(delta.breaches.is_empty()))
}

//! `iris-lab predict`: saved runs -> the model -> a prediction, on stdout.

use crate::analysis::autoscaling::predict::{PredictInput, predict};
use crate::analysis::from_record;
use crate::cli::PredictArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::output;
use crate::record::record_paths;

/// How long a predicted load lasts unless `--duration` says.
pub const DEFAULT_DURATION_S: u64 = 600;

pub fn run(settings: &Settings, args: &PredictArgs) -> Result<Outcome, Error> {
    let paths = record_paths(&args.runs, &settings.runs_dir(args.runs_dir.as_ref()))?;
    let views = from_record::load_views(&paths)?;
    let input = PredictInput {
        users: args.users.map(|u| u64::from(u.0)),
        user_class: args.user_class.clone(),
        arrival_rate: args.arrival_rate.map(|r| r.0),
        min_replicas: args.min_replicas.map(i32::from),
        max_replicas: args.max_replicas.map(i32::from),
        target_cpu_pct: args.target_cpu.map(i32::from),
        duration_s: args.duration.map_or(DEFAULT_DURATION_S, |d| d.0.as_secs()),
    };
    let prediction = predict(&views, &input)?;
    output::write_stdout(&output::render_prediction(&prediction, settings.format))?;
    Ok(Outcome::Success)
}

//! `iris-lab load`: flags over the config file's `load:` section over defaults -> the options
//! of one run, then the run pipeline (`crate::pipeline`) with the live display, then the
//! summary.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::LoadArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::loadgen::{ConnectionPolicy, LoadPlan, UserClass};
use crate::output;
use crate::pipeline::{self, LoadOptions};

pub const DEFAULT_SPAWN_RATE: f64 = 10.0;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(300);
pub const DEFAULT_OUT_DIR: &str = "iris-lab-runs";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Share of requests sent with the sampled flag when neither flag nor config says.
pub const DEFAULT_TRACE_SAMPLE: f64 = 0.01;

/// The command: options, the pipeline with the live display on stderr, the summary on stdout.
pub async fn run(settings: &Settings, args: &LoadArgs) -> Result<Outcome, Error> {
    let host = super::require_host(settings).await?;
    let options = options(settings, args, host)?;
    let layered = settings.layer(args, |f| &f.load);
    let mut display = output::LiveDisplay::for_stderr();
    let result = match (layered.workers, layered.local) {
        (None, false) => pipeline::run(options, &mut display).await?,
        (None, true) => {
            return Err(Error::Usage(
                "--local runs --workers as local processes: add --workers N (2 or more)".into(),
            ));
        }
        (Some(n), true) => {
            let workers = pipeline::distributed::check_workers(n.0, options.plan.users)
                .map_err(pipeline::RunError::from)?;
            let exe = std::env::current_exe().map_err(|e| {
                Error::Usage(format!("cannot find this program to start workers: {e}"))
            })?;
            pipeline::distributed::run_local(options, workers, &exe, &mut display).await?
        }
        (Some(_), false) => {
            return Err(Error::Usage(
                "--workers without --local runs a Kubernetes Job, which this build does not \
                 create yet: add --local to run the workers on this machine"
                    .into(),
            ));
        }
    };
    let text = output::render_load(&result, settings.format, output::Style::for_stdout());
    output::write_stdout(&text)?;
    Ok(result.outcome)
}

/// Merges flags over the config file's `load:` section, then resolves the defaults.
pub fn options(
    settings: &Settings,
    args: &LoadArgs,
    host: reqwest::Url,
) -> Result<LoadOptions, Error> {
    let args = settings.layer(args, |f| &f.load);
    let users = args.users.ok_or_else(|| {
        Error::Usage("--users is required: the number of virtual users, e.g. --users 150".into())
    })?;
    let mut class = UserClass::resolve(args.user_class.as_deref(), args.scenario.as_deref())?;
    if let Some(wait) = args.wait {
        class.wait = wait;
    }
    Ok(LoadOptions {
        plan: LoadPlan {
            users: users.0,
            spawn_rate: args.spawn_rate.map_or(DEFAULT_SPAWN_RATE, |r| r.0),
            duration: args.duration.map_or(DEFAULT_DURATION, |d| d.0),
            class,
            timeout: args.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0),
            connection: ConnectionPolicy {
                max_requests: args.connection_max_requests.map(|c| c.0),
                max_age: args.connection_max_age.map(|d| d.0),
            },
            source_ports: None,
            trace_sample: args.trace_sample.map_or(DEFAULT_TRACE_SAMPLE, |s| s.0),
        },
        host,
        insecure: settings.insecure,
        scenario: args.scenario,
        out_dir: args
            .out_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT_DIR)),
        label: args.label,
        csv: args.csv,
        max_failure_rate: args.max_failure_rate.map(|p| p.ratio()),
        max_p95: args.max_p95.map(|m| m.0),
        handle_signals: true,
        cluster: None,
        cluster_missed: None,
        look_for_cluster: (!args.no_cluster)
            .then(|| (settings.cluster.clone(), settings.names.clone())),
    })
}

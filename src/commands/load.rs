//! `iris-lab load`: flags over the config file's `load:` section over defaults -> the options
//! of one run, then the run pipeline (`crate::pipeline`) with the live display, then the
//! summary.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::LoadArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::loadgen::{ConnectionPolicy, LoadPlan, OpenModel, UserClass};
use crate::output;
use crate::pipeline::distributed::kube;
use crate::pipeline::{self, LoadOptions};

use jiff::Timestamp;

pub const DEFAULT_SPAWN_RATE: f64 = 10.0;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(300);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// From creating the worker Job to the common start: scheduling and image pulls.
pub const DEFAULT_WORKER_START_DELAY: Duration = Duration::from_secs(60);
/// Share of requests sent with the sampled flag when neither flag nor config says.
pub const DEFAULT_TRACE_SAMPLE: f64 = 0.01;
/// Requests in flight at most in the open model when neither flag nor config says.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 500;

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
        (Some(n), false) => {
            let workers = u32::try_from(n.0).unwrap_or(u32::MAX);
            match on_kubernetes(settings, &layered, options, workers, &mut display).await? {
                Some(result) => result,
                None => return Ok(Outcome::Success),
            }
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
    let (mut class, scenario_stages) =
        UserClass::resolve_with_stages(args.user_class.as_deref(), args.scenario.as_deref())?;
    if let Some(wait) = args.wait {
        class.wait = wait;
    }
    let stages = args.stages.clone().or(scenario_stages);
    let open = open_model(&args)?;
    let users = match (&open, &stages) {
        (Some(open), _) => open.max_in_flight,
        (None, Some(stages)) => (stages.peak().ceil() as u32).max(1),
        (None, None) => {
            args.users
                .ok_or_else(|| {
                    Error::Usage(
                        "--users is required: the number of virtual users, e.g. --users 150 \
                         (or --stages, or --arrival-rate)"
                            .into(),
                    )
                })?
                .0
        }
    };
    let duration = match &stages {
        Some(stages) => stages.total(),
        None => args.duration.map_or(DEFAULT_DURATION, |d| d.0),
    };
    Ok(LoadOptions {
        plan: LoadPlan {
            users,
            spawn_rate: args.spawn_rate.map_or(DEFAULT_SPAWN_RATE, |r| r.0),
            duration,
            class,
            timeout: args.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0),
            connection: ConnectionPolicy {
                max_requests: args.connection_max_requests.map(|c| c.0),
                max_age: args.connection_max_age.map(|d| d.0),
            },
            source_ports: None,
            trace_sample: args.trace_sample.map_or(DEFAULT_TRACE_SAMPLE, |s| s.0),
            stages,
            open,
        },
        host,
        insecure: settings.insecure,
        scenario: args.scenario,
        out_dir: args
            .out_dir
            .unwrap_or_else(|| PathBuf::from(crate::record::DEFAULT_OUT_DIR)),
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

/// Worker pods: `--dry-run` prints the Job and the Role and stops (None); otherwise RBAC is
/// checked, the user asked (or `--yes`), and the Job run.
async fn on_kubernetes(
    settings: &Settings,
    args: &LoadArgs,
    options: LoadOptions,
    workers: u32,
    display: &mut output::LiveDisplay,
) -> Result<Option<pipeline::LoadResult>, Error> {
    let pods = pod_settings(args)?;
    if args.dry_run {
        let namespace = settings
            .cluster
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let plan = kube::plan(&options, workers, &pods, &namespace, Timestamp::now())
            .map_err(pipeline::RunError::from)?;
        let yaml = [
            crate::yaml::to_yaml(&plan.job)?,
            crate::yaml::to_yaml(&crate::cluster::jobs::controller_role(&namespace))?,
        ]
        .join("---\n");
        output::write_stdout(&yaml)?;
        return Ok(None);
    }
    let cluster = crate::cluster::connect(&settings.cluster, &settings.names).await?;
    let plan = kube::plan(
        &options,
        workers,
        &pods,
        &cluster.namespace,
        Timestamp::now(),
    )
    .map_err(pipeline::RunError::from)?;
    cluster.require_worker_access().await?;
    if !args.yes {
        confirm_job(&plan, &pods.image, &options)?;
    }
    let result = kube::run_kubernetes(options, plan, cluster, display).await?;
    Ok(Some(result))
}

/// The worker pods' settings from the flags.
fn pod_settings(args: &LoadArgs) -> Result<kube::PodSettings, Error> {
    let image = args.image.clone().ok_or_else(|| {
        Error::Usage(
            "--workers without --local runs worker pods: --image IMAGE names the iris-lab image \
             they run (build it from the Dockerfile), or add --local"
                .into(),
        )
    })?;
    let node_selector = match &args.worker_node_selector {
        Some(text) => parse_labels(text)?,
        None => Default::default(),
    };
    Ok(kube::PodSettings {
        image,
        cpu: args.worker_cpu.clone(),
        memory: args.worker_memory.clone(),
        node_selector,
        start_delay: args
            .worker_start_delay
            .map_or(DEFAULT_WORKER_START_DELAY, |d| d.0),
    })
}

/// `KEY=VALUE[,KEY=VALUE...]`.
fn parse_labels(text: &str) -> Result<std::collections::BTreeMap<String, String>, Error> {
    text.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|term| match term.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(Error::Usage(format!(
                "--worker-node-selector: {term:?} is not KEY=VALUE, e.g. pool=load"
            ))),
        })
        .collect()
}

fn confirm_job(plan: &kube::KubePlan, image: &str, options: &LoadOptions) -> Result<(), Error> {
    let question = format!(
        "Create job/{} in namespace {}: {} pods of {image}, {} users in all against {}?",
        plan.job_name(),
        plan.namespace,
        plan.workers,
        options.plan.users,
        options.host
    );
    super::confirm(&question, "create the worker Job", "nothing created")
}

/// The open model's settings, when `--arrival-rate` asks for it.
fn open_model(args: &LoadArgs) -> Result<Option<OpenModel>, Error> {
    let Some(rate) = args.arrival_rate else {
        if args.max_in_flight.is_some() || args.queue {
            return Err(Error::Usage(
                "--max-in-flight and --queue apply to the open model only: add --arrival-rate R"
                    .into(),
            ));
        }
        return Ok(None);
    };
    let max_in_flight = match args.max_in_flight {
        Some(n) => u32::try_from(n.0).map_err(|_| {
            Error::Usage(format!(
                "--max-in-flight {}: at most {} requests can be in flight",
                n.0,
                u32::MAX
            ))
        })?,
        None => DEFAULT_MAX_IN_FLIGHT,
    };
    Ok(Some(OpenModel {
        rate: rate.0,
        max_in_flight,
        queue: args.queue,
        stripe: Default::default(),
    }))
}

//! `iris-lab load`: flags over the config file's `load:` section -> ONE settled plan
//! ([`plan`], through `RunPlan::builder`), the host beside it, then the run (one process, local
//! workers or a Kubernetes Job) with the live display, then the summary.

use crate::cli::LoadArgs;
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::loadgen::{ConnectionPolicy, UserClass};
use crate::output;
use crate::pipeline::distributed::kube;
use crate::pipeline::plan::{DEFAULT_WORKER_START_DELAY, PlanBuilder};
use crate::pipeline::{self, PodSettings, RunError, RunMode, RunPlan, RunSite};
use crate::usage::UsageError;

use jiff::Timestamp;

/// The command: the plan, the host, then the run with the live display on stderr, the summary
/// on stdout.
pub async fn run(settings: &Settings, args: &LoadArgs) -> Result<Outcome, Error> {
    let host = super::require_host(settings).await?;
    let args = settings.layer(args, |f| &f.load);
    let plan = plan(settings, &args)?;
    let site = RunSite {
        host,
        cluster: Some((settings.cluster.clone(), settings.names.clone())),
        signals: true,
    };
    let mut display = output::LiveDisplay::for_stderr();
    let result = match &plan.mode {
        RunMode::OneProcess => pipeline::run(&plan, &site, &mut display).await?,
        RunMode::LocalWorkers { .. } => {
            let exe = std::env::current_exe().map_err(|e| UsageError::NoProgram(e.to_string()))?;
            pipeline::distributed::run_local(&plan, &site, &exe, &mut display).await?
        }
        RunMode::Kubernetes { pods, .. } => {
            let kube = Kube {
                settings,
                args: &args,
                image: &pods.image,
            };
            match kube.run(&plan, &site, &mut display).await? {
                Some(result) => result,
                None => return Ok(Outcome::Success),
            }
        }
    };
    let text = output::render_load(&result, settings.format, output::Style::for_stdout());
    output::write_stdout(&text)?;
    Ok(result.outcome)
}

/// The one place where `load`'s flags, already layered over the config file's `load:`
/// section ([`Settings::layer`]), become the run's settled plan.
pub fn plan(settings: &Settings, args: &LoadArgs) -> Result<RunPlan, Error> {
    let (class, scenario_stages) =
        UserClass::resolve_with_stages(args.user_class.as_deref(), args.scenario.as_deref())?;
    let b = RunPlan::builder(class)
        .connection(ConnectionPolicy {
            max_requests: args.connection_max_requests.map(|c| c.0),
            max_age: args.connection_max_age.map(|d| d.0),
        })
        .queue(args.queue)
        .insecure(settings.insecure)
        .watch_cluster(!args.no_cluster)
        .mode(mode(args)?);
    let b = set(b, args.users.map(|u| u.0), PlanBuilder::users);
    let b = set(b, args.spawn_rate.map(|r| r.0), PlanBuilder::spawn_rate);
    let b = set(b, args.duration.map(|d| d.0), PlanBuilder::duration);
    let b = set(b, args.wait, PlanBuilder::wait);
    let b = set(b, args.timeout.map(|d| d.0), PlanBuilder::timeout);
    let b = set(b, args.trace_sample.map(|s| s.0), PlanBuilder::trace_sample);
    let b = set(
        b,
        args.stages.clone().or(scenario_stages),
        PlanBuilder::stages,
    );
    let b = set(b, args.arrival_rate.map(|r| r.0), PlanBuilder::arrival_rate);
    let b = set(
        b,
        args.max_in_flight.map(|n| n.0),
        PlanBuilder::max_in_flight,
    );
    let b = set(b, args.scenario.clone(), PlanBuilder::scenario);
    let b = set(b, args.out_dir.clone(), PlanBuilder::out_dir);
    let b = set(b, args.label.clone(), PlanBuilder::label);
    let b = set(b, args.csv.clone(), PlanBuilder::csv);
    let b = set(
        b,
        args.max_failure_rate.map(|p| p.ratio()),
        PlanBuilder::max_failure_rate,
    );
    let b = set(b, args.max_p95.map(|m| m.0), PlanBuilder::max_p95);
    Ok(b.build().map_err(RunError::from)?)
}

/// A flag that was given goes to the builder; one that was not leaves its default.
fn set<T>(
    b: PlanBuilder,
    value: Option<T>,
    setter: fn(PlanBuilder, T) -> PlanBuilder,
) -> PlanBuilder {
    match value {
        Some(v) => setter(b, v),
        None => b,
    }
}

/// How the run runs, from `--workers`, `--local` and the pods' flags.
fn mode(args: &LoadArgs) -> Result<RunMode, Error> {
    let workers = |n: crate::units::Count| u32::try_from(n.0).unwrap_or(u32::MAX);
    match (args.workers, args.local) {
        (None, false) => Ok(RunMode::OneProcess),
        (None, true) => Err(UsageError::LocalWithoutWorkers.into()),
        (Some(n), true) => Ok(RunMode::LocalWorkers {
            workers: workers(n),
        }),
        (Some(n), false) => Ok(RunMode::Kubernetes {
            workers: workers(n),
            pods: pod_settings(args)?,
        }),
    }
}

/// The Kubernetes side of the command: `--dry-run`, RBAC, asking, then the Job.
struct Kube<'a> {
    settings: &'a Settings,
    args: &'a LoadArgs,
    image: &'a str,
}

impl Kube<'_> {
    /// `--dry-run` prints the Job and the Role and stops (None); otherwise RBAC is checked,
    /// the user asked (or `--yes`), and the Job run.
    async fn run(
        &self,
        plan: &RunPlan,
        site: &RunSite,
        display: &mut output::LiveDisplay,
    ) -> Result<Option<pipeline::LoadResult>, Error> {
        let settings = self.settings;
        if self.args.dry_run {
            let namespace = settings
                .cluster
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let job = kube::plan(plan, &site.host, &namespace, Timestamp::now())
                .map_err(RunError::from)?;
            let yaml = [
                crate::yaml::to_yaml(&job.job)?,
                crate::yaml::to_yaml(&crate::cluster::jobs::controller_role(&namespace))?,
            ]
            .join("---\n");
            output::write_stdout(&yaml)?;
            return Ok(None);
        }
        let cluster = crate::cluster::connect(&settings.cluster, &settings.names).await?;
        let job = kube::plan(plan, &site.host, &cluster.namespace, Timestamp::now())
            .map_err(RunError::from)?;
        cluster.require_worker_access().await?;
        if !self.args.yes {
            confirm_job(&job, self.image, plan, &site.host)?;
        }
        let result = kube::run_kubernetes(plan, site, job, cluster, display).await?;
        Ok(Some(result))
    }
}

/// The worker pods' settings from the flags.
fn pod_settings(args: &LoadArgs) -> Result<PodSettings, Error> {
    let image = args.image.clone().ok_or(UsageError::NoImage)?;
    let node_selector = match &args.worker_node_selector {
        Some(text) => parse_labels(text)?,
        None => Default::default(),
    };
    Ok(PodSettings {
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
            _ => Err(UsageError::NodeSelector(term.to_string()).into()),
        })
        .collect()
}

fn confirm_job(
    job: &kube::KubePlan,
    image: &str,
    plan: &RunPlan,
    host: &reqwest::Url,
) -> Result<(), Error> {
    let question = format!(
        "Create job/{} in namespace {}: {} pods of {image}, {} users in all against {host}?",
        job.job_name(),
        job.namespace,
        job.workers,
        plan.load.users,
    );
    super::confirm(&question, "create the worker Job", "nothing created")
}

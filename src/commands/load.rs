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
use crate::web;

mod export;

use jiff::Timestamp;

/// The command: the plan, the host, then the run with the live display on stderr, the summary
/// on stdout.
pub async fn run(settings: &Settings, args: &LoadArgs) -> Result<Outcome, Error> {
    let host = super::require_host(settings).await?;
    let args = settings.layer(args, |f| &f.load);
    let plan = plan(settings, &args)?;
    let site = RunSite {
        cluster: Some((settings.cluster.clone(), settings.names.clone())),
        top_every: match args.top_interval {
            Some(every) if every.0.is_zero() => None,
            Some(every) => Some(every.0),
            None => Some(pipeline::CLUSTER_TOP_EVERY),
        },
        ..RunSite::new(host)
    };
    let mut display = output::LiveDisplay::for_stderr();
    let (page, mut web_monitor, mut control) = match args.web {
        Some(addr) => {
            let (page, monitor, control) = attach_page(addr, &args, &plan, &site).await?;
            (Some(page), Some(monitor), control)
        }
        None => (None, None, pipeline::RunControl::default()),
    };
    let one_closed = matches!(plan.mode, RunMode::OneProcess) && plan.load.open.is_none();
    let keys = one_closed
        .then(crate::keys::UserKeys::start)
        .flatten()
        .map(|keys| {
            let hub = page.as_ref().map(|p| p.hub.clone());
            users_keys(keys, hub, &plan, &mut control)
        });
    let board = page.as_ref().map(|p| p.hub.board.clone());
    let (mut exporter, metrics_server) = export::start(&args, &plan, &site, board).await?;
    let mut tee;
    let display: &mut (dyn pipeline::Monitor + Send) = match web_monitor.as_mut() {
        Some(second) => {
            tee = web::Tee {
                first: &mut display,
                second,
            };
            &mut tee
        }
        None => &mut display,
    };
    let mut with_export;
    let display: &mut (dyn pipeline::Monitor + Send) = if exporter.is_needed() {
        with_export = web::Tee {
            first: display,
            second: &mut exporter,
        };
        &mut with_export
    } else {
        display
    };
    let mut result = run_mode(settings, &args, &plan, &site, control, display).await;
    export::finish(exporter, metrics_server, &mut result).await;
    if let Some(keys) = keys {
        // Dropping the reader puts the terminal back as it was.
        keys.abort();
        let _ = keys.await;
    }
    if let Some(page) = &page {
        match &result {
            Ok(Some(result)) => page.finished(result),
            Ok(None) => {}
            Err(e) => page.failed(crate::error::one_line(e)),
        }
    }
    let Some(result) = result? else {
        return Ok(Outcome::Success);
    };
    let text = output::render_load(&result, settings.format, output::Style::for_stdout());
    output::write_stdout(&text)?;
    Ok(answered_or_failed(&result))
}

/// A run in which no request got an answer fails, saying why in one line (after the summary,
/// which shows the record); an interrupted run keeps its own exit.
fn answered_or_failed(result: &pipeline::LoadResult) -> Outcome {
    use crate::record::answered;
    let record = &result.record;
    let failed = answered::asked_in_vain(record, result.abandoned);
    match answered::no_answer(record) {
        Some(why) if failed && result.outcome != Outcome::Interrupted => {
            output::note(&format!(
                "error: {}",
                answered::no_answer_line(&result.record, why)
            ));
            Outcome::Failed
        }
        _ => result.outcome,
    }
}

/// The run in its mode: one process, local workers or worker pods (None: a dry run).
async fn run_mode(
    settings: &Settings,
    args: &LoadArgs,
    plan: &RunPlan,
    site: &RunSite,
    control: pipeline::RunControl,
    display: &mut (dyn pipeline::Monitor + Send),
) -> Result<Option<pipeline::LoadResult>, Error> {
    let result = match &plan.mode {
        RunMode::OneProcess => pipeline::run_controlled(plan, site, display, control).await?,
        RunMode::LocalWorkers { .. } => {
            let exe = std::env::current_exe().map_err(|e| UsageError::NoProgram(e.to_string()))?;
            pipeline::distributed::run_local(plan, site, &exe, display).await?
        }
        RunMode::Kubernetes { pods, .. } => {
            let kube = Kube {
                settings,
                args,
                image: &pods.image,
            };
            match kube.run(plan, site, display).await? {
                Some(result) => result,
                None => return Ok(None),
            }
        }
    };
    Ok(Some(result))
}

/// Locust's w/W/s/S in the terminal: through the page's hub when there is one (so the page
/// follows), else through a channel of the run's own.
fn users_keys(
    mut keys: crate::keys::UserKeys,
    hub: Option<std::sync::Arc<web::Hub>>,
    plan: &RunPlan,
    control: &mut pipeline::RunControl,
) -> tokio::task::JoinHandle<()> {
    let own = hub.is_none().then(|| {
        let first = crate::loadgen::Swarm {
            users: plan.load.users,
            spawn_rate: plan.load.spawn_rate,
        };
        let (tx, rx) = tokio::sync::watch::channel(first);
        control.swarm = Some(rx);
        tx
    });
    output::note("keys: w/W add 1/10 users, s/S remove 1/10");
    tokio::spawn(async move {
        while let Some(delta) = keys.next().await {
            match (&hub, &own) {
                (Some(hub), _) => hub.nudge(delta),
                (None, Some(tx)) => {
                    let next = web::nudged(*tx.borrow(), delta);
                    tx.send_replace(next);
                }
                (None, None) => {}
            }
        }
    })
}

/// `--web`: the run's page beside the terminal.
async fn attach_page(
    addr: std::net::SocketAddr,
    args: &LoadArgs,
    plan: &RunPlan,
    site: &RunSite,
) -> Result<(web::AttachedPage, web::WebMonitor, pipeline::RunControl), Error> {
    let (guard, generated) = web::Guard::for_addr(addr, args.web_token.clone());
    web::AttachedPage::start(addr, guard, generated, plan, site)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })
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
        display: &mut (dyn pipeline::Monitor + Send),
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

//! One pipeline for a load run, owned by this room; `commands::load` only wires it.
//!
//! ```text
//! RunPlan (plan.rs: settled once, immutable) + RunSite (host, where the cluster is) ->
//! prepare (capacity, preflight, cluster) ->
//! engine (loadgen users) -> channel of events -> stats::Collector -> one TimelinePoint a second
//!     -> sinks: timeline file (.jsonl), cluster side, live display (Monitor)
//! end -> RunRecord (assemble) -> sinks: record file, CSV; the summary is `output`'s.
//! ```
//!
//! It never prints: what people should hear goes to the [`Monitor`] as a [`RunNote`].

mod assemble;
pub mod cluster;
pub mod distributed;
mod measure;
pub mod plan;
pub mod pod_logs;
pub mod prepare;

use std::path::PathBuf;

use jiff::Timestamp;

use iris_base::outcome::Outcome;
use iris_cluster::Cluster;
use iris_loadgen::LoadgenError;
use iris_record::cluster::{ClusterSecond, NotWatched};
use iris_record::{self as record, JsonlWriter, RunRecord, RunStatus, TimelinePoint, WriteError};
use iris_stats::{self as stats, Snapshot};

pub use cluster::{CLUSTER_CONNECT_TIMEOUT, CLUSTER_TOP_EVERY, cluster_for_load};
pub use plan::{PlanError, PodSettings, RunMode, RunPlan, RunSite};
pub use prepare::{CapacityError, capacity_problem, own_source_ports};

/// What the live display is told while the run goes on.
pub trait Monitor {
    fn update(&mut self, snapshot: &Snapshot);
    /// The first Ctrl-C / SIGTERM arrived.
    fn interrupted(&mut self);
    fn finish(&mut self);
    /// The cluster at the end of a second, when it is watched.
    fn cluster(&mut self, _now: &ClusterSecond) {}
    /// Something the cluster's watch saw (a pod's row, an HPA change, a Kubernetes Event).
    fn cluster_event(&mut self, _event: &iris_cluster::watch::ClusterEvent) {}
    /// Something people should hear about the run, beside the status.
    fn note(&mut self, _note: &RunNote) {}
    /// A second closed (also the last, partial one): a distributed worker sends it on.
    fn second_closed(&mut self, _point: &TimelinePoint, _collector: &stats::Collector) {}
    /// A merged second of a distributed run (no collector: the workers have them).
    fn merged_second(&mut self, _point: &TimelinePoint) {}
    /// Worker `index` of a distributed run sent its second `point` (its own figures).
    fn worker_second(&mut self, _index: u32, _point: &TimelinePoint) {}
    /// Worker `index` ended; `lost` says why its record is missing, if it is.
    fn worker_ended(&mut self, _index: u32, _lost: Option<&str>) {}
}

/// What the pipeline has to say besides numbers; `output` words it.
#[derive(Debug, Clone)]
pub enum RunNote {
    /// The cluster is watched during the run.
    ClusterWatched(Box<Cluster>),
    /// The cluster was looked for and is not watched, and why.
    ClusterNotWatched { reason: NotWatched },
    /// The per-second timeline could not be appended; the record is complete anyway.
    TimelineFailed { path: PathBuf, error: String },
    /// The open model's settings, said at the start.
    Arrivals {
        rate: f64,
        max_in_flight: u32,
        queue: bool,
        stages: bool,
    },
    /// A second Ctrl-C: the run ends now, without a record.
    InterruptedAgain { timeline: PathBuf },
    /// What the controller of a distributed run has to say about its workers.
    Workers(distributed::WorkerNote),
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The users do not fit on this machine (open files, source ports): exit 2.
    #[error(transparent)]
    Capacity(#[from] CapacityError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Loadgen(#[from] LoadgenError),
    #[error("cannot reach {host}: {failure}{hint}", hint = unreachable_hint(failure))]
    Unreachable {
        host: String,
        failure: iris_api::Failure,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("the load engine stopped unexpectedly")]
    Engine(#[source] tokio::task::JoinError),
    /// A second Ctrl-C / SIGTERM: exit 130 at once; the `.jsonl` has what was measured.
    #[error("interrupted again: exiting now")]
    InterruptedAgain,
    #[error(transparent)]
    Distributed(#[from] distributed::DistributedError),
}

impl RunError {
    pub fn outcome_code(&self) -> Option<u8> {
        match self {
            RunError::Capacity(_) | RunError::Plan(_) => Some(iris_base::outcome::exit::USAGE),
            RunError::Loadgen(e) if e.is_usage() => Some(iris_base::outcome::exit::USAGE),
            RunError::InterruptedAgain => Some(iris_base::outcome::exit::INTERRUPTED),
            RunError::Distributed(e) if e.is_usage() => Some(iris_base::outcome::exit::USAGE),
            _ => None,
        }
    }
}

fn unreachable_hint(failure: &iris_api::Failure) -> &'static str {
    match failure {
        iris_api::Failure::Tls => {
            " (the certificate was not accepted; use --insecure only for a test endpoint you trust)"
        }
        _ => " (is the API up and the address right?)",
    }
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub record: RunRecord,
    pub record_path: PathBuf,
    pub jsonl_path: PathBuf,
    pub csv_paths: Option<[PathBuf; 4]>,
    /// Users still busy 5 s after the stop, whose requests were abandoned.
    pub abandoned: usize,
    pub outcome: Outcome,
}

/// How a run can be steered while it goes: stopped (as a first Ctrl-C stops it) and, in the
/// closed model, given a new users' target (the web page, Locust's swarm).
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    pub stop: tokio_util::sync::CancellationToken,
    pub swarm: Option<iris_loadgen::SwarmControl>,
}

/// Runs the load test in this process to its end (or to Ctrl-C) and saves everything it
/// measured. The plan's mode is the caller's: this runs every user here.
pub async fn run(
    plan: &RunPlan,
    site: &RunSite,
    monitor: &mut (dyn Monitor + Send),
) -> Result<LoadResult, RunError> {
    run_controlled(plan, site, monitor, RunControl::default()).await
}

/// [`run`], steered by `control` too.
pub async fn run_controlled(
    plan: &RunPlan,
    site: &RunSite,
    monitor: &mut (dyn Monitor + Send),
    control: RunControl,
) -> Result<LoadResult, RunError> {
    let load = &plan.load;
    let target = prepare::target(load, &site.host, plan.insecure).await?;
    if let Some(open) = &load.open {
        monitor.note(&RunNote::Arrivals {
            rate: open.rate,
            max_in_flight: open.max_in_flight,
            queue: open.queue,
            stages: load.stages.is_some(),
        });
    }
    let (cluster, cluster_missed) = find_cluster(plan, site, monitor).await;
    std::fs::create_dir_all(&plan.out_dir)
        .map_err(|e| WriteError::new(plan.out_dir.display().to_string(), e))?;
    let started_utc = Timestamp::now();
    let record_path =
        record::new_record_path(&plan.out_dir, started_utc, load.users, &load.class.name);
    let mut timeline = JsonlWriter::create(record_path.with_extension("jsonl"))?;
    let mut cluster_side = cluster
        .as_ref()
        .map(|c| cluster::ClusterSide::start(c, started_utc, site.top_every));
    let mut sinks = measure::SecondSinks {
        timeline: &mut timeline,
        cluster: cluster_side.as_mut(),
        monitor,
        timeline_error: None,
    };
    let measured =
        measure::measure_until(load, site.signals, target, started_utc, &mut sinks, control)
            .await?;
    if let Some(e) = sinks.timeline_error.take() {
        sinks.monitor.note(&RunNote::TimelineFailed {
            path: sinks.timeline.path.clone(),
            error: e.to_string(),
        });
    }
    let mut record = assemble::build(
        plan,
        &site.host,
        &measured.collector,
        measured.end,
        started_utc,
    );
    record.cluster_not_watched = cluster_missed;
    if let Some(side) = cluster_side {
        side.attach(&mut record).await;
    }
    // Not after Ctrl-C: an interrupted run saves what it has at once.
    if let (Some(cluster), false) = (&cluster, measured.end.interrupted) {
        record.pod_errors = pod_logs::read(cluster, &record).await;
    }
    save(
        record,
        record_path,
        timeline.path.clone(),
        plan,
        measured.end.abandoned,
    )
}

/// Looks for the cluster once the target answered, when the plan watches it and the site
/// says where it is, and says what it found: the cluster, or why it is not watched.
async fn find_cluster(
    plan: &RunPlan,
    site: &RunSite,
    monitor: &mut (dyn Monitor + Send),
) -> (Option<Cluster>, Option<NotWatched>) {
    let Some((cluster_options, names)) = site.cluster.as_ref().filter(|_| plan.watch_cluster)
    else {
        return (None, None);
    };
    match cluster_for_load(cluster_options, names).await {
        Ok(cluster) => {
            monitor.note(&RunNote::ClusterWatched(Box::new(cluster.clone())));
            (Some(cluster), None)
        }
        Err(reason) => {
            monitor.note(&RunNote::ClusterNotWatched {
                reason: reason.clone(),
            });
            (None, Some(reason))
        }
    }
}

/// The record's sinks: the record file, then the CSV files when asked for.
fn save(
    record: RunRecord,
    record_path: PathBuf,
    jsonl_path: PathBuf,
    plan: &RunPlan,
    abandoned: usize,
) -> Result<LoadResult, RunError> {
    record::save(&record, &record_path)?;
    let csv_paths = match &plan.csv {
        Some(prefix) => Some(stats::csv::write(&record, prefix)?),
        None => None,
    };
    let outcome = if record.status == RunStatus::Interrupted {
        Outcome::Interrupted
    } else {
        Outcome::from_passed(record.thresholds.iter().all(|t| t.passed))
    };
    Ok(LoadResult {
        record,
        record_path,
        jsonl_path,
        csv_paths,
        abandoned,
        outcome,
    })
}

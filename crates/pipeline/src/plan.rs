//! The settled plan of one load run: every option resolved once, immutable, serializable.
//!
//! ```text
//! flags + iris-lab.yaml `load:` -> commands::load::plan -> RunPlan::builder(..)..build() -> RunPlan
//! web page, simulated cluster, demo, tests              -> RunPlan::builder(..)..build() -> RunPlan
//! RunPlan + RunSite (what was found at run time: host, where a cluster is, signals)
//!     -> pipeline::run | distributed::run_local | distributed::kube::run_kubernetes
//! RunPlan -> JSON -> each worker (distributed::worker::WorkerOrder)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use iris_base::units::{Stages, Wait};
use iris_cluster::{ClusterOptions, TargetNames};
use iris_loadgen::{ConnectionPolicy, LoadPlan, OpenModel, UserClass};
use iris_record::DEFAULT_OUT_DIR;

/// Users started per second when nothing says.
pub const DEFAULT_SPAWN_RATE: f64 = 10.0;
/// A run's length when nothing says (and no stages).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(300);
/// Time limit of each request when nothing says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// From creating the worker Job to the common start: scheduling and image pulls.
pub const DEFAULT_WORKER_START_DELAY: Duration = Duration::from_secs(60);
/// Share of requests sent with the sampled flag when neither flag nor config says.
pub const DEFAULT_TRACE_SAMPLE: f64 = 0.01;
/// Requests in flight at most in the open model when neither flag nor config says.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 500;

/// One load run, settled: what the engine runs, where its results go, what judges it, and
/// how it runs ([`RunMode`]). Nothing in it changes while the run goes on; what is found out
/// at run time is a [`RunSite`], passed beside it.
///
/// Build one with [`RunPlan::builder`] from typed values (the same rules as `iris-lab load`'s
/// flags, which go through the same builder):
///
/// ```
/// use std::time::Duration;
/// use iris_loadgen::UserClass;
/// use iris_pipeline::plan::{RunMode, RunPlan};
///
/// let plan = RunPlan::builder(UserClass::builtin("HighLoadUser").unwrap())
///     .users(300)
///     .spawn_rate(30.0)
///     .duration(Duration::from_secs(60))
///     .out_dir("runs")
///     .label("from the web page")
///     .max_p95(Duration::from_millis(500))
///     .mode(RunMode::LocalWorkers { workers: 2 })
///     .build()
///     .unwrap();
/// assert_eq!(plan.load.users, 300);
/// // It travels as JSON (to the workers of a distributed run) and reads back the same.
/// let json = serde_json::to_string(&plan).unwrap();
/// assert_eq!(serde_json::from_str::<RunPlan>(&json).unwrap(), plan);
/// ```
///
/// Then run it with a [`RunSite`]: `pipeline::run(&plan, &site, &mut monitor)` for
/// [`RunMode::OneProcess`], `pipeline::distributed::run_local` for local workers.
/// A scenario's class is in `load.class` (serialized as the scenario file's own entry), its
/// stages in `load.stages`: a worker needs no file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    /// What the engine runs: users or arrivals, the class, the shape, time limits.
    pub load: LoadPlan,
    /// The scenario file the class came from, named in the record (its content is in
    /// `load.class`).
    pub scenario: Option<PathBuf>,
    /// Directory of the run records.
    pub out_dir: PathBuf,
    /// Free text saved with the run.
    pub label: Option<String>,
    /// Also write Locust's CSV files with this prefix.
    pub csv: Option<PathBuf>,
    pub thresholds: Thresholds,
    /// Skip TLS verification.
    pub insecure: bool,
    /// Watch the cluster during the run when one is reachable ([`RunSite::cluster`]).
    pub watch_cluster: bool,
    pub mode: RunMode,
}

/// What a run must stay under, judged at the end (on the merge, for a distributed run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Failed requests over all requests, 0..=1.
    pub max_failure_rate: Option<f64>,
    /// The aggregated 95th percentile.
    pub max_p95: Option<Duration>,
}

/// How a run runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RunMode {
    /// This process runs every user.
    OneProcess,
    /// `workers` processes on this machine, each a share (`load --workers N --local`).
    LocalWorkers { workers: u32 },
    /// `workers` pods of one Indexed Job (`load --workers N --image IMAGE`).
    Kubernetes { workers: u32, pods: PodSettings },
}

impl RunMode {
    /// How many workers share the users (1: this process alone).
    pub fn workers(&self) -> u32 {
        match self {
            RunMode::OneProcess => 1,
            RunMode::LocalWorkers { workers } | RunMode::Kubernetes { workers, .. } => *workers,
        }
    }
}

/// How the worker Job's pods are made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSettings {
    pub image: String,
    /// CPU of each pod, requests = limits, e.g. `2` or `1500m`.
    pub cpu: Option<String>,
    /// Memory of each pod, requests = limits, e.g. `1Gi`.
    pub memory: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    /// From the Job's creation to the common start: scheduling, image pulls, start-up.
    pub start_delay: Duration,
}

impl PodSettings {
    /// Pods of `image`, no resources asked, any node, the default start delay.
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            cpu: None,
            memory: None,
            node_selector: BTreeMap::new(),
            start_delay: DEFAULT_WORKER_START_DELAY,
        }
    }
}

/// What a run finds out where it runs, beside its [`RunPlan`] and never inside it.
#[derive(Debug, Clone)]
pub struct RunSite {
    /// The API's base URL (`--host`, or the Service's external IP).
    pub host: reqwest::Url,
    /// Where to look for the cluster to watch, when the plan watches it.
    pub cluster: Option<(ClusterOptions, TargetNames)>,
    /// Catch SIGINT/SIGTERM (the binary does; in-process tests don't).
    pub signals: bool,
    /// How often the watched cluster's pod metrics are sampled; `None`: never.
    pub top_every: Option<std::time::Duration>,
}

impl RunSite {
    /// `host`, no cluster to look for, signals caught.
    pub fn new(host: reqwest::Url) -> Self {
        Self {
            host,
            cluster: None,
            signals: true,
            top_every: Some(super::CLUSTER_TOP_EVERY),
        }
    }
}

/// A plan that cannot run (exit 2): one variant per rule, each message names the flag to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("--users must be 1 or more")]
    NoUsers,
    #[error(
        "--users is required: the number of virtual users, e.g. --users 150 \
         (or --stages, or --arrival-rate)"
    )]
    UsersMissing,
    #[error("--spawn-rate {0}: must be above 0")]
    SpawnRate(f64),
    #[error("--trace-sample {0}: must be from 0 to 1")]
    TraceSample(f64),
    #[error("--max-failure-rate {0}: must be from 0 to 1")]
    MaxFailureRate(f64),
    #[error("--arrival-rate {0}: must be above 0")]
    ArrivalRate(f64),
    #[error("--max-in-flight and --queue apply to the open model only: add --arrival-rate R")]
    OpenModelOnly,
    #[error("--max-in-flight {0}: at most {max} requests can be in flight", max = u32::MAX)]
    MaxInFlight(u64),
    #[error("--workers must be 2 or more (1 worker is a plain `load`)")]
    TooFewWorkers,
    #[error("--workers {workers} is more than --users {users}: every worker needs a user")]
    WorkersOverUsers { workers: u64, users: u32 },
}

/// Builds a [`RunPlan`] from typed values; [`PlanBuilder::build`] settles the defaults and
/// checks that the values make one run. Every setter is optional.
#[derive(Debug, Clone)]
pub struct PlanBuilder {
    class: UserClass,
    users: Option<u32>,
    spawn_rate: Option<f64>,
    duration: Option<Duration>,
    wait: Option<Wait>,
    timeout: Option<Duration>,
    connection: ConnectionPolicy,
    trace_sample: Option<f64>,
    stages: Option<Stages>,
    arrival_rate: Option<f64>,
    max_in_flight: Option<u64>,
    queue: bool,
    scenario: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    label: Option<String>,
    csv: Option<PathBuf>,
    thresholds: Thresholds,
    insecure: bool,
    watch_cluster: bool,
    mode: RunMode,
}

impl RunPlan {
    /// A plan of `class`'s users: a built-in (`UserClass::builtin`), a scenario's
    /// (`UserClass::resolve_with_stages` from its file, `UserClass::from_scenario` from its
    /// text; pass its stages to [`PlanBuilder::stages`] and its path to
    /// [`PlanBuilder::scenario`]), or one made with `UserClass::new`.
    pub fn builder(class: UserClass) -> PlanBuilder {
        PlanBuilder {
            class,
            users: None,
            spawn_rate: None,
            duration: None,
            wait: None,
            timeout: None,
            connection: ConnectionPolicy::default(),
            trace_sample: None,
            stages: None,
            arrival_rate: None,
            max_in_flight: None,
            queue: false,
            scenario: None,
            out_dir: None,
            label: None,
            csv: None,
            thresholds: Thresholds::default(),
            insecure: false,
            watch_cluster: false,
            mode: RunMode::OneProcess,
        }
    }
}

impl PlanBuilder {
    /// Virtual users (closed model); required unless stages or an arrival rate say.
    pub fn users(mut self, users: u32) -> Self {
        self.users = Some(users);
        self
    }
    /// Users started per second [default: 10].
    pub fn spawn_rate(mut self, rate: f64) -> Self {
        self.spawn_rate = Some(rate);
        self
    }
    /// The run's length [default: 5 min]; with stages, their total instead.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }
    /// Think time between tasks, instead of the class's own.
    pub fn wait(mut self, wait: Wait) -> Self {
        self.wait = Some(wait);
        self
    }
    /// Time limit of each request [default: 30 s].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// When users reconnect.
    pub fn connection(mut self, connection: ConnectionPolicy) -> Self {
        self.connection = connection;
        self
    }
    /// Share of requests (0..=1) with `traceparent`'s sampled flag [default: 1%].
    pub fn trace_sample(mut self, share: f64) -> Self {
        self.trace_sample = Some(share);
        self
    }
    /// A load shape of users (or, with an arrival rate, of the rate); the run lasts its total.
    pub fn stages(mut self, stages: Stages) -> Self {
        self.stages = Some(stages);
        self
    }
    /// The open model: arrivals per second instead of users.
    pub fn arrival_rate(mut self, rate: f64) -> Self {
        self.arrival_rate = Some(rate);
        self
    }
    /// Open model: requests in flight at most [default: 500].
    pub fn max_in_flight(mut self, n: u64) -> Self {
        self.max_in_flight = Some(n);
        self
    }
    /// Open model: an arrival without a free slot waits instead of being dropped.
    pub fn queue(mut self, queue: bool) -> Self {
        self.queue = queue;
        self
    }
    /// The scenario file the class came from (named in the record).
    pub fn scenario(mut self, path: impl Into<PathBuf>) -> Self {
        self.scenario = Some(path.into());
        self
    }
    /// Directory of the run records [default: ./iris-lab-runs].
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    /// Also write Locust's CSV files with this prefix.
    pub fn csv(mut self, prefix: impl Into<PathBuf>) -> Self {
        self.csv = Some(prefix.into());
        self
    }
    /// Fail the run (after saving) above this failure rate, 0..=1.
    pub fn max_failure_rate(mut self, ratio: f64) -> Self {
        self.thresholds.max_failure_rate = Some(ratio);
        self
    }
    /// Fail the run (after saving) above this aggregated p95.
    pub fn max_p95(mut self, p95: Duration) -> Self {
        self.thresholds.max_p95 = Some(p95);
        self
    }
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }
    /// Watch the cluster during the run, when the site says where it is.
    pub fn watch_cluster(mut self, watch: bool) -> Self {
        self.watch_cluster = watch;
        self
    }
    /// One process (the default), local workers or Kubernetes workers.
    pub fn mode(mut self, mode: RunMode) -> Self {
        self.mode = mode;
        self
    }

    /// Settles the defaults and checks the values make one run.
    pub fn build(self) -> Result<RunPlan, PlanError> {
        let mut class = self.class;
        if let Some(wait) = self.wait {
            class.wait = wait;
        }
        let open = open_model(self.arrival_rate, self.max_in_flight, self.queue)?;
        let users = match (&open, &self.stages, self.users) {
            (Some(open), _, _) => open.max_in_flight,
            (None, Some(stages), _) => (stages.peak().ceil() as u32).max(1),
            (None, None, Some(0)) => return Err(PlanError::NoUsers),
            (None, None, Some(users)) => users,
            (None, None, None) => return Err(PlanError::UsersMissing),
        };
        let duration = match &self.stages {
            Some(stages) => stages.total(),
            None => self.duration.unwrap_or(DEFAULT_DURATION),
        };
        check_mode(&self.mode, users)?;
        let spawn_rate = self.spawn_rate.unwrap_or(DEFAULT_SPAWN_RATE);
        let trace_sample = self.trace_sample.unwrap_or(DEFAULT_TRACE_SAMPLE);
        check_values(spawn_rate, trace_sample, &self.thresholds)?;
        Ok(RunPlan {
            load: LoadPlan {
                users,
                spawn_rate,
                duration,
                class,
                timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
                connection: self.connection,
                source_ports: None,
                trace_sample,
                stages: self.stages,
                open,
            },
            scenario: self.scenario,
            out_dir: self
                .out_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT_DIR)),
            label: self.label,
            csv: self.csv,
            thresholds: self.thresholds,
            insecure: self.insecure,
            watch_cluster: self.watch_cluster,
            mode: self.mode,
        })
    }
}

/// What the flags' parsers check, for values that did not come through them.
fn check_values(
    spawn_rate: f64,
    trace_sample: f64,
    thresholds: &Thresholds,
) -> Result<(), PlanError> {
    let ratio = |x: f64| (0.0..=1.0).contains(&x);
    if !(spawn_rate.is_finite() && spawn_rate > 0.0) {
        return Err(PlanError::SpawnRate(spawn_rate));
    }
    if !ratio(trace_sample) {
        return Err(PlanError::TraceSample(trace_sample));
    }
    if let Some(rate) = thresholds.max_failure_rate.filter(|r| !ratio(*r)) {
        return Err(PlanError::MaxFailureRate(rate));
    }
    Ok(())
}

/// The open model's settings, when an arrival rate asks for it.
fn open_model(
    rate: Option<f64>,
    max_in_flight: Option<u64>,
    queue: bool,
) -> Result<Option<OpenModel>, PlanError> {
    if let Some(rate) = rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(PlanError::ArrivalRate(rate));
    }
    let Some(rate) = rate else {
        if max_in_flight.is_some() || queue {
            return Err(PlanError::OpenModelOnly);
        }
        return Ok(None);
    };
    let max_in_flight = match max_in_flight {
        Some(n) => u32::try_from(n).map_err(|_| PlanError::MaxInFlight(n))?,
        None => DEFAULT_MAX_IN_FLIGHT,
    };
    Ok(Some(OpenModel {
        rate,
        max_in_flight,
        queue,
        stripe: Default::default(),
    }))
}

/// Workers: 2 or more, and at most one per user.
fn check_mode(mode: &RunMode, users: u32) -> Result<(), PlanError> {
    if let RunMode::OneProcess = mode {
        return Ok(());
    }
    check_workers(u64::from(mode.workers()), users).map(|_| ())
}

/// Checks a worker count against the users: 2 or more, and at most one worker per user.
pub fn check_workers(workers: u64, users: u32) -> Result<u32, PlanError> {
    if workers < 2 {
        return Err(PlanError::TooFewWorkers);
    }
    match u32::try_from(workers) {
        Ok(n) if n <= users => Ok(n),
        _ => Err(PlanError::WorkersOverUsers { workers, users }),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub mod tests;

//! `iris-lab load`: builds the plan from flags, config and defaults, runs the engine, feeds its
//! events to the statistics, appends the timeline every second, and saves the run record.
//! One-way data flow: users -> channel -> stats -> (live view, timeline, record).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cli::LoadArgs;
use crate::cluster::timeline::ClusterTracker;
use crate::cluster::watch::{self, WatchOptions};
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::loadgen::{self, ConnectionPolicy, LoadPlan, Target, UserClass};
use crate::record::cluster::{self as cluster_record, ClusterSecond};
use crate::record::{self, RunParams, RunRecord, RunStatus, ThresholdResult, Throughput};
use crate::signals::Signals;
use crate::stats::{self, Collector, Snapshot};

pub const DEFAULT_SPAWN_RATE: f64 = 10.0;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(300);
pub const DEFAULT_OUT_DIR: &str = "iris-lab-runs";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// File descriptors kept free for the runtime, the record files and stdio.
const SPARE_FILES: u64 = 64;

/// Share of requests sent with the sampled flag when neither flag nor config says.
pub const DEFAULT_TRACE_SAMPLE: f64 = 0.01;

/// A validated load run: the engine's plan and what to do around it.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub plan: LoadPlan,
    pub host: reqwest::Url,
    pub insecure: bool,
    pub scenario: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub label: Option<String>,
    pub csv: Option<PathBuf>,
    pub max_failure_rate: Option<f64>,
    pub max_p95: Option<Duration>,
    /// Catch SIGINT/SIGTERM (the binary does; in-process tests don't).
    pub handle_signals: bool,
    /// The cluster to watch while the load runs, if one is reachable.
    pub cluster: Option<crate::cluster::Cluster>,
    /// Why the cluster is not watched, when `cluster` is None but one was looked for.
    pub cluster_missed: Option<String>,
    /// Look for the cluster once the target answered (the binary does; `--no-cluster` and
    /// in-process tests don't).
    pub look_for_cluster: Option<(crate::config::ClusterOptions, crate::config::TargetNames)>,
}

/// Merges flags over the config file's `load:` section over defaults.
pub fn options(
    settings: &Settings,
    args: &LoadArgs,
    host: reqwest::Url,
) -> Result<LoadOptions, Error> {
    let file = &settings.file.load;
    let users = args.users.or(file.users).ok_or_else(|| {
        Error::Usage("--users is required: the number of virtual users, e.g. --users 150".into())
    })?;
    let scenario = args.scenario.clone().or_else(|| file.scenario.clone());
    let class_name = args.user_class.clone().or_else(|| file.user_class.clone());
    let mut class = UserClass::resolve(class_name.as_deref(), scenario.as_deref())?;
    if let Some(wait) = args.wait.or(file.wait) {
        class.wait = wait;
    }
    Ok(LoadOptions {
        plan: LoadPlan {
            users,
            spawn_rate: args
                .spawn_rate
                .or(file.spawn_rate)
                .unwrap_or(DEFAULT_SPAWN_RATE),
            duration: args.duration.or(file.duration).unwrap_or(DEFAULT_DURATION),
            class,
            timeout: args.timeout.or(file.timeout).unwrap_or(DEFAULT_TIMEOUT),
            connection: ConnectionPolicy {
                max_requests: args
                    .connection_max_requests
                    .or(file.connection_max_requests),
                max_age: args.connection_max_age.or(file.connection_max_age),
            },
            source_ports: None,
            trace_sample: args
                .trace_sample
                .or(file.trace_sample)
                .unwrap_or(DEFAULT_TRACE_SAMPLE),
        },
        host,
        insecure: settings.insecure,
        scenario,
        out_dir: args
            .out_dir
            .clone()
            .or_else(|| file.out_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT_DIR)),
        label: args.label.clone().or_else(|| file.label.clone()),
        csv: args.csv.clone().or_else(|| file.csv.clone()),
        max_failure_rate: args.max_failure_rate.or(file.max_failure_rate),
        max_p95: args.max_p95.or(file.max_p95),
        handle_signals: true,
        cluster: None,
        cluster_missed: None,
        look_for_cluster: (!(args.no_cluster || file.no_cluster == Some(true)))
            .then(|| (settings.cluster.clone(), settings.names.clone())),
    })
}

/// Why `users` cannot run here, if they cannot: open files, or source ports towards the
/// target's addresses.
pub fn capacity_problem(
    users: u32,
    nofile: u64,
    port_range: Option<(u32, u32)>,
    addresses: usize,
) -> Option<String> {
    let needed = u64::from(users) + SPARE_FILES;
    if needed > nofile {
        return Some(format!(
            "--users {users} needs about {needed} open files but this process may open only {nofile}: \
             raise the limit (e.g. `ulimit -n {needed}`) or use fewer users"
        ));
    }
    if let Some((lo, hi)) = port_range {
        let ports = u64::from(hi.saturating_sub(lo) + 1) * addresses.max(1) as u64;
        if u64::from(users) > ports {
            return Some(format!(
                "--users {users} needs one connection each, more than the {ports} ephemeral ports \
                 ({lo}-{hi}, net.ipv4.ip_local_port_range) towards this target: use fewer users"
            ));
        }
    }
    None
}

/// Whether connections should bind their own local ports: when the users would fill more
/// than half of the ephemeral range, where Linux's port search in `connect()` becomes slow.
pub fn own_source_ports(users: u32, port_range: Option<(u32, u32)>) -> Option<(u16, u16)> {
    let (lo, hi) = port_range?;
    let half = (hi.saturating_sub(lo) + 1).div_ceil(2);
    if users < half {
        return None;
    }
    Some((u16::try_from(lo).ok()?, u16::try_from(hi).ok()?))
}

fn ephemeral_ports() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|n| n.parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

/// Raises the open-file soft limit to the hard limit and checks that the users fit.
fn ensure_capacity(users: u32, addresses: usize) -> Result<(), Error> {
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    match capacity_problem(users, nofile, ephemeral_ports(), addresses) {
        Some(problem) => Err(Error::Usage(problem)),
        None => Ok(()),
    }
}

/// What the live display is told while the run goes on.
pub trait Monitor {
    fn update(&mut self, snapshot: &Snapshot);
    /// The first Ctrl-C / SIGTERM arrived.
    fn interrupted(&mut self);
    fn finish(&mut self);
    /// The cluster at the end of a second, when it is watched.
    fn cluster(&mut self, _now: &ClusterSecond) {}
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub record: RunRecord,
    pub record_path: PathBuf,
    pub jsonl_path: PathBuf,
    pub csv_paths: Option<[PathBuf; 3]>,
    /// Users still busy 5 s after the stop, whose requests were abandoned.
    pub abandoned: usize,
    pub outcome: Outcome,
}

/// Runs the load test to its end (or to Ctrl-C) and saves everything it measured.
pub async fn run(
    mut opts: LoadOptions,
    monitor: &mut (dyn Monitor + Send),
) -> Result<LoadResult, Error> {
    let mut target = Target::resolve(&opts.host, opts.insecure).await?;
    ensure_capacity(opts.plan.users, target.addrs.len())?;
    let source_ports = opts
        .plan
        .source_ports
        .or_else(|| own_source_ports(opts.plan.users, ephemeral_ports()));
    if let Some((first, last)) = source_ports {
        target.use_source_ports(first, last);
    }
    preflight(&target, opts.plan.timeout).await?;
    if let Some((cluster_options, names)) = opts.look_for_cluster.take() {
        match cluster_for_load(&cluster_options, &names).await {
            Ok(cluster) => {
                crate::output::note(&crate::output::render_cluster_watched(&cluster));
                opts.cluster = Some(cluster);
            }
            Err(reason) => {
                crate::output::note(&format!(
                    "cluster: not watched ({reason}); --no-cluster skips this check"
                ));
                opts.cluster_missed = Some(reason);
            }
        }
    }
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| Error::write(opts.out_dir.display().to_string(), e))?;

    let started_utc = Timestamp::now();
    let record_path = record::new_record_path(
        &opts.out_dir,
        started_utc,
        opts.plan.users,
        &opts.plan.class.name,
    );
    let mut jsonl = record::JsonlWriter::create(record_path.with_extension("jsonl"))?;

    let interrupt = CancellationToken::new();
    let (first_signal_tx, mut first_signal) = mpsc::unbounded_channel::<()>();
    let signal_task = opts
        .handle_signals
        .then(|| Signals::new().ok())
        .flatten()
        .map(|mut signals| {
            let interrupt = interrupt.clone();
            let jsonl_path = jsonl.path.clone();
            tokio::spawn(async move {
                signals.recv().await;
                interrupt.cancel();
                let _ = first_signal_tx.send(());
                signals.recv().await;
                crate::output::note(&format!(
                    "interrupted again: exiting now; the per-second timeline is in {}",
                    jsonl_path.display()
                ));
                std::process::exit(i32::from(crate::error::exit::INTERRUPTED));
            })
        });

    let start = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut collector = Collector::new(
        opts.plan.class.endpoints.clone(),
        opts.plan.users,
        opts.plan.duration,
        start,
        started_utc,
    );
    let engine = {
        let plan = opts.plan.clone();
        let target = Arc::new(target);
        let interrupt = interrupt.clone();
        tokio::spawn(async move { loadgen::run(&plan, target, tx, interrupt, start).await })
    };

    // The cluster side runs beside the load and never holds it up: its events arrive on their
    // own channel, and if it fails the load goes on and the record says what was missed.
    let (cluster_tx, mut cluster_rx) = mpsc::channel(4096);
    let mut tracker = opts
        .cluster
        .as_ref()
        .map(|c| ClusterTracker::new(started_utc, &c.namespace, &c.names));
    let _watch_tasks = opts.cluster.as_ref().map(|c| {
        watch::spawn(
            c,
            WatchOptions {
                top_every: Some(CLUSTER_TOP_EVERY),
            },
            cluster_tx.clone(),
        )
    });
    drop(cluster_tx);
    let mut cluster_seconds: Vec<(u64, ClusterSecond)> = Vec::new();

    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(1024);
    let mut jsonl_error: Option<std::io::Error> = None;
    loop {
        tokio::select! {
            biased;
            _ = tick.tick() => {
                while let Ok(ev) = rx.try_recv() {
                    collector.handle(ev);
                }
                let mut point = collector.close_second();
                if let Some(tracker) = &mut tracker {
                    let now = cluster_second(tracker, &mut cluster_rx, &mut point, &mut cluster_seconds);
                    monitor.cluster(&now);
                }
                if jsonl_error.is_none() {
                    jsonl_error = jsonl.append(&point).err();
                }
                monitor.update(&collector.snapshot());
            }
            Some(()) = first_signal.recv() => monitor.interrupted(),
            Some(ev) = cluster_rx.recv(), if tracker.is_some() => {
                if let Some(tracker) = &mut tracker {
                    tracker.apply(&ev);
                }
            }
            n = rx.recv_many(&mut batch, 1024) => {
                if n == 0 {
                    break;
                }
                for ev in batch.drain(..) {
                    collector.handle(ev);
                }
            }
        }
    }
    if collector.second_has_data() {
        let mut point = collector.close_second();
        if let Some(tracker) = &mut tracker {
            cluster_second(tracker, &mut cluster_rx, &mut point, &mut cluster_seconds);
        }
        if jsonl_error.is_none() {
            jsonl_error = jsonl.append(&point).err();
        }
    }
    monitor.finish();
    let end = engine.await.map_err(Error::Engine)?;
    if let Some(task) = signal_task {
        // From here on the default disposition is not restored, but the run is saved first.
        task.abort();
    }
    if let Some(e) = jsonl_error {
        crate::output::note(&format!(
            "warning: could not append to {}: {e} (the run record below is complete)",
            jsonl.path.display()
        ));
    }

    let mut record = build_record(&opts, &collector, end, started_utc);
    attach_cluster(
        &mut record,
        tracker,
        &cluster_seconds,
        opts.cluster_missed.as_deref(),
    );
    record::save(&record, &record_path)?;
    let csv_paths = match &opts.csv {
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
        jsonl_path: jsonl.path.clone(),
        csv_paths,
        abandoned: end.abandoned,
        outcome,
    })
}

/// How often pod CPU and memory are sampled during a run (as `watch`'s `top`).
pub const CLUSTER_TOP_EVERY: Duration = Duration::from_secs(15);

/// The cluster's state for the second that `point` closes: the events so far are applied, the
/// state goes into the point (for the `.jsonl`) and into `seconds` (for the record).
fn cluster_second(
    tracker: &mut ClusterTracker,
    events: &mut mpsc::Receiver<crate::cluster::watch::ClusterEvent>,
    point: &mut record::TimelinePoint,
    seconds: &mut Vec<(u64, ClusterSecond)>,
) -> ClusterSecond {
    while let Ok(ev) = events.try_recv() {
        tracker.apply(&ev);
    }
    let now = tracker.second();
    if let Ok(v) = serde_json::to_value(&now) {
        point.extensions.insert(cluster_record::EXTENSION.into(), v);
    }
    seconds.push((point.t, now.clone()));
    now
}

/// Puts what the cluster side saw into the record: a summary, and each second's state.
fn attach_cluster(
    record: &mut RunRecord,
    tracker: Option<ClusterTracker>,
    seconds: &[(u64, ClusterSecond)],
    missed: Option<&str>,
) {
    if let Some(reason) = missed {
        record
            .extensions
            .insert(cluster_record::MISSED_EXTENSION.into(), reason.into());
    }
    let Some(tracker) = tracker else {
        return;
    };
    for point in &mut record.timeline {
        if let Some((_, s)) = seconds.iter().find(|(t, _)| *t == point.t)
            && let Ok(v) = serde_json::to_value(s)
        {
            point.extensions.insert(cluster_record::EXTENSION.into(), v);
        }
    }
    if let Ok(v) = serde_json::to_value(tracker.finish()) {
        record
            .extensions
            .insert(cluster_record::EXTENSION.into(), v);
    }
}

/// One connection before the run, so an unreachable host is one clear error, not a run of
/// failures.
async fn preflight(target: &Target, timeout: Duration) -> Result<(), Error> {
    let host = target.url.to_string();
    match tokio::time::timeout(timeout.min(Duration::from_secs(10)), target.connect(0)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(failure)) => Err(Error::Unreachable { host, failure }),
        Err(_) => Err(Error::Unreachable {
            host,
            failure: crate::api::Failure::Timeout,
        }),
    }
}

fn build_record(
    opts: &LoadOptions,
    c: &Collector,
    end: loadgen::RunEnd,
    started_utc: Timestamp,
) -> RunRecord {
    let plan = &opts.plan;
    let aggregate = c.aggregate_record();
    let wait = plan.class.wait;
    let cycle = wait.mean() + aggregate.avg_ms / 1e3;
    let theoretical_max_rps = if cycle > 0.0 {
        f64::from(end.users_started) / cycle
    } else {
        0.0
    };
    let mut thresholds = Vec::new();
    if let Some(limit) = opts.max_failure_rate {
        let actual = aggregate.failure_ratio();
        thresholds.push(ThresholdResult {
            name: "max-failure-rate".into(),
            limit,
            actual,
            passed: actual <= limit,
        });
    }
    if let Some(limit) = opts.max_p95 {
        let limit_ms = limit.as_secs_f64() * 1e3;
        let actual = aggregate.percentile("95%");
        thresholds.push(ThresholdResult {
            name: "max-p95".into(),
            limit: limit_ms,
            actual,
            passed: actual <= limit_ms,
        });
    }
    RunRecord {
        schema_version: record::SCHEMA_VERSION,
        tool: concat!("iris-lab ", env!("CARGO_PKG_VERSION")).to_string(),
        label: opts.label.clone(),
        status: if end.interrupted {
            RunStatus::Interrupted
        } else {
            RunStatus::Completed
        },
        target: opts.host.to_string(),
        params: RunParams {
            users: plan.users,
            spawn_rate: plan.spawn_rate,
            duration_s: plan.duration.as_secs_f64(),
            user_class: plan.class.name.clone(),
            scenario: opts.scenario.clone(),
            wait_min_s: wait.min,
            wait_max_s: wait.max,
            timeout_s: plan.timeout.as_secs_f64(),
            connection_max_requests: plan.connection.max_requests,
            connection_max_age_s: plan.connection.max_age.map(|d| d.as_secs_f64()),
        },
        started_at: started_utc,
        ended_at: Timestamp::now(),
        duration_s: c.run_secs(),
        users_started: end.users_started,
        spawn_complete_s: c.spawn_complete_secs(),
        endpoints: c.endpoint_records(),
        throughput: Throughput {
            total_rps: aggregate.rps,
            steady_rps: c.steady_rps(),
            theoretical_max_rps,
        },
        aggregate,
        failures: c.failure_records(),
        server_timings: c.server_timings(),
        slowest: c.slowest_records(),
        sampled: c.sampled_records(),
        thresholds,
        timeline: c.timeline().to_vec(),
        extensions: Default::default(),
    }
}

/// How long `load` waits for the cluster before it runs without it.
pub const CLUSTER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The cluster to watch during a run, or why there is none. Never an error: the load runs
/// either way.
pub async fn cluster_for_load(
    options: &crate::config::ClusterOptions,
    names: &crate::config::TargetNames,
) -> Result<crate::cluster::Cluster, String> {
    let attempt = async {
        let cluster = crate::cluster::connect(options, names).await?;
        cluster.require_deployment().await?;
        Ok::<_, crate::error::ClusterError>(cluster)
    };
    match tokio::time::timeout(CLUSTER_CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(cluster)) => Ok(cluster),
        // The usual case off a cluster: say it short.
        Ok(Err(crate::error::ClusterError::NoKubeconfig { .. })) => {
            Err("no kubeconfig found".into())
        }
        Ok(Err(e)) => Err(crate::error::one_line(&e)),
        Err(_) => Err(format!(
            "the Kubernetes API did not answer within {} s",
            CLUSTER_CONNECT_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_checked_before_the_run() {
        assert_eq!(capacity_problem(150, 1024, Some((32768, 60999)), 1), None);
        let e = capacity_problem(20_000, 20_000, None, 1).unwrap();
        assert!(
            e.contains("--users 20000") && e.contains("ulimit -n 20064"),
            "{e}"
        );
        let e = capacity_problem(30_000, 1 << 20, Some((32768, 60999)), 1).unwrap();
        assert!(e.contains("28232 ephemeral ports"), "{e}");
        assert_eq!(
            capacity_problem(30_000, 1 << 20, Some((32768, 60999)), 2),
            None
        );
    }

    #[test]
    fn own_source_ports_only_past_half_the_range() {
        assert_eq!(own_source_ports(14_000, Some((32768, 60999))), None);
        assert_eq!(
            own_source_ports(20_000, Some((32768, 60999))),
            Some((32768, 60999))
        );
        assert_eq!(own_source_ports(20_000, None), None);
    }
}

//! The controller of a distributed run on Kubernetes: one Indexed Job, its pods' logs
//! followed through the API (the workers need no permissions), merged as the local
//! controller merges processes' stdout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::collect::{Collected, RunFiles, finish};
use super::{DistributedError, WorkerNote, parse_line, worker_args};
use crate::cluster::Cluster;
use crate::cluster::jobs::{self, WorkerJob, WorkerPod};
use crate::loadgen::GRACE;
use crate::pipeline::{LoadOptions, LoadResult, Monitor, RunError, RunNote};
use crate::record::distributed::Placement;
use crate::signals::Signals;

/// Where a worker writes its own timeline inside its pod.
pub const POD_OUT_DIR: &str = "/tmp/iris-lab";

/// How the Job's pods are made.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSettings {
    pub image: String,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    /// From the Job's creation to the common start: scheduling, image pulls, start-up.
    pub start_delay: Duration,
}

/// A distributed run on Kubernetes, decided but not started: what `--dry-run` prints and
/// what the run creates.
#[derive(Debug, Clone)]
pub struct KubePlan {
    pub run: String,
    pub namespace: String,
    pub start_at: Timestamp,
    pub workers: u32,
    pub job: Job,
}

/// Decides the Job (pure): its name from the run's id, its pods' arguments from the plan.
pub fn plan(
    opts: &LoadOptions,
    workers: u32,
    pods: &PodSettings,
    namespace: &str,
    now: Timestamp,
) -> Result<KubePlan, DistributedError> {
    let workers = super::check_workers(u64::from(workers), opts.plan.users)?;
    if opts.scenario.is_some() {
        return Err(DistributedError::Usage(
            "--scenario is a file on this machine, not in the worker pods: use a built-in \
             --user-class with Kubernetes workers, or --local"
                .into(),
        ));
    }
    let start_at = now
        .checked_add(pods.start_delay)
        .map_err(|e| DistributedError::Usage(format!("--worker-start-delay: {e}")))?;
    let run = format!(
        "{}-{:04x}",
        now.strftime("%Y%m%d-%H%M%S"),
        now.subsec_nanosecond().unsigned_abs() % 0x10000
    );
    let spec = WorkerJob {
        name: format!("iris-lab-load-{run}"),
        namespace: namespace.to_string(),
        run: run.clone(),
        image: pods.image.clone(),
        workers,
        args: worker_args(
            opts,
            None,
            workers,
            start_at,
            std::path::Path::new(POD_OUT_DIR),
        ),
        cpu: pods.cpu.clone(),
        memory: pods.memory.clone(),
        node_selector: pods.node_selector.clone(),
    };
    Ok(KubePlan {
        run,
        namespace: namespace.to_string(),
        start_at,
        workers,
        job: jobs::job(&spec),
    })
}

impl KubePlan {
    pub fn job_name(&self) -> String {
        self.job.metadata.name.clone().unwrap_or_default()
    }
}

enum Msg {
    Line(u32, String),
    LogEnded(u32),
    /// Its container has not started yet: followed again at the pod's next change.
    LogFailed(u32),
}

/// Per worker: the pod followed, and how it ended.
#[derive(Default, Clone)]
struct Follow {
    pod: Option<String>,
    following: bool,
    log_ended: bool,
    ended: Option<String>,
}

/// Creates the Job (the caller checked RBAC and asked), follows its pods, merges, saves.
pub async fn run_kubernetes(
    opts: LoadOptions,
    kube: KubePlan,
    cluster: Cluster,
    monitor: &mut (dyn Monitor + Send),
) -> Result<LoadResult, RunError> {
    let warnings = load_balancer_warning(&opts, &cluster).await;
    let RunFiles {
        record_path,
        dir,
        timeline,
    } = RunFiles::create(&opts)?;
    let mut pods = Box::pin(cluster.worker_pods(&kube.run));
    cluster
        .create_job(&kube.job)
        .await
        .map_err(DistributedError::from)?;
    let name = kube.job_name();
    monitor.note(&RunNote::Workers(WorkerNote::Started {
        workers: kube.workers,
        start_at: kube.start_at,
        dir: PathBuf::from(format!("job/{name} in namespace {}", kube.namespace)),
    }));
    let mut c = Collected::new(&opts, kube.workers, kube.start_at, timeline);
    c.warnings = warnings;
    for w in &c.warnings {
        monitor.note(&RunNote::Workers(WorkerNote::Warning(w.clone())));
    }
    let n = kube.workers as usize;
    let mut follows = vec![Follow::default(); n];
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut logs = JoinSet::new();
    let mut signals = opts.handle_signals.then(|| Signals::new().ok()).flatten();
    let mut interrupts = 0;
    let limit = c.start_delay() + opts.plan.duration + GRACE + Duration::from_secs(60);
    let deadline = tokio::time::Instant::now() + limit;
    while !c.all_ended() {
        tokio::select! {
            Some(pod) = pods.next() => {
                on_pod(&pod, &mut follows, &mut c, &cluster, &tx, &mut logs, monitor);
            }
            Some(msg) = rx.recv() => match msg {
                Msg::Line(i, text) => {
                    if let Some(line) = parse_line(&text) {
                        c.line(i, line, monitor);
                    }
                }
                Msg::LogEnded(i) => {
                    let f = &mut follows[i as usize];
                    f.log_ended = true;
                    let how = f.ended.clone().unwrap_or_else(|| "its log ended".into());
                    c.exited(i, &how, monitor);
                }
                Msg::LogFailed(i) => follows[i as usize].following = false,
            },
            () = next_signal(&mut signals) => {
                interrupts += 1;
                if interrupts > 1 {
                    monitor.note(&RunNote::InterruptedAgain { timeline: c.timeline_path() });
                    return Err(RunError::InterruptedAgain);
                }
                c.interrupted = true;
                monitor.interrupted();
                // The pods get SIGTERM: each worker stops and sends what it measured.
                if let Err(e) = cluster.delete_job(&name).await {
                    monitor.note(&RunNote::Workers(WorkerNote::Warning(format!(
                        "could not delete job/{name}: {}", crate::chain::one_line(&e)
                    ))));
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                c.timed_out(monitor);
            }
        }
    }
    logs.abort_all();
    for (i, f) in follows.iter().enumerate() {
        c.placed[i].0 = f.pod.clone();
    }
    let placement = Placement::Kubernetes {
        namespace: kube.namespace.clone(),
        job: name,
    };
    finish(c, &opts, placement, record_path, &dir, monitor)
}

/// A pod changed: note where it runs, follow its log once its container started, and end
/// a worker whose pod ended without a log to read.
fn on_pod(
    pod: &WorkerPod,
    follows: &mut [Follow],
    c: &mut Collected,
    cluster: &Cluster,
    tx: &mpsc::UnboundedSender<Msg>,
    logs: &mut JoinSet<()>,
    monitor: &mut (dyn Monitor + Send),
) {
    let Some(i) = pod.index.filter(|i| (*i as usize) < follows.len()) else {
        return;
    };
    let f = &mut follows[i as usize];
    f.pod = Some(pod.name.clone());
    c.placed[i as usize] = (Some(pod.name.clone()), pod.node.clone());
    if pod.ended.is_some() {
        f.ended.clone_from(&pod.ended);
    }
    if pod.started && !f.following && !f.log_ended {
        f.following = true;
        let (cluster, tx, name) = (cluster.clone(), tx.clone(), pod.name.clone());
        logs.spawn(async move {
            match cluster.follow_log(&name).await {
                Ok(lines) => {
                    let mut lines = std::pin::pin!(lines);
                    while let Some(line) = lines.next().await {
                        let _ = tx.send(Msg::Line(i, line));
                    }
                    let _ = tx.send(Msg::LogEnded(i));
                }
                Err(_) => {
                    let _ = tx.send(Msg::LogFailed(i));
                }
            }
        });
    }
    if let Some(how) = &pod.ended
        && !pod.started
    {
        c.exited(i, how, monitor);
    }
}

/// In-cluster workers sending to the Service's LoadBalancer address skip the load balancer.
async fn load_balancer_warning(opts: &LoadOptions, cluster: &Cluster) -> Vec<String> {
    let Some(host) = opts.host.host_str() else {
        return Vec::new();
    };
    match cluster.service().await {
        Ok(Some(svc)) if jobs::bypasses_load_balancer(host, &svc) => vec![format!(
            "{host} is the LoadBalancer address of service {}: traffic from pods in the cluster to it is routed by kube-proxy straight to the API's pods, so in-cluster workers do not measure the load balancer; run them outside the cluster (--local) to include it",
            cluster.names.service
        )],
        _ => Vec::new(),
    }
}

async fn next_signal(signals: &mut Option<Signals>) {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

//! The controller of a distributed run on Kubernetes: one Indexed Job, its pods' logs
//! followed through the API (the workers need no permissions), merged as the local
//! controller merges processes' stdout.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::collect::{Collected, RunFiles, finish};
use super::{DistributedError, ORDER_ENV, WorkerNote, WorkerOrder, parse_line};
use crate::{LoadResult, Monitor, RunError, RunMode, RunNote, RunPlan, RunSite};
use iris_base::signals::Signals;
use iris_base::usage::UsageError;
use iris_cluster::Cluster;
use iris_cluster::jobs::{self, WorkerJob, WorkerPod};
use iris_loadgen::GRACE;
use iris_record::distributed::Placement;

/// Where a worker writes its own timeline inside its pod.
pub const POD_OUT_DIR: &str = "/tmp/iris-lab";

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

/// Decides the Job (pure) of a plan of Kubernetes workers ([`RunMode::Kubernetes`]): its
/// name from the run's id, and every pod's [`WorkerOrder`] (the settled plan, its scenario's
/// class included) in the environment variable [`ORDER_ENV`].
pub fn plan(
    opts: &RunPlan,
    host: &reqwest::Url,
    namespace: &str,
    now: Timestamp,
) -> Result<KubePlan, DistributedError> {
    let RunMode::Kubernetes { workers, pods } = &opts.mode else {
        return Err(UsageError::WrongRunMode(
            "the Kubernetes Job runs a plan of Kubernetes workers",
        )
        .into());
    };
    let workers = *workers;
    let start_at = now
        .checked_add(pods.start_delay)
        .map_err(|e| UsageError::StartDelay(e.to_string()))?;
    let run = format!(
        "{}-{:04x}",
        now.strftime("%Y%m%d-%H%M%S"),
        now.subsec_nanosecond().unsigned_abs() % 0x10000
    );
    let order = WorkerOrder {
        plan: opts.clone(),
        host: host.clone(),
        workers,
        start_at,
        out_dir: POD_OUT_DIR.into(),
    };
    let spec = WorkerJob {
        name: format!("iris-lab-load-{run}"),
        namespace: namespace.to_string(),
        run: run.clone(),
        image: pods.image.clone(),
        workers,
        args: vec!["worker".into()],
        env: [(ORDER_ENV.to_string(), order.to_line()?)].into(),
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
    opts: &RunPlan,
    site: &RunSite,
    kube: KubePlan,
    cluster: Cluster,
    monitor: &mut (dyn Monitor + Send),
) -> Result<LoadResult, RunError> {
    let warnings = load_balancer_warning(&site.host, &cluster).await;
    let RunFiles {
        record_path,
        dir,
        timeline,
    } = RunFiles::create(opts)?;
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
    let mut c = Collected::new(&opts.load, kube.workers, kube.start_at, timeline);
    c.warnings = warnings;
    for w in &c.warnings {
        monitor.note(&RunNote::Workers(WorkerNote::Warning(w.clone())));
    }
    let mut pods = Pods {
        follows: vec![Follow::default(); kube.workers as usize],
        cluster: &cluster,
        job: &name,
        logs: JoinSet::new(),
    };
    pods.follow(&mut c, &kube.run, opts, site.signals, monitor)
        .await?;
    let placement = Placement::Kubernetes {
        namespace: kube.namespace.clone(),
        job: name.clone(),
    };
    finish(c, opts, &site.host, placement, record_path, &dir, monitor)
}

/// The controller's side of the Job's pods while they run: which pod is which worker, and
/// the tasks following their logs.
struct Pods<'a> {
    follows: Vec<Follow>,
    cluster: &'a Cluster,
    job: &'a str,
    logs: JoinSet<()>,
}

impl Pods<'_> {
    /// Follows the run's pods and their logs into `c` until every worker has ended or the
    /// run's limit; a first Ctrl-C deletes the Job (the pods get SIGTERM and send what they
    /// measured), a second ends the run at once.
    async fn follow(
        &mut self,
        c: &mut Collected,
        run: &str,
        plan: &RunPlan,
        signals: bool,
        monitor: &mut (dyn Monitor + Send),
    ) -> Result<(), RunError> {
        let mut events = Box::pin(self.cluster.worker_pods(run));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut signals = signals.then(|| Signals::new().ok()).flatten();
        let mut interrupts = 0;
        let limit = c.start_delay() + plan.load.duration + GRACE + Duration::from_secs(60);
        let deadline = tokio::time::Instant::now() + limit;
        while !c.all_ended() {
            tokio::select! {
                Some(pod) = events.next() => self.on_pod(&pod, c, &tx, monitor),
                Some(msg) = rx.recv() => self.on_msg(msg, c, monitor),
                () = next_signal(&mut signals) => {
                    interrupts += 1;
                    if interrupts > 1 {
                        monitor.note(&RunNote::InterruptedAgain { timeline: c.timeline_path() });
                        return Err(RunError::InterruptedAgain);
                    }
                    c.interrupted = true;
                    monitor.interrupted();
                    self.delete_job(monitor).await;
                }
                () = tokio::time::sleep_until(deadline) => c.timed_out(monitor),
            }
        }
        self.logs.abort_all();
        for (i, f) in self.follows.iter().enumerate() {
            c.placed[i].0 = f.pod.clone();
        }
        Ok(())
    }

    fn on_msg(&mut self, msg: Msg, c: &mut Collected, monitor: &mut (dyn Monitor + Send)) {
        match msg {
            Msg::Line(i, text) => {
                if let Some(line) = parse_line(&text) {
                    c.line(i, line, monitor);
                }
            }
            Msg::LogEnded(i) => {
                let f = &mut self.follows[i as usize];
                f.log_ended = true;
                let how = f.ended.clone().unwrap_or_else(|| "its log ended".into());
                c.exited(i, &how, monitor);
            }
            Msg::LogFailed(i) => self.follows[i as usize].following = false,
        }
    }

    /// The pods get SIGTERM: each worker stops and sends what it measured.
    async fn delete_job(&self, monitor: &mut (dyn Monitor + Send)) {
        if let Err(e) = self.cluster.delete_job(self.job).await {
            monitor.note(&RunNote::Workers(WorkerNote::Warning(format!(
                "could not delete job/{}: {}",
                self.job,
                iris_base::chain::one_line(&e)
            ))));
        }
    }

    /// A pod changed: note where it runs, follow its log once its container started, and
    /// end a worker whose pod ended without a log to read.
    fn on_pod(
        &mut self,
        pod: &WorkerPod,
        c: &mut Collected,
        tx: &mpsc::UnboundedSender<Msg>,
        monitor: &mut (dyn Monitor + Send),
    ) {
        let Some(i) = pod.index.filter(|i| (*i as usize) < self.follows.len()) else {
            return;
        };
        let f = &mut self.follows[i as usize];
        f.pod = Some(pod.name.clone());
        c.placed[i as usize] = (Some(pod.name.clone()), pod.node.clone());
        if pod.ended.is_some() {
            f.ended.clone_from(&pod.ended);
        }
        if pod.started && !f.following && !f.log_ended {
            f.following = true;
            let (cluster, tx, name) = (self.cluster.clone(), tx.clone(), pod.name.clone());
            self.logs.spawn(async move {
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
}

/// In-cluster workers sending to the Service's LoadBalancer address skip the load balancer.
async fn load_balancer_warning(host: &reqwest::Url, cluster: &Cluster) -> Vec<String> {
    let Some(host) = host.host_str() else {
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

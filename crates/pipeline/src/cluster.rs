//! The cluster side of a run: found once the target answered, watched beside the load without
//! ever holding it up, folded into each second's point and into the record. If it fails the
//! load goes on and the record's `missed` says what was not observed.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use iris_base::chain::one_line;
use iris_cluster::facts::set_instance_types;
use iris_cluster::timeline::ClusterTracker;
use iris_cluster::watch::{self, ClusterEvent, WatchOptions};
use iris_cluster::{self as cluster, Cluster, ClusterError};
use iris_cluster::{ClusterOptions, TargetNames};
use iris_record::cluster::{ClusterSecond, NotWatched};
use iris_record::{RunRecord, TimelinePoint};

/// How long `load` waits for the cluster before it runs without it.
pub const CLUSTER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the end of a run waits for the nodes' instance types.
pub const NODE_TYPES_TIMEOUT: Duration = Duration::from_secs(5);
/// How often pod CPU and memory are sampled during a run (as `watch`'s `top`).
pub const CLUSTER_TOP_EVERY: Duration = Duration::from_secs(15);

/// The cluster to watch during a run, or why there is none. Never an error: the load runs
/// either way.
pub async fn cluster_for_load(
    options: &ClusterOptions,
    names: &TargetNames,
) -> Result<Cluster, NotWatched> {
    let attempt = async {
        let cluster = cluster::connect(options, names).await?;
        cluster.require_deployment().await?;
        Ok::<_, ClusterError>(cluster)
    };
    match tokio::time::timeout(CLUSTER_CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(cluster)) => Ok(cluster),
        // The usual case off a cluster: say it short.
        Ok(Err(ClusterError::NoKubeconfig { .. })) => Err(NotWatched::NoKubeconfig),
        Ok(Err(e)) => Err(NotWatched::Failed {
            error: one_line(&e),
        }),
        Err(_) => Err(NotWatched::NoAnswer {
            timeout_s: CLUSTER_CONNECT_TIMEOUT.as_secs(),
        }),
    }
}

/// The watch of a cluster during a run: its events, their state, and each second's state.
pub struct ClusterSide {
    cluster: Cluster,
    tracker: ClusterTracker,
    events: mpsc::Receiver<ClusterEvent>,
    seconds: Vec<(u64, ClusterSecond)>,
    _tasks: JoinSet<()>,
}

impl ClusterSide {
    /// Starts watching `cluster` from `started_utc`, sampling its pods' metrics `top_every`.
    pub fn start(cluster: &Cluster, started_utc: Timestamp, top_every: Option<Duration>) -> Self {
        let (tx, events) = mpsc::channel(4096);
        let tasks = watch::spawn(
            cluster,
            WatchOptions {
                top_per_window: true,
                top_every,
                facts: true,
            },
            tx,
        );
        Self {
            cluster: cluster.clone(),
            tracker: ClusterTracker::new(started_utc, &cluster.namespace, &cluster.names),
            events,
            seconds: Vec::new(),
            _tasks: tasks,
        }
    }

    /// The next event of the watch (pending forever once the watch has ended).
    pub async fn next_event(&mut self) -> Option<ClusterEvent> {
        self.events.recv().await
    }

    pub fn apply(&mut self, event: &ClusterEvent) {
        self.tracker.apply(event);
    }

    /// The cluster's state for the second that `point` closes: the events so far are applied
    /// (and returned, for the live display), the state goes into the point (for the `.jsonl`)
    /// and is kept for the record.
    pub fn close_second(
        &mut self,
        point: &mut TimelinePoint,
    ) -> (ClusterSecond, Vec<ClusterEvent>) {
        let mut applied = Vec::new();
        while let Ok(ev) = self.events.try_recv() {
            self.tracker.apply(&ev);
            applied.push(ev);
        }
        let now = self.tracker.second();
        point.cluster = Some(now.clone());
        self.seconds.push((point.t, now.clone()));
        (now, applied)
    }

    /// Puts what the cluster side saw into the record: a summary, and each second's state;
    /// reads the instance types of the nodes the pods ran on (one GET per node, each within
    /// the request time limit).
    pub async fn attach(self, record: &mut RunRecord) {
        for point in &mut record.timeline {
            if let Some((_, s)) = self.seconds.iter().find(|(t, _)| *t == point.t) {
                point.cluster = Some(s.clone());
            }
        }
        let nodes = self.tracker.node_names();
        let mut summary = self.tracker.finish();
        if !nodes.is_empty() {
            let types = tokio::time::timeout(NODE_TYPES_TIMEOUT, async {
                self.cluster
                    .node_instance_types(&nodes)
                    .await
                    .map_err(|e| one_line(&e))
            })
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {} s",
                    NODE_TYPES_TIMEOUT.as_secs()
                ))
            });
            set_instance_types(&mut summary, types);
        }
        summary.simulated = tokio::time::timeout(NODE_TYPES_TIMEOUT, self.cluster.simulated())
            .await
            .unwrap_or_default();
        record.cluster = Some(summary);
    }
}

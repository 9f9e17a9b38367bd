//! A run in the user's own monitoring: its figures as Prometheus/OpenTelemetry series, live.
//!
//! ```text
//! pipeline -> Monitor (ExportMonitor: second_closed, cluster, cluster_event)
//!          -> RunState (cumulative, O(endpoints + buckets) a second, no I/O)
//!          -> Exposition (one per closed second)
//!              -> Board (the latest per run) <- GET /metrics (text 0.0.4 or OpenMetrics)
//!              -> Pusher queues (bounded, one task each) -> remote write / OTLP receivers
//! ```
//!
//! A slow, failing or absent receiver never slows or fails the run: a full queue drops the
//! second (counted), and what was not delivered is stated in the record ([`ExportRecord`]).

pub mod board;
pub mod otlp;
pub mod push;
pub mod remote_write;
pub mod series;
pub mod serve;
pub mod target;
pub mod text;

use std::sync::Arc;

use iris_cluster::watch::{ClusterEvent, EventKind};
use iris_pipeline::Monitor;
use iris_record::TimelinePoint;
use iris_record::cluster::ClusterSecond;
use iris_record::export::ExportRecord;
use iris_stats::{Collector, Snapshot};

pub use board::Board;
pub use push::Pusher;
pub use series::{Exposition, RunLabels};
pub use target::{ExportHeader, ExportTarget, Protocol};

/// What names a run's series before it starts: its users, class and target.
#[derive(Debug, Clone)]
pub struct RunNaming {
    pub users: u32,
    pub user_class: String,
    /// The target's host[:port].
    pub target: String,
}

impl RunNaming {
    /// The target's host[:port] of a URL (never its path, query or credentials).
    pub fn target_of(url: &str) -> String {
        match reqwest::Url::parse(url) {
            Ok(u) => match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => String::new(),
            },
            Err(_) => url.to_string(),
        }
    }
}

/// The exporter as one more display of the run: it keeps the run's cumulative figures and
/// hands each closed second to the scrape board and the push queues.
pub struct ExportMonitor {
    naming: RunNaming,
    run: Option<series::RunState>,
    cluster: series::ClusterState,
    board: Option<Arc<Board>>,
    pushers: Vec<Pusher>,
}

impl ExportMonitor {
    pub fn new(naming: RunNaming, board: Option<Arc<Board>>, pushers: Vec<Pusher>) -> Self {
        Self {
            naming,
            run: None,
            cluster: series::ClusterState::default(),
            board,
            pushers,
        }
    }

    /// Whether it has anywhere to send: a board or a receiver.
    pub fn is_needed(&self) -> bool {
        self.board.is_some() || !self.pushers.is_empty()
    }

    /// Lets the queues drain for at most `deadline`, then says what each receiver missed
    /// (None without receivers).
    pub async fn close(self, deadline: std::time::Duration) -> Option<ExportRecord> {
        if self.pushers.is_empty() {
            return None;
        }
        let closing = self.pushers.into_iter().map(|p| p.close(deadline));
        let receivers = futures::future::join_all(closing).await;
        Some(ExportRecord { receivers })
    }

    fn labels(&self, collector: &Collector) -> RunLabels {
        let stem = iris_record::file_name(
            collector.start_utc(),
            self.naming.users,
            &self.naming.user_class,
        );
        RunLabels {
            run_id: stem.trim_end_matches(".json").to_string(),
            user_class: self.naming.user_class.clone(),
            target: self.naming.target.clone(),
        }
    }

    fn publish(&mut self, exposition: Exposition) {
        let exposition = Arc::new(exposition);
        if let Some(board) = &self.board {
            board.publish(exposition.clone());
        }
        for p in &self.pushers {
            p.offer(exposition.clone());
        }
    }
}

impl Monitor for ExportMonitor {
    fn update(&mut self, _snapshot: &Snapshot) {}
    fn interrupted(&mut self) {}
    fn finish(&mut self) {}

    fn cluster(&mut self, now: &ClusterSecond) {
        self.cluster.watched = true;
        self.cluster.second = Some(now.clone());
    }

    fn cluster_event(&mut self, event: &ClusterEvent) {
        self.cluster.event(&event.kind);
    }

    fn second_closed(&mut self, point: &TimelinePoint, collector: &Collector) {
        if self.run.is_none() {
            self.run = Some(series::RunState {
                labels: self.labels(collector),
                start: collector.start_utc(),
                load: series::LoadState::default(),
            });
        }
        let Some(run) = self.run.as_mut() else {
            return;
        };
        run.load.second_closed(point, collector);
        let exposition = run.exposition(&self.cluster, point.time);
        self.publish(exposition);
    }
}

impl series::ClusterState {
    /// What a watch event changes: pods' usage and requests, pods gone, scale-ups.
    pub fn event(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Top { pods } => {
                for usage in pods {
                    let pod = self.pods.entry(usage.pod.clone()).or_default();
                    pod.cpu_millis = Some(usage.cpu_millis);
                    pod.memory_bytes = Some(usage.memory_bytes);
                }
            }
            EventKind::PodFacts { pod, facts } => {
                let p = self.pods.entry(pod.clone()).or_default();
                p.cpu_request_millis = facts.resources.cpu_request_millis();
                p.memory_request_bytes = facts.resources.memory_request_bytes();
            }
            EventKind::PodDeleted { pod } => {
                self.pods.remove(pod);
            }
            EventKind::HpaReplicas { from, current, .. } if current > from => {
                self.scale_ups += 1;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;

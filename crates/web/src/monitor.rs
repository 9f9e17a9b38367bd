//! The page as one more consumer of the pipeline's one-way flow (oha style): a [`Monitor`]
//! that hands each closed second to the [`Hub`], and [`Tee`] to keep the terminal's display
//! beside it in `load --web`.

use std::sync::Arc;

use super::hub::Hub;
use super::run::{FailureRow, Row};
use iris_cluster::watch::ClusterEvent;
use iris_output as output;
use iris_pipeline::{Monitor, RunNote};
use iris_record::TimelinePoint;
use iris_record::cluster::ClusterSecond;
use iris_stats::{Collector, Snapshot};

/// Tells the hub about run `id`.
pub struct WebMonitor {
    hub: Arc<Hub>,
    id: u32,
}

impl WebMonitor {
    pub fn new(hub: Arc<Hub>, id: u32) -> Self {
        Self { hub, id }
    }
}

impl Monitor for WebMonitor {
    fn update(&mut self, _snapshot: &Snapshot) {}

    fn interrupted(&mut self) {
        self.hub.stopping(self.id);
    }

    fn finish(&mut self) {}

    fn note(&mut self, note: &RunNote) {
        let cluster = matches!(
            note,
            RunNote::ClusterWatched(_) | RunNote::ClusterNotWatched { .. }
        );
        let text = output::render_run_note(note).trim().to_string();
        self.hub.note(self.id, text, cluster);
    }

    fn cluster_event(&mut self, event: &ClusterEvent) {
        self.hub.cluster_event(self.id, event);
    }

    fn second_closed(&mut self, point: &TimelinePoint, collector: &Collector) {
        let rows = collector.live_rows().iter().map(Row::of).collect();
        let failures = collector
            .failure_records()
            .iter()
            .map(FailureRow::of)
            .collect();
        self.hub.second(self.id, point, rows, Some(failures));
    }

    fn merged_second(&mut self, point: &TimelinePoint) {
        self.hub
            .second(self.id, point, vec![Row::aggregate_of(point)], None);
    }

    fn worker_second(&mut self, index: u32, point: &TimelinePoint) {
        self.hub.worker(self.id, index, |w| w.second(point));
    }

    fn worker_ended(&mut self, index: u32, lost: Option<&str>) {
        self.hub.worker(self.id, index, |w| w.ended(lost));
    }
}

/// Two monitors told the same things: the terminal's display and the page.
pub struct Tee<'a> {
    pub first: &'a mut (dyn Monitor + Send),
    pub second: &'a mut (dyn Monitor + Send),
}

impl Monitor for Tee<'_> {
    fn update(&mut self, snapshot: &Snapshot) {
        self.first.update(snapshot);
        self.second.update(snapshot);
    }

    fn interrupted(&mut self) {
        self.first.interrupted();
        self.second.interrupted();
    }

    fn finish(&mut self) {
        self.first.finish();
        self.second.finish();
    }

    fn cluster(&mut self, now: &ClusterSecond) {
        self.first.cluster(now);
        self.second.cluster(now);
    }

    fn cluster_event(&mut self, event: &ClusterEvent) {
        self.first.cluster_event(event);
        self.second.cluster_event(event);
    }

    fn note(&mut self, note: &RunNote) {
        self.first.note(note);
        self.second.note(note);
    }

    fn second_closed(&mut self, point: &TimelinePoint, collector: &Collector) {
        self.first.second_closed(point, collector);
        self.second.second_closed(point, collector);
    }

    fn merged_second(&mut self, point: &TimelinePoint) {
        self.first.merged_second(point);
        self.second.merged_second(point);
    }

    fn worker_second(&mut self, index: u32, point: &TimelinePoint) {
        self.first.worker_second(index, point);
        self.second.worker_second(index, point);
    }

    fn worker_ended(&mut self, index: u32, lost: Option<&str>) {
        self.first.worker_ended(index, lost);
        self.second.worker_ended(index, lost);
    }
}

//! One run as the page shows it: Locust's Statistics rows, the failures, the cluster, the
//! charts' series; live while the run goes, the record's once it ended.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::cluster::{ClusterView, Fresh};
use super::series::{Marker, Point, Series};
use iris_output::{self as output, Style};
use iris_record::cluster::ClusterSecond;
use iris_record::{EndpointRecord, FailureRecord, Percentile, RunRecord, RunStatus, TimelinePoint};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Starting,
    Running,
    Stopping,
    /// Ended at its time limit: the record's `completed`.
    Completed,
    /// Stopped before it (the page's Stop, Ctrl-C): the record's `interrupted`.
    Interrupted,
    Failed,
}

/// A row of Locust's Statistics tab (times in ms, sizes in bytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub median: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    pub avg_size: f64,
    pub current_rps: f64,
    pub current_fps: f64,
}

impl Row {
    pub fn of(e: &EndpointRecord) -> Self {
        Self {
            method: e.method.clone(),
            name: e.name.clone(),
            requests: e.requests,
            failures: e.failures,
            median: e.percentile(Percentile::P50),
            p95: e.percentile(Percentile::P95),
            p99: e.percentile(Percentile::P99),
            avg: e.avg_ms,
            min: e.min_ms,
            max: e.max_ms,
            avg_size: e.avg_content_size,
            current_rps: e.current_rps,
            current_fps: e.current_failures_per_s,
        }
    }

    /// The aggregate row of a merged second (a distributed run: no per-endpoint live rows).
    pub fn aggregate_of(p: &TimelinePoint) -> Self {
        let total = |q: Percentile| {
            let i = Percentile::ALL.iter().position(|x| *x == q)?;
            p.total_percentiles_ms.get(i).copied()
        };
        Self {
            method: String::new(),
            name: "Aggregated".into(),
            requests: p.total_requests,
            failures: p.total_failures,
            median: total(Percentile::P50),
            p95: total(Percentile::P95),
            p99: total(Percentile::P99),
            avg: p.total_avg_ms,
            min: p.total_min_ms,
            max: p.total_max_ms,
            avg_size: p.total_avg_content_size,
            current_rps: p.rps,
            current_fps: p.failures_per_s,
        }
    }
}

/// A row of the Failures tab.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRow {
    pub method: String,
    pub name: String,
    /// The failure's kind (`status`, `timeout`...) and its words.
    pub kind: String,
    pub error: String,
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

impl FailureRow {
    pub fn of(f: &FailureRecord) -> Self {
        let kind = serde_json::to_value(&f.reason)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(String::from))
            .unwrap_or_default();
        Self {
            method: f.method.clone(),
            name: f.name.clone(),
            kind,
            error: f.reason.to_string(),
            count: f.count,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
        }
    }
}

/// One worker of a distributed run: its latest second's figures and when it sent them.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRow {
    pub index: u32,
    /// `running`, `ended` or `lost`.
    pub state: &'static str,
    /// Why it was lost.
    pub reason: Option<String>,
    pub users: u32,
    pub rps: f64,
    pub failures: u64,
    pub requests: u64,
    /// When its last second arrived (the page shows the age).
    pub last_report: Option<Timestamp>,
}

impl WorkerRow {
    pub fn new(index: u32) -> Self {
        Self {
            index,
            state: "running",
            reason: None,
            users: 0,
            rps: 0.0,
            failures: 0,
            requests: 0,
            last_report: None,
        }
    }

    /// The worker's own second.
    pub fn second(&mut self, point: &TimelinePoint) {
        self.users = point.users;
        self.rps = point.rps;
        self.failures = point.total_failures;
        self.requests = point.total_requests;
        self.last_report = Some(Timestamp::now());
    }

    pub fn ended(&mut self, lost: Option<&str>) {
        self.state = if lost.is_some() { "lost" } else { "ended" };
        self.reason = lost.map(String::from);
        self.users = 0;
    }
}

/// Everything about a run but its series: what each tick of the feed carries.
#[derive(Debug, Clone, Serialize)]
pub struct Head {
    pub id: u32,
    pub status: Status,
    pub error: Option<String>,
    pub host: String,
    pub class: String,
    pub users: u32,
    pub target_users: u32,
    pub spawn_rate: f64,
    /// The users can be changed while it runs (the closed model, one process).
    pub changeable: bool,
    /// The page can stop it (one process; distributed runs stop with Ctrl-C).
    pub stoppable: bool,
    pub started_at: Timestamp,
    pub elapsed_s: f64,
    pub rows: Vec<Row>,
    pub failures: Vec<FailureRow>,
    /// The cluster now, as `load` prints it, and whether it is watched (or why not).
    pub cluster_now: Option<ClusterSecond>,
    pub cluster_line: Option<String>,
    pub cluster_watched: Option<String>,
    /// A distributed run's workers, as Locust's Workers tab lists them.
    pub workers: Vec<WorkerRow>,
    pub notes: Vec<String>,
    /// Once finished: the record's path, and its phases and cluster summary as `load`
    /// prints them.
    pub record: Option<PathBuf>,
    pub phases_text: Option<String>,
    pub cluster_text: Option<String>,
}

/// A run: its head, its charts, and its record once saved.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    #[serde(flatten)]
    pub head: Head,
    pub series: Series,
    /// The Cluster tab's pod lines, HPA and Events.
    pub cluster: ClusterView,
    #[serde(skip)]
    pub saved: Option<Arc<RunRecord>>,
}

/// What a second adds to a page that has the run already.
#[derive(Debug, Serialize)]
pub struct Tick<'a> {
    pub run: &'a Head,
    pub generation: u32,
    pub point: Option<Point>,
    pub markers: Vec<Marker>,
    /// The cluster's lines since the last tick.
    pub cluster: Fresh,
}

/// How a run is described when it starts.
#[derive(Debug, Clone)]
pub struct Start {
    pub host: String,
    pub class: String,
    pub users: u32,
    pub spawn_rate: f64,
    pub changeable: bool,
    pub stoppable: bool,
}

impl Start {
    /// A run of `plan` against `site`'s host; `distributed` runs are neither changed nor
    /// stopped from the page.
    pub fn of(
        plan: &iris_pipeline::RunPlan,
        site: &iris_pipeline::RunSite,
        distributed: bool,
    ) -> Self {
        let load = &plan.load;
        Self {
            host: site.host.to_string(),
            class: load.class.name.clone(),
            users: load.users,
            spawn_rate: load.spawn_rate,
            changeable: load.open.is_none() && !distributed,
            stoppable: !distributed,
        }
    }
}

impl RunView {
    pub fn new(id: u32, start: Start) -> Self {
        Self {
            head: Head {
                id,
                status: Status::Starting,
                error: None,
                host: start.host,
                class: start.class,
                users: 0,
                target_users: start.users,
                spawn_rate: start.spawn_rate,
                changeable: start.changeable,
                stoppable: start.stoppable,
                started_at: Timestamp::now(),
                elapsed_s: 0.0,
                rows: Vec::new(),
                failures: Vec::new(),
                cluster_now: None,
                cluster_line: None,
                cluster_watched: None,
                workers: Vec::new(),
                notes: Vec::new(),
                record: None,
                phases_text: None,
                cluster_text: None,
            },
            series: Series::new(),
            cluster: ClusterView::default(),
            saved: None,
        }
    }

    /// A closed second: its point on the charts, the table and failures so far.
    pub fn second(
        &mut self,
        point: &TimelinePoint,
        rows: Vec<Row>,
        failures: Option<Vec<FailureRow>>,
    ) -> Vec<Marker> {
        let h = &mut self.head;
        if h.status == Status::Starting {
            h.status = Status::Running;
        }
        h.users = point.users;
        h.elapsed_s = point.t as f64;
        h.rows = rows;
        if let Some(failures) = failures {
            h.failures = failures;
        }
        if let Some(c) = &point.cluster {
            h.cluster_line = Some(output::cluster_line(c));
            h.cluster_now = Some(c.clone());
        }
        self.series.push(point)
    }

    /// The run ended and its record is saved: the record's figures replace the live ones.
    pub fn finished(&mut self, record: RunRecord, path: PathBuf) {
        let h = &mut self.head;
        h.status = match record.status {
            RunStatus::Completed => Status::Completed,
            RunStatus::Interrupted => Status::Interrupted,
        };
        h.users = 0;
        h.elapsed_s = record.duration_s;
        // Nothing is sent any more: no "current" rate stays on screen after the end.
        h.rows = record
            .endpoints
            .iter()
            .chain([&record.aggregate])
            .map(|e| Row {
                current_rps: 0.0,
                current_fps: 0.0,
                ..Row::of(e)
            })
            .collect();
        h.failures = record.failures.iter().map(FailureRow::of).collect();
        let phases = output::phase_table(&record, Style::plain());
        h.phases_text = (!phases.trim().is_empty()).then_some(phases);
        let cluster = output::cluster_summary(&record);
        h.cluster_text = (!cluster.trim().is_empty()).then_some(cluster);
        h.record = Some(path);
        self.saved = Some(Arc::new(record));
    }
}

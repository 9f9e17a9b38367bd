//! What a controller collects from its workers, wherever they run (local processes or pods):
//! their lines merged second by second, their records, how each ended; then the merged
//! record and one record per worker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use super::{DistributedError, WorkerLine, WorkerNote, split};
use crate::{LoadResult, Monitor, RunError, RunNote, RunPlan, assemble, save};
use iris_base::outcome::Outcome;
use iris_loadgen::LoadPlan;
use iris_record::distributed::{DistributedRecord, Placement, WorkerOutcome, WorkerStatus};
use iris_record::{self as record, JsonlWriter, RunRecord, RunStatus, TimelinePoint, WriteError};
use iris_stats::merge::{LiveMerge, merge_records};

/// A worker that started this late is named.
const LATE_MS: f64 = 250.0;

/// Where a distributed run's results go: the merged record, its timeline, and beside them
/// `<record>.workers/` with each worker's record (and, locally, its log and timeline).
pub struct RunFiles {
    pub record_path: PathBuf,
    pub dir: PathBuf,
    pub timeline: JsonlWriter,
}

impl RunFiles {
    pub fn create(plan: &RunPlan) -> Result<Self, RunError> {
        let out = &plan.out_dir;
        std::fs::create_dir_all(out).map_err(|e| WriteError::new(out.display().to_string(), e))?;
        let record_path = record::new_record_path(
            out,
            Timestamp::now(),
            plan.load.users,
            &plan.load.class.name,
        );
        let dir = record_path.with_extension("workers");
        std::fs::create_dir_all(&dir).map_err(|e| WriteError::new(dir.display().to_string(), e))?;
        let timeline = JsonlWriter::create(record_path.with_extension("jsonl"))?;
        Ok(Self {
            record_path,
            dir,
            timeline,
        })
    }
}

pub struct Collected {
    plan: LoadPlan,
    workers: u32,
    start_at: Timestamp,
    start_delay: Duration,
    merge: LiveMerge,
    points: Vec<TimelinePoint>,
    timeline: JsonlWriter,
    timeline_error: Option<std::io::Error>,
    records: Vec<Option<RunRecord>>,
    skew: Vec<Option<f64>>,
    /// Why a worker may have ended without its record: what it said, or a line it garbled.
    trouble: Vec<Option<String>>,
    lost: Vec<Option<String>>,
    ended: Vec<bool>,
    /// Ctrl-C: the workers were asked to stop.
    pub interrupted: bool,
    /// Where each worker ran: (pod, node), for Kubernetes.
    pub placed: Vec<(Option<String>, Option<String>)>,
    /// Said in the record and the summary (e.g. in-cluster workers and a LoadBalancer).
    pub warnings: Vec<String>,
}

impl Collected {
    pub fn new(plan: &LoadPlan, workers: u32, start_at: Timestamp, timeline: JsonlWriter) -> Self {
        let n = workers as usize;
        let start_delay = std::time::Duration::try_from(start_at.duration_since(Timestamp::now()))
            .unwrap_or_default();
        Self {
            plan: plan.clone(),
            workers,
            start_at,
            start_delay,
            merge: LiveMerge::new(n, plan.users, plan.duration),
            points: Vec::new(),
            timeline,
            timeline_error: None,
            records: vec![None; n],
            skew: vec![None; n],
            trouble: vec![None; n],
            lost: vec![None; n],
            ended: vec![false; n],
            interrupted: false,
            placed: vec![(None, None); n],
            warnings: Vec::new(),
        }
    }

    /// Every worker has ended (sent its record and stopped, or was lost).
    pub fn all_ended(&self) -> bool {
        self.ended.iter().all(|e| *e)
    }

    pub fn start_delay(&self) -> Duration {
        self.start_delay
    }

    pub fn timeline_path(&self) -> PathBuf {
        self.timeline.path.clone()
    }

    fn idx(&self, i: u32) -> Option<usize> {
        (i < self.workers).then_some(i as usize)
    }

    /// One protocol line of worker `i`.
    pub fn line(
        &mut self,
        i: u32,
        line: Result<WorkerLine, serde_json::Error>,
        monitor: &mut (dyn Monitor + Send),
    ) {
        let Some(w) = self.idx(i) else { return };
        match line {
            Err(e) => self.trouble[w] = Some(format!("sent a line that does not decode: {e}")),
            Ok(WorkerLine::Ready { .. }) => {}
            Ok(WorkerLine::Started { skew_ms }) => {
                self.skew[w] = Some(skew_ms);
                if skew_ms > LATE_MS {
                    monitor.note(&RunNote::Workers(WorkerNote::Late { index: i, skew_ms }));
                }
            }
            Ok(WorkerLine::Second(share)) => {
                monitor.worker_second(i, &share.point);
                match self.merge.push(w, *share) {
                    Ok(points) => self.sink(points, monitor),
                    Err(e) => self.trouble[w] = Some(iris_base::chain::one_line(&e)),
                }
            }
            Ok(WorkerLine::Record(r)) => self.records[w] = Some(*r),
            Ok(WorkerLine::Failed { error }) => self.trouble[w] = Some(error),
        }
    }

    /// Worker `i` has ended (`how`: its exit status or the pod's phase).
    pub fn exited(&mut self, i: u32, how: &str, monitor: &mut (dyn Monitor + Send)) {
        let Some(w) = self.idx(i) else { return };
        if self.ended[w] {
            return;
        }
        self.ended[w] = true;
        if self.records[w].is_none() {
            let reason = self.trouble[w]
                .clone()
                .unwrap_or_else(|| format!("ended ({how}) before sending its record"));
            monitor.note(&RunNote::Workers(WorkerNote::Lost {
                index: i,
                reason: reason.clone(),
            }));
            self.lost[w] = Some(reason);
        }
        monitor.worker_ended(i, self.lost[w].as_deref());
        let points = self.merge.worker_ended(w);
        self.sink(points, monitor);
    }

    /// The run outlived its limit: every worker without a record is lost.
    pub fn timed_out(&mut self, monitor: &mut (dyn Monitor + Send)) {
        for i in 0..self.workers {
            let w = i as usize;
            if !self.ended[w] {
                self.exited(
                    i,
                    "did not finish within the run's length and grace",
                    monitor,
                );
            }
        }
    }

    fn sink(&mut self, points: Vec<TimelinePoint>, monitor: &mut (dyn Monitor + Send)) {
        if points.is_empty() {
            return;
        }
        for p in points {
            if self.timeline_error.is_none() {
                self.timeline_error = self.timeline.append(&p).err();
            }
            monitor.merged_second(&p);
            self.points.push(p);
        }
        let elapsed = std::time::Duration::try_from(Timestamp::now().duration_since(self.start_at))
            .unwrap_or_default();
        let stopping = self.interrupted || elapsed >= self.plan.duration;
        monitor.update(&self.merge.snapshot(elapsed, stopping));
    }

    fn outcomes(&self) -> Vec<WorkerOutcome> {
        (0..self.workers)
            .map(|i| {
                let w = i as usize;
                let share = super::share(&self.plan, i, self.workers);
                let (requests, status) = match (&self.records[w], &self.lost[w]) {
                    (Some(r), _) => (
                        r.aggregate.requests,
                        if r.status == RunStatus::Interrupted {
                            WorkerStatus::Interrupted
                        } else {
                            WorkerStatus::Completed
                        },
                    ),
                    (None, reason) => {
                        let seen_s = self.merge.seen_s(w);
                        let missed_s = (self.plan.duration.as_secs_f64() - seen_s as f64).max(0.0);
                        let reason = reason.clone().unwrap_or_else(|| "sent no record".into());
                        (
                            0,
                            WorkerStatus::Lost {
                                reason,
                                seen_s,
                                missed_s,
                            },
                        )
                    }
                };
                WorkerOutcome {
                    index: i,
                    users: split(self.plan.users, self.workers, i),
                    spawn_rate: share.spawn_rate,
                    status,
                    requests,
                    skew_ms: self.skew[w],
                    record: None,
                    pod: self.placed[w].0.clone(),
                    node: self.placed[w].1.clone(),
                }
            })
            .collect()
    }
}

/// Closes the last seconds, saves one record per worker in `dir` and the merged record at
/// `record_path`, with the thresholds judged on the merge.
pub fn finish(
    mut c: Collected,
    plan: &RunPlan,
    host: &reqwest::Url,
    placement: Placement,
    record_path: PathBuf,
    dir: &Path,
    monitor: &mut (dyn Monitor + Send),
) -> Result<LoadResult, RunError> {
    let points = c.merge.flush();
    c.sink(points, monitor);
    monitor.finish();
    if let Some(e) = c.timeline_error.take() {
        monitor.note(&RunNote::TimelineFailed {
            path: c.timeline.path.clone(),
            error: e.to_string(),
        });
    }
    let mut outcomes = c.outcomes();
    for (outcome, r) in outcomes.iter_mut().zip(&c.records) {
        if let Some(r) = r {
            let path = dir.join(format!("worker-{}.json", outcome.index));
            record::save(r, &path)?;
            outcome.record = Some(path);
        }
    }
    let parts: Vec<&RunRecord> = c.records.iter().flatten().collect();
    if parts.is_empty() {
        let lost: Vec<String> = c
            .lost
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| format!("worker {i}: {r}")))
            .collect();
        return Err(DistributedError::NoRecord {
            lost: lost.join("; "),
            timeline: c.timeline.path.clone(),
        }
        .into());
    }
    let mut merged = merge_records(&parts).map_err(DistributedError::from)?;
    merged.label = plan.label.clone();
    merged.target = host.to_string();
    merged.params.users = plan.load.users;
    merged.params.spawn_rate = plan.load.spawn_rate;
    merged.timeline = std::mem::take(&mut c.points);
    merged.thresholds = assemble::thresholds(&plan.thresholds, &merged.aggregate);
    if c.interrupted {
        merged.status = RunStatus::Interrupted;
    }
    let lost = outcomes
        .iter()
        .any(|o| matches!(o.status, WorkerStatus::Lost { .. }));
    merged.distributed = Some(DistributedRecord {
        placement,
        start_at: c.start_at,
        workers: outcomes,
        warnings: c.warnings.clone(),
    });
    let jsonl = c.timeline.path.clone();
    let mut result = save(merged, record_path, jsonl, plan, 0)?;
    if lost && result.outcome == Outcome::Success {
        result.outcome = Outcome::Failed;
    }
    Ok(result)
}

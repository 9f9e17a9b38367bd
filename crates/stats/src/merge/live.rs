//! The seconds of several workers merged as they arrive: one merged [`TimelinePoint`] a
//! second, with exact percentiles (each worker sends its second's histogram).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{MergeError, add_encoded, ms_to_us};
use crate::{Snapshot, WINDOW_SECS, new_histogram, percentile_ms, window_percentiles};
use iris_record::{Percentile, SecondPhases, TimelinePoint};

/// One closed second of one worker: its timeline point and the histogram of that second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondShare {
    pub point: TimelinePoint,
    /// The second's response times (us), HdrHistogram V2 base64.
    pub histogram: String,
    /// The second's exact slowest response, us.
    pub max_us: u64,
}

/// A worker's second waiting for the others'.
struct Part {
    point: TimelinePoint,
    hist: Histogram<u64>,
    max_us: u64,
}

/// A second closes when every worker still running has sent it, or when one is this far
/// ahead (a worker that stalls does not freeze the display).
const LAG_SECS: u64 = 3;

/// Merges the seconds of `workers` workers into one timeline.
pub struct LiveMerge {
    ended: Vec<bool>,
    /// The last second each worker sent.
    sent: Vec<u64>,
    /// Each worker's point in the last closed second it took part in (its running totals).
    closed: Vec<Option<TimelinePoint>>,
    pending: BTreeMap<u64, Vec<Option<Part>>>,
    recent: VecDeque<Histogram<u64>>,
    total: Histogram<u64>,
    last: Option<TimelinePoint>,
    target_users: u32,
    duration: Duration,
}

/// The workers' parts of one second, added up.
struct SecondSum {
    hist: Histogram<u64>,
    max_us: u64,
    users: u32,
    requests: u64,
    failures: u64,
    rps: f64,
    failures_per_s: f64,
    time: Option<jiff::Timestamp>,
    phases: Vec<(SecondPhases, u64)>,
    arrivals: Vec<iris_record::shape::ArrivalSecond>,
}

/// The run's totals so far, over all workers.
struct RunTotals {
    percentiles_ms: Vec<f64>,
    requests: u64,
    failures: u64,
    median_ms: f64,
    avg_ms: f64,
    min_ms: f64,
    max_ms: f64,
    avg_content_size: f64,
}

impl LiveMerge {
    pub fn new(workers: usize, target_users: u32, duration: Duration) -> Self {
        Self {
            ended: vec![false; workers],
            sent: vec![0; workers],
            closed: vec![None; workers],
            pending: BTreeMap::new(),
            recent: VecDeque::with_capacity(WINDOW_SECS),
            total: new_histogram(),
            last: None,
            target_users,
            duration,
        }
    }

    /// Takes one worker's second; returns the merged seconds that closed.
    pub fn push(
        &mut self,
        worker: usize,
        share: SecondShare,
    ) -> Result<Vec<TimelinePoint>, MergeError> {
        let workers = self.ended.len();
        if worker >= workers {
            return Ok(Vec::new());
        }
        let mut hist = new_histogram();
        add_encoded(
            &mut hist,
            &format!("worker {worker}, second {}", share.point.t),
            &share.histogram,
        )?;
        let t = share.point.t;
        self.sent[worker] = self.sent[worker].max(t);
        let slots = self
            .pending
            .entry(t)
            .or_insert_with(|| (0..workers).map(|_| None).collect());
        slots[worker] = Some(Part {
            point: share.point,
            hist,
            max_us: share.max_us,
        });
        Ok(self.close_ready(false))
    }

    /// A worker has stopped sending (finished, or lost): no second waits for it any more.
    pub fn worker_ended(&mut self, worker: usize) -> Vec<TimelinePoint> {
        if let Some(e) = self.ended.get_mut(worker) {
            *e = true;
        }
        self.close_ready(false)
    }

    /// Closes every second still waiting.
    pub fn flush(&mut self) -> Vec<TimelinePoint> {
        self.close_ready(true)
    }

    fn ready(&self, t: u64, slots: &[Option<Part>]) -> bool {
        let ahead = self.sent.iter().copied().max().unwrap_or(0) >= t + LAG_SECS;
        ahead
            || slots
                .iter()
                .enumerate()
                .all(|(w, part)| part.is_some() || self.ended[w] || self.sent[w] > t)
    }

    fn close_ready(&mut self, all: bool) -> Vec<TimelinePoint> {
        let mut closed = Vec::new();
        while let Some((&t, slots)) = self.pending.first_key_value() {
            if !all && !self.ready(t, slots) {
                break;
            }
            if let Some(parts) = self.pending.remove(&t) {
                closed.push(self.close(t, parts));
            }
        }
        closed
    }

    fn close(&mut self, t: u64, parts: Vec<Option<Part>>) -> TimelinePoint {
        let second = self.add_parts(parts);
        let totals = self.run_totals();
        let percentile =
            |q: f64| (second.requests > 0).then(|| percentile_ms(&second.hist, second.max_us, q));
        let point = TimelinePoint {
            t,
            time: second.time.unwrap_or_else(jiff::Timestamp::now),
            users: second.users,
            requests: second.requests,
            failures: second.failures,
            rps: second.rps,
            failures_per_s: second.failures_per_s,
            p50_ms: percentile(0.5),
            p95_ms: percentile(0.95),
            p99_ms: percentile(0.99),
            percentiles_ms: window_percentiles(&self.recent),
            total_percentiles_ms: totals.percentiles_ms,
            total_requests: totals.requests,
            total_failures: totals.failures,
            total_median_ms: totals.median_ms,
            total_avg_ms: totals.avg_ms,
            total_min_ms: totals.min_ms,
            total_max_ms: totals.max_ms,
            total_avg_content_size: totals.avg_content_size,
            cluster: None,
            phases: merge_second_phases(&second.phases),
            arrivals: super::arrivals::merge_second(&second.arrivals.iter().collect::<Vec<_>>()),
            // Workers send the second's histogram of all requests only.
            endpoints: Vec::new(),
            extensions: BTreeMap::new(),
        };
        self.last = Some(point.clone());
        point
    }

    /// Adds the workers' parts of one second (each worker's point becomes its latest), and the
    /// second's histogram to the run's and the window's.
    fn add_parts(&mut self, parts: Vec<Option<Part>>) -> SecondSum {
        let mut sum = SecondSum {
            hist: new_histogram(),
            max_us: 0,
            users: 0,
            requests: 0,
            failures: 0,
            rps: 0.0,
            failures_per_s: 0.0,
            time: None,
            phases: Vec::new(),
            arrivals: Vec::new(),
        };
        for (w, part) in parts.into_iter().enumerate() {
            let Some(part) = part else { continue };
            if let Some(sp) = &part.point.phases {
                sum.phases.push((sp.clone(), part.point.requests));
            }
            if let Some(a) = &part.point.arrivals {
                sum.arrivals.push(a.clone());
            }
            // Same bounds everywhere: adding cannot fail.
            let _ = sum.hist.add(&part.hist);
            sum.max_us = sum.max_us.max(part.max_us);
            let p = &part.point;
            sum.users += p.users;
            sum.requests += p.requests;
            sum.failures += p.failures;
            sum.rps += p.rps;
            sum.failures_per_s += p.failures_per_s;
            sum.time = sum.time.max(Some(p.time));
            self.closed[w] = Some(part.point);
        }
        let _ = self.total.add(&sum.hist);
        if self.recent.len() == WINDOW_SECS {
            self.recent.pop_front();
        }
        self.recent.push_back(sum.hist.clone());
        sum
    }

    /// The run so far over all workers: their latest totals, weighted by their requests, and
    /// the percentiles of the run's merged histogram.
    fn run_totals(&self) -> RunTotals {
        let totals: Vec<&TimelinePoint> = self.closed.iter().flatten().collect();
        let total_requests: u64 = totals.iter().map(|p| p.total_requests).sum();
        let measured: Vec<&&TimelinePoint> =
            totals.iter().filter(|p| p.total_requests > 0).collect();
        let weighted = |f: fn(&TimelinePoint) -> f64| {
            if total_requests == 0 {
                0.0
            } else {
                measured
                    .iter()
                    .map(|p| f(p) * p.total_requests as f64)
                    .sum::<f64>()
                    / total_requests as f64
            }
        };
        let max_ms = measured.iter().map(|p| p.total_max_ms).fold(0.0, f64::max);
        let max_us = ms_to_us(max_ms);
        RunTotals {
            percentiles_ms: if total_requests == 0 {
                Vec::new()
            } else {
                Percentile::ALL
                    .iter()
                    .map(|p| percentile_ms(&self.total, max_us, p.fraction()))
                    .collect()
            },
            requests: total_requests,
            failures: totals.iter().map(|p| p.total_failures).sum(),
            median_ms: if total_requests == 0 {
                0.0
            } else {
                percentile_ms(&self.total, max_us, 0.5)
            },
            avg_ms: weighted(|p| p.total_avg_ms),
            min_ms: measured
                .iter()
                .map(|p| p.total_min_ms)
                .reduce(f64::min)
                .unwrap_or(0.0),
            max_ms,
            avg_content_size: weighted(|p| p.total_avg_content_size),
        }
    }

    /// What the live display shows: the last merged second.
    pub fn snapshot(&self, elapsed: Duration, stopping: bool) -> Snapshot {
        let last = self.last.as_ref();
        Snapshot {
            elapsed,
            duration: self.duration,
            users: last.map_or(0, |p| p.users),
            target_users: self.target_users,
            requests: last.map_or(0, |p| p.total_requests),
            failures: last.map_or(0, |p| p.total_failures),
            rps: last.map_or(0.0, |p| p.rps),
            p50_ms: last.and_then(|p| p.p50_ms),
            p95_ms: last.and_then(|p| p.p95_ms),
            p99_ms: last.and_then(|p| p.p99_ms),
            stopping,
        }
    }

    /// The last second each worker sent (0: none yet).
    pub fn seen_s(&self, worker: usize) -> u64 {
        self.sent.get(worker).copied().unwrap_or(0)
    }
}

/// The workers' connections of one second: the counts add up; each median is the workers'
/// medians weighted by how many values each stands for. An estimate, the one figure of a merged
/// second that is not exact: exact medians would need each second's phase histograms on the
/// workers' lines, for three figures of the live display and the timeline.
fn merge_second_phases(parts: &[(SecondPhases, u64)]) -> Option<SecondPhases> {
    if parts.is_empty() {
        return None;
    }
    let weighted = |get: fn(&SecondPhases) -> Option<f64>,
                    weight: fn(&SecondPhases, u64) -> u64| {
        let (sum, n) = parts
            .iter()
            .filter_map(|(p, requests)| get(p).map(|v| (v, weight(p, *requests))))
            .fold((0.0, 0u64), |(s, n), (v, w)| (s + v * w as f64, n + w));
        (n > 0).then(|| sum / n as f64)
    };
    Some(SecondPhases {
        new_connections: parts.iter().map(|(p, _)| p.new_connections).sum(),
        connect_p50_ms: weighted(|p| p.connect_p50_ms, |p, _| p.new_connections),
        new_waiting_p50_ms: weighted(|p| p.new_waiting_p50_ms, |p, _| p.new_connections),
        waiting_p50_ms: weighted(|p| p.waiting_p50_ms, |_, requests| requests),
    })
}

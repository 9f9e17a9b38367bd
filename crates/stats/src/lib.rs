//! The only owner of histograms and counters. [`Collector`] consumes the engine's events and
//! keeps per-endpoint and aggregated statistics, the per-second timeline, failures grouped by
//! typed reason, server-reported timings and the slowest trace ids. Memory does not grow with
//! the number of requests (only with the number of seconds).

mod arrivals;
pub mod csv;
mod entry;
pub mod merge;
pub mod phases;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Duration;

use hdrhistogram::Histogram;
use jiff::Timestamp;
use tokio::time::Instant;

pub use entry::{
    Entry, decode_histogram, distribution, encode_histogram, locust_bucket, new_histogram,
    percentile_ms,
};
use iris_api::Failure;
use iris_loadgen::{Event, OpenModel, Ramp, Sample, SwarmChange};
use iris_record::{
    EndpointRecord, EndpointSecond, FailureRecord, Percentile, PhasesRecord, SAMPLED_KEPT,
    SampledRequest, ServerTimings, SlowTrace, SlowestRecord, SteadyState, TimelinePoint,
};

/// How many slowest requests are kept per endpoint.
pub const SLOWEST_KEPT: usize = 10;
/// The window of the "current" rates, in seconds (as Locust's current RPS).
pub const WINDOW_SECS: usize = 10;

#[derive(Debug, Clone)]
struct FailureCount {
    count: u64,
    first: Timestamp,
    last: Timestamp,
}

/// Requests and failures of the last [`WINDOW_SECS`] closed seconds.
#[derive(Debug, Clone, Default)]
struct Window {
    seconds: VecDeque<(u64, u64)>,
    /// Totals when the last second closed.
    mark: (u64, u64),
}

impl Window {
    /// Closes a second in which the totals reached `(requests, failures)`.
    fn close(&mut self, requests: u64, failures: u64) {
        if self.seconds.len() == WINDOW_SECS {
            self.seconds.pop_front();
        }
        self.seconds
            .push_back((requests - self.mark.0, failures - self.mark.1));
        self.mark = (requests, failures);
    }

    /// (requests/s, failures/s) over the window.
    fn rates(&self) -> (f64, f64) {
        let secs = self.seconds.len().max(1) as f64;
        let (r, f) = self
            .seconds
            .iter()
            .fold((0, 0), |(r, f), (a, b)| (r + a, f + b));
        (r as f64 / secs, f as f64 / secs)
    }
}

/// What the live display shows, once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub duration: Duration,
    pub users: u32,
    pub target_users: u32,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub stopping: bool,
}

impl Snapshot {
    pub fn failure_ratio(&self) -> f64 {
        iris_record::failure_ratio(self.failures, self.requests)
    }
}

/// Locust's eleven percentiles over a window of seconds' histograms (empty without values).
pub fn window_percentiles<'a>(seconds: impl IntoIterator<Item = &'a Histogram<u64>>) -> Vec<f64> {
    let mut merged = new_histogram();
    for h in seconds {
        // Same bounds for every histogram here: adding cannot fail.
        let _ = merged.add(h);
    }
    if merged.is_empty() {
        return Vec::new();
    }
    let max = merged.max();
    Percentile::ALL
        .iter()
        .map(|p| merged.value_at_quantile(p.fraction()).min(max) as f64 / 1e3)
        .collect()
}

/// The statistics of one run.
pub struct Collector {
    endpoints: Vec<(String, String)>,
    entries: Vec<Entry>,
    total: Entry,
    /// Requests that finished in the current second.
    second: Entry,
    /// The same, per endpoint.
    endpoint_seconds: Vec<Entry>,
    /// Histograms of the last `WINDOW_SECS` closed seconds: Locust's "current" percentiles.
    recent: VecDeque<Histogram<u64>>,
    /// The current rates, in aggregate and per endpoint.
    window: Window,
    windows: Vec<Window>,
    failures: BTreeMap<(usize, Failure), FailureCount>,
    /// Where requests' time went, per endpoint; also the server's reported timings (its
    /// `server` and `model` histograms), which [`Collector::server_timings`] adds up.
    phases: phases::PhaseStats,
    slowest: Vec<BinaryHeap<Reverse<(u64, u128)>>>,
    sampled: Vec<SampledRequest>,
    users: u32,
    target_users: u32,
    duration: Duration,
    start: Instant,
    start_utc: Timestamp,
    spawn_complete: Option<Duration>,
    /// Requests between the last user's start and the stop: the steady state.
    steady: Option<Entry>,
    stopping: Option<Duration>,
    timeline: Vec<TimelinePoint>,
    last_tick: u64,
    /// The exact maximum of the last closed second, in microseconds (see [`merge::SecondShare`]).
    last_second_max_us: u64,
    /// The open model's arrivals, when the run has them.
    arrivals: Option<arrivals::Arrivals>,
    /// Changes of the users' target during the run, in order.
    swarms: Vec<SwarmChange>,
}

impl Collector {
    pub fn new(
        endpoints: Vec<(String, String)>,
        target_users: u32,
        duration: Duration,
        start: Instant,
        start_utc: Timestamp,
    ) -> Self {
        let n = endpoints.len();
        Self {
            entries: (0..n).map(|_| Entry::new()).collect(),
            slowest: vec![BinaryHeap::new(); n],
            sampled: Vec::new(),
            endpoints,
            total: Entry::new(),
            second: Entry::new(),
            endpoint_seconds: (0..n).map(|_| Entry::new()).collect(),
            recent: VecDeque::with_capacity(WINDOW_SECS),
            window: Window::default(),
            windows: vec![Window::default(); n],
            failures: BTreeMap::new(),
            phases: phases::PhaseStats::new(n),
            users: 0,
            target_users,
            duration,
            start,
            start_utc,
            spawn_complete: None,
            steady: None,
            stopping: None,
            timeline: Vec::new(),
            last_tick: 0,
            last_second_max_us: 0,
            arrivals: None,
            swarms: Vec::new(),
        }
    }

    /// Changes of the users' target during the run (from the web page), in order.
    pub fn swarm_changes(&self) -> &[SwarmChange] {
        &self.swarms
    }

    /// A run of the open model: counts arrivals against `ramp`, and keeps the service time
    /// beside the corrected latency.
    pub fn with_arrivals(mut self, model: OpenModel, ramp: Ramp) -> Self {
        self.arrivals = Some(arrivals::Arrivals::new(model, ramp));
        self
    }

    pub fn endpoints(&self) -> &[(String, String)] {
        &self.endpoints
    }

    /// Each endpoint's cumulative statistics so far, in the order of [`Collector::endpoints`].
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Request(sample) => self.record(sample),
            Event::Users(n) => self.users = n,
            Event::Arrivals { sent, dropped } => {
                if let Some(a) = self.arrivals.as_mut() {
                    a.count(sent, dropped);
                }
            }
            Event::SpawnComplete => {
                self.spawn_complete = Some(self.start.elapsed());
                self.steady = Some(Entry::new());
            }
            Event::Stopping => {
                self.stopping = Some(self.start.elapsed());
            }
            Event::Swarm(change) => {
                self.target_users = change.swarm.users;
                self.swarms.push(change);
            }
        }
    }

    fn record(&mut self, s: Sample) {
        let Some(entry) = self.entries.get_mut(s.endpoint) else {
            return;
        };
        let to_us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let failed = s.outcome.is_err();
        // The open model counts from the intended arrival (corrected); the service time from
        // the send is kept beside it.
        let us = match s.lag {
            Some(lag) => {
                if let Some(a) = self.arrivals.as_mut() {
                    a.service(to_us(s.latency), s.bytes, failed);
                }
                to_us(lag + s.latency)
            }
            None => to_us(s.latency),
        };
        entry.record(us, s.bytes, failed);
        self.endpoint_seconds[s.endpoint].record(us, s.bytes, failed);
        self.total.record(us, s.bytes, failed);
        self.second.record(us, s.bytes, failed);
        if let Some(steady) = self.steady.as_mut().filter(|_| self.stopping.is_none()) {
            steady.record(us, s.bytes, failed);
        }
        if s.sampled && self.sampled.len() < SAMPLED_KEPT {
            let (method, name) = &self.endpoints[s.endpoint];
            let sent = self.start.elapsed().saturating_sub(s.latency);
            self.sampled.push(SampledRequest {
                trace_id: format!("{:032x}", s.trace_id),
                endpoint: format!("{method} {name}"),
                start_s: sent.as_secs_f64(),
                latency_ms: s.latency.as_secs_f64() * 1e3,
            });
        }
        let heap = &mut self.slowest[s.endpoint];
        if heap.len() < SLOWEST_KEPT {
            heap.push(Reverse((us, s.trace_id)));
        } else if heap.peek().is_some_and(|Reverse((min, _))| us > *min) {
            heap.pop();
            heap.push(Reverse((us, s.trace_id)));
        }
        self.phases.record(
            s.endpoint,
            &s.phases,
            s.outcome.as_ref().ok().copied().flatten(),
        );
        if let Err(failure) = s.outcome {
            let now = Timestamp::now();
            self.failures
                .entry((s.endpoint, failure))
                .and_modify(|f| {
                    f.count += 1;
                    f.last = now;
                })
                .or_insert(FailureCount {
                    count: 1,
                    first: now,
                    last: now,
                });
        }
    }

    /// Ends the current second: returns its timeline point (also kept for the record).
    pub fn close_second(&mut self) -> TimelinePoint {
        let elapsed = self.start.elapsed();
        let t = (elapsed.as_secs_f64().round() as u64).max(self.last_tick + 1);
        self.last_tick = t;
        self.window.close(self.total.requests, self.total.failures);
        for (w, e) in self.windows.iter_mut().zip(&self.entries) {
            w.close(e.requests, e.failures);
        }
        let (rps, failures_per_s) = self.window.rates();
        if self.recent.len() == WINDOW_SECS {
            self.recent.pop_front();
        }
        self.recent.push_back(self.second.hist.clone());
        let some = |v: f64| (self.second.requests > 0).then_some(v);
        let point = TimelinePoint {
            t,
            time: Timestamp::now(),
            users: self.users,
            requests: self.second.requests,
            failures: self.second.failures,
            rps,
            failures_per_s,
            p50_ms: some(self.second.percentile_ms(0.5)),
            p95_ms: some(self.second.percentile_ms(0.95)),
            p99_ms: some(self.second.percentile_ms(0.99)),
            percentiles_ms: self.window_percentiles(),
            total_percentiles_ms: if self.total.requests == 0 {
                Vec::new()
            } else {
                Percentile::ALL
                    .iter()
                    .map(|&p| self.total.percentile_ms(p.fraction()))
                    .collect()
            },
            total_requests: self.total.requests,
            total_failures: self.total.failures,
            total_median_ms: self.total.percentile_ms(0.5),
            total_avg_ms: self.total.avg_ms(),
            total_min_ms: self.total.min_ms(),
            total_max_ms: self.total.max_ms(),
            total_avg_content_size: self.total.avg_size(),
            cluster: None,
            phases: Some(self.phases.close_second()),
            arrivals: self
                .arrivals
                .as_mut()
                .map(|a| a.close_second(elapsed.as_secs_f64())),
            endpoints: self.close_endpoint_seconds(),
            extensions: BTreeMap::new(),
        };
        self.last_second_max_us = self.second.max_us();
        self.second.reset();
        self.timeline.push(point.clone());
        point
    }

    /// Each endpoint's part of the second that closes (endpoints without requests left out).
    fn close_endpoint_seconds(&mut self) -> Vec<EndpointSecond> {
        let mut out = Vec::new();
        for ((method, name), e) in self.endpoints.iter().zip(&mut self.endpoint_seconds) {
            if e.requests > 0 {
                out.push(EndpointSecond {
                    method: method.clone(),
                    name: name.clone(),
                    requests: e.requests,
                    failures: e.failures,
                    p50_ms: Some(e.percentile_ms(0.5)),
                    p95_ms: Some(e.percentile_ms(0.95)),
                    p99_ms: Some(e.percentile_ms(0.99)),
                });
                e.reset();
            }
        }
        out
    }

    /// Locust's eleven percentiles over the last `WINDOW_SECS` seconds (empty without requests).
    fn window_percentiles(&self) -> Vec<f64> {
        window_percentiles(&self.recent)
    }

    /// Whether requests finished since the last closed second.
    pub fn second_has_data(&self) -> bool {
        self.second.requests > 0
    }

    pub fn snapshot(&self) -> Snapshot {
        let last = self.timeline.last();
        Snapshot {
            elapsed: self.start.elapsed(),
            duration: self.duration,
            users: self.users,
            target_users: self.target_users,
            requests: self.total.requests,
            failures: self.total.failures,
            rps: last.map_or(0.0, |p| p.rps),
            p50_ms: last.and_then(|p| p.p50_ms),
            p95_ms: last.and_then(|p| p.p95_ms),
            p99_ms: last.and_then(|p| p.p99_ms),
            stopping: self.stopping.is_some(),
        }
    }

    /// Seconds from the start to the stop (or to now, if the run did not say it stopped).
    pub fn run_secs(&self) -> f64 {
        self.stopping
            .unwrap_or_else(|| self.start.elapsed())
            .as_secs_f64()
    }

    pub fn spawn_complete_secs(&self) -> Option<f64> {
        self.spawn_complete.map(|t| t.as_secs_f64())
    }

    /// The figures between the last user's start and the stop, when that lasted 1 s+.
    pub fn steady_state(&self) -> Option<SteadyState> {
        let t0 = self.spawn_complete?;
        let e = self.steady.as_ref()?;
        let t1 = self.stopping.unwrap_or_else(|| self.start.elapsed());
        let secs = t1.saturating_sub(t0).as_secs_f64();
        if secs < 1.0 {
            return None;
        }
        let pct = |p: Percentile| (e.requests > 0).then(|| e.percentile_ms(p.fraction()));
        Some(SteadyState {
            from_s: t0.as_secs_f64(),
            duration_s: secs,
            requests: e.requests,
            failures: e.failures,
            rps: e.requests as f64 / secs,
            avg_ms: e.avg_ms(),
            p50_ms: pct(Percentile::P50),
            p95_ms: pct(Percentile::P95),
            p99_ms: pct(Percentile::P99),
            histogram: Some(encode_histogram(&e.hist)),
            max_ms: Some(e.max_ms()),
        })
    }

    /// Requests per second between the last user's start and the stop, when that lasted 1 s+.
    pub fn steady_rps(&self) -> Option<f64> {
        self.steady_state().map(|s| s.rps)
    }

    pub fn aggregate(&self) -> &Entry {
        &self.total
    }

    /// One endpoint's statistics; `histogram` adds the encoded histogram (the record's), which
    /// a live view does without.
    fn entry_record(
        &self,
        (method, name): (&str, &str),
        e: &Entry,
        w: &Window,
        histogram: bool,
    ) -> EndpointRecord {
        let secs = self.run_secs().max(1e-9);
        let (current_rps, current_failures_per_s) = w.rates();
        EndpointRecord {
            method: method.to_string(),
            name: name.to_string(),
            requests: e.requests,
            failures: e.failures,
            min_ms: e.min_ms(),
            avg_ms: e.avg_ms(),
            max_ms: e.max_ms(),
            avg_content_size: e.avg_size(),
            rps: e.requests as f64 / secs,
            failures_per_s: e.failures as f64 / secs,
            current_rps,
            current_failures_per_s,
            percentiles_ms: if e.requests == 0 {
                BTreeMap::new()
            } else {
                Percentile::ALL
                    .iter()
                    .map(|&p| (p, e.percentile_ms(p.fraction())))
                    .collect()
            },
            histogram: if histogram {
                encode_histogram(&e.hist)
            } else {
                String::new()
            },
        }
    }

    /// Per-endpoint records, sorted by name then method as Locust sorts them.
    pub fn endpoint_records(&self) -> Vec<EndpointRecord> {
        self.rows(true)
    }

    fn rows(&self, histogram: bool) -> Vec<EndpointRecord> {
        let mut rows: Vec<EndpointRecord> = self
            .endpoints
            .iter()
            .zip(self.entries.iter().zip(&self.windows))
            .map(|((m, n), (e, w))| self.entry_record((m, n), e, w, histogram))
            .collect();
        rows.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
        rows
    }

    pub fn aggregate_record(&self) -> EndpointRecord {
        self.entry_record(("", "Aggregated"), &self.total, &self.window, true)
    }

    /// The Statistics table so far, Locust's rows then the aggregate, without histograms:
    /// what a live view shows each second.
    pub fn live_rows(&self) -> Vec<EndpointRecord> {
        let mut rows = self.rows(false);
        rows.push(self.entry_record(("", "Aggregated"), &self.total, &self.window, false));
        rows
    }

    /// Failures by (method, name, reason), most frequent first.
    pub fn failure_records(&self) -> Vec<FailureRecord> {
        let mut rows: Vec<FailureRecord> = self
            .failures
            .iter()
            .map(|((i, reason), f)| {
                let (method, name) = self.endpoints[*i].clone();
                FailureRecord {
                    method,
                    name,
                    reason: reason.clone(),
                    count: f.count,
                    first_seen: f.first,
                    last_seen: f.last,
                }
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.count));
        rows
    }

    /// The server's reported timings of all endpoints together.
    pub fn server_timings(&self) -> ServerTimings {
        let all = self.phases.aggregate();
        ServerTimings {
            inference: distribution(&all.model),
            total: distribution(&all.server),
        }
    }

    /// Name resolution before the run, for the record's phases.
    pub fn resolved(&mut self, took: Duration, addresses: usize) {
        self.phases.resolved(took, addresses);
    }

    /// Where requests' time went, per endpoint and in aggregate.
    pub fn phase_record(&self) -> PhasesRecord {
        self.phases.record_of(&self.endpoints)
    }

    /// The sampled requests, in the order they finished (at most [`SAMPLED_KEPT`]).
    pub fn sampled_records(&self) -> Vec<SampledRequest> {
        self.sampled.clone()
    }

    pub fn slowest_records(&self) -> Vec<SlowestRecord> {
        self.endpoints
            .iter()
            .zip(&self.slowest)
            .filter(|(_, heap)| !heap.is_empty())
            .map(|((method, name), heap)| {
                let mut traces: Vec<(u64, u128)> = heap.iter().map(|Reverse(x)| *x).collect();
                traces.sort_by(|a, b| b.cmp(a));
                SlowestRecord {
                    method: method.clone(),
                    name: name.clone(),
                    traces: traces
                        .into_iter()
                        .map(|(us, id)| SlowTrace {
                            trace_id: format!("{id:032x}"),
                            ms: us as f64 / 1e3,
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// The last closed second with its histogram, as a worker sends it to be merged.
    pub fn second_share(&self, point: &TimelinePoint) -> merge::SecondShare {
        merge::SecondShare {
            point: point.clone(),
            histogram: self.recent.back().map(encode_histogram).unwrap_or_default(),
            max_us: self.last_second_max_us,
        }
    }

    /// The open model's arrivals over the run, when it had them.
    pub fn arrival_record(&self) -> Option<iris_record::shape::ArrivalRecord> {
        let a = self.arrivals.as_ref()?;
        let mut record = a.record(self.run_secs());
        let service = a.service_entry();
        record.service = (service.requests > 0).then(|| {
            self.entry_record(
                ("", iris_record::shape::SERVICE_ROW),
                service,
                &Window::default(),
                true,
            )
        });
        Some(record)
    }

    pub fn timeline(&self) -> &[TimelinePoint] {
        &self.timeline
    }

    pub fn start_utc(&self) -> Timestamp {
        self.start_utc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_loadgen::ServerTiming;

    fn sample(endpoint: usize, ms: u64, outcome: Result<Option<ServerTiming>, Failure>) -> Event {
        Event::Request(Sample {
            endpoint,
            latency: Duration::from_millis(ms),
            bytes: 100,
            outcome,
            trace_id: u128::from(ms),
            sampled: ms.is_multiple_of(2),
            phases: Default::default(),
            lag: None,
        })
    }

    fn collector() -> Collector {
        Collector::new(
            vec![
                ("GET".into(), "/health".into()),
                ("POST".into(), "/predict".into()),
            ],
            10,
            Duration::from_secs(60),
            Instant::now(),
            Timestamp::now(),
        )
    }

    #[test]
    fn counts_per_endpoint_and_in_aggregate() {
        let mut c = collector();
        for ms in 1..=20 {
            c.handle(sample(0, ms, Ok(None)));
        }
        let timing = ServerTiming {
            inference: Some(Duration::from_micros(1200)),
            total: Some(Duration::from_micros(3000)),
        };
        c.handle(sample(1, 50, Ok(Some(timing))));
        c.handle(sample(1, 60, Err(Failure::Status(500))));
        c.handle(sample(1, 70, Err(Failure::Status(500))));
        c.handle(sample(1, 5, Err(Failure::Timeout)));
        let rows = c.endpoint_records();
        assert_eq!(rows[0].name, "/health");
        assert_eq!((rows[0].requests, rows[0].failures), (20, 0));
        assert_eq!((rows[1].requests, rows[1].failures), (4, 3));
        let agg = c.aggregate_record();
        assert_eq!((agg.requests, agg.failures), (24, 3));
        assert_eq!(agg.max_ms, 70.0);
        let f = c.failure_records();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].reason.clone(), f[0].count), (Failure::Status(500), 2));
        let st = c.server_timings();
        assert_eq!(st.inference.unwrap().count, 1);
        assert!((st.total.unwrap().p50_ms - 3.0).abs() < 0.01);
        let slow = c.slowest_records();
        assert_eq!(slow[0].traces.len(), SLOWEST_KEPT);
        assert_eq!(slow[0].traces[0].ms, 20.0);
        assert_eq!(slow[1].traces[0].trace_id, format!("{:032x}", 70));
    }

    #[test]
    fn seconds_close_into_a_timeline_with_a_rate_window() {
        let mut c = collector();
        c.handle(Event::Users(3));
        for _ in 0..10 {
            c.handle(sample(0, 10, Ok(None)));
        }
        let p = c.close_second();
        assert_eq!((p.t, p.users, p.requests, p.rps), (1, 3, 10, 10.0));
        assert!((p.p50_ms.unwrap() - 10.0).abs() < 0.01);
        assert_eq!(p.percentiles_ms.len(), 11);
        let p = c.close_second();
        assert_eq!((p.t, p.requests, p.rps, p.p50_ms), (2, 0, 5.0, None));
        assert_eq!(p.total_requests, 10);
        assert_eq!(c.timeline().len(), 2);
        let rows = c.endpoint_records();
        assert_eq!((rows[0].current_rps, rows[1].current_rps), (5.0, 0.0));
        assert_eq!(c.aggregate_record().current_rps, 5.0);
        let snap = c.snapshot();
        assert_eq!((snap.users, snap.requests, snap.rps), (3, 10, 5.0));
    }

    #[test]
    fn steady_state_counts_from_the_last_users_start_to_the_stop() {
        let start = Instant::now() - Duration::from_secs(30);
        let mut c = Collector::new(
            vec![("GET".into(), "/health".into())],
            2,
            Duration::from_secs(60),
            start,
            Timestamp::now(),
        );
        // The ramp-up: slow requests that the steady state must not count.
        for _ in 0..10 {
            c.handle(sample(0, 900, Ok(None)));
        }
        assert_eq!(c.steady_state(), None, "not all users have started");
        c.spawn_complete = Some(Duration::from_secs(10));
        c.steady = Some(Entry::new());
        for ms in 1..=100 {
            let outcome = if ms % 10 == 0 {
                Err(Failure::Status(500))
            } else {
                Ok(None)
            };
            c.handle(sample(0, ms, outcome));
        }
        c.stopping = Some(Duration::from_secs(30));
        // After the stop: in-flight requests count in the whole run only.
        c.handle(sample(0, 5000, Ok(None)));
        let s = c.steady_state().unwrap();
        assert_eq!((s.from_s, s.duration_s), (10.0, 20.0));
        assert_eq!((s.requests, s.failures), (100, 10));
        assert_eq!(s.rps, 5.0);
        assert!((s.avg_ms - 50.5).abs() < 1e-9);
        assert!((s.p50_ms.unwrap() - 50.0).abs() < 0.1);
        assert!((s.p99_ms.unwrap() - 99.0).abs() < 0.1);
        assert_eq!(c.steady_rps(), Some(5.0));
        let whole = c.aggregate_record();
        assert_eq!(whole.requests, 111);
        assert!(whole.percentile(Percentile::P95).unwrap() > 800.0);
    }

    #[test]
    fn a_run_that_never_reached_full_users_has_no_steady_state() {
        let mut c = collector();
        c.handle(Event::Users(3));
        c.handle(sample(0, 10, Ok(None)));
        c.handle(Event::Stopping);
        assert_eq!(c.steady_state(), None);
        assert_eq!(c.steady_rps(), None);
    }

    #[test]
    fn history_percentiles_cover_the_last_10_seconds_as_locusts_do() {
        let mut c = collector();
        for _ in 0..10 {
            c.handle(sample(0, 10, Ok(None)));
        }
        let first = c.close_second();
        // A quiet second still has the window's percentiles; its own p50 is None.
        let quiet = c.close_second();
        assert_eq!(quiet.p50_ms, None);
        assert_eq!(quiet.percentiles_ms, first.percentiles_ms);
        assert!((quiet.percentiles_ms[0] - 10.0).abs() < 0.01);
        // Ten seconds later the window has forgotten them.
        for _ in 0..9 {
            c.close_second();
        }
        let later = c.close_second();
        assert!(later.percentiles_ms.is_empty());
        // The run's own percentiles (Locust's history CSV) still have them.
        assert!((later.total_percentiles_ms[0] - 10.0).abs() < 0.01);
    }

    #[test]
    fn sampled_requests_are_kept_with_their_trace_ids() {
        let mut c = collector();
        c.handle(sample(0, 10, Ok(None)));
        c.handle(sample(0, 11, Ok(None)));
        let kept = c.sampled_records();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].trace_id, format!("{:032x}", 10));
        assert!((kept[0].latency_ms - 10.0).abs() < 1e-9);
        assert!(kept[0].endpoint.contains(' '), "{}", kept[0].endpoint);
    }
}

//! The run's series as typed values, named by Prometheus conventions: what every exposition
//! (the scrape's text, remote write, OTLP) encodes. Pure: built from what the pipeline's
//! per-second path hands a [`iris_pipeline::Monitor`], never from the per-request path.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use jiff::Timestamp;

use iris_api::Failure;
use iris_record::TimelinePoint;
use iris_record::cluster::ClusterSecond;
use iris_stats::Collector;

/// The latency histogram's classic bucket bounds, in seconds (Prometheus' defaults widened to
/// 1 ms .. 60 s; `+Inf` is implied).
pub const BOUNDS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How a family's values behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up during a run; exposed with the `_total` suffix.
    Counter,
    Gauge,
    /// Classic buckets ([`BOUNDS`]), cumulative.
    Histogram,
}

/// One metric family: a name (without `_total` for counters), its help and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub series: Vec<Series>,
}

impl Family {
    /// The name samples carry: counters end in `_total`.
    pub fn sample_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            _ => self.name.to_string(),
        }
    }
}

/// One series: its labels (the run's first) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(Buckets),
}

/// A classic histogram: `cumulative[i]` requests took at most `BOUNDS[i]` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub count: u64,
    pub sum_seconds: f64,
    pub cumulative: Vec<u64>,
}

impl Buckets {
    /// Counts of `hist` (microseconds) at each bound: HdrHistogram's `count_between(0, bound)`,
    /// the same question asked of the record's histogram.
    pub fn of(hist: &Histogram<u64>, total_us: u64) -> Self {
        let cumulative = BOUNDS
            .iter()
            .map(|b| hist.count_between(0, bound_us(*b)))
            .collect();
        Self {
            count: hist.len(),
            sum_seconds: total_us as f64 / 1e6,
            cumulative,
        }
    }
}

/// A bound in seconds as the histograms' microseconds.
pub fn bound_us(seconds: f64) -> u64 {
    (seconds * 1e6).round() as u64
}

/// All the families of one moment of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposition {
    /// The end of the second these values are of.
    pub at: Timestamp,
    /// The run's start (counters' start time).
    pub start: Timestamp,
    pub run: RunLabels,
    pub families: Vec<Family>,
}

impl Exposition {
    /// The run these values are of.
    pub fn run_id(&self) -> &str {
        &self.run.run_id
    }
}

/// The labels every series of a run carries; none of unbounded cardinality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLabels {
    /// The record's file stem: `<UTC start>-<users>u-<class>`.
    pub run_id: String,
    pub user_class: String,
    /// The target's host (and port), never a path or query.
    pub target: String,
}

impl RunLabels {
    fn with(&self, more: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut labels = vec![
            ("run_id", self.run_id.clone()),
            ("user_class", self.user_class.clone()),
            ("target", self.target.clone()),
        ];
        labels.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
        labels
    }
}

/// A failure's reason as a label value: its kind only (the server's own words, which could be
/// anything, stay in the record).
pub fn reason_label(failure: &Failure) -> String {
    match failure {
        Failure::Connect => "connect".into(),
        Failure::Dns => "dns".into(),
        Failure::Tls => "tls".into(),
        Failure::Timeout => "timeout".into(),
        Failure::TimeoutNewConnection => "timeout_new_connection".into(),
        Failure::Disconnected => "disconnected".into(),
        Failure::BadHttp => "bad_http".into(),
        Failure::AmbiguousLength(_) => "ambiguous_length".into(),
        Failure::Status(code) => format!("http_{code}"),
        Failure::NotJson => "not_json".into(),
        Failure::MissingField(_) => "missing_field".into(),
        Failure::Unhealthy(_) => "unhealthy".into(),
        Failure::WrongVersion(_) => "wrong_version".into(),
        Failure::BadValue(_) => "bad_value".into(),
    }
}

/// A request's `status` label: `ok` when it passed its checks, the HTTP code when its status
/// failed it, `failed` when it failed otherwise (the reason is in the failures' family).
pub fn status_label(failure: &Failure) -> String {
    match failure {
        Failure::Status(code) => code.to_string(),
        _ => "failed".into(),
    }
}

/// The load side of one closed second, as cumulative values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadState {
    /// (method, endpoint, status) -> requests.
    requests: BTreeMap<(String, String, String), u64>,
    /// (method, endpoint, reason) -> failures.
    failures: BTreeMap<(String, String, String), u64>,
    /// (method, endpoint) -> latency.
    latency: BTreeMap<(String, String), Buckets>,
    users: u32,
    /// Open model: cumulative arrivals (intended, sent, dropped).
    arrivals: Option<(f64, u64, u64)>,
}

impl LoadState {
    /// The run's cumulative figures as of `point`, the second just closed:
    /// O(endpoints + failure kinds + histogram buckets).
    pub fn second_closed(&mut self, point: &TimelinePoint, collector: &Collector) {
        self.users = point.users;
        self.requests.clear();
        self.latency.clear();
        for ((method, name), entry) in collector.endpoints().iter().zip(collector.entries()) {
            let ok = entry.requests - entry.failures;
            self.requests
                .insert((method.clone(), name.clone(), "ok".into()), ok);
            self.latency.insert(
                (method.clone(), name.clone()),
                Buckets::of(&entry.hist, entry.total_us()),
            );
        }
        self.failures.clear();
        for f in collector.failure_records() {
            let status = (f.method.clone(), f.name.clone(), status_label(&f.reason));
            *self.requests.entry(status).or_default() += f.count;
            let reason = (f.method, f.name, reason_label(&f.reason));
            *self.failures.entry(reason).or_default() += f.count;
        }
        if let Some(a) = &point.arrivals {
            let (intended, sent, dropped) = self.arrivals.get_or_insert((0.0, 0, 0));
            *intended += a.intended;
            *sent += a.sent;
            *dropped += a.dropped;
        }
    }

    fn families(&self, run: &RunLabels) -> Vec<Family> {
        let counted = |map: &BTreeMap<(String, String, String), u64>, key: &'static str| {
            map.iter()
                .map(|((m, e, v), n)| Series {
                    labels: run.with(&[("method", m), ("endpoint", e), (key, v)]),
                    value: Value::Number(*n as f64),
                })
                .collect::<Vec<_>>()
        };
        let mut families = vec![
            Family {
                name: "iris_lab_requests",
                help: "Requests finished, by endpoint and status (ok, the HTTP code that failed it, or failed).",
                kind: Kind::Counter,
                series: counted(&self.requests, "status"),
            },
            Family {
                name: "iris_lab_request_failures",
                help: "Failed requests, by endpoint and reason.",
                kind: Kind::Counter,
                series: counted(&self.failures, "reason"),
            },
            Family {
                name: "iris_lab_request_duration_seconds",
                help: "Response time of finished requests (the open model: from the intended arrival).",
                kind: Kind::Histogram,
                series: self
                    .latency
                    .iter()
                    .map(|((m, e), b)| Series {
                        labels: run.with(&[("method", m), ("endpoint", e)]),
                        value: Value::Histogram(b.clone()),
                    })
                    .collect(),
            },
            gauge(
                "iris_lab_users",
                "Users running (the open model: requests in flight).",
                vec![(run.with(&[]), f64::from(self.users))],
            ),
        ];
        if let Some((intended, sent, dropped)) = self.arrivals {
            let arrivals = [
                (
                    "iris_lab_arrivals_intended",
                    "Arrivals the open model's schedule made due.",
                    intended,
                ),
                (
                    "iris_lab_arrivals_sent",
                    "Arrivals sent (one request each).",
                    sent as f64,
                ),
                (
                    "iris_lab_arrivals_dropped",
                    "Arrivals that found no free slot.",
                    dropped as f64,
                ),
            ];
            families.extend(arrivals.into_iter().map(|(name, help, v)| Family {
                name,
                help,
                kind: Kind::Counter,
                series: vec![Series {
                    labels: run.with(&[]),
                    value: Value::Number(v),
                }],
            }));
        }
        families
    }
}

fn gauge(
    name: &'static str,
    help: &'static str,
    values: Vec<(Vec<(&'static str, String)>, f64)>,
) -> Family {
    Family {
        name,
        help,
        kind: Kind::Gauge,
        series: values
            .into_iter()
            .map(|(labels, v)| Series {
                labels,
                value: Value::Number(v),
            })
            .collect(),
    }
}

/// One pod as the run last saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodState {
    pub cpu_millis: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub cpu_request_millis: Option<f64>,
    pub memory_request_bytes: Option<f64>,
}

/// The cluster side: the last second's HPA and pods, each pod's usage and requests, and
/// the scale-ups so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterState {
    pub second: Option<ClusterSecond>,
    pub pods: BTreeMap<String, PodState>,
    pub scale_ups: u64,
    pub watched: bool,
}

impl ClusterState {
    fn families(&self, run: &RunLabels) -> Vec<Family> {
        if !self.watched {
            return Vec::new();
        }
        let one = |v: Option<u32>| {
            v.map(|v| vec![(run.with(&[]), f64::from(v))])
                .unwrap_or_default()
        };
        let s = self.second.clone().unwrap_or_default();
        let per_pod = |pick: fn(&PodState) -> Option<f64>| {
            self.pods
                .iter()
                .filter_map(|(pod, p)| pick(p).map(|v| (run.with(&[("pod", pod.as_str())]), v)))
                .collect()
        };
        vec![
            gauge(
                "iris_lab_hpa_current_replicas",
                "The HPA's status.currentReplicas.",
                one(s.replicas),
            ),
            gauge(
                "iris_lab_hpa_desired_replicas",
                "The HPA's status.desiredReplicas.",
                one(s.desired),
            ),
            gauge(
                "iris_lab_hpa_cpu_utilization_ratio",
                "The HPA's CPU utilization, a ratio of the pods' request.",
                one(s.cpu_pct)
                    .into_iter()
                    .map(|(l, v)| (l, v / 100.0))
                    .collect(),
            ),
            gauge(
                "iris_lab_hpa_cpu_target_ratio",
                "The HPA's CPU utilization target, a ratio of the pods' request.",
                one(s.cpu_target_pct)
                    .into_iter()
                    .map(|(l, v)| (l, v / 100.0))
                    .collect(),
            ),
            gauge(
                "iris_lab_pods",
                "Pods with the app's label.",
                self.second
                    .as_ref()
                    .map(|s| vec![(run.with(&[]), f64::from(s.pods))])
                    .unwrap_or_default(),
            ),
            gauge(
                "iris_lab_ready_pods",
                "Pods with the app's label that are Ready.",
                self.second
                    .as_ref()
                    .map(|s| vec![(run.with(&[]), f64::from(s.ready_pods))])
                    .unwrap_or_default(),
            ),
            gauge(
                "iris_lab_pod_cpu_cores",
                "A pod's CPU usage (metrics.k8s.io), in cores.",
                per_pod(|p| p.cpu_millis.map(|m| m / 1e3)),
            ),
            gauge(
                "iris_lab_pod_cpu_request_cores",
                "A pod's CPU request, in cores.",
                per_pod(|p| p.cpu_request_millis.map(|m| m / 1e3)),
            ),
            gauge(
                "iris_lab_pod_memory_bytes",
                "A pod's memory usage (metrics.k8s.io).",
                per_pod(|p| p.memory_bytes),
            ),
            gauge(
                "iris_lab_pod_memory_request_bytes",
                "A pod's memory request.",
                per_pod(|p| p.memory_request_bytes),
            ),
            Family {
                name: "iris_lab_hpa_scale_ups",
                help: "Scale-ups of the HPA's current replicas seen during the run.",
                kind: Kind::Counter,
                series: vec![Series {
                    labels: run.with(&[]),
                    value: Value::Number(self.scale_ups as f64),
                }],
            },
        ]
    }
}

/// Everything the exporter keeps of a run: the load's and the cluster's side.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    pub labels: RunLabels,
    pub start: Timestamp,
    pub load: LoadState,
}

impl RunState {
    pub fn exposition(&self, cluster: &ClusterState, at: Timestamp) -> Exposition {
        let mut families = self.load.families(&self.labels);
        families.extend(cluster.families(&self.labels));
        families.retain(|f| !f.series.is_empty());
        Exposition {
            at,
            start: self.start,
            run: self.labels.clone(),
            families,
        }
    }
}

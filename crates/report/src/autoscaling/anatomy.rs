//! The anatomy of every scale-up: load rose -> pods' CPU above target -> the HPA's desired
//! replicas changed -> pods created -> scheduled -> started -> Ready -> latency back under its
//! level before the rise; each segment in seconds, and the degradation window it caused.

use serde::{Deserialize, Serialize};

use crate::view::{RunView, Second};
use iris_record::cluster::{ClusterRecord, PodStartRecord, ScalingEventRecord};

/// How far back before the HPA's decision the rise of the load is looked for.
pub const LOOK_BACK_S: u64 = 120;
/// p95 counts as back to its level at up to this factor of the level before the rise.
pub const RECOVERED_FACTOR: f64 = 1.25;
/// A second is degraded when its p95 is above this factor of the level before the rise.
pub const DEGRADED_FACTOR: f64 = 2.0;
/// The guide's expected reaction: 30-45 s from the load rising to new pods serving.
pub const GUIDE_REACTION_S: (f64, f64) = (30.0, 45.0);

/// Median and max of one segment over a scale-up's new pods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median_s: f64,
    pub max_s: f64,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Option<Self> {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median_s = match n {
            0 => return None,
            n if n % 2 == 1 => values[n / 2],
            n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        };
        Some(Self {
            median_s,
            max_s: values[n - 1],
        })
    }
}

/// The segments of one scale-up, in seconds; `None` where the run did not show that step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segments {
    /// Load rose -> the HPA's CPU above its target.
    pub load_to_cpu_above_target_s: Option<f64>,
    /// CPU above target -> the HPA's desired replicas changed.
    pub cpu_to_decision_s: Option<f64>,
    /// Decision -> the first new pod created.
    pub decision_to_created_s: Option<f64>,
    /// Per new pod: created -> scheduled, scheduled -> containers started, started -> Ready.
    pub created_to_scheduled: Option<Spread>,
    pub scheduled_to_started: Option<Spread>,
    pub started_to_ready: Option<Spread>,
    /// The last new pod Ready -> p95 back under its level before the rise.
    pub ready_to_latency_back_s: Option<f64>,
    /// The path of the pod Ready last, the one that ends the reaction.
    pub last_pod: Option<PodPath>,
}

/// One pod's way from creation to Ready, in seconds. With the segments before the pod's
/// creation it adds up to the scale-up's reaction: load rose -> CPU above target -> decision
/// -> created (`decision_to_created_s` of [`Segments`] is to this pod) -> scheduled -> started
/// -> Ready. A step the run did not show is `None` and its time goes to the next known step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodPath {
    pub pod: String,
    pub created_to_scheduled_s: Option<f64>,
    pub scheduled_to_started_s: Option<f64>,
    pub started_to_ready_s: Option<f64>,
}

/// When a new pod became Ready, in seconds since the start: its creation as this client saw
/// it plus its Ready condition's time after creation (the pod's own clock, the one its
/// scheduled and started segments come from, so that they add up), else when this client saw
/// it Ready. `observed_ready_s` alone can even come before `created_s + ready_after_s` (a
/// watch that saw the pod late, or a record written by another tool), so the segments of a
/// scale-up would not sum to its reaction if it were preferred.
pub fn ready_at(p: &PodStartRecord) -> Option<f64> {
    p.ready_after_s
        .map(|r| p.created_s + r)
        .or(p.observed_ready_s)
}

/// The times of a scale-up's steps, each not before the one before it (clocks of the client
/// and the cluster differ by up to a second): the gaps between them add up to the span.
fn monotone(points: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut last: Option<f64> = None;
    points
        .iter()
        .map(|p| {
            let p = p.map(|v| last.map_or(v, |l| v.max(l)));
            if p.is_some() {
                last = p;
            }
            p
        })
        .collect()
}

/// The gaps between consecutive known steps: a missing step's time goes to the next known one.
fn gaps(points: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut last: Option<f64> = None;
    points
        .iter()
        .map(|p| {
            let gap = p.zip(last).map(|(p, l)| p - l);
            if p.is_some() {
                last = *p;
            }
            gap
        })
        .collect()
}

/// One replica increase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScaleUp {
    pub from: u32,
    pub to: u32,
    /// Seconds since the start.
    pub load_rose_s: Option<f64>,
    pub decision_s: f64,
    pub all_ready_s: Option<f64>,
    pub latency_back_s: Option<f64>,
    pub segments: Segments,
    /// Load rose -> the last new pod Ready.
    pub reaction_s: Option<f64>,
    /// Whether `reaction_s` is within the guide's 30-45 s (or faster).
    pub within_guide: Option<bool>,
    /// p95 before the rise, and the seconds after it with p95 above twice that.
    pub p95_before_ms: Option<f64>,
    pub degradation_s: u64,
    pub degradation_failures: u64,
}

fn median(v: Vec<f64>) -> Option<f64> {
    Spread::of(v).map(|s| s.median_s)
}

/// The second the load rose before `decision`: where requests/s first crossed half-way from
/// its low in the look-back window (not before `floor`) to its value at the decision.
fn load_rose(timeline: &[Second], floor: u64, decision: f64) -> Option<u64> {
    let from = (decision as u64).saturating_sub(LOOK_BACK_S).max(floor);
    let window: Vec<&Second> = timeline
        .iter()
        .filter(|s| s.t >= from && (s.t as f64) <= decision)
        .collect();
    let low = window.iter().map(|s| s.rps).fold(f64::INFINITY, f64::min);
    let high = window.last()?.rps;
    if high <= low {
        return window.first().map(|s| s.t);
    }
    let mid = low + (high - low) / 2.0;
    window.iter().find(|s| s.rps >= mid).map(|s| s.t)
}

/// The new pods of a scale-up: created from its decision (less a second of clock skew) until
/// the next scale-up's.
fn new_pods(cluster: &ClusterRecord, decision: f64, next: f64) -> Vec<&PodStartRecord> {
    cluster
        .pods_started
        .iter()
        .filter(|p| p.created_s >= decision - 1.0 && p.created_s < next - 1.0)
        .collect()
}

/// The new pod Ready last; `None` when one of them has no Ready time (not Ready yet).
fn last_ready<'a>(pods: &[&'a PodStartRecord]) -> Option<&'a PodStartRecord> {
    let times: Option<Vec<f64>> = pods.iter().map(|p| ready_at(p)).collect();
    let times = times?;
    pods.iter()
        .zip(times)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| *p)
}

fn per_pod(
    pods: &[&PodStartRecord],
    step: impl Fn(&PodStartRecord) -> Option<f64>,
) -> Option<Spread> {
    Spread::of(pods.iter().filter_map(|p| step(p)).collect())
}

/// The anatomy of one scale-up event.
fn scale_up(
    run: &RunView,
    cluster: &ClusterRecord,
    event: &ScalingEventRecord,
    floor: u64,
    next: f64,
) -> ScaleUp {
    let tl = &run.timeline;
    let rose = load_rose(tl, floor, event.t_s);
    let target = cluster.cpu_target_pct.map(f64::from);
    let cpu_above = rose.and_then(|r| {
        tl.iter()
            .filter(|s| s.t >= r && s.t as f64 <= event.t_s)
            .find(|s| {
                s.cpu_pct
                    .zip(s.cpu_target_pct.or(target))
                    .is_some_and(|(c, t)| c > t)
            })
            .map(|s| s.t as f64)
    });
    let pods = new_pods(cluster, event.t_s, next);
    let last = last_ready(&pods);
    let all_ready = last.and_then(ready_at);
    let p95_before = rose.and_then(|r| {
        median(
            tl.iter()
                .filter(|s| s.t + 10 >= r && s.t < r)
                .filter_map(|s| s.p95_ms)
                .collect(),
        )
    });
    let latency_back = all_ready.zip(p95_before).and_then(|(ready, level)| {
        tl.iter()
            .filter(|s| s.t as f64 >= ready)
            .find(|s| s.p95_ms.is_some_and(|p| p <= level * RECOVERED_FACTOR))
            .map(|s| s.t as f64)
    });
    let degraded: Vec<&Second> = match (rose, p95_before) {
        (Some(r), Some(level)) => {
            let end = latency_back.unwrap_or(next.min(tl.last().map_or(0.0, |s| s.t as f64)));
            tl.iter()
                .filter(|s| s.t >= r && (s.t as f64) <= end)
                .filter(|s| s.p95_ms.is_some_and(|p| p > level * DEGRADED_FACTOR))
                .collect()
        }
        _ => Vec::new(),
    };
    let between = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (b - a).max(0.0));
    let chain = monotone(&[
        rose.map(|r| r as f64),
        cpu_above,
        Some(event.t_s),
        last.map(|p| p.created_s),
        last.and_then(|p| p.scheduled_after_s.map(|s| p.created_s + s)),
        last.and_then(|p| p.started_after_s.map(|s| p.created_s + s)),
        all_ready,
    ]);
    let gap = gaps(&chain);
    let segments = Segments {
        load_to_cpu_above_target_s: gap[1],
        cpu_to_decision_s: gap[2],
        decision_to_created_s: gap[3],
        created_to_scheduled: per_pod(&pods, |p| p.scheduled_after_s),
        scheduled_to_started: per_pod(&pods, |p| {
            p.started_after_s
                .zip(p.scheduled_after_s)
                .map(|(a, b)| a - b)
        }),
        started_to_ready: per_pod(&pods, |p| {
            p.ready_after_s.zip(p.started_after_s).map(|(a, b)| a - b)
        }),
        ready_to_latency_back_s: between(all_ready, latency_back),
        last_pod: last.map(|p| PodPath {
            pod: p.pod.clone(),
            created_to_scheduled_s: gap[4],
            scheduled_to_started_s: gap[5],
            started_to_ready_s: gap[6],
        }),
    };
    let reaction = chain[0].zip(chain[6]).map(|(r, ready)| ready - r);
    ScaleUp {
        from: event.from,
        to: event.to,
        load_rose_s: rose.map(|r| r as f64),
        decision_s: event.t_s,
        all_ready_s: all_ready,
        latency_back_s: latency_back,
        segments,
        reaction_s: reaction,
        within_guide: reaction.map(|r| r <= GUIDE_REACTION_S.1),
        p95_before_ms: p95_before,
        degradation_s: degraded.len() as u64,
        degradation_failures: degraded.iter().map(|s| s.failures).sum(),
    }
}

/// Every replica increase of the run, in order.
pub fn scale_ups(run: &RunView) -> Vec<ScaleUp> {
    let Some(cluster) = &run.cluster else {
        return Vec::new();
    };
    let ups: Vec<&ScalingEventRecord> = cluster
        .scaling_events
        .iter()
        .filter(|e| e.to > e.from)
        .collect();
    let mut out = Vec::new();
    for (i, event) in ups.iter().enumerate() {
        let floor = i.checked_sub(1).map_or(0, |p| ups[p].t_s.ceil() as u64);
        let next = ups.get(i + 1).map_or(f64::INFINITY, |e| e.t_s);
        out.push(scale_up(run, cluster, event, floor, next));
    }
    out
}

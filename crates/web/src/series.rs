//! The page's charts as bounded series: one [`Point`] a second of the run, halved (adjacent
//! pairs merged) whenever they reach [`CAP`], so a run of any length holds fewer than `CAP`
//! points per series, every second of it represented (older ones coarser). Markers (the HPA scaling, pods becoming ready)
//! are kept apart, bounded too, so that downsampling cannot average them away.

use serde::Serialize;

use iris_record::TimelinePoint;
use iris_record::cluster::ClusterSecond;

/// Points kept at most: a halving happens when this many are there.
pub const CAP: usize = 1200;
/// Markers kept at most (the oldest go first).
pub const MARKERS: usize = 400;

/// One point of every chart, short names for a small feed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Point {
    /// Seconds since the run's start.
    pub t: f64,
    pub users: u32,
    pub rps: f64,
    pub fps: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// HPA current and desired replicas, ready pods; pod CPU and its target, % of request.
    pub replicas: Option<u32>,
    pub desired: Option<u32>,
    pub ready: Option<u32>,
    pub cpu: Option<u32>,
    pub cpu_target: Option<u32>,
    /// Connections opened this second; median connect and first-byte times.
    pub conns: Option<u64>,
    pub connect: Option<f64>,
    pub wait: Option<f64>,
}

impl Point {
    pub fn of(p: &TimelinePoint) -> Self {
        let c = p.cluster.as_ref();
        let ph = p.phases.as_ref();
        Self {
            t: p.t as f64,
            users: p.users,
            rps: p.rps,
            fps: p.failures_per_s,
            p50: p.p50_ms,
            p95: p.p95_ms,
            p99: p.p99_ms,
            replicas: c.and_then(|c| c.replicas),
            desired: c.and_then(|c| c.desired),
            ready: c.map(|c| c.ready_pods),
            cpu: c.and_then(|c| c.cpu_pct),
            cpu_target: c.and_then(|c| c.cpu_target_pct),
            conns: ph.map(|p| p.new_connections),
            connect: ph.and_then(|p| p.connect_p50_ms),
            wait: ph.and_then(|p| p.waiting_p50_ms),
        }
    }

    /// Two neighbours as one: rates and medians averaged, the tails' maxima kept, the later
    /// one's levels (users, replicas).
    fn merge(a: &Point, b: &Point) -> Point {
        let avg = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => Some((x + y) / 2.0),
            (x, y) => x.or(y),
        };
        let max = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        Point {
            rps: (a.rps + b.rps) / 2.0,
            fps: (a.fps + b.fps) / 2.0,
            p50: avg(a.p50, b.p50),
            p95: max(a.p95, b.p95),
            p99: max(a.p99, b.p99),
            conns: match (a.conns, b.conns) {
                (Some(x), Some(y)) => Some(x + y),
                (x, y) => x.or(y),
            },
            connect: avg(a.connect, b.connect),
            wait: avg(a.wait, b.wait),
            ..b.clone()
        }
    }
}

/// Something that happened in the cluster, drawn as a vertical line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    pub t: f64,
    /// `scale` (the HPA's desired replicas changed) or `ready` (more pods ready).
    pub kind: &'static str,
    pub text: String,
}

/// The charts of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    /// Bumped at each halving: a page holding an older generation reloads the run.
    pub generation: u32,
    pub points: Vec<Point>,
    pub markers: Vec<Marker>,
    #[serde(skip)]
    last_cluster: Option<ClusterSecond>,
}

impl Series {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a closed second; returns the markers it made.
    pub fn push(&mut self, p: &TimelinePoint) -> Vec<Marker> {
        let markers = self.cluster_markers(p);
        self.markers.extend(markers.iter().cloned());
        if self.markers.len() > MARKERS {
            let extra = self.markers.len() - MARKERS;
            self.markers.drain(..extra);
        }
        self.points.push(Point::of(p));
        if self.points.len() >= CAP {
            self.points = self
                .points
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => Point::merge(a, b),
                    [a] => a.clone(),
                    _ => unreachable!("chunks(2) yields one or two"),
                })
                .collect();
            self.generation += 1;
        }
        markers
    }

    fn cluster_markers(&mut self, p: &TimelinePoint) -> Vec<Marker> {
        let Some(now) = p.cluster.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let t = p.t as f64;
        if let Some(before) = self.last_cluster.replace(now.clone()) {
            if let (Some(a), Some(b)) = (before.desired, now.desired)
                && a != b
            {
                out.push(Marker {
                    t,
                    kind: "scale",
                    text: format!("HPA {a}\u{2192}{b}"),
                });
            }
            if now.ready_pods > before.ready_pods {
                out.push(Marker {
                    t,
                    kind: "ready",
                    text: format!("+{} ready", now.ready_pods - before.ready_pods),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: u64, rps: f64, p95: f64) -> TimelinePoint {
        let mut p: TimelinePoint = serde_json::from_value(serde_json::json!({
            "t": t, "time": "2026-01-01T00:00:00Z", "users": t as u32, "requests": 1,
            "failures": 0, "rps": rps, "failures_per_s": 0.0, "p50_ms": 1.0, "p95_ms": p95,
            "p99_ms": p95, "total_requests": 1, "total_failures": 0, "total_median_ms": 1.0,
            "total_avg_ms": 1.0, "total_min_ms": 1.0, "total_max_ms": 1.0,
            "total_avg_content_size": 1.0
        }))
        .unwrap();
        p.cluster = None;
        p
    }

    #[test]
    fn an_hour_stays_bounded_and_keeps_its_peaks() {
        let mut s = Series::new();
        for t in 1..=3600 {
            let p95 = if t == 1234 { 900.0 } else { 10.0 };
            s.push(&point(t, 100.0, p95));
        }
        // Halved at 1200, 1800, 2400, 3000 and 3600 points pushed: older seconds coarser.
        assert_eq!((s.points.len(), s.generation), (CAP / 2, 5));
        assert_eq!(s.points.last().unwrap().users, 3600);
        assert!(s.points.iter().any(|p| p.p95 == Some(900.0)));
        assert!(s.points.iter().all(|p| (p.rps - 100.0).abs() < 1e-9));
        assert!(s.points.windows(2).all(|w| w[0].t < w[1].t));
    }

    #[test]
    fn scaling_and_ready_pods_become_markers() {
        let mut s = Series::new();
        let cluster = |desired, ready| ClusterSecond {
            replicas: Some(2),
            desired: Some(desired),
            pods: ready,
            ready_pods: ready,
            ..ClusterSecond::default()
        };
        for (t, (d, r)) in [(2, 2), (4, 2), (4, 2), (4, 4)].into_iter().enumerate() {
            let mut p = point(t as u64 + 1, 1.0, 1.0);
            p.cluster = Some(cluster(d, r));
            s.push(&p);
        }
        let kinds: Vec<(f64, &str)> = s.markers.iter().map(|m| (m.t, m.kind)).collect();
        assert_eq!(kinds, vec![(2.0, "scale"), (4.0, "ready")]);
        assert_eq!(s.markers[0].text, "HPA 2\u{2192}4");
    }
}

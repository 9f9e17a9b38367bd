//! What one pod serves: pod CPU (metrics.k8s.io) against the requests/s each ready pod got,
//! fitted over the run's steady samples (every pod sampled, ready for the whole metrics window)
//! as `cpu = idle + millicores_per_rps x rps_per_pod`; from it the rate one pod serves at the
//! HPA's CPU target; and the latency knee.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::view::{RunView, Second};

/// metrics-server's default window: a sample's CPU is the average over the 15 s before it
/// (when the samples do not say their window).
pub const METRICS_WINDOW_S: f64 = 15.0;
/// Fewer steady samples than this give no fit.
pub const MIN_POINTS: usize = 3;
/// The largest per-pod rate must be at least this many times the smallest for a slope.
pub const MIN_SPREAD: f64 = 1.3;

/// One steady sample: requests/s per ready pod and CPU per pod over the same window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityPoint {
    pub t_s: f64,
    pub rps_per_pod: f64,
    pub cpu_millis_per_pod: f64,
    pub pods: u32,
}

/// Why a run supports no fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoFit {
    /// The run has no cluster data or no pod metrics.
    NoMetrics,
    /// Too few samples with every pod ready for a whole window.
    TooFewPoints { points: usize },
    /// The load per pod hardly varied (one replica count and a flat load): no slope.
    NoSpread {
        min_rps_per_pod: f64,
        max_rps_per_pod: f64,
    },
    /// The fitted slope is not positive: CPU did not follow the load.
    NoSlope { millicores_per_rps: f64 },
}

impl std::fmt::Display for NoFit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoMetrics => f.write_str("no pod metrics in the run"),
            Self::TooFewPoints { points } => write!(
                f,
                "{points} steady samples (every pod ready for a whole metrics window), {MIN_POINTS} needed"
            ),
            Self::NoSpread {
                min_rps_per_pod,
                max_rps_per_pod,
            } => write!(
                f,
                "the load per pod hardly varied ({min_rps_per_pod:.1}-{max_rps_per_pod:.1} requests/s per pod): no slope to fit"
            ),
            Self::NoSlope { millicores_per_rps } => write!(
                f,
                "CPU did not grow with the load (slope {millicores_per_rps:.2} millicores per request/s)"
            ),
        }
    }
}

/// The fit and what follows from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub points: Vec<CapacityPoint>,
    /// Absent with `no_fit` saying why.
    pub millicores_per_rps: Option<f64>,
    pub idle_millicores: Option<f64>,
    /// Coefficient of determination of the fit, 0..1.
    pub r_squared: Option<f64>,
    pub cpu_request_millis: Option<f64>,
    pub cpu_target_pct: Option<f64>,
    /// Requests/s one pod serves with its CPU at the HPA's target.
    pub rps_per_pod_at_target: Option<f64>,
    /// Requests/s one pod serves at its CPU limit (where it saturates), when it has one.
    pub rps_per_pod_at_limit: Option<f64>,
    /// Requests/s per pod at which p95 first reached twice its low-load value (for 3 s).
    pub knee_rps_per_pod: Option<f64>,
    pub no_fit: Option<NoFit>,
    /// `no_fit` in words.
    pub no_fit_text: Option<String>,
}

/// Least squares `y = a + b x`: (a, b, r²).
pub fn linear_fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    let r2 = if syy > 0.0 {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    Some((a, b, r2))
}

/// The window the run's samples were averaged over: the shortest their PodMetrics said (a
/// cluster with a short `--metric-resolution`, `sim` at a time scale), else 15 s.
pub fn metrics_window_s(samples: &[iris_record::cluster::PodSampleRecord]) -> f64 {
    samples
        .iter()
        .filter_map(|s| s.window_s)
        .filter(|w| w.is_finite() && *w >= 1.0)
        .reduce(f64::min)
        .unwrap_or(METRICS_WINDOW_S)
}

/// Requests/s over the metrics window (`window_s`) ending at `t_s`, from the per-second
/// counts (second `t` covers `[t - 1, t)`; seconds cut by the window count by their overlap);
/// `None` when the timeline covers less than all but one second of the window.
fn window_rate(timeline: &[Second], t_s: f64, window_s: f64) -> Option<f64> {
    let from = t_s - window_s;
    let (mut requests, mut covered) = (0.0, 0.0);
    for s in timeline {
        let end = s.t as f64;
        let overlap = (end.min(t_s) - (end - 1.0).max(from)).max(0.0);
        requests += s.requests as f64 * overlap;
        covered += overlap;
    }
    (covered > 0.0 && covered >= window_s - 1.0).then(|| requests / covered)
}

/// The steady samples of a run.
pub fn points(run: &RunView) -> Vec<CapacityPoint> {
    let Some(cluster) = &run.cluster else {
        return Vec::new();
    };
    // From when each pod served (pods there from the start: always): the later of its Ready
    // condition and this client seeing it Ready, as traffic follows the endpoints' update.
    let ready_at: BTreeMap<&str, f64> = cluster
        .pods_started
        .iter()
        .map(|p| {
            let ready =
                super::anatomy::ready_at(p).map(|r| p.observed_ready_s.map_or(r, |o| o.max(r)));
            (p.pod.as_str(), ready.unwrap_or(f64::INFINITY))
        })
        .collect();
    let mut by_time: BTreeMap<u64, Vec<&iris_record::cluster::PodSampleRecord>> = BTreeMap::new();
    for s in &cluster.samples {
        by_time
            .entry((s.t_s * 10.0).round() as u64)
            .or_default()
            .push(s);
    }
    let window_s = metrics_window_s(&cluster.samples);
    let mut out = Vec::new();
    for (key, samples) in by_time {
        let t_s = key as f64 / 10.0;
        // The usage is of the window ending at the PodMetrics' timestamp, which may be up to
        // a window before the sample was read.
        let end_s = samples
            .iter()
            .filter_map(|s| s.window_end_s)
            .reduce(f64::max)
            .map_or(t_s, |e| e.min(t_s));
        let steady = samples.iter().all(|s| {
            ready_at
                .get(s.pod.as_str())
                .is_none_or(|r| *r <= end_s - window_s)
        });
        let second = run.timeline.iter().find(|s| s.t == t_s.ceil() as u64);
        let ready = second
            .and_then(|s| s.ready_pods)
            .unwrap_or(samples.len() as u32);
        if !steady || ready as usize != samples.len() || ready == 0 {
            continue;
        }
        let Some(rate) = window_rate(&run.timeline, end_s, window_s) else {
            continue;
        };
        let cpu: f64 = samples.iter().map(|s| s.cpu_millis).sum();
        out.push(CapacityPoint {
            t_s,
            rps_per_pod: rate / f64::from(ready),
            cpu_millis_per_pod: cpu / f64::from(ready),
            pods: ready,
        });
    }
    out
}

/// The pod's CPU request: from the record's resources, else from the samples' % of request.
fn cpu_request(run: &RunView) -> Option<f64> {
    let cluster = run.cluster.as_ref()?;
    cluster
        .pod_resources
        .as_ref()
        .and_then(|r| r.cpu_request_millis())
        .or_else(|| {
            cluster.samples.iter().find_map(|s| {
                s.cpu_pct_of_request
                    .filter(|p| *p > 0.0)
                    .map(|p| s.cpu_millis / (p / 100.0))
            })
        })
}

/// The fit over `points`, or why there is none.
pub fn fit(points: &[CapacityPoint]) -> Result<(f64, f64, f64), NoFit> {
    if points.len() < MIN_POINTS {
        return Err(NoFit::TooFewPoints {
            points: points.len(),
        });
    }
    let xs = points.iter().map(|p| p.rps_per_pod);
    let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if hi < lo * MIN_SPREAD || hi <= 0.0 {
        return Err(NoFit::NoSpread {
            min_rps_per_pod: lo,
            max_rps_per_pod: hi,
        });
    }
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.rps_per_pod, p.cpu_millis_per_pod))
        .collect();
    let (a, b, r2) = linear_fit(&xy).ok_or(NoFit::TooFewPoints {
        points: points.len(),
    })?;
    if b <= 0.0 {
        return Err(NoFit::NoSlope {
            millicores_per_rps: b,
        });
    }
    Ok((a, b, r2))
}

/// The per-pod rate at which p95 first stayed at twice its low-load value for 3 seconds.
pub fn knee(timeline: &[Second]) -> Option<f64> {
    let seconds: Vec<(f64, f64)> = timeline
        .iter()
        .filter_map(|s| {
            let ready = f64::from(s.ready_pods.filter(|r| *r > 0)?);
            Some((s.rps / ready, s.p95_ms?))
        })
        .filter(|(x, _)| *x > 0.0)
        .collect();
    let mut by_load = seconds.clone();
    by_load.sort_by(|a, b| a.0.total_cmp(&b.0));
    let low: Vec<f64> = by_load[..by_load.len() / 4].iter().map(|s| s.1).collect();
    let mut low_sorted = low.clone();
    low_sorted.sort_by(f64::total_cmp);
    let low_p95 = *low_sorted.get(low_sorted.len() / 2)?;
    seconds
        .windows(3)
        .find(|w| w.iter().all(|s| s.1 >= 2.0 * low_p95))
        .map(|w| w[0].0)
}

/// The capacity of one run.
pub fn capacity(run: &RunView, cpu_target_pct: Option<f64>) -> Capacity {
    let points = points(run);
    let request = cpu_request(run);
    let limit = run
        .cluster
        .as_ref()
        .and_then(|c| c.pod_resources.as_ref())
        .and_then(|r| r.cpu_limit_millis());
    let mut out = Capacity {
        cpu_request_millis: request,
        cpu_target_pct,
        knee_rps_per_pod: knee(&run.timeline),
        ..Capacity::default()
    };
    let has_metrics = run.cluster.as_ref().is_some_and(|c| !c.samples.is_empty());
    let fitted = if has_metrics {
        fit(&points)
    } else {
        Err(NoFit::NoMetrics)
    };
    out.points = points;
    match fitted {
        Ok((a, b, r2)) => {
            out.idle_millicores = Some(a);
            out.millicores_per_rps = Some(b);
            out.r_squared = Some(r2);
            let at = |millis: f64| ((millis - a) / b).max(0.0);
            out.rps_per_pod_at_target = request
                .zip(cpu_target_pct)
                .map(|(r, pct)| at(r * pct / 100.0));
            out.rps_per_pod_at_limit = limit.map(at);
        }
        Err(why) => {
            out.no_fit_text = Some(why.to_string());
            out.no_fit = Some(why);
        }
    }
    out
}

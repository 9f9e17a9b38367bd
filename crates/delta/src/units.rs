//! What is resampled: units with a rate, counts and percentiles. A steady-state second of a
//! run (its requests, failures and its own p50/p95/p99, from the record's timeline), or a
//! whole run when nothing finer is recorded (server timings, and endpoints of records without
//! per-endpoint seconds).

use serde::Serialize;

use iris_record::{
    Distribution, EndpointRecord, EndpointSecond, Percentile, RunRecord, TimelinePoint,
};

/// One unit of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Unit {
    /// Requests per second (of a second: its requests).
    pub rate: f64,
    pub requests: f64,
    pub failures: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// The figures compared, each a statistic over units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean requests per second.
    Rps,
    /// Failures / requests over all units (a ratio of sums); its change is in points.
    FailureRate,
    /// Geometric mean of the units' percentiles (of units with requests).
    P50,
    P95,
    P99,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Rps,
        Metric::FailureRate,
        Metric::P50,
        Metric::P95,
        Metric::P99,
    ];
    pub const LATENCY: [Metric; 3] = [Metric::P50, Metric::P95, Metric::P99];

    /// Its name in `--fail-on` and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rps => "rps",
            Self::FailureRate => "failure_rate",
            Self::P50 => "p50",
            Self::P95 => "p95",
            Self::P99 => "p99",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// More is better (requests/s); less is better for the rest.
    pub fn higher_is_better(self) -> bool {
        self == Self::Rps
    }

    /// Its change is a difference in percentage points, not a ratio.
    pub fn in_points(self) -> bool {
        self == Self::FailureRate
    }

    /// The statistic over the units at `idx`; `None` when nothing to measure (no units, no
    /// requests, no percentile).
    pub fn statistic(self, units: &[Unit], idx: &[usize]) -> Option<f64> {
        let picked = idx.iter().map(|&i| &units[i]);
        match self {
            Self::Rps => mean(picked.map(|u| Some(u.rate))),
            Self::FailureRate => {
                let (f, r) = picked.fold((0.0, 0.0), |(f, r), u| (f + u.failures, r + u.requests));
                (r > 0.0).then(|| f / r)
            }
            Self::P50 => geometric_mean(picked.map(|u| u.p50)),
            Self::P95 => geometric_mean(picked.map(|u| u.p95)),
            Self::P99 => geometric_mean(picked.map(|u| u.p99)),
        }
    }

    /// The change from `base` to `new`: a ratio minus one, or a difference for failure rates;
    /// `None` when the base is zero (no ratio).
    pub fn change(self, base: f64, new: f64) -> Option<f64> {
        if self.in_points() {
            Some(new - base)
        } else if base > 0.0 {
            Some(new / base - 1.0)
        } else {
            None
        }
    }
}

/// The geometric mean of the positive values: a latency spike of one second weighs as a
/// factor, not as milliseconds (one second of 400 ms on a busy machine does not drown the
/// other seconds' 2 ms), and its change is a ratio, as latencies change.
fn geometric_mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    mean(values.map(|v| v.filter(|v| *v > 0.0).map(f64::ln))).map(f64::exp)
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = values
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// The seconds of a run's steady state: after the last user started (all of the run when no
/// such moment was recorded) and before the stop, each fully measured.
pub fn steady_seconds(record: &RunRecord) -> Vec<Unit> {
    steady_points(record).map(second).collect()
}

fn steady_points(record: &RunRecord) -> impl Iterator<Item = &TimelinePoint> {
    let from = record.spawn_complete_s.unwrap_or(0.0);
    let until = record.duration_s.floor();
    record
        .timeline
        .iter()
        .filter(move |p| (p.t as f64) - 1.0 >= from && (p.t as f64) <= until)
}

/// One endpoint's steady-state seconds (a second without its requests is a unit of none);
/// `None` when the record kept no per-endpoint seconds (older records, runs merged from
/// workers).
pub fn endpoint_seconds(record: &RunRecord, method: &str, name: &str) -> Option<Vec<Unit>> {
    if record.timeline.iter().all(|p| p.endpoints.is_empty()) {
        return None;
    }
    let units = steady_points(record)
        .map(|p| {
            p.endpoints
                .iter()
                .find(|e| e.method == method && e.name == name)
                .map_or_else(Unit::default, endpoint_second)
        })
        .collect();
    Some(units)
}

fn endpoint_second(e: &EndpointSecond) -> Unit {
    Unit {
        rate: e.requests as f64,
        requests: e.requests as f64,
        failures: e.failures as f64,
        p50: e.p50_ms,
        p95: e.p95_ms,
        p99: e.p99_ms,
    }
}

fn second(p: &TimelinePoint) -> Unit {
    Unit {
        rate: p.requests as f64,
        requests: p.requests as f64,
        failures: p.failures as f64,
        p50: p.p50_ms,
        p95: p.p95_ms,
        p99: p.p99_ms,
    }
}

/// A whole run's figures of one endpoint (or of the aggregate) as one unit.
pub fn endpoint_run(e: &EndpointRecord) -> Unit {
    Unit {
        rate: e.rps,
        requests: e.requests as f64,
        failures: e.failures as f64,
        p50: e.percentile(Percentile::P50),
        p95: e.percentile(Percentile::P95),
        p99: e.percentile(Percentile::P99),
    }
}

/// A whole run's server timing (`Server-Timing` total or inference) as one unit.
pub fn timing_run(d: &Distribution) -> Unit {
    Unit {
        rate: 0.0,
        requests: d.count as f64,
        failures: 0.0,
        p50: Some(d.p50_ms),
        p95: Some(d.p95_ms),
        p99: Some(d.p99_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(requests: f64, failures: f64, p95: Option<f64>) -> Unit {
        Unit {
            rate: requests,
            requests,
            failures,
            p95,
            ..Unit::default()
        }
    }

    #[test]
    fn statistics_over_picked_units() {
        let units = [
            unit(10.0, 1.0, Some(4.0)),
            unit(30.0, 0.0, None),
            unit(20.0, 2.0, Some(8.0)),
        ];
        let all = [0, 1, 2];
        assert_eq!(Metric::Rps.statistic(&units, &all), Some(20.0));
        assert_eq!(Metric::FailureRate.statistic(&units, &all), Some(0.05));
        // The second without a p95 (no requests measured) does not count; percentiles are
        // averaged geometrically.
        let p95 = Metric::P95.statistic(&units, &all).unwrap();
        assert!((p95 - 32f64.sqrt()).abs() < 1e-9, "{p95}");
        assert_eq!(Metric::P95.statistic(&units, &[1, 1]), None);
        // A resample may pick a unit twice.
        assert_eq!(Metric::Rps.statistic(&units, &[0, 0, 2]), Some(40.0 / 3.0));
        assert_eq!(Metric::P95.statistic(&units, &[]), None);
    }

    #[test]
    fn changes_are_ratios_or_points() {
        assert_eq!(Metric::P95.change(10.0, 15.0), Some(0.5));
        assert_eq!(Metric::P95.change(0.0, 12.0), None);
        let pp = Metric::FailureRate.change(0.01, 0.015).unwrap();
        assert!((pp - 0.005).abs() < 1e-12);
        assert!(Metric::Rps.higher_is_better() && !Metric::P99.higher_is_better());
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
    }
}

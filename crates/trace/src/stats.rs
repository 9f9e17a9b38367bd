//! Count and nearest-rank percentiles of a set of durations.

use serde::Serialize;

/// Count, p50, p95, p99 and max of some durations, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    /// `None` for no values.
    pub fn of(mut values: Vec<f64>) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Summary {
            count: values.len(),
            p50_ms: rank(&values, 0.50),
            p95_ms: rank(&values, 0.95),
            p99_ms: rank(&values, 0.99),
            max_ms: values[values.len() - 1],
        })
    }
}

/// The nearest-rank percentile of sorted, non-empty values.
fn rank(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let idx = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[idx]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Summary::of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!(
            (s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms),
            (100, 50.0, 95.0, 99.0, 100.0)
        );
        let one = Summary::of(vec![7.0]).unwrap();
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
        assert_eq!(Summary::of(vec![]), None);
    }
}

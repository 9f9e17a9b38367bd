//! One row of statistics: counters and an HdrHistogram of response times in microseconds.

use hdrhistogram::Histogram;

use iris_record::{Distribution, Percentile};

/// Largest value a histogram holds: one hour in microseconds.
const MAX_US: u64 = 3_600_000_000;

/// A histogram of microseconds, 1 us to 1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (tested below): this cannot fail at runtime.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid constant histogram bounds")
}

/// Counters and a histogram of one (method, name) or of all requests.
#[derive(Debug, Clone)]
pub struct Entry {
    pub requests: u64,
    pub failures: u64,
    total_us: u64,
    min_us: u64,
    max_us: u64,
    bytes: u64,
    pub hist: Histogram<u64>,
}

impl Default for Entry {
    fn default() -> Self {
        Self::new()
    }
}

impl Entry {
    pub fn new() -> Self {
        Self {
            requests: 0,
            failures: 0,
            total_us: 0,
            min_us: u64::MAX,
            max_us: 0,
            bytes: 0,
            hist: new_histogram(),
        }
    }

    pub fn record(&mut self, latency_us: u64, bytes: u64, failed: bool) {
        let us = latency_us.clamp(1, MAX_US);
        self.requests += 1;
        self.failures += u64::from(failed);
        self.total_us += us;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
        self.bytes += bytes;
        self.hist.saturating_record(us);
    }

    pub fn reset(&mut self) {
        *self = Self {
            hist: std::mem::replace(&mut self.hist, new_histogram()),
            ..Self::new()
        };
        self.hist.reset();
    }

    pub fn avg_ms(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.total_us as f64 / self.requests as f64 / 1e3
        }
    }

    pub fn min_ms(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.min_us as f64 / 1e3
        }
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1e3
    }

    pub fn avg_size(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.bytes as f64 / self.requests as f64
        }
    }

    /// The response time under which a fraction `q` of requests finished, in ms.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        percentile_ms(&self.hist, self.max_us, q)
    }

    /// The exact largest value recorded, in microseconds (0 without requests).
    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    /// The eleven Locust percentiles, or none when there were no requests.
    pub fn percentiles_ms(&self) -> Vec<f64> {
        if self.requests == 0 {
            return Vec::new();
        }
        Percentile::ALL
            .iter()
            .map(|p| self.percentile_ms(p.fraction()))
            .collect()
    }
}

/// The value under which a fraction `q` of a histogram's values lie, in ms, given the exact
/// maximum `max_us`: the histogram answers with the top of a bucket, never above the maximum.
/// One histogram fed every sample and the sum of histograms fed a share each answer alike.
pub fn percentile_ms(hist: &Histogram<u64>, max_us: u64, q: f64) -> f64 {
    if q >= 1.0 {
        return max_us as f64 / 1e3;
    }
    hist.value_at_quantile(q).min(max_us) as f64 / 1e3
}

/// Locust's rounding of response times into buckets, which its percentiles are computed from:
/// exact below 100 ms, then to 10 ms below 1 s, 100 ms below 10 s, 1 s above.
pub fn locust_bucket(ms: f64) -> u64 {
    let round_to = |step: f64| ((ms / step).round() * step) as u64;
    if ms < 100.0 {
        ms.round() as u64
    } else if ms < 1000.0 {
        round_to(10.0)
    } else if ms < 10_000.0 {
        round_to(100.0)
    } else {
        round_to(1000.0)
    }
}

/// A histogram as text, and back: the record's encoding.
pub use iris_record::histogram::{decode as decode_histogram, encode as encode_histogram};

/// Count, mean, percentiles and the encoded histogram of durations in microseconds; None
/// when empty.
pub fn distribution(h: &Histogram<u64>) -> Option<Distribution> {
    (!h.is_empty()).then(|| Distribution {
        count: h.len(),
        avg_ms: h.mean() / 1e3,
        p50_ms: h.value_at_quantile(0.5) as f64 / 1e3,
        p95_ms: h.value_at_quantile(0.95) as f64 / 1e3,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1e3,
        max_ms: h.max() as f64 / 1e3,
        histogram: encode_histogram(h),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_percentiles() {
        let mut e = Entry::new();
        for ms in 1..=100u64 {
            e.record(ms * 1000, 10, ms % 10 == 0);
        }
        assert_eq!(e.requests, 100);
        assert_eq!(e.failures, 10);
        assert!((e.avg_ms() - 50.5).abs() < 1e-9);
        assert_eq!(e.min_ms(), 1.0);
        assert_eq!(e.max_ms(), 100.0);
        assert_eq!(e.avg_size(), 10.0);
        assert!((e.percentile_ms(0.5) - 50.0).abs() < 0.1);
        assert!((e.percentile_ms(0.99) - 99.0).abs() < 0.1);
        assert_eq!(e.percentile_ms(1.0), 100.0);
        assert_eq!(e.percentiles_ms().len(), 11);
        e.reset();
        assert_eq!(e.requests, 0);
        assert!(e.percentiles_ms().is_empty());
        assert_eq!(e.hist.len(), 0);
    }

    #[test]
    fn locust_buckets_round_like_locust() {
        assert_eq!(locust_bucket(42.4), 42);
        assert_eq!(locust_bucket(147.0), 150);
        assert_eq!(locust_bucket(2345.0), 2300);
        assert_eq!(locust_bucket(23_456.0), 23_000);
    }

    #[test]
    fn histograms_round_trip_through_text() {
        let mut e = Entry::new();
        for us in [5, 500, 50_000, 5_000_000] {
            e.record(us, 0, false);
        }
        let back = decode_histogram(&encode_histogram(&e.hist)).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.value_at_quantile(0.5), e.hist.value_at_quantile(0.5));
        assert!(decode_histogram("not base64!").is_none());
    }
}

//! The records' histograms as text: the standard compressed HdrHistogram V2 encoding, base64
//! (what `aggregate.histogram` and the endpoints' `histogram` hold, in microseconds).

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// A histogram as text (empty if it cannot be encoded).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// The inverse of [`encode`]; `None` for text that is not such a histogram.
pub fn decode(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

/// One point of a latency distribution: `fraction` (0..1) of the requests took at most `ms`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    pub fraction: f64,
    pub ms: f64,
}

/// The percentile curve of a histogram of microseconds, HdrHistogram's percentile
/// distribution (`ticks` points per halving of the distance to 100%), ending at the maximum.
/// Empty for an empty or unreadable histogram.
pub fn percentile_curve(text: &str, ticks: u32) -> Vec<CurvePoint> {
    let Some(h) = decode(text) else {
        return Vec::new();
    };
    if h.is_empty() {
        return Vec::new();
    }
    let mut curve: Vec<CurvePoint> = Vec::new();
    for v in h.iter_quantiles(ticks) {
        let point = CurvePoint {
            fraction: v.quantile_iterated_to(),
            ms: h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
        };
        match curve.last_mut() {
            Some(last) if last.fraction >= point.fraction => last.ms = last.ms.max(point.ms),
            _ => curve.push(point),
        }
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_the_text_and_gives_its_curve() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for us in 1..=1000u64 {
            h.record(us * 100).unwrap();
        }
        let text = encode(&h);
        assert_eq!(decode(&text).unwrap().len(), 1000);
        let curve = percentile_curve(&text, 5);
        assert!(curve.len() > 20, "{curve:?}");
        assert!(curve.windows(2).all(|w| w[0].fraction < w[1].fraction));
        assert!(curve.windows(2).all(|w| w[0].ms <= w[1].ms));
        let last = curve.last().unwrap();
        assert_eq!(last.fraction, 1.0);
        assert!((last.ms - 100.0).abs() < 0.1, "{last:?}");
        let median = curve.iter().find(|p| p.fraction >= 0.5).unwrap();
        assert!((median.ms - 50.0).abs() < 0.1, "{median:?}");
    }

    #[test]
    fn garbage_has_no_curve() {
        assert!(decode("not base64 !").is_none());
        assert!(percentile_curve("AAAA", 5).is_empty());
        assert!(percentile_curve("", 5).is_empty());
    }
}

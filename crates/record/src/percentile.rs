//! The percentiles a run reports, as a type: numbers inside, Locust's labels (`95%`) only at
//! the edge (tables, CSV columns and the record's JSON keys).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of the eleven percentiles Locust reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Percentile {
    P50,
    P66,
    P75,
    P80,
    P90,
    P95,
    P98,
    P99,
    P99_9,
    P99_99,
    P100,
}

impl Percentile {
    /// All of them, in Locust's column order.
    pub const ALL: [Percentile; 11] = [
        Self::P50,
        Self::P66,
        Self::P75,
        Self::P80,
        Self::P90,
        Self::P95,
        Self::P98,
        Self::P99,
        Self::P99_9,
        Self::P99_99,
        Self::P100,
    ];

    /// The fraction of requests at or under this percentile (0.5 .. 1.0).
    pub fn fraction(self) -> f64 {
        match self {
            Self::P50 => 0.5,
            Self::P66 => 0.66,
            Self::P75 => 0.75,
            Self::P80 => 0.8,
            Self::P90 => 0.9,
            Self::P95 => 0.95,
            Self::P98 => 0.98,
            Self::P99 => 0.99,
            Self::P99_9 => 0.999,
            Self::P99_99 => 0.9999,
            Self::P100 => 1.0,
        }
    }

    /// Locust's column name: `50%` .. `100%`.
    pub fn label(self) -> &'static str {
        match self {
            Self::P50 => "50%",
            Self::P66 => "66%",
            Self::P75 => "75%",
            Self::P80 => "80%",
            Self::P90 => "90%",
            Self::P95 => "95%",
            Self::P98 => "98%",
            Self::P99 => "99%",
            Self::P99_9 => "99.9%",
            Self::P99_99 => "99.99%",
            Self::P100 => "100%",
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.label() == label)
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for Percentile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for Percentile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let label = String::deserialize(d)?;
        Self::from_label(&label).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown percentile {label:?} (expected one of 50%, 66%, .., 99.99%, 100%)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_fractions_agree() {
        for p in Percentile::ALL {
            assert_eq!(Percentile::from_label(p.label()), Some(p));
            let pct: f64 = p.label().trim_end_matches('%').parse().unwrap();
            assert!((pct / 100.0 - p.fraction()).abs() < 1e-12, "{p}");
        }
        assert!(
            Percentile::ALL
                .windows(2)
                .all(|w| w[0].fraction() < w[1].fraction())
        );
    }

    #[test]
    fn percentiles_are_json_keys_as_before() {
        let m: std::collections::BTreeMap<Percentile, f64> =
            serde_json::from_str(r#"{"95%": 9.5, "50%": 1.0}"#).unwrap();
        assert_eq!(m[&Percentile::P95], 9.5);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"50%":1.0,"95%":9.5}"#
        );
        let e = serde_json::from_str::<std::collections::BTreeMap<Percentile, f64>>(r#"{"95": 1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown percentile \"95\""), "{e}");
    }
}

//! The Iris Prediction API v2.0.0 contract: request and response types, shared by the
//! client side (smoke, load) and the reference server.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The API version the guide's deployment reports on `GET /`.
pub const API_VERSION: &str = "2.0.0";
/// The message of `GET /`.
pub const WELCOME_MESSAGE: &str = "Welcome to the Iris Prediction API! Visit /docs for more info.";

/// The four measurements of one flower, in centimetres: the body of `POST /predict`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub sepal_length: f64,
    pub sepal_width: f64,
    pub petal_length: f64,
    pub petal_width: f64,
}

impl Features {
    /// Field names in the order of the model's feature columns.
    pub const NAMES: [&'static str; 4] =
        ["sepal_length", "sepal_width", "petal_length", "petal_width"];

    /// The sample the guide sends in Phase 1.3 (a setosa).
    pub const GUIDE_SAMPLE: Features = Features::new(5.1, 3.5, 1.4, 0.2);

    pub const fn new(
        sepal_length: f64,
        sepal_width: f64,
        petal_length: f64,
        petal_width: f64,
    ) -> Self {
        Self {
            sepal_length,
            sepal_width,
            petal_length,
            petal_width,
        }
    }

    pub fn as_array(&self) -> [f64; 4] {
        [
            self.sepal_length,
            self.sepal_width,
            self.petal_length,
            self.petal_width,
        ]
    }
}

/// The three species, in the model's class order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Species {
    Setosa,
    Versicolor,
    Virginica,
}

impl Species {
    pub const ALL: [Species; 3] = [Species::Setosa, Species::Versicolor, Species::Virginica];

    pub fn as_str(self) -> &'static str {
        match self {
            Species::Setosa => "setosa",
            Species::Versicolor => "versicolor",
            Species::Virginica => "virginica",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Per-feature (min, max) ranges the guide's load test draws bodies from.
    pub fn feature_ranges(self) -> [(f64, f64); 4] {
        match self {
            Species::Setosa => [(4.3, 5.8), (2.3, 4.4), (1.0, 1.9), (0.1, 0.6)],
            Species::Versicolor => [(4.9, 7.0), (2.0, 3.4), (3.0, 5.1), (1.0, 1.8)],
            Species::Virginica => [(4.9, 7.9), (2.2, 3.8), (4.5, 6.9), (1.4, 2.5)],
        }
    }
}

impl fmt::Display for Species {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootResponse {
    pub message: String,
    pub version: String,
    pub status: String,
}

/// `GET /health` when healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthResponse {
    pub status: String,
    pub timestamp: f64,
    pub model_loaded: bool,
    pub model_test_time: String,
}

/// `POST /predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictResponse {
    pub predicted_species: String,
    pub prediction_probability: f64,
    pub inference_time: String,
    pub total_time: String,
}

/// Formats a server-side timing the way the API does: seconds, 4 decimals, trailing `s`.
pub fn format_timing(d: Duration) -> String {
    format!("{:.4}s", d.as_secs_f64())
}

/// Parses a server-side timing (`"0.0012s"`).
pub fn parse_timing(text: &str) -> Option<Duration> {
    let secs: f64 = text.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_round_trip_at_four_decimals() {
        assert_eq!(format_timing(Duration::from_micros(1234)), "0.0012s");
        assert_eq!(parse_timing("0.0012s"), Some(Duration::from_micros(1200)));
        assert_eq!(parse_timing("0.0012"), None);
        assert_eq!(parse_timing("-1s"), None);
        assert_eq!(parse_timing("abcs"), None);
    }

    #[test]
    fn species_names_match_the_api() {
        assert_eq!(Species::from_name("virginica"), Some(Species::Virginica));
        assert_eq!(Species::from_name("Virginica"), None);
        let json = serde_json::to_string(&Species::Setosa).unwrap();
        assert_eq!(json, "\"setosa\"");
    }

    #[test]
    fn features_serialize_with_the_contract_field_names() {
        let v = serde_json::to_value(Features::GUIDE_SAMPLE).unwrap();
        for name in Features::NAMES {
            assert!(v.get(name).is_some(), "{name}");
        }
    }
}

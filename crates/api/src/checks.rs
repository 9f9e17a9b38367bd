//! Pure checks of responses against the contract, and the typed reasons a request fails.
//! `smoke` and the load generator judge responses with the same functions.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::contract::{
    API_VERSION, HealthResponse, PredictResponse, RootResponse, Species, parse_timing,
};

/// Why one request failed. Typed, so failures group by kind without comparing strings.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, thiserror::Error,
)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Failure {
    #[error("connection failed")]
    Connect,
    #[error("DNS lookup failed")]
    Dns,
    #[error("TLS error")]
    Tls,
    #[error("timed out")]
    Timeout,
    /// The timeout passed on a connection opened for this request, before any response to
    /// it: what a server too busy to accept connections does to new users (their requests
    /// wait in its listen queue) while it still answers connections it has accepted.
    #[error("timed out on a new connection before any response (not accepted in time?)")]
    TimeoutNewConnection,
    #[error("connection closed before a complete response")]
    Disconnected,
    #[error("invalid HTTP response")]
    BadHttp,
    #[error("ambiguous response length: {0}")]
    AmbiguousLength(Framing),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("response is not JSON")]
    NotJson,
    #[error("response lacks `{0}`")]
    MissingField(String),
    #[error("health status is {0:?}, not \"healthy\"")]
    Unhealthy(String),
    #[error("API version is {0:?}, expected \"{API_VERSION}\"")]
    WrongVersion(String),
    #[error("`{0}` has a value outside the contract")]
    BadValue(String),
}

/// Why a response's length cannot be trusted (RFC 9112 section 6.3): read one way or the
/// other, the next response's bytes could be taken for this one's body.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    thiserror::Error,
)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    #[error("differing Content-Length values")]
    DifferingContentLengths,
    #[error("both Transfer-Encoding and Content-Length")]
    ContentLengthWithTransferEncoding,
}

impl Failure {
    /// Failures where the server answered (as opposed to the network failing).
    pub fn is_response(&self) -> bool {
        !matches!(
            self,
            Failure::Connect
                | Failure::Dns
                | Failure::Tls
                | Failure::Timeout
                | Failure::TimeoutNewConnection
                | Failure::Disconnected
        )
    }
}

/// Status first, then JSON: the order in which Locust's checks see a response.
fn parse_json<'a, T: Deserialize<'a>>(status: u16, body: &'a [u8]) -> Result<T, Failure> {
    if status != 200 {
        return Err(Failure::Status(status));
    }
    serde_json::from_slice(body).map_err(|_| Failure::NotJson)
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, Failure> {
    value.ok_or_else(|| Failure::MissingField(name.to_string()))
}

#[derive(Deserialize)]
struct RawRoot {
    message: Option<String>,
    version: Option<String>,
    status: Option<String>,
}

/// `GET /`: 200, JSON, version 2.0.0.
pub fn check_root(status: u16, body: &[u8]) -> Result<RootResponse, Failure> {
    let raw: RawRoot = parse_json(status, body)?;
    let root = RootResponse {
        message: raw.message.unwrap_or_default(),
        version: required(raw.version, "version")?,
        status: raw.status.unwrap_or_default(),
    };
    if root.version != API_VERSION {
        return Err(Failure::WrongVersion(root.version));
    }
    Ok(root)
}

#[derive(Deserialize)]
struct RawHealth {
    status: Option<serde_json::Value>,
    timestamp: Option<f64>,
    model_loaded: Option<bool>,
    model_test_time: Option<String>,
}

/// Status 200 and a JSON body that has each of `fields` at the top level.
pub fn check_fields(status: u16, body: &[u8], fields: &[String]) -> Result<(), Failure> {
    let value: serde_json::Value = parse_json(status, body)?;
    match fields.iter().find(|f| value.get(f.as_str()).is_none()) {
        Some(missing) => Err(Failure::MissingField(missing.clone())),
        None => Ok(()),
    }
}

/// `GET /health` as the load test judges it: 200, JSON, `"status": "healthy"`.
pub fn check_health_status(status: u16, body: &[u8]) -> Result<(), Failure> {
    let raw: RawHealth = parse_json(status, body)?;
    health_status(raw.status).map(|_| ())
}

fn health_status(status: Option<serde_json::Value>) -> Result<String, Failure> {
    match status {
        Some(serde_json::Value::String(s)) if s == "healthy" => Ok(s),
        Some(serde_json::Value::String(s)) => Err(Failure::Unhealthy(s)),
        Some(other) => Err(Failure::Unhealthy(other.to_string())),
        None => Err(Failure::MissingField("status".into())),
    }
}

/// `GET /health` in full, as smoke checks it: healthy, model loaded, a timing that parses.
pub fn check_health(status: u16, body: &[u8]) -> Result<HealthResponse, Failure> {
    let raw: RawHealth = parse_json(status, body)?;
    let status = health_status(raw.status)?;
    let model_test_time = required(raw.model_test_time, "model_test_time")?;
    if parse_timing(&model_test_time).is_none() {
        return Err(Failure::BadValue("model_test_time".into()));
    }
    let model_loaded = required(raw.model_loaded, "model_loaded")?;
    if !model_loaded {
        return Err(Failure::BadValue("model_loaded".into()));
    }
    Ok(HealthResponse {
        status,
        timestamp: required(raw.timestamp, "timestamp")?,
        model_loaded,
        model_test_time,
    })
}

#[path = "predict_scan.rs"]
mod predict_scan;
use predict_scan::scan_predict;

#[derive(Deserialize)]
struct RawPredict<'a> {
    #[serde(borrow)]
    predicted_species: Option<Text<'a>>,
    prediction_probability: Option<f64>,
    #[serde(borrow)]
    inference_time: Option<Text<'a>>,
    #[serde(borrow)]
    total_time: Option<Text<'a>>,
}

/// A JSON string borrowed from the body when it has no escapes (serde's own `Cow<str>` always
/// copies).
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

/// A predict response that passed [`check_predict`], borrowed from its body (no copies: the
/// load generator checks every response), with its timings parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedPredict<'a> {
    pub predicted_species: Cow<'a, str>,
    pub prediction_probability: f64,
    pub inference_time: Cow<'a, str>,
    pub total_time: Cow<'a, str>,
    pub inference: Duration,
    pub total: Duration,
}

/// `POST /predict`: 200, JSON, all four fields, a known species, a probability in (0, 1] and
/// timings that parse.
pub fn check_predict(status: u16, body: &[u8]) -> Result<PredictResponse, Failure> {
    let c = check_predict_borrowed(status, body)?;
    Ok(PredictResponse {
        predicted_species: c.predicted_species.into_owned(),
        prediction_probability: c.prediction_probability,
        inference_time: c.inference_time.into_owned(),
        total_time: c.total_time.into_owned(),
    })
}

/// [`check_predict`] without copying the body's strings.
pub fn check_predict_borrowed(status: u16, body: &[u8]) -> Result<CheckedPredict<'_>, Failure> {
    let raw = match scan_predict(body) {
        Some(raw) if status == 200 => raw,
        _ => parse_json(status, body)?,
    };
    let predicted_species = required(raw.predicted_species, "predicted_species")?.0;
    let prediction_probability = required(raw.prediction_probability, "prediction_probability")?;
    let inference_time = required(raw.inference_time, "inference_time")?.0;
    let total_time = required(raw.total_time, "total_time")?.0;
    if Species::from_name(&predicted_species).is_none() {
        return Err(Failure::BadValue("predicted_species".into()));
    }
    let p = prediction_probability;
    if !(p > 0.0 && p <= 1.0) {
        return Err(Failure::BadValue("prediction_probability".into()));
    }
    let timing =
        |name: &str, value: &str| parse_timing(value).ok_or_else(|| Failure::BadValue(name.into()));
    let inference = timing("inference_time", &inference_time)?;
    let total = timing("total_time", &total_time)?;
    Ok(CheckedPredict {
        predicted_species,
        prediction_probability,
        inference_time,
        total_time,
        inference,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREDICT_OK: &[u8] = br#"{"predicted_species": "setosa", "prediction_probability": 0.9791, "inference_time": "0.0012s", "total_time": "0.0030s"}"#;

    #[test]
    fn the_borrowed_check_parses_the_timings_and_takes_escaped_strings() {
        let c = check_predict_borrowed(200, PREDICT_OK).unwrap();
        assert!(matches!(c.predicted_species, Cow::Borrowed("setosa")));
        assert_eq!(c.inference, Duration::from_micros(1200));
        assert_eq!(c.total, Duration::from_micros(3000));
        let escaped = br#"{"predicted_species": "set\u006fsa", "prediction_probability": 1, "inference_time": "0.5s", "total_time": "1s"}"#;
        let c = check_predict_borrowed(200, escaped).unwrap();
        assert_eq!(c.predicted_species, "setosa");
        assert_eq!(c.total, Duration::from_secs(1));
        let late = br#"{"predicted_species": "setosa", "prediction_probability": 0.5, "inference_time": "0.1s", "total_time": "soon"}"#;
        assert_eq!(
            check_predict_borrowed(200, late),
            Err(Failure::BadValue("total_time".into()))
        );
    }

    #[test]
    fn a_good_predict_passes() {
        let r = check_predict(200, PREDICT_OK).unwrap();
        assert_eq!(r.predicted_species, "setosa");
    }

    #[test]
    fn predict_failures_are_typed() {
        assert_eq!(check_predict(500, PREDICT_OK), Err(Failure::Status(500)));
        assert_eq!(check_predict(200, b"<html>"), Err(Failure::NotJson));
        assert_eq!(
            check_predict(200, br#"{"predicted_species": "setosa", "prediction_probability": 0.9, "inference_time": "0.1s"}"#),
            Err(Failure::MissingField("total_time".into()))
        );
        assert_eq!(
            check_predict(200, br#"{"predicted_species": "rose", "prediction_probability": 0.9, "inference_time": "0.1s", "total_time": "0.1s"}"#),
            Err(Failure::BadValue("predicted_species".into()))
        );
        assert_eq!(
            check_predict(200, br#"{"predicted_species": "setosa", "prediction_probability": 0, "inference_time": "0.1s", "total_time": "0.1s"}"#),
            Err(Failure::BadValue("prediction_probability".into()))
        );
        assert_eq!(
            check_predict(200, br#"{"predicted_species": "setosa", "prediction_probability": 1, "inference_time": "fast", "total_time": "0.1s"}"#),
            Err(Failure::BadValue("inference_time".into()))
        );
    }

    #[test]
    fn root_must_report_version_2_0_0() {
        let ok = br#"{"message": "hi", "version": "2.0.0", "status": "running"}"#;
        assert_eq!(check_root(200, ok).unwrap().version, "2.0.0");
        let old = br#"{"message": "hi", "version": "1.0.0", "status": "running"}"#;
        assert_eq!(
            check_root(200, old),
            Err(Failure::WrongVersion("1.0.0".into()))
        );
        assert_eq!(
            check_root(200, b"{}"),
            Err(Failure::MissingField("version".into()))
        );
    }

    #[test]
    fn health_must_be_healthy() {
        let ok = br#"{"status": "healthy", "timestamp": 1.5, "model_loaded": true, "model_test_time": "0.0010s"}"#;
        assert!(check_health(200, ok).is_ok());
        assert!(check_health_status(200, br#"{"status": "healthy"}"#).is_ok());
        assert_eq!(
            check_health_status(200, br#"{"status": "degraded"}"#),
            Err(Failure::Unhealthy("degraded".into()))
        );
        assert_eq!(
            check_health(503, br#"{"detail": "Model not loaded"}"#),
            Err(Failure::Status(503))
        );
        assert_eq!(
            check_health(
                200,
                br#"{"status": "healthy", "timestamp": 1.5, "model_loaded": true}"#
            ),
            Err(Failure::MissingField("model_test_time".into()))
        );
    }

    #[test]
    fn failures_serialize_with_a_kind() {
        let v = serde_json::to_value(Failure::Status(503)).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "status", "detail": 503}));
        let v = serde_json::to_value(Failure::Timeout).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "timeout"}));
        let v = serde_json::to_value(Failure::AmbiguousLength(Framing::DifferingContentLengths))
            .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind": "ambiguous_length", "detail": "differing_content_lengths"})
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("setosa".to_string()),
                Just("0.0012s".to_string()),
                "[0-9.]{1,6}s",
                // Quotes, backslashes, control and non-ASCII characters: escaped in JSON.
                ".{0,10}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_body_is_judged_without_panicking(
                body in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let _ = check_predict_borrowed(200, &body);
            }

            #[test]
            fn strings_read_back_escaped_or_not(
                species in text(),
                inference in text(),
                total in text(),
                p in 0.0f64..1.5,
            ) {
                let body = serde_json::json!({
                    "predicted_species": species,
                    "prediction_probability": p,
                    "inference_time": inference,
                    "total_time": total,
                })
                .to_string();
                match check_predict_borrowed(200, body.as_bytes()) {
                    Ok(c) => {
                        prop_assert_eq!(&c.predicted_species, &species);
                        prop_assert_eq!(&c.inference_time, &inference);
                        prop_assert_eq!(&c.total_time, &total);
                        prop_assert_eq!(Some(c.total), parse_timing(&total));
                        let owned = check_predict(200, body.as_bytes()).unwrap();
                        prop_assert_eq!(owned.predicted_species, species);
                    }
                    Err(f) => prop_assert!(matches!(f, Failure::BadValue(_)), "{:?}", f),
                }
            }
        }
    }
}

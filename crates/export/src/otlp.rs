//! OTLP/HTTP metrics: an exposition as an `ExportMetricsServiceRequest` (protobuf), every
//! sum and histogram cumulative from the run's start.
//!
//! The messages are the subset of `opentelemetry/proto/metrics/v1` this sends, with the
//! published field numbers; the tests decode them with the published Python package.

use prost::Message;

use super::series::{BOUNDS, Exposition, Kind, Value};

pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// AGGREGATION_TEMPORALITY_CUMULATIVE.
const CUMULATIVE: i32 = 2;

#[derive(Clone, PartialEq, Message)]
pub struct ExportMetricsServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_metrics: Vec<ResourceMetrics>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ResourceMetrics {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_metrics: Vec<ScopeMetrics>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AnyValue {
    #[prost(string, tag = "1")]
    pub string_value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ScopeMetrics {
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Metric {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub description: String,
    #[prost(string, tag = "3")]
    pub unit: String,
    #[prost(oneof = "Data", tags = "5, 7, 9")]
    pub data: Option<Data>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Data {
    #[prost(message, tag = "5")]
    Gauge(Gauge),
    #[prost(message, tag = "7")]
    Sum(Sum),
    #[prost(message, tag = "9")]
    Histogram(Histogram),
}

#[derive(Clone, PartialEq, Message)]
pub struct Gauge {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sum {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
    #[prost(bool, tag = "3")]
    pub is_monotonic: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<HistogramDataPoint>,
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct NumberDataPoint {
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "2")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    #[prost(double, tag = "4")]
    pub as_double: f64,
}

#[derive(Clone, PartialEq, Message)]
pub struct HistogramDataPoint {
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "2")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    #[prost(fixed64, tag = "4")]
    pub count: u64,
    #[prost(double, optional, tag = "5")]
    pub sum: Option<f64>,
    /// Each bucket's own count (not cumulative), one more than the bounds.
    #[prost(fixed64, repeated, tag = "6")]
    pub bucket_counts: Vec<u64>,
    #[prost(double, repeated, tag = "7")]
    pub explicit_bounds: Vec<f64>,
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            string_value: value.to_string(),
        }),
    }
}

fn nanos(t: jiff::Timestamp) -> u64 {
    u64::try_from(t.as_nanosecond()).unwrap_or(0)
}

/// The exposition as one request: resource `service.name=iris-lab` with the run's labels;
/// counters as cumulative monotonic sums, histograms cumulative with the classic bounds.
pub fn request(e: &Exposition) -> ExportMetricsServiceRequest {
    let (start, at) = (nanos(e.start), nanos(e.at));
    // The run's labels on every point too: they stay labels where the receiver is Prometheus.
    let attributes = |labels: &[(&'static str, String)]| -> Vec<KeyValue> {
        labels.iter().map(|(k, v)| kv(k, v)).collect()
    };
    let number = |labels: &[(&'static str, String)], v: f64| NumberDataPoint {
        attributes: attributes(labels),
        start_time_unix_nano: start,
        time_unix_nano: at,
        as_double: v,
    };
    let metrics = e
        .families
        .iter()
        .map(|f| {
            let numbers = || {
                f.series
                    .iter()
                    .filter_map(|s| match &s.value {
                        Value::Number(v) => Some(number(&s.labels, *v)),
                        Value::Histogram(_) => None,
                    })
                    .collect()
            };
            let data = match f.kind {
                Kind::Counter => Data::Sum(Sum {
                    data_points: numbers(),
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: true,
                }),
                Kind::Gauge => Data::Gauge(Gauge {
                    data_points: numbers(),
                }),
                Kind::Histogram => Data::Histogram(Histogram {
                    data_points: f
                        .series
                        .iter()
                        .filter_map(|s| match &s.value {
                            Value::Histogram(b) => Some(HistogramDataPoint {
                                attributes: attributes(&s.labels),
                                start_time_unix_nano: start,
                                time_unix_nano: at,
                                count: b.count,
                                sum: Some(b.sum_seconds),
                                bucket_counts: own_counts(&b.cumulative, b.count),
                                explicit_bounds: BOUNDS.to_vec(),
                            }),
                            Value::Number(_) => None,
                        })
                        .collect(),
                    aggregation_temporality: CUMULATIVE,
                }),
            };
            Metric {
                name: f.name.to_string(),
                description: f.help.to_string(),
                unit: if f.kind == Kind::Histogram { "s" } else { "" }.to_string(),
                data: Some(data),
            }
        })
        .collect();
    let mut resource = vec![kv("service.name", "iris-lab")];
    resource.extend([
        kv("run_id", &e.run.run_id),
        kv("user_class", &e.run.user_class),
        kv("target", &e.run.target),
    ]);
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "iris-lab".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }),
                metrics,
            }],
        }],
    }
}

/// Cumulative counts at each bound -> each bucket's own count, `+Inf`'s last.
fn own_counts(cumulative: &[u64], count: u64) -> Vec<u64> {
    let mut below = 0;
    let mut own: Vec<u64> = cumulative
        .iter()
        .map(|c| {
            let n = c - below;
            below = *c;
            n
        })
        .collect();
    own.push(count - below);
    own
}

pub fn body(e: &Exposition) -> Vec<u8> {
    request(e).encode_to_vec()
}

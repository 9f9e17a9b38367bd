//! Prometheus remote write 1.0: an exposition as a `prometheus.WriteRequest` (protobuf),
//! block-compressed with snappy.
//!
//! The messages are those of the specification's `types.proto`/`remote.proto` (field numbers
//! as published); a real Prometheus receives them in the tests.

use prost::Message;

use super::series::{BOUNDS, Exposition, Kind, Value};
use super::text::format_float;

/// The specification's request headers.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
pub const CONTENT_ENCODING: &str = "snappy";
pub const VERSION_HEADER: &str = "X-Prometheus-Remote-Write-Version";
pub const VERSION: &str = "0.1.0";

#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// COUNTER = 1, GAUGE = 2, HISTOGRAM = 3.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// The exposition as one write request: every series a sample at `at`, histograms as their
/// classic `_bucket`/`_sum`/`_count` series; labels sorted by name, as the receiver requires.
pub fn write_request(e: &Exposition) -> WriteRequest {
    let ms = e.at.as_millisecond();
    let mut timeseries = Vec::new();
    let mut metadata = Vec::new();
    for family in &e.families {
        let name = family.sample_name();
        metadata.push(MetricMetadata {
            r#type: match family.kind {
                Kind::Counter => 1,
                Kind::Gauge => 2,
                Kind::Histogram => 3,
            },
            metric_family_name: name.clone(),
            help: family.help.to_string(),
            unit: String::new(),
        });
        for s in &family.series {
            let mut one = |metric: String, le: Option<String>, value: f64| {
                let mut labels: Vec<Label> = s
                    .labels
                    .iter()
                    .map(|(k, v)| Label {
                        name: k.to_string(),
                        value: v.clone(),
                    })
                    .chain(le.map(|le| Label {
                        name: "le".into(),
                        value: le,
                    }))
                    .chain(std::iter::once(Label {
                        name: "__name__".into(),
                        value: metric,
                    }))
                    .collect();
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                timeseries.push(TimeSeries {
                    labels,
                    samples: vec![Sample {
                        value,
                        timestamp: ms,
                    }],
                });
            };
            match &s.value {
                Value::Number(v) => one(name.clone(), None, *v),
                Value::Histogram(b) => {
                    for (bound, count) in BOUNDS.iter().zip(&b.cumulative) {
                        one(
                            format!("{name}_bucket"),
                            Some(format_float(*bound)),
                            *count as f64,
                        );
                    }
                    one(
                        format!("{name}_bucket"),
                        Some("+Inf".into()),
                        b.count as f64,
                    );
                    one(format!("{name}_sum"), None, b.sum_seconds);
                    one(format!("{name}_count"), None, b.count as f64);
                }
            }
        }
    }
    WriteRequest {
        timeseries,
        metadata,
    }
}

/// The request's body: the protobuf, snappy block format.
pub fn body(e: &Exposition) -> Vec<u8> {
    let proto = write_request(e).encode_to_vec();
    // Compressing a buffer in memory fails only for inputs over snappy's 4 GiB limit.
    snap::raw::Encoder::new()
        .compress_vec(&proto)
        .unwrap_or_default()
}

use std::sync::Arc;

use prost::Message;

use super::series::{BOUNDS, Buckets, Exposition, Family, Kind, RunLabels, Series, Value};
use super::{otlp, remote_write, text};

fn exposition() -> Exposition {
    let run = RunLabels {
        run_id: "20261208T000000Z-3u-U".into(),
        user_class: "U".into(),
        target: "127.0.0.1:8000".into(),
    };
    let labels = |more: &[(&'static str, &str)]| {
        let mut l = vec![
            ("run_id", run.run_id.clone()),
            ("user_class", run.user_class.clone()),
            ("target", run.target.clone()),
        ];
        l.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
        l
    };
    let mut cumulative = vec![0; BOUNDS.len()];
    cumulative[2..].iter_mut().for_each(|c| *c = 2);
    cumulative[5..].iter_mut().for_each(|c| *c = 3);
    Exposition {
        at: "2026-12-08T00:00:10Z".parse().unwrap(),
        start: "2026-12-08T00:00:00Z".parse().unwrap(),
        run: run.clone(),
        families: vec![
            Family {
                name: "iris_lab_requests",
                help: "Requests.",
                kind: Kind::Counter,
                series: vec![Series {
                    labels: labels(&[("method", "GET"), ("endpoint", "/a\"b"), ("status", "ok")]),
                    value: Value::Number(3.0),
                }],
            },
            Family {
                name: "iris_lab_request_duration_seconds",
                help: "Latency.",
                kind: Kind::Histogram,
                series: vec![Series {
                    labels: labels(&[("method", "GET"), ("endpoint", "/")]),
                    value: Value::Histogram(Buckets {
                        count: 4,
                        sum_seconds: 0.5,
                        cumulative,
                    }),
                }],
            },
        ],
    }
}

#[test]
fn text_format_names_types_and_escapes() {
    let out = text::encode_text(&[Arc::new(exposition())]);
    assert!(
        out.starts_with(
            "# HELP iris_lab_requests_total Requests.\n# TYPE iris_lab_requests_total counter\n"
        ),
        "{out}"
    );
    assert!(out.contains(r#"endpoint="/a\"b",status="ok"} 3"#), "{out}");
    assert!(out.contains(r#"endpoint="/",le="0.005"} 2"#), "{out}");
    assert!(out.contains(r#"endpoint="/",le="+Inf"} 4"#), "{out}");
    assert!(
        out.contains("iris_lab_request_duration_seconds_count{"),
        "{out}"
    );
    assert!(!out.contains("# EOF"));
}

#[test]
fn openmetrics_by_the_crate_ends_with_eof_and_keeps_cumulative_buckets() {
    let out = text::encode_openmetrics(&[Arc::new(exposition())]);
    assert!(out.contains("# TYPE iris_lab_requests counter"), "{out}");
    assert!(out.contains("iris_lab_requests_total{"), "{out}");
    assert!(
        out.contains(r#"le="0.1",run_id"#) || out.contains(r#"le="0.1""#),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("_bucket") && l.contains(r#"le="0.1""#))
        .unwrap();
    assert!(line.ends_with(" 3"), "{line}");
    assert!(out.ends_with("# EOF\n"), "{out}");
}

#[test]
fn the_accept_header_picks_the_format() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert!(text::wants_openmetrics(Some(prometheus)));
    assert!(!text::wants_openmetrics(Some("text/plain")));
    assert!(!text::wants_openmetrics(Some(
        "application/openmetrics-text;q=0"
    )));
    assert!(!text::wants_openmetrics(None));
}

#[test]
fn remote_write_is_snappy_protobuf_with_sorted_labels() {
    let body = remote_write::body(&exposition());
    let proto = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let req = remote_write::WriteRequest::decode(proto.as_slice()).unwrap();
    // 1 counter + 15 buckets + +Inf + sum + count.
    assert_eq!(req.timeseries.len(), 1 + BOUNDS.len() + 3);
    for ts in &req.timeseries {
        let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(ts.samples[0].timestamp, 1_796_688_010_000);
    }
    let first = &req.timeseries[0];
    assert!(
        first
            .labels
            .iter()
            .any(|l| l.name == "__name__" && l.value == "iris_lab_requests_total")
    );
    assert_eq!(first.samples[0].value, 3.0);
}

#[test]
fn otlp_histograms_carry_each_buckets_own_count() {
    let req =
        otlp::ExportMetricsServiceRequest::decode(otlp::body(&exposition()).as_slice()).unwrap();
    let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
    let Some(otlp::Data::Histogram(h)) = &metrics[1].data else {
        panic!("{metrics:?}");
    };
    let p = &h.data_points[0];
    assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
    assert_eq!(p.bucket_counts[2], 2);
    assert_eq!(p.bucket_counts[5], 1);
    assert_eq!(*p.bucket_counts.last().unwrap(), 1);
}

proptest::proptest! {
    #[test]
    fn any_accept_header_is_answered(accept in ".{0,200}") {
        let _ = text::wants_openmetrics(Some(&accept));
    }
}

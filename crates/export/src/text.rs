//! The scrape's body: OpenMetrics through the `prometheus-client` crate's encoder, and the
//! Prometheus text format 0.0.4 (which that crate does not write) for every other scraper.

use std::fmt::Write;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::series::{BOUNDS, Exposition, Family, Kind, Value};

/// The content type of the text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which format a scraper asked for with its `Accept` header: OpenMetrics when it names it
/// (Prometheus does, first), the text format otherwise.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            let refused = params.any(|p| p.replace(' ', "") == "q=0");
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    })
}

/// The expositions (one per run) in the text format 0.0.4.
pub fn encode_text(expositions: &[std::sync::Arc<Exposition>]) -> String {
    let mut out = String::new();
    for family in merged_families(expositions) {
        let name = family.sample_name();
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(out, "# HELP {name} {}", escape_help(family.help));
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for s in &family.series {
            match &s.value {
                Value::Number(v) => sample(&mut out, &name, &s.labels, None, *v),
                Value::Histogram(b) => {
                    let bucket = format!("{name}_bucket");
                    for (bound, count) in BOUNDS.iter().zip(&b.cumulative) {
                        let le = format_float(*bound);
                        sample(&mut out, &bucket, &s.labels, Some(&le), *count as f64);
                    }
                    sample(&mut out, &bucket, &s.labels, Some("+Inf"), b.count as f64);
                    sample(
                        &mut out,
                        &format!("{name}_sum"),
                        &s.labels,
                        None,
                        b.sum_seconds,
                    );
                    sample(
                        &mut out,
                        &format!("{name}_count"),
                        &s.labels,
                        None,
                        b.count as f64,
                    );
                }
            }
        }
    }
    out
}

/// The expositions in OpenMetrics, by `prometheus-client`.
pub fn encode_openmetrics(expositions: &[std::sync::Arc<Exposition>]) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(merged_families(expositions))));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = text::encode(&mut out, &registry);
    out
}

/// The families of several runs, each name once (the series of every run under it).
fn merged_families(expositions: &[std::sync::Arc<Exposition>]) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for family in expositions.iter().flat_map(|e| &e.families) {
        match families.iter_mut().find(|f| f.name == family.name) {
            Some(f) => f.series.extend(family.series.iter().cloned()),
            None => families.push(family.clone()),
        }
    }
    families
}

#[derive(Debug)]
struct Families(Vec<Family>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let kind = match family.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(family.name, family.help, None, kind)?;
            for s in &family.series {
                let labels: Vec<(&str, &str)> =
                    s.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let mut one = metric.encode_family(&labels)?;
                match (&s.value, family.kind) {
                    (Value::Number(v), Kind::Counter) => {
                        one.encode_counter::<Vec<(String, String)>, f64, f64>(v, None)?
                    }
                    (Value::Number(v), _) => one.encode_gauge(v)?,
                    (Value::Histogram(b), _) => {
                        let buckets: Vec<(f64, u64)> = BOUNDS
                            .iter()
                            .zip(&b.cumulative)
                            .scan(0, |below, (bound, cum)| {
                                // prometheus-client takes each bucket's own count.
                                let own = cum - *below;
                                *below = *cum;
                                Some((*bound, own))
                            })
                            .chain(std::iter::once((
                                f64::MAX,
                                b.count - b.cumulative.last().copied().unwrap_or(0),
                            )))
                            .collect();
                        one.encode_histogram::<Vec<(String, String)>>(
                            b.sum_seconds,
                            b.count,
                            &buckets,
                            None,
                        )?
                    }
                }
            }
        }
        Ok(())
    }
}

fn sample(out: &mut String, name: &str, labels: &[(&str, String)], le: Option<&str>, v: f64) {
    out.push_str(name);
    out.push('{');
    let mut first = true;
    let le = le.map(|le| ("le", le.to_string()));
    for (k, val) in labels
        .iter()
        .map(|(k, v)| (*k, v))
        .chain(le.iter().map(|(k, v)| (*k, v)))
    {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{k}=\"{}\"", escape_label(val));
    }
    let _ = writeln!(out, "}} {}", format_float(v));
}

/// A float as Prometheus writes one: integers without a fraction, `+Inf`, `NaN`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

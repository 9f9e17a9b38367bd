//! Exact merging of what several collectors measured (the workers of `load --workers N`).
//!
//! Every histogram a record carries was made by [`super::new_histogram`] (same bounds and
//! precision everywhere), so adding them (`Histogram::add`) gives exactly the histogram one
//! collector fed every sample would have had; counters add; exact maxima and minima compare.
//! The merged percentiles therefore equal those of one histogram fed every sample.
//!
//! [`PARTS`] lists every part of a record that a merge computes; a new histogram in the
//! record (phases, corrected latency) adds its merger there and is merged with the rest.

mod arrivals;
pub mod live;
mod phases;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{SLOWEST_KEPT, decode_histogram, distribution, encode_histogram, new_histogram};
use iris_api::Failure;
use iris_record::{
    Distribution, EndpointRecord, FailureRecord, Percentile, RunRecord, RunStatus, SAMPLED_KEPT,
    SlowestRecord, SteadyState,
};

pub use live::{LiveMerge, SecondShare};

/// Why records (or seconds) could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{what}: not a valid HdrHistogram (V2, base64)")]
    Histogram { what: String },
    #[error("{what}: its histogram does not fit the common bounds (1 us to 1 h)")]
    Bounds { what: String },
    #[error("nothing to merge: no worker sent its record")]
    Empty,
}

/// Adds the encoded histogram `text` into `into`.
pub fn add_encoded(into: &mut Histogram<u64>, what: &str, text: &str) -> Result<(), MergeError> {
    let h = decode_histogram(text).ok_or_else(|| MergeError::Histogram {
        what: what.to_string(),
    })?;
    into.add(&h).map_err(|_| MergeError::Bounds {
        what: what.to_string(),
    })
}

/// The sum of encoded histograms.
pub fn sum_encoded<'a>(
    what: &str,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<Histogram<u64>, MergeError> {
    let mut sum = new_histogram();
    for t in texts {
        add_encoded(&mut sum, what, t)?;
    }
    Ok(sum)
}

/// One part of a merge: computes its fields of `merged` from every part.
pub type PartMerger = fn(&mut RunRecord, &[&RunRecord]) -> Result<(), MergeError>;

/// Every part of a record a merge computes, in order (the run's length first: rates use it).
pub const PARTS: &[PartMerger] = &[
    run_length,
    endpoints,
    aggregate,
    failures,
    server_timings,
    phases::phases,
    slowest,
    sampled,
    steady_state,
    throughput,
    arrivals::arrivals,
];

/// Merges the records of the workers of one run. The result keeps the first record's
/// identity (tool, target, params) for the caller to set; its timeline, thresholds and
/// `worker` are empty: the caller merges seconds live ([`LiveMerge`]) and judges thresholds.
pub fn merge_records(parts: &[&RunRecord]) -> Result<RunRecord, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    let mut merged = (*first).clone();
    merged.timeline = Vec::new();
    merged.thresholds = Vec::new();
    merged.worker = None;
    merged.cluster = None;
    for part in PARTS {
        part(&mut merged, parts)?;
    }
    Ok(merged)
}

fn run_length(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    m.duration_s = parts.iter().map(|r| r.duration_s).fold(0.0, f64::max);
    m.started_at = parts
        .iter()
        .map(|r| r.started_at)
        .min()
        .unwrap_or(m.started_at);
    m.ended_at = parts.iter().map(|r| r.ended_at).max().unwrap_or(m.ended_at);
    m.users_started = parts.iter().map(|r| r.users_started).sum();
    m.spawn_complete_s = parts
        .iter()
        .map(|r| r.spawn_complete_s)
        .try_fold(0.0, |acc: f64, s| s.map(|s| acc.max(s)));
    m.status = if parts.iter().any(|r| r.status == RunStatus::Interrupted) {
        RunStatus::Interrupted
    } else {
        RunStatus::Completed
    };
    Ok(())
}

/// Merges the rows of one (method, name) over `secs` seconds.
pub fn merge_endpoint(parts: &[&EndpointRecord], secs: f64) -> Result<EndpointRecord, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    let what = format!("{} {}", first.method, first.name)
        .trim()
        .to_string();
    let hist = sum_encoded(&what, parts.iter().map(|e| e.histogram.as_str()))?;
    let requests: u64 = parts.iter().map(|e| e.requests).sum();
    let failures: u64 = parts.iter().map(|e| e.failures).sum();
    let measured: Vec<&&EndpointRecord> = parts.iter().filter(|e| e.requests > 0).collect();
    let weighted = |f: fn(&EndpointRecord) -> f64| {
        if requests == 0 {
            0.0
        } else {
            measured
                .iter()
                .map(|e| f(e) * e.requests as f64)
                .sum::<f64>()
                / requests as f64
        }
    };
    let max_us = measured
        .iter()
        .map(|e| ms_to_us(e.max_ms))
        .max()
        .unwrap_or(0);
    let secs = secs.max(1e-9);
    Ok(EndpointRecord {
        method: first.method.clone(),
        name: first.name.clone(),
        requests,
        failures,
        min_ms: measured
            .iter()
            .map(|e| e.min_ms)
            .reduce(f64::min)
            .unwrap_or(0.0),
        avg_ms: weighted(|e| e.avg_ms),
        max_ms: max_us as f64 / 1e3,
        avg_content_size: weighted(|e| e.avg_content_size),
        rps: requests as f64 / secs,
        failures_per_s: failures as f64 / secs,
        current_rps: parts.iter().map(|e| e.current_rps).sum(),
        current_failures_per_s: parts.iter().map(|e| e.current_failures_per_s).sum(),
        percentiles_ms: if requests == 0 {
            BTreeMap::new()
        } else {
            Percentile::ALL
                .iter()
                .map(|&p| (p, super::percentile_ms(&hist, max_us, p.fraction())))
                .collect()
        },
        histogram: encode_histogram(&hist),
    })
}

/// Milliseconds written from whole microseconds, back to microseconds.
fn ms_to_us(ms: f64) -> u64 {
    (ms * 1e3).round() as u64
}

fn endpoints(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let mut rows: BTreeMap<(String, String), Vec<&EndpointRecord>> = BTreeMap::new();
    for e in parts.iter().flat_map(|r| &r.endpoints) {
        rows.entry((e.name.clone(), e.method.clone()))
            .or_default()
            .push(e);
    }
    // Sorted by name then method, as the collector sorts them.
    m.endpoints = rows
        .values()
        .map(|rows| merge_endpoint(rows, m.duration_s))
        .collect::<Result<_, _>>()?;
    Ok(())
}

fn aggregate(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let rows: Vec<&EndpointRecord> = parts.iter().map(|r| &r.aggregate).collect();
    m.aggregate = merge_endpoint(&rows, m.duration_s)?;
    Ok(())
}

fn failures(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let mut by: BTreeMap<(String, String, Failure), FailureRecord> = BTreeMap::new();
    for f in parts.iter().flat_map(|r| &r.failures) {
        by.entry((f.method.clone(), f.name.clone(), f.reason.clone()))
            .and_modify(|m| {
                m.count += f.count;
                m.first_seen = m.first_seen.min(f.first_seen);
                m.last_seen = m.last_seen.max(f.last_seen);
            })
            .or_insert_with(|| f.clone());
    }
    let mut rows: Vec<FailureRecord> = by.into_values().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.count));
    m.failures = rows;
    Ok(())
}

fn merge_distribution(
    what: &str,
    parts: impl Iterator<Item = Option<Distribution>>,
) -> Result<Option<Distribution>, MergeError> {
    let mut sum = new_histogram();
    for d in parts.flatten() {
        add_encoded(&mut sum, what, &d.histogram)?;
    }
    Ok(distribution(&sum))
}

fn server_timings(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let timings = || parts.iter().map(|r| &r.server_timings);
    m.server_timings.inference = merge_distribution(
        "server inference time",
        timings().map(|t| t.inference.clone()),
    )?;
    m.server_timings.total =
        merge_distribution("server total time", timings().map(|t| t.total.clone()))?;
    Ok(())
}

fn slowest(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let mut rows: Vec<SlowestRecord> = Vec::new();
    for s in parts.iter().flat_map(|r| &r.slowest) {
        match rows
            .iter_mut()
            .find(|r| r.method == s.method && r.name == s.name)
        {
            Some(row) => row.traces.extend(s.traces.iter().cloned()),
            None => rows.push(s.clone()),
        }
    }
    for row in &mut rows {
        row.traces.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        row.traces.truncate(SLOWEST_KEPT);
    }
    m.slowest = rows;
    Ok(())
}

fn sampled(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let mut all: Vec<_> = parts
        .iter()
        .flat_map(|r| r.sampled.iter().cloned())
        .collect();
    // Workers start at one absolute time: their offsets compare.
    all.sort_by(|a, b| {
        (a.start_s + a.latency_ms / 1e3).total_cmp(&(b.start_s + b.latency_ms / 1e3))
    });
    all.truncate(SAMPLED_KEPT);
    m.sampled = all;
    Ok(())
}

/// The steady state of every worker together: from the last worker's full user count to
/// the first worker's stop. None when a worker never got there (or lacks its histogram).
fn steady_state(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    let states: Option<Vec<&SteadyState>> = parts.iter().map(|r| r.steady_state.as_ref()).collect();
    m.steady_state = match states {
        Some(states) if states.iter().all(|s| s.histogram.is_some()) => {
            Some(merge_steady(&states)?)
        }
        _ => None,
    };
    Ok(())
}

fn merge_steady(states: &[&SteadyState]) -> Result<SteadyState, MergeError> {
    let hist = sum_encoded(
        "steady state",
        states.iter().filter_map(|s| s.histogram.as_deref()),
    )?;
    let from_s = states.iter().map(|s| s.from_s).fold(0.0, f64::max);
    let until = states
        .iter()
        .map(|s| s.from_s + s.duration_s)
        .reduce(f64::min)
        .unwrap_or(from_s);
    let requests: u64 = states.iter().map(|s| s.requests).sum();
    let max_us = states
        .iter()
        .filter(|s| s.requests > 0)
        .filter_map(|s| s.max_ms.map(ms_to_us))
        .max()
        .unwrap_or(0);
    let pct =
        |p: Percentile| (requests > 0).then(|| super::percentile_ms(&hist, max_us, p.fraction()));
    Ok(SteadyState {
        from_s,
        duration_s: (until - from_s).max(0.0),
        requests,
        failures: states.iter().map(|s| s.failures).sum(),
        rps: states.iter().map(|s| s.rps).sum(),
        avg_ms: if requests == 0 {
            0.0
        } else {
            states
                .iter()
                .map(|s| s.avg_ms * s.requests as f64)
                .sum::<f64>()
                / requests as f64
        },
        p50_ms: pct(Percentile::P50),
        p95_ms: pct(Percentile::P95),
        p99_ms: pct(Percentile::P99),
        histogram: Some(encode_histogram(&hist)),
        max_ms: Some(max_us as f64 / 1e3),
    })
}

fn throughput(m: &mut RunRecord, parts: &[&RunRecord]) -> Result<(), MergeError> {
    m.throughput.total_rps = m.aggregate.rps;
    m.throughput.steady_rps = m.steady_state.as_ref().map(|s| s.rps);
    m.throughput.theoretical_max_rps = parts.iter().map(|r| r.throughput.theoretical_max_rps).sum();
    Ok(())
}

#[cfg(test)]
mod tests;

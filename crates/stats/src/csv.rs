//! Locust-compatible CSV files, with Locust's column names and order, written from a run
//! record so that any saved run can be exported again.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::locust_bucket;
use iris_record::WriteError;
use iris_record::{EndpointRecord, Percentile, RunRecord, TimelinePoint};

pub const STATS_HEADER: [&str; 22] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
];

pub const HISTORY_HEADER: [&str; 24] = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
];

pub const FAILURES_HEADER: [&str; 6] = [
    "Method",
    "Name",
    "Error",
    "Occurrences",
    "First Seen",
    "Last Seen",
];

/// Locust writes the exceptions of its Python user code here; iris-lab's users run no user
/// code, so the file has only its header, as Locust's has after a run without exceptions.
pub const EXCEPTIONS_HEADER: [&str; 4] = ["Count", "Message", "Traceback", "Nodes"];

/// The four file names for a prefix, as Locust's `--csv PREFIX` names them.
pub fn paths(prefix: &Path) -> [PathBuf; 4] {
    let p = prefix.to_string_lossy();
    ["stats", "stats_history", "failures", "exceptions"]
        .map(|f| PathBuf::from(format!("{p}_{f}.csv")))
}

/// A float as Locust writes one (Python's `str`): the shortest digits that read back the same,
/// always with a point or an exponent (`113.0`, `1e-05`, `1.5e+16`).
pub fn python_float(v: f64) -> String {
    if !v.is_finite() {
        let text = if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return text.to_string();
    }
    // Rust's `{:?}` picks the same digits and the same switch to an exponent (below 1e-4,
    // from 1e16 on); Python writes the exponent with a sign and at least two digits.
    let text = format!("{v:?}");
    match text.split_once('e') {
        None => text,
        Some((mantissa, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(('+', exp), |d| ('-', d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
    }
}

/// Values that Locust starts at the integer 0 and makes floats with the first request (min,
/// max, average content size).
fn float_or_zero(requests: u64, v: f64) -> String {
    if requests == 0 {
        "0".to_string()
    } else {
        python_float(v)
    }
}

/// Locust's median: the bucketed percentile, but never outside the exact min and max.
fn median(requests: u64, median_ms: f64, min_ms: f64, max_ms: f64) -> String {
    if requests == 0 {
        return "0".to_string();
    }
    let bucket = locust_bucket(median_ms);
    let b = bucket as f64;
    if b > max_ms {
        python_float(max_ms)
    } else if b < min_ms {
        python_float(min_ms)
    } else {
        bucket.to_string()
    }
}

/// Locust's percentile columns: bucketed milliseconds, or N/A without requests.
fn bucketed(values: &[f64]) -> Vec<String> {
    if values.is_empty() {
        return vec!["N/A".to_string(); Percentile::ALL.len()];
    }
    values
        .iter()
        .map(|&v| locust_bucket(v).to_string())
        .collect()
}

fn stats_row(r: &EndpointRecord) -> Vec<String> {
    let pcts: Vec<f64> = if r.requests == 0 {
        Vec::new()
    } else {
        Percentile::ALL
            .iter()
            .map(|&p| r.percentile(p).unwrap_or(0.0))
            .collect()
    };
    let mut row = vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        r.failures.to_string(),
        median(
            r.requests,
            r.percentile(Percentile::P50).unwrap_or(0.0),
            r.min_ms,
            r.max_ms,
        ),
        python_float(r.avg_ms),
        float_or_zero(r.requests, r.min_ms),
        float_or_zero(r.requests, r.max_ms),
        float_or_zero(r.requests, r.avg_content_size),
        python_float(r.rps),
        python_float(r.failures_per_s),
    ];
    row.extend(bucketed(&pcts));
    row
}

/// One `_stats_history.csv` row: Locust's Aggregated row, whose percentiles are the run's
/// so far (the 10-second "current" ones only with `--csv-full-history`) and whose rates have
/// six decimals.
fn history_row(p: &TimelinePoint) -> Vec<String> {
    let mut row = vec![
        p.time.as_second().to_string(),
        p.users.to_string(),
        String::new(),
        "Aggregated".to_string(),
        format!("{:.6}", p.rps),
        format!("{:.6}", p.failures_per_s),
    ];
    row.extend(bucketed(&p.total_percentiles_ms));
    let n = p.total_requests;
    row.extend([
        n.to_string(),
        p.total_failures.to_string(),
        median(n, p.total_median_ms, p.total_min_ms, p.total_max_ms),
        python_float(p.total_avg_ms),
        float_or_zero(n, p.total_min_ms),
        float_or_zero(n, p.total_max_ms),
        float_or_zero(n, p.total_avg_content_size),
    ]);
    row
}

/// Locust's time format in `_failures.csv`: UTC to the second.
fn seen(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Renders the four files' contents.
pub fn render(record: &RunRecord) -> Result<[String; 4], WriteError> {
    fn table<const N: usize>(
        header: [&str; N],
        rows: impl IntoIterator<Item = Vec<String>>,
    ) -> Result<String, WriteError> {
        let csv_err = |e: csv::Error| WriteError::new("CSV", std::io::Error::other(e));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header).map_err(csv_err)?;
        for row in rows {
            w.write_record(row).map_err(csv_err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| WriteError::new("CSV", std::io::Error::other(e.to_string())))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
    let stats = record
        .endpoints
        .iter()
        .chain([&record.aggregate])
        .chain(record.arrivals.iter().flat_map(|a| &a.service))
        .map(stats_row);
    let history = record.timeline.iter().map(history_row);
    let failures = record.failures.iter().map(|f| {
        vec![
            f.method.clone(),
            f.name.clone(),
            f.reason.to_string(),
            f.count.to_string(),
            seen(f.first_seen),
            seen(f.last_seen),
        ]
    });
    Ok([
        table(STATS_HEADER, stats)?,
        table(HISTORY_HEADER, history)?,
        table(FAILURES_HEADER, failures)?,
        table(EXCEPTIONS_HEADER, [])?,
    ])
}

/// Writes `PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv` and
/// `PREFIX_exceptions.csv`, each atomically. Returns the paths written.
pub fn write(record: &RunRecord, prefix: &Path) -> Result<[PathBuf; 4], WriteError> {
    let texts = render(record)?;
    let paths = paths(prefix);
    for (path, text) in paths.iter().zip(texts) {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| WriteError::new(path.display().to_string(), e))?;
        }
        iris_record::write_atomically(path, |w| w.write_all(text.as_bytes()))?;
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_locusts() {
        assert_eq!(
            STATS_HEADER.join(","),
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
             Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,\
             50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
        );
        assert_eq!(
            HISTORY_HEADER.join(","),
            "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,\
             99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,\
             Total Median Response Time,Total Average Response Time,Total Min Response Time,\
             Total Max Response Time,Total Average Content Size"
        );
        assert_eq!(
            FAILURES_HEADER.join(","),
            "Method,Name,Error,Occurrences,First Seen,Last Seen"
        );
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        for (v, text) in [
            (113.0, "113.0"),
            (0.0, "0.0"),
            (14.166008250015238, "14.166008250015238"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (2.5e-10, "2.5e-10"),
        ] {
            assert_eq!(python_float(v), text);
        }
    }

    #[test]
    fn medians_stay_within_min_and_max_as_locusts_do() {
        assert_eq!(median(0, 0.0, 0.0, 0.0), "0");
        assert_eq!(median(3, 13.4, 1.2, 50.0), "13");
        // One slow request: the bucket (320) is above the exact max.
        assert_eq!(median(1, 317.4, 317.4, 317.4), "317.4");
        assert_eq!(median(1, 99.6, 99.6, 99.6), "99.6");
    }

    #[test]
    fn prefixes_name_files_like_locust() {
        let [a, b, c, d] = paths(Path::new("out/run"));
        assert_eq!(a, PathBuf::from("out/run_stats.csv"));
        assert_eq!(b, PathBuf::from("out/run_stats_history.csv"));
        assert_eq!(c, PathBuf::from("out/run_failures.csv"));
        assert_eq!(d, PathBuf::from("out/run_exceptions.csv"));
    }
}

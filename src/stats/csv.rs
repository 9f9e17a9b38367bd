//! Locust-compatible CSV files, with Locust's column names and order, written from a run
//! record so that any saved run can be exported again.

use std::path::{Path, PathBuf};

use super::locust_bucket;
use crate::record::WriteError;
use crate::record::{EndpointRecord, Percentile, RunRecord};

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

pub const FAILURES_HEADER: [&str; 4] = ["Method", "Name", "Error", "Occurrences"];

/// The three file names for a prefix, as Locust's `--csv PREFIX` names them.
pub fn paths(prefix: &Path) -> [PathBuf; 3] {
    let p = prefix.to_string_lossy();
    [
        PathBuf::from(format!("{p}_stats.csv")),
        PathBuf::from(format!("{p}_stats_history.csv")),
        PathBuf::from(format!("{p}_failures.csv")),
    ]
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
    // All eleven, or none without requests.
    let pcts: Vec<f64> = Percentile::ALL
        .iter()
        .filter_map(|&p| r.percentile(p))
        .collect();
    let mut row = vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        r.failures.to_string(),
        // Locust's median of no requests is 0.
        locust_bucket(r.percentile(Percentile::P50).unwrap_or(0.0)).to_string(),
        r.avg_ms.to_string(),
        r.min_ms.to_string(),
        r.max_ms.to_string(),
        r.avg_content_size.to_string(),
        r.rps.to_string(),
        r.failures_per_s.to_string(),
    ];
    row.extend(bucketed(&pcts));
    row
}

/// Renders the three files' contents.
pub fn render(record: &RunRecord) -> Result<[String; 3], WriteError> {
    let csv_err = |e: csv::Error| WriteError::new("CSV", std::io::Error::other(e));
    let finish = |w: csv::Writer<Vec<u8>>| -> Result<String, WriteError> {
        let bytes = w
            .into_inner()
            .map_err(|e| WriteError::new("CSV", std::io::Error::other(e.to_string())))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };

    let mut stats = csv::Writer::from_writer(Vec::new());
    stats.write_record(STATS_HEADER).map_err(csv_err)?;
    for r in record.endpoints.iter().chain([&record.aggregate]) {
        stats.write_record(stats_row(r)).map_err(csv_err)?;
    }

    let mut history = csv::Writer::from_writer(Vec::new());
    history.write_record(HISTORY_HEADER).map_err(csv_err)?;
    for p in &record.timeline {
        let mut row = vec![
            p.time.as_second().to_string(),
            p.users.to_string(),
            String::new(),
            "Aggregated".to_string(),
            p.rps.to_string(),
            p.failures_per_s.to_string(),
        ];
        row.extend(bucketed(&p.percentiles_ms));
        row.extend([
            p.total_requests.to_string(),
            p.total_failures.to_string(),
            locust_bucket(p.total_median_ms).to_string(),
            p.total_avg_ms.to_string(),
            p.total_min_ms.to_string(),
            p.total_max_ms.to_string(),
            p.total_avg_content_size.to_string(),
        ]);
        history.write_record(row).map_err(csv_err)?;
    }

    let mut failures = csv::Writer::from_writer(Vec::new());
    failures.write_record(FAILURES_HEADER).map_err(csv_err)?;
    for f in &record.failures {
        failures
            .write_record([
                f.method.clone(),
                f.name.clone(),
                f.reason.to_string(),
                f.count.to_string(),
            ])
            .map_err(csv_err)?;
    }
    Ok([finish(stats)?, finish(history)?, finish(failures)?])
}

/// Writes `PREFIX_stats.csv`, `PREFIX_stats_history.csv` and `PREFIX_failures.csv`, each
/// atomically. Returns the paths written.
pub fn write(record: &RunRecord, prefix: &Path) -> Result<[PathBuf; 3], WriteError> {
    let texts = render(record)?;
    let paths = paths(prefix);
    for (path, text) in paths.iter().zip(texts) {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| WriteError::new(path.display().to_string(), e))?;
        }
        crate::record::write_atomically(path, |w| w.write_all(text.as_bytes()))?;
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
        assert_eq!(FAILURES_HEADER.join(","), "Method,Name,Error,Occurrences");
    }

    #[test]
    fn prefixes_name_files_like_locust() {
        let [a, b, c] = paths(Path::new("out/run"));
        assert_eq!(a, PathBuf::from("out/run_stats.csv"));
        assert_eq!(b, PathBuf::from("out/run_stats_history.csv"));
        assert_eq!(c, PathBuf::from("out/run_failures.csv"));
    }
}

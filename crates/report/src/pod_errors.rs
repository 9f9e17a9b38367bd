//! "High error rates: what the pods said": a run's client-side failures and the pods' error
//! lines (the record's `pod_errors`) on one time axis, seconds from the run's start.

use serde::{Deserialize, Serialize};

use iris_record::RunRecord;

/// One line of the table: a failure the client saw, or a message the pods logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRow {
    pub from_s: f64,
    pub to_s: f64,
    /// `client` or `pods`.
    pub side: String,
    pub what: String,
    pub count: u64,
    /// For the pods' lines: `pod-a x3, pod-b x1`.
    pub pods: String,
}

/// The section for one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorsView {
    pub because: String,
    pub rows: Vec<ErrorRow>,
    pub logs_read: usize,
    pub lines: u64,
    pub error_lines: u64,
    /// Logs not read, and why.
    pub gaps: Vec<String>,
    pub truncated: Vec<String>,
}

/// The section, when the record has the pods' errors.
pub fn view(record: &RunRecord) -> Option<ErrorsView> {
    let pe = record.pod_errors.as_ref()?;
    let at = |t: jiff::Timestamp| t.duration_since(record.started_at).as_secs_f64().max(0.0);
    let mut rows: Vec<ErrorRow> = record
        .failures
        .iter()
        .map(|f| ErrorRow {
            from_s: at(f.first_seen),
            to_s: at(f.last_seen),
            side: "client".into(),
            what: format!("{} {}: {}", f.method, f.name, f.reason),
            count: f.count,
            pods: String::new(),
        })
        .collect();
    rows.extend(pe.groups.iter().map(|g| {
        ErrorRow {
            from_s: g.first_s,
            to_s: g.last_s,
            side: "pods".into(),
            what: g.example.clone(),
            count: g.count,
            pods: g
                .pods
                .iter()
                .map(|(p, n)| format!("{p} x{n}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }));
    rows.sort_by(|a, b| a.from_s.total_cmp(&b.from_s).then(a.side.cmp(&b.side)));
    Some(ErrorsView {
        because: pe.because.clone(),
        rows,
        logs_read: pe.read.len(),
        lines: pe.lines,
        error_lines: pe.error_lines,
        gaps: pe
            .gaps
            .iter()
            .map(|g| format!("{}: {}", g.log, g.reason))
            .collect(),
        truncated: pe.truncated.clone(),
    })
}

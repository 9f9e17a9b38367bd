//! `<run>.traces.json`: a run's traces saved beside its record, so later reports work offline and
//! say when the traces were fetched. Written atomically; never holds credentials.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Trace;
use iris_record::locations::traces_beside;
use iris_record::{ReadError, RecordError, WriteError};

/// The version of the traces file this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The traces of one run, and how they were fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracesFile {
    pub schema_version: u32,
    pub project: String,
    pub fetched_at: Timestamp,
    /// The window asked for: spans that started in it.
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    /// The Cloud Trace filter used ("" for none).
    pub filter: String,
    pub max_traces: usize,
    /// The fetch stopped at `max_traces`: more traces exist in the window.
    pub reached_max: bool,
    pub traces: Vec<Trace>,
}

pub fn save(file: &TracesFile, path: &Path) -> Result<(), WriteError> {
    iris_record::write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, file)?;
        w.write_all(b"\n")
    })
}

/// The traces saved beside `record`, if any.
pub fn load_beside(record: &Path) -> Result<Option<TracesFile>, ReadError> {
    let path = traces_beside(record);
    let wrap = |source: RecordError| ReadError {
        path: path.clone(),
        source,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(wrap(e.into())),
    };
    let file: TracesFile = serde_json::from_str(&text).map_err(|e| wrap(e.into()))?;
    if file.schema_version != SCHEMA_VERSION {
        return Err(wrap(RecordError::Version {
            found: file.schema_version,
            supported: SCHEMA_VERSION,
        }));
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_record::locations::is_traces_file;

    #[test]
    fn traces_are_saved_beside_the_record_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("2026-01-01-150u.json");
        assert_eq!(
            traces_beside(&record),
            dir.path().join("2026-01-01-150u.traces.json")
        );
        assert!(is_traces_file(&traces_beside(&record)));
        assert!(!is_traces_file(&record));
        assert_eq!(load_beside(&record).unwrap(), None);
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let file = TracesFile {
            schema_version: SCHEMA_VERSION,
            project: "p".into(),
            fetched_at: t,
            window_start: t,
            window_end: t,
            filter: "root:prediction_request".into(),
            max_traces: 10,
            reached_max: false,
            traces: vec![Trace {
                trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                spans: vec![super::super::tests::span(
                    u64::MAX,
                    None,
                    "prediction_request",
                    0,
                    4,
                )],
            }],
        };
        save(&file, &traces_beside(&record)).unwrap();
        assert_eq!(load_beside(&record).unwrap(), Some(file));
    }
}

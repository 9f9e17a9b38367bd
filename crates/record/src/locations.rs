//! Where run records live: the default runs directory, which records a report or a trace
//! analysis reads when none are named, and the files kept beside a record (its saved traces).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};

use super::ReadError;

/// Where `load` writes its records, and where `report` and `trace` look for them.
pub const DEFAULT_OUT_DIR: &str = "iris-lab-runs";
/// What the file name of a run's saved traces ends with.
pub const TRACES_SUFFIX: &str = ".traces.json";

/// No records to read where they were looked for.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(
        "could not read the runs directory {}: run `iris-lab load` first, or name record files",
        dir.display()
    )]
    RunsDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no run records in {dir}: run `iris-lab load` first, or name record files")]
    NoRuns { dir: PathBuf },
    #[error(transparent)]
    Record(#[from] ReadError),
}

/// The records named, else the latest of each user count in `runs_dir`.
pub fn record_paths(runs: &[PathBuf], runs_dir: &Path) -> Result<Vec<PathBuf>, LocateError> {
    if !runs.is_empty() {
        return Ok(runs.to_vec());
    }
    let found = latest_per_user_count(runs_dir)?;
    if found.is_empty() {
        return Err(LocateError::NoRuns {
            dir: runs_dir.to_path_buf(),
        });
    }
    Ok(found)
}

/// The latest record of each distinct user count in `dir`, by start time.
pub fn latest_per_user_count(dir: &Path) -> Result<Vec<PathBuf>, LocateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LocateError::RunsDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut latest: BTreeMap<u32, (jiff::Timestamp, PathBuf)> = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") || is_traces_file(&path) {
            continue;
        }
        // Every .json here is meant to be a record: a broken one is an error that names it.
        let record = super::load(&path)?;
        let slot = latest.entry(record.params.users);
        let newer = match &slot {
            Entry::Occupied(o) => record.started_at > o.get().0,
            Entry::Vacant(_) => true,
        };
        if newer {
            latest.insert(record.params.users, (record.started_at, path));
        }
    }
    Ok(latest.into_values().map(|(_, p)| p).collect())
}

/// `runs/x.json` -> `runs/x.traces.json`.
pub fn traces_beside(record: &Path) -> PathBuf {
    let stem = record
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    record.with_file_name(format!("{stem}{TRACES_SUFFIX}"))
}

/// Whether `path` is saved traces rather than a run record.
pub fn is_traces_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(TRACES_SUFFIX))
}

/// A record's file name as reports and notes show it (the path when it has none).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

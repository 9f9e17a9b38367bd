//! The two sides of a comparison from disk: each a run record or a directory of them. Every
//! problem is kept (one line each), not only the first.

use std::path::{Path, PathBuf};

use iris_record::{self as record, ReadError, RunRecord};

use super::units::steady_seconds;

/// One run of a side.
#[derive(Debug, Clone)]
pub struct Run {
    pub path: PathBuf,
    pub record: RunRecord,
}

/// Why a side (or one of its records) cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("could not list run records in {dir}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no run records in {dir}: name a record or a directory of them")]
    NoRecords { dir: PathBuf },
    #[error("run record {path} is an empty run ({why}): nothing to compare; run the load again")]
    Empty { path: PathBuf, why: &'static str },
}

/// The runs of `path` (a record, or every record in a directory, sorted by name), or every
/// problem found.
pub fn read(path: &Path) -> Result<Vec<Run>, Vec<Problem>> {
    let paths = if path.is_dir() {
        list(path).map_err(|p| vec![p])?
    } else {
        vec![path.to_path_buf()]
    };
    let mut runs = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match read_run(&path) {
            Ok(run) => runs.push(run),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(runs)
    } else {
        Err(problems)
    }
}

/// Both sides, with the problems of both.
pub fn read_both(base: &Path, new: &Path) -> Result<(Vec<Run>, Vec<Run>), Vec<Problem>> {
    match (read(base), read(new)) {
        (Ok(b), Ok(n)) => Ok((b, n)),
        (b, n) => Err(b.err().into_iter().chain(n.err()).flatten().collect()),
    }
}

fn read_run(path: &Path) -> Result<Run, Problem> {
    let record = record::load(path)?;
    let why = if record.aggregate.requests == 0 {
        Some("no requests")
    } else if steady_seconds(&record).iter().all(|s| s.requests == 0.0) {
        Some("no requests in a whole steady-state second")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(Problem::Empty {
            path: path.to_path_buf(),
            why,
        });
    }
    Ok(Run {
        path: path.to_path_buf(),
        record,
    })
}

/// The records of a directory: its `.json` files but saved traces, sorted by name (the UTC
/// start time); distributed workers' records stay in their own subdirectory, not read.
fn list(dir: &Path) -> Result<Vec<PathBuf>, Problem> {
    let entries = std::fs::read_dir(dir).map_err(|source| Problem::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            p.is_file()
                && name.is_some_and(|n| n.ends_with(".json") && !n.ends_with(".traces.json"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(Problem::NoRecords {
            dir: dir.to_path_buf(),
        });
    }
    Ok(paths)
}

//! Did a change make the API better? Two sides of run records in, typed comparisons out: per
//! load profile, the change of each figure with its 95% confidence interval and a verdict, the
//! scaling figures, what differed between the environments, and the CI gate's breaches.
//! `output` renders them (markdown, text tables, JSON); `commands::compare` wires it.
//!
//! The statistics: requests of one run are not independent samples, so the unit is a
//! steady-state second (the record's timeline: each second's requests, failures and its own
//! percentiles), resampled by a moving block bootstrap (blocks of consecutive seconds, never
//! across runs, seeded so results repeat). Per endpoint and for the server's timings the records
//! hold whole-run figures only: there the runs are the units, tested when each side pools at
//! least [`MIN_RUNS`] runs. A change is better or worse only when its interval excludes 0
//! and it is at least the minimum change.

mod bootstrap;
pub mod environment;
pub mod gate;
pub mod profile;
pub mod sides;
mod tables;
pub mod units;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use environment::EnvItem;
pub use gate::{FailOn, Rule};
pub use profile::Profile;
pub use sides::{Problem, Run};
pub use units::Metric;

/// The bootstrap's seed unless told otherwise (results repeat run after run).
pub const DEFAULT_SEED: u64 = 23;
/// Resamples of each test unless told otherwise.
pub const DEFAULT_RESAMPLES: u32 = 2000;
/// Fewest steady-state seconds a side needs for an interval.
pub const MIN_SECONDS: usize = 5;
/// Fewest runs a side needs for an interval where runs are the units.
pub const MIN_RUNS: usize = 3;

/// How to compare, after flags, config and defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Options {
    /// Smallest relative change called better or worse (0.05 = 5%).
    pub min_change: f64,
    /// Smallest change of a failure rate called better or worse, as a fraction (0.001 = 0.1
    /// percentage point).
    pub min_points: f64,
    pub resamples: u32,
    pub seed: u64,
    pub confidence: f64,
    /// Compare runs of different load profiles.
    pub force: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_change: 0.05,
            min_points: 0.001,
            resamples: DEFAULT_RESAMPLES,
            seed: DEFAULT_SEED,
            confidence: 0.95,
            force: false,
        }
    }
}

/// How a table's intervals were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Moving block bootstrap over the runs' steady-state seconds.
    SecondsBlockBootstrap,
    /// Bootstrap over whole runs (each run one unit).
    RunsBootstrap,
}

/// The test behind a table: method, units on each side, block length, resamples, seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Test {
    pub method: Method,
    pub base_units: usize,
    pub new_units: usize,
    pub block_len: usize,
    pub resamples: u32,
    pub seed: u64,
    pub confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    NoSignificantChange,
    /// No interval (too few units, or nothing to divide by).
    NotTested,
}

/// One figure on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub metric: Metric,
    /// ms for percentiles, requests/s, or a failure fraction.
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// new/base - 1, or new - base for a failure rate.
    pub change: Option<f64>,
    /// The interval of the change at the test's confidence.
    pub ci: Option<[f64; 2]>,
    pub verdict: Verdict,
}

/// Rows of one scope (all requests, an endpoint, a server timing) and how they were tested.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub name: String,
    pub test: Option<Test>,
    /// Why there are no intervals, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tested: Option<String>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn row(&self, metric: Metric) -> Option<&Row> {
        self.rows.iter().find(|r| r.metric == metric)
    }
}

/// A scaling figure (means over the side's runs that watched a cluster); one value per run,
/// so no interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingRow {
    pub what: &'static str,
    pub unit: &'static str,
    pub base: Option<f64>,
    pub new: Option<f64>,
    pub change: Option<f64>,
}

/// A rule of the gate that a comparison breached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    pub profile: String,
    pub rule: Rule,
    pub row: Row,
}

/// One profile's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub profile: Profile,
    /// The new side's profile when it differs (compared with `--force`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_profile: Option<Profile>,
    pub base_runs: Vec<PathBuf>,
    pub new_runs: Vec<PathBuf>,
    /// Unfair differences, first thing to read.
    pub warnings: Vec<String>,
    pub environment: Vec<EnvItem>,
    /// All requests, over steady-state seconds.
    pub overall: Table,
    pub endpoints: Vec<Table>,
    pub server: Vec<Table>,
    pub scaling: Vec<ScalingRow>,
}

/// Everything `compare` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub base: PathBuf,
    pub new: PathBuf,
    pub options: Options,
    pub comparisons: Vec<Comparison>,
    /// Profiles found on one side only (not compared).
    pub only_base: Vec<Profile>,
    pub only_new: Vec<Profile>,
    pub fail_on: Vec<Rule>,
    pub breaches: Vec<Breach>,
}

/// Why there is nothing to compare.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("{} of the run records cannot be compared", .0.len())]
    Unreadable(Vec<Problem>),
    #[error(
        "the two sides share no load profile (base: {base}; new: {new}): a change of load says \
         nothing about a change of the API; pass --force to compare them anyway"
    )]
    ProfileMismatch { base: String, new: String },
    #[error(
        "--force compares one profile with one, but the base has {base} profiles and the new \
         side {new}: name one record (or a directory of one profile) on each side"
    )]
    ForceNeedsOne { base: usize, new: usize },
}

impl DeltaError {
    /// One line per problem (each record's own), for the edge to print.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Unreadable(problems) => {
                problems.iter().map(|p| crate::units::one_line(p)).collect()
            }
            other => vec![other.to_string()],
        }
    }
}

/// Reads both sides and compares them.
pub fn compare(
    base: &Path,
    new: &Path,
    options: &Options,
    fail_on: &FailOn,
) -> Result<Delta, DeltaError> {
    let (base_runs, new_runs) = sides::read_both(base, new).map_err(DeltaError::Unreadable)?;
    let mut delta = compare_runs(base_runs, new_runs, options, fail_on)?;
    delta.base = base.to_path_buf();
    delta.new = new.to_path_buf();
    Ok(delta)
}

/// Compares runs already read: each profile found on both sides (or, with `force`, the one
/// profile of each side).
pub fn compare_runs(
    base: Vec<Run>,
    new: Vec<Run>,
    options: &Options,
    fail_on: &FailOn,
) -> Result<Delta, DeltaError> {
    let base_groups = profile::group(base, |r| Profile::of(&r.record));
    let mut new_groups = profile::group(new, |r| Profile::of(&r.record));
    let mut pairs = Vec::new();
    let mut only_base = Vec::new();
    for (p, runs) in base_groups {
        match new_groups.iter().position(|(q, _)| *q == p) {
            Some(i) => pairs.push((p, None, runs, new_groups.remove(i).1)),
            None => only_base.push((p, runs)),
        }
    }
    if pairs.is_empty() {
        pairs.push(forced_pair(only_base, new_groups, options.force)?);
        only_base = Vec::new();
        new_groups = Vec::new();
    }
    let comparisons: Vec<Comparison> = pairs
        .into_iter()
        .map(|(p, q, b, n)| tables::comparison(p, q, &b, &n, options))
        .collect();
    let breaches = breaches(&comparisons, fail_on);
    Ok(Delta {
        base: PathBuf::new(),
        new: PathBuf::new(),
        options: options.clone(),
        comparisons,
        only_base: only_base.into_iter().map(|(p, _)| p).collect(),
        only_new: new_groups.into_iter().map(|(p, _)| p).collect(),
        fail_on: fail_on.0.clone(),
        breaches,
    })
}

type Pair = (Profile, Option<Profile>, Vec<Run>, Vec<Run>);

fn forced_pair(
    mut base: Vec<(Profile, Vec<Run>)>,
    mut new: Vec<(Profile, Vec<Run>)>,
    force: bool,
) -> Result<Pair, DeltaError> {
    let names = |g: &[(Profile, Vec<Run>)]| {
        g.iter()
            .map(|(p, _)| p.to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if !force {
        return Err(DeltaError::ProfileMismatch {
            base: names(&base),
            new: names(&new),
        });
    }
    if base.len() != 1 || new.len() != 1 {
        return Err(DeltaError::ForceNeedsOne {
            base: base.len(),
            new: new.len(),
        });
    }
    let (p, b) = base.remove(0);
    let (q, n) = new.remove(0);
    Ok((p, Some(q), b, n))
}

/// The rules each comparison's overall figures breach.
fn breaches(comparisons: &[Comparison], fail_on: &FailOn) -> Vec<Breach> {
    let mut out = Vec::new();
    for c in comparisons {
        for rule in &fail_on.0 {
            if let Some(row) = c.overall.row(rule.metric).filter(|r| rule.breached_by(r)) {
                out.push(Breach {
                    profile: c.profile.to_string(),
                    rule: *rule,
                    row: row.clone(),
                });
            }
        }
    }
    out
}

//! Did a change make the API better? Two sides of run records in, typed comparisons out: per
//! load profile, the change of each figure with its 95% confidence interval and a verdict, the
//! scaling figures, what differed between the environments, and the CI gate's breaches.
//! `output` renders them (markdown, text tables, JSON); `commands::compare` wires it.
//!
//! The statistics: requests of one run are not independent samples, so the unit is a
//! steady-state second (the record's timeline: each second's requests, failures and its own
//! percentiles, overall and per endpoint), resampled by a moving block bootstrap (blocks of
//! consecutive seconds, never across runs, seeded so results repeat). For the server's timings,
//! and per endpoint in records without per-endpoint seconds (older ones, runs merged from
//! workers), the records hold whole-run figures only: there the runs are the units, tested
//! when each side pools at least [`MIN_RUNS`] runs. A change is better or worse only when its interval excludes 0
//! and it is at least the minimum change.

mod bootstrap;
pub mod environment;
/// Runs made up for tests, also for other crates' tests (feature `fixtures`).
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
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

impl Test {
    /// The blocks' degrees of freedom: whole blocks on each side, less one a side (at least
    /// one).
    pub fn degrees_of_freedom(&self) -> usize {
        let blocks = |n: usize| (n / self.block_len.max(1)).max(1);
        (blocks(self.base_units) + blocks(self.new_units))
            .saturating_sub(2)
            .max(1)
    }
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
            Self::Unreadable(problems) => problems
                .iter()
                .map(|p| iris_base::chain::one_line(p))
                .collect(),
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

#[cfg(test)]
mod tests {
    use super::fixtures::{Levels, deployed, metered, per_endpoint, run};
    use super::*;

    fn levels(seed: u64) -> Levels {
        Levels {
            seed,
            ..Levels::default()
        }
    }

    fn one(base: Levels, new: Levels, fail_on: &str) -> Delta {
        compare_runs(
            vec![run("base.json", base)],
            vec![run("new.json", new)],
            &Options::default(),
            &fail_on.parse().unwrap(),
        )
        .unwrap()
    }

    /// One run a side, compared with the default options and no gate.
    fn pair(base: Run, new: Run) -> Delta {
        compare_runs(
            vec![base],
            vec![new],
            &Options::default(),
            &FailOn::default(),
        )
        .unwrap()
    }

    fn verdict(d: &Delta, m: Metric) -> Verdict {
        d.comparisons[0].overall.row(m).unwrap().verdict
    }

    #[test]
    fn the_same_load_is_no_significant_change_and_a_slower_one_is_worse() {
        let same = one(levels(1), levels(2), "");
        let t = same.comparisons[0].overall.test.clone().unwrap();
        assert_eq!(
            (t.method, t.base_units, t.block_len),
            (Method::SecondsBlockBootstrap, 60, 4)
        );
        for m in Metric::ALL {
            assert_eq!(verdict(&same, m), Verdict::NoSignificantChange, "{m:?}");
        }
        let slower = one(
            levels(1),
            Levels {
                p95_ms: 26.0,
                rps: 80.0,
                ..levels(2)
            },
            "",
        );
        assert_eq!(verdict(&slower, Metric::P95), Verdict::Worse);
        assert_eq!(verdict(&slower, Metric::Rps), Verdict::Worse);
        let row = slower.comparisons[0].overall.row(Metric::P95).unwrap();
        let [lo, hi] = row.ci.unwrap();
        assert!(
            lo > 0.1 && hi < 0.5 && (0.2..0.4).contains(&row.change.unwrap()),
            "{row:?}"
        );
        let faster = one(
            levels(1),
            Levels {
                p95_ms: 14.0,
                ..levels(2)
            },
            "",
        );
        assert_eq!(verdict(&faster, Metric::P95), Verdict::Better);
    }

    #[test]
    fn a_significant_change_under_the_minimum_is_no_change() {
        // 3% slower with little noise: significant, yet under the 5% minimum.
        let mut base = run("b", levels(1));
        let mut new = run("n", levels(1));
        for p in &mut new.record.timeline {
            p.p95_ms = p.p95_ms.map(|v| v * 1.03);
        }
        for p in base
            .record
            .timeline
            .iter_mut()
            .chain(&mut new.record.timeline)
        {
            p.p99_ms = p.p95_ms;
        }
        let d = pair(base, new);
        let row = d.comparisons[0].overall.row(Metric::P95).unwrap();
        assert!(row.ci.unwrap()[0] > 0.0, "{row:?}");
        assert_eq!(row.verdict, Verdict::NoSignificantChange);
    }

    #[test]
    fn failure_rates_change_in_points() {
        let d = one(
            levels(1),
            Levels {
                failure_rate: 0.02,
                ..levels(2)
            },
            "failure_rate:+0.5pp",
        );
        let row = d.comparisons[0].overall.row(Metric::FailureRate).unwrap();
        assert!((row.change.unwrap() - 0.02).abs() < 0.002, "{row:?}");
        assert_eq!(row.verdict, Verdict::Worse);
        assert_eq!(d.breaches.len(), 1);
        assert_eq!(d.breaches[0].rule.metric, Metric::FailureRate);
    }

    #[test]
    fn the_gate_breaches_only_significant_changes_past_their_limit() {
        let d = one(
            levels(1),
            Levels {
                p95_ms: 26.0,
                ..levels(2)
            },
            "p95:+10%,p95:+50%,rps:-5%",
        );
        let breached: Vec<String> = d.breaches.iter().map(|b| b.rule.to_string()).collect();
        assert_eq!(breached, ["p95:+10%"]);
        assert!(
            one(levels(1), levels(2), "p95:+1%,rps:-1%")
                .breaches
                .is_empty()
        );
    }

    #[test]
    fn results_repeat_with_the_seed() {
        let a = one(levels(1), levels(2), "");
        let b = one(levels(1), levels(2), "");
        assert_eq!(a, b);
    }

    #[test]
    fn different_profiles_are_refused_unless_forced() {
        let mut other = run("n", levels(2));
        other.record.params.users = 150;
        let refuse = compare_runs(
            vec![run("b", levels(1))],
            vec![other.clone()],
            &Options::default(),
            &FailOn::default(),
        )
        .unwrap_err();
        let text = refuse.to_string();
        assert!(
            text.contains("300 users, HighLoadUser")
                && text.contains("150 users")
                && text.contains("--force"),
            "{text}"
        );
        let forced = Options {
            force: true,
            ..Options::default()
        };
        let d = compare_runs(
            vec![run("b", levels(1))],
            vec![other.clone()],
            &forced,
            &FailOn::default(),
        )
        .unwrap();
        let c = &d.comparisons[0];
        assert_eq!(c.new_profile.as_ref().unwrap().users, 150);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.starts_with("load profile differs")),
            "{:?}",
            c.warnings
        );
        let two = compare_runs(
            vec![run("b", levels(1)), other.clone()],
            vec![run("n", levels(3)), {
                let mut r = run("m", levels(4));
                r.record.params.user_class = "StressTestUser".into();
                r
            }],
            &forced,
            &FailOn::default(),
        );
        // Both sides share 300 users HighLoadUser: compared, the rest listed.
        let d = two.unwrap();
        assert_eq!(d.comparisons.len(), 1);
        assert_eq!((d.only_base.len(), d.only_new.len()), (1, 1));
        let e = compare_runs(
            vec![other.clone(), run("b", levels(1))],
            vec![{
                let mut r = run("m", levels(4));
                r.record.params.users = 10;
                r
            }],
            &forced,
            &FailOn::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, DeltaError::ForceNeedsOne { base: 2, new: 1 }),
            "{e}"
        );
    }

    #[test]
    fn runs_are_pooled_per_profile_and_tested_as_units_per_endpoint() {
        let side = |seeds: [u64; 3], p95: f64| {
            seeds
                .map(|s| {
                    run(
                        &format!("r{s}"),
                        Levels {
                            p95_ms: p95,
                            ..levels(s)
                        },
                    )
                })
                .to_vec()
        };
        let d = compare_runs(
            side([1, 2, 3], 20.0),
            side([4, 5, 6], 20.0),
            &Options::default(),
            &FailOn::default(),
        )
        .unwrap();
        let c = &d.comparisons[0];
        assert_eq!(c.base_runs.len(), 3);
        assert_eq!(c.overall.test.as_ref().unwrap().base_units, 180);
        let e = &c.endpoints[0];
        let t = e.test.as_ref().unwrap();
        assert_eq!(
            (t.method, t.base_units, t.block_len),
            (Method::RunsBootstrap, 3, 1)
        );
        // The endpoints' figures are the same fixture's on every run: no change at all.
        assert!(
            e.rows
                .iter()
                .all(|r| r.verdict == Verdict::NoSignificantChange),
            "{e:?}"
        );
        let two = compare_runs(
            side([1, 2, 3], 20.0)[..2].to_vec(),
            side([4, 5, 6], 20.0),
            &Options::default(),
            &FailOn::default(),
        )
        .unwrap();
        let e = &two.comparisons[0].endpoints[0];
        assert!(e.test.is_none() && e.not_tested.as_ref().unwrap().contains("2 and 3 runs"));
        assert!(e.rows.iter().all(|r| r.verdict == Verdict::NotTested));
    }

    #[test]
    fn unfair_differences_are_warnings_and_changes_are_listed() {
        let base = run("b", levels(1));
        let mut new = run("n", levels(2));
        new.record.tool = "iris-lab 9.9.9".into();
        new.record.target = "http://10.0.0.9/".into();
        let d = pair(base, new);
        let c = &d.comparisons[0];
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].starts_with(
                "iris-lab version differs (base: iris-lab 0.1.0; new: iris-lab 9.9.9)"
            )
        );
        let target = c.environment.iter().find(|e| e.what == "target").unwrap();
        assert!(!target.same && target.unfair.is_none());
        assert!(c.environment.iter().find(|e| e.what == "HPA").unwrap().same);
    }

    #[test]
    fn images_resources_nodes_and_the_hpa_spec_are_compared() {
        let (mut base, mut new) = (run("b", levels(1)), run("n", levels(2)));
        deployed(&mut base, "iris:1.0", 500.0, "e2-standard-2", 15);
        deployed(&mut new, "iris:1.1", 1000.0, "e2-standard-4", 20);
        let d = pair(base, new);
        let c = &d.comparisons[0];
        let item = |what: &str| c.environment.iter().find(|e| e.what == what).unwrap();
        assert_eq!(
            item("images").new,
            [format!(
                "api: iris:1.1 (iris:1.1@sha256:{})",
                "ab".repeat(32)
            )]
        );
        assert_eq!(
            item("pods' requests and limits").base,
            ["api: requests cpu 500m memory 256Mi, limits cpu 1000m memory -"]
        );
        assert_eq!(
            (
                item("node types").base.clone(),
                item("node types").new.clone()
            ),
            (
                vec!["e2-standard-2".to_string()],
                vec!["e2-standard-4".to_string()]
            )
        );
        assert!(
            item("HPA").new[0].contains(r#""maxReplicas":20"#),
            "{:?}",
            item("HPA")
        );
        for what in ["images", "pods' requests and limits", "node types", "HPA"] {
            assert!(!item(what).same && item(what).unfair.is_none(), "{what}");
        }
        // What the user changed is not a warning.
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn too_few_seconds_get_no_interval() {
        let short = Levels {
            secs: 3,
            ..levels(1)
        };
        let d = one(short, short, "p95:+1%");
        let t = &d.comparisons[0].overall;
        assert!(
            t.test.is_none()
                && t.not_tested
                    .as_ref()
                    .unwrap()
                    .contains("3 and 3 steady-state seconds"),
            "{t:?}"
        );
        assert!(d.breaches.is_empty());
    }

    #[test]
    fn per_pod_capacity_from_the_autoscaling_analysis_is_a_scaling_figure() {
        let (mut base, mut new) = (run("b", levels(1)), run("n", levels(2)));
        metered(&mut base, 50.0, 2.0);
        metered(&mut new, 50.0, 1.0);
        let d = pair(base, new);
        let scaling = &d.comparisons[0].scaling;
        let row = |what: &str| scaling.iter().find(|s| s.what == what).unwrap();
        for what in [
            "max pods",
            "time to first scale-up",
            "pod start-up (median)",
        ] {
            assert!(
                scaling.iter().any(|s| s.what == what),
                "{what}: {scaling:?}"
            );
        }
        // 60% of 500m is 300m: (300 - 50) / 2 = 125 requests/s a pod before, 250 after.
        let at_target = row("capacity per pod at the HPA's CPU target");
        let (b, n) = (at_target.base.unwrap(), at_target.new.unwrap());
        assert!(
            (b - 125.0).abs() < 1.0 && (n - 250.0).abs() < 2.0,
            "{at_target:?}"
        );
        assert!(
            (at_target.change.unwrap() - 1.0).abs() < 0.02,
            "{at_target:?}"
        );
        let per_rps = row("CPU per request/s");
        assert!((per_rps.change.unwrap() + 0.5).abs() < 0.01, "{per_rps:?}");
        // Without pod metrics there is no capacity row.
        let plain = one(levels(1), levels(2), "");
        assert!(
            !plain.comparisons[0]
                .scaling
                .iter()
                .any(|s| s.what.starts_with("capacity")),
            "{:?}",
            plain.comparisons[0].scaling
        );
    }

    #[test]
    fn one_run_a_side_gets_an_interval_per_endpoint_from_its_seconds() {
        let (mut base, mut new) = (run("b", levels(1)), run("n", levels(2)));
        per_endpoint(&mut base, 1.0);
        per_endpoint(&mut new, 1.3);
        let d = pair(base, new);
        let c = &d.comparisons[0];
        assert_eq!(c.endpoints.len(), 4);
        for e in &c.endpoints {
            let t = e.test.as_ref().unwrap_or_else(|| panic!("{e:?}"));
            assert_eq!(
                (t.method, t.base_units, t.new_units, t.block_len),
                (Method::SecondsBlockBootstrap, 60, 60, 4),
                "{}",
                e.name
            );
            assert!(e.rows.iter().all(|r| r.ci.is_some()), "{e:?}");
            let p95 = e.row(Metric::P95).unwrap().verdict;
            let want = if e.name == "POST /predict" {
                Verdict::Worse
            } else {
                Verdict::NoSignificantChange
            };
            assert_eq!(p95, want, "{}", e.name);
        }
        // A side without per-endpoint seconds (an older record) falls back to runs as units.
        let mut old = run("o", levels(3));
        per_endpoint(&mut old, 1.0);
        let d = compare_runs(
            vec![run("b", levels(1))],
            vec![old],
            &Options::default(),
            &FailOn::default(),
        )
        .unwrap();
        let e = &d.comparisons[0].endpoints[0];
        assert!(e.test.is_none() && e.not_tested.as_ref().unwrap().contains("1 and 1 runs"));
    }
}

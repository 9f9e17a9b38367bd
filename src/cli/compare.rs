//! `iris-lab compare` flags, and the config file's `compare:` section (without the two sides).

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

use crate::delta::Options;
use crate::units::{Count, Percent};

/// Did the change make it better: two runs (or directories of runs) compared, with confidence;
/// `--fail-on` turns it into a CI gate.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompareArgs {
    /// The baseline: a run record, or a directory of them (pooled per load profile).
    #[arg(value_name = "BASE", required = true)]
    #[serde(skip)]
    pub base: Option<PathBuf>,

    /// The new side: a run record, or a directory of them.
    #[arg(value_name = "NEW", required = true)]
    #[serde(skip)]
    pub new: Option<PathBuf>,

    /// Exit 1 when a significant change passes one of these limits, e.g.
    /// "p95:+10%,rps:-5%,failure_rate:+0.5pp" (metrics: p50, p95, p99, rps, failure_rate).
    #[arg(long, value_name = "RULES")]
    pub fail_on: Option<String>,

    /// Smallest change called better or worse, even when significant [default: 5%].
    #[arg(long, value_name = "PERCENT")]
    pub min_change: Option<Percent>,

    /// Smallest change of a failure rate called better or worse, in percentage points
    /// [default: 0.1%].
    #[arg(long, value_name = "PERCENT")]
    pub min_failure_change: Option<Percent>,

    /// Compare runs of different load profiles (users, class, arrival rate, stages).
    #[arg(long)]
    #[serde(skip)]
    pub force: bool,

    /// Seed of the bootstrap's resampling, so results repeat [default: 23].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Bootstrap resamples per table [default: 2000].
    #[arg(long, value_name = "N")]
    pub resamples: Option<Count>,
}

impl CompareArgs {
    /// The statistics' options these settings ask for, over the defaults.
    pub fn delta_options(&self) -> Options {
        let defaults = Options::default();
        Options {
            min_change: self.min_change.map_or(defaults.min_change, |p| p.ratio()),
            min_points: self
                .min_failure_change
                .map_or(defaults.min_points, |p| p.ratio()),
            resamples: self.resamples.map_or(defaults.resamples, |c| {
                u32::try_from(c.0.min(1_000_000)).unwrap_or(u32::MAX)
            }),
            seed: self.seed.unwrap_or(defaults.seed),
            force: self.force,
            ..defaults
        }
    }
}

super::layered!(CompareArgs {
    base,
    new,
    fail_on,
    min_change,
    min_failure_change,
    force,
    seed,
    resamples
});

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<CompareArgs, clap::Error> {
        let argv = ["iris-lab", "compare"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            Command::Compare(a) => Ok(*a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn two_sides_are_required() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["a.json"]).is_err());
        let a = parse(&["a.json", "runs/"]).unwrap();
        assert_eq!(a.base, Some(PathBuf::from("a.json")));
        assert_eq!(a.new, Some(PathBuf::from("runs/")));
    }

    #[test]
    fn gate_and_statistics_flags_are_taken() {
        let a = parse(&[
            "a",
            "b",
            "--fail-on",
            "p95:+10%",
            "--min-change",
            "2%",
            "--min-failure-change",
            "0.5%",
            "--force",
            "--seed",
            "7",
            "--resamples",
            "500",
        ])
        .unwrap();
        assert_eq!(a.fail_on.as_deref(), Some("p95:+10%"));
        assert_eq!(a.min_change, Some(Percent(0.02)));
        assert_eq!(a.min_failure_change, Some(Percent(0.005)));
        assert!(a.force);
        assert_eq!((a.seed, a.resamples.map(|c| c.0)), (Some(7), Some(500)));
        assert!(parse(&["a", "b", "--min-change", "5"]).is_err());
    }
}

//! `iris-lab demo` flags.

use std::path::PathBuf;

use clap::Args;

use crate::units::PositiveDuration;

/// The whole guide on a simulated cluster (`iris-lab sim`): verify, smoke through the
/// Service, 150 and 300 users of load with the cluster watched, the report, the scale-down.
#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    /// Length of each of the two load runs, e.g. 30s, 2m [default: 25s on the simulated
    /// cluster, 30s with --no-cluster].
    #[arg(long, value_name = "D")]
    pub duration: Option<PositiveDuration>,

    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Keep the run records in DIR [default: a temporary directory, removed at the end].
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// No simulated cluster: the reference API alone, the cluster's phases skipped.
    #[arg(long)]
    pub no_cluster: bool,
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<DemoArgs, clap::Error> {
        let argv = ["iris-lab", "demo"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            Command::Demo(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn duration_out_and_out_dir() {
        let a = parse(&["--duration", "5s", "--out", "r.md", "--out-dir", "runs"]).unwrap();
        assert_eq!(
            a.duration,
            Some(PositiveDuration(std::time::Duration::from_secs(5)))
        );
        assert_eq!(a.out, Some(PathBuf::from("r.md")));
        assert_eq!(a.out_dir, Some(PathBuf::from("runs")));
        assert!(parse(&["--duration", "soon"]).is_err());
        assert_eq!(parse(&[]).unwrap().duration, None);
        assert!(parse(&["--no-cluster"]).unwrap().no_cluster);
        assert!(!parse(&[]).unwrap().no_cluster);
    }
}

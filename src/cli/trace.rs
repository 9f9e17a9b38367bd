//! `iris-lab trace` flags.

use std::path::PathBuf;

use clap::Args;

/// Phase 5 from Cloud Trace: fetch the spans of runs, save them beside the records, analyse them.
#[derive(Debug, Clone, Default, Args)]
pub struct TraceArgs {
    /// Run records whose traces to fetch [default: the latest run of each user count in
    /// --runs-dir].
    #[arg(value_name = "RUN.json")]
    pub runs: Vec<PathBuf>,

    /// Where `load` saved its records [default: ./iris-lab-runs].
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// Google Cloud project whose Cloud Trace holds the API's spans (needed to fetch).
    #[arg(long, value_name = "PROJECT", env = "GOOGLE_CLOUD_PROJECT")]
    pub gcp_project: Option<String>,

    /// Fetch again even when a run already has saved traces.
    #[arg(long)]
    pub refresh: bool,

    /// Fetch at most this many traces per run [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_traces: Option<u64>,

    /// Cloud Trace filter [default: root:prediction_request]; "" lists every trace.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<TraceArgs, clap::Error> {
        let argv = ["iris-lab", "trace"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            Command::Trace(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn runs_project_and_bounds_are_taken() {
        let a = parse(&[
            "a.json",
            "--gcp-project",
            "p",
            "--refresh",
            "--max-traces",
            "50",
        ])
        .unwrap();
        assert_eq!(a.runs, [PathBuf::from("a.json")]);
        assert_eq!(a.gcp_project.as_deref(), Some("p"));
        assert!(a.refresh);
        assert_eq!(a.max_traces, Some(50));
        assert!(parse(&["--max-traces", "0"]).is_err());
    }
}

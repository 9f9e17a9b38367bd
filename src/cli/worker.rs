//! `iris-lab worker` flags: one share of a distributed run (started by `load --workers N`).

use std::path::PathBuf;

use clap::Args;
use jiff::Timestamp;

use super::LoadArgs;

/// One worker of `load --workers N`: runs its share of the plan from `--start-at` and writes
/// its seconds and then its record (histograms included) as JSON lines on stdout.
///
/// Not a config section: the controller passes every value as a flag.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// This worker's index, 0..N-1 (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX).
    #[arg(long, env = "JOB_COMPLETION_INDEX", value_name = "I")]
    pub index: u32,

    /// When every worker starts its users (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub start_at: Timestamp,

    /// Stop (as Ctrl-C does) when standard input closes: the local controller's channel.
    #[arg(long)]
    pub stdin_control: bool,

    /// The plan, as `load` takes it (the whole run's users: the worker takes its share of
    /// them; `--workers N` says how many share them).
    #[command(flatten)]
    pub load: LoadArgs,
}

impl WorkerArgs {
    /// Where the worker's own timeline goes [default: the system's temporary directory].
    pub fn out_dir(&self) -> PathBuf {
        self.load
            .out_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("iris-lab-worker"))
    }
}

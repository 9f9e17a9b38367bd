//! `iris-lab worker` flags: one share of a distributed run (started by `load --workers N`).

use clap::Args;

/// One worker of `load --workers N`: runs its share of the controller's settled plan from the
/// plan's start time and writes its seconds and then its record (histograms included) as
/// JSON lines on stdout.
///
/// Not a config section, and no config file is read: the plan says everything.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// This worker's index, 0..N-1 (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX).
    #[arg(long, env = "JOB_COMPLETION_INDEX", value_name = "I")]
    pub index: u32,

    /// The controller's plan, as one line of JSON; `-` reads it from the first line of
    /// standard input.
    #[arg(
        long,
        env = "IRIS_LAB_WORKER_PLAN",
        value_name = "JSON",
        hide_env_values = true
    )]
    pub plan: String,

    /// Stop (as Ctrl-C does) when standard input closes: the local controller's channel.
    #[arg(long)]
    pub stdin_control: bool,
}

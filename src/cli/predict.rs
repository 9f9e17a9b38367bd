//! `iris-lab predict` flags.

use std::path::PathBuf;

use clap::Args;

use crate::units::{PositiveDuration, Rate, Users};

/// Another load through the HPA model with the capacity and start-up measured in saved runs.
#[derive(Debug, Clone, Default, Args)]
pub struct PredictArgs {
    /// Run records to base the prediction on [default: the latest run of each user count in
    /// --runs-dir].
    #[arg(value_name = "RUN.json")]
    pub runs: Vec<PathBuf>,

    /// Where `load` saved its records [default: ./iris-lab-runs].
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,

    /// Users of the runs' class (their requests/s scale from the run with the most users).
    #[arg(long, value_name = "N", conflicts_with = "arrival_rate")]
    pub users: Option<Users>,

    /// Only runs of this user class.
    #[arg(long, value_name = "CLASS")]
    pub user_class: Option<String>,

    /// Requests/s (open model) instead of users.
    #[arg(long, value_name = "R")]
    pub arrival_rate: Option<Rate>,

    /// The HPA's minReplicas [default: the run's].
    #[arg(long, value_name = "N")]
    pub min_replicas: Option<u16>,

    /// The HPA's maxReplicas [default: the run's].
    #[arg(long, value_name = "N")]
    pub max_replicas: Option<u16>,

    /// The HPA's CPU target, % of request [default: the run's].
    #[arg(long, value_name = "PCT")]
    pub target_cpu: Option<u16>,

    /// How long the load lasts [default: 10m].
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<PositiveDuration>,
}

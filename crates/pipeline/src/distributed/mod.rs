//! Distributed load (`load --workers N`): N workers each run a share of the plan from one
//! absolute start time and send their seconds and their record as lines of JSON on stdout
//! ([`protocol`]); the controller merges them exactly (`stats::merge`) into one live display,
//! one merged record and one record per worker.
//!
//! Every worker gets the same [`WorkerOrder`]: the controller's settled `RunPlan` as one line
//! of JSON (stdin for local processes, an environment variable of the Job's pods), and takes
//! its share of it ([`share`]) by its index.
//!
//! - `worker.rs`: one worker (the hidden `iris-lab worker` command): barrier, measure, send.
//! - `local.rs`: the controller with N local processes (`--local`).
//! - `kube.rs`: the controller with the pods of one Indexed Job.

mod collect;
pub mod kube;
pub mod local;
pub mod protocol;
pub mod worker;

use std::path::PathBuf;

use jiff::Timestamp;

use iris_base::units::{Stage, Stages};
use iris_base::usage::UsageError;
use iris_loadgen::{LoadPlan, OpenModel, Stripe};
use iris_stats::merge::MergeError;

pub use local::run_local;
pub use protocol::{WorkerLine, parse_line};
pub use worker::{ORDER_ENV, WorkerOrder, run_worker, worker_plan};

/// Why a distributed run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    /// Flags that cannot make a distributed run (exit 2).
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error("could not start worker {index} ({exe})")]
    Spawn {
        index: u32,
        exe: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no worker sent its record ({lost}); the merged seconds are in {}", timeline.display())]
    NoRecord { lost: String, timeline: PathBuf },
    #[error("could not merge the workers' results")]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Cluster(#[from] iris_cluster::ClusterError),
}

impl DistributedError {
    pub fn is_usage(&self) -> bool {
        match self {
            Self::Usage(_) => true,
            Self::Cluster(e) => e.is_config(),
            _ => false,
        }
    }
}

/// What the controller says while workers run; `output` words it.
#[derive(Debug, Clone)]
pub enum WorkerNote {
    /// The workers were started; they all start their users at `start_at`.
    Started {
        workers: u32,
        start_at: Timestamp,
        /// Where each worker's own files (log, timeline, record) go.
        dir: PathBuf,
    },
    /// A worker started its users late by `skew_ms`.
    Late { index: u32, skew_ms: f64 },
    /// A worker ended without its record: its share is missing from the totals.
    Lost { index: u32, reason: String },
    /// Something the reader should know about where the load comes from.
    Warning(String),
}

/// Worker `i` of `n`'s share of `total`, k6-style: `round(total*(i+1)/n) - round(total*i/n)`.
/// The shares add up to `total` exactly and differ by at most one.
pub fn split(total: u32, n: u32, i: u32) -> u32 {
    let n = u64::from(n.max(1));
    // round(total * k / n), halves up, in integers.
    let at = |k: u64| (2 * u64::from(total) * k + n) / (2 * n);
    let share = at(u64::from(i) + 1) - at(u64::from(i));
    u32::try_from(share).unwrap_or(u32::MAX)
}

/// Worker `i` of `n`'s plan: its users and the same share of the spawn rate, so that every
/// worker finishes starting its users when the whole run would.
pub fn share(plan: &LoadPlan, i: u32, n: u32) -> LoadPlan {
    let users = split(plan.users, n, i);
    let spawn_rate = if users == 0 || plan.users == 0 {
        plan.spawn_rate
    } else {
        plan.spawn_rate * f64::from(users) / f64::from(plan.users)
    };
    // The open model: every worker follows the whole schedule (its stages too) and makes every
    // N-th arrival of it, with its share of the slots.
    let open = plan.open.as_ref().map(|o| OpenModel {
        max_in_flight: split(o.max_in_flight, n, i).max(1),
        stripe: Stripe { index: i, of: n },
        ..o.clone()
    });
    // Stages of users: each stage's target is split as the users are.
    let stages = match (&plan.stages, &plan.open) {
        (Some(stages), None) => Some(Stages(
            stages
                .0
                .iter()
                .map(|s| Stage {
                    target: f64::from(split(s.target.round() as u32, n, i)),
                    ..*s
                })
                .collect(),
        )),
        (stages, _) => stages.clone(),
    };
    LoadPlan {
        users,
        spawn_rate,
        open,
        stages,
        ..plan.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for total in [1u32, 2, 3, 7, 10, 100, 150, 20_000] {
            for n in 1..=7u32.min(total) {
                let shares: Vec<u32> = (0..n).map(|i| split(total, n, i)).collect();
                assert_eq!(shares.iter().sum::<u32>(), total, "{total}/{n}: {shares:?}");
                let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(hi - lo <= 1, "{total}/{n}: {shares:?}");
            }
        }
        // k6's example: 10 users over 3 workers.
        assert_eq!(
            (0..3).map(|i| split(10, 3, i)).collect::<Vec<_>>(),
            [3, 4, 3]
        );
    }
}

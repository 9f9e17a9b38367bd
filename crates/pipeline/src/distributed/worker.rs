//! One worker of a distributed run: read its [`WorkerOrder`] (the controller's settled plan
//! as JSON), resolve the target, wait for the common start time (the barrier), run its share
//! through the one measuring pipeline, and send every closed second and then its record as
//! [`WorkerLine`]s.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{DistributedError, WorkerLine, share};
use crate::plan::Thresholds;
use crate::{Monitor, RunError, RunMode, RunPlan, RunSite, assemble, measure, prepare};
use iris_base::outcome::Outcome;
use iris_base::usage::UsageError;
use iris_record::distributed::WorkerShare;
use iris_record::{self as record, JsonlWriter, TimelinePoint, WriteError};
use iris_stats::{Collector, Snapshot};

/// The environment variable that carries a [`WorkerOrder`] (the Kubernetes Job sets it; the
/// `worker` command's `--plan` reads it).
pub const ORDER_ENV: &str = "IRIS_LAB_WORKER_PLAN";

/// What the controller sends every worker, as one line of JSON: the whole run's settled plan
/// and when and where to run a share of it (the share is the worker's `--index`, which a
/// Kubernetes Indexed Job sets as `JOB_COMPLETION_INDEX`). The worker runs exactly this: it
/// reads no flags of `load` and no config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerOrder {
    /// The whole run's plan (the worker takes its share: [`worker_plan`]).
    pub plan: RunPlan,
    /// The API's base URL, as the controller settled it.
    #[serde(with = "url_text")]
    pub host: reqwest::Url,
    /// How many workers share the plan.
    pub workers: u32,
    /// When every worker starts its users.
    pub start_at: Timestamp,
    /// Where the worker's own timeline goes.
    pub out_dir: PathBuf,
}

impl WorkerOrder {
    /// The order as one line of JSON (no newline).
    pub fn to_line(&self) -> Result<String, DistributedError> {
        serde_json::to_string(self).map_err(|e| UsageError::PlanNotSent(e.to_string()).into())
    }

    /// Reads an order; says what is wrong with one that does not decode.
    pub fn from_line(text: &str) -> Result<Self, DistributedError> {
        serde_json::from_str(text.trim()).map_err(|e| {
            UsageError::PlanNotDecoded {
                env: ORDER_ENV,
                detail: e.to_string(),
            }
            .into()
        })
    }

    /// Checks a worker's index against the order: below `workers`.
    pub fn check_index(&self, index: u32) -> Result<u32, DistributedError> {
        if index >= self.workers {
            return Err(UsageError::IndexNotInPlan {
                index,
                workers: self.workers,
            }
            .into());
        }
        Ok(index)
    }
}

/// A URL as its text.
mod url_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(url: &reqwest::Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(url.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<reqwest::Url, D::Error> {
        let text = String::deserialize(d)?;
        reqwest::Url::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Where a worker's lines go (stdout, in the binary).
pub type Emit<'a> = &'a mut (dyn FnMut(&WorkerLine) + Send);

/// The worker's monitor: every closed second goes out with its histogram.
struct Sender<'a, 'b> {
    emit: &'a mut Emit<'b>,
}

impl Monitor for Sender<'_, '_> {
    fn update(&mut self, _snapshot: &Snapshot) {}
    fn interrupted(&mut self) {}
    fn finish(&mut self) {}
    fn second_closed(&mut self, point: &TimelinePoint, collector: &Collector) {
        (self.emit)(&WorkerLine::Second(Box::new(collector.second_share(point))));
    }
}

/// Worker `index` of `workers`'s own plan, derived from the whole run's: its share of the
/// load, one process, its own files in `out_dir`. Thresholds, CSV and the cluster are the
/// controller's: a worker only measures.
pub fn worker_plan(run: &RunPlan, index: u32, workers: u32, out_dir: PathBuf) -> RunPlan {
    RunPlan {
        load: share(&run.load, index, workers),
        out_dir,
        csv: None,
        thresholds: Thresholds::default(),
        watch_cluster: false,
        mode: RunMode::OneProcess,
        ..run.clone()
    }
}

/// The barrier: every worker starts its users at the one time the controller chose. False
/// when `stop` came first.
async fn start_together(start_at: Timestamp, stop: &CancellationToken) -> bool {
    let Ok(wait) = std::time::Duration::try_from(start_at.duration_since(Timestamp::now())) else {
        return true;
    };
    tokio::select! {
        () = tokio::time::sleep(wait) => true,
        () = stop.cancelled() => false,
    }
}

/// This worker's own timeline, `worker-INDEX-PID.jsonl` in the order's output directory.
fn timeline_file(out_dir: &std::path::Path, index: u32) -> Result<JsonlWriter, RunError> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| WriteError::new(out_dir.display().to_string(), e))?;
    let path = out_dir.join(format!("worker-{index}-{}.jsonl", std::process::id()));
    Ok(JsonlWriter::create(path)?)
}

/// Runs worker `index` of the order's share of its plan (see [`worker_plan`]); `stop` ends it
/// as Ctrl-C would; `signals`: catch SIGINT/SIGTERM too.
pub async fn run_worker(
    w: &WorkerOrder,
    index: u32,
    signals: bool,
    stop: CancellationToken,
    mut emit: Emit<'_>,
) -> Result<Outcome, RunError> {
    let opts = worker_plan(&w.plan, index, w.workers, w.out_dir.clone());
    let site = RunSite {
        signals,
        ..RunSite::new(w.host.clone())
    };
    let target = prepare::target(&opts.load, &site.host, opts.insecure)
        .await
        .inspect_err(|e| {
            emit(&WorkerLine::Failed {
                error: iris_base::chain::one_line(e),
            });
        })?;
    emit(&WorkerLine::Ready {
        index,
        users: opts.load.users,
    });
    if !start_together(w.start_at, &stop).await {
        return Ok(Outcome::Interrupted);
    }
    let started_utc = Timestamp::now();
    let skew_ms = (started_utc.duration_since(w.start_at).as_secs_f64() * 1e3).max(0.0);
    emit(&WorkerLine::Started { skew_ms });
    let mut timeline = timeline_file(&opts.out_dir, index)?;
    let measured = {
        let mut sender = Sender { emit: &mut emit };
        let mut sinks = measure::SecondSinks {
            timeline: &mut timeline,
            cluster: None,
            monitor: &mut sender,
            timeline_error: None,
        };
        let signals = site.signals;
        let control = crate::RunControl { stop, swarm: None };
        measure::measure_until(
            &opts.load,
            signals,
            target,
            started_utc,
            &mut sinks,
            control,
        )
        .await?
    };
    let mut record = assemble::build(
        &opts,
        &site.host,
        &measured.collector,
        measured.end,
        started_utc,
    );
    record.worker = Some(WorkerShare {
        index,
        workers: w.workers,
        users: opts.load.users,
        spawn_rate: opts.load.spawn_rate,
        start_at: w.start_at,
        skew_ms,
    });
    let interrupted = record.status == record::RunStatus::Interrupted;
    emit(&WorkerLine::Record(Box::new(record)));
    Ok(if interrupted {
        Outcome::Interrupted
    } else {
        Outcome::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::every_field_set;

    /// Every field of the order, named (adding one breaks this until it is covered), survives
    /// the line a worker reads; the plan inside is covered field by field in `plan_tests`.
    #[test]
    fn an_order_survives_its_line() {
        let order = WorkerOrder {
            plan: every_field_set(),
            host: "https://api.example:8443/base".parse().unwrap(),
            workers: 3,
            start_at: "2026-12-04T17:00:00.123456789Z".parse().unwrap(),
            out_dir: "/tmp/iris-lab".into(),
        };
        let back = WorkerOrder::from_line(&order.to_line().unwrap()).unwrap();
        assert_eq!(back, order);
        let WorkerOrder {
            plan,
            host,
            workers,
            start_at,
            out_dir,
        } = back;
        assert_eq!(plan, every_field_set());
        assert_eq!(host.as_str(), "https://api.example:8443/base");
        assert_eq!((workers, out_dir), (3, PathBuf::from("/tmp/iris-lab")));
        assert_eq!(start_at.subsec_nanosecond(), 123_456_789);
    }

    #[test]
    fn an_index_must_be_below_the_orders_workers() {
        let order = WorkerOrder {
            plan: every_field_set(),
            host: "http://x".parse().unwrap(),
            workers: 3,
            start_at: Timestamp::UNIX_EPOCH,
            out_dir: "w".into(),
        };
        assert_eq!(order.check_index(2).unwrap(), 2);
        let e = order.check_index(3).unwrap_err();
        assert!(e.is_usage());
        assert_eq!(e.to_string(), "--index 3 is not below the plan's 3 workers");
    }

    #[test]
    fn a_worker_plan_is_its_share_in_one_process_without_the_controllers_duties() {
        let run = every_field_set();
        let w = worker_plan(&run, 1, 3, "w".into());
        assert_eq!(w.load, share(&run.load, 1, 3));
        assert_eq!(w.mode, RunMode::OneProcess);
        assert_eq!(w.thresholds, Thresholds::default());
        assert!(w.csv.is_none() && !w.watch_cluster);
        assert_eq!(w.out_dir, PathBuf::from("w"));
        assert_eq!((w.load.class, w.scenario), (run.load.class, run.scenario));
    }
}

//! One worker of a distributed run: resolve the target, wait for the common start time (the
//! barrier), run its share through the one measuring pipeline, and send every closed second
//! and then its record as [`WorkerLine`]s.

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::{WorkerLine, share};
use crate::outcome::Outcome;
use crate::pipeline::{LoadOptions, Monitor, RunError, assemble, measure, prepare};
use crate::record::distributed::WorkerShare;
use crate::record::{self, JsonlWriter, TimelinePoint, WriteError};
use crate::stats::{Collector, Snapshot};

/// Which share a worker runs, and when.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub index: u32,
    pub workers: u32,
    pub start_at: Timestamp,
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

/// Runs worker `w.index` of `w.workers` of `opts`' plan; `stop` ends it as Ctrl-C would.
/// Thresholds, CSV and the cluster are the controller's: a worker only measures.
pub async fn run_worker(
    mut opts: LoadOptions,
    w: WorkerPlan,
    stop: CancellationToken,
    mut emit: Emit<'_>,
) -> Result<Outcome, RunError> {
    opts.plan = share(&opts.plan, w.index, w.workers);
    opts.max_failure_rate = None;
    opts.max_p95 = None;
    opts.csv = None;
    opts.cluster = None;
    opts.look_for_cluster = None;
    let target = match prepare::target(&opts.plan, &opts.host, opts.insecure).await {
        Ok(t) => t,
        Err(e) => {
            emit(&WorkerLine::Failed {
                error: crate::chain::one_line(&e),
            });
            return Err(e);
        }
    };
    emit(&WorkerLine::Ready {
        index: w.index,
        users: opts.plan.users,
    });
    // The barrier: every worker starts its users at the one time the controller chose.
    if let Ok(wait) = std::time::Duration::try_from(w.start_at.duration_since(Timestamp::now())) {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return Ok(Outcome::Interrupted),
        }
    }
    let started_utc = Timestamp::now();
    let skew_ms = (started_utc.duration_since(w.start_at).as_secs_f64() * 1e3).max(0.0);
    emit(&WorkerLine::Started { skew_ms });
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| WriteError::new(opts.out_dir.display().to_string(), e))?;
    let path = opts
        .out_dir
        .join(format!("worker-{}-{}.jsonl", w.index, std::process::id()));
    let mut timeline = JsonlWriter::create(path)?;
    let measured = {
        let mut sender = Sender { emit: &mut emit };
        let mut sinks = measure::SecondSinks {
            timeline: &mut timeline,
            cluster: None,
            monitor: &mut sender,
            timeline_error: None,
        };
        measure::measure_until(&opts, target, started_utc, &mut sinks, stop).await?
    };
    let mut record = assemble::build(&opts, &measured.collector, measured.end, started_utc);
    record.worker = Some(WorkerShare {
        index: w.index,
        workers: w.workers,
        users: opts.plan.users,
        spawn_rate: opts.plan.spawn_rate,
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

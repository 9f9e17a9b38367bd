//! The measuring half of the pipeline: engine -> collector -> one point a second -> sinks
//! (timeline file, cluster side, live display), until the engine has stopped.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::cluster::ClusterSide;
use super::{Monitor, RunControl, RunError, RunNote};
use iris_base::signals::Signals;
use iris_loadgen::{self as loadgen, Event, LoadPlan, RunEnd, Target};
use iris_record::{JsonlWriter, TimelinePoint};
use iris_stats::Collector;

/// What the measuring half leaves for the record.
pub struct Measured {
    pub collector: Collector,
    pub end: RunEnd,
}

/// The per-second sinks: the `.jsonl` timeline, the cluster side, the live display.
pub struct SecondSinks<'a> {
    pub timeline: &'a mut JsonlWriter,
    pub cluster: Option<&'a mut ClusterSide>,
    pub monitor: &'a mut (dyn Monitor + Send),
    /// The first failure to append to the timeline; later seconds are not tried.
    pub timeline_error: Option<std::io::Error>,
}

impl SecondSinks<'_> {
    /// Hands a closed second to every sink.
    fn second(&mut self, mut point: TimelinePoint, collector: &Collector, live: bool) {
        if let Some(cluster) = self.cluster.as_deref_mut() {
            let (now, applied) = cluster.close_second(&mut point);
            if live {
                for ev in &applied {
                    self.monitor.cluster_event(ev);
                }
                self.monitor.cluster(&now);
            }
        }
        if self.timeline_error.is_none() {
            self.timeline_error = self.timeline.append(&point).err();
        }
        self.monitor.second_closed(&point, collector);
        if live {
            self.monitor.update(&collector.snapshot());
        }
    }
}

/// Ctrl-C and SIGTERM during a run: the first stops the users (what was measured is saved),
/// the second ends the run at once. A task of its own waits for the signals, so that the
/// measuring loop, which turns once per batch of events, only polls a channel.
struct Interrupts {
    rx: mpsc::UnboundedReceiver<()>,
    /// Kept so that `rx` stays open (pending) when signals are not handled.
    _tx: mpsc::UnboundedSender<()>,
    waiter: Option<tokio::task::JoinHandle<()>>,
    count: u32,
}

impl Interrupts {
    fn new(handle: bool) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let waiter = handle
            .then(|| Signals::new().ok())
            .flatten()
            .map(|mut signals| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    loop {
                        signals.recv().await;
                        if tx.send(()).is_err() {
                            break;
                        }
                    }
                })
            });
        Self {
            rx,
            _tx: tx,
            waiter,
            count: 0,
        }
    }

    /// The number of the next signal (1, 2), pending forever when signals are not handled.
    async fn next(&mut self) -> u32 {
        let _ = self.rx.recv().await;
        self.count += 1;
        self.count
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        if let Some(waiter) = &self.waiter {
            waiter.abort();
        }
    }
}

/// Runs the engine and measures it, second by second, until every user has stopped; also
/// stops the users (as a first Ctrl-C does) when `control.stop` is cancelled (a distributed
/// worker's controller, the web page) and hands the engine `control.swarm`.
pub async fn measure_until(
    plan: &LoadPlan,
    signals: bool,
    target: Target,
    started_utc: Timestamp,
    sinks: &mut SecondSinks<'_>,
    control: RunControl,
) -> Result<Measured, RunError> {
    let RunControl { stop, swarm } = control;
    let interrupt = CancellationToken::new();
    let mut interrupts = Interrupts::new(signals);
    let start = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut collector = collector_for(plan, &target, start, started_utc);
    let engine = {
        let plan = plan.clone();
        let target = Arc::new(target);
        let interrupt = interrupt.clone();
        tokio::spawn(async move { loadgen::run(&plan, target, tx, interrupt, start, swarm).await })
    };
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch: Vec<Event> = Vec::with_capacity(1024);
    loop {
        tokio::select! {
            biased;
            _ = tick.tick() => {
                while let Ok(ev) = rx.try_recv() {
                    collector.handle(ev);
                }
                let point = collector.close_second();
                sinks.second(point, &collector, true);
            }
            n = interrupts.next() => {
                if n > 1 {
                    sinks.monitor.note(&RunNote::InterruptedAgain {
                        timeline: sinks.timeline.path.clone(),
                    });
                    return Err(RunError::InterruptedAgain);
                }
                interrupt.cancel();
                sinks.monitor.interrupted();
            }
            () = stop.cancelled(), if !interrupt.is_cancelled() => {
                interrupt.cancel();
                sinks.monitor.interrupted();
            }
            Some(ev) = next_cluster_event(&mut sinks.cluster) => {
                if let Some(cluster) = sinks.cluster.as_deref_mut() {
                    cluster.apply(&ev);
                    sinks.monitor.cluster_event(&ev);
                }
            }
            n = rx.recv_many(&mut batch, 1024) => {
                if n == 0 {
                    break;
                }
                for ev in batch.drain(..) {
                    collector.handle(ev);
                }
                // Let the users run before the next batch: on a busy runtime each sample would
                // otherwise wake this loop on its own, and a wake-up costs more than the sample.
                tokio::task::yield_now().await;
            }
        }
    }
    if collector.second_has_data() {
        let point = collector.close_second();
        sinks.second(point, &collector, false);
    }
    sinks.monitor.finish();
    let end = engine.await.map_err(RunError::Engine)?;
    Ok(Measured { collector, end })
}

/// The collector of this run: its endpoints, users and length, how the host resolved, and the
/// open model's schedule when there is one.
fn collector_for(
    plan: &LoadPlan,
    target: &Target,
    start: Instant,
    started_utc: Timestamp,
) -> Collector {
    let mut collector = Collector::new(
        plan.class.endpoints.clone(),
        plan.users,
        plan.duration,
        start,
        started_utc,
    );
    collector.resolved(target.resolved_in, target.addrs.len());
    if let (Some(model), Some(ramp)) = (&plan.open, plan.arrival_ramp()) {
        collector = collector.with_arrivals(model.clone(), ramp);
    }
    collector
}

async fn next_cluster_event(
    cluster: &mut Option<&mut ClusterSide>,
) -> Option<iris_cluster::watch::ClusterEvent> {
    match cluster {
        Some(c) => c.next_event().await,
        None => std::future::pending().await,
    }
}

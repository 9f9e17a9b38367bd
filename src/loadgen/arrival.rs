//! The open model's scheduler (k6's constant- and ramping-arrival-rate): arrival `k` is due at
//! `start + ramp.arrival_time(k)`, computed from `k` alone so the schedule never drifts; each
//! arrival takes a free [`Worker`] from a pool of `max_in_flight`, runs one task of the class
//! (chosen by the weights) through the same [`Worker::execute`] as the users, and gives the
//! worker back. No free worker: the arrival is dropped and counted, or with `queue` it waits
//! for one (its latency still counts from its due time).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Event;
use super::shape::Ramp;
use super::user::{Shared, Worker};

/// The open model's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenModel {
    /// Arrivals per second (the start of the ramp, with stages).
    pub rate: f64,
    /// Requests in flight at most (k6's maxVUs).
    pub max_in_flight: u32,
    /// Arrivals wait for a free slot instead of being dropped.
    pub queue: bool,
}

/// The idle workers: a stack, so the most recently used connections are used again first and
/// a low rate does not open `max_in_flight` connections.
struct Pool {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Worker>>,
}

impl Pool {
    fn new(size: u32) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(size as usize)),
            idle: Mutex::new((0..size as usize).rev().map(Worker::new).collect()),
        }
    }

    fn take(&self, permit: OwnedSemaphorePermit) -> Option<(Worker, OwnedSemaphorePermit)> {
        let worker = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()?;
        Some((worker, permit))
    }

    fn give_back(&self, worker: Worker, permit: OwnedSemaphorePermit) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(worker);
        drop(permit);
    }

    fn in_flight(&self, size: u32) -> u32 {
        size.saturating_sub(self.permits.available_permits() as u32)
    }
}

/// How the arrivals went.
pub(super) struct Arrived {
    pub interrupted: bool,
    /// Arrivals sent (each ran one task).
    pub sent: u64,
    pub tasks: JoinSet<()>,
}

/// Makes arrivals from `start` until `deadline` or `interrupt`, then returns the tasks still
/// in flight.
pub(super) async fn run(
    model: &OpenModel,
    ramp: &Ramp,
    shared: Arc<Shared>,
    interrupt: &CancellationToken,
    start: Instant,
    deadline: Instant,
) -> Arrived {
    let pool = Arc::new(Pool::new(model.max_in_flight));
    let mut tasks = JoinSet::new();
    let (mut k, mut sent) = (0u64, 0u64);
    let (mut interrupted, mut over) = (false, false);
    let due = |k: u64| {
        ramp.arrival_time(k)
            .map(|t| start + Duration::from_secs_f64(t))
            .filter(|t| *t < deadline)
    };
    while let Some(next) = due(k) {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = interrupt.cancelled() => { interrupted = true; break }
        }
        let (mut batch_sent, mut dropped) = (0u32, 0u32);
        let now = Instant::now();
        while let Some(intended) = due(k).filter(|t| *t <= now) {
            k += 1;
            let permit = if model.queue {
                tokio::select! {
                    p = pool.permits.clone().acquire_owned() => p.ok(),
                    () = tokio::time::sleep_until(deadline) => { over = true; break }
                    () = interrupt.cancelled() => { interrupted = true; break }
                }
            } else {
                pool.permits.clone().try_acquire_owned().ok()
            };
            let Some((mut worker, permit)) = permit.and_then(|p| pool.take(p)) else {
                dropped += 1;
                continue;
            };
            batch_sent += 1;
            let (shared, pool) = (shared.clone(), pool.clone());
            tasks.spawn(async move {
                let task = shared.class.pick(&mut worker.rng);
                worker
                    .execute(&shared, task, Some(intended.into_std()))
                    .await;
                pool.give_back(worker, permit);
            });
        }
        sent += u64::from(batch_sent);
        while tasks.try_join_next().is_some() {}
        let _ = shared.events.send(Event::Arrivals {
            sent: batch_sent,
            dropped,
        });
        let _ = shared
            .events
            .send(Event::Users(pool.in_flight(model.max_in_flight)));
        if interrupted || over {
            break;
        }
    }
    if !interrupted {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = interrupt.cancelled() => interrupted = true,
        }
    }
    Arrived {
        interrupted,
        sent,
        tasks,
    }
}

//! The open model's scheduler (k6's constant- and ramping-arrival-rate): arrival `k` is due at
//! `start + ramp.arrival_time(k)`, computed from `k` alone so the schedule never drifts; each
//! arrival takes a free [`TaskRunner`] from a pool of `max_in_flight`, runs one task of the class
//! (chosen by the weights) through the same [`TaskRunner::execute`] as the users, and gives the
//! runner back. No free runner: the arrival is dropped and counted, or with `queue` it waits
//! for one (its latency still counts from its due time).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Event;
use super::shape::Ramp;
use super::user::{Shared, TaskRunner};

/// The open model's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenModel {
    /// Arrivals per second (the start of the ramp, with stages).
    pub rate: f64,
    /// Requests in flight at most (k6's maxVUs).
    pub max_in_flight: u32,
    /// Arrivals wait for a free slot instead of being dropped.
    pub queue: bool,
    /// Which of the schedule's arrivals this process makes (all of them but in a distributed
    /// run).
    pub stripe: Stripe,
}

/// The arrivals `k` with `k % of == index`: worker i of N of a distributed run takes every N-th
/// arrival of the one schedule, from the i-th, so that the merged arrivals keep the schedule's
/// even spacing (k6's execution segments do the same). One process takes them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stripe {
    pub index: u32,
    pub of: u32,
}

impl Default for Stripe {
    fn default() -> Self {
        Stripe { index: 0, of: 1 }
    }
}

impl Stripe {
    fn step(self) -> u64 {
        u64::from(self.of.max(1))
    }

    /// How many of the arrivals `k < due` (`due`: the schedule's count by some time) are this
    /// stripe's.
    pub fn count_below(self, due: f64) -> u64 {
        let rest = due - f64::from(self.index);
        if rest <= 0.0 {
            return 0;
        }
        (rest / f64::from(self.of.max(1)) - 1e-9).ceil().max(0.0) as u64
    }

    /// This stripe's even share of `due` arrivals (for per-second figures that add up).
    pub fn share_of(self, due: f64) -> f64 {
        due / f64::from(self.of.max(1))
    }
}

/// The idle task runners: a stack, so the most recently used connections are used again first and
/// a low rate does not open `max_in_flight` connections.
struct Pool {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<TaskRunner>>,
}

impl Pool {
    fn new(size: u32) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(size as usize)),
            idle: Mutex::new((0..size as usize).rev().map(TaskRunner::new).collect()),
        }
    }

    fn take(&self, permit: OwnedSemaphorePermit) -> Option<(TaskRunner, OwnedSemaphorePermit)> {
        let runner = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()?;
        Some((runner, permit))
    }

    fn give_back(&self, runner: TaskRunner, permit: OwnedSemaphorePermit) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(runner);
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
    let (mut k, mut sent) = (u64::from(model.stripe.index), 0u64);
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
            k += model.stripe.step();
            let permit = if model.queue {
                tokio::select! {
                    p = pool.permits.clone().acquire_owned() => p.ok(),
                    () = tokio::time::sleep_until(deadline) => { over = true; break }
                    () = interrupt.cancelled() => { interrupted = true; break }
                }
            } else {
                pool.permits.clone().try_acquire_owned().ok()
            };
            let Some((mut runner, permit)) = permit.and_then(|p| pool.take(p)) else {
                dropped += 1;
                continue;
            };
            batch_sent += 1;
            let (shared, pool) = (shared.clone(), pool.clone());
            tasks.spawn(async move {
                let task = shared.class.pick(&mut runner.rng);
                runner
                    .execute(&shared, task, Some(intended.into_std()))
                    .await;
                pool.give_back(runner, permit);
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

#[cfg(test)]
mod tests {
    use super::Stripe;

    #[test]
    fn stripes_split_the_arrivals_exactly() {
        for due in [0.0, 0.5, 1.0, 7.0, 99.5, 100.0, 12_345.25] {
            for of in 1..=7u32 {
                let counts: Vec<u64> = (0..of)
                    .map(|index| Stripe { index, of }.count_below(due))
                    .collect();
                // Every k < due belongs to exactly one stripe.
                let all = Stripe::default().count_below(due);
                assert_eq!(
                    counts.iter().sum::<u64>(),
                    all,
                    "{due} over {of}: {counts:?}"
                );
                let shares: f64 = (0..of)
                    .map(|index| Stripe { index, of }.share_of(due))
                    .sum();
                assert!((shares - due).abs() < 1e-9);
            }
        }
        assert_eq!(Stripe::default().count_below(100.0), 100);
        // k in {1, 4, ..., 97}: 33 of the first 100.
        assert_eq!(Stripe { index: 1, of: 3 }.count_below(100.0), 33);
    }
}

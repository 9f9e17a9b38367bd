//! The load engine: a plan, user classes, ONE user loop ([`user::run_user`]) and the
//! scheduler that starts users at the spawn rate and stops them at the end. It reports what
//! happens as [`Event`]s on a channel and never prints.

mod arrival;
pub mod class;
pub mod http;
mod response;
pub mod server_timing;
pub mod shape;
mod swarm;
mod user;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use arrival::{OpenModel, Stripe};
pub use class::{BUILTIN_CLASSES, Body, Check, Task, UserClass};
pub use http::{ConnectionPolicy, Target};
use iris_api::Failure;
pub use shape::{Ramp, UserShape};
pub use swarm::{Swarm, SwarmChange, SwarmControl, stages_followed};

use iris_base::units::Stages;

use iris_base::usage::UsageError;
use iris_base::yaml::ConfigError;

/// Why a run cannot start: the engine's own errors, mapped to exit codes at the edge.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// A value that parsed but cannot be used (an unknown class, a host without a name).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// A scenario file that cannot be read or makes no sense.
    #[error(transparent)]
    Scenario(#[from] ConfigError),
    #[error("could not resolve {host}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not set up TLS")]
    Tls(#[source] rustls::Error),
}

impl LoadgenError {
    /// Errors of the user's input (exit 2) rather than of the run (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, LoadgenError::Usage(_) | LoadgenError::Scenario(_))
    }
}

/// How long in-flight requests may take to finish once the run is over.
pub const GRACE: Duration = Duration::from_secs(5);

/// Everything the engine needs to run; part of the settled plan of a run
/// (`pipeline::plan::RunPlan`), sent as JSON to the workers of a distributed run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadPlan {
    pub users: u32,
    pub spawn_rate: f64,
    pub duration: Duration,
    pub class: UserClass,
    pub timeout: Duration,
    pub connection: ConnectionPolicy,
    /// Local ports to bind connections to, when the kernel's own choice would be slow.
    pub source_ports: Option<(u16, u16)>,
    /// Share of requests (0..=1) sent with `traceparent`'s sampled flag set.
    pub trace_sample: f64,
    /// `--stages`: the users (or, in the open model, the arrival rate) follow these targets,
    /// and `duration` is their total.
    pub stages: Option<Stages>,
    /// `--arrival-rate`: the open model (arrivals at a rate) instead of users.
    pub open: Option<OpenModel>,
}

impl LoadPlan {
    /// How many users run over time (the closed model).
    pub fn user_shape(&self) -> UserShape {
        match &self.stages {
            Some(stages) => UserShape::Stages(Ramp::new(0.0, stages)),
            None => UserShape::Spawn {
                users: self.users,
                rate: self.spawn_rate,
            },
        }
    }

    /// The arrival rate over time, in the open model.
    pub fn arrival_ramp(&self) -> Option<Ramp> {
        let open = self.open.as_ref()?;
        Some(match &self.stages {
            Some(stages) => Ramp::new(open.rate, stages),
            None => Ramp::constant(open.rate, self.duration),
        })
    }
}

/// Server-reported timings of one response: from its `Server-Timing` header, else (on
/// `/predict`) from the body's `inference_time` and `total_time`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerTiming {
    /// The model's time.
    pub inference: Option<Duration>,
    /// The server's whole handling time.
    pub total: Option<Duration>,
}

/// A phase's duration in whole microseconds, from 1 (the histograms' lowest value) to
/// `u32::MAX` (71 minutes): 4 bytes, so that every [`Sample`] stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Micros(NonZeroU32);

impl Micros {
    pub fn of(d: Duration) -> Self {
        let us = d
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(d.subsec_micros()));
        let us = u32::try_from(us).unwrap_or(u32::MAX);
        Self(NonZeroU32::new(us).unwrap_or(NonZeroU32::MIN))
    }

    pub fn get(self) -> u64 {
        u64::from(self.0.get())
    }

    pub fn duration(self) -> Duration {
        Duration::from_micros(self.get())
    }
}

/// Where one request's time went, as `curl -w` and k6 split it. Each phase is there when the
/// request got through it: `connect` and `tls` only when the request opened its connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// TCP connect.
    pub connect: Option<Micros>,
    /// TLS handshake.
    pub tls: Option<Micros>,
    /// Writing the request.
    pub sending: Option<Micros>,
    /// From the request sent to the first byte of the response.
    pub waiting: Option<Micros>,
    /// From the first byte to the end of the response.
    pub receiving: Option<Micros>,
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Index into the class's `endpoints`.
    pub endpoint: usize,
    pub latency: Duration,
    pub bytes: u64,
    pub outcome: Result<Option<ServerTiming>, Failure>,
    pub trace_id: u128,
    /// Its `traceparent` asked the server to sample it.
    pub sampled: bool,
    pub phases: Phases,
    /// In the open model: from the arrival's due time to the send. `lag + latency` is the
    /// corrected latency (what a population of clients would see); `latency` the service time.
    pub lag: Option<Duration>,
}

/// What the engine reports.
#[derive(Debug, Clone)]
pub enum Event {
    Request(Sample),
    /// The number of users running (in the open model: requests in flight).
    Users(u32),
    /// Open model: arrivals sent and dropped (no free slot) since the last such event.
    Arrivals {
        sent: u32,
        dropped: u32,
    },
    /// Every user has started.
    SpawnComplete,
    /// The users' target changed during the run (Locust's swarm from the web page).
    Swarm(SwarmChange),
    /// The run is over; users are finishing in-flight requests.
    Stopping,
}

/// How the run ended.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd {
    pub interrupted: bool,
    pub users_started: u32,
    /// Users still busy after the grace period, whose requests were abandoned.
    pub abandoned: usize,
}

/// Runs `plan` from `start` until its duration is over or `interrupt` fires: users (the
/// closed model) or arrivals (the open model), both running tasks through one `TaskRunner`. In
/// the closed model, each [`Swarm`] on `swarm` changes the users' target from then on.
pub async fn run(
    plan: &LoadPlan,
    target: Arc<Target>,
    events: UnboundedSender<Event>,
    interrupt: CancellationToken,
    start: Instant,
    swarm: Option<SwarmControl>,
) -> RunEnd {
    let deadline = start + plan.duration;
    let shared = Arc::new(user::Shared {
        class: plan.class.clone(),
        target,
        events: events.clone(),
        timeout: plan.timeout,
        policy: plan.connection,
        trace_sample: plan.trace_sample,
    });
    let stop = CancellationToken::new();
    let (interrupted, users_started, mut tasks) = match (&plan.open, plan.arrival_ramp()) {
        (Some(model), Some(ramp)) => {
            let _ = events.send(Event::SpawnComplete);
            let a = arrival::run(model, &ramp, shared, &interrupt, start, deadline).await;
            let used = a.sent.min(u64::from(model.max_in_flight)) as u32;
            (a.interrupted, used, a.tasks)
        }
        _ => {
            let shape = plan.user_shape();
            let clock = Clock { start, deadline };
            run_users(shape, shared, &stop, &interrupt, clock, swarm).await
        }
    };
    stop.cancel();
    let _ = events.send(Event::Stopping);
    let grace_end = Instant::now() + GRACE;
    while let Ok(Some(_)) = tokio::time::timeout_at(grace_end, tasks.join_next()).await {}
    let abandoned = tasks.len();
    tasks.shutdown().await;
    let _ = events.send(Event::Users(0));
    RunEnd {
        interrupted,
        users_started,
        abandoned,
    }
}

/// When the run started and when it ends.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    deadline: Instant,
}

/// The closed model's scheduler: starts and stops users so that their number follows `shape`
/// (from a [`Swarm`] on, the ramp to its users), until the deadline or `interrupt`. A user
/// told to stop finishes its task first.
async fn run_users(
    mut shape: UserShape,
    shared: Arc<user::Shared>,
    stop: &CancellationToken,
    interrupt: &CancellationToken,
    clock: Clock,
    mut swarm: Option<SwarmControl>,
) -> (bool, u32, JoinSet<()>) {
    let Clock { start, deadline } = clock;
    let mut users = JoinSet::new();
    let mut running: Vec<CancellationToken> = Vec::new();
    let mut started = 0u32;
    let mut complete = false;
    let mut interrupted = false;
    // The shape's time 0, in seconds from the start: moves to each swarm's arrival.
    let mut origin = 0.0;
    loop {
        let t = Instant::now()
            .saturating_duration_since(start)
            .as_secs_f64();
        let want = shape.count(t - origin) as usize;
        while running.len() < want {
            let token = stop.child_token();
            users.spawn(user::run_user(
                shared.clone(),
                started as usize,
                token.clone(),
            ));
            running.push(token);
            started += 1;
        }
        while running.len() > want {
            if let Some(token) = running.pop() {
                token.cancel();
            }
        }
        while users.try_join_next().is_some() {}
        let _ = shared.events.send(Event::Users(running.len() as u32));
        let next = shape.next_change(t - origin, want as u32);
        if next.is_none() && !complete && matches!(shape, UserShape::Spawn { .. }) {
            complete = true;
            let _ = shared.events.send(Event::SpawnComplete);
        }
        let wake = next
            .map(|s| start + Duration::from_secs_f64(s + origin))
            .filter(|w| *w < deadline)
            .unwrap_or(deadline);
        tokio::select! {
            () = tokio::time::sleep_until(wake) => if wake == deadline { break },
            () = interrupt.cancelled() => { interrupted = true; break }
            Some(to) = next_swarm(&mut swarm) => {
                origin = start.elapsed().as_secs_f64();
                shape = swarm::reshape(running.len() as u32, to);
                let change = SwarmChange { at_s: origin, swarm: to };
                let _ = shared.events.send(Event::Swarm(change));
            }
        }
    }
    (interrupted, started, users)
}

/// The next swarm asked for; pending forever without a control or once its sender is gone.
async fn next_swarm(control: &mut Option<SwarmControl>) -> Option<Swarm> {
    if let Some(rx) = control
        && rx.changed().await.is_ok()
    {
        return Some(*rx.borrow_and_update());
    }
    std::future::pending().await
}

//! A pod that really serves: the reference API (`server::router`) on 127.0.0.1:0 behind a CPU
//! budget. Every request costs `1 / rps_per_core` core-seconds; the pod has its CPU limit's
//! worth of cores, and requests take their turn on it (one queue, as one uvicorn worker), so a
//! pod serves at most `rps_per_core x limit` requests per second and beyond that they wait.
//! What the pod used (CPU seconds charged, requests waiting) is counted for metrics-server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use iris_server::{self as server, Limits, Model};

/// What a pod did, read by metrics-server.
#[derive(Debug)]
pub struct PodLoad {
    /// Time one request holds the pod's CPU.
    service_time: Duration,
    /// When the CPU is next free.
    busy_until: Mutex<Instant>,
    /// Requests given CPU time (served, or abandoned by their client while waiting).
    charged: AtomicU64,
    /// Requests waiting or in service now, and the most since the last scrape.
    in_system: AtomicU64,
    peak_in_system: AtomicU64,
}

impl PodLoad {
    /// A pod whose `cores` serve `rps_per_core` requests per second each.
    pub fn new(rps_per_core: f64, cores: f64) -> Self {
        Self {
            service_time: Duration::from_secs_f64(1.0 / (rps_per_core * cores)),
            busy_until: Mutex::new(Instant::now()),
            charged: AtomicU64::new(0),
            in_system: AtomicU64::new(0),
            peak_in_system: AtomicU64::new(0),
        }
    }

    /// Takes the request's turn on the CPU: when it will be done.
    fn reserve(&self) -> Instant {
        let mut busy = self.busy_until.lock().unwrap_or_else(|e| e.into_inner());
        let start = (*busy).max(Instant::now());
        *busy = start + self.service_time;
        self.charged.fetch_add(1, Ordering::Relaxed);
        *busy
    }

    /// Requests charged so far.
    pub fn charged(&self) -> u64 {
        self.charged.load(Ordering::Relaxed)
    }

    /// The most requests waiting or in service since the last call (then reset to now's).
    pub fn take_peak(&self) -> u64 {
        let now = self.in_system.load(Ordering::Relaxed);
        self.peak_in_system.swap(now, Ordering::Relaxed).max(now)
    }
}

/// Counts a request in the system while it lives (also when its client goes away).
struct InSystem<'a>(&'a PodLoad);

impl<'a> InSystem<'a> {
    fn enter(load: &'a PodLoad) -> Self {
        let n = load.in_system.fetch_add(1, Ordering::Relaxed) + 1;
        load.peak_in_system.fetch_max(n, Ordering::Relaxed);
        Self(load)
    }
}

impl Drop for InSystem<'_> {
    fn drop(&mut self) {
        self.0.in_system.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn cpu_budget(State(load): State<Arc<PodLoad>>, request: Request, next: Next) -> Response {
    let _counted = InSystem::enter(&load);
    let done = load.reserve();
    tokio::time::sleep_until(done).await;
    next.run(request).await
}

/// A pod's running container.
pub struct RunningPod {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningPod {
    /// Starts the container: binds 127.0.0.1:0 and serves the API behind its CPU budget.
    pub async fn start(model: Model, load: Arc<PodLoad>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = server::router(model).layer(axum::middleware::from_fn_with_state(
            load.clone(),
            cpu_budget,
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve_router(
            listener,
            router,
            Limits::default(),
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// Stops accepting, lets requests in progress finish, closes idle connections.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_serves_one_request_at_a_time_at_its_rate() {
        let load = PodLoad::new(100.0, 0.5);
        let t0 = Instant::now();
        let ends: Vec<Instant> = (0..5).map(|_| load.reserve()).collect();
        let first = ends[0] - t0;
        assert!(
            first >= Duration::from_millis(20) && first < Duration::from_millis(30),
            "{first:?}"
        );
        assert_eq!(ends[4] - ends[0], Duration::from_millis(80));
        assert_eq!(load.charged(), 5);
        std::thread::sleep(ends[4] - Instant::now() + Duration::from_millis(50));
        // An idle CPU does not bank time.
        let now = Instant::now();
        let next = load.reserve() - now;
        assert!(
            next >= Duration::from_millis(20) && next < Duration::from_millis(30),
            "{next:?}"
        );
    }

    #[test]
    fn the_peak_is_what_waited_since_the_last_look() {
        let load = PodLoad::new(100.0, 1.0);
        {
            let _a = InSystem::enter(&load);
            let _b = InSystem::enter(&load);
        }
        assert_eq!(load.take_peak(), 2);
        assert_eq!(load.take_peak(), 0);
    }
}

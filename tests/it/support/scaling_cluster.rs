//! An autoscaling cluster whose pods really serve, for the acceptance of the autoscaling
//! analysis (issue 20), on the test Kubernetes API server:
//! - every pod is the reference API in-process on 127.0.0.1:0, paced to a fixed capacity
//!   (`Truth::pod_capacity_rps`, one request after another, as a pod with one worker);
//! - a front on 127.0.0.1:0 spreads new TCP connections over the Ready pods, round robin, as
//!   kube-proxy does (a keep-alive connection stays on its pod);
//! - a pod is scheduled, started and Ready fixed times after its creation;
//! - its metrics.k8s.io CPU is `idle + k x` the requests/s it really served over the metrics
//!   window;
//! - the HPA is this file's own few lines, not the product's model: every sync, desired =
//!   ceil(sum of the Ready pods' CPU / (target x request)), clamped to min..max, never down
//!   during a run (as the default 5 min scale-down stabilization).
//!
//! Times are compressed (a 5 s metrics window, a 2 s HPA sync), so a run takes seconds.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

/// What the test cluster is, by construction: what the analysis must find.
#[derive(Debug, Clone, Copy)]
pub struct Truth {
    pub idle_millis: f64,
    pub millis_per_rps: f64,
    pub request_millis: f64,
    pub target_pct: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Requests/s one pod serves at most.
    pub pod_capacity_rps: f64,
    /// After creation: scheduled, containers started, Ready.
    pub scheduled_after: Duration,
    pub started_after: Duration,
    pub ready_after: Duration,
    pub metrics_window: Duration,
    pub hpa_sync: Duration,
}

impl Truth {
    /// The guide's HPA (200m request, 60% target, 2..15) with compressed times.
    pub const GUIDE: Truth = Truth {
        idle_millis: 30.0,
        millis_per_rps: 4.0,
        request_millis: 200.0,
        target_pct: 60.0,
        min_replicas: 2,
        max_replicas: 15,
        pod_capacity_rps: 60.0,
        scheduled_after: Duration::from_millis(1000),
        started_after: Duration::from_millis(4000),
        ready_after: Duration::from_millis(7000),
        metrics_window: Duration::from_secs(5),
        hpa_sync: Duration::from_secs(2),
    };

    /// Requests/s one pod serves with its CPU at the HPA's target.
    pub fn rps_per_pod_at_target(&self) -> f64 {
        (self.request_millis * self.target_pct / 100.0 - self.idle_millis) / self.millis_per_rps
    }
}

/// One pod's server and what it served.
struct PodServer {
    addr: SocketAddr,
    ready_since: Option<Instant>,
    served: Arc<Mutex<VecDeque<Instant>>>,
}

#[derive(Default)]
struct Fleet {
    /// By pod name, in creation order of names.
    pods: BTreeMap<String, PodServer>,
}

impl Fleet {
    fn ready_addrs(&self) -> Vec<SocketAddr> {
        self.pods
            .values()
            .filter(|p| p.ready_since.is_some())
            .map(|p| p.addr)
            .collect()
    }
}

/// The cluster: the lab (API server and kubeconfig), the front's URL, and the HPA's decisions.
pub struct ScalingCluster {
    pub lab: Lab,
    pub front: String,
    pub truth: Truth,
    fleet: Arc<Mutex<Fleet>>,
    /// (seconds since the cluster started, desired replicas) at every change.
    decisions: Arc<Mutex<Vec<(f64, u32)>>>,
    stop: Arc<AtomicBool>,
    controller: Option<std::thread::JoinHandle<()>>,
}

impl ScalingCluster {
    /// The guide's objects on a new API server, two Ready pods serving, the controller running.
    pub fn start(truth: Truth) -> Self {
        let lab = Lab::healthy();
        let fleet = Arc::new(Mutex::new(Fleet::default()));
        let model = iris_lab::server::Model::train().expect("train");
        for pod in lab.api.list("pods") {
            let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
            let mut server = pod_server(&model, truth.pod_capacity_rps);
            server.ready_since = Some(Instant::now());
            fleet.lock().unwrap().pods.insert(name, server);
        }
        let front = front(fleet.clone());
        let decisions = Arc::new(Mutex::new(vec![(0.0, truth.min_replicas)]));
        let stop = Arc::new(AtomicBool::new(false));
        let controller = {
            let (api, fleet, decisions, stop) = (
                lab.api.clone(),
                fleet.clone(),
                decisions.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                Controller::new(api, fleet, model, truth, decisions).run(&stop)
            })
        };
        ScalingCluster {
            lab,
            front,
            truth,
            fleet,
            decisions,
            stop,
            controller: Some(controller),
        }
    }

    /// What the HPA settled on: its last decision.
    pub fn settled_replicas(&self) -> u32 {
        self.decisions.lock().unwrap().last().map_or(0, |d| d.1)
    }

    pub fn decisions(&self) -> Vec<(f64, u32)> {
        self.decisions.lock().unwrap().clone()
    }

    /// Requests each pod served, by name.
    pub fn served(&self) -> BTreeMap<String, usize> {
        let fleet = self.fleet.lock().unwrap();
        fleet
            .pods
            .iter()
            .map(|(n, p)| (n.clone(), p.served.lock().unwrap().len()))
            .collect()
    }
}

impl Drop for ScalingCluster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(c) = self.controller.take() {
            let _ = c.join();
        }
    }
}

/// The reference API paced to `capacity` requests/s (each request waits for its slot), that
/// counts what it served.
fn pod_server(model: &iris_lab::server::Model, capacity: f64) -> PodServer {
    let served: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
    let next_slot = Arc::new(Mutex::new(Instant::now()));
    let spacing = Duration::from_secs_f64(1.0 / capacity);
    let counted = served.clone();
    let router = iris_lab::server::router(model.clone()).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let (counted, next_slot) = (counted.clone(), next_slot.clone());
            async move {
                let slot = {
                    let mut free = next_slot.lock().unwrap();
                    let slot = (*free).max(Instant::now());
                    *free = slot + spacing;
                    slot
                };
                tokio::time::sleep_until(slot.into()).await;
                let response = next.run(req).await;
                counted.lock().unwrap().push_back(Instant::now());
                response
            }
        },
    ));
    let url = spawn_router(router);
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .expect("a pod's address");
    PodServer {
        addr,
        ready_since: None,
        served,
    }
}

/// The Service: new connections go round robin to the Ready pods; bytes are piped both ways.
fn front(fleet: Arc<Mutex<Fleet>>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    on_own_runtime(move || async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        tx.send(listener.local_addr().expect("addr")).expect("send");
        let turn = Arc::new(AtomicUsize::new(0));
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            let ready = fleet.lock().unwrap().ready_addrs();
            if ready.is_empty() {
                continue;
            }
            let to = ready[turn.fetch_add(1, Ordering::Relaxed) % ready.len()];
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    format!("http://{}", rx.recv().expect("front address"))
}

/// The ReplicaSet controller, kubelet, metrics-server and HPA of the test cluster.
struct Controller {
    api: KubeApi,
    fleet: Arc<Mutex<Fleet>>,
    model: iris_lab::server::Model,
    truth: Truth,
    decisions: Arc<Mutex<Vec<(f64, u32)>>>,
    started: Instant,
    born: BTreeMap<String, Instant>,
    serial: u32,
    desired: u32,
}

const HPA_NAME: &str = "iris-prediction-api-hpa";

impl Controller {
    fn new(
        api: KubeApi,
        fleet: Arc<Mutex<Fleet>>,
        model: iris_lab::server::Model,
        truth: Truth,
        decisions: Arc<Mutex<Vec<(f64, u32)>>>,
    ) -> Self {
        Controller {
            api,
            fleet,
            model,
            truth,
            decisions,
            started: Instant::now(),
            born: BTreeMap::new(),
            serial: 0,
            desired: truth.min_replicas,
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        let mut next_sync = Instant::now() + self.truth.hpa_sync;
        while !stop.load(Ordering::SeqCst) {
            self.create_pods();
            self.bring_up();
            self.publish_metrics();
            if Instant::now() >= next_sync {
                next_sync += self.truth.hpa_sync;
                self.hpa_sync();
            }
            self.deployment_status();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The ReplicaSet: as many pods as the Deployment's replicas (never fewer in a run).
    fn create_pods(&mut self) {
        let Some(dep) = self.api.get("apps/deployments", APP) else {
            return;
        };
        let desired = dep["spec"]["replicas"].as_u64().unwrap_or(0) as usize;
        let mut live = self.api.list("pods").len();
        while live < desired {
            self.serial += 1;
            let name = format!("{APP}-7d9f8-new{:02}", self.serial);
            self.api.put(new_pod(&name));
            self.born.insert(name, Instant::now());
            live += 1;
        }
    }

    /// The scheduler and kubelet: scheduled, started (its server listening), then Ready (the
    /// front sends it connections) at the set times after creation.
    fn bring_up(&mut self) {
        let t = self.truth;
        for (name, born) in self.born.clone() {
            let age = born.elapsed();
            let Some(pod) = self.api.get("pods", &name) else {
                continue;
            };
            let has = |k: &str| {
                pod["status"]["conditions"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == k && c["status"] == "True"))
            };
            if age >= t.scheduled_after && !has("PodScheduled") {
                self.api.update("pods", &name, schedule);
            }
            if age >= t.started_after && pod["status"]["phase"] == "Pending" {
                let server = pod_server(&self.model, t.pod_capacity_rps);
                self.fleet.lock().unwrap().pods.insert(name.clone(), server);
                self.api.update("pods", &name, start);
            }
            if age >= t.ready_after && pod["status"]["phase"] == "Running" && !has("Ready") {
                self.api.update("pods", &name, make_ready);
                if let Some(p) = self.fleet.lock().unwrap().pods.get_mut(&name) {
                    p.ready_since = Some(Instant::now());
                }
                self.born.remove(&name);
            }
        }
    }

    /// metrics-server: each Ready pod's CPU from the requests it served over the window.
    fn publish_metrics(&self) {
        let window = self.truth.metrics_window;
        let now = Instant::now();
        let usage: Vec<(String, f64)> = {
            let fleet = self.fleet.lock().unwrap();
            fleet
                .pods
                .iter()
                .filter_map(|(name, p)| {
                    let since = p.ready_since?;
                    let span = now.duration_since(since).min(window).as_secs_f64();
                    let served = p.served.lock().unwrap();
                    let n = served
                        .iter()
                        .rev()
                        .take_while(|at| now.duration_since(**at) <= window)
                        .count();
                    let rps = if span > 0.0 { n as f64 / span } else { 0.0 };
                    Some((
                        name.clone(),
                        self.truth.idle_millis + self.truth.millis_per_rps * rps,
                    ))
                })
                .collect()
        };
        for (name, millis) in usage {
            let mut m = pod_metrics(
                &name,
                &format!("{}n", (millis * 1e6).round() as u64),
                "110Mi",
            );
            m["window"] = json!(format!("{}s", window.as_secs_f64()));
            self.api.put(m);
        }
    }

    /// The HPA: ceil(sum of the Ready pods' CPU / (target x request)), clamped, never down.
    fn hpa_sync(&mut self) {
        let t = self.truth;
        let metrics = self.api.list("metrics.k8s.io/pods");
        let cpu: Vec<f64> = metrics
            .iter()
            .filter_map(|m| m["containers"][0]["usage"]["cpu"].as_str())
            .filter_map(|q| q.strip_suffix('n')?.parse::<f64>().ok())
            .map(|nanos| nanos / 1e6)
            .collect();
        if cpu.is_empty() {
            return;
        }
        let sum: f64 = cpu.iter().sum();
        let per_pod_target = t.request_millis * t.target_pct / 100.0;
        let wanted = ((sum / per_pod_target).ceil() as u32).clamp(t.min_replicas, t.max_replicas);
        let utilization = (sum / cpu.len() as f64 / t.request_millis * 100.0).round() as i64;
        let current = self.api.list("pods").len();
        self.api.update(
            "autoscaling/horizontalpodautoscalers",
            HPA_NAME,
            |h: &mut Value| {
                h["status"]["currentReplicas"] = json!(current);
                h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] =
                    json!(utilization);
            },
        );
        if wanted <= self.desired {
            return;
        }
        let from = self.desired;
        self.desired = wanted;
        self.decisions
            .lock()
            .unwrap()
            .push((self.started.elapsed().as_secs_f64(), wanted));
        self.api.update(
            "autoscaling/horizontalpodautoscalers",
            HPA_NAME,
            |h: &mut Value| h["status"]["desiredReplicas"] = json!(wanted),
        );
        self.api.put(event(
            &format!("rescale-{from}-{wanted}"),
            "HorizontalPodAutoscaler",
            HPA_NAME,
            "SuccessfulRescale",
            &format!(
                "New size: {wanted}; reason: cpu resource utilization (percentage of request) above target"
            ),
        ));
        self.api.update("apps/deployments", APP, |d| {
            d["spec"]["replicas"] = json!(wanted)
        });
    }

    /// The Deployment's status counts.
    fn deployment_status(&self) {
        let pods = self.api.list("pods");
        let ready = pods
            .iter()
            .filter(|p| {
                p["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .count();
        let Some(dep) = self.api.get("apps/deployments", APP) else {
            return;
        };
        if dep["status"]["replicas"] == json!(pods.len())
            && dep["status"]["readyReplicas"] == json!(ready)
        {
            return;
        }
        self.api.update("apps/deployments", APP, |d| {
            d["status"]["replicas"] = json!(pods.len());
            d["status"]["updatedReplicas"] = json!(pods.len());
            d["status"]["readyReplicas"] = json!(ready);
            d["status"]["availableReplicas"] = json!(ready);
        });
    }
}

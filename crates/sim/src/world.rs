//! What the controllers share, and the three that make pods: the Deployment controller
//! (pods to match `spec.replicas`, status), the kubelet (each pod through scheduled ->
//! started -> Ready at the settings' delays, its container really serving; termination) and
//! metrics-server (each running pod's CPU and memory over a window, from what it served).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use rand::Rng;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::front::Endpoints;
use super::objects::{self, NAMESPACE};
use super::pod::{PodLoad, RunningPod};
use super::settings::SimSettings;
use super::store::Store;
use iris_cluster::TargetNames;
use iris_cluster::checks;
use iris_server::Model;

pub const DEPLOYMENTS: &str = "apps/deployments";
pub const REPLICASETS: &str = "apps/replicasets";
pub const PODS: &str = "pods";
pub const HPAS: &str = "autoscaling/horizontalpodautoscalers";
pub const POD_METRICS: &str = "metrics.k8s.io/pods";
pub const ENDPOINT_SLICES: &str = "discovery.k8s.io/endpointslices";

/// How often the Deployment controller looks.
const RECONCILE_EVERY: Duration = Duration::from_millis(100);

/// The simulated cluster's shared state.
pub struct World {
    pub store: Store,
    pub settings: SimSettings,
    pub names: TargetNames,
    pub endpoints: Endpoints,
    pub model: Model,
    pub stop: CancellationToken,
    /// Pods whose container serves, and what each did.
    pub running: Mutex<HashMap<String, Arc<PodLoad>>>,
    /// Pods being deleted: their kubelet ends them.
    terminate: Mutex<HashMap<String, CancellationToken>>,
    events: AtomicU64,
    crashes_left: AtomicU32,
    pod_ips: AtomicU32,
    /// The first pods are already running when the cluster starts (deployed before).
    warm: AtomicBool,
}

impl World {
    pub fn new(store: Store, settings: SimSettings, names: TargetNames, model: Model) -> Self {
        let crashes = settings.faults.crashing_pods;
        Self {
            store,
            settings,
            names,
            endpoints: Endpoints::default(),
            model,
            stop: CancellationToken::new(),
            running: Mutex::default(),
            terminate: Mutex::default(),
            events: AtomicU64::new(0),
            crashes_left: AtomicU32::new(crashes),
            pod_ips: AtomicU32::new(10),
            warm: AtomicBool::new(true),
        }
    }

    /// Records a core/v1 Event about `(apiVersion, kind, name)`.
    pub fn event(
        &self,
        involved: (&str, &str, &str),
        kind: &str,
        reason: &str,
        message: &str,
        source: &str,
    ) {
        let seq = self.events.fetch_add(1, Ordering::Relaxed);
        let (api_version, obj_kind, name) = involved;
        let key = super::store::key_of(api_version, obj_kind);
        let uid = self
            .store
            .get(&key, NAMESPACE, name)
            .map_or(Value::Null, |o| o["metadata"]["uid"].clone());
        let involved = (api_version, obj_kind, name, &uid);
        self.store
            .put(objects::event(seq, involved, kind, reason, message, source));
    }

    /// Changes a pod in place; false when it is gone.
    fn update_pod(&self, name: &str, change: impl FnOnce(&mut Value)) -> bool {
        let Some(mut pod) = self.store.get(PODS, NAMESPACE, name) else {
            return false;
        };
        change(&mut pod);
        self.store.put(pod);
        true
    }

    fn pod_is_terminating(&self, name: &str) -> bool {
        self.store
            .get(PODS, NAMESPACE, name)
            .is_none_or(|p| !p["metadata"]["deletionTimestamp"].is_null())
    }

    /// The app's pods (terminating ones too).
    pub fn pods(&self) -> Vec<Pod> {
        self.store.list_as(PODS, NAMESPACE)
    }
}

/// Keeps the pods at the Deployment's replicas until the world stops.
pub async fn deployment_controller(world: Arc<World>) {
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = world.stop.cancelled() => return,
            _ = tick.tick() => reconcile(&world),
        }
    }
}

pub fn reconcile(world: &Arc<World>) {
    let names = &world.names;
    let Some(deployment) = world.store.get(DEPLOYMENTS, NAMESPACE, &names.deployment) else {
        return;
    };
    let desired = deployment["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let pods = world.pods();
    let mut live: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let rs_name = objects::replica_set_name(names);
    let rs = ("apps/v1", "ReplicaSet", rs_name.as_str());
    if live.len() < desired {
        let from = live.len();
        world.event(
            ("apps/v1", "Deployment", &names.deployment),
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled up replica set {rs_name} from {from} to {desired}"),
            "deployment-controller",
        );
        let warm = world.warm.swap(false, Ordering::Relaxed);
        for _ in from..desired {
            create_pod(world, warm);
        }
    } else if live.len() > desired {
        let from = live.len();
        world.event(
            ("apps/v1", "Deployment", &names.deployment),
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled down replica set {rs_name} from {from} to {desired}"),
            "deployment-controller",
        );
        // As the ReplicaSet controller: not-ready pods first, then the newest.
        live.sort_by_key(|p| {
            (
                checks::pod_is_ready(p),
                std::cmp::Reverse(p.metadata.creation_timestamp.clone().map(|t| t.0)),
            )
        });
        for pod in live.iter().take(from - desired) {
            let name = pod.metadata.name.clone().unwrap_or_default();
            delete_pod(world, &name);
            world.event(
                rs,
                "Normal",
                "SuccessfulDelete",
                &format!("Deleted pod: {name}"),
                "replicaset-controller",
            );
        }
    }
    update_status(world, desired as i64);
}

/// Deployment and ReplicaSet status from the pods, written only when it changed.
fn update_status(world: &World, desired: i64) {
    let pods = world.pods();
    let live: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let ready = live.iter().filter(|p| checks::pod_is_ready(p)).count();
    let available = ready >= desired as usize;
    let (reason, message) = if available {
        (
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let status = json!({
        "observedGeneration": 1, "replicas": live.len(), "updatedReplicas": live.len(),
        "readyReplicas": ready, "availableReplicas": ready,
        "unavailableReplicas": live.len().saturating_sub(ready),
        "conditions": [{"type": "Available", "status": if available {"True"} else {"False"},
                        "reason": reason, "message": message}]
    });
    let names = &world.names;
    for (key, name) in [
        (DEPLOYMENTS, names.deployment.to_string()),
        (REPLICASETS, objects::replica_set_name(names)),
    ] {
        let Some(mut object) = world.store.get(key, NAMESPACE, &name) else {
            continue;
        };
        let mut status = status.clone();
        if key == REPLICASETS {
            object["spec"]["replicas"] = json!(desired);
            status["conditions"] = Value::Null;
        }
        let changed = object["status"] != status
            || (key == REPLICASETS && object["spec"]["replicas"] != json!(desired));
        if changed {
            object["status"] = status;
            world.store.put(object);
        }
    }
    update_endpoint_slice(world, &pods);
}

/// The Service's EndpointSlice from the pods with an IP, written only when it changed.
fn update_endpoint_slice(world: &World, pods: &[Pod]) {
    let endpoints: Vec<objects::Endpoint> = pods
        .iter()
        .filter_map(|p| {
            let ip = p.status.as_ref()?.pod_ip.clone()?;
            Some(objects::Endpoint {
                pod: p.metadata.name.clone().unwrap_or_default(),
                ip,
                ready: checks::pod_is_ready(p),
                terminating: p.metadata.deletion_timestamp.is_some(),
            })
        })
        .collect();
    let slice = objects::endpoint_slice(&world.names, &endpoints);
    let name = slice["metadata"]["name"].as_str().unwrap_or_default();
    match world.store.get(ENDPOINT_SLICES, NAMESPACE, name) {
        Some(mut current) if current["endpoints"] != slice["endpoints"] => {
            current["endpoints"] = slice["endpoints"].clone();
            world.store.put(current);
        }
        Some(_) => {}
        None => {
            world.store.put(slice);
        }
    }
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new pod and its kubelet; a `warm` one was created a start-up ago and is Ready now.
fn create_pod(world: &Arc<World>, warm: bool) {
    let names = &world.names;
    let rs_name = objects::replica_set_name(names);
    let rs_uid = world
        .store
        .get(REPLICASETS, NAMESPACE, &rs_name)
        .map(|rs| rs["metadata"]["uid"].clone())
        .unwrap_or(Value::Null);
    let name = format!("{rs_name}-{}", random_suffix());
    let mut created = (Instant::now(), Timestamp::now());
    if warm {
        let ago = world.settings.scaled(world.settings.ready_after);
        created.0 = created.0.checked_sub(ago).unwrap_or(created.0);
        created.1 = created.1.checked_sub(ago).unwrap_or(created.1);
    }
    let mut pod = objects::pod(names, &world.settings, &name, &rs_uid);
    pod["metadata"]["creationTimestamp"] = json!(objects::time(created.1));
    world.store.put(pod);
    world.event(
        ("apps/v1", "ReplicaSet", &rs_name),
        "Normal",
        "SuccessfulCreate",
        &format!("Created pod: {name}"),
        "replicaset-controller",
    );
    let token = CancellationToken::new();
    world
        .terminate
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.clone(), token.clone());
    let crash = world
        .crashes_left
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok();
    tokio::spawn(kubelet(world.clone(), name, created, crash, token));
}

/// Marks a pod terminating: out of the endpoints at once, its kubelet ends it.
pub fn delete_pod(world: &World, name: &str) {
    let grace = world.settings.scaled(world.settings.terminating_for);
    world.endpoints.remove(name);
    world.update_pod(name, |p| {
        p["metadata"]["deletionTimestamp"] = json!(objects::now());
        p["metadata"]["deletionGracePeriodSeconds"] = json!(grace.as_secs().max(1));
    });
    let token = world
        .terminate
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name);
    if let Some(token) = token {
        token.cancel();
    }
}

/// One pod's life: scheduled, started (its container serving), Ready, each at its setting's
/// delay after the pod's creation (and stamped with that time); then, once deleted,
/// terminating for the settings' time before it is gone.
async fn kubelet(
    world: Arc<World>,
    name: String,
    created: (Instant, Timestamp),
    crash: bool,
    terminate: CancellationToken,
) {
    let s = world.settings.clone();
    let pod = ("v1", "Pod", name.as_str());
    let at = |d: Duration| created.0 + s.scaled(d);
    let stamp =
        |d: Duration| objects::time(created.1.checked_add(s.scaled(d)).unwrap_or(created.1));
    let container = None;
    let lived = async {
        tokio::time::sleep_until(at(s.scheduled_after)).await;
        world.update_pod(&name, |p| {
            let t = stamp(s.scheduled_after);
            p["spec"]["nodeName"] = json!(objects::NODE);
            p["status"]["startTime"] = json!(t);
            objects::set_condition(p, "PodScheduled", true, &t);
        });
        world.event(
            pod,
            "Normal",
            "Scheduled",
            &format!(
                "Successfully assigned {NAMESPACE}/{name} to {}",
                objects::NODE
            ),
            "default-scheduler",
        );
        tokio::time::sleep_until(at(s.started_after)).await;
        if crash {
            crash_loop(&world, &name);
            return None;
        }
        let load = Arc::new(PodLoad::new(
            s.rps_per_core,
            f64::from(s.cpu_limit_m) / 1000.0,
        ));
        let running = match RunningPod::start(world.model.clone(), load.clone()).await {
            Ok(r) => r,
            Err(e) => {
                world.event(
                    pod,
                    "Warning",
                    "Failed",
                    &format!("Error: the container could not listen: {e}"),
                    "kubelet",
                );
                return None;
            }
        };
        let ip = world.pod_ips.fetch_add(1, Ordering::Relaxed);
        world.update_pod(&name, |p| {
            let t = stamp(s.started_after);
            objects::set_condition(p, "Initialized", true, &t);
            objects::container_running(p, &t, false);
            p["status"]["phase"] = json!("Running");
            p["status"]["podIP"] = json!(format!("10.64.0.{ip}"));
            p["status"]["hostIP"] = json!("10.128.0.2");
        });
        for (reason, message) in [
            (
                "Pulled",
                "Container image \"iris-lab:0.1.0\" already present on machine",
            ),
            ("Created", "Created container iris-api-container"),
            ("Started", "Started container iris-api-container"),
        ] {
            world.event(pod, "Normal", reason, message, "kubelet");
        }
        world
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone(), load);
        tokio::time::sleep_until(at(s.ready_after)).await;
        world.update_pod(&name, |p| {
            let t = stamp(s.ready_after);
            objects::set_condition(p, "ContainersReady", true, &t);
            objects::set_condition(p, "Ready", true, &t);
            if let Some(c) = p["status"]["containerStatuses"].get_mut(0) {
                c["ready"] = json!(true);
            }
        });
        world.endpoints.add(&name, running.addr);
        Some(running)
    };
    let running = tokio::select! {
        r = lived => r.or(container),
        () = terminate.cancelled() => None,
        () = world.stop.cancelled() => return,
    };
    // Serve until deleted (a crashed pod waits the same way).
    tokio::select! {
        () = terminate.cancelled() => {}
        () = world.stop.cancelled() => {
            if let Some(r) = running { r.stop().await; }
            return;
        }
    }
    world.endpoints.remove(&name);
    world.event(
        pod,
        "Normal",
        "Killing",
        "Stopping container iris-api-container",
        "kubelet",
    );
    tokio::select! {
        () = tokio::time::sleep(s.scaled(s.terminating_for)) => {}
        () = world.stop.cancelled() => {}
    }
    if let Some(r) = running {
        r.stop().await;
    }
    world
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&name);
    world.store.delete(PODS, NAMESPACE, &name);
    world.store.delete(POD_METRICS, NAMESPACE, &name);
}

/// A pod whose container keeps exiting: Running, not Ready, CrashLoopBackOff.
fn crash_loop(world: &World, name: &str) {
    world.update_pod(name, |p| {
        let t = objects::now();
        objects::set_condition(p, "Initialized", true, &t);
        objects::set_condition(p, "ContainersReady", false, &t);
        objects::set_condition(p, "Ready", false, &t);
        objects::container_crashing(p, 4, &t);
        p["status"]["phase"] = json!("Running");
    });
    world.event(
        ("v1", "Pod", name),
        "Warning",
        "BackOff",
        "Back-off restarting failed container iris-api-container",
        "kubelet",
    );
}

/// metrics-server: each window, each running pod's CPU (what it was charged, plus idle) and
/// memory (a base plus the requests that waited at the peak), as PodMetrics.
pub async fn metrics_server(world: Arc<World>) {
    let s = world.settings.clone();
    let window = s.scaled(s.metrics_window);
    let mut last: HashMap<String, (u64, Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(window);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = world.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let running: Vec<(String, Arc<PodLoad>)> = world
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, l)| (n.clone(), l.clone()))
            .collect();
        let now = Instant::now();
        last.retain(|pod, _| running.iter().any(|(n, _)| n == pod));
        for (pod, load) in running {
            let charged = load.charged();
            let peak = load.take_peak();
            // As metrics-server: a pod has metrics from its second scrape on.
            let Some((before, then)) = last.insert(pod.clone(), (charged, now)) else {
                continue;
            };
            let secs = (now - then).as_secs_f64().max(1e-3);
            let cores = (charged - before) as f64 * s.cpu_s_per_request() / secs
                + s.idle_millicores / 1000.0;
            let kib = s.memory_base_mi * 1024.0 + s.memory_per_queued_kib * peak as f64;
            let labels = world
                .store
                .get(PODS, NAMESPACE, &pod)
                .map(|p| p["metadata"]["labels"].clone())
                .unwrap_or(Value::Null);
            if labels.is_null() {
                continue;
            }
            world.store.put(objects::pod_metrics(
                &pod,
                &labels,
                window,
                (cores * 1e9).round() as u64,
                kib.round() as u64,
            ));
        }
    }
}

impl World {
    /// Whether a pod's kubelet is still starting it or serving.
    pub fn is_live(&self, name: &str) -> bool {
        !self.pod_is_terminating(name)
    }
}

//! The simulated cluster: a Kubernetes API on 127.0.0.1 (reached through a kubeconfig like
//! any other, so `verify`, `watch`, `load`, `cleanup` and kubectl use their real code paths),
//! the guide's Deployment, LoadBalancer Service and HPA, pods that really serve (the reference
//! API behind a CPU budget) and start at set delays, a front that spreads connections over the
//! ready pods as kube-proxy does, metrics-server, and an HPA controller driven by the
//! autoscaling model. Every figure it invents is a named setting ([`SimSettings`]); the
//! Deployment carries them in an annotation, so every record of a run on it says so.

mod api;
mod discovery;
mod front;
pub mod hpa;
pub mod objects;
mod pod;
mod select;
pub mod settings;
mod store;
mod table;
mod world;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use settings::{Faults, NamedSetting, SimSettings};

use iris_cluster::TargetNames;
use iris_record::WriteError;
use iris_server::Model;
use objects::NAMESPACE;
use store::Store;
use world::{DEPLOYMENTS, HPAS, REPLICASETS, World};

/// The name of the kubeconfig's cluster, context and user.
pub const CONTEXT: &str = "iris-lab-sim";

/// Why the simulated cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulation's settings do not fit together: {0}")]
    Settings(String),
    #[error("could not listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(
        "the simulated cluster's pods were not Ready with CPU metrics within {within}; the machine may be too busy: try again"
    )]
    NotSettled { within: String },
}

/// Where the simulated cluster listens.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// The Kubernetes API.
    pub api: SocketAddr,
    /// The LoadBalancer Service's front (its external address and port).
    pub front: SocketAddr,
}

impl Default for Addresses {
    fn default() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            api: any,
            front: any,
        }
    }
}

/// A running simulated cluster; [`Sim::stop`] ends it.
pub struct Sim {
    world: Arc<World>,
    tasks: JoinSet<()>,
    pub api: SocketAddr,
    pub front: SocketAddr,
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), SimError> {
    let fail = |source| SimError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    Ok((listener, local))
}

impl Sim {
    /// Starts the cluster: its objects, API server, front and controllers. The first pods are
    /// already running (the app was deployed before); later ones go through start-up.
    pub async fn start(
        settings: SimSettings,
        names: TargetNames,
        model: Model,
        at: Addresses,
    ) -> Result<Self, SimError> {
        settings.validate().map_err(SimError::Settings)?;
        let (api_listener, api) = bind(at.api).await?;
        let (front_listener, front) = bind(at.front).await?;
        let store = Store::new();
        seed(&store, &settings, &names, front.port());
        let world = Arc::new(World::new(store, settings, names, model));
        // The first pods, already Ready, and the Deployment's status saying so, before the API
        // answers anyone: `verify` right after start sees a deployed app, as on a real cluster.
        world::reconcile(&world);
        let mut tasks = JoinSet::new();
        let w = world.clone();
        tasks.spawn(async move {
            let stop = w.stop.clone();
            let _ = axum::serve(api_listener, api::router(w))
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        tasks.spawn(front::run(
            front_listener,
            world.endpoints.clone(),
            world.stop.clone(),
        ));
        tasks.spawn(world::deployment_controller(world.clone()));
        if !world.settings.faults.no_metrics {
            tasks.spawn(world::metrics_server(world.clone()));
        }
        tasks.spawn(hpa::controller(world.clone()));
        Ok(Self {
            world,
            tasks,
            api,
            front,
        })
    }

    pub fn settings(&self) -> &SimSettings {
        &self.world.settings
    }

    /// The API server's URL.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    /// A kubeconfig for this cluster (no credentials: the API is on loopback).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {}\n\
             contexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: {NAMESPACE}\n\
             current-context: {CONTEXT}\nusers:\n- name: {CONTEXT}\n  user: {{}}\n",
            self.api_url()
        )
    }

    /// Writes the kubeconfig to `path`, atomically.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), SimError> {
        let text = self.kubeconfig();
        iris_record::write_atomically(path, |w| w.write_all(text.as_bytes()))?;
        Ok(())
    }

    /// Waits until the pods are Ready and the HPA has read their CPU once, as a cluster that
    /// has been running a while; false if `limit` passes first.
    pub async fn settled(&self, limit: Duration) -> bool {
        let end = tokio::time::Instant::now() + limit;
        let names = &self.world.names;
        loop {
            let replicas = self
                .world
                .store
                .get(DEPLOYMENTS, NAMESPACE, &names.deployment)
                .and_then(|d| d["spec"]["replicas"].as_u64())
                .unwrap_or(0) as usize;
            let measured = self
                .world
                .store
                .get(HPAS, NAMESPACE, &names.hpa)
                .is_some_and(|h| {
                    !h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
                        .is_null()
                });
            if measured && self.world.endpoints.len() >= replicas {
                return true;
            }
            if tokio::time::Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every controller, pod and listener.
    pub async fn stop(mut self) {
        self.world.stop.cancel();
        let wait = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
    }
}

/// The objects the cluster starts with: namespaces, node, Deployment (+ ReplicaSet), Service
/// (+ its EndpointSlice), HPA, and metrics-server's Deployment and APIService as GKE has them.
fn seed(store: &Store, settings: &SimSettings, names: &TargetNames, port: u16) {
    store.put(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE},
                     "status": {"phase": "Active"}}),
    );
    store.put(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": objects::NODE, "labels": {"kubernetes.io/hostname": objects::NODE}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                   "nodeInfo": {"kubeletVersion": "v1.33.0-iris-lab-sim"}}}));
    let settings_json = serde_json::to_string(&settings.named()).unwrap_or_default();
    let d = store.put(objects::deployment(names, settings, &settings_json));
    store.put(objects::replica_set(names, settings, &d["metadata"]["uid"]));
    let address = (!settings.faults.pending_address).then_some("127.0.0.1");
    store.put(objects::service(names, port, address));
    store.put(objects::hpa(names, settings));
    store.put(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": objects::SYSTEM_NAMESPACE}, "status": {"phase": "Active"}}));
    let serving = !settings.faults.no_metrics;
    store.put(objects::metrics_server(serving));
    store.put(objects::metrics_api_service(serving));
    store.put(objects::endpoint_slice(names, &[]));
    let _ = REPLICASETS;
}

//! kube-rs: a client from kubeconfig/context/namespace, pure checks over k8s-openapi objects,
//! watch streams turned into [`watch::ClusterEvent`]s, the scale subresource and pod metrics.

pub mod checks;
pub mod cleanup;
mod client;
pub mod facts;
pub mod log_errors;
pub mod metrics;
pub mod reads;
mod target;
pub mod timeline;
pub mod verify;
pub mod watch;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};

pub use client::{Cluster, connect};
pub use target::{ClusterOptions, TargetNames};

pub mod error;
pub mod jobs;

pub use error::{Access, ClusterError};

impl Cluster {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The Deployment, or `None` when it does not exist.
    pub async fn deployment(&self) -> Result<Option<Deployment>, ClusterError> {
        let name = &self.names.deployment;
        let access = self.access("get", "deployments", Some(name));
        self.call(access, "Deployment", self.api::<Deployment>().get_opt(name))
            .await
    }

    /// The Deployment, or a NotFound error naming it and the namespace.
    pub async fn require_deployment(&self) -> Result<Deployment, ClusterError> {
        self.deployment()
            .await?
            .ok_or_else(|| ClusterError::NotFound {
                kind: "Deployment",
                name: self.names.deployment.clone(),
                namespace: self.namespace.clone(),
            })
    }

    pub async fn service(&self) -> Result<Option<Service>, ClusterError> {
        let name = &self.names.service;
        let access = self.access("get", "services", Some(name));
        self.call(access, "Service", self.api::<Service>().get_opt(name))
            .await
    }

    pub async fn hpa(&self) -> Result<Option<HorizontalPodAutoscaler>, ClusterError> {
        let name = &self.names.hpa;
        let access = self.access("get", "horizontalpodautoscalers.autoscaling", Some(name));
        let api = self.api::<HorizontalPodAutoscaler>();
        self.call(access, "HorizontalPodAutoscaler", api.get_opt(name))
            .await
    }

    /// The pods of the app's label selector, sorted by name.
    pub async fn pods(&self) -> Result<Vec<Pod>, ClusterError> {
        let lp = ListParams::default().labels(&self.names.selector);
        let access = self.access("list", "pods", None);
        let mut pods = self
            .call(access, "Pod", self.api::<Pod>().list(&lp))
            .await?
            .items;
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(pods)
    }

    /// The settings of a simulated cluster (`iris-lab sim`), from its Deployment; `None` on a
    /// real cluster or when the Deployment cannot be read.
    pub async fn simulated(&self) -> Option<Vec<iris_record::cluster::SimulatedSetting>> {
        let d = self.deployment().await.ok()??;
        checks::simulated_settings(&d)
    }

    /// The Deployment's replicas as its scale subresource reports them.
    pub async fn scale_replicas(&self) -> Result<i32, ClusterError> {
        let name = &self.names.deployment;
        let access = self.access("get", "deployments.apps/scale", Some(name));
        let api = self.api::<Deployment>();
        let scale = self.call(access, "Deployment", api.get_scale(name)).await?;
        Ok(scale.spec.and_then(|s| s.replicas).unwrap_or(0))
    }

    /// Sets the Deployment's replicas through its scale subresource (a merge patch).
    pub async fn set_scale_replicas(&self, replicas: i32) -> Result<(), ClusterError> {
        let name = &self.names.deployment;
        let patch = serde_json::json!({ "spec": { "replicas": replicas } });
        let access = self.access("patch", "deployments.apps/scale", Some(name));
        let api = self.api::<Deployment>();
        let params = PatchParams::default();
        self.call(
            access,
            "Deployment",
            api.patch_scale(name, &params, &Patch::Merge(&patch)),
        )
        .await?;
        Ok(())
    }
}

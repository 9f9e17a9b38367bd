//! One-shot reads `doctor` and `load` need beyond verify's: the Service's EndpointSlices and
//! Events, metrics-server's Deployment and APIService, nodes, and bounded reads of pods' logs
//! (`tailLines`/`limitBytes`, `previous`, `sinceTime`). Each names its access for errors, so a
//! 403 carries its `kubectl auth can-i` line.

use futures::{AsyncBufReadExt, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, ListParams, LogParams};

use super::{Access, Cluster, ClusterError};

/// The namespace metrics-server runs in (GKE, kind, minikube and its manifests alike).
pub const METRICS_NAMESPACE: &str = "kube-system";
/// The label its Deployment carries (upstream manifests and GKE's add-on).
pub const METRICS_SELECTOR: &str = "k8s-app=metrics-server";
/// The APIService the HPA reads resource metrics through.
pub const METRICS_API_SERVICE: &str = "v1beta1.metrics.k8s.io";

/// How much of a pod's log one read may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    /// Lines from the end (`tailLines`).
    pub tail_lines: Option<i64>,
    /// Bytes at most (`limitBytes`): the API server stops sending there.
    pub limit_bytes: i64,
    /// Only lines logged at or after this time (`sinceTime`).
    pub since: Option<Timestamp>,
}

/// Log lines as read, and whether the read stopped at its byte bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogText {
    pub lines: Vec<String>,
    pub truncated: bool,
}

impl Cluster {
    fn cluster_access(&self, verb: &'static str, resource: &str, ns: &str) -> Access {
        Access {
            verb,
            resource: resource.into(),
            name: None,
            namespace: ns.into(),
        }
    }

    /// The EndpointSlices of the app's Service (label `kubernetes.io/service-name`).
    pub async fn endpoint_slices(&self) -> Result<Vec<EndpointSlice>, ClusterError> {
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &self.namespace);
        let lp = ListParams::default().labels(&format!(
            "kubernetes.io/service-name={}",
            self.names.service
        ));
        let access = self.access("list", "endpointslices.discovery.k8s.io", None);
        Ok(self
            .call(access, "EndpointSlice", api.list(&lp))
            .await?
            .items)
    }

    /// The Events about one object (`involvedObject` kind and name), oldest first.
    pub async fn events_about(&self, kind: &str, name: &str) -> Result<Vec<Event>, ClusterError> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let lp = ListParams::default().fields(&format!(
            "involvedObject.kind={kind},involvedObject.name={name}"
        ));
        let access = self.access("list", "events", None);
        let mut events = self.call(access, "Event", api.list(&lp)).await?.items;
        events.sort_by_key(|e| {
            e.last_timestamp
                .as_ref()
                .or(e.first_timestamp.as_ref())
                .map(|t| t.0)
        });
        Ok(events)
    }

    /// metrics-server's Deployments in kube-system (by its label).
    pub async fn metrics_server(&self) -> Result<Vec<Deployment>, ClusterError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), METRICS_NAMESPACE);
        let lp = ListParams::default().labels(METRICS_SELECTOR);
        let access = self.cluster_access("list", "deployments.apps", METRICS_NAMESPACE);
        Ok(self.call(access, "Deployment", api.list(&lp)).await?.items)
    }

    /// The `v1beta1.metrics.k8s.io` APIService, or `None` when it is not registered.
    pub async fn metrics_api_service(&self) -> Result<Option<APIService>, ClusterError> {
        let api: Api<APIService> = Api::all(self.client.clone());
        let mut access = self.cluster_access("get", "apiservices.apiregistration.k8s.io", "");
        access.name = Some(METRICS_API_SERVICE.into());
        self.call(access, "APIService", api.get_opt(METRICS_API_SERVICE))
            .await
    }

    /// The named nodes (those the app's pods run on); a node gone meanwhile is left out.
    pub async fn nodes(&self, names: &[String]) -> Result<Vec<Node>, ClusterError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let mut nodes = Vec::new();
        for name in names {
            let mut access = self.cluster_access("get", "nodes", "");
            access.name = Some(name.clone());
            if let Some(node) = self.call(access, "Node", api.get_opt(name)).await? {
                nodes.push(node);
            }
        }
        Ok(nodes)
    }

    /// Part of one container's log, bounded by `bounds`, streamed line by line (the read stops
    /// at the byte bound even when the server would send more). `previous` reads the last
    /// terminated instance, as `kubectl logs --previous`.
    pub async fn log_lines(
        &self,
        pod: &Pod,
        container: &str,
        previous: bool,
        bounds: LogBounds,
    ) -> Result<LogText, ClusterError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let params = LogParams {
            container: Some(container.to_string()),
            previous,
            tail_lines: bounds.tail_lines,
            limit_bytes: Some(bounds.limit_bytes),
            since_time: bounds.since,
            timestamps: bounds.since.is_some(),
            ..Default::default()
        };
        let mut access = self.access("get", "pods/log", Some(&name));
        access.name = Some(name.clone());
        let reader = self
            .call(access, "Pod", api.log_stream(&name, &params))
            .await?;
        let limit = usize::try_from(bounds.limit_bytes).unwrap_or(usize::MAX);
        let mut lines = reader.lines();
        let mut text = LogText::default();
        let mut taken = 0usize;
        let read = async {
            while let Some(Ok(line)) = lines.next().await {
                taken += line.len() + 1;
                if taken > limit {
                    text.truncated = true;
                    break;
                }
                text.lines.push(line);
            }
        };
        // A log that keeps streaming past the request's time limit is cut there, not waited on.
        let _ = tokio::time::timeout(self.request_timeout, read).await;
        if taken >= limit {
            text.truncated = true;
        }
        Ok(text)
    }
}

impl Cluster {
    /// Waits up to `limit` for the app's Service to get an external address, as
    /// `kubectl get svc -w` shows it: `seen` hears each change of the Service. Returns the
    /// Service as last seen (`None` when it does not exist).
    pub async fn wait_for_address(
        &self,
        limit: std::time::Duration,
        seen: &(dyn Fn(&k8s_openapi::api::core::v1::Service) + Sync),
    ) -> Result<Option<k8s_openapi::api::core::v1::Service>, ClusterError> {
        use k8s_openapi::api::core::v1::Service;
        use kube::runtime::{WatchStreamExt, watcher};
        let api: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        let config =
            watcher::Config::default().fields(&format!("metadata.name={}", self.names.service));
        let mut last = self.service().await?;
        if last
            .as_ref()
            .is_some_and(|s| super::checks::external_address(s).is_some())
        {
            return Ok(last);
        }
        let stream = watcher(api, config).default_backoff().applied_objects();
        let mut stream = std::pin::pin!(stream);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            let Ok(Some(item)) = next else {
                return Ok(last);
            };
            let Ok(svc) = item else { continue };
            seen(&svc);
            let done = super::checks::external_address(&svc).is_some();
            last = Some(svc);
            if done {
                return Ok(last);
            }
        }
    }
}

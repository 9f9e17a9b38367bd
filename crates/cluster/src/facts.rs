//! What a pod declares and runs, for comparing runs: its node, its containers' requests and
//! limits, the images and digests the kubelet reported ([`pod_facts`]); and the nodes' instance
//! types ([`instance_type`], [`Cluster::node_instance_types`]).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod, ResourceRequirements};
use kube::api::Api;
use serde::{Deserialize, Serialize};

use super::checks::{cpu_millis, memory_bytes};
use super::{Cluster, ClusterError};
use iris_record::cluster::{
    ClusterRecord, ContainerResources, ImageRecord, Missed, NodeRecord, PodResources,
};

/// The well-known label of a node's machine type, and its deprecated predecessor.
pub const INSTANCE_TYPE_LABELS: [&str; 2] = [
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
];

/// One container's image as the pod ran it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContainerImage {
    pub container: String,
    pub image: String,
    /// `imageID` from the container status; `None` until the kubelet reports it.
    pub image_id: Option<String>,
}

/// A pod's node, requests and limits, and images.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodFacts {
    pub node: Option<String>,
    pub resources: PodResources,
    pub images: Vec<ContainerImage>,
}

fn quantities(
    r: Option<&ResourceRequirements>,
    pick: impl Fn(
        &ResourceRequirements,
    )
        -> Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> (Option<f64>, Option<f64>) {
    let map = r.and_then(pick);
    let get = |name: &str| map.and_then(|m| m.get(name)).map(|q| q.0.as_str());
    (
        get("cpu").and_then(cpu_millis),
        get("memory").and_then(memory_bytes),
    )
}

/// The pod's facts from its spec and status.
pub fn pod_facts(pod: &Pod) -> PodFacts {
    let spec = pod.spec.as_ref();
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let resources = PodResources {
        containers: containers
            .iter()
            .map(|c| {
                let r = c.resources.as_ref();
                let (cpu_request_millis, memory_request_bytes) =
                    quantities(r, |r| r.requests.as_ref());
                let (cpu_limit_millis, memory_limit_bytes) = quantities(r, |r| r.limits.as_ref());
                ContainerResources {
                    container: c.name.clone(),
                    cpu_request_millis,
                    cpu_limit_millis,
                    memory_request_bytes,
                    memory_limit_bytes,
                }
            })
            .collect(),
    };
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let images = containers
        .iter()
        .map(|c| {
            let status = statuses.iter().find(|s| s.name == c.name);
            ContainerImage {
                container: c.name.clone(),
                image: status
                    .map(|s| s.image.clone())
                    .filter(|i| !i.is_empty())
                    .or_else(|| c.image.clone())
                    .unwrap_or_default(),
                image_id: status.map(|s| s.image_id.clone()).filter(|i| !i.is_empty()),
            }
        })
        .collect();
    PodFacts {
        node: spec.and_then(|s| s.node_name.clone()),
        resources,
        images,
    }
}

/// The node's instance type from its labels.
pub fn instance_type(node: &Node) -> Option<String> {
    let labels = node.metadata.labels.as_ref()?;
    INSTANCE_TYPE_LABELS
        .iter()
        .find_map(|l| labels.get(*l).cloned())
}

impl Cluster {
    /// Each named node's instance type (`None` for a node without the label or gone).
    /// Nodes are cluster-scoped: a namespaced role usually cannot read them (an error).
    pub async fn node_instance_types(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, ClusterError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let mut out = BTreeMap::new();
        for name in names {
            let access = self.access("get", "nodes", Some(name));
            let node = self.call(access, "Node", api.get_opt(name)).await?;
            out.insert(name.clone(), node.as_ref().and_then(instance_type));
        }
        Ok(out)
    }
}

/// The resources most pods declared (the Deployment's template, unless a rollout changed it
/// during the run).
pub fn most_common_resources(facts: &[&PodFacts]) -> Option<PodResources> {
    let mut counts: Vec<(&PodResources, usize)> = Vec::new();
    for f in facts {
        match counts.iter_mut().find(|(r, _)| **r == f.resources) {
            Some((_, n)) => *n += 1,
            None => counts.push((&f.resources, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(r, _)| r.clone())
}

/// Each distinct (container, image, digest) and how many pods ran it; a digest-less entry is
/// dropped when the same image also has a digest (the pod had not reported it yet).
pub fn image_records(facts: &[&PodFacts]) -> Vec<ImageRecord> {
    let mut counts: BTreeMap<(String, String, Option<String>), u32> = BTreeMap::new();
    for f in facts {
        for i in &f.images {
            *counts
                .entry((i.container.clone(), i.image.clone(), i.image_id.clone()))
                .or_default() += 1;
        }
    }
    let digested: BTreeSet<(String, String)> = counts
        .keys()
        .filter(|(_, _, id)| id.is_some())
        .map(|(c, i, _)| (c.clone(), i.clone()))
        .collect();
    counts
        .into_iter()
        .filter(|((c, i, id), _)| id.is_some() || !digested.contains(&(c.clone(), i.clone())))
        .map(|((container, image, image_id), pods)| ImageRecord {
            container,
            image,
            image_id,
            pods,
        })
        .collect()
}

pub fn node_records(facts: &[&PodFacts]) -> Vec<NodeRecord> {
    let mut counts: BTreeMap<&String, u32> = BTreeMap::new();
    for node in facts.iter().filter_map(|f| f.node.as_ref()) {
        *counts.entry(node).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(name, pods)| NodeRecord {
            name: name.clone(),
            instance_type: None,
            pods,
        })
        .collect()
}

/// Puts the nodes' instance types into the record, or says why they are missing.
pub fn set_instance_types(
    record: &mut ClusterRecord,
    types: Result<BTreeMap<String, Option<String>>, String>,
) {
    match types {
        Ok(types) => {
            for node in &mut record.nodes {
                node.instance_type = types.get(&node.name).cloned().flatten();
            }
        }
        Err(reason) => record.missed.push(Missed::NodeTypes { reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_a_running_pod() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"nodeName": "gke-node-a", "containers": [{"name": "app", "image": "iris:2",
                "resources": {"requests": {"cpu": "200m", "memory": "128Mi"},
                              "limits": {"cpu": "1", "memory": "512Mi"}}}]},
            "status": {"containerStatuses": [{"name": "app", "image": "docker.io/library/iris:2",
                "imageID": "docker.io/library/iris@sha256:abc", "ready": true, "restartCount": 0}]}
        }))
        .unwrap();
        let f = pod_facts(&pod);
        assert_eq!(f.node.as_deref(), Some("gke-node-a"));
        assert_eq!(f.resources.cpu_request_millis(), Some(200.0));
        assert_eq!(f.resources.cpu_limit_millis(), Some(1000.0));
        assert_eq!(f.resources.memory_limit_bytes(), Some(512.0 * 1048576.0));
        assert_eq!(
            f.images,
            [ContainerImage {
                container: "app".into(),
                image: "docker.io/library/iris:2".into(),
                image_id: Some("docker.io/library/iris@sha256:abc".into()),
            }]
        );
        // Before the kubelet reports: the spec's image, no digest.
        let pending: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "iris:2"}]}}))
        .unwrap();
        let f = pod_facts(&pending);
        assert_eq!(
            (f.images[0].image.as_str(), &f.images[0].image_id),
            ("iris:2", &None)
        );
        assert_eq!(f.resources.cpu_request_millis(), None);
        let node: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n",
            "labels": {"node.kubernetes.io/instance-type": "e2-standard-4"}}}))
        .unwrap();
        assert_eq!(instance_type(&node).as_deref(), Some("e2-standard-4"));
    }

    fn facts(node: &str, cpu: f64, image_id: Option<&str>) -> PodFacts {
        PodFacts {
            node: Some(node.into()),
            resources: PodResources {
                containers: vec![ContainerResources {
                    container: "app".into(),
                    cpu_request_millis: Some(cpu),
                    ..ContainerResources::default()
                }],
            },
            images: vec![ContainerImage {
                container: "app".into(),
                image: "iris:2".into(),
                image_id: image_id.map(str::to_string),
            }],
        }
    }

    #[test]
    fn the_runs_pods_summarised() {
        let a = facts("n1", 200.0, Some("iris@sha256:1"));
        let b = facts("n1", 200.0, Some("iris@sha256:1"));
        // Not started yet: no digest, which the digested entry of the same image covers.
        let c = facts("n2", 200.0, None);
        // A rollout to a new digest and bigger requests, on one pod.
        let d = facts("n2", 500.0, Some("iris@sha256:2"));
        let all = [&a, &b, &c, &d];
        let r = most_common_resources(&all).unwrap();
        assert_eq!(r.cpu_request_millis(), Some(200.0));
        let images = image_records(&all);
        let ids: Vec<_> = images
            .iter()
            .map(|i| (i.image_id.as_deref(), i.pods))
            .collect();
        assert_eq!(
            ids,
            [(Some("iris@sha256:1"), 2), (Some("iris@sha256:2"), 1)]
        );
        let nodes = node_records(&all);
        assert_eq!(
            nodes
                .iter()
                .map(|n| (n.name.as_str(), n.pods))
                .collect::<Vec<_>>(),
            [("n1", 2), ("n2", 2)]
        );
        let mut record = ClusterRecord {
            nodes,
            ..ClusterRecord::default()
        };
        let types = BTreeMap::from([("n1".to_string(), Some("e2-standard-4".to_string()))]);
        set_instance_types(&mut record, Ok(types));
        assert_eq!(
            record.nodes[0].instance_type.as_deref(),
            Some("e2-standard-4")
        );
        assert_eq!(record.nodes[1].instance_type, None);
        set_instance_types(&mut record, Err("nodes is forbidden".into()));
        assert_eq!(
            record.missed,
            [Missed::NodeTypes {
                reason: "nodes is forbidden".into()
            }]
        );
    }
}

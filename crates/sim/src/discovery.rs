//! What the simulated API serves, as discovery documents (the legacy, unaggregated form that
//! kubectl and kube-rs fall back to): `/version`, `/api`, `/apis`, and each group version's
//! resource list.

use serde_json::{Value, json};

/// One served resource: key, kind, short names, namespaced, verbs, singular.
struct Resource {
    key: &'static str,
    kind: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    verbs: &'static [&'static str],
}

const READ: &[&str] = &["get", "list", "watch"];

const RESOURCES: &[Resource] = &[
    Resource {
        key: "pods",
        kind: "Pod",
        short: &["po"],
        namespaced: true,
        verbs: &["delete", "get", "list", "watch"],
    },
    Resource {
        key: "services",
        kind: "Service",
        short: &["svc"],
        namespaced: true,
        verbs: READ,
    },
    Resource {
        key: "events",
        kind: "Event",
        short: &["ev"],
        namespaced: true,
        verbs: READ,
    },
    Resource {
        key: "namespaces",
        kind: "Namespace",
        short: &["ns"],
        namespaced: false,
        verbs: READ,
    },
    Resource {
        key: "nodes",
        kind: "Node",
        short: &["no"],
        namespaced: false,
        verbs: READ,
    },
    Resource {
        key: "apps/deployments",
        kind: "Deployment",
        short: &["deploy"],
        namespaced: true,
        verbs: READ,
    },
    Resource {
        key: "apps/replicasets",
        kind: "ReplicaSet",
        short: &["rs"],
        namespaced: true,
        verbs: READ,
    },
    Resource {
        key: "autoscaling/horizontalpodautoscalers",
        kind: "HorizontalPodAutoscaler",
        short: &["hpa"],
        namespaced: true,
        verbs: READ,
    },
    Resource {
        key: "metrics.k8s.io/pods",
        kind: "PodMetrics",
        short: &[],
        namespaced: true,
        verbs: &["get", "list"],
    },
];

/// (group, version) served, with the keys' group.
const GROUPS: &[(&str, &str)] = &[
    ("apps", "v1"),
    ("autoscaling", "v2"),
    ("metrics.k8s.io", "v1beta1"),
];

fn find(key: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.key == key)
}

/// Whether the API serves this resource key.
pub fn serves(key: &str) -> bool {
    find(key).is_some()
}

pub fn namespaced(key: &str) -> bool {
    find(key).is_none_or(|r| r.namespaced)
}

pub fn kind_of(key: &str) -> Option<&'static str> {
    find(key).map(|r| r.kind)
}

fn group_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(g, _)| g)
}

fn plural(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

fn resource_list(group_version: &str, group: &str) -> Value {
    let mut resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| group_of(r.key) == group)
        .map(|r| {
            json!({
                "name": plural(r.key), "singularName": r.kind.to_ascii_lowercase(),
                "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs, "shortNames": r.short
            })
        })
        .collect();
    if group == "apps" {
        resources.push(json!({"name": "deployments/scale", "singularName": "", "namespaced": true,
            "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
    }
    if group.is_empty() {
        resources.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// The discovery document at `path`, if it is one.
pub fn document(path: &str) -> Option<Value> {
    let path = path.trim_end_matches('/');
    match path {
        "/version" => Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-iris-lab-sim",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
            "platform": "linux/amd64"
        })),
        "/api" => Some(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]
        })),
        "/apis" => {
            let groups: Vec<Value> = GROUPS
                .iter()
                .map(|(g, v)| {
                    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                    json!({"name": g, "versions": [gv], "preferredVersion": gv})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        "/api/v1" => Some(resource_list("v1", "")),
        other => {
            let rest = other.strip_prefix("/apis/")?;
            let (group, version) = rest.split_once('/')?;
            GROUPS
                .iter()
                .find(|(g, v)| *g == group && *v == version)
                .map(|_| resource_list(rest, group))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_lists_what_is_served() {
        let apps = document("/apis/apps/v1").unwrap();
        let names: Vec<&str> = apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(names, ["deployments", "replicasets", "deployments/scale"]);
        assert!(document("/apis/batch/v1").is_none());
        assert!(document("/pods").is_none());
        let groups = document("/apis").unwrap();
        assert_eq!(groups["groups"].as_array().unwrap().len(), 3);
        assert!(serves("autoscaling/horizontalpodautoscalers"));
        assert!(!namespaced("nodes"));
    }
}

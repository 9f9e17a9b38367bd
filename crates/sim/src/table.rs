//! kubectl's server-side printing: a list (or a watch event's object) as a `meta.k8s.io/v1`
//! Table with the columns `kubectl get` shows for pods, Deployments, ReplicaSets, Services,
//! HPAs, Events, nodes and namespaces. The cells come from the cluster room's pure functions,
//! so they read as iris-lab's own `verify` and `watch` do.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Pod, Service};
use serde_json::{Value, json};

use iris_cluster::checks;

fn age(object: &Value, now: Timestamp) -> String {
    object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map_or_else(
            || "<unknown>".into(),
            |t| checks::human_age(now.duration_since(t)),
        )
}

fn typed<T: serde::de::DeserializeOwned + Default>(object: &Value) -> T {
    serde_json::from_value(object.clone()).unwrap_or_default()
}

/// The columns of a resource key and one row's cells.
fn columns(key: &str) -> &'static [&'static str] {
    match key {
        "pods" => &["Name", "Ready", "Status", "Restarts", "Age"],
        "apps/deployments" => &["Name", "Ready", "Up-to-date", "Available", "Age"],
        "apps/replicasets" => &["Name", "Desired", "Current", "Ready", "Age"],
        "services" => &[
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
        ],
        "autoscaling/horizontalpodautoscalers" => &[
            "Name",
            "Reference",
            "Targets",
            "MinPods",
            "MaxPods",
            "Replicas",
            "Age",
        ],
        "events" => &["Last Seen", "Type", "Reason", "Object", "Message"],
        "nodes" => &["Name", "Status", "Roles", "Age", "Version"],
        _ => &["Name", "Age"],
    }
}

fn cells(key: &str, o: &Value, now: Timestamp) -> Vec<Value> {
    let name = json!(o["metadata"]["name"]);
    let age = json!(age(o, now));
    match key {
        "pods" => {
            let row = checks::pod_row(&typed::<Pod>(o), now);
            vec![
                name,
                json!(row.ready),
                json!(row.status),
                json!(row.restarts),
                age,
            ]
        }
        "apps/deployments" => {
            let c = checks::deployment_replicas(&typed::<Deployment>(o));
            vec![
                name,
                json!(format!("{}/{}", c.ready, c.desired)),
                json!(c.updated),
                json!(c.available),
                age,
            ]
        }
        "apps/replicasets" => {
            let rs = typed::<ReplicaSet>(o);
            let status = rs.status.unwrap_or_default();
            let desired = rs.spec.and_then(|s| s.replicas).unwrap_or(0);
            vec![
                name,
                json!(desired),
                json!(status.replicas),
                json!(status.ready_replicas.unwrap_or(0)),
                age,
            ]
        }
        "services" => {
            let svc = typed::<Service>(o);
            let spec = svc.spec.clone().unwrap_or_default();
            let external = checks::external_address(&svc).unwrap_or_else(|| "<pending>".into());
            vec![
                name,
                json!(spec.type_.unwrap_or_default()),
                json!(spec.cluster_ip.unwrap_or_default()),
                json!(external),
                json!(checks::service_ports(&svc)),
                age,
            ]
        }
        "autoscaling/horizontalpodautoscalers" => {
            let hpa = typed::<HorizontalPodAutoscaler>(o);
            let (min, max, current, _) = checks::hpa_replicas(&hpa);
            let target = hpa.spec.as_ref().map(|s| &s.scale_target_ref);
            let reference = target.map_or(String::new(), |t| format!("{}/{}", t.kind, t.name));
            let targets = checks::hpa_targets(&hpa).to_string();
            vec![
                name,
                json!(reference),
                json!(targets),
                json!(min),
                json!(max),
                json!(current),
                age,
            ]
        }
        "events" => {
            let last = o["lastTimestamp"]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map_or_else(
                    || "<unknown>".into(),
                    |t| checks::human_age(now.duration_since(t)),
                );
            let involved = &o["involvedObject"];
            let object = format!(
                "{}/{}",
                involved["kind"].as_str().unwrap_or("").to_ascii_lowercase(),
                involved["name"].as_str().unwrap_or("")
            );
            vec![
                json!(last),
                o["type"].clone(),
                o["reason"].clone(),
                json!(object),
                o["message"].clone(),
            ]
        }
        "nodes" => vec![
            name,
            json!("Ready"),
            json!("<none>"),
            age,
            json!("v1.33.0-iris-lab-sim"),
        ],
        _ => vec![name, age],
    }
}

/// The objects as a Table (`rv` for a list's resourceVersion).
pub fn table(key: &str, objects: &[Value], rv: Option<u64>) -> Value {
    let now = Timestamp::now();
    let definitions: Vec<Value> = columns(key)
        .iter()
        .map(|c| {
            let format = if *c == "Name" { "name" } else { "" };
            json!({"name": c, "type": "string", "format": format, "description": "", "priority": 0})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": cells(key, o, now),
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
            })
        })
        .collect();
    let metadata = rv.map_or_else(
        || json!({}),
        |rv| json!({"resourceVersion": rv.to_string()}),
    );
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
           "columnDefinitions": definitions, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects;
    use crate::settings::SimSettings;
    use iris_cluster::TargetNames;

    #[test]
    fn rows_read_as_kubectl_get() {
        let names = TargetNames::for_app("iris-prediction-api");
        let s = SimSettings::default();
        let hpa = objects::hpa(&names, &s);
        let t = table("autoscaling/horizontalpodautoscalers", &[hpa], Some(7));
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "Deployment/iris-prediction-api");
        assert_eq!(cells[2], "cpu: <unknown>/60%");
        assert_eq!((cells[3].clone(), cells[4].clone()), (json!(2), json!(15)));
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        let svc = objects::service(&names, 4321, None);
        let t = table("services", &[svc], None);
        assert_eq!(t["rows"][0]["cells"][3], "<pending>");
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 6);
    }
}

//! The Dockerfile and the `deploy/` manifests: the manifests validate against the Kubernetes
//! schemas (each document decodes into its k8s-openapi type and encodes back to exactly the
//! same JSON: a misspelt or misplaced field, or a value of the wrong type, fails), and say what
//! the contract says; the Dockerfile builds the binary this crate makes and runs it non-root.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    iris_lab::yaml::parse_yaml_documents(path, &text).unwrap()
}

/// Decodes `doc` as `T` and checks nothing was lost or changed on the way back.
fn strictly<T: DeserializeOwned + Serialize>(doc: &Value) -> T {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not a valid object: {e}\n{doc:#}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, doc, "fields the schema does not know were dropped");
    typed
}

/// Validates every manifest in `deploy/`, by kind.
pub fn validate(doc: &Value) -> &'static str {
    match (doc["apiVersion"].as_str(), doc["kind"].as_str()) {
        (Some("apps/v1"), Some("Deployment")) => {
            strictly::<Deployment>(doc);
            "Deployment"
        }
        (Some("v1"), Some("Service")) => {
            strictly::<Service>(doc);
            "Service"
        }
        (Some("autoscaling/v2"), Some("HorizontalPodAutoscaler")) => {
            strictly::<HorizontalPodAutoscaler>(doc);
            "HorizontalPodAutoscaler"
        }
        (Some("batch/v1"), Some("Job")) => {
            strictly::<k8s_openapi::api::batch::v1::Job>(doc);
            "Job"
        }
        (Some("rbac.authorization.k8s.io/v1"), Some("Role")) => {
            strictly::<k8s_openapi::api::rbac::v1::Role>(doc);
            "Role"
        }
        other => panic!("no schema for {other:?}"),
    }
}

#[test]
fn the_manifests_validate_and_match_the_contract() {
    let mut kinds = Vec::new();
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(root().join("deploy")).unwrap() {
        let path = entry.unwrap().path();
        // The manifests; deploy/grafana/ holds a dashboard, not Kubernetes objects.
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for doc in documents(&path) {
            kinds.push(validate(&doc));
            docs.push(doc);
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["Deployment", "HorizontalPodAutoscaler", "Service"]);
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap().clone();
    let d: Deployment = strictly(&find("Deployment"));
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let c = &spec.template.spec.unwrap().containers[0];
    assert_eq!(c.name, "iris-api-container");
    let res = c.resources.clone().unwrap();
    let q = |m: Option<
        std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
             k: &str| m.unwrap()[k].0.clone();
    assert_eq!(q(res.requests.clone(), "cpu"), "200m");
    assert_eq!(q(res.requests, "memory"), "128Mi");
    assert_eq!(q(res.limits.clone(), "cpu"), "1000m");
    assert_eq!(q(res.limits, "memory"), "512Mi");
    assert!(c.readiness_probe.is_some() && c.liveness_probe.is_some());
    assert_eq!(c.args.as_ref().unwrap()[0], "serve");
    let s: Service = strictly(&find("Service"));
    let s = s.spec.unwrap();
    assert_eq!(s.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(s.ports.unwrap()[0].port, 80);
    let h: HorizontalPodAutoscaler = strictly(&find("HorizontalPodAutoscaler"));
    let h = h.spec.unwrap();
    assert_eq!((h.min_replicas, h.max_replicas), (Some(2), 15));
    let target = &h.metrics.unwrap()[0].resource.clone().unwrap().target;
    assert_eq!(target.average_utilization, Some(60));
}

#[test]
fn a_misspelt_field_fails_validation() {
    let mut doc = documents(&root().join("deploy/service.yaml")).remove(0);
    doc["spec"]["prots"] = doc["spec"]["ports"].take();
    let result = std::panic::catch_unwind(|| validate(&doc));
    assert!(result.is_err(), "an unknown field must not validate");
}

#[test]
fn the_dockerfile_builds_this_binary_and_runs_it_as_a_non_root_user() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    let runtime = froms[1];
    assert!(
        runtime.contains("distroless") && runtime.contains("nonroot"),
        "{runtime}"
    );
    let bin = env!("CARGO_PKG_NAME");
    assert!(
        text.contains(&format!("--bin {bin}")),
        "builds the {bin} binary"
    );
    assert!(text.contains(&format!("target/release/{bin}")));
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    let uid = user[5..].split(':').next().unwrap().trim();
    assert_ne!(uid, "0");
    assert_ne!(uid, "root");
    // The entrypoint is the binary and its default command is one it accepts.
    assert!(text.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{bin}\"]")));
    let cmd = text.lines().find(|l| l.starts_with("CMD ")).unwrap();
    let args: Vec<String> = serde_json::from_str(&cmd[4..]).unwrap();
    crate::support::command()
        .args(&args)
        .arg("--help")
        .assert()
        .success();
    // The Deployment runs the image's user too.
    let d = documents(&root().join("deploy/deployment.yaml")).remove(0);
    assert_eq!(
        d["spec"]["template"]["spec"]["securityContext"]["runAsUser"].to_string(),
        uid
    );
}

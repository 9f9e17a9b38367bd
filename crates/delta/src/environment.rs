//! What differed between the two sides' environments, from their records: the target, the
//! tool, the load's parameters, the cluster. A difference in how the load was made (the tool,
//! wait times, timeouts...) makes the comparison unfair and is a warning; a difference in what
//! was tested (target, HPA, images...) is what the user changed, and is listed.

use std::collections::BTreeSet;

use serde::Serialize;

use iris_record::RunRecord;
use iris_record::cluster::{ImageRecord, NodeRecord, PodResources};

use super::profile::Profile;
use super::sides::Run;

/// One aspect of the environment on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvItem {
    pub what: &'static str,
    /// The distinct values of the side's runs ("not recorded" when a record lacks it).
    pub base: Vec<String>,
    pub new: Vec<String>,
    pub same: bool,
    /// Why a difference makes the comparison unfair (then a warning at the top).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfair: Option<&'static str>,
}

/// What a value missing from a record reads as.
pub const NOT_RECORDED: &str = "not recorded";

type Fact = (&'static str, Option<String>, Option<&'static str>);

const TOOL: &str = "the measuring tool changed: its own overhead may differ";
const LOAD: &str = "the load was made differently: the figures measure that too";

fn facts(r: &RunRecord) -> Vec<Fact> {
    let p = &r.params;
    let mut facts: Vec<Fact> = vec![
        ("target", Some(r.target.clone()), None),
        ("iris-lab version", Some(r.tool.clone()), Some(TOOL)),
        (
            "load profile",
            Some(Profile::of(r).to_string()),
            Some("different loads are not comparable (compared with --force)"),
        ),
        (
            "spawn rate",
            Some(format!("{}/s", p.spawn_rate)),
            Some(LOAD),
        ),
        (
            "wait time",
            Some(format!("{}..{} s", p.wait_min_s, p.wait_max_s)),
            Some(LOAD),
        ),
        (
            "request timeout",
            Some(format!("{} s", p.timeout_s)),
            Some(LOAD),
        ),
        (
            "connection reuse",
            Some(connection_reuse(
                p.connection_max_requests,
                p.connection_max_age_s,
            )),
            Some(LOAD),
        ),
        ("load processes", Some(processes(r)), Some(LOAD)),
        ("duration", Some(format!("{:.0} s", r.duration_s)), None),
    ];
    facts.extend(cluster_facts(r));
    facts
}

fn connection_reuse(requests: Option<u64>, age: Option<f64>) -> String {
    match (requests, age) {
        (None, None) => "keep-alive, no limit".into(),
        (r, a) => [
            r.map(|r| format!("at most {r} requests")),
            a.map(|a| format!("at most {a} s")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", "),
    }
}

fn processes(r: &RunRecord) -> String {
    match &r.distributed {
        Some(d) => format!("{} workers ({:?})", d.workers.len(), d.placement).to_lowercase(),
        None => "1".into(),
    }
}

fn cluster_facts(r: &RunRecord) -> Vec<Fact> {
    let Some(c) = &r.cluster else {
        let why = r.cluster_not_watched.as_ref().map_or_else(
            || "not watched".to_string(),
            |w| format!("not watched: {w}"),
        );
        return vec![("cluster", Some(why), None)];
    };
    let or_any = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    let hpa = match &c.hpa_spec {
        // Kubernetes' own JSON: a change anywhere (metrics, behavior) shows.
        Some(spec) => serde_json::to_string(spec).ok(),
        None => Some(format!(
            "{}-{} replicas at {}% CPU",
            or_any(c.min_replicas),
            or_any(c.max_replicas),
            or_any(c.cpu_target_pct)
        )),
    };
    vec![
        (
            "cluster",
            Some(format!("deployment {} in {}", c.deployment, c.namespace)),
            None,
        ),
        ("HPA", hpa, None),
        (
            "pods' requests and limits",
            c.pod_resources.as_ref().map(resources),
            None,
        ),
        (
            "images",
            (!c.images.is_empty()).then(|| images(&c.images)),
            None,
        ),
        (
            "node types",
            (!c.nodes.is_empty()).then(|| node_types(&c.nodes)),
            None,
        ),
    ]
}

fn resources(p: &PodResources) -> String {
    let cpu = |m: Option<f64>| m.map_or_else(|| "-".into(), |m| format!("{m:.0}m"));
    let mem = |b: Option<f64>| {
        b.map_or_else(|| "-".into(), |b| format!("{:.0}Mi", b / (1024.0 * 1024.0)))
    };
    p.containers
        .iter()
        .map(|c| {
            format!(
                "{}: requests cpu {} memory {}, limits cpu {} memory {}",
                c.container,
                cpu(c.cpu_request_millis),
                mem(c.memory_request_bytes),
                cpu(c.cpu_limit_millis),
                mem(c.memory_limit_bytes)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn images(images: &[ImageRecord]) -> String {
    let set: BTreeSet<String> = images
        .iter()
        .map(|i| {
            let digest = i.image_id.as_deref().unwrap_or("digest not reported");
            format!("{}: {} ({digest})", i.container, i.image)
        })
        .collect();
    set.into_iter().collect::<Vec<_>>().join("; ")
}

/// The distinct instance types (how many nodes ran the pods follows the scaling, not the
/// environment).
fn node_types(nodes: &[NodeRecord]) -> String {
    let set: BTreeSet<&str> = nodes
        .iter()
        .map(|n| n.instance_type.as_deref().unwrap_or("unknown"))
        .collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// Every aspect of both sides, in a fixed order.
pub fn compare(base: &[Run], new: &[Run]) -> Vec<EnvItem> {
    let base_facts: Vec<Vec<Fact>> = base.iter().map(|r| facts(&r.record)).collect();
    let new_facts: Vec<Vec<Fact>> = new.iter().map(|r| facts(&r.record)).collect();
    // Every aspect any record has, in the order the records give them.
    let mut names: Vec<(&'static str, Option<&'static str>)> = Vec::new();
    for (what, _, unfair) in base_facts.iter().chain(&new_facts).flatten() {
        if !names.iter().any(|(w, _)| w == what) {
            names.push((what, *unfair));
        }
    }
    names
        .into_iter()
        .map(|(what, unfair)| {
            let base = values(&base_facts, what);
            let new = values(&new_facts, what);
            let same = base == new;
            EnvItem {
                what,
                base,
                new,
                same,
                unfair: if same { None } else { unfair },
            }
        })
        .collect()
}

fn values(facts: &[Vec<Fact>], what: &str) -> Vec<String> {
    let set: BTreeSet<String> = facts
        .iter()
        .map(|f| {
            f.iter()
                .find(|(w, _, _)| *w == what)
                .and_then(|(_, v, _)| v.clone())
                .unwrap_or_else(|| NOT_RECORDED.to_string())
        })
        .collect();
    set.into_iter().collect()
}

//! The model's views of k8s-openapi objects: a `Pod` as the controller sees it.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::quantity::milli_value;
use super::replicas::{Phase, PodView, Readiness, Usage};

/// Seconds from `origin` to `t` (negative before it).
pub fn model_seconds(origin: Timestamp, t: Timestamp) -> f64 {
    t.duration_since(origin).as_secs_f64()
}

fn seconds(origin: Timestamp, t: Option<&Time>) -> Option<f64> {
    t.map(|t| model_seconds(origin, t.0))
}

/// The sum of the containers' requests of `resource` as a milli-value; `None` when a container
/// has none.
pub fn pod_request_milli(pod: &Pod, resource: &str) -> Option<i64> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .map(|c| {
            let q = c.resources.as_ref()?.requests.as_ref()?.get(resource)?;
            milli_value(&q.0)
        })
        .sum()
}

/// The pod as the HPA controller sees it, its times in seconds from `origin`, with its sample
/// from metrics.k8s.io if there is one.
pub fn pod_view(pod: &Pod, usage: Option<Usage>, origin: Timestamp) -> PodView {
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| Readiness {
            ready: c.status == "True",
            since_s: seconds(origin, c.last_transition_time.as_ref()).unwrap_or(f64::MIN),
        });
    PodView {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: Phase::from_k8s(status.and_then(|s| s.phase.as_deref())),
        deleting: pod.metadata.deletion_timestamp.is_some(),
        start_s: seconds(origin, status.and_then(|s| s.start_time.as_ref())),
        ready,
        cpu_request_milli: pod_request_milli(pod, "cpu"),
        memory_request_milli: pod_request_milli(pod, "memory"),
        usage,
    }
}

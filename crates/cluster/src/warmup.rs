//! Warming up is not failing: an HPA without CPU metrics a few seconds after its pods started
//! (or after it was created) is waiting for metrics-server's second scrape and its own next
//! sync, not broken. A pure judgement over the pods and the HPA, shared by `verify` and
//! `doctor`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

use super::checks;

/// metrics-server's default resolution: a pod has metrics from its second scrape on.
pub const METRICS_RESOLUTION: Duration = Duration::from_secs(15);
/// The HPA controller's default sync period.
pub const HPA_SYNC_PERIOD: Duration = Duration::from_secs(15);

/// Metrics still on their way, and by when they should be there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arriving {
    /// When the first ready pod started.
    pub since: Timestamp,
    /// Two scrapes after the first ready pod started, then one HPA sync (at the defaults).
    pub due: Timestamp,
}

impl Arriving {
    /// One sentence: what is happening and when it should be over.
    pub fn describe(&self, now: Timestamp) -> String {
        let ago = whole_seconds(now.duration_since(self.since));
        let left = whole_seconds(self.due.duration_since(now));
        format!(
            "metrics are still arriving (the first ready pod started {ago} s ago): metrics-server reports a pod from its second scrape ({} s apart) and the HPA reads them every {} s, so expect a value by {} UTC (in {left} s at most); run it again then",
            METRICS_RESOLUTION.as_secs(),
            HPA_SYNC_PERIOD.as_secs(),
            self.due.strftime("%H:%M:%S")
        )
    }
}

fn whole_seconds(d: SignedDuration) -> i64 {
    d.as_secs().max(0)
}

fn time(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0)
}

/// When a pod's container started (else the pod).
fn started(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    let container = status.container_statuses.as_ref().and_then(|cs| {
        cs.iter()
            .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
            .map(|t| t.0)
            .max()
    });
    container.or_else(|| time(&status.start_time))
}

/// `Some` while the HPA may simply not have had its first metrics yet: some pod is Ready and
/// `now` is before two metrics-server scrapes after the first of them started plus one HPA
/// sync (and one sync after the HPA was created). `None` once that time has passed (metrics
/// that are still missing then are a fault), or with no ready pod (a fault of its own).
pub fn metrics_arriving(
    pods: &[Pod],
    hpa: &HorizontalPodAutoscaler,
    now: Timestamp,
) -> Option<Arriving> {
    let first_ready = pods
        .iter()
        .filter(|p| checks::pod_is_ready(p) && p.metadata.deletion_timestamp.is_none())
        .filter_map(started)
        .min()?;
    let created = time(&hpa.metadata.creation_timestamp).unwrap_or(first_ready);
    let scrapes = SignedDuration::try_from(METRICS_RESOLUTION * 2).ok()?;
    let sync = SignedDuration::try_from(HPA_SYNC_PERIOD).ok()?;
    let metrics_at = first_ready.checked_add(scrapes).ok()?.max(created);
    let due = metrics_at.checked_add(sync).ok()?;
    (now < due).then_some(Arriving {
        since: first_ready,
        due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(started: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Running", "startTime": started,
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": ready,
                    "restartCount": 0, "state": {"running": {"startedAt": started}}}]}
        }))
        .unwrap()
    }

    fn hpa(created: &str) -> HorizontalPodAutoscaler {
        serde_json::from_value(json!({"metadata": {"name": "h", "creationTimestamp": created}}))
            .unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn young_pods_are_warming_up_until_two_scrapes_and_a_sync() {
        let pods = [pod("2026-12-08T10:00:00Z", true)];
        let h = hpa("2026-12-08T10:00:05Z");
        let a = metrics_arriving(&pods, &h, at("2026-12-08T10:00:10Z")).unwrap();
        assert_eq!(a.due, at("2026-12-08T10:00:45Z"));
        assert_eq!(a.since, at("2026-12-08T10:00:00Z"));
        let text = a.describe(at("2026-12-08T10:00:10Z"));
        assert!(
            text.contains("started 10 s ago") && text.contains("by 10:00:45 UTC (in 35 s at most)"),
            "{text}"
        );
        assert_eq!(
            metrics_arriving(&pods, &h, at("2026-12-08T10:00:45Z")),
            None
        );
    }

    #[test]
    fn a_late_hpa_gets_one_sync_and_no_ready_pod_is_no_warm_up() {
        let pods = [pod("2026-12-08T10:00:00Z", true)];
        let h = hpa("2026-12-08T11:00:00Z");
        let a = metrics_arriving(&pods, &h, at("2026-12-08T11:00:10Z")).unwrap();
        assert_eq!(a.due, at("2026-12-08T11:00:15Z"));
        let not_ready = [pod("2026-12-08T10:00:00Z", false)];
        assert_eq!(
            metrics_arriving(&not_ready, &h, at("2026-12-08T10:00:01Z")),
            None
        );
    }
}

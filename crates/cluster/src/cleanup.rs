//! Phase 7's engine: what scaling down would change (pure), and waiting for the pods to settle.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

use super::checks::{self, PodRow};
use super::{Cluster, ClusterError};

/// The guide's replicas when there is no HPA to take minReplicas from.
pub const DEFAULT_REPLICAS: i32 = 2;
const POLL: Duration = Duration::from_secs(1);

/// What cleanup is about to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupPlan {
    pub deployment: String,
    pub namespace: String,
    pub current: i32,
    pub target: i32,
    pub hpa_min_replicas: Option<i32>,
    /// Set when the target is below the HPA's minReplicas.
    pub warning: Option<String>,
}

impl CleanupPlan {
    pub fn changes_something(&self) -> bool {
        self.current != self.target
    }
}

/// The target and its warning, from the flag, the HPA and the default. Pure.
pub fn plan(
    deployment: &str,
    namespace: &str,
    current: i32,
    requested: Option<i32>,
    hpa: Option<(&str, i32)>,
) -> CleanupPlan {
    let hpa_min = hpa.map(|(_, min)| min);
    let target = requested.or(hpa_min).unwrap_or(DEFAULT_REPLICAS);
    let warning = hpa.filter(|(_, min)| target < *min).map(|(name, min)| {
        format!(
            "{target} is below the HPA {name}'s minReplicas {min}: the HPA will scale it back up to {min}"
        )
    });
    CleanupPlan {
        deployment: deployment.to_string(),
        namespace: namespace.to_string(),
        current,
        target,
        hpa_min_replicas: hpa_min,
        warning,
    }
}

/// What cleanup did.
#[derive(Debug, Clone, Serialize)]
pub struct CleanupReport {
    pub plan: CleanupPlan,
    pub dry_run: bool,
    /// The scale was patched (false on a dry run or when already at the target).
    pub changed: bool,
    /// The pods reached the target count, all Ready, none terminating.
    pub settled: bool,
    pub waited_s: f64,
    pub pods: Vec<PodRow>,
}

/// The pods have settled at `target`: that many, all Ready, none terminating. Pure.
pub fn settled(pods: &[Pod], target: i32) -> bool {
    let terminating = pods.iter().any(|p| p.metadata.deletion_timestamp.is_some());
    let ready = pods.iter().filter(|p| checks::pod_is_ready(p)).count();
    !terminating && pods.len() == usize::try_from(target).unwrap_or(0) && ready == pods.len()
}

/// Polls the pods until they settle at `target` or `wait` has passed.
pub async fn wait_to_settle(
    cluster: &Cluster,
    target: i32,
    wait: Duration,
) -> Result<(Vec<Pod>, Duration), ClusterError> {
    let start = tokio::time::Instant::now();
    loop {
        let pods = cluster.pods().await?;
        let elapsed = start.elapsed();
        if settled(&pods, target) || elapsed >= wait {
            return Ok((pods, elapsed));
        }
        tokio::time::sleep(POLL.min(wait - elapsed)).await;
    }
}

pub fn rows(pods: &[Pod]) -> Vec<PodRow> {
    let now = Timestamp::now();
    pods.iter().map(|p| checks::pod_row(p, now)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_the_flag_else_the_hpa_minimum_else_2() {
        assert_eq!(plan("d", "n", 5, Some(3), Some(("h", 2))).target, 3);
        assert_eq!(plan("d", "n", 5, None, Some(("h", 4))).target, 4);
        assert_eq!(plan("d", "n", 5, None, None).target, 2);
    }

    #[test]
    fn below_the_hpa_minimum_is_a_warning() {
        let p = plan("d", "n", 5, Some(1), Some(("iris-hpa", 2)));
        assert_eq!(
            p.warning.as_deref(),
            Some("1 is below the HPA iris-hpa's minReplicas 2: the HPA will scale it back up to 2")
        );
        assert!(plan("d", "n", 5, Some(2), Some(("h", 2))).warning.is_none());
        assert!(plan("d", "n", 5, Some(0), None).warning.is_none());
    }

    #[test]
    fn nothing_to_change_at_the_target() {
        assert!(!plan("d", "n", 2, None, Some(("h", 2))).changes_something());
        assert!(plan("d", "n", 3, None, Some(("h", 2))).changes_something());
    }

    fn pod(name: &str, ready: bool, terminating: bool) -> Pod {
        let mut v = serde_json::json!({
            "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        });
        if terminating {
            v["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z".into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn settled_means_the_count_all_ready_none_terminating() {
        assert!(settled(&[pod("a", true, false), pod("b", true, false)], 2));
        assert!(!settled(
            &[pod("a", true, false), pod("b", false, false)],
            2
        ));
        assert!(!settled(
            &[
                pod("a", true, false),
                pod("b", true, false),
                pod("c", true, true)
            ],
            2
        ));
        assert!(!settled(&[pod("a", true, false)], 2));
        assert!(settled(&[], 0));
    }
}

//! Phase 7 as the report reads it: what was scaled, from and to, when, and the pods that went
//! away (the demo's record of its scale-down, kept in the report's model).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One scale-down back to the HPA's minReplicas (or the guide's 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleDownRecord {
    pub namespace: String,
    pub deployment: String,
    /// The HPA whose minReplicas was the target, when there is one.
    pub hpa: Option<String>,
    pub from: i32,
    pub to: i32,
    /// When the scale was patched (UTC), and how long after the last run ended.
    pub at: Timestamp,
    pub after_runs_s: f64,
    /// The pods there before the scale-down that were gone when it settled, by name.
    pub pods_removed: Vec<String>,
    /// The pods left, all Ready and none terminating when `settled`.
    pub pods_left: Vec<String>,
    pub settled: bool,
    /// Seconds from the patch to the pods settling (or to giving up).
    pub settled_after_s: f64,
}

impl ScaleDownRecord {
    /// The pods of `before` not in `after`, sorted.
    pub fn removed(before: &[String], after: &[String]) -> Vec<String> {
        let mut gone: Vec<String> = before
            .iter()
            .filter(|p| !after.contains(p))
            .cloned()
            .collect();
        gone.sort();
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pods_removed_are_those_before_and_not_after() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(
            ScaleDownRecord::removed(&names(&["c", "a", "b", "d"]), &names(&["b", "d", "e"])),
            names(&["a", "c"])
        );
        assert!(ScaleDownRecord::removed(&names(&["a"]), &names(&["a"])).is_empty());
    }
}

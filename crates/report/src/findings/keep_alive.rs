//! Keep-alive imbalance: users keep their connections, so pods added during a run may get
//! little of the work. The even spread to compare with is that of each pod CPU sample (the
//! ready pods it lists), not the run's most pods: on a cluster that scales in waves, a pod
//! added late was never meant to carry its share of the whole run.

use std::collections::BTreeMap;

use super::{Finding, Verdict, moment};
use crate::view::RunView;
use iris_record::cluster::ClusterRecord;

/// (share of the pods' CPU the new pods did, the share an even spread would give them), both
/// over the samples after the first new pod was ready, each sample's spread over the pods it
/// lists that were serving (a new pod counts from when it was seen Ready).
fn shares(c: &ClusterRecord) -> Option<(f64, f64)> {
    let ready: BTreeMap<&str, Option<f64>> = c
        .pods_started
        .iter()
        .map(|p| (p.pod.as_str(), p.observed_ready_s))
        .collect();
    let first_ready = ready.values().flatten().copied().reduce(f64::min)?;
    // Per sample time: (new pods' CPU, all CPU, new pods, pods).
    let mut at: BTreeMap<u64, (f64, f64, u32, u32)> = BTreeMap::new();
    for s in c.samples.iter().filter(|s| s.t_s >= first_ready) {
        let new = match ready.get(s.pod.as_str()) {
            None => false,
            Some(Some(r)) if *r <= s.t_s => true,
            // Not serving yet: its start-up is not the load's work.
            Some(_) => continue,
        };
        let e = at.entry(s.t_s.to_bits()).or_default();
        e.1 += s.cpu_millis;
        e.3 += 1;
        if new {
            e.0 += s.cpu_millis;
            e.2 += 1;
        }
    }
    let all: f64 = at.values().map(|e| e.1).sum();
    (all > 0.0).then(|| {
        let new: f64 = at.values().map(|e| e.0).sum();
        let fair: f64 = at
            .values()
            .map(|e| e.1 * f64::from(e.2) / f64::from(e.3.max(1)))
            .sum();
        (new / all, fair / all)
    })
}

/// The finding, when the new pods did under half their even share.
pub fn keep_alive_imbalance(run: &RunView) -> Option<Finding> {
    let c = run.cluster.as_ref()?;
    let new = c.pods_started.len();
    if new == 0 {
        return None;
    }
    // Records without samples keep only the share; their spread is over the most pods.
    let (share, fair) = shares(c).or_else(|| {
        let fair = new as f64 / f64::from(c.max_pods.max(1));
        Some((c.new_pod_cpu_share?, fair))
    })?;
    (share < fair / 2.0).then(|| {
        Finding::new(
            "Load stayed on the original pods (keep-alive)",
            Verdict::Supported,
            format!(
                "{}, pods started during the run did {:.0}% of the pods' CPU work where an even spread over the pods serving at each sample would give them {:.0}%; use --connection-max-requests or --connection-max-age",
                moment::run(run),
                share * 100.0,
                fair * 100.0
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_record::cluster::{PodSampleRecord, PodStartRecord};

    fn started(pod: &str, ready: f64) -> PodStartRecord {
        PodStartRecord {
            pod: pod.into(),
            created_s: ready - 20.0,
            observed_ready_s: Some(ready),
            ..Default::default()
        }
    }

    /// Samples every 15 s to 240 s: pods a, b from the start; c, d ready at 45 s; e..i ready
    /// at 150 s (and sampled at 135 s while starting). `cpu(pod, t)` is each one's work.
    fn run(cpu: impl Fn(&str, f64) -> f64) -> RunView {
        let mut samples = Vec::new();
        for t in (1..=16).map(|i| f64::from(i) * 15.0) {
            for pod in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] {
                let from = match pod {
                    "a" | "b" => 0.0,
                    "c" | "d" => 45.0,
                    _ => 135.0,
                };
                if t >= from {
                    samples.push(PodSampleRecord {
                        t_s: t,
                        pod: pod.into(),
                        cpu_millis: cpu(pod, t),
                        ..Default::default()
                    });
                }
            }
        }
        let mut pods_started = vec![started("c", 45.0), started("d", 45.0)];
        pods_started.extend(["e", "f", "g", "h", "i"].map(|p| started(p, 150.0)));
        RunView {
            users: 300,
            cluster: Some(ClusterRecord {
                max_pods: 9,
                pods_started,
                samples,
                // What the record's own figure says of an even run: 7 of 9 pods, as if all
                // of them had served all along.
                new_pod_cpu_share: Some(0.3),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pods_added_in_waves_that_got_their_share_are_no_finding() {
        // Every serving pod does the same work; pods starting do little.
        let even = run(|pod, t| match pod {
            "e" | "f" | "g" | "h" | "i" if t < 150.0 => 5.0,
            _ => 100.0,
        });
        let (share, fair) = shares(even.cluster.as_ref().unwrap()).unwrap();
        assert!((share - fair).abs() < 1e-9, "{share} {fair}");
        assert_eq!(keep_alive_imbalance(&even), None);
    }

    #[test]
    fn pods_left_without_work_are_a_finding() {
        let starved = run(|pod, _| if matches!(pod, "a" | "b") { 300.0 } else { 3.0 });
        let f = keep_alive_imbalance(&starved).unwrap();
        assert!(
            f.evidence.starts_with("at 300 users, pods started during the run did 2% of the pods' CPU work where an even spread over the pods serving at each sample would give them 6"),
            "{}",
            f.evidence
        );
        // A record without samples falls back on its share against the most pods.
        let mut old = run(|_, _| 1.0);
        if let Some(c) = old.cluster.as_mut() {
            c.samples.clear();
        }
        assert!(keep_alive_imbalance(&old).is_some());
    }
}

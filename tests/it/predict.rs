//! `iris-lab predict` from the command line, and the report's `autoscaling` object in JSON.

use crate::report::{iris_lab, report, runs_dir};

#[test]
fn predict_says_why_the_runs_do_not_support_a_prediction() {
    let dir = runs_dir(&[("300u-cluster.json", None), ("150u.json", None)]);
    let out = iris_lab(dir.path())
        .args(["predict", "--users", "600"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("300 users on GKE: 0 steady samples"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no run supports a prediction: 150 users: no cluster data"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // No load named: a usage error.
    let out = iris_lab(dir.path()).arg("predict").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--users N or --arrival-rate R"));
}

#[test]
fn report_json_carries_each_runs_autoscaling() {
    let dir = runs_dir(&[("300u-cluster.json", None), ("150u.json", None)]);
    let json: serde_json::Value =
        serde_json::from_str(&report(dir.path(), &["--format", "json"])).unwrap();
    let runs = json["autoscaling"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["no_data"], "no cluster data");
    let a = &runs[1];
    assert_eq!(a["users"], 300);
    assert!(a["capacity"]["rps_per_pod_at_target"].is_null());
    assert_eq!(a["capacity"]["no_fit"]["kind"], "too_few_points");
    let up = &a["scale_ups"][0];
    assert_eq!((up["from"].as_u64(), up["to"].as_u64()), (Some(2), Some(6)));
    assert!(
        up["segments"]["started_to_ready"]["median_s"].is_number(),
        "{up}"
    );
    assert!(a["memory"]["peak_bytes"].is_number());
    assert_eq!(a["recommendations"][0]["setting"], "none");
    assert!(a.get("steady_replicas_needed").is_some());
}

/// The replay's controller is the simulated cluster's: its settings, as the Deployment's
/// annotation names them and a record keeps them, read back to the sim's own controller.
#[test]
fn the_replay_runs_the_simulated_clusters_controller() {
    use iris_lab::record::cluster::{ClusterRecord, SimulatedSetting};
    use iris_lab::sim::SimSettings;
    for sim in [SimSettings::default(), SimSettings::demo()] {
        let named = sim
            .named()
            .into_iter()
            .map(|n| SimulatedSetting {
                name: n.name.into(),
                value: n.value,
            })
            .collect();
        let t = iris_lab::report::autoscaling::timing::timing(&ClusterRecord {
            simulated: Some(named),
            ..ClusterRecord::default()
        });
        assert_eq!(
            t.controller(),
            iris_lab::sim::hpa::controller_settings(&sim)
        );
        assert_eq!(
            t.metrics_window_s,
            sim.scaled(sim.metrics_window).as_secs_f64()
        );
        assert_eq!(
            t.pod_ready_after_s,
            Some(sim.scaled(sim.ready_after).as_secs_f64())
        );
    }
}

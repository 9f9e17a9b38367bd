//! Load x cluster: `load` against our own API while the test Kubernetes API server plays a
//! scaling story (HPA 2 -> 6), then `report` on the record it saved.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const HPA: &str = "iris-prediction-api-hpa";

/// Under load the HPA decides 2 -> 6, the Deployment follows, four pods come up.
pub(crate) fn scale_to_six(api: &KubeApi, dir: &std::path::Path) {
    watches_open(api);
    // The HPA reacts to load the run has measured for a while.
    wait_for_measured_seconds(dir, 2);
    api.update("autoscaling/horizontalpodautoscalers", HPA, |h| {
        h["status"]["desiredReplicas"] = json!(6);
        h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] = json!(95);
    });
    api.put(event(
        "rescale-1",
        "HorizontalPodAutoscaler",
        HPA,
        "SuccessfulRescale",
        "New size: 6; reason: cpu resource utilization (percentage of request) above target",
    ));
    api.update("apps/deployments", APP, |d| {
        d["spec"]["replicas"] = json!(6)
    });
    assert!(
        api.wait_for_ready_pods(6, READY_AFTER * 4),
        "the new pods never became ready"
    );
    api.update("autoscaling/horizontalpodautoscalers", HPA, |h| {
        h["status"]["currentReplicas"] = json!(6);
        h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] = json!(48);
    });
}

/// The one record a test's run saved, and its path.
pub fn only_record(dir: &std::path::Path) -> (std::path::PathBuf, Value) {
    let runs = dir.join("iris-lab-runs");
    let path = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a run record");
    let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, v)
}

#[test]
fn load_records_the_scaling_story_and_report_tells_it() {
    let server = support::ServeProcess::start();
    let lab = Lab::healthy();
    let controller = run_controller(&lab.api, Duration::from_secs(12));
    let api = lab.api.clone();
    let dir = lab.dir.path().to_path_buf();
    let story = std::thread::spawn(move || scale_to_six(&api, &dir));
    let out = lab
        .cmd(&[
            "load",
            "--host",
            &server.url,
            "--users",
            "20",
            "--spawn-rate",
            "20",
            "--duration",
            "8s",
            "--wait",
            "0.05..0.1",
        ])
        .output()
        .unwrap();
    story.join().unwrap();
    controller.join().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("cluster: watching iris-prediction-api"),
        "{stderr}"
    );

    // The summary has the cluster's figures.
    assert!(stdout.contains("max pods 6 (maxReplicas 15)"), "{stdout}");
    assert!(stdout.contains("4 pods started, ready after"), "{stdout}");
    assert!(
        stdout.contains("2 -> 6 replicas (cpu resource utilization"),
        "{stdout}"
    );

    // The record holds the scaling event, the pods' start-up and per-second cluster state.
    let (_, record) = only_record(lab.dir.path());
    let c = &record["cluster"];
    assert_eq!(c["max_pods"], 6, "{c}");
    assert_eq!(c["min_replicas"], 2);
    assert_eq!(c["cpu_target_pct"], 60);
    // What comparisons of runs need: the HPA's spec, the pods' resources, images, node types.
    assert_eq!(c["hpa_spec"]["maxReplicas"], 15, "{c}");
    assert_eq!(
        c["hpa_spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        60
    );
    let resources = &c["pod_resources"]["containers"][0];
    assert_eq!(resources["cpu_request_millis"].as_f64(), Some(200.0), "{c}");
    assert_eq!(resources["cpu_limit_millis"].as_f64(), Some(1000.0));
    assert_eq!(
        resources["memory_request_bytes"].as_f64(),
        Some(128.0 * 1048576.0)
    );
    assert_eq!(
        resources["memory_limit_bytes"].as_f64(),
        Some(512.0 * 1048576.0)
    );
    let images = c["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["image_id"], IMAGE_ID);
    assert_eq!(images[0]["pods"], 6, "{images:?}");
    assert_eq!(
        c["nodes"],
        json!([{"name": NODE, "instance_type": NODE_TYPE, "pods": 6}])
    );
    assert_eq!(c["peak_cpu_pct"].as_f64(), Some(95.0));
    let events = c["scaling_events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["from"].as_u64(), events[0]["to"].as_u64()),
        (Some(2), Some(6))
    );
    assert!(
        events[0]["reason"]
            .as_str()
            .unwrap()
            .contains("above target")
    );
    let first_scale_up = c["first_scale_up_s"].as_f64().unwrap();
    assert!((1.0..8.0).contains(&first_scale_up), "{first_scale_up}");
    let started = c["pods_started"].as_array().unwrap();
    assert_eq!(started.len(), 4, "{started:?}");
    for p in started {
        let ready = p["ready_after_s"].as_f64().expect("ready_after_s");
        assert!((1.0..6.0).contains(&ready), "{p}");
        assert!(p["scheduled_after_s"].as_f64().unwrap() <= p["started_after_s"].as_f64().unwrap());
    }
    let timeline = record["timeline"].as_array().unwrap();
    let replicas: Vec<u64> = timeline
        .iter()
        .filter_map(|p| p["cluster"]["replicas"].as_u64())
        .collect();
    assert_eq!(
        replicas.len(),
        timeline.len(),
        "every second has the cluster's state"
    );
    assert_eq!(replicas.first(), Some(&2));
    assert_eq!(replicas.last(), Some(&6), "{replicas:?}");

    // The report's tables and findings say the same.
    let out = iris_lab(lab.dir.path()).args(["report"]).output().unwrap();
    let (report, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(row(&report, "Max Pods Scaled").unwrap()[1], "6");
    assert_eq!(row(&report, "Peak CPU (% of request)").unwrap()[1], "95%");
    assert_eq!(
        row(&report, "Time to First Scale-up").unwrap()[1],
        format!("{first_scale_up:.0} s")
    );
    let median = c["pod_startup_median_s"].as_f64().unwrap();
    assert_eq!(
        row(&report, "Pod Startup Latency (median)").unwrap()[1],
        format!("{median:.0} s")
    );
    assert!(
        report.contains(&format!("new pods took {median:.0} s (median")),
        "{report}"
    );
    assert!(
        report
            .contains("| 2 -> 6 | cpu resource utilization (percentage of request) above target |"),
        "{report}"
    );
    // The finding names the moment of the peak: its users and time.
    assert!(
        report.contains("**CPU saturation** (supported by the data): at 20 users (+")
            && report.contains(" s), CPU peaked at 95% of request against the HPA target of 60%"),
        "{report}"
    );
    assert!(report.contains("title \"Replicas, 20 users\""), "{report}");
}

#[test]
fn load_goes_on_when_the_cluster_is_not_there() {
    let server = support::ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    // No kubeconfig at all (HOME is the empty temp dir): the load runs, and says so.
    let out = iris_lab(dir.path())
        .args([
            "load",
            "--host",
            &server.url,
            "--users",
            "2",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("cluster: not watched (no kubeconfig found"),
        "{stderr}"
    );
    assert!(
        stdout.contains("Cluster: not watched (no kubeconfig found"),
        "{stdout}"
    );
    let (_, record) = only_record(dir.path());
    assert!(record["cluster"].is_null());
    assert_eq!(record["cluster_not_watched"]["kind"], "no_kubeconfig");

    // --no-cluster does not even look.
    let out = iris_lab(dir.path())
        .args([
            "load",
            "--host",
            &server.url,
            "--users",
            "2",
            "--duration",
            "1s",
            "--no-cluster",
        ])
        .output()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert!(!stderr.contains("cluster:"), "{stderr}");
}

#[test]
fn a_cluster_that_fails_mid_run_does_not_stop_the_load() {
    let server = support::ServeProcess::start();
    let lab = Lab::healthy();
    let api = lab.api.clone();
    let dir = lab.dir.path().to_path_buf();
    let breaker = std::thread::spawn(move || {
        watches_open(&api);
        wait_for_measured_seconds(&dir, 1);
        api.drop_watches();
        api.fail("pods", 500);
    });
    let out = lab
        .cmd(&[
            "load",
            "--host",
            &server.url,
            "--users",
            "5",
            "--duration",
            "4s",
        ])
        .output()
        .unwrap();
    breaker.join().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let (_, record) = only_record(lab.dir.path());
    assert!(record["aggregate"]["requests"].as_u64().unwrap() > 10);
    let missed = record["cluster"]["missed"].as_array().unwrap();
    assert!(
        missed
            .iter()
            .any(|m| m["kind"] == "watch_interrupted" && m["what"] == "pods"),
        "{missed:?}"
    );
}

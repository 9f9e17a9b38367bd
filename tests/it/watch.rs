//! `iris-lab watch` on a scripted scaling story, and a watch that drops and resumes.

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::*;

const HPA: &str = "iris-prediction-api-hpa";

/// The HPA decides 2 -> 5 under load, the Deployment follows, three pods come up.
fn scale_up_story(api: &KubeApi) {
    watches_open(api);
    api.update("autoscaling/horizontalpodautoscalers", HPA, |h| {
        h["status"]["desiredReplicas"] = json!(5);
        h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] = json!(95);
    });
    api.put(event(
        "e1",
        "HorizontalPodAutoscaler",
        HPA,
        "SuccessfulRescale",
        "New size: 5; reason: cpu resource utilization (percentage of request) above target",
    ));
    api.update("apps/deployments", APP, |d| {
        d["spec"]["replicas"] = json!(5)
    });
    api.put(event(
        "e2",
        "Deployment",
        APP,
        "ScalingReplicaSet",
        "Scaled up replica set iris-prediction-api-7d9f8 from 2 to 5",
    ));
    assert!(
        api.wait_for_ready_pods(5, READY_AFTER * 4),
        "the new pods never became ready"
    );
    api.update("autoscaling/horizontalpodautoscalers", HPA, |h| {
        h["status"]["currentReplicas"] = json!(5);
        h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] = json!(41);
    });
}

#[test]
fn watch_prints_a_scale_up_from_2_to_5_with_startup_latencies() {
    let lab = Lab::healthy();
    let controller = run_controller(&lab.api, Duration::from_secs(7));
    let api = lab.api.clone();
    let story = std::thread::spawn(move || scale_up_story(&api));
    let out = lab
        .cmd(&["watch", "--duration", "6s", "--top-interval", "1s"])
        .output()
        .unwrap();
    story.join().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("watching pods app=iris-prediction-api, HPA iris-prediction-api-hpa and events in namespace default for 6s"), "{stderr}");
    // Every line starts with a timestamp.
    for line in stdout
        .lines()
        .filter(|l| !l.starts_with('|') && !l.is_empty())
    {
        let (ts, _) = line.split_at(8);
        assert!(ts.chars().filter(|c| *c == ':').count() == 2, "{line}");
    }
    let has = |s: &str| assert!(stdout.contains(s), "missing {s:?} in\n{stdout}");
    has("pod iris-prediction-api-7d9f8-aaaaa: Running, ready 1/1");
    has("hpa iris-prediction-api-hpa: replicas 2 (desired 2, min 2, max 15), targets cpu: 15%/60%");
    has("hpa iris-prediction-api-hpa: replicas 2 -> 2, desired 5");
    has("hpa iris-prediction-api-hpa: targets cpu: 15%/60% -> cpu: 95%/60%");
    has(
        "event Normal SuccessfulRescale HorizontalPodAutoscaler/iris-prediction-api-hpa: New size: 5; reason: cpu resource utilization",
    );
    has("event Normal ScalingReplicaSet Deployment/iris-prediction-api: Scaled up replica set");
    has("hpa iris-prediction-api-hpa: replicas 2 -> 5, desired 5");
    has("hpa iris-prediction-api-hpa: targets cpu: 95%/60% -> cpu: 41%/60%");
    for n in 1..=3 {
        let pod = format!("pod iris-prediction-api-7d9f8-new{n:02}");
        has(&format!("{pod}: created"));
        has(&format!("{pod}: scheduled on gke-pool-1-node-a"));
        has(&format!("{pod}: containers started"));
        let ready = stdout
            .lines()
            .find(|l| l.contains(&format!("{pod}: ready, startup ")))
            .unwrap_or_else(|| panic!("{pod} never ready in\n{stdout}"));
        // created -> scheduled -> started -> ready, each from the pod's own record.
        let secs: Vec<f64> = ready
            .split(['+', 's'])
            .filter_map(|w| w.trim_end_matches([',', ')']).parse().ok())
            .collect();
        assert_eq!(secs.len(), 4, "{ready}");
        assert!(
            secs[0] <= secs[1] && secs[1] <= secs[2] && secs[2] <= secs[3] + 1.0,
            "{ready}"
        );
        assert!(secs[2] >= 1.0 && secs[2] < 10.0, "{ready}");
    }
    // The top table, from metrics.k8s.io, with % of the 200m request.
    has("top:");
    let row = row(&stdout, "iris-prediction-api-7d9f8-aaaaa").expect("top row");
    assert_eq!(row[1..], ["30m", "15%", "96Mi"]);
    controller.join().unwrap();
}

#[test]
fn a_dropped_watch_resumes_by_itself_and_says_so() {
    let lab = Lab::healthy();
    let api = lab.api.clone();
    let story = std::thread::spawn(move || {
        watches_open(&api);
        api.drop_watches();
        // kube's default backoff waits ~0.8 s before re-watching.
        assert!(
            api.wait_for_watches("/pods?", 2, Duration::from_secs(8)),
            "never re-watched"
        );
        api.put(typed::<k8s_openapi::api::core::v1::Pod>(new_pod(
            "iris-prediction-api-7d9f8-after",
        )));
    });
    let out = lab
        .cmd(&["watch", "--duration", "4s", "--top-interval", "0"])
        .output()
        .unwrap();
    story.join().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let interrupted = stdout
        .lines()
        .filter(|l| l.contains("watch of pods interrupted"))
        .count();
    assert_eq!(interrupted, 1, "{stdout}");
    assert!(
        stdout.contains("watch of pods interrupted (connection lost: "),
        "{stdout}"
    );

    let resumed = stdout.find("watch of pods resumed").expect("resumed line");
    let created = stdout
        .find("pod iris-prediction-api-7d9f8-after: created")
        .expect("created after resume");
    assert!(resumed < created, "{stdout}");
    assert!(!stdout.contains("top:"), "{stdout}");
    // Resumed from the last resourceVersion: no second list, no pod seen twice.
    let pod_watches: Vec<_> = lab
        .api
        .requests()
        .into_iter()
        .filter(|r| r.uri.contains("/pods?") && r.uri.contains("watch=true"))
        .collect();
    assert!(
        pod_watches[1].uri.contains("resourceVersion=")
            && !pod_watches[1].uri.contains("resourceVersion=0&"),
        "{:?}",
        pod_watches[1]
    );
    assert_eq!(
        stdout
            .matches("iris-prediction-api-7d9f8-aaaaa: Running")
            .count(),
        1,
        "{stdout}"
    );
}

#[test]
fn watch_as_json_lines_for_machines() {
    let lab = Lab::healthy();
    let out = lab
        .cmd(&[
            "watch",
            "--duration",
            "1500ms",
            "--top-interval",
            "1s",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (stdout, _) = texts(&out);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "pod_seen" && e["pod"] == "iris-prediction-api-7d9f8-aaaaa")
    );
    assert!(events.iter().any(|e| e["event"] == "hpa_seen"
        && e["targets"][0]["current"]["utilization"] == 15
        && e["targets"][0]["target"]["utilization"] == 60));
    let top = events
        .iter()
        .find(|e| e["event"] == "top")
        .expect("a top sample");
    assert_eq!(top["pods"][0]["cpu_millis"], 30.0);
    assert!(events.iter().all(|e| e["at"].is_string()));
}

#[test]
fn watch_needs_the_deployment_and_access_to_pods() {
    let lab = Lab::new();
    let out = lab.cmd(&["watch", "--duration", "2s"]).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: Deployment \"iris-prediction-api\" not found in namespace default (404); check --app / --namespace / --context"
    );

    let lab = Lab::healthy();
    lab.api.delete("autoscaling/horizontalpodautoscalers", HPA);
    let out = lab
        .cmd(&["watch", "--duration", "1s", "--top-interval", "0"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("note: no HPA iris-prediction-api-hpa in namespace default"),
        "{stderr}"
    );
    assert!(
        stdout.contains("iris-prediction-api-7d9f8-aaaaa: Running"),
        "{stdout}"
    );

    lab.api.deny("list", "pods");
    let out = lab.cmd(&["watch", "--duration", "2s"]).output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: forbidden (403): you may not list pods in namespace default"),
        "{stderr}"
    );
}

#[test]
fn an_absent_metrics_api_is_said_once() {
    let lab = Lab::healthy();
    lab.api.fail("metrics.k8s.io/pods", 503);
    let out = lab
        .cmd(&["watch", "--duration", "2500ms", "--top-interval", "500ms"])
        .output()
        .unwrap();
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout.matches("top: pod metrics unavailable: ").count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains("503"), "{stdout}");
    assert!(!stdout.contains("top:\n"), "{stdout}");
}

#[test]
fn a_watch_closed_by_the_server_resumes_without_loss_or_repeats() {
    let lab = Lab::healthy();
    let api = lab.api.clone();
    let story = std::thread::spawn(move || {
        watches_open(&api);
        api.close_watches();
        // While no watch is open: a change that must not be lost.
        api.update("pods", "iris-prediction-api-7d9f8-bbbbb", |p| {
            p["metadata"]["deletionTimestamp"] = json!(now());
        });
        assert!(
            api.wait_for_watches("/pods?", 2, Duration::from_secs(5)),
            "never re-watched"
        );
        api.put(typed::<k8s_openapi::api::core::v1::Pod>(new_pod(
            "iris-prediction-api-7d9f8-later",
        )));
    });
    let out = lab
        .cmd(&["watch", "--duration", "2500ms", "--top-interval", "0"])
        .output()
        .unwrap();
    story.join().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("pod iris-prediction-api-7d9f8-bbbbb: Running -> Terminating"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("iris-prediction-api-7d9f8-later: created")
            .count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("iris-prediction-api-7d9f8-aaaaa").count(),
        1,
        "{stdout}"
    );
    assert!(!stdout.contains("interrupted"), "{stdout}");
}

#[test]
fn watch_stops_when_the_reader_of_its_pipe_goes() {
    use std::io::BufRead;
    let lab = Lab::healthy();
    let mut child = std::process::Command::new(support::binary())
        .arg("--kubeconfig")
        .arg(&lab.kubeconfig)
        .args(["watch", "--top-interval", "200ms"])
        .current_dir(lab.dir.path())
        .env("HOME", lab.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("iris-prediction-api"), "{first}");
    // The reader is dropped here, as `head -1` exits.
    let status = exit_within(child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn ctrl_c_stops_watch_with_exit_130() {
    use std::io::BufRead;
    let lab = Lab::healthy();
    let mut child = std::process::Command::new(support::binary())
        .arg("--kubeconfig")
        .arg(&lab.kubeconfig)
        .args(["watch", "--top-interval", "0"])
        .current_dir(lab.dir.path())
        .env("HOME", lab.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = exit_within(child, Duration::from_secs(10));
    drop(reader);
    assert_eq!(status.code(), Some(130));
}

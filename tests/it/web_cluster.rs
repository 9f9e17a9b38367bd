//! The Cluster tab over HTTP: `load --web` against our own API while the test Kubernetes API
//! server plays the scaling story (HPA 2 -> 6, four pods coming up): the page's state has the
//! pods as `kubectl get pods -w` prints them (a line per change, in order), the HPA's targets
//! and bounds, and the cluster's Events.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::Value;

use crate::load_cluster::scale_to_six;
use crate::support::web::wait_state;
use crate::support::{self, Lab, on_own_runtime, run_controller};

/// One of the two pods there before the run.
fn is_old(pod: &str) -> bool {
    pod.ends_with("-aaaaa") || pod.ends_with("-bbbbb")
}

fn cluster(state: &Value) -> &Value {
    &state["latest"]["cluster"]
}

/// The lines of `pod`, in the order the page has them: (READY, STATUS).
fn lines_of(state: &Value, pod: &str) -> Vec<(String, String)> {
    cluster(state)["pods"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["name"] == pod)
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (s("ready"), s("status"))
        })
        .collect()
}

#[test]
fn the_cluster_tab_has_the_pods_lines_the_hpa_and_the_events() {
    let server = support::ServeProcess::start();
    let lab = Lab::healthy();
    let controller = run_controller(&lab.api, Duration::from_secs(14));
    let (api, dir) = (lab.api.clone(), lab.dir.path().to_path_buf());
    let story = std::thread::spawn(move || scale_to_six(&api, &dir));
    let mut child = support::std_command()
        .arg("--kubeconfig")
        .arg(&lab.kubeconfig)
        .args([
            "load",
            "--host",
            &server.url,
            "--users",
            "5",
            "--spawn-rate",
            "20",
        ])
        .args([
            "--duration",
            "10s",
            "--wait",
            "0.05..0.1",
            "--web",
            "127.0.0.1:0",
        ])
        .current_dir(lab.dir.path())
        .env_remove("KUBECONFIG")
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("IRIS_LAB_HOST")
        .env("HOME", lab.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the page's line").unwrap();
        if let Some(url) = line.strip_prefix("web: the run's page is at ") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let state = on_own_runtime(move || async move {
        wait_state(&url, Duration::from_secs(40), |s| {
            let c = cluster(s);
            let ready_new = c["pods"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|l| l["ready"] == "1/1" && !is_old(l["name"].as_str().unwrap_or("")))
                .count();
            ready_new >= 4
                && c["events"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["reason"] == "SuccessfulRescale"))
                && c["hpa"]["desired"] == 6
        })
        .await
    })
    .join()
    .unwrap();
    story.join().unwrap();
    controller.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");

    let c = cluster(&state);
    // The two pods there before the run: one line each, as the watch's first listing.
    for old in [
        "iris-prediction-api-7d9f8-aaaaa",
        "iris-prediction-api-7d9f8-bbbbb",
    ] {
        assert_eq!(
            lines_of(&state, old),
            [("1/1".into(), "Running".into())],
            "{c:#}"
        );
    }
    // Each new pod: lines in the order its changes happened, ending Ready.
    let names: std::collections::BTreeSet<&str> = c["pods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["name"].as_str())
        .filter(|n| !is_old(n))
        .collect();
    assert!(names.len() >= 4, "{c:#}");
    for pod in names {
        let lines = lines_of(&state, pod);
        let ready = lines
            .iter()
            .position(|(r, _)| r == "1/1")
            .expect("a ready line");
        assert_eq!(
            ready,
            lines.len() - 1,
            "{pod}: ready is its last line: {lines:?}"
        );
        assert!(lines.len() >= 2, "{pod}: not ready at first: {lines:?}");
        assert_eq!(lines[0].0, "0/1", "{pod}: {lines:?}");
    }
    let hpa = &c["hpa"];
    assert_eq!(hpa["name"], "iris-prediction-api-hpa", "{hpa}");
    assert_eq!(
        (hpa["min"].as_i64(), hpa["max"].as_i64()),
        (Some(2), Some(15)),
        "{hpa}"
    );
    assert!(
        hpa["targets"].as_str().unwrap().starts_with("cpu: "),
        "{hpa}"
    );
    let rescale = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "SuccessfulRescale")
        .unwrap();
    assert_eq!(rescale["type"], "Normal");
    assert_eq!(
        rescale["object"],
        "HorizontalPodAutoscaler/iris-prediction-api-hpa"
    );
    assert!(
        rescale["message"]
            .as_str()
            .unwrap()
            .starts_with("New size: 6"),
        "{rescale}"
    );
}

//! A distributed run's page (`load --workers 2 --local --web`): the merged figures, and the
//! Workers view (per worker: state, users, requests/s, failures, the age of its last report),
//! as Locust's Workers tab.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::Value;

use crate::support::web::wait_state;
use crate::support::{self, ServeProcess, on_own_runtime};

fn workers(state: &Value) -> Vec<Value> {
    state["latest"]["workers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_page_of_a_distributed_run_shows_the_merged_figures_and_each_worker() {
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let mut child = support::std_command()
        .args([
            "load",
            "--users",
            "4",
            "--spawn-rate",
            "40",
            "--duration",
            "6s",
        ])
        .args([
            "--wait",
            "0.05..0.1",
            "--workers",
            "2",
            "--local",
            "--no-cluster",
        ])
        .args(["--web", "127.0.0.1:0", "--host", &api.url])
        .current_dir(dir.path())
        .env_remove("IRIS_LAB_CONFIG")
        .env_remove("KUBECONFIG")
        .env("HOME", dir.path())
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
    let running = on_own_runtime(move || async move {
        wait_state(&url, Duration::from_secs(40), |s| {
            let ws = workers(s);
            ws.len() == 2
                && ws.iter().all(|w| {
                    w["state"] == "running"
                        && w["users"] == 2
                        && w["rps"].as_f64() > Some(0.0)
                        && w["requests"].as_u64() > Some(0)
                        && w["last_report"].is_string()
                })
                && s["latest"]["users"] == 4
        })
        .await
    })
    .join()
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");

    // The merged figures beside the workers': Locust's aggregate row, the users of both.
    let latest = &running["latest"];
    let rows = latest["rows"].as_array().unwrap();
    let aggregate = rows.last().unwrap();
    assert_eq!(aggregate["name"], "Aggregated", "{latest}");
    let merged = aggregate["requests"].as_u64().unwrap();
    let sum: u64 = workers(&running)
        .iter()
        .map(|w| w["requests"].as_u64().unwrap())
        .sum();
    assert!(
        merged > 0 && merged <= sum,
        "merged {merged}, the workers' {sum}: {latest}"
    );
    for w in workers(&running) {
        let at: jiff::Timestamp = w["last_report"].as_str().unwrap().parse().unwrap();
        let age = jiff::Timestamp::now().duration_since(at).as_secs_f64();
        assert!(age < 30.0, "a recent report: {at}");
    }
}

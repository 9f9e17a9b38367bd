//! The form's scenario over HTTP: a scenario file named on the form defines the user class of
//! the run it starts; a scenario that is not there, or a class it does not define, gets one
//! clear line and starts nothing.

use std::time::Duration;

use serde_json::Value;

use crate::support::web::{WebProcess, get_json, swarm, wait_state};
use crate::support::{ServeProcess, on_own_runtime};

const SCENARIO: &str = "classes:\n- name: Checker\n  wait: 0.01..0.02\n  tasks:\n  \
    - {path: /health, check: {fields: [status, model_loaded]}}\n";

#[test]
fn a_scenario_on_the_form_defines_the_class_and_bad_ones_start_nothing() {
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checker.yaml"), SCENARIO).unwrap();
    let web = WebProcess::start(dir.path());
    let (url, host) = (web.url.clone(), api.url.clone());
    on_own_runtime(move || async move {
        let cases: [(&[(&str, &str)], &str); 3] = [
            (
                &[
                    ("user_count", "2"),
                    ("scenario", "no-such.yaml"),
                    ("host", &host),
                ],
                "no-such.yaml",
            ),
            (
                &[
                    ("user_count", "2"),
                    ("scenario", "checker.yaml"),
                    ("user_class", "HighLoadUserr"),
                    ("host", &host),
                ],
                "HighLoadUserr",
            ),
            (
                &[
                    ("user_count", "-1"),
                    ("scenario", "checker.yaml"),
                    ("host", &host),
                ],
                "user_count \"-1\"",
            ),
        ];
        for (form, says) in cases {
            let (status, answer) = swarm(&url, form).await;
            assert_eq!(status, 400, "{form:?}: {answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(says), "{form:?}: {message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
        let state = get_json(&format!("{url}api/state")).await;
        assert_eq!(state["runs"].as_array().unwrap().len(), 0, "{state}");

        let form = [
            ("user_count", "2"),
            ("spawn_rate", "50"),
            ("scenario", "checker.yaml"),
            ("host", host.as_str()),
            ("run_time", "2s"),
        ];
        let (status, answer) = swarm(&url, &form).await;
        assert_eq!(status, 200, "{answer}");
        let state = wait_state(&url, Duration::from_secs(30), |s| {
            s["latest"]["status"] == "completed"
        })
        .await;
        let latest = &state["latest"];
        assert_eq!(latest["class"], "Checker", "{latest}");
        let names: Vec<&Value> = latest["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["name"])
            .collect();
        assert!(names.iter().any(|n| *n == "/health"), "{names:?}");
        assert!(
            !names.iter().any(|n| *n == "/predict"),
            "only the scenario's tasks: {names:?}"
        );
    })
    .join()
    .unwrap();
}
